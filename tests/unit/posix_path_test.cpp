#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernel/posix/fd/open_flags.h"
#include "kernel/posix/vfs/dirent.h"
#include "kernel/posix/vfs/ops.h"
#include "kernel/posix/vfs/path.h"
#include "kernel/posix/vfs/vnode_file.h"

using namespace lamina;
using namespace lamina::posix;

namespace {

// A small in-memory file system: enough of Inode for resolution and the directory operations.
class MemInode : public Inode {
public:
    MemInode(uint64_t dev, uint64_t ino, uint32_t mode, MemInode* parent)
        : dev_(dev), ino_(ino), mode_(mode), parent_(parent ? parent : this) {}
    uint64_t dev() const override { return dev_; }
    uint64_t ino() const override { return ino_; }
    uint32_t mode() const override { return mode_; }
    Result<void> getattr(Stat& st) override {
        st = Stat{};
        st.st_dev = dev_;
        st.st_ino = ino_;
        st.st_mode = mode_;
        st.st_uid = uid;
        st.st_gid = gid;
        st.st_nlink = 1;
        st.st_size = int64_t(is_symlink(mode_) ? target.size() : data.size());
        return {};
    }
    Result<RefPtr<Inode>> lookup(Name n) override {
        if (!is_dir(mode_)) return Errno::NotDir;
        lookups++;
        if (n.len > MAX_NAME_LEN) return Errno::NameTooLong;
        std::string s(n.ptr, n.len);
        if (s == ".") return RefPtr<Inode>(this);
        if (s == "..") return RefPtr<Inode>(parent_);
        auto it = children.find(s);
        if (it == children.end()) return Errno::NoEnt;
        return RefPtr<Inode>(it->second.get());
    }
    Result<size_t> readlink(char* buf, size_t n) override {
        if (!is_symlink(mode_)) return Errno::Inval;
        size_t k = std::min(n, target.size());
        memcpy(buf, target.data(), k);
        return k;
    }
    Result<RefPtr<Inode>> create(Name n, uint32_t m, uint32_t u, uint32_t g) override {
        return add_new(n, mode::Regular | (m & 07777), u, g);
    }
    Result<RefPtr<Inode>> mkdir(Name n, uint32_t m, uint32_t u, uint32_t g) override {
        return add_new(n, mode::Directory | (m & 07777), u, g);
    }
    Result<RefPtr<Inode>> symlink(Name n, Name t, uint32_t u, uint32_t g) override {
        return add_new(n, mode::Symlink | 0777, u, g, std::string(t.ptr, t.len));
    }
    Result<void> link(Name n, Inode& target) override {
        std::string s(n.ptr, n.len);
        if (children.count(s)) return Errno::Exist;
        children[s] = RefPtr<MemInode>(static_cast<MemInode*>(&target));
        return {};
    }
    Result<void> unlink(Name n) override {
        auto it = children.find(std::string(n.ptr, n.len));
        if (it == children.end()) return Errno::NoEnt;
        children.erase(it);
        return {};
    }
    Result<void> rmdir(Name n) override {
        auto it = children.find(std::string(n.ptr, n.len));
        if (it == children.end()) return Errno::NoEnt;
        if (!it->second->children.empty()) return Errno::NotEmpty;
        children.erase(it);
        return {};
    }
    Result<void> rename(Name from, Inode& new_dir, Name to) override {
        auto it = children.find(std::string(from.ptr, from.len));
        if (it == children.end()) return Errno::NoEnt;
        RefPtr<MemInode> moving = it->second;
        auto& nd = static_cast<MemInode&>(new_dir);
        std::string t(to.ptr, to.len);
        auto dst = nd.children.find(t);
        if (dst != nd.children.end() && is_dir(dst->second->mode()) && !dst->second->children.empty())
            return Errno::NotEmpty;
        children.erase(it);
        if (is_dir(moving->mode())) moving->parent_ = &nd;
        nd.children[t] = moving;
        return {};
    }
    Result<size_t> read(uint64_t off, void* dst, size_t n) override {
        if (is_dir(mode_)) return Errno::IsDir;
        if (off >= data.size()) return size_t(0);
        size_t k = std::min(n, data.size() - size_t(off));
        memcpy(dst, data.data() + off, k);
        return k;
    }
    Result<size_t> write(uint64_t off, const void* src, size_t n) override {
        if (is_dir(mode_)) return Errno::IsDir;
        if (off + n > data.size()) data.resize(size_t(off + n));
        memcpy(data.data() + off, src, n);
        return n;
    }
    // Cookie k is the k-th entry of ".", "..", then the children in name order.
    Result<bool> readdir(uint64_t& cookie, DirEntry& e) override {
        if (!is_dir(mode_)) return Errno::NotDir;
        std::string name;
        MemInode* who;
        if (cookie == 0) {
            name = ".";
            who = this;
        } else if (cookie == 1) {
            name = "..";
            who = parent_;
        } else {
            if (cookie - 2 >= children.size()) return false;
            auto it = std::next(children.begin(), long(cookie - 2));
            name = it->first;
            who = it->second.get();
        }
        e.ino = who->ino();
        e.type = is_dir(who->mode()) ? dtype::Dir : is_symlink(who->mode()) ? dtype::Symlink : dtype::Regular;
        e.name_len = uint16_t(name.size());
        memcpy(e.name, name.data(), name.size());
        e.name[name.size()] = 0;
        cookie++;
        return true;
    }
    Result<void> setattr(const SetAttr& a) override {
        if (a.mask & SetAttr::Mode) mode_ = (mode_ & mode::TypeMask) | (a.mode & 07777);
        if (a.mask & SetAttr::Uid) uid = a.uid;
        if (a.mask & SetAttr::Gid) gid = a.gid;
        if (a.mask & SetAttr::Size) data.resize(size_t(a.size));
        if (a.mask & SetAttr::Atime) atime = a.atime;
        if (a.mask & SetAttr::Mtime) mtime = a.mtime;
        return {};
    }

    MemInode* add(const std::string& name, uint32_t m, const std::string& link = "") {
        static uint64_t next_ino = 100;
        auto* c = new MemInode(dev_, next_ino++, m, this);
        c->target = link;
        children[name] = adopt_ref(c);
        return c;
    }
    // What create, mkdir and symlink share: a new child owned by owner and group, unless the name is taken.
    Result<RefPtr<Inode>> add_new(Name n, uint32_t m, uint32_t owner, uint32_t group, const std::string& link = "") {
        std::string s(n.ptr, n.len);
        if (children.count(s)) return Errno::Exist;
        MemInode* child = add(s, m, link);
        child->uid = owner;
        child->gid = group;
        return RefPtr<Inode>(child);
    }
    MemInode* dir(const std::string& name, uint32_t perm = 0755) { return add(name, mode::Directory | perm); }
    MemInode* file(const std::string& name, uint32_t perm = 0644) { return add(name, mode::Regular | perm); }
    MemInode* link(const std::string& name, const std::string& to) { return add(name, mode::Symlink | 0777, to); }

    std::map<std::string, RefPtr<MemInode>> children;
    std::string target;
    std::string data;
    uint32_t uid = 0, gid = 0;
    Timespec atime{}, mtime{};
    int lookups = 0;

