/*
 * lamina-status: the status page. A CGI program (or a command) that reads /proc/domains,
 * /proc/meminfo, /proc/uptime and /proc/net/dev and prints them as JSON (which the page's
 * script polls for the live refresh) or as a complete HTML page (which shows everything with
 * JavaScript off). With --demo the page has a fault-injection button per domain, which POSTs
 * to the program; without it, POST is refused. README.md beside this file has the formats and
 * the security stance.
 *
 *   lamina-status [--demo] [html|json]     the page or the JSON on standard output, no headers
 *   GATEWAY_INTERFACE=CGI/1.1 lamina-status [--demo]
 *                                          a CGI request: GET/HEAD (QUERY_STRING format=json for
 *                                          the JSON), POST (demo only) to inject a fault
 *
 * LAMINA_STATUS_PROC names a directory to read instead of /proc (the host tests set it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_DOMAINS = 64, MAX_IFACES = 16, NAME_MAX_LEN = 31, FILE_MAX = 65536, BODY_MAX = 1024 };

/* The counters of a domain, in the order of the page's columns. */
static const char* const domain_keys[] = {"restarts",   "faults",           "calls_in", "calls_out",
                                          "heap_pages", "exchange_objects", "threads"};
static const char* const domain_headings[] = {"Restarts",   "Faults",           "Calls in", "Calls out",
                                              "Heap pages", "Exchange objects", "Threads"};
enum { NKEYS = sizeof(domain_keys) / sizeof(domain_keys[0]) };

/* /proc/net/dev: the columns after "name:", and the ones the page shows. */
static const char* const iface_keys[] = {"rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
                                         "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"};
static const char* const iface_headings[] = {"Received bytes", "Packets", "Errors", "Dropped",
                                             "Sent bytes",     "Packets", "Errors", "Dropped"};
static const int iface_columns[] = {0, 1, 2, 3, 8, 9, 10, 11};
enum { NIFACE_KEYS = sizeof(iface_keys) / sizeof(iface_keys[0]) };

static const char* const fault_kinds[] = {"panic", "null", "ud", "div0", "stack", "loop"};

struct domain {
    unsigned long long id;
    char name[NAME_MAX_LEN + 1];
    char state[NAME_MAX_LEN + 1];
    unsigned long long value[NKEYS];
    int known[NKEYS];
};

struct iface {
    char name[NAME_MAX_LEN + 1];
    unsigned long long value[NIFACE_KEYS];
};

struct status {
    struct domain domains[MAX_DOMAINS];
    int ndomains;
    struct iface ifaces[MAX_IFACES];
    int nifaces;
    char uptime[32];              /* seconds, as /proc/uptime writes them; "" if unknown */
    unsigned long long mem_kb[3]; /* MemTotal, MemFree, MemAvailable */
    int mem_known[3];
    int demo;
};

static const char* const mem_keys[] = {"MemTotal:", "MemFree:", "MemAvailable:"};
static const char* const mem_json[] = {"total_kb", "free_kb", "available_kb"};

static const char* proc_dir(void) {
    const char* d = getenv("LAMINA_STATUS_PROC");
    return d && *d ? d : "/proc";
}

/* The file PROC/name into buf (NUL-terminated); -1 when it cannot be read. */
static int read_proc(const char* name, char* buf, size_t size) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", proc_dir(), name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    return 0;
}

/* A word of letters, digits, '_', '-' or '.', at most NAME_MAX_LEN long: the only names and
 * states shown, so nothing from /proc needs escaping and a strange line cannot inject markup. */
static int is_word(const char* s, size_t len) {
    if (len == 0 || len > NAME_MAX_LEN) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
    }
    return 1;
}

static int parse_number(const char* s, size_t len, unsigned long long* out) {
    if (len == 0 || len > 19) return 0;
    unsigned long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    *out = v;
    return 1;
}

/* One /proc/domains line (the contract in userland/domctl/README.md); 0 when it is malformed
 * or lacks its id or name, and the page skips it. */
