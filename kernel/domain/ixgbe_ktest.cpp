// The ixgbe driver domain (domains/ixgbe) in the kernel. QEMU has no 82599, so what can be
// shown here is that the package loads, its entry runs through bring-up's first step (the
// device claim) and reports the missing device, and its teardown leaves nothing behind. The
// driver itself is tested on the host against tests/models/ixgbe_model.
#include "kernel/domain/domain.h"
#include "kernel/ktest/ktest.h"
#include "kernel/mm/memory.h"

namespace lamina::domain {

KTEST(ixgbe, package_loads_and_finds_no_device) {
    auto d = create("ixgbe");
    KASSERT_TRUE(d.is_ok());
    uint32_t id = d.value()->id;
    auto r = start(d.value());
    KEXPECT(r.is_ok() && r.value() == -int64_t(Errno::NoEnt));
    destroy(d.value());
    KEXPECT_EQ(mm::pages_owned_by(mm::Owner::domain(id)), 0u);
}

}  // namespace lamina::domain
