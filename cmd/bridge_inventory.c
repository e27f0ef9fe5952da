/* The bridge's inventory: parsing and validation (bridge_inventory.h). */
#include "bridge_inventory.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sl_event.h"
#include "sl_name.h"
#include "sl_producer.h"

/* Most fields on one line (4 + labels): a line is not a place for hundreds of labels. */
#define SL_INV_FIELDS_MAX 260

void sl_inventory_destroy(sl_inventory_t *inv)
{
        if (!inv)
                return;
        for (size_t i = 0; i < inv->node_cnt; i++)
                free(inv->nodes[i].labels);
        for (size_t i = 0; i < inv->str_cnt; i++)
                free(inv->strs[i]);
        free(inv->strs);
        free(inv->nodes);
        free(inv->name);
        free(inv);
}

/* A copy of @p len bytes of @p s owned by @p inv. NULL when out of memory. */
static const char *sl_inv_strndup(sl_inventory_t *inv, const char *s, size_t len)
{
        char *copy;

        if (inv->str_cnt == inv->str_cap) {
                size_t cap = inv->str_cap ? 2 * inv->str_cap : 256;
                char **tmp = realloc(inv->strs, cap * sizeof(*tmp));

                if (!tmp)
                        return NULL;
                inv->strs = tmp;
                inv->str_cap = cap;
        }
        if (!(copy = strndup(s, len)))
                return NULL;
        inv->strs[inv->str_cnt++] = copy;
        return copy;
}

/* A host name: labels of [A-Za-z0-9_-] separated by dots (no empty label), up to 253 bytes. */
static int sl_inv_hostname_ok(const char *h, size_t len)
{
        size_t label = 0;

        if (!len || len > 253)
                return 0;
        for (size_t i = 0; i < len; i++) {
                char c = h[i];

                if (c == '.') {
                        if (!label)
                                return 0;
                        label = 0;
                        continue;
                }
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_'))
                        return 0;
                if (++label > 63)
                        return 0;
        }
        return 1;
}

sl_err_t sl_probe_url_parse(const char *url, sl_probe_kind_t *kindp, char *host_buf,
                            size_t host_size, int *portp, char *errstr, size_t errstr_size)
{
        static const struct {
                const char *prefix;
                sl_probe_kind_t kind;
                int port;
        } schemes[] = {{"http://", SL_PROBE_HTTP, 80},
                       {"https://", SL_PROBE_HTTP, 443},
                       {"tcp://", SL_PROBE_TCP, 0}};
        const char *p = NULL, *host, *host_end, *end;
        sl_probe_kind_t kind = SL_PROBE_HTTP;
        size_t host_len;
        int port = 0;

        for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
                size_t n = strlen(schemes[i].prefix);

                if (!strncasecmp(url, schemes[i].prefix, n)) {
                        p = url + n;
                        kind = schemes[i].kind;
                        port = schemes[i].port;
                        break;
                }
        }
        if (!p) {
                const char *colon = strstr(url, "://");

                if (colon)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "probe \"%s\": unknown scheme \"%.*s\" (expected "
                                         "http://, https:// or tcp://)",
                                         url, (int)(colon - url), url);
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "probe \"%s\" is not a URL (expected http://HOST[:PORT][/PATH], "
                                 "https://... or tcp://HOST:PORT)",
                                 url);
        }
        for (const unsigned char *c = (const unsigned char *)url; *c; c++)
                if (*c <= 0x20 || *c >= 0x7f)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "probe \"%s\": byte 0x%02x at %ld is not allowed in a "
                                         "URL (percent-encode it)",
                                         url, *c, (long)((const char *)c - url));
        /* The authority ends at the path, the query or the end. */
        end = p + strcspn(p, "/?#");
        if (memchr(p, '@', (size_t)(end - p)))
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "probe \"%s\": credentials in the URL are not supported", url);
        if (*p == '[') {
                char addr[INET6_ADDRSTRLEN + 1];
                struct in6_addr a6;
                const char *close = memchr(p, ']', (size_t)(end - p));

                if (!close)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "probe \"%s\": '[' without ']'", url);
                host = p + 1;
                host_len = (size_t)(close - host);
                if (host_len >= sizeof(addr) ||
                    (memcpy(addr, host, host_len), addr[host_len] = '\0',
                     inet_pton(AF_INET6, addr, &a6) != 1))
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "probe \"%s\": \"%.*s\" is not an IPv6 address", url,
                                         (int)host_len, host);
                host_end = close + 1;
        } else {
                host = p;
                host_end = p + strcspn(p, ":/?#");
                if (host_end > end)
                        host_end = end;
                host_len = (size_t)(host_end - host);
                if (!host_len)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "probe \"%s\": no host", url);
                if (!sl_inv_hostname_ok(host, host_len))
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "probe \"%s\": \"%.*s\" is not a host name or address",
                                         url, (int)host_len, host);
        }
        if (host_end < end) {
                long v = 0;
                const char *d = host_end + 1;

                if (*host_end != ':' || d == end)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "probe \"%s\": expected ':PORT' after the host", url);
                for (; d < end; d++) {
                        if (*d < '0' || *d > '9' || (v = v * 10 + (*d - '0')) > 65535)
                                break;
                }
                if (d < end || v < 1)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "probe \"%s\": port \"%.*s\" is not a number from 1 to "
                                         "65535",
                                         url, (int)(end - host_end - 1), host_end + 1);
                port = (int)v;
        }
        if (kind == SL_PROBE_TCP) {
                if (!port)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "probe \"%s\": tcp:// needs a port (tcp://HOST:PORT)",
                                         url);
                if (*end && strcmp(end, "/"))
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "probe \"%s\": a tcp:// probe has no path", url);
        }
        if (host_len >= host_size)
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "probe \"%s\": the host is too long", url);
        memcpy(host_buf, host, host_len);
        host_buf[host_len] = '\0';
        *kindp = kind;
        *portp = port;
        return SL_OK;
}

