/* sl_sysinfo: the node's usage from /proc and statfs, its names and addresses, its files. */
#include "sl_sysinfo.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <arpa/inet.h>

/* /proc/stat of a machine with a few thousand CPUs still fits; the cpu lines come first. */
#define SL_SYSINFO_BUF_SIZE (256 * 1024)

struct sl_sysinfo_s {
        char *proc_dir;
        char *disk_path;
        char *buf; /**< SL_SYSINFO_BUF_SIZE + 1, reused by every read. */
        sl_cpu_times_t prev;
        int has_prev;
};

/* ---- Parsers ---- */

static const char *sl_skip_blanks(const char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        return s;
}

/* An unsigned decimal at *sp (after blanks); advances *sp. @returns 0 or -1. */
static int sl_parse_u64(const char **sp, uint64_t *valp)
{
        const char *s = sl_skip_blanks(*sp);
        uint64_t v = 0;

        if (!isdigit((unsigned char)*s))
                return -1;
        for (; isdigit((unsigned char)*s); s++) {
                if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
                        return -1;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        *sp = s;
        *valp = v;
        return 0;
}

/* The end of the line at @p s (its '\n' or the NUL). */
static const char *sl_line_end(const char *s)
{
        const char *nl = strchr(s, '\n');

        return nl ? nl : s + strlen(s);
}

sl_err_t sl_sysinfo_parse_stat(const char *text, sl_cpu_times_t *times, int32_t *cpu_countp,
                               char *errstr, size_t errstr_size)
{
        uint64_t v[8] = {0};
        const char *s, *end;
        int n = 0;
        int32_t cpus = 0;
        uint64_t total = 0;

        if (!text || strncmp(text, "cpu ", 4))
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "/proc/stat: does not start with a \"cpu\" line");
        s = text + 4;
        end = sl_line_end(text);
        /* user nice system idle [iowait irq softirq steal [guest guest_nice]] */
        for (; n < 8; n++) {
                if (sl_skip_blanks(s) >= end)
                        break;
                if (sl_parse_u64(&s, &v[n]) || s > end)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "/proc/stat: \"cpu\" line: field %d is not a number",
                                         n + 1);
        }
        if (n < 4)
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "/proc/stat: \"cpu\" line has %d fields, expected at least 4", n);
        for (int i = 0; i < n; i++) {
                if (total > UINT64_MAX - v[i])
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "/proc/stat: \"cpu\" counters overflow");
                total += v[i];
        }
        /* Per-CPU lines follow the aggregate one. */
        for (s = *end ? end + 1 : end; !strncmp(s, "cpu", 3) && isdigit((unsigned char)s[3]);) {
                if (cpus == INT32_MAX)
                        break;
                cpus++;
                end = sl_line_end(s);
                if (!*end)
                        break;
                s = end + 1;
        }
        if (cpus == 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "/proc/stat: no \"cpuN\" line after the \"cpu\" line");
        times->total = total;
        times->idle = v[3] + v[4];
        *cpu_countp = cpus;
        return SL_OK;
}

double sl_sysinfo_cpu_percent(const sl_cpu_times_t *prev, const sl_cpu_times_t *cur)
{
        uint64_t dt, di;

        if (!prev)
                return cur->total ? 100.0 * (double)(cur->total - cur->idle) / (double)cur->total
                                  : 0.0;
        if (cur->total <= prev->total || cur->idle < prev->idle)
                return 0.0;
        dt = cur->total - prev->total;
        di = cur->idle - prev->idle;
        if (di > dt)
                return 0.0;
        return 100.0 * (double)(dt - di) / (double)dt;
}

/* A non-negative decimal number with an optional fraction at *sp; advances *sp. */
static int sl_parse_load(const char **sp, double *valp)
{
        const char *s = sl_skip_blanks(*sp);
        char *end;
        double v;

        if (!isdigit((unsigned char)*s))
                return -1;
        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || !(v >= 0.0) || v > 1e9)
                return -1;
        *sp = end;
        *valp = v;
        return 0;
}

