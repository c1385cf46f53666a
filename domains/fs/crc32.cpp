// lamina:portable
#include "domains/fs/crc32.h"

namespace lamina::fs {

namespace {

// Byte-at-a-time table of a reflected CRC with this polynomial.
template <uint32_t Poly>
struct Table {
    uint32_t entry[256];
    constexpr Table() : entry() {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ Poly : c >> 1;
            entry[i] = c;
        }
    }
};

// The same for an MSB-first CRC.
struct TableBe {
    uint32_t entry[256];
    constexpr TableBe() : entry() {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i << 24;
            for (int k = 0; k < 8; k++) c = (c & 0x80000000u) ? (c << 1) ^ 0x04C11DB7u : c << 1;
            entry[i] = c;
        }
    }
};

constexpr Table<0xEDB88320u> table;
constexpr Table<0x82F63B78u> table_c;
constexpr TableBe table_be;

template <uint32_t Poly>
uint32_t reflected(const Table<Poly>& t, uint32_t crc, const void* data, size_t len) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < len; i++) crc = t.entry[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc;
}

}  // namespace

uint32_t crc32_update(uint32_t crc, const void* data, size_t len) { return ~reflected(table, ~crc, data, len); }

uint32_t crc32c_raw(uint32_t crc, const void* data, size_t len) { return reflected(table_c, crc, data, len); }

uint32_t crc32_be_raw(uint32_t crc, const void* data, size_t len) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < len; i++) crc = table_be.entry[((crc >> 24) ^ p[i]) & 0xFF] ^ (crc << 8);
    return crc;
}

}  // namespace lamina::fs
