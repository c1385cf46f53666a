// lamina:portable
// Credentials of a process (credentials(7), capabilities(7)): real, effective, saved and
// file-system user and group ids, supplementary groups, and root's privileges as capabilities,
// with Linux's rules for who may change what and what execve does to them.
//
// Contract
//   - Capability numbers are Linux's (linux/capability.h), so capget/capset and programs that
//     name them agree; Lamina checks only the ones in KNOWN_CAPS, and root holds exactly those.
//     Bits of other capabilities are dropped, as Linux drops bits past CAP_LAST_CAP.
//   - The set*id rules: CAP_SETUID (CAP_SETGID for groups) may set any id; without it each new
//     id must be one the process already holds (setuid(2), setreuid(2), setresuid(2)). The
//     file-system id follows the effective one on every set*id call; setfsuid changes it alone.
//   - Capabilities follow uid changes as Linux's "root is special" emulation does (no
//     SECURE_* bits): leaving uid 0 in all three ids clears the permitted and effective sets
//     (unless keep_caps), an effective uid leaving 0 clears the effective set and coming back
//     to 0 restores it from the permitted set, and the file-system capabilities follow fsuid.
//   - execve (exec_transition): set-user-id and set-group-id (with group execute) files change
//     the effective ids unless no_new_privs; then the saved and file-system ids follow the
//     effective ones. Root's capabilities are granted afresh (effective only when the new
//     effective uid is 0); anyone else's are cleared. The result says whether the program runs
//     with privileges its invoker lacked (AT_SECURE).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::posix {

using CapSet = uint64_t;

namespace cap {
inline constexpr int CHOWN = 0, DAC_OVERRIDE = 1, DAC_READ_SEARCH = 2, FOWNER = 3, FSETID = 4, KILL = 5, SETGID = 6,
                     SETUID = 7, NET_BIND_SERVICE = 10, SYS_ADMIN = 21, SYS_BOOT = 22, SYS_RESOURCE = 24, SYS_TIME = 25,
                     SYS_NICE = 23;
inline constexpr int LAST_CAP = 40;  // Linux 5.9+'s CAP_LAST_CAP (CAP_CHECKPOINT_RESTORE)
constexpr CapSet bit(int c) { return CapSet(1) << c; }
}  // namespace cap

// What Lamina checks, and so what root holds.
inline constexpr CapSet KNOWN_CAPS =
    cap::bit(cap::CHOWN) | cap::bit(cap::DAC_OVERRIDE) | cap::bit(cap::DAC_READ_SEARCH) | cap::bit(cap::FOWNER) |
    cap::bit(cap::FSETID) | cap::bit(cap::KILL) | cap::bit(cap::SETGID) | cap::bit(cap::SETUID) |
    cap::bit(cap::NET_BIND_SERVICE) | cap::bit(cap::SYS_ADMIN) | cap::bit(cap::SYS_BOOT) | cap::bit(cap::SYS_RESOURCE) |
    cap::bit(cap::SYS_TIME) | cap::bit(cap::SYS_NICE);
// The file-system capabilities, which follow the file-system uid (Linux's CAP_FS_MASK).
inline constexpr CapSet FS_CAPS = cap::bit(cap::CHOWN) | cap::bit(cap::DAC_OVERRIDE) | cap::bit(cap::DAC_READ_SEARCH) |
                                  cap::bit(cap::FOWNER) | cap::bit(cap::FSETID);

// Supplementary groups a process may hold (Linux allows 65536; login and su set a handful).
inline constexpr size_t MAX_GROUPS = 64;
inline constexpr uint32_t NO_ID = 0xffffffff;  // "leave unchanged" in set*id calls

struct Cred {
    uint32_t uid = 0, euid = 0, suid = 0, fsuid = 0;
    uint32_t gid = 0, egid = 0, sgid = 0, fsgid = 0;
    uint32_t groups[MAX_GROUPS] = {};
    uint32_t ngroups = 0;
    CapSet effective = KNOWN_CAPS, permitted = KNOWN_CAPS, inheritable = 0;
    bool keep_caps = false;     // PR_SET_KEEPCAPS: permitted survives leaving uid 0 (not execve)
    bool no_new_privs = false;  // PR_SET_NO_NEW_PRIVS: execve grants nothing, for good

    bool capable(int c) const { return effective & cap::bit(c); }
    // fsgid or a supplementary group (Linux's in_group_p: what file checks and chown use).
    bool in_group(uint32_t g) const;
};

// The set*id calls; ids of NO_ID leave that id unchanged. Perm, Inval (setuid(-1)).
Result<void> cred_setuid(Cred& c, uint32_t uid);
Result<void> cred_setreuid(Cred& c, uint32_t r, uint32_t e);
Result<void> cred_setresuid(Cred& c, uint32_t r, uint32_t e, uint32_t s);
Result<void> cred_setgid(Cred& c, uint32_t gid);
Result<void> cred_setregid(Cred& c, uint32_t r, uint32_t e);
Result<void> cred_setresgid(Cred& c, uint32_t r, uint32_t e, uint32_t s);
// setfsuid/setfsgid never fail: they return the old id and change it only when allowed.
uint32_t cred_setfsuid(Cred& c, uint32_t fsuid);
uint32_t cred_setfsgid(Cred& c, uint32_t fsgid);
// Perm without CAP_SETGID, Inval for more than MAX_GROUPS.
Result<void> cred_setgroups(Cred& c, const uint32_t* groups, size_t n);
// capset(2)'s rules: the new permitted set within the old, effective within the new permitted,
// inheritable within the old inheritable and permitted. Perm otherwise.
Result<void> cred_capset(Cred& c, CapSet effective, CapSet permitted, CapSet inheritable);

// execve's change for a program file of that mode and owner. Returns whether it is secure
// (AT_SECURE: set-id or newly granted capabilities).
bool exec_transition(Cred& c, uint32_t file_mode, uint32_t file_uid, uint32_t file_gid);

// kill(2)'s permission: CAP_KILL, or the sender's real or effective uid is the target's real
// or saved uid. (SIGCONT within a session is the caller's to allow.)
bool may_signal(const Cred& sender, const Cred& target);

// --- the calling process's (kernel/posix/sys_cred.cpp) --------------------------------------

// Whether the caller holds the capability; the kernel itself (no process) holds them all.
bool capable(int c);
// bind(2) to a port: below 1024 needs CAP_NET_BIND_SERVICE (EACCES otherwise), as on Linux.
// The hook every address family's bind calls.
Result<void> may_bind_port(uint16_t port);

}  // namespace lamina::posix
