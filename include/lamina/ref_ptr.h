// lamina:portable
// Shared ownership by reference counting, for objects with several owners whose lifetime no
// single one decides (open files shared after fork, a client that callers and its own recovery
// hold at once).
//
// A RefCounted object starts life with one reference, the creator's, which must be adopted by
// exactly one RefPtr (adopt_ref); every further RefPtr adds a reference, and the last one to go
// deletes the object. So a fresh object can never be deleted by a temporary RefPtr, and a
// forgotten adoption leaks visibly instead of freeing early:
//
//   auto pipe = TRY(make_ref<Pipe>(size));                                   // public ctor
//   auto client = TRY(adopt_ref_or_nomem(new (std::nothrow) Client(...)));   // private ctor
//   RefPtr<Pipe> other = pipe;                                               // two references
//
// RefPtr may be null; dereferencing a null one is an assertion failure. Counting is atomic:
// references may be taken and dropped on any CPU.
#pragma once

#include <lamina/assert.h>
#include <lamina/result.h>

#include <stdint.h>
#include <new>
#include <type_traits>
#include <utility>

namespace lamina {

class RefCounted {
public:
    RefCounted(const RefCounted&) = delete;
    RefCounted& operator=(const RefCounted&) = delete;

    void ref() const {
        uint32_t before = __atomic_fetch_add(&refs_, 1, __ATOMIC_RELAXED);
        LAMINA_ASSERT(before > 0);  // reviving an object already being deleted
    }
    // Drops a reference; the last one deletes the object. Returns whether it did.
    bool unref() const {
        uint32_t before = __atomic_fetch_sub(&refs_, 1, __ATOMIC_ACQ_REL);
        LAMINA_ASSERT(before > 0);
        if (before != 1) return false;
        delete this;
        return true;
    }
    uint32_t ref_count() const { return __atomic_load_n(&refs_, __ATOMIC_RELAXED); }
    // A reference only if the object is not already being deleted (its count reached 0 and
    // its destructor may be waiting for a lock the caller holds): for registries that find
    // objects through plain pointers and forget them in the destructor (epoll). Adopt it.
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
    mutable uint32_t refs_ = 1;
};

template <typename T>
class RefPtr {
public:
    constexpr RefPtr() = default;
    constexpr RefPtr(decltype(nullptr)) {}
    // A new reference to an object that someone already holds one to (e.g. `this`).
    explicit RefPtr(T* p) : p_(p) {
        if (p_) p_->ref();
    }
    explicit RefPtr(T& r) : RefPtr(&r) {}
    RefPtr(const RefPtr& o) : RefPtr(o.p_) {}
    RefPtr(RefPtr&& o) : p_(o.leak_ref()) {}
    template <typename U, typename = std::enable_if_t<std::is_convertible_v<U*, T*>>>
    RefPtr(const RefPtr<U>& o) : RefPtr(o.get()) {}
    template <typename U, typename = std::enable_if_t<std::is_convertible_v<U*, T*>>>
    RefPtr(RefPtr<U>&& o) : p_(o.leak_ref()) {}
    ~RefPtr() { clear(); }

    RefPtr& operator=(const RefPtr& o) {
        RefPtr copy(o);
        swap(copy);
        return *this;
    }
    RefPtr& operator=(RefPtr&& o) {
        RefPtr taken(std::move(o));
        swap(taken);
        return *this;
    }
    RefPtr& operator=(decltype(nullptr)) {
        clear();
        return *this;
    }

    void clear() {
        if (T* p = std::exchange(p_, nullptr)) p->unref();
    }
    T* get() const { return p_; }
    T* operator->() const {
        LAMINA_ASSERT(p_);
        return p_;
    }
    T& operator*() const {
        LAMINA_ASSERT(p_);
        return *p_;
    }
    explicit operator bool() const { return p_ != nullptr; }
    template <typename U>
    bool operator==(const RefPtr<U>& o) const {
        return p_ == o.get();
    }
    bool operator==(const T* p) const { return p_ == p; }
    bool operator==(decltype(nullptr)) const { return p_ == nullptr; }
    void swap(RefPtr& o) { std::swap(p_, o.p_); }

    // Gives up this pointer's reference without dropping it: the caller now holds it and must
    // hand it to adopt_ref (or unref it) exactly once.
    [[nodiscard]] T* leak_ref() { return std::exchange(p_, nullptr); }

private:
    template <typename U>
    friend RefPtr<U> adopt_ref(U* p);
    struct Adopt {};
    RefPtr(T* p, Adopt) : p_(p) {}

    T* p_ = nullptr;
};

// Takes over a reference the caller holds: the creator's first one, or one from leak_ref.
template <typename T>
RefPtr<T> adopt_ref(T* p) {
    LAMINA_ASSERT(p);
    return RefPtr<T>(p, typename RefPtr<T>::Adopt{});
}

// Adopts the result of `new (std::nothrow)`: ENOMEM when the allocation failed.
template <typename T>
Result<RefPtr<T>> adopt_ref_or_nomem(T* p) {
    if (!p) return Errno::NoMem;
    return adopt_ref(p);
}

template <typename T, typename... Args>
Result<RefPtr<T>> make_ref(Args&&... args) {
    return adopt_ref_or_nomem(new (std::nothrow) T(std::forward<Args>(args)...));
}

}  // namespace lamina
