// lamina:portable
// NicAdaptor: idl::Nic (interfaces/nic.idl) over any NicCore. It is the bookkeeping every NIC
// driver would otherwise repeat: which NetPacket sits in which ring slot (by tag), turning
// posted RxBuffers into receive descriptors (and allocating its own buffers when callers post
// too few, so the ring stays full), queueing TxFrames, handing back TxDone and RxFrame entries,
// refusing sends on a full ring with ENOBUFS, and counting.
//
// transfer(), in order: the batch is checked whole (a null entry, a kind other than RxBuffer
// or TxFrame, or a TxFrame whose bytes lie outside its buffer makes it Inval, untouched); each
// RxBuffer goes to the receive ring (or to a small spare pool when the ring is full; beyond
// that it is freed); each TxFrame is queued (or comes straight back as TxDone ENOBUFS when the
// ring is full, EMSGSIZE when longer than max_frame); completed sends and received frames are
// reaped into the same deque as long as it has room; the receive ring is refilled; the device
// is notified once.
//
// Ownership: a NetPacket on a ring is owned by the driver domain (the adaptor keeps its raw
// pointer by tag). The destructor quiesces the core before freeing them; after a crash the
// kernel does the same (device reset first, then the domain's objects are reclaimed).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>
#include <lamina/rref.h>

#include "drivers/nic/nic_core.h"
#include "interfaces/nic.h"

namespace lamina::nic {

class NicHost {
public:
    // The bus address of [offset, offset + length) of an exchange-heap object the domain owns,
    // which must be one physically contiguous piece (a NetPacket never straddles a page).
    virtual Result<uint64_t> bus_address(const void* object, uint64_t offset, uint32_t length) = 0;

protected:
    ~NicHost() = default;
};

class NicAdaptor final : public idl::Nic {
public:
    static constexpr uint32_t BATCH = 64;
    static constexpr uint32_t MAX_RING = 4096;
    static constexpr uint32_t SPARE = BATCH;  // posted buffers kept beyond a full ring
    static constexpr uint32_t DATA_SIZE = sizeof(idl::NetPacket::data);
    using Batch = RRefDeque<idl::NetPacket, BATCH>;

    NicAdaptor(NicCore& core, NicHost& host) : core_(core), host_(host) {}
    ~NicAdaptor();
    NicAdaptor(const NicAdaptor&) = delete;
    NicAdaptor& operator=(const NicAdaptor&) = delete;

    // Sizes the slot tables from the core's rings and fills the receive ring with buffers of
    // its own. NoMem, or Inval for a core whose rings are empty or larger than MAX_RING.
    Result<void> start();

    Result<idl::NicInfo> info() override;
    Result<idl::NicLink> link() override;
    Result<idl::NicCounters> counters() override;
    Result<Batch> transfer(Batch batch) override;
    Result<uint32_t> wait(uint64_t timeout_ns) override;

    // Buffers on the receive ring and frames in flight, for tests and /proc.
    uint32_t rx_posted() const { return rx_ring_ - rx_free_count_; }
    uint32_t tx_in_flight() const { return tx_ring_ - tx_free_count_; }
    uint32_t spares() const { return spare_count_; }

private:
    // A tag table: which NetPacket each slot of a ring holds, and a stack of free tags.
    struct Slots {
        idl::NetPacket** packet = nullptr;
        uint32_t* free = nullptr;
    };

    Result<void> post_rx(idl::NetPacket* p);
    void queue_tx(RRef<idl::NetPacket> p, Batch& out);
    void refill();
    void reap(Batch& out);
    void give_back(idl::NetPacket* p);  // to the spare pool, or freed
    Result<void> alloc_slots(Slots& s, uint32_t n, uint32_t& free_count);
    void free_slots(Slots& s, uint32_t n);

    NicCore& core_;
    NicHost& host_;
    CoreInfo info_{};
    uint32_t rx_ring_ = 0, tx_ring_ = 0;
    Slots rx_, tx_;
    uint32_t rx_free_count_ = 0, tx_free_count_ = 0;
    idl::NetPacket* spare_[SPARE] = {};
    uint32_t spare_count_ = 0;
    bool started_ = false;
    idl::NicCounters counts_{};
};

}  // namespace lamina::nic
