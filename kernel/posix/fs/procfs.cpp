// lamina:portable
#include "kernel/posix/fs/procfs.h"

#include <new>
#include <stdarg.h>

#include "kernel/posix/vfs/mount.h"
#include "kernel/posix/vfs/vnode_file.h"

namespace lamina::posix {

ProcText::~ProcText() { delete[] data_; }

void ProcText::put(const char* s, size_t n) {
    if (failed_) return;
    if (size_ + n > cap_) {
        size_t cap = cap_ ? cap_ : 256;
        while (cap < size_ + n) cap *= 2;
        char* d = new (std::nothrow) char[cap];
        if (!d) {
            failed_ = true;
            return;
        }
        if (size_) __builtin_memcpy(d, data_, size_);
        delete[] data_;
        data_ = d;
        cap_ = cap;
    }
    __builtin_memcpy(data_ + size_, s, n);
    size_ += n;
}

void ProcText::printf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vformat(*this, fmt, ap);
    va_end(ap);
}

void format_domains(ProcText& out, const domain::Status* domains, size_t count) {
    // The /proc/domains contract (userland/domctl/README.md): key=value fields, one domain a line.
    static const char* const STATES[] = {"starting", "running", "faulted", "stopped"};
    for (size_t i = 0; i < count; i++) {
        const domain::Status& d = domains[i];
        const domain::Counters& c = d.counters;
        out.printf(
            "id=%u name=%s state=%s restarts=%lu faults=%lu calls_in=%lu calls_out=%lu heap_pages=%lu "
            "exchange_objects=%zu threads=%zu threads_inside=%u image_pages=%lu version=%u.%u updates=%lu\n",
            d.id, d.name, d.restarting ? "restarting" : STATES[uint32_t(d.state) & 3], (unsigned long)c.restarts,
            (unsigned long)c.faults, (unsigned long)c.calls_in, (unsigned long)c.calls_out, (unsigned long)c.heap_pages,
            d.exchange_objects, d.threads, d.threads_inside, (unsigned long)c.image_pages, d.version_major,
            d.version_minor, (unsigned long)c.updates);
    }
}

void format_net_dev(ProcText& out, const NetDevRow* rows, size_t count) {
    // Linux's layout (readers such as busybox find the column set from the second header line).
    out.printf(
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|"
        "bytes    packets errs drop fifo colls carrier compressed\n");
    for (size_t i = 0; i < count; i++) {
        const NetDevRow& r = rows[i];
        const unsigned long none = 0;
        out.printf("%6s: %7lu %7lu %4lu %4lu %4lu %5lu %10lu %9lu %8lu %7lu %4lu %4lu %4lu %5lu %7lu %10lu\n", r.name,
                   (unsigned long)r.rx_bytes, (unsigned long)r.rx_packets, (unsigned long)r.rx_errors,
                   (unsigned long)r.rx_dropped, none, none, none, none, (unsigned long)r.tx_bytes,
                   (unsigned long)r.tx_packets, (unsigned long)r.tx_errors, (unsigned long)r.tx_dropped, none, none,
                   none, none);
    }
}

