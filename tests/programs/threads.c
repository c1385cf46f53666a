// Threads: pthread create/join, a mutex and condition variable shared by 8 threads, thread ids,
// pthread_kill and process-directed signals with per-thread masks, sigwait in one thread,
// detached threads, thread-local storage, exit and faults from a non-main thread, pthread_exit
// from main, execve from a thread, and the futex operations condition variables and robust
// mutexes are built on (requeue, wake-op, absolute timeouts, owner death).
#define _GNU_SOURCE
#include <dirent.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "proc_test.h"

static long futex(atomic_int* word, int op, int val, const void* timeout_or_val2, atomic_int* word2, int val3) {
    return syscall(SYS_futex, word, op, val, timeout_or_val2, word2, val3);
}

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

// --- create, join, ids, thread-local storage ---------------------------------------------------

static __thread int tls_value = 7;

static void* square(void* arg) {
    long n = (long)arg;
    CHECK(tls_value == 7);  // each thread starts with the initial value
    tls_value = (int)n;
    sched_yield();
    CHECK(tls_value == (int)n);
    CHECK(getpid() != gettid_());
    return (void*)(n * n);
}

static void test_create_join(void) {
    pthread_t t[4];
    for (long i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, square, (void*)(i + 10)) == 0);
    long sum = 0;
    for (int i = 0; i < 4; i++) {
        void* r;
        CHECK(pthread_join(t[i], &r) == 0);
        sum += (long)r;
    }
    CHECK(tls_value == 7);
    CHECK(getpid() == gettid_());
    printf("joined 4 threads: sum of squares %ld\n", sum);
}

// --- mutex and condition variable across 8 threads -------------------------------------------

enum { WORKERS = 8, ROUNDS = 50, INCREMENTS = 200 };
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t round_changed = PTHREAD_COND_INITIALIZER, worker_done = PTHREAD_COND_INITIALIZER;
static long counter;
static int round_no, finished_in_round;

// Each round: the main thread opens it (broadcast), every worker adds its increments, the last
// one tells the main thread.
static void* worker(void* arg) {
    (void)arg;
    for (int r = 1; r <= ROUNDS; r++) {
        pthread_mutex_lock(&lock);
        while (round_no < r) pthread_cond_wait(&round_changed, &lock);
        pthread_mutex_unlock(&lock);
        for (int i = 0; i < INCREMENTS; i++) {
            pthread_mutex_lock(&lock);
            counter++;
            pthread_mutex_unlock(&lock);
        }
        pthread_mutex_lock(&lock);
        if (++finished_in_round == WORKERS) pthread_cond_signal(&worker_done);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void test_mutex_condvar(void) {
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++) CHECK(pthread_create(&t[i], NULL, worker, NULL) == 0);
    for (int r = 1; r <= ROUNDS; r++) {
        pthread_mutex_lock(&lock);
        finished_in_round = 0;
        round_no = r;
        pthread_cond_broadcast(&round_changed);
        while (finished_in_round < WORKERS) pthread_cond_wait(&worker_done, &lock);
        CHECK(counter == (long)r * WORKERS * INCREMENTS);
        pthread_mutex_unlock(&lock);
    }
    for (int i = 0; i < WORKERS; i++) CHECK(pthread_join(t[i], NULL) == 0);
    printf("8 threads, %d rounds: counter %ld\n", ROUNDS, counter);
}

// --- signals: pthread_kill, process-directed signals, sigwait ---------------------------------

static _Atomic pthread_t handled_by;
static atomic_int handled;

static void on_usr1(int sig) {
    (void)sig;
    handled_by = pthread_self();
    handled++;
}

static sem_t target_ready, target_go;

static void* signal_target(void* arg) {
    (void)arg;
    sem_post(&target_ready);
    while (!handled) sem_wait(&target_go);  // the handler interrupts the wait; musl retries it
    return NULL;
}

static void* sigwaiter(void* arg) {
    sigset_t* set = arg;
    int sig = 0;
    CHECK(sigwait(set, &sig) == 0);
    return (void*)(long)sig;
}

static void* blocks_usr2_then_waits(void* arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    sem_post(&target_ready);
    sem_wait(&target_go);
    return NULL;
}

static void test_signals(void) {
    sem_init(&target_ready, 0, 0);
    sem_init(&target_go, 0, 0);
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);

    // pthread_kill reaches that thread and no other.
    pthread_t t;
    CHECK(pthread_create(&t, NULL, signal_target, NULL) == 0);
    sem_wait(&target_ready);
    CHECK(pthread_kill(t, SIGUSR1) == 0);
    sem_post(&target_go);
    CHECK(pthread_join(t, NULL) == 0);
    printf("pthread_kill: handled %d time(s), in the target thread: %s\n", (int)handled,
           pthread_equal(handled_by, t) ? "yes" : "no");

    // A process-directed signal goes to a thread that does not block it: the main thread blocks
    // SIGUSR1, the other thread sigwaits for it.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);  // inherited by the new thread
    CHECK(pthread_create(&t, NULL, sigwaiter, &set) == 0);
    kill(getpid(), SIGUSR1);
    void* got;
    CHECK(pthread_join(t, &got) == 0);
    printf("sigwait in a thread took signal %ld\n", (long)got);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    // The mask is per thread: a thread that blocks SIGUSR2 does not see it in its mask's owner.
    CHECK(pthread_create(&t, NULL, blocks_usr2_then_waits, NULL) == 0);
    sem_wait(&target_ready);
    sigset_t mine;
    pthread_sigmask(SIG_BLOCK, NULL, &mine);
    printf("main blocks SIGUSR2 after another thread did: %s\n", sigismember(&mine, SIGUSR2) ? "yes" : "no");
    sem_post(&target_go);
    CHECK(pthread_join(t, NULL) == 0);

    // Signal 0 checks for a thread; a joined thread's id is gone.
    CHECK(syscall(SYS_tgkill, getpid(), gettid_(), 0) == 0);
    CHECK(syscall(SYS_tgkill, getpid() + 100000, gettid_(), 0) == -1 && errno == ESRCH);
    signal(SIGUSR1, SIG_DFL);
}

