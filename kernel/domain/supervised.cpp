#include "kernel/domain/supervised.h"

#include "kernel/lib/log.h"

namespace lamina::domain {

Result<Domain*> start_supervised(const char* package, const char* export_name, const TypeInfo* const* const* types,
                                 size_t type_lists) {
    for (size_t i = 0; i < type_lists; i++) TRY(exchange_register_types(types[i]));
    Domain* d = TRY(create(package));
    auto started = start(d);
    Error e = started.is_error() ? started.error() : Error(Errno(int32_t(-started.value())));
    if (started.is_ok() && started.value() >= 0) {
        if (find_export(d, export_name)) return d;
        kprintf("domain %s: published no '%s'\n", package, export_name);
        e = Errno::NoEnt;
    } else {
        kprintf("domain %s: did not start (%s)\n", package, e.name());
    }
    destroy(d);
    return e;
}

}  // namespace lamina::domain