namespace {

// Inode numbers: fixed ones for the global entries, PID-derived ones for the rest.
constexpr uint64_t ROOT_INO = 1, SELF_INO = 2, NET_DIR_INO = 3, SYS_DIR_INO = 4, VM_DIR_INO = 5, FILE_INO = 16,
                   NET_FILE_INO = 48, VM_FILE_INO = 56;
uint64_t pid_dir_ino(uint32_t pid) { return (uint64_t(pid) << 8) | 0x80; }
uint64_t pid_file_ino(uint32_t pid, ProcFile f) { return (uint64_t(pid) << 8) | 0x80 | (uint64_t(f) + 1); }
// /proc/PID/task, and a thread's directory and files under it (apart from the process's own).
uint64_t task_dir_ino(uint32_t pid) { return (uint64_t(pid) << 8) | 0xc0; }
constexpr uint64_t THREAD_INO = 0x20;  // or'ed into a thread's directory and file numbers

struct Fs {
    ProcSource& source;
    uint64_t dev;
};

struct GlobalFile {
    const char* name;
    ProcFile file;
    uint32_t perm;
};
constexpr GlobalFile GLOBAL_FILES[] = {
    {"meminfo", ProcFile::MemInfo, 0444}, {"uptime", ProcFile::Uptime, 0444}, {"mounts", ProcFile::Mounts, 0444},
    {"domains", ProcFile::Domains, 0444}, {"domctl", ProcFile::DomCtl, 0200}, {"profile", ProcFile::Profile, 0600},
    {"cmdline", ProcFile::CmdLine, 0444},
};
struct PidFile {
    const char* name;
    ProcFile file;
};
// The fixed directories below /proc (net, sys, sys/vm): a table each, entries in order.
struct ProcDirSpec;
struct ProcEntry {
    const char* name;
    uint64_t ino;
    ProcFile file;           // when dir is null
    uint32_t perm;           // of a file
    const ProcDirSpec* dir;  // a subdirectory
};
struct ProcDirSpec {
    uint64_t ino;
    const ProcEntry* entries;
    size_t count;
};
// /proc/sys/vm: what Linux's sysctl tree holds that Lamina has (drop_caches, write-only there too).
constexpr ProcEntry VM_ENTRIES[] = {{"drop_caches", VM_FILE_INO, ProcFile::DropCaches, 0200, nullptr}};
constexpr ProcDirSpec VM_DIR = {VM_DIR_INO, VM_ENTRIES, 1};
constexpr ProcEntry SYS_ENTRIES[] = {{"vm", VM_DIR_INO, ProcFile::DropCaches, 0, &VM_DIR}};
constexpr ProcDirSpec SYS_DIR = {SYS_DIR_INO, SYS_ENTRIES, 1};
// /proc/net: the network's files.
constexpr ProcEntry NET_ENTRIES[] = {{"dev", NET_FILE_INO, ProcFile::NetDev, 0444, nullptr},
                                     {"route", NET_FILE_INO + 1, ProcFile::NetRoute, 0444, nullptr},
                                     {"tcp", NET_FILE_INO + 2, ProcFile::NetTcp, 0444, nullptr},
                                     {"udp", NET_FILE_INO + 3, ProcFile::NetUdp, 0444, nullptr},
                                     {"tcp6", NET_FILE_INO + 4, ProcFile::NetTcp6, 0444, nullptr},
                                     {"udp6", NET_FILE_INO + 5, ProcFile::NetUdp6, 0444, nullptr}};
constexpr ProcDirSpec NET_DIR = {NET_DIR_INO, NET_ENTRIES, sizeof NET_ENTRIES / sizeof NET_ENTRIES[0]};
constexpr PidFile PID_FILES[] = {
    {"stat", ProcFile::PidStat}, {"cmdline", ProcFile::PidCmdline}, {"status", ProcFile::PidStatus}};

struct ProcState final : RefCounted {
    ProcState(ProcSource& s, uint64_t d) : source(s), dev(d) {}
    ProcSource& source;
    uint64_t dev;
};

void set_name(DirEntry& out, const char* name, size_t len, uint64_t ino, uint8_t type) {
    out.ino = ino;
    out.type = type;
    out.name_len = uint16_t(len);
    __builtin_memcpy(out.name, name, len);
    out.name[len] = 0;
}

size_t cstrlen(const char* s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

// A decimal pid with no sign, no leading zero and no overflow; 0 when the name is not one.
uint32_t parse_pid(Name name) {
    if (name.len == 0 || name.len > 10 || name.ptr[0] == '0') return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (c < '0' || c > '9') return 0;
        v = v * 10 + uint64_t(c - '0');
    }
    return v <= 0x7fffffff ? uint32_t(v) : 0;
}

class ProcNode : public Inode {
public:
    ProcNode(RefPtr<ProcState> st, uint64_t ino, uint32_t mode, uint32_t pid = 0)
        : st_(static_cast<RefPtr<ProcState>&&>(st)), ino_(ino), mode_(mode), owner_pid_(pid) {}
    uint64_t dev() const override { return st_->dev; }
    uint64_t ino() const override { return ino_; }
    uint32_t mode() const override { return mode_; }
    Result<void> getattr(Stat& st) override {
        st = Stat{};
        st.st_dev = st_->dev;
        st.st_ino = ino_;
        st.st_mode = mode_;
        st.st_nlink = is_dir(mode_) ? 2 : 1;
        st.st_blksize = 1024;
        if (owner_pid_) st_->source.owner(owner_pid_, st.st_uid, st.st_gid);
        return {};
    }
    Result<void> statfs(StatFs& st) override {
        st = StatFs{};
        st.f_type = 0x9fa0;  // PROC_SUPER_MAGIC
        st.f_bsize = st.f_frsize = 4096;
        st.f_namelen = MAX_NAME_LEN;
        return {};
    }

protected:
    RefPtr<ProcState> st_;
    uint64_t ino_;
    uint32_t mode_;
    uint32_t owner_pid_;  // a /proc/PID node belongs to that process's owner; 0: root
};

class ProcOpenFile final : public FileObject {
public:
    ProcOpenFile(RefPtr<Inode> node, ProcFile file, RefPtr<ProcState> st)
        : node_(static_cast<RefPtr<Inode>&&>(node)), file_(file), st_(static_cast<RefPtr<ProcState>&&>(st)) {}
    ProcText text;

