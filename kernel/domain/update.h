// Live update of a domain (/proc/domctl `update NAME [PACKAGE]`): replaces the running instance
// of NAME by one made from a newer package without a reboot, behind the same shadow.
//
//   1. The package is read from the root file system: PACKAGE is an absolute path, or a name
//      looked up as /lib/lamina/domains/PACKAGE.dom (NAME when not given). It is validated by
//      the loader exactly as a boot module is (header, checksum, manifest, ELF) and loaded.
//   2. It must be a package of the same domain (its manifest's name is NAME) exporting the same
//      interfaces as the running instance; otherwise it is refused and nothing else happens.
//   3. Recovery::update quiesces (the service's calls lock, with a bounded wait for the calls in
//      flight), starts the new instance, hands over to it with the same replay the shadow runs
//      after a crash (remount, re-post), rebinds the shadow's proxy and destroys the old one.
//      The new instance faulting on start, or refusing the replay, leaves the old one serving.
//
// Later restarts of the updated domain (a fault, `domctl restart`) re-create it from the new
// package, which the instances share (PackageFile). /proc/domains shows version= and updates=.
#pragma once

#include <lamina/result.h>

namespace lamina::domain {

class Recovery;

inline constexpr const char* PACKAGE_DIR = "/lib/lamina/domains";
// How long an update waits for the calls in flight in the old instance to finish.
inline constexpr uint64_t UPDATE_QUIESCE_NS = 5'000'000'000ull;

// Errors: NoEnt (no such domain, no such package file), NotSup (no shadow registered for the
// domain), Inval (bad package name; a package for another domain or with other interfaces),
// what the loader refused, Busy (a restart or update is under way), TimedOut (calls in flight
// did not finish), IO (the new instance did not start), what the replay returned.
Result<void> update(const char* name, const char* package);

// The Recovery registered for the running domain `name` (control.cpp): NoEnt, Busy while it is
// being replaced, NotSup (logged, naming `op`) when no shadow restarts it.
Result<Recovery*> registered_recovery(const char* name, const char* op);

}  // namespace lamina::domain
