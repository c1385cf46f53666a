// lamina:portable
// procfs: /proc as a file system whose files are made when they are opened. The tree:
//   /proc/self -> PID of the caller (a symlink)      /proc/meminfo /proc/uptime /proc/mounts
//   /proc/PID/{stat,cmdline,status}                  /proc/domains (read) /proc/domctl (write)
//   /proc/PID/task/TID/{stat,cmdline,status} (one directory per thread; the process's text)
//   /proc/profile (the sampling profiler: write start/stop/reset, read the samples)
//   /proc/net/dev   /proc/sys/vm/drop_caches (write 1, 2 or 3: the file system's caches go)
// What the files say comes from a ProcSource (the kernel's: the process table, the memory
// manager, the mount table, the domain manager; host tests use a fake). A file's text is made
// once, at open, into a buffer the description reads from, so a reader sees one consistent
// snapshot however small its reads are (as seq_file gives on Linux for small files).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/format.h>
#include <lamina/result.h>

#include "kernel/domain/status.h"
#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/vfs/inode.h"

namespace lamina::posix {

enum class ProcFile : uint8_t {
    MemInfo,
    Uptime,
    Mounts,
    Domains,
    DomCtl,
    PidStat,
    PidCmdline,
    PidStatus,
    NetDev,
    Profile,
    NetRoute,
    NetTcp,
    NetUdp,
    NetTcp6,
    NetUdp6,
    DropCaches,
    CmdLine
};

// A growing text buffer (the file's contents).
class ProcText final : public FormatSink {
public:
    ~ProcText();
    void put(const char* s, size_t n) override;
    [[gnu::format(printf, 2, 3)]] void printf(const char* fmt, ...);
    const char* data() const { return data_; }
    size_t size() const { return size_; }
    bool failed() const { return failed_; }

private:
    char* data_ = nullptr;
    size_t size_ = 0, cap_ = 0;
    bool failed_ = false;
};

class ProcSource {
public:
    // Live process ids, ascending; returns how many (at most max written).
    virtual size_t pids(uint32_t* out, size_t max) = 0;
    virtual bool pid_exists(uint32_t pid) = 0;
    // The thread ids of process pid, ascending (/proc/PID/task); a source without threads has
    // one, the pid.
    virtual size_t tids(uint32_t pid, uint32_t* out, size_t max) {
        if (!max || !pid_exists(pid)) return 0;
        out[0] = pid;
        return 1;
    }
    // The caller's pid (/proc/self); 0 when there is none (a kernel thread): ENOENT.
    virtual uint32_t self_pid() = 0;
    // The text of a file (pid is 0 for the global ones). NoEnt when the process is gone.
    virtual Result<void> generate(ProcFile file, uint32_t pid, ProcText& out) = 0;
    // A write to a writable file (/proc/domctl, /proc/profile, /proc/sys/vm/drop_caches). The
    // source checks the writer's privilege.
    virtual Result<size_t> write(ProcFile file, const char* data, size_t n) = 0;
    // Who /proc/PID and its files belong to: the process's effective ids, as on Linux (root
    // when the process is gone or the source does not say).
    virtual void owner(uint32_t pid, uint32_t& uid, uint32_t& gid) {
        (void)pid;
        uid = gid = 0;
    }

protected:
    ~ProcSource() = default;
};

// The /proc/domains text: one line of key=value fields per domain (id, name, state, restarts,
// faults, calls_in, calls_out, heap_pages, exchange_objects, threads, threads_inside,
// image_pages), the contract userland/domctl/README.md describes.
void format_domains(ProcText& out, const domain::Status* domains, size_t count);

// One interface's line of /proc/net/dev: the counters Linux shows (its other columns, fifo,
// frame, compressed, multicast, colls, carrier, are 0 here).
struct NetDevRow {
    char name[16];
    uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
    uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};
// The /proc/net/dev text: Linux's two header lines, then one line per interface, in the
// layout busybox ifconfig and netstat parse.
void format_net_dev(ProcText& out, const NetDevRow* rows, size_t count);

// The root directory of a new procfs instance; `dev` is its st_dev.
Result<RefPtr<Inode>> make_procfs(ProcSource& source, uint64_t dev);

}  // namespace lamina::posix
