/* HTTP helpers shared by seerlog's servers (see sl_http.h). */
#include "sl_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

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

/* ---- security: TLS, users, tokens ---- */

typedef struct {
        char *name; /* the user; NULL for a bearer token */
        char *secret;
        sl_http_role_t role;
} sl_http_cred_t;

struct sl_http_sec_s {
        char *cert, *key; /* PEM contents, or NULL for plain HTTP */
        sl_http_cred_t *creds;
        size_t cred_cnt;
        int tokens;        /* some creds are bearer tokens */
        char realm[64];    /* "seerlog-<prefix>" */
        char warning[768]; /* what the operator should hear about, or "" */
};

static void sl_http_wipe_free(char *s)
{
        if (s) {
                /* Passwords, tokens, keys: not left in freed memory. */
                memset(s, 0, strlen(s));
                free(s);
        }
}

/* Notes that @p path (of key @p key) can be read by other users than its owner. */
static void sl_http_sec_check_mode(sl_http_sec_t *sec, const char *key, const char *path,
                                   mode_t mode)
{
        size_t len = strlen(sec->warning);

        if (!(mode & (S_IRWXG | S_IRWXO)) || len >= sizeof(sec->warning) - 1)
                return;
        snprintf(sec->warning + len, sizeof(sec->warning) - len,
                 "%s%s=%s can be read by other users (mode %04o): chmod 600 it", len ? "; " : "",
                 key, path, (unsigned)(mode & 07777));
}

/* Reads the whole file @p path (named by @p key in errors) into a NUL-terminated string. */
static sl_err_t sl_http_read_file(sl_http_sec_t *sec, const char *key, const char *path, int secret,
                                  char **textp, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "r");
        char *buf = NULL;
        size_t len = 0, cap = 0, n;
        struct stat st;

        if (!fp)
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "%s=%s: %s", key, path,
                                 strerror(errno));
        if (fstat(fileno(fp), &st) == 0) {
                if (!S_ISREG(st.st_mode)) {
                        fclose(fp);
                        return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                         "%s=%s: not a regular file", key, path);
                }
                if (secret)
                        sl_http_sec_check_mode(sec, key, path, st.st_mode);
        }
        do {
                if (len + 4096 + 1 > cap) {
                        char *b = malloc(cap = cap ? cap * 2 : 8192);

                        if (!b) {
                                sl_http_wipe_free(buf);
                                fclose(fp);
                                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM,
                                                 "out of memory");
                        }
                        /* Not realloc(): the old buffer is wiped, not left behind. */
                        if (buf) {
                                memcpy(b, buf, len);
                                memset(buf, 0, len);
                                free(buf);
                        }
                        buf = b;
                }
                n = fread(buf + len, 1, cap - len - 1, fp);
                len += n;
                buf[len] = '\0';
        } while (n > 0);
        if (ferror(fp)) {
                int e = errno;

                sl_http_wipe_free(buf);
                fclose(fp);
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "%s=%s: %s", key, path,
                                 strerror(e));
        }
        fclose(fp);
        if (strlen(buf) != len) {
                sl_http_wipe_free(buf);
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "%s=%s: contains a NUL byte",
                                 key, path);
        }
        *textp = buf;
        return SL_OK;
}

/* Characters of a bearer token (RFC 6750's b64token). */
static int sl_http_token_ok(const char *t)
{
        size_t n =
            strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");

        while (t[n] == '=')
                n++;
        return n && !t[n];
}

/* Takes a trailing ":admin" / ":read" off @p s (in place). @returns the role, admin if none. */
static sl_http_role_t sl_http_take_role(char *s)
{
        char *colon = strrchr(s, ':');

        if (colon && !strcmp(colon + 1, "admin")) {
                *colon = '\0';
                return SL_HTTP_ROLE_ADMIN;
        }
        if (colon && !strcmp(colon + 1, "read")) {
                *colon = '\0';
                return SL_HTTP_ROLE_READ;
        }
        return SL_HTTP_ROLE_ADMIN;
}

#define SL_HTTP_TOKEN_MIN 16 /* a bearer token shorter than this is too easily guessed */

