/*
 * The schema registry client (sl_registry.h): Confluent's REST API over libcurl, answers parsed
 * with jansson, schemas by id cached for the life of the client.
 *
 * Threads: every call takes a libcurl easy handle of its own from a small pool (so connections
 * are kept alive and reused between calls) and gives it back; the pool and the id cache are the
 * only shared state, both under one mutex that is never held across a request.
 */
#include "sl_registry.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

/* The most of an answer we buffer: far above any real schema, low enough to survive a registry
 * (or something else on its port) that streams without end. */
#define SL_REG_MAX_BODY (16u << 20)
/* Easy handles kept for reuse; more concurrent calls create (and then free) their own. */
#define SL_REG_POOL_MAX 8
/* Retry backoff: 100 ms, 200 ms, 400 ms, ... never more than this between two attempts. */
#define SL_REG_BACKOFF_MS     100
#define SL_REG_BACKOFF_MAX_MS 5000
/* How much of a non-JSON error answer errstr shows. */
#define SL_REG_SNIPPET 160

/* One id -> schema entry of the cache (open addressing; text NULL: empty slot). */
typedef struct {
        int32_t id;
        char *text;
} sl_reg_slot_t;

struct sl_registry_client_s {
        char *url;                  /* registry.url without a trailing '/' */
        char *userpwd;              /* registry.basic.auth.user.info, or NULL */
        char *ca_file;              /* registry.ssl.ca.location, or NULL */
        long timeout_ms;            /* registry.request.timeout.ms */
        int retries;                /* registry.retries */
        struct curl_slist *headers; /* read-only once built: shared by every handle */

        pthread_mutex_t lock; /* pool and cache */
        CURL *pool[SL_REG_POOL_MAX];
        size_t pool_cnt;
        sl_reg_slot_t *slots;
        size_t slot_cap; /* power of two */
        size_t slot_cnt;
};

/* An answer's body, capped at SL_REG_MAX_BODY. */
typedef struct {
        char *data;
        size_t len;
        size_t cap;
        int overflow;
} sl_reg_body_t;

static pthread_once_t sl_reg_once = PTHREAD_ONCE_INIT;
static CURLcode sl_reg_global_err;

static void sl_reg_global_init(void)
{
        /* Once per process and never cleaned up: other libcurl users in the process may rely on
         * it, and curl_global_cleanup() is not safe while any of them still runs. */
        sl_reg_global_err = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --------------------------------------------------------------------------------------- */
/* Client */

static char *sl_reg_strdup_nonempty(const char *s)
{
        return s && *s ? strdup(s) : NULL;
}

sl_registry_client_t *sl_registry_client_new(const sl_conf_t *conf, char *errstr,
                                             size_t errstr_size)
{
        const char *url = sl_conf_get(conf, "registry.url");
        const char *userpwd = sl_conf_get(conf, "registry.basic.auth.user.info");
        const char *ca_file = sl_conf_get(conf, "registry.ssl.ca.location");
        sl_registry_client_t *c = NULL;
        struct curl_slist *h;
        size_t len;

        pthread_once(&sl_reg_once, sl_reg_global_init);
        if (sl_reg_global_err) {
                sl_seterr(errstr, errstr_size, SL_ERR_IO, "curl_global_init: %s",
                          curl_easy_strerror(sl_reg_global_err));
                return NULL;
        }
        if (!url || !*url) {
                sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "registry.url is empty");
                return NULL;
        }
        if (userpwd && *userpwd && !strchr(userpwd, ':')) {
                sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                          "registry.basic.auth.user.info: expected USER:PASSWORD");
                return NULL;
        }
        if (!(c = calloc(1, sizeof(*c))))
                goto nomem;
        if (pthread_mutex_init(&c->lock, NULL)) {
                free(c);
                c = NULL;
                goto nomem;
        }
        c->timeout_ms = (long)sl_conf_get_int(conf, "registry.request.timeout.ms");
        c->retries = (int)sl_conf_get_int(conf, "registry.retries");
        if (!(c->url = strdup(url)))
                goto nomem;
        for (len = strlen(c->url); len > 0 && c->url[len - 1] == '/'; len--)
                c->url[len - 1] = '\0';
        if ((userpwd && *userpwd && !(c->userpwd = sl_reg_strdup_nonempty(userpwd))) ||
            (ca_file && *ca_file && !(c->ca_file = sl_reg_strdup_nonempty(ca_file))))
                goto nomem;
        /* "Expect:" turns off 100-continue, which would cost a round trip per large POST. */
        if (!(h = curl_slist_append(NULL, "Content-Type: application/vnd.schemaregistry.v1+json")))
                goto nomem;
        c->headers = h;
        if (!(h = curl_slist_append(c->headers, "Accept: application/vnd.schemaregistry.v1+json, "
                                                "application/vnd.schemaregistry+json; qs=0.9, "
                                                "application/json; qs=0.5")) ||
            !(h = curl_slist_append(c->headers, "Expect:")))
                goto nomem;
        return c;

