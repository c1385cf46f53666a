#include "kernel/storage/ram_disk.h"

#include <new>
#include <utility>

#include <lamina/proxy_runtime.h>
#include <lamina/page.h>

#include "kernel/mm/memory.h"

namespace lamina::storage {

namespace {
constexpr uint64_t PAGE = PAGE_SIZE;
}

Result<RamDisk*> RamDisk::create(const uint8_t* image, size_t image_size, uint64_t size_bytes) {
    if (size_bytes == 0 || size_bytes % PAGE || size_bytes < image_size) return Errno::Inval;
    auto* d = new (std::nothrow) RamDisk;
    if (!d) return Errno::NoMem;
    uint64_t n = size_bytes / PAGE;
    d->pages_ = static_cast<uint8_t**>(mm::kmalloc(n * sizeof(uint8_t*)));
    if (!d->pages_) {
        delete d;
        return Errno::NoMem;
    }
    __builtin_memset(d->pages_, 0, n * sizeof(uint8_t*));
    d->image_ = image;
    d->image_size_ = image_size;
    d->size_ = size_bytes;
    return d;
}

RamDisk::~RamDisk() {
    if (pages_)
        for (uint64_t i = 0; i < size_ / PAGE; i++) mm::kfree(pages_[i]);
    mm::kfree(pages_);
}

Result<RamDisk*> RamDisk::copy() {
    RamDisk* d = TRY(create(image_, image_size_, size_));
    auto* page = static_cast<uint8_t*>(mm::kmalloc(PAGE));
    if (!page) {
        delete d;
        return Errno::NoMem;
    }
    Result<void> r;
    for (uint64_t i = 0; i < size_ / PAGE && r.is_ok(); i++) {
        bool written;
        {
            SpinlockGuard g(lock_);
            written = pages_[i] != nullptr;
        }
        if (!written) continue;  // it reads from the image in both
        read(i * PAGE, page, PAGE);
        r = d->write(i * PAGE, page, PAGE);
    }
    mm::kfree(page);
    if (r.is_error()) {
        delete d;
        return r.error();
    }
    return d;
}

RamDisk::Stats RamDisk::stats() const {
    SpinlockGuard g(lock_);
    return stats_;
}

Result<idl::BlockInfo> RamDisk::info() { return idl::BlockInfo{BLOCK_SIZE, MAX_BLOCKS, size_ / BLOCK_SIZE}; }

uint8_t* RamDisk::page_for_write(uint64_t index) {
    if (pages_[index]) return pages_[index];
    auto* p = static_cast<uint8_t*>(mm::kmalloc(PAGE));
    if (!p) return nullptr;
    uint64_t at = index * PAGE;
    size_t from_image = at < image_size_ ? (image_size_ - at < PAGE ? image_size_ - at : PAGE) : 0;
    if (from_image) __builtin_memcpy(p, image_ + at, from_image);
    __builtin_memset(p + from_image, 0, PAGE - from_image);
    pages_[index] = p;
    stats_.pages++;
    return p;
}

void RamDisk::read(uint64_t offset, void* buf, size_t len) {
    SpinlockGuard g(lock_);
    auto* out = static_cast<uint8_t*>(buf);
    while (len > 0) {
        uint64_t index = offset / PAGE, in = offset % PAGE;
        size_t n = PAGE - in < len ? PAGE - in : len;
        if (pages_[index]) {
            __builtin_memcpy(out, pages_[index] + in, n);
        } else {
            for (size_t i = 0; i < n; i++) out[i] = offset + i < image_size_ ? image_[offset + i] : 0;
        }
        out += n;
        offset += n;
        len -= n;
    }
}

Result<void> RamDisk::write(uint64_t offset, const void* buf, size_t len) {
    if (offset > size_ || len > size_ - offset) return Errno::Inval;
    SpinlockGuard g(lock_);
    auto* in = static_cast<const uint8_t*>(buf);
    while (len > 0) {
        uint8_t* page = page_for_write(offset / PAGE);
        if (!page) return Errno::NoMem;
        uint64_t within = offset % PAGE;
        size_t n = PAGE - within < len ? PAGE - within : len;
        __builtin_memcpy(page + within, in, n);
        in += n;
        offset += n;
        len -= n;
    }
    return {};
}

// The caller is a domain calling straight into kernel code (no proxy between), so this does a
// proxy's checks itself before touching anything it was handed: the batch must be a live
// exchange object of the right type owned by the caller; it is taken over (with the requests
// and buffers inside) for the duration, each request and buffer is checked the same way, and
// everything goes back to the caller at the end. A bad handle is refused, never dereferenced.
Result<RRefDeque<idl::BlockRequest, 32>> RamDisk::submit(RRefDeque<idl::BlockRequest, 32> batch) {
    using Deque = RRefDeque<idl::BlockRequest, 32>;
    using DequeTraits = proxy_rt::HandleTraits<Deque>;
    const DomainId caller = proxy_rt::current_domain();
    void* const raw = batch.raw();
    if (!raw || !proxy_rt::rescue_rref(raw, DequeTraits::type, caller, KERNEL_DOMAIN)) {
        DequeTraits::leak(batch);  // not ours to free
        return Errno::Inval;
    }
    auto give_back = [&] { (void)proxy_rt::move_rref(raw, DequeTraits::type, KERNEL_DOMAIN, caller); };
    auto* storage = static_cast<Deque::Storage*>(raw);
    if (storage->head >= 32 || storage->count > 32) {
        give_back();
        DequeTraits::leak(batch);
        return Errno::Inval;
    }
    bool has_write = false;
    uint32_t n = batch.size();
    for (uint32_t i = 0; i < n; i++) {
        RRef<idl::BlockRequest> req = batch.pop_front();
        bool valid = req && proxy_rt::rescue_rref(req.raw(), ExchangeTraits<idl::BlockRequest>::id, KERNEL_DOMAIN,
                                                  KERNEL_DOMAIN);
        if (!valid) {
            (void)req.leak();  // garbage or someone else's: dropped from the batch, untouched
            continue;
        }
        idl::BlockRequest& r = *req;
        uint64_t bytes = uint64_t(r.blocks) * BLOCK_SIZE;
        r.status = 0;
        bool buf_ok = r.buf && proxy_rt::rescue_rref(r.buf.raw(), BYTES_TYPE_ID, KERNEL_DOMAIN, KERNEL_DOMAIN);
        if (r.op == idl::BlockOp::Flush) {
            SpinlockGuard g(lock_);
            stats_.flushes++;
        } else if (!buf_ok || r.blocks > MAX_BLOCKS || r.lba > size_ / BLOCK_SIZE ||
                   r.blocks > size_ / BLOCK_SIZE - r.lba || r.buf.capacity() < bytes ||
                   (r.op == idl::BlockOp::Write && r.buf.length() < bytes) ||
                   (r.op != idl::BlockOp::Read && r.op != idl::BlockOp::Write)) {
            r.status = int32_t(Errno::Inval);
        } else if (r.op == idl::BlockOp::Read) {
            read(r.lba * BLOCK_SIZE, r.buf.data(), bytes);
            (void)r.buf.set_length(uint32_t(bytes));
            SpinlockGuard g(lock_);
            stats_.reads++;
        } else {
            has_write = true;
            SpinlockGuard g(lock_);
            uint64_t offset = r.lba * BLOCK_SIZE;
            const uint8_t* in = r.buf.data();
            for (uint64_t left = bytes; left > 0;) {
                uint8_t* page = page_for_write(offset / PAGE);
                if (!page) {
                    r.status = int32_t(Errno::NoMem);
                    break;
                }
                uint64_t within = offset % PAGE;
                uint64_t m = PAGE - within < left ? PAGE - within : left;
                __builtin_memcpy(page + within, in, m);
                in += m;
                offset += m;
                left -= m;
            }
            stats_.writes++;
        }
        (void)batch.push_back(std::move(req));  // cannot fail: it was just popped
    }
    {
        SpinlockGuard g(lock_);
        stats_.batches++;
    }
    give_back();
    if (has_write && take_sabotage()) {
        // The batch stays with its owner (reclaimed when it dies); what goes back is a handle
        // to nothing, which the caller faults on when it looks inside.
        Deque wild;
        DequeTraits::adopt(wild, reinterpret_cast<void*>(uintptr_t(8)));
        DequeTraits::leak(batch);
        return wild;
    }
    return batch;
}

bool RamDisk::take_sabotage() {
    uint32_t left = __atomic_load_n(&sabotage_, __ATOMIC_ACQUIRE);
    while (left &&
           !__atomic_compare_exchange_n(&sabotage_, &left, left - 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
    return left == 1;
}

}  // namespace lamina::storage
