// What the domain ktests share: a test package loaded and started.
#pragma once

#include <new>

#include "kernel/domain/domain.h"

namespace lamina::domain {

// The package created and started (its entry returned >= 0), or nullptr (and nothing left).
inline Domain* started(const char* name) {
    auto d = create(name);
    if (d.is_error()) return nullptr;
    auto r = start(d.value());
    if (r.is_error() || r.value() < 0) {
        destroy(d.value());
        return nullptr;
    }
    return d.value();
}

// What domain::list says of the live domain named name (the first of that name): false when
// it is not listed.
inline bool status_of(const char* name, Status& out) {
    auto* all = new (std::nothrow) Status[IMAGE_SLOTS];
    if (!all) return false;
    size_t n = list(all, IMAGE_SLOTS);
    bool found = false;
    for (size_t i = 0; i < n && !found; i++)
        if (__builtin_strcmp(all[i].name, name) == 0) {
            out = all[i];
            found = true;
        }
    delete[] all;
    return found;
}

}  // namespace lamina::domain
