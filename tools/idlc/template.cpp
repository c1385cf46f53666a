#include "tools/idlc/template.h"

#include <stdexcept>
#include <vector>

namespace idlc {

namespace {

class Expander {
public:
    explicit Expander(std::initializer_list<TemplateValue> values) : values_(values), used_(values.size(), false) {}

    std::string run(std::string_view text) {
        if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
        std::string out;
        while (!text.empty()) {
            size_t end = text.find('\n');
            std::string_view line = text.substr(0, end);
            text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
            const bool newline = end != std::string_view::npos;
            if (std::string_view name = block_name(line); !name.empty())
                indent_block(out, line.substr(0, line.find('$')), value(name));
            else
                out += inline_values(line) + (newline ? "\n" : "");
        }
        for (size_t i = 0; i < used_.size(); i++)
            if (!used_[i])
                throw std::logic_error("template value '" + std::string(values_.begin()[i].name) + "' is not used");
        return out;
    }

private:
    // The name when the line is only indentation and one placeholder; empty otherwise.
    static std::string_view block_name(std::string_view line) {
        size_t start = line.find_first_not_of(' ');
        if (start == std::string_view::npos || line.substr(start, 2) != "${" || line.back() != '}') return {};
        std::string_view name = line.substr(start + 2, line.size() - start - 3);
        return name.find_first_of("${} ") == std::string_view::npos ? name : std::string_view();
    }

    static void indent_block(std::string& out, std::string_view indent, std::string_view block) {
        while (!block.empty()) {
            size_t end = block.find('\n');
            std::string_view line = block.substr(0, end);
            if (!line.empty()) out.append(indent).append(line);
            out += '\n';
            block.remove_prefix(end == std::string_view::npos ? block.size() : end + 1);
        }
    }

    std::string inline_values(std::string_view line) {
        std::string out;
        for (size_t at; (at = line.find("${")) != std::string_view::npos;) {
            size_t close = line.find('}', at);
            if (close == std::string_view::npos)
                throw std::logic_error("template placeholder not closed: " + std::string(line));
            out.append(line.substr(0, at)).append(value(line.substr(at + 2, close - at - 2)));
            line.remove_prefix(close + 1);
        }
        return out.append(line);
    }

    const std::string& value(std::string_view name) {
        size_t i = 0;
        for (auto& v : values_) {
            if (v.name == name) {
                used_[i] = true;
                return v.text;
            }
            i++;
        }
        throw std::logic_error("template has no value for ${" + std::string(name) + "}");
    }

    std::initializer_list<TemplateValue> values_;
    std::vector<bool> used_;
};

}  // namespace

std::string expand(std::string_view text, std::initializer_list<TemplateValue> values) {
    return Expander(values).run(text);
}

}  // namespace idlc
