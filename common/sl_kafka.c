#include "sl_kafka.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t sl_kafka_lock = PTHREAD_MUTEX_INITIALIZER;
static int sl_kafka_failed;
static char sl_kafka_msg[512];
static int sl_kafka_mismatched; /* a protocol-mismatch disconnect was seen */
static int sl_kafka_ok;         /* a client got through to a broker (sl_kafka_connected()) */
/* Protocol-mismatch disconnects: when the current run of them started, and the last one. */
static int64_t sl_kafka_mismatch_first, sl_kafka_mismatch_last;

static int64_t sl_kafka_mono_ms(void);
/* The clock of the mismatch rule; tests replace it (sl_kafka_set_clock()). */
static int64_t (*sl_kafka_clock)(void) = sl_kafka_mono_ms;

static int64_t sl_kafka_now_ms(void)
{
        return sl_kafka_clock();
}

static int64_t sl_kafka_mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* librdkafka's own explanations of a disconnect right after connecting (2.0.2). */
static int sl_kafka_is_mismatch(const char *reason)
{
        return strstr(reason, "incorrect security.protocol configuration") ||
               strstr(reason, "verify that security.protocol is correctly configured");
}

/* A TLS failure that no retry fixes: the certificate, or TLS against a plaintext listener. A
 * handshake cut short by a broker that restarts ("unexpected eof") is not one of them. */
static int sl_kafka_is_tls_config(const char *reason)
{
        return strstr(reason, "certificate verify failed") || strstr(reason, "unknown ca") ||
               strstr(reason, "bad certificate") || strstr(reason, "certificate unknown") ||
               strstr(reason, "wrong version number") || strstr(reason, "packet length too long");
}

/* Records the first fatal failure; the caller holds the lock. */
static void sl_kafka_set_fatal(const char *what, const char *reason, const char *hint)
{
        if (sl_kafka_failed)
                return;
        sl_kafka_failed = 1;
        snprintf(sl_kafka_msg, sizeof(sl_kafka_msg), "%s: %s: %s", what, reason, hint);
}

/* Takes note of one failure of a client: err is librdkafka's code, reason its text. */
static void sl_kafka_note(int err, const char *reason)
{
        int64_t now = sl_kafka_now_ms();

        pthread_mutex_lock(&sl_kafka_lock);
        if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION && strstr(reason, "Local: ")) {
                /* Authentication cut short on the client's side ("SaslAuthenticateRequest
                 * failed: Local: Broker transport failure", "Local: Timed out"): the connection
                 * failed, not the credentials; librdkafka retries. */
        } else if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
                sl_kafka_set_fatal("Kafka authentication failed", reason,
                                   "check kafka.sasl.mechanisms, kafka.sasl.username and "
                                   "kafka.sasl.password");
        } else if (err == RD_KAFKA_RESP_ERR__SSL && sl_kafka_is_tls_config(reason)) {
                sl_kafka_set_fatal("Kafka TLS handshake failed", reason,
                                   "check kafka.security.protocol and kafka.ssl.ca.location");
        } else if (err == RD_KAFKA_RESP_ERR__TRANSPORT && strstr(reason, "Connection refused")) {
                /* Nothing listens: a broker that is down, not one speaking another protocol. */
                sl_kafka_mismatch_first = sl_kafka_mismatch_last = 0;
        } else if ((err == RD_KAFKA_RESP_ERR__TRANSPORT && sl_kafka_is_mismatch(reason)) ||
                   err == RD_KAFKA_RESP_ERR__SSL) {
                /* librdkafka reports an identical error again after 30 s at the earliest, so
                 * a longer gap ends a run. */
                if (!sl_kafka_mismatch_last || now - sl_kafka_mismatch_last > 45000)
                        sl_kafka_mismatch_first = now;
                sl_kafka_mismatch_last = now;
                sl_kafka_mismatched = 1;
                if (!__atomic_load_n(&sl_kafka_ok, __ATOMIC_RELAXED) &&
                    now - sl_kafka_mismatch_first >= SL_KAFKA_MISMATCH_MS)
                        sl_kafka_set_fatal("Kafka connections keep failing during the handshake",
                                           reason,
                                           "check that kafka.security.protocol matches the "
                                           "broker's listener (PLAINTEXT, SSL, SASL_SSL), "
                                           "and kafka.ssl.* and the credentials");
        }
        pthread_mutex_unlock(&sl_kafka_lock);
}

