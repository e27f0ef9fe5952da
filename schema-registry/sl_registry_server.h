/**
 * @file sl_registry_server.h
 * @brief The schema registry server run by `seerlog registry`: Confluent's REST API over HTTP(S),
 *        state kept in a compacted single-partition Kafka topic (docs/schema-registry.md).
 *
 * Configured from sl_conf: bootstrap.servers and every librdkafka property, log.level, and the
 * registry.* server keys (registry.listen, registry.advertised.url, registry.topic,
 * registry.topic.replication.factor, registry.group.id, registry.write.timeout.ms,
 * registry.max.body.bytes, registry.max.connections, registry.auth.file, registry.tls.cert,
 * registry.tls.key; registry.ssl.ca.location to verify the leader when forwarding over https).
 *
 * Threads: the server runs its own (HTTP connections, the topic reader, the election consumer,
 * the leadership worker). sl_registry_server_start() returns once they run; the caller only waits
 * (for a signal) and calls sl_registry_server_stop(). Logs go to stderr, one line per start,
 * leadership change or error.
 */
#ifndef SL_REGISTRY_SERVER_H
#define SL_REGISTRY_SERVER_H

#include <stddef.h>

#include "sl_conf.h"
#include "sl_err.h"

typedef struct sl_registry_server_s sl_registry_server_t;

/**
 * @brief Starts a registry: checks the configuration, creates the topic when missing (refuses
 *        one with more than one partition), starts reading it and listening.
 *
 * Until the reader has caught up with the topic, every request is answered 503 (error_code
 * 50002). @p conf is only read during the call (what the server needs is copied).
 *
 * @returns SL_OK and *srvp (stop it with sl_registry_server_stop()); SL_ERR_CONFIG (a bad
 *          registry.* value, unreadable auth/TLS file), SL_ERR_IO (cannot listen), SL_ERR_KAFKA
 *          (the topic cannot be created or is not single-partition, a client cannot be created),
 *          SL_ERR_NOMEM; @p errstr says why. Nothing is left running on error.
 */
sl_err_t sl_registry_server_start(const sl_conf_t *conf, sl_registry_server_t **srvp, char *errstr,
                                  size_t errstr_size);

/** @returns 1 once the server has read the topic up to its end at start and serves requests. */
int sl_registry_server_ready(sl_registry_server_t *srv);

/** @returns the URL other instances forward writes to (registry.advertised.url or derived). */
const char *sl_registry_server_url(const sl_registry_server_t *srv);

/**
 * @brief Stops the server: stops HTTP (in-flight requests finish or time out), leaves the
 *        election group (so another instance takes over at once), closes the Kafka clients and
 *        frees everything. NULL is ignored.
 */
void sl_registry_server_stop(sl_registry_server_t *srv);

#endif
