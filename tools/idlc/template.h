// The small template expander behind idlc's generator: the generated code is written as C++ raw
// string literals with named placeholders, ${name}, so that it reads like the code it makes.
//
//   - A placeholder inside a line is replaced by its value as it is.
//   - A placeholder alone on its line (only indentation around it) stands for a block: each
//     non-empty line of the value is indented like the placeholder, and an empty value removes
//     the line. Blocks are themselves expanded templates, so they are written unindented.
//   - A template that starts with a newline (right after R"( ) loses it.
//
// Every placeholder needs a value and every value must be used: a mismatch is a bug in the
// generator, not in the input, and throws std::logic_error naming the placeholder.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace idlc {

struct TemplateValue {
    std::string_view name;
    std::string text;
};

std::string expand(std::string_view text, std::initializer_list<TemplateValue> values);

// Expands `each(item)` for every item and joins the results (blocks end with their newline).
template <typename Items, typename Each>
std::string join(const Items& items, Each each) {
    std::string out;
    for (auto& item : items) out += each(item);
    return out;
}

// Joins `each(item)` with `separator` between them (argument lists and the like).
template <typename Items, typename Each>
std::string join(const Items& items, std::string_view separator, Each each) {
    std::string out;
    for (auto& item : items) {
        if (!out.empty()) out += separator;
        out += each(item);
    }
    return out;
}

}  // namespace idlc
