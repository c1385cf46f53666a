// Credentials (kernel/posix/cred.h): the set*id rules, capabilities following uid changes,
// execve's set-id transition, kill's permission and the file checks' capability overrides,
// each against what Linux does.
#include <gtest/gtest.h>

#include "kernel/posix/cred.h"
#include "kernel/posix/vfs/path.h"

using namespace lamina;
using namespace lamina::posix;

namespace {

Cred user(uint32_t uid, uint32_t gid) {
    Cred c;
    c.uid = c.euid = c.suid = c.fsuid = uid;
    c.gid = c.egid = c.sgid = c.fsgid = gid;
    c.effective = c.permitted = 0;
    return c;
}

Errno err(const Result<void>& r) { return r.is_error() ? r.error().code() : Errno(0); }

}  // namespace

TEST(PosixCred, RootSetuidDropsEverythingForGood) {
    Cred c;
    ASSERT_TRUE(cred_setuid(c, 1000).is_ok());
    EXPECT_EQ(c.uid, 1000u);
    EXPECT_EQ(c.euid, 1000u);
    EXPECT_EQ(c.suid, 1000u);
    EXPECT_EQ(c.fsuid, 1000u);
    EXPECT_EQ(c.effective, 0u);
    EXPECT_EQ(c.permitted, 0u);
    EXPECT_EQ(err(cred_setuid(c, 0)), Errno::Perm);
    EXPECT_EQ(err(cred_setresuid(c, NO_ID, 0, NO_ID)), Errno::Perm);
    EXPECT_EQ(err(cred_setuid(c, NO_ID)), Errno::Inval);
}

TEST(PosixCred, EffectiveUidSwapKeepsPermittedAndComesBack) {
    Cred c;
    ASSERT_TRUE(cred_setresuid(c, NO_ID, 1000, NO_ID).is_ok());  // seteuid(1000): saved stays 0
    EXPECT_EQ(c.euid, 1000u);
    EXPECT_EQ(c.suid, 0u);
    EXPECT_EQ(c.effective, 0u);
    EXPECT_EQ(c.permitted, KNOWN_CAPS);
    EXPECT_FALSE(c.capable(cap::SETUID));
    // Back to 0 through the saved id: the capabilities are effective again.
    ASSERT_TRUE(cred_setresuid(c, NO_ID, 0, NO_ID).is_ok());
    EXPECT_EQ(c.effective, KNOWN_CAPS);
}

TEST(PosixCred, UnprivilegedMayOnlyShuffleItsOwnIds) {
    Cred c = user(1000, 100);
    c.suid = 1001;
    EXPECT_TRUE(cred_setresuid(c, 1001, 1000, 1000).is_ok());
    EXPECT_EQ(c.uid, 1001u);
    EXPECT_EQ(err(cred_setresuid(c, 1002, NO_ID, NO_ID)), Errno::Perm);
    EXPECT_EQ(err(cred_setgid(c, 0)), Errno::Perm);
    EXPECT_EQ(err(cred_setgroups(c, nullptr, 0)), Errno::Perm);
    uint32_t g = 5;
    Cred root;
    EXPECT_TRUE(cred_setgroups(root, &g, 1).is_ok());
    EXPECT_TRUE(root.in_group(5));
    EXPECT_EQ(err(cred_setgroups(root, &g, MAX_GROUPS + 1)), Errno::Inval);
}

TEST(PosixCred, SetreuidMovesTheSavedIdAsLinuxDoes) {
    Cred c = user(1000, 100);
    c.euid = 1001;
    // Swapping real and effective: the saved id becomes the new effective one.
    ASSERT_TRUE(cred_setreuid(c, 1001, 1000).is_ok());
    EXPECT_EQ(c.uid, 1001u);
    EXPECT_EQ(c.euid, 1000u);
    EXPECT_EQ(c.suid, 1000u);
    EXPECT_EQ(c.fsuid, 1000u);
}

TEST(PosixCred, FsuidCarriesTheFileCapabilities) {
    Cred c;
    EXPECT_EQ(cred_setfsuid(c, 1000), 0u);
    EXPECT_EQ(c.fsuid, 1000u);
    EXPECT_FALSE(c.capable(cap::DAC_OVERRIDE));
    EXPECT_TRUE(c.capable(cap::KILL));
    EXPECT_EQ(cred_setfsuid(c, 0), 1000u);
    EXPECT_TRUE(c.capable(cap::DAC_OVERRIDE));
    Cred u = user(1000, 100);
    EXPECT_EQ(cred_setfsuid(u, 0), 1000u);  // refused: the old value comes back, nothing changes
    EXPECT_EQ(u.fsuid, 1000u);
}

TEST(PosixCred, KeepCapsKeepsPermittedAcrossSetuid) {
    Cred c;
    c.keep_caps = true;
    ASSERT_TRUE(cred_setresuid(c, 1000, 1000, 1000).is_ok());
    EXPECT_EQ(c.effective, 0u);
    EXPECT_EQ(c.permitted, KNOWN_CAPS);
    ASSERT_TRUE(cred_capset(c, cap::bit(cap::NET_BIND_SERVICE), c.permitted, 0).is_ok());
    EXPECT_TRUE(c.capable(cap::NET_BIND_SERVICE));
}