    Result<size_t> read(OpenFile& f, void* dst, size_t n) override {
        size_t k = TRY(pread(f, dst, n, f.offset));
        f.offset += k;
        return k;
    }
    Result<size_t> pread(OpenFile&, void* dst, size_t n, uint64_t offset) override {
        if (offset >= text.size()) return size_t(0);
        size_t k = text.size() - size_t(offset);
        if (k > n) k = n;
        __builtin_memcpy(dst, text.data() + offset, k);
        return k;
    }
    Result<size_t> write(OpenFile&, const void* src, size_t n) override {
        if (file_ != ProcFile::DomCtl && file_ != ProcFile::Profile && file_ != ProcFile::DropCaches)
            return Errno::Inval;
        return st_->source.write(file_, static_cast<const char*>(src), n);
    }
    Result<uint64_t> lseek(OpenFile& f, int64_t offset, int whence) override {
        uint64_t to = TRY(seek_offset(f.offset, offset, whence, int64_t(text.size())));
        f.offset = to;
        return to;
    }
    Result<void> stat(Stat& st) override { return node_->getattr(st); }

private:
    RefPtr<Inode> node_;
    ProcFile file_;
    RefPtr<ProcState> st_;
};

class ProcFileNode final : public ProcNode {
public:
    ProcFileNode(RefPtr<ProcState> st, uint64_t ino, uint32_t perm, ProcFile file, uint32_t pid)
        : ProcNode(static_cast<RefPtr<ProcState>&&>(st), ino, mode::Regular | perm, pid), file_(file), pid_(pid) {}
    Result<RefPtr<FileObject>> open_file(const Location&, uint32_t oflags) override {
        RefPtr<ProcOpenFile> f = TRY(make_ref<ProcOpenFile>(RefPtr<Inode>(this), file_, st_));
        RefPtr<FileObject> ref = f;
        if ((oflags & 3) != 1) {  // anything but O_WRONLY reads the text
            TRY(st_->source.generate(file_, pid_, f->text));
            if (f->text.failed()) return Errno::NoMem;
        }
        return ref;
    }
    // `echo CMD > /proc/FILE` opens with O_TRUNC: as on Linux, truncating a writable proc file
    // to nothing is accepted and changes nothing.
    Result<void> setattr(const SetAttr& a) override {
        if (a.mask == SetAttr::Size && a.size == 0 && (mode_ & 0222)) return {};
        return Errno::Perm;
    }

private:
    ProcFile file_;
    uint32_t pid_;
};

class ProcSelf final : public ProcNode {
public:
    ProcSelf(RefPtr<ProcState> st) : ProcNode(static_cast<RefPtr<ProcState>&&>(st), SELF_INO, mode::Symlink | 0777) {}
    Result<size_t> readlink(char* buf, size_t n) override {
        uint32_t pid = st_->source.self_pid();
        if (!pid) return Errno::NoEnt;
        char tmp[16];
        size_t len = snformat(tmp, sizeof tmp, "%u", pid);
        if (len > n) len = n;
        __builtin_memcpy(buf, tmp, len);
        return len;
    }
};

template <typename T, typename... Args>
Result<RefPtr<Inode>> make_node(Args&&... args) {
    return TRY(make_ref<T>(static_cast<Args&&>(args)...));
}

// /proc/PID, or (thread) /proc/PID/task/TID: the process's files; the process's directory also
// has the task directory.
class ProcPidDir final : public ProcNode {
public:
    ProcPidDir(RefPtr<ProcState> st, uint32_t pid, RefPtr<Inode> parent, uint32_t tid = 0)
        : ProcNode(static_cast<RefPtr<ProcState>&&>(st), tid ? pid_dir_ino(tid) | THREAD_INO : pid_dir_ino(pid),
                   mode::Directory | 0555, pid),
          pid_(pid),
          tid_(tid),
          parent_(static_cast<RefPtr<Inode>&&>(parent)) {}

