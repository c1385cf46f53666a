// A 16 MiB static program (tests/system/exec_test.cpp): exec must stream it from its file rather
// than read it whole into kernel memory (the kernel's largest contiguous block is 4 MiB). Its
// initialized data straddles the loader's 64 KiB copy chunks, whose boundaries carry marks that
// must arrive in place.
#include <stdio.h>

#define BLOB_SIZE (16 << 20)
#define CHUNK (64 << 10)

static const unsigned char blob[BLOB_SIZE] = {
    [0] = 1, [CHUNK - 1] = 2, [CHUNK] = 3, [BLOB_SIZE / 2 + 7] = 4, [BLOB_SIZE - CHUNK - 1] = 5, [BLOB_SIZE - 1] = 6,
};

int main(int argc, char** argv) {
    (void)argv;
    // Through a volatile pointer, so that the compiler reads the loaded bytes.
    const volatile unsigned char* b = blob + (unsigned)(argc - 1);
    unsigned sum = 0;
    for (unsigned i = 0; i < BLOB_SIZE; i += 4096) sum += b[i];
    int ok = b[0] == 1 && b[CHUNK - 1] == 2 && b[CHUNK] == 3 && b[BLOB_SIZE / 2 + 7] == 4 &&
             b[BLOB_SIZE - CHUNK - 1] == 5 && b[BLOB_SIZE - 1] == 6 && sum == 1 + 3;
    printf("exec_big: %s\n", ok ? "ok" : "FAILED: the data did not load in place");
    return ok ? 0 : 1;
}
