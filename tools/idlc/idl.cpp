// idlc: Lamina's interface compiler. Reads one interfaces/NAME.idl and writes a C++ header with,
// for each declaration: the enums and structs with their exchange-heap type tables (and
// static_asserts that the compiler lays them out as idlc did), and for each interface the
// abstract class, the proxy and the shadow. See interfaces/README.md for what these do.
//
// Grammar (comments run from // to the end of the line):
//
//   file      := { import | enum | struct | interface }
//   import    := "import" NAME ";"                     -- declarations of interfaces/NAME.idl
//   enum      := "enum" NAME [ ":" INT_TYPE ] "{" NAME [ "=" NUMBER ] { "," NAME [ "=" NUMBER ] } [ "," ] "}"
//   struct    := "struct" NAME "{" field { field } "}"
//   field     := NAME ":" type ";"
//   interface := "interface" NAME "{" { method } "}"
//   method    := "method" NAME "(" [ param { "," param } ] ")" "->" return [ "[" ATTR { "," ATTR } "]" ] ";"
//   param     := NAME ":" [ "lend" ] type              -- lend: const RRef&, lent for the call
//   return    := "void" | type | "Result" "<" ( "void" | type ) ">"
//   type      := base [ "[" NUMBER "]" ]                -- fixed array of scalars, enums, structs
//   base      := INT_TYPE | "bool" | NAME              -- NAME: a declared enum, struct or interface
//              | "RRef" "<" T ">" | "RRefArray" "<" T "," NUMBER ">" | "RRefDeque" "<" T "," NUMBER ">"
//              | "RRefBytes"                           -- T: a scalar, enum or struct
//   INT_TYPE  := "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64"
//   ATTR      := "retry"                               -- safe to run again after a fault
//
// Anything else is refused with FILE:LINE and the offending field or parameter named: raw
// pointers (*), references (&), strings, unknown names, types in the wrong place (a struct that
// contains handles passed by value, arrays passed by value, handles in fixed arrays, RRef of a
// handle), missing return types, duplicate names, structs that contain themselves by value,
// empty structs, and names that are C++ keywords.
#include "tools/idlc/idl.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

namespace idlc {

std::string Diagnostic::text() const { return file + ":" + std::to_string(line) + ": error: " + message; }

namespace {

struct CompileError {
    Diagnostic diag;
};

// ---- lexer ----------------------------------------------------------------------------------

enum class Tok { Ident, Number, String, Punct, End };

struct Token {
    Tok kind;
    std::string text;
    uint64_t number = 0;
    int line;
};

std::vector<Token> lex(const std::string& file, const std::string& s) {
    std::vector<Token> out;
    int line = 1;
    size_t i = 0;
    auto fail = [&](const std::string& msg) { throw CompileError{{file, line, msg}}; };
    while (i < s.size()) {
        char c = s[i];
        if (c == '\n') {
            line++;
            i++;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            i++;
        } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') {
            while (i < s.size() && s[i] != '\n')
                i++;
        } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            size_t j = i;
            while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_'))
                j++;
            out.push_back({Tok::Ident, s.substr(i, j - i), 0, line});
            i = j;
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
            size_t j = i;
            int base = 10;
            if (c == '0' && i + 1 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
                base = 16;
                j += 2;
            }
            size_t start = j;
            while (j < s.size() && std::isxdigit(static_cast<unsigned char>(s[j])) &&
                   (base == 16 || std::isdigit(static_cast<unsigned char>(s[j]))))
                j++;
            if (j == start)
                fail("malformed number");
            if (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_'))
                fail("malformed number '" + s.substr(i, j + 1 - i) + "'");
            uint64_t v = 0;
            for (size_t k = start; k < j; k++) {
                unsigned d = std::isdigit(static_cast<unsigned char>(s[k]))
                                 ? s[k] - '0'
                                 : std::tolower(static_cast<unsigned char>(s[k])) - 'a' + 10;
                if (v > (UINT64_MAX - d) / base)
                    fail("number '" + s.substr(i, j - i) + "' does not fit in 64 bits");
                v = v * base + d;
            }
            out.push_back({Tok::Number, s.substr(i, j - i), v, line});
            i = j;
        } else if (c == '"') {
            size_t j = i + 1;
            while (j < s.size() && s[j] != '"' && s[j] != '\n')
                j++;
            out.push_back({Tok::String, s.substr(i, j + 1 - i), 0, line});
            i = j + 1;
        } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '>') {
            out.push_back({Tok::Punct, "->", 0, line});
            i += 2;
        } else if (c == '-') {
            out.push_back({Tok::Punct, "-", 0, line});
            i++;
        } else if (std::string("{}()<>[]:;,=*&").find(c) != std::string::npos) {
            out.push_back({Tok::Punct, std::string(1, c), 0, line});
            i++;
        } else {
            fail(std::string("unexpected character '") + c + "'");
        }
    }
    out.push_back({Tok::End, "end of file", 0, line});
    return out;
}

// ---- model ----------------------------------------------------------------------------------

enum class TK { Scalar, Enum, Struct, Interface, Array, RRef, RRefArray, RRefDeque, Bytes, Void };

struct StructDecl;
struct EnumDecl;
struct InterfaceDecl;

struct Type {
    TK kind = TK::Void;
    std::string name;  // scalar name, or the declared name
    std::shared_ptr<Type> elem;
    uint64_t count = 0;
    int line = 0;
    // Resolved:
    const StructDecl* st = nullptr;
    const EnumDecl* en = nullptr;
};

struct Field {
    std::string name;
    Type type;
    int line;
};

struct StructDecl {
    std::string name, module;
    int line;
    std::vector<Field> fields;
    // Layout, computed by check():
    bool laid_out = false;
    uint64_t size = 0, align = 1;
    std::vector<uint64_t> offsets;
    std::vector<uint64_t> rref_offsets;
    uint32_t id = 0;
};

struct EnumDecl {
    std::string name, module;
    int line;
    std::string underlying = "u32";
    std::vector<std::pair<std::string, int64_t>> values;
    uint32_t id = 0;
};

struct Param {
    std::string name;
    Type type;
    bool lend = false;
    int line;
};

struct Method {
    std::string name;
    std::vector<Param> params;
    Type ret;
    bool retry = false;
    int line;
};

struct InterfaceDecl {
    std::string name, module;
    int line;
    std::vector<Method> methods;
};

struct Module {
    std::string name, path;
    std::vector<std::string> imports;
    std::vector<std::unique_ptr<EnumDecl>> enums;
    std::vector<std::unique_ptr<StructDecl>> structs;
    std::vector<std::unique_ptr<InterfaceDecl>> interfaces;
};

