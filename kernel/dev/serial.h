// The 16550 UART on COM1: the kernel console on every boot path.
#pragma once

#include <stddef.h>

namespace lamina::serial {

void init();
void write(const char* s, size_t n);
// Non-blocking: returns -1 when no byte is waiting.
int read_byte();

}  // namespace lamina::serial
