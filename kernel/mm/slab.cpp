// lamina:portable
// Slab caches and the kernel Heap; the contract is at the top of slab.h.
#include "kernel/mm/slab.h"

#include <new>

namespace lamina::mm {

namespace detail {

// What a free slot holds. The poison word is what makes double-free detection cheap: a slot
// that is being freed and already carries its poison is looked up in the free list to confirm.
struct FreeObject {
    FreeObject* next;
    uintptr_t poison;
};

enum SlabListId : uint8_t { ListNone, ListPartial, ListFull, ListEmpty };

// At offset 0 of every slab page.
struct SlabHeader {
    uint32_t magic;
    uint16_t in_use;
    uint8_t list;  // SlabListId
    uint8_t unused;
    SlabCache* cache;
    FreeObject* free_list;
    ListNode link;  // on its cache's list for `list`
};
static_assert(sizeof(SlabHeader) == 48);
using SlabLink = ListLink<SlabHeader, &SlabHeader::link>;

}  // namespace detail

using detail::FreeObject;
using detail::SlabHeader;
using detail::SlabLink;

// At offset 0 of the first page of every large allocation.
struct Heap::LargeHeader {
    uint32_t magic;
    uint32_t order;
    size_t size;
    ListNode link;  // on Heap::large_
};

namespace {

// The first word of a heap page says what it is. DEAD_MAGIC is written when a page goes back
// to the provider so a late free of one of its objects is refused rather than followed.
constexpr uint32_t SLAB_MAGIC = 0x51AB'CAFEu;
constexpr uint32_t LARGE_MAGIC = 0x1A26'E0B1u;
constexpr uint32_t DEAD_MAGIC = 0xDEAD'0B1Eu;

constexpr uintptr_t FREE_POISON = 0x5A5A'F7EE'0B1E'C7A5u;

uintptr_t poison_for(const void* object) { return FREE_POISON ^ reinterpret_cast<uintptr_t>(object); }

uintptr_t page_of(const void* p) { return reinterpret_cast<uintptr_t>(p) & ~static_cast<uintptr_t>(PAGE_SIZE - 1); }

constexpr size_t round_up(size_t value, size_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

constexpr size_t size_class_index(size_t size) {
    if (size <= Heap::MIN_SMALL_SIZE) return 0;
    // 17..32 -> 1, ..., 1025..2048 -> 7
    return static_cast<size_t>(64 - __builtin_clzll(static_cast<unsigned long long>(size - 1))) - 4;
}
static_assert(size_class_index(16) == 0 && size_class_index(17) == 1 &&
              size_class_index(2048) == Heap::SIZE_CLASS_COUNT - 1);

constexpr unsigned order_for_pages(size_t pages) {
    unsigned order = 0;
    while ((size_t{1} << order) < pages) order++;
    return order;
}

}  // namespace

// ---- SlabCache ------------------------------------------------------------------------------

Result<SlabCache::Layout> SlabCache::layout_for(size_t object_size, size_t alignment) {
    if (object_size == 0 || object_size > PAGE_SIZE || alignment == 0 || (alignment & (alignment - 1)) != 0 ||
        alignment > PAGE_SIZE / 2)
        return Errno::Inval;
    size_t align = alignment < Heap::MIN_SMALL_SIZE ? Heap::MIN_SMALL_SIZE : alignment;
    size_t stride = round_up(object_size < sizeof(FreeObject) ? sizeof(FreeObject) : object_size, align);
    size_t first = round_up(sizeof(SlabHeader), align);
    if (first + stride > PAGE_SIZE) return Errno::Inval;
    return Layout{static_cast<uint32_t>(stride), static_cast<uint32_t>(first),
                  static_cast<uint32_t>((PAGE_SIZE - first) / stride)};
}

SlabCache::SlabCache(const char* name, Layout layout, PageProvider& pages)
    : stride_(layout.stride), first_offset_(layout.first_offset), capacity_(layout.capacity), pages_(&pages) {
    size_t i = 0;
    for (; name != nullptr && name[i] != '\0' && i + 1 < NAME_CAPACITY; i++) name_[i] = name[i];
    for (; i < NAME_CAPACITY; i++) name_[i] = '\0';
}

detail::SlabList& SlabCache::list_named(uint8_t list) {
    switch (list) {
        case detail::ListPartial:
            return partial_;
        case detail::ListFull:
            return full_;
        default:
            return empty_;
    }
}

void SlabCache::move_to(SlabHeader* slab, uint8_t list) {
    if (slab->list != detail::ListNone) list_named(slab->list).remove(&slab->link);
    slab->list = list;
    if (list != detail::ListNone) list_named(list).push_front(&slab->link);
}

SlabHeader* SlabCache::new_slab() {
    void* page = pages_->alloc_pages(0);
    if (page == nullptr) return nullptr;
    if (page_of(page) != reinterpret_cast<uintptr_t>(page)) {
        // A provider bug; without page alignment deallocate could not find the header.
        pages_->free_pages(page, 0);
        return nullptr;
    }
    auto* slab = static_cast<SlabHeader*>(page);
    slab->magic = SLAB_MAGIC;
    slab->in_use = 0;
    slab->list = detail::ListNone;
    slab->unused = 0;
    slab->cache = this;
    new (&slab->link) ListNode();
    // Threaded back to front so objects are handed out in address order.
    FreeObject* head = nullptr;
    auto* base = static_cast<unsigned char*>(page) + first_offset_;
    for (uint32_t i = capacity_; i-- > 0;) {
        auto* object = reinterpret_cast<FreeObject*>(base + size_t{i} * stride_);
        object->next = head;
        object->poison = poison_for(object);
        head = object;
    }
    slab->free_list = head;
    move_to(slab, detail::ListEmpty);
    return slab;
}

void SlabCache::release_slab(SlabHeader* slab) {
    move_to(slab, detail::ListNone);
    slab->magic = DEAD_MAGIC;
    slab->cache = nullptr;
    pages_->free_pages(slab, 0);
}

void* SlabCache::allocate() {
    SlabHeader* slab = SlabLink::owner(!partial_.empty() ? partial_.front() : empty_.front());
    if (slab == nullptr) {
        slab = new_slab();
        if (slab == nullptr) {
            failed_allocs_++;
            return nullptr;
        }
    }
    FreeObject* object = slab->free_list;
    slab->free_list = object->next;
    // A live object must not look free to the double-free check.
    object->next = nullptr;
    object->poison = 0;
    slab->in_use++;
    in_use_++;
    total_allocs_++;
    uint8_t target = slab->in_use == capacity_ ? detail::ListFull : detail::ListPartial;
    if (slab->list != target) move_to(slab, target);
    return object;
}

Result<void> SlabCache::deallocate(void* object) {
    if (object == nullptr) return {};
    auto* slab = reinterpret_cast<SlabHeader*>(page_of(object));
    if (slab->magic != SLAB_MAGIC || slab->cache != this) return Errno::Inval;
    return deallocate_in(slab, object);
}

Result<void> SlabCache::deallocate_in(SlabHeader* slab, void* object) {
    auto offset = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(object) - reinterpret_cast<uintptr_t>(slab));
    if (offset < first_offset_ || (offset - first_offset_) % stride_ != 0 ||
        (offset - first_offset_) / stride_ >= capacity_)
        return Errno::Inval;

