/* A client of the projector's HTTP API for the command-line views (api_client.h). */
#include "api_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

/* Bounds what one answer may take in memory: a page of 1000 nodes is well under 2 MiB. */
#define SL_APIC_BODY_MAX (256u << 20)
/* An SSE line (one event's data) longer than this is not from the projector. */
#define SL_APIC_LINE_MAX (16u << 20)

#define SL_APIC_CONNECT_TIMEOUT_MS 5000L
#define SL_APIC_TIMEOUT_MS         60000L

struct sl_apic_s {
        char *base;
        CURL *h;
        sl_apic_auth_t auth;
        sl_apic_cancel_cb *cancel;
        void *opaque;
};

typedef struct {
        char *p;
        size_t len, cap;
} sl_apic_buf_t;

static int sl_apic_buf_add(sl_apic_buf_t *b, const char *s, size_t n, size_t max)
{
        if (b->len + n + 1 > max)
                return -1;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                char *tmp;

                while (cap < b->len + n + 1)
                        cap *= 2;
                if (!(tmp = realloc(b->p, cap)))
                        return -1;
                b->p = tmp;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
        return 0;
}

int sl_apic_url_has_userinfo(const char *url)
{
        const char *p = strstr(url, "://"), *end;

        if (!p)
                return 0;
        p += 3;
        end = p + strcspn(p, "/?#");
        return memchr(p, '@', (size_t)(end - p)) != NULL;
}

sl_err_t sl_apic_new(const char *base_url, sl_apic_cancel_cb *cancel, void *opaque, sl_apic_t **cp,
                     char *errstr, size_t errstr_size)
{
        sl_apic_t *c;
        size_t len = strlen(base_url);
        CURLcode res;

        if (sl_apic_url_has_userinfo(base_url))
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "the API's URL carries credentials (USER:PASSWORD@): URLs are "
                                 "printed in messages; use api.basic.auth.user.info instead");
        if ((res = curl_global_init(CURL_GLOBAL_DEFAULT)))
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "curl_global_init: %s",
                                 curl_easy_strerror(res));
        while (len > 0 && base_url[len - 1] == '/')
                len--;
        if (!(c = calloc(1, sizeof(*c))) || !(c->base = strndup(base_url, len)) ||
            !(c->h = curl_easy_init())) {
                sl_apic_destroy(c);
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        }
        c->cancel = cancel;
        c->opaque = opaque;
        *cp = c;
        return SL_OK;
}

void sl_apic_destroy(sl_apic_t *c)
{
        if (!c)
                return;
        if (c->h)
                curl_easy_cleanup(c->h);
        sl_apic_auth_clear(&c->auth);
        free(c->base);
        free(c);
}

static void sl_apic_wipe_free(char *s)
{
        if (s) {
                memset(s, 0, strlen(s));
                free(s);
        }
}

sl_err_t sl_apic_auth_load(const sl_conf_t *conf, sl_apic_auth_t *a, char *errstr,
                           size_t errstr_size)
{
        const char *up = sl_conf_get(conf, "api.basic.auth.user.info");
        const char *tf = sl_conf_get(conf, "api.bearer.auth.token.file");
        const char *ca = sl_conf_get(conf, "api.ssl.ca.location");
        char line[4096];
        FILE *fp;
        size_t len;

        if (up && *up && tf && *tf)
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "api.basic.auth.user.info and api.bearer.auth.token.file: set "
                                 "one, not both");
        if (up && *up && !strchr(up, ':'))
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "api.basic.auth.user.info: expected USER:PASSWORD");
        if ((up && *up && !(a->userpwd = strdup(up))) || (ca && *ca && !(a->ca = strdup(ca))))
                goto nomem;
        if (!tf || !*tf)
                return SL_OK;
        if (!(fp = fopen(tf, "r")))
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "api.bearer.auth.token.file=%s: %s", tf, strerror(errno));
        if (!fgets(line, sizeof(line), fp))
                line[0] = '\0';
        fclose(fp);
        len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (!len) {
                memset(line, 0, sizeof(line));
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "api.bearer.auth.token.file=%s: no token on its first line", tf);
        }
        a->bearer = strdup(line);
        memset(line, 0, sizeof(line));
        if (!a->bearer)
                goto nomem;
        return SL_OK;

nomem:
        sl_apic_auth_clear(a);
        return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
}

void sl_apic_auth_apply(const sl_apic_auth_t *a, void *curl)
{
        CURL *h = curl;

        if (a->userpwd) {
                curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                curl_easy_setopt(h, CURLOPT_USERPWD, a->userpwd);
        } else if (a->bearer) {
                curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
                curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, a->bearer);
        }
        if (a->ca)
                curl_easy_setopt(h, CURLOPT_CAINFO, a->ca);
}

