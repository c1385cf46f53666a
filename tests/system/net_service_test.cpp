// The net service at boot: the lwIP stack domain starts over the NIC service with eth0 on DHCP,
// and a fault injected while nothing calls it is recovered by the service's watcher (replay
// and a new stack generation), with the fresh instance serving.
#include "tests/system/fixture.h"

namespace lamina::test {
namespace {

TEST_F(SystemTest, NetStackStartsAtBootAndRecoversAnIdleCrash) {
    // The shell (busybox init's console): the injection returns at once, and the system goes on
    // running while the watcher looks.
    auto& vm = boot({.direct = true});
    std::string started;
    ASSERT_TRUE(vm.wait_for(" over 'nic'; eth0 on DHCP", BOOT_TIMEOUT, started));
    EXPECT_NE(started.find("net: 'net' is the lwIP stack (domain "), std::string::npos) << started;
    ASSERT_TRUE(vm.wait_for("# ", BOOT_TIMEOUT));
    vm.send("domctl inject net panic\r");
    ASSERT_TRUE(vm.wait_for("): panic: fault injected by the kernel", 30s, started));
    EXPECT_NE(started.find("domain net (id "), std::string::npos) << started;
    // Nobody calls the stack: the watcher notices and makes the call that recovers it.
    ASSERT_TRUE(vm.wait_for("net: stack generation 3: 0 socket(s) replayed, 0 lost", 20s));
    ASSERT_TRUE(vm.wait_for("domain net: restarted after its death", 20s));
}

}  // namespace
}  // namespace lamina::test
