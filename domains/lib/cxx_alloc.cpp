// The C++ allocation functions of every domain: there is no C++ runtime in a domain, so the
// nothrow tag and operator new/delete come from here, over the private heap (heap.cpp).
// <new> declares them with default visibility; a package may export nothing but its entry.
#include <new>

#include "domains/lib/domain.h"

asm(".hidden _ZSt7nothrow\n.hidden _Znwm\n.hidden _Znam\n.hidden _ZnwmRKSt9nothrow_t\n"
    ".hidden _ZnamRKSt9nothrow_t\n.hidden _ZdlPv\n.hidden _ZdaPv\n.hidden _ZdlPvm\n.hidden _ZdaPvm");
namespace std {
extern const nothrow_t nothrow;
const nothrow_t nothrow{};
}  // namespace std

using lamina::domain_rt::free;
using lamina::domain_rt::malloc;

void* operator new(size_t size) { return malloc(size); }
void* operator new[](size_t size) { return malloc(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return malloc(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return malloc(size); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
