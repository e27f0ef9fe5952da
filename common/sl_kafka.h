/**
 * @file sl_kafka.h
 * @brief Failures of the Kafka connection that retrying cannot fix: wrong credentials, a TLS
 *        handshake that fails, a client speaking the wrong security protocol to a listener.
 *
 * librdkafka treats these like any broker failure and retries forever, so a process with a
 * wrong password would run silently without ever doing anything. sl_conf_kafka_apply() installs
 * sl_kafka_error_cb() on every client seerlog creates; it logs every error as librdkafka would
 * have (to stderr) and records the first fatal one in process-wide state, which the command
 * line (sl_cli_interrupted()) checks so that every command stops and exits non-zero with
 * sl_kafka_fatal()'s message. librdkafka never puts credentials in its error texts, and neither
 * does this module.
 *
 * What is fatal:
 *  - RD_KAFKA_RESP_ERR__AUTHENTICATION (SASL authentication failed), at once;
 *  - RD_KAFKA_RESP_ERR__SSL for a certificate that does not verify or TLS against a plaintext
 *    listener, at once; other TLS failures (a handshake cut short) count as the next case;
 *  - disconnects that librdkafka explains as a security.protocol mismatch (a plaintext client
 *    on a TLS listener, a client without SASL on a SASL listener), once they keep coming for
 *    SL_KAFKA_MISMATCH_MS without a refused connection between them, and only while no client
 *    of the process ever got through to a broker (sl_kafka_connected()). A broker that starts
 *    (after a crash, say) accepts connections and drops them during the handshake for ten
 *    seconds or more, which reads exactly like a mismatch: a process that worked before keeps
 *    retrying, as the fault suite's broker-kill scenario requires. librdkafka reports an
 *    identical error at most every 30 s, so a real mismatch is fatal after about 30 s.
 *
 * Thread-safe: librdkafka calls the callback from the thread that polls.
 */
#ifndef SL_KAFKA_H
#define SL_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/** How long protocol-mismatch disconnects must keep coming before they count as fatal. */
#define SL_KAFKA_MISMATCH_MS 25000

/** The error callback sl_conf_kafka_apply() installs; opaque is not used. */
void sl_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);

/**
 * @brief Notes the failures of sl_kafka.h in a librdkafka log line. Every log callback seerlog
 *        sets calls it: librdkafka logs a broker failure from its own thread at once, while the
 *        error callback waits for a poll that a blocking call at start does not make.
 */
void sl_kafka_log_check(int level, const char *fac, const char *buf);

/** The log callback sl_conf_kafka_apply() installs: librdkafka's format to stderr, then
 *  sl_kafka_log_check(). Clients with their own log callback replace it. */
void sl_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/**
 * @brief rd_kafka_queue_poll() that gives up early (NULL) once sl_kafka_fatal() is set: for
 *        the admin requests made at start, which otherwise wait for their whole timeout.
 */
rd_kafka_event_t *sl_kafka_queue_poll(rd_kafka_queue_t *q, int timeout_ms);

/**
 * @returns 1 once a client of this process met a fatal failure, copying a one-line message
 *          (what failed, librdkafka's reason and which keys to check) to @p buf (may be NULL);
 *          else 0.
 */
int sl_kafka_fatal(char *buf, size_t size);

/**
 * @returns a one-line explanation when protocol-mismatch disconnects were seen but are not (yet)
 *          fatal, for a command that failed otherwise (e.g. timed out) to print; else NULL.
 */
const char *sl_kafka_hint(void);

/**
 * @brief Notes that a client of this process got through to a broker (a delivered record, a
 *        consumed record or end of partition, a joined group): from then on protocol-mismatch
 *        disconnects are a broker restarting, never fatal. Cheap: call it on every success.
 */
void sl_kafka_connected(void);

/** Replaces the monotonic clock (ms) of the mismatch rule; NULL restores it (tests). */
void sl_kafka_set_clock(int64_t (*now_ms)(void));

/** Forgets a recorded failure and the connection (tests). */
void sl_kafka_fatal_reset(void);

#endif
