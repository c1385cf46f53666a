#include "kernel/irq/irq.h"

#include "kernel/arch/x86_64/ioapic.h"
#include "kernel/arch/x86_64/lapic.h"
#include "kernel/arch/x86_64/pic.h"
#include "kernel/irq/vector_allocator.h"
#include "kernel/irq/vectors.h"
#include "kernel/lib/log.h"
#include "kernel/sync/spinlock.h"

namespace lamina::irq {

namespace {

// A leaf lock: taken with nothing else held and holding nothing.
alignas(VectorAllocator) unsigned char g_allocator_storage[sizeof(VectorAllocator)];
Spinlock g_allocator_lock;
VectorAllocator* g_allocator;

VectorAllocator& allocator() {
    if (!g_allocator) {
        auto created = VectorAllocator::create(DEVICE_VECTOR_FIRST, DEVICE_VECTOR_LAST);
        KASSERT(created.is_ok());
        g_allocator = new (g_allocator_storage) VectorAllocator(created.release_value());
    }
    return *g_allocator;
}

}  // namespace

Result<void> init() {
    pic::remap_and_mask();
    TRY(lapic::init());
    auto io = ioapic::init();
    if (io.is_error()) kprintf("irq: no IO APIC (%s): only MSI and IPIs are available\n", io.error().name());
    SpinlockGuard guard(g_allocator_lock);
    allocator();
    return {};
}

Result<uint8_t> allocate_vector() {
    SpinlockGuard guard(g_allocator_lock);
    return allocator().allocate();
}

Result<uint8_t> allocate_vectors(unsigned count) {
    SpinlockGuard guard(g_allocator_lock);
    return allocator().allocate_block(count);
}

Result<void> free_vector(uint8_t vector) {
    SpinlockGuard guard(g_allocator_lock);
    return allocator().free(vector);
}

Result<void> free_vectors(uint8_t first, unsigned count) {
    SpinlockGuard guard(g_allocator_lock);
    return allocator().free_block(first, count);
}

size_t free_vector_count() {
    SpinlockGuard guard(g_allocator_lock);
    return allocator().free_count();
}

}  // namespace lamina::irq
