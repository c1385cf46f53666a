// lamina:portable
// A loaded domain's own symbols, so the kernel can name the functions in a backtrace through
// domain code. The table points into the package's ELF bytes (the full .symtab when the package
// carries one, else the dynamic symbols), which the kernel keeps for as long as the domain
// lives. Entries were checked when the package was validated; lookups still bound every read.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina::domain {

class SymbolTable {
public:
    SymbolTable() = default;
    SymbolTable(const uint8_t* symbols, size_t count, const char* strings, size_t strings_size, uintptr_t bias)
        : symbols_(symbols), count_(count), strings_(strings), strings_size_(strings_size), bias_(bias) {}

    size_t count() const { return count_; }
    bool empty() const { return count_ == 0; }

    // The function or object symbol whose [value, value + size) holds addr (a run address).
    bool symbolize(uintptr_t addr, const char** name, uintptr_t* offset) const;
    // The run address of a defined function or object symbol.
    bool find(const char* name, uintptr_t* addr) const;

    // Where the table lies inside the ELF bytes (for tests and for copying it elsewhere).
    const uint8_t* raw_symbols() const { return symbols_; }
    const char* raw_strings() const { return strings_; }
    size_t raw_strings_size() const { return strings_size_; }

private:
    const char* name_at(uint32_t offset) const;

    const uint8_t* symbols_ = nullptr;
    size_t count_ = 0;
    const char* strings_ = nullptr;
    size_t strings_size_ = 0;
    uintptr_t bias_ = 0;
};

}  // namespace lamina::domain
