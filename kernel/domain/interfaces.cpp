#include "kernel/domain/interfaces.h"

#include "kernel/domain/domain.h"
#include "kernel/lib/log.h"
#include "kernel/sync/spinlock.h"

namespace lamina::domain {

namespace {

struct Provided {
    char name[Manifest::MAX_INTERFACE_NAME + 1];
    size_t len;
    void* object;
};

constexpr size_t MAX_PROVIDED = 32;

// Lock order: a leaf (taken with no other domain lock held, or after them).
struct Table {
    Provided entries[MAX_PROVIDED] = {};
    size_t count = 0;

    Provided* find(const char* name, size_t len) {
        for (size_t i = 0; i < count; i++)
            if (entries[i].len == len && __builtin_memcmp(entries[i].name, name, len) == 0) return &entries[i];
        return nullptr;
    }
};
SpinlockProtected<Table> g_table;

bool imports(const Domain& d, const char* name, size_t len) {
    const Manifest& m = d.package.manifest;
    for (size_t i = 0; i < m.import_count; i++)
        if (__builtin_strlen(m.imports[i]) == len && __builtin_memcmp(m.imports[i], name, len) == 0) return true;
    return false;
}

}  // namespace

Result<void> provide_interface(const char* name, void* object) {
    size_t len = __builtin_strlen(name);
    if (len == 0 || len > Manifest::MAX_INTERFACE_NAME || !object) return Errno::Inval;
    return g_table.with([&](Table& t) -> Result<void> {
        if (t.find(name, len)) return Errno::Exist;
        if (t.count == MAX_PROVIDED) return Errno::NoSpc;
        Provided& p = t.entries[t.count++];
        __builtin_memcpy(p.name, name, len + 1);
        p.len = len;
        p.object = object;
        return {};
    });
}

Result<void> withdraw_interface(const char* name) {
    size_t len = __builtin_strlen(name);
    return g_table.with([&](Table& t) -> Result<void> {
        Provided* p = t.find(name, len);
        if (!p) return Errno::NoEnt;
        *p = t.entries[--t.count];
        return {};
    });
}

Result<void*> lookup_interface(const Domain* importer, const char* name, size_t len) {
    if (len == 0 || len > Manifest::MAX_INTERFACE_NAME) return Errno::Inval;
    if (importer && !imports(*importer, name, len)) {
        kprintf("domain %s (id %u): interface_lookup: '%.*s' is not among the manifest's imports\n", importer->name,
                importer->id, int(len), name);
        return Errno::Perm;
    }
    return g_table.with([&](Table& t) -> Result<void*> {
        Provided* p = t.find(name, len);
        if (!p) return Errno::NoEnt;
        return p->object;
    });
}

}  // namespace lamina::domain