void sl_apic_auth_clear(sl_apic_auth_t *a)
{
        sl_apic_wipe_free(a->userpwd);
        sl_apic_wipe_free(a->bearer);
        free(a->ca);
        memset(a, 0, sizeof(*a));
}

sl_err_t sl_apic_set_auth(sl_apic_t *c, const sl_conf_t *conf, char *errstr, size_t errstr_size)
{
        sl_apic_auth_clear(&c->auth);
        return sl_apic_auth_load(conf, &c->auth, errstr, errstr_size);
}

const char *sl_apic_url(const sl_apic_t *c)
{
        return c->base;
}

char *sl_apic_escape(const char *s)
{
        char *e = curl_easy_escape(NULL, s, (int)strlen(s)), *copy;

        if (!e)
                return NULL;
        copy = strdup(e);
        curl_free(e);
        return copy;
}

static int sl_apic_progress_cb(void *opaque, curl_off_t dltotal, curl_off_t dlnow,
                               curl_off_t ultotal, curl_off_t ulnow)
{
        sl_apic_t *c = opaque;

        (void)dltotal;
        (void)dlnow;
        (void)ultotal;
        (void)ulnow;
        return c->cancel && c->cancel(c->opaque);
}

/* The options every request has; @p url is copied by libcurl. */
static void sl_apic_prepare(sl_apic_t *c, const char *url, char *curl_err)
{
        curl_easy_reset(c->h);
        curl_err[0] = '\0';
        curl_easy_setopt(c->h, CURLOPT_URL, url);
        curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, SL_APIC_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(c->h, CURLOPT_USERAGENT, "seerlog/" SEERLOG_VERSION);
        curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, curl_err);
        curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, sl_apic_progress_cb);
        curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, c);
        sl_apic_auth_apply(&c->auth, c->h);
}

static char *sl_apic_join(const sl_apic_t *c, const char *path)
{
        size_t len = strlen(c->base) + strlen(path) + 1;
        char *url = malloc(len);

        if (url)
                snprintf(url, len, "%s%s", c->base, path);
        return url;
}

/* Failures of the transfer itself (no HTTP answer to report). */
static sl_err_t sl_apic_curl_error(const sl_apic_t *c, CURLcode res, const char *curl_err,
                                   char *errstr, size_t errstr_size)
{
        if (res == CURLE_ABORTED_BY_CALLBACK)
                return sl_seterr(errstr, errstr_size, SL_ERR_IO, "interrupted");
        return sl_seterr(errstr, errstr_size, SL_ERR_IO, "cannot reach the API at %s: %s%s",
                         c->base, *curl_err ? curl_err : curl_easy_strerror(res),
                         res == CURLE_PEER_FAILED_VERIFICATION
                             ? " (api.ssl.ca.location names the CA that signed the API's "
                               "certificate)"
                             : "");
}

/* An HTTP error answer: the API's {"error_code", "message"}, else the start of the body. */
static sl_err_t sl_apic_http_error(long status, const char *body, size_t len, char *errstr,
                                   size_t errstr_size)
{
        json_t *js = body ? json_loadb(body, len, 0, NULL) : NULL;
        const char *msg = json_string_value(json_object_get(js, "message"));
        sl_err_t err = status == 404   ? SL_ERR_NOT_FOUND
                       : status == 400 ? SL_ERR_INVALID_ARG
                                       : SL_ERR_BAD_VALUE;

        if (status == 401)
                sl_seterr(errstr, errstr_size, err,
                          "HTTP 401: the API wants credentials, and none or wrong ones were sent "
                          "(api.basic.auth.user.info or api.bearer.auth.token.file)");
        else if (msg && (status == 404 || status == 400))
                sl_seterr(errstr, errstr_size, err, "%s", msg);
        else if (msg)
                sl_seterr(errstr, errstr_size, err, "HTTP %ld: %s", status, msg);
        else
                sl_seterr(errstr, errstr_size, err, "HTTP %ld%s%.*s", status, len ? ": " : "",
                          (int)(len > 200 ? 200 : len), body ? body : "");
        json_decref(js);
        return err;
}

static size_t sl_apic_body_cb(char *ptr, size_t size, size_t nmemb, void *opaque)
{
        return sl_apic_buf_add(opaque, ptr, size * nmemb, SL_APIC_BODY_MAX) ? 0 : size * nmemb;
}

