// The private heap of a domain: power-of-two size classes from 16 to 2048 bytes carved out of
// single pages, and anything larger as whole pages of its own. Pages come from the kernel
// (caps().alloc_pages) and are never returned for small classes: the kernel frees them all when
// the domain is torn down, which is the point of a private heap.
#include <lamina/page.h>

#include "domains/lib/domain.h"

namespace lamina::domain_rt {

namespace {

constexpr size_t HEADER = 16;  // keeps payloads 16-byte aligned
constexpr int CLASSES = 8;     // 16 << 0 .. 16 << 7 = 2048 bytes, header included
constexpr uint64_t LARGE_TAG = 1ull << 63;

struct FreeBlock {
    FreeBlock* next;
};

// Lock order: the heap lock is a leaf; nothing is called while holding it but alloc_pages.
int g_lock;
FreeBlock* g_free[CLASSES];

struct Guard {
    Guard() {
        while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE))
            while (__atomic_load_n(&g_lock, __ATOMIC_RELAXED)) asm volatile("pause");
    }
    ~Guard() { __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE); }
};

int class_of(size_t total) {
    int c = 0;
    while ((size_t(16) << c) < total) c++;
    return c;
}

}  // namespace

void* malloc(size_t size) {
    if (size > (size_t(1) << 40)) return nullptr;
    size_t total = size + HEADER;
    if (total > (size_t(16) << (CLASSES - 1))) {
        size_t pages = (total + PAGE_SIZE - 1) / PAGE_SIZE;
        void* base;
        if (caps().alloc_pages(pages, &base) != 0) return nullptr;
        *static_cast<uint64_t*>(base) = LARGE_TAG | pages;
        return static_cast<char*>(base) + HEADER;
    }
    int c = class_of(total);
    Guard guard;
    if (!g_free[c]) {
        void* page;
        if (caps().alloc_pages(1, &page) != 0) return nullptr;
        size_t block = size_t(16) << c;
        for (size_t off = 0; off + block <= PAGE_SIZE; off += block) {
            auto* b = reinterpret_cast<FreeBlock*>(static_cast<char*>(page) + off);
            b->next = g_free[c];
            g_free[c] = b;
        }
    }
    FreeBlock* b = g_free[c];
    g_free[c] = b->next;
    *reinterpret_cast<uint64_t*>(b) = uint64_t(c);
    return reinterpret_cast<char*>(b) + HEADER;
}

void free(void* p) {
    if (!p) return;
    auto* header = reinterpret_cast<uint64_t*>(static_cast<char*>(p) - HEADER);
    uint64_t tag = *header;
    if (tag & LARGE_TAG) {
        caps().free_pages(header, size_t(tag & ~LARGE_TAG));
        return;
    }
    if (tag >= uint64_t(CLASSES)) panic("free(%p): not a heap block (header %#llx)", p, (unsigned long long)tag);
    Guard guard;
    auto* b = reinterpret_cast<FreeBlock*>(header);
    b->next = g_free[tag];
    g_free[tag] = b;
}

}  // namespace lamina::domain_rt
