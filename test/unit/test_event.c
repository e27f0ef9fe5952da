/* Unit tests of the event module: build, encode (Avro C), decode (tolerant reader), JSON. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>
#include <unistd.h>

#include <avro.h>
#include <criterion/criterion.h>

#include "fill_full.h"
#include "sl_event.h"

static char errstr[512];

/* ---- helpers to hand-craft Avro binary ---- */

typedef struct {
        uint8_t b[4096];
        size_t n;
} raw_t;

static void raw_header(raw_t *r, int32_t id)
{
        r->n = 0;
        r->b[r->n++] = 0;
        r->b[r->n++] = (uint8_t)((uint32_t)id >> 24);
        r->b[r->n++] = (uint8_t)((uint32_t)id >> 16);
        r->b[r->n++] = (uint8_t)((uint32_t)id >> 8);
        r->b[r->n++] = (uint8_t)id;
}

static void raw_long(raw_t *r, int64_t v)
{
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        do {
                uint8_t byte = u & 0x7f;
                u >>= 7;
                r->b[r->n++] = byte | (u ? 0x80 : 0);
        } while (u);
}

static void raw_str(raw_t *r, const char *s)
{
        size_t len = strlen(s);
        raw_long(r, (int64_t)len);
        memcpy(r->b + r->n, s, len);
        r->n += len;
}

static void raw_bytes(raw_t *r, const void *p, size_t len)
{
        memcpy(r->b + r->n, p, len);
        r->n += len;
}

/* The smallest writer schema that still carries every required field. */
static const char *min_schema =
    "{\"type\":\"record\",\"name\":\"NodeStateEvent\",\"namespace\":\"seerlog\",\"fields\":["
    "{\"name\":\"event_id\",\"type\":\"string\"},{\"name\":\"node_id\",\"type\":\"string\"},"
    "{\"name\":\"node_type\",\"type\":\"string\"},{\"name\":\"region\",\"type\":\"string\"},"
    "{\"name\":\"incarnation\",\"type\":\"long\"},{\"name\":\"seq\",\"type\":\"long\"},"
    "{\"name\":\"event_time\",\"type\":\"long\"},"
    "{\"name\":\"status\",\"type\":{\"type\":\"enum\",\"name\":\"NodeStatus\","
    "\"symbols\":[\"up\",\"down\",\"rebooting\"]}},"
    "{\"name\":\"labels\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"extra\",\"type\":[\"null\",\"string\",{\"type\":\"array\",\"items\":\"long\"}]}"
    "]}";

#define MIN_ID 7

/* A valid record of min_schema; @p tail lets a test replace everything after event_time. */
static void raw_min(raw_t *r)
{
        raw_header(r, MIN_ID);
        raw_str(r, "0b1c5d1e-0000-4000-8000-000000000001");
        raw_str(r, "node-1");
        raw_str(r, "seer");
        raw_str(r, "eu-west");
        raw_long(r, 1700000000000);
        raw_long(r, 42);
        raw_long(r, 1700000000123);
}

static void raw_min_tail(raw_t *r)
{
        raw_long(r, 1); /* status: down */
        raw_long(r, 1); /* labels: one entry */
        raw_str(r, "rack");
        raw_str(r, "r7");
        raw_long(r, 0);
        raw_long(r, 2); /* extra: array branch */
        raw_long(r, 2);
        raw_long(r, 5);
        raw_long(r, -6);
        raw_long(r, 0);
}

static sl_codec_t *codec;
static sl_event_t *ev;

