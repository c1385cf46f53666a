// lamina:portable
#include "domains/fs/crc32.h"

namespace lamina::fs {

namespace {

struct Table {
    uint32_t entry[256];
    constexpr Table() : entry() {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
            entry[i] = c;
        }
    }
};

constexpr Table table;

}  // namespace

uint32_t crc32_update(uint32_t crc, const void* data, size_t len) {
    const auto* p = static_cast<const uint8_t*>(data);
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = table.entry[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

}  // namespace lamina::fs