nomem:
        sl_registry_client_destroy(c);
        sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        return NULL;
}

void sl_registry_client_destroy(sl_registry_client_t *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->pool_cnt; i++)
                curl_easy_cleanup(c->pool[i]);
        for (size_t i = 0; i < c->slot_cap; i++)
                free(c->slots[i].text);
        free(c->slots);
        curl_slist_free_all(c->headers);
        pthread_mutex_destroy(&c->lock);
        free(c->url);
        free(c->userpwd);
        free(c->ca_file);
        free(c);
}

/* --------------------------------------------------------------------------------------- */
/* The id -> schema cache */

static size_t sl_reg_slot_of(int32_t id, size_t cap)
{
        /* Ids are small consecutive integers: a multiplicative hash spreads them. */
        return (size_t)(((uint32_t)id * 2654435761u) & (uint32_t)(cap - 1));
}

/* Called with the lock held. */
static const char *sl_reg_cache_find(const sl_registry_client_t *c, int32_t id)
{
        if (!c->slot_cap)
                return NULL;
        for (size_t i = sl_reg_slot_of(id, c->slot_cap);; i = (i + 1) & (c->slot_cap - 1)) {
                if (!c->slots[i].text)
                        return NULL;
                if (c->slots[i].id == id)
                        return c->slots[i].text;
        }
}

/* Called with the lock held; there is room and @p id is not in the table. */
static void sl_reg_cache_insert(sl_reg_slot_t *slots, size_t cap, int32_t id, char *text)
{
        size_t i = sl_reg_slot_of(id, cap);

        while (slots[i].text)
                i = (i + 1) & (cap - 1);
        slots[i].id = id;
        slots[i].text = text;
}

/*
 * Stores @p text (malloc()ed; taken over in every case) as the schema of @p id, unless another
 * thread stored it first: then the stored one is kept. @returns the stored text, valid for the
 * life of the client, or NULL when out of memory.
 */
static const char *sl_reg_cache_put(sl_registry_client_t *c, int32_t id, char *text)
{
        const char *stored;

        pthread_mutex_lock(&c->lock);
        if ((stored = sl_reg_cache_find(c, id))) {
                free(text);
                goto done;
        }
        /* Keep the table at most half full. */
        if ((c->slot_cnt + 1) * 2 > c->slot_cap) {
                size_t cap = c->slot_cap ? c->slot_cap * 2 : 16;
                sl_reg_slot_t *slots = calloc(cap, sizeof(*slots));

                if (!slots) {
                        free(text);
                        goto done;
                }
                for (size_t i = 0; i < c->slot_cap; i++)
                        if (c->slots[i].text)
                                sl_reg_cache_insert(slots, cap, c->slots[i].id, c->slots[i].text);
                free(c->slots);
                c->slots = slots;
                c->slot_cap = cap;
        }
        sl_reg_cache_insert(c->slots, c->slot_cap, id, text);
        c->slot_cnt++;
        stored = text;

done:
        pthread_mutex_unlock(&c->lock);
        return stored;
}

/* --------------------------------------------------------------------------------------- */
/* HTTP */

static CURL *sl_reg_handle_get(sl_registry_client_t *c)
{
        CURL *h = NULL;

        pthread_mutex_lock(&c->lock);
        if (c->pool_cnt)
                h = c->pool[--c->pool_cnt];
        pthread_mutex_unlock(&c->lock);
        if (h) {
                /* Forgets the options, keeps the connections. */
                curl_easy_reset(h);
                return h;
        }
        return curl_easy_init();
}

