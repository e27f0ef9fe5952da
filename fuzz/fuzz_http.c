/*
 * libFuzzer target: HTTP request handling without a socket.
 *
 * The input is a request: byte 0 picks the method (bits 0-2), a JSON content type (bit 7) and
 * whether the request says it was forwarded by another instance (bit 6), then the request target
 * ("/path?query") up to the first newline, then the body. The target goes through what
 * libmicrohttpd hands to our code with sl_http_unescape_none() installed: the raw path to
 * sl_http_split_path(), each query argument as raw key and value (NULL without '=') to
 * sl_http_args_collect(). The request is then routed by the registry's API (sl_reg_api_handle(),
 * schema-registry/api.c) over an in-memory store holding two versions of a subject, as the
 * registry's HTTP layer does. The server is "stopping", so a write is parsed and checked and then
 * refused without waiting for a leader: no Kafka, and the store is the same for every input.
 *
 * A test harness, it includes the registry's internal header. The projector's API needs a live
 * projector (Kafka clients and a store) for any route, so only its shared parsing (sl_http.c)
 * is covered here.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "registry_int.h"
#include "sl_event.h"
#include "sl_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_reg_srv_t *srv;

static void quiet(void *opaque, int level, const char *fmt, ...)
{
        (void)opaque;
        (void)level;
        (void)fmt;
}

static void put(const char *subject, int32_t version, int32_t id, const char *schema)
{
        char *k = sl_reg_key_schema(subject, version);
        char *v = sl_reg_value_schema(subject, version, id, schema, 0);

        if (!k || !v)
                sl_fuzz_die("fuzz_http setup", "out of memory");
        sl_reg_store_apply(&srv->store, k, strlen(k), v, strlen(v), 0);
        free(k);
        free(v);
}

static void setup(void)
{
        char *k, *v;

        if (srv)
                return;
        if (!(srv = calloc(1, sizeof(*srv))) || sl_reg_store_init(&srv->store, quiet, NULL) ||
            pthread_mutex_init(&srv->write_lock, NULL) ||
            pthread_mutex_init(&srv->elect_lock, NULL) ||
            !(srv->advertised_url = strdup("http://127.0.0.1:1")))
                sl_fuzz_die("fuzz_http setup", "out of memory");
        srv->log_level = -1;
        srv->max_body = 1 << 20;
        srv->stopping = 1;
        put("node-state-value", 1, 1, sl_fuzz_node_state_v1_avsc);
        put("node-state-value", 2, 2, sl_event_schema_text());
        put("a/b", 1, 3, "\"string\"");
        k = sl_reg_key_config("node-state-value");
        v = sl_reg_value_config(SL_COMPAT_FULL);
        if (!k || !v)
                sl_fuzz_die("fuzz_http setup", "out of memory");
        sl_reg_store_apply(&srv->store, k, strlen(k), v, strlen(v), 1);
        free(k);
        free(v);
}

/* What libmicrohttpd does with the query: split at '&', then at the first '='. */
static void collect_args(char *query, sl_http_args_t *args)
{
        char *save = NULL;

        for (char *kv = strtok_r(query, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
                char *eq = strchr(kv, '=');

                if (eq)
                        *eq = '\0';
                if (sl_http_args_collect(args, MHD_GET_ARGUMENT_KIND, kv, eq ? eq + 1 : NULL) !=
                    MHD_YES)
                        break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const methods[8] = {"GET",  "POST",  "PUT", "DELETE",
                                               "HEAD", "PATCH", "get", "OPTIONS"};
        sl_http_args_t args = {0};
        sl_reg_req_t req = {0};
        sl_reg_resp_t resp = {0};
        char *text, *nl, *query, *path, *target;

        setup();
        if (size < 1)
                return 0;
        /* The path and the query are C strings in libmicrohttpd: a NUL ends them. */
        if (!(text = malloc(size)))
                sl_fuzz_die("fuzz_http", "out of memory");
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        if ((nl = memchr(text, '\n', size - 1))) {
                *nl = '\0';
                req.body = nl + 1;
                req.body_len = size - 1 - (size_t)(nl + 1 - text);
        } else {
                req.body = "";
        }
        if (!(path = strdup(text)))
                sl_fuzz_die("fuzz_http", "out of memory");
        if ((query = strchr(path, '?')))
                *query++ = '\0';
        if (sl_http_split_path(path, &req.seg, &req.seg_cnt))
                goto done;
        if (query)
                collect_args(query, &args);
        if (args.nomem)
                goto done;
        req.method = methods[data[0] & 7];
        req.path = path;
        req.args = &args;
        req.content_type = data[0] & 0x80 ? "application/json" : NULL;
        req.authorization = NULL;
        req.forwarded = (data[0] & 0x40) != 0;
        sl_reg_api_handle(srv, &req, &resp);
        if ((target = sl_reg_req_target(&req)))
                free(target);
        (void)sl_http_secret_eq(path, req.body);
        free(resp.body);
        free(resp.content_type);

done:
        sl_http_segs_free(req.seg, req.seg_cnt);
        sl_http_args_free(&args);
        free(path);
        free(text);
        return 0;
}
