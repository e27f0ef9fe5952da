/*
 * NodeStateEvent codec throughput, next to Avro C decoding the same bytes in the same run.
 *
 *   build/bench/bench_codec [SECONDS_PER_ROW]     (default 2)
 *
 * Rows: our encode (direct, into a reused buffer) beside the same bytes through Avro C's generic
 * values, and our decode (the tolerant by-name reader into a reused event) beside Avro C's own
 * avro_value_read of the same body into a reused generic value (same schema, no resolution).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <avro.h>

#include "sl_event.h"

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(sl_event_t *e)
{
        sl_event_new_id(e);
        sl_event_set(e, &e->node_id, "gw-eu-0001");
        sl_event_set(e, &e->node_type, "gateway");
        sl_event_set(e, &e->region, "eu-west");
        sl_event_set(e, &e->cluster, "c1");
        e->incarnation = 1732870000000;
        e->seq = 123456;
        e->event_time_ms = 1732870012345;
        e->kind = SL_KIND_HEARTBEAT;
        e->status = SL_STATUS_UP;
        sl_event_set(e, &e->hostname, "gw1.eu.example");
        sl_event_add_address(e, "10.0.0.1");
        sl_event_add_address(e, "[fe80::1]:4242");
        sl_event_add_service(e, "http");
        sl_event_add_service_meta(e, "port", "443");
        sl_event_add_service(e, "p2p");
        e->has_usage = 1;
        e->usage.cpu_percent = 37.5;
        e->usage.cpu_count = 16;
        e->usage.load1 = 1.25;
        e->usage.mem_total = 64LL << 30;
        e->usage.mem_used = 12LL << 30;
        e->usage.disk_total = 2LL << 40;
        sl_event_add_sensor(e, "temp_c", 61.5);
        sl_event_add_label(e, "rack", "r7");
        sl_event_set(e, &e->agent_version, "0.1.0");
        e->source = SL_SOURCE_AGENT;
}

int main(int argc, char **argv)
{
        double secs = argc > 1 ? atof(argv[1]) : 2.0;
        char errstr[256];
        sl_codec_t *codec = sl_codec_new(1, errstr, sizeof(errstr));
        sl_event_t *ev = sl_event_new(), *out = sl_event_new();
        sl_buf_t buf = {0};
        long n;
        double t0, enc, enc_ref, dec, ref;

        if (!codec || !ev || !out || secs <= 0) {
                fprintf(stderr, "bench_codec: %s\n", codec ? "bad arguments" : errstr);
                return 1;
        }
        fill(ev);

        t0 = now_s();
        for (n = 0; now_s() - t0 < secs; n++)
                for (int i = 0; i < 1000; i++)
                        if (sl_codec_encode(codec, ev, &buf, errstr, sizeof(errstr))) {
                                fprintf(stderr, "encode: %s\n", errstr);
                                return 1;
                        }
        enc = n * 1000.0 / (now_s() - t0);

        t0 = now_s();
        for (n = 0; now_s() - t0 < secs; n++)
                for (int i = 0; i < 1000; i++)
                        if (sl_codec_encode_reference(codec, ev, &buf, errstr, sizeof(errstr))) {
                                fprintf(stderr, "encode: %s\n", errstr);
                                return 1;
                        }
        enc_ref = n * 1000.0 / (now_s() - t0);

        t0 = now_s();
        for (n = 0; now_s() - t0 < secs; n++)
                for (int i = 0; i < 1000; i++)
                        if (sl_codec_decode(codec, buf.data, buf.len, out, errstr,
                                            sizeof(errstr))) {
                                fprintf(stderr, "decode: %s\n", errstr);
                                return 1;
                        }
        dec = n * 1000.0 / (now_s() - t0);

        avro_schema_t schema;
        const char *text = sl_event_schema_text();
        avro_schema_from_json_length(text, strlen(text), &schema);
        avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
        avro_value_t value;
        avro_generic_value_new(iface, &value);
        avro_reader_t r = avro_reader_memory((const char *)buf.data + 5, (int64_t)buf.len - 5);
        t0 = now_s();
        for (n = 0; now_s() - t0 < secs; n++)
                for (int i = 0; i < 1000; i++) {
                        avro_reader_memory_set_source(r, (const char *)buf.data + 5,
                                                      (int64_t)buf.len - 5);
                        avro_value_reset(&value);
                        if (avro_value_read(r, &value)) {
                                fprintf(stderr, "avro: %s\n", avro_strerror());
                                return 1;
                        }
                }
        ref = n * 1000.0 / (now_s() - t0);

        printf("| operation (one %zu-byte NodeStateEvent) | events/s |\n|---|---:|\n", buf.len);
        printf("| encode: sl_codec_encode (direct) | %.0f |\n", enc);
        printf("| reference: sl_codec_encode_reference (Avro C generic values), same bytes | "
               "%.0f |\n",
               enc_ref);
        printf("| decode: sl_codec_decode (by-name tolerant reader) | %.0f |\n", dec);
        printf("| reference: Avro C avro_value_read, same schema | %.0f |\n", ref);
        printf("\ncommand: %s %g\n", argv[0], secs);

        avro_reader_free(r);
        avro_value_decref(&value);
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
        sl_buf_free(&buf);
        sl_event_destroy(ev);
        sl_event_destroy(out);
        sl_codec_destroy(codec);
        return 0;
}
