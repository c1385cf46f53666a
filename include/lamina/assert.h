// lamina:portable
// LAMINA_ASSERT(cond): a broken invariant in shared code (include/lamina, lib/). It stops
// whoever runs the code: the kernel panics, a domain fails (and is recovered like any other
// faulting domain), a host program prints the place and aborts. Each of them defines
// assertion_failed once: kernel/lib/log.cpp, domains/lib/runtime.cpp and lib/assert_host.cpp.
#pragma once

namespace lamina {

[[noreturn]] void assertion_failed(const char* expression, const char* file, int line);

}  // namespace lamina

#define LAMINA_ASSERT(cond)                                        \
    do {                                                           \
        if (!(cond)) [[unlikely]]                                  \
            ::lamina::assertion_failed(#cond, __FILE__, __LINE__); \
    } while (0)