const std::map<std::string, std::pair<int, const char*>>& scalars() {
    static const std::map<std::string, std::pair<int, const char*>> m = {
        {"u8", {1, "uint8_t"}},  {"u16", {2, "uint16_t"}}, {"u32", {4, "uint32_t"}},
        {"u64", {8, "uint64_t"}}, {"i8", {1, "int8_t"}},   {"i16", {2, "int16_t"}},
        {"i32", {4, "int32_t"}}, {"i64", {8, "int64_t"}},  {"bool", {1, "bool"}},
    };
    return m;
}

const char* field_kind(const std::string& scalar) {
    static const std::map<std::string, const char*> m = {
        {"u8", "U8"}, {"u16", "U16"}, {"u32", "U32"}, {"u64", "U64"}, {"i8", "I8"},
        {"i16", "I16"}, {"i32", "I32"}, {"i64", "I64"}, {"bool", "Bool"},
    };
    return m.at(scalar);
}

bool is_keyword(const std::string& s) {
    static const std::set<std::string> k = {
        "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char",
        "class", "concept", "const", "consteval", "constexpr", "constinit", "const_cast",
        "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete", "do",
        "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false",
        "float", "for", "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace",
        "new", "noexcept", "not", "nullptr", "operator", "or", "private", "protected", "public",
        "register", "reinterpret_cast", "requires", "return", "short", "signed", "sizeof",
        "static", "static_assert", "static_cast", "struct", "switch", "template", "this",
        "thread_local", "throw", "true", "try", "typedef", "typeid", "typename", "union",
        "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor",
        // idl words and names the generated code uses
        "method", "interface", "import", "lend", "RRef", "RRefArray", "RRefDeque", "RRefBytes",
        "Result", "Handle", "lamina", "std", "idl",
    };
    return k.count(s) != 0 || scalars().count(s) != 0 || s.rfind("lamina_", 0) == 0 ||
           s.rfind("Lamina", 0) == 0 ||
           (s.size() >= 2 && s[0] == '_' && (s[1] == '_' || std::isupper(static_cast<unsigned char>(s[1])))) ||
           s.find("__") != std::string::npos;
}

// ---- parser ---------------------------------------------------------------------------------

class Parser {
public:
    Parser(std::string file, std::vector<Token> toks) : file_(std::move(file)), t_(std::move(toks)) {}

    void parse(Module& m) {
        while (peek().kind != Tok::End) {
            const Token& k = peek();
            if (is("import")) {
                next();
                m.imports.push_back(name("module"));
                expect(";");
            } else if (is("enum")) {
                parse_enum(m);
            } else if (is("struct")) {
                parse_struct(m);
            } else if (is("interface")) {
                parse_interface(m);
            } else {
                fail(k.line, "expected 'import', 'enum', 'struct' or 'interface', found '" + k.text + "'");
            }
        }
    }

private:
    const Token& peek(size_t ahead = 0) const { return t_[std::min(p_ + ahead, t_.size() - 1)]; }
    const Token& next() { return t_[p_ < t_.size() - 1 ? p_++ : p_]; }
    bool is(const std::string& s) const {
        return (peek().kind == Tok::Ident || peek().kind == Tok::Punct) && peek().text == s;
    }
    [[noreturn]] void fail(int line, const std::string& msg) { throw CompileError{{file_, line, msg}}; }
    void expect(const std::string& s, const std::string& what = "") {
        if (!is(s))
            fail(peek().line, "expected '" + s + "'" + (what.empty() ? "" : " " + what) +
                                  ", found '" + peek().text + "'");
        next();
    }
    std::string name(const std::string& what) {
        const Token& t = peek();
        if (t.kind != Tok::Ident)
            fail(t.line, "expected a " + what + " name, found '" + t.text + "'");
        if (is_keyword(t.text))
            fail(t.line, what + " name '" + t.text + "' is reserved (a keyword or a name the generated code uses)");
        next();
        return t.text;
    }
    uint64_t number(const std::string& what) {
        const Token& t = peek();
        if (t.kind != Tok::Number)
            fail(t.line, "expected " + what + ", found '" + t.text + "'");
        next();
        return t.number;
    }

    void parse_enum(Module& m) {
        next();
        auto e = std::make_unique<EnumDecl>();
        e->line = peek().line;
        e->name = name("enum");
        e->module = m.name;
        if (is(":")) {
            next();
            const Token& t = next();
            if (t.kind != Tok::Ident || scalars().count(t.text) == 0 || t.text == "bool")
                fail(t.line, "enum " + e->name + ": underlying type must be u8..u64 or i8..i64, not '" + t.text + "'");
            e->underlying = t.text;
        }
        expect("{", "after the enum name");
        int64_t value = 0;
        while (!is("}")) {
            int line = peek().line;
            std::string v = name("enum value");
            if (is("=")) {
                next();
                bool negative = false;
                if (is("-")) {
                    next();
                    negative = true;
                }
                uint64_t n = number("a value");
                if (n > static_cast<uint64_t>(INT64_MAX))
                    fail(line, "enum " + e->name + ": value of " + v + " is out of range");
                value = negative ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
            }
            for (auto& [other, _] : e->values)
                if (other == v)
                    fail(line, "enum " + e->name + ": duplicate value name '" + v + "'");
            e->values.push_back({v, value});
            value++;
            if (!is(","))
                break;
            next();
        }
        expect("}", "to close enum " + e->name);
        if (e->values.empty())
            fail(e->line, "enum " + e->name + " has no values");
        m.enums.push_back(std::move(e));
    }

    void parse_struct(Module& m) {
        next();
        auto s = std::make_unique<StructDecl>();
        s->line = peek().line;
        s->name = name("struct");
        s->module = m.name;
        expect("{", "after the struct name");
        while (!is("}")) {
            if (peek().kind == Tok::End)
                fail(peek().line, "struct " + s->name + " is not closed");
            Field f;
            f.line = peek().line;
            f.name = name("field");
            for (auto& other : s->fields)
                if (other.name == f.name)
                    fail(f.line, "struct " + s->name + ": duplicate field '" + f.name + "'");
            expect(":", "after field " + f.name);
            f.type = type("field " + s->name + "." + f.name);
            expect(";", "after field " + s->name + "." + f.name);
            s->fields.push_back(std::move(f));
        }
        next();
        if (s->fields.empty())
            fail(s->line, "struct " + s->name + " has no fields");
        m.structs.push_back(std::move(s));
    }

