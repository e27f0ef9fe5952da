/*
 * Unit tests of the registry client (schema-registry/client.c) against a tiny real HTTP server
 * (libmicrohttpd on 127.0.0.1, ephemeral port) that answers canned responses and records what it
 * was asked: success paths, error mapping, retries, timeouts, the id cache, garbage answers,
 * percent-encoding of subjects, basic auth.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "sl_registry.h"

/* ---------------------------------------------------------------------------------------- */
/* The canned server */

#define MAX_SCRIPT 8

/* One canned answer. body NULL with huge_bytes: that many bytes of 'x'. */
typedef struct {
        unsigned status;
        const char *body;
        int stall_ms; /* wait this long before answering (until the test ends at most) */
        size_t huge_bytes;
} canned_t;

/* What the server was last asked. */
typedef struct {
        char method[16];
        char url[512];
        char query_normalize[16];
        char content_type[128];
        char authorization[256];
        char *body;
} seen_t;

static struct {
        struct MHD_Daemon *daemon;
        uint16_t port;
        /* Answer n uses script[min(n, script_cnt - 1)]; no script: the dynamic answers of
         * dynamic_answer(). */
        canned_t script[MAX_SCRIPT];
        int script_cnt;
        atomic_int requests;
        atomic_int stopping;
        pthread_mutex_t lock;
        seen_t seen;
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

typedef struct {
        char *data;
        size_t len;
} upload_t;

/* Keep the URL exactly as sent: MHD would percent-decode it. */
static size_t no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
        return strlen(s);
}

static ssize_t huge_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
        memset(buf, 'x', max);
        return (ssize_t)max;
}

static void copy_header(struct MHD_Connection *conn, enum MHD_ValueKind kind, const char *name,
                        char *dst, size_t size)
{
        const char *v = MHD_lookup_connection_value(conn, kind, name);

        snprintf(dst, size, "%s", v ? v : "");
}

/* Without a script: GET /schemas/ids/N answers {"schema":"\"schema-N\""}. */
static struct MHD_Response *dynamic_answer(const char *url, unsigned *statusp)
{
        char body[128];
        int id;

        if (sscanf(url, "/schemas/ids/%d", &id) == 1) {
                snprintf(body, sizeof(body), "{\"schema\":\"\\\"schema-%d\\\"\"}", id);
                *statusp = 200;
        } else {
                snprintf(body, sizeof(body), "{\"error_code\":404,\"message\":\"HTTP 404\"}");
                *statusp = 404;
        }
        return MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
        upload_t *up = *con_cls;
        struct MHD_Response *resp;
        const canned_t *answer = NULL;
        unsigned status;
        enum MHD_Result ret;
        int n;

        if (!up) {
                *con_cls = up = calloc(1, sizeof(*up));
                return up ? MHD_YES : MHD_NO;
        }
        if (*upload_data_size) {
                up->data = realloc(up->data, up->len + *upload_data_size + 1);
                memcpy(up->data + up->len, upload_data, *upload_data_size);
                up->len += *upload_data_size;
                up->data[up->len] = '\0';
                *upload_data_size = 0;
                return MHD_YES;
        }

        n = atomic_fetch_add(&srv.requests, 1);
        pthread_mutex_lock(&srv.lock);
        snprintf(srv.seen.method, sizeof(srv.seen.method), "%s", method);
        snprintf(srv.seen.url, sizeof(srv.seen.url), "%s", url);
        copy_header(conn, MHD_GET_ARGUMENT_KIND, "normalize", srv.seen.query_normalize,
                    sizeof(srv.seen.query_normalize));
        copy_header(conn, MHD_HEADER_KIND, "Content-Type", srv.seen.content_type,
                    sizeof(srv.seen.content_type));
        copy_header(conn, MHD_HEADER_KIND, "Authorization", srv.seen.authorization,
                    sizeof(srv.seen.authorization));
        free(srv.seen.body);
        srv.seen.body = up->data ? strdup(up->data) : NULL;
        if (srv.script_cnt)
                answer = &srv.script[n < srv.script_cnt ? n : srv.script_cnt - 1];
        pthread_mutex_unlock(&srv.lock);

