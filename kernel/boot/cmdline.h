// lamina:portable
// The kernel command line: space-separated words, each a flag (`ktest`) or `key=value`.
// Values may be double-quoted to contain spaces.
#pragma once

#include <stddef.h>

namespace lamina::boot {

class CommandLine {
public:
    static constexpr size_t MAX_ARGS = 64;
    static constexpr size_t MAX_TEXT = 1024;

    // Copies text; words beyond MAX_ARGS are counted in dropped().
    void parse(const char* text);

    bool has(const char* flag) const;        // `flag` or `flag=...`
    const char* get(const char* key) const;  // value of `key=value`, nullptr if absent
    const char* get_or(const char* key, const char* fallback) const;
    // Parses a decimal or 0x-prefixed value; fallback when absent or malformed.
    unsigned long get_number(const char* key, unsigned long fallback) const;

    size_t count() const { return count_; }
    const char* key(size_t i) const { return keys_[i]; }
    const char* value(size_t i) const { return values_[i]; }
    size_t dropped() const { return dropped_; }
    const char* text() const { return original_; }

private:
    char original_[MAX_TEXT] = {};
    char buf_[MAX_TEXT] = {};
    const char* keys_[MAX_ARGS] = {};
    const char* values_[MAX_ARGS] = {};
    size_t count_ = 0;
    size_t dropped_ = 0;
};

}  // namespace lamina::boot
