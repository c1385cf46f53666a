// Live update (update.h): the package read and checked, then Recovery::update.
#include "kernel/domain/update.h"

#include <new>

#include <lamina/format.h>
#include <lamina/own.h>
#include <lamina/scope_guard.h>

#include "kernel/domain/internal.h"
#include "kernel/domain/recovery.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/files.h"

namespace lamina::domain {

namespace {

// PACKAGE as a path: absolute as given, else a plain name under PACKAGE_DIR.
Result<void> package_path(const char* name, const char* package, char* out, size_t size) {
    const char* p = *package ? package : name;
    if (p[0] == '/') {
        if (__builtin_strlen(p) >= size) return Errno::NameTooLong;
        __builtin_memcpy(out, p, __builtin_strlen(p) + 1);
        return {};
    }
    for (const char* c = p; *c; c++)
        if (*c == '/' || (c == p && *c == '.')) return Errno::Inval;  // a name, not a relative path
    if (size_t(snformat(out, size, "%s/%s.dom", PACKAGE_DIR, p)) >= size) return Errno::NameTooLong;
    return {};
}

bool exports_listed(const Manifest& m, const char* interface) {
    for (size_t i = 0; i < m.export_count; i++)
        if (__builtin_strcmp(m.exports[i], interface) == 0) return true;
    return false;
}

// The same set of exported interfaces (the manifest refuses duplicates, so counts and inclusion
// one way are enough).
bool same_exports(const Manifest& a, const Manifest& b) {
    if (a.export_count != b.export_count) return false;
    for (size_t i = 0; i < a.export_count; i++)
        if (!exports_listed(b, a.exports[i])) return false;
    return true;
}

}  // namespace

Result<void> update(const char* name, const char* package) {
    char path[ControlCommand::MAX_PACKAGE + 32];
    TRY(package_path(name, package, path, sizeof(path)));
    Recovery* recovery = TRY(registered_recovery(name, "update"));
    // What the running instance exports, before the new one (of the same name) exists.
    Own<Manifest> running = TRY(make_own<Manifest>());
    {
        Domain* d = pin(name);
        if (!d) return Errno::NoEnt;
        *running = d->package.manifest;
        unpin(d);
    }

    // Read before anything is quiesced: the file may come through the very domain updated.
    auto loaded = posix::read_whole_file(path, posix::access::Read);
    if (loaded.is_error()) {
        kprintf("domctl: update %s: cannot read %s: %s\n", name, path, loaded.error().name());
        return loaded.error();
    }
    uint8_t* bytes = loaded.value().data;
    size_t size = loaded.value().size;
    auto* file = new (std::nothrow) PackageFile{bytes, size, 1};
    if (!file) {
        mm::kfree(bytes);
        return Errno::NoMem;
    }
    ScopeGuard drop_file([&] { release(file); });  // the instance holds its own reference

    Domain* fresh = TRY(create_from_file(file));
    ScopeGuard drop_fresh([&] { destroy(fresh); });
    const Manifest& m = fresh->package.manifest;
    if (__builtin_strcmp(m.name, name) != 0) {
        kprintf("domctl: update %s: %s is a package of domain '%s': refused\n", name, path, m.name);
        return Errno::Inval;
    }
    if (!same_exports(m, *running)) {
        kprintf(
            "domctl: update %s: %s exports other interfaces (%zu: %s%s) than the running instance (%zu: %s%s): "
            "refused, %s %u.%u keeps running\n",
            name, path, m.export_count, m.export_count ? m.exports[0] : "", m.export_count > 1 ? ", ..." : "",
            running->export_count, running->export_count ? running->exports[0] : "",
            running->export_count > 1 ? ", ..." : "", name, running->version_major, running->version_minor);
        return Errno::Inval;
    }
    kprintf("domctl: updating %s from version %u.%u to %u.%u (%s)\n", name, running->version_major,
            running->version_minor, m.version_major, m.version_minor, path);
    drop_fresh.dismiss();  // update() destroys it if it fails
    return recovery->update(fresh, UPDATE_QUIESCE_NS);
}

}  // namespace lamina::domain