static int parse_domain(char* line, struct domain* d) {
    memset(d, 0, sizeof *d);
    int have_id = 0;
    for (char* p = line; *p;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        char* field = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        char* eq = memchr(field, '=', (size_t)(p - field));
        if (!eq) return 0;
        size_t klen = (size_t)(eq - field), vlen = (size_t)(p - eq - 1);
        const char* v = eq + 1;
        if (klen == 2 && !memcmp(field, "id", 2)) {
            if (!parse_number(v, vlen, &d->id)) return 0;
            have_id = 1;
        } else if (klen == 4 && !memcmp(field, "name", 4)) {
            if (!is_word(v, vlen)) return 0;
            memcpy(d->name, v, vlen);
            d->name[vlen] = 0;
        } else if (klen == 5 && !memcmp(field, "state", 5)) {
            if (!is_word(v, vlen)) return 0;
            memcpy(d->state, v, vlen);
            d->state[vlen] = 0;
        } else {
            for (int k = 0; k < NKEYS; k++)
                if (strlen(domain_keys[k]) == klen && !memcmp(field, domain_keys[k], klen))
                    d->known[k] = parse_number(v, vlen, &d->value[k]);
        }
    }
    return have_id && d->name[0];
}

static void read_domains(struct status* st) {
    static char text[FILE_MAX];
    if (read_proc("domains", text, sizeof text) < 0) return;
    for (char* line = strtok(text, "\n"); line && st->ndomains < MAX_DOMAINS; line = strtok(NULL, "\n")) {
        char* p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        if (parse_domain(p, &st->domains[st->ndomains])) st->ndomains++;
    }
}

static void read_memory(struct status* st) {
    char text[4096];
    if (read_proc("meminfo", text, sizeof text) < 0) return;
    for (char* line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        for (int k = 0; k < 3; k++) {
            size_t klen = strlen(mem_keys[k]);
            if (strncmp(line, mem_keys[k], klen)) continue;
            char* v = line + klen;
            while (*v == ' ') v++;
            size_t vlen = strspn(v, "0123456789");
            st->mem_known[k] = parse_number(v, vlen, &st->mem_kb[k]) && !strcmp(v + vlen, " kB");
        }
    }
}

static void read_uptime(struct status* st) {
    char text[128];
    if (read_proc("uptime", text, sizeof text) < 0) return;
    size_t ilen = strspn(text, "0123456789");
    size_t len = ilen;
    if (text[len] == '.') len += 1 + strspn(text + len + 1, "0123456789");
    if (ilen == 0 || ilen > 12 || len >= sizeof st->uptime || text[len - 1] == '.') return;
    memcpy(st->uptime, text, len);
    st->uptime[len] = 0;
}

/* /proc/net/dev: two heading lines, then "NAME: 16 numbers" per interface. */
static void read_ifaces(struct status* st) {
    static char text[FILE_MAX];
    if (read_proc("net/dev", text, sizeof text) < 0) return;
    for (char* line = strtok(text, "\n"); line && st->nifaces < MAX_IFACES; line = strtok(NULL, "\n")) {
        char* colon = strchr(line, ':');
        if (!colon || strchr(line, '|')) continue;
        char* name = line;
        while (*name == ' ') name++;
        struct iface* f = &st->ifaces[st->nifaces];
        if (!is_word(name, (size_t)(colon - name))) continue;
        memcpy(f->name, name, (size_t)(colon - name));
        f->name[colon - name] = 0;
        unsigned long long col[16];
        int n = 0;
        for (char* p = colon + 1; n < 16;) {
            while (*p == ' ' || *p == '\t') p++;
            size_t len = strspn(p, "0123456789");
            if (!parse_number(p, len, &col[n])) break;
            n++;
            p += len;
        }
        if (n < 16) continue;
        for (int k = 0; k < NIFACE_KEYS; k++) f->value[k] = col[iface_columns[k]];
        st->nifaces++;
    }
}

static void read_status(struct status* st) {
    read_domains(st);
    read_memory(st);
    read_uptime(st);
    read_ifaces(st);
}

/* --- JSON ------------------------------------------------------------------------------------ */

