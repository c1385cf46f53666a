// Domain code that includes a kernel header: it must not compile (the include boundary,
// build.ninja.in). configure compiles it with the domains' flags, and the build fails if that
// succeeds or fails for another reason (tools/expect-failure). Never part of a package.
#include "domains/lib/domain.h"
#include "kernel/lib/log.h"

int64_t domain_main(const lamina_domain_caps&) {
    lamina::kprintf("a domain printing through the kernel's own console\n");
    return 0;
}
