// Host tests for the NVMe driver's PRP construction (drivers/nvme/prp.h) and status decoding
// (drivers/nvme/status.cpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "drivers/nvme/block.h"
#include "drivers/nvme/prp.h"

namespace {

using lamina::Errno;
using lamina::nvme::build_prps;
using lamina::nvme::DmaSegment;
using lamina::nvme::MAX_PRP_TRANSFER;
using lamina::nvme::Status;
using lamina::nvme::validate_segments;
namespace spec = lamina::nvme::spec;

constexpr uint64_t P = 4096;
constexpr uint64_t LIST_PHYS = 0x9000'0000;

// Up to two pages need no list: PRP1 points at the data, PRP2 (if needed) at the second page.
TEST(NvmePrp, OneOrTwoPagesNeedNoList) {
    struct Case {
        DmaSegment segment;
        uint64_t prp1, prp2;
        uint32_t entries;
    };
    const Case cases[] = {
        {{0x10000, 4096}, 0x10000, 0, 1},
        {{0x10200, 4096}, 0x10200, 0x11000, 2},  // starts mid-page, so it touches two pages
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(testing::Message() << "segment at 0x" << std::hex << c.segment.phys);
        uint64_t list[512] = {};
        auto r = build_prps(&c.segment, 1, 0, c.segment.length, list, LIST_PHYS);
        ASSERT_TRUE(r.is_ok());
        EXPECT_EQ(r.value().prp1, c.prp1);
        EXPECT_EQ(r.value().prp2, c.prp2);
        EXPECT_EQ(r.value().entries, c.entries);
    }
}

TEST(NvmePrp, ManyPagesUseAList) {
    DmaSegment s{0x100000, 5 * 4096};
    uint64_t list[512] = {};
    auto r = build_prps(&s, 1, 0, 5 * 4096, list, LIST_PHYS);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().prp1, 0x100000u);
    EXPECT_EQ(r.value().prp2, LIST_PHYS);
    EXPECT_EQ(r.value().entries, 5u);
    for (int i = 0; i < 4; i++) EXPECT_EQ(list[i], 0x100000u + (i + 1) * P);
}

TEST(NvmePrp, SegmentsAndOffsets) {
    // Three segments meeting at page boundaries; describe a middle range.
    DmaSegment segs[] = {{0x10800, 0x800}, {0x50000, 2 * 4096}, {0x90000, 0x400}};
    ASSERT_TRUE(validate_segments(segs, 3, 0x800 + 2 * 4096 + 0x400).is_ok());
    uint64_t list[512] = {};
    auto r = build_prps(segs, 3, 0x600, 0x200 + 2 * 4096 + 0x200, list, LIST_PHYS);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().prp1, 0x10e00u);
    EXPECT_EQ(r.value().entries, 4u);
    EXPECT_EQ(list[0], 0x50000u);
    EXPECT_EQ(list[1], 0x51000u);
    EXPECT_EQ(list[2], 0x90000u);
}

TEST(NvmePrp, LargestTransferFitsOneListAtAnyOffset) {
    DmaSegment s{0x1000200, MAX_PRP_TRANSFER};
    uint64_t list[512] = {};
    auto r = build_prps(&s, 1, 0, MAX_PRP_TRANSFER, list, LIST_PHYS);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r.value().entries, 513u);
    EXPECT_EQ(list[511], 0x1000000u + 512 * P);
    EXPECT_EQ(build_prps(&s, 1, 0, MAX_PRP_TRANSFER + 4, list, LIST_PHYS).error(), Errno::Inval);
}

TEST(NvmePrp, RejectsSegmentsPrpsCannotDescribe) {
    DmaSegment gap[] = {{0x10000, 0x800}, {0x20000, 0x800}};  // first does not end on a page
    EXPECT_EQ(validate_segments(gap, 2, 0x1000).error(), Errno::Inval);
    DmaSegment mid[] = {{0x10000, 0x1000}, {0x20200, 0x800}};  // second starts mid-page
    EXPECT_EQ(validate_segments(mid, 2, 0x1800).error(), Errno::Inval);
    DmaSegment odd{0x10001, 0x200};
    EXPECT_EQ(validate_segments(&odd, 1, 0x200).error(), Errno::Inval);
    DmaSegment ok{0x10000, 0x200};
    EXPECT_EQ(validate_segments(&ok, 1, 0x400).error(), Errno::Inval);  // too short
    EXPECT_EQ(validate_segments(&ok, 0, 0x200).error(), Errno::Inval);
    EXPECT_TRUE(validate_segments(&ok, 1, 0x200).is_ok());
}

TEST(NvmeStatus, DecodesIntoMessages) {
    Status s{Status::Kind::Device, spec::sct::GENERIC, spec::sc::LBA_OUT_OF_RANGE, true};
    char buf[128];
    EXPECT_EQ(std::string(s.format(buf, sizeof buf)), "generic status 0x80: LBA out of range (do not retry)");
    EXPECT_EQ(s.error(), Errno::Range);
    Status media{Status::Kind::Device, spec::sct::MEDIA, spec::sc::UNRECOVERED_READ_ERROR, false};
    EXPECT_EQ(std::string(media.message()), "unrecovered read error");
    EXPECT_EQ(media.error(), Errno::IO);
    Status failed{Status::Kind::ControllerFailed};
    EXPECT_EQ(std::string(failed.message()), "controller failed");
    EXPECT_TRUE(lamina::nvme::is_controller_failure(failed.error()));
    char small[8];
    EXPECT_EQ(std::string(s.format(small, sizeof small)), "generic");
    EXPECT_EQ(std::string(lamina::nvme::status_message(spec::sct::COMMAND_SPECIFIC, spec::sc::INVALID_QUEUE_ID)),
              "invalid queue identifier");
}

}  // namespace