    auto* freed = static_cast<FreeObject*>(object);
    if (freed->poison == poison_for(freed)) {
        uint32_t steps = 0;
        for (FreeObject* f = slab->free_list; f != nullptr && steps <= capacity_; f = f->next, steps++) {
            if (f == freed) return Errno::Inval;
        }
    }
    if (slab->in_use == 0)  // cannot happen unless the header was overwritten
        return Errno::Inval;

    freed->next = slab->free_list;
    freed->poison = poison_for(freed);
    slab->free_list = freed;
    slab->in_use--;
    in_use_--;
    total_frees_++;

    if (slab->in_use == 0) {
        // Keep one empty slab to absorb alloc/free ping-pong at a slab boundary.
        if (empty_.size() >= 1)
            release_slab(slab);
        else
            move_to(slab, detail::ListEmpty);
    } else if (slab->list == detail::ListFull) {
        move_to(slab, detail::ListPartial);
    }
    return {};
}

size_t SlabCache::release_empty_slabs() {
    size_t released = 0;
    while (!empty_.empty()) {
        release_slab(SlabLink::owner(empty_.front()));
        released++;
    }
    return released;
}

void SlabCache::release_all_slabs() {
    detail::SlabList* lists[] = {&partial_, &full_, &empty_};
    for (detail::SlabList* list : lists) {
        while (!list->empty()) release_slab(SlabLink::owner(list->front()));
    }
    in_use_ = 0;
}

SlabStats SlabCache::stats() const {
    size_t slabs = partial_.size() + full_.size() + empty_.size();
    return SlabStats{name_, stride_, capacity_, in_use_, slabs, slabs, total_allocs_, total_frees_, failed_allocs_};
}

// ---- Heap -----------------------------------------------------------------------------------

Heap::Heap(PageProvider& pages)
    : pages_(&pages),
      size_classes_{
          SlabCache("size-16", SlabCache::layout_for(16, 16).value(), pages),
          SlabCache("size-32", SlabCache::layout_for(32, 32).value(), pages),
          SlabCache("size-64", SlabCache::layout_for(64, 64).value(), pages),
          SlabCache("size-128", SlabCache::layout_for(128, 128).value(), pages),
          SlabCache("size-256", SlabCache::layout_for(256, 256).value(), pages),
          SlabCache("size-512", SlabCache::layout_for(512, 512).value(), pages),
          SlabCache("size-1024", SlabCache::layout_for(1024, 1024).value(), pages),
          SlabCache("size-2048", SlabCache::layout_for(2048, 2048).value(), pages),
      } {
    static_assert(SIZE_CLASS_COUNT == 8 && MAX_SMALL_SIZE == 2048, "update the list above");
}

Heap::~Heap() {
    // Named caches first: their SlabCache objects live in size-class slabs.
    for (SlabCache* cache = named_; cache != nullptr; cache = cache->next_named_) cache->release_all_slabs();
    named_ = nullptr;
    for (SlabCache& cache : size_classes_) cache.release_all_slabs();
    while (ListNode* n = large_.pop_front()) {
        LargeHeader* header = ListLink<LargeHeader, &LargeHeader::link>::owner(n);
        header->magic = DEAD_MAGIC;
        pages_->free_pages(header, header->order);
    }
}

void* Heap::allocate(size_t size) {
    static_assert(sizeof(LargeHeader) <= LARGE_HEADER_SIZE);
    if (size <= MAX_SMALL_SIZE) return size_classes_[size_class_index(size)].allocate();
    if (size > MAX_LARGE_SIZE) {
        large_stats_.failed_allocs++;
        return nullptr;
    }
    size_t pages = (size + LARGE_HEADER_SIZE + PAGE_SIZE - 1) / PAGE_SIZE;
    unsigned order = order_for_pages(pages);
    void* block = pages_->alloc_pages(order);
    if (block == nullptr || page_of(block) != reinterpret_cast<uintptr_t>(block)) {
        if (block != nullptr) pages_->free_pages(block, order);
        large_stats_.failed_allocs++;
        return nullptr;
    }
    auto* header = static_cast<LargeHeader*>(block);
    header->magic = LARGE_MAGIC;
    header->order = order;
    header->size = size;
    new (&header->link) ListNode();
    large_.push_front(&header->link);
    large_stats_.allocations_in_use++;
    large_stats_.pages += size_t{1} << order;
    large_stats_.total_allocs++;
    return static_cast<unsigned char*>(block) + LARGE_HEADER_SIZE;
}

Result<void> Heap::deallocate(void* p) {
    if (p == nullptr) return {};
    uintptr_t page = page_of(p);
    uint32_t magic = *reinterpret_cast<const uint32_t*>(page);
    if (magic == SLAB_MAGIC) {
        auto* slab = reinterpret_cast<SlabHeader*>(page);
        if (slab->cache == nullptr) return Errno::Inval;
        return slab->cache->deallocate_in(slab, p);
    }
    if (magic == LARGE_MAGIC) return deallocate_large(reinterpret_cast<LargeHeader*>(page), p);
    return Errno::Inval;
}

Result<void> Heap::deallocate_large(LargeHeader* header, void* p) {
    if (reinterpret_cast<unsigned char*>(header) + LARGE_HEADER_SIZE != p || header->order > MAX_ORDER)
        return Errno::Inval;
    if (!large_.remove(&header->link)) return Errno::Inval;  // a forged header in some page with the right magic
    header->magic = DEAD_MAGIC;
    large_stats_.allocations_in_use--;
    large_stats_.pages -= size_t{1} << header->order;
    large_stats_.total_frees++;
    pages_->free_pages(header, header->order);
    return {};
}

Result<size_t> Heap::usable_size(void* p) const {
    if (p == nullptr) return Errno::Inval;
    uintptr_t page = page_of(p);
    uint32_t magic = *reinterpret_cast<const uint32_t*>(page);
    if (magic == SLAB_MAGIC) {
        auto* slab = reinterpret_cast<const SlabHeader*>(page);
        const SlabCache* cache = slab->cache;
        if (cache == nullptr) return Errno::Inval;
        auto offset = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p) - page);
        if (offset < cache->first_offset_ || (offset - cache->first_offset_) % cache->stride_ != 0) return Errno::Inval;
        auto* object = static_cast<const FreeObject*>(p);
        if (object->poison == poison_for(object))
            return Errno::Inval;  // most likely freed; good enough for a size query
        return size_t{cache->stride_};
    }
    if (magic == LARGE_MAGIC) {
        auto* header = reinterpret_cast<const LargeHeader*>(page);
        if (page + LARGE_HEADER_SIZE != reinterpret_cast<uintptr_t>(p) || header->order > MAX_ORDER)
            return Errno::Inval;
        return (PAGE_SIZE << header->order) - LARGE_HEADER_SIZE;
    }
    return Errno::Inval;
}

Result<SlabCache*> Heap::create_cache(const char* name, size_t object_size, size_t alignment) {
    SlabCache::Layout layout = TRY(SlabCache::layout_for(object_size, alignment));
    auto* cache = create<SlabCache>(name, layout, *pages_);
    if (cache == nullptr) return Errno::NoMem;
    cache->next_named_ = named_;
    named_ = cache;
    return cache;
}

Result<void> Heap::destroy_cache(SlabCache* cache) {
    SlabCache** link = &named_;
    while (*link != nullptr && *link != cache) link = &(*link)->next_named_;
    if (cache == nullptr || *link == nullptr) return Errno::Inval;
    if (cache->in_use_ != 0) return Errno::Busy;
    cache->release_all_slabs();
    *link = cache->next_named_;
    return destroy(cache);
}

size_t Heap::release_empty_slabs() {
    size_t released = 0;
    for (SlabCache& cache : size_classes_) released += cache.release_empty_slabs();
    for (SlabCache* cache = named_; cache != nullptr; cache = cache->next_named_)
        released += cache->release_empty_slabs();
    return released;
}

}  // namespace lamina::mm