TEST(PosixCred, CapsetNeverGrows) {
    Cred c = user(1000, 100);
    EXPECT_EQ(err(cred_capset(c, 0, cap::bit(cap::KILL), 0)), Errno::Perm);
    Cred root;
    CapSet p = cap::bit(cap::KILL) | cap::bit(cap::CHOWN);
    ASSERT_TRUE(cred_capset(root, cap::bit(cap::KILL), p, 0).is_ok());
    EXPECT_FALSE(root.capable(cap::CHOWN));
    EXPECT_EQ(err(cred_capset(root, cap::bit(cap::SETUID), p, 0)), Errno::Perm);  // not permitted
    EXPECT_EQ(err(cred_capset(root, 0, KNOWN_CAPS, 0)), Errno::Perm);             // gone for good
}

TEST(PosixCred, SetuidRootProgramGrantsRootAndIsSecure) {
    Cred c = user(1000, 100);
    EXPECT_TRUE(exec_transition(c, 0104755, 0, 0));
    EXPECT_EQ(c.uid, 1000u);
    EXPECT_EQ(c.euid, 0u);
    EXPECT_EQ(c.suid, 0u);
    EXPECT_EQ(c.effective, KNOWN_CAPS);
    // The next ordinary program run by it (real uid 1000, effective 0) stays privileged.
    EXPECT_TRUE(exec_transition(c, 0100755, 1000, 100));
    EXPECT_EQ(c.euid, 0u);
}

TEST(PosixCred, NoNewPrivsIgnoresSetIdBits) {
    Cred c = user(1000, 100);
    c.no_new_privs = true;
    EXPECT_FALSE(exec_transition(c, 0106755, 0, 0));
    EXPECT_EQ(c.euid, 1000u);
    EXPECT_EQ(c.egid, 100u);
    EXPECT_EQ(c.effective, 0u);
}

TEST(PosixCred, SetGidNeedsGroupExecute) {
    Cred c = user(1000, 100);
    EXPECT_FALSE(exec_transition(c, 0102744, 0, 50));  // the mandatory-locking mark
    EXPECT_EQ(c.egid, 100u);
    EXPECT_TRUE(exec_transition(c, 0102755, 0, 50));
    EXPECT_EQ(c.egid, 50u);
    EXPECT_EQ(c.sgid, 50u);
}

TEST(PosixCred, RootExecOfOrdinaryProgramKeepsRoot) {
    Cred c;
    c.effective = 0;  // dropped by capset; execve gives them back, as Linux does for root
    EXPECT_FALSE(exec_transition(c, 0100755, 1000, 100));
    EXPECT_EQ(c.effective, KNOWN_CAPS);
    Cred r;
    ASSERT_TRUE(cred_setresuid(r, 0, 1000, 1000).is_ok());  // real root, effective user
    EXPECT_TRUE(exec_transition(r, 0100755, 0, 0));         // effective differs from real: secure
    EXPECT_EQ(r.effective, 0u);
    EXPECT_EQ(r.permitted, KNOWN_CAPS);
}

TEST(PosixCred, KillNeedsAMatchingUidOrCapKill) {
    Cred alice = user(1000, 100), bob = user(1001, 100), root;
    EXPECT_FALSE(may_signal(alice, bob));
    EXPECT_FALSE(may_signal(alice, root));
    EXPECT_TRUE(may_signal(root, alice));
    bob.suid = 1000;  // a set-user-id program of alice's run by bob
    EXPECT_TRUE(may_signal(alice, bob));
    Cred swapped = user(1001, 100);
    swapped.euid = 1000;
    EXPECT_TRUE(may_signal(swapped, alice));
}

TEST(PosixCred, FileChecksHonourTheOverrides) {
    Credentials nobody{65534, 65534, nullptr, 0};
    EXPECT_EQ(nobody.caps, 0u);
    EXPECT_TRUE(check_access(0100600, 0, 0, nobody, access::Read).is_error());
    Credentials reader{65534, 65534, nullptr, 0, cap::bit(cap::DAC_READ_SEARCH)};
    EXPECT_TRUE(check_access(0100600, 0, 0, reader, access::Read).is_ok());
    EXPECT_TRUE(check_access(0100600, 0, 0, reader, access::Write).is_error());
    EXPECT_TRUE(check_access(040700, 0, 0, reader, access::Exec).is_ok());
    EXPECT_TRUE(check_access(0100700, 0, 0, reader, access::Exec).is_error());
    Credentials root_without_caps{0, 0, nullptr, 0, 0};
    EXPECT_TRUE(check_access(0100600, 1000, 1000, root_without_caps, access::Read).is_error());
    Credentials root{0, 0, nullptr, 0};
    EXPECT_TRUE(check_access(0100000, 1000, 1000, root, access::Read | access::Write).is_ok());
    EXPECT_TRUE(check_access(0100600, 1000, 1000, root, access::Exec).is_error());  // no x bit at all
}
