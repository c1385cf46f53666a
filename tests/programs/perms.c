// Users and permissions: started as root, a child drops to nobody (65534) and tries what Linux
// refuses it (reading root's private file, exec without execute permission, a search through a
// closed directory, unlinking another's file in a sticky directory, chmod, chown and utimensat
// of another's file, signalling root's processes, becoming root again, binding port 80,
// writing /proc/domctl), then what it may do (its own files, a set-user-id program that makes it root for one exec).
// Root's side: its override of read and write permission, but no exec without an execute bit.
// Each line is what Linux prints when the same binary runs as root on the host.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include "proc_test.h"

#define NOBODY 65534

static char dir[64];

static const char* err(int r) { return r == 0 ? "ok" : strerror(errno); }

static const char* at(const char* name) {
    static char path[4][128];
    static int next;
    char* p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

static int make_file(const char* name, int mode) {
    int fd = open(at(name), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0) return -1;
    int r = write(fd, "secret\n", 7) == 7 ? 0 : -1;
    close(fd);
    return r == 0 ? chmod(at(name), mode) : -1;
}

// A copy of this program (the set-user-id test runs it).
static int copy_self(const char* argv0, const char* name, int mode) {
    char src[600];
    const char* base = strrchr(argv0, '/');
    snprintf(src, sizeof src, "%s/%s", program_dir, base ? base + 1 : argv0);
    int in = open(src, O_RDONLY);
    if (in < 0) return -1;
    int out = open(at(name), O_CREAT | O_WRONLY | O_TRUNC, 0700);
    char buf[4096];
    ssize_t n;
    int ok = out >= 0;
    while (ok && (n = read(in, buf, sizeof buf)) > 0) ok = write(out, buf, (size_t)n) == n;
    close(in);
    if (out >= 0) close(out);
    return ok ? chmod(at(name), mode) : -1;
}

static const char* run(const char* name, const char* arg) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char* av[] = {"perms", (char*)arg, NULL};
        execv(at(name), av);
        printf("exec %s: %s\n", name, strerror(errno));
        _exit(126);
    }
    int status;
    waitpid(pid, &status, 0);
    return describe(status);
}

