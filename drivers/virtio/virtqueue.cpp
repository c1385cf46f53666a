// lamina:portable
#include "drivers/virtio/virtqueue.h"

namespace lamina::virtio {

namespace {
constexpr size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }
}  // namespace

Result<void> Virtqueue::init(Platform& platform, uint16_t size) {
    if (size == 0 || size > MAX_SIZE || (size & (size - 1)) != 0) return Errno::Inval;
    release();
    avail_offset_ = align_up(spec::desc_bytes(size), spec::AVAIL_ALIGN);
    used_offset_ = align_up(avail_offset_ + spec::avail_bytes(size), spec::USED_ALIGN);
    region_ = TRY(platform.alloc_dma(used_offset_ + spec::used_bytes(size)));
    platform_ = &platform;
    size_ = size;
    for (uint16_t i = 0; i < size; i++) next_[i] = uint16_t(i + 1);
    free_head_ = 0;
    free_count_ = size;
    avail_idx_ = published_idx_ = last_used_ = 0;
    avail()->flags = spec::AVAIL_F_NO_INTERRUPT;
    return {};
}

void Virtqueue::release() {
    if (platform_ && region_.virt) platform_->free_dma(region_);
    region_ = {};
    size_ = free_count_ = 0;
}

Result<void> Virtqueue::add(const Segment* segments, uint16_t count, uint32_t token) {
    if (count == 0) return Errno::Inval;
    if (count > free_count_) return Errno::Busy;
    uint16_t head = free_head_, d = head;
    for (uint16_t i = 0; i < count; i++) {
        spec::Desc& e = desc()[d];
        e.addr = segments[i].bus;
        e.len = segments[i].len;
        e.flags =
            uint16_t((segments[i].device_writes ? spec::DESC_F_WRITE : 0) | (i + 1 < count ? spec::DESC_F_NEXT : 0));
        e.next = next_[d];
        d = next_[d];
    }
    free_head_ = d;
    free_count_ = uint16_t(free_count_ - count);
    token_[head] = token;
    chain_len_[head] = count;
    avail_ring()[avail_idx_ & (size_ - 1)] = head;
    avail_idx_++;
    return {};
}

bool Virtqueue::publish() {
    if (avail_idx_ == published_idx_) return false;
    __atomic_store_n(&avail()->idx, avail_idx_, __ATOMIC_RELEASE);
    published_idx_ = avail_idx_;
    return true;
}

bool Virtqueue::notify_needed() const {
    // The device may have set NO_NOTIFY before seeing our index: read its flags only after the
    // index store is globally visible.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return !(__atomic_load_n(&used()->flags, __ATOMIC_RELAXED) & spec::USED_F_NO_NOTIFY);
}

bool Virtqueue::has_used() const { return __atomic_load_n(&used()->idx, __ATOMIC_ACQUIRE) != last_used_; }

bool Virtqueue::pop_used(uint32_t& token, uint32_t& len) {
    if (__atomic_load_n(&used()->idx, __ATOMIC_ACQUIRE) == last_used_) return false;
    spec::UsedElem e = used_ring()[last_used_ & (size_ - 1)];
    last_used_++;
    uint16_t head = uint16_t(e.id);
    // A device that names a descriptor it was not given is broken; dropping the entry keeps
    // the free list intact.
    if (head >= size_ || chain_len_[head] == 0) {
        token = UINT32_MAX;
        len = 0;
        return true;
    }
    token = token_[head];
    len = e.len;
    // Give the chain back: its last descriptor links to the old free list.
    uint16_t d = head;
    for (uint16_t i = 1; i < chain_len_[head]; i++) d = next_[d];
    next_[d] = free_head_;
    free_head_ = head;
    free_count_ = uint16_t(free_count_ + chain_len_[head]);
    chain_len_[head] = 0;
    return true;
}

bool Virtqueue::arm_interrupt() {
    __atomic_store_n(&avail()->flags, uint16_t(0), __ATOMIC_RELAXED);
    // A used entry written before the device saw the cleared flag raised no interrupt: look.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (has_used()) {
        suppress_interrupt();
        return false;
    }
    return true;
}

void Virtqueue::suppress_interrupt() {
    __atomic_store_n(&avail()->flags, spec::AVAIL_F_NO_INTERRUPT, __ATOMIC_RELAXED);
}

}  // namespace lamina::virtio
