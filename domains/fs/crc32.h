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

}  // namespace lamina::fs
