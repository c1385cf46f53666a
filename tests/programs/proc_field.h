// A number from a /proc file, for the Lamina-only test programs (profile_spin, drop_caches).
#pragma once
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The number after `key` in the first 8 KiB of path, searched from the first `after` (NULL:
// from the start); -1 when the file or either string is missing.
static long proc_field(const char* path, const char* after, const char* key) {
    static char text[8192];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    const char* from = after ? strstr(text, after) : text;
    const char* at = from ? strstr(from, key) : NULL;
    return at ? atol(at + strlen(key)) : -1;
}
