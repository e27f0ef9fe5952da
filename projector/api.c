/* The projector's HTTP API (see sl_api.h and docs/api.md). */
#include "sl_api.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "sl_http.h"
#include "sl_liveness.h"
#include "sl_snapshot.h"
#include "sl_store.h"
#include "sl_web.h"

#define SL_API_JSON         "application/json"
#define SL_API_LIMIT        100   /**< Nodes per page by default. */
#define SL_API_LIMIT_MAX    1000  /**< At most. */
#define SL_API_KEEPALIVE_S  15    /**< A comment line on an idle watch stream this often. */
#define SL_API_GONE_MS      500   /**< How often an idle watch stream checks its client is there. */
#define SL_API_WATCH_SNDBUF 65536 /**< Kernel send buffer of a watch stream's socket. */
#define SL_API_SUMMARY_MS   1000  /**< A summary is computed at most this often. */
#define SL_API_LABELS_MAX   16    /**< label=k=v filters per request. */

/* One event of the watch stream, formatted ("id: N\nevent: E\ndata: {...}\n\n"). */
typedef struct {
        uint64_t id;
        char *text;
        size_t len;
} sl_api_ev_t;

struct sl_api_s {
        sl_projector_t *p;
        sl_store_t *store;
        struct MHD_Daemon *mhd;
        sl_http_sec_t *sec; /**< TLS, users and tokens (api.tls.*, api.auth.file). */
        int port;
        int64_t ready_lag;
        int max_watchers;
        /* The watch ring: the latest ring_cap events, ids next_id - ring_cap .. next_id - 1. */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        sl_api_ev_t *ring;
        size_t ring_cap;
        uint64_t next_id; /**< Id of the next event (ids start at 1). */
        int watchers;
        int stopping;
        int snapshotting;            /**< A GET /v1/snapshot is writing its file (under lock). */
        sl_store_reader_t *w_reader; /**< The writer thread's, for on_state. */
        sl_event_t *w_ev;
        /* The summary, computed at most every SL_API_SUMMARY_MS. */
        pthread_mutex_t sum_lock;
        char *sum_json;
        int64_t sum_at_ms;
};

static int64_t sl_api_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- responses ---- */

typedef struct {
        unsigned status;
        char *body; /* malloc()ed */
        size_t len;
        const char *content_type;
} sl_api_resp_t;

static void sl_api_json(sl_api_resp_t *r, unsigned status, json_t *obj)
{
        r->status = status;
        r->content_type = SL_API_JSON;
        r->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        r->len = r->body ? strlen(r->body) : 0;
        json_decref(obj);
}

__attribute__((format(printf, 3, 4))) static void sl_api_error(sl_api_resp_t *r, unsigned status,
                                                               const char *fmt, ...)
{
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        sl_api_json(r, status, json_pack("{s:i, s:s}", "error_code", (int)status, "message", msg));
}

/* ---- the watch stream's ring ---- */

/* Adds an event (its JSON @p data) to the ring and wakes the watchers. */
static void sl_api_push(sl_api_t *api, const char *event, json_t *data)
{
        char *js = json_dumps(data, JSON_COMPACT);
        sl_api_ev_t *e;
        size_t len;
        char *text;
        uint64_t id;

        json_decref(data);
        if (!js)
                return;
        pthread_mutex_lock(&api->lock);
        id = api->next_id++;
        len = (size_t)snprintf(NULL, 0, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", id, event, js);
        if ((text = malloc(len + 1))) {
                snprintf(text, len + 1, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", id, event, js);
                e = &api->ring[id % api->ring_cap];
                free(e->text);
                *e = (sl_api_ev_t){id, text, len};
        }
        pthread_cond_broadcast(&api->cond);
        pthread_mutex_unlock(&api->lock);
        free(js);
}

static int sl_api_wanted(void *opaque)
{
        sl_api_t *api = opaque;
        int n;

        pthread_mutex_lock(&api->lock);
        n = api->watchers;
        pthread_mutex_unlock(&api->lock);
        return n > 0;
}

/* The node object of the API: the state, its liveness, when it was last heard from, and the
 * record the state was read from (read through @p rd). */
static json_t *sl_api_node_json(sl_api_t *api, sl_store_reader_t *rd, const sl_event_t *ev)
{
        sl_liveness_state_t st = SL_LIVENESS_UNKNOWN;
        int64_t since = -1, heard = -1, offset;
        char topic[600], errstr[256];
        json_t *o, *src = NULL;
        int32_t partition;

        sl_projector_liveness(api->p, ev->node_id, &st, &since, &heard);
        if (!sl_store_reader_source(rd, ev->node_id, topic, sizeof(topic), &partition, &offset,
                                    errstr, sizeof(errstr)))
                src = json_pack("{s:s, s:i, s:I}", "topic", topic, "partition", (int)partition,
                                "offset", (json_int_t)offset);
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "node_id", ev->node_id,
                      "node_type", ev->node_type, "region", ev->region, "status",
                      sl_node_status_name(ev->status), "liveness", sl_liveness_state_name(st),
                      "last_heard_ms", (json_int_t)heard, "liveness_since_ms", (json_int_t)since,
                      "event_time_ms", (json_int_t)ev->event_time_ms, "source",
                      src ? src : json_null(), "state", sl_event_to_json(ev));
        return o;
}

static void sl_api_on_state(void *opaque, const char *node_id, const uint8_t *value, size_t len)
{
        sl_api_t *api = opaque;
        char errstr[256];

        if (sl_store_reader_decode(api->w_reader, node_id, value, len, api->w_ev, errstr,
                                   sizeof(errstr)))
                return;
        sl_api_push(api, "state", sl_api_node_json(api, api->w_reader, api->w_ev));
}

static void sl_api_on_liveness(void *opaque, const char *node_id, sl_liveness_state_t old_state,
                               sl_liveness_state_t new_state, int64_t since_ms,
                               int64_t last_heard_ms)
{
        sl_api_t *api = opaque;

        if (!sl_api_wanted(api))
                return;
        sl_api_push(api, "liveness",
                    json_pack("{s:s, s:s, s:s, s:I, s:I}", "node_id", node_id, "liveness",
                              sl_liveness_state_name(new_state), "previous",
                              sl_liveness_state_name(old_state), "liveness_since_ms",
                              (json_int_t)since_ms, "last_heard_ms", (json_int_t)last_heard_ms));
}

/* One watch client. */
typedef struct {
        sl_api_t *api;
        uint64_t next; /**< The next event id to send. */
        char *pending; /**< Text not yet sent (part of an event, or the final overflow). */
        size_t pend_len, pend_off;
        int ending; /**< After the pending text, the stream ends. */
        int fd;     /**< The client's socket, to notice it closed; -1 unknown. */
} sl_api_watch_t;

/* Whether the client of a watch stream closed its end (checked while the stream is idle: the
 * connection's thread is in the content reader, so libmicrohttpd cannot notice). */
static int sl_api_client_gone(int fd)
{
        struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLRDHUP};
        char c;

        if (fd < 0 || poll(&pfd, 1, 0) <= 0)
                return 0;
        if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))
                return 1;
        return (pfd.revents & POLLIN) && recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void sl_api_watch_free(void *cls)
{
        sl_api_watch_t *w = cls;

        pthread_mutex_lock(&w->api->lock);
        w->api->watchers--;
        pthread_mutex_unlock(&w->api->lock);
        free(w->pending);
        free(w);
}

