/*
 * seerlog control lag: publish one ProjectorLag report to control.topic, the way projectors
 * do, registering schemas/control.avsc under <control.topic>-value first (schema.mode).
 */
#include "cmds.h"

#include <string.h>
#include <time.h>

#include "sl_producer.h"
#include "sl_registry.h"

static int sl_control_run(sl_cli_t *cli);

static const sl_opt_t sl_control_opts[] = {
    {"projector", 0, "ID", SL_OPT_REQUIRED, "Projector id: the record key"},
    {"group", 0, "GROUP", 0, "The projector's consumer group"},
    {"lag", 0, "EVENTS", 0, "Events behind the end of the log (required unless --tombstone)"},
    {"tombstone", 0, NULL, 0, "Remove the projector's report instead (a null value)"},
    {"timeout-ms", 0, "MS", 0, "How long to wait for the delivery report (default 30000)"},
    {0},
};

const sl_cmd_t sl_cmd_control = {
    .name = "control",
    .summary = "Publish a reader's lag report to the control topic",
    .usage = "lag --projector ID --lag EVENTS [--group GROUP] [--tombstone] [options]",
    .description =
        "'seerlog control lag' publishes one ProjectorLag record (schemas/control.avsc) to\n"
        "control.topic, keyed by the projector id, as projectors do to tell producers how far\n"
        "behind they are: producers stretch their heartbeats while the largest lag is above\n"
        "lag.high and return to normal below lag.low. For operators (to hold producers back by\n"
        "hand, or to clear a stale report with --tombstone) and tests.\n"
        "\n"
        "The record is in the Confluent wire format; its schema id comes from schema.mode:\n"
        "'register' (default) registers control.avsc under <control.topic>-value, 'lookup'\n"
        "finds it there, 'fixed' uses schema.id. Prints TOPIC/PARTITION@OFFSET.\n",
    .opts = sl_control_opts,
    .run = sl_control_run,
    .max_args = 1,
};

typedef struct {
        int done;
        rd_kafka_resp_err_t err;
        int32_t partition;
        int64_t offset;
} sl_control_dr_t;

static void sl_control_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        sl_control_dr_t *dr = opaque;

        dr->done = 1;
        dr->err = m->err;
        dr->partition = m->partition;
        dr->offset = m->offset;
}

/* The schema id of control.avsc under schema.mode. */
static int sl_control_schema_id(sl_cli_t *cli, const char *topic, int32_t *idp)
{
        sl_conf_t *conf = sl_cli_conf(cli);
        const char *mode = sl_conf_get(conf, "schema.mode");
        sl_registry_client_t *reg;
        char subject[300], errstr[512];
        sl_err_t err;

        if (!strcmp(mode, "fixed")) {
                *idp = (int32_t)sl_conf_get_int(conf, "schema.id");
                return SL_EXIT_OK;
        }
        if (!(reg = sl_registry_client_new(conf, errstr, sizeof(errstr))))
                return sl_cli_usage_error(cli, "%s", errstr);
        snprintf(subject, sizeof(subject), "%s-value", topic);
        if (!strcmp(mode, "register"))
                err = sl_registry_register(reg, subject, sl_control_schema_text(), 0, idp, errstr,
                                           sizeof(errstr));
        else
                err = sl_registry_lookup(reg, subject, sl_control_schema_text(), 0, idp, NULL,
                                         errstr, sizeof(errstr));
        sl_registry_client_destroy(reg);
        if (err)
                return sl_cli_fail(cli, "schema of %s: %s", subject, errstr);
        return SL_EXIT_OK;
}

static int sl_control_run(sl_cli_t *cli)
{
        static const char *const defaults[] = {"enable.idempotence", "true", "acks", "all", NULL};
        sl_conf_t *conf = sl_cli_conf(cli);
        const char *topic = sl_conf_get(conf, "control.topic");
        const char *projector = sl_cli_str(cli, "projector");
        int tombstone = sl_cli_count(cli, "tombstone") > 0;
        sl_control_dr_t dr = {0};
        sl_buf_t buf = {0};
        rd_kafka_conf_t *rk_conf;
        rd_kafka_t *rk = NULL;
        rd_kafka_resp_err_t kerr;
        int64_t lag, timeout;
        int32_t id = 0;
        int ret;
        char errstr[512];

        if (sl_cli_argc(cli) != 1 || strcmp(sl_cli_arg(cli, 0), "lag"))
                return sl_cli_usage_error(cli, "expected 'seerlog control lag ...'");
        if (!*topic)
                return sl_cli_usage_error(cli, "control.topic is empty");
        if (!tombstone && !sl_cli_str(cli, "lag"))
                return sl_cli_usage_error(cli, "missing --lag EVENTS (or --tombstone)");
        if ((ret = sl_cli_int(cli, "lag", 0, 0, INT64_MAX, &lag)) ||
            (ret = sl_cli_int(cli, "timeout-ms", 30000, 1, 3600000, &timeout)))
                return ret;
        if (!tombstone) {
                struct timespec ts;
                sl_lag_report_t report = {
                    .projector_id = projector, .group_id = sl_cli_str(cli, "group"), .lag = lag};

                if (!report.group_id)
                        report.group_id = "";
                clock_gettime(CLOCK_REALTIME, &ts);
                report.updated_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
                if ((ret = sl_control_schema_id(cli, topic, &id)))
                        return ret;
                if (sl_lag_report_encode(&report, id, &buf, errstr, sizeof(errstr)))
                        return sl_cli_usage_error(cli, "%s", errstr);
        }
        if (!(rk_conf = sl_cli_kafka_conf(cli, defaults, &ret))) {
                sl_buf_free(&buf);
                return ret;
        }
        ret = SL_EXIT_OK;
        rd_kafka_conf_set_dr_msg_cb(rk_conf, sl_control_dr_cb);
        rd_kafka_conf_set_opaque(rk_conf, &dr);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, rk_conf, errstr, sizeof(errstr)))) {
                rd_kafka_conf_destroy(rk_conf);
                sl_buf_free(&buf);
                return sl_cli_usage_error(cli, "%s", errstr);
        }
        kerr = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                 RD_KAFKA_V_KEY(projector, strlen(projector)),
                                 RD_KAFKA_V_VALUE(tombstone ? NULL : buf.data, buf.len),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (kerr) {
                ret = sl_cli_fail(cli, "%s: %s", topic, rd_kafka_err2str(kerr));
        } else {
                rd_kafka_flush(rk, (int)timeout);
                if (!dr.done)
                        ret = sl_cli_fail(cli, "%s: delivery not confirmed within %lld ms", topic,
                                          (long long)timeout);
                else if (dr.err)
                        ret = sl_cli_fail(cli, "%s: %s", topic, rd_kafka_err2str(dr.err));
                else
                        printf("%s/%d@%lld\n", topic, (int)dr.partition, (long long)dr.offset);
        }
        rd_kafka_destroy(rk);
        sl_buf_free(&buf);
        return ret;
}
