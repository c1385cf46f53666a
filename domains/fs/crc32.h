// lamina:portable
// CRC-32 as used by GPT (and zlib, Ethernet): reflected polynomial 0xEDB88320, initial value
// and final XOR 0xFFFFFFFF.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::fs {

// crc32(data) == crc32_update(0, data); chunks can be chained: crc32_update(crc32(a), b).
uint32_t crc32_update(uint32_t crc, const void* data, size_t len);
inline uint32_t crc32(const void* data, size_t len) { return crc32_update(0, data, len); }

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) without the initial and final XOR: the
// form JBD2 and ext4's metadata checksums chain (callers seed it with ~0 or a UUID's CRC).
uint32_t crc32c_raw(uint32_t crc, const void* data, size_t len);

// CRC-32 MSB-first (polynomial 0x04C11DB7, not reflected), without initial or final XOR:
// Linux's crc32_be, which JBD2's version-1 commit checksum (COMPAT_CHECKSUM) uses seeded ~0.
uint32_t crc32_be_raw(uint32_t crc, const void* data, size_t len);

}  // namespace lamina::fs
