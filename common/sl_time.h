/**
 * @file sl_time.h
 * @brief Points in time as users type them (--since, --until) and as seerlog prints them.
 *
 * Accepted forms (sl_time_parse()):
 *  - `now`;
 *  - relative to now: `-90s`, `-15m`, `-2h`, `-7d`, `-500ms` (also `now-2h`, `2h ago`);
 *  - RFC 3339 / ISO 8601: `2026-11-29T03:12:00Z`, `2026-11-29T03:12:00.250+01:00`,
 *    `2026-11-29 03:12` (a space for the T; seconds and fraction optional; without a zone the
 *    time is UTC), `2026-11-29` (midnight UTC);
 *  - milliseconds since the epoch: `1764386000000` (digits only), or seconds: `@1764386000`.
 */
#ifndef SL_TIME_H
#define SL_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "sl_err.h"

/** Room for sl_time_format()'s text, NUL included: "2026-11-29T03:12:00.123Z". */
#define SL_TIME_TEXT_SIZE 32

/**
 * @brief Parses @p text (see the file comment) into ms since the epoch, relative forms counted
 *        from @p now_ms.
 * @returns SL_OK, or SL_ERR_INVALID_ARG with the text and the accepted forms named in errstr.
 */
sl_err_t sl_time_parse(const char *text, int64_t now_ms, int64_t *msp, char *errstr,
                       size_t errstr_size);

/** Writes @p ms as RFC 3339 UTC with milliseconds ("2026-11-29T03:12:00.123Z"). @returns @p buf. */
char *sl_time_format(int64_t ms, char *buf, size_t size);

#endif
