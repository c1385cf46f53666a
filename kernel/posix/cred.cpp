// lamina:portable
#include "kernel/posix/cred.h"

namespace lamina::posix {

namespace {

constexpr uint32_t MODE_SET_UID = 04000, MODE_SET_GID = 02000, MODE_GROUP_EXEC = 0010;

bool is_one_of(uint32_t v, uint32_t a, uint32_t b, uint32_t c) { return v == a || v == b || v == c; }

// Linux's cap_emulate_setxuid: the capabilities follow uid 0 in and out.
void fix_caps_after_setuid(Cred& c, const Cred& old) {
    bool had_root = old.uid == 0 || old.euid == 0 || old.suid == 0;
    bool has_root = c.uid == 0 || c.euid == 0 || c.suid == 0;
    if (had_root && !has_root && !c.keep_caps) c.permitted = c.effective = 0;
    if (old.euid == 0 && c.euid != 0) c.effective = 0;
    if (old.euid != 0 && c.euid == 0) c.effective = c.permitted;
}

// The real/effective/saved triple of uids or gids, with the capability that overrides.
struct Ids {
    uint32_t &r, &e, &s, &fs;
};

Result<void> set_res(Ids ids, bool privileged, uint32_t r, uint32_t e, uint32_t s) {
    for (uint32_t v : {r, e, s})
        if (v != NO_ID && !privileged && !is_one_of(v, ids.r, ids.e, ids.s)) return Errno::Perm;
    if (r != NO_ID) ids.r = r;
    if (e != NO_ID) ids.e = e;
    if (s != NO_ID) ids.s = s;
    ids.fs = ids.e;
    return {};
}

Result<void> set_re(Ids ids, bool privileged, uint32_t r, uint32_t e) {
    uint32_t old_r = ids.r, old_e = ids.e;
    if (r != NO_ID && !privileged && r != old_r && r != old_e) return Errno::Perm;
    if (e != NO_ID && !privileged && !is_one_of(e, old_r, old_e, ids.s)) return Errno::Perm;
    if (r != NO_ID) ids.r = r;
    if (e != NO_ID) ids.e = e;
    // The saved id follows the effective one when the real id is set or the effective one
    // becomes different from the old real id.
    if (r != NO_ID || (e != NO_ID && e != old_r)) ids.s = ids.e;
    ids.fs = ids.e;
    return {};
}

Result<void> set_one(Ids ids, bool privileged, uint32_t id) {
    if (id == NO_ID) return Errno::Inval;
    if (privileged)
        ids.r = ids.s = id;
    else if (id != ids.r && id != ids.s)
        return Errno::Perm;
    ids.e = ids.fs = id;
    return {};
}

Ids uids(Cred& c) { return Ids{c.uid, c.euid, c.suid, c.fsuid}; }
Ids gids(Cred& c) { return Ids{c.gid, c.egid, c.sgid, c.fsgid}; }

template <typename F>
Result<void> change_uids(Cred& c, F&& change) {
    Cred old = c;
    TRY(change(uids(c), c.capable(cap::SETUID)));
    fix_caps_after_setuid(c, old);
    return {};
}

}  // namespace

bool Cred::in_group(uint32_t g) const {
    if (g == fsgid) return true;
    for (uint32_t i = 0; i < ngroups; i++)
        if (groups[i] == g) return true;
    return false;
}

Result<void> cred_setuid(Cred& c, uint32_t uid) {
    return change_uids(c, [&](Ids ids, bool priv) { return set_one(ids, priv, uid); });
}

Result<void> cred_setreuid(Cred& c, uint32_t r, uint32_t e) {
    return change_uids(c, [&](Ids ids, bool priv) { return set_re(ids, priv, r, e); });
}

Result<void> cred_setresuid(Cred& c, uint32_t r, uint32_t e, uint32_t s) {
    return change_uids(c, [&](Ids ids, bool priv) { return set_res(ids, priv, r, e, s); });
}

Result<void> cred_setgid(Cred& c, uint32_t gid) { return set_one(gids(c), c.capable(cap::SETGID), gid); }

Result<void> cred_setregid(Cred& c, uint32_t r, uint32_t e) { return set_re(gids(c), c.capable(cap::SETGID), r, e); }

Result<void> cred_setresgid(Cred& c, uint32_t r, uint32_t e, uint32_t s) {
    return set_res(gids(c), c.capable(cap::SETGID), r, e, s);
}

uint32_t cred_setfsuid(Cred& c, uint32_t fsuid) {
    uint32_t old = c.fsuid;
    if (fsuid == NO_ID) return old;
    if (!is_one_of(fsuid, c.uid, c.euid, c.suid) && fsuid != old && !c.capable(cap::SETUID)) return old;
    c.fsuid = fsuid;
    if (old == 0 && fsuid != 0) c.effective &= ~FS_CAPS;
    if (old != 0 && fsuid == 0) c.effective |= c.permitted & FS_CAPS;
    return old;
}

uint32_t cred_setfsgid(Cred& c, uint32_t fsgid) {
    uint32_t old = c.fsgid;
    if (fsgid == NO_ID) return old;
    if (!is_one_of(fsgid, c.gid, c.egid, c.sgid) && fsgid != old && !c.capable(cap::SETGID)) return old;
    c.fsgid = fsgid;
    return old;
}

Result<void> cred_setgroups(Cred& c, const uint32_t* groups, size_t n) {
    if (!c.capable(cap::SETGID)) return Errno::Perm;
    if (n > MAX_GROUPS) return Errno::Inval;
    for (size_t i = 0; i < n; i++) c.groups[i] = groups[i];
    c.ngroups = uint32_t(n);
    return {};
}

Result<void> cred_capset(Cred& c, CapSet effective, CapSet permitted, CapSet inheritable) {
    effective &= KNOWN_CAPS;
    permitted &= KNOWN_CAPS;
    inheritable &= KNOWN_CAPS;
    if (permitted & ~c.permitted) return Errno::Perm;
    if (effective & ~permitted) return Errno::Perm;
    if (inheritable & ~(c.inheritable | c.permitted)) return Errno::Perm;
    c.effective = effective;
    c.permitted = permitted;
    c.inheritable = inheritable;
    return {};
}

bool exec_transition(Cred& c, uint32_t file_mode, uint32_t file_uid, uint32_t file_gid) {
    CapSet old_permitted = c.permitted;
    if (!c.no_new_privs) {
        if (file_mode & MODE_SET_UID) c.euid = file_uid;
        // Set-group-ID without group execute marks mandatory locking, not a set-id program.
        if ((file_mode & MODE_SET_GID) && (file_mode & MODE_GROUP_EXEC)) c.egid = file_gid;
    }
    // Root's capabilities come from being root (there are no file capabilities); a set-id
    // program's effective uid of 0 grants them too. Everyone else's are gone.
    if (c.uid == 0 || c.euid == 0)
        c.permitted = KNOWN_CAPS;
    else
        c.permitted = 0;
    if (c.no_new_privs) c.permitted &= old_permitted;
    c.effective = c.euid == 0 ? c.permitted : 0;
    bool secure = c.euid != c.uid || c.egid != c.gid || (c.uid != 0 && c.effective);
    c.suid = c.fsuid = c.euid;
    c.sgid = c.fsgid = c.egid;
    c.keep_caps = false;
    return secure;
}

bool may_signal(const Cred& sender, const Cred& target) {
    if (sender.capable(cap::KILL)) return true;
    return sender.euid == target.uid || sender.euid == target.suid || sender.uid == target.uid ||
           sender.uid == target.suid;
}

}  // namespace lamina::posix