    uint64_t dev_, ino_;
    uint32_t mode_;
    MemInode* parent_;  // not counted: children never outlive the tree's root
};

// /
//   etc/passwd
//   home/user/notes          home/user is 0700, owned by uid 1000
//   bin -> usr/bin           usr/bin/sh
//   abs -> /etc              rel -> ../etc (in /home)
//   loop1 -> loop2 -> loop1  dangling -> /nowhere   self -> self   empty -> ""
//   mnt/                     second fs mounted here: data/file, up -> ..
//   file
struct PosixPathTree : testing::Test {
    void SetUp() override {
        root = adopt_ref(new MemInode(1, 2, mode::Directory | 0755, nullptr));
        etc = root->dir("etc");
        etc->file("passwd");
        home = root->dir("home");
        user = home->dir("user", 0700);
        user->uid = 1000;
        user->file("notes");
        home->link("rel", "../etc");
        usr = root->dir("usr");
        usr->dir("bin")->file("sh", 0755);
        root->link("bin", "usr/bin");
        root->link("abs", "/etc");
        root->link("loop1", "loop2");
        root->link("loop2", "loop1");
        root->link("self", "self");
        root->link("dangling", "/nowhere");
        root->link("empty", "");
        root->link("filelink", "file");
        mnt = root->dir("mnt");
        root->file("file");

        fs2 = adopt_ref(new MemInode(2, 2, mode::Directory | 0755, nullptr));
        fs2->dir("data")->file("file");
        fs2->link("up", "..");
        fs2->link("toroot", "/etc");

        root_loc = mounts.mount_root(RefPtr<Inode>(root.get())).release_value();
        Location at = must(resolve(ctx(), "/mnt", lookup::Follow));
        ASSERT_TRUE(mounts.mount(at, "/mnt", RefPtr<Inode>(fs2.get())).is_ok());
    }

    PathContext ctx(Location cwd = {}) { return PathContext{mounts, root_loc, cwd.inode ? cwd : root_loc, cred}; }
    static Location must(Result<Location> r) {
        EXPECT_TRUE(r.is_ok()) << (r.is_error() ? int(r.error().code()) : 0);
        return r.is_ok() ? r.release_value() : Location{};
    }
    // "dev:ino" of what path resolves to, or "E<errno>".
    std::string at(const char* path, uint32_t flags = lookup::Follow, Location cwd = {}) {
        auto r = resolve(ctx(cwd), path, flags);
        if (r.is_error()) return "E" + std::to_string(int(r.error().code()));
        return std::to_string(r.value().inode->dev()) + ":" + std::to_string(r.value().inode->ino());
    }
    static std::string id(Inode* i) { return std::to_string(i->dev()) + ":" + std::to_string(i->ino()); }
    static std::string err(Errno e) { return "E" + std::to_string(int(e)); }

    RefPtr<MemInode> root, fs2;
    MemInode *etc, *home, *user, *usr, *mnt;
    MountTable mounts;
    Location root_loc;
    Credentials cred;
};

}  // namespace

TEST(PosixVfsLayout, StatMatchesLinuxX8664) {
    EXPECT_EQ(sizeof(Stat), 144u);
    EXPECT_EQ(offsetof(Stat, st_nlink), 16u);
    EXPECT_EQ(offsetof(Stat, st_uid), 28u);
    EXPECT_EQ(offsetof(Stat, st_blksize), 56u);
    EXPECT_EQ(offsetof(Stat, st_mtim), 88u);
    EXPECT_EQ(offsetof(Stat, st_ctim), 104u);
}

TEST_F(PosixPathTree, AbsoluteAndRelative) {
    EXPECT_EQ(at("/"), id(root.get()));
    EXPECT_EQ(at("/etc/passwd"), id(etc->children["passwd"].get()));
    EXPECT_EQ(at("//etc///passwd"), id(etc->children["passwd"].get()));
    Location e = must(resolve(ctx(), "/etc", 0));
    EXPECT_EQ(at("passwd", lookup::Follow, e), id(etc->children["passwd"].get()));
    EXPECT_EQ(at("./passwd", lookup::Follow, e), id(etc->children["passwd"].get()));
    EXPECT_EQ(at("../usr/bin/sh", lookup::Follow, e), at("/usr/bin/sh"));
    EXPECT_EQ(at("/etc/./../etc/."), id(etc));
    EXPECT_EQ(at("."), id(root.get()));
}

TEST_F(PosixPathTree, DotDotAtRootStaysAtRoot) {
    EXPECT_EQ(at("/.."), id(root.get()));
    EXPECT_EQ(at("/../../.."), id(root.get()));
    EXPECT_EQ(at("/../etc"), id(etc));
    EXPECT_EQ(at(".."), id(root.get()));
    // A chroot-like process root: ".." does not leave it either.
    Location h = must(resolve(ctx(), "/home", 0));
    PathContext jail{mounts, h, h, cred};
    auto r = resolve(jail, "../../user", 0);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(id(r.value().inode.get()), id(user));
    // And an absolute symlink inside the jail starts at the jail's root.
    auto rel = resolve(jail, "/rel", lookup::Follow);  // ../etc from /home = /home/etc
    ASSERT_TRUE(rel.is_error());
    EXPECT_EQ(rel.error().code(), Errno::NoEnt);
}

TEST_F(PosixPathTree, EmptyAndTooLong) {
    EXPECT_EQ(at(""), err(Errno::NoEnt));
    std::string c255(255, 'a'), c256(256, 'a');
    EXPECT_EQ(at(("/" + c255).c_str()), err(Errno::NoEnt));
    EXPECT_EQ(at(("/" + c256).c_str()), err(Errno::NameTooLong));
    EXPECT_EQ(at(("/" + c256 + "/x").c_str()), err(Errno::NameTooLong));
    // Components are checked in order: a missing directory comes first.
    EXPECT_EQ(at(("/nonexistent/" + c256).c_str()), err(Errno::NoEnt));
    std::string p4095 = "/";
    while (p4095.size() < 4095) p4095 += "./";
    p4095.resize(4095);
    if (p4095.back() == '/') p4095.back() = '.';
    EXPECT_EQ(at(p4095.c_str()), id(root.get()));
    std::string p4096 = p4095 + "/";
    EXPECT_EQ(at(p4096.c_str()), err(Errno::NameTooLong));
}

TEST_F(PosixPathTree, TrailingSlashes) {
    EXPECT_EQ(at("/etc/"), id(etc));
    EXPECT_EQ(at("/etc//"), id(etc));
    EXPECT_EQ(at("/file/"), err(Errno::NotDir));
    EXPECT_EQ(at("/file/."), err(Errno::NotDir));
    EXPECT_EQ(at("/file/.."), err(Errno::NotDir));
    EXPECT_EQ(at("/nothing/"), err(Errno::NoEnt));
    EXPECT_EQ(at("/file", lookup::Follow | lookup::Directory), err(Errno::NotDir));
    // A trailing slash follows a final symlink even under nofollow.
    EXPECT_EQ(at("/abs/", 0), id(etc));
    EXPECT_EQ(at("/filelink/", 0), err(Errno::NotDir));
}

