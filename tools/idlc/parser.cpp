#include "tools/idlc/parser.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace idlc {

namespace {

// Names an IDL declaration may not take: C++ keywords (the generated code uses the IDL names
// as they are), IDL words, the names the generated code itself declares or refers to
// (lamina_* locals, Lamina* types), and what C++ reserves for the implementation.
bool is_reserved(const std::string& s) {
    static const std::set<std::string> words = {
        "alignas",
        "alignof",
        "and",
        "asm",
        "auto",
        "bool",
        "break",
        "case",
        "catch",
        "char",
        "class",
        "concept",
        "const",
        "consteval",
        "constexpr",
        "constinit",
        "const_cast",
        "continue",
        "co_await",
        "co_return",
        "co_yield",
        "decltype",
        "default",
        "delete",
        "do",
        "double",
        "dynamic_cast",
        "else",
        "enum",
        "explicit",
        "export",
        "extern",
        "false",
        "float",
        "for",
        "friend",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "mutable",
        "namespace",
        "new",
        "noexcept",
        "not",
        "nullptr",
        "operator",
        "or",
        "private",
        "protected",
        "public",
        "register",
        "reinterpret_cast",
        "requires",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "static_assert",
        "static_cast",
        "struct",
        "switch",
        "template",
        "this",
        "thread_local",
        "throw",
        "true",
        "try",
        "typedef",
        "typeid",
        "typename",
        "union",
        "unsigned",
        "using",
        "virtual",
        "void",
        "volatile",
        "wchar_t",
        "while",
        "xor",
        "method",
        "interface",
        "import",
        "lend",
        "RRef",
        "RRefArray",
        "RRefDeque",
        "RRefBytes",
        "Result",
        "Handle",
        "lamina",
        "std",
        "idl",
    };
    return words.count(s) != 0 || find_scalar(s) != nullptr || s.rfind("lamina_", 0) == 0 ||
           s.rfind("Lamina", 0) == 0 ||
           (s.size() >= 2 && s[0] == '_' && (s[1] == '_' || std::isupper(static_cast<unsigned char>(s[1])))) ||
           s.find("__") != std::string::npos;
}

class Parser {
public:
    Parser(const std::vector<Token>& tokens, Module& module) : t_(tokens), m_(module) {}

    void run() {
        while (peek().kind != TokenKind::End) {
            if (is("import")) {
                next();
                m_.imports.push_back(name("module"));
                expect(";");
            } else if (is("enum")) {
                parse_enum();
            } else if (is("struct")) {
                parse_struct();
            } else if (is("interface")) {
                parse_interface();
            } else {
                error(peek().line, "expected 'import', 'enum', 'struct' or 'interface', found '" + peek().text + "'");
            }
        }
    }

private:
    const Token& peek(size_t ahead = 0) const { return t_[std::min(p_ + ahead, t_.size() - 1)]; }
    const Token& next() { return t_[p_ < t_.size() - 1 ? p_++ : p_]; }
    bool is(const std::string& s) const {
        return (peek().kind == TokenKind::Ident || peek().kind == TokenKind::Punct) && peek().text == s;
    }
    [[noreturn]] void error(int line, const std::string& message) { fail(m_.path, line, message); }
    void expect(const std::string& s, const std::string& what = "") {
        if (!is(s))
            error(peek().line,
                  "expected '" + s + "'" + (what.empty() ? "" : " " + what) + ", found '" + peek().text + "'");
        next();
    }
    std::string name(const std::string& what) {
        const Token& t = peek();
        if (t.kind != TokenKind::Ident) error(t.line, "expected a " + what + " name, found '" + t.text + "'");
        if (is_reserved(t.text))
            error(t.line, what + " name '" + t.text + "' is reserved (a keyword or a name the generated code uses)");
        next();
        return t.text;
    }
    uint64_t number(const std::string& what) {
        const Token& t = peek();
        if (t.kind != TokenKind::Number) error(t.line, "expected " + what + ", found '" + t.text + "'");
        next();
        return t.number;
    }
    // Parses "ITEM { , ITEM } [ , ]" up to (not including) `close`.
    template <typename F>
    void comma_list(const std::string& close, F item) {
        while (!is(close)) {
            item();
            if (!is(",")) break;
            next();
        }
    }
    // After its keyword: a declaration's name, with where it is.
    template <typename Decl>
    std::unique_ptr<Decl> declaration(const std::string& keyword) {
        next();
        auto d = std::make_unique<Decl>();
        d->line = peek().line;
        d->name = name(keyword);
        d->module = m_.name;
        return d;
    }
    // "{" { member } "}" of a struct or an interface.
    template <typename F>
    void members(const std::string& keyword, const std::string& decl_name, F member) {
        expect("{", "after the " + keyword + " name");
        while (!is("}")) {
            if (peek().kind == TokenKind::End) error(peek().line, keyword + " " + decl_name + " is not closed");
            member();
        }
        next();
    }

