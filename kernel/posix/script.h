// lamina:portable
// `#!` scripts: the interpreter line execve reads (Linux's binfmt_script rules).
//
// Guarantees
//   - Only the first line counts, and only its first 255 bytes after the `#!` header is read
//     as Linux does (a longer line whose interpreter and argument fit in those bytes still
//     works; one that does not is NoExec). A missing newline at the end of the file is fine.
//   - The interpreter is the first word; the rest of the line, with leading and trailing blanks
//     (spaces, tabs, a CR) removed, is one optional argument, blanks inside kept ("#!/bin/sh -e x"
//     gives "/bin/sh" and "-e x").
//   - No interpreter (an empty or blank line) is NoExec. Results are NUL-terminated copies into
//     the caller's buffers (MAX_WORD bytes each).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/result.h>

namespace lamina::posix {

inline bool is_script(const uint8_t* file, size_t size) { return size >= 2 && file[0] == '#' && file[1] == '!'; }

struct ScriptLine {
    static constexpr size_t MAX_WORD = 256;
    char interpreter[MAX_WORD];
    char argument[MAX_WORD];
    bool has_argument;
};

Result<void> parse_script_line(const uint8_t* file, size_t size, ScriptLine& out);

}  // namespace lamina::posix
