#include "sl_err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const sl_err_names[SL_ERR__CNT] = {
    [SL_OK] = "success",
    [SL_ERR_INVALID_ARG] = "invalid argument",
    [SL_ERR_NOMEM] = "out of memory",
    [SL_ERR_CONFIG] = "configuration error",
    [SL_ERR_IO] = "I/O error",
    [SL_ERR_KAFKA] = "Kafka error",
    [SL_ERR_TIMEOUT] = "timed out",
    [SL_ERR_NOT_FOUND] = "not found",
    [SL_ERR_BAD_MAGIC] = "bad magic byte",
    [SL_ERR_TRUNCATED] = "truncated record",
    [SL_ERR_BAD_VARINT] = "bad varint",
    [SL_ERR_BAD_LENGTH] = "bad length",
    [SL_ERR_BAD_ENUM] = "enum or union index out of range",
    [SL_ERR_TRAILING] = "trailing bytes after record",
    [SL_ERR_BAD_VALUE] = "bad value",
    [SL_ERR_UNKNOWN_SCHEMA] = "unknown schema id",
    [SL_ERR_SCHEMA] = "schema error",
    [SL_ERR_NO_SPACE] = "no space left",
};

const char *sl_err_str(sl_err_t err)
{
        if ((int)err < 0 || err >= SL_ERR__CNT || !sl_err_names[err])
                return "unknown error";
        return sl_err_names[err];
}

sl_err_t sl_seterr(char *errstr, size_t errstr_size, sl_err_t err, const char *fmt, ...)
{
        va_list ap;

        if (errstr && errstr_size > 0) {
                va_start(ap, fmt);
                vsnprintf(errstr, errstr_size, fmt, ap);
                va_end(ap);
        }
        return err;
}