/* One field of a line. */
typedef struct {
        const char *s;
        size_t len;
} sl_inv_field_t;

static int sl_inv_node_cmp(const void *a, const void *b)
{
        const sl_inv_node_t *x = a, *y = b;
        int c = strcmp(x->node_id, y->node_id);

        return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Parses the labels of fields[4..cnt) into @p n. */
static sl_err_t sl_inv_labels(sl_inventory_t *inv, sl_inv_node_t *n, const sl_inv_field_t *f,
                              size_t cnt, char *errstr, size_t errstr_size)
{
        if (cnt <= 4)
                return SL_OK;
        if (!(n->labels = calloc(cnt - 4, sizeof(*n->labels))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        for (size_t i = 4; i < cnt; i++) {
                const char *eq = memchr(f[i].s, '=', f[i].len);
                size_t klen = eq ? (size_t)(eq - f[i].s) : 0;
                sl_kv_t *kv = &n->labels[n->label_cnt];

                if (!eq)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "\"%.*s\": expected a label KEY=VALUE", (int)f[i].len,
                                         f[i].s);
                if (!klen)
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "\"%.*s\": a label needs a key (KEY=VALUE)", (int)f[i].len,
                                         f[i].s);
                if (!sl_utf8_valid(f[i].s, f[i].len))
                        return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                         "label \"%.*s\" is not valid UTF-8", (int)klen, f[i].s);
                for (size_t j = 0; j < n->label_cnt; j++)
                        if (strlen(n->labels[j].key) == klen &&
                            !memcmp(n->labels[j].key, f[i].s, klen))
                                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                                 "label \"%.*s\" is given twice", (int)klen,
                                                 f[i].s);
                if (!(kv->key = sl_inv_strndup(inv, f[i].s, klen)) ||
                    !(kv->value = sl_inv_strndup(inv, eq + 1, f[i].len - klen - 1)))
                        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                n->label_cnt++;
        }
        return SL_OK;
}

