#include "kernel/posix/user_access.h"

#include "kernel/arch/x86_64/cpu.h"

extern "C" {
// Read by the stubs in syscall.S: stac/clac exist only on CPUs with SMAP.
uint8_t lamina_smap_enabled = 0;
long arch_copy_user(void* dst, const void* src, size_t n);
long arch_strncpy_user(char* dst, const char* src, size_t max);
long arch_clear_user(void* dst, size_t n);
extern const char user_access_begin[], user_access_end[], user_access_fixup[];
}

namespace lamina::posix {

void init_user_access() { lamina_smap_enabled = (cpu::read_cr4() >> 21) & 1; }

bool is_user_access_rip(uint64_t rip) {
    return rip >= reinterpret_cast<uint64_t>(user_access_begin) && rip < reinterpret_cast<uint64_t>(user_access_end);
}

uint64_t user_access_fixup_address() { return reinterpret_cast<uint64_t>(user_access_fixup); }

Result<void> copy_from_user(void* dst, uint64_t user_src, size_t n) {
    if (n == 0) return {};
    if (!user_range_ok(user_src, n)) return Errno::Fault;
    if (arch_copy_user(dst, reinterpret_cast<const void*>(user_src), n) != 0) return Errno::Fault;
    return {};
}

Result<void> copy_to_user(uint64_t user_dst, const void* src, size_t n) {
    if (n == 0) return {};
    if (!user_range_ok(user_dst, n)) return Errno::Fault;
    if (arch_copy_user(reinterpret_cast<void*>(user_dst), src, n) != 0) return Errno::Fault;
    return {};
}

Result<void> clear_user(uint64_t user_dst, size_t n) {
    if (n == 0) return {};
    if (!user_range_ok(user_dst, n)) return Errno::Fault;
    if (arch_clear_user(reinterpret_cast<void*>(user_dst), n) != 0) return Errno::Fault;
    return {};
}

Result<size_t> strncpy_from_user(char* dst, uint64_t user_src, size_t max) {
    if (max == 0) return Errno::NameTooLong;
    if (user_src >= USER_LIMIT) return Errno::Fault;
    // Never read past the user half, even when the string would.
    size_t limit = max;
    if (USER_LIMIT - user_src < limit) limit = size_t(USER_LIMIT - user_src);
    long r = arch_strncpy_user(dst, reinterpret_cast<const char*>(user_src), limit);
    if (r < 0) return Errno::Fault;
    if (size_t(r) == limit) return limit == max ? Errno::NameTooLong : Errno::Fault;
    return size_t(r);
}

}  // namespace lamina::posix