/* Sets the pending text of @p w; @returns 0, or -1 out of memory. */
static int sl_api_watch_pend(sl_api_watch_t *w, const char *text, size_t len)
{
        free(w->pending);
        w->pend_off = 0;
        w->pend_len = 0;
        if (!(w->pending = malloc(len ? len : 1)))
                return -1;
        memcpy(w->pending, text, len);
        w->pend_len = len;
        return 0;
}

/* libmicrohttpd's content reader (the connection's own thread): blocks until there is
 * something to send. */
static ssize_t sl_api_watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        sl_api_watch_t *w = cls;
        sl_api_t *api = w->api;
        struct timespec until;
        ssize_t n;

        (void)pos;
        if (w->pend_off < w->pend_len) {
                size_t k = w->pend_len - w->pend_off < max ? w->pend_len - w->pend_off : max;

                memcpy(buf, w->pending + w->pend_off, k);
                w->pend_off += k;
                return (ssize_t)k;
        }
        if (w->ending)
                return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&api->lock);
        for (int waited = 0; !api->stopping && w->next >= api->next_id; waited += SL_API_GONE_MS) {
                if (waited >= SL_API_KEEPALIVE_S * 1000)
                        break;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += SL_API_GONE_MS * 1000000L;
                until.tv_sec += until.tv_nsec / 1000000000L;
                until.tv_nsec %= 1000000000L;
                if (pthread_cond_timedwait(&api->cond, &api->lock, &until) == ETIMEDOUT &&
                    sl_api_client_gone(w->fd)) {
                        pthread_mutex_unlock(&api->lock);
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                }
        }
        if (api->stopping) {
                pthread_mutex_unlock(&api->lock);
                return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (w->next >= api->next_id) {
                pthread_mutex_unlock(&api->lock);
                memcpy(buf, ":\n\n", 3); /* keepalive comment */
                return 3;
        }
        if (api->next_id - w->next > api->ring_cap) {
                /* Further behind than the ring holds: cut off, saying so. */
                char text[256];
                int len = snprintf(text, sizeof(text),
                                   "event: overflow\ndata: {\"message\":\"this client fell more "
                                   "than %zu events behind; reconnect and reload\"}\n\n",
                                   api->ring_cap);

                pthread_mutex_unlock(&api->lock);
                w->ending = 1;
                if (sl_api_watch_pend(w, text, (size_t)len))
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                return sl_api_watch_read(cls, pos, buf, max);
        }
        {
                const sl_api_ev_t *e = &api->ring[w->next % api->ring_cap];
                int ok = e->text && !sl_api_watch_pend(w, e->text, e->len);

                w->next++;
                pthread_mutex_unlock(&api->lock);
                if (!ok)
                        return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        n = sl_api_watch_read(cls, pos, buf, max);
        return n;
}

static struct MHD_Response *sl_api_watch_start(sl_api_t *api, struct MHD_Connection *c,
                                               sl_api_resp_t *r)
{
        const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
        struct MHD_Response *resp;
        sl_api_watch_t *w;
        uint64_t next;
        int reset = 0;

        pthread_mutex_lock(&api->lock);
        if (api->watchers >= api->max_watchers) {
                pthread_mutex_unlock(&api->lock);
                sl_api_error(r, 503, "too many watch clients (api.max.watchers is %d)",
                             api->max_watchers);
                return NULL;
        }
        next = api->next_id;
        if (last && *last) {
                char *end;
                unsigned long long id;

                errno = 0;
                id = strtoull(last, &end, 10);
                if (errno || *end || *last == '-') {
                        pthread_mutex_unlock(&api->lock);
                        sl_api_error(r, 400, "Last-Event-ID: not an event id: \"%.100s\"", last);
                        return NULL;
                }
                if (id + 1 <= api->next_id &&
                    api->next_id - (id + 1) <= api->ring_cap) /* still in the ring */
                        next = id + 1;
                else
                        reset = 1;
        }
        if (!(w = calloc(1, sizeof(*w)))) {
                pthread_mutex_unlock(&api->lock);
                return NULL;
        }
        w->api = api;
        w->next = next;
        {
                const union MHD_ConnectionInfo *ci =
                    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

                w->fd = ci ? ci->connect_fd : -1;
        }
        if (w->fd >= 0) {
                /* A slow client's backlog is the ring's business: the kernel keeps little of
                 * it (it would otherwise let a send buffer grow to megabytes). */
                int sndbuf = SL_API_WATCH_SNDBUF;

                setsockopt(w->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        }
        api->watchers++;
        pthread_mutex_unlock(&api->lock);
        if (reset) {
                static const char text[] = "event: reset\ndata: {\"message\":\"the events after "
                                           "Last-Event-ID are no longer kept; reload the "
                                           "nodes\"}\n\n";

                sl_api_watch_pend(w, text, sizeof(text) - 1);
        }
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sl_api_watch_read, w,
                                                 sl_api_watch_free);
        if (!resp) {
                sl_api_watch_free(w);
                return NULL;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        return resp;
}

/* ---- /v1/nodes ---- */

typedef struct {
        const char *region, *type;
        int status;   /* -1: any */
        int liveness; /* -1: any */
        int source;   /* -1: any */
        const char *label_k[SL_API_LABELS_MAX], *label_v[SL_API_LABELS_MAX];
        size_t label_cnt;
} sl_api_filter_t;

static int sl_api_match(sl_api_t *api, const sl_api_filter_t *f, const sl_event_t *ev)
{
        if (f->region && strcmp(f->region, ev->region))
                return 0;
        if (f->type && strcmp(f->type, ev->node_type))
                return 0;
        if (f->status >= 0 && (int)ev->status != f->status)
                return 0;
        if (f->source >= 0 && (int)ev->source != f->source)
                return 0;
        for (size_t i = 0; i < f->label_cnt; i++) {
                size_t j;

                for (j = 0; j < ev->label_cnt; j++)
                        if (!strcmp(ev->labels[j].key, f->label_k[i]) &&
                            !strcmp(ev->labels[j].value, f->label_v[i]))
                                break;
                if (j == ev->label_cnt)
                        return 0;
        }
        if (f->liveness >= 0) {
                sl_liveness_state_t st = SL_LIVENESS_UNKNOWN;

                sl_projector_liveness(api->p, ev->node_id, &st, NULL, NULL);
                if ((int)st != f->liveness)
                        return 0;
        }
        return 1;
}

/* A node kept for a page sorted by last heard time. */
typedef struct {
        int64_t key;
        char *node_id;
} sl_api_item_t;

typedef struct {
        sl_api_t *api;
        sl_store_reader_t *rd; /* the request's: the nodes' sources */
        const sl_api_filter_t *f;
        json_t *arr; /* node-id order: the page */
        size_t limit;
        int more;             /* a further match exists */
        char *last_id;        /* the page's last node */
        sl_api_item_t *items; /* last_seen order: every match */
        size_t item_cnt, item_cap;
        int nomem;
} sl_api_walk_t;

static int sl_api_page_cb(const char *node_id, const sl_event_t *ev, void *opaque)
{
        sl_api_walk_t *w = opaque;

        if (!sl_api_match(w->api, w->f, ev))
                return 0;
        if (json_array_size(w->arr) == w->limit) {
                w->more = 1;
                return 1; /* stop */
        }
        if (json_array_append_new(w->arr, sl_api_node_json(w->api, w->rd, ev))) {
                w->nomem = 1;
                return 1;
        }
        free(w->last_id);
        if (!(w->last_id = strdup(node_id))) {
                w->nomem = 1;
                return 1;
        }
        return 0;
}

static int sl_api_collect_cb(const char *node_id, const sl_event_t *ev, void *opaque)
{
        sl_api_walk_t *w = opaque;
        int64_t heard = -1;

        if (!sl_api_match(w->api, w->f, ev))
                return 0;
        if (w->item_cnt == w->item_cap) {
                size_t cap = w->item_cap ? 2 * w->item_cap : 1024;
                sl_api_item_t *n = realloc(w->items, cap * sizeof(*n));

                if (!n) {
                        w->nomem = 1;
                        return 1;
                }
                w->items = n;
                w->item_cap = cap;
        }
        sl_projector_liveness(w->api->p, node_id, NULL, NULL, &heard);
        if (heard < 0)
                heard = ev->event_time_ms;
        if (!(w->items[w->item_cnt].node_id = strdup(node_id))) {
                w->nomem = 1;
                return 1;
        }
        w->items[w->item_cnt++].key = heard;
        return 0;
}

static int sl_api_item_cmp(const void *a, const void *b)
{
        const sl_api_item_t *x = a, *y = b;

        if (x->key != y->key)
                return x->key < y->key ? -1 : 1;
        return strcmp(x->node_id, y->node_id);
}

/* Cursors are opaque to clients: hex of "<node id>" or "<last heard ms>:<node id>". */
static char *sl_api_cursor_make(const char *text)
{
        static const char hex[] = "0123456789abcdef";
        size_t len = strlen(text);
        char *c = malloc(2 * len + 1);

        if (!c)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                c[2 * i] = hex[(unsigned char)text[i] >> 4];
                c[2 * i + 1] = hex[(unsigned char)text[i] & 15];
        }
        c[2 * len] = '\0';
        return c;
}

/* @returns the decoded cursor (malloc()ed), or NULL if @p c is not one (*nomemp on ENOMEM). */
static char *sl_api_cursor_parse(const char *c, int *nomemp)
{
        size_t len = strlen(c);
        char *t;

        if (!len || len % 2 || len > 2048)
                return NULL;
        if (!(t = malloc(len / 2 + 1))) {
                *nomemp = 1;
                return NULL;
        }
        for (size_t i = 0; i < len / 2; i++) {
                int v = 0;

                for (int k = 0; k < 2; k++) {
                        char h = c[2 * i + k];

                        v <<= 4;
                        if (h >= '0' && h <= '9')
                                v |= h - '0';
                        else if (h >= 'a' && h <= 'f')
                                v |= h - 'a' + 10;
                        else {
                                free(t);
                                return NULL;
                        }
                }
                if (!v) {
                        free(t);
                        return NULL;
                }
                t[i] = (char)v;
        }
        t[len / 2] = '\0';
        return t;
}

/* Reads the filters of a request into @p f; @returns 0, or -1 with @p r set to a 400. */
static int sl_api_filters(const sl_http_args_t *args, sl_api_filter_t *f, sl_api_resp_t *r)
{
        const char *v;

        memset(f, 0, sizeof(*f));
        f->status = f->liveness = f->source = -1;
        f->region = sl_http_arg(args, "region");
        f->type = sl_http_arg(args, "type");
        if ((v = sl_http_arg(args, "status"))) {
                sl_node_status_t st;

                if (sl_node_status_parse(v, &st)) {
                        sl_api_error(r, 400, "status: unknown status \"%.100s\"", v);
                        return -1;
                }
                f->status = (int)st;
        }
        if ((v = sl_http_arg(args, "source"))) {
                sl_source_t src;

                if (sl_source_parse(v, &src)) {
                        sl_api_error(r, 400,
                                     "source: \"%.100s\" is not one of agent, bridge, unknown", v);
                        return -1;
                }
                f->source = (int)src;
        }
        if ((v = sl_http_arg(args, "liveness"))) {
                sl_liveness_state_t st;

                if (sl_liveness_state_parse(v, &st)) {
                        sl_api_error(r, 400,
                                     "liveness: \"%.100s\" is not one of alive, suspect, dead, "
                                     "left, missing, unknown",
                                     v);
                        return -1;
                }
                f->liveness = (int)st;
        }
        for (size_t i = 0; i < args->cnt; i++) {
                char *eq;

                if (strcmp(args->keys[i], "label"))
                        continue;
                if (!(eq = strchr(args->values[i], '=')) || eq == args->values[i]) {
                        sl_api_error(r, 400, "label: expected label=KEY=VALUE, got \"%.100s\"",
                                     args->values[i]);
                        return -1;
                }
                if (f->label_cnt == SL_API_LABELS_MAX) {
                        sl_api_error(r, 400, "label: at most %d label filters", SL_API_LABELS_MAX);
                        return -1;
                }
                /* The values are the request's own copies: split them in place. */
                *eq = '\0';
                f->label_k[f->label_cnt] = args->values[i];
                f->label_v[f->label_cnt++] = eq + 1;
        }
        return 0;
}

static void sl_api_nodes(sl_api_t *api, const sl_http_args_t *args, sl_api_resp_t *r)
{
        const char *v, *sort = sl_http_arg(args, "sort");
        sl_api_walk_t w = {.api = api, .limit = SL_API_LIMIT};
        sl_store_reader_t *rd = NULL;
        sl_api_filter_t f;
        char errstr[512], *cursor = NULL, *next = NULL;
        int by_heard = 0, desc = 0, nomem = 0;
        sl_err_t err;

        if (sl_api_filters(args, &f, r))
                return;
        w.f = &f;
        if ((v = sl_http_arg(args, "limit"))) {
                char *end;
                long n;

                errno = 0;
                n = strtol(v, &end, 10);
                if (errno || *end || !*v || n < 1 || n > SL_API_LIMIT_MAX) {
                        sl_api_error(r, 400, "limit: expected 1..%d, got \"%.50s\"",
                                     SL_API_LIMIT_MAX, v);
                        return;
                }
                w.limit = (size_t)n;
        }
        if (sort) {
                desc = *sort == '-';
                if (!strcmp(sort + desc, "last_seen"))
                        by_heard = 1;
                else if (strcmp(sort + desc, "node_id")) {
                        sl_api_error(r, 400,
                                     "sort: expected node_id, -node_id, last_seen or "
                                     "-last_seen, got \"%.50s\"",
                                     sort);
                        return;
                }
        }
        if ((v = sl_http_arg(args, "cursor")) && !(cursor = sl_api_cursor_parse(v, &nomem))) {
                if (nomem)
                        sl_api_error(r, 500, "out of memory");
                else
                        sl_api_error(r, 400, "cursor: not a cursor of this API: \"%.50s\"", v);
                return;
        }
        if (!(rd = w.rd = sl_store_reader_new(api->store, errstr, sizeof(errstr))) ||
            !(w.arr = json_array())) {
                sl_api_error(r, 500, "%s", rd ? "out of memory" : errstr);
                goto done;
        }
        if (!by_heard && !desc) {
                /* Node id order: straight from the store, from the cursor on. */
                err = sl_store_reader_walk(rd, cursor, sl_api_page_cb, &w, errstr, sizeof(errstr));
                if (err && !w.more && !w.nomem) {
                        sl_api_error(r, 500, "%s", errstr);
                        goto done;
                }
                if (w.more && !(next = sl_api_cursor_make(w.last_id)))
                        w.nomem = 1;
        } else {
                /* Every match, sorted, then the page after the cursor. */
                size_t start = 0;

                err = sl_store_reader_walk(rd, NULL, sl_api_collect_cb, &w, errstr, sizeof(errstr));
                if (err && !w.nomem) {
                        sl_api_error(r, 500, "%s", errstr);
                        goto done;
                }
                if (!by_heard)
                        for (size_t i = 0; i < w.item_cnt; i++)
                                w.items[i].key = 0;
                qsort(w.items, w.item_cnt, sizeof(*w.items), sl_api_item_cmp);
                if (desc)
                        for (size_t i = 0; i < w.item_cnt / 2; i++) {
                                sl_api_item_t t = w.items[i];

                                w.items[i] = w.items[w.item_cnt - 1 - i];
                                w.items[w.item_cnt - 1 - i] = t;
                        }
                if (cursor) {
                        /* "<key>:<node id>": the first item after it in this order. */
                        char *colon = strchr(cursor, ':');
                        sl_api_item_t at = {colon ? strtoll(cursor, NULL, 10) : 0,
                                            colon ? colon + 1 : cursor};

                        while (start < w.item_cnt &&
                               (desc ? sl_api_item_cmp(&w.items[start], &at) >= 0
                                     : sl_api_item_cmp(&w.items[start], &at) <= 0))
                                start++;
                }
                for (size_t i = start; i < w.item_cnt && json_array_size(w.arr) < w.limit; i++) {
                        sl_event_t *ev = sl_event_new();

                        if (!ev) {
                                w.nomem = 1;
                                break;
                        }
                        if (!sl_store_reader_get(rd, w.items[i].node_id, ev, errstr,
                                                 sizeof(errstr)))
                                json_array_append_new(w.arr, sl_api_node_json(api, rd, ev));
                        sl_event_destroy(ev);
                        if (json_array_size(w.arr) == w.limit && i + 1 < w.item_cnt) {
                                char key[600];

                                snprintf(key, sizeof(key), "%" PRId64 ":%s",
                                         by_heard ? w.items[i].key : 0, w.items[i].node_id);
                                if (!(next = sl_api_cursor_make(key)))
                                        w.nomem = 1;
                        }
                }
        }
        if (w.nomem) {
                sl_api_error(r, 500, "out of memory");
                goto done;
        }
        sl_api_json(r, 200,
                    json_pack("{s:O, s:I, s:s?}", "nodes", w.arr, "count",
                              (json_int_t)json_array_size(w.arr), "next_cursor", next));
done:
        json_decref(w.arr);
        for (size_t i = 0; i < w.item_cnt; i++)
                free(w.items[i].node_id);
        free(w.items);
        free(w.last_id);
        free(cursor);
        free(next);
        sl_store_reader_free(rd);
}

static void sl_api_node(sl_api_t *api, const char *node_id, sl_api_resp_t *r)
{
        char errstr[512];
        sl_store_reader_t *rd = sl_store_reader_new(api->store, errstr, sizeof(errstr));
        sl_event_t *ev = sl_event_new();
        sl_err_t err;

        if (!rd || !ev) {
                sl_api_error(r, 500, "%s", rd ? "out of memory" : errstr);
        } else if ((err = sl_store_reader_get(rd, node_id, ev, errstr, sizeof(errstr)))) {
                if (err == SL_ERR_NOT_FOUND)
                        sl_api_error(r, 404, "no node \"%.200s\"", node_id);
                else
                        sl_api_error(r, 500, "%s", errstr);
        } else {
                sl_api_json(r, 200, sl_api_node_json(api, rd, ev));
        }
        sl_event_destroy(ev);
        sl_store_reader_free(rd);
}

/* ---- /v1/summary ---- */

typedef struct {
        sl_projector_t *p;
        json_t *groups; /* "region\ntype" -> {region, type, nodes, status{}, liveness{}} */
        uint64_t status[SL_STATUS__CNT], liveness[SL_LIVENESS__CNT], nodes;
        int nomem;
} sl_api_sum_t;

static void sl_api_count(json_t *obj, const char *key)
{
        json_t *n = json_object_get(obj, key);

        json_object_set_new(obj, key, json_integer(n ? json_integer_value(n) + 1 : 1));
}

static int sl_api_sum_cb(const char *node_id, const sl_event_t *ev, void *opaque)
{
        sl_api_sum_t *s = opaque;
        sl_liveness_state_t st = SL_LIVENESS_UNKNOWN;
        char key[600];
        json_t *g;

        sl_projector_liveness(s->p, node_id, &st, NULL, NULL);
        snprintf(key, sizeof(key), "%s\n%s", ev->region, ev->node_type);
        if (!(g = json_object_get(s->groups, key))) {
                g = json_pack("{s:s, s:s, s:i, s:{}, s:{}}", "region", ev->region, "type",
                              ev->node_type, "nodes", 0, "status", "liveness");
                if (!g || json_object_set_new(s->groups, key, g)) {
                        s->nomem = 1;
                        return 1;
                }
        }
        sl_api_count(g, "nodes");
        sl_api_count(json_object_get(g, "status"), sl_node_status_name(ev->status));
        sl_api_count(json_object_get(g, "liveness"), sl_liveness_state_name(st));
        if ((int)ev->status >= 0 && ev->status < SL_STATUS__CNT)
                s->status[ev->status]++;
        if ((int)st >= 0 && st < SL_LIVENESS__CNT)
                s->liveness[st]++;
        s->nodes++;
        return 0;
}

json_t *sl_summary_json(sl_projector_t *p, char *errstr, size_t errstr_size)
{
        sl_api_sum_t s = {.p = p};
        sl_store_reader_t *rd = NULL;
        json_t *out = NULL, *bys = NULL, *byl = NULL, *groups = NULL;
        const char *key;
        json_t *g;

        if (!(rd = sl_store_reader_new(sl_projector_store(p), errstr, errstr_size)))
                return NULL;
        if (!(s.groups = json_object())) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        if (sl_store_reader_walk(rd, NULL, sl_api_sum_cb, &s, errstr, errstr_size) && !s.nomem)
                goto done;
        bys = json_object();
        byl = json_object();
        groups = json_array();
        for (int i = 0; bys && i < SL_STATUS__CNT; i++)
                json_object_set_new(bys, sl_node_status_name((sl_node_status_t)i),
                                    json_integer((json_int_t)s.status[i]));
        for (int i = 0; byl && i < SL_LIVENESS__CNT; i++)
                json_object_set_new(byl, sl_liveness_state_name((sl_liveness_state_t)i),
                                    json_integer((json_int_t)s.liveness[i]));
        json_object_foreach(s.groups, key, g) json_array_append(groups, g);
        out = json_pack("{s:I, s:o*, s:o*, s:o*}", "nodes", (json_int_t)s.nodes, "status", bys,
                        "liveness", byl, "groups", groups);
        if (s.nomem || !out || !bys || !byl || !groups) {
                snprintf(errstr, errstr_size, "out of memory");
                json_decref(out);
                out = NULL;
        }
done:
        json_decref(s.groups);
        sl_store_reader_free(rd);
        return out;
}

static void sl_api_summary(sl_api_t *api, sl_api_resp_t *r)
{
        char errstr[512];
        int64_t now = sl_api_now_ms();
        json_t *out;

        pthread_mutex_lock(&api->sum_lock);
        if (api->sum_json && now - api->sum_at_ms < SL_API_SUMMARY_MS) {
                r->status = 200;
                r->content_type = SL_API_JSON;
                r->body = strdup(api->sum_json);
                r->len = r->body ? strlen(r->body) : 0;
                pthread_mutex_unlock(&api->sum_lock);
                if (!r->body)
                        sl_api_error(r, 500, "out of memory");
                return;
        }
        if (!(out = sl_summary_json(api->p, errstr, sizeof(errstr)))) {
                sl_api_error(r, 500, "%s", errstr);
                goto done;
        }
        sl_api_json(r, 200, out);
        if (r->body) {
                free(api->sum_json);
                api->sum_json = strdup(r->body);
                api->sum_at_ms = now;
        }
done:
        pthread_mutex_unlock(&api->sum_lock);
}

/* ---- /healthz, /readyz, /metrics ---- */

static void sl_api_health(sl_api_t *api, int ready, sl_api_resp_t *r)
{
        sl_projector_stats_t st;

        sl_projector_stats(api->p, &st);
        if (!st.healthy) {
                sl_api_json(r, 503, json_pack("{s:s}", "status", "failed"));
        } else if (!ready) {
                sl_api_json(r, 200, json_pack("{s:s}", "status", "ok"));
        } else if (st.store_full) {
                /* Alive (restarting would not help) but not applying. */
                sl_api_json(r, 503,
                            json_pack("{s:s, s:s, s:s, s:I}", "status", "not ready", "reason",
                                      "store full", "error", st.store_error, "lag",
                                      (json_int_t)st.lag));
        } else if (st.assigned > 0 && (st.caught_up || st.lag <= api->ready_lag)) {
                sl_api_json(r, 200,
                            json_pack("{s:s, s:I}", "status", "ready", "lag", (json_int_t)st.lag));
        } else {
                sl_api_json(r, 503,
                            json_pack("{s:s, s:s, s:i, s:I, s:I}", "status", "not ready", "reason",
                                      st.assigned ? "catching up" : "no partitions assigned yet",
                                      "assigned", st.assigned, "lag", (json_int_t)st.lag,
                                      "ready_lag", (json_int_t)api->ready_lag));
        }
}

/* Appends printf output to a growing buffer; @returns 0 or -1 (out of memory). */
__attribute__((format(printf, 4, 5))) static int sl_api_printf(char **buf, size_t *len, size_t *cap,
                                                               const char *fmt, ...)
{
        va_list ap;
        int n;

        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
                va_end(ap);
                if (n < 0)
                        return -1;
                if (*buf && *len + (size_t)n < *cap) {
                        *len += (size_t)n;
                        return 0;
                }
                {
                        size_t nc = *cap ? *cap * 2 : 8192;
                        char *b;

                        while (nc < *len + (size_t)n + 1)
                                nc *= 2;
                        if (!(b = realloc(*buf, nc)))
                                return -1;
                        *buf = b;
                        *cap = nc;
                }
        }
}