sl_err_t sl_sysinfo_parse_loadavg(const char *text, double *load1, double *load5, double *load15,
                                  char *errstr, size_t errstr_size)
{
        const char *s = text ? text : "";
        double v[3];

        for (int i = 0; i < 3; i++)
                if (sl_parse_load(&s, &v[i]) || (*s != ' ' && *s != '\t' && *s != '\n' && *s))
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "/proc/loadavg: field %d is not a load average", i + 1);
        *load1 = v[0];
        *load5 = v[1];
        *load15 = v[2];
        return SL_OK;
}

/* The value of "Key:   N kB" in /proc/meminfo, in bytes. @returns 1 found, 0 absent, -1 bad. */
static int sl_meminfo_get(const char *text, const char *key, int64_t *bytesp)
{
        size_t klen = strlen(key);

        for (const char *s = text; *s;) {
                const char *end = sl_line_end(s);

                if (!strncmp(s, key, klen) && s[klen] == ':') {
                        const char *p = s + klen + 1;
                        uint64_t v;

                        if (sl_parse_u64(&p, &v) || p > end)
                                return -1;
                        p = sl_skip_blanks(p);
                        if (!strncmp(p, "kB", 2)) {
                                if (v > (uint64_t)INT64_MAX / 1024)
                                        return -1;
                                v *= 1024;
                                p += 2;
                        }
                        if (p != end || v > (uint64_t)INT64_MAX)
                                return -1;
                        *bytesp = (int64_t)v;
                        return 1;
                }
                s = *end ? end + 1 : end;
        }
        return 0;
}

sl_err_t sl_sysinfo_parse_meminfo(const char *text, int64_t *totalp, int64_t *availablep,
                                  int64_t *usedp, char *errstr, size_t errstr_size)
{
        static const char *const fallback[] = {"MemFree", "Buffers", "Cached"};
        int64_t total, avail = 0;
        int r;

        if (!text)
                text = "";
        if ((r = sl_meminfo_get(text, "MemTotal", &total)) <= 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE, "/proc/meminfo: %s",
                                 r ? "bad MemTotal line" : "no MemTotal line");
        if ((r = sl_meminfo_get(text, "MemAvailable", &avail)) < 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "/proc/meminfo: bad MemAvailable line");
        if (r == 0) {
                for (size_t i = 0; i < sizeof(fallback) / sizeof(fallback[0]); i++) {
                        int64_t v;

                        if (sl_meminfo_get(text, fallback[i], &v) <= 0)
                                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                                 "/proc/meminfo: neither MemAvailable nor a "
                                                 "good %s line",
                                                 fallback[i]);
                        if (avail > INT64_MAX - v)
                                avail = INT64_MAX;
                        else
                                avail += v;
                }
        }
        if (avail > total)
                avail = total;
        *totalp = total;
        *availablep = avail;
        *usedp = total - avail;
        return SL_OK;
}

/* ---- The reader ---- */

sl_sysinfo_t *sl_sysinfo_new(const char *proc_dir, const char *disk_path, char *errstr,
                             size_t errstr_size)
{
        sl_sysinfo_t *si;
        struct stat st;

        if (!disk_path || !*disk_path)
                disk_path = "/";
        if (stat(disk_path, &st)) {
                sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "%s: %s", disk_path,
                          strerror(errno));
                return NULL;
        }
        if (!S_ISDIR(st.st_mode)) {
                sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "%s: not a directory",
                          disk_path);
                return NULL;
        }
        if (!(si = calloc(1, sizeof(*si))) ||
            !(si->proc_dir = strdup(proc_dir && *proc_dir ? proc_dir : "/proc")) ||
            !(si->disk_path = strdup(disk_path)) || !(si->buf = malloc(SL_SYSINFO_BUF_SIZE + 1))) {
                sl_sysinfo_destroy(si);
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        return si;
}

void sl_sysinfo_destroy(sl_sysinfo_t *si)
{
        if (!si)
                return;
        free(si->proc_dir);
        free(si->disk_path);
        free(si->buf);
        free(si);
}

/* Reads PROC_DIR/@p name into si->buf, NUL-terminated (at most SL_SYSINFO_BUF_SIZE bytes). */
static sl_err_t sl_sysinfo_slurp(sl_sysinfo_t *si, const char *name, char *errstr,
                                 size_t errstr_size)
{
        char path[PATH_MAX];
        size_t len = 0;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "%s/%s", si->proc_dir, name);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: %s", path, strerror(errno));
        /* /proc files come in pieces: read to the end. */
        while (len < SL_SYSINFO_BUF_SIZE &&
               (n = read(fd, si->buf + len, SL_SYSINFO_BUF_SIZE - len)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: %s", path, strerror(errno));
                        close(fd);
                        return SL_ERR_IO;
                }
                len += (size_t)n;
        }
        close(fd);
        si->buf[len] = '\0';
        return SL_OK;
}

