// The NVMe driver domain: the driver core (drivers/nvme) on a Platform made of the capability
// table, publishing the block interface (drivers/nvme/block_adaptor.h) as "block".
//
// Entry: claim the controller, map BAR0, ask for one MSI-X vector per queue (admin + I/O; the
// driver polls when the device or the kernel gives fewer), bring the controller up (reset,
// identify, queues), publish. A fresh instance after a crash does exactly the same: the kernel
// hands it the device the failed instance held, and the controller reset drops whatever the
// failed instance left in the queues.
//
// Faults on purpose: a controller that fails (a command timed out, CSTS.CFS) panics the domain,
// so that its shadow restarts it. Every wait is bounded well below the kernel's watchdog.
//
// "nvme.control" (a CallFn for the kernel's tests, domain::call): see Control below.
#include <new>

#include <lamina/own.h>

#include "domains/lib/device.h"
#include "domains/lib/domain.h"
#include "drivers/nvme/block_adaptor.h"
#include "drivers/nvme/controller.h"

using namespace lamina;
using namespace lamina::nvme;

namespace {

constexpr uint16_t VENDOR = 0x1b36, DEVICE = 0x0010;
constexpr uint16_t IO_QUEUES = 2;
constexpr uint64_t COMMAND_TIMEOUT_NS = 1'000'000'000;  // below the 2 s watchdog

// What the kernel's tests may ask (domain::call(d, control, op)).
enum Control : uint64_t {
    CRASH_IN_FLIGHT = 1,    // panic right after the next I/O submission doorbell write
    USE_POLLING = 2,        // re-initialise the controller without interrupts
    USE_INTERRUPTS = 3,     // ... with MSI-X again (ENOTSUP if none were granted)
    INTERRUPT_WAKEUPS = 4,  // waits an interrupt ended
    POLLED_WAITS = 5,       // waits in polled mode
    USES_INTERRUPTS = 6,    // 1 when the I/O queues run on MSI-X
    STALL_CONTROLLER = 7,   // disable the controller behind the driver's back: the next command times out
    // op = PHYS | 8 (PHYS page aligned, not 0): a read of LBA 0 into PHYS, memory this domain
    // was never given: an IOMMU refuses the controller's write and the domain is failed for it
    // (docs/iommu.md). Returns the command's NVMe status (0: the device wrote PHYS).
    STRAY_DMA = 8,
};

class DomainPlatform final : public domain_rt::DevicePlatform<Platform> {
public:
    DomainPlatform(const lamina_domain_caps& caps, uint64_t handle, void* bar)
        : DevicePlatform(handle), caps_(caps), regs_(bar) {}

    uint32_t read32(uint32_t offset) override { return regs_.read32(offset); }
    void write32(uint32_t offset, uint32_t value) override {
        regs_.write32(offset, value);
        // An I/O submission queue's tail doorbell (qid >= 1, even doorbell index; the driver
        // uses CAP.DSTRD 0 spacing here only to spot it): the commands are now the device's.
        if (offset >= 0x1008 && ((offset - 0x1000) / 4) % 2 == 0 &&
            __atomic_exchange_n(&crash_armed, false, __ATOMIC_ACQ_REL))
            domain_rt::panic("fault injected with I/O commands in flight (nvme.control)");
    }
    uint64_t read64(uint32_t offset) override { return regs_.read64(offset); }
    void write64(uint32_t offset, uint64_t value) override { regs_.write64(offset, value); }

    uint32_t setup_interrupts(uint32_t wanted) override {
        if (!interrupts) return 0;
        return vectors < wanted ? vectors : wanted;
    }
    void wait_interrupt(uint16_t vector, uint64_t deadline_ns) override {
        uint64_t now = now_ns();
        if (now >= deadline_ns) return;
        if (interrupts && vector < vectors) {
            if (caps_.device_irq_wait(handle(), vector, deadline_ns - now) == 0)
                __atomic_fetch_add(&interrupt_wakeups, 1, __ATOMIC_RELAXED);
            return;
        }
        __atomic_fetch_add(&polled_waits, 1, __ATOMIC_RELAXED);
        // Polled: spin briefly, then let the kernel see us (sleep_ns(0) restarts the watchdog
        // and leaves at once if the domain has been failed meanwhile).
        uint64_t end = now + poll_interval_us() * 1000ull;
        if (end > deadline_ns) end = deadline_ns;
        while (now_ns() < end) asm volatile("pause");
        caps_.sleep_ns(0);
    }
    uint32_t poll_interval_us() const override { return 5; }

    bool interrupts = false;  // the I/O queues may run on MSI-X (else polled: nvme.control)
    uint32_t vectors = 0;     // MSI-X entries granted
    bool crash_armed = false;
    uint64_t interrupt_wakeups = 0;
    uint64_t polled_waits = 0;

private:
    const lamina_domain_caps& caps_;
    domain_rt::Mmio regs_;
};

class DomainBlockHost final : public BlockHost {
public:
    explicit DomainBlockHost(const lamina_domain_caps& caps) : caps_(caps) {}