static void sl_api_metrics(sl_api_t *api, sl_api_resp_t *r)
{
        sl_projector_stats_t st;
        sl_partition_lag_t lags[1024];
        size_t nl, len = 0, cap = 0;
        uint64_t cum = 0;
        char *b = NULL;
        int bad = 0;

        sl_projector_stats(api->p, &st);
        nl = sl_projector_lags(api->p, lags, sizeof(lags) / sizeof(*lags));
        if (nl > sizeof(lags) / sizeof(*lags))
                nl = sizeof(lags) / sizeof(*lags);
#define P(...) (bad |= sl_api_printf(&b, &len, &cap, __VA_ARGS__))
        P("# HELP seerlog_projector_records_consumed_total Records read from the state topics.\n"
          "# TYPE seerlog_projector_records_consumed_total counter\n"
          "seerlog_projector_records_consumed_total %" PRIu64 "\n",
          st.consumed);
        P("# HELP seerlog_projector_events_applied_total Events stored as their node's state.\n"
          "# TYPE seerlog_projector_events_applied_total counter\n"
          "seerlog_projector_events_applied_total %" PRIu64 "\n",
          st.applied);
        P("# HELP seerlog_projector_events_superseded_total Events replaced within their batch "
          "by a newer event of the node.\n"
          "# TYPE seerlog_projector_events_superseded_total counter\n"
          "seerlog_projector_events_superseded_total %" PRIu64 "\n",
          st.superseded);
        P("# HELP seerlog_projector_events_ignored_total Duplicate or stale events.\n"
          "# TYPE seerlog_projector_events_ignored_total counter\n"
          "seerlog_projector_events_ignored_total %" PRIu64 "\n",
          st.ignored);
        P("# HELP seerlog_projector_decode_errors_total Records that could not be decoded (each "
          "sent to the dead-letter topic).\n"
          "# TYPE seerlog_projector_decode_errors_total counter\n"
          "seerlog_projector_decode_errors_total %" PRIu64 "\n",
          st.dead_lettered);
        P("# HELP seerlog_projector_dead_letters_total Records sent to the dead-letter topic.\n"
          "# TYPE seerlog_projector_dead_letters_total counter\n"
          "seerlog_projector_dead_letters_total %" PRIu64 "\n",
          st.dead_lettered);
        P("# HELP seerlog_projector_batches_total Store transactions committed.\n"
          "# TYPE seerlog_projector_batches_total counter\n"
          "seerlog_projector_batches_total %" PRIu64 "\n",
          st.batches);
        P("# HELP seerlog_projector_batches_retried_total Batches given up and read again.\n"
          "# TYPE seerlog_projector_batches_retried_total counter\n"
          "seerlog_projector_batches_retried_total %" PRIu64 "\n",
          st.retried);
        P("# HELP seerlog_projector_batch_store_seconds Time to store a batch (write and "
          "commit).\n"
          "# TYPE seerlog_projector_batch_store_seconds histogram\n");
        for (int i = 0; i < SL_PROJECTOR_LAT_BUCKETS; i++) {
                cum += st.batch_le[i];
                P("seerlog_projector_batch_store_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                  (double)sl_projector_latency_bounds_ms[i] / 1000.0, cum);
        }
        P("seerlog_projector_batch_store_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
          "seerlog_projector_batch_store_seconds_sum %.6f\n"
          "seerlog_projector_batch_store_seconds_count %" PRIu64 "\n",
          st.batches, (double)st.batch_us_sum / 1e6, st.batches);
        P("# HELP seerlog_projector_lag Records behind the end of the log, at the last lag "
          "report.\n"
          "# TYPE seerlog_projector_lag gauge\n"
          "seerlog_projector_lag %" PRId64 "\n",
          st.lag);
        P("# HELP seerlog_projector_partition_lag Records behind the end of each assigned "
          "partition, at the last lag report.\n"
          "# TYPE seerlog_projector_partition_lag gauge\n");
        for (size_t i = 0; i < nl; i++)
                P("seerlog_projector_partition_lag{topic=\"%s\",partition=\"%" PRId32 "\"} %" PRId64
                  "\n",
                  lags[i].topic, lags[i].partition, lags[i].lag);
        P("# HELP seerlog_projector_partitions_assigned Partitions assigned.\n"
          "# TYPE seerlog_projector_partitions_assigned gauge\n"
          "seerlog_projector_partitions_assigned %d\n",
          st.assigned);
        P("# HELP seerlog_projector_caught_up 1 once every assigned partition was read to its "
          "end.\n"
          "# TYPE seerlog_projector_caught_up gauge\n"
          "seerlog_projector_caught_up %d\n",
          st.caught_up);
        P("# HELP seerlog_projector_store_full 1 while the projector is not applying because its "
          "store has no room (store.max.bytes or its file system).\n"
          "# TYPE seerlog_projector_store_full gauge\n"
          "seerlog_projector_store_full %d\n",
          st.store_full);
        P("# HELP seerlog_projector_nodes Nodes in the store.\n"
          "# TYPE seerlog_projector_nodes gauge\n"
          "seerlog_projector_nodes %" PRIu64 "\n",
          st.nodes);
        P("# HELP seerlog_projector_nodes_by_liveness Nodes per liveness state.\n"
          "# TYPE seerlog_projector_nodes_by_liveness gauge\n");
        for (int i = 0; i < SL_LIVENESS__CNT; i++)
                P("seerlog_projector_nodes_by_liveness{liveness=\"%s\"} %" PRIu64 "\n",
                  sl_liveness_state_name((sl_liveness_state_t)i), st.liveness[i]);
        P("# HELP seerlog_projector_nodes_by_status Nodes per status (their latest event's).\n"
          "# TYPE seerlog_projector_nodes_by_status gauge\n");
        for (int i = 0; i < SL_STATUS__CNT; i++)
                P("seerlog_projector_nodes_by_status{status=\"%s\"} %" PRIu64 "\n",
                  sl_node_status_name((sl_node_status_t)i), st.status[i]);
#undef P
        if (bad) {
                free(b);
                sl_api_error(r, 500, "out of memory");
                return;
        }
        r->status = 200;
        r->content_type = "text/plain; version=0.0.4";
        r->body = b;
        r->len = len;
}

/* ---- GET /v1/snapshot ---- */

/*
 * A snapshot of the live store (sl_snapshot_write(): one read view, so its nodes, offsets and
 * hash belong together while the projector goes on applying), written to an unlinked file in
 * $TMPDIR (default /tmp) and sent from it with its length. One at a time: a second request
 * meanwhile is 503. @returns the response, or NULL with @p r set to the error.
 */
static struct MHD_Response *sl_api_snapshot(sl_api_t *api, sl_api_resp_t *r)
{
        const char *dir = getenv("TMPDIR");
        char path[4096], errstr[512], num[32];
        sl_snapshot_info_t info = {0};
        struct MHD_Response *resp = NULL;
        int fd = -1, busy;
        sl_err_t err;

        pthread_mutex_lock(&api->lock);
        busy = api->snapshotting;
        api->snapshotting = 1;
        pthread_mutex_unlock(&api->lock);
        if (busy) {
                sl_api_error(r, 503,
                             "a snapshot is being written for another request; try again "
                             "when it is done");
                return NULL;
        }
        if (!dir || !*dir)
                dir = "/tmp";
        snprintf(path, sizeof(path), "%s/seerlog-api-snapshot.XXXXXX", dir);
        if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
                sl_api_error(r, 500, "snapshot: cannot create a file in %.200s: %s", dir,
                             strerror(errno));
                goto done;
        }
        unlink(path); /* nothing is left behind, whatever happens next */
        if ((err = sl_snapshot_write(api->store, fd, "snapshot", &info, errstr, sizeof(errstr)))) {
                sl_api_error(r, 500, "snapshot: %s (written to %.200s)", errstr, dir);
                goto done;
        }
        if (!(resp = MHD_create_response_from_fd64((uint64_t)info.bytes, fd))) {
                sl_api_error(r, 500, "out of memory");
                goto done;
        }
        fd = -1; /* the response's now */
        snprintf(num, sizeof(num), "%" PRId64, info.nodes);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(resp, "Content-Disposition",
                                "attachment; filename=\"seerlog-snapshot.avro\"");
        MHD_add_response_header(resp, "X-Seerlog-Nodes", num);
        MHD_add_response_header(resp, "X-Seerlog-Hash", info.hash);
done:
        if (fd >= 0)
                close(fd);
        sl_snapshot_info_clear(&info);
        pthread_mutex_lock(&api->lock);
        api->snapshotting = 0;
        pthread_mutex_unlock(&api->lock);
        return resp;
}