// --- /proc/self/task and the Threads line ------------------------------------------------------

static void* wait_for_go(void* arg) {
    sem_wait(arg);
    return NULL;
}

static int count_tasks(void) {
    DIR* d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent* e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static int status_threads(void) {
    FILE* f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[128];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    fclose(f);
    return n;
}

static void test_proc(void) {
    sem_t go;
    sem_init(&go, 0, 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, wait_for_go, &go) == 0);
    printf("with 2 more threads: /proc/self/task has %d, status says %d\n", count_tasks(), status_threads());
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)gettid_());
    CHECK(access(path, R_OK) == 0);
    for (int i = 0; i < 2; i++) sem_post(&go);
    for (int i = 0; i < 2; i++) CHECK(pthread_join(t[i], NULL) == 0);
    // A joined thread may still be on its way out of the kernel (on Linux too): wait for it.
    int left = count_tasks();
    for (int tries = 0; left != 1 && tries < 5000; tries++) {
        usleep(1000);
        left = count_tasks();
    }
    printf("after joining them: /proc/self/task has %d\n", left);
}

// --- detached threads ---------------------------------------------------------------------------

static atomic_int detached_ran;
static sem_t detached_done;

static void* detached(void* arg) {
    (void)arg;
    detached_ran++;
    sem_post(&detached_done);
    return NULL;
}

static void test_detached(void) {
    sem_init(&detached_done, 0, 0);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < 16; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, &a, detached, NULL) == 0);
    }
    for (int i = 0; i < 16; i++) sem_wait(&detached_done);
    printf("16 detached threads ran: %d\n", (int)detached_ran);
}

// --- futex operations ---------------------------------------------------------------------------

static atomic_int f1, f2, go;

