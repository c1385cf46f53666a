// The type ids idlc writes into generated headers. The hash, the built-in ids and the formulas
// for array and deque storage are include/lamina/type_id.h's, shared with rref.h; what idlc adds
// is the canonical layout text that is hashed for a declared type:
//   enum NAME:UNDERLYING{VALUE=N;...}
//   struct NAME{FIELD:TYPE;...}   where TYPE is the IDL spelling (u8[4], RRef<Node>, ...) and an
//                                 embedded struct (by value or in an array) adds #ITS_ID
// so that changing a layout anywhere below a struct changes its id.
#pragma once

#include <string>

#include "tools/idlc/idl.h"

namespace idlc {

// The IDL spelling of a resolved type, as it appears in layout texts.
std::string layout_spelling(const Type& t);

TypeId enum_type_id(const EnumDecl& e);
// Every struct embedded by value must have its id already (the checker's layout order).
TypeId struct_type_id(const StructDecl& s);

// The id of a scalar, enum or struct type.
TypeId value_type_id(const Type& t);
// The id of the heap object a handle (RRef, RRefArray, RRefDeque, RRefBytes) points to.
TypeId handle_target_id(const Type& t);

// An interface's: the hash of
//   interface NAME{METHOD(PARAM:TYPE,...)->TYPE[retry];...}
// where each TYPE is its IDL spelling (lend parameters as &TYPE) followed by #ID for a struct,
// an enum or a handle's target, so that a change to a method, a parameter or any type it
// passes changes the id. Interface-typed parameters add their name only (interfaces may refer
// to each other). Live update compares these ids (kernel/domain/update.h).
TypeId interface_type_id(const InterfaceDecl& in);

}  // namespace idlc
