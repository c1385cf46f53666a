// lamina:portable
// The exchange heap as code sees it: RRef<T> and friends, and the type tables that describe what
// may live there.
//
// Data that crosses a domain boundary lives in the shared exchange heap. Each object there has
// exactly one owner domain; the handles below are the only way code holds one:
//   RRef<T>            unique owner of one T (move-only; null after a move)
//   RRefArray<T, N>    unique owner of one heap object holding T[N]
//   RRefDeque<T, N>    unique owner of a bounded ring of up to N RRef<T>
//   RRefBytes          unique owner of a byte buffer with a capacity and a length (for I/O)
// Passing a handle by value through a proxy moves ownership to the callee, returning it moves it
// back, and `const RRef<T>&` lends it for the duration of the call (see proxy_runtime.h).
//
// What may live in the heap is decided at compile time: T must have ExchangeTraits<T>, which exist
// for the scalars (below), for the structs and enums idlc generates from interfaces/*.idl, and for
// the array/deque storage built here. A raw pointer, a reference, or any other type simply has no
// traits, so RRef<int*> does not compile. Each type's TypeInfo (size, alignment, fields, and where
// its nested RRefs are) lets the heap check allocations and reclaim a dead domain's objects.
//
// The environment provides lamina::exchange::allocate/free: the kernel (its ExchangeHeap, owner =
// the current domain), the domain runtime library (through the capability table), host tests
// (tests/unit/host_domains.cpp).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <concepts>
#include <new>
#include <type_traits>
#include <utility>

#include <lamina/result.h>
#include <lamina/type_id.h>

namespace lamina {

using DomainId = uint32_t;

// The kernel is domain 0; domains get ids from 1.
inline constexpr DomainId KERNEL_DOMAIN = 0;
inline constexpr DomainId NO_DOMAIN = 0xffffffff;

// ---- type tables ---------------------------------------------------------------------------

enum class FieldKind : uint8_t {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    Bool,
    Enum,       // integer of the enum's underlying size; target = the enum's type id
    Struct,     // embedded by value; target = the struct's type id
    RRef,       // a handle (one pointer) to another heap object; target = its type id
    Interface,  // an interface handle; not a heap object
};

struct FieldInfo {
    const char* name;
    uint32_t offset;
    uint32_t size;   // of the whole field (all elements of an array)
    FieldKind kind;  // of one element
    uint32_t count;  // elements: 1, or N for a fixed array
    TypeId target;   // for Enum, Struct and RRef fields; 0 otherwise
};

struct TypeInfo {
    TypeId id;
    const char* name;
    uint32_t size;  // for variable-size types, the fixed part
    uint32_t align;
    const FieldInfo* fields;
    uint32_t field_count;
    // Offsets of every RRef-like handle inside the object, flattened through embedded structs
    // and arrays: what the heap follows to move or reclaim nested objects.
    const uint32_t* rref_offsets;
    uint32_t rref_count;
    uint32_t flags;
};
inline constexpr uint32_t TYPE_VARIABLE_SIZE = 1;  // allocations may be larger than `size`

// Specialised for every exchangeable type: `static constexpr TypeId id`, `static constexpr
// FieldKind kind` (as an element of a field), `static constexpr uint32_t rref_count`, `static constexpr const uint32_t*
// rref_offsets` (nullptr when 0) and `static const TypeInfo& info()`. Deliberately left undefined for everything else.
template <typename T>
struct ExchangeTraits;

template <typename T>
concept Exchangeable = requires {
    { ExchangeTraits<T>::id } -> std::convertible_to<TypeId>;
    { ExchangeTraits<T>::info() } -> std::same_as<const TypeInfo&>;
};

namespace detail {
template <typename T, FieldKind K, TypeId ID>
struct ScalarTraits {
    static constexpr TypeId id = ID;
    static constexpr uint32_t rref_count = 0;
    static constexpr const uint32_t* rref_offsets = nullptr;
    static constexpr FieldKind kind = K;
    static const TypeInfo& info() { return table; }
    static constexpr FieldInfo field{"value", 0, sizeof(T), K, 1, 0};
    static constexpr TypeInfo table{ID, nullptr, sizeof(T), alignof(T), &field, 1, nullptr, 0, 0};
};
}  // namespace detail

// Scalars have the fixed built-in ids of type_id.h.
template <>
struct ExchangeTraits<uint8_t> : detail::ScalarTraits<uint8_t, FieldKind::U8, U8_TYPE_ID> {};
template <>
struct ExchangeTraits<uint16_t> : detail::ScalarTraits<uint16_t, FieldKind::U16, U16_TYPE_ID> {};
template <>
struct ExchangeTraits<uint32_t> : detail::ScalarTraits<uint32_t, FieldKind::U32, U32_TYPE_ID> {};
template <>
struct ExchangeTraits<uint64_t> : detail::ScalarTraits<uint64_t, FieldKind::U64, U64_TYPE_ID> {};
template <>
struct ExchangeTraits<int8_t> : detail::ScalarTraits<int8_t, FieldKind::I8, I8_TYPE_ID> {};
template <>
struct ExchangeTraits<int16_t> : detail::ScalarTraits<int16_t, FieldKind::I16, I16_TYPE_ID> {};
template <>
struct ExchangeTraits<int32_t> : detail::ScalarTraits<int32_t, FieldKind::I32, I32_TYPE_ID> {};
template <>
struct ExchangeTraits<int64_t> : detail::ScalarTraits<int64_t, FieldKind::I64, I64_TYPE_ID> {};
template <>
struct ExchangeTraits<bool> : detail::ScalarTraits<bool, FieldKind::Bool, BOOL_TYPE_ID> {};

// ---- the environment -----------------------------------------------------------------------

namespace exchange {
// An object of `size` bytes (>= the type's size; larger only for variable-size types), owned by
// the current domain, 16-byte aligned, zero-filled. NoMem when the heap is exhausted, Inval for a
// type id the heap does not know or a size that does not match it.
Result<void*> allocate(TypeId type, size_t size);
// Frees an object the current domain owns. Anything else (not a heap object, owned by another
// domain, currently lent) is an error the environment turns into a fault of the current domain;
// the return value says which for callers that can use it.
Result<void> free(void* object);
}  // namespace exchange

// ---- handles -------------------------------------------------------------------------------

template <Exchangeable T>
class RRef {
public:
    RRef() = default;
    RRef(RRef&& other) : object_(other.object_) { other.object_ = nullptr; }
    RRef& operator=(RRef&& other) {
        if (this != &other) {
            reset();
            object_ = other.object_;
            other.object_ = nullptr;
        }
        return *this;
    }
    RRef(const RRef&) = delete;
    RRef& operator=(const RRef&) = delete;
    ~RRef() { reset(); }