    void parse_enum() {
        auto e = declaration<EnumDecl>("enum");
        if (is(":")) {
            next();
            const Token& t = next();
            if (t.kind != TokenKind::Ident || find_scalar(t.text) == nullptr || t.text == "bool")
                error(t.line, "enum " + e->name + ": underlying type must be u8..u64 or i8..i64, not '" + t.text + "'");
            e->underlying = t.text;
        }
        expect("{", "after the enum name");
        int64_t value = 0;
        comma_list("}", [&] {
            int line = peek().line;
            std::string v = name("enum value");
            if (is("=")) {
                next();
                bool negative = is("-");
                if (negative) next();
                uint64_t n = number("a value");
                if (n > static_cast<uint64_t>(INT64_MAX))
                    error(line, "enum " + e->name + ": value of " + v + " is out of range");
                value = negative ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
            }
            for (auto& [other, _] : e->values)
                if (other == v) error(line, "enum " + e->name + ": duplicate value name '" + v + "'");
            e->values.push_back({v, value});
            value++;
        });
        expect("}", "to close enum " + e->name);
        if (e->values.empty()) error(e->line, "enum " + e->name + " has no values");
        m_.enums.push_back(std::move(e));
    }

    void parse_struct() {
        auto s = declaration<StructDecl>("struct");
        members("struct", s->name, [&] { s->fields.push_back(field(*s)); });
        if (s->fields.empty()) error(s->line, "struct " + s->name + " has no fields");
        m_.structs.push_back(std::move(s));
    }

    Field field(const StructDecl& s) {
        Field f;
        f.line = peek().line;
        f.name = name("field");
        for (auto& other : s.fields)
            if (other.name == f.name) error(f.line, "struct " + s.name + ": duplicate field '" + f.name + "'");
        expect(":", "after field " + f.name);
        f.type = type("field " + s.name + "." + f.name);
        expect(";", "after field " + s.name + "." + f.name);
        return f;
    }

    void parse_interface() {
        auto in = declaration<InterfaceDecl>("interface");
        members("interface", in->name, [&] { in->methods.push_back(method(*in)); });
        m_.interfaces.push_back(std::move(in));
    }

    Method method(const InterfaceDecl& in) {
        Method md;
        md.line = peek().line;
        expect("method", "in interface " + in.name);
        md.name = name("method");
        const std::string where = in.name + "." + md.name;
        for (auto& other : in.methods)
            if (other.name == md.name)
                error(md.line, "interface " + in.name + ": duplicate method '" + md.name + "' (no overloading)");
        expect("(", "after method " + where);
        comma_list(")", [&] {
            Param p;
            p.line = peek().line;
            p.name = name("parameter");
            for (auto& other : md.params)
                if (other.name == p.name) error(p.line, "method " + where + ": duplicate parameter '" + p.name + "'");
            expect(":", "after parameter " + p.name);
            if (is("lend")) {
                next();
                p.lend = true;
            }
            p.type = type("parameter " + p.name + " of " + where);
            md.params.push_back(std::move(p));
        });
        expect(")", "to close the parameters of " + where);
        if (!is("->")) error(peek().line, "method " + where + " has no return type (write '-> void' or '-> TYPE')");
        next();
        md.ret = return_type("return type of " + where);
        if (is("[")) {
            do {  // at least one: "[]" is refused as an unknown attribute ']'
                next();
                const Token& a = next();
                if (a.kind == TokenKind::Ident && a.text == "retry")
                    md.retry = true;
                else
                    error(a.line, "method " + where + ": unknown attribute '" + a.text + "' (known: retry)");
            } while (is(","));
            expect("]", "to close the attributes of " + where);
        }
        expect(";", "after method " + where);
        return md;
    }

