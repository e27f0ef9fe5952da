/**
 * @file sl_err.h
 * @brief seerlog's error codes, shared by every module.
 *
 * Every fallible seerlog call returns an sl_err_t (SL_OK on success) and, where a human needs
 * the detail, writes it into a caller-supplied buffer (`char *errstr, size_t errstr_size`),
 * the way librdkafka's rd_kafka_conf_set() does. A failing call leaves no half-done state.
 */
#ifndef SL_ERR_H
#define SL_ERR_H

#include <stddef.h>

typedef enum {
        SL_OK = 0,
        SL_ERR_INVALID_ARG,    /**< A caller passed an invalid argument or value. */
        SL_ERR_NOMEM,          /**< Out of memory. */
        SL_ERR_CONFIG,         /**< Unknown configuration key or invalid value. */
        SL_ERR_IO,             /**< File or socket I/O failed (errno in errstr). */
        SL_ERR_KAFKA,          /**< librdkafka reported an error (detail in errstr). */
        SL_ERR_TIMEOUT,        /**< An operation did not finish in time. */
        SL_ERR_NOT_FOUND,      /**< The thing asked for does not exist. */
        SL_ERR_BAD_MAGIC,      /**< Record does not start with the Confluent magic byte 0. */
        SL_ERR_TRUNCATED,      /**< Record ends before the value it announces. */
        SL_ERR_BAD_VARINT,     /**< A zig-zag varint is longer than 10 bytes or overflows. */
        SL_ERR_BAD_LENGTH,     /**< A length or count is negative or larger than the record. */
        SL_ERR_BAD_ENUM,       /**< Enum or union index outside the writer schema. */
        SL_ERR_TRAILING,       /**< Bytes left over after the record's value. */
        SL_ERR_BAD_VALUE,      /**< A value is out of range (e.g. non-UTF-8, bad boolean). */
        SL_ERR_UNKNOWN_SCHEMA, /**< No writer schema is known for the record's schema id. */
        SL_ERR_SCHEMA,         /**< Schema is invalid or cannot be read as NodeStateEvent. */
        SL_ERR_NO_SPACE,       /**< A store or file system is full (LMDB map size, ENOSPC). */
        SL_ERR__CNT
} sl_err_t;

/** @returns a short, static, human-readable name of @p err; never NULL. */
const char *sl_err_str(sl_err_t err);

/** printf into errstr (truncating safely) and return @p err: `return sl_seterr(...)`. */
sl_err_t sl_seterr(char *errstr, size_t errstr_size, sl_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
