// lamina:portable
#include "kernel/posix/script.h"

namespace lamina::posix {

namespace {
bool blank(uint8_t c) { return c == ' ' || c == '\t' || c == '\r'; }
constexpr size_t LINE_MAX_READ = 256;  // Linux's BINPRM_BUF_SIZE
}  // namespace

Result<void> parse_script_line(const uint8_t* file, size_t size, ScriptLine& out) {
    if (!is_script(file, size)) return Errno::NoExec;
    size_t limit = size < LINE_MAX_READ ? size : LINE_MAX_READ;
    size_t end = 2;
    while (end < limit && file[end] != '\n') end++;
    size_t i = 2;
    while (i < end && blank(file[i])) i++;
    size_t start = i;
    while (i < end && !blank(file[i])) i++;
    if (i == start) return Errno::NoExec;
    // A line cut at the read limit must not cut the interpreter (Linux: ENOEXEC).
    if (i == end && end == limit && limit < size && file[end] != '\n') return Errno::NoExec;
    size_t n = i - start;
    __builtin_memcpy(out.interpreter, file + start, n);
    out.interpreter[n] = 0;
    while (i < end && blank(file[i])) i++;
    size_t arg_end = end;
    while (arg_end > i && blank(file[arg_end - 1])) arg_end--;
    out.has_argument = arg_end > i;
    n = arg_end - i;
    __builtin_memcpy(out.argument, file + i, n);
    out.argument[n] = 0;
    return {};
}

}  // namespace lamina::posix
