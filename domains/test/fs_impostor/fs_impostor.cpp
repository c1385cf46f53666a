// A domain that publishes "fs" as the Block interface (fs_impostor/manifest says what for). The
// object is never called: the update is refused, by the type id, before the hand-over.
#include "domains/lib/domain.h"
#include "interfaces/block.h"

int64_t domain_main(const lamina_domain_caps& caps) {
    static char never_called;
    return -lamina::domain_rt::publish_interface(caps, "fs", reinterpret_cast<lamina::idl::Block*>(&never_called));
}
