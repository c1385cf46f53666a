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
    return info_.max_blocks < kChunkSectors ? info_.max_blocks : kChunkSectors;
}

Result<void> BlockClient::ready_batch() {
    if (!batch_) {
        batch_ = TRY((RRefDeque<BlockRequest, kBatch>::create()));
        return {};
    }
    // Left over from a fill that failed half-way: back to the pool (or dropped).
    while (!batch_.empty()) {
        RRef<BlockRequest> req = batch_.pop_front();
        if (req && req->buf && pooled_ < kBatch) pool_[pooled_++] = std::move(req);
    }
    return {};
}

Result<RRef<BlockRequest>> BlockClient::take_request() {
    if (pooled_ > 0) return std::move(pool_[--pooled_]);
    auto req = TRY(RRef<BlockRequest>::create());
    req->buf = TRY(RRefBytes::create(kChunkSectors * SECTOR_SIZE));
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
                                   uint64_t first_lba, uint64_t sectors, const SectorRunIn* runs,
                                   size_t run_count) {
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
                     op == BlockOp::Read ? "read" : op == BlockOp::Write ? "write" : "flush",
                     static_cast<unsigned long long>(req->lba), req->status);
            result = req->status > 0 && req->status < 4096 ? Errno(req->status) : Errno::IO;
        }
        if (result.is_ok() && op == BlockOp::Read && runs) {
            size_t bytes = size_t(req->blocks) * SECTOR_SIZE;
            const SectorRunIn* run = nullptr;
            for (size_t k = 0; k < run_count && !run; k++)
                if (runs[k].lba == req->lba && runs[k].count == req->blocks) run = &runs[k];
            if (!run || req->buf.length() != bytes || req->buf.capacity() < bytes) {
                log_line(log_, "fs: block device returned a read of the wrong size or place");
                result = Errno::IO;
            } else {
                __builtin_memcpy(run->data, req->buf.data(), bytes);
                stats_.sectors_read += req->blocks;
            }
        } else if (result.is_ok() && op == BlockOp::Read) {
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
        if (req && req->buf && req->buf.capacity() >= kChunkSectors * SECTOR_SIZE && pooled_ < kBatch)
            pool_[pooled_++] = std::move(req);
    }
    return result;
}

Result<void> BlockClient::write_runs(const SectorRun* runs, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (runs[i].lba > info_.block_count || runs[i].count > info_.block_count - runs[i].lba) return Errno::Inval;
    const uint32_t chunk = chunk_sectors();
    size_t i = 0;
    uint32_t done_in_run = 0;
    while (i < count) {
        TRY(ready_batch());
        while (!batch_.full() && i < count) {
            const SectorRun& run = runs[i];
            if (done_in_run == run.count) {  // also skips empty runs
                i++;
                done_in_run = 0;
                continue;
            }
            uint32_t left = run.count - done_in_run;
            uint32_t n = left < chunk ? left : chunk;
            RRef<BlockRequest> req = TRY(take_request());
            req->op = BlockOp::Write;
            req->lba = run.lba + done_in_run;
            req->blocks = n;
            req->status = 0;
            __builtin_memcpy(req->buf.data(), static_cast<const uint8_t*>(run.data) + size_t(done_in_run) * SECTOR_SIZE,
                             size_t(n) * SECTOR_SIZE);
            (void)req->buf.set_length(n * SECTOR_SIZE);
            if (batch_.push_back(std::move(req)).is_error()) return Errno::IO;  // cannot: not full
            stats_.sectors_written += n;
            done_in_run += n;
        }
        if (batch_.empty()) break;
        RRef<BlockRequest> done[kBatch];
        uint32_t n = TRY(submit(done));
        TRY(complete(done, n, BlockOp::Write, nullptr, 0, 0));
    }
    return {};
}

Result<void> BlockClient::read_runs(const SectorRunIn* runs, size_t count) {
    const uint32_t chunk = chunk_sectors();
    for (size_t at = 0; at < count; at += kBatch) {
        size_t n = count - at < kBatch ? count - at : kBatch;
        for (size_t i = at; i < at + n; i++) {
            if (runs[i].lba > info_.block_count || runs[i].count > info_.block_count - runs[i].lba) return Errno::Inval;
            if (runs[i].count == 0 || runs[i].count > chunk) {
                // Not one request each: the slow way, run by run.
                for (size_t k = 0; k < count; k++) TRY(read_sectors(runs[k].lba, runs[k].count, runs[k].data));
                return {};
            }
        }
    }
    for (size_t at = 0; at < count; at += kBatch) {
        size_t n = count - at < kBatch ? count - at : kBatch;
        TRY(ready_batch());
        for (size_t i = at; i < at + n; i++) {
            RRef<BlockRequest> req = TRY(take_request());
            req->op = BlockOp::Read;
            req->lba = runs[i].lba;
            req->blocks = runs[i].count;
            req->status = 0;
            (void)req->buf.set_length(0);
            if (batch_.push_back(std::move(req)).is_error()) return Errno::IO;  // cannot: n <= 32
        }
        RRef<BlockRequest> done[kBatch];
        uint32_t got = TRY(submit(done));
        TRY(complete(done, got, BlockOp::Read, nullptr, 0, 0, runs + at, n));
    }
    return {};
}

Result<void> BlockClient::transfer(BlockOp op, uint64_t lba, uint32_t count, uint8_t* buf) {
    if (lba > info_.block_count || count > info_.block_count - lba) return Errno::Inval;
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
        RRef<BlockRequest> done[kBatch];
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
