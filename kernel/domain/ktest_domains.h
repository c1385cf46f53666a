// What the domain ktests share: a test package loaded and started.
#pragma once

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

}  // namespace lamina::domain
