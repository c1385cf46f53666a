// libdomain: the runtime every domain links with. It owns the domain's entry point (it checks
// the capability table's ABI version, then calls the domain's domain_main), and gives domains
// logging, panics and assertions through the capability table, and a private heap over pages
// the kernel hands out.
//
// Everything here is hidden inside the domain's ELF; the only exported symbol of a domain is
// LAMINA_DOMAIN_ENTRY_SYMBOL, defined in runtime.cpp.
#pragma once

#include <lamina/assert.h>
#include <lamina/domain_abi.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

namespace lamina::domain_rt {

// The capability table of this domain instance (valid from the entry on).
const lamina_domain_caps& caps();

[[gnu::format(printf, 1, 2)]] void log(const char* fmt, ...);
[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* fmt, ...);

// The private heap: pages from caps().alloc_pages, all of them dropped when the domain dies.
// Returns nullptr when the kernel gives no more pages. Thread-safe.
void* malloc(size_t size);
void free(void* p);

// Publishes `object` as the IDL interface I under `name`, with I's type id (idlc's TYPE_ID),
// which a live update compares with the running instance's. 0 or an errno, as interface_publish.
template <class I>
int32_t publish_interface(const lamina_domain_caps& caps, const char* name, I* object) {
    return caps.interface_publish_typed(name, __builtin_strlen(name), object, I::TYPE_ID);
}

}  // namespace lamina::domain_rt

// What a domain defines: called once from the entry, after the runtime has checked the
// capability table. Returns a non-negative value or -errno (see domain_abi.h).
int64_t domain_main(const lamina_domain_caps& caps);

// A domain's name for LAMINA_ASSERT: a failure panics the domain (runtime.cpp).
#define DASSERT(cond) LAMINA_ASSERT(cond)
