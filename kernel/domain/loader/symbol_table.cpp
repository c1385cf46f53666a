// lamina:portable
#include "kernel/domain/loader/symbol_table.h"

#include "kernel/domain/loader/elf.h"

namespace lamina::domain {

namespace {

elf::Sym symbol_at(const uint8_t* symbols, size_t i) {
    elf::Sym s;
    __builtin_memcpy(&s, symbols + i * sizeof(elf::Sym), sizeof(s));
    return s;
}

bool is_code_or_data(const elf::Sym& s) {
    uint8_t type = elf::sym_type(s.info);
    return (type == elf::STT_FUNC || type == elf::STT_OBJECT) && s.shndx != elf::SHN_UNDEF;
}

}  // namespace

const char* SymbolTable::name_at(uint32_t offset) const {
    if (offset >= strings_size_) return nullptr;
    // The string table was checked to end with a NUL, so every string in it is terminated.
    return strings_ + offset;
}

bool SymbolTable::symbolize(uintptr_t addr, const char** name, uintptr_t* offset) const {
    for (size_t i = 1; i < count_; i++) {
        elf::Sym s = symbol_at(symbols_, i);
        if (!is_code_or_data(s)) continue;
        uintptr_t start = s.shndx == elf::SHN_ABS ? s.value : bias_ + s.value;
        if (addr < start || addr - start >= (s.size ? s.size : 1)) continue;
        const char* n = name_at(s.name);
        if (!n || !*n) continue;
        *name = n;
        *offset = addr - start;
        return true;
    }
    return false;
}

bool SymbolTable::find(const char* want, uintptr_t* addr) const {
    for (size_t i = 1; i < count_; i++) {
        elf::Sym s = symbol_at(symbols_, i);
        if (!is_code_or_data(s)) continue;
        const char* n = name_at(s.name);
        if (!n) continue;
        size_t k = 0;
        while (n[k] && n[k] == want[k]) k++;
        if (n[k] || want[k]) continue;
        *addr = s.shndx == elf::SHN_ABS ? s.value : bias_ + s.value;
        return true;
    }
    return false;
}

}  // namespace lamina::domain
