// Host tests for idlc (tools/idlc): what it accepts, the message (file, line, offending name) for
// everything it refuses, the type ids it computes, and its lexer and template expander. That the
// generated code compiles and works is tested by proxy_test.cpp, which uses the header idlc made
// from interfaces/test_echo.idl.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/idlc/idl.h"
#include "tools/idlc/lexer.h"
#include "tools/idlc/template.h"

namespace {

idlc::Output compile(const std::string& text, const std::map<std::string, std::string>& others = {}) {
    idlc::Loader loader = [&](const std::string& module) -> std::optional<idlc::Source> {
        auto it = others.find(module);
        if (it == others.end()) return std::nullopt;
        return idlc::Source{"interfaces/" + module + ".idl", it->second};
    };
    return idlc::compile("interfaces/t.idl", text, loader);
}

// The one error, as "FILE:LINE: error: MESSAGE".
std::string error_of(const std::string& text, const std::map<std::string, std::string>& others = {}) {
    idlc::Output out = compile(text, others);
    if (out.ok) return "(accepted)";
    return out.errors.at(0).text();
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(IdlcTest, AcceptsTheFullGrammar) {
    idlc::Output out = compile(R"(
        // comment
        enum Kind : u16 { A, B = 7, C, }
        enum Signed : i8 { Low = -128, High = 127 }
        struct BlockBuf { data: u8[4096]; len: u32; }
        struct Node { value: i64; next: RRef<Node>; kind: Kind; flags: bool[3]; }
        struct Ring { bufs: RRefDeque<BlockBuf, 8>; blocks: RRefArray<u64, 16>; raw: RRefBytes; owner: Block; }
        interface Block {
            method read(lba: u64, buf: RRef<BlockBuf>) -> RRef<BlockBuf> [retry];
            method write(lba: u64, buf: lend RRef<BlockBuf>) -> Result<void>;
            method flush() -> void;
            method info() -> Result<u64> [retry];
            method ring(r: RRef<Ring>) -> RRefArray<u64, 16>;
        }
    )");
    ASSERT_TRUE(out.ok) << (out.errors.empty() ? "" : out.errors[0].text());
    const std::string& h = out.header;
    EXPECT_TRUE(contains(h, "class Block {"));
    EXPECT_TRUE(contains(h, "class BlockProxy final : public Block"));
    EXPECT_TRUE(contains(h, "class BlockShadow final : public Block"));
    EXPECT_TRUE(contains(h,
                         "virtual ::lamina::Result<::lamina::RRef<::lamina::idl::BlockBuf>> read(uint64_t lba, "
                         "::lamina::RRef<::lamina::idl::BlockBuf> buf) = 0;"));
    EXPECT_TRUE(contains(h, "write(uint64_t lba, const ::lamina::RRef<::lamina::idl::BlockBuf>& buf)"));
    EXPECT_TRUE(contains(h, "static_assert(sizeof(BlockBuf) == 4100 && alignof(BlockBuf) == 4"));
    EXPECT_TRUE(contains(h, "static_assert(offsetof(BlockBuf, len) == 4096);"));
    EXPECT_TRUE(
        contains(h, "static constexpr uint32_t rref_offset_table[] = {0, 8, 16};"));  // Ring: not the interface handle
    EXPECT_TRUE(contains(h, "inline constexpr const TypeInfo* t_types[]"));
    EXPECT_TRUE(contains(h, "Low = -128"));
}

TEST(IdlcTest, TypeIdsFollowTheLayout) {
    auto a = compile("struct S { x: u32; }");
    auto b = compile("struct S { x: u32; }");
    auto c = compile("struct S { x: u64; }");
    ASSERT_TRUE(a.ok && b.ok && c.ok);
    auto id = [](const std::string& h) { return h.substr(h.find("static constexpr TypeId id = "), 50); };
    EXPECT_EQ(id(a.header), id(b.header));
    EXPECT_NE(id(a.header), id(c.header));
}

// The id written for the first type table of a header.
lamina::TypeId first_id(const idlc::Output& out) {
    const std::string key = "static constexpr TypeId id = ";
    size_t at = out.header.find(key);
    return at == std::string::npos
               ? 0
               : static_cast<lamina::TypeId>(std::stoul(out.header.substr(at + key.size(), 10), nullptr, 16));
}

lamina::TypeId hashed(const std::string& layout) {
    return lamina::declared_type_id(lamina::type_id::fnv1a(layout.data(), layout.size()));
}

// The canonical layouts that docs/idl.md documents: changing them changes every id.
TEST(IdlcTest, TypeIdsHashTheDocumentedLayouts) {
    auto e = compile("enum E : u8 { A, B = 5, C }");
    ASSERT_TRUE(e.ok);
    EXPECT_EQ(first_id(e), hashed("enum E:u8{A=0;B=5;C=6;}"));
    auto s = compile("struct S { x: u32; r: RRef<S>; q: RRefDeque<u8, 4>; b: bool[2]; }");
    ASSERT_TRUE(s.ok);
    EXPECT_EQ(first_id(s), hashed("struct S{x:u32;r:RRef<S>;q:RRefDeque<u8,4>;b:bool[2];}"));
    // An embedded struct adds its id, so a change below changes the struct around it.
    auto in = compile("struct In { a: u8; }");
    auto out = compile("struct In { a: u8; }\nstruct Out { i: In[2]; }");
    ASSERT_TRUE(in.ok && out.ok);
    EXPECT_TRUE(contains(out.header, "{\"i\", 0, 2, FieldKind::Struct, 2, 0x"));
    size_t second = out.header.find("static constexpr TypeId id = ", out.header.find("ExchangeTraits<idl::Out>"));
    ASSERT_NE(second, std::string::npos);
    EXPECT_EQ(std::stoul(out.header.substr(second + 29, 10), nullptr, 16),
              hashed("struct Out{i:In[2]#" + std::to_string(first_id(in)) + ";}"));
}

// An interface's TYPE_ID hashes its methods' signatures (tools/idlc/type_ids.h): live update
// refuses a new instance whose interface differs under the same name.
TEST(IdlcTest, InterfaceTypeIdsHashTheSignatures) {
    auto interface_id = [](const std::string& text) -> lamina::TypeId {
        idlc::Output out = compile(text);
        EXPECT_TRUE(out.ok) << (out.errors.empty() ? "" : out.errors[0].text());
        const std::string key = "static constexpr TypeId TYPE_ID = ";
        size_t at = out.header.find(key);
        return at == std::string::npos
                   ? 0
                   : lamina::TypeId(std::stoul(out.header.substr(at + key.size(), 10), nullptr, 16));
    };
    const std::string buf = "struct Buf { n: u32; }\n";
    lamina::TypeId base = interface_id(buf + "interface I { method f(a: u64, b: RRef<Buf>) -> Result<u32> [retry]; }");
    lamina::TypeId buf_id = first_id(compile(buf));
    EXPECT_EQ(base, hashed("interface I{f(a:u64,b:RRef<Buf>#" + std::to_string(buf_id) + ",)->u32[retry];}"));
    EXPECT_EQ(base, interface_id(buf + "interface I { method f(a: u64, b: RRef<Buf>) -> Result<u32> [retry]; }"));
    // Each of these is a different interface to a caller.
    for (const std::string& other : std::vector<std::string>{
             buf + "interface I { method f(a: u32, b: RRef<Buf>) -> Result<u32> [retry]; }",
             buf + "interface I { method f(a: u64, b: lend RRef<Buf>) -> Result<u32> [retry]; }",
             buf + "interface I { method f(a: u64, b: RRef<Buf>) -> Result<u32>; }",
             buf + "interface I { method g(a: u64, b: RRef<Buf>) -> Result<u32> [retry]; }",
             buf + "interface J { method f(a: u64, b: RRef<Buf>) -> Result<u32> [retry]; }",
             "struct Buf { n: u64; }\ninterface I { method f(a: u64, b: RRef<Buf>) -> Result<u32> [retry]; }",
         })
        EXPECT_NE(interface_id(other), base) << other;
}

// One definition of the hash and the built-in ids serves idlc and rref.h.
TEST(IdlcTest, SharedTypeIdDefinitions) {
    static_assert(lamina::type_id::fnv1a("") == 0x811c9dc5u);  // FNV-1a test vectors
    static_assert(lamina::type_id::fnv1a("a") == 0xe40c292cu);
    static_assert(lamina::type_id::fnv1a("foobar") == 0xbf9cf968u);
    static_assert(lamina::type_id::fnv1a("ab", 1) == lamina::type_id::fnv1a("a"));
    for (uint32_t h = 0; h <= lamina::LAST_BUILTIN_TYPE_ID; h++)
        EXPECT_GT(lamina::declared_type_id(h), lamina::LAST_BUILTIN_TYPE_ID) << h;
    EXPECT_EQ(lamina::declared_type_id(0x12345678u), 0x12345678u);
    // The ids idlc writes for handle targets are the ones rref.h computes.
    auto out = compile("struct S { a: RRefArray<u16, 3>; d: RRefDeque<i64, 2>; b: RRefBytes; }");
    ASSERT_TRUE(out.ok);
    auto hex = [](uint32_t v) {
        char b[16];
        std::snprintf(b, sizeof b, "0x%08xu", v);
        return std::string(b);
    };
    EXPECT_TRUE(
        contains(out.header, "FieldKind::RRef, 1, " + hex(lamina::array_type_id(lamina::U16_TYPE_ID, 3)) + "}"));
    EXPECT_TRUE(
        contains(out.header, "FieldKind::RRef, 1, " + hex(lamina::deque_type_id(lamina::I64_TYPE_ID, 2)) + "}"));
    EXPECT_TRUE(contains(out.header, "FieldKind::RRef, 1, " + hex(lamina::BYTES_TYPE_ID) + "}"));
}

TEST(IdlcTest, LexerTokensAndLines) {
    auto toks = idlc::lex("f.idl", "struct S // note\n{ n: u8[0x10]; } -> -");
    std::vector<std::string> texts;
    for (auto& t : toks) texts.push_back(t.text);
    EXPECT_EQ(texts, (std::vector<std::string>{"struct", "S", "{", "n", ":", "u8", "[", "0x10", "]", ";", "}", "->",
                                               "-", "end of file"}));
    EXPECT_EQ(toks[1].line, 1);
    EXPECT_EQ(toks[2].line, 2);
    EXPECT_EQ(toks[7].kind, idlc::TokenKind::Number);
    EXPECT_EQ(toks[7].number, 16u);
    EXPECT_EQ(toks.back().kind, idlc::TokenKind::End);
    EXPECT_EQ(error_of("struct S { a: u8[99999999999999999999]; }"),
              "interfaces/t.idl:1: error: number '99999999999999999999' does not fit in 64 bits");
    EXPECT_EQ(error_of("struct S { a: u8[12ab]; }"), "interfaces/t.idl:1: error: malformed number '12a'");
    EXPECT_EQ(error_of("struct S { a: u8[0x]; }"), "interfaces/t.idl:1: error: malformed number");
}

TEST(IdlcTemplateTest, InlineValuesAndIndentedBlocks) {
    std::string block = idlc::expand("a;\n\nb;\n", {});
    EXPECT_EQ(idlc::expand(R"(
f(${x}) {
    ${body}
    ${nothing}
}
)",
                           {{"x", "int y"}, {"body", block}, {"nothing", ""}}),
              "f(int y) {\n    a;\n\n    b;\n}\n");
    EXPECT_EQ(idlc::expand("${a}${a} ${b}", {{"a", "1"}, {"b", "2"}}), "11 2");
    EXPECT_EQ(idlc::expand("  ${block}", {{"block", "x\ny"}}), "  x\n  y\n");  // a block ends its line
}

TEST(IdlcTemplateTest, MismatchedPlaceholdersAreGeneratorBugs) {
    EXPECT_THROW(idlc::expand("${missing}", {}), std::logic_error);
    EXPECT_THROW(idlc::expand("x", {{"unused", "1"}}), std::logic_error);
    EXPECT_THROW(idlc::expand("a ${open", {{"open", "1"}}), std::logic_error);
}

TEST(IdlcTest, ImportsBringDeclarationsAndIncludes) {
    std::map<std::string, std::string> others = {{"types", "struct Page { bytes: u8[4096]; }\n"}};
    idlc::Output out = compile("import types;\ninterface Pager { method get(n: u64) -> RRef<Page>; }", others);
    ASSERT_TRUE(out.ok) << out.errors.at(0).text();
    EXPECT_TRUE(contains(out.header, "#include \"interfaces/types.h\""));
    EXPECT_FALSE(contains(out.header, "struct Page {"));  // defined by types.h
    ASSERT_EQ(out.dependencies.size(), 1u);
    EXPECT_EQ(out.dependencies[0], "interfaces/types.idl");
    EXPECT_EQ(error_of("import nothing;"), "interfaces/t.idl:1: error: import nothing: no interfaces/nothing.idl");
    EXPECT_EQ(error_of("struct Page { x: u8; }\nimport types;", others).substr(0, 60),
              "interfaces/t.idl:1: error: struct name 'Page' is already dec");
}

TEST(IdlcTest, RefusesRawPointers) {
    EXPECT_EQ(error_of("struct S {\n  a: u32;\n  p: u8*;\n}"),
              "interfaces/t.idl:3: error: field S.p: raw pointers are not exchangeable (use RRef<T>)");
    EXPECT_EQ(error_of("interface I {\n method m(x: *u8) -> void;\n}"),
              "interfaces/t.idl:2: error: parameter x of I.m: raw pointers are not exchangeable (use RRef<T>)");
    EXPECT_EQ(error_of("struct B { x: u8; }\ninterface I {\n method m() -> B*;\n}"),
              "interfaces/t.idl:3: error: return type of I.m: raw pointers are not exchangeable (use RRef<T>)");
}

TEST(IdlcTest, RefusesReferences) {
    EXPECT_EQ(error_of("struct B { x: u8; }\ninterface I {\n  method m(b: B&) -> void;\n}"),
              "interfaces/t.idl:3: error: parameter b of I.m: references are not exchangeable (use 'lend RRef<T>' to "
              "lend for a call)");
    EXPECT_EQ(error_of("struct S { r: &u8; }"),
              "interfaces/t.idl:1: error: field S.r: references are not exchangeable (use 'lend RRef<T>' to lend for a "
              "call)");
}

TEST(IdlcTest, RefusesUnknownTypesAndStrings) {
    EXPECT_EQ(error_of("struct S {\n  x: Widget;\n}"), "interfaces/t.idl:2: error: field S.x: unknown type 'Widget'");
    EXPECT_EQ(error_of("interface I { method m(n: string) -> void; }"),
              "interfaces/t.idl:1: error: parameter n of I.m: strings are not exchangeable (use RRefBytes)");
    EXPECT_EQ(error_of("struct S { n: \"abc\"; }"),
              "interfaces/t.idl:1: error: field S.n: strings are not exchangeable (use RRefBytes)");
    EXPECT_EQ(error_of("interface I { method m(x: RRef<Gadget>) -> void; }"),
              "interfaces/t.idl:1: error: parameter x of I.m: unknown type 'Gadget'");
    EXPECT_EQ(error_of("interface I { method m() -> Nope; }"),
              "interfaces/t.idl:1: error: return type of I.m: unknown type 'Nope'");
}

TEST(IdlcTest, RefusesAMissingReturnType) {
    EXPECT_EQ(error_of("interface I {\n  method m(x: u32);\n}"),
              "interfaces/t.idl:2: error: method I.m has no return type (write '-> void' or '-> TYPE')");
}

TEST(IdlcTest, RefusesDuplicateNames) {
    EXPECT_EQ(error_of("struct S { x: u8; }\nenum S { A }"),
              "interfaces/t.idl:2: error: enum name 'S' is already declared at interfaces/t.idl:1");
    EXPECT_EQ(error_of("struct S {\n x: u8;\n x: u16;\n}"), "interfaces/t.idl:3: error: struct S: duplicate field 'x'");
    EXPECT_EQ(error_of("interface I {\n method m() -> void;\n method m(a: u8) -> void;\n}"),
              "interfaces/t.idl:3: error: interface I: duplicate method 'm' (no overloading)");
    EXPECT_EQ(error_of("interface I { method m(a: u8, a: u8) -> void; }"),
              "interfaces/t.idl:1: error: method I.m: duplicate parameter 'a'");
    EXPECT_EQ(error_of("enum E { A, B, A }"), "interfaces/t.idl:1: error: enum E: duplicate value name 'A'");
}

TEST(IdlcTest, RefusesStructsThatContainThemselves) {
    EXPECT_EQ(
        error_of("struct A {\n b: B;\n}\nstruct B {\n a: A[2];\n}"),
        "interfaces/t.idl:1: error: struct A contains itself by value (A -> B -> A); break the cycle with an RRef");
    EXPECT_EQ(
        error_of("struct Self { me: Self; }"),
        "interfaces/t.idl:1: error: struct Self contains itself by value (Self -> Self); break the cycle with an RRef");
    EXPECT_TRUE(compile("struct List { next: RRef<List>; v: u8; }").ok);
}

TEST(IdlcTest, RefusesTypesInTheWrongPlace) {
    EXPECT_EQ(error_of("struct S { h: RRef<u8>; }\ninterface I { method m(s: S) -> void; }"),
              "interfaces/t.idl:2: error: parameter s of I.m: struct S contains handles and cannot be passed by value "
              "(pass RRef<S>)");
    EXPECT_EQ(error_of("interface I { method m(a: u8[4]) -> void; }"),
              "interfaces/t.idl:1: error: parameter a of I.m: fixed arrays cannot be passed by value (put the array in "
              "a struct, or use RRefArray)");
    EXPECT_EQ(error_of("interface I { method m(a: lend u64) -> void; }"),
              "interfaces/t.idl:1: error: parameter a of I.m: only handles (RRef, RRefArray, RRefDeque, RRefBytes) can "
              "be lent");
    EXPECT_EQ(error_of("struct S { h: RRef<u8>[4]; }"),
              "interfaces/t.idl:1: error: field S.h: fixed arrays hold scalars, enums or structs (use RRefDeque<T, N> "
              "for handles)");
    EXPECT_EQ(error_of("interface I { method m() -> void; }\nstruct S { r: RRef<I>; }"),
              "interfaces/t.idl:2: error: field S.r: the target of an RRef must be a scalar, enum or struct, not an "
              "interface");
    EXPECT_EQ(
        error_of("struct S { r: RRef<RRefBytes>; }"),
        "interfaces/t.idl:1: error: field S.r: the target of an RRef must be a scalar, enum or struct, not RRefBytes");
    EXPECT_EQ(error_of("struct S { a: u8[0]; }"), "interfaces/t.idl:1: error: field S.a: a length must be at least 1");
    EXPECT_EQ(error_of("struct S { a: void; }"), "interfaces/t.idl:1: error: field S.a: void is only a return type");
    EXPECT_EQ(error_of("struct S { }"), "interfaces/t.idl:1: error: struct S has no fields");
    EXPECT_EQ(error_of("enum E : u8 { A = 256 }"),
              "interfaces/t.idl:1: error: enum E: value A = 256 does not fit in u8");
    EXPECT_EQ(error_of("struct S { big: u8[16777216]; more: u8[16777216]; }"),
              "interfaces/t.idl:1: error: struct S is larger than 16 MiB at field more");
}

TEST(IdlcTest, RefusesWhatIsNotInTheGrammar) {
    EXPECT_EQ(error_of("class C {}"),
              "interfaces/t.idl:1: error: expected 'import', 'enum', 'struct' or 'interface', found 'class'");
    EXPECT_EQ(error_of("struct S { x: u8 }"), "interfaces/t.idl:1: error: expected ';' after field S.x, found '}'");
    EXPECT_EQ(
        error_of("struct S { class: u8; }"),
        "interfaces/t.idl:1: error: field name 'class' is reserved (a keyword or a name the generated code uses)");
    EXPECT_EQ(error_of("interface I { method m() -> void [fast]; }"),
              "interfaces/t.idl:1: error: method I.m: unknown attribute 'fast' (known: retry)");
    EXPECT_EQ(error_of("struct S { x: u8; } $"), "interfaces/t.idl:1: error: unexpected character '$'");
    EXPECT_EQ(error_of("interface I { method m(lamina_d: u8) -> void; }"),
              "interfaces/t.idl:1: error: parameter name 'lamina_d' is reserved (a keyword or a name the generated "
              "code uses)");
    EXPECT_EQ(error_of("struct S {\n x: u8;"), "interfaces/t.idl:2: error: struct S is not closed");
    EXPECT_EQ(error_of("interface I { method m() -> void []; }"),
              "interfaces/t.idl:1: error: method I.m: unknown attribute ']' (known: retry)");
    EXPECT_EQ(error_of("interface I {\n method m() -> void;"), "interfaces/t.idl:2: error: interface I is not closed");
}

// The command line: exit status, message on stderr, nothing written on an error; and the header
// it writes for a file using every construct compiles (with the real headers, in C++20).
TEST(IdlcTest, CommandLineRefusesWithStatusAndCompilesWhatItAccepts) {
    const char* build = std::getenv("LAMINA_BUILD_DIR");
    std::string idlc = std::string(build ? build : "build") + "/tools/idlc";
    if (access(idlc.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << idlc << " (run from the source tree after ninja)";
    char dir[] = "/tmp/idlc_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string d = dir;
    auto write = [&](const std::string& name, const std::string& text) { std::ofstream(d + "/" + name) << text; };
    auto read = [&](const std::string& name) {
        std::ifstream in(d + "/" + name);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    };
    write("bad.idl", "struct S {\n  p: u8*;\n}\n");
    int status = std::system((idlc + " -o " + d + "/bad.h " + d + "/bad.idl 2>" + d + "/err").c_str());
    EXPECT_EQ(WEXITSTATUS(status), 1);
    EXPECT_EQ(read("err"), d + "/bad.idl:2: error: field S.p: raw pointers are not exchangeable (use RRef<T>)\n");
    EXPECT_NE(access((d + "/bad.h").c_str(), F_OK), 0);

    mkdir((d + "/interfaces").c_str(), 0755);
    write("interfaces/types.idl",
          "enum Kind : u16 { A, B = 7 }\nstruct BlockBuf { data: u8[4096]; len: u32; kind: Kind; }\n");
    write("interfaces/full.idl", R"(
        import types;
        struct Node { value: i64; next: RRef<Node>; flags: bool[3]; }
        struct Ring { bufs: RRefDeque<BlockBuf, 8>; blocks: RRefArray<u64, 16>; raw: RRefBytes; owner: Block; nodes: Node[2]; }
        interface Block {
            method read(lba: u64, buf: RRef<BlockBuf>) -> RRef<BlockBuf> [retry];
            method write(lba: u64, buf: lend RRef<BlockBuf>, bytes: lend RRefBytes) -> Result<void>;
            method ring(r: RRef<Ring>, kind: Kind, peer: Block) -> RRefArray<u64, 16>;
            method deque(q: RRefDeque<Node, 2>) -> RRefDeque<Node, 2> [retry];
        }
    )");
    ASSERT_EQ(std::system((idlc + " -o " + d + "/interfaces/types.h " + d + "/interfaces/types.idl").c_str()), 0);
    ASSERT_EQ(
        std::system((idlc + " -o " + d + "/interfaces/full.h --depfile " + d + "/full.d " + d + "/interfaces/full.idl")
                        .c_str()),
        0);
    EXPECT_EQ(read("full.d"), d + "/interfaces/full.h: " + d + "/interfaces/types.idl\n");
    write("use.cpp",
          "#include \"interfaces/full.h\"\nlamina::idl::BlockShadow* s;\nlamina::idl::BlockProxy* p;\n"
          "template class lamina::RRefDeque<lamina::idl::Node, 2>;\n");
    EXPECT_EQ(
        std::system(("g++ -std=c++20 -Wall -Wextra -Werror -Wno-missing-field-initializers -fsyntax-only -Iinclude -I" +
                     d + " " + d + "/use.cpp")
                        .c_str()),
        0);
    std::system(("rm -rf " + d).c_str());
}

}  // namespace