    Result<RefPtr<Inode>> lookup(Name name) override;
    Result<bool> readdir(uint64_t& cookie, DirEntry& out) override {
        constexpr size_t FILES = sizeof PID_FILES / sizeof PID_FILES[0];
        if (cookie == 0) {
            set_name(out, ".", 1, ino_, dtype::Dir);
        } else if (cookie == 1) {
            set_name(out, "..", 2, parent_->ino(), dtype::Dir);
        } else if (cookie - 2 < FILES) {
            const PidFile& f = PID_FILES[cookie - 2];
            set_name(out, f.name, cstrlen(f.name), file_ino(f.file), dtype::Regular);
        } else if (cookie - 2 == FILES && !tid_) {
            set_name(out, "task", 4, task_dir_ino(pid_), dtype::Dir);
        } else {
            return false;
        }
        cookie++;
        return true;
    }

private:
    uint64_t file_ino(ProcFile f) const { return tid_ ? pid_file_ino(tid_, f) | THREAD_INO : pid_file_ino(pid_, f); }

    uint32_t pid_, tid_;
    RefPtr<Inode> parent_;
};

// /proc/PID/task: a directory per thread, named by its tid.
class ProcTaskDir final : public ProcNode {
public:
    ProcTaskDir(RefPtr<ProcState> st, uint32_t pid, RefPtr<Inode> parent)
        : ProcNode(static_cast<RefPtr<ProcState>&&>(st), task_dir_ino(pid), mode::Directory | 0555, pid),
          pid_(pid),
          parent_(static_cast<RefPtr<Inode>&&>(parent)) {}

    Result<RefPtr<Inode>> lookup(Name name) override {
        if (name.equals(".")) return RefPtr<Inode>(this);
        if (name.equals("..")) return parent_;
        uint32_t tid = parse_pid(name);
        uint32_t tids[MAX_THREADS];
        size_t n = st_->source.tids(pid_, tids, MAX_THREADS);
        for (size_t i = 0; i < n; i++)
            if (tid && tids[i] == tid) return make_node<ProcPidDir>(st_, pid_, RefPtr<Inode>(this), tid);
        return Errno::NoEnt;
    }
    Result<bool> readdir(uint64_t& cookie, DirEntry& out) override {
        if (cookie == 0) {
            set_name(out, ".", 1, ino_, dtype::Dir);
        } else if (cookie == 1) {
            set_name(out, "..", 2, parent_->ino(), dtype::Dir);
        } else {
            // Threads by tid: the cookie is just past the last tid returned.
            uint64_t from = cookie - 2;
            uint32_t tids[MAX_THREADS];
            size_t n = st_->source.tids(pid_, tids, MAX_THREADS);
            for (size_t i = 0; i < n; i++) {
                if (tids[i] < from) continue;
                char name[16];
                size_t len = snformat(name, sizeof name, "%u", tids[i]);
                set_name(out, name, len, pid_dir_ino(tids[i]) | THREAD_INO, dtype::Dir);
                cookie = 2 + uint64_t(tids[i]) + 1;
                return true;
            }
            return false;
        }
        cookie++;
        return true;
    }

private:
    static constexpr size_t MAX_THREADS = 128;
    uint32_t pid_;
    RefPtr<Inode> parent_;
};

Result<RefPtr<Inode>> ProcPidDir::lookup(Name name) {
    if (name.equals(".")) return RefPtr<Inode>(this);
    if (name.equals("..")) return parent_;
    if (!st_->source.pid_exists(pid_)) return Errno::NoEnt;
    for (const PidFile& f : PID_FILES) {
        if (name.equals(f.name)) return make_node<ProcFileNode>(st_, file_ino(f.file), 0444u, f.file, pid_);
    }
    if (!tid_ && name.equals("task")) return make_node<ProcTaskDir>(st_, pid_, RefPtr<Inode>(this));
    return Errno::NoEnt;
}

class ProcTableDir final : public ProcNode {
public:
    ProcTableDir(RefPtr<ProcState> st, const ProcDirSpec& spec, RefPtr<Inode> parent, uint64_t parent_ino)
        : ProcNode(static_cast<RefPtr<ProcState>&&>(st), spec.ino, mode::Directory | 0555),
          spec_(spec),
          parent_(static_cast<RefPtr<Inode>&&>(parent)),
          parent_ino_(parent_ino) {}

