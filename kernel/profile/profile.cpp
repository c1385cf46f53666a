// The sampling profiler (profile.h). Each CPU writes only its own buffer, from its timer
// interrupt, and publishes a sample by advancing its count (release); readers take the count
// (acquire) and read the samples below it, so reading while profiling is safe. The buffers are
// allocated by the first start and kept: a stop cannot know that no other CPU is still inside
// its sampling code, so freeing them would race with it.
#include "kernel/profile/profile.h"

#include "kernel/arch/x86_64/interrupts.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/domain/domain.h"
#include "kernel/mm/memory.h"
#include "kernel/sched/mutex.h"
#include "kernel/sched/thread.h"
#include "kernel/time/time.h"

namespace lamina::profile {

namespace {

// Where a frame's address lies: the kernel, a user program, or a domain (slot + 1; the address
// is then the domain ELF file's).
constexpr uint8_t IN_KERNEL = 0, IN_USER = 0xff;
constexpr size_t NAME_SIZE = 16;

struct Sample {
    uint64_t pc[DEPTH];
    uint8_t where[DEPTH];
    uint32_t pid;  // 0: a kernel thread
    uint8_t depth;
    char name[NAME_SIZE + 3];  // the process's program or the kernel thread's name
};
static_assert(sizeof(Sample) == 96);

struct CpuBuffer {
    Sample* samples = nullptr;
    size_t count = 0;  // atomic: published samples
    size_t dropped = 0;
    uint64_t next_ns = 0;
};

CpuBuffer g_cpus[arch::MAX_CPUS];
bool g_running;  // atomic
uint64_t g_period_ns = 1'000'000'000 / DEFAULT_HZ;
unsigned g_hz = DEFAULT_HZ;
uint64_t g_started_ns, g_stopped_ns;
UserIdentify g_identify;
sched::Mutex g_control_lock;  // start, stop, reset
// The names of the domains seen in each image slot (a slot reused during a profile by another
// domain gives its samples the later name).
char g_slot_names[domain::IMAGE_SLOTS][NAME_SIZE];

void copy_name(char* dst, size_t cap, const char* src) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) dst[i] = src[i];
    dst[i] = 0;
}

void record_frame(Sample& s, uint64_t addr) {
    unsigned slot;
    uintptr_t elf_address;
    const char* name;
    uint8_t where = IN_KERNEL;
    if (addr >= domain::IMAGE_BASE && domain::locate(addr, &slot, &elf_address, &name)) {
        if (__builtin_strncmp(g_slot_names[slot], name, NAME_SIZE - 1) != 0)
            copy_name(g_slot_names[slot], NAME_SIZE, name);
        where = uint8_t(slot + 1);
        addr = elf_address;
    }
    s.pc[s.depth] = addr;
    s.where[s.depth] = where;
    s.depth++;
}

void fill(Sample& s, const arch::InterruptFrame& f) {
    s.depth = 0;
    s.pid = 0;
    s.name[0] = 0;
    sched::Thread* t = sched::current_thread();
    sched::Thread::UserState* user = t ? t->user_state() : nullptr;
    if (user && g_identify)
        g_identify(user->process, &s.pid, s.name, sizeof s.name);
    else if (t)
        copy_name(s.name, sizeof s.name, t->name());
    if ((f.cs & 3) == 3) {
        // User code: no walk (programs are built without frame pointers, and reading their
        // stack here could fault).
        s.pc[0] = f.rip;
        s.where[0] = IN_USER;
        s.depth = 1;
        return;
    }
    record_frame(s, f.rip);
    if (!t) return;
    // The frame-pointer chain, bounded by the thread's kernel stack (domain code runs on it too).
    uintptr_t lo = t->stack().bottom, hi = t->stack().top;
    uint64_t rbp = f.rbp;
    while (s.depth < DEPTH) {
        if (rbp % 8 || rbp < lo || rbp + 16 > hi) break;
        auto* frame = reinterpret_cast<const uint64_t*>(rbp);
        if (frame[1] == 0) break;
        record_frame(s, frame[1]);
        if (frame[0] <= rbp) break;
        rbp = frame[0];
    }
}

bool word_is(const char*& p, const char* end, const char* word) {
    size_t n = __builtin_strlen(word);
    if (size_t(end - p) < n || __builtin_memcmp(p, word, n) != 0) return false;
    if (p + n != end && p[n] != ' ' && p[n] != '\n') return false;
    p += n;
    return true;
}

}  // namespace

void set_user_identify(UserIdentify identify) { __atomic_store_n(&g_identify, identify, __ATOMIC_RELEASE); }

bool running() { return __atomic_load_n(&g_running, __ATOMIC_ACQUIRE); }

Result<void> start(unsigned hz) {
    if (hz == 0 || hz > MAX_HZ) return Errno::Inval;
    sched::MutexGuard g(g_control_lock);
    if (running()) return Errno::Busy;
    unsigned cpus = arch::cpu_count();
    for (unsigned i = 0; i < cpus && i < arch::MAX_CPUS; i++) {
        if (g_cpus[i].samples) continue;
        g_cpus[i].samples = static_cast<Sample*>(mm::kmalloc(SAMPLES_PER_CPU * sizeof(Sample)));
        if (!g_cpus[i].samples) return Errno::NoMem;
    }
    for (CpuBuffer& c : g_cpus) {
        __atomic_store_n(&c.count, 0, __ATOMIC_RELAXED);
        c.dropped = 0;
        c.next_ns = 0;
    }
    g_hz = hz;
    g_period_ns = 1'000'000'000 / hz;
    g_started_ns = time::now_ns();
    g_stopped_ns = 0;
    __atomic_store_n(&g_running, true, __ATOMIC_RELEASE);
    return {};
}

