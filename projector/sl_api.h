/**
 * @file sl_api.h
 * @brief The projector's HTTP API (docs/api.md): the nodes, one node, a summary, a watch stream
 *        (Server-Sent Events), /healthz, /readyz and /metrics, served with libmicrohttpd from
 *        the projector's store and liveness tracker while the projector runs.
 *
 * Reads never block the projector: each request reads the store in its own LMDB read
 * transaction (an sl_store_reader_t of its own), and the liveness tracker and the counters
 * under short locks. The watch stream is fed by the projector's watch hooks
 * (sl_projector_set_watch()) into a ring of the latest api.watch.buffer events; a client that
 * falls further behind than that is cut off (its stream ends with an "overflow" event), and the
 * number of watch clients (api.max.watchers) and of connections (api.max.connections) is capped.
 * Bad parameters get 400 with a JSON error, unknown nodes and paths 404, a request body 413.
 * With api.tls.cert the API is served over HTTPS; with api.auth.file every request but /healthz
 * and /readyz needs credentials of the file (401 otherwise). Every endpoint only reads: the read
 * role is enough for all of them.
 */
#ifndef SL_API_H
#define SL_API_H

#include <stddef.h>

#include <jansson.h>

#include "sl_conf.h"
#include "sl_err.h"
#include "sl_projector.h"

typedef struct sl_api_s sl_api_t;

/**
 * @brief Checks @p listen is "HOST:PORT" ("[v6]:PORT", PORT 0..65535) before anything starts.
 * @returns SL_OK, or SL_ERR_CONFIG with the reason in @p errstr.
 */
sl_err_t sl_api_check_listen(const char *listen, char *errstr, size_t errstr_size);

/**
 * @brief Checks @p listen and the API's security settings (api.tls.cert, api.tls.key,
 *        api.auth.file, api.allow.insecure.auth; see sl_http_sec_new()) before anything
 *        starts, printing a warning about a secret file other users can read.
 * @returns SL_OK, or SL_ERR_CONFIG (a half-configured setup, named in @p errstr) / SL_ERR_NOMEM.
 */
sl_err_t sl_api_check_security(const sl_conf_t *conf, const char *listen, char *errstr,
                               size_t errstr_size);

/**
 * @brief Starts serving @p p on @p listen ("HOST:PORT"; PORT 0 picks a free port, see
 *        sl_api_port()). Call before the projector's first poll (it installs the watch hooks).
 * @returns NULL with @p errstr set (bad address, port in use, bad api.* settings).
 */
sl_api_t *sl_api_start(sl_projector_t *p, const sl_conf_t *conf, const char *listen, char *errstr,
                       size_t errstr_size);

/** @returns the port the API listens on. */
int sl_api_port(const sl_api_t *api);

/** Ends the watch streams, stops serving and frees @p api (NULL is a no-op). */
void sl_api_stop(sl_api_t *api);

/**
 * @brief The fleet summary /v1/summary serves, computed now from @p p's store and liveness:
 *        {"nodes", "status": {...}, "liveness": {...}, "groups": [{region, type, nodes, status,
 *        liveness}]}. @returns a new reference, or NULL with @p errstr set.
 */
json_t *sl_summary_json(sl_projector_t *p, char *errstr, size_t errstr_size);

#endif
