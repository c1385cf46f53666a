// lamina:portable
// The host's LAMINA_ASSERT failure (unit tests and host tools); the kernel and libdomain define
// their own. Compiled into kernel and domains as an empty object.
#ifdef LAMINA_HOST
#include <lamina/assert.h>

#include <stdio.h>
#include <stdlib.h>

namespace lamina {

void assertion_failed(const char* expression, const char* file, int line) {
    fprintf(stderr, "assertion failed: %s at %s:%d\n", expression, file, line);
    abort();
}

}  // namespace lamina
#endif