    Result<uint32_t> map_buffer(const void* object, uint64_t offset, uint64_t length, DmaSegment* out,
                                uint32_t max) override {
        lamina_dma_segment segs[BlockAdaptor::MAX_SEGMENTS];
        if (max > BlockAdaptor::MAX_SEGMENTS) max = BlockAdaptor::MAX_SEGMENTS;
        uint32_t n = 0;
        if (int32_t rc = caps_.exchange_dma_segments(object, offset, length, segs, max, &n); rc != 0) return Errno(rc);
        for (uint32_t i = 0; i < n; i++) out[i] = DmaSegment{segs[i].bus_address, uint32_t(segs[i].length)};
        return n;
    }
    void controller_failed(const char* why) override { domain_rt::panic("%s", why); }
    void yield() override { caps_.sleep_ns(20'000); }

private:
    const lamina_domain_caps& caps_;
};

DomainPlatform* g_platform;
DomainBlockHost* g_host;
Controller* g_controller;
BlockAdaptor* g_adaptor;

uint64_t reinit(bool interrupts) {
    if (interrupts && g_platform->vectors <= IO_QUEUES) return 95;  // ENOTSUP
    g_adaptor->acquire_all();
    g_platform->interrupts = interrupts;
    auto r = g_controller->reinitialize(nullptr, 0);
    g_adaptor->release_all();
    if (r.is_error()) domain_rt::panic("re-initialising the controller failed: %s", g_controller->failure_message());
    return 0;
}

uint64_t stray_dma(uint64_t phys) {
    DmaSegment segment{phys, 512};
    BlockRequest r;
    r.tag = ~0ull;
    r.op = BlockOp::Read;
    r.lba = 0;
    r.blocks = 1;
    r.segments = &segment;
    r.segment_count = 1;
    if (g_controller->submit(0, &r, 1).is_error()) return 5;  // EIO
    BlockCompletion done[8];
    for (;;) {
        auto n = g_controller->wait(0, done, 8);
        if (n.is_error() || n.value() == 0) return 5;
        for (uint32_t i = 0; i < n.value(); i++)
            if (done[i].tag == ~0ull) return uint64_t(done[i].status.sct) << 8 | done[i].status.sc;
    }
}

uint64_t control(uint64_t op) {
    if ((op & 0xFFF) == STRAY_DMA && op >> 12) return stray_dma(op & ~0xFFFull);
    switch (op) {
        case CRASH_IN_FLIGHT:
            __atomic_store_n(&g_platform->crash_armed, true, __ATOMIC_RELEASE);
            return 0;
        case USE_POLLING:
            return reinit(false);
        case USE_INTERRUPTS:
            return reinit(true);
        case INTERRUPT_WAKEUPS:
            return __atomic_load_n(&g_platform->interrupt_wakeups, __ATOMIC_RELAXED);
        case POLLED_WAITS:
            return __atomic_load_n(&g_platform->polled_waits, __ATOMIC_RELAXED);
        case USES_INTERRUPTS:
            return g_platform->interrupts ? 1 : 0;
        case STALL_CONTROLLER:
            g_platform->write32(spec::reg::CC, g_platform->read32(spec::reg::CC) & ~spec::cc::EN);
            return 0;
        default:
            return 22;  // EINVAL
    }
}

}  // namespace

int64_t domain_main(const lamina_domain_caps& caps) {
    using domain_rt::log;
    lamina_device_info dev;
    if (int32_t rc = caps.device_claim(VENDOR, DEVICE, 0, &dev); rc != 0) {
        log("cannot claim the NVMe controller %04x:%04x: errno %d", VENDOR, DEVICE, rc);
        return -rc;
    }
    auto bar = domain_rt::map_bar(dev.handle, 0, 0);
    if (bar.is_error()) return -int64_t(bar.error().code());
    auto made_platform = make_own<DomainPlatform>(caps, dev.handle, bar.value());
    auto made_host = make_own<DomainBlockHost>(caps);
    if (made_platform.is_error() || made_host.is_error()) return -int64_t(Errno::NoMem);
    Own<DomainPlatform> platform = made_platform.release_value();
    Own<DomainBlockHost> host = made_host.release_value();
    uint32_t granted = 0;
    if (caps.device_irq_setup(dev.handle, 1 + IO_QUEUES, &granted) == 0) platform->vectors = granted;
    platform->interrupts = platform->vectors > IO_QUEUES;
    Config config;
    config.io_queues = IO_QUEUES;
    config.io_queue_entries = 64;
    config.command_timeout_ns = COMMAND_TIMEOUT_NS;
    auto controller = Controller::create(*platform, config);
    if (controller.is_error()) {
        log("controller bring-up failed: %s", controller.error().name());
        if (controller.error().code() == CONTROLLER_FAILED)
            log("(the controller did not become ready or stopped answering)");
        return -int64_t(controller.error().code());
    }
    Own<Controller> ctl = controller.release_value();
    auto adaptor = BlockAdaptor::create(*ctl, *host);
    if (adaptor.is_error()) {
        log("namespace 1 is not usable: %s", adaptor.error().name());
        return -int64_t(adaptor.error().code());
    }
    // Up: the driver's objects live as long as this instance (the kernel frees its heap with it).
    g_platform = platform.release();
    g_host = host.release();
    g_controller = ctl.release();
    g_adaptor = adaptor.release_value().release();
    auto* block = static_cast<idl::Block*>(g_adaptor);
    if (int32_t rc = domain_rt::publish_interface(caps, "block", block); rc != 0) return -rc;
    auto fn = &control;
    if (int32_t rc = caps.interface_publish("nvme.control", 12, reinterpret_cast<void*>(fn)); rc != 0) return -rc;
    const NamespaceInfo& ns = *g_controller->find_namespace(1);
    log("%s %s: %llu blocks of %u bytes, %u I/O queues, %s", g_controller->info().model, g_controller->info().serial,
        (unsigned long long)ns.blocks, ns.block_size, g_controller->io_queue_count(),
        g_platform->interrupts ? "MSI-X" : "polled");
    return 0;
}
