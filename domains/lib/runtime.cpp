// The domain entry, logging and panics: the small part of libdomain that talks to the kernel.
#include "domains/lib/domain.h"

#include "kernel/lib/format.h"

namespace lamina::domain_rt {

namespace {

const lamina_domain_caps* g_caps;

// Same major version, and a table with at least every field this domain was built with (a
// newer minor version only appends fields, so the size says enough).
bool compatible(const lamina_domain_caps* c) {
    return c && (c->abi_version >> 16) == LAMINA_DOMAIN_ABI_MAJOR && c->size >= sizeof(lamina_domain_caps);
}

}  // namespace

const lamina_domain_caps& caps() { return *g_caps; }

void log(const char* fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = vsnformat(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    g_caps->log(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}

void panic(const char* fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = vsnformat(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (g_caps) g_caps->panic(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
    __builtin_trap();  // no table to report through: a #UD the kernel sees as a domain fault
}

}  // namespace lamina::domain_rt

extern "C" {

[[gnu::visibility("default")]] int64_t lamina_domain_entry(const lamina_domain_caps* caps) {
    if (!lamina::domain_rt::compatible(caps)) return -22;  // EINVAL: refuse to run on a foreign ABI
    lamina::domain_rt::g_caps = caps;
    return domain_main(*caps);
}

// Called through a vtable slot of a pure virtual function: a bug in the domain.
void __cxa_pure_virtual() { lamina::domain_rt::panic("pure virtual function called"); }

}  // extern "C"