TEST_F(PosixPathTree, NotDirInTheMiddle) {
    EXPECT_EQ(at("/file/x"), err(Errno::NotDir));
    EXPECT_EQ(at("/etc/passwd/x"), err(Errno::NotDir));
    EXPECT_EQ(at("/filelink/x"), err(Errno::NotDir));
    EXPECT_EQ(at("/missing/x"), err(Errno::NoEnt));
}

TEST_F(PosixPathTree, Symlinks) {
    EXPECT_EQ(at("/bin/sh"), at("/usr/bin/sh"));
    EXPECT_EQ(at("/bin"), at("/usr/bin"));
    EXPECT_EQ(at("/abs/passwd"), id(etc->children["passwd"].get()));
    EXPECT_EQ(at("/home/rel/passwd"), id(etc->children["passwd"].get()));
    // Final symlink: followed or not.
    EXPECT_EQ(at("/bin", 0), id(root->children["bin"].get()));
    EXPECT_EQ(at("/abs", lookup::Follow), id(etc));
    EXPECT_EQ(at("/dangling", 0), id(root->children["dangling"].get()));
    EXPECT_EQ(at("/dangling"), err(Errno::NoEnt));
    EXPECT_EQ(at("/dangling/x", 0), err(Errno::NoEnt));
    EXPECT_EQ(at("/empty"), err(Errno::NoEnt));
    // Loops.
    EXPECT_EQ(at("/loop1"), err(Errno::Loop));
    EXPECT_EQ(at("/self"), err(Errno::Loop));
    EXPECT_EQ(at("/self", 0), id(root->children["self"].get()));
    EXPECT_EQ(at("/loop1/x", 0), err(Errno::Loop));
}

TEST_F(PosixPathTree, FortySymlinksAreAllowedFortyOneAreNot) {
    // chain: c0 -> c1 -> ... -> cN -> /etc
    for (int n : {40, 41}) {
        MemInode* d = root->dir("chain" + std::to_string(n));
        for (int i = 0; i < n; i++) {
            std::string to = i + 1 < n ? "c" + std::to_string(i + 1) : "/etc";
            d->link("c" + std::to_string(i), to);
        }
    }
    EXPECT_EQ(at("/chain40/c0"), id(etc));
    EXPECT_EQ(at("/chain41/c0"), err(Errno::Loop));
    EXPECT_EQ(at("/chain41/c0", 0), at("/chain41/c0", 0));
    EXPECT_EQ(at("/chain41/c1"), id(etc));
}

TEST_F(PosixPathTree, MountsAreCrossedBothWays) {
    MemInode* data = fs2->children["data"].get();
    EXPECT_EQ(at("/mnt"), id(fs2.get()));
    EXPECT_EQ(at("/mnt/"), id(fs2.get()));
    EXPECT_EQ(at("/mnt/data/file"), id(data->children["file"].get()));
    EXPECT_EQ(at("/mnt/.."), id(root.get()));
    EXPECT_EQ(at("/mnt/data/../../etc"), id(etc));
    EXPECT_EQ(at("/mnt/up"), id(root.get()));  // a relative symlink leaving the mount
    EXPECT_EQ(at("/mnt/toroot/passwd"), id(etc->children["passwd"].get()));
    Location d = must(resolve(ctx(), "/mnt/data", 0));
    EXPECT_EQ(d.mount, mounts.covering(root_loc.mount, *mnt));
    EXPECT_EQ(at("../..", lookup::Follow, d), id(root.get()));
    EXPECT_EQ(at("../../mnt/data", lookup::Follow, d), id(data));
    // Symlinks into the mount point land on the mounted root.
    root->link("tomnt", "mnt");
    EXPECT_EQ(at("/tomnt/data"), id(data));
    // Stacking: the newest mount wins; ".." from it goes to the parent of /mnt.
    RefPtr<MemInode> fs3 = adopt_ref(new MemInode(3, 2, mode::Directory | 0755, nullptr));
    fs3->file("three");
    Location m = must(resolve(ctx(), "/mnt", 0));
    ASSERT_TRUE(mounts.mount(m, "/mnt", RefPtr<Inode>(fs3.get())).is_ok());
    EXPECT_EQ(at("/mnt"), id(fs3.get()));
    EXPECT_EQ(at("/mnt/data"), err(Errno::NoEnt));
    EXPECT_EQ(at("/mnt/three/.."), err(Errno::NotDir));
    EXPECT_EQ(at("/mnt/.."), id(root.get()));
    // Unmounting: busy while a mount sits on top, then in order.
    Location top = must(resolve(ctx(), "/mnt", 0));
    ASSERT_TRUE(mounts.umount(top).is_ok());
    EXPECT_EQ(at("/mnt/data"), id(data));
    Location mid = must(resolve(ctx(), "/mnt", 0));
    Location d2 = must(resolve(ctx(), "/mnt/data", 0));
    EXPECT_EQ(mounts.umount(d2).error().code(), Errno::Inval);
    EXPECT_EQ(mounts.umount(root_loc).error().code(), Errno::Busy);
    ASSERT_TRUE(mounts.umount(mid).is_ok());
    EXPECT_EQ(at("/mnt"), id(mnt));
    EXPECT_EQ(mounts.count(), 1u);
}

TEST_F(PosixPathTree, MountOnlyOnDirectories) {
    Location f = must(resolve(ctx(), "/file", 0));
    RefPtr<MemInode> fs3 = adopt_ref(new MemInode(3, 2, mode::Directory | 0755, nullptr));
    EXPECT_EQ(mounts.mount(f, "/file", RefPtr<Inode>(fs3.get())).error().code(), Errno::NotDir);
    EXPECT_EQ(mounts.mount(root_loc, "relative", RefPtr<Inode>(fs3.get())).error().code(), Errno::Inval);
    EXPECT_EQ(mounts.mount_root(RefPtr<Inode>(fs3.get())).error().code(), Errno::Busy);
}

TEST_F(PosixPathTree, LongestPrefix) {
    Location e = must(resolve(ctx(), "/mnt/data", 0));
    RefPtr<MemInode> fs3 = adopt_ref(new MemInode(3, 2, mode::Directory | 0755, nullptr));
    ASSERT_TRUE(mounts.mount(e, "/mnt//./data/", RefPtr<Inode>(fs3.get())).is_ok());
    size_t rest = 0;
    Mount* m = mounts.longest_prefix("/mnt/data/x/y", &rest);
    ASSERT_NE(m, nullptr);
    EXPECT_STREQ(m->path, "/mnt/data");
    EXPECT_STREQ("/mnt/data/x/y" + rest, "/x/y");
    EXPECT_STREQ(mounts.longest_prefix("/mnt/dat", &rest)->path, "/mnt");
    EXPECT_STREQ(mounts.longest_prefix("/mntx", &rest)->path, "/");
    EXPECT_STREQ(mounts.longest_prefix("/mnt", &rest)->path, "/mnt");
    EXPECT_STREQ(mounts.longest_prefix("/", &rest)->path, "/");
    EXPECT_EQ(at("/mnt/data"), id(fs3.get()));
    EXPECT_EQ(at("/mnt/data/.."), id(fs2.get()));

    char out[64];
    EXPECT_EQ(normalize_path("//a/./b/../c/", out, sizeof out).value(), 4u);
    EXPECT_STREQ(out, "/a/c");
    EXPECT_EQ(normalize_path("/../..", out, sizeof out).value(), 1u);
    EXPECT_STREQ(out, "/");
    EXPECT_EQ(normalize_path("/abcdef", out, 4).error().code(), Errno::NameTooLong);
}

