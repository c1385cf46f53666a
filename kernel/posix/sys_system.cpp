// System-wide calls: uname, sethostname/setdomainname, sysinfo, syslog (dmesg), reboot,
// getrandom.
//
// Contract (Linux x86-64 semantics):
// - uname fills struct utsname (6 fields of 65 bytes); the node and domain names are what
//   sethostname/setdomainname set (at most 64 bytes, EINVAL beyond; no NUL needed).
// - sysinfo: uptime in seconds, RAM in units of 1 byte (mem_unit 1), no swap, the process
//   count; the load averages stay 0 (the scheduler keeps none).
// - syslog: READ_ALL (3), READ_CLEAR (4), CLEAR (5), SIZE_UNREAD (9), SIZE_BUFFER (10); the
//   console-level commands (6, 7, 8) are accepted and do nothing; READ (2) is EINVAL (it would
//   block for new messages); anything else EINVAL.
// - reboot needs LINUX_REBOOT_MAGIC1 and one of the MAGIC2 values (EINVAL otherwise); POWER_OFF
//   and HALT power off, RESTART resets, CAD_ON/CAD_OFF are accepted. Before the machine goes
//   down the shutdown hooks run (the file systems sync).
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/posix/process.h"
#include "kernel/posix/random.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"
#include "kernel/power.h"
#include "kernel/sync/spinlock.h"
#include "kernel/time/time.h"
#include "kernel/version.h"

namespace lamina::posix {

namespace {

struct Names {
    char host[65] = "lamina";
    char domain[65] = "(none)";
};
SpinlockProtected<Names> g_names;

Result<void> set_name(bool host, uint64_t name, uint64_t len) {
    if (len > 64) return Errno::Inval;
    char buf[65] = {};
    if (len) TRY(copy_from_user(buf, name, size_t(len)));
    g_names.with([&](Names& n) { __builtin_memcpy(host ? n.host : n.domain, buf, sizeof buf); });
    return {};
}

struct SysInfo {  // struct sysinfo on x86-64
    int64_t uptime;
    uint64_t loads[3];
    uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    uint16_t procs;
    uint16_t pad;
    uint32_t pad2;
    uint64_t totalhigh, freehigh;
    uint32_t mem_unit;
    char reserved[4];
};
static_assert(sizeof(SysInfo) == 112);

}  // namespace

SyscallResult sys_uname(uint64_t buf) {
    char u[6][65] = {};
    const char* fields[6] = {"Lamina", nullptr, LAMINA_VERSION, "#1", "x86_64", nullptr};
    for (int i = 0; i < 6; i++) {
        if (!fields[i]) continue;
        size_t n = __builtin_strlen(fields[i]);
        __builtin_memcpy(u[i], fields[i], n < 64 ? n : 64);
    }
    g_names.with([&](Names& n) {
        __builtin_memcpy(u[1], n.host, 65);
        __builtin_memcpy(u[5], n.domain, 65);
    });
    TRY(copy_to_user(buf, u, sizeof u));
    return 0;
}

Result<void> sys_sethostname(uint64_t name, uint64_t len) {
    if (!capable(cap::SYS_ADMIN)) return Errno::Perm;
    return set_name(true, name, len);
}

Result<void> sys_setdomainname(uint64_t name, uint64_t len) {
    if (!capable(cap::SYS_ADMIN)) return Errno::Perm;
    return set_name(false, name, len);
}

SyscallResult sys_sysinfo(uint64_t info) {
    SysInfo si = {};
    si.uptime = int64_t(time::now_ns() / 1'000'000'000);
    si.totalram = mm::total_pages() * mm::PAGE_SIZE;
    si.freeram = mm::free_pages() * mm::PAGE_SIZE;
    si.procs = uint16_t(process_count());
    si.mem_unit = 1;
    TRY(UserPtr<SysInfo>(info).write(si));
    return 0;
}

SyscallResult sys_syslog(uint64_t type, uint64_t buf, uint64_t len) {
    switch (type) {
        case 0:
        case 1:
        case 6:
        case 7:
        case 8:
            return 0;  // close, open, console level
        case 3:
        case 4: {  // READ_ALL, READ_CLEAR
            if (int64_t(len) < 0) return Errno::Inval;
            if (len == 0) return 0;
            size_t cap = len < 64 * 1024 ? size_t(len) : 64 * 1024;
            char* tmp = static_cast<char*>(mm::kmalloc(cap));
            if (!tmp) return Errno::NoMem;
            size_t n = log_read(tmp, cap, type == 4);
            auto copied = copy_to_user(buf, tmp, n);
            mm::kfree(tmp);
            TRY(copied);
            return int64_t(n);
        }
        case 5:
            log_clear();
            return 0;
        case 9:
            return int64_t(log_unread_size());
        case 10:
            return 64 * 1024;
        default:
            return Errno::Inval;
    }
}

SyscallResult sys_reboot(uint64_t magic1, uint64_t magic2, uint64_t cmd) {
    constexpr uint32_t MAGIC1 = 0xfee1dead, MAGIC2 = 672274793, MAGIC2A = 85072278, MAGIC2B = 369367448,
                       MAGIC2C = 537993216;
    constexpr uint32_t RESTART = 0x01234567, HALT = 0xcdef0123, CAD_ON = 0x89abcdef, CAD_OFF = 0,
                       POWER_OFF = 0x4321fedc;
    if (!capable(cap::SYS_BOOT)) return Errno::Perm;
    uint32_t m2 = uint32_t(magic2);
    if (uint32_t(magic1) != MAGIC1 || (m2 != MAGIC2 && m2 != MAGIC2A && m2 != MAGIC2B && m2 != MAGIC2C))
        return Errno::Inval;
    switch (uint32_t(cmd)) {
        case CAD_ON:
        case CAD_OFF:
            return 0;
        case POWER_OFF:
        case HALT:
            power::run_shutdown_hooks();
            power::power_off();
        case RESTART:
            power::run_shutdown_hooks();
            power::reboot();
        default:
            return Errno::Inval;
    }
}

// getrandom: the kernel's generator (random.h) is never short of entropy, so GRND_NONBLOCK,
// GRND_RANDOM and GRND_INSECURE change nothing. A request is cut at Linux's 32 MiB - 1.
SyscallResult sys_getrandom(uint64_t buf, uint64_t len, uint64_t flags) {
    constexpr uint64_t GRND_NONBLOCK = 1, GRND_RANDOM = 2, GRND_INSECURE = 4, MAX_REQUEST = (32 << 20) - 1;
    if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return Errno::Inval;
    if (len > MAX_REQUEST) len = MAX_REQUEST;
    uint8_t chunk[256];
    uint64_t done = 0;
    while (done < len) {
        size_t k = len - done < sizeof chunk ? size_t(len - done) : sizeof chunk;
        fill_random(chunk, k);
        if (copy_to_user(buf + done, chunk, k).is_error()) {
            if (!done) return Errno::Fault;
            break;  // a fault after some bytes: the count so far, as for read
        }
        done += k;
    }
    return int64_t(done);
}

}  // namespace lamina::posix