static void sl_reg_handle_put(sl_registry_client_t *c, CURL *h)
{
        pthread_mutex_lock(&c->lock);
        if (c->pool_cnt < SL_REG_POOL_MAX) {
                c->pool[c->pool_cnt++] = h;
                h = NULL;
        }
        pthread_mutex_unlock(&c->lock);
        if (h)
                curl_easy_cleanup(h);
}

static size_t sl_reg_write_cb(char *ptr, size_t size, size_t nmemb, void *opaque)
{
        sl_reg_body_t *body = opaque;
        size_t n = size * nmemb;

        if (n > SL_REG_MAX_BODY - body->len) {
                body->overflow = 1;
                return 0; /* libcurl stops with CURLE_WRITE_ERROR */
        }
        if (body->len + n + 1 > body->cap) {
                size_t cap = body->cap ? body->cap : 4096;
                char *data;

                while (cap < body->len + n + 1)
                        cap *= 2;
                if (!(data = realloc(body->data, cap)))
                        return 0;
                body->data = data;
                body->cap = cap;
        }
        memcpy(body->data + body->len, ptr, n);
        body->len += n;
        body->data[body->len] = '\0';
        return n;
}

static void sl_reg_sleep_ms(long ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) && errno == EINTR)
                ;
}

/* Appends to errstr after what it already holds. */
static void sl_reg_errcat(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sl_reg_errcat(char *errstr, size_t errstr_size, const char *fmt, ...)
{
        size_t len;
        va_list ap;

        if (!errstr || (len = strnlen(errstr, errstr_size)) + 1 >= errstr_size)
                return;
        va_start(ap, fmt);
        vsnprintf(errstr + len, errstr_size - len, fmt, ap);
        va_end(ap);
}

/*
 * Describes a non-2xx answer in errstr (which holds "METHOD URL: " already): the registry's
 * message and error_code when the body is a Confluent error object, else the start of the body.
 * @returns the error_code, or 0 when there is none.
 */
static long sl_reg_describe_error(long status, const sl_reg_body_t *body, char *errstr,
                                  size_t errstr_size)
{
        json_t *obj = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
        json_t *message = json_object_get(obj, "message");
        json_t *code = json_object_get(obj, "error_code");
        long error_code = json_is_integer(code) ? (long)json_integer_value(code) : 0;

        sl_reg_errcat(errstr, errstr_size, "HTTP %ld", status);
        if (json_is_string(message))
                sl_reg_errcat(errstr, errstr_size, ": %s", json_string_value(message));
        if (error_code)
                sl_reg_errcat(errstr, errstr_size, " (error_code %ld)", error_code);
        if (!json_is_string(message) && body->len) {
                char snippet[SL_REG_SNIPPET + 1];
                size_t n = 0;

                /* Only printable ASCII of whatever it was: errstr ends up on terminals. */
                for (size_t i = 0; i < body->len && n < SL_REG_SNIPPET; i++)
                        snippet[n++] =
                            body->data[i] >= 0x20 && body->data[i] < 0x7f ? body->data[i] : '?';
                snippet[n] = '\0';
                sl_reg_errcat(errstr, errstr_size, ": %s%s", snippet,
                              body->len > SL_REG_SNIPPET ? "..." : "");
        }
        json_decref(obj);
        return error_code;
}

/* How one attempt ended. */
typedef enum {
        SL_REG_DONE,  /* 2xx: the body is the answer */
        SL_REG_FATAL, /* an error that another attempt would not change */
        SL_REG_RETRY, /* timeout, connection error, 5xx, 408, 429 */
} sl_reg_outcome_t;

/*
 * One request with retries. @p path starts with '/' and is already percent-encoded; @p body is
 * JSON text for a POST, or NULL for a GET. @returns SL_OK and the parsed answer in *replyp (a
 * new reference), or an error per sl_registry.h with "METHOD URL: reason" in errstr.
 */
static sl_err_t sl_reg_call(sl_registry_client_t *c, const char *path, const char *body,
                            json_t **replyp, char *errstr, size_t errstr_size)
{
        const char *method = body ? "POST" : "GET";
        sl_reg_body_t answer = {0};
        char curl_err[CURL_ERROR_SIZE];
        char *url = NULL;
        json_error_t jerr;
        CURL *h = NULL;
        sl_err_t err = SL_OK;
        long backoff = SL_REG_BACKOFF_MS;

        *replyp = NULL;
        if (asprintf(&url, "%s%s", c->url, path) < 0) {
                url = NULL;
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        for (int attempt = 0;; attempt++) {
                sl_reg_outcome_t outcome;
                CURLcode res;
                long status = 0;

                if (!(h = sl_reg_handle_get(c))) {
                        err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "curl_easy_init failed");
                        goto done;
                }
                answer.len = 0;
                answer.overflow = 0;
                curl_err[0] = '\0';
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
                curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
                curl_easy_setopt(h, CURLOPT_USERAGENT, "seerlog/" SEERLOG_VERSION);
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sl_reg_write_cb);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
                curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
                if (body) {
                        curl_easy_setopt(h, CURLOPT_POST, 1L);
                        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
                }
                if (c->userpwd) {
                        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                        curl_easy_setopt(h, CURLOPT_USERPWD, c->userpwd);
                }
                if (c->ca_file)
                        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);

                res = curl_easy_perform(h);
                if (res == CURLE_OK)
                        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
                sl_reg_handle_put(c, h);
                h = NULL;

                sl_seterr(errstr, errstr_size, SL_OK, "registry %s %s%s: ", method, c->url, path);
                if (res == CURLE_WRITE_ERROR && answer.overflow) {
                        sl_reg_errcat(errstr, errstr_size, "answer larger than %u bytes",
                                      SL_REG_MAX_BODY);
                        err = SL_ERR_IO;
                        outcome = SL_REG_FATAL;
                } else if (res == CURLE_WRITE_ERROR) {
                        sl_reg_errcat(errstr, errstr_size, "out of memory");
                        err = SL_ERR_NOMEM;
                        outcome = SL_REG_FATAL;
                } else if (res != CURLE_OK) {
                        sl_reg_errcat(errstr, errstr_size, "%s",
                                      *curl_err ? curl_err : curl_easy_strerror(res));
                        switch (res) {
                        case CURLE_OPERATION_TIMEDOUT:
                                err = SL_ERR_TIMEOUT;
                                outcome = SL_REG_RETRY;
                                break;
                        case CURLE_COULDNT_RESOLVE_HOST:
                        case CURLE_COULDNT_RESOLVE_PROXY:
                        case CURLE_COULDNT_CONNECT:
                        case CURLE_SEND_ERROR:
                        case CURLE_RECV_ERROR:
                        case CURLE_GOT_NOTHING:
                        case CURLE_PARTIAL_FILE:
                        case CURLE_HTTP2:
                        case CURLE_HTTP2_STREAM:
                                err = SL_ERR_IO;
                                outcome = SL_REG_RETRY;
                                break;
                        default: /* TLS and certificate errors, bad URLs, ...: no retry. */
                                err = SL_ERR_IO;
                                outcome = SL_REG_FATAL;
                                break;
                        }
                } else if (status >= 200 && status < 300) {
                        outcome = SL_REG_DONE;
                } else {
                        long code = sl_reg_describe_error(status, &answer, errstr, errstr_size);

                        outcome = SL_REG_FATAL;
                        if (status == 404) {
                                err = SL_ERR_NOT_FOUND;
                        } else if (status == 409) {
                                err = SL_ERR_SCHEMA;
                        } else if (status == 422) {
                                /* 42201 invalid schema; 42202.. invalid version, level, mode. */
                                err = code > 42201 && code < 42300 ? SL_ERR_INVALID_ARG
                                                                   : SL_ERR_SCHEMA;
                        } else if (status == 408 || status == 504 || code == 50002) {
                                err = SL_ERR_TIMEOUT;
                                outcome = SL_REG_RETRY;
                        } else if (status == 429 || status >= 500) {
                                err = SL_ERR_IO;
                                outcome = SL_REG_RETRY;
                        } else if (status >= 400) {
                                err = SL_ERR_INVALID_ARG;
                        } else {
                                err = SL_ERR_IO; /* 1xx, 3xx: not the registry protocol */
                        }
                }

                if (outcome == SL_REG_DONE)
                        break;
                if (outcome == SL_REG_FATAL || attempt >= c->retries)
                        goto done;
                sl_reg_sleep_ms(backoff);
                backoff = backoff * 2 > SL_REG_BACKOFF_MAX_MS ? SL_REG_BACKOFF_MAX_MS : backoff * 2;
        }

        err = SL_OK;
        if (!answer.len || !(*replyp = json_loadb(answer.data, answer.len, 0, &jerr)))
                err = sl_seterr(errstr, errstr_size, SL_ERR_IO,
                                "registry %s %s%s: answer is not JSON: %s", method, c->url, path,
                                answer.len ? jerr.text : "empty body");
        else if (errstr && errstr_size)
                errstr[0] = '\0';

