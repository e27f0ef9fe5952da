/* Names and topic routing: what Kafka topic names allow, and topic.template expansion. */
#include <string.h>

#include "producer_int.h"

#define SL_TOPIC_MAX 249

static int sl_name_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
}

/* @returns the index of the first character a topic name does not allow, or -1. */
static long sl_name_bad_char(const char *s)
{
        for (const char *c = s; *c; c++)
                if (!sl_name_char_ok(*c))
                        return c - s;
        return -1;
}

sl_err_t sl_name_validate(const char *what, const char *value, char *errstr, size_t errstr_size)
{
        size_t len;
        long bad;

        if (!what)
                what = "name";
        if (!value || !*value)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "%s is empty", what);
        len = strlen(value);
        if (len > SL_NAME_MAX)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "%s \"%.32s...\" is %zu characters long, more than %d", what,
                                 value, len, SL_NAME_MAX);
        if ((bad = sl_name_bad_char(value)) >= 0) {
                unsigned char c = (unsigned char)value[bad];

                if (c >= 0x20 && c < 0x7f)
                        return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                         "%s \"%s\": character '%c' at %ld is not allowed "
                                         "(only A-Z a-z 0-9 . _ -)",
                                         what, value, c, bad);
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "%s: byte 0x%02x at %ld is not allowed (only A-Z a-z 0-9 . _ -)",
                                 what, c, bad);
        }
        if (!strcmp(value, ".") || !strcmp(value, ".."))
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "%s \"%s\" is not allowed", what, value);
        return SL_OK;
}

sl_err_t sl_topic_expand(const char *tmpl, const char *region, const char *type, char *out,
                         size_t out_size, char *errstr, size_t errstr_size)
{
        size_t off = 0;
        sl_err_t err;
        long bad;

        if (!tmpl || !*tmpl)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "topic.template is empty");
        if (!out || !out_size)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "no output buffer");
        for (const char *s = tmpl; *s;) {
                const char *piece;
                size_t len;

                if (*s == '{') {
                        const char *close = strchr(s, '}');

                        if (!close)
                                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                                 "topic.template \"%s\": '{' without '}'", tmpl);
                        len = (size_t)(close - s - 1);
                        if (len == 6 && !strncmp(s + 1, "region", 6)) {
                                if ((err = sl_name_validate("region", region, errstr, errstr_size)))
                                        return err;
                                piece = region;
                        } else if (len == 4 && !strncmp(s + 1, "type", 4)) {
                                if ((err = sl_name_validate("type", type, errstr, errstr_size)))
                                        return err;
                                piece = type;
                        } else {
                                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                                 "topic.template \"%s\": unknown placeholder "
                                                 "{%.*s} (only {region} and {type})",
                                                 tmpl, (int)len, s + 1);
                        }
                        s = close + 1;
                        len = strlen(piece);
                } else if (*s == '}') {
                        return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                         "topic.template \"%s\": '}' without '{'", tmpl);
                } else {
                        piece = s;
                        len = strcspn(s, "{}");
                        s += len;
                }
                if (off + len >= out_size || off + len > SL_TOPIC_MAX)
                        return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                         "topic of template \"%s\" is longer than %d characters",
                                         tmpl, SL_TOPIC_MAX);
                memcpy(out + off, piece, len);
                off += len;
        }
        out[off] = '\0';
        if ((bad = sl_name_bad_char(out)) >= 0) {
                unsigned char c = (unsigned char)out[bad];

                out[0] = '\0';
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "topic.template \"%s\": character 0x%02x ('%c') is not allowed "
                                 "in a topic name (only A-Z a-z 0-9 . _ -)",
                                 tmpl, c, c >= 0x20 && c < 0x7f ? c : '?');
        }
        if (!off || !strcmp(out, ".") || !strcmp(out, "..")) {
                out[0] = '\0';
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG,
                                 "topic.template \"%s\" gives an invalid topic name", tmpl);
        }
        return SL_OK;
}
