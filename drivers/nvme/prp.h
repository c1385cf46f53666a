// lamina:portable
// Physical region page (PRP) lists (NVMe 1.4 section 4.3) built from a request's DMA segments.
//
// A command's data pointer is PRP1 (the first page, possibly at an offset) and PRP2: unused for
// one page, the second page for two, else the physical address of a list of the remaining page
// addresses. The driver keeps one list page per command slot and limits a command to what one
// list page can describe (see MAX_PRP_TRANSFER), so lists are never chained.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

#include "drivers/nvme/block.h"
#include "drivers/nvme/nvme_spec.h"

namespace lamina::nvme {

// PRP1 plus a full list page: the largest transfer, at any starting offset, one list describes
// without chaining (513 page entries cover 2 MiB starting mid-page).
constexpr uint32_t MAX_PRP_TRANSFER = (spec::PRP_ENTRIES_PER_PAGE)*spec::PAGE_SIZE;

// Checks that `segments` can be described by PRPs (see DmaSegment) and add up to `bytes`.
// Inval with no segments, a zero length, a misaligned address or length, or segments that do
// not meet at page boundaries; Inval too when the lengths do not add up to `bytes`.
Result<void> validate_segments(const DmaSegment* segments, uint32_t count, uint64_t bytes);

struct Prps {
    uint64_t prp1 = 0;
    uint64_t prp2 = 0;
    uint32_t entries = 0;  // pages the transfer touches
};

// Describes bytes [offset, offset + length) of the (validated) segment list, writing list
// entries into `list` (a page at `list_phys`) when more than two pages are touched. `length`
// must be at most MAX_PRP_TRANSFER and nonzero; Inval otherwise.
Result<Prps> build_prps(const DmaSegment* segments, uint32_t count, uint64_t offset, uint32_t length, uint64_t* list,
                        uint64_t list_phys);

}  // namespace lamina::nvme
