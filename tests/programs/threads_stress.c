// Threads under load on every CPU: waves of threads racing on a mutex-protected counter, a
// condition-variable ping-pong, malloc/free of large blocks (mmap and munmap from several
// threads: TLB shoot-downs), fork from a process whose other threads keep writing (copy-on-write
// under them), and threads that end up on more than one CPU. The output is only totals.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "proc_test.h"

enum { WAVES = 10, PER_WAVE = 8, INCREMENTS = 2000, PINGS = 1000, FORKS = 20 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

// Each thread also churns big blocks, which musl gets from mmap and gives back with munmap.
static void* racer(void* arg) {
    long id = (long)arg;
    for (int i = 0; i < INCREMENTS; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
        if (i % 200 == 0) {
            size_t size = 256 * 1024 + (size_t)id * 4096;
            unsigned char* p = malloc(size);
            CHECK(p != NULL);
            if (p) {
                for (size_t k = 0; k < size; k += 4096) p[k] = (unsigned char)id;
                for (size_t k = 0; k < size; k += 4096) CHECK(p[k] == (unsigned char)id);
                free(p);
            }
        }
    }
    return NULL;
}

static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn, pings;

static void* pinger(void* arg) {
    int me = (int)(long)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (turn != me && pings < PINGS) pthread_cond_wait(&turn_changed, &lock);
        if (pings >= PINGS) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        pings++;
        turn = 1 - me;
        pthread_cond_broadcast(&turn_changed);
        pthread_mutex_unlock(&lock);
    }
}

static atomic_int stop_writers;
static volatile long shared_words[512];  // two pages the writers keep dirtying

static void* writer(void* arg) {
    long id = (long)arg;
    while (!stop_writers)
        for (int i = 0; i < 512; i += 64) shared_words[i + id] = shared_words[i + id] + 1;
    return NULL;
}

static atomic_uint cpus_seen;

static void* spinner(void* arg) {
    (void)arg;
    for (long i = 0; i < 50000000 && __builtin_popcount(cpus_seen) < 2; i++) {
        int c = sched_getcpu();
        if (c >= 0 && c < 32) cpus_seen |= 1u << c;
    }
    return NULL;
}

int main(void) {
    unbuffered();
    for (int w = 0; w < WAVES; w++) {
        pthread_t t[PER_WAVE];
        for (long i = 0; i < PER_WAVE; i++) CHECK(pthread_create(&t[i], NULL, racer, (void*)i) == 0);
        for (int i = 0; i < PER_WAVE; i++) CHECK(pthread_join(t[i], NULL) == 0);
    }
    printf("%d waves of %d threads: counter %ld\n", WAVES, PER_WAVE, counter);

    pthread_t a, b;
    CHECK(pthread_create(&a, NULL, pinger, (void*)0L) == 0);
    CHECK(pthread_create(&b, NULL, pinger, (void*)1L) == 0);
    CHECK(pthread_join(a, NULL) == 0 && pthread_join(b, NULL) == 0);
    printf("ping-pong: %d turns\n", pings);

    // Forks while two threads write: each child sees a snapshot and exits with a checksum bit.
    pthread_t wr[2];
    for (long i = 0; i < 2; i++) CHECK(pthread_create(&wr[i], NULL, writer, (void*)i) == 0);
    int children_ok = 0;
    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            long first = shared_words[0];
            usleep(2000);
            _exit(shared_words[0] == first ? 0 : 1);  // nobody writes in the child
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) children_ok++;
    }
    stop_writers = 1;
    for (int i = 0; i < 2; i++) CHECK(pthread_join(wr[i], NULL) == 0);
    printf("%d forks beside writing threads: %d children saw a steady snapshot\n", FORKS, children_ok);

    pthread_t s[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&s[i], NULL, spinner, NULL) == 0);
    for (int i = 0; i < 4; i++) CHECK(pthread_join(s[i], NULL) == 0);
    printf("threads ran on more than one CPU: %s\n", __builtin_popcount(cpus_seen) >= 2 ? "yes" : "no");
    return finish();
}
