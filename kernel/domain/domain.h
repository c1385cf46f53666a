// Domains in the kernel: creating one from its boot-module package, calling into it with fault
// containment, and tearing it down so that nothing it held leaks (docs/domains.md).
//
// Lifecycle: create() validates the package and loads its image (state Created); start() runs
// its entry through a domain call (Running when the entry returns >= 0); call() runs one of its
// published functions; destroy() tears it down and frees the record.
//
// Domain calls. A thread entering a domain records a Continuation on its own stack (callee-saved
// registers, stack pointer, resume address: domain_call.S) and pushes it on its domain-call stack
// (Thread::domain_call_top). The innermost continuation's callee is the thread's current domain.
// If the domain's code takes a CPU exception, panics through its capability table, or runs longer
// than the watchdog limit without returning to the kernel, the domain is marked Failed and the
// thread resumes at the outermost continuation that entered the failed domain; that call returns
// DomainError::Faulted (TimedOut for the watchdog). Calls into a Failed or Dead domain return
// Dead without entering.
//
// What counts as "in the domain": the interrupted or faulting instruction lies in the domain's
// image. A fault in kernel code (a capability running on the domain's behalf) stays a kernel
// fault; the capabilities check what domains hand them instead.
//
// The code: docs/domains.md; kernel/domain/internal.h lists which file does what.
//
// Locking: g_domains_lock (lifecycle.cpp) guards the table of live domains and image slots;
// each Domain's Resources::lock its resource tables. Order: g_domains_lock, then a Domain's.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lamina/domain_abi.h>
#include <lamina/proxy_runtime.h>
#include <lamina/result.h>

#include "kernel/domain/loader/loader.h"
#include "kernel/domain/resources.h"
#include "kernel/domain/status.h"
#include "kernel/sync/spinlock.h"

namespace lamina::boot {
struct BootInfo;
}

namespace lamina::domain {

const char* state_name(State s);

// Kernel virtual range of domain images: one slot of DOMAIN_MAX_IMAGE bytes per live domain.
inline constexpr uintptr_t IMAGE_BASE = 0xffffd00000000000;
inline constexpr size_t IMAGE_SLOTS = 64;

// How long a domain call may run in domain code without coming back to the kernel.
inline constexpr uint64_t DEFAULT_WATCHDOG_NS = 2'000'000'000;

struct Continuation;

// Why a domain failed (the first fault only: later ones find it Failed already).
struct FaultRecord {
    enum class Cause : uint32_t { None, Panic, Exception, Watchdog, Violation, Injected };
    Cause cause = Cause::None;
    uint32_t vector = 0;   // Exception: the CPU exception vector
    uint64_t address = 0;  // Exception: the faulting instruction; for #PF, cr2 in `data`
    uint64_t data = 0;
    bool stack_overflow = false;  // a #PF in the guard page below the thread's stack
};

class Recovery;

// A package read from a file rather than a boot module (a live update, update.h): the bytes
// the loader validated, which the instance's package and image symbols point into. Shared by
// the instances made from it (restarts of the updated domain); freed with the last one.
struct PackageFile {
    uint8_t* data = nullptr;  // kmalloc'd
    size_t size = 0;
    uint32_t refs = 1;  // atomic
};
void hold(PackageFile* f);
void release(PackageFile* f);

struct Domain {
    // What proxies hold (first, so the proxy runtime finds the Domain from it). Its state
    // mirrors `state`: Restarting until started, Running, Failed, Dead. Valid until destroy():
    // a shadow rebinds its proxy to the fresh instance before destroying the failed one.
    proxy_rt::DomainRecord record = {};
    uint32_t id = 0;
    char name[Manifest::MAX_NAME + 1] = {};
    uint32_t state = uint32_t(State::Created);  // State; atomic
    unsigned slot = 0;
    ValidatedPackage package;
    PackageFile* package_file = nullptr;  // held; nullptr when the package is a boot module
    LoadedImage image;
    lamina_domain_caps caps = {};
    Counters counters;
    uint32_t threads_inside = 0;   // atomic: threads whose call stack holds this domain
    uint32_t pins = 0;             // atomic: references held outside any call (see pin())
    FaultRecord fault;             // written once, by whoever marks the domain Failed
    Recovery* recovery = nullptr;  // g_domains_lock: the shadow's recovery that restarts it (recovery.h)
    bool restarting = false;       // atomic: its recovery is replacing it (shown as "restarting")
    bool draining = false;         // atomic: replaced while healthy; new calls get Dead (recovery.cpp)

    Resources resources;  // what it holds in the kernel (resources.h)