    void parse_interface(Module& m) {
        next();
        auto in = std::make_unique<InterfaceDecl>();
        in->line = peek().line;
        in->name = name("interface");
        in->module = m.name;
        expect("{", "after the interface name");
        while (!is("}")) {
            if (peek().kind == Tok::End)
                fail(peek().line, "interface " + in->name + " is not closed");
            Method md;
            md.line = peek().line;
            expect("method", "in interface " + in->name);
            md.name = name("method");
            std::string where = in->name + "." + md.name;
            for (auto& other : in->methods)
                if (other.name == md.name)
                    fail(md.line, "interface " + in->name + ": duplicate method '" + md.name + "' (no overloading)");
            expect("(", "after method " + where);
            while (!is(")")) {
                Param p;
                p.line = peek().line;
                p.name = name("parameter");
                for (auto& other : md.params)
                    if (other.name == p.name)
                        fail(p.line, "method " + where + ": duplicate parameter '" + p.name + "'");
                expect(":", "after parameter " + p.name);
                if (is("lend")) {
                    next();
                    p.lend = true;
                }
                p.type = type("parameter " + p.name + " of " + where);
                md.params.push_back(std::move(p));
                if (!is(","))
                    break;
                next();
            }
            expect(")", "to close the parameters of " + where);
            if (!is("->"))
                fail(peek().line, "method " + where + " has no return type (write '-> void' or '-> TYPE')");
            next();
            md.ret = ret_type("return type of " + where);
            if (is("[")) {
                next();
                while (true) {
                    const Token& a = next();
                    if (a.kind == Tok::Ident && a.text == "retry")
                        md.retry = true;
                    else
                        fail(a.line, "method " + where + ": unknown attribute '" + a.text + "' (known: retry)");
                    if (!is(","))
                        break;
                    next();
                }
                expect("]", "to close the attributes of " + where);
            }
            expect(";", "after method " + where);
            in->methods.push_back(std::move(md));
        }
        next();
        m.interfaces.push_back(std::move(in));
    }

    Type ret_type(const std::string& what) {
        if (is("void")) {
            Type t;
            t.kind = TK::Void;
            t.line = next().line;
            return t;
        }
        if (is("Result")) {
            next();
            expect("<", "after Result");
            Type t = ret_type(what);
            expect(">", "to close Result<...>");
            return t;
        }
        return type(what);
    }

    // Refuses pointers and references right after a type, where C++ habits put them.
    void no_indirection(const std::string& what) {
        if (is("*"))
            fail(peek().line, what + ": raw pointers are not exchangeable (use RRef<T>)");
        if (is("&"))
            fail(peek().line, what + ": references are not exchangeable (use 'lend RRef<T>' to lend for a call)");
    }

    Type type(const std::string& what) {
        Type t = base(what);
        no_indirection(what);
        if (is("[") && peek(1).kind == Tok::Number) {  // "[retry]" after a return type is not a length
            next();
            Type arr;
            arr.kind = TK::Array;
            arr.line = t.line;
            arr.count = number("an array length");
            arr.elem = std::make_shared<Type>(std::move(t));
            expect("]", "to close the array length of " + what);
            if (is("["))
                fail(peek().line, what + ": arrays of arrays are not supported (use a struct)");
            no_indirection(what);
            return arr;
        }
        return t;
    }

    Type base(const std::string& what) {
        const Token& tok = peek();
        Type t;
        t.line = tok.line;
        if (tok.kind == Tok::String)
            fail(tok.line, what + ": strings are not exchangeable (use RRefBytes)");
        if (is("*"))
            fail(tok.line, what + ": raw pointers are not exchangeable (use RRef<T>)");
        if (is("&"))
            fail(tok.line, what + ": references are not exchangeable (use 'lend RRef<T>' to lend for a call)");
        if (tok.kind != Tok::Ident)
            fail(tok.line, what + ": expected a type, found '" + tok.text + "'");
        std::string n = tok.text;
        next();
        if (scalars().count(n)) {
            t.kind = TK::Scalar;
            t.name = n;
        } else if (n == "RRef" || n == "RRefArray" || n == "RRefDeque") {
            t.kind = n == "RRef" ? TK::RRef : n == "RRefArray" ? TK::RRefArray : TK::RRefDeque;
            expect("<", "after " + n);
            t.elem = std::make_shared<Type>(type(what));
            if (t.kind != TK::RRef) {
                expect(",", "and a length in " + n + "<T, N>");
                t.count = number("a length");
            }
            expect(">", "to close " + n + "<...>");
        } else if (n == "RRefBytes") {
            t.kind = TK::Bytes;
        } else if (n == "void") {
            fail(tok.line, what + ": void is only a return type");
        } else if (n == "Result") {
            fail(tok.line, what + ": Result<T> is only a return type (every method returns one anyway)");
        } else if (n == "string" || n == "str" || n == "String" || n == "char") {
            fail(tok.line, what + ": strings are not exchangeable (use RRefBytes)");
        } else {
            t.kind = TK::Struct;  // or enum or interface: resolved by the checker
            t.name = n;
        }
        return t;
    }

    std::string file_;
    std::vector<Token> t_;
    size_t p_ = 0;
};

// ---- checker --------------------------------------------------------------------------------

class Checker {
public:
    explicit Checker(const std::string& file) : file_(file) {}

    void declare(Module& m) {
        // In file order, so that the later of two declarations is the one reported.
        std::vector<std::tuple<int, std::string, const char*>> decls;
        for (auto& e : m.enums)
            decls.emplace_back(e->line, e->name, "enum");
        for (auto& s : m.structs)
            decls.emplace_back(s->line, s->name, "struct");
        for (auto& i : m.interfaces)
            decls.emplace_back(i->line, i->name, "interface");
        std::stable_sort(decls.begin(), decls.end(),
                         [](auto& a, auto& b) { return std::get<0>(a) < std::get<0>(b); });
        for (auto& [line, name, kind] : decls)
            add_name(name, line, m, kind);
        for (auto& e : m.enums)
            enums_[e->name] = e.get();
        for (auto& s : m.structs)
            structs_[s->name] = s.get();
        for (auto& i : m.interfaces)
            interfaces_.insert(i->name);
    }

    // Checks the module being compiled (imports were checked when they were compiled, but
    // their declarations are checked again here: they are few).
    void check(Module& m) {
        for (auto& e : m.enums)
            check_enum(*e);
        for (auto& s : m.structs)
            for (auto& f : s->fields)
                check_field_type(f.type, "field " + s->name + "." + f.name, f.line, m.path);
        for (auto& s : m.structs)
            layout(*s, {}, m.path);
        for (auto& i : m.interfaces)
            for (auto& md : i->methods) {
                std::string where = i->name + "." + md.name;
                for (auto& p : md.params)
                    check_param(p.type, p.lend, "parameter " + p.name + " of " + where, p.line, m.path);
                if (md.ret.kind != TK::Void)
                    check_param(md.ret, false, "return type of " + where, md.ret.line, m.path);
            }
    }

    void resolve(Type& t, const std::string& what, int line, const std::string& path) {
        if (t.elem)
            resolve(*t.elem, what, line, path);
        if (t.kind != TK::Struct || t.st != nullptr || t.en != nullptr)
            return;
        if (auto e = enums_.find(t.name); e != enums_.end()) {
            t.kind = TK::Enum;
            t.en = e->second;
        } else if (auto s = structs_.find(t.name); s != structs_.end()) {
            t.st = s->second;
        } else if (interfaces_.count(t.name)) {
            t.kind = TK::Interface;
        } else {
            fail(path, line, what + ": unknown type '" + t.name + "'");
        }
    }

