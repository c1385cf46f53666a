#include "tools/idlc/lexer.h"

#include <cctype>
#include <string_view>

#include "tools/idlc/idl.h"

namespace idlc {

namespace {

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)); }

class Lexer {
public:
    Lexer(const std::string& file, const std::string& text) : file_(file), s_(text) {}

    std::vector<Token> run() {
        while (i_ < s_.size()) {
            char c = s_[i_];
            if (c == '\n') {
                line_++;
                i_++;
            } else if (std::isspace(static_cast<unsigned char>(c))) {
                i_++;
            } else if (starts_with("//")) {
                while (i_ < s_.size() && s_[i_] != '\n') i_++;
            } else if (is_ident_start(c)) {
                size_t j = i_;
                while (j < s_.size() && is_ident_char(s_[j])) j++;
                push(TokenKind::Ident, j);
            } else if (is_digit(c)) {
                number();
            } else if (c == '"') {
                size_t j = i_ + 1;
                while (j < s_.size() && s_[j] != '"' && s_[j] != '\n') j++;
                push(TokenKind::String, j + 1);
            } else if (starts_with("->")) {
                push(TokenKind::Punct, i_ + 2);
            } else if (std::string_view("{}()<>[]:;,=*&-").find(c) != std::string_view::npos) {
                push(TokenKind::Punct, i_ + 1);
            } else {
                fail(file_, line_, std::string("unexpected character '") + c + "'");
            }
        }
        out_.push_back({TokenKind::End, "end of file", 0, line_});
        return std::move(out_);
    }

private:
    bool starts_with(std::string_view p) const { return std::string_view(s_).substr(i_, p.size()) == p; }

    // The token from here to `end` (a string literal left open at the end of a line or of the
    // file stops there).
    void push(TokenKind kind, size_t end, uint64_t value = 0) {
        out_.push_back({kind, s_.substr(i_, end - i_), value, line_});
        i_ = end;
    }

    void number() {
        const bool hex = starts_with("0x") || starts_with("0X");
        const unsigned base = hex ? 16 : 10;
        const size_t start = hex ? i_ + 2 : i_;
        size_t j = start;
        while (j < s_.size() && (hex ? std::isxdigit(static_cast<unsigned char>(s_[j])) : is_digit(s_[j]))) j++;
        if (j == start) fail(file_, line_, "malformed number");
        if (j < s_.size() && is_ident_char(s_[j]))
            fail(file_, line_, "malformed number '" + s_.substr(i_, j + 1 - i_) + "'");
        uint64_t v = 0;
        for (size_t k = start; k < j; k++) {
            unsigned d = is_digit(s_[k]) ? s_[k] - '0' : std::tolower(static_cast<unsigned char>(s_[k])) - 'a' + 10;
            if (v > (UINT64_MAX - d) / base)
                fail(file_, line_, "number '" + s_.substr(i_, j - i_) + "' does not fit in 64 bits");
            v = v * base + d;
        }
        push(TokenKind::Number, j, v);
    }

    const std::string& file_;
    const std::string& s_;
    size_t i_ = 0;
    int line_ = 1;
    std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(const std::string& file, const std::string& text) { return Lexer(file, text).run(); }

}  // namespace idlc
