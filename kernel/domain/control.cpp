// /proc/domctl's commands (userland/domctl/README.md, "The kernel contract"): fault injection and
// restarts of named domains, for tests and demos. procfs hands each write to control().
#include "kernel/domain/domain.h"

#include "kernel/lib/log.h"

namespace lamina::domain {

namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

bool equals(const char* word, size_t len, const char* literal) {
    return __builtin_strlen(literal) == len && __builtin_memcmp(word, literal, len) == 0;
}

Result<void> restart(const char* name) {
    Domain* d = pin(name);
    if (!d) return Errno::NoEnt;
    if (__atomic_load_n(&d->restarting, __ATOMIC_ACQUIRE)) {
        unpin(d);
        return Errno::Busy;
    }
    Recovery* recovery = d->recovery;  // a word: read without the lock, the pin keeps d
    unpin(d);                          // the restart destroys d, which waits for its pins
    if (!recovery) {
        kprintf("domctl: cannot restart domain %s: no shadow is registered for it (a fresh instance "
                "would have no callers)\n", name);
        return Errno::NotSup;
    }
    return recovery->restart();
}

}  // namespace

Result<void> parse_control(const char* cmd, size_t len, ControlCommand* out) {
    if (len > 0 && cmd[len - 1] == '\n') len--;
    const char* words[4];
    size_t lengths[4];
    size_t count = 0;
    for (size_t i = 0; i < len;) {
        char c = cmd[i];
        if (blank(c)) {
            i++;
            continue;
        }
        if (count == 4) return Errno::Inval;
        words[count] = cmd + i;
        size_t start = i;
        for (; i < len && !blank(cmd[i]); i++)
            if (uint8_t(cmd[i]) < 0x20 || uint8_t(cmd[i]) >= 0x7f) return Errno::Inval;  // one printable line
        lengths[count++] = i - start;
    }
    if (count < 2 || lengths[1] > Manifest::kMaxName) return Errno::Inval;
    if (equals(words[0], lengths[0], "inject") && count <= 3) {
        out->op = ControlCommand::Op::Inject;
        const char* kind = count == 3 ? words[2] : "panic";
        size_t kind_len = count == 3 ? lengths[2] : 5;
        if (!inject_kind(kind, kind_len)) return Errno::Inval;
        __builtin_memcpy(out->kind, kind, kind_len);
        out->kind[kind_len] = 0;
    } else if (equals(words[0], lengths[0], "restart") && count == 2) {
        out->op = ControlCommand::Op::Restart;
        out->kind[0] = 0;
    } else {
        return Errno::Inval;
    }
    __builtin_memcpy(out->name, words[1], lengths[1]);
    out->name[lengths[1]] = 0;
    return {};
}

Result<void> control(const char* cmd, size_t len) {
    ControlCommand c;
    TRY(parse_control(cmd, len, &c));
    Result<void> r = c.op == ControlCommand::Op::Inject ? inject_fault(c.name, c.kind) : restart(c.name);
    if (r.is_error())
        kprintf("domctl: %s %s: %s\n", c.op == ControlCommand::Op::Inject ? "inject" : "restart", c.name,
                r.error().name());
    return r;
}

}  // namespace lamina::domain
