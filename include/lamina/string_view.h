// lamina:portable
// StringView: a read-only run of characters somewhere else (a command line, a manifest, a path a
// system call copied in), with its length; not NUL-terminated, never owning, never allocating.
// Parsers take StringViews and return views into their input instead of copying words out.
//
// Out-of-range access (operator[], substring past the end) is an assertion failure; the
// searching functions return an empty Optional for "not found".
#pragma once

#include <lamina/assert.h>
#include <lamina/optional.h>

#include <stddef.h>
#include <stdint.h>

namespace lamina {

class StringView {
public:
    constexpr StringView() = default;
    constexpr StringView(const char* chars, size_t length) : chars_(chars), length_(length) {}
    // A NUL-terminated string (e.g. a literal); nullptr is the empty view.
    constexpr StringView(const char* cstring) : chars_(cstring), length_(cstring ? __builtin_strlen(cstring) : 0) {}

    constexpr const char* data() const { return chars_; }
    constexpr size_t length() const { return length_; }
    constexpr bool is_empty() const { return length_ == 0; }
    constexpr const char* begin() const { return chars_; }
    constexpr const char* end() const { return chars_ + length_; }

    constexpr char operator[](size_t i) const {
        LAMINA_ASSERT(i < length_);
        return chars_[i];
    }

    // The characters from `start` on (to the end, or `count` of them). start may equal length.
    constexpr StringView substring(size_t start) const {
        LAMINA_ASSERT(start <= length_);
        return StringView(chars_ + start, length_ - start);
    }
    constexpr StringView substring(size_t start, size_t count) const {
        LAMINA_ASSERT(start <= length_ && count <= length_ - start);
        return StringView(chars_ + start, count);
    }

    constexpr bool operator==(StringView o) const {
        if (length_ != o.length_) return false;
        for (size_t i = 0; i < length_; i++)
            if (chars_[i] != o.chars_[i]) return false;
        return true;
    }
    constexpr bool starts_with(StringView prefix) const {
        return prefix.length_ <= length_ && substring(0, prefix.length_) == prefix;
    }
    constexpr bool ends_with(StringView suffix) const {
        return suffix.length_ <= length_ && substring(length_ - suffix.length_) == suffix;
    }

    constexpr Optional<size_t> find(char c, size_t from = 0) const {
        for (size_t i = from; i < length_; i++)
            if (chars_[i] == c) return i;
        return {};
    }
    constexpr Optional<size_t> find(StringView needle, size_t from = 0) const {
        if (needle.length_ > length_) return {};
        for (size_t i = from; i + needle.length_ <= length_; i++)
            if (substring(i, needle.length_) == needle) return i;
        return {};
    }
    constexpr Optional<size_t> find_last(char c) const {
        for (size_t i = length_; i > 0; i--)
            if (chars_[i - 1] == c) return i - 1;
        return {};
    }
    constexpr bool contains(char c) const { return find(c).has_value(); }
    constexpr bool contains(StringView needle) const { return find(needle).has_value(); }

    // Without the spaces, tabs, carriage returns and newlines at either end.
    constexpr StringView trimmed() const {
        size_t start = 0, stop = length_;
        while (start < stop && is_space(chars_[start])) start++;
        while (stop > start && is_space(chars_[stop - 1])) stop--;
        return substring(start, stop - start);
    }

    // The word before the first `separator` (all of it when there is none); *this becomes what
    // follows the separator. For walking "a,b,c" or "key=value" without copying.
    constexpr StringView split_first(char separator) {
        auto at = find(separator);
        size_t word_end = at ? *at : length_;
        StringView word = substring(0, word_end);
        *this = at ? substring(word_end + 1) : substring(length_);
        return word;
    }

    // The decimal (or, with a "0x" prefix, hexadecimal) unsigned number that is the whole view;
    // empty on anything else, including overflow of 64 bits.
    constexpr Optional<uint64_t> to_uint() const {
        StringView digits = *this;
        unsigned base = 10;
        if (starts_with("0x") || starts_with("0X")) {
            digits = substring(2);
            base = 16;
        }
        if (digits.is_empty()) return {};
        uint64_t value = 0;
        for (char c : digits) {
            unsigned d;
            if (c >= '0' && c <= '9')
                d = unsigned(c - '0');
            else if (base == 16 && c >= 'a' && c <= 'f')
                d = unsigned(c - 'a' + 10);
            else if (base == 16 && c >= 'A' && c <= 'F')
                d = unsigned(c - 'A' + 10);
            else
                return {};
            if (value > (UINT64_MAX - d) / base) return {};
            value = value * base + d;
        }
        return value;
    }

private:
    static constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

    const char* chars_ = "";
    size_t length_ = 0;
};

}  // namespace lamina
