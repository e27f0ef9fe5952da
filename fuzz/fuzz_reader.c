/*
 * libFuzzer target: the tolerant Avro reader (event/decode.c) across schema versions.
 *
 * The first input byte picks the reader (bit 0 clear: version 1, sl_codec_new_reader() with
 * schemas/node_state.v1.avsc; set: the library's own version 2) and the writer (bits 1-2: 0
 * version 1, 1 and 3 version 2, 2 fuzz/schemas/node_state.future.avsc, a later writer with fields
 * moved, an int promoted to long, an enum symbol added and fields of every Avro type the reader
 * has to skip).
 * The rest is the Avro body; the target adds the wire header of the chosen writer's id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sl_event.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { ID_V2 = 1, ID_V1 = 2, ID_FUTURE = 3 };

/* A reader (version 1 or 2) that knows all three writers. Kept across inputs, as in
 * fuzz_wire.c. */
static sl_codec_t *reader_new(int v1)
{
        char errstr[512];
        sl_codec_t *c =
            v1 ? sl_codec_new_reader(ID_V2, sl_fuzz_node_state_v1_avsc, errstr, sizeof(errstr))
               : sl_codec_new(ID_V2, errstr, sizeof(errstr));

        if (!c ||
            sl_codec_add_schema(c, ID_V1, sl_fuzz_node_state_v1_avsc, errstr, sizeof(errstr)) ||
            sl_codec_add_schema(c, ID_FUTURE, sl_fuzz_node_state_future_avsc, errstr,
                                sizeof(errstr)))
                sl_fuzz_die("fuzz_reader setup", errstr);
        return c;
}

static sl_codec_t *readers[2]; /* [0] version 1, [1] version 2 */
static sl_event_t *ev;

static void cleanup(void)
{
        sl_event_destroy(ev);
        sl_codec_destroy(readers[0]);
        sl_codec_destroy(readers[1]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        readers[0] = reader_new(1);
        readers[1] = reader_new(0);
        if (!(ev = sl_event_new()))
                sl_fuzz_die("fuzz_reader setup", "out of memory");
        atexit(cleanup);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const int32_t writer_ids[4] = {ID_V1, ID_V2, ID_FUTURE, ID_V2};
        char errstr[512];
        sl_codec_t *codec;
        uint8_t *rec;
        int32_t id;

        if (size < 1)
                return 0;
        codec = readers[data[0] & 1];
        id = writer_ids[(data[0] >> 1) & 3];
        /* A copy of exactly the record's size, so that ASan sees any read past its end. */
        if (!(rec = malloc(size - 1 + SL_WIRE_HEADER_SIZE)))
                sl_fuzz_die("fuzz_reader", "out of memory");
        rec[0] = 0;
        rec[1] = (uint8_t)(id >> 24);
        rec[2] = (uint8_t)(id >> 16);
        rec[3] = (uint8_t)(id >> 8);
        rec[4] = (uint8_t)id;
        memcpy(rec + SL_WIRE_HEADER_SIZE, data + 1, size - 1);
        if (!sl_codec_decode(codec, rec, size - 1 + SL_WIRE_HEADER_SIZE, ev, errstr,
                             sizeof(errstr)))
                (void)sl_event_validate(ev, errstr, sizeof(errstr));
        free(rec);
        sl_event_reset(ev);
        return 0;
}
