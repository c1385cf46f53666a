// lamina:portable
#include "kernel/posix/fs/tmpfs.h"

#include <new>

#include <lamina/intrusive_list.h>
#include <lamina/page.h>
#include "kernel/posix/fd/file_object.h"

namespace lamina::posix {

namespace {
constexpr uint64_t PAGE = PAGE_SIZE;
constexpr uint64_t NODE_COST = 256;  // what a node is charged, whatever its kind
constexpr uint64_t MAX_FILE_SIZE = 1ull << 40;
}  // namespace

class TmpfsNode final : public Inode {
public:
    TmpfsNode(Tmpfs* fs, uint64_t ino, uint32_t mode, uint32_t uid, uint32_t gid)
        : fs_(fs), ino_(ino), mode_(mode), uid_(uid), gid_(gid) {
        atime_ = mtime_ = ctime_ = fs->now();
        all_link_.owner = this;
        fs->all_.push_back(&all_link_.node);
    }
    ~TmpfsNode() override;

    uint64_t dev() const override { return fs_ ? fs_->options_.dev : 0; }
    uint64_t ino() const override { return ino_; }
    uint32_t mode() const override { return mode_; }
    Result<void> getattr(Stat& st) override;
    Result<void> setattr(const SetAttr& a) override;

    Result<RefPtr<Inode>> lookup(Name name) override;
    Result<bool> readdir(uint64_t& cookie, DirEntry& out) override;
    Result<RefPtr<Inode>> create(Name name, uint32_t mode, uint32_t uid, uint32_t gid) override {
        // Sockets (AF_UNIX bind) keep their type; everything else open creates is a file.
        uint32_t type = (mode & mode::TypeMask) == mode::Socket ? mode::Socket : mode::Regular;
        return make(name, type | (mode & mode::PermMask), uid, gid, 0, nullptr);
    }
    Result<RefPtr<Inode>> mkdir(Name name, uint32_t mode, uint32_t uid, uint32_t gid) override {
        return make(name, mode::Directory | (mode & mode::PermMask), uid, gid, 0, nullptr);
    }
    Result<RefPtr<Inode>> symlink(Name name, Name target, uint32_t uid, uint32_t gid) override {
        return make(name, mode::Symlink | 0777, uid, gid, 0, &target);
    }
    Result<void> link(Name name, Inode& target) override;
    Result<void> unlink(Name name) override;
    Result<void> rmdir(Name name) override;
    Result<void> rename(Name from, Inode& new_dir, Name to) override;

    Result<size_t> read(uint64_t offset, void* dst, size_t n) override;
    Result<size_t> write(uint64_t offset, const void* src, size_t n) override;
    Result<size_t> readlink(char* buf, size_t n) override;
    Result<RefPtr<FileObject>> open_file(const Location& loc, uint32_t oflags) override;
    Result<void> statfs(StatFs& st) override;

    Result<RefPtr<Inode>> make(Name name, uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev, const Name* target);

private:
    friend class Tmpfs;
    struct Entry {
        char* name;
        uint16_t len;
        uint64_t pos;  // stable readdir position (>= 2; 0 and 1 are "." and "..")
        RefPtr<TmpfsNode> node;
    };

    bool is_directory() const { return is_dir(mode_); }
    int find(Name name) const;
    Result<void> add_entry(Name name, RefPtr<TmpfsNode> node);
    void remove_entry(int index);
    void touch_mc() { mtime_ = ctime_ = fs_->now(); }
    Result<void> resize(uint64_t size);  // lock held
    void free_pages_from(uint64_t first_page);

    Tmpfs* fs_;  // null once the file system is gone (the node then fails with EIO)
    struct AllLink {
        ListNode node;  // first: a ListNode* is a pointer to the AllLink
        TmpfsNode* owner;
    } all_link_;  // Tmpfs::all_
    uint64_t ino_;
    uint32_t mode_;
    uint32_t uid_, gid_;
    uint32_t nlink_ = 0;
    uint32_t rdev_ = 0;
    Timespec atime_{}, mtime_{}, ctime_{};

    // Directories.
    TmpfsNode* parent_ = nullptr;  // the directory holding this one's entry (it holds us alive)
    Entry* entries_ = nullptr;
    size_t count_ = 0, cap_ = 0;
    uint64_t next_pos_ = 2;

