/* Unit tests of common/sl_kafka: which librdkafka failures are fatal, and when. */
#include <criterion/criterion.h>

#include <string.h>

#include "sl_kafka.h"

static void reset(void)
{
        sl_kafka_fatal_reset();
}

TestSuite(kafka, .init = reset, .fini = reset);

static const char *const auth =
    "sasl_ssl://127.0.0.1:9093/bootstrap: SASL authentication error: Authentication failed "
    "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256";
static const char *const mismatch =
    "127.0.0.1:9093/bootstrap: Disconnected while requesting ApiVersion: might be caused by "
    "incorrect security.protocol configuration (connecting to a SSL listener?)";

Test(kafka, transient_errors_are_not_fatal)
{
        char msg[512];

        sl_kafka_log_check(3, "FAIL",
                           "127.0.0.1:9092/1: Connect to ipv4#127.0.0.1:9092 failed: "
                           "Connection refused");
        sl_kafka_log_check(3, "ERROR", auth); /* only the FAIL facility is read */
        cr_assert_eq(sl_kafka_fatal(msg, sizeof(msg)), 0);
        cr_assert_null(sl_kafka_hint());
}

Test(kafka, authentication_failure_is_fatal_at_once)
{
        char msg[512];

        sl_kafka_log_check(3, "FAIL", auth);
        cr_assert_eq(sl_kafka_fatal(msg, sizeof(msg)), 1);
        cr_assert(strstr(msg, "Kafka authentication failed: "), "%s", msg);
        cr_assert(strstr(msg, "invalid credentials"), "%s", msg);
        cr_assert(strstr(msg, "check kafka.sasl.mechanisms, kafka.sasl.username and "
                              "kafka.sasl.password"),
                  "%s", msg);
        /* The first failure is the one reported. */
        sl_kafka_log_check(3, "FAIL", "ssl://x/1: SSL handshake failed: certificate verify failed");
        sl_kafka_fatal(msg, sizeof(msg));
        cr_assert(strstr(msg, "Kafka authentication failed"), "%s", msg);
}

Test(kafka, tls_failure_is_fatal_at_once)
{
        char msg[512];

        sl_kafka_log_check(3, "FAIL",
                           "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: "
                           "error:0A000086:SSL routines::certificate verify failed");
        cr_assert_eq(sl_kafka_fatal(msg, sizeof(msg)), 1);
        cr_assert(strstr(msg, "Kafka TLS handshake failed: "), "%s", msg);
        cr_assert(strstr(msg, "kafka.ssl.ca.location"), "%s", msg);
}

Test(kafka, protocol_mismatch_is_a_hint_first)
{
        /* One run of them (a broker restarting, say) is only a hint for a failed command. */
        sl_kafka_log_check(6, "FAIL", mismatch);
        sl_kafka_log_check(6, "FAIL", mismatch);
        cr_assert_eq(sl_kafka_fatal(NULL, 0), 0);
        cr_assert_not_null(sl_kafka_hint());
        cr_assert(strstr(sl_kafka_hint(), "kafka.security.protocol"), "%s", sl_kafka_hint());
}

Test(kafka, tls_handshake_cut_short_is_not_fatal_at_once)
{
        /* A broker that restarts can close a connection in the middle of a handshake. */
        sl_kafka_log_check(3, "FAIL",
                           "sasl_ssl://127.0.0.1:9093/1: SSL handshake failed: "
                           "error:0A000126:SSL routines::unexpected eof while reading");
        cr_assert_eq(sl_kafka_fatal(NULL, 0), 0);
        /* TLS against a plaintext listener is. */
        sl_kafka_log_check(3, "FAIL",
                           "ssl://127.0.0.1:9092/bootstrap: SSL handshake failed: "
                           "error:0A00010B:SSL routines::wrong version number");
        cr_assert_eq(sl_kafka_fatal(NULL, 0), 1);
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
        return fake_now;
}

/* Mismatch disconnects for SL_KAFKA_MISMATCH_MS, under a clock the test moves. */
static void mismatch_run(void)
{
        sl_kafka_log_check(6, "FAIL", mismatch);
        fake_now += SL_KAFKA_MISMATCH_MS / 2;
        sl_kafka_log_check(6, "FAIL", mismatch);
        fake_now += SL_KAFKA_MISMATCH_MS / 2;
        sl_kafka_log_check(6, "FAIL", mismatch);
}

Test(kafka, protocol_mismatch_that_keeps_coming_is_fatal)
{
        fake_now = 1000000;
        sl_kafka_set_clock(fake_clock);
        mismatch_run();
        cr_expect_eq(sl_kafka_fatal(NULL, 0), 1);
        sl_kafka_set_clock(NULL);
}

Test(kafka, a_refused_connection_ends_a_mismatch_run)
{
        /* A broker that is down refuses; one that starts drops handshakes: a restart. */
        fake_now = 1000000;
        sl_kafka_set_clock(fake_clock);
        sl_kafka_log_check(6, "FAIL", mismatch);
        fake_now += SL_KAFKA_MISMATCH_MS / 2;
        sl_kafka_log_check(3, "FAIL",
                           "127.0.0.1:9092/1: Connect to ipv4#127.0.0.1:9092 failed: Connection "
                           "refused (after 0ms in state CONNECT)");
        fake_now += SL_KAFKA_MISMATCH_MS / 2 + 1;
        sl_kafka_log_check(6, "FAIL", mismatch);
        cr_expect_eq(sl_kafka_fatal(NULL, 0), 0);
        sl_kafka_set_clock(NULL);
}

Test(kafka, mismatch_after_a_connection_is_a_broker_restarting)
{
        /* The fault suite's broker-kill: a projector that worked must outlive the restart. */
        fake_now = 1000000;
        sl_kafka_set_clock(fake_clock);
        sl_kafka_connected();
        mismatch_run();
        fake_now += 60000;
        sl_kafka_log_check(6, "FAIL", mismatch);
        cr_expect_eq(sl_kafka_fatal(NULL, 0), 0);
        cr_expect_not_null(sl_kafka_hint());
        sl_kafka_set_clock(NULL);
}

Test(kafka, authentication_cut_short_by_the_connection_is_not_fatal)
{
        /* Seen under load: the connection failed while authenticating, not the password. */
        sl_kafka_log_check(3, "FAIL",
                           "GroupCoordinator: SASL authentication error: SaslAuthenticateRequest "
                           "failed: Local: Broker transport failure (after 0ms in state DOWN)");
        cr_expect_eq(sl_kafka_fatal(NULL, 0), 0);
}
