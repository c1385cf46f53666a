// lamina:portable
#include "kernel/boot/cmdline.h"

namespace lamina::boot {

namespace {
bool equal(const char* a, const char* b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}
}  // namespace

void CommandLine::parse(const char* text) {
    count_ = dropped_ = 0;
    size_t n = 0;
    while (text[n] && n + 1 < MAX_TEXT) {
        original_[n] = text[n];
        n++;
    }
    original_[n] = 0;
    // Split in place into buf_: each word's key and value become NUL-terminated strings.
    size_t in = 0, out = 0;
    while (original_[in]) {
        while (original_[in] == ' ' || original_[in] == '\t') in++;
        if (!original_[in]) break;
        const char* key = &buf_[out];
        const char* value = nullptr;
        bool quoted = false;
        while (original_[in] && (quoted || (original_[in] != ' ' && original_[in] != '\t'))) {
            char c = original_[in++];
            if (c == '"') {
                quoted = !quoted;
                continue;
            }
            if (c == '=' && !value) {
                buf_[out++] = 0;
                value = &buf_[out];
                continue;
            }
            buf_[out++] = c;
        }
        buf_[out++] = 0;
        if (count_ == MAX_ARGS) {
            dropped_++;
            continue;
        }
        keys_[count_] = key;
        values_[count_] = value;
        count_++;
    }
}

bool CommandLine::has(const char* flag) const {
    for (size_t i = 0; i < count_; i++)
        if (equal(keys_[i], flag)) return true;
    return false;
}

const char* CommandLine::get(const char* key) const {
    // The last occurrence wins, so a later argument can override an image's default.
    const char* found = nullptr;
    for (size_t i = 0; i < count_; i++)
        if (equal(keys_[i], key) && values_[i]) found = values_[i];
    return found;
}

const char* CommandLine::get_or(const char* key, const char* fallback) const {
    const char* v = get(key);
    return v ? v : fallback;
}

unsigned long CommandLine::get_number(const char* key, unsigned long fallback) const {
    const char* v = get(key);
    if (!v || !*v) return fallback;
    unsigned long base = 10, result = 0;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) base = 16, v += 2;
    if (!*v) return fallback;
    for (; *v; v++) {
        unsigned long d;
        if (*v >= '0' && *v <= '9')
            d = *v - '0';
        else if (base == 16 && *v >= 'a' && *v <= 'f')
            d = *v - 'a' + 10;
        else if (base == 16 && *v >= 'A' && *v <= 'F')
            d = *v - 'A' + 10;
        else
            return fallback;
        if (result > (~0ul - d) / base) return fallback;
        result = result * base + d;
    }
    return result;
}

}  // namespace lamina::boot
