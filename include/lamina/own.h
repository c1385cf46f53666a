// lamina:portable
// Own<T>: the single owner of a heap object; deletes it when it goes. Ownership moves, never
// copies. Objects come from `new (std::nothrow)` (the kernel's or the domain's operator new),
// so allocation failure is a value, never a hidden panic:
//
//   static Result<Own<Thing>> Thing::create(...) {
//       auto thing = TRY(adopt_own_or_nomem(new (std::nothrow) Thing(...)));  // private ctor
//       TRY(thing->init());
//       return thing;
//   }
//   auto buffer = TRY(make_own<Buffer>(size));                               // public ctor
//
// An Own is null only after it was moved from, released, or reset; dereferencing a null Own is
// an assertion failure.
//
// An object whose memory comes from another allocator (an injected one, as ext2's) names a
// stateless Deleter that ends it there: Own<FileSystem, FileSystem::Delete>.
#pragma once

#include <lamina/assert.h>
#include <lamina/result.h>

#include <new>
#include <type_traits>
#include <utility>

namespace lamina {

template <typename T>
struct DefaultDelete {
    void operator()(T* p) const { delete p; }
};

template <typename T, typename Deleter = DefaultDelete<T>>
class Own {
public:
    constexpr Own() = default;
    constexpr Own(decltype(nullptr)) {}
    Own(Own&& o) : p_(o.release()) {}
    // Own<Derived> converts to Own<Base> (Base needs a virtual destructor).
    template <typename U,
              typename = std::enable_if_t<std::is_convertible_v<U*, T*> && std::is_same_v<Deleter, DefaultDelete<T>>>>
    Own(Own<U>&& o) : p_(o.release()) {}
    Own& operator=(Own&& o) {
        if (this != &o) reset(o.release());
        return *this;
    }
    Own& operator=(decltype(nullptr)) {
        reset();
        return *this;
    }
    Own(const Own&) = delete;
    Own& operator=(const Own&) = delete;
    ~Own() { reset(); }

    // Deletes the owned object (if any) and takes p instead.
    void reset(T* p = nullptr) {
        if (T* old = std::exchange(p_, p)) Deleter{}(old);
    }
    // Gives up ownership: from now on the caller keeps the object alive.
    [[nodiscard]] T* release() { return std::exchange(p_, nullptr); }

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
    bool operator==(decltype(nullptr)) const { return p_ == nullptr; }

private:
    template <typename U, typename D>
    friend Own<U, D> adopt_own(U* p);
    explicit Own(T* p) : p_(p) {}

    T* p_ = nullptr;
};

// Takes ownership of a fresh object; p must not be null.
template <typename T, typename Deleter = DefaultDelete<T>>
Own<T, Deleter> adopt_own(T* p) {
    LAMINA_ASSERT(p);
    return Own<T, Deleter>(p);
}

// Takes ownership of the result of `new (std::nothrow)`: ENOMEM when the allocation failed.
template <typename T>
Result<Own<T>> adopt_own_or_nomem(T* p) {
    if (!p) return Errno::NoMem;
    return adopt_own(p);
}

template <typename T, typename... Args>
Result<Own<T>> make_own(Args&&... args) {
    return adopt_own_or_nomem(new (std::nothrow) T(std::forward<Args>(args)...));
}

}  // namespace lamina
