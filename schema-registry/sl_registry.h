/**
 * @file sl_registry.h
 * @brief The schema registry client: register, look up and fetch schemas from any
 *        Confluent-compatible registry (ours, Confluent's, Karapace).
 *
 * Configured from sl_conf: registry.url, registry.basic.auth.user.info,
 * registry.ssl.ca.location, registry.request.timeout.ms, registry.retries.
 * Requests that time out, fail to connect or get a 5xx answer are retried (registry.retries
 * times, exponential backoff from 100 ms); 4xx answers are not.
 *
 * Thread-safe: one client may be shared by every thread of a process. Schemas fetched by id are
 * cached for the life of the client (an id's schema never changes), so each id is fetched once.
 */
#ifndef SL_REGISTRY_H
#define SL_REGISTRY_H

#include <stdint.h>

#include "sl_conf.h"
#include "sl_err.h"
#include "sl_event.h"

typedef struct sl_registry_client_s sl_registry_client_t;

sl_registry_client_t *sl_registry_client_new(const sl_conf_t *conf, char *errstr,
                                             size_t errstr_size);
void sl_registry_client_destroy(sl_registry_client_t *client);

/**
 * Error mapping, for every call below: SL_ERR_NOT_FOUND (404: unknown subject, version, schema
 * or id), SL_ERR_SCHEMA (409 incompatible, 422 invalid schema), SL_ERR_INVALID_ARG (other 4xx),
 * SL_ERR_TIMEOUT and SL_ERR_IO (transport, after the retries), SL_ERR_KAFKA never. errstr holds
 * the registry's `message` and `error_code` when there is one.
 */

/** POST /subjects/{subject}/versions: registers (or finds) @p schema, @returns its global id. */
sl_err_t sl_registry_register(sl_registry_client_t *client, const char *subject,
                              const char *schema, int normalize, int32_t *idp, char *errstr,
                              size_t errstr_size);

/** POST /subjects/{subject}: the id and version of @p schema under @p subject. */
sl_err_t sl_registry_lookup(sl_registry_client_t *client, const char *subject,
                            const char *schema, int normalize, int32_t *idp, int32_t *versionp,
                            char *errstr, size_t errstr_size);

/**
 * GET /schemas/ids/{id}, cached. *textp stays valid for the life of the client.
 */
sl_err_t sl_registry_get_schema(sl_registry_client_t *client, int32_t id, const char **textp,
                                char *errstr, size_t errstr_size);

/** GET /subjects/{subject}/versions/latest. *textp is malloc()ed; the caller frees it. */
sl_err_t sl_registry_get_latest(sl_registry_client_t *client, const char *subject,
                                int32_t *idp, int32_t *versionp, char **textp, char *errstr,
                                size_t errstr_size);

/**
 * An sl_schema_fetch_cb_t for sl_codec_set_fetch_cb(codec, sl_registry_fetch_cb, client):
 * the codec then decodes records written with any schema id the registry knows.
 */
sl_err_t sl_registry_fetch_cb(int32_t schema_id, char **textp, void *opaque, char *errstr,
                              size_t errstr_size);

#endif
