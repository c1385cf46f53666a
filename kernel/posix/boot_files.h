// Where programs come from until the VFS exists: the boot modules. A module whose loader string
// ends in the word program:NAME (GRUB: `module2 /boot/modules/NAME program:NAME`; QEMU -initrd
// "PATH program:NAME") and whose bytes are an ELF file is the program NAME. The prefix keeps
// program names apart from domain packages, which the domain manager finds by their last word. The VFS replaces this
// source later; callers only see lookup().
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::boot {
struct BootInfo;
}

namespace lamina::posix::boot_files {

struct File {
    const uint8_t* data;
    size_t size;
};

void init(const boot::BootInfo& info);
// NoEnt when no module has that name.
Result<File> lookup(const char* name);
// The programs by index (for /bin).
size_t count();
const char* name(size_t i);
File file(size_t i);

}  // namespace lamina::posix::boot_files