        if (answer && answer->stall_ms)
                for (int waited = 0; waited < answer->stall_ms && !srv.stopping; waited += 10)
                        usleep(10 * 1000);
        if (!answer)
                resp = dynamic_answer(url, &status);
        else if (answer->huge_bytes)
                resp = MHD_create_response_from_callback(answer->huge_bytes, 64 * 1024, huge_reader,
                                                         NULL, NULL);
        else
                resp = MHD_create_response_from_buffer(strlen(answer->body), (void *)answer->body,
                                                       MHD_RESPMEM_PERSISTENT);
        if (answer)
                status = answer->status;
        MHD_add_response_header(resp, "Content-Type", "application/vnd.schemaregistry.v1+json");
        ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        upload_t *up = *con_cls;

        if (up) {
                free(up->data);
                free(up);
                *con_cls = NULL;
        }
}

static void server_start(void)
{
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
        const union MHD_DaemonInfo *info;

        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        srv.daemon = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handler,
            NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_UNESCAPE_CALLBACK,
            no_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_END);
        cr_assert_not_null(srv.daemon, "MHD_start_daemon failed");
        info = MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_BIND_PORT);
        cr_assert_not_null(info);
        srv.port = info->port;
        cr_assert_gt(srv.port, 0);
}

static void server_stop(void)
{
        srv.stopping = 1;
        if (srv.daemon)
                MHD_stop_daemon(srv.daemon);
        srv.daemon = NULL;
        free(srv.seen.body);
        srv.seen.body = NULL;
}

/* Every answer the same. */
static void answer_always(unsigned status, const char *body)
{
        srv.script[0] = (canned_t){.status = status, .body = body};
        srv.script_cnt = 1;
}

/* ---------------------------------------------------------------------------------------- */
/* The client under test */

static sl_conf_t *conf;
static sl_registry_client_t *client;
static char errstr[512];

static void conf_set(const char *key, const char *value)
{
        cr_assert_eq(sl_conf_set(conf, key, value, errstr, sizeof(errstr)), SL_OK, "%s=%s: %s", key,
                     value, errstr);
}

/* (Re)creates the client after conf changes. */
static void client_make(void)
{
        sl_registry_client_destroy(client);
        client = sl_registry_client_new(conf, errstr, sizeof(errstr));
        cr_assert_not_null(client, "%s", errstr);
}

static void setup(void)
{
        char url[64];

        server_start();
        conf = sl_conf_new();
        cr_assert_not_null(conf);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)srv.port);
        conf_set("registry.url", url); /* the trailing '/' must not double */
        /* Keep the retry tests quick: 100 ms + 200 ms of backoff at most. */
        conf_set("registry.retries", "2");
        conf_set("registry.request.timeout.ms", "5000");
        client_make();
        errstr[0] = '\0';
}

static void teardown(void)
{
        sl_registry_client_destroy(client);
        client = NULL;
        sl_conf_destroy(conf);
        server_stop();
}

TestSuite(registry_client, .init = setup, .fini = teardown, .timeout = 60);

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *node_schema(void)
{
        return sl_event_schema_text();
}

/* ---------------------------------------------------------------------------------------- */
/* Success paths */

