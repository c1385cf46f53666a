// The program page cache (exec_cache.h). One mutex guards the table; it is held while a
// segment is filled from the file (so two execs of an uncached program read it once).
#include "kernel/posix/exec_cache.h"

#include <lamina/page.h>

#include <new>

#include "kernel/mm/memory.h"
#include "kernel/posix/address_space.h"
#include "kernel/sched/mutex.h"

namespace lamina::posix::exec_cache {

namespace {

constexpr uint64_t PAGE = PAGE_SIZE;

struct Segment {
    size_t index;          // the PT_LOAD's number among the program's loadable segments
    uint64_t first_page;   // its first page's user address
    SharedFrames* frames;  // the cache's reference
};

struct Entry {
    bool used = false;
    Key key;
    uint64_t last_use = 0;
    Segment segments[Executable::MAX_SEGMENTS];
    size_t segment_count = 0;
};

sched::Mutex g_lock;
Entry g_entries[MAX_ENTRIES];  // g_lock
uint64_t g_clock;              // g_lock
size_t g_pages;                // g_lock

bool same_time(const Timespec& a, const Timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }
bool same_version(const Key& a, const Key& b) {
    return a.size == b.size && same_time(a.mtime, b.mtime) && same_time(a.ctime, b.ctime);
}

void release_segment(Segment& s) {
    g_pages -= s.frames->count;
    s.frames->unref();  // the frames go once no process maps them either
    s = Segment{};
}

void release(Entry& e) {
    for (size_t i = 0; i < e.segment_count; i++) release_segment(e.segments[i]);
    e = Entry{};
}

size_t page_limit() { return size_t(mm::total_pages() / 8); }

// Makes room for `pages` more, evicting the least recently used entries other than `keep`.
// False when even an empty cache could not hold them.
bool make_room(size_t pages, const Entry* keep) {
    if (pages > page_limit()) return false;
    while (g_pages + pages > page_limit()) {
        Entry* oldest = nullptr;
        for (Entry& e : g_entries)
            if (e.used && &e != keep && (!oldest || e.last_use < oldest->last_use)) oldest = &e;
        if (!oldest) return false;
        release(*oldest);
    }
    return true;
}

// The entry for key: the current one, or a fresh slot (an outdated version of the file and,
// when the table is full, the least recently used entry are dropped).
Entry* entry_for(const Key& key) {
    Entry* free_slot = nullptr;
    Entry* oldest = nullptr;
    for (Entry& e : g_entries) {
        if (e.used && e.key.dev == key.dev && e.key.ino == key.ino) {
            if (same_version(e.key, key)) return &e;
            release(e);
        }
        if (!e.used && !free_slot) free_slot = &e;
        if (e.used && (!oldest || e.last_use < oldest->last_use)) oldest = &e;
    }
    if (!free_slot) {
        release(*oldest);
        free_slot = oldest;
    }
    free_slot->used = true;
    free_slot->key = key;
    return free_slot;
}

// Fresh frames holding segment s's pages: the file's bytes where the segment has them, zeros
// elsewhere (the bss part, and the page edges outside the segment).
Result<void> fill(Segment& out, ExecReader& file, const LoadSegment& s) {
    uint64_t first = s.vaddr & ~(PAGE - 1), end = (s.vaddr + s.memsz + PAGE - 1) & ~(PAGE - 1);
    size_t count = size_t((end - first) / PAGE);
    auto* frames = static_cast<uint64_t*>(mm::kmalloc(count * sizeof(uint64_t)));
    if (!frames) return Errno::NoMem;
    size_t made = 0;
    auto undo = [&] {
        for (size_t i = 0; i < made; i++) (void)mm::free_frames(frames[i], 0);
        mm::kfree(frames);
    };
    for (; made < count; made++) {
        auto f = mm::alloc_frames(0, mm::Owner::kernel());
        if (f.is_error()) {
            undo();
            return f.error();
        }
        frames[made] = f.value();
        __builtin_memset(mm::phys_to_virt(frames[made]), 0, PAGE);
    }
    // The file part, in pieces through a bounce buffer (a read per page would be a domain call
    // per page).
    constexpr size_t CHUNK = 64 << 10;
    size_t cap = s.filesz < CHUNK ? size_t(s.filesz) : CHUNK;
    auto* buffer = static_cast<uint8_t*>(mm::kmalloc(cap ? cap : 1));
    if (!buffer) {
        undo();
        return Errno::NoMem;
    }
    for (uint64_t done = 0; done < s.filesz; done += cap) {
        size_t n = s.filesz - done < cap ? size_t(s.filesz - done) : cap;
        if (auto r = file.read(s.offset + done, buffer, n); r.is_error()) {
            mm::kfree(buffer);
            undo();
            return r.error();
        }
        for (size_t k = 0; k < n;) {
            uint64_t virt = s.vaddr + done + k;
            size_t in_page = size_t(PAGE - (virt & (PAGE - 1)));
            size_t m = n - k < in_page ? n - k : in_page;
            auto* page = static_cast<uint8_t*>(mm::phys_to_virt(frames[(virt - first) / PAGE]));
            __builtin_memcpy(page + (virt & (PAGE - 1)), buffer + k, m);
            k += m;
        }
    }
    mm::kfree(buffer);
    auto* shared = new (std::nothrow) SharedFrames{};
    if (!shared) {
        undo();
        return Errno::NoMem;
    }
    shared->count = count;
    shared->frames = frames;
    out = Segment{0, first, shared};
    return {};
}

}  // namespace

Result<void> map_segment(AddressSpace& as, const Key& key, ExecReader& file, size_t index, const LoadSegment& s) {
    sched::MutexGuard g(g_lock);
    Entry* e = entry_for(key);
    e->last_use = ++g_clock;
    Segment* seg = nullptr;
    for (size_t i = 0; i < e->segment_count; i++)
        if (e->segments[i].index == index) seg = &e->segments[i];
    if (!seg) {
        Segment fresh{};
        TRY(fill(fresh, file, s));
        fresh.index = index;
        g_pages += fresh.frames->count;
        if (e->segment_count == Executable::MAX_SEGMENTS || !make_room(fresh.frames->count, e)) {
            // Not kept: this exec's processes hold them, and the last one frees them.
            Result<void> r = as.attach_shared_frames(fresh.first_page, *fresh.frames);
            release_segment(fresh);
            return r;
        }
        seg = &e->segments[e->segment_count++];
        *seg = fresh;
    }
    return as.attach_shared_frames(seg->first_page, *seg->frames);
}

void forget(uint64_t dev, uint64_t ino) {
    sched::MutexGuard g(g_lock);
    for (Entry& e : g_entries)
        if (e.used && e.key.dev == dev && e.key.ino == ino) release(e);
}

void clear() {
    sched::MutexGuard g(g_lock);
    for (Entry& e : g_entries)
        if (e.used) release(e);
}

size_t entries() {
    sched::MutexGuard g(g_lock);
    size_t n = 0;
    for (const Entry& e : g_entries) n += e.used;
    return n;
}

size_t pages() {
    sched::MutexGuard g(g_lock);
    return g_pages;
}

}  // namespace lamina::posix::exec_cache