static void* futex_waiter(void* arg) {
    (void)arg;
    while (!go) futex(&f1, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

static void* wake_op_waiter(void* arg) {
    (void)arg;
    while (f2 == 12) futex(&f2, FUTEX_WAIT_PRIVATE, 12, NULL, NULL, 0);
    return NULL;
}

static long elapsed_ms(const struct timespec* a, const struct timespec* b) {
    return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

static void test_futex(void) {
    // CMP_REQUEUE moves both waiters from f1 to f2 (retried until both are queued), then one
    // wake on f2 finds both.
    pthread_t t[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, futex_waiter, NULL) == 0);
    int moved = 0;
    for (int tries = 0; moved < 2 && tries < 20000; tries++) {
        long r = futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void*)(long)INT32_MAX, &f2, 0);
        CHECK(r >= 0);
        if (r > 0) moved += (int)r;
        if (moved < 2) usleep(1000);
    }
    CHECK(futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void*)1L, &f2, 5) == -1 && errno == EAGAIN);
    go = 1;
    long woken = futex(&f2, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    for (int i = 0; i < 2; i++) CHECK(pthread_join(t[i], NULL) == 0);
    printf("requeued %d waiters, woke %ld on the second word\n", moved, woken);

    // WAKE_OP: the operation on the second word, then the comparison of its old value.
    f2 = 7;
    CHECK(futex(&f1, FUTEX_WAKE_OP_PRIVATE, 1, (void*)1L, &f2, FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 7)) == 0);
    printf("wake_op add 5 to 7: %d\n", (int)f2);
    // With a waiter on the second word: ADD 0 keeps the word, whose old value passes the test,
    // so one waiter there is woken (retried until the waiter has queued).
    CHECK(pthread_create(&t[0], NULL, wake_op_waiter, NULL) == 0);
    long r = 0;
    for (int tries = 0; r == 0 && tries < 20000; tries++) {
        r = futex(&f1, FUTEX_WAKE_OP_PRIVATE, 0, (void*)1L, &f2, FUTEX_OP(FUTEX_OP_ADD, 0, FUTEX_OP_CMP_EQ, 12));
        if (r == 0) usleep(1000);
    }
    f2 = 13;
    futex(&f2, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    CHECK(pthread_join(t[0], NULL) == 0);
    printf("wake_op woke %ld waiter\n", r);

    // WAIT_BITSET's timeout is absolute, on either clock.
    struct timespec start, end, deadline;
    clock_gettime(CLOCK_MONOTONIC, &start);
    deadline = start;
    deadline.tv_nsec += 50 * 1000000;
    if (deadline.tv_nsec >= 1000000000) deadline.tv_sec++, deadline.tv_nsec -= 1000000000;
    long w = futex(&f1, FUTEX_WAIT_BITSET_PRIVATE, f1, &deadline, NULL, FUTEX_BITSET_MATCH_ANY);
    int e = errno;
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("wait_bitset (monotonic): %s, waited at least 50 ms: %s\n", w == -1 && e == ETIMEDOUT ? "timed out" : "?",
           elapsed_ms(&start, &end) >= 49 ? "yes" : "no");
    clock_gettime(CLOCK_REALTIME, &deadline);
    clock_gettime(CLOCK_MONOTONIC, &start);
    deadline.tv_nsec += 50 * 1000000;
    if (deadline.tv_nsec >= 1000000000) deadline.tv_sec++, deadline.tv_nsec -= 1000000000;
    w = futex(&f1, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, f1, &deadline, NULL, FUTEX_BITSET_MATCH_ANY);
    e = errno;
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("wait_bitset (realtime): %s, waited at least 50 ms: %s\n", w == -1 && e == ETIMEDOUT ? "timed out" : "?",
           elapsed_ms(&start, &end) >= 49 ? "yes" : "no");
    CHECK(futex(&f1, FUTEX_WAIT_BITSET_PRIVATE, f1, NULL, NULL, 0) == -1 && errno == EINVAL);
    CHECK(futex(&f1, FUTEX_WAIT_PRIVATE, f1 + 1, NULL, NULL, 0) == -1 && errno == EAGAIN);
}

// --- robust mutexes: the owner dies holding one ----------------------------------------------

static pthread_mutex_t robust;

static void* lock_and_die(void* arg) {
    (void)arg;
    pthread_mutex_lock(&robust);
    return NULL;  // ends holding it
}

static void test_robust(void) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&robust, &a);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, lock_and_die, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    int r = pthread_mutex_lock(&robust);
    printf("robust mutex after its owner ended: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : strerror(r));
    if (r == EOWNERDEAD) {
        pthread_mutex_consistent(&robust);
        pthread_mutex_unlock(&robust);
    }
}

// --- how a process with threads ends ------------------------------------------------------------

static void* exit_from_thread(void* arg) {
    (void)arg;
    exit(5);
    return NULL;
}

static volatile int* volatile null_pointer;

