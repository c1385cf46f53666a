// lamina:portable
#include "domains/fs/service/block_client.h"

#include <utility>

namespace lamina::fs {

using idl::BlockOp;
using idl::BlockRequest;

Result<void> BlockClient::connect() {
    info_ = TRY(dev_.info());
    if (info_.block_size != SECTOR_SIZE) {
        log_line(log_, "fs: block device has %u-byte blocks; only 512 is supported", info_.block_size);
        return Errno::NotSup;
    }
    if (info_.max_blocks == 0 || info_.block_count == 0) {
        log_line(log_, "fs: block device reports %u blocks per request, %llu blocks", info_.max_blocks,
                 static_cast<unsigned long long>(info_.block_count));
        return Errno::IO;
    }
    return {};
}

uint32_t BlockClient::chunk_sectors() const {
    return info_.max_blocks < CHUNK_SECTORS ? info_.max_blocks : CHUNK_SECTORS;
}

Result<void> BlockClient::ready_batch() {
    if (!batch_) {
        batch_ = TRY((RRefDeque<BlockRequest, BATCH>::create()));
        return {};
    }
    // Left over from a fill that failed half-way: back to the pool (or dropped).
    while (!batch_.empty()) {
        RRef<BlockRequest> req = batch_.pop_front();
        if (req && req->buf && pooled_ < BATCH) pool_[pooled_++] = std::move(req);
    }
    return {};
}

Result<RRef<BlockRequest>> BlockClient::take_request() {
    if (pooled_ > 0) return std::move(pool_[--pooled_]);
    auto req = TRY(RRef<BlockRequest>::create());
    req->buf = TRY(RRefBytes::create(CHUNK_SECTORS * SECTOR_SIZE));
    return req;
}

Result<uint32_t> BlockClient::submit(RRef<BlockRequest>* done) {
    uint32_t n = batch_.size();
    stats_.submits++;
    stats_.requests += n;
    // The batch moves to the driver; on a failure of the call it is gone (or rescued by the
    // shadow and dropped there), and a fresh one is made next time.
    auto back = dev_.submit(std::move(batch_));
    if (back.is_error()) return back.error();
    batch_ = std::move(back.value());
    if (!batch_ || batch_.size() != n) {
        log_line(log_, "fs: block device returned %u of %u requests", batch_ ? batch_.size() : 0, n);
        return Errno::IO;
    }
    for (uint32_t i = 0; i < n; i++) done[i] = batch_.pop_front();
    return n;
}

Result<void> BlockClient::complete(RRef<BlockRequest>* done, uint32_t n, BlockOp op, uint8_t* read_base,
                                   uint64_t first_lba, uint64_t sectors) {
    // The driver may return the requests in another order: each read lands where its LBA
    // says, after checking that it stays inside this batch's range.
    Result<void> result;
    for (uint32_t i = 0; i < n; i++) {
        RRef<BlockRequest>& req = done[i];
        if (result.is_ok() && (!req || !req->buf || req->op != op)) {
            log_line(log_, "fs: block device returned a malformed request");
            result = Errno::IO;
        }
        if (result.is_ok() && req->status != 0) {
            log_line(log_, "fs: block %s at LBA %llu failed (errno %d)",
                     op == BlockOp::Read    ? "read"
                     : op == BlockOp::Write ? "write"
                                            : "flush",
                     static_cast<unsigned long long>(req->lba), req->status);
            result = req->status > 0 && req->status < 4096 ? Errno(req->status) : Errno::IO;
        }
        if (result.is_ok() && op == BlockOp::Read) {
            uint64_t at = req->lba - first_lba;  // wraps for an LBA below the batch
            size_t bytes = size_t(req->blocks) * SECTOR_SIZE;
            if (req->lba < first_lba || at >= sectors || req->blocks > sectors - at || req->buf.length() != bytes ||
                req->buf.capacity() < bytes) {
                log_line(log_, "fs: block device returned a read of the wrong size or place");
                result = Errno::IO;
            } else {
                __builtin_memcpy(read_base + at * SECTOR_SIZE, req->buf.data(), bytes);
                stats_.sectors_read += req->blocks;
            }
        }
        if (req && req->buf && req->buf.capacity() >= CHUNK_SECTORS * SECTOR_SIZE && pooled_ < BATCH)
            pool_[pooled_++] = std::move(req);
    }
    return result;
}

namespace {

// Up to BATCH runs, without the empty ones, in LBA order (insertion sort: n <= 32).
template <typename Run>
size_t sorted_runs(const Run* runs, size_t n, Run* out) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (runs[i].count == 0) continue;
        size_t j = m++;
        while (j > 0 && out[j - 1].lba > runs[i].lba) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = runs[i];
    }
    return m;
}

