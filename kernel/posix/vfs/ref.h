// lamina:portable
// Intrusive reference counting for the POSIX layer's shared objects (inodes, open file
// descriptions, descriptor tables, pipes): they are shared between processes after fork and
// between descriptors after dup, and die with their last reference.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <type_traits>
#include <utility>

namespace lamina::posix {

class RefCounted {
public:
    RefCounted(const RefCounted&) = delete;
    RefCounted& operator=(const RefCounted&) = delete;

    void ref() const { __atomic_add_fetch(&refs_, 1, __ATOMIC_RELAXED); }
    void unref() const {
        if (__atomic_sub_fetch(&refs_, 1, __ATOMIC_ACQ_REL) == 0) delete this;
    }
    uint32_t ref_count() const { return __atomic_load_n(&refs_, __ATOMIC_RELAXED); }
    // A reference only if the object is not already dying (its count reached 0 and its
    // destructor may be waiting for a lock the caller holds): for registries that find
    // objects through plain pointers and forget them in the destructor (epoll).
    bool try_ref() const {
        uint32_t c = __atomic_load_n(&refs_, __ATOMIC_RELAXED);
        while (c)
            if (__atomic_compare_exchange_n(&refs_, &c, c + 1, true, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return true;
        return false;
    }

protected:
    RefCounted() = default;
    virtual ~RefCounted() = default;

private:
    mutable uint32_t refs_ = 0;
};

// A counted reference; null is allowed and means "nothing".
template <typename T>
class RefPtr {
public:
    RefPtr() = default;
    RefPtr(decltype(nullptr)) {}
    // Adopts a fresh object (count 0) or adds a reference to a live one.
    explicit RefPtr(T* p) : p_(p) { if (p_) p_->ref(); }
    RefPtr(const RefPtr& o) : p_(o.p_) { if (p_) p_->ref(); }
    RefPtr(RefPtr&& o) : p_(o.p_) { o.p_ = nullptr; }
    template <typename U, typename = std::enable_if_t<std::is_convertible_v<U*, T*>>>
    RefPtr(const RefPtr<U>& o) : p_(o.get()) { if (p_) p_->ref(); }
    template <typename U, typename = std::enable_if_t<std::is_convertible_v<U*, T*>>>
    RefPtr(RefPtr<U>&& o) : p_(o.leak()) {}
    ~RefPtr() { if (p_) p_->unref(); }

    RefPtr& operator=(const RefPtr& o) {
        RefPtr tmp(o);
        swap(tmp);
        return *this;
    }
    RefPtr& operator=(RefPtr&& o) {
        RefPtr tmp(std::move(o));
        swap(tmp);
        return *this;
    }
    RefPtr& operator=(decltype(nullptr)) {
        RefPtr tmp;
        swap(tmp);
        return *this;
    }

    T* get() const { return p_; }
    T* operator->() const { return p_; }
    T& operator*() const { return *p_; }
    explicit operator bool() const { return p_ != nullptr; }
    bool operator==(const RefPtr& o) const { return p_ == o.p_; }
    void swap(RefPtr& o) { T* t = p_; p_ = o.p_; o.p_ = t; }
    // Gives up the reference without dropping it (for conversions between RefPtr types).
    T* leak() { T* t = p_; p_ = nullptr; return t; }

private:
    T* p_ = nullptr;
};

}  // namespace lamina::posix