    StructDecl* find_struct(const std::string& n) { return structs_.count(n) ? structs_[n] : nullptr; }

private:
    [[noreturn]] void fail(const std::string& path, int line, const std::string& msg) {
        throw CompileError{{path, line, msg}};
    }

    void add_name(const std::string& n, int line, Module& m, const char* kind) {
        auto [it, fresh] = names_.insert({n, m.path + ":" + std::to_string(line)});
        if (!fresh)
            fail(m.path, line, std::string(kind) + " name '" + n + "' is already declared at " + it->second);
    }

    void check_enum(const EnumDecl& e) {
        int bytes = scalars().at(e.underlying).first;
        bool is_signed = e.underlying[0] == 'i';
        for (auto& [n, v] : e.values) {
            int bits = bytes * 8;
            bool fits = is_signed ? (bits == 64 || (v >= -(int64_t(1) << (bits - 1)) && v < (int64_t(1) << (bits - 1))))
                                  : (v >= 0 && (bits == 64 || uint64_t(v) < (uint64_t(1) << bits)));
            if (!fits)
                fail(file_, e.line, "enum " + e.name + ": value " + n + " = " + std::to_string(v) + " does not fit in " + e.underlying);
        }
    }

    static bool is_value(const Type& t) {
        return t.kind == TK::Scalar || t.kind == TK::Enum || (t.kind == TK::Struct);
    }

    void check_field_type(Type& t, const std::string& what, int line, const std::string& path) {
        resolve(t, what, line, path);
        switch (t.kind) {
        case TK::Array:
            if (!is_value(*t.elem))
                fail(path, line, what + ": fixed arrays hold scalars, enums or structs (use RRefDeque<T, N> for handles)");
            check_count(t.count, what, line, path);
            break;
        case TK::RRef:
        case TK::RRefArray:
        case TK::RRefDeque:
            if (!is_value(*t.elem))
                fail(path, line, what + ": the target of an RRef must be a scalar, enum or struct, not " + describe(*t.elem));
            if (t.kind != TK::RRef)
                check_count(t.count, what, line, path);
            break;
        default:
            break;
        }
    }

    void check_count(uint64_t n, const std::string& what, int line, const std::string& path) {
        if (n == 0)
            fail(path, line, what + ": a length must be at least 1");
        if (n > (1u << 24))
            fail(path, line, what + ": length " + std::to_string(n) + " is too large (at most 16777216)");
    }

    void check_param(Type& t, bool lend, const std::string& what, int line, const std::string& path) {
        check_field_type(t, what, line, path);
        if (t.kind == TK::Array)
            fail(path, line, what + ": fixed arrays cannot be passed by value (put the array in a struct, or use RRefArray)");
        if (t.kind == TK::Struct) {
            StructDecl* s = find_struct(t.name);
            layout(*s, {}, path);
            if (!s->rref_offsets.empty())
                fail(path, line, what + ": struct " + s->name + " contains handles and cannot be passed by value (pass RRef<" + s->name + ">)");
        }
        bool handle = t.kind == TK::RRef || t.kind == TK::RRefArray || t.kind == TK::RRefDeque || t.kind == TK::Bytes;
        if (lend && !handle)
            fail(path, line, what + ": only handles (RRef, RRefArray, RRefDeque, RRefBytes) can be lent");
    }

    static std::string describe(const Type& t) {
        switch (t.kind) {
        case TK::Interface: return "an interface";
        case TK::Array: return "an array";
        case TK::Bytes: return "RRefBytes";
        case TK::RRef: case TK::RRefArray: case TK::RRefDeque: return "a handle";
        default: return "'" + t.name + "'";
        }
    }

public:
    // Size and alignment of a type as a field (handles and interface handles are one pointer).
    std::pair<uint64_t, uint64_t> size_align(Type& t, std::vector<std::string> path_names, const std::string& path) {
        switch (t.kind) {
        case TK::Scalar: { uint64_t s = scalars().at(t.name).first; return {s, s}; }
        case TK::Enum: { uint64_t s = scalars().at(t.en->underlying).first; return {s, s}; }
        case TK::Struct: {
            StructDecl* s = find_struct(t.name);
            layout(*s, std::move(path_names), path);
            return {s->size, s->align};
        }
        case TK::Array: {
            auto [s, a] = size_align(*t.elem, std::move(path_names), path);
            return {s * t.count, a};
        }
        default: return {8, 8};
        }
    }

    void layout(StructDecl& s, std::vector<std::string> chain, const std::string& path) {
        if (s.laid_out)
            return;
        for (auto& c : chain)
            if (c == s.name) {
                std::string cycle;
                bool in = false;
                for (auto& n : chain) {
                    in = in || n == s.name;
                    if (in)
                        cycle += n + " -> ";
                }
                fail(path, s.line, "struct " + s.name + " contains itself by value (" + cycle + s.name + "); break the cycle with an RRef");
            }
        chain.push_back(s.name);
        uint64_t off = 0, align = 1;
        s.offsets.clear();
        s.rref_offsets.clear();
        for (auto& f : s.fields) {
            resolve(f.type, "field " + s.name + "." + f.name, f.line, path);
            auto [fs, fa] = size_align(f.type, chain, path);
            off = (off + fa - 1) / fa * fa;
            s.offsets.push_back(off);
            // Where the handles are, through embedded structs and arrays of them.
            Type* et = f.type.kind == TK::Array ? f.type.elem.get() : &f.type;
            uint64_t n = f.type.kind == TK::Array ? f.type.count : 1;
            if (et->kind == TK::RRef || et->kind == TK::RRefArray || et->kind == TK::RRefDeque || et->kind == TK::Bytes) {
                s.rref_offsets.push_back(off);
            } else if (et->kind == TK::Struct) {
                StructDecl* inner = find_struct(et->name);
                for (uint64_t i = 0; i < n && !inner->rref_offsets.empty(); i++)
                    for (uint64_t o : inner->rref_offsets)
                        s.rref_offsets.push_back(off + i * inner->size + o);
            }
            off += fs;
            align = std::max(align, fa);
            if (off > (16u << 20))
                fail(path, f.line, "struct " + s.name + " is larger than 16 MiB at field " + f.name);
        }
        s.size = (off + align - 1) / align * align;
        s.align = align;
        s.laid_out = true;
    }

private:
    std::string file_;
    std::map<std::string, std::string> names_;
    std::map<std::string, EnumDecl*> enums_;
    std::map<std::string, StructDecl*> structs_;
    std::set<std::string> interfaces_;
};

// ---- type ids -------------------------------------------------------------------------------

uint32_t fnv1a(const std::string& s, uint32_t h = 2166136261u) {
    for (unsigned char c : s)
        h = (h ^ c) * 16777619u;
    return h;
}
uint32_t fnv1a_u32(uint32_t v, uint32_t h) {
    for (int i = 0; i < 4; i++)
        h = (h ^ ((v >> (8 * i)) & 0xff)) * 16777619u;
    return h;
}

