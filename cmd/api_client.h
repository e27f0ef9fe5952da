/**
 * @file api_client.h
 * @brief A small client of the projector's HTTP API (docs/api.md) for the command-line views
 *        (seerlog state, watch, top): GET a JSON document, follow a Server-Sent Events stream.
 *
 * libcurl for HTTP, jansson for JSON. One client is used by one thread. Every call can be
 * cancelled: the client polls the @p cancel callback given to sl_apic_new() while it waits.
 */
#ifndef SL_API_CLIENT_H
#define SL_API_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sl_conf.h"
#include "sl_err.h"

typedef struct sl_apic_s sl_apic_t;

/**
 * How a client proves itself to the API and checks the API's certificate: from
 * api.basic.auth.user.info, api.bearer.auth.token.file and api.ssl.ca.location. Every member may
 * be NULL. The secrets are never put in a message.
 */
typedef struct {
        char *userpwd; /**< "USER:PASSWORD" for HTTP basic authentication. */
        char *bearer;  /**< A bearer token (the token file's first line). */
        char *ca;      /**< CA file (PEM) to verify an https API with. */
} sl_apic_auth_t;

/**
 * @brief Reads the client's credentials and CA from @p conf into @p a (zero it first; free it
 *        with sl_apic_auth_clear()).
 * @returns SL_OK, or SL_ERR_CONFIG (both basic and bearer set, an unreadable or empty token
 *          file) / SL_ERR_NOMEM with errstr set.
 */
sl_err_t sl_apic_auth_load(const sl_conf_t *conf, sl_apic_auth_t *a, char *errstr,
                           size_t errstr_size);

/** Sets the credentials and CA of @p a on the libcurl easy handle @p curl (a CURL *). */
void sl_apic_auth_apply(const sl_apic_auth_t *a, void *curl);

/** Wipes and frees what @p a holds. */
void sl_apic_auth_clear(sl_apic_auth_t *a);

/**
 * @brief Makes every request of @p c use the credentials and CA of @p conf (see
 *        sl_apic_auth_load()). @returns as sl_apic_auth_load().
 */
sl_err_t sl_apic_set_auth(sl_apic_t *c, const sl_conf_t *conf, char *errstr, size_t errstr_size);

/** @returns non-zero to abandon the request under way (e.g. a signal arrived). */
typedef int(sl_apic_cancel_cb)(void *opaque);

/** @returns 1 when @p url has credentials in it ("https://USER:PASSWORD@HOST/"). */
int sl_apic_url_has_userinfo(const char *url);

/**
 * @brief A client of the API at @p base_url ("http://127.0.0.1:8080", a trailing slash is
 *        ignored). @p cancel may be NULL.
 * @returns SL_OK, or SL_ERR_NOMEM / SL_ERR_IO (libcurl could not start) /
 *          SL_ERR_INVALID_ARG (credentials in the URL: they belong in api.basic.auth.user.info,
 *          as URLs are printed in messages) with errstr set.
 */
sl_err_t sl_apic_new(const char *base_url, sl_apic_cancel_cb *cancel, void *opaque, sl_apic_t **cp,
                     char *errstr, size_t errstr_size);

void sl_apic_destroy(sl_apic_t *c);

/** @returns the base URL, without a trailing slash. Owned by @p c. */
const char *sl_apic_url(const sl_apic_t *c);

/**
 * @brief Percent-encodes @p s for a path segment or a query value.
 * @returns a malloc()ed string, or NULL when out of memory.
 */
char *sl_apic_escape(const char *s);

/**
 * @brief GETs @p path ("/v1/nodes?limit=10", already encoded) and parses the JSON answer.
 * @param statusp the HTTP status, or 0 when there was no answer.
 * @returns SL_OK with *bodyp set (the caller owns it) for a 2xx answer; otherwise no body and:
 *          - SL_ERR_IO: the API cannot be reached (errstr names the URL and the reason), or the
 *            request was cancelled (errstr "interrupted");
 *          - SL_ERR_NOT_FOUND: a 404 (errstr: the API's "message");
 *          - SL_ERR_INVALID_ARG: a 400 (errstr: the API's "message");
 *          - SL_ERR_BAD_VALUE: another HTTP error (errstr: status and message), or an answer
 *            that is not JSON.
 */
sl_err_t sl_apic_get_json(sl_apic_t *c, const char *path, json_t **bodyp, long *statusp,
                          char *errstr, size_t errstr_size);

/**
 * @brief GETs @p path and writes a 2xx answer's body to @p fd (from its position, not synced).
 *        There is no overall time limit, but a transfer that stalls (under 1 byte/s for a
 *        minute) is given up.
 * @param bytesp the bytes written to @p fd (may be NULL).
 * @returns SL_OK; SL_ERR_IO when the API cannot be reached, the transfer broke off or was
 *          cancelled, or writing to @p fd failed; the HTTP errors as sl_apic_get_json() does.
 */
sl_err_t sl_apic_get_file(sl_apic_t *c, const char *path, int fd, int64_t *bytesp, long *statusp,
                          char *errstr, size_t errstr_size);

/**
 * Called for each event of a stream: @p id is its "id:" field (NULL if none), @p event its
 * "event:" field ("message" when absent), @p data its data lines joined with "\n".
 * @returns 0 to go on, non-zero to stop the stream (sl_apic_stream() then returns SL_OK).
 */
typedef int(sl_apic_event_cb)(const char *id, const char *event, const char *data, void *opaque);

/**
 * @brief GETs the Server-Sent Events stream at @p path, sending "Last-Event-ID: @p last_id"
 *        when @p last_id is not NULL, and calls @p on_event for every event until the stream
 *        ends, @p on_event asks to stop, the request is cancelled, or nothing (not even a
 *        keepalive comment) arrives for @p idle_timeout_s seconds.
 * @returns SL_OK when the server ended the stream or @p on_event stopped it; SL_ERR_IO when the
 *          connection failed, dropped or idled out (or was cancelled); the HTTP errors as
 *          sl_apic_get_json() does. errstr says why.
 */
sl_err_t sl_apic_stream(sl_apic_t *c, const char *path, const char *last_id, long idle_timeout_s,
                        sl_apic_event_cb *on_event, void *opaque, long *statusp, char *errstr,
                        size_t errstr_size);

#endif