void sl_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        (void)opaque;
        /* What librdkafka logs for an error when there is no error callback. */
        fprintf(stderr, "%%3|ERROR|%s: %s: %s\n", rd_kafka_name(rk),
                rd_kafka_err2str((rd_kafka_resp_err_t)err), reason);
        sl_kafka_note(err, reason);
}

void sl_kafka_log_check(int level, const char *fac, const char *buf)
{
        (void)level;
        /* librdkafka 2.0.2 logs a broker failure (facility FAIL) from the broker's thread as
         * it happens; its error event waits for the application to poll, which a blocking call
         * at start (init_transactions, an admin request) does not do. */
        if (strcmp(fac, "FAIL"))
                return;
        if (strstr(buf, "SASL authentication error"))
                sl_kafka_note(RD_KAFKA_RESP_ERR__AUTHENTICATION, buf);
        else if (strstr(buf, "SSL handshake failed"))
                sl_kafka_note(RD_KAFKA_RESP_ERR__SSL, buf);
        else if (sl_kafka_is_mismatch(buf) || strstr(buf, "Connection refused"))
                sl_kafka_note(RD_KAFKA_RESP_ERR__TRANSPORT, buf);
}

void sl_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        /* librdkafka's own format (rd_kafka_log_print()). */
        fprintf(stderr, "%%%d|%u.%03u|%s|%s| %s\n", level, (unsigned)ts.tv_sec,
                (unsigned)(ts.tv_nsec / 1000000), fac, rk ? rd_kafka_name(rk) : "", buf);
        sl_kafka_log_check(level, fac, buf);
}

rd_kafka_event_t *sl_kafka_queue_poll(rd_kafka_queue_t *q, int timeout_ms)
{
        int64_t deadline = sl_kafka_now_ms() + timeout_ms;
        rd_kafka_event_t *ev;

        for (;;) {
                int64_t left = deadline - sl_kafka_now_ms();

                if ((ev = rd_kafka_queue_poll(q, left < 0 ? 0 : left > 200 ? 200 : (int)left)))
                        return ev;
                if (left <= 0 || sl_kafka_fatal(NULL, 0))
                        return NULL;
        }
}

int sl_kafka_fatal(char *buf, size_t size)
{
        int failed;

        pthread_mutex_lock(&sl_kafka_lock);
        if ((failed = sl_kafka_failed) && buf && size)
                snprintf(buf, size, "%s", sl_kafka_msg);
        pthread_mutex_unlock(&sl_kafka_lock);
        return failed;
}

const char *sl_kafka_hint(void)
{
        int seen;

        pthread_mutex_lock(&sl_kafka_lock);
        seen = sl_kafka_mismatched && !sl_kafka_failed;
        pthread_mutex_unlock(&sl_kafka_lock);
        return seen ? "Kafka connections failed during the handshake: check that "
                      "kafka.security.protocol matches the broker's listener (PLAINTEXT, SSL, "
                      "SASL_SSL), and kafka.ssl.* and the credentials"
                    : NULL;
}

void sl_kafka_set_clock(int64_t (*now_ms)(void))
{
        sl_kafka_clock = now_ms ? now_ms : sl_kafka_mono_ms;
}

void sl_kafka_connected(void)
{
        if (!__atomic_load_n(&sl_kafka_ok, __ATOMIC_RELAXED))
                __atomic_store_n(&sl_kafka_ok, 1, __ATOMIC_RELAXED);
}

void sl_kafka_fatal_reset(void)
{
        pthread_mutex_lock(&sl_kafka_lock);
        __atomic_store_n(&sl_kafka_ok, 0, __ATOMIC_RELAXED);
        sl_kafka_failed = sl_kafka_mismatched = 0;
        sl_kafka_msg[0] = '\0';
        sl_kafka_mismatch_first = sl_kafka_mismatch_last = 0;
        pthread_mutex_unlock(&sl_kafka_lock);
}