uint32_t target_id(const Type& t);

std::string signature(const Type& t) {
    switch (t.kind) {
    case TK::Scalar: return t.name;
    case TK::Enum: case TK::Struct: case TK::Interface: return t.name;
    case TK::Array: return signature(*t.elem) + "[" + std::to_string(t.count) + "]";
    case TK::RRef: return "RRef<" + signature(*t.elem) + ">";
    case TK::RRefArray: return "RRefArray<" + signature(*t.elem) + "," + std::to_string(t.count) + ">";
    case TK::RRefDeque: return "RRefDeque<" + signature(*t.elem) + "," + std::to_string(t.count) + ">";
    case TK::Bytes: return "RRefBytes";
    case TK::Void: return "void";
    }
    return "?";
}

uint32_t value_id(const Type& t) {
    static const std::map<std::string, uint32_t> builtin = {
        {"u8", 1}, {"u16", 2}, {"u32", 3}, {"u64", 4}, {"i8", 5}, {"i16", 6}, {"i32", 7}, {"i64", 8}, {"bool", 9},
    };
    if (t.kind == TK::Scalar)
        return builtin.at(t.name);
    if (t.kind == TK::Enum)
        return t.en->id;
    return t.st->id;
}

// The type id of the heap object a handle points to (same formulas as include/lamina/rref.h).
uint32_t target_id(const Type& t) {
    switch (t.kind) {
    case TK::RRef: return value_id(*t.elem);
    case TK::RRefArray: return fnv1a_u32(uint32_t(t.count), fnv1a_u32(value_id(*t.elem), fnv1a("array")));
    case TK::RRefDeque: return fnv1a_u32(uint32_t(t.count), fnv1a_u32(value_id(*t.elem), fnv1a("deque")));
    case TK::Bytes: return 10;
    default: return 0;
    }
}

// ---- code generation ------------------------------------------------------------------------

std::string cxx_value(const Type& t) {
    switch (t.kind) {
    case TK::Scalar: return scalars().at(t.name).second;
    case TK::Enum: case TK::Struct: return "::lamina::idl::" + t.name;
    case TK::Interface: return "::lamina::Handle<::lamina::idl::" + t.name + ">";
    case TK::RRef: return "::lamina::RRef<" + cxx_value(*t.elem) + ">";
    case TK::RRefArray: return "::lamina::RRefArray<" + cxx_value(*t.elem) + ", " + std::to_string(t.count) + ">";
    case TK::RRefDeque: return "::lamina::RRefDeque<" + cxx_value(*t.elem) + ", " + std::to_string(t.count) + ">";
    case TK::Bytes: return "::lamina::RRefBytes";
    case TK::Void: return "void";
    case TK::Array: return cxx_value(*t.elem);  // the [N] goes after the field name
    }
    return "?";
}

bool is_handle(const Type& t) {
    return t.kind == TK::RRef || t.kind == TK::RRefArray || t.kind == TK::RRefDeque || t.kind == TK::Bytes;
}

std::string hex(uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08xu", v);
    return b;
}

std::string storage_type(const Type& t) {
    if (t.kind == TK::RRefArray)
        return "::lamina::ExchangeArray<" + cxx_value(*t.elem) + ", " + std::to_string(t.count) + ">";
    if (t.kind == TK::RRefDeque)
        return "::lamina::ExchangeDequeStorage<" + cxx_value(*t.elem) + ", " + std::to_string(t.count) + ">";
    return "";
}

class Generator {
public:
    Generator(Module& m, Checker& c) : m_(m), c_(c) {}

    std::string run() {
        o_ << "// Generated by idlc from " << m_.path << ". Do not edit: edit the .idl file.\n"
           << "#pragma once\n\n#include <stddef.h>\n#include <stdint.h>\n\n#include <utility>\n\n"
           << "#include <lamina/result.h>\n#include <lamina/rref.h>\n"
           << "// Domains implement and call interfaces but never build proxies: the proxy runtime is\n"
           << "// the kernel's (and the host tests'), so domain builds (LAMINA_DOMAIN) leave it out.\n"
           << "#ifndef LAMINA_DOMAIN\n#include <lamina/proxy_runtime.h>\n#endif\n";
        for (auto& i : m_.imports)
            o_ << "#include \"interfaces/" << i << ".h\"\n";
        o_ << "\nnamespace lamina::idl {\n\n";
        for (auto& e : m_.enums) {
            o_ << "enum class " << e->name << " : " << scalars().at(e->underlying).second << " {\n";
            for (auto& [n, v] : e->values)
                o_ << "    " << n << " = " << v << (e->underlying[0] == 'u' ? "u" : "") << ",\n";
            o_ << "};\n\n";
        }
        for (auto& s : m_.structs)
            o_ << "struct " << s->name << ";\n";
        for (auto& i : m_.interfaces)
            o_ << "class " << i->name << ";\n";
        o_ << "\n}  // namespace lamina::idl\n\n";
        emit_traits();
        emit_structs();
        emit_type_list();
        for (auto& i : m_.interfaces)
            emit_interface(*i);
        return o_.str();
    }

private:
    void emit_traits() {
        o_ << "// Type tables: literal layouts computed by idlc, checked against the compiler's below.\n";
        o_ << "namespace lamina {\n\n";
        for (auto& e : m_.enums) {
            uint64_t sz = scalars().at(e->underlying).first;
            o_ << "template <>\nstruct ExchangeTraits<idl::" << e->name << "> {\n"
               << "    static constexpr TypeId id = " << hex(e->id) << ";\n"
               << "    static constexpr FieldKind kind = FieldKind::Enum;\n"
               << "    static constexpr uint32_t rref_count = 0;\n"
               << "    static constexpr const uint32_t* rref_offsets = nullptr;\n"
               << "    static constexpr FieldInfo field{\"value\", 0, " << sz << ", FieldKind::" << field_kind(e->underlying) << ", 1, 0};\n"
               << "    static constexpr TypeInfo table{id, \"" << e->name << "\", " << sz << ", " << sz << ", &field, 1, nullptr, 0, 0};\n"
               << "    static const TypeInfo& info() { return table; }\n};\n\n";
        }
        for (auto& s : m_.structs) {
            o_ << "template <>\nstruct ExchangeTraits<idl::" << s->name << "> {\n"
               << "    static constexpr TypeId id = " << hex(s->id) << ";\n"
               << "    static constexpr FieldKind kind = FieldKind::Struct;\n"
               << "    static constexpr uint32_t rref_count = " << s->rref_offsets.size() << ";\n";
            if (s->rref_offsets.empty()) {
                o_ << "    static constexpr const uint32_t* rref_offsets = nullptr;\n";
            } else {
                o_ << "    static constexpr uint32_t rref_offset_table[] = {";
                for (size_t i = 0; i < s->rref_offsets.size(); i++)
                    o_ << (i ? ", " : "") << s->rref_offsets[i];
                o_ << "};\n    static constexpr const uint32_t* rref_offsets = rref_offset_table;\n";
            }
            o_ << "    static constexpr FieldInfo fields[] = {\n";
            for (size_t i = 0; i < s->fields.size(); i++) {
                Field& f = s->fields[i];
                Type& et = f.type.kind == TK::Array ? *f.type.elem : f.type;
                uint64_t n = f.type.kind == TK::Array ? f.type.count : 1;
                auto [fs, fa] = c_.size_align(f.type, {}, m_.path);
                std::string kind, target = "0";
                switch (et.kind) {
                case TK::Scalar: kind = field_kind(et.name); break;
                case TK::Enum: kind = "Enum"; target = hex(et.en->id); break;
                case TK::Struct: kind = "Struct"; target = hex(et.st->id); break;
                case TK::Interface: kind = "Interface"; break;
                default: kind = "RRef"; target = hex(target_id(et)); break;
                }
                o_ << "        {\"" << f.name << "\", " << s->offsets[i] << ", " << fs << ", FieldKind::" << kind
                   << ", " << n << ", " << target << "},\n";
            }
            o_ << "    };\n"
               << "    static constexpr TypeInfo table{id, \"" << s->name << "\", " << s->size << ", " << s->align
               << ", fields, " << s->fields.size() << ", rref_offsets, rref_count, 0};\n"
               << "    static const TypeInfo& info() { return table; }\n};\n\n";
        }
        o_ << "}  // namespace lamina\n\n";
    }

