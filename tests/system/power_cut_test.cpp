// Power cuts on the ext3 root (issue 18). A shell loop on the guest writes files, fsyncs them,
// renames them into place and unlinks older ones, reporting each step on the console after it
// returned; QEMU is killed (SIGKILL, no shutdown) at a random point. After each cut e2fsprogs
// replays the journal of a copy and finds the file system clean; the next boot (Lamina replays
// the journal itself) lists the files: every one whose rename was reported and followed by a
// sync that returned (the next file's) is there with the content it was fsync'ed with, every
// unlink so followed stuck, and nothing else is damaged: a rename or unlink is durable at the
// next sync, fsync or commit timer, as on Linux (the fs domain logs it as a pending commit,
// docs/fs.md). The last boot powers off and e2fsck -fn finds the image clean.
//
// LAMINA_POWER_CUTS (default 3) sets the number of cuts, LAMINA_POWER_CUT_SEED (default 1)
// the random choices; `ninja power-cut` runs a longer campaign with a fresh seed.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/system/fixture.h"
#include "tests/system/host_tools.h"

namespace lamina::test {
namespace {

constexpr auto CMD_TIMEOUT = 120s;

uint64_t env_number(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// What the console reported about one file (cycle C's file i is /root/pc/cC_fI).
struct Reported {
    std::string md5;               // its rename returned: if it exists, with this content
    bool renamed_synced = false;   // and a sync returned after it: it must exist
    bool unlinking = false;        // its unlink began: it may be gone
    bool unlinked = false;         // its unlink returned: it may be gone
    bool unlinked_synced = false;  // and a sync returned after it: it must be gone
};

// The line without the prompts the shell printed before it.
const char* after_prompts(const std::string& line) {
    size_t at = 0;
    while (line.compare(at, 2, "# ") == 0) at += 2;
    return line.c_str() + at;
}

// The content the loop writes to file i: `seq i i+(i*37 % 2000)`.
std::string expected_md5(int i) {
    auto r = run_command("seq " + std::to_string(i) + " " + std::to_string(i + i * 37 % 2000) + " | md5sum");
    return r.output.substr(0, 32);
}

class PowerCut : public SystemTest {
protected:
    Qemu& start(const std::string& image) {
        Qemu& vm = boot({.direct = true, .image = image, .snapshot = false});
        EXPECT_TRUE(vm.wait_for("# ", BOOT_TIMEOUT)) << "no shell prompt";
        run(vm, "stty -echo; export PS1='# '");
        return vm;
    }

    // Runs `line` and returns its output (up to a marker that only the real output holds).
    std::string run(Qemu& vm, const std::string& line) {
        std::string id = std::to_string(++marker_);
        vm.send(line + "; echo '@@'" + id + "'@@'\r");
        std::string out;
        if (!vm.wait_for("@@" + id + "@@", CMD_TIMEOUT, out)) return "<timeout>";
        std::erase(out, '\r');
        return out;
    }

    // Every file the console reported, checked against what the guest lists now.
    void check_files(Qemu& vm) {
        std::string listing = run(vm, "cd /root/pc 2>/dev/null && md5sum c*_f* 2>/dev/null; cd /");
        std::map<std::string, std::string> present;
        std::istringstream in(listing);
        std::string line;
        while (std::getline(in, line)) {
            char md5[33], file[64];
            if (std::sscanf(after_prompts(line), "%32[0-9a-f]  %63s", md5, file) == 2 && std::strlen(md5) == 32 &&
                file[0] == 'c')
                present[file] = md5;
        }
        for (auto& [name, r] : reported_) {
            auto it = present.find(name);
            if (r.unlinked_synced) {
                EXPECT_EQ(it, present.end()) << name << " was unlinked, a sync returned after, but it is back";
            } else if (it == present.end()) {
                EXPECT_TRUE(r.unlinking || !r.renamed_synced)
                    << name << " was renamed into place (after its fsync), a sync returned after, but it is gone";
            } else {
                EXPECT_EQ(it->second, r.md5) << name << " does not hold what was fsync'ed";
            }
        }
        // A file renamed into place but not yet reported holds its fsync'ed content too.
        for (auto& [name, md5] : present) {
            if (reported_.count(name)) continue;
            int i = std::atoi(name.substr(name.find("_f") + 2).c_str());
            EXPECT_EQ(md5, expected_md5(i)) << name << " (not reported) is damaged";
        }
    }

    // One cycle of the loop, cut after `acks` reported files and `delay` more.
    void write_until_cut(Qemu& vm, int cycle, int acks, std::chrono::milliseconds delay) {
        std::string c = std::to_string(cycle);
        vm.send("mkdir -p /root/pc && cd /root/pc && i=0; while [ $i -lt 100000 ]; do f=c" + c +
                "_f$i; seq $i $((i + i * 37 % 2000)) > t$i && sync t$i && mv t$i $f && echo \"A " + c +
                " $i $(md5sum < $f)\"; if [ $((i % 3)) = 0 ] && [ $i -ge 3 ]; then echo \"R " + c +
                " $((i - 3))\"; rm c" + c + "_f$((i - 3)) && echo \"D " + c +
                " $((i - 3))\"; fi; echo unsynced $i > u" + c + "_$i; i=$((i + 1)); done\r");
        ASSERT_TRUE(vm.wait_for("A " + c + " " + std::to_string(acks) + " ", CMD_TIMEOUT)) << "the loop stalled";
        std::this_thread::sleep_for(delay);
        vm.power_cut();
        vm.wait_exit(10s);  // drains what QEMU wrote before it died
        std::istringstream in(vm.output());
        std::string line;
        std::vector<Reported*> awaiting_sync;  // renames and unlinks reported since the last A
        while (std::getline(in, line)) {
            if (in.eof()) break;  // a line the cut left unfinished
            char kind;
            int run, i;
            char md5[33] = "";
            int fields = std::sscanf(after_prompts(line), "%c %d %d %32[0-9a-f]", &kind, &run, &i, md5);
            if (fields < 3 || run != cycle || (kind != 'A' && kind != 'R' && kind != 'D')) continue;
            Reported& r = reported_["c" + c + "_f" + std::to_string(i)];
            if (kind == 'A') {
                // The loop printed it after `sync t$i` returned: what came before is durable.
                for (Reported* earlier : awaiting_sync) {
                    earlier->renamed_synced = true;
                    earlier->unlinked_synced = earlier->unlinked;
                }
                awaiting_sync.clear();
            }
            if (kind == 'A' && fields == 4 && std::strlen(md5) == 32) r.md5 = md5;
            if (kind == 'R') r.unlinking = true;
            if (kind == 'D') r.unlinked = true;
            if (kind == 'A' || kind == 'D') awaiting_sync.push_back(&r);
        }
    }

    std::map<std::string, Reported> reported_;
    int marker_ = 0;
};

TEST_F(PowerCut, FsyncedFilesSurviveAndTheJournalLeavesACleanFileSystem) {
    const auto cuts = static_cast<int>(env_number("LAMINA_POWER_CUTS", 3));
    const auto seed = env_number("LAMINA_POWER_CUT_SEED", 1);
    SCOPED_TRACE("LAMINA_POWER_CUT_SEED=" + std::to_string(seed));
    std::mt19937 rng(static_cast<uint32_t>(seed));
    ImageCopy copy;
    ASSERT_TRUE(copy.ok());
    const std::string& image = copy.path();
    int replays = 0;
    for (int cycle = 1; cycle <= cuts; cycle++) {
        SCOPED_TRACE("cycle " + std::to_string(cycle));
        Qemu& vm = start(image);
        replays += vm.output().find("journal: replayed") != std::string::npos;
        check_files(vm);
        int acks = 2 + static_cast<int>(rng() % 15);
        auto delay = std::chrono::milliseconds(rng() % 500);
        write_until_cut(vm, cycle, acks, delay);
        if (HasFailure()) return;
        // e2fsprogs' own replay of Lamina's journal, on a copy of the partition (e2fsck loses
        // an ?offset= when it reopens the file system after the replay): the result is clean.
        std::string part = root_partition(image);
        ASSERT_NE(part.find("?offset="), std::string::npos);
        std::string snapshot = image + ".cut";
        ASSERT_EQ(run_command("dd if='" + image + "' of='" + snapshot +
                              "' bs=1M iflag=skip_bytes conv=sparse skip=" + part.substr(part.find("?offset=") + 8))
                      .status,
                  0);
        auto replay = run_command("e2fsck -fy -E journal_only '" + snapshot + "'");
        EXPECT_LE(replay.status, 1) << replay.output;
        auto fsck = run_command("e2fsck -fn '" + snapshot + "'");
        EXPECT_EQ(fsck.status, 0) << fsck.output;
        std::remove(snapshot.c_str());
        if (HasFailure()) return;
    }
    Qemu& vm = start(image);
    replays += vm.output().find("journal: replayed") != std::string::npos;
    check_files(vm);
    vm.send("poweroff\r");
    EXPECT_TRUE(vm.wait_for("lamina: powering off", CMD_TIMEOUT));
    EXPECT_EQ(vm.wait_exit(60s), 0);
    auto fsck = run_command("e2fsck -fn '" + root_partition(image) + "'");
    EXPECT_EQ(fsck.status, 0) << fsck.output;
    std::printf("power cuts: %d, files reported: %zu, boots that replayed the journal: %d\n", cuts, reported_.size(),
                replays);
}

}  // namespace
}  // namespace lamina::test
