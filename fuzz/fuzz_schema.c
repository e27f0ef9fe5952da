/*
 * libFuzzer target: the registry's schema parser and its forms (schema-registry/schema.c) and the
 * compatibility checker (compat.c).
 *
 * The input is one or two schema texts separated by a NUL byte. Each is parsed (with its compact,
 * normalised and canonical forms); when two parse, each is checked as reader of the other, and
 * under every level each as the candidate against the other, then the first against both.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "sl_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_schema_t *parse(const uint8_t *p, size_t len)
{
        char errstr[512], *text = malloc(len + 1);
        sl_schema_t *s = NULL;

        if (!text)
                sl_fuzz_die("fuzz_schema", "out of memory");
        memcpy(text, p, len);
        text[len] = '\0';
        if (!sl_schema_parse(text, &s, errstr, sizeof(errstr))) {
                (void)sl_schema_text(s);
                (void)sl_schema_compact(s);
                (void)sl_schema_normalized(s);
                (void)sl_schema_canonical(s);
        }
        free(text);
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *sep = memchr(data, 0, size);
        size_t len1 = sep ? (size_t)(sep - data) : size;
        sl_schema_t *a = parse(data, len1), *b = NULL;
        json_t *msgs;

        if (sep)
                b = parse(sep + 1, size - len1 - 1);
        if (a && b) {
                const sl_schema_t *both[2] = {b, a}, *first = a, *second = b;

                if (!(msgs = json_array()))
                        sl_fuzz_die("fuzz_schema", "out of memory");
                (void)sl_schema_can_read(a, b, msgs);
                (void)sl_schema_can_read(b, a, msgs);
                for (int level = 0; level < SL_COMPAT__CNT; level++) {
                        json_array_clear(msgs);
                        (void)sl_compat_check((sl_compat_level_t)level, a, &second, 1, msgs);
                        json_array_clear(msgs);
                        (void)sl_compat_check((sl_compat_level_t)level, b, &first, 1, msgs);
                        json_array_clear(msgs);
                        (void)sl_compat_check((sl_compat_level_t)level, a, both, 2, msgs);
                }
                json_decref(msgs);
        }
        sl_schema_destroy(a);
        sl_schema_destroy(b);
        return 0;
}
