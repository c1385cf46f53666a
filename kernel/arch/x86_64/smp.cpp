#include "kernel/arch/x86_64/smp.h"

#include <new>

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/gdt.h"
#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/lapic.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/arch/x86_64/registers.h"
#include "kernel/dev/acpi/platform.h"
#include "kernel/irq/vectors.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/mm/page_table.h"
#include "kernel/sched/scheduler.h"
#include "kernel/time/time.h"

extern "C" const uint8_t ap_trampoline_start[], ap_trampoline_end[];
extern "C" uint64_t ap_trampoline_cr3, ap_trampoline_efer, ap_trampoline_stack, ap_trampoline_cpu, ap_trampoline_entry;

namespace lamina::smp {

namespace {

constexpr size_t AP_STACK_SIZE = 16384;
// Intel SDM vol. 3, 8.4.4.1 and the MP specification B.4: 10 ms after INIT, 200 us between the
// start-up IPIs. TCG on a loaded host can take long to run a new vCPU's first instructions.
constexpr uint64_t INIT_DELAY_NS = 10'000'000;
constexpr uint64_t SIPI_DELAY_NS = 200'000;
constexpr uint64_t AP_START_TIMEOUT_NS = 2'000'000'000;

mm::KernelStack g_ap_stacks[arch::MAX_CPUS];
volatile bool g_ap_started[arch::MAX_CPUS];  // set by the AP as soon as it runs C++
uint64_t g_bsp_cr4;                          // CR4 less the protections each CPU enables itself
volatile bool g_aps_started = false;

// The APs start on page tables of their own: the kernel's higher half plus an identity mapping
// of the start-up page (the kernel's tables have no lower half). Each AP moves to the kernel's
// tables in ap_entry. Kept after start-up (a few pages) rather than torn down.
uint64_t g_trampoline_root = 0;

Result<void> map_trampoline() {
    uint64_t root = TRY(mm::create_address_space_root());
    mm::PageTable pt(mm::kernel_phys_memory(), root);
    TRY(pt.map(AP_TRAMPOLINE_PHYS, AP_TRAMPOLINE_PHYS, 0));  // read-only, executable
    g_trampoline_root = root;
    return {};
}

// Where a field of the trampoline lands after the copy.
template <typename T>
T* in_copy(uint8_t* copy, T& field) {
    return reinterpret_cast<T*>(copy + (reinterpret_cast<const uint8_t*>(&field) - ap_trampoline_start));
}

// ---- TLB shoot-down ----

volatile uint32_t g_shootdown_busy = 0;  // serialises requests; taken with interrupts off
struct {
    uintptr_t virt;
    size_t size;
    volatile uint32_t pending;  // CPUs yet to acknowledge
} g_request;
volatile bool g_request_for[arch::MAX_CPUS];
uint64_t g_shootdowns_received = 0;

void serve_shootdown() {
    unsigned me = arch::this_cpu()->index;
    if (!__atomic_load_n(&g_request_for[me], __ATOMIC_ACQUIRE)) return;
    mm::flush_tlb_local(g_request.virt, g_request.size);
    __atomic_fetch_add(&g_shootdowns_received, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&g_request_for[me], false, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&g_request.pending, 1, __ATOMIC_RELEASE);
}

void shootdown_ipi(arch::InterruptFrame&) {
    serve_shootdown();
    lapic::eoi();
}

[[noreturn]] void halt_ipi(arch::InterruptFrame&) {
    arch::this_cpu()->online = false;
    cpu::halt_forever();
}

}  // namespace

void tlb_shootdown(uintptr_t virt, size_t size) {
    if (!g_aps_started || arch::online_cpu_count() < 2) return;
    uint64_t flags = cpu::read_flags();
    cpu::cli();
    while (__atomic_exchange_n(&g_shootdown_busy, 1, __ATOMIC_ACQUIRE)) {
        serve_shootdown();
        cpu::pause();
    }
    arch::Cpu* self = arch::this_cpu();
    g_request.virt = virt;
    g_request.size = size;
    unsigned targets = 0;
    for (unsigned i = 0; i < arch::cpu_count(); i++) {
        arch::Cpu& c = arch::cpu_by_index(i);
        if (&c == self || !c.online) continue;
        g_request_for[i] = true;
        targets++;
    }
    __atomic_store_n(&g_request.pending, targets, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < arch::cpu_count(); i++)
        if (g_request_for[i]) lapic::send_ipi(arch::cpu_by_index(i).apic_id, irq::VECTOR_TLB_SHOOTDOWN);
    uint64_t start = time::now_ns();
    bool warned = false;
    while (__atomic_load_n(&g_request.pending, __ATOMIC_ACQUIRE)) {
        cpu::pause();
        if (!warned && time::now_ns() - start > 1'000'000'000) {
            warned = true;
            // The kernel log only (dmesg): under TCG on a loaded host a vCPU can go unscheduled
            // for that long, and on the console the line would land inside programs' output.
            for (unsigned i = 0; i < arch::cpu_count(); i++)
                if (g_request_for[i])
                    kinfo("smp: TLB shoot-down: CPU %u has not acknowledged after 1 s (interrupts off?)\n", i);
        }
    }
    __atomic_store_n(&g_shootdown_busy, 0, __ATOMIC_RELEASE);
    if (flags & RFLAGS_IF) cpu::sti();
}

uint64_t tlb_shootdowns_received() { return __atomic_load_n(&g_shootdowns_received, __ATOMIC_RELAXED); }

void halt_other_cpus() {
    if (!g_aps_started) return;
    lapic::send_ipi_all_but_self(irq::VECTOR_HALT);
}

// ---- AP start-up ----

extern "C" [[noreturn]] void ap_entry(arch::Cpu* cpu) {
    cpu::write_cr3(mm::kernel_root_phys());
    cpu::write_cr4(g_bsp_cr4);
    arch::install_this_cpu(*cpu);
    __atomic_store_n(&g_ap_started[cpu->index], true, __ATOMIC_RELEASE);
    arch::init_cpu_tables(*cpu->tables);
    arch::load_idt();
    arch::enable_cpu_protections();
    lapic::init_this_cpu();
    time::init_this_cpu();
    sched::run_ap(*cpu, g_ap_stacks[cpu->index]);
}

namespace {

bool start_one(const acpi::Cpu& desc, uint8_t* copy) {
    auto* tables = static_cast<arch::CpuTables*>(mm::kmalloc(sizeof(arch::CpuTables)));
    auto* rq_mem = mm::kmalloc(sizeof(sched::RunQueue));
    auto stack = mm::alloc_kernel_stack(AP_STACK_SIZE);
    if (!tables || !rq_mem || stack.is_error()) {
        kprintf("smp: out of memory starting the CPU with APIC id %u\n", desc.apic_id);
        return false;
    }
    arch::Cpu* cpu = arch::add_cpu(desc.apic_id, tables);
    if (!cpu) {
        kprintf("smp: more than %u CPUs; the CPU with APIC id %u is left out\n", arch::MAX_CPUS, desc.apic_id);
        return false;
    }
    cpu->run_queue = new (rq_mem) sched::RunQueue();
    g_ap_stacks[cpu->index] = stack.value();

    *in_copy(copy, ap_trampoline_stack) = stack.value().top;
    *in_copy(copy, ap_trampoline_cpu) = reinterpret_cast<uint64_t>(cpu);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    uint8_t page = uint8_t(AP_TRAMPOLINE_PHYS >> 12);
    if (auto r = lapic::send_init(desc.apic_id); r.is_error()) {
        kprintf("smp: INIT to APIC id %u failed: %s\n", desc.apic_id, r.error().name());
        return false;
    }
    time::busy_wait_ns(INIT_DELAY_NS);
    for (int sipi = 0; sipi < 2 && !g_ap_started[cpu->index]; sipi++) {
        if (auto r = lapic::send_startup(desc.apic_id, page); r.is_error()) {
            kprintf("smp: start-up IPI to APIC id %u failed: %s\n", desc.apic_id, r.error().name());
            return false;
        }
        time::busy_wait_ns(SIPI_DELAY_NS);
    }
    uint64_t start = time::now_ns();
    while (!__atomic_load_n(&cpu->online, __ATOMIC_ACQUIRE)) {
        if (time::now_ns() - start > AP_START_TIMEOUT_NS) {
            kprintf("smp: CPU %u (APIC id %u) did not come up within %lu ms (%s); continuing without it\n", cpu->index,
                    desc.apic_id, AP_START_TIMEOUT_NS / 1'000'000,
                    g_ap_started[cpu->index] ? "it reached the kernel but not its scheduler"
                                             : "it never reached the kernel");
            // Park it in wait-for-SIPI, so it cannot run the trampoline set up for the next CPU.
            (void)lapic::send_init(desc.apic_id);
            return false;
        }
        cpu::pause();
    }
    kprintf("smp: CPU %u (APIC id %u) online\n", cpu->index, desc.apic_id);
    return true;
}

}  // namespace

void start_aps() {
    arch::set_interrupt_handler(irq::VECTOR_TLB_SHOOTDOWN, shootdown_ipi);
    arch::set_interrupt_handler(irq::VECTOR_HALT, halt_ipi);
    mm::set_tlb_shootdown(tlb_shootdown);

    const acpi::Acpi* platform = acpi::platform();
    if (!platform) {
        kprintf("smp: no ACPI tables; only the boot CPU runs\n");
        return;
    }
    uint32_t self = lapic::id();
    bool others = false;
    for (const auto& c : platform->madt().cpus)
        if (c.enabled && c.apic_id != self) others = true;
    if (!others) {
        kprintf("smp: 1 CPU online\n");
        return;
    }
    if (auto r = map_trampoline(); r.is_error()) {
        kprintf("smp: cannot map the AP start-up page: %s; only the boot CPU runs\n", r.error().name());
        return;
    }
    if (g_trampoline_root >= (1ull << 32)) {
        kprintf(
            "smp: the AP start-up page tables are above 4 GiB (%#lx), out of the 32-bit start-up "
            "code's reach; only the boot CPU runs\n",
            g_trampoline_root);
        return;
    }

    auto* copy = static_cast<uint8_t*>(mm::phys_to_virt(AP_TRAMPOLINE_PHYS));
    size_t len = size_t(ap_trampoline_end - ap_trampoline_start);
    __builtin_memcpy(copy, ap_trampoline_start, len);
    *in_copy(copy, ap_trampoline_cr3) = g_trampoline_root;
    *in_copy(copy, ap_trampoline_efer) = cpu::rdmsr(MSR_IA32_EFER) & ~uint64_t(EFER_LMA);
    *in_copy(copy, ap_trampoline_entry) = reinterpret_cast<uint64_t>(&ap_entry);
    g_bsp_cr4 = cpu::read_cr4() & ~uint64_t(CR4_SMEP | CR4_SMAP | CR4_UMIP);
    g_aps_started = true;  // from now on, shoot-downs and halts reach the APs that come up

    for (const auto& c : platform->madt().cpus) {
        if (c.apic_id == self) continue;
        if (!c.enabled) continue;  // online-capable CPUs would be hot-plugged; not supported
        start_one(c, copy);
    }
    kprintf("smp: %u CPUs online\n", arch::online_cpu_count());
}

}  // namespace lamina::smp
