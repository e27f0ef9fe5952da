/**
 * @file sl_registry.h
 * @brief The schema registry client: register, look up and fetch schemas from any
 *        Confluent-compatible registry (ours, Confluent's, Karapace).
 *
 * Configured from sl_conf: registry.url, registry.basic.auth.user.info,
 * registry.ssl.ca.location, registry.request.timeout.ms, registry.retries.
 * Requests that time out, fail to connect or get a 5xx, 408 or 429 answer are retried
 * (registry.retries times, exponential backoff from 100 ms, at most 5 s between attempts); other
 * 4xx answers are not. Subjects are percent-encoded in URLs (`a/b` is sent as `a%2Fb`); requests
 * carry `Content-Type: application/vnd.schemaregistry.v1+json`.
 *
 * Thread-safe: one client may be shared by every thread of a process. Each call uses a libcurl
 * easy handle of its own from a small pool, so connections are kept alive between calls.
 * Schemas fetched by id are cached for the life of the client (an id's schema never changes), so
 * each id is fetched once (two threads missing the same id at once may both fetch it; the first
 * answer stored is kept). sl_registry_lookup() and sl_registry_get_latest() fill the cache too.
 * Failures are not cached: a later call asks the registry again.
 *
 * Answers are read defensively: at most 16 MiB are buffered, and an answer that is not JSON or
 * not of the expected shape is an error (SL_ERR_IO), never a crash.
 */
#ifndef SL_REGISTRY_H
#define SL_REGISTRY_H

#include <stdint.h>

#include "sl_conf.h"
#include "sl_err.h"
#include "sl_event.h"

typedef struct sl_registry_client_s sl_registry_client_t;

/**
 * @brief A client of the registry at registry.url, with the settings of @p conf (read now;
 *        @p conf is not kept). Connects to nothing yet.
 * @returns the client, or NULL with errstr set: SL_ERR_CONFIG for a user info without ':',
 *          SL_ERR_NOMEM, SL_ERR_IO when libcurl cannot be initialised.
 */
sl_registry_client_t *sl_registry_client_new(const sl_conf_t *conf, char *errstr,
                                             size_t errstr_size);
/** Frees the client and every schema text it handed out from its cache. NULL is allowed. */
void sl_registry_client_destroy(sl_registry_client_t *client);

/**
 * Error mapping, for every call below: SL_ERR_NOT_FOUND (404: unknown subject, version, schema
 * or id), SL_ERR_SCHEMA (409 incompatible, 422 invalid schema: error_code 42201 or none),
 * SL_ERR_INVALID_ARG (other 4xx, e.g. 401, 403, 42202 invalid version; also an empty subject),
 * SL_ERR_TIMEOUT (request timeout, 408, 504 or error_code 50002, after the retries), SL_ERR_IO
 * (connection and TLS errors, other 5xx, 429, after the retries; an answer that is not JSON, of
 * the wrong shape or larger than 16 MiB), SL_ERR_NOMEM, SL_ERR_KAFKA never.
 * errstr reads "registry METHOD URL: HTTP 409: <message> (error_code 409)": the registry's
 * `message` and `error_code` when the answer has them, else the start of its body (printable
 * ASCII only); never the credentials. Outputs are written only on success.
 */

/**
 * POST /subjects/{subject}/versions (`?normalize=true` when @p normalize): registers @p schema
 * (Avro text) under @p subject, or finds it there, and sets *idp to its global id.
 * Idempotent: registering the same schema again returns the same id.
 */
sl_err_t sl_registry_register(sl_registry_client_t *client, const char *subject, const char *schema,
                              int normalize, int32_t *idp, char *errstr, size_t errstr_size);

/**
 * POST /subjects/{subject}: the id and version of @p schema under @p subject (either pointer
 * may be NULL). SL_ERR_NOT_FOUND when the subject does not exist or lacks the schema.
 */
sl_err_t sl_registry_lookup(sl_registry_client_t *client, const char *subject, const char *schema,
                            int normalize, int32_t *idp, int32_t *versionp, char *errstr,
                            size_t errstr_size);

/**
 * GET /schemas/ids/{id}, cached: the text of schema @p id. *textp is owned by the client and
 * stays valid until sl_registry_client_destroy(). SL_ERR_SCHEMA when the id names a schema
 * that is not Avro (schemaType PROTOBUF or JSON).
 */
sl_err_t sl_registry_get_schema(sl_registry_client_t *client, int32_t id, const char **textp,
                                char *errstr, size_t errstr_size);

/**
 * GET /subjects/{subject}/versions/latest: the newest live version of @p subject. Each of the
 * out-pointers may be NULL; *textp is malloc()ed and the caller frees it.
 */
sl_err_t sl_registry_get_latest(sl_registry_client_t *client, const char *subject, int32_t *idp,
                                int32_t *versionp, char **textp, char *errstr, size_t errstr_size);

/**
 * An sl_schema_fetch_cb_t for sl_codec_set_fetch_cb(codec, sl_registry_fetch_cb, client):
 * the codec then decodes records written with any schema id the registry knows. Uses
 * sl_registry_get_schema() (so codecs of several threads sharing one client fetch an id once)
 * and hands the codec a malloc()ed copy. An id the registry does not know is
 * SL_ERR_UNKNOWN_SCHEMA; other errors as above.
 */
sl_err_t sl_registry_fetch_cb(int32_t schema_id, char **textp, void *opaque, char *errstr,
                              size_t errstr_size);

#endif
