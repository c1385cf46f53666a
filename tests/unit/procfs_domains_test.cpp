// /proc/domains' text (posix::format_domains): the key=value contract userland/domctl/README.md
// describes and domctl parses, one line per domain.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "kernel/posix/fs/procfs.h"

using namespace lamina;

namespace {

domain::Status status(uint32_t id, const char* name, domain::State state) {
    domain::Status s;
    s.id = id;
    std::strncpy(s.name, name, sizeof(s.name) - 1);
    s.state = state;
    return s;
}

std::string text_of(const domain::Status* d, size_t n) {
    posix::ProcText out;
    posix::format_domains(out, d, n);
    EXPECT_FALSE(out.failed());
    return std::string(out.data() ? out.data() : "", out.size());
}

TEST(ProcDomains, OneLineOfEveryFieldPerDomain) {
    domain::Status d[2] = {status(3, "nvme", domain::State::Running), status(9, "fs", domain::State::Failed)};
    d[0].counters = {
        .calls_in = 10, .calls_out = 2, .faults = 1, .heap_pages = 4, .image_pages = 12, .restarts = 1, .updates = 2};
    d[0].version_major = 1;
    d[0].version_minor = 12;
    d[0].exchange_objects = 33;
    d[0].threads = 2;
    d[0].threads_inside = 1;
    EXPECT_EQ(text_of(d, 2),
              "id=3 name=nvme state=running restarts=1 faults=1 calls_in=10 calls_out=2 heap_pages=4 "
              "exchange_objects=33 threads=2 threads_inside=1 image_pages=12 version=1.12 updates=2\n"
              "id=9 name=fs state=faulted restarts=0 faults=0 calls_in=0 calls_out=0 heap_pages=0 "
              "exchange_objects=0 threads=0 threads_inside=0 image_pages=0 version=0.0 updates=0\n");
}

TEST(ProcDomains, StatesHaveTheirProcNames) {
    domain::Status d[4] = {status(1, "a", domain::State::Created), status(2, "b", domain::State::Dead),
                           status(3, "c", domain::State::Running), status(4, "d", domain::State::Running)};
    d[3].restarting = true;  // a restart under way shows over the state
    std::string text = text_of(d, 4);
    EXPECT_NE(text.find("name=a state=starting "), std::string::npos) << text;
    EXPECT_NE(text.find("name=b state=stopped "), std::string::npos) << text;
    EXPECT_NE(text.find("name=c state=running "), std::string::npos) << text;
    EXPECT_NE(text.find("name=d state=restarting "), std::string::npos) << text;
}

TEST(ProcDomains, NoDomainsIsEmpty) { EXPECT_EQ(text_of(nullptr, 0), ""); }

}  // namespace
