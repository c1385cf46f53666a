// The C++ allocation functions for domains: there is no C++ runtime in a domain, so `new`
// (the drivers' factories use new (std::nothrow)) and the nothrow tag come from here, over the
// private heap. <new> declares them with default visibility; a package may export nothing but
// its entry, so they are hidden.
#include <new>

#include "domains/lib/domain.h"

asm(".hidden _ZSt7nothrow\n.hidden _Znwm\n.hidden _Znam\n.hidden _ZnwmRKSt9nothrow_t\n"
    ".hidden _ZnamRKSt9nothrow_t\n.hidden _ZdlPv\n.hidden _ZdaPv\n.hidden _ZdlPvm\n.hidden _ZdaPvm");
namespace std {
extern const nothrow_t nothrow;
const nothrow_t nothrow{};
}  // namespace std

namespace rt = lamina::domain_rt;

void* operator new(size_t size) { return rt::malloc(size); }
void* operator new[](size_t size) { return rt::malloc(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return rt::malloc(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return rt::malloc(size); }
void operator delete(void* p) noexcept { rt::free(p); }
void operator delete[](void* p) noexcept { rt::free(p); }
void operator delete(void* p, size_t) noexcept { rt::free(p); }
void operator delete[](void* p, size_t) noexcept { rt::free(p); }
