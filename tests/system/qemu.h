// A QEMU machine for system tests: boots an image through images/run (UEFI, or --direct), reads
// the serial console, sends input, and reports QEMU's exit status.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace lamina::test {

struct BootOptions {
    std::string profile = "test";  // images/profiles/NAME, built as BUILD/images/NAME.img
    bool direct = false;           // qboot + -kernel instead of OVMF + GRUB
    int smp = 2;
    std::string memory = "512M";
    std::string append;  // extra kernel command line
    int host_port = 0;   // forward 127.0.0.1:host_port to guest port 80; 0: none
    // More user-network rules (images/run --forward): "hostfwd=tcp:127.0.0.1:P-:G" or
    // "guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:P".
    std::vector<std::string> forwards;
    std::string image;     // a disk image to boot instead of the profile's
    bool snapshot = true;  // false: the guest writes to the image itself
    // An Intel IOMMU in front of the devices (images/run --iommu); LAMINA_IOMMU=off in the
    // environment turns it off for every test.
    bool iommu = true;
};

class Qemu {
public:
    // Starts QEMU; the serial log goes to log_path as well as into output().
    Qemu(const BootOptions& options, const std::string& log_path);
    ~Qemu();
    Qemu(const Qemu&) = delete;
    Qemu& operator=(const Qemu&) = delete;

    // Reads the console until text appears after the read position. On success the read
    // position moves past it. False on timeout or when QEMU exits first.
    bool wait_for(const std::string& text, std::chrono::milliseconds timeout);
    // Like wait_for, returning the console text between the old read position and the match.
    bool wait_for(const std::string& text, std::chrono::milliseconds timeout, std::string& before);
    void send(const std::string& text);
    // Waits for QEMU to exit; returns its exit status, or -1 on timeout (QEMU is then killed).
    int wait_exit(std::chrono::milliseconds timeout);
    // Pulls the plug: SIGKILL, no shutdown of any kind (what the disk image holds is what the
    // guest's completed writes left).
    void power_cut();

    const std::string& output() const { return output_; }
    const std::string& log_path() const { return log_path_; }
    bool running() const { return pid_ > 0; }

private:
    // Reads what is available within the deadline; false when the pipe closed.
    bool pump(std::chrono::steady_clock::time_point deadline);
    void reap(bool block);
    void kill_machine();

    pid_t pid_ = -1;
    int out_fd_ = -1;
    int in_fd_ = -1;
    int status_ = -1;
    std::string output_;
    size_t read_pos_ = 0;
    std::string log_path_;
    int log_fd_ = -1;
};

// The build directory and accelerator the tests run with (from tests/check's environment).
std::string build_dir();
std::string accel();
// A free TCP port on 127.0.0.1 for a forward.
int free_local_port();

}  // namespace lamina::test