/* ---- routing ---- */

static enum MHD_Result sl_api_queue(sl_api_t *api, struct MHD_Connection *c, sl_api_resp_t *r,
                                    int close)
{
        struct MHD_Response *resp;
        enum MHD_Result ret;

        if (!r->body)
                return MHD_NO;
        if (!(resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE))) {
                free(r->body);
                return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (r->status == 401)
                sl_http_sec_challenge(api->sec, resp);
        if (close)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        ret = MHD_queue_response(c, r->status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* A request's connection state after it sent body bytes (the API takes none). */
static char sl_api_body_seen;

/* /healthz and /readyz answer without credentials: load balancers and orchestrators probe
 * them, and they tell a status and a lag, no node's data. */
static int sl_api_public(const char *url)
{
        return !strcmp(url, "/healthz") || !strcmp(url, "/readyz");
}

static enum MHD_Result sl_api_on_request(void *cls, struct MHD_Connection *c, const char *url,
                                         const char *method, const char *version,
                                         const char *upload_data, size_t *upload_data_size,
                                         void **con_cls)
{
        sl_api_t *api = cls;
        sl_api_resp_t r = {0};
        sl_http_args_t args = {0};
        char **seg = NULL;
        size_t n = 0;
        enum MHD_Result ret;
        int split;

        (void)version;
        (void)upload_data;
        if (!*con_cls) {
                /* The first call: headers only. Refused now, the body is never read (and the
                 * connection is closed after the answer). */
                const char *cl =
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

                *con_cls = api;
                if (!sl_api_public(url) && sl_http_sec_check(api->sec, c) == SL_HTTP_ROLE_NONE) {
                        sl_api_error(&r, 401,
                                     "authentication required: HTTP basic credentials or a bearer "
                                     "token of api.auth.file");
                        return sl_api_queue(api, c, &r, 1);
                }
                if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
                        sl_api_error(&r, 405, "%s: only GET is served", method);
                        return sl_api_queue(api, c, &r, 1);
                }
                if (cl && strtoull(cl, NULL, 10) > 0) {
                        sl_api_error(&r, 413, "no endpoint of this API takes a request body");
                        return sl_api_queue(api, c, &r, 1);
                }
                return MHD_YES;
        }
        if (*upload_data_size) {
                /* A chunked body: discarded as it comes, 413 at the end. */
                *upload_data_size = 0;
                *con_cls = &sl_api_body_seen;
                return MHD_YES;
        }
        if (*con_cls == &sl_api_body_seen) {
                sl_api_error(&r, 413, "no endpoint of this API takes a request body");
                return sl_api_queue(api, c, &r, 1);
        }
        split = sl_http_split_path(url, &seg, &n);
        if (split == -2) {
                sl_api_error(&r, 400, "the path contains a NUL byte (%%00)");
                return sl_api_queue(api, c, &r, 0);
        }
        if (split < 0)
                return MHD_NO;
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, sl_http_args_collect, &args);
        if (args.nomem) {
                ret = MHD_NO;
                goto done;
        }
        if (n == 1 && !strcmp(seg[0], "healthz")) {
                sl_api_health(api, 0, &r);
        } else if (n == 1 && !strcmp(seg[0], "readyz")) {
                sl_api_health(api, 1, &r);
        } else if (n == 1 && !strcmp(seg[0], "metrics")) {
                sl_api_metrics(api, &r);
        } else if (n == 2 && !strcmp(seg[0], "v1") && !strcmp(seg[1], "nodes")) {
                sl_api_nodes(api, &args, &r);
        } else if (n == 3 && !strcmp(seg[0], "v1") && !strcmp(seg[1], "nodes")) {
                sl_api_node(api, seg[2], &r);
        } else if (n == 2 && !strcmp(seg[0], "v1") && !strcmp(seg[1], "summary")) {
                sl_api_summary(api, &r);
        } else if (n == 2 && !strcmp(seg[0], "v1") && !strcmp(seg[1], "snapshot")) {
                struct MHD_Response *resp = sl_api_snapshot(api, &r);

                if (resp) {
                        ret = MHD_queue_response(c, 200, resp);
                        MHD_destroy_response(resp);
                        goto done;
                }
        } else if (n == 2 && !strcmp(seg[0], "v1") && !strcmp(seg[1], "watch")) {
                struct MHD_Response *resp = sl_api_watch_start(api, c, &r);

                if (resp) {
                        ret = MHD_queue_response(c, 200, resp);
                        MHD_destroy_response(resp);
                        goto done;
                }
                if (!r.body)
                        sl_api_error(&r, 500, "out of memory");
        } else if (n == 0 || (n == 2 && !strcmp(seg[0], "ui"))) {
                const char *name = n ? seg[1] : "index.html", *body, *type;
                size_t len;

                if (!sl_web_find(name, &body, &len, &type)) {
                        ret = sl_web_queue(c, name);
                        goto done;
                }
                sl_api_error(&r, 404, "no such asset: /ui/%.200s", name);
        } else {
                sl_api_error(&r, 404,
                             "no such endpoint: %.200s (see /v1/nodes, /v1/nodes/{id}, "
                             "/v1/summary, /v1/watch, /v1/snapshot, /healthz, /readyz, /metrics)",
                             url);
        }
        ret = sl_api_queue(api, c, &r, 0);
done:
        sl_http_segs_free(seg, n);
        sl_http_args_free(&args);
        return ret;
}

