// lamina:portable
#include "kernel/domain/loader/manifest.h"

#include <lamina/format.h>

namespace lamina::domain {

namespace {

struct Word {
    const char* s = nullptr;
    size_t n = 0;

    bool is(const char* lit) const {
        size_t i = 0;
        for (; lit[i]; i++)
            if (i >= n || s[i] != lit[i]) return false;
        return i == n;
    }
    bool starts_with(const char* lit) const {
        for (size_t i = 0; lit[i]; i++)
            if (i >= n || s[i] != lit[i]) return false;
        return true;
    }
    Word drop(size_t k) const { return Word{s + k, n - k}; }
};

constexpr size_t MAX_WORDS = 5;

bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Copies a word into a fixed buffer; callers have checked the length.
void copy_word(char* dst, const Word& w) {
    for (size_t i = 0; i < w.n; i++) dst[i] = w.s[i];
    dst[w.n] = 0;
}

bool valid_name(const Word& w) {
    if (w.n == 0 || w.n > Manifest::MAX_NAME || !is_lower(w.s[0])) return false;
    for (size_t i = 0; i < w.n; i++) {
        char c = w.s[i];
        if (!is_lower(c) && !is_digit(c) && c != '_' && c != '-') return false;
    }
    return true;
}

bool valid_interface(const Word& w) {
    if (w.n == 0 || w.n > Manifest::MAX_INTERFACE_NAME || !is_lower(w.s[0])) return false;
    if (w.s[w.n - 1] == '.') return false;
    for (size_t i = 0; i < w.n; i++) {
        char c = w.s[i];
        if (!is_lower(c) && !is_digit(c) && c != '_' && c != '.') return false;
        if (c == '.' && w.s[i + 1] == '.') return false;  // i + 1 < n: the last char is not '.'
    }
    return true;
}

// Decimal without sign or leading zeros (except "0"), at most `max`.
bool parse_decimal(const Word& w, uint32_t max, uint32_t& out) {
    if (w.n == 0 || w.n > 10 || (w.n > 1 && w.s[0] == '0')) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < w.n; i++) {
        if (!is_digit(w.s[i])) return false;
        v = v * 10 + uint64_t(w.s[i] - '0');
    }
    if (v > max) return false;
    out = uint32_t(v);
    return true;
}

bool parse_hex4(const char* s, uint16_t& out) {
    uint16_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        uint16_t d;
        if (is_digit(c))
            d = uint16_t(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = uint16_t(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = uint16_t(c - 'A' + 10);
        else
            return false;
        v = uint16_t(v << 4 | d);
    }
    out = v;
    return true;
}

// A duration in seconds: N followed by s, m or h.
bool parse_duration(const Word& w, uint32_t& seconds) {
    if (w.n < 2) return false;
    uint32_t unit;
    switch (w.s[w.n - 1]) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        default:
            return false;
    }
    uint32_t v;
    if (!parse_decimal(Word{w.s, w.n - 1}, 86400, v)) return false;
    uint64_t total = uint64_t(v) * unit;
    if (total < 1 || total > 86400) return false;
    seconds = uint32_t(total);
    return true;
}

class Parser {
public:
    Parser(Manifest& m, LoadError& err) : m_(m), err_(err) {}

    Result<void> line(size_t lineno, const char* s, size_t n) {
        lineno_ = lineno;
        if (n > Manifest::MAX_LINE) return fail("line longer than %zu characters", Manifest::MAX_LINE);
        Word words[MAX_WORDS];
        size_t count = 0;
        size_t i = 0;
        while (i < n) {
            char c = s[i];
            if (c == ' ' || c == '\t' || c == '\r') {
                i++;
                continue;
            }
            if (c < 0x21 || c > 0x7e) return fail("character 0x%02x is not printable ASCII", unsigned(uint8_t(c)));
            size_t start = i;
            while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
                if (s[i] < 0x21 || s[i] > 0x7e)
                    return fail("character 0x%02x is not printable ASCII", unsigned(uint8_t(s[i])));
                i++;
            }
            if (count == 0 && s[start] == '#') return {};  // a comment
            if (count == MAX_WORDS) return fail("too many words");
            words[count++] = Word{s + start, i - start};
        }
        if (count == 0) return {};
        return directive(words, count);
    }

