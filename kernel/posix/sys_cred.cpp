// Credential system calls: getuid, geteuid, getgid, getegid, getresuid, getresgid, setuid,
// setgid, setreuid, setregid, setresuid, setresgid, setfsuid, setfsgid, getgroups, setgroups,
// capget, capset, prctl (the credential options); and the calling process's capability checks
// (capable, may_bind_port) and file-check credentials.
//
// Contract
//   - The rules are kernel/posix/cred.h's (Linux's). A change is made on a copy and put in
//     place whole under the table lock (set_cred), so kill's permission check in another
//     process never sees half of it.
//   - getgroups(0, _) returns the count; a smaller non-zero size is EINVAL. setgroups takes at
//     most MAX_GROUPS (EINVAL beyond).
//   - capget/capset: versions 1 (one 32-bit word per set) and 2/3 (two words); another version
//     is EINVAL with version 3 written back (capget with a null data pointer then succeeds: how
//     libcap probes). capset only on the caller (pid 0 or its own; EPERM otherwise).
//   - prctl: PR_SET/GET_NO_NEW_PRIVS, PR_SET/GET_KEEPCAPS, PR_CAPBSET_READ, PR_SET/GET_DUMPABLE
//     (kept, not used: no core dumps or ptrace here). Other options are EINVAL, logged once.
#include "kernel/lib/log.h"
#include "kernel/posix/cred.h"
#include "kernel/posix/files.h"
#include "kernel/posix/process.h"
#include "kernel/posix/syscall_handlers.h"
#include "kernel/posix/user_access.h"

