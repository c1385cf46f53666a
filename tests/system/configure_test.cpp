// configure's command-line contract: --help succeeds, anything it does not know is a usage error
// (status 2) that changes nothing.
#include <gtest/gtest.h>

#include <string>

#include "tests/system/host_tools.h"

namespace {

int status_of(const std::string& command, std::string* output = nullptr) {
    auto r = lamina::test::run_command(command);
    if (output) *output = r.output;
    return r.status;
}

TEST(Configure, HelpDescribesTheOptions) {
    std::string out;
    EXPECT_EQ(status_of("./configure --help", &out), 0);
    for (const char* opt : {"--accel=tcg|kvm", "--build-dir=DIR", "--profile=NAME", "ninja check"})
        EXPECT_NE(out.find(opt), std::string::npos) << opt << " missing from:\n" << out;
}

TEST(Configure, RejectsUnknownOptionsWithStatus2) {
    std::string out;
    EXPECT_EQ(status_of("./configure --frobnicate", &out), 2);
    EXPECT_NE(out.find("unknown option '--frobnicate'"), std::string::npos) << out;
    EXPECT_EQ(status_of("./configure --accel=xen"), 2);
    EXPECT_EQ(status_of("./configure --profile=no-such-profile"), 2);
    EXPECT_EQ(status_of("./configure --build-dir=/tmp/elsewhere"), 2);
}

}  // namespace