TEST_F(PosixPathTree, SearchPermission) {
    Credentials alice{1000, 1000, nullptr, 0};
    Credentials bob{1001, 1001, nullptr, 0};
    PathContext a{mounts, root_loc, root_loc, alice};
    PathContext b{mounts, root_loc, root_loc, bob};
    EXPECT_TRUE(resolve(a, "/home/user/notes", 0).is_ok());
    auto r = resolve(b, "/home/user/notes", 0);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error().code(), Errno::Acces);
    // The directory itself can be named; only going through it needs search permission.
    EXPECT_TRUE(resolve(b, "/home/user", 0).is_ok());
    EXPECT_EQ(at("/home/user/notes"), id(user->children["notes"].get()));  // root bypasses
    ParentResult p;
    EXPECT_EQ(resolve_parent(b, "/home/user/new", p).error().code(), Errno::Acces);
    // Group access through a supplementary group.
    user->gid = 50;
    auto* g = user;
    (void)g;
    uint32_t groups[] = {7, 50};
    Credentials carol{1002, 1002, groups, 2};
    PathContext c{mounts, root_loc, root_loc, carol};
    EXPECT_TRUE(resolve(c, "/home/user/notes", 0).is_error());  // 0700: no group bits
}

TEST(PosixVfsAccess, CheckAccess) {
    Credentials root{0, 0, nullptr, 0};
    Credentials u{10, 20, nullptr, 0};
    uint32_t g[] = {30};
    Credentials ug{11, 21, g, 1};
    EXPECT_TRUE(check_access(mode::Regular | 0000, 5, 5, root, access::Read | access::Write).is_ok());
    EXPECT_TRUE(check_access(mode::Regular | 0644, 5, 5, root, access::Exec).is_error());
    EXPECT_TRUE(check_access(mode::Regular | 0001, 5, 5, root, access::Exec).is_ok());
    EXPECT_TRUE(check_access(mode::Directory | 0000, 5, 5, root, access::Exec).is_ok());
    EXPECT_TRUE(check_access(mode::Regular | 0600, 10, 5, u, access::Read | access::Write).is_ok());
    EXPECT_TRUE(check_access(mode::Regular | 0060, 10, 20, u, access::Read).is_error());  // owner class wins
    EXPECT_TRUE(check_access(mode::Regular | 0040, 9, 30, ug, access::Read).is_ok());
    EXPECT_TRUE(check_access(mode::Regular | 0004, 9, 30, ug, access::Read).is_error());
    EXPECT_TRUE(check_access(mode::Regular | 0004, 9, 31, ug, access::Read).is_ok());
}

TEST_F(PosixPathTree, ResolveParent) {
    ParentResult p;
    ASSERT_TRUE(resolve_parent(ctx(), "/etc/newfile", p).is_ok());
    EXPECT_EQ(id(p.parent.inode.get()), id(etc));
    EXPECT_STREQ(p.name, "newfile");
    EXPECT_EQ(p.kind, ParentResult::Normal);
    EXPECT_FALSE(p.trailing_slash);
    // The last component is not followed, earlier ones are.
    ASSERT_TRUE(resolve_parent(ctx(), "/abs/dangling", p).is_ok());
    EXPECT_EQ(id(p.parent.inode.get()), id(etc));
    ASSERT_TRUE(resolve_parent(ctx(), "/dangling", p).is_ok());
    EXPECT_STREQ(p.name, "dangling");
    ASSERT_TRUE(resolve_parent(ctx(), "/bin/newdir/", p).is_ok());
    EXPECT_EQ(id(p.parent.inode.get()), at("/usr/bin"));
    EXPECT_STREQ(p.name, "newdir");
    EXPECT_TRUE(p.trailing_slash);
    ASSERT_TRUE(resolve_parent(ctx(), "/etc/..", p).is_ok());
    EXPECT_EQ(p.kind, ParentResult::DotDot);
    ASSERT_TRUE(resolve_parent(ctx(), ".", p).is_ok());
    EXPECT_EQ(p.kind, ParentResult::Dot);
    ASSERT_TRUE(resolve_parent(ctx(), "//", p).is_ok());
    EXPECT_EQ(p.kind, ParentResult::Root);
    // Into a mount.
    ASSERT_TRUE(resolve_parent(ctx(), "/mnt/x", p).is_ok());
    EXPECT_EQ(id(p.parent.inode.get()), id(fs2.get()));
    EXPECT_EQ(resolve_parent(ctx(), "", p).error().code(), Errno::NoEnt);
    EXPECT_EQ(resolve_parent(ctx(), "/file/x", p).error().code(), Errno::NotDir);
    EXPECT_EQ(resolve_parent(ctx(), "/nope/x", p).error().code(), Errno::NoEnt);
    EXPECT_EQ(resolve_parent(ctx(), ("/" + std::string(256, 'n')).c_str(), p).error().code(), Errno::NameTooLong);
    EXPECT_EQ(resolve_parent(ctx(), "/loop1/x", p).error().code(), Errno::Loop);
    // The parent then creates through the Inode interface.
    ASSERT_TRUE(resolve_parent(ctx(), "/etc/created", p).is_ok());
    ASSERT_TRUE(p.parent.inode->create(p.last(), 0600, 0, 0).is_ok());
    EXPECT_EQ(at("/etc/created"), id(etc->children["created"].get()));
    EXPECT_EQ(p.parent.inode->create(p.last(), 0600, 0, 0).error().code(), Errno::Exist);
}

TEST_F(PosixPathTree, RandomPathsDoNotCrash) {
    // Paths made of the tree's names, dots, slashes, long and odd bytes, from random starting
    // directories; every result must be a location or an errno resolution can produce.
    const char* pieces[] = {"etc", "passwd", "home",     "user", "notes",    "rel",   "usr", "bin",     "sh",
                            "abs", "loop1",  "loop2",    "self", "dangling", "empty", "mnt", "data",    "file",
                            "up",  "toroot", "filelink", ".",    "..",       "",      "x",   "\xff\x01"};
    std::mt19937 rng(20261127);
    Credentials someone{1001, 1001, nullptr, 0};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(800);
    int runs = 0;
    while (std::chrono::steady_clock::now() < deadline && runs < 200000) {
        runs++;
        std::string p = (rng() & 1) ? "/" : "";
        int n = int(rng() % 12);
        for (int i = 0; i < n; i++) {
            if (rng() % 50 == 0)
                p += std::string(rng() % 300, 'z');
            else
                p += pieces[rng() % (sizeof pieces / sizeof *pieces)];
            if (rng() % 4) p += std::string(1 + rng() % 2, '/');
        }
        if (rng() % 100 == 0) p += std::string(4000 + rng() % 200, '/');
        Location start = root_loc;
        if (rng() & 1) {
            auto s = resolve(ctx(), "/mnt/data", 0);
            if (s.is_ok()) start = s.release_value();
        }
        PathContext c{mounts, root_loc, start, (rng() & 1) ? cred : someone};
        uint32_t flags = rng() & 3;
        auto r = resolve(c, p.c_str(), flags);
        if (r.is_ok()) {
            ASSERT_TRUE(r.value().inode);
            ASSERT_NE(r.value().mount, nullptr);
            if (flags & lookup::Follow) {
                ASSERT_FALSE(is_symlink(r.value().inode->mode()));
            }
        } else {
            Errno e = r.error().code();
            ASSERT_TRUE(e == Errno::NoEnt || e == Errno::NotDir || e == Errno::Loop || e == Errno::NameTooLong ||
                        e == Errno::Acces)
                << int(e) << " " << p;
        }
        ParentResult pr;
        (void)resolve_parent(c, p.c_str(), pr);
    }
    EXPECT_GT(runs, 100);
}