__attribute__((format(printf, 2, 0))) static void sl_api_mhd_log(void *cls, const char *fmt,
                                                                 va_list ap)
{
        (void)cls;
        (void)fmt;
        (void)ap; /* client misbehaviour (resets, bad requests): not ours to report */
}

/* Splits "HOST:PORT" ("[v6]:PORT") into @p host and @p port; @returns 0 or -1. */
static int sl_api_parse_listen(const char *listen, char *host, size_t host_size, int *port)
{
        const char *colon = strrchr(listen, ':');
        const char *h = listen;
        size_t hl;
        char *end;
        long p;

        if (!colon)
                return -1;
        hl = (size_t)(colon - listen);
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
                h++;
                hl -= 2;
        }
        if (!hl || hl >= host_size)
                return -1;
        memcpy(host, h, hl);
        host[hl] = '\0';
        errno = 0;
        p = strtol(colon + 1, &end, 10);
        if (errno || *end || !colon[1] || p < 0 || p > 65535)
                return -1;
        *port = (int)p;
        return 0;
}

sl_err_t sl_api_check_listen(const char *listen, char *errstr, size_t errstr_size)
{
        char host[256];
        int port;

        if (!listen || sl_api_parse_listen(listen, host, sizeof(host), &port))
                return sl_seterr(errstr, errstr_size, SL_ERR_CONFIG,
                                 "listen address \"%s\": expected HOST:PORT (e.g. 127.0.0.1:8080; "
                                 "port 0 picks a free one)",
                                 listen ? listen : "");
        return SL_OK;
}