    // A new heap object, owned by the current domain, constructed from args (value-initialised
    // without them).
    template <typename... Args>
    static Result<RRef> create(Args&&... args) {
        void* p = TRY(exchange::allocate(ExchangeTraits<T>::id, sizeof(T)));
        RRef r;
        if constexpr (sizeof...(Args) == 0)
            r.object_ = new (p) T();
        else
            r.object_ = new (p) T{std::forward<Args>(args)...};
        return r;
    }

    // Destroys the object (its nested handles free their objects) and frees it.
    void reset() {
        if (object_ != nullptr) {
            object_->~T();
            (void)exchange::free(object_);
            object_ = nullptr;
        }
    }

    explicit operator bool() const { return object_ != nullptr; }
    T* operator->() const { return object_; }
    T& operator*() const { return *object_; }
    T* get() const { return object_; }

    // For the proxy runtime and the heap, which track ownership by object address.
    void* raw() const { return object_; }
    static RRef adopt(T* object) {
        RRef r;
        r.object_ = object;
        return r;
    }
    T* leak() {
        T* p = object_;
        object_ = nullptr;
        return p;
    }

private:
    T* object_ = nullptr;
};

template <typename T>
struct IsRRefHandle : std::false_type {};
template <typename T>
struct IsRRefHandle<RRef<T>> : std::true_type {};

// ---- storage types for arrays, deques and byte buffers -------------------------------------

namespace detail {
template <uint32_t K>
struct OffsetTable {
    uint32_t v[K == 0 ? 1 : K];
};
}  // namespace detail

// N elements of T in one heap object.
template <Exchangeable T, uint32_t N>
struct ExchangeArray {
    static_assert(N > 0);
    T items[N];
};

template <Exchangeable T, uint32_t N>
struct ExchangeTraits<ExchangeArray<T, N>> {
    using Inner = ExchangeTraits<T>;
    static constexpr TypeId id = array_type_id(Inner::id, N);
    static constexpr uint32_t rref_count = Inner::rref_count * N;
    static constexpr detail::OffsetTable<rref_count> offsets = [] {
        detail::OffsetTable<rref_count> t{};
        for (uint32_t i = 0; i < N; i++)
            for (uint32_t j = 0; j < Inner::rref_count; j++)
                t.v[i * Inner::rref_count + j] = i * sizeof(T) + Inner::rref_offsets[j];
        return t;
    }();
    static constexpr const uint32_t* rref_offsets = rref_count ? offsets.v : nullptr;
    static constexpr FieldKind kind = FieldKind::Struct;
    static constexpr FieldInfo field{"items", 0, sizeof(T) * N, Inner::kind, N, Inner::id};
    static constexpr TypeInfo table{
        id, "array", sizeof(ExchangeArray<T, N>), alignof(ExchangeArray<T, N>), &field, 1, rref_offsets, rref_count, 0};
    static const TypeInfo& info() { return table; }
};

template <Exchangeable T, uint32_t N>
class RRefArray {
public:
    using Storage = ExchangeArray<T, N>;
    static Result<RRefArray> create() {
        RRefArray a;
        a.ref_ = TRY(RRef<Storage>::create());
        return a;
    }
    static constexpr uint32_t size() { return N; }
    T& operator[](uint32_t i) const { return ref_->items[i]; }
    T* data() const { return ref_->items; }
    explicit operator bool() const { return static_cast<bool>(ref_); }
    RRef<Storage>& handle() { return ref_; }
    const RRef<Storage>& handle() const { return ref_; }
    void* raw() const { return ref_.raw(); }

private:
    RRef<Storage> ref_;
};

// A bounded ring of handles, itself one heap object: pushing moves a handle in, popping moves
// it out; whatever is inside when the deque is freed is freed with it.
template <Exchangeable T, uint32_t N>
struct ExchangeDequeStorage {
    static_assert(N > 0);
    uint32_t head;
    uint32_t count;
    RRef<T> slots[N];
};

template <Exchangeable T, uint32_t N>
struct ExchangeTraits<ExchangeDequeStorage<T, N>> {
    using Storage = ExchangeDequeStorage<T, N>;
    static constexpr TypeId id = deque_type_id(ExchangeTraits<T>::id, N);
    static constexpr uint32_t rref_count = N;
    static constexpr detail::OffsetTable<N> offsets = [] {
        detail::OffsetTable<N> t{};
        for (uint32_t i = 0; i < N; i++) t.v[i] = static_cast<uint32_t>(offsetof(Storage, slots) + i * sizeof(RRef<T>));
        return t;
    }();
    static constexpr const uint32_t* rref_offsets = offsets.v;
    static constexpr FieldInfo fields[] = {
        {"head", offsetof(Storage, head), 4, FieldKind::U32, 1, 0},
        {"count", offsetof(Storage, count), 4, FieldKind::U32, 1, 0},
        {"slots", offsetof(Storage, slots), sizeof(RRef<T>) * N, FieldKind::RRef, N, ExchangeTraits<T>::id},
    };
    static constexpr FieldKind kind = FieldKind::Struct;
    static constexpr TypeInfo table{id,         "deque", sizeof(Storage), alignof(Storage), fields, 3, rref_offsets,
                                    rref_count, 0};
    static const TypeInfo& info() { return table; }
};

template <Exchangeable T, uint32_t N>
class RRefDeque {
public:
    using Storage = ExchangeDequeStorage<T, N>;
    static Result<RRefDeque> create() {
        RRefDeque d;
        d.ref_ = TRY(RRef<Storage>::create());
        return d;
    }
    static constexpr uint32_t capacity() { return N; }
    uint32_t size() const { return ref_->count; }
    bool empty() const { return ref_->count == 0; }
    bool full() const { return ref_->count == N; }