namespace {

struct PosixVfsOps : PosixPathTree {
    void SetUp() override {
        PosixPathTree::SetUp();
        tmp = root->dir("tmp", 01777);
        pub = root->dir("pub", 0777);
    }
    PathContext as(const Credentials& c) { return PathContext{mounts, root_loc, root_loc, c}; }
    static Errno e(Result<void> r) { return r.is_error() ? r.error().code() : Errno::None; }
    template <typename T>
    static Errno e(Result<T> r) {
        return r.is_error() ? r.error().code() : Errno::None;
    }

    MemInode *tmp, *pub;
    Credentials alice{1000, 1000, nullptr, 0};
    Credentials bob{1001, 1001, nullptr, 0};
};

}  // namespace

TEST_F(PosixVfsOps, OpenCreateExclAndFlags) {
    auto c = ctx();
    auto r = vfs_open(c, "/etc/new", oflag::WriteOnly | oflag::Creat, 0640);
    ASSERT_TRUE(r.is_ok());
    EXPECT_TRUE(r.value().created);
    EXPECT_EQ(r.value().loc.inode->mode(), mode::Regular | 0640);
    auto again = vfs_open(c, "/etc/new", oflag::WriteOnly | oflag::Creat, 0600);
    ASSERT_TRUE(again.is_ok());
    EXPECT_FALSE(again.value().created);
    EXPECT_EQ(e(vfs_open(c, "/etc/new", oflag::Creat | oflag::Excl, 0600)), Errno::Exist);
    // O_EXCL does not follow symlinks, even dangling ones.
    EXPECT_EQ(e(vfs_open(c, "/dangling", oflag::Creat | oflag::Excl, 0600)), Errno::Exist);
    EXPECT_EQ(e(vfs_open(c, "/abs", oflag::Creat | oflag::NoFollow, 0600)), Errno::Loop);
    EXPECT_EQ(e(vfs_open(c, "/etc/", oflag::Creat, 0600)), Errno::IsDir);
    EXPECT_EQ(e(vfs_open(c, "/", oflag::Creat, 0600)), Errno::IsDir);
    EXPECT_EQ(e(vfs_open(c, "/etc/x/", oflag::Creat, 0600)), Errno::IsDir);
    EXPECT_EQ(e(vfs_open(c, "/etc", oflag::Creat, 0600)), Errno::IsDir);  // even read-only
    EXPECT_EQ(e(vfs_open(c, "/abs", oflag::Creat, 0600)), Errno::IsDir);
    EXPECT_EQ(e(vfs_open(c, "/nodir/x", oflag::Creat, 0600)), Errno::NoEnt);
    EXPECT_EQ(e(vfs_open(c, "/missing", oflag::ReadOnly, 0)), Errno::NoEnt);
    EXPECT_EQ(e(vfs_open(c, "/abs", oflag::ReadOnly | oflag::NoFollow, 0)), Errno::Loop);
    auto p = vfs_open(c, "/abs", oflag::Path | oflag::NoFollow, 0);
    ASSERT_TRUE(p.is_ok());
    EXPECT_TRUE(is_symlink(p.value().loc.inode->mode()));
    EXPECT_EQ(e(vfs_open(c, "/file", oflag::Directory, 0)), Errno::NotDir);
    EXPECT_EQ(e(vfs_open(c, "/etc", oflag::Directory, 0)), Errno::None);
    EXPECT_EQ(e(vfs_open(c, "/etc", oflag::WriteOnly, 0)), Errno::IsDir);
    EXPECT_EQ(e(vfs_open(c, "/etc", oflag::ReadOnly | oflag::Trunc, 0)), Errno::IsDir);
    EXPECT_EQ(e(vfs_open(c, "/file", oflag::AccMode, 0)), Errno::Inval);
    etc->children["passwd"]->data = "root:x:0:0";
    ASSERT_TRUE(vfs_open(c, "/abs/passwd", oflag::WriteOnly | oflag::Trunc, 0).is_ok());
    EXPECT_EQ(etc->children["passwd"]->data, "");
}

TEST_F(PosixVfsOps, OpenChecksPermissions) {
    auto a = as(alice);
    EXPECT_EQ(e(vfs_open(a, "/etc/passwd", oflag::ReadOnly, 0)), Errno::None);
    EXPECT_EQ(e(vfs_open(a, "/etc/passwd", oflag::ReadWrite, 0)), Errno::Acces);
    EXPECT_EQ(e(vfs_open(a, "/etc/passwd", oflag::ReadOnly | oflag::Trunc, 0)), Errno::Acces);
    EXPECT_EQ(e(vfs_open(a, "/etc/mine", oflag::Creat | oflag::WriteOnly, 0600)), Errno::Acces);
    auto r = vfs_open(a, "/tmp/mine", oflag::Creat | oflag::WriteOnly, 0400);
    ASSERT_TRUE(r.is_ok());
    Stat st;
    ASSERT_TRUE(r.value().loc.inode->getattr(st).is_ok());
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 1000u);
    // Reopening the read-only file for writing is refused; O_PATH needs no permission.
    EXPECT_EQ(e(vfs_open(a, "/tmp/mine", oflag::WriteOnly, 0)), Errno::Acces);
    EXPECT_EQ(e(vfs_open(a, "/tmp/mine", oflag::Path | oflag::WriteOnly, 0)), Errno::None);
    EXPECT_EQ(e(vfs_open(a, "/tmp/mine", oflag::WriteOnly, 0)), Errno::Acces);
    // Root ignores permission bits.
    EXPECT_EQ(e(vfs_open(ctx(), "/tmp/mine", oflag::ReadWrite, 0)), Errno::None);
}