static void json_number(const char* key, int known, unsigned long long v, int comma) {
    if (known)
        printf("%s\"%s\":%llu", comma ? "," : "", key, v);
    else
        printf("%s\"%s\":null", comma ? "," : "", key);
}

/* Names and states are words (is_word), so they need no escaping in JSON or HTML. */
static void print_json(const struct status* st) {
    printf("{\"uptime_seconds\":%s,\"memory\":{", st->uptime[0] ? st->uptime : "null");
    for (int k = 0; k < 3; k++) json_number(mem_json[k], st->mem_known[k], st->mem_kb[k], k > 0);
    printf("},\"domains\":[");
    for (int i = 0; i < st->ndomains; i++) {
        const struct domain* d = &st->domains[i];
        printf("%s{\"id\":%llu,\"name\":\"%s\",", i ? "," : "", d->id, d->name);
        if (d->state[0])
            printf("\"state\":\"%s\"", d->state);
        else
            printf("\"state\":null");
        for (int k = 0; k < NKEYS; k++) json_number(domain_keys[k], d->known[k], d->value[k], 1);
        printf("}");
    }
    printf("],\"interfaces\":[");
    for (int i = 0; i < st->nifaces; i++) {
        const struct iface* f = &st->ifaces[i];
        printf("%s{\"name\":\"%s\"", i ? "," : "", f->name);
        for (int k = 0; k < NIFACE_KEYS; k++) json_number(iface_keys[k], 1, f->value[k], 1);
        printf("}");
    }
    printf("],\"demo\":%s}\n", st->demo ? "true" : "false");
}

/* --- HTML ------------------------------------------------------------------------------------ */

