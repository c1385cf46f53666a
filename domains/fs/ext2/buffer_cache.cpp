// lamina:portable
#include "domains/fs/ext2/buffer_cache.h"

#include <new>

#include <lamina/page.h>

namespace lamina::ext2 {

namespace {
constexpr uint64_t NO_BLOCK = ~0ull;
}

BufferRef& BufferRef::operator=(BufferRef&& o) {
    if (this != &o) {
        reset();
        cache_ = o.cache_;
        buf_ = o.buf_;
        o.buf_ = nullptr;
    }
    return *this;
}

void BufferRef::mark_metadata() { cache_->set_metadata(buf_); }

void BufferRef::reset() {
    if (buf_) cache_->unpin(buf_);
    buf_ = nullptr;
}

Result<BufferCache*> BufferCache::create(fs::BlockDevice& dev, Allocator& alloc, uint32_t block_size, uint32_t count,
                                         fs::FsLog* log) {
    if (block_size == 0 || block_size % fs::SECTOR_SIZE || count < MIN_BUFFERS) return Errno::Inval;
    auto* c = alloc.create<BufferCache>(dev, alloc, block_size, count, log);
    if (!c) return Errno::NoMem;
    c->nbuckets_ = count * 2;
    c->buffers_ = static_cast<Buffer*>(alloc.allocate(sizeof(Buffer) * count, alignof(Buffer)));
    c->buckets_ = static_cast<Buffer**>(alloc.allocate(sizeof(Buffer*) * c->nbuckets_, alignof(Buffer*)));
    c->memory_ = static_cast<uint8_t*>(alloc.allocate(size_t{block_size} * count, PAGE_SIZE));
    if (!c->buffers_ || !c->buckets_ || !c->memory_) {
        destroy(c);
        return Errno::NoMem;
    }
    for (uint32_t i = 0; i < c->nbuckets_; i++) c->buckets_[i] = nullptr;
    for (uint32_t i = 0; i < count; i++) {
        Buffer* b = new (&c->buffers_[i]) Buffer{};
        b->block = NO_BLOCK;
        b->data = c->memory_ + size_t{block_size} * i;
        c->lru_push_front(b);
    }
    return c;
}

BufferCache::~BufferCache() {
    if (memory_) alloc_.release(memory_, size_t{block_size_} * count_);
    if (buckets_) alloc_.release(buckets_, sizeof(Buffer*) * nbuckets_);
    if (buffers_) alloc_.release(buffers_, sizeof(Buffer) * count_);
}

void BufferCache::destroy(BufferCache* c) {
    if (c) c->alloc_.destroy(c);
}

void BufferCache::lru_remove(Buffer* b) {
    (b->lru_prev ? b->lru_prev->lru_next : lru_head_) = b->lru_next;
    (b->lru_next ? b->lru_next->lru_prev : lru_tail_) = b->lru_prev;
    b->lru_prev = b->lru_next = nullptr;
}

void BufferCache::lru_push_front(Buffer* b) {
    b->lru_prev = nullptr;
    b->lru_next = lru_head_;
    if (lru_head_) lru_head_->lru_prev = b;
    lru_head_ = b;
    if (!lru_tail_) lru_tail_ = b;
}

void BufferCache::hash_remove(Buffer* b) {
    if (b->block == NO_BLOCK) return;
    Buffer** p = &buckets_[bucket(b->block)];
    while (*p && *p != b) p = &(*p)->hash_next;
    if (*p) *p = b->hash_next;
    b->hash_next = nullptr;
    b->block = NO_BLOCK;
}

Result<void> BufferCache::write_group(Buffer* const* group, uint32_t n) {
    uint32_t spb = block_size_ / fs::SECTOR_SIZE;
    fs::SectorRun runs[WRITE_GROUP] = {};
    for (uint32_t i = 0; i < n; i++) runs[i] = {group[i]->block * spb, spb, group[i]->data};
    auto r = dev_.write_runs(runs, n);
    if (r.is_error()) {
        fs::log_line(log_, "ext2: writing back %u block%s from block %llu failed", n, n == 1 ? "" : "s",
                     static_cast<unsigned long long>(group[0]->block));
        return r;
    }
    stats_.writes += n;
    for (uint32_t i = 0; i < n; i++) group[i]->dirty = false;
    return {};
}

// The victim, and with it other dirty unpinned buffers from the LRU tail (the next victims):
// one device call instead of one per eviction.
Result<void> BufferCache::write_behind(Buffer* victim) {
    Buffer* group[WRITE_GROUP];
    uint32_t n = 0;
    group[n++] = victim;
    for (Buffer* b = lru_tail_; b && n < WRITE_GROUP; b = b->lru_prev)
        if (b != victim && b->dirty && !b->pins && free_to_write(b)) group[n++] = b;
    return write_group(group, n);
}

// Finds the block's buffer, or takes the least recently used unpinned one for it (writing it
// back first if dirty). The buffer returned is pinned and at the front of the LRU list.
Result<Buffer*> BufferCache::lookup_or_claim(uint64_t block, bool& hit) {
    if (block == NO_BLOCK) return Errno::Inval;
    for (Buffer* b = buckets_[bucket(block)]; b; b = b->hash_next) {
        if (b->block == block) {
            hit = true;
            stats_.hits++;
            b->pins++;
            lru_remove(b);
            lru_push_front(b);
            return b;
        }
    }
    hit = false;
    stats_.misses++;
    Buffer* victim = lru_tail_;
    while (victim && (victim->pins || !free_to_write(victim))) victim = victim->lru_prev;
    if (!victim) {
        fs::log_line(log_, "ext2: buffer cache exhausted (all %u buffers pinned or waiting for a commit)", count_);
        return Errno::NoMem;
    }
    if (victim->dirty) TRY(write_behind(victim));
    if (victim->block != NO_BLOCK) stats_.evictions++;
    hash_remove(victim);
    victim->block = block;
    victim->valid = false;
    victim->hash_next = buckets_[bucket(block)];
    buckets_[bucket(block)] = victim;
    victim->pins = 1;
    lru_remove(victim);
    lru_push_front(victim);
    return victim;
}

Buffer* BufferCache::find(uint64_t block) const {
    for (Buffer* b = buckets_[bucket(block)]; b; b = b->hash_next)
        if (b->block == block) return b;
    return nullptr;
}

Result<void> BufferCache::fill(Buffer* b) {
    const uint32_t spb = block_size_ / fs::SECTOR_SIZE;
    Buffer* group[READ_AHEAD];
    uint32_t n = 0;
    group[n++] = b;
    if (b->block == last_read_ + 1) {
        // The run of uncached blocks after b, and as many clean unpinned buffers for it.
        const uint64_t limit = dev_.sector_count() / spb;
        uint32_t want = 0;
        while (want + 1 < READ_AHEAD && b->block + 1 + want < limit && !find(b->block + 1 + want)) want++;
        for (Buffer* v = lru_tail_; v && n < want + 1;) {
            Buffer* prev = v->lru_prev;
            if (v != b && !v->pins && !v->dirty) {
                if (v->block != NO_BLOCK) stats_.evictions++;
                hash_remove(v);
                v->block = b->block + n;
                v->valid = false;
                v->hash_next = buckets_[bucket(v->block)];
                buckets_[bucket(v->block)] = v;
                v->pins = 1;
                lru_remove(v);
                lru_push_front(v);
                group[n++] = v;
            }
            v = prev;
        }
    }
    fs::SectorRunIn runs[READ_AHEAD] = {};
    for (uint32_t i = 0; i < n; i++) runs[i] = {group[i]->block * spb, spb, group[i]->data};
    auto r = n == 1 ? dev_.read_sectors(runs[0].lba, spb, runs[0].data) : dev_.read_runs(runs, n);
    for (uint32_t i = 1; i < n; i++) {
        group[i]->pins--;
        if (r.is_error()) hash_remove(group[i]);
    }
    if (r.is_error()) {
        fs::log_line(log_, "ext2: read of block %llu failed", static_cast<unsigned long long>(b->block));
        return r;
    }
    for (uint32_t i = 0; i < n; i++) group[i]->valid = true;
    stats_.reads += n;
    stats_.read_ahead += n - 1;
    last_read_ = group[n - 1]->block;
    return {};
}

Result<BufferRef> BufferCache::get(uint64_t block) {
    bool hit;
    Buffer* b = TRY(lookup_or_claim(block, hit));
    if (!b->valid) {
        auto r = fill(b);
        if (r.is_error()) {
            b->pins--;
            hash_remove(b);
            return r.error();
        }
    }
    return BufferRef(this, b);
}

Result<BufferRef> BufferCache::get_zeroed(uint64_t block) {
    bool hit;
    Buffer* b = TRY(lookup_or_claim(block, hit));
    __builtin_memset(b->data, 0, block_size_);
    b->valid = true;
    b->dirty = true;
    return BufferRef(this, b);
}

void BufferCache::unpin(Buffer* b) { b->pins--; }

void BufferCache::set_metadata(Buffer* b) {
    b->dirty = true;
    if (!journaling_ || b->metadata) return;
    b->metadata = true;
    metadata_count_++;
}

void BufferCache::metadata_committed(bool durable) {
    for (Buffer* b = lru_head_; b; b = b->lru_next) {
        if (!b->metadata) continue;
        b->metadata = false;
        if (!durable && !b->pending) {
            b->pending = true;
            pending_count_++;
        }
    }
    metadata_count_ = 0;
    if (durable) metadata_durable();
}

void BufferCache::metadata_durable() {
    for (Buffer* b = lru_head_; b; b = b->lru_next) b->pending = false;
    pending_count_ = 0;
}

void BufferCache::forget(uint64_t block) {
    for (Buffer* b = buckets_[bucket(block)]; b; b = b->hash_next) {
        if (b->block == block && b->pins == 0) {
            if (b->metadata) metadata_count_--;
            if (b->pending) pending_count_--;
            b->metadata = false;
            b->pending = false;
            b->dirty = false;
            b->valid = false;
            hash_remove(b);
            lru_remove(b);
            // Reuse it first.
            b->lru_prev = lru_tail_;
            b->lru_next = nullptr;
            if (lru_tail_) lru_tail_->lru_next = b;
            lru_tail_ = b;
            if (!lru_head_) lru_head_ = b;
            return;
        }
    }
}

Result<void> BufferCache::write_unlogged() {
    Result<void> first_error;
    Buffer* group[WRITE_GROUP];
    uint32_t n = 0;
    for (Buffer* b = lru_head_; b; b = b->lru_next) {
        if (b->dirty && free_to_write(b)) group[n++] = b;
        if (n == WRITE_GROUP || (n > 0 && !b->lru_next)) {
            auto r = write_group(group, n);
            if (r.is_error() && first_error.is_ok()) first_error = r.error();
            n = 0;
        }
    }
    return first_error;
}

Result<void> BufferCache::sync() {
    TRY(write_unlogged());
    return dev_.flush();
}

}  // namespace lamina::ext2
