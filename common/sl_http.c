/* HTTP helpers shared by seerlog's servers (see sl_http.h). */
#include "sl_http.h"

#include <stdlib.h>
#include <string.h>

size_t sl_http_unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
        (void)cls;
        (void)c;
        return strlen(s);
}

static int sl_http_hexval(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

char *sl_http_pct_decode(const char *s, size_t len, int plus, int *nulp)
{
        char *out = malloc(len + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                int hi, lo;

                if (s[i] == '%' && i + 2 < len &&
                    (hi = sl_http_hexval((unsigned char)s[i + 1])) >= 0 &&
                    (lo = sl_http_hexval((unsigned char)s[i + 2])) >= 0) {
                        char c = (char)(hi * 16 + lo);

                        if (!c) {
                                free(out);
                                *nulp = 1;
                                return NULL;
                        }
                        *o++ = c;
                        i += 2;
                } else if (plus && s[i] == '+')
                        *o++ = ' ';
                else
                        *o++ = s[i];
        }
        *o = '\0';
        return out;
}

enum MHD_Result sl_http_args_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
        sl_http_args_t *a = cls;
        int nul = 0;
        char *k, *v;

        (void)kind;
        if (a->cnt == a->cap) {
                size_t cap = a->cap ? a->cap * 2 : 8;
                char **nk = realloc(a->keys, cap * sizeof(*nk));

                if (!nk) {
                        a->nomem = 1;
                        return MHD_NO;
                }
                a->keys = nk;
                if (!(nk = realloc(a->values, cap * sizeof(*nk)))) {
                        a->nomem = 1;
                        return MHD_NO;
                }
                a->values = nk;
                a->cap = cap;
        }
        k = sl_http_pct_decode(key, strlen(key), 1, &nul);
        v = sl_http_pct_decode(value ? value : "", value ? strlen(value) : 0, 1, &nul);
        if (!k || !v) {
                /* A NUL in an argument: drop the argument. */
                free(k);
                free(v);
                if (!nul)
                        a->nomem = 1;
                return nul ? MHD_YES : MHD_NO;
        }
        a->keys[a->cnt] = k;
        a->values[a->cnt++] = v;
        return MHD_YES;
}

void sl_http_args_free(sl_http_args_t *a)
{
        for (size_t i = 0; i < a->cnt; i++) {
                free(a->keys[i]);
                free(a->values[i]);
        }
        free(a->keys);
        free(a->values);
        memset(a, 0, sizeof(*a));
}

const char *sl_http_arg(const sl_http_args_t *a, const char *name)
{
        for (size_t i = a ? a->cnt : 0; i > 0; i--)
                if (!strcmp(a->keys[i - 1], name))
                        return a->values[i - 1];
        return NULL;
}

void sl_http_segs_free(char **seg, size_t cnt)
{
        for (size_t i = 0; i < cnt; i++)
                free(seg[i]);
        free(seg);
}

int sl_http_split_path(const char *url, char ***segp, size_t *cntp)
{
        char **seg = NULL;
        size_t cnt = 0, cap = 0;
        const char *p = url;
        int ret = -1;

        while (*p == '/')
                p++;
        while (*p) {
                const char *end = strchr(p, '/');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                int nul = 0;

                if (cnt == cap) {
                        char **n = realloc(seg, (cap = cap ? cap * 2 : 8) * sizeof(*n));

                        if (!n)
                                goto fail;
                        seg = n;
                }
                if (!(seg[cnt] = sl_http_pct_decode(p, len, 0, &nul))) {
                        ret = nul ? -2 : -1;
                        goto fail;
                }
                cnt++;
                if (!end)
                        break;
                p = end + 1;
                /* One trailing slash is allowed: "/subjects/" is "/subjects". */
                if (!*p)
                        break;
        }
        *segp = seg;
        *cntp = cnt;
        return 0;

fail:
        sl_http_segs_free(seg, cnt);
        return ret;
}

int sl_http_secret_eq(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        unsigned char d = la != lb;

        for (size_t i = 0; i < la; i++)
                d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
        return !d;
}