namespace lamina::posix {

namespace {

Process& self() { return *current_process(); }

// Runs change on a copy of the caller's credentials and puts the result in place.
template <typename F>
auto change_cred(F&& change) -> decltype(change(*static_cast<Cred*>(nullptr))) {
    Process& p = self();
    Cred next = p.cred;
    auto r = change(next);
    set_cred(p, next);
    return r;
}

Result<void> write_ids(uint64_t r, uint64_t e, uint64_t s, uint32_t vr, uint32_t ve, uint32_t vs) {
    TRY(UserPtr<uint32_t>(r).write(vr));
    TRY(UserPtr<uint32_t>(e).write(ve));
    TRY(UserPtr<uint32_t>(s).write(vs));
    return {};
}

// linux/capability.h: the header and one 32-bit slice of each set.
struct CapHeader {
    uint32_t version;
    int32_t pid;
};
struct CapData {
    uint32_t effective, permitted, inheritable;
};
static_assert(sizeof(CapHeader) == 8 && sizeof(CapData) == 12);
constexpr uint32_t CAP_V1 = 0x19980330, CAP_V2 = 0x20071026, CAP_V3 = 0x20080522;

// How many CapData slices the header's version uses; Inval (version 3 written back) otherwise.
Result<size_t> cap_slices(uint64_t header, CapHeader& h) {
    h = TRY(UserPtr<CapHeader>(header).read());
    if (h.version == CAP_V1) return size_t(1);
    if (h.version == CAP_V2 || h.version == CAP_V3) return size_t(2);
    h.version = CAP_V3;
    TRY(UserPtr<CapHeader>(header).write(h));
    return Errno::Inval;
}

}  // namespace

void set_cred(Process& p, const Cred& c) {
    SpinlockGuard g(process_table_lock());
    p.cred = c;
    p.fs_cred = Credentials{p.cred.fsuid, p.cred.fsgid, p.cred.groups, p.cred.ngroups, p.cred.effective};
}

Credentials real_credentials() {
    const Cred& c = self().cred;
    return Credentials{c.uid, c.gid, c.groups, c.ngroups, c.uid == 0 ? c.permitted : 0};
}

bool capable(int c) {
    Process* p = current_process();
    return !p || p->cred.capable(c);
}

Result<void> may_bind_port(uint16_t port) {
    constexpr uint16_t FIRST_UNPRIVILEGED_PORT = 1024;  // Linux's ip_unprivileged_port_start
    if (port != 0 && port < FIRST_UNPRIVILEGED_PORT && !capable(cap::NET_BIND_SERVICE)) return Errno::Acces;
    return {};
}

SyscallResult sys_getuid() { return self().cred.uid; }
SyscallResult sys_geteuid() { return self().cred.euid; }
SyscallResult sys_getgid() { return self().cred.gid; }
SyscallResult sys_getegid() { return self().cred.egid; }

SyscallResult sys_getresuid(uint64_t r, uint64_t e, uint64_t s) {
    const Cred& c = self().cred;
    TRY(write_ids(r, e, s, c.uid, c.euid, c.suid));
    return 0;
}

SyscallResult sys_getresgid(uint64_t r, uint64_t e, uint64_t s) {
    const Cred& c = self().cred;
    TRY(write_ids(r, e, s, c.gid, c.egid, c.sgid));
    return 0;
}

Result<void> sys_setuid(uint64_t id) {
    return change_cred([&](Cred& c) { return cred_setuid(c, uint32_t(id)); });
}

Result<void> sys_setgid(uint64_t id) {
    return change_cred([&](Cred& c) { return cred_setgid(c, uint32_t(id)); });
}

Result<void> sys_setreuid(uint64_t r, uint64_t e) {
    return change_cred([&](Cred& c) { return cred_setreuid(c, uint32_t(r), uint32_t(e)); });
}

Result<void> sys_setregid(uint64_t r, uint64_t e) {
    return change_cred([&](Cred& c) { return cred_setregid(c, uint32_t(r), uint32_t(e)); });
}

Result<void> sys_setresuid(uint64_t r, uint64_t e, uint64_t s) {
    return change_cred([&](Cred& c) { return cred_setresuid(c, uint32_t(r), uint32_t(e), uint32_t(s)); });
}

Result<void> sys_setresgid(uint64_t r, uint64_t e, uint64_t s) {
    return change_cred([&](Cred& c) { return cred_setresgid(c, uint32_t(r), uint32_t(e), uint32_t(s)); });
}

SyscallResult sys_setfsuid(uint64_t id) {
    return change_cred([&](Cred& c) { return SyscallResult(cred_setfsuid(c, uint32_t(id))); });
}

SyscallResult sys_setfsgid(uint64_t id) {
    return change_cred([&](Cred& c) { return SyscallResult(cred_setfsgid(c, uint32_t(id))); });
}

SyscallResult sys_getgroups(uint64_t size, uint64_t list) {
    const Cred& c = self().cred;
    if (int32_t(size) < 0) return Errno::Inval;
    if (size == 0) return c.ngroups;
    if (size < c.ngroups) return Errno::Inval;
    TRY(copy_to_user(list, c.groups, c.ngroups * sizeof(uint32_t)));
    return c.ngroups;
}

Result<void> sys_setgroups(uint64_t size, uint64_t list) {
    if (!self().cred.capable(cap::SETGID)) return Errno::Perm;
    if (size > MAX_GROUPS) return Errno::Inval;
    uint32_t groups[MAX_GROUPS];
    if (size) TRY(copy_from_user(groups, list, size * sizeof(uint32_t)));
    return change_cred([&](Cred& c) { return cred_setgroups(c, groups, size); });
}

Result<void> sys_capget(uint64_t header, uint64_t data) {
    CapHeader h;
    auto slices = cap_slices(header, h);
    if (slices.is_error()) return data ? slices.error() : Result<void>();
    if (h.pid < 0) return Errno::Inval;
    uint32_t pid = h.pid ? uint32_t(h.pid) : self().pid;
    CapSet sets[3] = {};
    bool found = false;
    {
        SpinlockGuard g(process_table_lock());
        for_each_process_locked([&](Process& q) {
            if (q.pid != pid) return;
            found = true;
            sets[0] = q.cred.effective;
            sets[1] = q.cred.permitted;
            sets[2] = q.cred.inheritable;
        });
    }
    if (!found) return Errno::Srch;
    CapData d[2] = {};
    for (size_t i = 0; i < 2; i++) {
        d[i] = {uint32_t(sets[0] >> (32 * i)), uint32_t(sets[1] >> (32 * i)), uint32_t(sets[2] >> (32 * i))};
    }
    return copy_to_user(data, d, slices.value() * sizeof(CapData));
}

Result<void> sys_capset(uint64_t header, uint64_t data) {
    CapHeader h;
    size_t n = TRY(cap_slices(header, h));
    if (h.pid != 0 && uint32_t(h.pid) != self().pid) return Errno::Perm;
    CapData d[2] = {};
    TRY(copy_from_user(d, data, n * sizeof(CapData)));
    auto set = [&](uint32_t CapData::*field) { return CapSet(d[0].*field) | (CapSet(d[1].*field) << 32); };
    return change_cred([&](Cred& c) {
        return cred_capset(c, set(&CapData::effective), set(&CapData::permitted), set(&CapData::inheritable));
    });
}

SyscallResult sys_prctl(uint64_t option, uint64_t arg2, uint64_t arg3, uint64_t arg4, uint64_t arg5) {
    constexpr uint64_t PR_GET_DUMPABLE = 3, PR_SET_DUMPABLE = 4, PR_GET_KEEPCAPS = 7, PR_SET_KEEPCAPS = 8,
                       PR_CAPBSET_READ = 23, PR_SET_NO_NEW_PRIVS = 38, PR_GET_NO_NEW_PRIVS = 39;
    Process& p = self();
    switch (option) {
        case PR_GET_DUMPABLE:
            return p.dumpable ? 1 : 0;
        case PR_SET_DUMPABLE:
            if (arg2 > 1) return Errno::Inval;
            p.dumpable = arg2 == 1;
            return 0;
        case PR_GET_KEEPCAPS:
            return p.cred.keep_caps ? 1 : 0;
        case PR_SET_KEEPCAPS:
            if (arg2 > 1) return Errno::Inval;
            return change_cred([&](Cred& c) {
                c.keep_caps = arg2 == 1;
                return SyscallResult(0);
            });
        case PR_CAPBSET_READ:
            if (arg2 > uint64_t(cap::LAST_CAP)) return Errno::Inval;
            return (KNOWN_CAPS & cap::bit(int(arg2))) ? 1 : 0;
        case PR_SET_NO_NEW_PRIVS:
            // Once set it stays, across fork and execve.
            if (arg2 != 1 || arg3 || arg4 || arg5) return Errno::Inval;
            return change_cred([&](Cred& c) {
                c.no_new_privs = true;
                return SyscallResult(0);
            });
        case PR_GET_NO_NEW_PRIVS:
            if (arg2 || arg3 || arg4 || arg5) return Errno::Inval;
            return p.cred.no_new_privs ? 1 : 0;
    }
    static bool logged = false;
    if (!__atomic_exchange_n(&logged, true, __ATOMIC_RELAXED))
        kinfo("pid %u (%s): prctl option %lu is not supported: EINVAL\n", p.pid, p.name, option);
    return Errno::Inval;
}

}  // namespace lamina::posix