/* The auth file: "USER:PASSWORD[:ROLE]" and "Bearer TOKEN[:ROLE]" lines. */
static sl_err_t sl_http_load_auth(sl_http_sec_t *sec, const char *key, const char *path,
                                  char *errstr, size_t errstr_size)
{
        char *text = NULL, *line, *next;
        size_t lineno = 0;
        sl_err_t err;

        if ((err = sl_http_read_file(sec, key, path, 1, &text, errstr, errstr_size)))
                return err;
        for (line = text; line; line = next) {
                size_t len;
                sl_http_cred_t *c;
                sl_http_role_t role;
                char *colon;

                if ((next = strchr(line, '\n')))
                        *next++ = '\0';
                lineno++;
                len = strlen(line);
                if (len && line[len - 1] == '\r')
                        line[--len] = '\0';
                if (!len || line[0] == '#')
                        continue;
                role = sl_http_take_role(line);
                if (!strncmp(line, "Bearer ", 7)) {
                        if (!sl_http_token_ok(line + 7) || strlen(line + 7) < SL_HTTP_TOKEN_MIN) {
                                /* Never the line itself: it holds a secret. */
                                err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                                "%s=%s line %zu: a bearer token is at least %d of "
                                                "A-Z a-z 0-9 - . _ ~ + / (then = padding)",
                                                key, path, lineno, SL_HTTP_TOKEN_MIN);
                                goto done;
                        }
                        colon = NULL;
                } else if (!(colon = strchr(line, ':')) || colon == line || !colon[1]) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                        "%s=%s line %zu: expected USER:PASSWORD[:ROLE] or "
                                        "Bearer TOKEN[:ROLE] (ROLE admin or read)",
                                        key, path, lineno);
                        goto done;
                }
                if (!(c = realloc(sec->creds, (sec->cred_cnt + 1) * sizeof(*c)))) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                        goto done;
                }
                sec->creds = c;
                c = &sec->creds[sec->cred_cnt++];
                c->role = role;
                c->name = colon ? strndup(line, (size_t)(colon - line)) : NULL;
                c->secret = strdup(colon ? colon + 1 : line + 7);
                if ((colon && !c->name) || !c->secret) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                        goto done;
                }
                sec->tokens |= !colon;
        }
        if (!sec->cred_cnt)
                err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                "%s=%s: no USER:PASSWORD or Bearer TOKEN line", key, path);

done:
        sl_http_wipe_free(text);
        return err;
}

/* Whether @p host names this machine's loopback interface only. */
static int sl_http_loopback(const char *host)
{
        unsigned char a[16];
        size_t len = strlen(host);
        char buf[64];

        if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(buf)) {
                memcpy(buf, host + 1, len - 2);
                buf[len - 2] = '\0';
                host = buf;
        }
        if (!strcasecmp(host, "localhost"))
                return 1;
        if (inet_pton(AF_INET, host, a) == 1)
                return a[0] == 127;
        if (inet_pton(AF_INET6, host, a) == 1)
                return !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
        return 0;
}

typedef struct {
        char msg[256];
} sl_http_tls_log_t;

__attribute__((format(printf, 2, 0))) static void sl_http_tls_log(void *cls, const char *fmt,
                                                                  va_list ap)
{
        sl_http_tls_log_t *l = cls;
        size_t len;

        if (l->msg[0]) /* the first message says why */
                return;
        vsnprintf(l->msg, sizeof(l->msg), fmt, ap);
        len = strlen(l->msg);
        while (len && (l->msg[len - 1] == '\n' || l->msg[len - 1] == '\r'))
                l->msg[--len] = '\0';
}

static enum MHD_Result sl_http_nothing(void *cls, struct MHD_Connection *c, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
        (void)cls, (void)c, (void)url, (void)method, (void)version, (void)upload_data;
        (void)upload_data_size, (void)con_cls;
        return MHD_NO;
}

/* Loads the certificate and key the way the server will (a daemon without a socket), so that
 * a bad PEM or a key that is not the certificate's is refused at start, with the reason. */
static sl_err_t sl_http_tls_try(const sl_http_sec_t *sec, const char *prefix, char *errstr,
                                size_t errstr_size)
{
        sl_http_tls_log_t log = {{0}};
        struct MHD_Daemon *d =
            MHD_start_daemon(MHD_USE_TLS | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0, NULL,
                             NULL, sl_http_nothing, NULL, MHD_OPTION_EXTERNAL_LOGGER,
                             sl_http_tls_log, &log, MHD_OPTION_HTTPS_MEM_CERT, sec->cert,
                             MHD_OPTION_HTTPS_MEM_KEY, sec->key, MHD_OPTION_END);

        if (d) {
                MHD_stop_daemon(d);
                return SL_OK;
        }
        return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                         "%s.tls.cert / %s.tls.key: not a usable PEM certificate and its private "
                         "key (%s)",
                         prefix, prefix, log.msg[0] ? log.msg : "libmicrohttpd refused them");
}

