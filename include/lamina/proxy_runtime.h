// lamina:portable
// The proxy runtime: what the proxies and shadows that idlc generates (build/gen/interfaces/*.h)
// need from their environment, and nothing more.
//
// A proxy call, in order (see the generated code; each step is a call below):
//   1. is_alive(callee)               else DomainError::Dead (or Restarting), callee not entered
//   2. move_rref for each by-value handle argument, caller -> callee
//      lend_rref for each `lend` (const RRef&) argument, caller -> callee
//      (an object the caller may not move or lend: ownership_violation(caller), Errno::Perm)
//   3. call_into(callee, thunk, frame) records a continuation on the thread's domain-call stack,
//      makes callee the thread's current domain, runs thunk(frame) (which calls the real
//      method), and restores both. If the callee faults, the environment unwinds to that
//      continuation and call_into returns DomainError::Faulted; the callee's frames are
//      discarded without running destructors.
//   4. end_loan for each lent argument (also after a fault).
//      After a fault: rescue_rref gives by-value arguments the dead callee still owns back to
//      the caller, so a shadow can retry with them (into the caller's handle if the callee had
//      taken it; a callee that failed before its code ran left the handle full); the proxy
//      returns DomainError::Faulted (or Dead).
//      After a return: move_rref for each returned handle, callee -> caller (a handle the
//      callee does not own: ownership_violation(callee), Faulted).
//
// Environments: the kernel (next to its domain manager; the unwinder must let every thread
// leave the failed domain through its proxies — step 4 — before the domain's exchange-heap
// objects are reclaimed), and the host tests (tests/unit/host_domains.cpp), which simulate
// domains, the call stack and faults.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <new>
#include <utility>

#include <lamina/result.h>
#include <lamina/rref.h>

namespace lamina {

// The only constructor of DomainError values (see Error). Domains never include this header.
struct DomainErrorFactory {
    static constexpr Error make(DomainError e) { return Error(Errno::IO, e); }
};

namespace proxy_rt {

enum class DomainState : uint32_t { Running = 0, Failed = 1, Dead = 2, Restarting = 3 };

// A domain as proxies see it. The environment owns these records and keeps each one until no
// proxy refers to it; only the state changes while proxies hold it.
struct DomainRecord {
    DomainId id;
    uint32_t state;  // DomainState; read and written atomically
};

inline DomainState state_of(const DomainRecord& d) {
    return static_cast<DomainState>(__atomic_load_n(&d.state, __ATOMIC_ACQUIRE));
}
inline bool is_alive(const DomainRecord& d) { return state_of(d) == DomainState::Running; }
inline Error domain_error(DomainError e) { return DomainErrorFactory::make(e); }
// Why a call could not enter d.
inline Error unavailable(const DomainRecord& d) {
    return domain_error(state_of(d) == DomainState::Restarting ? DomainError::Restarting : DomainError::Dead);
}

using Thunk = void (*)(void* frame);

// ---- provided by the environment ----------------------------------------------------------
DomainId current_domain();
// Steps 3 above. Returns None or Faulted (or Dead if the callee died between the check and the
// entry).
DomainError call_into(DomainRecord& callee, Thunk thunk, void* frame);
// Exchange-heap operations with the contract of ExchangeHeap (kernel/domain/exchange_heap.h);
// move_rref is its transfer_typed (the handle's type must match the object's).
Result<void> move_rref(void* object, TypeId type, DomainId from, DomainId to);
Result<DomainId> lend_rref(const void* object, DomainId lender, DomainId borrower);
void end_loan(const void* object, DomainId borrower, DomainId previous);
// True if object is live, of type `type` and owned by `from`: then it now belongs to `to`.
bool rescue_rref(void* object, TypeId type, DomainId from, DomainId to);
// A domain broke the ownership rules (moved, lent or returned an object it did not own). The
// kernel fails that domain; when it is the current one this does not return.
void ownership_violation(DomainId culprit, Error error);

// ---- helpers for generated code ------------------------------------------------------------

// Storage for a Result the callee may never produce (when it faults).
template <typename T>
class Slot {
public:
    Slot() {}  // user-provided: a value-initialized frame leaves the storage alone
    Slot(const Slot&) = delete;
    ~Slot() {
        if (full_) get().~T();
    }
    template <typename U>
    void emplace(U&& v) {
        new (storage_) T(std::forward<U>(v));
        full_ = true;
    }
    T& get() { return *std::launder(reinterpret_cast<T*>(storage_)); }
    bool full() const { return full_; }
    // Forgets the value without destroying it: what a callee that failed before its call got
    // back returned is not the caller's. Its handles name objects the dead domain owns (freed
    // when it is reclaimed) or arguments the proxy has just rescued for a retry, which
    // destroying it here would free under the caller. Results hold nothing else to destroy.
    void abandon() { full_ = false; }

private:
    alignas(T) unsigned char storage_[sizeof(T)];
    bool full_ = false;
};

// How generated code sees each kind of handle: the heap object's type, its address, taking a
// handle over (after a rescue) and dropping one without freeing (when it is not ours to free).
template <typename H>
struct HandleTraits;
template <typename T>
struct HandleTraits<RRef<T>> {
    static constexpr TypeId type = ExchangeTraits<T>::id;
    static void* raw(const RRef<T>& h) { return h.raw(); }
    static void adopt(RRef<T>& h, void* p) { h = RRef<T>::adopt(static_cast<T*>(p)); }
    static void leak(RRef<T>& h) { (void)h.leak(); }
};
template <typename T, uint32_t N>
struct HandleTraits<RRefArray<T, N>> : HandleTraits<RRef<ExchangeArray<T, N>>> {
    using Base = HandleTraits<RRef<ExchangeArray<T, N>>>;
    static void* raw(const RRefArray<T, N>& h) { return h.raw(); }
    static void adopt(RRefArray<T, N>& h, void* p) { Base::adopt(h.handle(), p); }
    static void leak(RRefArray<T, N>& h) { Base::leak(h.handle()); }
};
template <typename T, uint32_t N>
struct HandleTraits<RRefDeque<T, N>> : HandleTraits<RRef<ExchangeDequeStorage<T, N>>> {
    using Base = HandleTraits<RRef<ExchangeDequeStorage<T, N>>>;
    static void* raw(const RRefDeque<T, N>& h) { return h.raw(); }
    static void adopt(RRefDeque<T, N>& h, void* p) { Base::adopt(h.handle(), p); }
    static void leak(RRefDeque<T, N>& h) { Base::leak(h.handle()); }
};
template <>
struct HandleTraits<RRefBytes> {
    static constexpr TypeId type = BYTES_TYPE_ID;
    static void* raw(const RRefBytes& h) { return h.raw(); }
    static void adopt(RRefBytes& h, void* p) { h = RRefBytes::adopt(p); }
    static void leak(RRefBytes& h) { (void)h.leak(); }
};

// Recovery for a shadow: tear the failed instance down, start a fresh one, and point the
// shadow's inner proxy at it (Proxy::rebind). An error means the shadow gives up.
class ShadowRecovery {
public:
    virtual Result<void> recover(DomainError why) = 0;

protected:
    ~ShadowRecovery() = default;
};

}  // namespace proxy_rt
}  // namespace lamina
