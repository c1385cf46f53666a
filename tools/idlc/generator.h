// idlc's generator: a checked Module to the C++ header that kernel, domains and host tests
// include as "interfaces/NAME.h". In order:
//   - the enums and forward declarations of the structs and interfaces;
//   - the type tables (ExchangeTraits<T>: id, size, alignment, fields, handle offsets);
//   - the structs, with static_asserts that the compiler lays them out as the checker did;
//   - NAME_types[], the module's types for the exchange heap's registry;
//   - per interface I: the abstract class I, and (outside LAMINA_DOMAIN builds) the proxy
//     IProxy and the shadow IShadow.
// The code comes from the templates at the top of generator.cpp; docs/idl.md explains what the
// proxy and shadow do with each kind of parameter.
#pragma once

#include <string>

#include "tools/idlc/idl.h"

namespace idlc {

// `m` must have been checked (Checker::check), as must every module it imports.
std::string generate(const Module& m);

}  // namespace idlc