Test(registry_client, register_posts_the_schema_and_returns_the_id)
{
        int32_t id = 0;
        json_t *body;

        answer_always(200, "{\"id\":42}");
        cr_assert_eq(sl_registry_register(client, "nodes-value", node_schema(), 0, &id, errstr,
                                          sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(id, 42);
        cr_assert_eq(srv.requests, 1);
        cr_assert_str_eq(srv.seen.method, "POST");
        cr_assert_str_eq(srv.seen.url, "/subjects/nodes-value/versions");
        cr_assert_str_eq(srv.seen.query_normalize, "");
        cr_assert_str_eq(srv.seen.content_type, "application/vnd.schemaregistry.v1+json");
        cr_assert_str_eq(srv.seen.authorization, "");
        cr_assert_not_null(srv.seen.body);
        body = json_loads(srv.seen.body, 0, NULL);
        cr_assert_not_null(body, "body: %s", srv.seen.body);
        cr_assert_str_eq(json_string_value(json_object_get(body, "schema")), node_schema());
        json_decref(body);
}

Test(registry_client, register_normalize_sets_the_query)
{
        int32_t id = 0;

        answer_always(200, "{\"id\":1,\"version\":3,\"unknown\":[1,2]}");
        cr_assert_eq(
            sl_registry_register(client, "s", "\"string\"", 1, &id, errstr, sizeof(errstr)), SL_OK,
            "%s", errstr);
        cr_assert_eq(id, 1);
        cr_assert_str_eq(srv.seen.url, "/subjects/s/versions");
        cr_assert_str_eq(srv.seen.query_normalize, "true");
}

Test(registry_client, lookup_returns_id_and_version_and_fills_the_cache)
{
        int32_t id = 0, version = 0;
        const char *text;

        answer_always(200,
                      "{\"subject\":\"s\",\"version\":3,\"id\":7,\"schema\":\"\\\"string\\\"\"}");
        cr_assert_eq(
            sl_registry_lookup(client, "s", "\"string\"", 0, &id, &version, errstr, sizeof(errstr)),
            SL_OK, "%s", errstr);
        cr_assert_eq(id, 7);
        cr_assert_eq(version, 3);
        cr_assert_str_eq(srv.seen.method, "POST");
        cr_assert_str_eq(srv.seen.url, "/subjects/s");
        cr_assert_eq(sl_registry_get_schema(client, 7, &text, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_str_eq(text, "\"string\"");
        cr_assert_eq(srv.requests, 1, "get_schema after lookup asked the server again");
}

Test(registry_client, get_latest_returns_a_copy)
{
        int32_t id = 0, version = 0;
        char *text = NULL;

        answer_always(200, "{\"subject\":\"s\",\"version\":2,\"id\":5,\"schema\":\"\\\"long\\\"\","
                           "\"schemaType\":\"AVRO\"}");
        cr_assert_eq(
            sl_registry_get_latest(client, "s", &id, &version, &text, errstr, sizeof(errstr)),
            SL_OK, "%s", errstr);
        cr_assert_str_eq(srv.seen.method, "GET");
        cr_assert_str_eq(srv.seen.url, "/subjects/s/versions/latest");
        cr_assert_eq(id, 5);
        cr_assert_eq(version, 2);
        cr_assert_str_eq(text, "\"long\"");
        free(text);
        /* Out-pointers are optional. */
        cr_assert_eq(sl_registry_get_latest(client, "s", NULL, NULL, NULL, errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
}

Test(registry_client, get_schema_is_cached)
{
        const char *a, *b;

        answer_always(200, "{\"schema\":\"{\\\"type\\\":\\\"string\\\"}\"}");
        cr_assert_eq(sl_registry_get_schema(client, 9, &a, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_str_eq(a, "{\"type\":\"string\"}");
        cr_assert_str_eq(srv.seen.method, "GET");
        cr_assert_str_eq(srv.seen.url, "/schemas/ids/9");
        cr_assert_eq(sl_registry_get_schema(client, 9, &b, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_eq(a, b, "the cached text moved");
        cr_assert_eq(srv.requests, 1, "the second get_schema asked the server");
}

Test(registry_client, cache_grows_and_keeps_pointers)
{
        const char *texts[200];
        char want[32];

        /* No script: /schemas/ids/N answers "schema-N". */
        for (int id = 1; id <= 200; id++) {
                cr_assert_eq(
                    sl_registry_get_schema(client, id, &texts[id - 1], errstr, sizeof(errstr)),
                    SL_OK, "%d: %s", id, errstr);
        }
        for (int id = 1; id <= 200; id++) {
                const char *again;

                snprintf(want, sizeof(want), "\"schema-%d\"", id);
                cr_assert_str_eq(texts[id - 1], want);
                cr_assert_eq(sl_registry_get_schema(client, id, &again, errstr, sizeof(errstr)),
                             SL_OK);
                cr_assert_eq(again, texts[id - 1]);
        }
        cr_assert_eq(srv.requests, 200);
}

/* Many threads, one client: every id stored once, every thread sees the same text. */
typedef struct {
        const char *texts[64];
        sl_err_t err;
} worker_t;

static void *worker(void *arg)
{
        worker_t *w = arg;
        char buf[256];

        for (int round = 0; round < 3; round++)
                for (int id = 1; id <= 64; id++)
                        if ((w->err = sl_registry_get_schema(client, id, &w->texts[id - 1], buf,
                                                             sizeof(buf))))
                                return NULL;
        return NULL;
}

Test(registry_client, shared_between_threads)
{
        pthread_t threads[8];
        worker_t workers[8] = {0};

        for (int i = 0; i < 8; i++)
                cr_assert_eq(pthread_create(&threads[i], NULL, worker, &workers[i]), 0);
        for (int i = 0; i < 8; i++)
                cr_assert_eq(pthread_join(threads[i], NULL), 0);
        for (int i = 0; i < 8; i++) {
                cr_assert_eq(workers[i].err, SL_OK);
                for (int id = 1; id <= 64; id++)
                        cr_assert_eq(workers[i].texts[id - 1], workers[0].texts[id - 1],
                                     "id %d stored twice", id);
        }
        /* A miss may be fetched by several threads at once, never more than once each. */
        cr_assert_geq(srv.requests, 64);
        cr_assert_leq(srv.requests, 64 * 8);
}

Test(registry_client, fetch_cb_hands_out_a_copy)
{
        char *text = NULL;
        const char *cached;

        answer_always(200, "{\"schema\":\"\\\"int\\\"\"}");
        cr_assert_eq(sl_registry_fetch_cb(3, &text, client, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_str_eq(text, "\"int\"");
        cr_assert_eq(sl_registry_get_schema(client, 3, &cached, errstr, sizeof(errstr)), SL_OK);
        cr_assert_neq(text, cached);
        free(text);
        cr_assert_eq(srv.requests, 1);
}

/* The codec decodes a record whose writer id only the registry knows. */
Test(registry_client, codec_decodes_through_the_registry)
{
        sl_codec_t *writer, *reader;
        sl_event_t *ev, *back;
        sl_buf_t buf = {0};
        json_t *answer;
        char *body;

        answer = json_pack("{s:s}", "schema", node_schema());
        body = json_dumps(answer, JSON_COMPACT);
        json_decref(answer);
        answer_always(200, body);

        writer = sl_codec_new(77, errstr, sizeof(errstr));
        reader = sl_codec_new(1, errstr, sizeof(errstr));
        cr_assert(writer && reader, "%s", errstr);
        sl_codec_set_fetch_cb(reader, sl_registry_fetch_cb, client);
        ev = sl_event_new();
        back = sl_event_new();
        cr_assert(ev && back);
        cr_assert_eq(sl_event_new_id(ev), SL_OK);
        sl_event_set(ev, &ev->node_id, "n1");
        sl_event_set(ev, &ev->node_type, "seer");
        sl_event_set(ev, &ev->region, "eu");
        ev->incarnation = 1700000000000;
        ev->status = SL_STATUS_UP;
        cr_assert_eq(sl_codec_encode(writer, ev, &buf, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_eq(sl_codec_decode(reader, buf.data, buf.len, back, errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert(sl_event_equal(ev, back));
        cr_assert_str_eq(srv.seen.url, "/schemas/ids/77");
        cr_assert_eq(sl_codec_decode(reader, buf.data, buf.len, back, errstr, sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_eq(srv.requests, 1);

        sl_buf_free(&buf);
        sl_event_destroy(ev);
        sl_event_destroy(back);
        sl_codec_destroy(writer);
        sl_codec_destroy(reader);
        /* The server keeps pointing at body until it stops. */
        server_stop();
        free(body);
}

/* ---------------------------------------------------------------------------------------- */
/* URLs and headers */

Test(registry_client, subjects_are_percent_encoded)
{
        int32_t id;

        answer_always(200, "{\"id\":1}");
        cr_assert_eq(sl_registry_register(client, "team/a b%?#&+é", "\"string\"", 0, &id, errstr,
                                          sizeof(errstr)),
                     SL_OK, "%s", errstr);
        cr_assert_str_eq(srv.seen.url, "/subjects/team%2Fa%20b%25%3F%23%26%2B%C3%A9/versions");
        answer_always(200,
                      "{\"subject\":\"x\",\"version\":1,\"id\":1,\"schema\":\"\\\"string\\\"\"}");
        cr_assert_eq(
            sl_registry_get_latest(client, "a/b", NULL, NULL, NULL, errstr, sizeof(errstr)), SL_OK,
            "%s", errstr);
        cr_assert_str_eq(srv.seen.url, "/subjects/a%2Fb/versions/latest");
}

Test(registry_client, empty_subject_is_refused_locally)
{
        int32_t id;

        cr_assert_eq(sl_registry_register(client, "", "\"string\"", 0, &id, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
        cr_assert_eq(
            sl_registry_lookup(client, NULL, "\"string\"", 0, &id, NULL, errstr, sizeof(errstr)),
            SL_ERR_INVALID_ARG);
        cr_assert_eq(srv.requests, 0);
}

Test(registry_client, basic_auth_header_is_sent)
{
        int32_t id;

        conf_set("registry.basic.auth.user.info", "alice:s3cr:et");
        client_make();
        answer_always(200, "{\"id\":1}");
        cr_assert_eq(
            sl_registry_register(client, "s", "\"string\"", 0, &id, errstr, sizeof(errstr)), SL_OK,
            "%s", errstr);
        /* base64("alice:s3cr:et") */
        cr_assert_str_eq(srv.seen.authorization, "Basic YWxpY2U6czNjcjpldA==");

        /* ... and never show in messages. */
        answer_always(404, "{\"error_code\":40401,\"message\":\"Subject 's' not found.\"}");
        cr_assert_eq(
            sl_registry_register(client, "s", "\"string\"", 0, &id, errstr, sizeof(errstr)),
            SL_ERR_NOT_FOUND);
        cr_assert_null(strstr(errstr, "s3cr"), "%s", errstr);
}

Test(registry_client, user_info_without_colon_is_a_config_error)
{
        sl_registry_client_t *c;

        conf_set("registry.basic.auth.user.info", "justauser");
        c = sl_registry_client_new(conf, errstr, sizeof(errstr));
        cr_assert_null(c);
        cr_assert_not_null(strstr(errstr, "USER:PASSWORD"), "%s", errstr);
}

/* ---------------------------------------------------------------------------------------- */
/* Errors: mapping and (no) retries */

/* Registers against a server answering @p status @p body always; checks the error and that
 * the server was asked @p want_requests times. */
static void check_register_error(unsigned status, const char *body, sl_err_t want,
                                 int want_requests, const char *want_text)
{
        int32_t id = -1;
        sl_err_t err;

        srv.requests = 0;
        answer_always(status, body);
        err = sl_registry_register(client, "nodes-value", "\"string\"", 0, &id, errstr,
                                   sizeof(errstr));
        cr_assert_eq(err, want, "HTTP %u %s: got %s (%s), want %s", status, body, sl_err_str(err),
                     errstr, sl_err_str(want));
        cr_assert_eq(id, -1, "the id was written on failure");
        cr_assert_eq(srv.requests, want_requests, "HTTP %u: %d requests, want %d", status,
                     (int)srv.requests, want_requests);
        if (want_text)
                cr_assert_not_null(strstr(errstr, want_text), "errstr '%s' lacks '%s'", errstr,
                                   want_text);
}

Test(registry_client, client_errors_are_mapped_and_not_retried)
{
        check_register_error(404, "{\"error_code\":40401,\"message\":\"Subject 'x' not found.\"}",
                             SL_ERR_NOT_FOUND, 1,
                             "HTTP 404: Subject 'x' not found. (error_code 40401)");
        check_register_error(409,
                             "{\"error_code\":409,\"message\":\"Schema being registered is "
                             "incompatible with an earlier schema\"}",
                             SL_ERR_SCHEMA, 1,
                             "incompatible with an earlier schema (error_code 409)");
        check_register_error(409, "{\"error_code\":40901,\"message\":\"incompatible\"}",
                             SL_ERR_SCHEMA, 1, "(error_code 40901)");
        check_register_error(422, "{\"error_code\":42201,\"message\":\"Invalid schema\"}",
                             SL_ERR_SCHEMA, 1, "Invalid schema (error_code 42201)");
        check_register_error(422, "{\"error_code\":42202,\"message\":\"Invalid version\"}",
                             SL_ERR_INVALID_ARG, 1, "(error_code 42202)");
        check_register_error(401, "{\"error_code\":401,\"message\":\"Unauthorized\"}",
                             SL_ERR_INVALID_ARG, 1, "HTTP 401: Unauthorized");
        check_register_error(400, "Bad Request", SL_ERR_INVALID_ARG, 1, "HTTP 400: Bad Request");
        /* Not the registry protocol at all. */
        check_register_error(302, "", SL_ERR_IO, 1, "HTTP 302");
}

Test(registry_client, errstr_names_method_and_url)
{
        check_register_error(404, "{\"error_code\":40401,\"message\":\"nope\"}", SL_ERR_NOT_FOUND,
                             1, NULL);
        cr_assert_not_null(strstr(errstr, "registry POST http://127.0.0.1:"), "%s", errstr);
        cr_assert_not_null(strstr(errstr, "/subjects/nodes-value/versions: HTTP 404"), "%s",
                           errstr);
}

Test(registry_client, server_errors_are_retried_then_succeed)
{
        int32_t id = 0;
        int64_t start = now_ms();

        srv.script[0] =
            (canned_t){.status = 503, .body = "{\"error_code\":50301,\"message\":\"busy\"}"};
        srv.script[1] =
            (canned_t){.status = 500, .body = "{\"error_code\":50001,\"message\":\"store\"}"};
        srv.script[2] = (canned_t){.status = 200, .body = "{\"id\":12}"};
        srv.script_cnt = 3;
        cr_assert_eq(
            sl_registry_register(client, "s", "\"string\"", 0, &id, errstr, sizeof(errstr)), SL_OK,
            "%s", errstr);
        cr_assert_eq(id, 12);
        cr_assert_eq(srv.requests, 3);
        /* 100 ms, then 200 ms of backoff. */
        cr_assert_geq(now_ms() - start, 300);
}

Test(registry_client, server_errors_give_up_after_the_retries)
{
        /* registry.retries=2: three attempts. */
        check_register_error(503, "{\"error_code\":50301,\"message\":\"busy\"}", SL_ERR_IO, 3,
                             "HTTP 503: busy (error_code 50301)");
        check_register_error(500, "{\"error_code\":50002,\"message\":\"timed out\"}",
                             SL_ERR_TIMEOUT, 3, "(error_code 50002)");
        check_register_error(429, "slow down", SL_ERR_IO, 3, "HTTP 429: slow down");
        conf_set("registry.retries", "0");
        client_make();
        check_register_error(502, "<html>bad gateway</html>", SL_ERR_IO, 1,
                             "HTTP 502: <html>bad gateway</html>");
}

Test(registry_client, request_timeout)
{
        int32_t id = -1;
        int64_t start, took;

        conf_set("registry.request.timeout.ms", "200");
        conf_set("registry.retries", "1");
        client_make();
        srv.script[0] = (canned_t){.status = 200, .body = "{\"id\":1}", .stall_ms = 3000};
        srv.script_cnt = 1;
        start = now_ms();
        cr_assert_eq(
            sl_registry_register(client, "s", "\"string\"", 0, &id, errstr, sizeof(errstr)),
            SL_ERR_TIMEOUT, "%s", errstr);
        took = now_ms() - start;
        cr_assert_eq(id, -1);
        /* Two attempts of 200 ms and 100 ms of backoff, far less than the stall. */
        cr_assert_geq(took, 450, "took %lld ms", (long long)took);
        cr_assert_lt(took, 2500, "took %lld ms", (long long)took);
        /* The server may not have counted the second attempt's request yet. */
        for (int i = 0; i < 100 && srv.requests < 2; i++)
                usleep(10 * 1000);
        cr_assert_eq(srv.requests, 2);
}

Test(registry_client, connection_refused)
{
        struct sockaddr_in addr = {.sin_family = AF_INET};
        socklen_t len = sizeof(addr);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        const char *text;
        char url[64];

        /* A port nobody listens on: bound, then closed. */
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
        close(fd);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
        conf_set("registry.url", url);
        client_make();
        cr_assert_eq(sl_registry_get_schema(client, 1, &text, errstr, sizeof(errstr)), SL_ERR_IO);
        cr_assert_not_null(strstr(errstr, "/schemas/ids/1: "), "%s", errstr);
}

Test(registry_client, unknown_id_through_fetch_cb)
{
        char *text = (char *)"untouched";

        answer_always(404, "{\"error_code\":40403,\"message\":\"Schema 5 not found\"}");
        cr_assert_eq(sl_registry_fetch_cb(5, &text, client, errstr, sizeof(errstr)),
                     SL_ERR_UNKNOWN_SCHEMA);
        cr_assert_null(text);
        cr_assert_not_null(strstr(errstr, "Schema 5 not found (error_code 40403)"), "%s", errstr);
        /* Failures are not cached. */
        answer_always(200, "{\"schema\":\"\\\"int\\\"\"}");
        cr_assert_eq(sl_registry_fetch_cb(5, &text, client, errstr, sizeof(errstr)), SL_OK);
        cr_assert_str_eq(text, "\"int\"");
        free(text);
}

/* ---------------------------------------------------------------------------------------- */
/* Garbage answers: errors, never crashes */

Test(registry_client, garbage_answers_to_register)
{
        static const char *const bodies[] = {
            "",
            "not json",
            "{\"id\":",
            "[1,2,3]",
            "42",
            "null",
            "{}",
            "{\"id\":\"7\"}",
            "{\"id\":0}",
            "{\"id\":-3}",
            "{\"id\":2147483648}",
            "{\"id\":1.5}",
            "{\"id\":99999999999999999999999}",
            "{\"id\":true}",
        };

        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
                check_register_error(200, bodies[i], SL_ERR_IO, 1, NULL);
}

Test(registry_client, garbage_answers_to_get_schema)
{
        static const char *const bodies[] = {
            "{\"schema\":5}",
            "{\"schema\":null}",
            "{\"schemaa\":\"x\"}",
            "{\"schema\":\"a\\u0000b\"}", /* a NUL inside: not a C string */
            "{\"schema\":\"\\ud800\"}",   /* a lone surrogate */
            "\xff\xfe{}",
        };
        const char *text;

        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
                answer_always(200, bodies[i]);
                cr_assert_eq(
                    sl_registry_get_schema(client, (int32_t)i + 1, &text, errstr, sizeof(errstr)),
                    SL_ERR_IO, "body %zu: %s", i, errstr);
        }
        answer_always(200, "{\"schema\":\"syntax = \\\"proto3\\\";\",\"schemaType\":\"PROTOBUF\"}");
        cr_assert_eq(sl_registry_get_schema(client, 100, &text, errstr, sizeof(errstr)),
                     SL_ERR_SCHEMA);
        cr_assert_not_null(strstr(errstr, "PROTOBUF, not AVRO"), "%s", errstr);
        answer_always(200, "{\"subject\":\"s\",\"id\":1,\"schema\":\"\\\"x\\\"\"}");
        cr_assert_eq(
            sl_registry_lookup(client, "s", "\"x\"", 0, NULL, NULL, errstr, sizeof(errstr)),
            SL_ERR_IO, "a lookup answer without version");
}

Test(registry_client, deeply_nested_answer)
{
        size_t depth = 200000;
        char *body = malloc(2 * depth + 1);
        const char *text;

        cr_assert_not_null(body);
        memset(body, '[', depth);
        memset(body + depth, ']', depth);
        body[2 * depth] = '\0';
        answer_always(200, body);
        cr_assert_eq(sl_registry_get_schema(client, 1, &text, errstr, sizeof(errstr)), SL_ERR_IO);
        answer_always(500, body);
        conf_set("registry.retries", "0");
        client_make();
        cr_assert_eq(sl_registry_get_schema(client, 1, &text, errstr, sizeof(errstr)), SL_ERR_IO);
        cr_assert_not_null(strstr(errstr, "HTTP 500: [[[["), "%s", errstr);
        server_stop();
        free(body);
}

Test(registry_client, huge_answer_is_capped)
{
        const char *text;

        srv.script[0] = (canned_t){.status = 200, .huge_bytes = (size_t)40 << 20};
        srv.script_cnt = 1;
        cr_assert_eq(sl_registry_get_schema(client, 1, &text, errstr, sizeof(errstr)), SL_ERR_IO);
        cr_assert_not_null(strstr(errstr, "answer larger than 16777216 bytes"), "%s", errstr);
        cr_assert_eq(srv.requests, 1, "an oversized answer was retried");
}

Test(registry_client, binary_error_body_is_shown_printable)
{
        check_register_error(500, "\x01<b>\x7f", SL_ERR_IO, 3, "HTTP 500: ?<b>?");
}
