// The kernel's table of interfaces that domains may import (capability `interface_lookup`).
//
// The kernel decides what an importer gets: it provides, under the interface's name, the
// object importers call — normally a proxy or shadow the kernel built around the exporting
// domain's published object (see find_export), so that every call into the exporter crosses a
// proxy: liveness check, ownership moves, continuation, fault containment, recovery. A domain
// can only look up names its manifest lists under `imports`; the object stays valid while it is
// provided (a shadow keeps its address across restarts of the exporter, which is why importers
// hold shadows, not the exporter's own object).
#pragma once

#include <stddef.h>

#include <lamina/result.h>

namespace lamina::domain {

struct Domain;

// Makes `object` what importers of `name` get. Exist if the name is already provided, Inval for
// an empty or too long name, NoSpc when the table is full.
Result<void> provide_interface(const char* name, void* object);
// Stops providing `name` (later lookups fail with NoEnt; importers that already hold the object
// must be stopped first). NoEnt if it was not provided.
Result<void> withdraw_interface(const char* name);
// What `importer` (nullptr: the kernel) gets for `name`: Perm unless the importer's manifest
// imports it, NoEnt while nobody provides it.
Result<void*> lookup_interface(const Domain* importer, const char* name, size_t len);

}  // namespace lamina::domain