TEST_F(PosixVfsOps, Mkdir) {
    auto c = ctx();
    EXPECT_EQ(e(vfs_mkdir(c, "/etc/d", 0755)), Errno::None);
    EXPECT_TRUE(is_dir(etc->children["d"]->mode()));
    EXPECT_EQ(e(vfs_mkdir(c, "/etc/d2/", 0755)), Errno::None);
    EXPECT_EQ(e(vfs_mkdir(c, "/etc/d", 0755)), Errno::Exist);
    EXPECT_EQ(e(vfs_mkdir(c, "/etc/passwd", 0755)), Errno::Exist);
    EXPECT_EQ(e(vfs_mkdir(c, "/dangling", 0755)), Errno::Exist);
    EXPECT_EQ(e(vfs_mkdir(c, "/etc/..", 0755)), Errno::Exist);
    EXPECT_EQ(e(vfs_mkdir(c, "/", 0755)), Errno::Exist);
    EXPECT_EQ(e(vfs_mkdir(c, "/x/y", 0755)), Errno::NoEnt);
    EXPECT_EQ(e(vfs_mkdir(c, "/file/y", 0755)), Errno::NotDir);
    EXPECT_EQ(e(vfs_mkdir(c, "", 0755)), Errno::NoEnt);
    EXPECT_EQ(e(vfs_mkdir(as(alice), "/etc/no", 0755)), Errno::Acces);
    // Set-group-ID directories hand down their group and the bit.
    MemInode* sg = root->dir("sg", 02777);
    sg->gid = 77;
    ASSERT_EQ(e(vfs_mkdir(as(alice), "/sg/sub", 0750)), Errno::None);
    EXPECT_EQ(sg->children["sub"]->gid, 77u);
    EXPECT_EQ(sg->children["sub"]->mode(), mode::Directory | 02750);
}

TEST_F(PosixVfsOps, UnlinkAndRmdir) {
    auto c = ctx();
    ASSERT_TRUE(vfs_mkdir(c, "/etc/d", 0755).is_ok());
    EXPECT_EQ(e(vfs_unlink(c, "/etc/d")), Errno::IsDir);
    EXPECT_EQ(e(vfs_unlink(c, "/etc/d/")), Errno::IsDir);
    EXPECT_EQ(e(vfs_unlink(c, "/etc/passwd/")), Errno::NotDir);
    EXPECT_EQ(e(vfs_unlink(c, "/etc/none")), Errno::NoEnt);
    EXPECT_EQ(e(vfs_unlink(c, "/etc/.")), Errno::IsDir);
    EXPECT_EQ(e(vfs_unlink(c, "/")), Errno::IsDir);
    // unlink removes the symlink, not its target.
    EXPECT_EQ(e(vfs_unlink(c, "/abs")), Errno::None);
    EXPECT_EQ(at("/etc"), id(etc));
    EXPECT_EQ(e(vfs_unlink(c, "/etc/passwd")), Errno::None);
    EXPECT_EQ(at("/etc/passwd"), err(Errno::NoEnt));

    EXPECT_EQ(e(vfs_rmdir(c, "/file")), Errno::NotDir);
    EXPECT_EQ(e(vfs_rmdir(c, "/etc/d/.")), Errno::Inval);
    EXPECT_EQ(e(vfs_rmdir(c, "/etc/d/..")), Errno::NotEmpty);
    EXPECT_EQ(e(vfs_rmdir(c, "/")), Errno::Busy);
    EXPECT_EQ(e(vfs_rmdir(c, "/mnt")), Errno::Busy);
    EXPECT_EQ(e(vfs_rmdir(c, "/home")), Errno::NotEmpty);
    EXPECT_EQ(e(vfs_rmdir(c, "/etc/d/")), Errno::None);
    EXPECT_EQ(e(vfs_rmdir(c, "/etc/d")), Errno::NoEnt);
}

TEST_F(PosixVfsOps, StickyDirectories) {
    ASSERT_TRUE(vfs_open(as(alice), "/tmp/a", oflag::Creat | oflag::WriteOnly, 0666).is_ok());
    ASSERT_TRUE(vfs_open(as(alice), "/pub/a", oflag::Creat | oflag::WriteOnly, 0666).is_ok());
    EXPECT_EQ(e(vfs_unlink(as(bob), "/tmp/a")), Errno::Perm);
    EXPECT_EQ(e(vfs_rename(as(bob), "/tmp/a", as(bob), "/tmp/b")), Errno::Perm);
    EXPECT_EQ(e(vfs_unlink(as(bob), "/pub/a")), Errno::None);
    EXPECT_EQ(e(vfs_unlink(as(alice), "/tmp/a")), Errno::None);
}

TEST_F(PosixVfsOps, Rename) {
    auto c = ctx();
    ASSERT_TRUE(vfs_mkdir(c, "/pub/d", 0755).is_ok());
    ASSERT_TRUE(vfs_mkdir(c, "/pub/d/sub", 0755).is_ok());
    ASSERT_TRUE(vfs_mkdir(c, "/pub/e", 0755).is_ok());
    ASSERT_TRUE(vfs_open(c, "/pub/f", oflag::Creat, 0644).is_ok());
    ASSERT_TRUE(vfs_open(c, "/pub/g", oflag::Creat, 0644).is_ok());
    EXPECT_EQ(e(vfs_rename(c, "/pub/d", c, "/pub/d/sub/x")), Errno::Inval);
    EXPECT_EQ(e(vfs_rename(c, "/pub/d", c, "/pub/d/x")), Errno::Inval);
    EXPECT_EQ(e(vfs_rename(c, "/pub/d", c, "/pub/f")), Errno::NotDir);
    EXPECT_EQ(e(vfs_rename(c, "/pub/f", c, "/pub/e")), Errno::IsDir);
    EXPECT_EQ(e(vfs_rename(c, "/pub/f", c, "/pub/x/")), Errno::NotDir);
    EXPECT_EQ(e(vfs_rename(c, "/pub/f/", c, "/pub/x")), Errno::NotDir);
    EXPECT_EQ(e(vfs_rename(c, "/pub/.", c, "/pub/x")), Errno::Busy);
    EXPECT_EQ(e(vfs_rename(c, "/pub/f", c, "/pub/..")), Errno::Busy);
    EXPECT_EQ(e(vfs_rename(c, "/pub/f", c, "/mnt/f")), Errno::XDev);
    EXPECT_EQ(e(vfs_rename(c, "/pub/none", c, "/pub/x")), Errno::NoEnt);
    EXPECT_EQ(e(vfs_rename(c, "/pub/f", c, "/pub/f")), Errno::None);
    EXPECT_EQ(e(vfs_rename(c, "/pub/f", c, "/pub/g")), Errno::None);
    EXPECT_EQ(at("/pub/f"), err(Errno::NoEnt));
    EXPECT_EQ(e(vfs_rename(c, "/pub/e", c, "/pub/d")), Errno::NotEmpty);
    EXPECT_EQ(e(vfs_rename(c, "/pub/d/", c, "/etc/moved/")), Errno::None);
    EXPECT_EQ(at("/etc/moved/sub/../.."), id(etc));
    EXPECT_EQ(e(vfs_rename(as(alice), "/etc/moved", as(alice), "/pub/back")), Errno::Acces);
}

