/* Topic routing: topic.template expansion (the name rules are in common/sl_name.c). */
#include <string.h>

#include "producer_int.h"

#define SL_TOPIC_MAX 249

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
