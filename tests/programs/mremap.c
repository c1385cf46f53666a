// mremap as musl's realloc and programs use it (Linux's semantics, checked against the host):
// shrink, grow in place, move with MREMAP_MAYMOVE (the data goes along), MREMAP_FIXED, and the
// errors for an unmapped range, bad flags and growth that may not move.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char* what) {
    printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) failures++;
}

static int filled(const unsigned char* p, size_t n, unsigned char seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i / 4096)) return 0;
    return 1;
}

static void fill(unsigned char* p, size_t n, unsigned char seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i / 4096);
}

int main(void) {
    const size_t page = 4096;
    // A reservation whose middle is unmapped again, so that growth in place has room.
    unsigned char* area = mmap(NULL, 16 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(area != MAP_FAILED, "mmap of 16 pages");
    check(munmap(area + 4 * page, 12 * page) == 0, "unmap the top 12");
    fill(area, 4 * page, 10);
    unsigned char* p = mremap(area, 4 * page, 8 * page, 0);
    check(p == area, "grows in place into free pages");
    check(filled(p, 4 * page, 10), "the old pages keep their data");
    p[8 * page - 1] = 7;
    check(p[6 * page] == 0 && p[8 * page - 1] == 7, "the new pages are zero-filled and writable");
    p = mremap(area, 8 * page, 2 * page, 0);
    check(p == area && filled(p, 2 * page, 10), "shrinks in place");

    // Blocked above: growth needs MREMAP_MAYMOVE.
    unsigned char* wall = mmap(area + 2 * page, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check(wall == area + 2 * page, "a mapping just above");
    errno = 0;
    check(mremap(area, 2 * page, 4 * page, 0) == MAP_FAILED && errno == ENOMEM,
          "blocked growth without MAYMOVE is ENOMEM");
    p = mremap(area, 2 * page, 64 * page, MREMAP_MAYMOVE);
    check(p != MAP_FAILED && p != area, "MAYMOVE moves it");
    check(filled(p, 2 * page, 10), "the data moved with it");
    p[64 * page - 1] = 9;
    check(p[64 * page - 1] == 9 && p[10 * page] == 0, "the moved mapping has its full new size");
    check(mprotect(area, page, PROT_READ) == -1 && errno == ENOMEM, "the old range is gone");

    // MREMAP_FIXED onto a chosen place (replacing what was there).
    unsigned char* target = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fill(target, 8 * page, 99);
    unsigned char* q = mremap(p, 64 * page, 4 * page, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    check(q == target && filled(q, 2 * page, 10) && q[3 * page] == 0, "MREMAP_FIXED moves onto the target");
    check(mprotect(target + 4 * page, page, PROT_READ) == 0, "the target's pages beyond stay mapped");

    // Errors.
    errno = 0;
    check(mremap(area + 1, page, 2 * page, MREMAP_MAYMOVE) == MAP_FAILED && errno == EINVAL,
          "unaligned address: EINVAL");
    errno = 0;
    check(mremap(q, page, 2 * page, 0x80) == MAP_FAILED && errno == EINVAL, "unknown flag: EINVAL");
    errno = 0;
    check(mremap(q, page, 2 * page, MREMAP_FIXED, q + 64 * page) == MAP_FAILED && errno == EINVAL,
          "FIXED without MAYMOVE: EINVAL");
    errno = 0;
    check(mremap(q, page, 0, MREMAP_MAYMOVE) == MAP_FAILED && errno == EINVAL, "new size 0: EINVAL");
    errno = 0;
    check(mremap(area, page, 2 * page, MREMAP_MAYMOVE) == MAP_FAILED && errno == EFAULT, "an unmapped range: EFAULT");
    errno = 0;
    check(mremap(q, 16 * page, 32 * page, MREMAP_MAYMOVE) == MAP_FAILED && errno == EFAULT,
          "a range past its mapping: EFAULT");

    // realloc of a large block: musl grows it with mremap.
    size_t n = 1 << 20;
    unsigned char* b = malloc(n);
    fill(b, n, 3);
    for (int i = 0; i < 5 && b; i++) {
        unsigned char* c = realloc(b, n * 2);
        if (!c) break;
        b = c;
        fill(b + n, n, (unsigned char)(3 + n / 4096));
        n *= 2;
    }
    check(b && n == 32u << 20 && filled(b, n, 3), "realloc grows a block to 32 MiB keeping its data");
    free(b);
    return failures ? 1 : 0;
}
