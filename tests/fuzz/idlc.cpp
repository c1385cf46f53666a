// idlc (tools/idlc) on hostile interface definitions: lexer, parser, checker and generator. The
// input is the file being compiled; after a line "---" comes the text every import resolves to
// (so imports, import cycles and cross-module references get exercised). Every refusal is a
// diagnostic with a line inside the file it names; an accepted file yields a header.
#include "tests/fuzz/fuzz.h"

#include <string>

#include "tools/idlc/idl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    std::string imported;
    size_t split = text.find("\n---\n");
    if (split != std::string::npos) {
        imported = text.substr(split + 5);
        text.resize(split + 1);
    }
    idlc::Loader loader = [&](const std::string& module) -> std::optional<idlc::Source> {
        if (imported.empty() || module == "missing") return std::nullopt;
        return idlc::Source{module + ".idl", imported};
    };
    idlc::Output out = idlc::compile("fuzz.idl", text, loader);
    if (out.ok) {
        FUZZ_CHECK(out.errors.empty(), "accepted with %zu errors", out.errors.size());
        FUZZ_CHECK(!out.header.empty(), "accepted without a header");
    } else {
        FUZZ_CHECK(!out.errors.empty(), "refused without a diagnostic");
        for (auto& e : out.errors) FUZZ_CHECK(e.text().find("error: ") != std::string::npos, "a malformed diagnostic");
    }
    return 0;
}