bool on_device(uint64_t lba, uint64_t count, uint64_t block_count) {
    return lba <= block_count && count <= block_count - lba;
}

// Checks that every run is on the device, then calls fn(sorted, n) for each batch of up to
// BATCH runs in LBA order.
template <typename Run, typename Fn>
Result<void> each_sorted_batch(const Run* runs, size_t count, uint64_t block_count, Fn fn) {
    for (size_t i = 0; i < count; i++)
        if (!on_device(runs[i].lba, runs[i].count, block_count)) return Errno::Inval;
    constexpr size_t batch = BlockClient::BATCH;
    for (size_t at = 0; at < count; at += batch) {
        Run sorted[batch];
        size_t n = sorted_runs(runs + at, count - at < batch ? count - at : batch, sorted);
        TRY(fn(sorted, n));
    }
    return {};
}

}  // namespace

template <typename Run, typename Copy>
Result<void> BlockClient::fill_merged(BlockOp op, const Run* runs, size_t n, size_t& i, uint32_t& done_in_run,
                                      Copy copy) {
    const uint32_t chunk = chunk_sectors();
    TRY(ready_batch());
    while (!batch_.full() && i < n) {
        RRef<BlockRequest> req = TRY(take_request());
        req->op = op;
        req->lba = runs[i].lba + done_in_run;
        req->blocks = 0;
        req->status = 0;
        // Pieces that continue the request's LBA range join it, up to a chunk.
        while (i < n && req->blocks < chunk && runs[i].lba + done_in_run == req->lba + req->blocks) {
            uint32_t left = runs[i].count - done_in_run;
            uint32_t room = chunk - req->blocks;
            uint32_t m = left < room ? left : room;
            copy(req->buf.data() + size_t(req->blocks) * SECTOR_SIZE, runs[i], done_in_run, m);
            req->blocks += m;
            done_in_run += m;
            if (done_in_run == runs[i].count) {
                i++;
                done_in_run = 0;
            }
        }
        (void)req->buf.set_length(op == BlockOp::Write ? req->blocks * SECTOR_SIZE : 0);
        if (op == BlockOp::Write) stats_.sectors_written += req->blocks;
        if (batch_.push_back(std::move(req)).is_error()) return Errno::IO;  // cannot: not full
    }
    return {};
}

Result<void> BlockClient::write_runs(const SectorRun* runs, size_t count) {
    return each_sorted_batch(runs, count, info_.block_count, [&](const SectorRun* sorted, size_t n) -> Result<void> {
        size_t i = 0;
        uint32_t done_in_run = 0;
        while (i < n) {
            TRY(fill_merged(BlockOp::Write, sorted, n, i, done_in_run,
                            [](uint8_t* to, const SectorRun& run, uint32_t from, uint32_t sectors) {
                                __builtin_memcpy(to, static_cast<const uint8_t*>(run.data) + size_t(from) * SECTOR_SIZE,
                                                 size_t(sectors) * SECTOR_SIZE);
                            }));
            RRef<BlockRequest> done[BATCH];
            uint32_t got = TRY(submit(done));
            TRY(complete(done, got, BlockOp::Write, nullptr, 0, 0));
        }
        return {};
    });
}

