// lamina:portable
// IxgbeNic: the 82599 driver core (device.h) as a NicCore (drivers/nic/nic_core.h), so that
// the shared NicAdaptor serves idl::Nic over it.
//
// Buffers. A NetPacket's data (1,968 bytes) is smaller than the 2 KiB receive buffer size the
// device is programmed with (SRRCTL counts in KiB), but jumbo frames are off, so the device
// never writes more than MAX_RX_WRITE bytes into one: every received frame fits one buffer,
// and posted buffers smaller than that are refused (Inval). Frames go out as one descriptor.
//
// Batching. post_rx/post_tx only stage; kick() hands each ring its batch with one tail write.
//
// Failures. When the device fails (a stalled transmit queue, registers reading all ones), the
// core calls the failure hook once (the domain panics there, so that its shadow starts a fresh
// instance, whose bring-up resets the device) and from then on takes nothing.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "drivers/ixgbe/device.h"
#include "drivers/nic/nic_core.h"

namespace lamina::ixgbe {

class IxgbeNic final : public nic::NicCore {
public:
    using FailureHook = void (*)(void* context, const char* why);
    static constexpr uint32_t REAP_BATCH = 64;

    // Brings the device up (Device::create, with 2 KiB receive buffers); `why` as there.
    static Result<Own<IxgbeNic>> create(Platform& platform, Config config, FailureHook hook = nullptr,
                                        void* context = nullptr, Failure* why = nullptr);
    ~IxgbeNic();
    IxgbeNic(const IxgbeNic&) = delete;
    IxgbeNic& operator=(const IxgbeNic&) = delete;

    nic::CoreInfo info() const override;
    nic::CoreLink link() override;
    nic::CoreCounters counters() override;
    uint32_t rx_space() const override;
    uint32_t tx_space() const override;
    Result<void> post_rx(const nic::RxPost& buffer) override;
    Result<void> post_tx(const nic::TxPost& frame) override;
    void kick() override;
    uint32_t reap_rx(nic::RxDone* out, uint32_t max) override;
    uint32_t reap_tx(nic::TxDone* out, uint32_t max) override;
    uint32_t wait(uint64_t timeout_ns) override;
    void quiesce() override;

    Device& device() { return *dev_; }

private:
    IxgbeNic(Own<Device> dev, FailureHook hook, void* context) : dev_(std::move(dev)), hook_(hook), context_(context) {}
    Result<void> stage_memory();
    void report_failure();  // calls the hook once, if the device failed

    Own<Device> dev_;
    FailureHook hook_;
    void* context_;
    bool reported_ = false;
    RxBuffer* rx_stage_ = nullptr;
    TxFrame* tx_stage_ = nullptr;
    uint32_t rx_staged_ = 0, tx_staged_ = 0;
    RxFragment frags_[REAP_BATCH];
    uint64_t cookies_[REAP_BATCH];
};

}  // namespace lamina::ixgbe
