// lamina:portable
// Exchange-heap type ids. A declared type's id is a hash of its canonical layout, so a domain
// built against another layout of a type gets another id and the heap refuses its allocations.
//
// Defined once here for idlc (a host tool, which computes the ids it writes
// into generated headers) and for rref.h (kernel, domains, host tests, which compute the ids of
// the array and deque storage they instantiate). The generated headers static_assert that both
// agree; docs/idl.md describes the canonical layouts that are hashed.
//
// Everything here is constexpr and needs only <stdint.h>/<stddef.h>, so it builds freestanding.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina {

using TypeId = uint32_t;

// Built-in types have small fixed ids. Ids 1-15 are reserved for them: declared types (structs
// and enums, whose ids are hashes) are moved out of that range by declared_type_id().
inline constexpr TypeId U8_TYPE_ID = 1;
inline constexpr TypeId U16_TYPE_ID = 2;
inline constexpr TypeId U32_TYPE_ID = 3;
inline constexpr TypeId U64_TYPE_ID = 4;
inline constexpr TypeId I8_TYPE_ID = 5;
inline constexpr TypeId I16_TYPE_ID = 6;
inline constexpr TypeId I32_TYPE_ID = 7;
inline constexpr TypeId I64_TYPE_ID = 8;
inline constexpr TypeId BOOL_TYPE_ID = 9;
inline constexpr TypeId BYTES_TYPE_ID = 10;  // RRefBytes' storage (ExchangeBytes)
inline constexpr TypeId LAST_BUILTIN_TYPE_ID = 15;

namespace type_id {

// FNV-1a, 32-bit (offset basis and prime from the FNV reference). Chosen for being tiny and
// constexpr, not for strength: the registry refuses a duplicate id, so a collision is loud.
inline constexpr uint32_t FNV_OFFSET_BASIS = 2166136261u;
inline constexpr uint32_t FNV_PRIME = 16777619u;

constexpr uint32_t fnv1a(const char* bytes, size_t length, uint32_t h = FNV_OFFSET_BASIS) {
    for (size_t i = 0; i < length; i++) h = (h ^ static_cast<uint8_t>(bytes[i])) * FNV_PRIME;
    return h;
}

// A NUL-terminated string.
constexpr uint32_t fnv1a(const char* s) {
    size_t length = 0;
    while (s[length] != '\0') length++;
    return fnv1a(s, length);
}

// Continues a hash with the four bytes of v, least significant first.
constexpr uint32_t fnv1a_u32(uint32_t v, uint32_t h) {
    for (int i = 0; i < 4; i++) h = (h ^ ((v >> (8 * i)) & 0xff)) * FNV_PRIME;
    return h;
}

}  // namespace type_id

// The id of a struct or enum from the hash of its canonical layout (idlc builds the layout text,
// e.g. "struct NAME{field:type;...}"), kept clear of the built-in ids.
constexpr TypeId declared_type_id(uint32_t layout_hash) {
    return layout_hash <= LAST_BUILTIN_TYPE_ID ? layout_hash + LAST_BUILTIN_TYPE_ID + 1 : layout_hash;
}

// The storage object behind RRefArray<T, N> (ExchangeArray) and RRefDeque<T, N>
// (ExchangeDequeStorage): the element's id and the length, so every instantiation differs.
constexpr TypeId array_type_id(TypeId element, uint32_t length) {
    return type_id::fnv1a_u32(length, type_id::fnv1a_u32(element, type_id::fnv1a("array")));
}
constexpr TypeId deque_type_id(TypeId element, uint32_t capacity) {
    return type_id::fnv1a_u32(capacity, type_id::fnv1a_u32(element, type_id::fnv1a("deque")));
}

}  // namespace lamina
