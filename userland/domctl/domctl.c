/*
 * domctl: lists Lamina's domains and injects faults into them or restarts them.
 *
 *   domctl list                       table of the domains
 *   domctl inject NAME [KIND]         make domain NAME fault (KIND: panic, null, ud, div0, stack,
 *                                     loop; default panic)
 *   domctl restart NAME               tear domain NAME down and start a fresh instance
 *   domctl update NAME [PACKAGE]      replace domain NAME by a new version of its package, read from
 *                                     /lib/lamina/domains/PACKAGE.dom (PACKAGE: NAME by default) or
 *                                     from PACKAGE when it is an absolute path
 *
 * Exit status: 0 success, 1 failure (unknown domain, refused command, unreadable /proc), 2 usage.
 *
 * The kernel contract (userland/domctl/README.md has the full text):
 *
 * /proc/domains (read): one line per domain, fields separated by spaces or tabs, each field
 *   `key=value` with no spaces in either. Keys: id, name, state, restarts, faults, calls_in,
 *   calls_out, heap_pages, exchange_objects, threads, version, updates. Unknown keys are ignored (the kernel may
 *   add some); missing ones show as "-". Empty lines and lines starting with '#' are skipped.
 *     id=1 name=fs state=running restarts=0 faults=0 calls_in=812 calls_out=40 heap_pages=64 exchange_objects=3
 * threads=1
 *
 * /proc/domctl (write): one command per write(2), one line ending in '\n':
 *     inject NAME KIND\n
 *     restart NAME\n
 *     update NAME [PACKAGE]\n
 *   The write returns the full length when the kernel has accepted the command; it fails with
 *   ENOENT when no domain is called NAME, EINVAL for a malformed command or unknown KIND, EBUSY
 *   when the domain cannot take the command now (it is being restarted, or is not recoverable).
 *
 * DOMCTL_PROC names a directory to use instead of /proc; only the host tests set it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_USAGE = 2 };

static const char* const fault_kinds[] = {"panic", "null", "ud", "div0", "stack", "loop"};

struct column {
    const char* key;    /* field name in /proc/domains */
    const char* header; /* table heading */
    int numeric;        /* right-aligned */
};

static const struct column columns[] = {
    {"id", "ID", 1},
    {"name", "NAME", 0},
    {"state", "STATE", 0},
    {"restarts", "RESTARTS", 1},
    {"faults", "FAULTS", 1},
    {"calls_in", "CALLS_IN", 1},
    {"calls_out", "CALLS_OUT", 1},
    {"heap_pages", "HEAP_PAGES", 1},
    {"exchange_objects", "EXCHANGE_OBJS", 1},
    {"threads", "THREADS", 1},
    {"version", "VERSION", 0},
    {"updates", "UPDATES", 1},
};
enum { NCOLUMNS = sizeof(columns) / sizeof(columns[0]) };

/* One table row: pointers into the file's text (NUL-terminated in place). */
struct row {
    const char* cell[NCOLUMNS];
};

static const char* proc_dir(void) {
    const char* dir = getenv("DOMCTL_PROC");
    return dir && *dir ? dir : "/proc";
}

static void proc_path(char* buf, size_t size, const char* file) { snprintf(buf, size, "%s/%s", proc_dir(), file); }

static void usage(FILE* out) {
    fprintf(out,
            "usage: domctl list\n"
            "       domctl inject NAME [panic|null|ud|div0|stack|loop]\n"
            "       domctl restart NAME\n"
            "       domctl update NAME [PACKAGE]\n");
}

static int usage_error(const char* fmt, const char* arg) {
    fputs("domctl: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    usage(stderr);
    return EXIT_USAGE;
}

/* Reads a whole file. Files under /proc report size 0, so this reads until EOF. */
static char* read_file(const char* path, size_t* length) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 4096, len = 0;
    char* buf = malloc(cap + 1);
    while (buf) {
        if (len == cap) {
            char* bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            free(buf);
            buf = NULL;
            errno = saved;
            break;
        }
        if (n == 0) {
            buf[len] = '\0';
            *length = len;
            break;
        }
        len += (size_t)n;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return buf;
}

static int column_of(const char* key, size_t key_len) {
    for (int i = 0; i < NCOLUMNS; i++) {
        if (strlen(columns[i].key) == key_len && memcmp(columns[i].key, key, key_len) == 0) return i;
    }
    return -1;
}

/* Splits one line (NUL-terminated, modified in place) into a row. Returns 0, or -1 with a
 * message in why. */
static int parse_line(char* line, struct row* row, const char** why) {
    for (int i = 0; i < NCOLUMNS; i++) row->cell[i] = NULL;
    char* p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        char* field = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (*p) *p++ = '\0';
        char* eq = strchr(field, '=');
        if (!eq || eq == field) {
            *why = "a field is not key=value";
            return -1;
        }
        int c = column_of(field, (size_t)(eq - field));
        if (c < 0) continue;
        if (row->cell[c]) {
            *why = "a key appears twice";
            return -1;
        }
        row->cell[c] = eq[1] ? eq + 1 : "-";
    }
    if (!row->cell[0] || !row->cell[1]) {
        *why = "no id= or no name=";
        return -1;
    }
    for (int i = 0; i < NCOLUMNS; i++) {
        if (!row->cell[i]) row->cell[i] = "-";
    }
    return 0;
}