sl_err_t sl_apic_get_json(sl_apic_t *c, const char *path, json_t **bodyp, long *statusp,
                          char *errstr, size_t errstr_size)
{
        char curl_err[CURL_ERROR_SIZE], *url = sl_apic_join(c, path);
        sl_apic_buf_t body = {0};
        json_error_t jerr;
        long status = 0;
        sl_err_t err;
        CURLcode res;

        *bodyp = NULL;
        if (!url) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        sl_apic_prepare(c, url, curl_err);
        curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, SL_APIC_TIMEOUT_MS);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sl_apic_body_cb);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &body);
        if ((res = curl_easy_perform(c->h)) != CURLE_OK) {
                if (res == CURLE_WRITE_ERROR)
                        err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                        "%s: answer larger than %u bytes", url, SL_APIC_BODY_MAX);
                else
                        err = sl_apic_curl_error(c, res, curl_err, errstr, errstr_size);
                goto done;
        }
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status > 299) {
                err = sl_apic_http_error(status, body.p, body.len, errstr, errstr_size);
                goto done;
        }
        if (!(*bodyp = json_loadb(body.p ? body.p : "", body.len, 0, &jerr))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                "%s: the answer is not JSON (%s)", url, jerr.text);
                goto done;
        }
        err = SL_OK;
done:
        if (statusp)
                *statusp = status;
        free(body.p);
        free(url);
        return err;
}

/* ---- a file ---- */

typedef struct {
        int fd;
        int64_t bytes;
        int failed_errno;
        sl_apic_buf_t err; /* an error answer's body */
        long status;       /* known once the body starts */
        CURL *h;
} sl_apic_file_t;

static size_t sl_apic_file_cb(char *ptr, size_t size, size_t nmemb, void *opaque)
{
        sl_apic_file_t *f = opaque;
        size_t n = size * nmemb, off = 0;

        if (!f->status)
                curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &f->status);
        if (f->status < 200 || f->status > 299) /* keep the start of an error answer */
                return sl_apic_buf_add(&f->err, ptr, n < 65536 ? n : 65536, 65536 + 1) ? 0 : n;
        while (off < n) {
                ssize_t w = write(f->fd, ptr + off, n - off);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        f->failed_errno = w < 0 ? errno : EIO;
                        return 0;
                }
                off += (size_t)w;
        }
        f->bytes += (int64_t)n;
        return n;
}

sl_err_t sl_apic_get_file(sl_apic_t *c, const char *path, int fd, int64_t *bytesp, long *statusp,
                          char *errstr, size_t errstr_size)
{
        char curl_err[CURL_ERROR_SIZE], *url = sl_apic_join(c, path);
        sl_apic_file_t f = {.fd = fd, .h = c->h};
        long status = 0;
        sl_err_t err;
        CURLcode res;

        if (!url) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        sl_apic_prepare(c, url, curl_err);
        /* No overall time limit (a large file takes long), but a stalled transfer is given up:
         * less than 1 byte/s for a minute. */
        curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, SL_APIC_TIMEOUT_MS / 1000);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sl_apic_file_cb);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &f);
        res = curl_easy_perform(c->h);
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
        if (res != CURLE_OK && f.failed_errno) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO, "%s: writing the answer: %s", url,
                                strerror(f.failed_errno));
                goto done;
        }
        if (res != CURLE_OK && !(status && (status < 200 || status > 299))) {
                err = sl_apic_curl_error(c, res, curl_err, errstr, errstr_size);
                goto done;
        }
        if (status < 200 || status > 299) {
                err = sl_apic_http_error(status, f.err.p, f.err.len, errstr, errstr_size);
                goto done;
        }
        err = SL_OK;
done:
        if (statusp)
                *statusp = status;
        if (bytesp)
                *bytesp = f.bytes;
        free(f.err.p);
        free(url);
        return err;
}

/* ---- Server-Sent Events ---- */

typedef struct {
        sl_apic_t *c;
        sl_apic_event_cb *on_event;
        void *opaque;
        long status;        /* 0 until the first bytes */
        sl_apic_buf_t line; /* the line being read */
        sl_apic_buf_t data; /* the data lines of the event being read */
        sl_apic_buf_t body; /* an error answer */
        char id[64];
        int has_id;
        char event[64];
        int stopped;  /* on_event asked to stop */
        int too_long; /* a line over SL_APIC_LINE_MAX */
} sl_apic_sse_t;

