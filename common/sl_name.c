/* Names: what Kafka topic names allow, for node ids, regions and types (sl_name.h). */
#include "sl_name.h"

#include <string.h>

static int sl_name_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
}

long sl_name_bad_char(const char *s)
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