sl_err_t sl_sysinfo_read(sl_sysinfo_t *si, sl_usage_t *usage, char *errstr, size_t errstr_size)
{
        sl_cpu_times_t cur;
        int32_t cpus;
        double l1, l5, l15;
        int64_t mt, ma, mu;
        struct statfs sfs;
        uint64_t bsize;
        sl_err_t err;

        if ((err = sl_sysinfo_slurp(si, "stat", errstr, errstr_size)) ||
            (err = sl_sysinfo_parse_stat(si->buf, &cur, &cpus, errstr, errstr_size)) ||
            (err = sl_sysinfo_slurp(si, "loadavg", errstr, errstr_size)) ||
            (err = sl_sysinfo_parse_loadavg(si->buf, &l1, &l5, &l15, errstr, errstr_size)) ||
            (err = sl_sysinfo_slurp(si, "meminfo", errstr, errstr_size)) ||
            (err = sl_sysinfo_parse_meminfo(si->buf, &mt, &ma, &mu, errstr, errstr_size)))
                return err;
        if (statfs(si->disk_path, &sfs))
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "statfs %s: %s", si->disk_path,
                                 strerror(errno));
        bsize = sfs.f_frsize ? (uint64_t)sfs.f_frsize : (uint64_t)sfs.f_bsize;

        usage->cpu_percent = sl_sysinfo_cpu_percent(si->has_prev ? &si->prev : NULL, &cur);
        usage->cpu_count = cpus;
        usage->load1 = l1;
        usage->load5 = l5;
        usage->load15 = l15;
        usage->mem_total = mt;
        usage->mem_available = ma;
        usage->mem_used = mu;
        usage->disk_total = (int64_t)((uint64_t)sfs.f_blocks * bsize);
        usage->disk_used = sfs.f_blocks >= sfs.f_bfree
                               ? (int64_t)((uint64_t)(sfs.f_blocks - sfs.f_bfree) * bsize)
                               : 0;
        si->prev = cur;
        si->has_prev = 1;
        return SL_OK;
}

sl_err_t sl_sysinfo_hostname(char *buf, size_t size, char *errstr, size_t errstr_size)
{
        if (size < 2)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "hostname: no room");
        if (gethostname(buf, size - 1))
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "gethostname: %s",
                                 strerror(errno));
        buf[size - 1] = '\0';
        return SL_OK;
}

static int sl_event_has_address(const sl_event_t *ev, const char *addr)
{
        for (size_t i = 0; i < ev->address_cnt; i++)
                if (!strcmp(ev->addresses[i], addr))
                        return 1;
        return 0;
}

sl_err_t sl_sysinfo_add_addresses(sl_event_t *ev, char *errstr, size_t errstr_size)
{
        struct ifaddrs *ifa_list, *ifa;
        char text[INET6_ADDRSTRLEN];
        sl_err_t err = SL_OK;

        if (getifaddrs(&ifa_list))
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "getifaddrs: %s", strerror(errno));
        for (ifa = ifa_list; ifa; ifa = ifa->ifa_next) {
                const void *a;

                if (!ifa->ifa_addr || (ifa->ifa_flags & IFF_LOOPBACK) || !(ifa->ifa_flags & IFF_UP))
                        continue;
                if (ifa->ifa_addr->sa_family == AF_INET) {
                        a = &((const struct sockaddr_in *)(const void *)ifa->ifa_addr)->sin_addr;
                } else if (ifa->ifa_addr->sa_family == AF_INET6) {
                        const struct in6_addr *a6 =
                            &((const struct sockaddr_in6 *)(const void *)ifa->ifa_addr)->sin6_addr;

                        if (IN6_IS_ADDR_LINKLOCAL(a6) || IN6_IS_ADDR_LOOPBACK(a6))
                                continue;
                        a = a6;
                } else {
                        continue;
                }
                if (!inet_ntop(ifa->ifa_addr->sa_family, a, text, sizeof(text)) ||
                    sl_event_has_address(ev, text))
                        continue;
                if ((err = sl_event_add_address(ev, text))) {
                        sl_seterr(errstr, errstr_size, err, "adding address %s", text);
                        break;
                }
        }
        freeifaddrs(ifa_list);
        return err;
}

