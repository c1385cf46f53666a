// The root file system's scripts, run on the host by the busybox that goes into the images (a
// static binary: the host runs the same file Lamina will).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/system/host_tools.h"
#include "tests/system/qemu.h"

namespace lamina::test {
namespace {

// Runs `busybox sh -c SCRIPT` with an empty environment.
CommandResult busybox_sh(const std::string& script) {
    std::string busybox = build_dir() + "/ports/busybox/root/bin/busybox";
    std::string quoted;
    for (char c : script) {
        if (c == '\'')
            quoted += "'\\''";
        else
            quoted += c;
    }
    return run_command("env -i " + busybox + " sh -c '" + quoted + "'");
}

TEST(Rootfs, ProfileSetsPathHomeAndPrompt) {
    auto r = busybox_sh(". rootfs/etc/profile && printf '%s|%s|%s|%s\\n' \"$PATH\" \"$HOME\" \"$PS1\" \"$(umask)\"");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, "/sbin:/usr/sbin:/bin:/usr/bin|/root|\\u@\\h:\\w\\$ |0022\n");
}

TEST(Rootfs, ScriptsParse) {
    for (const char* script : {"rootfs/etc/init.d/rcS", "rootfs/etc/profile"}) {
        auto r = busybox_sh(std::string("sh -n ") + script);
        EXPECT_EQ(r.status, 0) << script << ": " << r.output;
    }
    EXPECT_EQ(access("rootfs/etc/init.d/rcS", X_OK), 0);
}

// Every inittab line is ID:RUNLEVELS:ACTION:PROCESS with an action busybox init knows, and
// every program it runs is in the busybox install or the root skeleton.
TEST(Rootfs, InittabNamesKnownActionsAndPrograms) {
    std::string root = build_dir() + "/ports/busybox/root";
    auto r = busybox_sh(
        "n=0; while IFS=: read -r id levels action process; do "
        "  case $id in \\#*) continue ;; esac; "
        "  [ -n \"$id$levels$action$process\" ] || continue; "
        "  case $action in sysinit|wait|once|respawn|askfirst|ctrlaltdel|shutdown|restart) ;; "
        "    *) echo \"bad action $action\"; exit 1 ;; esac; "
        "  prog=${process#-}; prog=${prog%% *}; "
        "  [ -e \"" +
        root +
        "$prog\" ] || [ -e \"rootfs$prog\" ] || { echo \"missing $prog\"; exit 1; }; "
        "  n=$((n+1)); "
        "done < rootfs/etc/inittab; echo \"$n entries\"");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, "6 entries\n");
}

// rcS with mount, hostname and cat replaced by stubs that log their arguments (mount fails):
// it mounts proc and devfs, reports each failure and carries on to a successful end.
TEST(Rootfs, StartScriptMountsAndToleratesFailure) {
    char tmpl[] = "/tmp/lamina-rcs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string stubs = tmpl;
    std::string busybox = build_dir() + "/ports/busybox/root/bin/busybox";
    auto r = busybox_sh(
        "for c in mount hostname cat; do "
        "  printf '#!/bin/sh\\necho \"%s $*\"\\n[ %s != mount ]\\n' $c $c > " +
        stubs +
        "/$c; "
        "  chmod +x " +
        stubs +
        "/$c; "
        "done; "
        "PATH=" +
        stubs + " " + busybox + " sh rootfs/etc/init.d/rcS; echo \"status $?\"");
    EXPECT_EQ(std::system(("rm -rf '" + stubs + "'").c_str()), 0);
    EXPECT_NE(r.output.find("mount -t proc proc /proc\nrcS: could not mount /proc\n"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("mount -t devfs devfs /dev\nrcS: could not mount devfs on /dev\n"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("status 0\n"), std::string::npos) << r.output;
    // The rest reads the host's /etc, which may lack these files.
    if (access("/etc/motd", R_OK) == 0) {
        EXPECT_NE(r.output.find("cat /etc/motd\n"), std::string::npos) << r.output;
    }
}

}  // namespace
}  // namespace lamina::test
