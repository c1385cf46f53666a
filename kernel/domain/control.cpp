// Fault injection and /proc/domctl's commands (userland/domctl/README.md, "The kernel
// contract"): making a named domain fail through its own code, and restarting one through its
// Recovery, for tests and demos. procfs hands each write to control().
#include <new>

#include <lamina/own.h>
#include <lamina/scope_guard.h>

#include "kernel/domain/internal.h"
#include "kernel/domain/recovery.h"
#include "kernel/domain/update.h"
#include <lamina/format.h>
#include "kernel/lib/log.h"
#include "kernel/sched/thread.h"

namespace lamina::domain {

namespace {

bool blank(char c) { return c == ' ' || c == '\t'; }

bool equals(const char* word, size_t len, const char* literal) {
    return __builtin_strlen(literal) == len && __builtin_memcmp(word, literal, len) == 0;
}

Result<void> restart(const char* name) {
    Recovery* recovery = TRY(registered_recovery(name, "restart"));
    return recovery->restart();
}

}  // namespace

Result<Recovery*> registered_recovery(const char* name, const char* op) {
    Domain* d = pin(name);
    if (!d) return Errno::NoEnt;
    if (__atomic_load_n(&d->restarting, __ATOMIC_ACQUIRE)) {
        unpin(d);
        return Errno::Busy;
    }
    Recovery* recovery = d->recovery;  // a word: read without the lock, the pin keeps d
    unpin(d);                          // the restart destroys d, which waits for its pins
    if (!recovery) {
        kprintf(
            "domctl: cannot %s domain %s: no shadow is registered for it (a fresh instance "
            "would have no callers)\n",
            op, name);
        return Errno::NotSup;
    }
    return recovery;
}

uint64_t inject_kind(const char* kind, size_t len) {
    static const char* const KINDS[] = {"panic", "null", "ud", "div0", "stack", "loop"};
    static_assert(LAMINA_INJECT_PANIC == 1 && LAMINA_INJECT_LOOP == 6, "KINDS follows lamina_inject_kind");
    for (size_t i = 0; i < sizeof(KINDS) / sizeof(KINDS[0]); i++)
        if (__builtin_strlen(KINDS[i]) == len && __builtin_memcmp(KINDS[i], kind, len) == 0) return i + 1;
    return 0;
}

namespace {

struct Injection {
    Domain* d;
    CallFn fn;
    uint64_t kind;
    DomainError result;
};

// On a thread of its own (a fresh, guarded stack for the stack overflow; nothing of the
// requester's to unwind): the fault ends this call, through the normal fault path.
void injection_thread(void* p) {
    auto* in = static_cast<Injection*>(p);
    uint64_t ignored = 0;
    in->result = call(in->d, in->fn, in->kind, &ignored);
    if (in->result == DomainError::None)
        kprintf("domain %s: the injected fault did not happen (its runtime does not know kind %lu)\n", in->d->name,
                (unsigned long)in->kind);
    unpin(in->d);
    if (in->kind == LAMINA_INJECT_LOOP) delete in;  // detached: nobody waits for it
}

}  // namespace

Result<void> inject_fault(const char* name, const char* kind) {
    uint64_t code = inject_kind(kind, __builtin_strlen(kind));
    if (!code) return Errno::Inval;
    Domain* d = pin(name);
    if (!d) return Errno::NoEnt;
    // Until the injection thread owns the pin.
    ScopeGuard unpin_d([&] { unpin(d); });
    if (d->get_state() != State::Running || __atomic_load_n(&d->restarting, __ATOMIC_ACQUIRE)) return Errno::Busy;
    auto fn = reinterpret_cast<CallFn>(find_export(d, LAMINA_INJECT_EXPORT));
    kprintf("domain %s (id %u): injecting a fault (%s)\n", d->name, d->id, kind);
    if (!fn || !d->contains(reinterpret_cast<uintptr_t>(fn))) {
        // Nothing of the domain's own to run (only a function in its image is ever called).
        kprintf("domain %s: no %s function in its image: marked failed without running it\n", d->name,
                LAMINA_INJECT_EXPORT);
        mark_failed(d, {FaultRecord::Cause::Injected});
        return {};
    }
    bool detached = code == LAMINA_INJECT_LOOP;
    Own<Injection> in = TRY(adopt_own_or_nomem(new (std::nothrow) Injection{d, fn, code, DomainError::None}));
    sched::ThreadOptions options;
    options.detached = detached;
    char thread_name[32];
    snformat(thread_name, sizeof(thread_name), "inject/%s", d->name);
    sched::Thread* t = TRY(sched::Thread::create(thread_name, injection_thread, in.get(), options));
    unpin_d.dismiss();  // the thread unpins
    if (detached) {
        (void)in.release();  // the thread deletes it
        return {};
    }
    (void)t->join();
    return in->result == DomainError::None ? Result<void>(Errno::IO) : Result<void>();
}

Result<void> parse_control(const char* cmd, size_t len, ControlCommand* out) {
    if (len > 0 && cmd[len - 1] == '\n') len--;
    const char* words[4];
    size_t lengths[4];
    size_t count = 0;
    for (size_t i = 0; i < len;) {
        char c = cmd[i];
        if (blank(c)) {
            i++;
            continue;
        }
        if (count == 4) return Errno::Inval;
        words[count] = cmd + i;
        size_t start = i;
        for (; i < len && !blank(cmd[i]); i++)
            if (uint8_t(cmd[i]) < 0x20 || uint8_t(cmd[i]) >= 0x7f) return Errno::Inval;  // one printable line
        lengths[count++] = i - start;
    }
    if (count < 2 || lengths[1] > Manifest::MAX_NAME) return Errno::Inval;
    if (equals(words[0], lengths[0], "inject") && count <= 3) {
        out->op = ControlCommand::Op::Inject;
        const char* kind = count == 3 ? words[2] : "panic";
        size_t kind_len = count == 3 ? lengths[2] : 5;
        if (!inject_kind(kind, kind_len)) return Errno::Inval;
        __builtin_memcpy(out->kind, kind, kind_len);
        out->kind[kind_len] = 0;
    } else if (equals(words[0], lengths[0], "restart") && count == 2) {
        out->op = ControlCommand::Op::Restart;
        out->kind[0] = 0;
    } else if (equals(words[0], lengths[0], "update") && count <= 3) {
        out->op = ControlCommand::Op::Update;
        out->kind[0] = 0;
        out->package[0] = 0;
        if (count == 3) {
            if (lengths[2] > ControlCommand::MAX_PACKAGE) return Errno::Inval;
            __builtin_memcpy(out->package, words[2], lengths[2]);
            out->package[lengths[2]] = 0;
        }
    } else {
        return Errno::Inval;
    }
    __builtin_memcpy(out->name, words[1], lengths[1]);
    out->name[lengths[1]] = 0;
    return {};
}

Result<void> control(const char* cmd, size_t len) {
    ControlCommand c;
    TRY(parse_control(cmd, len, &c));
    Result<void> r = c.op == ControlCommand::Op::Inject    ? inject_fault(c.name, c.kind)
                     : c.op == ControlCommand::Op::Restart ? restart(c.name)
                                                           : update(c.name, c.package);
    if (r.is_error())
        kprintf("domctl: %s %s: %s\n",
                c.op == ControlCommand::Op::Inject    ? "inject"
                : c.op == ControlCommand::Op::Restart ? "restart"
                                                      : "update",
                c.name, r.error().name());
    return r;
}

}  // namespace lamina::domain
