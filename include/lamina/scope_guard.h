// lamina:portable
// ScopeGuard: runs a function when the scope ends, whichever return leaves it; the one way to
// undo a half-done operation on the error paths (no ad-hoc `struct Free` per function).
//
//   void* pages = TRY(alloc(n));
//   ScopeGuard free_pages([&] { release(pages, n); });
//   TRY(map(pages));          // an error returns here and frees the pages
//   free_pages.dismiss();     // success: the pages stay
//   return pages;
#pragma once

#include <utility>

namespace lamina {

template <typename F>
class [[nodiscard]] ScopeGuard {
public:
    explicit ScopeGuard(F f) : f_(std::move(f)) {}
    ScopeGuard(const ScopeGuard&) = delete;
    ScopeGuard& operator=(const ScopeGuard&) = delete;
    ~ScopeGuard() {
        if (armed_) f_();
    }

    // The function will not run (the operation it undoes succeeded).
    void dismiss() { armed_ = false; }
    bool armed() const { return armed_; }

private:
    F f_;
    bool armed_ = true;
};

}  // namespace lamina
