// configure's command-line contract: --help succeeds, anything it does not know is a usage error
// (status 2) that changes nothing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace {

int status_of(const std::string& command, std::string* output = nullptr) {
    FILE* p = popen((command + " 2>&1").c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    std::string out;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    int st = pclose(p);
    if (output) *output = out;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