    Result<RefPtr<Inode>> lookup(Name name) override {
        if (name.equals(".")) return RefPtr<Inode>(this);
        if (name.equals("..")) return parent_;
        for (size_t i = 0; i < spec_.count; i++) {
            const ProcEntry& e = spec_.entries[i];
            if (!name.equals(e.name)) continue;
            if (e.dir) return make_node<ProcTableDir>(st_, *e.dir, RefPtr<Inode>(this), ino_);
            return make_node<ProcFileNode>(st_, e.ino, e.perm, e.file, 0u);
        }
        return Errno::NoEnt;
    }
    Result<bool> readdir(uint64_t& cookie, DirEntry& out) override {
        if (cookie == 0)
            set_name(out, ".", 1, ino_, dtype::Dir);
        else if (cookie == 1)
            set_name(out, "..", 2, parent_ino_, dtype::Dir);
        else if (cookie - 2 < spec_.count) {
            const ProcEntry& e = spec_.entries[cookie - 2];
            set_name(out, e.name, cstrlen(e.name), e.ino, e.dir ? dtype::Dir : dtype::Regular);
        } else {
            return false;
        }
        cookie++;
        return true;
    }

private:
    const ProcDirSpec& spec_;
    RefPtr<Inode> parent_;
    uint64_t parent_ino_;
};

constexpr uint64_t PID_COOKIE = 0x10000;
constexpr size_t GLOBAL_FILE_COUNT = sizeof GLOBAL_FILES / sizeof GLOBAL_FILES[0];

class ProcRoot final : public ProcNode {
public:
    explicit ProcRoot(RefPtr<ProcState> st)
        : ProcNode(static_cast<RefPtr<ProcState>&&>(st), ROOT_INO, mode::Directory | 0555) {}

    Result<RefPtr<Inode>> lookup(Name name) override {
        if (name.equals(".") || name.equals("..")) return RefPtr<Inode>(this);
        if (name.equals("self")) return make_node<ProcSelf>(st_);
        if (name.equals("net")) return make_node<ProcTableDir>(st_, NET_DIR, RefPtr<Inode>(this), ROOT_INO);
        if (name.equals("sys")) return make_node<ProcTableDir>(st_, SYS_DIR, RefPtr<Inode>(this), ROOT_INO);
        for (size_t i = 0; i < GLOBAL_FILE_COUNT; i++) {
            if (name.equals(GLOBAL_FILES[i].name))
                return make_node<ProcFileNode>(st_, FILE_INO + i, GLOBAL_FILES[i].perm, GLOBAL_FILES[i].file, 0u);
        }
        uint32_t pid = parse_pid(name);
        if (pid && st_->source.pid_exists(pid)) return make_node<ProcPidDir>(st_, pid, RefPtr<Inode>(this));
        return Errno::NoEnt;
    }

    Result<bool> readdir(uint64_t& cookie, DirEntry& out) override {
        if (cookie == 0) {
            set_name(out, ".", 1, ROOT_INO, dtype::Dir);
        } else if (cookie == 1) {
            set_name(out, "..", 2, ROOT_INO, dtype::Dir);
        } else if (cookie == 2) {
            set_name(out, "self", 4, SELF_INO, dtype::Symlink);
        } else if (cookie == 3) {
            set_name(out, "net", 3, NET_DIR_INO, dtype::Dir);
        } else if (cookie == 4) {
            set_name(out, "sys", 3, SYS_DIR_INO, dtype::Dir);
        } else if (cookie - 5 < GLOBAL_FILE_COUNT) {
            const GlobalFile& g = GLOBAL_FILES[cookie - 5];
            set_name(out, g.name, cstrlen(g.name), FILE_INO + (cookie - 5), dtype::Regular);
        } else {
            // Processes, by pid: the cookie is just past the last pid returned.
            uint64_t from = cookie < PID_COOKIE ? 0 : cookie - PID_COOKIE;
            uint32_t pids[128];
            size_t n = st_->source.pids(pids, 128);
            for (size_t i = 0; i < n; i++) {
                if (pids[i] < from) continue;
                char name[16];
                size_t len = snformat(name, sizeof name, "%u", pids[i]);
                set_name(out, name, len, pid_dir_ino(pids[i]), dtype::Dir);
                cookie = PID_COOKIE + pids[i] + 1;
                return true;
            }
            return false;
        }
        cookie++;
        if (cookie == 5 + GLOBAL_FILE_COUNT) cookie = PID_COOKIE;
        return true;
    }
};

}  // namespace

Result<RefPtr<Inode>> make_procfs(ProcSource& source, uint64_t dev) {
    RefPtr<ProcState> st = TRY(make_ref<ProcState>(source, dev));
    return make_node<ProcRoot>(st);
}

}  // namespace lamina::posix
