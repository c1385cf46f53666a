// A domain that faults while it starts (fault_start/manifest says what for).
#include "domains/lib/domain.h"

int64_t domain_main(const lamina_domain_caps&) {
    volatile uint64_t* p = nullptr;
    asm("" : "+r"(p));  // hide the null from the compiler, which would otherwise trap on its own
    *p = 1;
    return 0;
}