TEST_F(PosixVfsOps, LinkSymlinkReadlink) {
    auto c = ctx();
    EXPECT_EQ(e(vfs_link(c, "/etc/passwd", c, "/etc/pw2", false)), Errno::None);
    EXPECT_EQ(at("/etc/pw2"), at("/etc/passwd"));
    EXPECT_EQ(e(vfs_link(c, "/etc/passwd", c, "/etc/pw2", false)), Errno::Exist);
    EXPECT_EQ(e(vfs_link(c, "/etc", c, "/etc2", false)), Errno::Perm);
    EXPECT_EQ(e(vfs_link(c, "/etc/passwd", c, "/mnt/pw", false)), Errno::XDev);
    EXPECT_EQ(e(vfs_link(c, "/etc/passwd", c, "/etc/pw3/", false)), Errno::NoEnt);
    // Without AT_SYMLINK_FOLLOW the link itself is linked.
    ASSERT_EQ(e(vfs_link(c, "/abs", c, "/abs2", false)), Errno::None);
    EXPECT_TRUE(is_symlink(root->children["abs2"]->mode()));
    ASSERT_EQ(e(vfs_link(c, "/filelink", c, "/file2", true)), Errno::None);
    EXPECT_EQ(at("/file2", 0), id(root->children["file"].get()));

    EXPECT_EQ(e(vfs_symlink(c, "etc/passwd", "/pwlink")), Errno::None);
    EXPECT_EQ(at("/pwlink"), at("/etc/passwd"));
    EXPECT_EQ(e(vfs_symlink(c, "x", "/pwlink")), Errno::Exist);
    EXPECT_EQ(e(vfs_symlink(c, "", "/e")), Errno::NoEnt);
    EXPECT_EQ(e(vfs_symlink(c, "x", "/newl/")), Errno::NoEnt);
    EXPECT_EQ(e(vfs_symlink(as(alice), "x", "/etc/l")), Errno::Acces);
    char buf[64];
    auto n = vfs_readlink(c, "/pwlink", buf, sizeof buf);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(std::string(buf, n.value()), "etc/passwd");
    auto shortn = vfs_readlink(c, "/pwlink", buf, 3);
    EXPECT_EQ(shortn.value(), 3u);  // truncated, no NUL
    EXPECT_EQ(e(vfs_readlink(c, "/pwlink", buf, 0)), Errno::Inval);
    EXPECT_EQ(e(vfs_readlink(c, "/etc", buf, sizeof buf)), Errno::Inval);
    EXPECT_EQ(e(vfs_readlink(c, "/abs/", buf, sizeof buf)), Errno::Inval);
}

TEST_F(PosixVfsOps, StatChmodChownTruncateAccess) {
    auto c = ctx();
    Stat st;
    ASSERT_TRUE(vfs_stat(c, "/abs", true, st).is_ok());
    EXPECT_EQ(st.st_ino, etc->ino());
    EXPECT_TRUE(is_dir(st.st_mode));
    ASSERT_TRUE(vfs_stat(c, "/abs", false, st).is_ok());
    EXPECT_TRUE(is_symlink(st.st_mode));
    EXPECT_EQ(st.st_size, 4);
    EXPECT_EQ(e(vfs_stat(c, "/dangling", true, st)), Errno::NoEnt);
    EXPECT_EQ(e(vfs_stat(c, "/dangling", false, st)), Errno::None);

    ASSERT_TRUE(vfs_open(as(alice), "/tmp/f", oflag::Creat | oflag::WriteOnly, 0644).is_ok());
    MemInode* f = tmp->children["f"].get();
    EXPECT_EQ(e(vfs_chmod(as(bob), "/tmp/f", 0777)), Errno::Perm);
    EXPECT_EQ(e(vfs_chmod(as(alice), "/tmp/f", 02755)), Errno::None);
    EXPECT_EQ(f->mode(), mode::Regular | 02755);
    EXPECT_EQ(e(vfs_chmod(c, "/tmp/f", 04700)), Errno::None);
    EXPECT_EQ(f->mode(), mode::Regular | 04700);
    f->gid = 5;
    EXPECT_EQ(e(vfs_chmod(as(alice), "/tmp/f", 02700)), Errno::None);
    EXPECT_EQ(f->mode(), mode::Regular | 0700);  // not in group 5: no set-group-ID

    EXPECT_EQ(e(vfs_chown(as(alice), "/tmp/f", 1001, 0xffffffff, true)), Errno::Perm);
    EXPECT_EQ(e(vfs_chown(as(alice), "/tmp/f", 0xffffffff, 1000, true)), Errno::None);
    EXPECT_EQ(f->gid, 1000u);
    EXPECT_EQ(e(vfs_chown(as(alice), "/tmp/f", 0xffffffff, 1234, true)), Errno::Perm);
    EXPECT_EQ(e(vfs_chown(as(bob), "/tmp/f", 0xffffffff, 0xffffffff, true)), Errno::Perm);
    ASSERT_EQ(e(vfs_chmod(c, "/tmp/f", 06755)), Errno::None);
    EXPECT_EQ(e(vfs_chown(c, "/tmp/f", 1001, 1001, true)), Errno::None);
    EXPECT_EQ(f->uid, 1001u);
    EXPECT_EQ(f->mode(), mode::Regular | 0755);  // set-ID bits cleared by the owner change
    // chown without following changes the link itself.
    ASSERT_EQ(e(vfs_chown(c, "/abs", 7, 7, false)), Errno::None);
    EXPECT_EQ(root->children["abs"]->uid, 7u);
    EXPECT_EQ(etc->uid, 0u);

    f->data = "0123456789";
    EXPECT_EQ(e(vfs_truncate(as(bob), "/tmp/f", 4)), Errno::None);
    EXPECT_EQ(f->data, "0123");
    EXPECT_EQ(e(vfs_truncate(as(alice), "/tmp/f", 2)), Errno::Acces);
    EXPECT_EQ(e(vfs_truncate(c, "/tmp/f", -1)), Errno::Inval);
    EXPECT_EQ(e(vfs_truncate(c, "/etc", 0)), Errno::IsDir);

    EXPECT_EQ(e(vfs_access(as(alice), "/tmp/f", access::Read | access::Exec)), Errno::None);
    EXPECT_EQ(e(vfs_access(as(alice), "/tmp/f", access::Write)), Errno::Acces);
    EXPECT_EQ(e(vfs_access(as(alice), "/tmp/none", 0)), Errno::NoEnt);
    EXPECT_EQ(e(vfs_access(as(alice), "/tmp/f", 8)), Errno::Inval);
    EXPECT_EQ(e(vfs_access(c, "/file", access::Exec)), Errno::Acces);
}

TEST_F(PosixVfsOps, Getdents64) {
    uint8_t buf[4096];
    uint64_t cookie = 0;
    auto n = fill_dirents64(*etc, &cookie, buf, sizeof buf);
    ASSERT_TRUE(n.is_ok());
    std::vector<std::string> names;
    for (size_t off = 0; off < n.value();) {
        Dirent64Header h;
        memcpy(&h.d_reclen, buf + off + 16, 2);
        EXPECT_EQ(h.d_reclen % 8, 0u);
        names.push_back(reinterpret_cast<const char*>(buf + off + DIRENT64_NAME_OFFSET));
        off += h.d_reclen;
    }
    EXPECT_EQ(names, (std::vector<std::string>{".", "..", "passwd"}));
    EXPECT_EQ(fill_dirents64(*etc, &cookie, buf, sizeof buf).value(), 0u);  // the end
    // A small buffer takes what fits whole and continues where it stopped; too small is EINVAL.
    cookie = 0;
    EXPECT_EQ(fill_dirents64(*etc, &cookie, buf, 10).error().code(), Errno::Inval);
    EXPECT_EQ(cookie, 0u);
    EXPECT_EQ(fill_dirents64(*etc, &cookie, buf, 24).value(), 24u);
    EXPECT_STREQ(reinterpret_cast<const char*>(buf + 19), ".");
    uint64_t ino;
    memcpy(&ino, buf, 8);
    EXPECT_EQ(ino, etc->ino());
    EXPECT_EQ(fill_dirents64(*etc, &cookie, buf, 55).value(), 24u);  // ".." only: "passwd" needs 32
    EXPECT_EQ(fill_dirents64(*etc, &cookie, buf, 56).value(), 32u);
    EXPECT_STREQ(reinterpret_cast<const char*>(buf + 19), "passwd");
    EXPECT_EQ(buf[18], dtype::Regular);
    EXPECT_EQ(fill_dirents64(*root->children["file"], &cookie, buf, 48).error().code(), Errno::NotDir);
}

