#include "kernel/posix/files.h"

#include <lamina/scope_guard.h>

#include <new>

#include "kernel/domain/domain.h"
#include "kernel/lib/log.h"
#include "kernel/mm/memory.h"
#include "kernel/net/net_service.h"
#include "kernel/net/nic_service.h"
#include "kernel/posix/boot_files.h"
#include "kernel/posix/console_file.h"
#include "kernel/posix/exec_cache.h"
#include "kernel/posix/fs/devices.h"
#include "kernel/posix/fs/procfs.h"
#include "kernel/posix/fs/tmpfs.h"
#include "kernel/posix/net/inet.h"
#include "kernel/posix/process.h"
#include "kernel/posix/random.h"
#include "kernel/posix/vfs/ops.h"
#include "kernel/posix/vfs/vnode_file.h"
#include "kernel/profile/profile.h"
#include "kernel/storage/fs_client.h"
#include "kernel/storage/storage.h"
#include "kernel/time/time.h"

namespace lamina::posix {

namespace {

// Lock order: g_namespace_lock, then file-system locks, then the process table lock.
sched::Mutex g_namespace_lock;
MountTable g_mounts;  // g_namespace_lock
Credentials g_root_credentials;

// What /proc/mounts says about each mount (the mount table keeps only paths).
struct MountInfo {
    const Mount* mount;
    char type[16];
    char source[32];
    RefPtr<Tmpfs> tmpfs;  // keeps a tmpfs alive while it is mounted
};
MountInfo g_mount_info[MountTable::MAX_MOUNTS];  // g_namespace_lock
uint64_t g_next_dev = 1;                         // g_namespace_lock

Timespec clock_for_tmpfs() { return realtime_now(); }

DevfsOpener* g_devfs_opener;

void copy_text(char* dst, size_t cap, const char* src) {
    size_t n = 0;
    while (src[n] && n + 1 < cap) {
        dst[n] = src[n];
        n++;
    }
    dst[n] = 0;
}

void record_mount(const Mount* m, const char* type, const char* source, RefPtr<Tmpfs> fs) {
    for (MountInfo& i : g_mount_info) {
        if (!i.mount || i.mount == m) {
            i.mount = m;
            copy_text(i.type, sizeof i.type, type);
            copy_text(i.source, sizeof i.source, source);
            i.tmpfs = static_cast<RefPtr<Tmpfs>&&>(fs);
            return;
        }
    }
}

// --- procfs's view of the kernel ---------------------------------------------------------------

// /proc/sys/vm/drop_caches: 1 (file data), 2 (inodes and directories) or 3 (both), as on Linux.
// The kernel keeps only program pages (exec_cache.h); the rest lives in the fs domain, so each
// drops everything:
// the root file system's domain is restarted cleanly (the old instance writes back first, the
// fresh one starts with empty caches; open files carry on, as after `domctl restart fs`).
Result<void> drop_caches(const char* data, size_t n) {
    if (n && data[n - 1] == '\n') n--;
    if (n != 1 || data[0] < '1' || data[0] > '3') return Errno::Inval;
    storage::FsClient* fs = storage::root_fs();
    domain::Domain* instance = fs ? fs->instance() : nullptr;
    exec_cache::clear();
    if (!instance) return {};  // no disk file system: nothing more is cached
    char command[8 + sizeof instance->name];
    size_t len = snformat(command, sizeof command, "restart %s", instance->name);
    return domain::control(command, len);
}

class KernelProcSource final : public ProcSource {
public:
    size_t pids(uint32_t* out, size_t max) override { return list_pids(out, max); }
    bool pid_exists(uint32_t pid) override { return find_process(pid) != nullptr; }
    size_t tids(uint32_t pid, uint32_t* out, size_t max) override { return list_tids(pid, out, max); }
    uint32_t self_pid() override {
        Process* p = current_process();
        return p ? p->pid : 0;
    }
    void owner(uint32_t pid, uint32_t& uid, uint32_t& gid) override {
        uid = gid = 0;
        SpinlockGuard g(process_table_lock());
        for_each_process_locked([&](Process& p) {
            if (p.pid != pid) return;
            uid = p.cred.euid;
            gid = p.cred.egid;
        });
    }