sl_err_t sl_api_check_security(const sl_conf_t *conf, const char *listen, char *errstr,
                               size_t errstr_size)
{
        sl_http_sec_t *sec = NULL;
        char host[256];
        sl_err_t err;
        int port;

        if ((err = sl_api_check_listen(listen, errstr, errstr_size)))
                return err;
        sl_api_parse_listen(listen, host, sizeof(host), &port);
        err = sl_http_sec_new(conf, "api", host, &sec, errstr, errstr_size);
        if (!err && sl_http_sec_warning(sec))
                fprintf(stderr, "seerlog: warning: %s\n", sl_http_sec_warning(sec));
        sl_http_sec_destroy(sec);
        return err;
}

sl_api_t *sl_api_start(sl_projector_t *p, const sl_conf_t *conf, const char *listen, char *errstr,
                       size_t errstr_size)
{
        struct addrinfo hints = {0}, *ai = NULL;
        unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                             MHD_USE_AUTO | MHD_USE_ERROR_LOG;
        sl_projector_watch_t watch = {0};
        struct MHD_OptionItem tls[3];
        char host[256], port[16];
        sl_api_t *api;
        int gai, n;

        if (!(api = calloc(1, sizeof(*api)))) {
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&api->lock, NULL);
        pthread_cond_init(&api->cond, NULL);
        pthread_mutex_init(&api->sum_lock, NULL);
        api->p = p;
        api->store = sl_projector_store(p);
        api->next_id = 1;
        api->ready_lag = sl_conf_get_int(conf, "api.ready.lag");
        api->max_watchers = (int)sl_conf_get_int(conf, "api.max.watchers");
        api->ring_cap = (size_t)sl_conf_get_int(conf, "api.watch.buffer");
        if (sl_api_check_listen(listen, errstr, errstr_size) ||
            sl_api_parse_listen(listen, host, sizeof(host), &api->port) ||
            sl_http_sec_new(conf, "api", host, &api->sec, errstr, errstr_size))
                goto fail;
        if (!(api->ring = calloc(api->ring_cap, sizeof(*api->ring))) ||
            !(api->w_ev = sl_event_new()) ||
            !(api->w_reader = sl_store_reader_new(api->store, errstr, errstr_size))) {
                if (api->w_ev && !api->w_reader)
                        goto fail;
                sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto fail;
        }
        snprintf(port, sizeof(port), "%d", api->port);
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        if ((gai = getaddrinfo(host, port, &hints, &ai))) {
                sl_seterr(errstr, errstr_size, SL_ERR_CONFIG, "listen address %s: %s", listen,
                          gai_strerror(gai));
                goto fail;
        }
        if (ai->ai_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        n = sl_http_sec_mhd_options(api->sec, &flags, tls);
        tls[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        api->mhd = MHD_start_daemon(
            flags, 0, NULL, NULL, sl_api_on_request, api, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)sl_conf_get_int(conf, "api.max.connections"),
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_UNESCAPE_CALLBACK,
            sl_http_unescape_none, NULL, MHD_OPTION_EXTERNAL_LOGGER, sl_api_mhd_log, api,
            MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
        freeaddrinfo(ai);
        if (!api->mhd) {
                sl_seterr(errstr, errstr_size, SL_ERR_IO,
                          "cannot listen on %s (the address is in use or not this machine's)",
                          listen);
                goto fail;
        }
        if (!api->port) {
                const union MHD_DaemonInfo *info =
                    MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_BIND_PORT);

                api->port = info ? info->port : 0;
        }
        watch.opaque = api;
        watch.wanted = sl_api_wanted;
        watch.on_state = sl_api_on_state;
        watch.on_liveness = sl_api_on_liveness;
        sl_projector_set_watch(p, &watch);
        return api;

fail:
        sl_api_stop(api);
        return NULL;
}

int sl_api_port(const sl_api_t *api)
{
        return api->port;
}

void sl_api_stop(sl_api_t *api)
{
        sl_projector_watch_t none = {0};

        if (!api)
                return;
        if (api->p && api->mhd)
                sl_projector_set_watch(api->p, &none);
        pthread_mutex_lock(&api->lock);
        api->stopping = 1;
        pthread_cond_broadcast(&api->cond);
        pthread_mutex_unlock(&api->lock);
        if (api->mhd)
                MHD_stop_daemon(api->mhd);
        for (size_t i = 0; api->ring && i < api->ring_cap; i++)
                free(api->ring[i].text);
        free(api->ring);
        sl_store_reader_free(api->w_reader);
        sl_event_destroy(api->w_ev);
        free(api->sum_json);
        sl_http_sec_destroy(api->sec);
        pthread_mutex_destroy(&api->lock);
        pthread_cond_destroy(&api->cond);
        pthread_mutex_destroy(&api->sum_lock);
        free(api);
}
