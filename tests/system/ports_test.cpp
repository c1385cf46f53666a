// Issue 16's ports (ports/lua, ports/zstd, ports/sqlite): each program runs in Lamina on the
// ports image and on the host, the same static binary with the same input in the same kind of
// directory, and the outputs and exit statuses must be equal. The scripts are the image's
// /usr/share/ports-tests (tests/ports/rootfs). `ninja check-ports` runs these tests.
#include <stdlib.h>

#include <string>
#include <vector>

#include "tests/system/host_tools.h"
#include "tests/system/shell.h"

namespace lamina::test {
namespace {

const std::string SCRIPTS = "tests/ports/rootfs/usr/share/ports-tests";
const std::string GUEST_SCRIPTS = "/usr/share/ports-tests";

// A fresh host directory the host's side runs in, removed afterwards.
class HostDir {
public:
    HostDir() {
        char tmpl[] = "/tmp/lamina-ports-XXXXXX";
        if (mkdtemp(tmpl)) path_ = tmpl;
    }
    ~HostDir() {
        if (!path_.empty()) run_command("rm -rf '" + path_ + "'");
    }
    HostDir(const HostDir&) = delete;
    HostDir& operator=(const HostDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// The absolute path of a port's installed program (the host's side runs in another directory).
std::string port_binary(const std::string& port, const std::string& name) {
    std::string path = build_dir() + "/ports/" + port + "/root/usr/bin/" + name;
    char* real = realpath(path.c_str(), nullptr);
    if (!real) return path;
    std::string r = real;
    free(real);
    return r;
}

class Ports : public ShellTest {
protected:
    // Boots the ports image and finds the port's program for the host's side; false (the
    // failure recorded) when something is missing.
    bool start_ports(const std::string& port, const std::string& name) {
        start({.profile = "ports", .direct = true, .memory = "768M"});
        program_ = port_binary(port, name);
        EXPECT_FALSE(host_.path().empty());
        EXPECT_EQ(static_binary_problem(program_), "");
        return !HasFailure();
    }
    // COMMAND run by sh in the host's directory.
    CommandResult on_host(const std::string& command) { return run_command("cd '" + host_.path() + "' && " + command); }
    // Copies the image's scripts of one port into the host's directory.
    bool copy_scripts(const std::string& files) {
        return run_command("cp " + SCRIPTS + "/" + files + " '" + host_.path() + "'").status == 0;
    }

    HostDir host_;
    std::string program_;
};

// Lua's scripts in a scratch directory (io.lua and os.lua make files in the current directory;
// error messages name the script as given), with only one variable in the environment.
TEST_F(Ports, LuaScriptsSameAsHost) {
    ASSERT_TRUE(start_ports("lua", "lua"));
    Shell& sh = *shell_;
    ASSERT_TRUE(copy_scripts("lua/*.lua"));
    ASSERT_EQ(sh.run("mkdir -p /tmp/lua && cp " + GUEST_SCRIPTS + "/lua/*.lua /tmp/lua && cd /tmp/lua"), "");
    struct Script {
        const char* name;
        int status;
    };
    for (Script s :
         {Script{"strings", 0}, Script{"tables", 0}, Script{"coroutines", 0}, Script{"os", 5}, Script{"io", 0}}) {
        SCOPED_TRACE(s.name);
        std::string run = std::string("env -i LAMINA_PORT_TEST=yes PATH=/usr/bin:/bin ");
        auto want = on_host(run + program_ + " " + s.name + ".lua");
        EXPECT_EQ(want.status, s.status);
        EXPECT_GT(want.output.size(), 100u) << want.output;  // the script ran, not an error
        std::string got = sh.run(run + "lua " + s.name + ".lua 2>&1", 300s);
        EXPECT_EQ(sh.status(), s.status);
        EXPECT_EQ(got, want.output);
    }
}

// zstd -T2 on 64 MiB: the same compressed bytes as the host's run, and the round trip gives
// the input back. The input is seq's output, made on each side (its md5 is compared too).
TEST_F(Ports, ZstdMultiThreadedSameAsHost) {
    ASSERT_TRUE(start_ports("zstd", "zstd"));
    Shell& sh = *shell_;
    const std::string make_input = "seq 1 9000000 | head -c 67108864 > big && md5sum < big";
    const std::string compress = " -T2 -q -c big > big.zst && md5sum < big.zst && wc -c < big.zst";
    const std::string round_trip = " -T2 -d -q -c big.zst | md5sum";
    auto want_input = on_host(make_input);
    ASSERT_EQ(want_input.status, 0) << want_input.output;
    auto want_zst = on_host(program_ + compress);
    ASSERT_EQ(want_zst.status, 0) << want_zst.output;
    // The host's round trip gives the input back, so the guest's is checked against both.
    auto want_back = on_host(program_ + round_trip);
    ASSERT_EQ(want_back.output, want_input.output);

    EXPECT_EQ(sh.run("mkdir -p /tmp/z && cd /tmp/z"), "");
    EXPECT_EQ(sh.run(make_input, 600s), want_input.output);
    EXPECT_EQ(sh.status(), 0);
    EXPECT_EQ(sh.run("zstd" + compress, 600s), want_zst.output);
    EXPECT_EQ(sh.status(), 0);
    EXPECT_EQ(sh.run("zstd" + round_trip, 600s), want_input.output);
    EXPECT_EQ(sh.status(), 0);
}

// sqlite3's shell runs the SQL script on a database file (rollback journal, then WAL with its
// shared-memory index, VACUUM); the script's last statement fails on purpose, so the error
// message and the exit status 1 are compared too.
TEST_F(Ports, SqliteScriptSameAsHost) {
    ASSERT_TRUE(start_ports("sqlite", "sqlite3"));
    Shell& sh = *shell_;
    ASSERT_TRUE(copy_scripts("sqlite/script.sql"));
    auto want = on_host(program_ + " test.db < script.sql 2>&1");
    EXPECT_EQ(want.status, 1);
    ASSERT_NE(want.output.find("UNIQUE constraint failed"), std::string::npos) << want.output;
    EXPECT_EQ(sh.run("mkdir -p /tmp/sql && cd /tmp/sql"), "");
    EXPECT_EQ(sh.run("sqlite3 test.db < " + GUEST_SCRIPTS + "/sqlite/script.sql 2>&1", 600s), want.output);
    EXPECT_EQ(sh.status(), 1);
    // The database the guest left is sound by sqlite's own check, read by a second process.
    EXPECT_EQ(sh.run("sqlite3 test.db 'PRAGMA integrity_check; SELECT count(*) FROM emp;'"), "ok\n2000\n");
}

// sqlite's locks between processes (fcntl record locks): a writer inside BEGIN EXCLUSIVE keeps a
// second process out (SQLITE_BUSY, no busy timeout) until it commits; then the second sees its row.
TEST_F(Ports, SqliteLocksBetweenProcesses) {
    ASSERT_TRUE(start_ports("sqlite", "sqlite3"));
    Shell& sh = *shell_;
    EXPECT_EQ(
        sh.run("mkdir -p /tmp/lock && cd /tmp/lock && sqlite3 l.db 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'"),
        "");
    // The writer holds its transaction open until the file `release` appears; job control off,
    // so that no job notice lands in a later command's output.
    sh.run(
        "set +m; (echo 'BEGIN EXCLUSIVE;'; echo 'INSERT INTO t VALUES (2);'; "
        "while [ ! -f release ]; do sleep 0.1; done; echo 'COMMIT;') | sqlite3 l.db & holder=$!");
    std::string locked = sh.poll("sqlite3 l.db 'SELECT count(*) FROM t' 2>&1 | grep -c 'database is locked'", "1\n");
    EXPECT_EQ(locked, "1\n") << "a second process read through the writer's exclusive lock";
    EXPECT_EQ(sh.run("touch release; wait $holder; echo $?"), "0\n");
    EXPECT_EQ(sh.run("sqlite3 l.db 'SELECT count(*) FROM t'"), "2\n");
}

}  // namespace
}  // namespace lamina::test