/* Validates and stores one line's fields as node @p n. errstr gets the reason, no position. */
static sl_err_t sl_inv_node(sl_inventory_t *inv, sl_inv_node_t *n, const sl_inv_field_t *f,
                            size_t cnt, const char *tmpl, char *errstr, size_t errstr_size)
{
        static const char *const what[] = {"node id", "type", "region"};
        const char **dst[] = {&n->node_id, &n->type, &n->region, &n->probe};
        char host[256], topic[256];
        sl_err_t err;

        if (cnt < 4)
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "expected NODE_ID TYPE REGION PROBE [KEY=VALUE ...], found %zu "
                                 "field%s",
                                 cnt, cnt == 1 ? "" : "s");
        for (int i = 0; i < 4; i++)
                if (!(*dst[i] = sl_inv_strndup(inv, f[i].s, f[i].len)))
                        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        for (int i = 0; i < 3; i++)
                if ((err = sl_name_validate(what[i], *dst[i], errstr, errstr_size)))
                        return SL_ERR_BAD_VALUE;
        if (tmpl && (err = sl_topic_expand(tmpl, n->region, n->type, topic, sizeof(topic), errstr,
                                           errstr_size))) {
                char why[512];

                snprintf(why, sizeof(why), "%s", errstr);
                return sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                 "topic.template for region %s, type %s: %s", n->region, n->type,
                                 why);
        }
        if ((err = sl_probe_url_parse(n->probe, &n->kind, host, sizeof(host), &n->port, errstr,
                                      errstr_size)))
                return err;
        if (!(n->host = sl_inv_strndup(inv, host, strlen(host))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        return sl_inv_labels(inv, n, f, cnt, errstr, errstr_size);
}

sl_err_t sl_inventory_parse(const char *name, const char *text, size_t len, const char *topic_tmpl,
                            sl_inventory_t **invp, char *errstr, size_t errstr_size)
{
        sl_inventory_t *inv = calloc(1, sizeof(*inv));
        sl_inv_field_t *f = NULL;
        size_t cap = 0, pos = 0;
        sl_err_t err = SL_OK;
        char why[512];
        int line = 0;

        *invp = NULL;
        if (!inv || !(inv->name = strdup(name ? name : "inventory")) ||
            !(f = calloc(SL_INV_FIELDS_MAX, sizeof(*f)))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        while (pos < len) {
                const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
                size_t l = nl ? (size_t)(nl - s) : len - pos, cnt = 0, i = 0;
                sl_inv_node_t *n;

                pos += l + (nl ? 1 : 0);
                line++;
                if (l && s[l - 1] == '\r')
                        l--;
                while (i < l) {
                        size_t start;

                        while (i < l && (s[i] == ' ' || s[i] == '\t'))
                                i++;
                        if (i == l || s[i] == '#')
                                break;
                        start = i;
                        while (i < l && s[i] != ' ' && s[i] != '\t') {
                                unsigned char c = (unsigned char)s[i];

                                if (c < 0x20 || c == 0x7f) {
                                        err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                                        "%s:%d: control character 0x%02x at "
                                                        "column %zu",
                                                        inv->name, line, c, i + 1);
                                        goto fail;
                                }
                                i++;
                        }
                        if (cnt == SL_INV_FIELDS_MAX) {
                                err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                                "%s:%d: more than %d fields", inv->name, line,
                                                SL_INV_FIELDS_MAX);
                                goto fail;
                        }
                        f[cnt].s = s + start;
                        f[cnt++].len = i - start;
                }
                if (!cnt)
                        continue;
                if (inv->node_cnt == cap) {
                        size_t ncap = cap ? 2 * cap : 64;
                        sl_inv_node_t *tmp = realloc(inv->nodes, ncap * sizeof(*tmp));

                        if (!tmp) {
                                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                                goto fail;
                        }
                        inv->nodes = tmp;
                        cap = ncap;
                }
                n = &inv->nodes[inv->node_cnt++];
                memset(n, 0, sizeof(*n));
                n->line = line;
                if ((err = sl_inv_node(inv, n, f, cnt, topic_tmpl, why, sizeof(why)))) {
                        if (err == SL_ERR_NOMEM)
                                sl_seterr(errstr, errstr_size, err, "out of memory");
                        else
                                sl_seterr(errstr, errstr_size, err, "%s:%d: %s", inv->name, line,
                                          why);
                        goto fail;
                }
        }
        if (inv->node_cnt)
                qsort(inv->nodes, inv->node_cnt, sizeof(*inv->nodes), sl_inv_node_cmp);
        /* Of the duplicates, the one met first when reading the file is named. */
        {
                const sl_inv_node_t *dup = NULL, *first = NULL;

                for (size_t i = 1; i < inv->node_cnt; i++) {
                        const sl_inv_node_t *a = &inv->nodes[i - 1], *b = &inv->nodes[i];

                        if (strcmp(a->node_id, b->node_id) || (dup && b->line >= dup->line))
                                continue;
                        dup = b;
                        first = a;
                        /* The first occurrence of this id is the one before the run. */
                        while (first > inv->nodes && !strcmp((first - 1)->node_id, b->node_id))
                                first--;
                }
                if (dup) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                        "%s:%d: node id \"%s\" is already on line %d", inv->name,
                                        dup->line, dup->node_id, first->line);
                        goto fail;
                }
        }
        free(f);
        *invp = inv;
        return SL_OK;

fail:
        free(f);
        sl_inventory_destroy(inv);
        return err;
}

sl_err_t sl_inventory_load(const char *path, const char *topic_tmpl, sl_inventory_t **invp,
                           char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "r");
        char *buf = NULL;
        size_t len = 0, cap = 0;
        sl_err_t err;

        *invp = NULL;
        if (!fp)
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: %s", path, strerror(errno));
        for (;;) {
                size_t got;

                if (len == cap) {
                        size_t ncap = cap ? 2 * cap : 65536;
                        char *tmp;

                        if (ncap > SL_INVENTORY_MAX_BYTES + 1)
                                ncap = SL_INVENTORY_MAX_BYTES + 1;
                        if (ncap == cap) {
                                err = sl_seterr(errstr, errstr_size, SL_ERR_IO,
                                                "%s: larger than %u bytes", path,
                                                SL_INVENTORY_MAX_BYTES);
                                goto done;
                        }
                        if (!(tmp = realloc(buf, ncap))) {
                                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                                goto done;
                        }
                        buf = tmp;
                        cap = ncap;
                }
                got = fread(buf + len, 1, cap - len, fp);
                len += got;
                if (got == 0)
                        break;
        }
        if (ferror(fp)) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: %s", path, strerror(errno));
                goto done;
        }
        if (len && memchr(buf, '\0', len)) {
                size_t at = (size_t)((char *)memchr(buf, '\0', len) - buf);
                int line = 1;

                for (size_t i = 0; i < at; i++)
                        line += buf[i] == '\n';
                err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE, "%s:%d: a NUL byte", path,
                                line);
                goto done;
        }
        err = sl_inventory_parse(path, buf ? buf : "", len, topic_tmpl, invp, errstr, errstr_size);

done:
        free(buf);
        fclose(fp);
        return err;
}

const sl_inv_node_t *sl_inventory_find(const sl_inventory_t *inv, const char *node_id)
{
        size_t lo = 0, hi = inv ? inv->node_cnt : 0;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(inv->nodes[mid].node_id, node_id);

                if (!c)
                        return &inv->nodes[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}
