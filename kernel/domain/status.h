// lamina:portable
// What the domain manager tells about a domain (domain::list), and what /proc/domains shows
// (procfs formats it: kernel/posix/fs/procfs.cpp). Portable so that procfs's host tests can
// format it too.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/domain/loader/manifest.h"

namespace lamina::domain {

enum class State : uint32_t { Created, Running, Failed, Dead };

struct Counters {
    uint64_t calls_in = 0;   // calls that entered the domain
    uint64_t calls_out = 0;  // calls it made into other domains
    uint64_t faults = 0;
    uint64_t heap_pages = 0;  // private-heap pages now held
    uint64_t image_pages = 0;
    uint64_t restarts = 0;  // set by whoever re-creates the domain (a shadow)
    uint64_t updates = 0;   // live updates to a new package (domctl update), carried like restarts
};

struct Status {
    uint32_t id = 0;
    char name[Manifest::MAX_NAME + 1] = {};
    State state = State::Created;
    uint16_t version_major = 0;  // the package's manifest version
    uint16_t version_minor = 0;
    bool restarting = false;  // its Recovery is replacing it
    Counters counters;
    size_t exchange_objects = 0;
    size_t threads = 0;  // its own (thread_create)
    uint32_t threads_inside = 0;
};

}  // namespace lamina::domain