sl_err_t sl_http_sec_new(const sl_conf_t *conf, const char *prefix, const char *listen_host,
                         sl_http_sec_t **secp, char *errstr, size_t errstr_size)
{
        char k_cert[64], k_key[64], k_auth[64], k_insecure[64];
        const char *cert, *key, *auth;
        sl_http_sec_t *sec;
        sl_err_t err = SL_OK;

        *secp = NULL;
        snprintf(k_cert, sizeof(k_cert), "%s.tls.cert", prefix);
        snprintf(k_key, sizeof(k_key), "%s.tls.key", prefix);
        snprintf(k_auth, sizeof(k_auth), "%s.auth.file", prefix);
        snprintf(k_insecure, sizeof(k_insecure), "%s.allow.insecure.auth", prefix);
        cert = sl_conf_get(conf, k_cert);
        key = sl_conf_get(conf, k_key);
        auth = sl_conf_get(conf, k_auth);
        if (!(sec = calloc(1, sizeof(*sec))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        snprintf(sec->realm, sizeof(sec->realm), "seerlog-%s", prefix);
        if ((cert && *cert) != (key && *key)) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                "%s and %s go together: set both or neither (%s is missing)",
                                k_cert, k_key, cert && *cert ? k_key : k_cert);
                goto done;
        }
        if (cert && *cert &&
            ((err = sl_http_read_file(sec, k_cert, cert, 0, &sec->cert, errstr, errstr_size)) ||
             (err = sl_http_read_file(sec, k_key, key, 1, &sec->key, errstr, errstr_size)) ||
             (err = sl_http_tls_try(sec, prefix, errstr, errstr_size))))
                goto done;
        if (auth && *auth && (err = sl_http_load_auth(sec, k_auth, auth, errstr, errstr_size)))
                goto done;
        if (sec->cred_cnt && !sec->cert && !sl_http_loopback(listen_host) &&
            !sl_conf_get_bool(conf, k_insecure))
                err = sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                "%s is set without %s: on %s, which is not a loopback address, "
                                "passwords and tokens would cross the network in clear; set "
                                "%s and %s, or %s=true to accept that",
                                k_auth, k_cert, *listen_host ? listen_host : "every address",
                                k_cert, k_key, k_insecure);

done:
        if (err)
                sl_http_sec_destroy(sec);
        else
                *secp = sec;
        return err;
}

void sl_http_sec_destroy(sl_http_sec_t *sec)
{
        if (!sec)
                return;
        for (size_t i = 0; i < sec->cred_cnt; i++) {
                free(sec->creds[i].name);
                sl_http_wipe_free(sec->creds[i].secret);
        }
        free(sec->creds);
        free(sec->cert);
        sl_http_wipe_free(sec->key);
        free(sec);
}

int sl_http_sec_tls(const sl_http_sec_t *sec)
{
        return sec && sec->cert;
}

int sl_http_sec_auth(const sl_http_sec_t *sec)
{
        return sec && sec->cred_cnt;
}

const char *sl_http_sec_warning(const sl_http_sec_t *sec)
{
        return sec && sec->warning[0] ? sec->warning : NULL;
}

int sl_http_sec_mhd_options(const sl_http_sec_t *sec, unsigned int *flags,
                            struct MHD_OptionItem *opts)
{
        if (!sl_http_sec_tls(sec))
                return 0;
        *flags |= MHD_USE_TLS;
        opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, sec->cert};
        opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, sec->key};
        return 2;
}

sl_http_role_t sl_http_sec_basic(const sl_http_sec_t *sec, const char *user, const char *pass)
{
        sl_http_role_t role = SL_HTTP_ROLE_NONE;

        /* Every line is compared: the time says nothing about which one matched. */
        for (size_t i = 0; sec && i < sec->cred_cnt; i++)
                if (sec->creds[i].name && !strcmp(sec->creds[i].name, user) &&
                    sl_http_secret_eq(sec->creds[i].secret, pass) && sec->creds[i].role > role)
                        role = sec->creds[i].role;
        return role;
}

sl_http_role_t sl_http_sec_bearer(const sl_http_sec_t *sec, const char *token)
{
        sl_http_role_t role = SL_HTTP_ROLE_NONE;

        for (size_t i = 0; sec && i < sec->cred_cnt; i++)
                if (!sec->creds[i].name && sl_http_secret_eq(sec->creds[i].secret, token) &&
                    sec->creds[i].role > role)
                        role = sec->creds[i].role;
        return role;
}

sl_http_role_t sl_http_sec_check(const sl_http_sec_t *sec, struct MHD_Connection *c)
{
        sl_http_role_t role = SL_HTTP_ROLE_NONE;
        const char *hdr;
        char *pass = NULL, *user;

        if (!sl_http_sec_auth(sec))
                return SL_HTTP_ROLE_ADMIN;
        hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (hdr && !strncasecmp(hdr, "Bearer ", 7)) {
                const char *token = hdr + 7;

                while (*token == ' ')
                        token++;
                return sl_http_sec_bearer(sec, token);
        }
        if (!(user = MHD_basic_auth_get_username_password(c, &pass)))
                return SL_HTTP_ROLE_NONE;
        if (pass) {
                role = sl_http_sec_basic(sec, user, pass);
                memset(pass, 0, strlen(pass));
                MHD_free(pass);
        }
        MHD_free(user);
        return role;
}

void sl_http_sec_challenge(const sl_http_sec_t *sec, struct MHD_Response *r)
{
        char v[96];

        snprintf(v, sizeof(v), "Basic realm=\"%s\"", sec->realm);
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, v);
        if (sec->tokens) {
                snprintf(v, sizeof(v), "Bearer realm=\"%s\"", sec->realm);
                MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, v);
        }
}
