// idlc's parser: tokens to a Module. It checks the syntax, names (no keywords or names the
// generated code uses; no duplicate fields, methods, parameters or enum values) and the shape of
// types that C++ habits get wrong (pointers, references, strings); it does not resolve names
// to declarations (the checker does). The grammar (interfaces/README.md has the examples):
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
#pragma once

#include <vector>

#include "tools/idlc/idl.h"
#include "tools/idlc/lexer.h"

namespace idlc {

// Appends the declarations of `tokens` (lexed from module.path) to `module`. Throws
// CompileError at the first error.
void parse(const std::vector<Token>& tokens, Module& module);

}  // namespace idlc