static void* fault_in_thread(void* arg) {
    (void)arg;
    *null_pointer = 1;
    return NULL;
}

static void* outlive_main(void* arg) {
    (void)arg;
    usleep(20000);
    printf("a thread outlived main (getpid unchanged: %s)\n", getpid() == (pid_t)(long)arg ? "yes" : "no");
    return NULL;  // the last thread: the process ends with 0
}

static char self_path[600];

static void* exec_from_thread(void* arg) {
    (void)arg;
    char* av[] = {"threads", "after-exec", NULL};
    execv(self_path, av);
    return NULL;
}

static void* sleep_forever(void* arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

// Runs body in a child process and prints how the child ended.
static void in_child(const char* what, void (*body)(void)) {
    pid_t pid = fork();
    if (pid == 0) {
        body();
        _exit(99);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    printf("%s: %s\n", what, describe(st));
}

// A thread that sleeps, one that runs `second`, and the main thread pausing: the process ends
// only as `second` makes it.
static void sleeper_and(void* (*second)(void*)) {
    pthread_t t, s;
    pthread_create(&s, NULL, sleep_forever, NULL);
    pthread_create(&t, NULL, second, NULL);
    for (;;) pause();
}

static void child_exit_from_thread(void) { sleeper_and(exit_from_thread); }
static void child_fault_in_thread(void) { sleeper_and(fault_in_thread); }
static void child_exec_from_thread(void) { sleeper_and(exec_from_thread); }

// In a fresh program: musl registers its thread-list lock with set_tid_address only at start,
// so a forked child's main thread could not leave without keeping that lock.
static void main_exits_first(void) {
    pthread_t t;
    pthread_create(&t, NULL, outlive_main, (void*)(long)getpid());
    pthread_exit(NULL);
}

static void child_main_exits_first(void) {
    char* av[] = {"threads", "main-exits-first", NULL};
    execv(self_path, av);
}

// SIGSTOP stops every thread: a counting thread's counter (in memory shared with the parent)
// stands still until SIGCONT.
static volatile long* shared_count;

static void* count_forever(void* arg) {
    (void)arg;
    for (;;) shared_count[0]++;
    return NULL;
}

static long settle_and_read(void) {
    usleep(50000);
    return shared_count[0];
}

static void test_stop_continue(void) {
    shared_count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(shared_count != MAP_FAILED);
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t t;
        pthread_create(&t, NULL, count_forever, NULL);
        for (;;) pause();
    }
    while (shared_count[0] == 0) usleep(1000);
    int st;
    kill(pid, SIGSTOP);
    CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st));
    // The other thread stops on its next way through the kernel (a tick at most): wait for
    // the counter to settle, then check it stays put.
    long a = settle_and_read(), b = settle_and_read();
    for (int tries = 0; a != b && tries < 100; tries++) a = b, b = settle_and_read();
    for (int i = 0; i < 4; i++) b = settle_and_read();
    printf("stopped: the counting thread stands still: %s\n", a == b ? "yes" : "no");
    kill(pid, SIGCONT);
    long c = settle_and_read();
    for (int tries = 0; c == b && tries < 100; tries++) c = settle_and_read();
    printf("continued: it counts again: %s\n", c != b ? "yes" : "no");
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &st, 0) == pid);
    printf("then SIGKILL: %s\n", describe(st));
    munmap((void*)shared_count, 4096);
}

static void test_endings(void) {
    no_core();
    in_child("exit(5) from a thread", child_exit_from_thread);
    in_child("a fault in one thread", child_fault_in_thread);
    in_child("pthread_exit from main", child_main_exits_first);
    in_child("execve from a thread", child_exec_from_thread);
}

int main(int argc, char** argv) {
    unbuffered();
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
        // The exec'd program: one thread, whose id is the process's.
        printf("after exec: tid is the pid: %s\n", gettid_() == getpid() ? "yes" : "no");
        return 3;
    }
    if (argc > 1 && strcmp(argv[1], "main-exits-first") == 0) main_exits_first();
    find_program_dir();
    snprintf(self_path, sizeof self_path, "%s/threads", program_dir);
    test_create_join();
    test_mutex_condvar();
    test_signals();
    test_proc();
    test_detached();
    test_futex();
    test_robust();
    test_stop_continue();
    test_endings();
    return finish();
}