static const char page_style[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;"
    "background:#f4f5f7}\n"
    "header{background:#1d2330;color:#fff;padding:1.2em 2em}\n"
    "header h1{margin:0;font-size:1.5em;font-weight:600}\n"
    "header p{margin:.2em 0 0;color:#b8c0d0}\n"
    "main{padding:1em 2em 2em;max-width:72em}\n"
    "h2{font-size:1.1em;margin:1.4em 0 .5em}\n"
    "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1.5em;margin:0}\n"
    "dt{color:#5a6275}dd{margin:0;font-variant-numeric:tabular-nums}\n"
    "table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px #0002;min-width:40em}\n"
    "th,td{padding:.35em .8em;border-bottom:1px solid #e3e6eb;text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    "th{background:#eceef2;font-weight:600;font-size:.9em}\n"
    "th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}\n"
    ".state{display:inline-block;padding:0 .5em;border-radius:.7em;font-size:.9em;background:#e3e6eb}\n"
    ".state-running{background:#d5f0dc;color:#145c2a}\n"
    ".state-faulted{background:#f8d7d7;color:#8a1c1c}\n"
    ".state-restarting,.state-starting{background:#fbebc8;color:#7a5200}\n"
    ".empty{color:#5a6275;text-align:left}\n"
    "button{font:inherit;font-size:.85em;padding:.1em .7em;border:1px solid #b33;border-radius:.3em;"
    "background:#fff;color:#b33;cursor:pointer}\n"
    "button:hover{background:#b33;color:#fff}\n"
    "footer{color:#5a6275;font-size:.85em;margin-top:1.5em}\n";

/* The live refresh: poll the JSON and rebuild the page's values. It builds nodes with
 * textContent only (never markup from data); the rows follow the same layout as the server's. */
static const char page_script[] =
    "(function(){\n"
    "var keys=['restarts','faults','calls_in','calls_out','heap_pages','exchange_objects','threads'];\n"
    "var ikeys=['rx_bytes','rx_packets','rx_errors','rx_dropped','tx_bytes','tx_packets','tx_errors','tx_dropped'];\n"
    "function txt(v){return v===null||v===undefined?'\\u2014':String(v);}\n"
    "function cell(row,v){var td=document.createElement('td');td.textContent=txt(v);row.appendChild(td);return td;}\n"
    "function fill(id,rows,span,empty){var "
    "b=document.getElementById(id);while(b.firstChild)b.removeChild(b.firstChild);\n"
    " if(!rows.length){var "
    "r=document.createElement('tr'),td=cell(r,empty);td.colSpan=span;td.className='empty';b.appendChild(r);}\n"
    " rows.forEach(function(r){b.appendChild(r);});}\n"
    "function update(s){\n"
    " document.getElementById('uptime').textContent=window.laminaUptime(s.uptime_seconds);\n"
    " document.getElementById('memory').textContent=window.laminaMemory(s.memory);\n"
    " var demo=document.body.hasAttribute('data-demo');\n"
    " fill('domain-rows',s.domains.map(function(d){var r=document.createElement('tr');cell(r,d.name);\n"
    "  var st=document.createElement('span');st.className='state "
    "state-'+(d.state||'unknown');st.textContent=txt(d.state);\n"
    "  var td=cell(r,'');td.textContent='';td.appendChild(st);keys.forEach(function(k){cell(r,d[k]);});\n"
    "  if(demo){var f=document.createElement('form');f.method='post';var i=document.createElement('input');\n"
    "   i.type='hidden';i.name='domain';i.value=d.name;var bt=document.createElement('button');bt.name='kind';\n"
    "   bt.value='panic';bt.textContent='Inject fault';f.appendChild(i);f.appendChild(bt);cell(r,'').textContent='';\n"
    "   r.lastChild.appendChild(f);}\n"
    "  return r;}),keys.length+2+(demo?1:0),'No domains.');\n"
    " fill('interface-rows',s.interfaces.map(function(f){var r=document.createElement('tr');cell(r,f.name);\n"
    "  ikeys.forEach(function(k){cell(r,f[k]);});return r;}),ikeys.length+1,'No network interfaces.');\n"
    " document.getElementById('updated').textContent='Live: refreshed every 2 s.';}\n"
    "window.laminaUptime=function(u){if(u===null)return '\\u2014';var s=Math.floor(u),d=Math.floor(s/86400),\n"
    " h=Math.floor(s%86400/3600),m=Math.floor(s%3600/60),o=(d?d+' d ':'')+(d||h?h+' h ':'')+(d||h||m?m+' min ':'');\n"
    " return o+(s%60)+' s';};\n"
    "window.laminaMemory=function(m){if(m.total_kb===null)return '\\u2014';\n"
    " var free=m.available_kb!==null?m.available_kb:m.free_kb;\n"
    " return Math.floor(free/1024)+' MiB available of '+Math.floor(m.total_kb/1024)+' MiB';};\n"
    "function poll(){fetch('?format=json',{cache:'no-store'}).then(function(r){if(!r.ok)throw r.status;return "
    "r.json();})\n"
    " .then(update).catch(function(){document.getElementById('updated').textContent='Live refresh failed; "
    "retrying.';})\n"
    " .then(function(){setTimeout(poll,2000);});}\n"
    "poll();\n"
    "})();\n";

/* The same wording as the script's laminaUptime and laminaMemory, so that a refresh changes
 * only the figures. */
static void print_uptime_text(const char* uptime) {
    if (!uptime[0]) {
        printf("&#8212;");
        return;
    }
    unsigned long long s = strtoull(uptime, NULL, 10), d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
    if (d) printf("%llu d ", d);
    if (d || h) printf("%llu h ", h);
    if (d || h || m) printf("%llu min ", m);
    printf("%llu s", s % 60);
}

static void print_memory_text(const struct status* st) {
    if (!st->mem_known[0]) {
        printf("&#8212;");
        return;
    }
    int k = st->mem_known[2] ? 2 : 1;
    printf("%llu MiB available of %llu MiB", st->mem_known[k] ? st->mem_kb[k] / 1024 : 0, st->mem_kb[0] / 1024);
}

static void print_html(const struct status* st) {
    printf(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>Lamina status</title>\n<style>\n%s</style>\n</head>\n<body%s>\n",
        page_style, st->demo ? " data-demo" : "");
    printf("<header>\n<h1>Lamina status</h1>\n<p>Domains, memory and network, from /proc</p>\n</header>\n<main>\n");
    printf("<h2>System</h2>\n<dl>\n<dt>Uptime</dt><dd id=\"uptime\">");
    print_uptime_text(st->uptime);
    printf("</dd>\n<dt>Memory</dt><dd id=\"memory\">");
    print_memory_text(st);
    printf("</dd>\n</dl>\n");

    printf("<h2>Domains</h2>\n<table id=\"domains\">\n<thead><tr><th>Name</th><th>State</th>");
    for (int k = 0; k < NKEYS; k++) printf("<th>%s</th>", domain_headings[k]);
    printf("%s</tr></thead>\n<tbody id=\"domain-rows\">\n", st->demo ? "<th>Fault</th>" : "");
    for (int i = 0; i < st->ndomains; i++) {
        const struct domain* d = &st->domains[i];
        printf("<tr><td>%s</td><td><span class=\"state state-%s\">%s</span></td>", d->name,
               d->state[0] ? d->state : "unknown", d->state[0] ? d->state : "&#8212;");
        for (int k = 0; k < NKEYS; k++) {
            if (d->known[k])
                printf("<td>%llu</td>", d->value[k]);
            else
                printf("<td>&#8212;</td>");
        }
        if (st->demo)
            printf(
                "<td><form method=\"post\"><input type=\"hidden\" name=\"domain\" value=\"%s\">"
                "<button name=\"kind\" value=\"panic\">Inject fault</button></form></td>",
                d->name);
        printf("</tr>\n");
    }
    if (!st->ndomains) printf("<tr><td class=\"empty\" colspan=\"%d\">No domains.</td></tr>\n", NKEYS + 2 + st->demo);
    printf("</tbody>\n</table>\n");

    printf("<h2>Network interfaces</h2>\n<table id=\"interfaces\">\n<thead><tr><th>Interface</th>");
    for (int k = 0; k < NIFACE_KEYS; k++) printf("<th>%s</th>", iface_headings[k]);
    printf("</tr></thead>\n<tbody id=\"interface-rows\">\n");
    for (int i = 0; i < st->nifaces; i++) {
        printf("<tr><td>%s</td>", st->ifaces[i].name);
        for (int k = 0; k < NIFACE_KEYS; k++) printf("<td>%llu</td>", st->ifaces[i].value[k]);
        printf("</tr>\n");
    }
    if (!st->nifaces)
        printf("<tr><td class=\"empty\" colspan=\"%d\">No network interfaces.</td></tr>\n", NIFACE_KEYS + 1);
    printf("</tbody>\n</table>\n");
    printf(
        "<footer><p id=\"updated\">A snapshot; with JavaScript on, the page refreshes itself.</p></footer>\n"
        "</main>\n<script>\n%s</script>\n</body>\n</html>\n",
        page_script);
}

/* --- CGI ------------------------------------------------------------------------------------- */

static const char* env(const char* name) {
    const char* v = getenv(name);
    return v ? v : "";
}

static int cgi_error(const char* status, const char* message) {
    printf("Status: %s\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n\r\n%s\n", status,
           message);
    return 0;
}

/* The value of form field key in an application/x-www-form-urlencoded body, if it is a word;
 * "" when absent, NULL when malformed. */
static const char* form_field(const char* body, const char* key, char* out, size_t size) {
    size_t klen = strlen(key);
    for (const char* p = body; *p;) {
        const char* end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > klen && p[klen] == '=' && !strncmp(p, key, klen)) {
            size_t vlen = len - klen - 1;
            if (vlen >= size || !is_word(p + klen + 1, vlen)) return NULL;
            memcpy(out, p + klen + 1, vlen);
            out[vlen] = 0;
            return out;
        }
        p += len + (end ? 1 : 0);
    }
    out[0] = 0;
    return out;
}

/* Browsers send Origin with every POST; a page of another site cannot make it ours. */
static int same_origin(void) {
    const char *host = env("HTTP_HOST"), *origin = env("HTTP_ORIGIN");
    if (!*host || strchr(host, '/')) return 0;
    char expected[256];
    snprintf(expected, sizeof expected, "http://%s", host);
    if (*origin) return !strcmp(origin, expected);
    const char* referer = env("HTTP_REFERER");
    size_t n = strlen(expected);
    return !strncmp(referer, expected, n) && referer[n] == '/';
}

static int cgi_inject(const struct status* st) {
    if (!st->demo) return cgi_error("403 Forbidden", "Fault injection is off (lamina-status runs without --demo).");
    if (!same_origin())
        return cgi_error("403 Forbidden", "Fault injection is only accepted from this page's own origin.");
    if (strncmp(env("CONTENT_TYPE"), "application/x-www-form-urlencoded", 33))
        return cgi_error("415 Unsupported Media Type", "Expected a form (application/x-www-form-urlencoded).");
    char* end;
    const char* cl = env("CONTENT_LENGTH");
    unsigned long length = strtoul(cl, &end, 10);
    if (!*cl || *end || length > BODY_MAX) return cgi_error("400 Bad Request", "Missing or too large Content-Length.");
    char body[BODY_MAX + 1];
    size_t got = 0;
    while (got < length) {
        ssize_t n = read(0, body + got, length - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got != length) return cgi_error("400 Bad Request", "The request body is shorter than its Content-Length.");
    body[got] = 0;

    char name[NAME_MAX_LEN + 1], kind[NAME_MAX_LEN + 1];
    if (!form_field(body, "domain", name, sizeof name) || !name[0])
        return cgi_error("400 Bad Request", "The form names no domain.");
    if (!form_field(body, "kind", kind, sizeof kind)) return cgi_error("400 Bad Request", "Malformed fault kind.");
    if (!kind[0]) strcpy(kind, "panic");
    int kind_ok = 0;
    for (size_t k = 0; k < sizeof fault_kinds / sizeof fault_kinds[0]; k++) kind_ok |= !strcmp(kind, fault_kinds[k]);
    if (!kind_ok) return cgi_error("400 Bad Request", "Unknown fault kind.");
    int exists = 0;
    for (int i = 0; i < st->ndomains; i++) exists |= !strcmp(st->domains[i].name, name);
    if (!exists) return cgi_error("404 Not Found", "No such domain.");

    char path[512], command[96];
    snprintf(path, sizeof path, "%s/domctl", proc_dir());
    int len = snprintf(command, sizeof command, "inject %s %s\n", name, kind);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t w = fd < 0 ? -1 : write(fd, command, (size_t)len);
    int err = errno;
    if (fd >= 0) close(fd);
    if (w != len) {
        char message[160];
        snprintf(message, sizeof message, "The kernel refused the fault: %s.", strerror(err));
        return cgi_error(err == EBUSY ? "409 Conflict" : "500 Internal Server Error", message);
    }
    /* Post/Redirect/Get: the browser goes back to the page, and a reload does not inject again. */
    const char* script = env("SCRIPT_NAME");
    printf("Status: 303 See Other\r\nLocation: %s\r\nCache-Control: no-store\r\n\r\n", *script ? script : "./");
    return 0;
}

static int cgi(const struct status* st) {
    const char* method = env("REQUEST_METHOD");
    if (!strcmp(method, "POST")) return cgi_inject(st);
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        printf(
            "Status: 405 Method Not Allowed\r\nAllow: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Method not allowed.\n",
            st->demo ? "GET, HEAD, POST" : "GET, HEAD");
        return 0;
    }
    int json = !strcmp(env("QUERY_STRING"), "format=json");
    printf("Content-Type: %s\r\nCache-Control: no-store\r\n\r\n",
           json ? "application/json" : "text/html; charset=utf-8");
    if (!strcmp(method, "HEAD")) return 0;
    if (json)
        print_json(st);
    else
        print_html(st);
    return 0;
}

int main(int argc, char** argv) {
    static struct status st;
    const char* format = "html";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--demo")) {
            st.demo = 1;
        } else if (!strcmp(argv[i], "html") || !strcmp(argv[i], "json")) {
            format = argv[i];
        } else {
            fprintf(stderr, "usage: lamina-status [--demo] [html|json]\n");
            return 2;
        }
    }
    read_status(&st);
    if (*env("GATEWAY_INTERFACE")) return cgi(&st);
    if (!strcmp(format, "json"))
        print_json(&st);
    else
        print_html(&st);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
