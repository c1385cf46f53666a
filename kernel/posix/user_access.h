// Fault-safe access to user memory. Every pointer a program hands the kernel goes through here:
// an address outside the user half, an unmapped one, or one the program may not access that
// way gives Fault (EFAULT), never a kernel fault. Pages of the current process that are
// demand-zero are paged in on the way (the exception hook handles faults in these routines).
// SMAP stays closed except inside the copy routines (syscall.S).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::posix {

// The lowest non-user address: user ranges must end at or below it.
inline constexpr uint64_t USER_LIMIT = 0x0000'8000'0000'0000;

inline bool user_range_ok(uint64_t addr, size_t n) {
    uint64_t end;
    return !__builtin_add_overflow(addr, n, &end) && end <= USER_LIMIT;
}

Result<void> copy_from_user(void* dst, uint64_t user_src, size_t n);
Result<void> copy_to_user(uint64_t user_dst, const void* src, size_t n);
Result<void> clear_user(uint64_t user_dst, size_t n);
// Copies a NUL-terminated string of at most max - 1 characters; returns its length. NameTooLong
// when no NUL comes within max bytes.
Result<size_t> strncpy_from_user(char* dst, uint64_t user_src, size_t max);

// A typed user pointer, as system-call arguments arrive.
template <typename T>
struct UserPtr {
    uint64_t addr;
    explicit UserPtr(uint64_t a) : addr(a) {}
    bool null() const { return addr == 0; }
    Result<T> read() const {
        T v;
        TRY(copy_from_user(&v, addr, sizeof(T)));
        return v;
    }
    Result<void> write(const T& v) const { return copy_to_user(addr, &v, sizeof(T)); }
};

// Called by the exception hook for a fault in kernel mode: true when rip is inside a user-access
// routine, after pointing the frame at the -EFAULT fixup.
bool is_user_access_rip(uint64_t rip);
uint64_t user_access_fixup_address();

// Reads CR4.SMAP once on the boot CPU (every CPU enables the same protections).
void init_user_access();

}  // namespace lamina::posix
