// lamina:portable
#include "kernel/mm/page_table.h"

namespace lamina::mm {

namespace {

constexpr unsigned index_at(uint64_t virt, unsigned level) {
    // level 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT
    return unsigned((virt >> (12 + 9 * (level - 1))) & 511);
}

constexpr uint64_t MAX_PHYS = uint64_t{1} << 52;

bool table_empty(const uint64_t* table) {
    for (uint64_t i = 0; i < pte::ENTRIES; i++)
        if (table[i] != 0) return false;
    return true;
}

// PageFlag bits (4 KiB layout) of a leaf entry at the given level.
uint64_t leaf_flags(uint64_t entry, bool large) {
    uint64_t flags = entry & (PageFlag::ALL & ~PageFlag::Pat);
    if (large ? (entry & pte::LargePat) : (entry & PageFlag::Pat)) flags |= PageFlag::Pat;
    return flags;
}

Result<void> check_map_args(uint64_t virt, uint64_t phys, uint64_t flags, uint64_t align) {
    if ((virt & (align - 1)) || (phys & (align - 1))) return Errno::Inval;
    if (!PageTable::is_canonical(virt) || phys >= MAX_PHYS) return Errno::Inval;
    if (flags & ~PageFlag::ALL) return Errno::Inval;
    return {};
}

// Intermediate entries allow everything; user access needs U at every level.
uint64_t table_entry_flags(uint64_t leaf_flags) { return pte::Present | pte::Writable | (leaf_flags & PageFlag::User); }

}  // namespace

Result<void> PageTable::split_large(uint64_t* pd_entry) {
    uint64_t old = *pd_entry;
    uint64_t table_phys = TRY(memory_->alloc_table());
    uint64_t* pt = memory_->table(table_phys);
    uint64_t base = old & pte::AddressMask & ~(LARGE_PAGE_SIZE - 1);
    // Keep the accessed/dirty state so the split is invisible to anyone looking at them.
    uint64_t bits = leaf_flags(old, true) | (old & (pte::Accessed | pte::Dirty)) | pte::Present;
    for (uint64_t i = 0; i < pte::ENTRIES; i++) pt[i] = (base + i * PAGE_SIZE) | bits;
    *pd_entry = table_phys | table_entry_flags(old & PageFlag::User);
    splits_++;
    return {};
}

Result<uint64_t*> PageTable::leaf_entry(uint64_t virt, bool create, uint64_t table_flags) {
    uint64_t table_phys = root_;
    for (unsigned level = 4; level > 1; level--) {
        uint64_t* table = memory_->table(table_phys);
        uint64_t& e = table[index_at(virt, level)];
        if (!(e & pte::Present)) {
            if (!create) return Errno::NoEnt;
            uint64_t fresh = TRY(memory_->alloc_table());
            e = fresh | table_flags;
        } else if (e & pte::Large) {
            if (level == 3) return Errno::Inval;  // 1 GiB pages are never split here
            TRY(split_large(&e));
        } else if ((table_flags & pte::User) && !(e & pte::User)) {
            e |= pte::User;
        }
        table_phys = e & pte::AddressMask;
    }
    return &memory_->table(table_phys)[index_at(virt, 1)];
}

Result<void> PageTable::map(uint64_t virt, uint64_t phys, uint64_t flags) {
    TRY(check_map_args(virt, phys, flags, PAGE_SIZE));
    // Refuse before splitting anything when the target is already mapped.
    if (translate(virt).is_ok()) return Errno::Exist;
    uint64_t* entry = TRY(leaf_entry(virt, true, table_entry_flags(flags)));
    *entry = phys | flags | pte::Present;
    return {};
}

Result<void> PageTable::map_large(uint64_t virt, uint64_t phys, uint64_t flags) {
    TRY(check_map_args(virt, phys, flags, LARGE_PAGE_SIZE));
    uint64_t table_phys = root_;
    for (unsigned level = 4; level > 2; level--) {
        uint64_t* table = memory_->table(table_phys);
        uint64_t& e = table[index_at(virt, level)];
        if (!(e & pte::Present)) {
            uint64_t fresh = TRY(memory_->alloc_table());
            e = fresh | table_entry_flags(flags);
        } else if (e & pte::Large) {
            return Errno::Exist;
        } else if ((flags & PageFlag::User) && !(e & pte::User)) {
            e |= pte::User;
        }
        table_phys = e & pte::AddressMask;
    }
    uint64_t& pde = memory_->table(table_phys)[index_at(virt, 2)];
    if (pde != 0) return Errno::Exist;
    uint64_t bits = (flags & ~PageFlag::Pat) | ((flags & PageFlag::Pat) ? pte::LargePat : 0);
    pde = phys | bits | pte::Large | pte::Present;
    return {};
}

Result<Unmapped> PageTable::unmap(uint64_t virt) {
    if ((virt & (PAGE_SIZE - 1)) || !is_canonical(virt)) return Errno::Inval;
    TRY(translate(virt));  // NoEnt for holes, before any split
    // Remember the path so emptied tables can be unhooked bottom-up.
    uint64_t* entries[5] = {};
    uint64_t table_phys = root_;
    for (unsigned level = 4; level >= 1; level--) {
        uint64_t* table = memory_->table(table_phys);
        uint64_t& e = table[index_at(virt, level)];
        if (level > 1 && (e & pte::Large)) {
            if (level == 3) return Errno::Inval;
            TRY(split_large(&e));
        }
        entries[level] = &e;
        table_phys = e & pte::AddressMask;
    }
    Unmapped out{};
    out.phys = *entries[1] & pte::AddressMask;
    out.flags = leaf_flags(*entries[1], false);
    *entries[1] = 0;
    // Release the PT, then the PD, when they hold nothing more. PDPTs stay (shared).
    for (unsigned level = 2; level <= 3; level++) {
        uint64_t child = *entries[level] & pte::AddressMask;
        if (!table_empty(memory_->table(child))) break;
        *entries[level] = 0;
        out.released_tables[out.released_count++] = child;
    }
    return out;
}

Result<void> PageTable::protect(uint64_t virt, uint64_t flags) {
    if ((virt & (PAGE_SIZE - 1)) || !is_canonical(virt) || (flags & ~PageFlag::ALL)) return Errno::Inval;
    TRY(translate(virt));
    uint64_t* entry = TRY(leaf_entry(virt, false, table_entry_flags(flags)));
    *entry = (*entry & pte::AddressMask) | flags | pte::Present;
    return {};
}

Result<Translation> PageTable::translate(uint64_t virt) const {
    if (!is_canonical(virt)) return Errno::Inval;
    uint64_t table_phys = root_;
    for (unsigned level = 4; level >= 1; level--) {
        uint64_t e = memory_->table(table_phys)[index_at(virt, level)];
        if (!(e & pte::Present)) return Errno::NoEnt;
        bool large = level > 1 && (e & pte::Large);
        if (level == 1 || large) {
            uint64_t size = uint64_t{1} << (12 + 9 * (level - 1));
            uint64_t base = e & pte::AddressMask & ~(size - 1);
            return Translation{base + (virt & (size - 1)), leaf_flags(e, large), size};
        }
        table_phys = e & pte::AddressMask;
    }
    return Errno::NoEnt;
}

}  // namespace lamina::mm