static void setup(void)
{
        codec = sl_codec_new(1, errstr, sizeof(errstr));
        cr_assert_not_null(codec, "codec: %s", errstr);
        cr_assert_eq(sl_codec_add_schema(codec, MIN_ID, min_schema, errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        ev = sl_event_new();
        cr_assert_not_null(ev);
}

static void teardown(void)
{
        sl_event_destroy(ev);
        sl_codec_destroy(codec);
}

TestSuite(event, .init = setup, .fini = teardown);

Test(event, full_round_trip_is_exact)
{
        sl_event_t *in = sl_event_new();
        sl_buf_t buf = {0};
        int32_t id;

        fill_full(in);
        cr_assert_eq(sl_codec_encode(codec, in, &buf, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(buf.data[0], 0);
        cr_assert_eq(sl_wire_schema_id(buf.data, buf.len, &id), SL_OK);
        cr_assert_eq(id, 1);
        cr_assert_eq(sl_codec_decode(codec, buf.data, buf.len, ev, errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        cr_assert(sl_event_equal(in, ev));
        cr_assert_str_eq(ev->services[0].meta[1].key, "tls");
        cr_assert_eq(ev->usage.sensors[0].value, 61.5);
        cr_assert_eq(ev->source, SL_SOURCE_BRIDGE);

        /* A reused event decodes the same record again, and a minimal one after it. */
        for (int i = 0; i < 100; i++)
                cr_assert_eq(sl_codec_decode(codec, buf.data, buf.len, ev, errstr, sizeof(errstr)),
                             SL_OK);
        cr_assert(sl_event_equal(in, ev));
        sl_buf_free(&buf);
        sl_event_destroy(in);
}

Test(event, minimal_event_round_trip_and_defaults)
{
        sl_event_t *in = sl_event_new();
        sl_buf_t buf = {0};

        sl_event_new_id(in);
        sl_event_set(in, &in->node_id, "n");
        sl_event_set(in, &in->node_type, "auth");
        sl_event_set(in, &in->region, "r");
        in->incarnation = 1;
        cr_assert_eq(sl_codec_encode(codec, in, &buf, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_codec_decode(codec, buf.data, buf.len, ev, errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        cr_assert(sl_event_equal(in, ev));
        cr_assert_eq(ev->has_usage, 0);
        cr_assert_str_eq(ev->cluster, "");
        sl_buf_free(&buf);
        sl_event_destroy(in);
}

/* Our encoding must be exactly what Avro C reads back with the same schema. */
Test(event, avro_c_reads_our_encoding)
{
        sl_event_t *in = sl_event_new();
        sl_buf_t buf = {0};
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t value, f, b;
        const char *s;
        size_t len;
        int64_t l;
        int idx;

        fill_full(in);
        cr_assert_eq(sl_codec_encode(codec, in, &buf, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(avro_schema_from_json_length(sl_event_schema_text(),
                                                  strlen(sl_event_schema_text()), &schema),
                     0);
        iface = avro_generic_class_from_schema(schema);
        avro_generic_value_new(iface, &value);
        avro_reader_t r = avro_reader_memory((const char *)buf.data + 5, (int64_t)buf.len - 5);
        cr_assert_eq(avro_value_read(r, &value), 0, "%s", avro_strerror());
        avro_value_get_by_name(&value, "node_id", &f, NULL);
        avro_value_get_string(&f, &s, &len);
        cr_assert_str_eq(s, "gw-eu-0001");
        avro_value_get_by_name(&value, "seq", &f, NULL);
        avro_value_get_long(&f, &l);
        cr_assert_eq(l, 9);
        avro_value_get_by_name(&value, "status", &f, NULL);
        avro_value_get_enum(&f, &idx);
        cr_assert_str_eq(avro_schema_enum_get(avro_value_get_schema(&f), idx), "degraded");
        avro_value_get_by_name(&value, "usage", &f, NULL);
        avro_value_get_current_branch(&f, &b);
        avro_value_get_by_name(&b, "mem_total", &f, NULL);
        avro_value_get_long(&f, &l);
        cr_assert_eq(l, 64LL << 30);
        avro_reader_free(r);
        avro_value_decref(&value);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
        sl_buf_free(&buf);
        sl_event_destroy(in);
}

Test(event, json_round_trip)
{
        sl_event_t *in = sl_event_new();
        json_t *j, *back;
        char *text;

        fill_full(in);
        j = sl_event_to_json(in);
        cr_assert_not_null(j);
        cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "degraded");
        cr_assert_str_eq(json_string_value(json_object_get(j, "kind")), "status_change");
        text = json_dumps(j, JSON_COMPACT);
        back = json_loads(text, 0, NULL);
        cr_assert_eq(sl_event_from_json(ev, back, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert(sl_event_equal(in, ev));
        free(text);
        json_decref(j);
        json_decref(back);
        sl_event_destroy(in);
}

static sl_err_t from_text(const char *text)
{
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);
        cr_assert_not_null(j, "%s", jerr.text);
        sl_err_t err = sl_event_from_json(ev, j, errstr, sizeof(errstr));
        json_decref(j);
        return err;
}

Test(event, json_input_errors_are_named)
{
        const char *base = "\"node_id\":\"n\",\"node_type\":\"seer\",\"region\":\"r\","
                           "\"incarnation\":5";
        char text[512];

        snprintf(text, sizeof(text), "{%s}", base);
        cr_assert_eq(from_text(text), SL_OK, "%s", errstr);
        cr_assert_eq(strlen(ev->event_id), 36, "a missing event_id gets a UUID");
        cr_assert_gt(ev->event_time_ms, 1700000000000LL);
        cr_assert_eq(ev->source, SL_SOURCE_AGENT);

        snprintf(text, sizeof(text), "{%s,\"status\":\"sideways\"}", base);
        cr_assert_eq(from_text(text), SL_ERR_BAD_ENUM);
        cr_assert(strstr(errstr, "status") && strstr(errstr, "sideways"), "%s", errstr);

        snprintf(text, sizeof(text), "{%s,\"stauts\":\"up\"}", base);
        cr_assert_eq(from_text(text), SL_ERR_BAD_VALUE);
        cr_assert(strstr(errstr, "stauts"), "%s", errstr);

        snprintf(text, sizeof(text), "{%s,\"seq\":\"1\"}", base);
        cr_assert_eq(from_text(text), SL_ERR_BAD_VALUE);
        snprintf(text, sizeof(text), "{%s,\"seq\":-1}", base);
        cr_assert_eq(from_text(text), SL_ERR_BAD_VALUE);
        snprintf(text, sizeof(text), "{%s,\"labels\":{\"a\":1}}", base);
        cr_assert_eq(from_text(text), SL_ERR_BAD_VALUE);
        snprintf(text, sizeof(text), "{%s,\"usage\":{\"cpu_count\":-1}}", base);
        cr_assert_eq(from_text(text), SL_ERR_BAD_VALUE);
        snprintf(text, sizeof(text), "{%s,\"services\":[{\"name\":\"a\",\"x\":1}]}", base);
        cr_assert_eq(from_text(text), SL_ERR_BAD_VALUE);
        cr_assert_eq(from_text("[1,2]"), SL_ERR_BAD_VALUE);
        cr_assert_str_eq(ev->node_id, "", "a failed parse leaves the event reset");
}

Test(event, validate_rejects_incomplete_events)
{
        sl_event_t *in = sl_event_new();
        sl_buf_t buf = {0};

        fill_full(in);
        cr_assert_eq(sl_event_validate(in, errstr, sizeof(errstr)), SL_OK);
        in->node_id = "";
        cr_assert_eq(sl_codec_encode(codec, in, &buf, errstr, sizeof(errstr)), SL_ERR_INVALID_ARG);
        cr_assert(strstr(errstr, "node_id"), "%s", errstr);
        fill_full(in);
        in->incarnation = 0;
        cr_assert_eq(sl_event_validate(in, errstr, sizeof(errstr)), SL_ERR_INVALID_ARG);
        fill_full(in);
        in->hostname = "bad\xff";
        cr_assert_eq(sl_event_validate(in, errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        fill_full(in);
        in->status = (sl_node_status_t)99;
        cr_assert_eq(sl_event_validate(in, errstr, sizeof(errstr)), SL_ERR_BAD_ENUM);
        sl_buf_free(&buf);
        sl_event_destroy(in);
}

/* ---- limits of one event (SL_EVENT_MAX_*) ---- */

/* The event is refused by validate and by the encoder with @p want in the message. */
static void assert_over_limit(sl_event_t *in, const char *want)
{
        sl_buf_t buf = {0};

        cr_assert_eq(sl_event_check_limits(in, errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        cr_assert(strstr(errstr, want), "wanted \"%s\" in \"%s\"", want, errstr);
        cr_assert_eq(sl_event_validate(in, errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        cr_assert_eq(sl_codec_encode(codec, in, &buf, errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        cr_assert(strstr(errstr, want), "encode: \"%s\"", errstr);
        cr_assert_eq(buf.len, 0);
        sl_buf_free(&buf);
}

Test(event, limits_labels_and_services)
{
        sl_event_t *in = sl_event_new();
        sl_buf_t buf = {0};
        char key[32];

        fill_full(in);
        while (in->label_cnt < SL_EVENT_MAX_LABELS) {
                snprintf(key, sizeof(key), "k%zu", in->label_cnt);
                cr_assert_eq(sl_event_add_label(in, key, "v"), SL_OK);
        }
        /* At the limit: fine, and it decodes back within the limits. */
        cr_assert_eq(sl_codec_encode(codec, in, &buf, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_codec_decode(codec, buf.data, buf.len, ev, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_event_check_limits(ev, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_event_add_label(in, "one-more", "v"), SL_OK);
        assert_over_limit(in, "labels: 65 entries, more than the 64 allowed");

        fill_full(in);
        while (in->service_cnt <= SL_EVENT_MAX_SERVICES) {
                snprintf(key, sizeof(key), "svc%zu", in->service_cnt);
                cr_assert_eq(sl_event_add_service(in, key), SL_OK);
        }
        assert_over_limit(in, "services: 65 entries, more than the 64 allowed");

        fill_full(in);
        cr_assert_eq(sl_event_add_service(in, "svc"), SL_OK);
        for (int i = 0; i <= SL_EVENT_MAX_META; i++) {
                snprintf(key, sizeof(key), "m%d", i);
                cr_assert_eq(sl_event_add_service_meta(in, key, "v"), SL_OK);
        }
        assert_over_limit(in, "services.meta: 65 entries, more than the 64 allowed");
        sl_buf_free(&buf);
        sl_event_destroy(in);
}

Test(event, limits_key_and_value_sizes)
{
        sl_event_t *in = sl_event_new();
        char big[SL_EVENT_MAX_VALUE_LEN + 2];

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        fill_full(in);
        cr_assert_eq(sl_event_add_label(in, "big", big), SL_OK);
        assert_over_limit(in, "labels: the value of key \"big\" has 4097 bytes, more than the "
                              "4096 allowed");
        fill_full(in);
        big[SL_EVENT_MAX_VALUE_LEN] = '\0'; /* exactly the limit */
        cr_assert_eq(sl_event_add_label(in, "big", big), SL_OK);
        cr_assert_eq(sl_event_check_limits(in, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        fill_full(in);
        big[SL_EVENT_MAX_KEY_LEN + 1] = '\0';
        cr_assert_eq(sl_event_add_label(in, big, "v"), SL_OK);
        assert_over_limit(in, "labels: a key of 257 bytes, more than the 256 allowed");
        fill_full(in);
        cr_assert_eq(sl_event_add_service(in, big), SL_OK);
        assert_over_limit(in, "services: a name of 257 bytes, more than the 256 allowed");
        sl_event_destroy(in);
}

/* ---- schema evolution: fields by name, defaults, enums by symbol ---- */

/*
 * sl_codec_encode() validates while it writes (one pass over each string): for every way an event
 * can be invalid it must refuse exactly as sl_event_validate() does, with the same error and
 * message, and leave the output empty.
 */
Test(event, encode_refuses_what_validate_refuses)
{
        char verr[512], bad_utf8[] = "bad\xff", *long_bad = NULL;
        sl_event_t *in = sl_event_new();
        sl_buf_t buf = {0};
        int cases = 0;

        long_bad = malloc(5000);
        memset(long_bad, 'a', 4999);
        long_bad[4999] = 0;
        long_bad[4321] = (char)0xc3;
        for (int c = 0;; c++) {
                fill_full(in);
                switch (c) {
                case 0:
                        in->event_id = "";
                        break;
                case 1:
                        in->node_id = NULL;
                        break;
                case 2:
                        in->node_type = "";
                        break;
                case 3:
                        in->region = NULL;
                        break;
                case 4:
                        in->cluster = NULL;
                        break;
                case 5:
                        in->hostname = bad_utf8;
                        break;
                case 6:
                        in->agent_version = long_bad;
                        break;
                case 7:
                        in->incarnation = -5;
                        break;
                case 8:
                        in->seq = -1;
                        break;
                case 9:
                        in->kind = (sl_event_kind_t)SL_KIND__CNT;
                        break;
                case 10:
                        in->status = (sl_node_status_t)-1;
                        break;
                case 11:
                        in->source = (sl_source_t)77;
                        break;
                case 12:
                        in->addresses[1] = bad_utf8;
                        break;
                case 13:
                        in->services[1].name = NULL;
                        break;
                case 14:
                        in->services[0].meta[1].key = "port";
                        break;
                case 15:
                        in->services[0].meta[0].value = bad_utf8;
                        break;
                case 16:
                        in->labels[1].key = "rack";
                        break;
                case 17:
                        in->labels[0].value = NULL;
                        break;
                case 18:
                        in->usage.sensors[1].name = "temp_c";
                        break;
                case 19:
                        in->usage.sensors[0].name = bad_utf8;
                        break;
                default:
                        goto done;
                }
                sl_err_t verr_code = sl_event_validate(in, verr, sizeof(verr));

                cr_assert_neq(verr_code, SL_OK, "case %d is valid", c);
                buf.len = 1;
                cr_assert_eq(sl_codec_encode(codec, in, &buf, errstr, sizeof(errstr)), verr_code,
                             "case %d: %s", c, errstr);
                cr_assert_str_eq(errstr, verr, "case %d", c);
                cr_assert_eq(buf.len, 0, "case %d leaves bytes", c);
                cases++;
        }
done:
        cr_assert_eq(cases, 20);
        /* Sensors are not checked (nor written) without usage. */
        fill_full(in);
        in->has_usage = 0;
        in->usage.sensors[1].name = "temp_c";
        cr_assert_eq(sl_codec_encode(codec, in, &buf, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_event_validate(in, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        free(long_bad);
        sl_buf_free(&buf);
        sl_event_destroy(in);
}

Test(event, reads_by_name_with_defaults_and_unknown_symbols)
{
        raw_t r;

        raw_min(&r);
        raw_min_tail(&r);
        cr_assert_eq(sl_codec_decode(codec, r.b, r.n, ev, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_str_eq(ev->node_id, "node-1");
        cr_assert_eq(ev->seq, 42);
        cr_assert_eq(ev->status, SL_STATUS_DOWN, "mapped by symbol, not by index 1 (up)");
        cr_assert_eq(ev->label_cnt, 1);
        cr_assert_str_eq(ev->labels[0].value, "r7");
        /* Fields the writer lacks take the reader's defaults. */
        cr_assert_eq(ev->source, SL_SOURCE_AGENT);
        cr_assert_eq(ev->kind, SL_KIND_UNKNOWN);
        cr_assert_str_eq(ev->hostname, "");
        cr_assert_eq(ev->has_usage, 0);

        /* "rebooting" is not a reader symbol: the enum's default (unknown). */
        raw_min(&r);
        raw_long(&r, 2);
        raw_long(&r, 0);
        raw_long(&r, 1);
        raw_str(&r, "extra string branch is skipped");
        cr_assert_eq(sl_codec_decode(codec, r.b, r.n, ev, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_eq(ev->status, SL_STATUS_UNKNOWN);
}

Test(event, reads_a_newer_schema_written_by_avro_c)
{
        /* v2: fields reordered, a field added, a status symbol added, numbers promoted. */
        const char *v2 =
            "{\"type\":\"record\",\"name\":\"NodeStateEvent\",\"namespace\":\"seerlog\","
            "\"fields\":["
            "{\"name\":\"zone\",\"type\":\"string\",\"default\":\"\"},"
            "{\"name\":\"seq\",\"type\":\"int\"},"
            "{\"name\":\"node_id\",\"type\":\"string\"},"
            "{\"name\":\"event_id\",\"type\":\"string\"},"
            "{\"name\":\"node_type\",\"type\":\"bytes\"},"
            "{\"name\":\"region\",\"type\":[\"null\",\"string\"]},"
            "{\"name\":\"incarnation\",\"type\":\"long\"},"
            "{\"name\":\"event_time\",\"type\":\"long\"},"
            "{\"name\":\"status\",\"type\":{\"type\":\"enum\",\"name\":\"NodeStatus\","
            "\"symbols\":[\"maintenance\",\"up\",\"left\"]}},"
            "{\"name\":\"usage\",\"type\":{\"type\":\"record\",\"name\":\"Usage\",\"fields\":["
            "{\"name\":\"gpu\",\"type\":\"double\"},"
            "{\"name\":\"cpu_percent\",\"type\":\"float\"},"
            "{\"name\":\"cpu_count\",\"type\":\"int\"},"
            "{\"name\":\"load1\",\"type\":\"int\"},{\"name\":\"load5\",\"type\":\"long\"},"
            "{\"name\":\"load15\",\"type\":\"double\"},"
            "{\"name\":\"mem_total\",\"type\":\"int\"},{\"name\":\"mem_used\",\"type\":\"long\"},"
            "{\"name\":\"mem_available\",\"type\":\"long\"},"
            "{\"name\":\"disk_total\",\"type\":\"long\"},"
            "{\"name\":\"disk_used\",\"type\":\"long\"},"
            "{\"name\":\"sensors\",\"type\":{\"type\":\"map\",\"values\":\"float\"}}]}}"
            "]}";
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t v, f, g;
        char body[1024];
        uint8_t rec[1029];

        cr_assert_eq(sl_codec_add_schema(codec, 2, v2, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_eq(avro_schema_from_json_length(v2, strlen(v2), &schema), 0, "%s",
                     avro_strerror());
        iface = avro_generic_class_from_schema(schema);
        avro_generic_value_new(iface, &v);
        avro_value_get_by_name(&v, "zone", &f, NULL);
        avro_value_set_string(&f, "z9");
        avro_value_get_by_name(&v, "seq", &f, NULL);
        avro_value_set_int(&f, 77);
        avro_value_get_by_name(&v, "node_id", &f, NULL);
        avro_value_set_string(&f, "tns-1");
        avro_value_get_by_name(&v, "event_id", &f, NULL);
        avro_value_set_string(&f, "e");
        avro_value_get_by_name(&v, "node_type", &f, NULL);
        avro_value_set_bytes(&f, "tns", 3);
        avro_value_get_by_name(&v, "region", &f, NULL);
        avro_value_set_branch(&f, 1, &g);
        avro_value_set_string(&g, "ap-south");
        avro_value_get_by_name(&v, "incarnation", &f, NULL);
        avro_value_set_long(&f, 123);
        avro_value_get_by_name(&v, "event_time", &f, NULL);
        avro_value_set_long(&f, 456);
        avro_value_get_by_name(&v, "status", &f, NULL);
        avro_value_set_enum(&f, 2); /* left */
        avro_value_get_by_name(&v, "usage", &f, NULL);
        avro_value_get_by_name(&f, "gpu", &g, NULL);
        avro_value_set_double(&g, 99);
        avro_value_get_by_name(&f, "cpu_percent", &g, NULL);
        avro_value_set_float(&g, 12.5f);
        avro_value_get_by_name(&f, "cpu_count", &g, NULL);
        avro_value_set_int(&g, 4);
        avro_value_get_by_name(&f, "load1", &g, NULL);
        avro_value_set_int(&g, 3);
        avro_value_get_by_name(&f, "mem_total", &g, NULL);
        avro_value_set_int(&g, 1000);
        avro_value_get_by_name(&f, "sensors", &f, NULL);
        avro_value_add(&f, "t", &g, NULL, NULL);
        avro_value_set_float(&g, 0.25f);
        avro_writer_t w = avro_writer_memory(body, sizeof(body));
        cr_assert_eq(avro_value_write(w, &v), 0, "%s", avro_strerror());
        size_t len = (size_t)avro_writer_tell(w);
        rec[0] = 0;
        rec[1] = rec[2] = rec[3] = 0;
        rec[4] = 2;
        memcpy(rec + 5, body, len);

        cr_assert_eq(sl_codec_decode(codec, rec, len + 5, ev, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_eq(ev->seq, 77);
        cr_assert_str_eq(ev->node_id, "tns-1");
        cr_assert_str_eq(ev->node_type, "tns");
        cr_assert_str_eq(ev->region, "ap-south");
        cr_assert_eq(ev->status, SL_STATUS_LEFT, "by symbol: index 2 is 'left' in v2");
        cr_assert_eq(ev->has_usage, 1);
        cr_assert_eq(ev->usage.cpu_percent, 12.5);
        cr_assert_eq(ev->usage.load1, 3.0);
        cr_assert_eq(ev->usage.mem_total, 1000);
        cr_assert_eq(ev->usage.sensor_cnt, 1);
        cr_assert_eq(ev->usage.sensors[0].value, 0.25);

        /* A null region branch cannot be read as a string: a clear error, not a crash. */
        avro_value_get_by_name(&v, "region", &f, NULL);
        avro_value_set_branch(&f, 0, &g);
        avro_value_set_null(&g);
        avro_writer_reset(w);
        cr_assert_eq(avro_value_write(w, &v), 0);
        len = (size_t)avro_writer_tell(w);
        memcpy(rec + 5, body, len);
        cr_assert_eq(sl_codec_decode(codec, rec, len + 5, ev, errstr, sizeof(errstr)),
                     SL_ERR_SCHEMA);
        cr_assert(strstr(errstr, "region"), "%s", errstr);

        avro_writer_free(w);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
}

Test(event, unreadable_writer_schemas_are_rejected_up_front)
{
        struct {
                const char *schema;
                const char *expect;
        } cases[] = {
            {"{\"type\":\"record\",\"name\":\"NodeStateEvent\",\"fields\":["
             "{\"name\":\"node_id\",\"type\":\"string\"}]}",
             "lacks field"},
            {"{\"type\":\"record\",\"name\":\"NodeStateEvent\",\"fields\":["
             "{\"name\":\"event_id\",\"type\":\"string\"},{\"name\":\"node_id\",\"type\":\"int\"},"
             "{\"name\":\"node_type\",\"type\":\"string\"},{\"name\":\"region\",\"type\":"
             "\"string\"},{\"name\":\"incarnation\",\"type\":\"long\"},{\"name\":\"seq\","
             "\"type\":\"long\"},{\"name\":\"event_time\",\"type\":\"long\"}]}",
             "cannot be read as string"},
            {"{\"type\":\"record\",\"name\":\"Other\",\"fields\":[]}", "not NodeStateEvent"},
            {"\"string\"", "not the NodeStateEvent record"},
            {"{\"type\":\"record\",\"name\":\"NodeStateEvent\",\"fields\":["
             "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"a\",\"type\":\"int\"}]}",
             "appears twice"},
            {"{\"type\":\"record\",\"name\":\"NodeStateEvent\",\"fields\":["
             "{\"name\":\"a\",\"type\":[\"null\",\"null\"]}]}",
             "two branches"},
            {"{\"type\":\"record\",\"name\":\"NodeStateEvent\",\"fields\":["
             "{\"name\":\"a\",\"type\":\"Nope\"}]}",
             "unknown type"},
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}", "appears twice"},
            {"{\"type\":\"record\",\"name\":\"9bad\",\"fields\":[]}", "not a valid name"},
            {"{\"type\":\"record\",\"name\":\"NodeStateEvent\",\"fields\":["
             "{\"name\":\"cluster\",\"type\":\"string\",\"default\":5}]}",
             "default"},
            {"{not json", "not valid JSON"},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                errstr[0] = 0;
                cr_assert_eq(
                    sl_codec_add_schema(codec, 50, cases[i].schema, errstr, sizeof(errstr)),
                    SL_ERR_SCHEMA, "case %zu accepted", i);
                cr_assert(strstr(errstr, cases[i].expect), "case %zu: %s", i, errstr);
        }
}

/* ---- malformed records: each a clear error, never a crash ---- */

static sl_err_t decode_raw(const raw_t *r)
{
        errstr[0] = 0;
        sl_err_t err = sl_codec_decode(codec, r->b, r->n, ev, errstr, sizeof(errstr));
        cr_assert(err == SL_OK || errstr[0], "error %d without a message", err);
        return err;
}

Test(event, wrong_magic_and_short_header)
{
        raw_t r;

        raw_min(&r);
        raw_min_tail(&r);
        r.b[0] = 1;
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_MAGIC);
        cr_assert(strstr(errstr, "magic"), "%s", errstr);
        r.n = 3;
        r.b[0] = 0;
        cr_assert_eq(decode_raw(&r), SL_ERR_TRUNCATED);
        r.n = 0;
        cr_assert_eq(decode_raw(&r), SL_ERR_TRUNCATED);
}

Test(event, unknown_schema_id)
{
        raw_t r;

        raw_min(&r);
        r.b[4] = 99;
        cr_assert_eq(decode_raw(&r), SL_ERR_UNKNOWN_SCHEMA);
        cr_assert(strstr(errstr, "99"), "%s", errstr);
}

Test(event, every_truncation_fails_cleanly)
{
        raw_t r, cut;

        raw_min(&r);
        raw_min_tail(&r);
        cr_assert_eq(decode_raw(&r), SL_OK, "%s", errstr);
        for (size_t n = 0; n < r.n; n++) {
                cut = r;
                cut.n = n;
                sl_err_t err = decode_raw(&cut);
                cr_assert(err == SL_ERR_TRUNCATED || err == SL_ERR_BAD_LENGTH, "cut at %zu: %d %s",
                          n, err, errstr);
        }
}

Test(event, bad_varint)
{
        raw_t r;
        uint8_t eleven[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
        uint8_t overflow[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};

        raw_header(&r, MIN_ID);
        raw_bytes(&r, eleven, sizeof(eleven));
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_VARINT);
        raw_header(&r, MIN_ID);
        raw_bytes(&r, overflow, sizeof(overflow));
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_VARINT);
}

Test(event, negative_and_huge_lengths)
{
        raw_t r;

        raw_header(&r, MIN_ID);
        raw_long(&r, -5);
        raw_bytes(&r, "abcdefgh", 8);
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_LENGTH);
        cr_assert(strstr(errstr, "negative") && strstr(errstr, "event_id"), "%s", errstr);

        raw_header(&r, MIN_ID);
        raw_long(&r, INT64_MAX);
        raw_bytes(&r, "abcdefgh", 8);
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_LENGTH);

        /* A map block announcing far more entries than bytes left. */
        raw_min(&r);
        raw_long(&r, 0);
        raw_long(&r, 1LL << 40);
        raw_str(&r, "k");
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_LENGTH);
        raw_min(&r);
        raw_long(&r, 0);
        raw_long(&r, INT64_MIN);
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_LENGTH);
}

Test(event, negative_block_counts_are_read)
{
        raw_t r;

        raw_min(&r);
        raw_long(&r, 0);
        raw_long(&r, -1); /* one entry, then its byte size */
        raw_long(&r, 7);
        raw_str(&r, "rack");
        raw_str(&r, "r");
        raw_long(&r, 0);
        raw_long(&r, 0); /* extra: null */
        cr_assert_eq(decode_raw(&r), SL_OK, "%s", errstr);
        cr_assert_eq(ev->label_cnt, 1);
        cr_assert_str_eq(ev->labels[0].key, "rack");
}

Test(event, enum_and_union_index_out_of_range)
{
        raw_t r;

        raw_min(&r);
        raw_long(&r, 3); /* the writer has 3 symbols: 0..2 */
        raw_long(&r, 0);
        raw_long(&r, 0);
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_ENUM);
        cr_assert(strstr(errstr, "status"), "%s", errstr);

        raw_min(&r);
        raw_long(&r, -1);
        raw_long(&r, 0);
        raw_long(&r, 0);
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_ENUM);

        raw_min(&r);
        raw_long(&r, 0);
        raw_long(&r, 0);
        raw_long(&r, 3); /* union of 3 branches */
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_ENUM);
}

Test(event, trailing_garbage)
{
        raw_t r;

        raw_min(&r);
        raw_min_tail(&r);
        raw_bytes(&r, "xyz", 3);
        cr_assert_eq(decode_raw(&r), SL_ERR_TRAILING);
        cr_assert(strstr(errstr, "3 bytes"), "%s", errstr);
}

Test(event, invalid_utf8_and_nul_in_strings)
{
        raw_t r;

        raw_header(&r, MIN_ID);
        raw_str(&r, "ok");
        raw_long(&r, 3);
        raw_bytes(&r, "a\xc3(", 3);
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_VALUE);
        cr_assert(strstr(errstr, "node_id"), "%s", errstr);

        raw_header(&r, MIN_ID);
        raw_long(&r, 3);
        raw_bytes(&r, "a\0b", 3);
        cr_assert_eq(decode_raw(&r), SL_ERR_BAD_VALUE);
}

/* Random corruption of valid records: any result but a crash (ASan checks the rest). */
Test(event, mutated_records_never_crash)
{
        sl_event_t *in = sl_event_new();
        sl_buf_t buf = {0};
        uint8_t m[4096];
        unsigned seed = 12345;
        int ok = 0;

        fill_full(in);
        cr_assert_eq(sl_codec_encode(codec, in, &buf, errstr, sizeof(errstr)), SL_OK);
        for (int i = 0; i < 20000; i++) {
                size_t n = buf.len;
                memcpy(m, buf.data, n);
                int flips = 1 + rand_r(&seed) % 4;
                for (int k = 0; k < flips; k++) {
                        size_t at = SL_WIRE_HEADER_SIZE + (size_t)rand_r(&seed) % (n - 5);
                        m[at] = (uint8_t)rand_r(&seed);
                }
                if (rand_r(&seed) % 4 == 0)
                        n = SL_WIRE_HEADER_SIZE + (size_t)rand_r(&seed) % (n - 5);
                ok += sl_codec_decode(codec, m, n, ev, errstr, sizeof(errstr)) == SL_OK;
        }
        cr_log_info("%d of 20000 mutated records still decoded", ok);
        sl_buf_free(&buf);
        sl_event_destroy(in);
}

Test(event, enum_names_and_parsing)
{
        sl_node_status_t s;
        sl_event_kind_t k;

        cr_assert_str_eq(sl_node_status_name(SL_STATUS_DRAINING), "draining");
        cr_assert_str_eq(sl_event_kind_name(SL_KIND_LEAVE), "leave");
        cr_assert_eq(sl_node_status_parse("left", &s), SL_OK);
        cr_assert_eq(s, SL_STATUS_LEFT);
        cr_assert_eq(sl_event_kind_parse("LEAVE", &k), SL_ERR_BAD_ENUM);
        cr_assert_str_eq(sl_node_status_name((sl_node_status_t)42), "unknown");
}

Test(event, copy_is_deep)
{
        sl_event_t *a = sl_event_new(), *b = sl_event_new();

        fill_full(a);
        cr_assert_eq(sl_event_copy(b, a), SL_OK);
        cr_assert(sl_event_equal(a, b));
        sl_event_reset(a);
        fill_full(a);
        cr_assert(sl_event_equal(a, b) == 0, "new event id differs");
        sl_event_destroy(a);
        sl_event_destroy(b);
}

static int cmp_id(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(event, new_ids_are_unique_v4_uuids_also_across_fork)
{
        enum { N = 20000 };
        char **ids = calloc(N, sizeof(*ids));
        int fds[2];

        for (int i = 0; i < N; i++) {
                cr_assert_eq(sl_event_new_id(ev), SL_OK);
                const char *id = ev->event_id;
                cr_assert_eq(strlen(id), 36);
                cr_assert(id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-', "%s",
                          id);
                cr_assert_eq(id[14], '4', "version 4: %s", id);
                cr_assert(strchr("89ab", id[19]), "RFC 4122 variant: %s", id);
                ids[i] = strdup(id);
        }
        qsort(ids, N, sizeof(*ids), cmp_id);
        for (int i = 1; i < N; i++)
                cr_assert_str_neq(ids[i - 1], ids[i]);

        /* A forked child must not repeat the parent's next ids. */
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                sl_event_new_id(ev);
                ssize_t w = write(fds[1], ev->event_id, 36);

                /* The child leaves without the fixture's teardown: free its codec and event, so
                 * that a leak checker (scripts/valgrind) sees nothing lost. */
                teardown();
                for (int i = 0; i < N; i++)
                        free(ids[i]);
                free(ids);
                _exit(w == 36 ? 0 : 1);
        }
        char child[37] = {0};
        cr_assert_eq(read(fds[0], child, 36), 36);
        waitpid(pid, NULL, 0);
        sl_event_new_id(ev);
        cr_assert_str_neq(child, ev->event_id);
        for (int i = 0; i < N; i++)
                free(ids[i]);
        free(ids);
        close(fds[0]);
        close(fds[1]);
}

/* The hand-written encoder must produce Avro C's bytes exactly, for every shape of event. */
Test(event, encoder_is_byte_identical_to_avro_c)
{
        sl_event_t *in = sl_event_new();
        sl_buf_t fast = {0}, ref = {0};
        unsigned seed = 7;
        char s[64];

        for (int i = 0; i < 3000; i++) {
                int r = rand_r(&seed);
                sl_event_reset(in);
                if (i % 3 == 0) {
                        fill_full(in);
                } else {
                        sl_event_new_id(in);
                        snprintf(s, sizeof(s), "n\xc3\xa9-%d", r % 1000);
                        sl_event_set(in, &in->node_id, s);
                        sl_event_set(in, &in->node_type, "seer");
                        sl_event_set(in, &in->region, i % 2 ? "eu" : "");
                        if (!*in->region)
                                sl_event_set(in, &in->region, "r");
                }
                in->incarnation = 1 + (int64_t)r * (i % 5 ? 1 : 1000003);
                in->seq = i % 7 ? r : INT64_MAX - r;
                in->event_time_ms = i % 11 ? -(int64_t)r : (int64_t)r << 20;
                in->kind = (sl_event_kind_t)(r % SL_KIND__CNT);
                in->status = (sl_node_status_t)((r >> 3) % SL_STATUS__CNT);
                in->source = (sl_source_t)((r >> 6) % SL_SOURCE__CNT);
                for (int k = 0; k < (r >> 9) % 4; k++) {
                        snprintf(s, sizeof(s), "10.0.%d.%d", k, r % 255);
                        sl_event_add_address(in, s);
                        snprintf(s, sizeof(s), "l%d", k);
                        sl_event_add_label(in, s, k % 2 ? "" : "v");
                }
                if ((r >> 14) % 3 == 0) {
                        in->has_geo = 1;
                        in->geo.latitude = (r % 180001) / 1000.0 - 90;
                        in->geo.longitude = -((r % 360001) / 1000.0 - 180);
                        sl_event_set(in, &in->geo.site, r % 2 ? "fra-2" : "");
                }
                if ((r >> 16) % 3 == 0) {
                        in->has_capacity = 1;
                        in->capacity.cpu_cores = r % 256;
                        in->capacity.memory_bytes = (int64_t)r << 20;
                        in->capacity.max_tasks = r % 3 ? 0 : INT32_MAX;
                }
                if ((r >> 12) % 2) {
                        in->has_usage = 1;
                        in->usage.cpu_percent = r / 7.0;
                        in->usage.cpu_count = -(r % 3);
                        in->usage.load15 = -0.0;
                        in->usage.mem_available = -(int64_t)r;
                        if ((r >> 13) % 2)
                                sl_event_add_sensor(in, "t", 1e300);
                }
                cr_assert_eq(sl_codec_encode(codec, in, &fast, errstr, sizeof(errstr)), SL_OK, "%s",
                             errstr);
                cr_assert_eq(sl_codec_encode_reference(codec, in, &ref, errstr, sizeof(errstr)),
                             SL_OK, "%s", errstr);
                cr_assert_eq(fast.len, ref.len, "event %d: %zu vs %zu bytes", i, fast.len, ref.len);
                cr_assert(!memcmp(fast.data, ref.data, fast.len), "event %d: bytes differ", i);
        }
        sl_buf_free(&fast);
        sl_buf_free(&ref);
        sl_event_destroy(in);
}

Test(event, validate_checks_utf8_at_every_position)
{
        sl_event_t *in = sl_event_new();
        char s[40];

        /* A bad byte or a NUL at any offset of a long ASCII string (the word-at-a-time path). */
        for (size_t at = 0; at < 33; at++) {
                fill_full(in);
                memset(s, 'a', 33);
                s[33] = 0;
                s[at] = (char)0xff;
                in->hostname = s;
                cr_assert_eq(sl_event_validate(in, errstr, sizeof(errstr)), SL_ERR_BAD_VALUE,
                             "0xff at %zu accepted", at);
        }
        fill_full(in);
        snprintf(s, sizeof(s), "abcdefgh\xc3\xa9ijklmnop\xe2\x82\xacqrstuvwx\xf0\x9f\x98\x80");
        in->hostname = s;
        cr_assert_eq(sl_event_validate(in, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        sl_event_destroy(in);
}

Test(event, codec_rejects_bad_ids)
{
        cr_assert_null(sl_codec_new(0, errstr, sizeof(errstr)));
        cr_assert(strstr(errstr, "schema id"), "%s", errstr);
        cr_assert_eq(sl_codec_add_schema(codec, -3, min_schema, errstr, sizeof(errstr)),
                     SL_ERR_INVALID_ARG);
}

/* ---- schema version 2 ---- */

static void fill_v2(sl_event_t *e)
{
        fill_full(e);
        e->status = SL_STATUS_MAINTENANCE;
        e->has_geo = 1;
        e->geo.latitude = 52.52;
        e->geo.longitude = -13.405;
        cr_assert_eq(sl_event_set(e, &e->geo.site, "ber-1"), SL_OK);
        e->has_capacity = 1;
        e->capacity.cpu_cores = 64;
        e->capacity.memory_bytes = 512LL << 30;
        e->capacity.disk_bytes = 4LL << 40;
        e->capacity.max_tasks = 100;
}

static char *read_text(const char *path)
{
        FILE *f = fopen(path, "r");
        char *buf = calloc(1, 1 << 16);
        size_t n;

        cr_assert_not_null(f, "%s", path);
        cr_assert_not_null(buf);
        n = fread(buf, 1, (1 << 16) - 1, f);
        fclose(f);
        buf[n] = '\0';
        return buf;
}

Test(event, version2_fields_round_trip)
{
        sl_event_t *in = sl_event_new(), *back = sl_event_new();
        sl_buf_t out = {0};
        json_t *j;

        fill_v2(in);
        cr_assert_eq(sl_codec_encode(codec, in, &out, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_codec_decode(codec, out.data, out.len, ev, errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        cr_expect(sl_event_equal(in, ev));
        cr_expect_str_eq(ev->geo.site, "ber-1");
        cr_expect_eq(ev->status, SL_STATUS_MAINTENANCE);
        cr_assert_not_null(j = sl_event_to_json(in));
        cr_expect_str_eq(json_string_value(json_object_get(j, "status")), "maintenance");
        cr_expect_eq(
            json_integer_value(json_object_get(json_object_get(j, "capacity"), "max_tasks")), 100);
        cr_assert_eq(sl_event_from_json(back, j, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_expect(sl_event_equal(in, back));
        json_decref(j);
        /* Out of range: named, and not encoded. */
        in->geo.latitude = 90.5;
        cr_expect_eq(sl_codec_encode(codec, in, &out, errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        cr_expect(strstr(errstr, "latitude"), "%s", errstr);
        in->geo.latitude = 0.0 / 0.0;
        cr_expect_eq(sl_codec_encode(codec, in, &out, errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        in->geo.latitude = 1;
        in->capacity.disk_bytes = -1;
        cr_expect_eq(sl_codec_encode(codec, in, &out, errstr, sizeof(errstr)), SL_ERR_BAD_VALUE);
        cr_expect(strstr(errstr, "capacity"), "%s", errstr);
        cr_expect_eq(from_text("{\"node_id\":\"n\",\"node_type\":\"t\",\"region\":\"r\","
                               "\"incarnation\":1,\"seq\":0,\"geo\":{\"latitude\":1}}"),
                     SL_ERR_BAD_VALUE);
        cr_expect(strstr(errstr, "longitude"), "%s", errstr);
        sl_buf_free(&out);
        sl_event_destroy(in);
        sl_event_destroy(back);
}

Test(event, version1_records_read_as_version2)
{
        char *v1 = read_text(SL_NODE_STATE_V1_AVSC);
        sl_event_t *in = sl_event_new();
        sl_buf_t out = {0};

        /* Without geo and capacity, a version-2 body is the version-1 body and two null union
         * branches (the fields come last): cut them and it is what a version-1 writer wrote. */
        fill_full(in);
        cr_assert_eq(sl_codec_encode(codec, in, &out, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(out.data[out.len - 1], 0);
        cr_assert_eq(out.data[out.len - 2], 0);
        out.len -= 2;
        out.data[1] = 0, out.data[2] = 0, out.data[3] = 0x03, out.data[4] = 0xe9; /* id 1001 */
        cr_assert_eq(sl_codec_add_schema(codec, 1001, v1, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
        cr_assert_eq(sl_codec_decode(codec, out.data, out.len, ev, errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        cr_expect(sl_event_equal(in, ev));
        cr_expect_eq(ev->has_geo, 0);
        cr_expect_eq(ev->has_capacity, 0);
        free(v1);
        sl_buf_free(&out);
        sl_event_destroy(in);
}

Test(event, a_version1_reader_reads_version2_records)
{
        char *v1 = read_text(SL_NODE_STATE_V1_AVSC);
        sl_codec_t *old = sl_codec_new_reader(1, v1, errstr, sizeof(errstr));
        sl_event_t *in = sl_event_new();
        sl_buf_t out = {0};

        cr_assert_not_null(old, "%s", errstr);
        fill_v2(in);
        cr_assert_eq(sl_codec_encode(codec, in, &out, errstr, sizeof(errstr)), SL_OK, "%s", errstr);
        cr_assert_eq(sl_codec_decode(old, out.data, out.len, ev, errstr, sizeof(errstr)), SL_OK,
                     "%s", errstr);
        /* The fields it does not know are skipped, the symbol it does not know is the enum's
         * default; everything else reads as written. */
        cr_expect_eq(ev->has_geo, 0);
        cr_expect_eq(ev->has_capacity, 0);
        cr_expect_eq(ev->status, SL_STATUS_UNKNOWN);
        in->has_geo = in->has_capacity = 0;
        in->geo.latitude = in->geo.longitude = 0;
        in->geo.site = "";
        memset(&in->capacity, 0, sizeof(in->capacity));
        in->status = SL_STATUS_UNKNOWN;
        cr_expect(sl_event_equal(in, ev));
        /* A reader schema with a field the decoder does not know is refused. */
        sl_codec_destroy(old);
        old = sl_codec_new_reader(
            1,
            "{\"type\":\"record\",\"name\":\"NodeStateEvent\",\"namespace\":\"seerlog\","
            "\"fields\":[{\"name\":\"gpu\",\"type\":\"string\"}]}",
            errstr, sizeof(errstr));
        cr_expect_null(old);
        cr_expect(strstr(errstr, "gpu"), "%s", errstr);
        free(v1);
        sl_buf_free(&out);
        sl_event_destroy(in);
}
