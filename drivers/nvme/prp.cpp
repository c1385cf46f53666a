// lamina:portable
#include "drivers/nvme/prp.h"

namespace lamina::nvme {

namespace {
constexpr uint64_t PAGE = spec::PAGE_SIZE;
constexpr uint64_t page_offset(uint64_t a) { return a & (PAGE - 1); }
}  // namespace

Result<void> validate_segments(const DmaSegment* segments, uint32_t count, uint64_t bytes) {
    if (!segments || count == 0) return Errno::Inval;
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        const DmaSegment& s = segments[i];
        if (s.length == 0 || (s.phys & 3) || (s.length & 3)) return Errno::Inval;
        if (s.phys + s.length < s.phys) return Errno::Inval;
        if (i > 0 && page_offset(s.phys) != 0) return Errno::Inval;
        if (i + 1 < count && page_offset(s.phys + s.length) != 0) return Errno::Inval;
        total += s.length;
    }
    if (total != bytes) return Errno::Inval;
    return {};
}

Result<Prps> build_prps(const DmaSegment* segments, uint32_t count, uint64_t offset, uint32_t length, uint64_t* list,
                        uint64_t list_phys) {
    if (length == 0 || length > MAX_PRP_TRANSFER) return Errno::Inval;
    Prps out;
    uint64_t end = offset + length;
    uint64_t seg_start = 0;  // offset of segments[i] within the whole buffer
    bool first = true;
    auto emit = [&](uint64_t phys) -> bool {
        uint32_t n = out.entries++;
        if (n == 0) {
            out.prp1 = phys;
        } else if (n == 1) {
            out.prp2 = phys;
        } else {
            // Entries 1.. go to the list once there are three; entry 1 moves there too.
            if (n - 1 >= spec::PRP_ENTRIES_PER_PAGE) return false;
            if (n == 2) list[0] = out.prp2;
            list[n - 1] = phys;
        }
        return true;
    };
    for (uint32_t i = 0; i < count && seg_start < end; i++) {
        uint64_t seg_end = seg_start + segments[i].length;
        if (seg_end > offset) {
            uint64_t from = offset > seg_start ? offset - seg_start : 0;
            uint64_t to = (end < seg_end ? end : seg_end) - seg_start;
            uint64_t start = segments[i].phys + from;
            uint64_t stop = segments[i].phys + to;
            // Only the very first entry may carry an offset into its page; validated segments
            // guarantee that later pieces start on page boundaries.
            if (!first && page_offset(start) != 0) return Errno::Inval;
            if (!emit(start)) return Errno::Inval;
            first = false;
            for (uint64_t a = (start & ~(PAGE - 1)) + PAGE; a < stop; a += PAGE)
                if (!emit(a)) return Errno::Inval;
        }
        seg_start = seg_end;
    }
    if (seg_start < end) return Errno::Inval;  // segments shorter than the range
    if (out.entries > 2) out.prp2 = list_phys;
    return out;
}

}  // namespace lamina::nvme
