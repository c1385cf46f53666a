#include "tools/idlc/checker.h"

#include <algorithm>
#include <tuple>

#include "tools/idlc/type_ids.h"

namespace idlc {

namespace {

// Lengths of arrays, and the size of a struct: far beyond any real interface, small enough that
// offsets and sizes fit the heap's 32-bit type tables.
constexpr uint64_t MAX_LENGTH = uint64_t(1) << 24;
constexpr uint64_t MAX_STRUCT_SIZE = uint64_t(16) << 20;

bool is_value(const Type& t) {
    return t.kind == TypeKind::Scalar || t.kind == TypeKind::Enum || t.kind == TypeKind::Struct;
}

std::string describe(const Type& t) {
    switch (t.kind) {
        case TypeKind::Interface:
            return "an interface";
        case TypeKind::Array:
            return "an array";
        case TypeKind::Bytes:
            return "RRefBytes";
        case TypeKind::RRef:
        case TypeKind::RRefArray:
        case TypeKind::RRefDeque:
            return "a handle";
        default:
            return "'" + t.name + "'";
    }
}

void check_length(uint64_t n, const std::string& what, int line, const std::string& path) {
    if (n == 0) fail(path, line, what + ": a length must be at least 1");
    if (n > MAX_LENGTH)
        fail(path, line,
             what + ": length " + std::to_string(n) + " is too large (at most " + std::to_string(MAX_LENGTH) + ")");
}

}  // namespace

void Checker::declare(Module& m) {
    // In file order, so that the later of two declarations is the one reported.
    std::vector<std::tuple<int, std::string, const char*>> decls;
    for (auto& e : m.enums) decls.emplace_back(e->line, e->name, "enum");
    for (auto& s : m.structs) decls.emplace_back(s->line, s->name, "struct");
    for (auto& i : m.interfaces) decls.emplace_back(i->line, i->name, "interface");
    std::stable_sort(decls.begin(), decls.end(), [](auto& a, auto& b) { return std::get<0>(a) < std::get<0>(b); });
    for (auto& [line, name, kind] : decls) add_name(name, line, m, kind);
    for (auto& e : m.enums) enums_[e->name] = e.get();
    for (auto& s : m.structs) structs_[s->name] = s.get();
    for (auto& i : m.interfaces) interfaces_.insert(i->name);
}

void Checker::check(Module& m) {
    for (auto& e : m.enums) check_enum(*e, m.path);
    for (auto& s : m.structs)
        for (auto& f : s->fields) check_field_type(f.type, "field " + s->name + "." + f.name, f.line, m.path);
    for (auto& s : m.structs) layout(*s, {}, m.path);
    for (auto& i : m.interfaces)
        for (auto& md : i->methods) {
            const std::string where = i->name + "." + md.name;
            for (auto& p : md.params)
                check_param(p.type, p.lend, "parameter " + p.name + " of " + where, p.line, m.path);
            if (md.ret.kind != TypeKind::Void)
                check_param(md.ret, false, "return type of " + where, md.ret.line, m.path);
        }
}

void Checker::add_name(const std::string& name, int line, const Module& m, const char* kind) {
    auto [it, fresh] = declared_at_.insert({name, m.path + ":" + std::to_string(line)});
    if (!fresh) fail(m.path, line, std::string(kind) + " name '" + name + "' is already declared at " + it->second);
}

void Checker::check_enum(EnumDecl& e, const std::string& path) {
    const Scalar& u = *find_scalar(e.underlying);
    const int bits = int(u.size) * 8;
    const bool is_signed = e.underlying[0] == 'i';
    for (auto& [n, v] : e.values) {
        bool fits = is_signed ? (bits == 64 || (v >= -(int64_t(1) << (bits - 1)) && v < (int64_t(1) << (bits - 1))))
                              : (v >= 0 && (bits == 64 || uint64_t(v) < (uint64_t(1) << bits)));
        if (!fits)
            fail(path, e.line,
                 "enum " + e.name + ": value " + n + " = " + std::to_string(v) + " does not fit in " + e.underlying);
    }
    e.id = enum_type_id(e);
}

void Checker::resolve(Type& t, const std::string& what, int line, const std::string& path) {
    if (t.elem) resolve(*t.elem, what, line, path);
    if (t.kind != TypeKind::Struct || t.st != nullptr || t.en != nullptr) return;
    if (auto e = enums_.find(t.name); e != enums_.end()) {
        t.kind = TypeKind::Enum;
        t.en = e->second;
    } else if (auto s = structs_.find(t.name); s != structs_.end()) {
        t.st = s->second;
    } else if (interfaces_.count(t.name)) {
        t.kind = TypeKind::Interface;
    } else {
        fail(path, line, what + ": unknown type '" + t.name + "'");
    }
}

void Checker::check_field_type(Type& t, const std::string& what, int line, const std::string& path) {
    resolve(t, what, line, path);
    switch (t.kind) {
        case TypeKind::Array:
            if (!is_value(*t.elem))
                fail(path, line,
                     what + ": fixed arrays hold scalars, enums or structs (use RRefDeque<T, N> for handles)");
            check_length(t.count, what, line, path);
            break;
        case TypeKind::RRef:
        case TypeKind::RRefArray:
        case TypeKind::RRefDeque:
            if (!is_value(*t.elem))
                fail(path, line,
                     what + ": the target of an RRef must be a scalar, enum or struct, not " + describe(*t.elem));
            if (t.kind != TypeKind::RRef) check_length(t.count, what, line, path);
            break;
        default:
            break;
    }
}

void Checker::check_param(Type& t, bool lend, const std::string& what, int line, const std::string& path) {
    check_field_type(t, what, line, path);
    if (t.kind == TypeKind::Array)
        fail(path, line,
             what + ": fixed arrays cannot be passed by value (put the array in a struct, or use RRefArray)");
    if (t.kind == TypeKind::Struct) {
        StructDecl& s = *structs_.at(t.name);
        layout(s, {}, path);
        if (!s.rref_offsets.empty())
            fail(path, line,
                 what + ": struct " + s.name + " contains handles and cannot be passed by value (pass RRef<" + s.name +
                     ">)");
    }
    if (lend && !t.is_handle())
        fail(path, line, what + ": only handles (RRef, RRefArray, RRefDeque, RRefBytes) can be lent");
}

// Size and alignment of a type as a field (handles and interface handles are one pointer).
std::pair<uint64_t, uint64_t> Checker::size_align(Type& t, const std::vector<std::string>& chain,
                                                  const std::string& path) {
    switch (t.kind) {
        case TypeKind::Scalar: {
            uint64_t s = find_scalar(t.name)->size;
            return {s, s};
        }
        case TypeKind::Enum: {
            uint64_t s = find_scalar(t.en->underlying)->size;
            return {s, s};
        }
        case TypeKind::Struct: {
            StructDecl& s = *structs_.at(t.name);
            layout(s, chain, path);
            return {s.size, s.align};
        }
        case TypeKind::Array: {
            auto [s, a] = size_align(*t.elem, chain, path);
            return {s * t.count, a};
        }
        default:
            return {sizeof(void*), sizeof(void*)};
    }
}

// C layout: each field at the next multiple of its alignment, the struct padded to its largest
// alignment. `chain` holds the structs being laid out around this one, to find a struct that
// contains itself. Embedded structs are laid out (and given ids) before the struct around them.
void Checker::layout(StructDecl& s, std::vector<std::string> chain, const std::string& path) {
    if (s.laid_out) return;
    if (auto self = std::find(chain.begin(), chain.end(), s.name); self != chain.end()) {
        std::string cycle;
        for (auto n = self; n != chain.end(); n++) cycle += *n + " -> ";
        fail(path, s.line,
             "struct " + s.name + " contains itself by value (" + cycle + s.name + "); break the cycle with an RRef");
    }
    chain.push_back(s.name);
    uint64_t off = 0, align = 1;
    s.rref_offsets.clear();
    for (auto& f : s.fields) {
        resolve(f.type, "field " + s.name + "." + f.name, f.line, path);
        auto [fs, fa] = size_align(f.type, chain, path);
        off = (off + fa - 1) / fa * fa;
        f.offset = off;
        f.size = fs;
        const Type& et = f.type.element();
        if (et.is_handle()) {
            s.rref_offsets.push_back(off);
        } else if (et.kind == TypeKind::Struct) {
            const StructDecl& inner = *et.st;
            for (uint64_t i = 0; i < f.type.elements() && !inner.rref_offsets.empty(); i++)
                for (uint64_t o : inner.rref_offsets) s.rref_offsets.push_back(off + i * inner.size + o);
        }
        off += fs;
        align = std::max(align, fa);
        if (off > MAX_STRUCT_SIZE) fail(path, f.line, "struct " + s.name + " is larger than 16 MiB at field " + f.name);
    }
    s.size = (off + align - 1) / align * align;
    s.align = align;
    s.id = struct_type_id(s);
    s.laid_out = true;
}

}  // namespace idlc