Result<void> BlockClient::read_runs(const SectorRunIn* runs, size_t count) {
    return each_sorted_batch(runs, count, info_.block_count, [&](const SectorRunIn* sorted, size_t n) -> Result<void> {
        uint64_t wanted = 0, delivered = 0;
        for (size_t k = 0; k < n; k++) wanted += sorted[k].count;
        size_t i = 0;
        uint32_t done_in_run = 0;
        while (i < n) {
            TRY(fill_merged(BlockOp::Read, sorted, n, i, done_in_run,
                            [](uint8_t*, const SectorRunIn&, uint32_t, uint32_t) {}));
            RRef<BlockRequest> done[BATCH];
            uint32_t got = TRY(submit(done));
            // Each request's sectors go to the runs they overlap (whatever order they come in).
            Result<void> result;
            for (uint32_t r = 0; r < got; r++) {
                RRef<BlockRequest>& req = done[r];
                if (result.is_ok() && (!req || !req->buf || req->op != BlockOp::Read ||
                                       req->buf.length() != size_t(req->blocks) * SECTOR_SIZE ||
                                       req->buf.capacity() < size_t(req->blocks) * SECTOR_SIZE)) {
                    log_line(log_, "fs: block device returned a malformed read");
                    result = Errno::IO;
                }
                if (result.is_ok() && req->status != 0) {
                    log_line(log_, "fs: block read at LBA %llu failed (errno %d)",
                             static_cast<unsigned long long>(req->lba), req->status);
                    result = req->status > 0 && req->status < 4096 ? Errno(req->status) : Errno::IO;
                }
                if (result.is_ok()) {
                    uint64_t lo = req->lba, hi = req->lba + req->blocks;
                    for (size_t k = 0; k < n; k++) {
                        uint64_t a = sorted[k].lba > lo ? sorted[k].lba : lo;
                        uint64_t b = sorted[k].lba + sorted[k].count < hi ? sorted[k].lba + sorted[k].count : hi;
                        if (a >= b) continue;
                        __builtin_memcpy(static_cast<uint8_t*>(sorted[k].data) + (a - sorted[k].lba) * SECTOR_SIZE,
                                         req->buf.data() + (a - lo) * SECTOR_SIZE, size_t(b - a) * SECTOR_SIZE);
                        delivered += b - a;
                    }
                    stats_.sectors_read += req->blocks;
                }
                if (req && req->buf && req->buf.capacity() >= CHUNK_SECTORS * SECTOR_SIZE && pooled_ < BATCH)
                    pool_[pooled_++] = std::move(req);
            }
            TRY(result);
        }
        if (delivered != wanted) {
            log_line(log_, "fs: block device returned %llu of %llu sectors asked for",
                     static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(wanted));
            return Errno::IO;
        }
        return {};
    });
}

Result<void> BlockClient::transfer(BlockOp op, uint64_t lba, uint32_t count, uint8_t* buf) {
    if (!on_device(lba, count, info_.block_count)) return Errno::Inval;
    const uint32_t chunk = chunk_sectors();
    while (count > 0 || op == BlockOp::Flush) {
        TRY(ready_batch());
        // Fill one batch.
        uint64_t first_lba = lba;
        uint8_t* first_buf = buf;
        while (!batch_.full() && (count > 0 || op == BlockOp::Flush)) {
            RRef<BlockRequest> req = TRY(take_request());
            uint32_t n = op == BlockOp::Flush ? 0 : (count < chunk ? count : chunk);
            req->op = op;
            req->lba = lba;
            req->blocks = n;
            req->status = 0;
            if (op == BlockOp::Write) __builtin_memcpy(req->buf.data(), buf, size_t(n) * SECTOR_SIZE);
            (void)req->buf.set_length(op == BlockOp::Write ? n * SECTOR_SIZE : 0);
            if (batch_.push_back(std::move(req)).is_error()) return Errno::IO;  // cannot: not full
            lba += n;
            count -= n;
            if (buf) buf += size_t(n) * SECTOR_SIZE;
            if (op == BlockOp::Flush) break;
        }
        RRef<BlockRequest> done[BATCH];
        uint32_t n = TRY(submit(done));
        TRY(complete(done, n, op, first_buf, first_lba, lba - first_lba));
        if (op == BlockOp::Flush) break;
    }
    return {};
}

Result<void> BlockClient::read_sectors(uint64_t lba, uint32_t count, void* buf) {
    return transfer(BlockOp::Read, lba, count, static_cast<uint8_t*>(buf));
}

Result<void> BlockClient::write_sectors(uint64_t lba, uint32_t count, const void* buf) {
    stats_.sectors_written += count;
    // transfer only reads from buf for writes.
    return transfer(BlockOp::Write, lba, count, const_cast<uint8_t*>(static_cast<const uint8_t*>(buf)));
}

Result<void> BlockClient::flush() { return transfer(BlockOp::Flush, 0, 0, nullptr); }

}  // namespace lamina::fs
