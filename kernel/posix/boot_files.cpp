#include "kernel/posix/boot_files.h"

#include "kernel/boot/boot_info.h"
#include "kernel/mm/memory.h"

namespace lamina::posix::boot_files {

namespace {
constexpr size_t MAX_FILES = 32;
struct Entry {
    char name[64];
    File file;
};
Entry g_files[MAX_FILES];
size_t g_count = 0;
}  // namespace

void init(const boot::BootInfo& info) {
    g_count = 0;
    for (size_t i = 0; i < info.module_count && g_count < MAX_FILES; i++) {
        const auto& m = info.modules[i];
        if (m.end <= m.start) continue;
        auto* data = static_cast<const uint8_t*>(mm::phys_to_virt(m.start));
        size_t size = size_t(m.end - m.start);
        if (size < 4 || data[0] != 0x7f || data[1] != 'E' || data[2] != 'L' || data[3] != 'F') continue;
        // The last word of the loader's string.
        const char* s = m.name;
        const char* word = s;
        for (const char* p = s; *p; p++)
            if (*p == ' ' && p[1] && p[1] != ' ') word = p + 1;
        constexpr char PREFIX[] = "program:";
        if (__builtin_strncmp(word, PREFIX, sizeof PREFIX - 1) != 0) continue;
        word += sizeof PREFIX - 1;
        size_t n = 0;
        while (word[n] && word[n] != ' ' && n + 1 < sizeof g_files[0].name) n++;
        if (n == 0) continue;
        Entry& e = g_files[g_count++];
        __builtin_memcpy(e.name, word, n);
        e.name[n] = 0;
        e.file = {data, size};
    }
}

size_t count() { return g_count; }
const char* name(size_t i) { return g_files[i].name; }
File file(size_t i) { return g_files[i].file; }

Result<File> lookup(const char* name) {
    for (size_t i = 0; i < g_count; i++)
        if (__builtin_strcmp(g_files[i].name, name) == 0) return g_files[i].file;
    return Errno::NoEnt;
}

}  // namespace lamina::posix::boot_files
