// idlc's lexer: IDL text to tokens. Comments (// to the end of the line) and whitespace are
// dropped; every token carries its line for messages.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace idlc {

enum class TokenKind {
    Ident,   // a name or a keyword: [A-Za-z_][A-Za-z0-9_]*
    Number,  // decimal or 0x hex, at most 64 bits; the value is in `number`
    String,  // "...": never valid IDL, but lexed so that the parser can say why
    Punct,   // one of { } ( ) < > [ ] : ; , = * & - and "->"
    End,     // after the last token; its text is "end of file"
};

struct Token {
    TokenKind kind;
    std::string text;
    uint64_t number = 0;
    int line = 0;
};

// Throws CompileError (idl.h) on a character outside the language or a malformed number. The
// result always ends with an End token.
std::vector<Token> lex(const std::string& file, const std::string& text);

}  // namespace idlc
