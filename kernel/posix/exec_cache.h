// Program pages shared between processes (issue 15): the pages of an executable's read-only
// PT_LOAD segments (text, read-only data) are read from the file once, kept, and mapped
// read-only, on demand (the VMA's backing, address_space.h), into every process that runs the
// same file, so that an exec of a cached program neither reads nor copies them again, maps only
// what it touches (and, under TCG, reuses the code translated for the same physical pages).
// Writable segments are still copied into private pages on every exec.
//
// Guarantees
//   - An entry is found by (st_dev, st_ino) and used only while the file's size, mtime and
//     ctime are those it was filled from; opening the file for writing or truncating it through
//     the VFS (forget) drops it as well, since ext2 keeps whole-second times.
//   - The frames belong to the cache (Owner::kernel()) and are a SharedFrames: one mapping in
//     the copy-on-write share counts (frame_shares.h) held by the set itself, one more per
//     process page mapping one, so no process ever writes into one in place (a write after
//     mprotect copies it). The set lives while the cache or a VMA refers to it (eviction and
//     clear drop the cache's reference; processes running the program keep theirs).
//   - The cache holds at most MAX_ENTRIES programs and an eighth of memory; the least recently
//     used entry goes first.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "kernel/posix/elf_exec.h"
#include "kernel/posix/vfs/inode.h"

namespace lamina::posix {

class AddressSpace;

namespace exec_cache {

inline constexpr size_t MAX_ENTRIES = 16;

// Which file, and which version of it.
struct Key {
    uint64_t dev = 0, ino = 0;
    int64_t size = 0;
    Timespec mtime{}, ctime{};
    static Key of(const Stat& st) { return {st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim}; }
};

// Backs the read-only segment `s` (already a VMA of `as`) of the program `key`, segment number
// `index`, with the cache's frames; on a miss fills fresh frames through `file` and keeps them.
// Errors: NoMem, what reading the file returned.
Result<void> map_segment(AddressSpace& as, const Key& key, ExecReader& file, size_t index, const LoadSegment& s);

// Drops the file's entry (its contents may change).
void forget(uint64_t dev, uint64_t ino);
// Drops every entry (drop_caches).
void clear();
// Programs and frames held (tests, /proc).
size_t entries();
size_t pages();

}  // namespace exec_cache
}  // namespace lamina::posix
