// The fs ktests' and kbenches' block device: a RamDisk made from the test image's disk:fsdisk
// module (images/make-test-disk), provided as "block" while a TestDisk lives.
#pragma once

#include <stdint.h>

#include "kernel/domain/interfaces.h"
#include "kernel/storage/ram_disk.h"
#include "kernel/storage/storage.h"

namespace lamina::storage {

inline constexpr uint64_t TEST_DISK_SIZE = 112ull << 20;  // what make-test-disk partitioned

// A RAM disk from the image, provided as "block" while it lives. A block service already
// provided (the NVMe driver's, once it is started at boot) steps aside for the test and is
// provided again afterwards; domains that looked it up keep it meanwhile.
class TestDisk {
public:
    TestDisk() {
        auto image = disk_module("fsdisk");
        if (image.is_error()) return;
        auto d = RamDisk::create(image.value().data, image.value().size, TEST_DISK_SIZE);
        if (d.is_error()) return;
        disk = d.value();
        if (auto existing = domain::lookup_interface(nullptr, "block", 5); existing.is_ok()) {
            saved_ = existing.value();
            (void)domain::withdraw_interface("block");
        }
        if (domain::provide_interface("block", static_cast<idl::Block*>(disk)).is_error()) {
            delete disk;
            disk = nullptr;
        }
    }
    ~TestDisk() {
        if (disk) {
            (void)domain::withdraw_interface("block");
            delete disk;
        }
        if (saved_) (void)domain::provide_interface("block", saved_);
    }
    RamDisk* disk = nullptr;

private:
    void* saved_ = nullptr;
};

}  // namespace lamina::storage