    Result<void> generate(ProcFile file, uint32_t pid, ProcText& out) override {
        switch (file) {
            case ProcFile::MemInfo: {
                uint64_t total = mm::total_pages() * 4, free = mm::free_pages() * 4;
                out.printf(
                    "MemTotal:       %8lu kB\nMemFree:        %8lu kB\nMemAvailable:   %8lu kB\n"
                    "Buffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\n"
                    "SwapTotal:             0 kB\nSwapFree:              0 kB\n",
                    total, free, free);
                return {};
            }
            case ProcFile::Uptime: {
                uint64_t cs = time::now_ns() / 10'000'000;
                out.printf("%lu.%02lu 0.00\n", cs / 100, cs % 100);
                return {};
            }
            case ProcFile::Mounts: {
                sched::MutexGuard g(g_namespace_lock);
                for (const MountInfo& i : g_mount_info) {
                    if (!i.mount || !i.mount->used) continue;
                    out.printf("%s %s %s rw 0 0\n", i.source, i.mount->path, i.type);
                }
                return {};
            }
            case ProcFile::Domains: {
                auto* domains = static_cast<domain::Status*>(mm::kmalloc(sizeof(domain::Status) * domain::IMAGE_SLOTS));
                if (!domains) return Errno::NoMem;
                format_domains(out, domains, domain::list(domains, domain::IMAGE_SLOTS));
                mm::kfree(domains);
                return {};
            }
            case ProcFile::DomCtl:
            case ProcFile::DropCaches:
                return {};
            case ProcFile::Profile:
                profile::format(out);
                return {};
            case ProcFile::NetRoute:
                net::format_proc_route(out);
                return {};
            case ProcFile::NetTcp:
            case ProcFile::NetUdp:
                net::format_proc_sockets(out, file == ProcFile::NetTcp);
                return {};
            case ProcFile::NetTcp6:
            case ProcFile::NetUdp6:
                net::format_proc_sockets6(out, file == ProcFile::NetTcp6);
                return {};
            case ProcFile::NetDev: {
                NetDevRow rows[2] = {};
                size_t n = 0;
                // The NIC's counters and the stack's (lo has no NIC) have the same names.
                auto fill = [&](const char* name, const auto& c) {
                    NetDevRow& r = rows[n++];
                    copy_text(r.name, sizeof r.name, name);
                    r.rx_bytes = c.rx_bytes;
                    r.rx_packets = c.rx_frames;
                    r.rx_dropped = c.rx_dropped;
                    r.tx_bytes = c.tx_bytes;
                    r.tx_packets = c.tx_frames;
                    r.tx_dropped = c.tx_dropped;
                    if constexpr (requires { c.rx_errors; }) {
                        r.rx_errors = c.rx_errors;
                        r.tx_errors = c.tx_errors;
                    }
                };
                if (idl::Net* stack = ::lamina::net::net_stack())
                    if (auto lo = stack->if_status(1); lo.is_ok()) fill("lo", lo.value());
                if (auto c = ::lamina::net::nic_counters(); c.is_ok()) fill("eth0", c.value());
                format_net_dev(out, rows, n);
                return {};
            }
            case ProcFile::PidStat:
            case ProcFile::PidCmdline:
            case ProcFile::PidStatus:
                return generate_pid(file, pid, out);
        }
        return Errno::NoEnt;
    }

    Result<size_t> write(ProcFile file, const char* data, size_t n) override {
        // Profiling the kernel, and loading, restarting and crashing domains, are the
        // administrator's, whoever opened the file (a descriptor can be passed on).
        if (!capable(cap::SYS_ADMIN)) return Errno::Perm;
        if (file == ProcFile::Profile) {
            TRY(profile::control(data, n));
            return n;
        }
        if (file == ProcFile::DropCaches) {
            TRY(drop_caches(data, n));
            return n;
        }
        if (file != ProcFile::DomCtl) return Errno::Inval;
        // One command per write (userland/domctl/README.md); what it fails with is its errno.
        TRY(domain::control(data, n));
        return n;
    }

private:
    // What /proc/PID shows, taken under the table lock (the process may be exiting or exec'ing).
    struct PidSnapshot {
        char name[sizeof Process::name];
        uint32_t ppid, pgid, sid, umask, threads;
        bool zombie;
        Cred cred;
        RefPtr<ArgText> args;
    };

