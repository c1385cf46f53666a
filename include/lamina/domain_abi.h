// lamina:portable
// The kernel ABI of domains: the one capability table the kernel hands a domain at its entry.
// A domain has no undefined symbols; everything it may ask of the kernel goes through these
// function pointers (and through the interfaces it imports, reached via interface_lookup).
//
// The layout is C (no C++ types, no references), fixed by the static_asserts below. Changing
// it means bumping LAMINA_DOMAIN_ABI_MAJOR (incompatible) or appending fields at the end and
// bumping LAMINA_DOMAIN_ABI_MINOR (compatible: `size` tells a domain which fields exist).
//
// Conventions: functions that can fail return 0 or a positive errno value (Linux numbering, as
// lamina::Errno); results go through out-pointers. Strings are (pointer, length) pairs, not
// NUL-terminated. The entry returns a non-negative value on success or -errno; the kernel
// treats any other outcome (a panic, a fault, a timeout) as a failed start.
#ifndef LAMINA_DOMAIN_ABI_H
#define LAMINA_DOMAIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define LAMINA_DOMAIN_ABI_MAJOR 1
#define LAMINA_DOMAIN_ABI_MINOR 3
#define LAMINA_DOMAIN_ABI_VERSION ((LAMINA_DOMAIN_ABI_MAJOR << 16) | LAMINA_DOMAIN_ABI_MINOR)
#define LAMINA_DOMAIN_ENTRY_SYMBOL "lamina_domain_entry"

