/* Unit tests of common/sl_time: the times --since and --until accept, and how they print. */
#include <criterion/criterion.h>

#include <string.h>

#include "sl_time.h"

#define NOW 1764386000123LL /* 2025-11-29T03:13:20.123Z */

static int64_t parse_ok(const char *text)
{
        char errstr[256] = "";
        int64_t ms = -1;

        cr_assert_eq(sl_time_parse(text, NOW, &ms, errstr, sizeof(errstr)), SL_OK, "%s: %s", text,
                     errstr);
        return ms;
}

static void parse_bad(const char *text, const char *why)
{
        char errstr[256] = "";
        int64_t ms = -1;

        cr_assert_eq(sl_time_parse(text, NOW, &ms, errstr, sizeof(errstr)), SL_ERR_INVALID_ARG,
                     "%s was accepted as %lld", text, (long long)ms);
        cr_assert(strstr(errstr, why), "%s: %s (expected '%s')", text, errstr, why);
        cr_assert_eq(ms, -1);
}

Test(time, rfc3339)
{
        cr_assert_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
        cr_assert_eq(parse_ok("2025-11-29T03:13:20.123Z"), NOW);
        cr_assert_eq(parse_ok("2025-11-29T03:13:20.1234567Z"), NOW);
        cr_assert_eq(parse_ok("2025-11-29t03:13:20,123z"), NOW);
        cr_assert_eq(parse_ok("2025-11-29T04:13:20.123+01:00"), NOW);
        cr_assert_eq(parse_ok("2025-11-29T04:13:20.123+0100"), NOW);
        cr_assert_eq(parse_ok("2025-11-28T22:13:20.123-05:00"), NOW);
        cr_assert_eq(parse_ok("2025-11-29 03:13:20.123"), NOW);
        cr_assert_eq(parse_ok("2025-11-29 03:13"), NOW - 20123);
        cr_assert_eq(parse_ok("2025-11-29"), NOW - (3 * 3600 + 13 * 60 + 20) * 1000LL - 123);
        cr_assert_eq(parse_ok("2024-02-29T00:00:00Z"), 1709164800000LL);
        cr_assert_eq(parse_ok("2000-03-01T00:00:00Z"), 951868800000LL);
}

Test(time, relative_and_numbers)
{
        cr_assert_eq(parse_ok("now"), NOW);
        cr_assert_eq(parse_ok("-90s"), NOW - 90000);
        cr_assert_eq(parse_ok("-15m"), NOW - 900000);
        cr_assert_eq(parse_ok("now-2h"), NOW - 7200000);
        cr_assert_eq(parse_ok("2h ago"), NOW - 7200000);
        cr_assert_eq(parse_ok("-1d"), NOW - 86400000);
        cr_assert_eq(parse_ok("-1w"), NOW - 7 * 86400000LL);
        cr_assert_eq(parse_ok("-500ms"), NOW - 500);
        cr_assert_eq(parse_ok("1764386000123"), NOW);
        cr_assert_eq(parse_ok("0"), 0);
        cr_assert_eq(parse_ok("@1764386000"), 1764386000000LL);
}

Test(time, garbage)
{
        parse_bad("", "empty");
        parse_bad("yesterday", "not a time");
        parse_bad("2025-13-01", "no such date");
        parse_bad("2025-02-29", "no such date");
        parse_bad("1969-12-31", "no such date");
        parse_bad("2025-11-29T25:00", "no such time");
        parse_bad("2025-11-29T03", "HH:MM");
        parse_bad("2025-11-29T03:13:20.Z", "fraction");
        parse_bad("2025-11-29T03:13:20+1", "zone offset");
        parse_bad("2025-11-29T03:13:20Z junk", "unexpected text");
        parse_bad("2025/11/29", "not a number");
        parse_bad("-15", "unknown unit");
        parse_bad("-15x", "unknown unit");
        parse_bad("-m", "amount");
        parse_bad("-99999999999999999999h", "too large");
        parse_bad("99999999999999999999", "too large");
        parse_bad("@", "not a number");
        parse_bad("12ab", "not a number");
}

Test(time, format)
{
        char buf[SL_TIME_TEXT_SIZE];

        cr_assert_str_eq(sl_time_format(NOW, buf, sizeof(buf)), "2025-11-29T03:13:20.123Z");
        cr_assert_str_eq(sl_time_format(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
        cr_assert_eq(parse_ok(sl_time_format(NOW, buf, sizeof(buf))), NOW);
}