    // Structs in an order where every struct embedded by value comes first.
    void emit_structs() {
        std::set<std::string> done;
        std::vector<StructDecl*> order;
        std::function<void(StructDecl*)> visit = [&](StructDecl* s) {
            if (done.count(s->name) || s->module != m_.name)
                return;
            done.insert(s->name);
            for (auto& f : s->fields) {
                const Type& et = f.type.kind == TK::Array ? *f.type.elem : f.type;
                if (et.kind == TK::Struct)
                    visit(const_cast<StructDecl*>(et.st));
            }
            order.push_back(s);
        };
        for (auto& s : m_.structs)
            visit(s.get());
        o_ << "namespace lamina::idl {\n\n";
        for (StructDecl* s : order) {
            o_ << "struct " << s->name << " {\n";
            for (auto& f : s->fields) {
                o_ << "    " << cxx_value(f.type) << " " << f.name;
                if (f.type.kind == TK::Array)
                    o_ << "[" << f.type.count << "]";
                o_ << ";\n";
            }
            o_ << "};\n";
            o_ << "static_assert(sizeof(" << s->name << ") == " << s->size << " && alignof(" << s->name << ") == " << s->align
               << ", \"idlc and the compiler disagree on the layout of " << s->name << "\");\n";
            for (size_t i = 0; i < s->fields.size(); i++)
                o_ << "static_assert(offsetof(" << s->name << ", " << s->fields[i].name << ") == " << s->offsets[i] << ");\n";
            o_ << "\n";
        }
        o_ << "}  // namespace lamina::idl\n\n";
    }

    void collect_storage(const Type& t, std::vector<const Type*>& out) {
        if (t.elem)
            collect_storage(*t.elem, out);
        if (t.kind == TK::RRefArray || t.kind == TK::RRefDeque) {
            for (auto* o : out)
                if (storage_type(*o) == storage_type(t))
                    return;
            out.push_back(&t);
        }
    }

    void emit_type_list() {
        std::vector<const Type*> storage;
        for (auto& s : m_.structs)
            for (auto& f : s->fields)
                collect_storage(f.type, storage);
        for (auto& i : m_.interfaces)
            for (auto& md : i->methods) {
                for (auto& p : md.params)
                    collect_storage(p.type, storage);
                collect_storage(md.ret, storage);
            }
        o_ << "namespace lamina::idl {\n\n";
        for (auto* t : storage)
            o_ << "static_assert(ExchangeTraits<" << storage_type(*t) << ">::id == " << hex(target_id(*t))
               << ", \"idlc and rref.h disagree on a type id\");\n";
        o_ << "// Every type this file defines or instantiates, for the exchange heap's registry\n"
           << "// (null-terminated; imported files have their own lists).\n"
           << "inline constexpr const TypeInfo* " << ident(m_.name) << "_types[] = {\n";
        for (auto& e : m_.enums)
            o_ << "    &ExchangeTraits<" << e->name << ">::table,\n";
        for (auto& s : m_.structs)
            o_ << "    &ExchangeTraits<" << s->name << ">::table,\n";
        for (auto* t : storage)
            o_ << "    &ExchangeTraits<" << storage_type(*t) << ">::table,\n";
        o_ << "    nullptr,\n};\n\n}  // namespace lamina::idl\n\n";
    }

    static std::string ident(const std::string& s) {
        std::string r;
        for (char c : s)
            r += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
        return r;
    }

    static std::string param_decl(const Param& p) {
        if (p.lend)
            return "const " + cxx_value(p.type) + "& " + p.name;
        if (p.type.kind == TK::Struct)
            return "const " + cxx_value(p.type) + "& " + p.name;
        return cxx_value(p.type) + " " + p.name;
    }
    // In invoke_*: by-value handles by lvalue reference, so a rescued handle can come back.
    static std::string invoke_param_decl(const Param& p) {
        if (is_handle(p.type) && !p.lend)
            return cxx_value(p.type) + "& " + p.name;
        return param_decl(p);
    }
    static std::string result_type(const Method& md) {
        return "::lamina::Result<" + cxx_value(md.ret) + ">";
    }
    static std::string signature_of(const Method& md, bool invoke) {
        std::string s = "(";
        for (size_t i = 0; i < md.params.size(); i++)
            s += (i ? ", " : "") + (invoke ? invoke_param_decl(md.params[i]) : param_decl(md.params[i]));
        return s + ")";
    }
    static std::string args(const Method& md) {
        std::string s;
        for (size_t i = 0; i < md.params.size(); i++)
            s += (i ? ", " : "") + md.params[i].name;
        return s;
    }