static double sl_pct(int64_t part, int64_t total)
{
        return total > 0 ? 100.0 * (double)part / (double)total : 0.0;
}

void sl_usage_percents(const sl_usage_t *usage, double pct[3])
{
        pct[0] = usage->cpu_percent;
        pct[1] = sl_pct(usage->mem_used, usage->mem_total);
        pct[2] = sl_pct(usage->disk_used, usage->disk_total);
}

int sl_usage_moved(const double last[3], const double cur[3], double threshold)
{
        for (int i = 0; i < 3; i++) {
                double d = cur[i] - last[i];

                if (d >= threshold || -d >= threshold)
                        return 1;
        }
        return 0;
}

/* ---- The node's files and node.* keys ---- */

sl_err_t sl_node_status_file_parse(const char *text, sl_node_status_t *statusp, char *errstr,
                                   size_t errstr_size)
{
        static const sl_node_status_t allowed[] = {SL_STATUS_UP, SL_STATUS_DEGRADED,
                                                   SL_STATUS_DRAINING, SL_STATUS_DOWN,
                                                   SL_STATUS_MAINTENANCE};
        const char *s = text ? text : "";
        size_t len;

        while (isspace((unsigned char)*s))
                s++;
        if (!*s) {
                *statusp = SL_STATUS_UP;
                return SL_OK;
        }
        for (len = 0; s[len] && !isspace((unsigned char)s[len]); len++)
                ;
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
                const char *name = sl_node_status_name(allowed[i]);

                if (strlen(name) == len && !strncasecmp(s, name, len)) {
                        *statusp = allowed[i];
                        return SL_OK;
                }
        }
        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_ENUM,
                         "status \"%.*s\": expected up, degraded, draining, down or maintenance",
                         (int)(len > 64 ? 64 : len), s);
}

/* Trims [*sp, *ep) of white space. */
static void sl_trim_range(const char **sp, const char **ep)
{
        while (*sp < *ep && isspace((unsigned char)**sp))
                (*sp)++;
        while (*ep > *sp && isspace((unsigned char)(*ep)[-1]))
                (*ep)--;
}

/* Copies [s, e) into a malloc()ed string. */
static char *sl_strndup_range(const char *s, const char *e)
{
        return strndup(s, (size_t)(e - s));
}

/*
 * Splits "key=value" in [s, e) into malloc()ed, trimmed key and value.
 * @returns SL_OK, SL_ERR_BAD_VALUE (no '=' or empty key) or SL_ERR_NOMEM.
 */
static sl_err_t sl_kv_split(const char *s, const char *e, char **keyp, char **valuep)
{
        const char *eq = memchr(s, '=', (size_t)(e - s));
        const char *ks = s, *ke = eq, *vs = eq ? eq + 1 : NULL, *ve = e;

        if (!eq)
                return SL_ERR_BAD_VALUE;
        sl_trim_range(&ks, &ke);
        sl_trim_range(&vs, &ve);
        if (ks == ke)
                return SL_ERR_BAD_VALUE;
        if (!(*keyp = sl_strndup_range(ks, ke)))
                return SL_ERR_NOMEM;
        if (!(*valuep = sl_strndup_range(vs, ve))) {
                free(*keyp);
                return SL_ERR_NOMEM;
        }
        return SL_OK;
}