done:
        if (h)
                curl_easy_cleanup(h);
        free(answer.data);
        free(url);
        return err;
}

/* An answer of the wrong shape: a registry bug or not a registry at all. */
static sl_err_t sl_reg_bad_answer(const sl_registry_client_t *c, const char *path, const char *what,
                                  char *errstr, size_t errstr_size)
{
        return sl_seterr(errstr, errstr_size, SL_ERR_IO, "registry %s%s: unexpected answer: %s",
                         c->url, path, what);
}

/* Reads member @p name of @p obj as an integer in 1 .. INT32_MAX. */
static int sl_reg_get_id(const json_t *obj, const char *name, int32_t *valp)
{
        const json_t *v = json_object_get(obj, name);

        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > INT32_MAX)
                return -1;
        *valp = (int32_t)json_integer_value(v);
        return 0;
}

/* "/subjects/ENCODED" plus @p suffix, percent-encoded with curl_easy_escape(). */
static sl_err_t sl_reg_subject_path(const char *subject, const char *suffix, char **pathp,
                                    char *errstr, size_t errstr_size)
{
        char *escaped;
        int n;

        *pathp = NULL;
        if (!subject || !*subject || strlen(subject) > INT_MAX / 4)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "subject must be a non-empty string");
        if (!(escaped = curl_easy_escape(NULL, subject, (int)strlen(subject))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        n = asprintf(pathp, "/subjects/%s%s", escaped, suffix);
        curl_free(escaped);
        if (n < 0) {
                *pathp = NULL;
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        }
        return SL_OK;
}

/* {"schema": TEXT} as compact JSON text (malloc()ed). schemaType is left out: AVRO. */
static sl_err_t sl_reg_schema_body(const char *schema, char **bodyp, char *errstr,
                                   size_t errstr_size)
{
        json_t *obj;

        *bodyp = NULL;
        if (!schema)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "schema is NULL");
        if (!(obj = json_pack("{s:s}", "schema", schema)))
                /* json_pack() also fails on text that is not UTF-8. */
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "schema text is not valid UTF-8 (or out of memory)");
        *bodyp = json_dumps(obj, JSON_COMPACT);
        json_decref(obj);
        return *bodyp ? SL_OK : sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
}

