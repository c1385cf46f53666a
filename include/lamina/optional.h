// lamina:portable
// Optional<T>: a T or nothing, stored in place (no allocation). For values that may be absent
// without that being an error (a lookup that finds nothing, a field a format leaves out); an
// absent value that is an error is a Result.
//
//   Optional<uint32_t> port = parse_port(word);
//   if (!port) return Errno::Inval;
//   use(*port);
//
// Reading an empty Optional (value(), *, ->) is an assertion failure. Usable in constant
// expressions when T is trivially destructible.
#pragma once

#include <lamina/assert.h>

#include <new>
#include <type_traits>
#include <utility>

namespace lamina {

template <typename T>
class Optional {
    static_assert(!std::is_reference_v<T>, "Optional holds values; use Optional<T*> for a maybe-pointer");

public:
    constexpr Optional() {}
    constexpr Optional(decltype(nullptr)) = delete;  // ambiguous for Optional<T*>: use {}
    constexpr Optional(const T& v) : has_(true), value_(v) {}
    constexpr Optional(T&& v) : has_(true), value_(std::move(v)) {}
    template <typename U,
              typename = std::enable_if_t<std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
                                          !std::is_same_v<std::decay_t<U>, Optional>>>
    constexpr Optional(U&& v) : has_(true), value_(std::forward<U>(v)) {}

    constexpr Optional(const Optional& o) requires std::is_trivially_copy_constructible_v<T>
    = default;
    Optional(const Optional& o) : has_(o.has_) {
        if (has_) new (&value_) T(o.value_);
    }
    constexpr Optional(Optional&& o) requires std::is_trivially_move_constructible_v<T>
    = default;
    Optional(Optional&& o) : has_(o.has_) {
        if (has_) new (&value_) T(std::move(o.value_));
    }
    constexpr Optional& operator=(const Optional& o) requires std::is_trivially_copyable_v<T>
    = default;
    constexpr Optional& operator=(Optional&& o) requires std::is_trivially_copyable_v<T>
    = default;
    Optional& operator=(const Optional& o) {
        if (this != &o) {
            clear();
            if (o.has_) emplace(o.value_);
        }
        return *this;
    }
    Optional& operator=(Optional&& o) {
        if (this != &o) {
            clear();
            if (o.has_) emplace(std::move(o.value_));
        }
        return *this;
    }
    constexpr ~Optional() requires std::is_trivially_destructible_v<T>
    = default;
    ~Optional() { clear(); }

    template <typename... Args>
    T& emplace(Args&&... args) {
        clear();
        new (&value_) T(std::forward<Args>(args)...);
        has_ = true;
        return value_;
    }
    void clear() {
        if (has_) {
            has_ = false;
            if constexpr (!std::is_trivially_destructible_v<T>) value_.~T();
        }
    }

    constexpr bool has_value() const { return has_; }
    constexpr explicit operator bool() const { return has_; }

    constexpr T& value() & {
        LAMINA_ASSERT(has_);
        return value_;
    }
    constexpr const T& value() const& {
        LAMINA_ASSERT(has_);
        return value_;
    }
    // Moves the value out and leaves the Optional empty.
    T release_value() {
        LAMINA_ASSERT(has_);
        T v = std::move(value_);
        clear();
        return v;
    }
    constexpr T value_or(const T& fallback) const { return has_ ? value_ : fallback; }

    constexpr T& operator*() & { return value(); }
    constexpr const T& operator*() const& { return value(); }
    constexpr T* operator->() { return &value(); }
    constexpr const T* operator->() const { return &value(); }

    // Equal when both are empty, or both hold equal values.
    constexpr bool operator==(const Optional& o) const {
        if (has_ != o.has_) return false;
        return !has_ || value_ == o.value_;
    }
    constexpr bool operator==(const T& v) const { return has_ && value_ == v; }

private:
    bool has_ = false;
    union {
        T value_;
    };
};

}  // namespace lamina