void stop() {
    sched::MutexGuard g(g_control_lock);
    if (!running()) return;
    __atomic_store_n(&g_running, false, __ATOMIC_RELEASE);
    g_stopped_ns = time::now_ns();
}

Result<void> control(const char* command, size_t n) {
    const char* p = command;
    const char* end = command + n;
    if (word_is(p, end, "start")) {
        unsigned hz = DEFAULT_HZ;
        while (p < end && *p == ' ') p++;
        if (p < end && *p != '\n') {
            uint64_t v = 0;
            const char* digits = p;
            while (p < end && *p >= '0' && *p <= '9' && v <= MAX_HZ) v = v * 10 + uint64_t(*p++ - '0');
            if (p == digits) return Errno::Inval;
            hz = v > MAX_HZ ? 0 : unsigned(v);
        }
        if (p < end && *p == '\n') p++;
        if (p != end) return Errno::Inval;
        return start(hz);
    }
    bool is_stop = word_is(p, end, "stop");
    bool is_reset = !is_stop && word_is(p, end, "reset");
    if (!is_stop && !is_reset) return Errno::Inval;
    if (p < end && *p == '\n') p++;
    if (p != end) return Errno::Inval;
    if (is_stop) {
        stop();
        return {};
    }
    sched::MutexGuard g(g_control_lock);
    if (running()) return Errno::Busy;
    for (CpuBuffer& c : g_cpus) {
        __atomic_store_n(&c.count, 0, __ATOMIC_RELAXED);
        c.dropped = 0;
    }
    g_started_ns = g_stopped_ns = 0;
    return {};
}

void on_timer_interrupt(const arch::InterruptFrame& frame, uint64_t now_ns) {
    if (!running()) return;
    unsigned index = arch::this_cpu()->index;
    if (index >= arch::MAX_CPUS) return;
    CpuBuffer& c = g_cpus[index];
    if (now_ns < c.next_ns) return;
    // The grid follows the interrupts actually taken: a late one starts the next period.
    c.next_ns = now_ns + g_period_ns;
    size_t n = c.count;
    if (!c.samples || n >= SAMPLES_PER_CPU) {
        c.dropped++;
        return;
    }
    fill(c.samples[n], frame);
    __atomic_store_n(&c.count, n + 1, __ATOMIC_RELEASE);
}

uint64_t next_sample_ns() {
    if (!running()) return UINT64_MAX;
    unsigned index = arch::this_cpu()->index;
    return index < arch::MAX_CPUS ? g_cpus[index].next_ns : UINT64_MAX;
}

size_t sample_count() {
    size_t n = 0;
    for (const CpuBuffer& c : g_cpus) n += __atomic_load_n(&c.count, __ATOMIC_ACQUIRE);
    return n;
}

size_t dropped_count() {
    size_t n = 0;
    for (const CpuBuffer& c : g_cpus) n += __atomic_load_n(&c.dropped, __ATOMIC_RELAXED);
    return n;
}

// The text: `# lamina-profile hz=HZ cpus=N samples=N dropped=N running=0|1 ns=DURATION`, then
// one line per sample, `CPU PID NAME FRAMES`: PID 0 for a kernel thread (NAME is then the
// thread's), FRAMES the interrupted address first and then the return addresses, joined by
// ';', each `k:HEX` (kernel), `d:DOMAIN:HEX` (the address in that domain's ELF file) or `u:HEX`
// (the process's program). Spaces in names become '_'.
void format(FormatSink& out) {
    unsigned cpus = arch::cpu_count();
    if (cpus > arch::MAX_CPUS) cpus = arch::MAX_CPUS;
    bool live = running();
    uint64_t end = live || !g_stopped_ns ? time::now_ns() : g_stopped_ns;
    lamina::format(out, "# lamina-profile hz=%u cpus=%u samples=%zu dropped=%zu running=%d ns=%lu\n", g_hz, cpus,
                   sample_count(), dropped_count(), live ? 1 : 0,
                   (unsigned long)(g_started_ns ? end - g_started_ns : 0));
    for (unsigned i = 0; i < cpus; i++) {
        const CpuBuffer& c = g_cpus[i];
        size_t n = __atomic_load_n(&c.count, __ATOMIC_ACQUIRE);
        for (size_t k = 0; k < n; k++) {
            const Sample& s = c.samples[k];
            char name[sizeof s.name];
            copy_name(name, sizeof name, s.name[0] ? s.name : "?");
            for (char* q = name; *q; q++)
                if (*q == ' ' || *q == ';') *q = '_';
            lamina::format(out, "%u %u %s ", i, s.pid, name);
            for (unsigned d = 0; d < s.depth && d < DEPTH; d++) {
                const char* sep = d ? ";" : "";
                uint8_t w = s.where[d];
                if (w == IN_USER)
                    lamina::format(out, "%su:%lx", sep, (unsigned long)s.pc[d]);
                else if (w == IN_KERNEL)
                    lamina::format(out, "%sk:%lx", sep, (unsigned long)s.pc[d]);
                else
                    lamina::format(out, "%sd:%s:%lx", sep, g_slot_names[w - 1], (unsigned long)s.pc[d]);
            }
            out.put("\n", 1);
        }
    }
}

}  // namespace lamina::profile