/* One service entry [s, e): name[;key=value...]. */
static sl_err_t sl_service_entry(sl_event_t *ev, const char *s, const char *e, char *errstr,
                                 size_t errstr_size)
{
        const char *ns = s, *ne = memchr(s, ';', (size_t)(e - s));
        char *name;
        sl_err_t err;

        if (!ne)
                ne = e;
        sl_trim_range(&ns, &ne);
        if (ns == ne)
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "service \"%.*s\": empty name", (int)(e - s), s);
        if (!(name = sl_strndup_range(ns, ne)))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < ev->service_cnt; i++)
                if (!strcmp(ev->services[i].name, name)) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                        "service \"%s\" is listed twice", name);
                        free(name);
                        return err;
                }
        err = sl_event_add_service(ev, name);
        free(name);
        if (err)
                return sl_seterr(errstr, errstr_size, err, "adding a service: %s", sl_err_str(err));

        for (s = memchr(s, ';', (size_t)(e - s)); s && s < e;) {
                const char *ms = s + 1, *me = memchr(ms, ';', (size_t)(e - ms));
                char *key, *value;
                sl_service_t *svc = &ev->services[ev->service_cnt - 1];

                if (!me)
                        me = e;
                s = me < e ? me : NULL;
                {
                        const char *ts = ms, *te = me;

                        sl_trim_range(&ts, &te);
                        if (ts == te)
                                continue; /* "name;" or "a;;b" */
                }
                if ((err = sl_kv_split(ms, me, &key, &value)))
                        return sl_seterr(errstr, errstr_size, err, "service \"%s\": \"%.*s\": %s",
                                         svc->name, (int)(me - ms), ms,
                                         err == SL_ERR_NOMEM ? "out of memory"
                                                             : "expected key=value");
                for (size_t i = 0; i < svc->meta_cnt; i++)
                        if (!strcmp(svc->meta[i].key, key)) {
                                err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                                "service \"%s\": key \"%s\" is given twice",
                                                svc->name, key);
                                break;
                        }
                if (!err && (err = sl_event_add_service_meta(ev, key, value)))
                        sl_seterr(errstr, errstr_size, err, "adding service meta: %s",
                                  sl_err_str(err));
                free(key);
                free(value);
                if (err)
                        return err;
        }
        return SL_OK;
}

sl_err_t sl_node_services_parse(sl_event_t *ev, const char *text, char sep, char *errstr,
                                size_t errstr_size)
{
        const char *s = text ? text : "";
        sl_err_t err;

        while (*s) {
                const char *e = strchr(s, sep), *ts, *te;

                if (!e)
                        e = s + strlen(s);
                ts = s;
                te = e;
                sl_trim_range(&ts, &te);
                if (ts < te && !(sep == '\n' && *ts == '#') &&
                    (err = sl_service_entry(ev, ts, te, errstr, errstr_size)))
                        return err;
                s = *e ? e + 1 : e;
        }
        return SL_OK;
}

sl_err_t sl_node_labels_parse(sl_event_t *ev, const char *text, char *errstr, size_t errstr_size)
{
        const char *s = text ? text : "";
        sl_err_t err;

        while (*s) {
                const char *e = strchr(s, ','), *ts = s, *te;
                char *key, *value;

                if (!e)
                        e = s + strlen(s);
                te = e;
                sl_trim_range(&ts, &te);
                s = *e ? e + 1 : e;
                if (ts == te)
                        continue;
                if ((err = sl_kv_split(ts, te, &key, &value)))
                        return sl_seterr(
                            errstr, errstr_size, err, "label \"%.*s\": %s", (int)(te - ts), ts,
                            err == SL_ERR_NOMEM ? "out of memory" : "expected key=value");
                for (size_t i = 0; i < ev->label_cnt; i++)
                        if (!strcmp(ev->labels[i].key, key)) {
                                err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                                "label \"%s\" is given twice", key);
                                break;
                        }
                if (!err && (err = sl_event_add_label(ev, key, value)))
                        sl_seterr(errstr, errstr_size, err, "adding a label: %s", sl_err_str(err));
                free(key);
                free(value);
                if (err)
                        return err;
        }
        return SL_OK;
}

int sl_node_services_equal(const sl_event_t *a, const sl_event_t *b)
{
        if (a->service_cnt != b->service_cnt)
                return 0;
        for (size_t i = 0; i < a->service_cnt; i++) {
                const sl_service_t *x = &a->services[i], *y = &b->services[i];

                if (strcmp(x->name, y->name) || x->meta_cnt != y->meta_cnt)
                        return 0;
                for (size_t j = 0; j < x->meta_cnt; j++)
                        if (strcmp(x->meta[j].key, y->meta[j].key) ||
                            strcmp(x->meta[j].value, y->meta[j].value))
                                return 0;
        }
        return 1;
}
