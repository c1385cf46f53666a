// idlc, Lamina's interface compiler: the model of an IDL file that its phases share, and the
// one entry point, compile(). The phases, each in its own file:
//   lexer.h      text -> tokens
//   parser.h     tokens -> Module (syntax only: names are not resolved yet)
//   checker.h    resolves names, refuses what cannot cross a domain boundary, lays out structs
//                and assigns type ids (type_ids.h)
//   generator.h  a checked Module -> the C++ header (templates expanded by template.h)
// docs/idl.md describes how they fit; interfaces/README.md is the language reference.
// tools/idlc/main.cpp is the command line; tests/unit/idlc_test.cpp calls compile() directly.
#pragma once

#include <stdint.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <lamina/type_id.h>

namespace idlc {

using lamina::TypeId;

// ---- diagnostics ----------------------------------------------------------------------------

struct Diagnostic {
    std::string file;
    int line = 0;
    std::string message;
    std::string text() const;  // "FILE:LINE: error: MESSAGE"
};

// idlc stops at the first error: every phase throws this, and compile() catches it.
struct CompileError {
    Diagnostic diagnostic;
};

[[noreturn]] void fail(const std::string& file, int line, const std::string& message);

// ---- scalars --------------------------------------------------------------------------------

struct Scalar {
    const char* name;        // in IDL: "u8" .. "i64", "bool"
    uint32_t size;           // bytes, which is also the alignment
    const char* cxx;         // the C++ type: "uint8_t" .. "int64_t", "bool"
    const char* field_kind;  // the lamina::FieldKind enumerator: "U8" .. "I64", "Bool"
    TypeId id;               // the built-in type id (include/lamina/type_id.h)
};

// nullptr when `name` is not a scalar.
const Scalar* find_scalar(const std::string& name);

// ---- the syntax tree ------------------------------------------------------------------------

enum class TypeKind { Scalar, Enum, Struct, Interface, Array, RRef, RRefArray, RRefDeque, Bytes, Void };

struct StructDecl;
struct EnumDecl;

struct Type {
    TypeKind kind = TypeKind::Void;
    // The scalar's or the declaration's name. The parser cannot tell a struct from an enum or
    // an interface: it says Struct, and the checker resolves the name.
    std::string name;
    std::shared_ptr<Type> elem;  // Array, RRef, RRefArray, RRefDeque: the element type
    uint64_t count = 0;          // Array, RRefArray, RRefDeque: the length
    int line = 0;
    // Set by the checker.
    const StructDecl* st = nullptr;
    const EnumDecl* en = nullptr;

    // The owning handles: what moves between domains when passed by value.
    bool is_handle() const {
        return kind == TypeKind::RRef || kind == TypeKind::RRefArray || kind == TypeKind::RRefDeque ||
               kind == TypeKind::Bytes;
    }
    // For a fixed array, its element type and length; for anything else, itself and 1.
    const Type& element() const { return kind == TypeKind::Array ? *elem : *this; }
    uint64_t elements() const { return kind == TypeKind::Array ? count : 1; }
};

struct Field {
    std::string name;
    Type type;
    int line = 0;
    // Set by the checker's layout.
    uint64_t offset = 0;
    uint64_t size = 0;  // of the whole field (every element of an array)
};

struct StructDecl {
    std::string name, module;
    int line = 0;
    std::vector<Field> fields;
    // Set by the checker's layout.
    bool laid_out = false;
    uint64_t size = 0, align = 1;
    std::vector<uint64_t> rref_offsets;  // every handle inside, through embedded structs and arrays
    TypeId id = 0;
};

struct EnumDecl {
    std::string name, module;
    int line = 0;
    std::string underlying = "u32";
    std::vector<std::pair<std::string, int64_t>> values;
    TypeId id = 0;  // set by the checker
};

struct Param {
    std::string name;
    Type type;
    bool lend = false;
    int line = 0;
};

struct Method {
    std::string name;
    std::vector<Param> params;
    Type ret;  // Void for "-> void" and "-> Result<void>"
    bool retry = false;
    int line = 0;
};

struct InterfaceDecl {
    std::string name, module;
    int line = 0;
    std::vector<Method> methods;
};

struct Module {
    std::string name;  // the file's base name without ".idl"
    std::string path;  // as given, for messages
    std::vector<std::string> imports;
    std::vector<std::unique_ptr<EnumDecl>> enums;
    std::vector<std::unique_ptr<StructDecl>> structs;
    std::vector<std::unique_ptr<InterfaceDecl>> interfaces;
};

// ---- compiling one file ---------------------------------------------------------------------

// Finds an imported module by name ("import block;" asks for "block"): its text, and the path
// it was read from (for messages and depfiles). nullopt when there is no such module.
struct Source {
    std::string path;
    std::string text;
};
using Loader = std::function<std::optional<Source>(const std::string& module)>;

struct Output {
    bool ok = false;
    std::vector<Diagnostic> errors;
    std::string header;                     // the generated C++ header
    std::vector<std::string> dependencies;  // paths of imported files, transitively
};

// `path` names the file in messages; the module name is its base name without ".idl".
Output compile(const std::string& path, const std::string& text, const Loader& loader);

}  // namespace idlc