/* --------------------------------------------------------------------------------------- */
/* The calls */

sl_err_t sl_registry_register(sl_registry_client_t *c, const char *subject, const char *schema,
                              int normalize, int32_t *idp, char *errstr, size_t errstr_size)
{
        char *path = NULL, *body = NULL;
        json_t *reply = NULL;
        int32_t id;
        sl_err_t err;

        if ((err =
                 sl_reg_subject_path(subject, normalize ? "/versions?normalize=true" : "/versions",
                                     &path, errstr, errstr_size)) ||
            (err = sl_reg_schema_body(schema, &body, errstr, errstr_size)) ||
            (err = sl_reg_call(c, path, body, &reply, errstr, errstr_size)))
                goto done;
        if (sl_reg_get_id(reply, "id", &id)) {
                err = sl_reg_bad_answer(c, path, "no \"id\" from 1 to 2147483647", errstr,
                                        errstr_size);
                goto done;
        }
        *idp = id;

done:
        json_decref(reply);
        free(body);
        free(path);
        return err;
}

/*
 * Reads {"subject","version","id","schema"} (lookup, versions/latest); the schema text is
 * cached under its id. *textp, when asked for, is a malloc()ed copy.
 */
static sl_err_t sl_reg_read_version(sl_registry_client_t *c, const char *path, const json_t *reply,
                                    int32_t *idp, int32_t *versionp, char **textp, char *errstr,
                                    size_t errstr_size)
{
        const json_t *schema = json_object_get(reply, "schema");
        int32_t id, version;
        char *copy = NULL;

        if (sl_reg_get_id(reply, "id", &id) || sl_reg_get_id(reply, "version", &version) ||
            !json_is_string(schema))
                return sl_reg_bad_answer(c, path, "expected \"id\", \"version\" and \"schema\"",
                                         errstr, errstr_size);
        /* An id's schema never changes: remember it for sl_registry_get_schema(). */
        if ((copy = strdup(json_string_value(schema))))
                sl_reg_cache_put(c, id, copy);
        if (textp && !(*textp = strdup(json_string_value(schema))))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if (idp)
                *idp = id;
        if (versionp)
                *versionp = version;
        return SL_OK;
}

