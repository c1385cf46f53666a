// idlc as a library: parse, check and generate one IDL file. tools/idlc/main.cpp is the command
// line; the unit tests (tests/unit/idlc_test.cpp) call compile() directly. The grammar is
// documented at the top of idl.cpp and in interfaces/README.md.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace idlc {

struct Diagnostic {
    std::string file;
    int line = 0;
    std::string message;
    std::string text() const;  // "FILE:LINE: error: MESSAGE"
};

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