static int cmd_list(void) {
    char path[4096];
    proc_path(path, sizeof(path), "domains");
    size_t len = 0;
    char* text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "domctl: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (memchr(text, '\0', len)) {
        fprintf(stderr, "domctl: %s holds a NUL byte; not a domain list\n", path);
        free(text);
        return 1;
    }

    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    struct row* rows = calloc(lines, sizeof(*rows));
    if (!rows) {
        fprintf(stderr, "domctl: out of memory\n");
        free(text);
        return 1;
    }
    size_t nrows = 0, lineno = 0;
    int status = 0;
    for (char* line = text; line && *line;) {
        char* next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        char* s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s && *s != '#') {
            const char* why = "";
            if (parse_line(s, &rows[nrows], &why) == 0) {
                nrows++;
            } else {
                fprintf(stderr, "domctl: %s line %zu skipped: %s\n", path, lineno, why);
                status = 1;
            }
        }
        line = next;
    }

    size_t width[NCOLUMNS];
    for (int c = 0; c < NCOLUMNS; c++) {
        width[c] = strlen(columns[c].header);
        for (size_t r = 0; r < nrows; r++) {
            size_t w = strlen(rows[r].cell[c]);
            if (w > width[c]) width[c] = w;
        }
    }
    for (size_t r = 0; r <= nrows; r++) {
        for (int c = 0; c < NCOLUMNS; c++) {
            const char* cell = r == 0 ? columns[c].header : rows[r - 1].cell[c];
            const char* sep = c == 0 ? "" : "  ";
            if (c == NCOLUMNS - 1 && !columns[c].numeric) {
                printf("%s%s", sep, cell);
            } else if (columns[c].numeric) {
                printf("%s%*s", sep, (int)width[c], cell);
            } else {
                printf("%s%-*s", sep, (int)width[c], cell);
            }
        }
        putchar('\n');
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "domctl: writing the table: %s\n", strerror(errno));
        status = 1;
    }
    free(rows);
    free(text);
    return status;
}

/* A domain name (or a package's name or path, up to max bytes) goes into a one-line command: it
 * must be one non-empty word. */
static int valid_word(const char* name, size_t max) {
    if (!*name || strlen(name) > max) return 0;
    for (const char* p = name; *p; p++) {
        if (*p <= ' ' || *p == 0x7f) return 0;
    }
    return 1;
}

static int valid_name(const char* name) { return valid_word(name, 64); }

static int send_command(const char* command, const char* name) {
    char path[4096];
    proc_path(path, sizeof(path), "domctl");
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "domctl: cannot open %s: %s%s\n", path, strerror(errno),
                errno == ENOENT ? " (this kernel has no domain control)" : "");
        return 1;
    }
    size_t len = strlen(command);
    ssize_t n;
    do {
        n = write(fd, command, len);
    } while (n < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (n == (ssize_t)len) return 0;

    /* The command without its newline, for messages. */
    int shown = (int)len - 1;
    if (n >= 0) {
        fprintf(stderr, "domctl: %s took only %zd of %zu bytes of '%.*s'\n", path, n, len, shown, command);
    } else if (saved == ENOENT) {
        fprintf(stderr, "domctl: no domain named '%s' (see 'domctl list')\n", name);
    } else if (saved == EBUSY) {
        fprintf(stderr, "domctl: domain '%s' cannot take '%.*s' now: %s\n", name, shown, command, strerror(saved));
    } else {
        fprintf(stderr, "domctl: the kernel refused '%.*s': %s\n", shown, command, strerror(saved));
    }
    return 1;
}

static int cmd_inject(int argc, char** argv) {
    if (argc < 1 || argc > 2) return usage_error("inject takes NAME and an optional KIND", "");
    const char* name = argv[0];
    if (!valid_name(name)) return usage_error("'%s' is not a domain name", name);
    const char* kind = argc == 2 ? argv[1] : "panic";
    int known = 0;
    for (size_t i = 0; i < sizeof(fault_kinds) / sizeof(fault_kinds[0]); i++) {
        if (strcmp(kind, fault_kinds[i]) == 0) known = 1;
    }
    if (!known) return usage_error("unknown fault kind '%s'", kind);
    char command[128];
    snprintf(command, sizeof(command), "inject %s %s\n", name, kind);
    int status = send_command(command, name);
    if (status == 0) printf("domctl: injected a %s fault into %s\n", kind, name);
    return status;
}

static int cmd_restart(int argc, char** argv) {
    if (argc != 1) return usage_error("restart takes exactly one NAME", "");
    const char* name = argv[0];
    if (!valid_name(name)) return usage_error("'%s' is not a domain name", name);
    char command[128];
    snprintf(command, sizeof(command), "restart %s\n", name);
    int status = send_command(command, name);
    if (status == 0) printf("domctl: restarting %s\n", name);
    return status;
}

static int cmd_update(int argc, char** argv) {
    if (argc < 1 || argc > 2) return usage_error("update takes NAME and an optional PACKAGE", "");
    const char* name = argv[0];
    if (!valid_name(name)) return usage_error("'%s' is not a domain name", name);
    const char* package = argc == 2 ? argv[1] : NULL;
    if (package && !valid_word(package, 127))
        return usage_error("'%s' is not a package name or absolute path", package);
    char command[256];
    snprintf(command, sizeof(command), "update %s%s%s\n", name, package ? " " : "", package ? package : "");
    int status = send_command(command, name);
    if (status == 0) printf("domctl: updated %s\n", name);
    return status;
}

int main(int argc, char** argv) {
    if (argc < 2) return usage_error("no command given", "");
    const char* cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "list") == 0) {
        if (argc != 2) return usage_error("list takes no arguments", "");
        return cmd_list();
    }
    if (strcmp(cmd, "inject") == 0) return cmd_inject(argc - 2, argv + 2);
    if (strcmp(cmd, "restart") == 0) return cmd_restart(argc - 2, argv + 2);
    if (strcmp(cmd, "update") == 0) return cmd_update(argc - 2, argv + 2);
    return usage_error("unknown command '%s'", cmd);
}
