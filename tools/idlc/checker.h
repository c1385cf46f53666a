// idlc's checker: what makes a parsed Module something the generator can trust. It resolves
// every type name (to a scalar, enum, struct or interface, across imports), refuses what cannot
// cross a domain boundary (handles in fixed arrays, RRef of a handle or an interface, structs
// with handles passed by value, arrays passed by value, `lend` on a non-handle), lays structs
// out with C rules (refusing structs that contain themselves and structs over 16 MiB) and
// assigns every enum and struct its type id (type_ids.h).
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tools/idlc/idl.h"

namespace idlc {

class Checker {
public:
    // Makes a module's declarations known. Call it for every module, imports first: a name
    // declared twice is reported at the later declaration.
    void declare(Module& m);

    // Resolves, checks and lays out a declared module, and assigns its type ids. Imports first,
    // so that their structs have ids before the structs that embed them. Throws CompileError.
    void check(Module& m);

private:
    void add_name(const std::string& name, int line, const Module& m, const char* kind);
    void check_enum(EnumDecl& e, const std::string& path);
    void resolve(Type& t, const std::string& what, int line, const std::string& path);
    void check_field_type(Type& t, const std::string& what, int line, const std::string& path);
    void check_param(Type& t, bool lend, const std::string& what, int line, const std::string& path);
    std::pair<uint64_t, uint64_t> size_align(Type& t, const std::vector<std::string>& chain, const std::string& path);
    void layout(StructDecl& s, std::vector<std::string> chain, const std::string& path);

    std::map<std::string, std::string> declared_at_;  // name -> "FILE:LINE"
    std::map<std::string, EnumDecl*> enums_;
    std::map<std::string, StructDecl*> structs_;
    std::set<std::string> interfaces_;
};

}  // namespace idlc