    // Files and symlinks.
    uint64_t size_ = 0;
    uint8_t** pages_ = nullptr;
    size_t page_cap_ = 0;
    char* target_ = nullptr;
};

namespace {
TmpfsNode* node_of(ListNode* n) {
    struct Link {
        ListNode node;
        TmpfsNode* owner;
    };
    return reinterpret_cast<Link*>(n)->owner;
}
}  // namespace

// --- the file system ------------------------------------------------------------------------

Result<RefPtr<Tmpfs>> Tmpfs::create(const TmpfsOptions& options) {
    RefPtr<Tmpfs> ref = TRY(adopt_ref_or_nomem(new (std::nothrow) Tmpfs(options)));
    Tmpfs* fs = ref.get();
    // root_ holds the root's first reference; ~Tmpfs drops it.
    TmpfsNode* root = new (std::nothrow) TmpfsNode(fs, 1, mode::Directory | (options.root_mode & mode::PermMask), 0, 0);
    if (!root) return Errno::NoMem;
    root->nlink_ = 2;
    root->parent_ = root;
    fs->root_ = root;
    fs->nodes_ = 1;
    fs->used_ = NODE_COST;
    return ref;
}

Tmpfs::~Tmpfs() {
    // Dropping the root frees the tree; nodes still referenced from elsewhere (open files)
    // are orphaned: they stay valid objects, and fail with EIO from now on.
    if (root_) {  // null when create() failed to make it
        root_->parent_ = nullptr;
        root_->unref();
    }
    while (ListNode* n = all_.pop_front()) node_of(n)->fs_ = nullptr;
}

RefPtr<Inode> Tmpfs::root() const { return RefPtr<Inode>(root_); }

Result<void> Tmpfs::charge(uint64_t bytes) {
    if (used_ + bytes > options_.max_bytes) return Errno::NoSpc;
    used_ += bytes;
    return {};
}

Result<RefPtr<Inode>> Tmpfs::make_node(Inode& dir, const char* name, uint32_t mode, uint32_t rdev) {
    size_t len = 0;
    while (name[len]) len++;
    auto& d = static_cast<TmpfsNode&>(dir);
    return d.make(Name{name, len}, mode, 0, 0, rdev, nullptr);
}

// --- nodes ----------------------------------------------------------------------------------

TmpfsNode::~TmpfsNode() {
    if (fs_) {
        IrqSpinlockGuard g(fs_->lock_);
        fs_->all_.remove(&all_link_.node);
        free_pages_from(0);
        fs_->uncharge(NODE_COST);
        fs_->nodes_--;
    } else {
        free_pages_from(0);
    }
    for (size_t i = 0; i < count_; i++) delete[] entries_[i].name;
    // Entries' nodes are released by the array's destructor (outside the lock: their own
    // destructors take it).
    delete[] entries_;
    delete[] pages_;
    delete[] target_;
}

void TmpfsNode::free_pages_from(uint64_t first_page) {
    for (size_t i = first_page; i < page_cap_; i++) {
        if (pages_[i]) {
            delete[] pages_[i];
            pages_[i] = nullptr;
            if (fs_) fs_->uncharge(PAGE);
        }
    }
}

Result<void> TmpfsNode::getattr(Stat& st) {
    if (!fs_) return Errno::IO;
    IrqSpinlockGuard g(fs_->lock_);
    st = Stat{};
    st.st_dev = fs_->options_.dev;
    st.st_ino = ino_;
    st.st_nlink = nlink_;
    st.st_mode = mode_;
    st.st_uid = uid_;
    st.st_gid = gid_;
    st.st_rdev = rdev_;
    st.st_blksize = PAGE;
    uint64_t pages = 0;
    for (size_t i = 0; i < page_cap_; i++) pages += pages_[i] ? 1 : 0;
    if (is_directory()) {
        st.st_size = int64_t((count_ + 2) * 20);  // tmpfs reports a size that grows with entries
    } else {
        st.st_size = int64_t(size_);
    }
    st.st_blocks = int64_t(pages * (PAGE / 512));
    st.st_atim = atime_;
    st.st_mtim = mtime_;
    st.st_ctim = ctime_;
    return {};
}

Result<void> TmpfsNode::resize(uint64_t size) {
    if (size > MAX_FILE_SIZE) return Errno::FBig;
    uint64_t need = (size + PAGE - 1) / PAGE;
    if (need < page_cap_) {
        free_pages_from(need);
        // The page holding the new end keeps only the bytes before it.
        if (size % PAGE && pages_[need - 1]) {
            __builtin_memset(pages_[need - 1] + size % PAGE, 0, PAGE - size % PAGE);
        }
    } else if (need > page_cap_) {
        size_t cap = page_cap_ ? page_cap_ : 4;
        while (cap < need) cap *= 2;
        uint8_t** p = new (std::nothrow) uint8_t*[cap];
        if (!p) return Errno::NoSpc;
        for (size_t i = 0; i < cap; i++) p[i] = i < page_cap_ ? pages_[i] : nullptr;
        delete[] pages_;
        pages_ = p;
        page_cap_ = cap;
    }
    if (size < size_ && size % PAGE && need > 0 && need <= page_cap_ && pages_[need - 1]) {
        __builtin_memset(pages_[need - 1] + size % PAGE, 0, PAGE - size % PAGE);
    }
    size_ = size;
    return {};
}

Result<void> TmpfsNode::setattr(const SetAttr& a) {
    if (!fs_) return Errno::IO;
    IrqSpinlockGuard g(fs_->lock_);
    if (a.mask & SetAttr::Size) {
        if (is_directory()) return Errno::IsDir;
        if (!is_regular(mode_)) return Errno::Inval;
        if (a.size < 0) return Errno::Inval;
        if (uint64_t(a.size) != size_) {
            TRY(resize(uint64_t(a.size)));
            mtime_ = fs_->now();
        }
    }
    if (a.mask & SetAttr::Mode) mode_ = (mode_ & mode::TypeMask) | (a.mode & mode::PermMask);
    if (a.mask & SetAttr::Uid) uid_ = a.uid;
    if (a.mask & SetAttr::Gid) gid_ = a.gid;
    if (a.mask & SetAttr::Atime) atime_ = a.atime;
    if (a.mask & SetAttr::Mtime) mtime_ = a.mtime;
    ctime_ = fs_->now();
    return {};
}

int TmpfsNode::find(Name name) const {
    for (size_t i = 0; i < count_; i++) {
        const Entry& e = entries_[i];
        if (e.len == name.len && __builtin_memcmp(e.name, name.ptr, name.len) == 0) return int(i);
    }
    return -1;
}

Result<void> TmpfsNode::add_entry(Name name, RefPtr<TmpfsNode> node) {
    if (name.len > MAX_NAME_LEN) return Errno::NameTooLong;
    if (count_ == cap_) {
        size_t cap = cap_ ? cap_ * 2 : 8;
        Entry* e = new (std::nothrow) Entry[cap];
        if (!e) return Errno::NoSpc;
        for (size_t i = 0; i < count_; i++) {
            e[i].name = entries_[i].name;
            e[i].len = entries_[i].len;
            e[i].pos = entries_[i].pos;
            e[i].node = static_cast<RefPtr<TmpfsNode>&&>(entries_[i].node);
        }
        delete[] entries_;
        entries_ = e;
        cap_ = cap;
    }
    char* copy = new (std::nothrow) char[name.len + 1];
    if (!copy) return Errno::NoSpc;
    __builtin_memcpy(copy, name.ptr, name.len);
    copy[name.len] = 0;
    Entry& e = entries_[count_++];
    e.name = copy;
    e.len = uint16_t(name.len);
    e.pos = next_pos_++;
    node->nlink_ += 1;
    e.node = static_cast<RefPtr<TmpfsNode>&&>(node);
    return {};
}

// Keeps the order (readdir positions must stay sorted). The caller holds its own reference to
// the entry's node, so that no node destructor (which takes the lock) runs in here.
void TmpfsNode::remove_entry(int index) {
    Entry& e = entries_[index];
    e.node->nlink_ -= 1;
    delete[] e.name;
    for (size_t i = size_t(index); i + 1 < count_; i++) {
        entries_[i].name = entries_[i + 1].name;
        entries_[i].len = entries_[i + 1].len;
        entries_[i].pos = entries_[i + 1].pos;
        entries_[i].node = static_cast<RefPtr<TmpfsNode>&&>(entries_[i + 1].node);
    }
    count_--;
    entries_[count_].name = nullptr;
    entries_[count_].node = nullptr;
}

Result<RefPtr<Inode>> TmpfsNode::lookup(Name name) {
    if (!fs_) return Errno::IO;
    if (!is_directory()) return Errno::NotDir;
    IrqSpinlockGuard g(fs_->lock_);
    if (name.equals(".")) return RefPtr<Inode>(this);
    if (name.equals("..")) {
        if (!parent_) return Errno::NoEnt;  // removed while still someone's cwd
        return RefPtr<Inode>(parent_);
    }
    int i = find(name);
    if (i < 0) return Errno::NoEnt;
    return RefPtr<Inode>(entries_[i].node.get());
}

Result<bool> TmpfsNode::readdir(uint64_t& cookie, DirEntry& out) {
    if (!fs_) return Errno::IO;
    if (!is_directory()) return Errno::NotDir;
    IrqSpinlockGuard g(fs_->lock_);
    if (!parent_) return false;  // a removed directory reads as empty
    if (cookie < 2) {
        bool dot = cookie == 0;
        out.ino = dot ? ino_ : parent_->ino_;
        out.type = dtype::Dir;
        out.name_len = dot ? 1 : 2;
        out.name[0] = '.';
        out.name[1] = '.';
        out.name[out.name_len] = 0;
        cookie = cookie + 1;
        return true;
    }
    for (size_t i = 0; i < count_; i++) {
        const Entry& e = entries_[i];
        if (e.pos < cookie) continue;
        out.ino = e.node->ino_;
        uint32_t t = e.node->mode_ & mode::TypeMask;
        out.type = t == mode::Directory ? dtype::Dir
                   : t == mode::Symlink ? dtype::Symlink
                   : t == mode::Regular ? dtype::Regular
                   : t == mode::Char    ? dtype::Char
                   : t == mode::Block   ? dtype::Block
                   : t == mode::Fifo    ? dtype::Fifo
                   : t == mode::Socket  ? dtype::Socket
                                        : dtype::Unknown;
        out.name_len = e.len;
        __builtin_memcpy(out.name, e.name, e.len);
        out.name[e.len] = 0;
        cookie = e.pos + 1;
        return true;
    }
    return false;
}

Result<RefPtr<Inode>> TmpfsNode::make(Name name, uint32_t m, uint32_t uid, uint32_t gid, uint32_t rdev,
                                      const Name* target) {
    if (!fs_) return Errno::IO;
    if (!is_directory()) return Errno::NotDir;
    if (name.len > MAX_NAME_LEN) return Errno::NameTooLong;
    char* text = nullptr;
    if (target) {
        text = new (std::nothrow) char[target->len + 1];
        if (!text) return Errno::NoSpc;
        __builtin_memcpy(text, target->ptr, target->len);
        text[target->len] = 0;
    }
    RefPtr<TmpfsNode> node;  // released after the lock (a failure below destroys it)
    IrqSpinlockGuard g(fs_->lock_);
    auto fail = [&](Errno e) -> Result<RefPtr<Inode>> {
        if (!node) delete[] text;
        return e;
    };
    if (!parent_) return fail(Errno::NoEnt);  // a removed directory takes no new entries
    if (find(name) >= 0) return fail(Errno::Exist);
    if (fs_->charge(NODE_COST).is_error()) return fail(Errno::NoSpc);
    TmpfsNode* n = new (std::nothrow) TmpfsNode(fs_, fs_->next_ino_++, m, uid, gid);
    if (!n) {
        fs_->uncharge(NODE_COST);
        return fail(Errno::NoSpc);
    }
    node = adopt_ref(n);
    fs_->nodes_++;
    node->rdev_ = rdev;
    if (text) {
        node->target_ = text;
        node->size_ = target->len;
    }
    if (is_dir(m)) {
        node->parent_ = this;
        node->nlink_ = 1;  // its own "."
    }
    if (auto r = add_entry(name, node); r.is_error()) return r.error();
    if (is_dir(m)) nlink_++;  // the child's ".."
    touch_mc();
    return RefPtr<Inode>(node.get());
}

Result<void> TmpfsNode::link(Name name, Inode& target) {
    if (!fs_) return Errno::IO;
    if (!is_directory()) return Errno::NotDir;
    auto& t = static_cast<TmpfsNode&>(target);
    if (t.fs_ != fs_) return Errno::XDev;
    IrqSpinlockGuard g(fs_->lock_);
    if (!parent_) return Errno::NoEnt;
    if (find(name) >= 0) return Errno::Exist;
    if (t.nlink_ == 0) return Errno::NoEnt;  // linking a file already unlinked
    TRY(add_entry(name, RefPtr<TmpfsNode>(&t)));
    t.ctime_ = fs_->now();
    touch_mc();
    return {};
}

Result<void> TmpfsNode::unlink(Name name) {
    if (!fs_) return Errno::IO;
    if (!is_directory()) return Errno::NotDir;
    RefPtr<TmpfsNode> victim;  // released after the lock
    {
        IrqSpinlockGuard g(fs_->lock_);
        int i = find(name);
        if (i < 0) return Errno::NoEnt;
        if (is_dir(entries_[i].node->mode_)) return Errno::IsDir;
        victim = entries_[i].node;
        remove_entry(i);
        victim->ctime_ = fs_->now();
        touch_mc();
    }
    return {};
}

Result<void> TmpfsNode::rmdir(Name name) {
    if (!fs_) return Errno::IO;
    if (!is_directory()) return Errno::NotDir;
    RefPtr<TmpfsNode> victim;
    {
        IrqSpinlockGuard g(fs_->lock_);
        int i = find(name);
        if (i < 0) return Errno::NoEnt;
        TmpfsNode* d = entries_[i].node.get();
        if (!is_dir(d->mode_)) return Errno::NotDir;
        if (d->count_) return Errno::NotEmpty;
        victim = entries_[i].node;
        remove_entry(i);
        victim->nlink_ = 0;
        victim->parent_ = nullptr;
        nlink_--;
        touch_mc();
    }
    return {};
}

Result<void> TmpfsNode::rename(Name from, Inode& new_dir_inode, Name to) {
    if (!fs_) return Errno::IO;
    if (!is_directory()) return Errno::NotDir;
    auto& nd = static_cast<TmpfsNode&>(new_dir_inode);
    if (nd.fs_ != fs_) return Errno::XDev;
    if (to.len > MAX_NAME_LEN) return Errno::NameTooLong;
    RefPtr<TmpfsNode> replaced;
    IrqSpinlockGuard g(fs_->lock_);
    if (!nd.parent_) return Errno::NoEnt;
    int si = find(from);
    if (si < 0) return Errno::NoEnt;
    RefPtr<TmpfsNode> src = entries_[si].node;
    bool src_dir = is_dir(src->mode_);
    int di = nd.find(to);
    if (di >= 0) {
        TmpfsNode* dst = nd.entries_[di].node.get();
        if (dst == src.get()) return {};
        bool dst_dir = is_dir(dst->mode_);
        if (src_dir && !dst_dir) return Errno::NotDir;
        if (!src_dir && dst_dir) return Errno::IsDir;
        if (dst_dir && dst->count_) return Errno::NotEmpty;
        replaced = nd.entries_[di].node;
        nd.remove_entry(di);
        if (dst_dir) {
            replaced->nlink_ = 0;
            replaced->parent_ = nullptr;
            nd.nlink_--;
        }
        replaced->ctime_ = fs_->now();
    }
    // Add first so that a failed allocation leaves the source in place.
    if (auto r = nd.add_entry(to, src); r.is_error()) return r.error();
    // The old entry is the first one named `from` that is not the one just added.
    for (size_t i = 0; i < count_; i++) {
        Entry& e = entries_[i];
        if (e.len == from.len && __builtin_memcmp(e.name, from.ptr, from.len) == 0) {
            remove_entry(int(i));
            break;
        }
    }
    if (src_dir) {
        src->parent_ = &nd;
        if (&nd != this) {
            nlink_--;
            nd.nlink_++;
        }
    }
    src->ctime_ = fs_->now();
    touch_mc();
    nd.touch_mc();
    return {};
}

Result<size_t> TmpfsNode::read(uint64_t offset, void* dst, size_t n) {
    if (!fs_) return Errno::IO;
    if (is_directory()) return Errno::IsDir;
    if (!is_regular(mode_)) return Errno::Inval;
    IrqSpinlockGuard g(fs_->lock_);
    if (offset >= size_) return size_t(0);
    if (n > size_ - offset) n = size_t(size_ - offset);
    auto* out = static_cast<uint8_t*>(dst);
    size_t done = 0;
    while (done < n) {
        uint64_t at = offset + done;
        uint64_t page = at / PAGE;
        size_t off = size_t(at % PAGE);
        size_t k = PAGE - off < n - done ? PAGE - off : n - done;
        if (page < page_cap_ && pages_[page])
            __builtin_memcpy(out + done, pages_[page] + off, k);
        else
            __builtin_memset(out + done, 0, k);
        done += k;
    }
    atime_ = fs_->now();
    return n;
}

Result<size_t> TmpfsNode::write(uint64_t offset, const void* src, size_t n) {
    if (!fs_) return Errno::IO;
    if (is_directory()) return Errno::IsDir;
    if (!is_regular(mode_)) return Errno::Inval;
    if (n == 0) return size_t(0);
    if (offset >= MAX_FILE_SIZE) return Errno::FBig;
    if (n > MAX_FILE_SIZE - offset) n = size_t(MAX_FILE_SIZE - offset);
    IrqSpinlockGuard g(fs_->lock_);
    uint64_t end = offset + n;
    if (end > size_) {
        uint64_t old = size_;
        TRY(resize(end));
        size_ = old;  // grows only with what is actually written
    }
    auto* in = static_cast<const uint8_t*>(src);
    size_t done = 0;
    while (done < n) {
        uint64_t at = offset + done;
        uint64_t page = at / PAGE;
        size_t off = size_t(at % PAGE);
        size_t k = PAGE - off < n - done ? PAGE - off : n - done;
        if (!pages_[page]) {
            if (fs_->charge(PAGE).is_error()) break;
            pages_[page] = new (std::nothrow) uint8_t[PAGE];
            if (!pages_[page]) {
                fs_->uncharge(PAGE);
                break;
            }
            __builtin_memset(pages_[page], 0, PAGE);
        }
        __builtin_memcpy(pages_[page] + off, in + done, k);
        done += k;
    }
    if (done == 0) return Errno::NoSpc;
    if (offset + done > size_) size_ = offset + done;
    touch_mc();
    return done;
}

Result<size_t> TmpfsNode::readlink(char* buf, size_t n) {
    if (!fs_) return Errno::IO;
    if (!is_symlink(mode_) || !target_) return Errno::Inval;
    IrqSpinlockGuard g(fs_->lock_);
    size_t k = size_ < n ? size_t(size_) : n;
    __builtin_memcpy(buf, target_, k);
    return k;
}

Result<RefPtr<FileObject>> TmpfsNode::open_file(const Location& loc, uint32_t oflags) {
    uint32_t t = mode_ & mode::TypeMask;
    if (t != mode::Char && t != mode::Block) return RefPtr<FileObject>();
    if (!fs_ || !fs_->options_.devices) return Errno::NXIO;
    return fs_->options_.devices->open_device(rdev_, loc, oflags);
}

Result<void> TmpfsNode::statfs(StatFs& st) {
    if (!fs_) return Errno::IO;
    IrqSpinlockGuard g(fs_->lock_);
    st = StatFs{};
    st.f_type = fs_->options_.magic;
    st.f_bsize = st.f_frsize = PAGE;
    st.f_blocks = fs_->options_.max_bytes / PAGE;
    uint64_t used = (fs_->used_ + PAGE - 1) / PAGE;
    st.f_bfree = st.f_bavail = st.f_blocks > used ? st.f_blocks - used : 0;
    st.f_files = fs_->options_.max_bytes / NODE_COST;
    st.f_ffree = st.f_files > fs_->nodes_ ? st.f_files - fs_->nodes_ : 0;
    st.f_namelen = MAX_NAME_LEN;
    return {};
}

}  // namespace lamina::posix