    void emit_interface(const InterfaceDecl& in) {
        const std::string& I = in.name;
        o_ << "namespace lamina::idl {\n\n";
        // Abstract class.
        o_ << "// interface " << I << " (" << m_.path << ":" << in.line << ")\n"
           << "class " << I << " {\npublic:\n";
        for (auto& md : in.methods)
            o_ << "    virtual " << result_type(md) << " " << md.name << signature_of(md, false) << " = 0;\n";
        o_ << "\nprotected:\n    ~" << I << "() = default;\n};\n\n";

        // Proxy.
        o_ << "#ifndef LAMINA_DOMAIN\n\n";
        o_ << "// Calls into the domain that implements " << I << " (see include/lamina/proxy_runtime.h).\n"
           << "class " << I << "Proxy final : public " << I << " {\npublic:\n"
           << "    " << I << "Proxy(proxy_rt::DomainRecord& domain, " << I << "& callee) : domain_(&domain), callee_(&callee) {}\n"
           << "    // A shadow points its proxy at the fresh instance after a restart.\n"
           << "    void rebind(proxy_rt::DomainRecord& domain, " << I << "& callee) { domain_ = &domain; callee_ = &callee; }\n"
           << "    proxy_rt::DomainRecord& domain() const { return *domain_; }\n\n";
        for (auto& md : in.methods)
            o_ << "    " << result_type(md) << " " << md.name << signature_of(md, false) << " override {\n"
               << "        return invoke_" << md.name << "(" << args(md) << ");\n    }\n";
        o_ << "\n";
        for (auto& md : in.methods)
            emit_invoke(in, md);
        o_ << "private:\n    proxy_rt::DomainRecord* domain_;\n    " << I << "* callee_;\n};\n\n";

        // Shadow.
        o_ << "// Stands in front of a recoverable " << I << ": on a fault it has the recovery hook\n"
           << "// restart the domain, then retries methods marked [retry] (and any call that never\n"
           << "// entered the domain); the others return DomainError::Restarting.\n"
           << "class " << I << "Shadow final : public " << I << " {\npublic:\n"
           << "    " << I << "Shadow(" << I << "Proxy& inner, proxy_rt::ShadowRecovery& recovery, unsigned max_attempts = 3)\n"
           << "        : inner_(&inner), recovery_(&recovery), max_attempts_(max_attempts) {}\n"
           << "    uint64_t restarts() const { return restarts_; }\n\n";
        for (auto& md : in.methods)
            emit_shadow_method(md);
        o_ << "private:\n    // Recovery after DomainError e; true if the call may be made again.\n"
           << "    bool recover(::lamina::Error e, bool retry_safe, unsigned attempt) {\n"
           << "        bool entered = e.domain_error() == DomainError::Faulted;\n"
           << "        if (!entered && e.domain_error() != DomainError::Dead)\n            return false;\n"
           << "        restarts_++;\n"
           << "        if (recovery_->recover(e.domain_error()).is_error())\n            return false;\n"
           << "        return (retry_safe || !entered) && attempt + 1 < max_attempts_;\n    }\n\n"
           << "    " << I << "Proxy* inner_;\n    proxy_rt::ShadowRecovery* recovery_;\n"
           << "    unsigned max_attempts_;\n    uint64_t restarts_ = 0;\n};\n\n";
        o_ << "#endif  // LAMINA_DOMAIN\n\n";
        o_ << "}  // namespace lamina::idl\n\n";
    }

    void emit_shadow_method(const Method& md) {
        bool by_value_handles = false;
        for (auto& p : md.params)
            by_value_handles |= is_handle(p.type) && !p.lend;
        o_ << "    " << result_type(md) << " " << md.name << signature_of(md, false) << " override {\n"
           << "        for (unsigned lamina_attempt = 0;; lamina_attempt++) {\n"
           << "            " << result_type(md) << " lamina_r = inner_->invoke_" << md.name << "(" << args(md) << ");\n"
           << "            if (!lamina_r.is_error() || !lamina_r.error().is_domain_error()) [[likely]]\n                return lamina_r;\n"
           << "            if (!recover(lamina_r.error(), " << (md.retry ? "true" : "false") << ", lamina_attempt))\n"
           << "                return lamina_r.error().domain_error() == DomainError::Faulted ? proxy_rt::domain_error(DomainError::Restarting) : lamina_r.error();\n";
        if (by_value_handles) {
            o_ << "            // Arguments the failed instance consumed cannot be sent again.\n"
               << "            if (lamina_r.error().domain_error() == DomainError::Faulted && !(";
            bool first = true;
            for (auto& p : md.params)
                if (is_handle(p.type) && !p.lend) {
                    o_ << (first ? "" : " && ") << "static_cast<bool>(" << p.name << ")";
                    first = false;
                }
            o_ << "))\n                return proxy_rt::domain_error(DomainError::Restarting);\n";
        }
        o_ << "        }\n    }\n";
    }