    State get_state() const { return State(__atomic_load_n(&state, __ATOMIC_ACQUIRE)); }
    bool contains(uintptr_t addr) const { return addr >= image.base && addr - image.base < image.size; }
};

// Installs the exception and interrupt-exit hooks in front of the scheduler's (after
// sched::init); packages are looked up among info's boot modules, which must stay reserved.
void init(const boot::BootInfo& info);

// Finds the boot module of that package, validates and loads it. Errors: NoEnt (no such
// module), what the loader refused (logged with its reason), NoSpc (no image slot), NoMem.
Result<Domain*> create(const char* package_name);
// The same from a package read from a file: validated exactly as a boot module is; the domain
// holds file (a reference) while it lives. Errors as create().
Result<Domain*> create_from_file(PackageFile* file);
// A fresh instance of the package original was created from, without validating it again
// (recovery: the same package, manifest and capabilities). Errors: NoSpc, NoMem, load errors.
Result<Domain*> create_like(const Domain* original);

// Runs the domain's entry. The value is what the entry returned (>= 0: the domain is Running;
// < 0: it stays Created and the value is its -errno). A DomainError if it faulted.
Result<int64_t> start(Domain* d);

// Calls fn(arg) inside domain d on the calling thread (interrupts on, no spinlock held).
using CallFn = uint64_t (*)(uint64_t arg);
DomainError call(Domain* d, CallFn fn, uint64_t arg, uint64_t* result);
// The general form the proxy runtime uses: thunk(frame) inside d.
DomainError call_thunk(Domain* d, void (*thunk)(void*), void* frame);

// Tears d down (docs/domains.md, "Teardown") and frees the record. No thread may be inside it
// (threads inside a Failed domain have already been unwound by the time callers see the error).
void destroy(Domain* d);

// The object a domain published under name (interface_publish), or nullptr.
void* find_export(Domain* d, const char* name);

// The live domain named name, or nullptr (the record stays valid until destroy()).
Domain* find(const char* name);
// find() for callers that use the domain after the lookup, on another thread or across a
// sleep: destroy() waits until every pin is released. Release with unpin().
Domain* pin(const char* name);
void unpin(Domain* d);
// The domain the calling thread runs in (nullptr: the kernel).
Domain* current();
// For the profiler, in any context: when addr lies in a live domain's image, its image slot,
// the matching address in the domain's ELF file (run address minus the load bias) and its
// name, which stays valid only while the domain lives (copy it at once).
bool locate(uintptr_t addr, unsigned* slot, uintptr_t* elf_address, const char** name);

// Makes the named domain fail by running its own faulting code: kind is one of /proc/domctl's
// (panic, null, ud, div0, stack, loop). A kernel thread calls the domain's LAMINA_INJECT_EXPORT
// function (libdomain publishes it), which raises the fault inside the domain, so that it takes
// the normal path: logged with the exception, registers and a backtrace, the domain Failed,
// threads of other callers inside it unwound (their calls return Faulted, and a shadow in front
// recovers). Returns once the domain has failed, except for loop, which returns at once (the
// watchdog ends it later). A domain without the export (a foreign runtime) is marked Failed
// without running it. Errors: Inval (unknown kind), NoEnt (no such domain), Busy (not running:
// starting, failed already, being torn down or restarted), NoMem.
Result<void> inject_fault(const char* name, const char* kind = "panic");
// The LAMINA_INJECT_* code of a kind name, 0 if unknown.
uint64_t inject_kind(const char* kind, size_t len);

// /proc/domctl (userland/domctl/README.md): one command, `inject NAME [KIND]`, `restart NAME`
// or `update NAME [PACKAGE]` (update.h), with or without its final newline. restart goes through the domain's Recovery
// (the shadow's, so its proxy is rebound and the replay hook runs): NotSup when no Recovery is registered for it.
// Errors: Inval (malformed command, unknown kind), NoEnt (unknown domain), Busy (being restarted or not running), what
// restarting returned. Implemented in control.cpp.
Result<void> control(const char* cmd, size_t len);

struct ControlCommand {
    static constexpr size_t MAX_PACKAGE = 127;
    enum class Op { Inject, Restart, Update } op;
    char name[Manifest::MAX_NAME + 1];
    char kind[8];                   // inject: the fault kind ("panic" when not given)
    char package[MAX_PACKAGE + 1];  // update: a package name or an absolute path ("" when not given)
};
// The parser behind control(): Inval for anything but one well-formed command.
Result<void> parse_control(const char* cmd, size_t len, ControlCommand* out);

// Watchdog limit for domain calls (tests shorten it).
void set_watchdog_ns(uint64_t ns);
uint64_t watchdog_ns();

// The live domains' status, at most max of them (IMAGE_SLOTS is enough for all); the count.
size_t list(Status* out, size_t max);

// Faults contained since boot (all domains).
uint64_t fault_count();
// Full fault reports (registers, backtrace) or one line each (restart stress tests).
void set_verbose_faults(bool verbose);

// The exchange heap's objects owned by a domain (for introspection and tests), and the live
// objects in all.
size_t exchange_objects_owned_by(DomainId id);
size_t exchange_live_objects();
// Registers the type tables a generated interface header lists (NAME_types[]): count of them,
// or all up to its terminating nullptr. Registering a table again is harmless.
Result<void> exchange_register_types(const TypeInfo* const* types, size_t count);
Result<void> exchange_register_types(const TypeInfo* const* types);

}  // namespace lamina::domain
