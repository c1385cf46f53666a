// The exchange heap as a domain reaches it (lamina::exchange, include/lamina/rref.h): RRef<T>,
// RRefDeque and RRefBytes allocate and free through the capability table, so objects a domain
// creates are owned by it until a proxy moves them.
#include <lamina/rref.h>

#include "domains/lib/domain.h"

namespace lamina::exchange {

Result<void*> allocate(TypeId type, size_t size) {
    void* object = nullptr;
    int32_t rc = domain_rt::caps().exchange_alloc(size, 16, type, &object);
    if (rc != 0) return Errno(rc);
    return object;
}

// The kernel fails this domain if object is not one it owns; a return means it was freed.
Result<void> free(void* object) {
    domain_rt::caps().exchange_free(object);
    return {};
}

}  // namespace lamina::exchange
