// compile(): one IDL file and its imports through the phases (idl.h lists them).
#include "tools/idlc/idl.h"

#include <set>

#include "tools/idlc/checker.h"
#include "tools/idlc/generator.h"
#include "tools/idlc/lexer.h"
#include "tools/idlc/parser.h"

namespace idlc {

std::string Diagnostic::text() const { return file + ":" + std::to_string(line) + ": error: " + message; }

void fail(const std::string& file, int line, const std::string& message) { throw CompileError{{file, line, message}}; }

const Scalar* find_scalar(const std::string& name) {
    static constexpr Scalar scalars[] = {
        {"u8", 1, "uint8_t", "U8", lamina::U8_TYPE_ID},     {"u16", 2, "uint16_t", "U16", lamina::U16_TYPE_ID},
        {"u32", 4, "uint32_t", "U32", lamina::U32_TYPE_ID}, {"u64", 8, "uint64_t", "U64", lamina::U64_TYPE_ID},
        {"i8", 1, "int8_t", "I8", lamina::I8_TYPE_ID},      {"i16", 2, "int16_t", "I16", lamina::I16_TYPE_ID},
        {"i32", 4, "int32_t", "I32", lamina::I32_TYPE_ID},  {"i64", 8, "int64_t", "I64", lamina::I64_TYPE_ID},
        {"bool", 1, "bool", "Bool", lamina::BOOL_TYPE_ID},
    };
    for (const Scalar& s : scalars)
        if (name == s.name) return &s;
    return nullptr;
}

namespace {

std::string module_name(const std::string& path) {
    size_t slash = path.find_last_of('/');
    std::string base = path.substr(slash == std::string::npos ? 0 : slash + 1);
    if (base.size() > 4 && base.substr(base.size() - 4) == ".idl") base = base.substr(0, base.size() - 4);
    return base;
}

// Parses a file and, depth first, the files it imports.
class Compilation {
public:
    explicit Compilation(const Loader& loader) : loader_(loader) {}

    void load(const std::string& path, const std::string& text, std::vector<std::string> chain) {
        auto m = std::make_unique<Module>();
        m->path = path;
        m->name = module_name(path);
        loaded_.insert(m->name);
        parse(lex(path, text), *m);
        chain.push_back(m->name);
        for (auto& imp : m->imports) {
            for (auto& c : chain)
                if (c == imp) fail(path, 1, "import cycle: " + m->name + " imports " + imp + " which imports it back");
            if (loaded_.count(imp)) continue;
            std::optional<Source> src = loader_ ? loader_(imp) : std::nullopt;
            if (!src) fail(path, 1, "import " + imp + ": no interfaces/" + imp + ".idl");
            dependencies_.push_back(src->path);
            load(src->path, src->text, chain);
        }
        modules_.push_back(std::move(m));
    }

    // Imports before the modules that import them; the file compiled is the last.
    std::vector<std::unique_ptr<Module>>& modules() { return modules_; }
    const std::vector<std::string>& dependencies() const { return dependencies_; }

private:
    const Loader& loader_;
    std::vector<std::unique_ptr<Module>> modules_;
    std::set<std::string> loaded_;
    std::vector<std::string> dependencies_;
};

}  // namespace

Output compile(const std::string& path, const std::string& text, const Loader& loader) {
    Output out;
    try {
        Compilation compilation(loader);
        compilation.load(path, text, {});
        Checker checker;
        for (auto& m : compilation.modules()) checker.declare(*m);
        for (auto& m : compilation.modules()) checker.check(*m);
        out.header = generate(*compilation.modules().back());
        out.dependencies = compilation.dependencies();
        out.ok = true;
    } catch (const CompileError& e) {
        out.errors.push_back(e.diagnostic);
    }
    return out;
}

}  // namespace idlc
