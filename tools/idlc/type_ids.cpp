#include "tools/idlc/type_ids.h"

#include <stdexcept>

namespace idlc {

namespace {

TypeId hash(const std::string& layout) { return lamina::type_id::fnv1a(layout.data(), layout.size()); }

}  // namespace

std::string layout_spelling(const Type& t) {
    switch (t.kind) {
        case TypeKind::Scalar:
        case TypeKind::Enum:
        case TypeKind::Struct:
        case TypeKind::Interface:
            return t.name;
        case TypeKind::Array:
            return layout_spelling(*t.elem) + "[" + std::to_string(t.count) + "]";
        case TypeKind::RRef:
            return "RRef<" + layout_spelling(*t.elem) + ">";
        case TypeKind::RRefArray:
            return "RRefArray<" + layout_spelling(*t.elem) + "," + std::to_string(t.count) + ">";
        case TypeKind::RRefDeque:
            return "RRefDeque<" + layout_spelling(*t.elem) + "," + std::to_string(t.count) + ">";
        case TypeKind::Bytes:
            return "RRefBytes";
        case TypeKind::Void:
            return "void";
    }
    throw std::logic_error("layout_spelling: unknown type kind");
}

TypeId enum_type_id(const EnumDecl& e) {
    std::string layout = "enum " + e.name + ":" + e.underlying + "{";
    for (auto& [name, value] : e.values) layout += name + "=" + std::to_string(value) + ";";
    return lamina::declared_type_id(hash(layout + "}"));
}

TypeId struct_type_id(const StructDecl& s) {
    std::string layout = "struct " + s.name + "{";
    for (auto& f : s.fields) {
        layout += f.name + ":" + layout_spelling(f.type);
        if (const Type& et = f.type.element(); et.kind == TypeKind::Struct) {
            if (et.st->id == 0) throw std::logic_error("struct_type_id: " + et.name + " has no id yet");
            layout += "#" + std::to_string(et.st->id);
        }
        layout += ";";
    }
    return lamina::declared_type_id(hash(layout + "}"));
}

TypeId value_type_id(const Type& t) {
    switch (t.kind) {
        case TypeKind::Scalar:
            return find_scalar(t.name)->id;
        case TypeKind::Enum:
            return t.en->id;
        case TypeKind::Struct:
            return t.st->id;
        default:
            throw std::logic_error("value_type_id: not a scalar, enum or struct: " + layout_spelling(t));
    }
}

TypeId handle_target_id(const Type& t) {
    switch (t.kind) {
        case TypeKind::RRef:
            return value_type_id(*t.elem);
        case TypeKind::RRefArray:
            return lamina::array_type_id(value_type_id(*t.elem), static_cast<uint32_t>(t.count));
        case TypeKind::RRefDeque:
            return lamina::deque_type_id(value_type_id(*t.elem), static_cast<uint32_t>(t.count));
        case TypeKind::Bytes:
            return lamina::BYTES_TYPE_ID;
        default:
            throw std::logic_error("handle_target_id: not a handle: " + layout_spelling(t));
    }
}

namespace {

std::string signature_part(const Type& t) {
    std::string out = layout_spelling(t);
    if (t.is_handle()) return out + "#" + std::to_string(handle_target_id(t));
    const Type& et = t.element();
    if (et.kind == TypeKind::Struct || et.kind == TypeKind::Enum) out += "#" + std::to_string(value_type_id(et));
    return out;
}

}  // namespace

TypeId interface_type_id(const InterfaceDecl& in) {
    std::string layout = "interface " + in.name + "{";
    for (const Method& m : in.methods) {
        layout += m.name + "(";
        for (const Param& p : m.params) layout += p.name + ":" + (p.lend ? "&" : "") + signature_part(p.type) + ",";
        layout += ")->" + signature_part(m.ret) + (m.retry ? "[retry]" : "") + ";";
    }
    return lamina::declared_type_id(hash(layout + "}"));
}

}  // namespace idlc
