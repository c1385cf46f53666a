#include "tests/system/host_tools.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/system/qemu.h"

namespace lamina::test {

void default_signals() {
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    // SIGKILL and SIGSTOP refuse (EINVAL), as do the two realtime signals glibc keeps; both
    // are at their defaults anyway.
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
}

// popen would hand the shell the caller's ignored signals, hence fork and exec by hand.
CommandResult run_command(const std::string& command) {
    CommandResult r{-1, {}};
    int fds[2];
    if (pipe(fds) != 0) return r;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return r;
    }
    if (pid == 0) {
        default_signals();
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(fds[1]);
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0) r.output.append(buf, size_t(n));
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

pid_t spawn_program(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    const std::string& stdin_path, const std::string& out_path, const std::string& err_path,
                    const sock_fprog* filter) {
    if (argv.empty()) return -1;
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const char* in = stdin_path.empty() ? "/dev/null" : stdin_path.c_str();
    pid_t pid = fork();
    if (pid == 0) {
        // Only async-signal-safe calls from here on.
        default_signals();
        int i = open(in, O_RDONLY);
        int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = out_path == err_path ? o : open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(120);
        if (filter) {
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(121);
            if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, filter) != 0) _exit(122);
        }
        execve(args[0], args.data(), envp.data());
        _exit(123);
    }
    return pid;
}

ProgramResult run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& dir, const std::string& input, const sock_fprog* filter) {
    ProgramResult r;
    std::string in = dir + "/stdin", out = dir + "/stdout", err = dir + "/stderr";
    write_text(in, input);
    pid_t pid = spawn_program(argv, env, in, out, err, filter);
    int st = 0;
    if (pid < 0) return r;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
}

std::string static_binary_problem(const std::string& path) {
    auto [status, text] = run_command("readelf -lh '" + path + "'");
    if (status != 0) return "readelf failed:\n" + text;
    if (text.find("Advanced Micro Devices X86-64") == std::string::npos) return "not an x86-64 ELF:\n" + text;
    if (text.find("INTERP") != std::string::npos || text.find("DYNAMIC") != std::string::npos)
        return path + " is not static:\n" + text;
    return "";
}

ImageCopy::ImageCopy(const std::string& profile) {
    char tmpl[] = "/tmp/lamina-image-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir_ = tmpl;
    path_ = dir_ + "/" + profile + ".img";
    ok_ =
        run_command("cp --sparse=always '" + build_dir() + "/images/" + profile + ".img' '" + path_ + "'").status == 0;
}

ImageCopy::~ImageCopy() {
    if (!dir_.empty()) run_command("rm -rf '" + dir_ + "'");
}

std::string root_partition(const std::string& image) {
    auto r = run_command("sgdisk -i 2 '" + image + "'");
    auto at = r.output.find("First sector: ");
    if (r.status != 0 || at == std::string::npos) return {};
    return image + "?offset=" + std::to_string(std::stoull(r.output.substr(at + 14)) * 512);
}

}  // namespace lamina::test