TEST_F(PosixVfsOps, Utimens) {
    ASSERT_TRUE(vfs_open(as(alice), "/tmp/t", oflag::Creat | oflag::WriteOnly, 0666).is_ok());
    MemInode* f = tmp->children["t"].get();
    Timespec now{1000, 5};
    ASSERT_TRUE(vfs_utimens(as(alice), "/tmp/t", nullptr, now, true).is_ok());
    EXPECT_EQ(f->atime.tv_sec, 1000);
    EXPECT_EQ(f->mtime.tv_nsec, 5);
    Timespec explicit_times[2] = {{1, 0}, {2, UTIMENS_OMIT}};
    ASSERT_TRUE(vfs_utimens(as(alice), "/tmp/t", explicit_times, now, true).is_ok());
    EXPECT_EQ(f->atime.tv_sec, 1);
    EXPECT_EQ(f->mtime.tv_sec, 1000);
    // Bob may only touch (write permission), not set explicit times.
    EXPECT_EQ(vfs_utimens(as(bob), "/tmp/t", explicit_times, now, true).error().code(), Errno::Perm);
    Timespec later{2000, 0};
    EXPECT_TRUE(vfs_utimens(as(bob), "/tmp/t", nullptr, later, true).is_ok());
    EXPECT_EQ(f->mtime.tv_sec, 2000);
    f->setattr(SetAttr{SetAttr::Mode, 0644}).release_value();
    EXPECT_EQ(vfs_utimens(as(bob), "/tmp/t", nullptr, later, true).error().code(), Errno::Acces);
    Timespec omit[2] = {{0, UTIMENS_OMIT}, {0, UTIMENS_OMIT}};
    EXPECT_TRUE(vfs_utimens(as(bob), "/tmp/t", omit, later, true).is_ok());
    Timespec bad[2] = {{0, 1000000000}, {0, 0}};
    EXPECT_EQ(vfs_utimens(as(alice), "/tmp/t", bad, now, true).error().code(), Errno::Inval);
}

TEST_F(PosixVfsOps, ReadWriteSeekThroughDescriptions) {
    auto c = ctx();
    auto opened = vfs_open(c, "/etc/log", oflag::Creat | oflag::ReadWrite, 0644);
    ASSERT_TRUE(opened.is_ok());
    RefPtr<OpenFile> f = VnodeFile::open(opened.value().loc, oflag::ReadWrite).release_value();
    EXPECT_EQ(vnode_write(*f, "hello", 5).value(), 5u);
    EXPECT_EQ(f->offset, 5u);
    char buf[16] = {};
    EXPECT_EQ(vnode_read(*f, buf, sizeof buf).value(), 0u);  // at the end
    EXPECT_EQ(vnode_lseek(*f, 1, seek::Set).value(), 1u);
    EXPECT_EQ(vnode_read(*f, buf, 3).value(), 3u);
    EXPECT_EQ(std::string(buf, 3), "ell");
    EXPECT_EQ(vnode_lseek(*f, -2, seek::Cur).value(), 2u);
    EXPECT_EQ(vnode_lseek(*f, -1, seek::End).value(), 4u);
    EXPECT_EQ(vnode_lseek(*f, 10, seek::End).value(), 15u);  // past the end is allowed
    EXPECT_EQ(vnode_lseek(*f, -6, seek::End).error().code(), Errno::Inval);
    EXPECT_EQ(f->offset, 15u);  // a failed seek leaves the offset
    EXPECT_EQ(vnode_lseek(*f, 0, 7).error().code(), Errno::Inval);
    EXPECT_EQ(vnode_lseek(*f, 2, seek::Data).value(), 2u);
    EXPECT_EQ(vnode_lseek(*f, 2, seek::Hole).value(), 5u);
    EXPECT_EQ(vnode_lseek(*f, 5, seek::Data).error().code(), Errno::NXIO);
    ASSERT_TRUE(vnode_lseek(*f, INT64_MAX, seek::Set).is_ok());
    EXPECT_EQ(vnode_lseek(*f, 1, seek::Cur).error().code(), Errno::Overflow);
    EXPECT_EQ(vnode_write(*f, "x", 1).error().code(), Errno::FBig);

    // pread/pwrite leave the offset alone.
    ASSERT_TRUE(vnode_lseek(*f, 0, seek::Set).is_ok());
    EXPECT_EQ(vnode_pwrite(*f, "J", 1, 0).value(), 1u);
    EXPECT_EQ(vnode_pread(*f, buf, 5, 0).value(), 5u);
    EXPECT_EQ(std::string(buf, 5), "Jello");
    EXPECT_EQ(f->offset, 0u);
    EXPECT_EQ(vnode_pread(*f, buf, 5, -1).error().code(), Errno::Inval);

    // O_APPEND moves every write to the end; F_SETFL can turn it on later.
    f->set_status_flags(oflag::Append);
    EXPECT_EQ(vnode_write(*f, "!", 1).value(), 1u);
    EXPECT_EQ(f->offset, 6u);
    EXPECT_EQ(vnode_pwrite(*f, "?", 1, 0).value(), 1u);
    EXPECT_EQ(etc->children["log"]->data, "Jello!?");

    // Access modes and directories.
    RefPtr<OpenFile> ro = VnodeFile::open(opened.value().loc, oflag::ReadOnly).release_value();
    EXPECT_EQ(vnode_write(*ro, "x", 1).error().code(), Errno::BadF);
    RefPtr<OpenFile> wo = VnodeFile::open(opened.value().loc, oflag::WriteOnly).release_value();
    EXPECT_EQ(vnode_read(*wo, buf, 1).error().code(), Errno::BadF);
    EXPECT_EQ(vnode_getdents64(*wo, reinterpret_cast<uint8_t*>(buf), sizeof buf).error().code(), Errno::NotDir);
    Location d = must(resolve(c, "/etc", 0));
    RefPtr<OpenFile> dir = VnodeFile::open(d, oflag::ReadOnly | oflag::Directory).release_value();
    EXPECT_EQ(vnode_read(*dir, buf, 1).error().code(), Errno::IsDir);
    uint8_t dents[256];
    size_t total = 0;
    for (;;) {
        auto r = vnode_getdents64(*dir, dents, 40);  // one record at a time
        ASSERT_TRUE(r.is_ok());
        if (r.value() == 0) break;
        total++;
    }
    EXPECT_EQ(total, 4u);  // . .. log passwd
    ASSERT_TRUE(vnode_lseek(*dir, 0, seek::Set).is_ok());
    EXPECT_GT(vnode_getdents64(*dir, dents, sizeof dents).value(), 0u);
}
