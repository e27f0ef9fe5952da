/*
 * Plays a projector for the agent's throttling test: writes one ProjectorLag record, encoded with
 * sl_lag_report_encode(), to the control topic, keyed by the projector id, and waits for it to be
 * delivered.
 *   agent_lag_writer BOOTSTRAP TOPIC PROJECTOR_ID LAG
 * Exits 0 when delivered, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <librdkafka/rdkafka.h>

#include "sl_producer.h"

static rd_kafka_resp_err_t delivery_err = RD_KAFKA_RESP_ERR__TIMED_OUT;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
        delivery_err = rkm->err;
}

int main(int argc, char **argv)
{
        sl_lag_report_t report = {0};
        sl_buf_t buf = {0};
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk = NULL;
        struct timeval tv;
        char errstr[512];
        int ret = 1;

        if (argc != 5) {
                fprintf(stderr, "usage: agent_lag_writer BOOTSTRAP TOPIC PROJECTOR_ID LAG\n");
                return 2;
        }
        gettimeofday(&tv, NULL);
        report.projector_id = argv[3];
        report.group_id = "agent-test";
        report.lag = strtoll(argv[4], NULL, 10);
        report.updated_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
        if (sl_lag_report_encode(&report, 1, &buf, errstr, sizeof(errstr))) {
                fprintf(stderr, "agent_lag_writer: %s\n", errstr);
                goto done;
        }
        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "message.timeout.ms", "10000", errstr, sizeof(errstr))) {
                fprintf(stderr, "agent_lag_writer: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                goto done;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "agent_lag_writer: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                goto done;
        }
        if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]),
                              RD_KAFKA_V_KEY(argv[3], strlen(argv[3])),
                              RD_KAFKA_V_VALUE(buf.data, buf.len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) {
                fprintf(stderr, "agent_lag_writer: produce: %s\n",
                        rd_kafka_err2str(rd_kafka_last_error()));
                goto done;
        }
        rd_kafka_flush(rk, 15000);
        if (delivery_err) {
                fprintf(stderr, "agent_lag_writer: delivery: %s\n", rd_kafka_err2str(delivery_err));
                goto done;
        }
        ret = 0;

done:
        if (rk)
                rd_kafka_destroy(rk);
        sl_buf_free(&buf);
        return ret;
}