    Result<void> finish() {
        lineno_ = 0;
        if (!seen_name_) return err_.fail(Errno::Inval, "manifest: missing required 'name'");
        if (!seen_version_) return err_.fail(Errno::Inval, "manifest: missing required 'version'");
        return {};
    }

private:
    [[gnu::format(printf, 2, 3)]] Error fail(const char* fmt, ...) {
        char reason[96];
        va_list ap;
        va_start(ap, fmt);
        vsnformat(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        return err_.fail(Errno::Inval, "manifest line %zu: %s", lineno_, reason);
    }

    Result<void> expect_args(const Word* w, size_t count, size_t want) {
        if (count != want + 1)
            return fail("'%.*s' takes %zu value%s, got %zu", int(w[0].n), w[0].s, want, want == 1 ? "" : "s",
                        count - 1);
        return {};
    }

    Result<void> directive(const Word* w, size_t count) {
        const Word& key = w[0];
        if (key.is("name")) {
            if (seen_name_) return fail("'name' given twice");
            TRY(expect_args(w, count, 1));
            if (!valid_name(w[1]))
                return fail("bad name '%.*s' (want [a-z][a-z0-9_-]*, at most %zu characters)",
                            int(w[1].n > 32 ? 32 : w[1].n), w[1].s, Manifest::MAX_NAME);
            copy_word(m_.name, w[1]);
            seen_name_ = true;
            return {};
        }
        if (key.is("version")) {
            if (seen_version_) return fail("'version' given twice");
            TRY(expect_args(w, count, 1));
            return version(w[1]);
        }
        if (key.is("exports") || key.is("imports")) {
            TRY(expect_args(w, count, 1));
            bool exp = key.is("exports");
            auto& list = exp ? m_.exports : m_.imports;
            size_t& n = exp ? m_.export_count : m_.import_count;
            if (!valid_interface(w[1]))
                return fail("bad interface name '%.*s' (want [a-z][a-z0-9_.]*, at most %zu characters)",
                            int(w[1].n > 64 ? 64 : w[1].n), w[1].s, Manifest::MAX_INTERFACE_NAME);
            for (size_t i = 0; i < n; i++)
                if (w[1].is(list[i])) return fail("interface '%s' listed twice", list[i]);
            if (n == Manifest::MAX_INTERFACES)
                return fail("more than %zu '%s' lines", Manifest::MAX_INTERFACES, exp ? "exports" : "imports");
            copy_word(list[n++], w[1]);
            return {};
        }
        if (key.is("device")) {
            TRY(expect_args(w, count, 1));
            Manifest::PciId id;
            if (w[1].n != 9 || w[1].s[4] != ':' || !parse_hex4(w[1].s, id.vendor) || !parse_hex4(w[1].s + 5, id.device))
                return fail("bad device '%.*s' (want VVVV:DDDD in hex)", int(w[1].n > 32 ? 32 : w[1].n), w[1].s);
            if (id.vendor == 0xffff) return fail("vendor ffff is not a device");
            for (size_t i = 0; i < m_.device_count; i++)
                if (m_.devices[i].vendor == id.vendor && m_.devices[i].device == id.device)
                    return fail("device %04x:%04x listed twice", id.vendor, id.device);
            if (m_.device_count == Manifest::MAX_DEVICES)
                return fail("more than %zu 'device' lines", Manifest::MAX_DEVICES);
            m_.devices[m_.device_count++] = id;
            return {};
        }
        if (key.is("restart")) return restart(w, count);
        return fail("unknown key '%.*s'", int(key.n > 32 ? 32 : key.n), key.s);
    }

    Result<void> version(const Word& v) {
        size_t dot = 0;
        while (dot < v.n && v.s[dot] != '.') dot++;
        uint32_t major, minor;
        if (dot == v.n || !parse_decimal(Word{v.s, dot}, 65535, major) || !parse_decimal(v.drop(dot + 1), 65535, minor))
            return fail("bad version '%.*s' (want MAJOR.MINOR, each 0..65535)", int(v.n > 32 ? 32 : v.n), v.s);
        m_.version_major = uint16_t(major);
        m_.version_minor = uint16_t(minor);
        seen_version_ = true;
        return {};
    }

    Result<void> restart(const Word* w, size_t count) {
        if (seen_restart_) return fail("'restart' given twice");
        seen_restart_ = true;
        if (count < 2) return fail("'restart' needs a policy (never, on-failure or always)");
        if (w[1].is("never"))
            m_.restart = RestartPolicy::Never;
        else if (w[1].is("on-failure"))
            m_.restart = RestartPolicy::OnFailure;
        else if (w[1].is("always"))
            m_.restart = RestartPolicy::Always;
        else
            return fail("unknown restart policy '%.*s' (want never, on-failure or always)",
                        int(w[1].n > 32 ? 32 : w[1].n), w[1].s);
        bool seen_max = false, seen_window = false;
        for (size_t i = 2; i < count; i++) {
            if (m_.restart == RestartPolicy::Never) return fail("'restart never' takes no options");
            if (w[i].starts_with("max=")) {
                if (seen_max) return fail("'max=' given twice");
                seen_max = true;
                if (!parse_decimal(w[i].drop(4), 1000, m_.restart_max) || m_.restart_max == 0)
                    return fail("bad '%.*s' (want max=N with N in 1..1000)", int(w[i].n > 32 ? 32 : w[i].n), w[i].s);
            } else if (w[i].starts_with("window=")) {
                if (seen_window) return fail("'window=' given twice");
                seen_window = true;
                if (!parse_duration(w[i].drop(7), m_.restart_window_s))
                    return fail("bad '%.*s' (want window=T with T in 1s..24h, as Ns, Nm or Nh)",
                                int(w[i].n > 32 ? 32 : w[i].n), w[i].s);
            } else {
                return fail("unknown restart option '%.*s' (want max= or window=)", int(w[i].n > 32 ? 32 : w[i].n),
                            w[i].s);
            }
        }
        return {};
    }

    Manifest& m_;
    LoadError& err_;
    size_t lineno_ = 0;
    bool seen_name_ = false, seen_version_ = false, seen_restart_ = false;
};

}  // namespace

Result<void> parse_manifest(const char* text, size_t size, Manifest& out, LoadError& err) {
    out = Manifest{};
    Parser p(out, err);
    size_t lineno = 1;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && text[i] == 0) return err.fail(Errno::Inval, "manifest line %zu: NUL byte", lineno);
        if (i == size || text[i] == '\n') {
            if (i == size && i == start) break;  // the text ended with a newline
            TRY(p.line(lineno, text + start, i - start));
            lineno++;
            start = i + 1;
        }
    }
    return p.finish();
}

const char* restart_policy_name(RestartPolicy p) {
    switch (p) {
        case RestartPolicy::Never:
            return "never";
        case RestartPolicy::OnFailure:
            return "on-failure";
        case RestartPolicy::Always:
            return "always";
    }
    return "?";
}

}  // namespace lamina::domain
