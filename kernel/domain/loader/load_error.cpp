// lamina:portable
#include "kernel/domain/loader/load_error.h"

#include <lamina/format.h>

namespace lamina::domain {

Error LoadError::fail(Errno c, const char* fmt, ...) {
    if (code == Errno::None) {
        code = c;
        va_list ap;
        va_start(ap, fmt);
        vsnformat(message, sizeof(message), fmt, ap);
        va_end(ap);
    }
    return Error(c);
}

}  // namespace lamina::domain