sl_err_t sl_registry_lookup(sl_registry_client_t *c, const char *subject, const char *schema,
                            int normalize, int32_t *idp, int32_t *versionp, char *errstr,
                            size_t errstr_size)
{
        char *path = NULL, *body = NULL;
        json_t *reply = NULL;
        sl_err_t err;

        if ((err = sl_reg_subject_path(subject, normalize ? "?normalize=true" : "", &path, errstr,
                                       errstr_size)) ||
            (err = sl_reg_schema_body(schema, &body, errstr, errstr_size)) ||
            (err = sl_reg_call(c, path, body, &reply, errstr, errstr_size)))
                goto done;
        err = sl_reg_read_version(c, path, reply, idp, versionp, NULL, errstr, errstr_size);

done:
        json_decref(reply);
        free(body);
        free(path);
        return err;
}

sl_err_t sl_registry_get_latest(sl_registry_client_t *c, const char *subject, int32_t *idp,
                                int32_t *versionp, char **textp, char *errstr, size_t errstr_size)
{
        char *path = NULL;
        json_t *reply = NULL;
        sl_err_t err;

        if (textp)
                *textp = NULL;
        if ((err = sl_reg_subject_path(subject, "/versions/latest", &path, errstr, errstr_size)) ||
            (err = sl_reg_call(c, path, NULL, &reply, errstr, errstr_size)))
                goto done;
        err = sl_reg_read_version(c, path, reply, idp, versionp, textp, errstr, errstr_size);

done:
        json_decref(reply);
        free(path);
        return err;
}

sl_err_t sl_registry_get_schema(sl_registry_client_t *c, int32_t id, const char **textp,
                                char *errstr, size_t errstr_size)
{
        const json_t *schema, *type;
        json_t *reply = NULL;
        char path[48];
        char *copy;
        sl_err_t err;

        if (id < 1)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "schema id must be 1..2147483647, not %d", id);
        pthread_mutex_lock(&c->lock);
        *textp = sl_reg_cache_find(c, id);
        pthread_mutex_unlock(&c->lock);
        if (*textp)
                return SL_OK;

        /* Two threads missing the same id may both fetch it; the cache keeps the first. */
        snprintf(path, sizeof(path), "/schemas/ids/%d", id);
        if ((err = sl_reg_call(c, path, NULL, &reply, errstr, errstr_size)))
                goto done;
        schema = json_object_get(reply, "schema");
        type = json_object_get(reply, "schemaType");
        if (!json_is_string(schema)) {
                err = sl_reg_bad_answer(c, path, "no \"schema\" string", errstr, errstr_size);
                goto done;
        }
        if (type && !json_is_null(type) &&
            (!json_is_string(type) || strcmp(json_string_value(type), "AVRO"))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                "registry %s%s: schema id %d is %s, not AVRO", c->url, path, id,
                                json_is_string(type) ? json_string_value(type) : "?");
                goto done;
        }
        if (!(copy = strdup(json_string_value(schema))) ||
            !(*textp = sl_reg_cache_put(c, id, copy))) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }

done:
        json_decref(reply);
        return err;
}

sl_err_t sl_registry_fetch_cb(int32_t schema_id, char **textp, void *opaque, char *errstr,
                              size_t errstr_size)
{
        const char *text;
        sl_err_t err;

        *textp = NULL;
        if ((err = sl_registry_get_schema(opaque, schema_id, &text, errstr, errstr_size)))
                return err == SL_ERR_NOT_FOUND ? SL_ERR_UNKNOWN_SCHEMA : err;
        if (!(*textp = strdup(text)))
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        return SL_OK;
}
