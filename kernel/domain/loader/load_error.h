// lamina:portable
// Why a package was refused. Every check in the loader fills one of these with an errno-style
// code (ENOEXEC for a corrupt or unsupported ELF, EINVAL for a bad manifest or package header,
// ENOMEM when the memory provider fails, ...) and one human-readable line naming what is wrong
// and where ("ELF: undefined symbol 'foo'", "manifest line 3: unknown key 'nmae'").
#pragma once

#include <lamina/result.h>

namespace lamina::domain {

struct LoadError {
    Errno code = Errno::None;
    char message[128] = {};

    // Records the failure (the first one wins: later checks never hide the first reason) and
    // returns the code, so a check can end with `return err.fail(...)`.
    [[gnu::format(printf, 3, 4)]] Error fail(Errno code, const char* fmt, ...);
    bool failed() const { return code != Errno::None; }
};

}  // namespace lamina::domain
