// lamina:portable
// Owned<T>: the single owner of a heap object (allocated with new (std::nothrow)); deletes it
// when it goes. Until the shared library grows one, the driver's factories return this.
#pragma once

#include <new>
#include <utility>

namespace lamina::nvme {

template <typename T>
class Owned {
public:
    Owned() = default;
    explicit Owned(T* p) : p_(p) {}
    Owned(Owned&& o) : p_(std::exchange(o.p_, nullptr)) {}
    Owned& operator=(Owned&& o) {
        if (this != &o) {
            reset();
            p_ = std::exchange(o.p_, nullptr);
        }
        return *this;
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    ~Owned() { reset(); }

    void reset() { delete std::exchange(p_, nullptr); }
    // Gives up ownership (the caller keeps the object alive from now on).
    T* release() { return std::exchange(p_, nullptr); }
    T* get() const { return p_; }
    T* operator->() const { return p_; }
    T& operator*() const { return *p_; }
    explicit operator bool() const { return p_ != nullptr; }

private:
    T* p_ = nullptr;
};

}  // namespace lamina::nvme