    // Busy when full (the handle stays with the caller).
    Result<void> push_back(RRef<T>&& item) {
        if (full()) return Errno::Busy;
        ref_->slots[(ref_->head + ref_->count) % N] = std::move(item);
        ref_->count++;
        return {};
    }
    // A null handle when empty.
    RRef<T> pop_front() {
        if (empty()) return RRef<T>();
        RRef<T> item = std::move(ref_->slots[ref_->head]);
        ref_->head = (ref_->head + 1) % N;
        ref_->count--;
        return item;
    }
    explicit operator bool() const { return static_cast<bool>(ref_); }
    RRef<Storage>& handle() { return ref_; }
    void* raw() const { return ref_.raw(); }

private:
    RRef<Storage> ref_;
};

// An I/O buffer: capacity fixed at creation, length set by whoever fills it.
struct ExchangeBytes {
    uint32_t capacity;
    uint32_t length;
    uint8_t data[];
};

template <>
struct ExchangeTraits<ExchangeBytes> {
    static constexpr TypeId id = BYTES_TYPE_ID;
    static constexpr uint32_t rref_count = 0;
    static constexpr const uint32_t* rref_offsets = nullptr;
    static constexpr FieldInfo fields[] = {
        {"capacity", 0, 4, FieldKind::U32, 1, 0},
        {"length", 4, 4, FieldKind::U32, 1, 0},
    };
    static constexpr FieldKind kind = FieldKind::Struct;
    static constexpr TypeInfo table{id, "bytes", 8, 8, fields, 2, nullptr, 0, TYPE_VARIABLE_SIZE};
    static const TypeInfo& info() { return table; }
};

class RRefBytes {
public:
    RRefBytes() = default;
    RRefBytes(RRefBytes&& o) : object_(o.object_) { o.object_ = nullptr; }
    RRefBytes& operator=(RRefBytes&& o) {
        if (this != &o) {
            reset();
            object_ = o.object_;
            o.object_ = nullptr;
        }
        return *this;
    }
    RRefBytes(const RRefBytes&) = delete;
    RRefBytes& operator=(const RRefBytes&) = delete;
    ~RRefBytes() { reset(); }

