// lamina:portable
// The parts of ELF64 (System V gABI 4.1 and the x86-64 psABI 1.0, chapter 4) that the domain
// loader reads. Field layouts are the on-disk ones; the loader never casts file bytes to these
// types in place (offsets in a corrupt file may be misaligned), it copies them out.
#pragma once

#include <stdint.h>

namespace lamina::elf {

// gABI "ELF Header".
struct Ehdr {
    uint8_t ident[16];
    uint16_t type;
    uint16_t machine;
    uint32_t version;
    uint64_t entry;
    uint64_t phoff;
    uint64_t shoff;
    uint32_t flags;
    uint16_t ehsize;
    uint16_t phentsize;
    uint16_t phnum;
    uint16_t shentsize;
    uint16_t shnum;
    uint16_t shstrndx;
};
static_assert(sizeof(Ehdr) == 64);

// gABI "Program Header".
struct Phdr {
    uint32_t type;
    uint32_t flags;
    uint64_t offset;
    uint64_t vaddr;
    uint64_t paddr;
    uint64_t filesz;
    uint64_t memsz;
    uint64_t align;
};
static_assert(sizeof(Phdr) == 56);

// gABI "Sections".
struct Shdr {
    uint32_t name;
    uint32_t type;
    uint64_t flags;
    uint64_t addr;
    uint64_t offset;
    uint64_t size;
    uint32_t link;
    uint32_t info;
    uint64_t addralign;
    uint64_t entsize;
};
static_assert(sizeof(Shdr) == 64);

// gABI "Symbol Table".
struct Sym {
    uint32_t name;
    uint8_t info;
    uint8_t other;
    uint16_t shndx;
    uint64_t value;
    uint64_t size;
};
static_assert(sizeof(Sym) == 24);

// gABI "Relocation" (the RELA form; x86-64 uses only RELA).
struct Rela {
    uint64_t offset;
    uint64_t info;
    int64_t addend;
};
static_assert(sizeof(Rela) == 24);

// gABI "Dynamic Section".
struct Dyn {
    int64_t tag;
    uint64_t val;
};
static_assert(sizeof(Dyn) == 16);

inline constexpr uint8_t MAGIC[4] = {0x7f, 'E', 'L', 'F'};
inline constexpr uint8_t CLASS64 = 2;
inline constexpr uint8_t DATA2_LSB = 1;
inline constexpr uint8_t VERSION_CURRENT = 1;
inline constexpr uint8_t OS_ABI_SYSV = 0;
inline constexpr uint8_t OS_ABI_GNU = 3;
inline constexpr uint16_t TYPE_DYN = 3;
inline constexpr uint16_t kMachineX86_64 = 62;

// Program header types.
inline constexpr uint32_t PT_NULL = 0, PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_NOTE = 4, PT_SHLIB = 5,
                          PT_PHDR = 6, PT_TLS = 7;
inline constexpr uint32_t PT_GNU_EH_FRAME = 0x6474e550, PT_GNU_STACK = 0x6474e551, PT_GNU_RELRO = 0x6474e552,
                          PT_GNU_PROPERTY = 0x6474e553;
inline constexpr uint32_t PF_X = 1, PF_W = 2, PF_R = 4;

// Section types and special indices.
inline constexpr uint32_t SHT_NULL = 0, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_NOBITS = 8;
inline constexpr uint16_t SHN_UNDEF = 0, SHN_LORESERVE = 0xff00, SHN_ABS = 0xfff1;

// Symbol binding, type and visibility.
inline constexpr uint8_t STB_LOCAL = 0, STB_GLOBAL = 1, STB_WEAK = 2, STB_GNU_UNIQUE = 10;
inline constexpr uint8_t STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2, STT_SECTION = 3, STT_FILE = 4, STT_COMMON = 5,
                         STT_TLS = 6, STT_GNU_IFUNC = 10;
inline constexpr uint8_t STV_DEFAULT = 0, STV_INTERNAL = 1, STV_HIDDEN = 2, STV_PROTECTED = 3;
constexpr uint8_t sym_bind(uint8_t info) { return info >> 4; }
constexpr uint8_t sym_type(uint8_t info) { return info & 0xf; }
constexpr uint8_t sym_visibility(uint8_t other) { return other & 0x3; }

// Dynamic tags.
inline constexpr int64_t DT_NULL = 0, DT_NEEDED = 1, DT_PLTRELSZ = 2, DT_PLTGOT = 3, DT_HASH = 4, DT_STRTAB = 5,
                         DT_SYMTAB = 6, DT_RELA = 7, DT_RELASZ = 8, DT_RELAENT = 9, DT_STRSZ = 10, DT_SYMENT = 11,
                         DT_INIT = 12, DT_FINI = 13, DT_SONAME = 14, DT_RPATH = 15, DT_SYMBOLIC = 16, DT_REL = 17,
                         DT_RELSZ = 18, DT_RELENT = 19, DT_PLTREL = 20, DT_DEBUG = 21, DT_TEXTREL = 22, DT_JMPREL = 23,
                         DT_BIND_NOW = 24, DT_INIT_ARRAY = 25, DT_FINI_ARRAY = 26, DT_INIT_ARRAYSZ = 27,
                         DT_FINI_ARRAYSZ = 28, DT_RUNPATH = 29, DT_FLAGS = 30, DT_PREINIT_ARRAY = 32,
                         DT_PREINIT_ARRAYSZ = 33, DT_RELRSZ = 35, DT_RELR = 36, DT_RELRENT = 37;
inline constexpr int64_t DT_GNU_HASH = 0x6ffffef5, DT_RELACOUNT = 0x6ffffff9, DT_RELCOUNT = 0x6ffffffa,
                         DT_FLAGS_1 = 0x6ffffffb, DT_VERSYM = 0x6ffffff0, DT_VERDEF = 0x6ffffffc,
                         DT_VERDEFNUM = 0x6ffffffd, DT_VERNEED = 0x6ffffffe, DT_VERNEEDNUM = 0x6fffffff;
inline constexpr uint64_t DF_SYMBOLIC = 0x2, DF_TEXTREL = 0x4, DF_BIND_NOW = 0x8, DF_STATIC_TLS = 0x10;

// x86-64 psABI relocation types (table 4.9).
inline constexpr uint32_t R_X86_64_NONE = 0, R_X86_64_64 = 1, R_X86_64_PC32 = 2, R_X86_64_GOT32 = 3, R_X86_64_PLT32 = 4,
                          R_X86_64_COPY = 5, R_X86_64_GLOB_DAT = 6, R_X86_64_JUMP_SLOT = 7, R_X86_64_RELATIVE = 8,
                          R_X86_64_GOTPCREL = 9, R_X86_64_32 = 10, R_X86_64_32S = 11, R_X86_64_DTPMOD64 = 16,
                          R_X86_64_DTPOFF64 = 17, R_X86_64_TPOFF64 = 18, R_X86_64_IRELATIVE = 37;
constexpr uint32_t rela_type(uint64_t info) { return uint32_t(info); }
constexpr uint32_t rela_sym(uint64_t info) { return uint32_t(info >> 32); }

}  // namespace lamina::elf
