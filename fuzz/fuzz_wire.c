/*
 * libFuzzer target: the Confluent wire-format decoder (sl_codec_decode()) on a whole record
 * value as a Kafka consumer would receive it: magic byte, schema id, Avro body.
 *
 * The codec knows the library's own schema (version 2) under id 1 and version 1 under id 2, as a
 * projector with a registry would after fetching both; any other id is an unknown writer. Each
 * decoded event is also rendered as JSON and validated, as `seerlog tail` and the projector do.
 *
 * The codec and the event live across inputs, as in a consumer (decode resets the event). A codec
 * alive at a leak check shows Avro C's generic value as leaked (LeakSanitizer cannot follow
 * Avro C's pointers; a destroyed codec frees it all): fuzz/lsan.supp, which scripts/fuzz passes,
 * suppresses leaks allocated inside libavro, and the codec is freed at exit.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "sl_event.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_codec_t *codec;
static sl_event_t *ev;

static void cleanup(void)
{
        sl_event_destroy(ev);
        sl_codec_destroy(codec);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        char errstr[512];

        if (!(codec = sl_codec_new(1, errstr, sizeof(errstr))) ||
            sl_codec_add_schema(codec, 2, sl_fuzz_node_state_v1_avsc, errstr, sizeof(errstr)) ||
            !(ev = sl_event_new()))
                sl_fuzz_die("fuzz_wire setup", errstr);
        atexit(cleanup);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char errstr[512];
        int32_t id;

        (void)sl_wire_schema_id(data, size, &id);
        if (!sl_codec_decode(codec, data, size, ev, errstr, sizeof(errstr))) {
                json_t *j = sl_event_to_json(ev);

                json_decref(j);
                (void)sl_event_validate(ev, errstr, sizeof(errstr));
        }
        sl_event_reset(ev);
        return 0;
}