    static Result<RRefBytes> create(uint32_t capacity) {
        void* p = TRY(exchange::allocate(BYTES_TYPE_ID, sizeof(ExchangeBytes) + capacity));
        RRefBytes b;
        b.object_ = static_cast<ExchangeBytes*>(p);
        b.object_->capacity = capacity;
        b.object_->length = 0;
        return b;
    }
    void reset() {
        if (object_ != nullptr) {
            (void)exchange::free(object_);
            object_ = nullptr;
        }
    }
    explicit operator bool() const { return object_ != nullptr; }
    uint8_t* data() const { return object_->data; }
    uint32_t capacity() const { return object_->capacity; }
    uint32_t length() const { return object_->length; }
    // Inval beyond the capacity.
    Result<void> set_length(uint32_t n) {
        if (n > object_->capacity) return Errno::Inval;
        object_->length = n;
        return {};
    }
    void* raw() const { return object_; }
    static RRefBytes adopt(void* object) {
        RRefBytes b;
        b.object_ = static_cast<ExchangeBytes*>(object);
        return b;
    }
    void* leak() {
        void* p = object_;
        object_ = nullptr;
        return p;
    }

private:
    ExchangeBytes* object_ = nullptr;
};

// Every handle is one pointer: the heap finds nested handles by offset and reads them as such.
static_assert(sizeof(RRef<uint8_t>) == sizeof(void*));
static_assert(sizeof(RRefArray<uint8_t, 4>) == sizeof(void*));
static_assert(sizeof(RRefDeque<uint8_t, 4>) == sizeof(void*));
static_assert(sizeof(RRefBytes) == sizeof(void*));

// An interface handle: a non-owning reference to an interface object the kernel handed out (a
// proxy). Only the kernel creates them from proxies; domains pass them on.
template <typename I>
class Handle {
public:
    Handle() = default;
    explicit Handle(I* target) : target_(target) {}
    I* operator->() const { return target_; }
    I& operator*() const { return *target_; }
    explicit operator bool() const { return target_ != nullptr; }
    I* get() const { return target_; }

private:
    I* target_ = nullptr;
};

}  // namespace lamina