#ifdef __cplusplus
extern "C" {
#endif

// A device the domain claimed (see the manifest's `device` lines).
typedef struct lamina_device_info {
    uint64_t handle;  // names the device in the calls below
    uint16_t vendor, device;
    uint8_t bus, slot, function, irq_count;
    uint64_t bar_size[6];  // 0 for absent BARs
} lamina_device_info;

// A physically contiguous piece of memory as a device addresses it (ABI 1.1).
typedef struct lamina_dma_segment {
    uint64_t bus_address;
    uint64_t length;
} lamina_dma_segment;

typedef struct lamina_domain_caps {
    uint32_t abi_version;  // LAMINA_DOMAIN_ABI_VERSION the kernel implements
    uint32_t size;         // sizeof(lamina_domain_caps) as the kernel built it
    uint64_t domain_id;

    // Console and failure.
    void (*log)(const char* msg, size_t len);
    // Fails the domain: the kernel unwinds every thread inside it; never returns.
    void (*panic)(const char* msg, size_t len) __attribute__((noreturn));

    // Pages for the domain's private heap: page-aligned, zeroed, freed at teardown whatever
    // the domain left behind.
    int32_t (*alloc_pages)(size_t count, void** out);
    void (*free_pages)(void* base, size_t count);

    // Time (monotonic nanoseconds since boot) and sleeping.
    uint64_t (*time_now_ns)(void);
    int32_t (*sleep_ns)(uint64_t ns);

    // A new thread of this domain, running fn(arg); the kernel tracks it as the domain's.
    int32_t (*thread_create)(void (*fn)(void* arg), void* arg, const char* name, size_t name_len, uint64_t* out_thread);

    // The shared exchange heap (behind RRef<T>): objects owned by this domain until moved.
    int32_t (*exchange_alloc)(size_t size, size_t align, uint64_t type_id, void** out);
    void (*exchange_free)(void* object);

    // Devices: claim one listed in the manifest, map a BAR, wait for one of its interrupts,
    // memory it may DMA to (with its bus address).
    int32_t (*device_claim)(uint16_t vendor, uint16_t device, uint32_t index, lamina_device_info* out);
    int32_t (*device_map_bar)(uint64_t handle, uint32_t bar, void** out, size_t* out_size);
    int32_t (*device_irq_wait)(uint64_t handle, uint32_t vector, uint64_t timeout_ns);
    int32_t (*dma_alloc)(uint64_t handle, size_t size, void** out, uint64_t* out_bus_address);
    void (*dma_free)(uint64_t handle, void* base, size_t size);

    // Interfaces: find an imported interface by name (as in the manifest) and get the object
    // its generated proxy sits behind; publish one this domain exports.
    int32_t (*interface_lookup)(const char* name, size_t name_len, void** out);
    int32_t (*interface_publish)(const char* name, size_t name_len, void* object);

    // ---- ABI 1.1 ----
    // MSI-X for a claimed device: allocates interrupt vectors for its MSI-X table entries
    // 0..count-1, points the entries at them and enables MSI-X; *out_count is what was granted
    // (fewer when the table is smaller). device_irq_wait(handle, entry, timeout) then waits for
    // an interrupt of that entry: 0 when one arrived since the last wait on it returned,
    // ETIMEDOUT otherwise. ENOTSUP when the device has no MSI-X (poll instead), EEXIST when
    // already set up. Teardown masks the entries and frees the vectors.
    int32_t (*device_irq_setup)(uint64_t handle, uint32_t count, uint32_t* out_count);
    // Where [offset, offset + length) of an exchange-heap object the domain owns or borrows lies
    // in bus addresses, for DMA straight into or out of it: up to max segments in out, the number
    // used in *out_count. EINVAL for a pointer that is not a live heap object or a range outside
    // it, EPERM for an object the domain neither owns nor borrows, ENOSPC when max is too small.
    // The object must stay owned (or borrowed) by the domain until the device is done with it.
    int32_t (*exchange_dma_segments)(const void* object, uint64_t offset, uint64_t length, lamina_dma_segment* out,
                                     uint32_t max, uint32_t* out_count);

    // ---- ABI 1.2 ----
    // Reads `width` (1, 2 or 4) naturally aligned bytes at `offset` of a claimed device's PCI
    // configuration space (the first 256 bytes), for devices that describe themselves there
    // (virtio's capability list). EINVAL for a bad width, alignment or offset.
    int32_t (*device_config_read)(uint64_t handle, uint32_t offset, uint32_t width, uint32_t* out);

    // ---- ABI 1.3 ----
    // interface_publish with the interface's type id (idlc's I::TYPE_ID, a hash of its methods'
    // signatures): a live update refuses a new instance that publishes a name under another
    // type than the running one (libdomain's publish_interface<I> passes it).
    int32_t (*interface_publish_typed)(const char* name, size_t name_len, void* object, uint32_t type_id);
} lamina_domain_caps;

typedef int64_t (*lamina_domain_entry_fn)(const lamina_domain_caps* caps);

// Fault injection (/proc/domctl "inject"). libdomain publishes, through interface_publish before
// the domain's own code runs, a function `uint64_t inject(uint64_t kind)` under this name; the
// kernel calls it inside the domain with one of the kinds below, and it raises that fault in the
// domain's own code, so that the failure takes the same path as a real bug.
#define LAMINA_INJECT_EXPORT "lamina.inject"
enum lamina_inject_kind {
    LAMINA_INJECT_PANIC = 1,  // the domain panics through its capability table
    LAMINA_INJECT_NULL = 2,   // writes through a null pointer (#PF)
    LAMINA_INJECT_UD = 3,     // executes ud2 (#UD)
    LAMINA_INJECT_DIV0 = 4,   // divides by zero (#DE)
    LAMINA_INJECT_STACK = 5,  // recurses without end (#PF on the stack's guard page)
    LAMINA_INJECT_LOOP = 6,   // spins without returning (the watchdog ends it)
};

#ifdef __cplusplus
}  // extern "C"

static_assert(sizeof(void*) == 8, "the domain ABI is LP64");
static_assert(sizeof(lamina_device_info) == 64);
static_assert(offsetof(lamina_domain_caps, log) == 16);
static_assert(offsetof(lamina_domain_caps, panic) == 24);
static_assert(offsetof(lamina_domain_caps, alloc_pages) == 32);
static_assert(offsetof(lamina_domain_caps, time_now_ns) == 48);
static_assert(offsetof(lamina_domain_caps, thread_create) == 64);
static_assert(offsetof(lamina_domain_caps, exchange_alloc) == 72);
static_assert(offsetof(lamina_domain_caps, device_claim) == 88);
static_assert(offsetof(lamina_domain_caps, interface_lookup) == 128);
static_assert(offsetof(lamina_domain_caps, device_irq_setup) == 144);
static_assert(offsetof(lamina_domain_caps, device_config_read) == 160);
static_assert(offsetof(lamina_domain_caps, interface_publish_typed) == 168);
static_assert(sizeof(lamina_domain_caps) == 176);
#else
_Static_assert(sizeof(lamina_domain_caps) == 176, "lamina_domain_caps layout");
#endif

#endif  // LAMINA_DOMAIN_ABI_H
