/* Points in time as users type them and as seerlog prints them (see sl_time.h). */
#include "sl_time.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SL_TIME_FORMS                                                                              \
        "expected now, -15m / -2h / -7d (also '2h ago'), 2026-11-29T03:12:00Z (RFC 3339; no "      \
        "zone means UTC), 2026-11-29, milliseconds since the epoch, or @SECONDS"

/* Largest magnitude accepted: year 9999 is about 2.5e14 ms. */
#define SL_TIME_MAX_MS 253402300799999LL

static sl_err_t sl_time_bad(const char *text, const char *why, char *errstr, size_t errstr_size)
{
        return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "'%.64s': %s; %s", text, why,
                         SL_TIME_FORMS);
}

/* Reads exactly @p n digits at *pp. @returns the value, or -1. */
static int sl_digits(const char **pp, int n)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*pp)[i]))
                        return -1;
                v = v * 10 + ((*pp)[i] - '0');
        }
        *pp += n;
        return v;
}

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian; Howard Hinnant's algorithm). */
static int64_t sl_days_from_civil(int64_t y, int m, int d)
{
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static int sl_days_in_month(int y, int m)
{
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return m == 2 && leap ? 29 : days[m - 1];
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|(+|-)HH:MM]" */
static sl_err_t sl_time_parse_iso(const char *text, int64_t *msp, char *errstr, size_t errstr_size)
{
        const char *p = text;
        int y, mo, d, h = 0, mi = 0, s = 0, ms = 0, off_min = 0;

        if ((y = sl_digits(&p, 4)) < 0 || *p++ != '-' || (mo = sl_digits(&p, 2)) < 0 ||
            *p++ != '-' || (d = sl_digits(&p, 2)) < 0)
                return sl_time_bad(text, "not a date", errstr, errstr_size);
        if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > sl_days_in_month(y, mo))
                return sl_time_bad(text, "no such date (from 1970 on)", errstr, errstr_size);
        if (*p == 'T' || *p == 't' || *p == ' ') {
                p++;
                if ((h = sl_digits(&p, 2)) < 0 || *p++ != ':' || (mi = sl_digits(&p, 2)) < 0)
                        return sl_time_bad(text, "expected HH:MM after the date", errstr,
                                           errstr_size);
                if (*p == ':') {
                        p++;
                        if ((s = sl_digits(&p, 2)) < 0)
                                return sl_time_bad(text, "expected SS after HH:MM:", errstr,
                                                   errstr_size);
                        if (*p == '.' || *p == ',') {
                                int n = 0;

                                p++;
                                if (!isdigit((unsigned char)*p))
                                        return sl_time_bad(text, "expected a fraction", errstr,
                                                           errstr_size);
                                for (; isdigit((unsigned char)*p); p++, n++)
                                        if (n < 3)
                                                ms = ms * 10 + (*p - '0');
                                for (; n < 3; n++)
                                        ms *= 10;
                        }
                }
                if (h > 23 || mi > 59 || s > 60)
                        return sl_time_bad(text, "no such time of day", errstr, errstr_size);
                if (s == 60) /* a leap second: the next second */
                        s = 59, ms = 999;
                if (*p == 'Z' || *p == 'z') {
                        p++;
                } else if (*p == '+' || *p == '-') {
                        int sign = *p++ == '-' ? -1 : 1, oh, om;

                        if ((oh = sl_digits(&p, 2)) < 0 || (*p == ':' && !*++p) ||
                            (om = sl_digits(&p, 2)) < 0 || oh > 23 || om > 59)
                                return sl_time_bad(text, "bad zone offset (+HH:MM)", errstr,
                                                   errstr_size);
                        off_min = sign * (oh * 60 + om);
                }
        }
        if (*p)
                return sl_time_bad(text, "unexpected text after the time", errstr, errstr_size);
        *msp = ((sl_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) -
                (int64_t)off_min * 60) *
                   1000 +
               ms;
        return SL_OK;
}

/* "-15m", "15m ago", "now-15m": @p sign -1 before the amount. */
static sl_err_t sl_time_parse_rel(const char *text, const char *p, int64_t now_ms, int64_t *msp,
                                  char *errstr, size_t errstr_size)
{
        static const struct {
                const char *unit;
                int64_t ms;
        } units[] = {{"ms", 1},      {"s", 1000},     {"m", 60000},
                     {"h", 3600000}, {"d", 86400000}, {"w", 7 * 86400000LL}};
        char *end;
        long long n;

        errno = 0;
        if (!isdigit((unsigned char)*p))
                return sl_time_bad(text, "expected an amount", errstr, errstr_size);
        n = strtoll(p, &end, 10);
        if (errno || n > SL_TIME_MAX_MS)
                return sl_time_bad(text, "amount too large", errstr, errstr_size);
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                size_t len = strlen(units[i].unit);

                if (strncmp(end, units[i].unit, len) ||
                    (end[len] && strcmp(end + len, " ago") && strcmp(end + len, "ago")))
                        continue;
                if (n > SL_TIME_MAX_MS / units[i].ms)
                        return sl_time_bad(text, "amount too large", errstr, errstr_size);
                *msp = now_ms - n * units[i].ms;
                return SL_OK;
        }
        return sl_time_bad(text, "unknown unit (ms, s, m, h, d, w)", errstr, errstr_size);
}

sl_err_t sl_time_parse(const char *text, int64_t now_ms, int64_t *msp, char *errstr,
                       size_t errstr_size)
{
        const char *p = text;
        size_t len;

        if (!text || !*text)
                return sl_time_bad(text ? text : "", "empty", errstr, errstr_size);
        len = strlen(text);
        if (!strcmp(text, "now")) {
                *msp = now_ms;
                return SL_OK;
        }
        if (!strncmp(text, "now-", 4))
                return sl_time_parse_rel(text, text + 4, now_ms, msp, errstr, errstr_size);
        if (text[0] == '-')
                return sl_time_parse_rel(text, text + 1, now_ms, msp, errstr, errstr_size);
        if (len > 3 && !strcmp(text + len - 3, "ago"))
                return sl_time_parse_rel(text, text, now_ms, msp, errstr, errstr_size);
        if (text[0] == '@' || isdigit((unsigned char)text[0])) {
                int secs = text[0] == '@';
                char *end;
                long long n;

                p += secs;
                while (isdigit((unsigned char)*p))
                        p++;
                /* "2026-..." is a date, not a number. */
                if (!secs && *p == '-' && p - text == 4)
                        return sl_time_parse_iso(text, msp, errstr, errstr_size);
                if (*p || p == text + secs)
                        return sl_time_bad(text, "not a number", errstr, errstr_size);
                errno = 0;
                n = strtoll(text + secs, &end, 10);
                if (errno || n > (secs ? SL_TIME_MAX_MS / 1000 : SL_TIME_MAX_MS))
                        return sl_time_bad(text, "too large", errstr, errstr_size);
                *msp = secs ? n * 1000 : n;
                return SL_OK;
        }
        return sl_time_bad(text, "not a time", errstr, errstr_size);
}

char *sl_time_format(int64_t ms, char *buf, size_t size)
{
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        int frac = (int)(ms - (int64_t)secs * 1000);
        struct tm tm;

        if (!gmtime_r(&secs, &tm))
                snprintf(buf, size, "%lld", (long long)ms);
        else
                snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
        return buf;
}
