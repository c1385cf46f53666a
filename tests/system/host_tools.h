// What system tests do on the host around a machine: run a command, make a private writable
// copy of a built disk image, and find its ext2 root partition for e2fsck and debugfs.
//
// Every program a test starts on the host begins with every signal at its default action and
// none blocked, whatever the test program inherited (a shell's background job ignores SIGINT
// and SIGQUIT; the QEMU harness ignores SIGPIPE): host runs are compared with runs in Lamina,
// where init starts with defaults.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

struct sock_fprog;

namespace lamina::test {

struct CommandResult {
    int status;          // the exit status, or -1 when the command could not run or was killed
    std::string output;  // standard output and standard error
};
// Runs `sh -c COMMAND` with default signal dispositions and an empty mask.
CommandResult run_command(const std::string& command);

// In a child between fork and exec (async-signal-safe): every signal back to its default
// action, the signal mask emptied.
void default_signals();

// Starts argv[0] with exactly argv and env (default signals, empty mask), standard input from
// the file stdin_path (/dev/null when empty), standard output and error into the files out_path
// and err_path (both may be the same file), and, when filter is given, that seccomp filter
// installed (with no_new_privs) just before exec. Returns the pid, or -1.
pid_t spawn_program(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    const std::string& stdin_path, const std::string& out_path, const std::string& err_path,
                    const sock_fprog* filter = nullptr);

struct ProgramResult {
    int status = -1;  // the exit status, or -1 when it could not run or was killed
    std::string out, err;
};
// spawn_program, then waits; the output files are made as dir/stdout and dir/stderr, the input
// (input's bytes) as dir/stdin.
ProgramResult run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& dir, const std::string& input = "", const sock_fprog* filter = nullptr);

// A whole file's bytes (empty when it cannot be read), and a file made to hold exactly text.
std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);

// Empty when path is a static x86-64 executable (what Lamina runs); otherwise what is wrong,
// with readelf's account.
std::string static_binary_problem(const std::string& path);

// A copy of BUILD/images/PROFILE.img, named PROFILE.img (images/run finds the profile by the
// name) in a fresh temporary directory, which the destructor removes. Boot it with
// BootOptions{.image = copy.path(), .snapshot = false} so the guest writes reach it.
class ImageCopy {
public:
    explicit ImageCopy(const std::string& profile = "test");
    ~ImageCopy();
    ImageCopy(const ImageCopy&) = delete;
    ImageCopy& operator=(const ImageCopy&) = delete;
    bool ok() const { return ok_; }
    const std::string& path() const { return path_; }

private:
    std::string dir_, path_;
    bool ok_ = false;
};

// "IMAGE?offset=BYTES" of the image's GPT partition 2 (the ext2 root), as e2fsck and debugfs
// take it; empty when sgdisk cannot tell.
std::string root_partition(const std::string& image);

}  // namespace lamina::test