static void as_nobody(void) {
    int unused_root_fd = open(at("secret"), O_RDONLY);  // opened as root: stays usable
    CHECK(setgroups(0, NULL) == 0);
    CHECK(setgid(NOBODY) == 0);
    CHECK(setuid(NOBODY) == 0);
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("nobody: uid %u euid %u suid %u gid %u\n", r, e, s, getgid());
    printf("setuid(0): %s\n", err(setuid(0)));
    printf("setgroups: %s\n", err(setgroups(0, NULL)));
    struct __user_cap_header_struct {
        unsigned version;
        int pid;
    } h = {0x20080522, 0};
    unsigned caps[6] = {1, 1, 1, 1, 1, 1};
    CHECK(syscall(SYS_capget, &h, caps) == 0);
    printf("capabilities: effective %x permitted %x\n", caps[0] | caps[3], caps[1] | caps[4]);

    // Files.
    printf("open secret for reading: %s\n", err(open(at("secret"), O_RDONLY) < 0 ? -1 : 0));
    printf("open secret for writing: %s\n", err(open(at("secret"), O_WRONLY) < 0 ? -1 : 0));
    printf("access secret R_OK: %s\n", err(access(at("secret"), R_OK)));
    char c;
    printf("read through root's descriptor: %s\n", err(read(unused_root_fd, &c, 1) == 1 ? 0 : -1));
    printf("open public: %s\n", err(open(at("public"), O_RDONLY) < 0 ? -1 : 0));
    printf("write public: %s\n", err(open(at("public"), O_WRONLY) < 0 ? -1 : 0));
    struct stat st;
    printf("stat through a closed directory: %s\n", err(stat(at("private/inside"), &st)));
    printf("create in root's directory: %s\n", err(open(at("mine"), O_CREAT | O_WRONLY, 0644) < 0 ? -1 : 0));
    printf("exec without execute permission: %s\n", run("noexec", "hello"));
    printf("exec through a closed directory: %s\n", run("private/prog", "hello"));
    printf("exec allowed: %s\n", run("prog", "hello"));
    printf("exec set-user-id root: %s\n", run("suid", "whoami"));

    // Another's file.
    printf("chmod secret: %s\n", err(chmod(at("secret"), 0777)));
    printf("chown secret: %s\n", err(chown(at("secret"), NOBODY, NOBODY)));
    struct timespec times[2] = {{1, 0}, {1, 0}};
    printf("utimensat secret: %s\n", err(utimensat(AT_FDCWD, at("secret"), times, 0)));
    printf("truncate secret: %s\n", err(truncate(at("secret"), 0)));

    // The sticky directory: its own file comes and goes, root's stays.
    printf("unlink root's file in sticky dir: %s\n", err(unlink(at("sticky/roots"))));
    printf("rename root's file in sticky dir: %s\n", err(rename(at("sticky/roots"), at("sticky/moved"))));
    int fd = open(at("sticky/own"), O_CREAT | O_WRONLY, 0644);
    printf("create own file in sticky dir: %s\n", err(fd < 0 ? -1 : 0));
    close(fd);
    CHECK(stat(at("sticky/own"), &st) == 0 && st.st_uid == NOBODY && st.st_gid == NOBODY);
    printf("chmod own file: %s\n", err(chmod(at("sticky/own"), 0600)));
    printf("chown own file to root: %s\n", err(chown(at("sticky/own"), 0, 0)));
    printf("chgrp own file to root's group: %s\n", err(chown(at("sticky/own"), -1, 0)));
    printf("utimensat own file: %s\n", err(utimensat(AT_FDCWD, at("sticky/own"), times, 0)));
    printf("unlink own file in sticky dir: %s\n", err(unlink(at("sticky/own"))));

    // Signals: root's processes are out of reach, even to probe.
    printf("kill(parent, 0): %s\n", err(kill(getppid(), 0)));
    printf("kill(parent, SIGTERM): %s\n", err(kill(getppid(), SIGTERM)));
    printf("kill(1, 0): %s\n", err(kill(1, 0)));
    printf("kill(self, 0): %s\n", err(kill(getpid(), 0)));

    // Ports below 1024 are root's (CAP_NET_BIND_SERVICE); binding is all: no traffic.
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    printf("bind port 80: %s\n", err(bind(sock, (struct sockaddr*)&sin, sizeof sin)));
    sin.sin_port = 0;
    printf("bind an ephemeral port: %s\n", err(bind(sock, (struct sockaddr*)&sin, sizeof sin)));
    close(sock);

    // The domain control file is root's. (The host has none: the line Lamina prints is printed.)
    fd = open("/proc/domctl", O_WRONLY);
    if (fd < 0 && errno == ENOENT) errno = EACCES;
    printf("open /proc/domctl for writing: %s\n", err(fd < 0 ? -1 : 0));

    // No new privileges: the set-user-id bit is ignored from now on.
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    printf("no_new_privs: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    printf("exec set-user-id root with no_new_privs: %s\n", run("suid", "whoami"));
}

int main(int argc, char** argv) {
    unbuffered();
    if (argc == 2 && strcmp(argv[1], "hello") == 0) {
        // /proc/PID/cmdline: every argument, each ended by a NUL.
        char cmdline[256];
        int fd = open("/proc/self/cmdline", O_RDONLY);
        ssize_t n = fd < 0 ? -1 : read(fd, cmdline, sizeof cmdline - 1);
        for (ssize_t i = 0; i < n; i++)
            if (cmdline[i] == 0) cmdline[i] = '|';
        printf("  ran as uid %u, cmdline %.*s\n", getuid(), (int)(n < 0 ? 0 : n), cmdline);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "whoami") == 0) {
        printf("  uid %u euid %u secure %lu\n", getuid(), geteuid(), getauxval(AT_SECURE));
        printf("  open secret: %s\n", err(open("secret", O_RDONLY) < 0 ? -1 : 0));
        return 0;
    }
    find_program_dir();
    umask(022);
    snprintf(dir, sizeof dir, "/tmp/perms-XXXXXX");
    if (!mkdtemp(dir)) {
        printf("mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    CHECK(chmod(dir, 0755) == 0);
    CHECK(make_file("secret", 0600) == 0);
    CHECK(make_file("public", 0644) == 0);
    CHECK(mkdir(at("private"), 0700) == 0);
    CHECK(make_file("private/inside", 0644) == 0);
    CHECK(mkdir(at("sticky"), 0777) == 0 && chmod(at("sticky"), 01777) == 0);
    CHECK(make_file("sticky/roots", 0666) == 0);
    CHECK(copy_self(argv[0], "prog", 0755) == 0);
    CHECK(copy_self(argv[0], "noexec", 0644) == 0);
    CHECK(copy_self(argv[0], "private/prog", 0755) == 0);
    CHECK(copy_self(argv[0], "suid", 04755) == 0);
    CHECK(chdir(dir) == 0);

    // Root: read and write whatever the mode, but execute only with an execute bit somewhere.
    CHECK(make_file("none", 0000) == 0);
    printf("root opens a mode 0 file: %s\n", err(open(at("none"), O_RDWR) < 0 ? -1 : 0));
    printf("root execs a mode 0644 file: %s\n", run("noexec", "hello"));
    printf("root execs a mode 0755 file: %s\n", run("prog", "hello"));

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        as_nobody();
        _exit(failures ? 1 : 0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    printf("nobody's child: %s\n", describe(status));
    struct stat st;
    printf("root's file in sticky dir still there: %s\n", err(stat(at("sticky/roots"), &st)));
    CHECK(stat(at("secret"), &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_uid == 0);

    const char* names[] = {"secret", "public", "private/inside", "private/prog", "private", "sticky/roots",
                           "sticky", "prog",   "noexec",         "suid",         "none"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char* p = at(names[i]);
        CHECK(unlink(p) == 0 || (errno == EISDIR && rmdir(p) == 0));
    }
    CHECK(chdir("/") == 0 && rmdir(dir) == 0);
    return finish();
}
