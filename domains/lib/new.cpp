// Allocation in a domain: C++'s allocation functions over the private heap (heap.cpp), so that
// `new (std::nothrow) T` (what Own/RefPtr factories use) works in every domain. There is no C++
// runtime in a domain, so the nothrow tag is defined here too. Plain `new` cannot report
// failure without exceptions: running out of memory there fails the domain, as a bug would.
// <new> declares all of these with default visibility; a package exports nothing but its entry.
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

namespace {

void* malloc_or_panic(size_t size) {
    void* p = malloc(size);
    if (!p) lamina::domain_rt::panic("operator new: out of memory (%lu bytes)", size);
    return p;
}

}  // namespace

void* operator new(size_t size) { return malloc_or_panic(size); }
void* operator new[](size_t size) { return malloc_or_panic(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return malloc(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return malloc(size); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