    Type return_type(const std::string& what) {
        if (is("void")) {
            Type t;
            t.kind = TypeKind::Void;
            t.line = next().line;
            return t;
        }
        if (is("Result")) {
            next();
            expect("<", "after Result");
            Type t = return_type(what);
            expect(">", "to close Result<...>");
            return t;
        }
        return type(what);
    }

    // Refuses a pointer or a reference where C++ habits put one: before or after a type.
    void no_indirection(const std::string& what) {
        if (is("*")) error(peek().line, what + ": raw pointers are not exchangeable (use RRef<T>)");
        if (is("&"))
            error(peek().line, what + ": references are not exchangeable (use 'lend RRef<T>' to lend for a call)");
    }

    Type type(const std::string& what) {
        Type t = base(what);
        no_indirection(what);
        if (is("[") && peek(1).kind == TokenKind::Number) {  // "[retry]" after a return type is not a length
            next();
            Type arr;
            arr.kind = TypeKind::Array;
            arr.line = t.line;
            arr.count = number("an array length");
            arr.elem = std::make_shared<Type>(std::move(t));
            expect("]", "to close the array length of " + what);
            if (is("[")) error(peek().line, what + ": arrays of arrays are not supported (use a struct)");
            no_indirection(what);
            return arr;
        }
        return t;
    }

    Type base(const std::string& what) {
        const Token& tok = peek();
        Type t;
        t.line = tok.line;
        if (tok.kind == TokenKind::String) error(tok.line, what + ": strings are not exchangeable (use RRefBytes)");
        no_indirection(what);
        if (tok.kind != TokenKind::Ident) error(tok.line, what + ": expected a type, found '" + tok.text + "'");
        const std::string n = tok.text;
        next();
        if (find_scalar(n)) {
            t.kind = TypeKind::Scalar;
            t.name = n;
        } else if (n == "RRef" || n == "RRefArray" || n == "RRefDeque") {
            t.kind = n == "RRef" ? TypeKind::RRef : n == "RRefArray" ? TypeKind::RRefArray : TypeKind::RRefDeque;
            expect("<", "after " + n);
            t.elem = std::make_shared<Type>(type(what));
            if (t.kind != TypeKind::RRef) {
                expect(",", "and a length in " + n + "<T, N>");
                t.count = number("a length");
            }
            expect(">", "to close " + n + "<...>");
        } else if (n == "RRefBytes") {
            t.kind = TypeKind::Bytes;
        } else if (n == "void") {
            error(tok.line, what + ": void is only a return type");
        } else if (n == "Result") {
            error(tok.line, what + ": Result<T> is only a return type (every method returns one anyway)");
        } else if (n == "string" || n == "str" || n == "String" || n == "char") {
            error(tok.line, what + ": strings are not exchangeable (use RRefBytes)");
        } else {
            t.kind = TypeKind::Struct;  // or an enum or an interface: the checker resolves it
            t.name = n;
        }
        return t;
    }

    const std::vector<Token>& t_;
    Module& m_;
    size_t p_ = 0;
};

}  // namespace

void parse(const std::vector<Token>& tokens, Module& module) { Parser(tokens, module).run(); }

}  // namespace idlc