    Result<void> generate_pid(ProcFile file, uint32_t pid, ProcText& out) {
        auto* snap = new (std::nothrow) PidSnapshot{};
        if (!snap) return Errno::NoMem;
        ScopeGuard free_snap([snap] { delete snap; });
        bool found = false;
        {
            SpinlockGuard g(process_table_lock());
            for_each_process_locked([&](Process& p) {
                if (p.pid != pid) return;
                found = true;
                copy_text(snap->name, sizeof snap->name, p.name);
                snap->ppid = p.parent_pid;
                snap->pgid = p.pgid;
                snap->sid = p.sid;
                snap->umask = p.umask;
                snap->threads = p.task_count;
                snap->zombie = p.exited || p.state == ProcessState::Zombie;
                snap->cred = p.cred;
                snap->args = p.args;
            });
        }
        if (!found) return Errno::NoEnt;
        // Linux shows the program's last path component in stat and status.
        const char* base = snap->name;
        for (const char* s = snap->name; *s; s++)
            if (*s == '/') base = s + 1;
        const Cred& c = snap->cred;
        switch (file) {
            case ProcFile::PidStat:
                out.printf(
                    "%u (%s) %c %u %u %u 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 %u 0 0 0 0 "
                    "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                    pid, base, snap->zombie ? 'Z' : 'R', snap->ppid, snap->pgid, snap->sid, snap->threads);
                return {};
            case ProcFile::PidCmdline:
                // The whole argument vector, NUL after each string; a zombie's is empty.
                if (snap->args && !snap->zombie) out.put(snap->args->data, snap->args->size);
                return {};
            default:
                out.printf(
                    "Name:\t%s\nUmask:\t%04o\nState:\t%s\nTgid:\t%u\nPid:\t%u\nPPid:\t%u\n"
                    "Uid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\nGroups:\t",
                    base, snap->umask, snap->zombie ? "Z (zombie)" : "R (running)", pid, pid, snap->ppid, c.uid, c.euid,
                    c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid);
                for (uint32_t i = 0; i < c.ngroups; i++) out.printf("%u ", c.groups[i]);
                out.printf("\nThreads:\t%u\nCapInh:\t%016lx\nCapPrm:\t%016lx\nCapEff:\t%016lx\nNoNewPrivs:\t%d\n",
                           snap->threads, c.inheritable, c.permitted, c.effective, c.no_new_privs ? 1 : 0);
                return {};
        }
    }
};

KernelProcSource g_proc_source;

// The profiler's view of a process (interrupt context, on one of the process's own threads, so
// it cannot go away): its pid and the last component of its program's path. The thread's user
// state names its Task.
void identify_process(void* task, uint32_t* pid, char* name, size_t name_size) {
    const Process* p = static_cast<const Task*>(task)->process;
    *pid = p->pid;
    const char* base = p->name;
    for (const char* s = p->name; *s && s < p->name + sizeof p->name; s++)
        if (*s == '/') base = s + 1;
    copy_text(name, name_size, base);
}

Result<Location> lookup_dir(const char* path) {
    PathContext ctx{g_mounts, g_mounts.root(), g_mounts.root(), g_root_credentials};
    return resolve(ctx, path, lookup::Follow | lookup::Directory);
}

Result<void> make_dir(const char* path, uint32_t perm) {
    PathContext ctx{g_mounts, g_mounts.root(), g_mounts.root(), g_root_credentials};
    return vfs_mkdir(ctx, path, perm);
}

Result<void> mount_tmpfs_at(const char* path, const TmpfsOptions& options, const char* type) {
    RefPtr<Tmpfs> fs = TRY(Tmpfs::create(options));
    Location at = TRY(lookup_dir(path));
    Mount* m = TRY(g_mounts.mount(at, path, fs->root()));
    record_mount(m, type, type, fs);
    return {};
}

// The boot-module programs as files in /bin, so that execve by path works before the ext2
// root exists.
Result<void> install_programs() {
    PathContext ctx{g_mounts, g_mounts.root(), g_mounts.root(), g_root_credentials};
    for (size_t i = 0; i < boot_files::count(); i++) {
        const char* name = boot_files::name(i);
        boot_files::File f = boot_files::file(i);
        char path[96];
        snformat(path, sizeof path, "/bin/%s", name);
        auto opened = vfs_open(ctx, path, oflag::WriteOnly | oflag::Creat | oflag::Trunc, 0755);
        if (opened.is_error()) return opened.error();
        Inode& ino = *opened.value().loc.inode;
        size_t done = 0;
        while (done < f.size) done += TRY(ino.write(done, f.data + done, f.size - done));
    }
    return {};
}

uint64_t root_fs_bytes() {
    // Half of RAM for the memory file systems together, as Linux's tmpfs default.
    return mm::total_pages() * 4096 / 2;
}

}  // namespace

Result<RefPtr<FileObject>> open_terminal_hook(uint32_t rdev, const Location& loc, uint32_t oflags) {
    return open_console(rdev, loc, oflags);
}

MountTable& mount_table() { return g_mounts; }
sched::Mutex& namespace_lock() { return g_namespace_lock; }
const Credentials& current_credentials() {
    Process* p = current_process();
    return p ? p->fs_cred : g_root_credentials;
}

void init_files() {
    sched::MutexGuard g(g_namespace_lock);
    auto fail = [](const char* what, Error e) { panic("files: cannot set up %s: %s", what, e.name()); };

    TmpfsOptions root_options;
    root_options.max_bytes = root_fs_bytes();
    root_options.dev = g_next_dev++;
    root_options.clock = clock_for_tmpfs;
    root_options.root_mode = 0755;
    auto root = Tmpfs::create(root_options);
    if (root.is_error()) fail("the root tmpfs", root.error());
    auto rl = g_mounts.mount_root(root.value()->root());
    if (rl.is_error()) fail("the root mount", rl.error());
    record_mount(rl.value().mount, "tmpfs", "rootfs", root.release_value());

    for (const char* d : {"/bin", "/sbin", "/dev", "/proc", "/tmp", "/etc", "/root", "/mnt", "/usr"}) {
        if (auto r = make_dir(d, d[1] == 't' ? 01777 : 0755); r.is_error()) fail(d, r.error());
    }
    if (auto r = install_programs(); r.is_error()) fail("/bin", r.error());

    TmpfsOptions tmp = root_options;
    tmp.dev = g_next_dev++;
    tmp.root_mode = 01777;
    if (auto r = mount_tmpfs_at("/tmp", tmp, "tmpfs"); r.is_error()) fail("/tmp", r.error());

    static DevfsHooks hooks{fill_random, open_terminal_hook};
    static DevfsOpener opener(hooks);
    g_devfs_opener = &opener;
    TmpfsOptions dev;
    dev.max_bytes = 1 << 20;
    dev.dev = g_next_dev++;
    dev.clock = clock_for_tmpfs;
    dev.devices = &opener;
    dev.root_mode = 0755;
    auto devfs = Tmpfs::create(dev);
    if (devfs.is_error()) fail("devfs", devfs.error());
    if (auto r = populate_devfs(*devfs.value()); r.is_error()) fail("devfs nodes", r.error());
    auto dev_at = lookup_dir("/dev");
    if (dev_at.is_error()) fail("/dev", dev_at.error());
    auto dm = g_mounts.mount(dev_at.value(), "/dev", devfs.value()->root());
    if (dm.is_error()) fail("the devfs mount", dm.error());
    record_mount(dm.value(), "devtmpfs", "devtmpfs", devfs.release_value());

    profile::set_user_identify(identify_process);
    auto proc = make_procfs(g_proc_source, g_next_dev++);
    if (proc.is_error()) fail("procfs", proc.error());
    auto proc_at = lookup_dir("/proc");
    if (proc_at.is_error()) fail("/proc", proc_at.error());
    auto pm = g_mounts.mount(proc_at.value(), "/proc", proc.release_value());
    if (pm.is_error()) fail("the procfs mount", pm.error());
    record_mount(pm.value(), "proc", "proc", nullptr);
}

// --- mount(2) support --------------------------------------------------------------------------

Result<void> mount_fs(const Location& at, const char* path, const char* type, const char* source) {
    RefPtr<Inode> root;
    RefPtr<Tmpfs> keep;
    const char* shown = type;
    if (__builtin_strcmp(type, "tmpfs") == 0) {
        TmpfsOptions o;
        o.max_bytes = root_fs_bytes();
        o.dev = g_next_dev++;
        o.clock = clock_for_tmpfs;
        o.root_mode = 01777;
        keep = TRY(Tmpfs::create(o));
        root = keep->root();
    } else if (__builtin_strcmp(type, "devtmpfs") == 0 || __builtin_strcmp(type, "devfs") == 0) {
        TmpfsOptions o;
        o.max_bytes = 1 << 20;
        o.dev = g_next_dev++;
        o.clock = clock_for_tmpfs;
        o.devices = g_devfs_opener;
        o.root_mode = 0755;
        keep = TRY(Tmpfs::create(o));
        TRY(populate_devfs(*keep));
        root = keep->root();
        shown = "devtmpfs";
    } else if (__builtin_strcmp(type, "proc") == 0) {
        root = TRY(make_procfs(g_proc_source, g_next_dev++));
    } else {
        return Errno::NoDev;
    }
    Mount* m = TRY(g_mounts.mount(at, path, root));
    record_mount(m, shown, source && *source ? source : shown, static_cast<RefPtr<Tmpfs>&&>(keep));
    return {};
}

bool mount_in_use(const Mount* m) {
    uint32_t pids[128];
    size_t n = list_pids(pids, 128);
    for (size_t i = 0; i < n; i++) {
        Process* p = find_process(pids[i]);
        if (!p || p->exited) continue;
        if (p->cwd.mount == m || p->root.mount == m) return true;
        bool busy = false;
        if (p->fds) {
            p->fds->for_each_open([&](OpenFile& f) {
                const Location* l = f.object()->location();
                if (l && l->mount == m) busy = true;
            });
        }
        if (busy) return true;
    }
    return false;
}

void forget_mount(const Mount* m) {
    for (MountInfo& i : g_mount_info) {
        if (i.mount == m) {
            i.mount = nullptr;
            i.tmpfs = nullptr;
        }
    }
}

Location namespace_root() {
    Location root = g_mounts.root();
    while (Mount* m = g_mounts.covering(root.mount, *root.inode)) root = Location{m->root, m};
    return root;
}

Result<void> mount_over_root(RefPtr<Inode> new_root, const char* type, const char* source) {
    sched::MutexGuard g(g_namespace_lock);
    Location at = namespace_root();
    Mount* m = TRY(g_mounts.mount(at, "/", static_cast<RefPtr<Inode>&&>(new_root)));
    record_mount(m, type, source, nullptr);
    Location root = namespace_root();
    PathContext ctx{g_mounts, root, root, g_root_credentials};
    struct Standard {
        const char* path;
        const char* type;
    };
    for (Standard s : {Standard{"/dev", "devtmpfs"}, Standard{"/proc", "proc"}, Standard{"/tmp", "tmpfs"}}) {
        auto dir = resolve(ctx, s.path, lookup::Follow | lookup::Directory);
        if (dir.is_error()) {
            kprintf("files: the new root has no %s (%s): not mounted\n", s.path, dir.error().name());
            continue;
        }
        TRY(mount_fs(dir.value(), s.path, s.type, s.type));
    }
    return {};
}

// --- processes ---------------------------------------------------------------------------------

Result<void> files_spawn(Process& p) {
    p.umask = 022;
    {
        sched::MutexGuard g(g_namespace_lock);
        p.root = namespace_root();
        p.cwd = p.root;
    }
    RefPtr<FdTable> t = TRY(FdTable::create());
    // The console, as Linux's init gets /dev/console on 0, 1 and 2.
    RefPtr<FileObject> console = TRY(open_console(devno::Console, Location{}, oflag::ReadWrite));
    RefPtr<OpenFile> f = TRY(OpenFile::create(console, oflag::ReadWrite | 0100000));
    for (int fd = 0; fd < 3; fd++) TRY(t->install(f, false, fd));
    p.fds = static_cast<RefPtr<FdTable>&&>(t);
    return {};
}

Result<void> files_fork(const Process& parent, Process& child) {
    child.fds = TRY(parent.fds->fork());
    child.root = parent.root;
    child.cwd = parent.cwd;
    child.umask = parent.umask;
    return {};
}

void files_exec(Process& p) {
    if (p.fds) p.fds->close_on_exec();
}

void files_exit(Process& p) {
    p.fds = nullptr;
    p.cwd = Location{};
    p.root = Location{};
}

// --- executables -------------------------------------------------------------------------------

void LoadedFile::free() {
    mm::kfree(data);
    data = nullptr;
    head_size = size = 0;
    inode = nullptr;
}

Result<void> LoadedFile::read(uint64_t offset, void* dst, size_t n) const {
    if (offset > size || n > size - offset) return Errno::Inval;
    auto* out = static_cast<uint8_t*>(dst);
    if (offset < head_size) {
        size_t k = head_size - size_t(offset) < n ? head_size - size_t(offset) : n;
        __builtin_memcpy(out, data + offset, k);
        out += k;
        offset += k;
        n -= k;
    }
    while (n) {
        size_t k = TRY(inode->read(offset, out, n));
        if (k == 0) return Errno::IO;
        out += k;
        offset += k;
        n -= k;
    }
    return {};
}

Result<LoadedFile> load_executable_file(const char* path) { return load_regular_file(path, access::Exec); }

Result<LoadedFile> load_regular_file(const char* path, int access_mask) {
    Process* p = current_process();
    Location loc;
    {
        sched::MutexGuard g(g_namespace_lock);
        Location root = p && p->root.inode ? p->root : namespace_root();
        Location cwd = p && p->cwd.inode ? p->cwd : root;
        PathContext ctx{g_mounts, root, cwd, current_credentials()};
        loc = TRY(resolve(ctx, path, lookup::Follow));
        Stat st{};
        TRY(loc.inode->getattr(st));
        if (is_dir(st.st_mode) || !is_regular(st.st_mode)) return Errno::Acces;
        TRY(check_access(st.st_mode, st.st_uid, st.st_gid, ctx.cred, access_mask));
    }
    Stat st{};
    TRY(loc.inode->getattr(st));
    LoadedFile out;
    out.stat = st;
    out.size = size_t(st.st_size);
    out.mode = st.st_mode;
    out.uid = st.st_uid;
    out.gid = st.st_gid;
    out.head_size = out.size < LoadedFile::HEAD_SIZE ? out.size : LoadedFile::HEAD_SIZE;
    out.data = static_cast<uint8_t*>(mm::kmalloc(out.head_size ? out.head_size : 1));
    if (!out.data) return Errno::NoMem;
    out.inode = loc.inode;
    size_t head = out.head_size;
    out.head_size = 0;  // read() fills the head from the file
    if (auto r = out.read(0, out.data, head); r.is_error()) {
        out.free();
        return r.error();
    }
    out.head_size = head;
    return out;
}

Result<WholeFile> read_whole_file(const char* path, int access_mask) {
    LoadedFile opened = TRY(load_regular_file(path, access_mask));
    WholeFile whole{static_cast<uint8_t*>(mm::kmalloc(opened.size ? opened.size : 1)), opened.size};
    auto read = whole.data ? opened.read(0, whole.data, whole.size) : Result<void>(Errno::NoMem);
    opened.free();
    if (read.is_error()) {
        mm::kfree(whole.data);
        return read.error();
    }
    return whole;
}

}  // namespace lamina::posix
