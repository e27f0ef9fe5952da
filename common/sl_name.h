/* Names: node ids, regions and node types are limited to what a Kafka topic name allows. */
#ifndef SL_NAME_H
#define SL_NAME_H

#include <stddef.h>

#include "sl_err.h"

/** Longest node id, region and type accepted. */
#define SL_NAME_MAX 128

/**
 * @brief Checks a node id, region or type: 1..SL_NAME_MAX characters of [A-Za-z0-9._-] (what a
 *        Kafka topic name allows), not "." or "..".
 * @param what the name of the thing, for the message ("node id", "region", "type").
 */
sl_err_t sl_name_validate(const char *what, const char *value, char *errstr, size_t errstr_size);

/** @returns the index of the first character of @p s a topic name does not allow, or -1. */
long sl_name_bad_char(const char *s);

#endif