    void emit_invoke(const InterfaceDecl& in, const Method& md) {
        const std::string R = result_type(md);
        std::vector<const Param*> moved, lent;
        for (auto& p : md.params) {
            if (is_handle(p.type))
                (p.lend ? lent : moved).push_back(&p);
        }
        auto HT = [](const Param& p) { return "proxy_rt::HandleTraits<" + cxx_value(p.type) + ">"; };
        o_ << "    " << R << " invoke_" << md.name << signature_of(md, true) << " {\n"
           << "        proxy_rt::DomainRecord& lamina_d = *domain_;\n"
           << "        if (!proxy_rt::is_alive(lamina_d)) [[unlikely]]\n            return proxy_rt::unavailable(lamina_d);\n";
        if (!moved.empty() || !lent.empty() || is_handle(md.ret))
            o_ << "        const DomainId lamina_caller = proxy_rt::current_domain();\n";
        // Moves, then loans; on a refusal undo what was done.
        for (size_t i = 0; i < moved.size(); i++) {
            const Param& p = *moved[i];
            o_ << "        void* const " << p.name << "_lamina_raw = " << HT(p) << "::raw(" << p.name << ");\n"
               << "        if (" << p.name << "_lamina_raw != nullptr) {\n"
               << "            if (auto lamina_e = proxy_rt::move_rref(" << p.name << "_lamina_raw, " << HT(p) << "::type, lamina_caller, lamina_d.id); lamina_e.is_error()) [[unlikely]] {\n";
            for (size_t j = 0; j < i; j++)
                o_ << "                if (" << moved[j]->name << "_lamina_raw != nullptr)\n"
                   << "                    (void)proxy_rt::move_rref(" << moved[j]->name << "_lamina_raw, " << HT(*moved[j]) << "::type, lamina_d.id, lamina_caller);\n";
            o_ << "                proxy_rt::ownership_violation(lamina_caller, lamina_e.error());\n"
               << "                return lamina_e.error();\n            }\n        }\n";
        }
        for (size_t i = 0; i < lent.size(); i++) {
            const Param& p = *lent[i];
            o_ << "        const void* const " << p.name << "_lamina_raw = " << HT(p) << "::raw(" << p.name << ");\n"
               << "        DomainId " << p.name << "_lamina_previous = NO_DOMAIN;\n"
               << "        if (" << p.name << "_lamina_raw != nullptr) {\n"
               << "            auto lamina_e = proxy_rt::lend_rref(" << p.name << "_lamina_raw, lamina_caller, lamina_d.id);\n"
               << "            if (lamina_e.is_error()) [[unlikely]] {\n";
            for (size_t j = 0; j < i; j++)
                o_ << "                if (" << lent[j]->name << "_lamina_raw != nullptr)\n"
                   << "                    proxy_rt::end_loan(" << lent[j]->name << "_lamina_raw, lamina_d.id, " << lent[j]->name << "_lamina_previous);\n";
            for (auto* m : moved)
                o_ << "                if (" << m->name << "_lamina_raw != nullptr)\n"
                   << "                    (void)proxy_rt::move_rref(" << m->name << "_lamina_raw, " << HT(*m) << "::type, lamina_d.id, lamina_caller);\n";
            o_ << "                proxy_rt::ownership_violation(lamina_caller, lamina_e.error());\n"
               << "                return lamina_e.error();\n            }\n"
               << "            " << p.name << "_lamina_previous = lamina_e.value();\n        }\n";
        }
        // The frame the thunk runs on.
        o_ << "        struct LaminaFrame {\n            " << in.name << "* callee;\n";
        for (auto& p : md.params) {
            std::string t = cxx_value(p.type);
            bool is_const = p.lend || p.type.kind == TK::Struct;
            o_ << "            " << (is_const ? "const " : "") << t << "* " << p.name << ";\n";
        }
        o_ << "            proxy_rt::Slot<" << R << "> result;\n        } lamina_frame{callee_";
        for (auto& p : md.params)
            o_ << ", &" << p.name;
        o_ << "};\n"
           << "        const DomainError lamina_fault = proxy_rt::call_into(lamina_d, [](void* lamina_p) {\n"
           << "            LaminaFrame& lamina_f = *static_cast<LaminaFrame*>(lamina_p);\n"
           << "            lamina_f.result.emplace(lamina_f.callee->" << md.name << "(";
        for (size_t i = 0; i < md.params.size(); i++) {
            const Param& p = md.params[i];
            bool by_ref = p.lend || p.type.kind == TK::Struct;
            o_ << (i ? ", " : "") << (by_ref ? "*lamina_f." + p.name : "std::move(*lamina_f." + p.name + ")");
        }
        o_ << "));\n        }, &lamina_frame);\n";
        for (auto* p : lent)
            o_ << "        if (" << p->name << "_lamina_raw != nullptr)\n"
               << "            proxy_rt::end_loan(" << p->name << "_lamina_raw, lamina_d.id, " << p->name << "_lamina_previous);\n";
        o_ << "        if (lamina_fault != DomainError::None) [[unlikely]] {\n";
        for (auto* p : moved)
            o_ << "            if (" << p->name << "_lamina_raw != nullptr && proxy_rt::rescue_rref(" << p->name << "_lamina_raw, " << HT(*p)
               << "::type, lamina_d.id, lamina_caller))\n"
               << "                " << HT(*p) << "::adopt(" << p->name << ", " << p->name << "_lamina_raw);\n";
        o_ << "            return proxy_rt::domain_error(lamina_fault);\n        }\n";
        if (is_handle(md.ret)) {
            std::string RT = "proxy_rt::HandleTraits<" + cxx_value(md.ret) + ">";
            o_ << "        " << R << "& lamina_r = lamina_frame.result.get();\n"
               << "        if (lamina_r.is_ok()) {\n"
               << "            if (void* lamina_out = " << RT << "::raw(lamina_r.value()); lamina_out != nullptr) {\n"
               << "                if (auto lamina_e = proxy_rt::move_rref(lamina_out, " << RT << "::type, lamina_d.id, lamina_caller); lamina_e.is_error()) [[unlikely]] {\n"
               << "                    " << RT << "::leak(lamina_r.value());  // not ours to free\n"
               << "                    proxy_rt::ownership_violation(lamina_d.id, lamina_e.error());\n"
               << "                    return proxy_rt::domain_error(DomainError::Faulted);\n"
               << "                }\n            }\n        }\n"
               << "        return std::move(lamina_r);\n";
        } else {
            o_ << "        return std::move(lamina_frame.result.get());\n";
        }
        o_ << "    }\n\n";
    }

    Module& m_;
    Checker& c_;
    std::ostringstream o_;
};

std::string module_name(const std::string& path) {
    std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
    if (base.size() > 4 && base.substr(base.size() - 4) == ".idl")
        base = base.substr(0, base.size() - 4);
    return base;
}

struct Compilation {
    const Loader& loader;
    std::vector<std::unique_ptr<Module>> modules;  // imports first
    std::set<std::string> loaded;
    std::vector<std::string> dependencies;

    Module& load(const std::string& path, const std::string& text, std::vector<std::string> chain) {
        auto m = std::make_unique<Module>();
        m->path = path;
        m->name = module_name(path);
        loaded.insert(m->name);
        Parser(path, lex(path, text)).parse(*m);
        chain.push_back(m->name);
        for (auto& imp : m->imports) {
            for (auto& c : chain)
                if (c == imp)
                    throw CompileError{{path, 1, "import cycle: " + m->name + " imports " + imp + " which imports it back"}};
            if (loaded.count(imp))
                continue;
            std::optional<Source> src = loader ? loader(imp) : std::nullopt;
            if (!src)
                throw CompileError{{path, 1, "import " + imp + ": no interfaces/" + imp + ".idl"}};
            dependencies.push_back(src->path);
            load(src->path, src->text, chain);
        }
        modules.push_back(std::move(m));
        return *modules.back();
    }
};

void assign_ids(Module& m, Checker& c) {
    for (auto& e : m.enums) {
        std::string sig = "enum " + e->name + ":" + e->underlying + "{";
        for (auto& [n, v] : e->values)
            sig += n + "=" + std::to_string(v) + ";";
        e->id = fnv1a(sig + "}");
    }
    // Struct ids include embedded structs' ids, so a layout change anywhere below changes them.
    std::function<void(StructDecl&)> id_of = [&](StructDecl& s) {
        if (s.id != 0)
            return;
        std::string sig = "struct " + s.name + "{";
        for (auto& f : s.fields) {
            const Type& et = f.type.kind == TK::Array ? *f.type.elem : f.type;
            sig += f.name + ":" + signature(f.type);
            if (et.kind == TK::Struct && et.st != &s) {
                id_of(*c.find_struct(et.name));
                sig += "#" + std::to_string(et.st->id);
            }
            sig += ";";
        }
        uint32_t id = fnv1a(sig + "}");
        s.id = id <= 15 ? id + 16 : id;
    };
    for (auto& s : m.structs)
        id_of(*s);
}

}  // namespace

Output compile(const std::string& path, const std::string& text, const Loader& loader) {
    Output out;
    try {
        Compilation comp{loader, {}, {}, {}};
        comp.load(path, text, {});
        Checker checker(path);
        for (auto& m : comp.modules)
            checker.declare(*m);
        for (auto& m : comp.modules) {
            checker.check(*m);
            assign_ids(*m, checker);
        }
        Module& main = *comp.modules.back();
        out.header = Generator(main, checker).run();
        out.dependencies = comp.dependencies;
        out.ok = true;
    } catch (const CompileError& e) {
        out.errors.push_back(e.diag);
    }
    return out;
}

}  // namespace idlc