/* One complete line (no newline). @returns non-zero to stop. */
static int sl_apic_sse_line(sl_apic_sse_t *s, char *line, size_t len)
{
        const char *value;
        size_t vlen;
        char *colon;

        if (len && line[len - 1] == '\r')
                line[--len] = '\0';
        if (!len) { /* end of the event: dispatch */
                int stop = 0;

                if (s->data.len || s->event[0])
                        stop = s->on_event(s->has_id ? s->id : NULL,
                                           s->event[0] ? s->event : "message",
                                           s->data.p ? s->data.p : "", s->opaque);
                s->data.len = 0;
                if (s->data.p)
                        s->data.p[0] = '\0';
                s->event[0] = '\0';
                s->has_id = 0;
                return stop;
        }
        if (line[0] == ':') /* comment: the keepalive */
                return 0;
        if ((colon = memchr(line, ':', len))) {
                *colon = '\0';
                value = colon + 1;
                if (*value == ' ')
                        value++;
        } else {
                value = "";
        }
        vlen = strlen(value);
        if (!strcmp(line, "data")) {
                if ((s->data.len && sl_apic_buf_add(&s->data, "\n", 1, SL_APIC_LINE_MAX)) ||
                    sl_apic_buf_add(&s->data, value, vlen, SL_APIC_LINE_MAX)) {
                        s->too_long = 1;
                        return 1;
                }
        } else if (!strcmp(line, "id")) {
                snprintf(s->id, sizeof(s->id), "%s", value);
                s->has_id = 1;
        } else if (!strcmp(line, "event")) {
                snprintf(s->event, sizeof(s->event), "%s", value);
        }
        return 0;
}

static size_t sl_apic_sse_cb(char *ptr, size_t size, size_t nmemb, void *opaque)
{
        sl_apic_sse_t *s = opaque;
        size_t n = size * nmemb, start = 0;

        if (!s->status)
                curl_easy_getinfo(s->c->h, CURLINFO_RESPONSE_CODE, &s->status);
        if (s->status != 200)
                return sl_apic_buf_add(&s->body, ptr, n, SL_APIC_BODY_MAX) ? 0 : n;
        for (size_t i = 0; i < n; i++) {
                if (ptr[i] != '\n')
                        continue;
                if (sl_apic_buf_add(&s->line, ptr + start, i - start, SL_APIC_LINE_MAX)) {
                        s->too_long = 1;
                        return 0;
                }
                start = i + 1;
                if (sl_apic_sse_line(s, s->line.p, s->line.len)) {
                        s->stopped = !s->too_long;
                        return 0;
                }
                s->line.len = 0;
        }
        if (start < n && sl_apic_buf_add(&s->line, ptr + start, n - start, SL_APIC_LINE_MAX)) {
                s->too_long = 1;
                return 0;
        }
        return n;
}

sl_err_t sl_apic_stream(sl_apic_t *c, const char *path, const char *last_id, long idle_timeout_s,
                        sl_apic_event_cb *on_event, void *opaque, long *statusp, char *errstr,
                        size_t errstr_size)
{
        char curl_err[CURL_ERROR_SIZE], hdr[128], *url = sl_apic_join(c, path);
        sl_apic_sse_t s = {.c = c, .on_event = on_event, .opaque = opaque};
        struct curl_slist *headers = NULL, *h;
        sl_err_t err;
        CURLcode res;

        if (!url || !(headers = curl_slist_append(NULL, "Accept: text/event-stream"))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        if (last_id) {
                snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s", last_id);
                if (!(h = curl_slist_append(headers, hdr))) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                        goto done;
                }
                headers = h;
        }
        sl_apic_prepare(c, url, curl_err);
        curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sl_apic_sse_cb);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &s);
        /* The server sends a keepalive comment every 15 s: silence means a dead connection. */
        curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, idle_timeout_s);
        res = curl_easy_perform(c->h);
        if (!s.status)
                curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &s.status);
        if (s.stopped) {
                err = SL_OK;
        } else if (s.too_long) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_BAD_VALUE,
                                "%s: an event larger than %u bytes", url, SL_APIC_LINE_MAX);
        } else if (s.status && s.status != 200 && res != CURLE_ABORTED_BY_CALLBACK) {
                err = sl_apic_http_error(s.status, s.body.p, s.body.len, errstr, errstr_size);
        } else if (res == CURLE_OPERATION_TIMEDOUT && s.status) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO,
                                "nothing received from %s for %ld s", c->base, idle_timeout_s);
        } else if (res != CURLE_OK) {
                err =
                    s.status && res != CURLE_ABORTED_BY_CALLBACK
                        ? sl_seterr(errstr, errstr_size, SL_ERR_IO, "the stream from %s broke: %s",
                                    c->base, *curl_err ? curl_err : curl_easy_strerror(res))
                        : sl_apic_curl_error(c, res, curl_err, errstr, errstr_size);
        } else {
                err = SL_OK;
        }
done:
        if (statusp)
                *statusp = s.status;
        curl_slist_free_all(headers);
        free(s.line.p);
        free(s.data.p);
        free(s.body.p);
        free(url);
        return err;
}
