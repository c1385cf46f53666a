// lamina:portable
// The manifest of a domain package: what the domain is, what it offers and needs, and how the
// kernel restarts it. Written by hand beside the domain's sources (domains/.../manifest) and
// carried inside its .dom package.
//
// Format: UTF-8-free ASCII text, one directive per line, words separated by spaces or tabs.
// Blank lines and lines whose first word starts with '#' are ignored. Lines are at most 200
// characters. Directives:
//
//   name NAME                 required, once. [a-z][a-z0-9_-]*, at most 31 characters.
//   version MAJOR.MINOR       required, once. Decimal, each part 0..65535.
//   exports INTERFACE         an interface the domain implements (any number, up to 16).
//   imports INTERFACE         an interface the domain calls (any number, up to 16).
//                             INTERFACE: [a-z][a-z0-9_.]*, at most 63 characters, no "..",
//                             not ending in '.'.
//   device VVVV:DDDD          a PCI vendor:device (4 hex digits each) the domain may claim
//                             (up to 8).
//   restart POLICY [max=N] [window=T]
//                             once at most; POLICY is never, on-failure or always. max (1..1000)
//                             and window (1s..1d, written Ns, Nm or Nh) only with on-failure
//                             or always: give up after N restarts within T. Defaults: never;
//                             max=5 window=60s.
//
// Anything else (an unknown directive, a repeated one, a missing or extra word, a bad value) is
// an error that names the line and the reason.
//
// Example:
//   name fs
//   version 1.0
//   exports block
//   imports nvme.block
//   device 1b36:0010
//   restart always max=10 window=60s
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/domain/loader/load_error.h"

namespace lamina::domain {

enum class RestartPolicy : uint8_t { Never, OnFailure, Always };

struct Manifest {
    static constexpr size_t MAX_NAME = 31;
    static constexpr size_t MAX_INTERFACE_NAME = 63;
    static constexpr size_t MAX_INTERFACES = 16;
    static constexpr size_t MAX_DEVICES = 8;
    static constexpr size_t MAX_LINE = 200;

    struct PciId {
        uint16_t vendor;
        uint16_t device;
    };

    char name[MAX_NAME + 1] = {};
    uint16_t version_major = 0;
    uint16_t version_minor = 0;
    char exports[MAX_INTERFACES][MAX_INTERFACE_NAME + 1] = {};
    size_t export_count = 0;
    char imports[MAX_INTERFACES][MAX_INTERFACE_NAME + 1] = {};
    size_t import_count = 0;
    PciId devices[MAX_DEVICES] = {};
    size_t device_count = 0;
    RestartPolicy restart = RestartPolicy::Never;
    uint32_t restart_max = 5;
    uint32_t restart_window_s = 60;
};

// Parses `size` bytes of manifest text (no NUL terminator needed; a NUL byte is an error).
Result<void> parse_manifest(const char* text, size_t size, Manifest& out, LoadError& err);

const char* restart_policy_name(RestartPolicy p);

}  // namespace lamina::domain
