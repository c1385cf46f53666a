// Between the parts of the memory manager; nothing outside kernel/mm includes this.
#pragma once

namespace lamina::mm {

// Sets up the kernel heap over the frame allocator (heap.cpp); called by init().
void init_heap();

}  // namespace lamina::mm
