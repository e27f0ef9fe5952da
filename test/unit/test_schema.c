/*
 * Unit tests of sl_schema: validation, the three written forms, and the compatibility checker.
 *
 * The compatibility pairs live in compat_pairs.json (path in SL_COMPAT_PAIRS_JSON), which the
 * compat_oracle test also holds to python3-avro's checker, so both implementations answer to the
 * same expectations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "sl_schema.h"

static char errstr[512];

static sl_schema_t *parse_ok(const char *text)
{
        sl_schema_t *s = NULL;
        sl_err_t err = sl_schema_parse(text, &s, errstr, sizeof(errstr));

        cr_assert_eq(err, SL_OK, "parse failed: %s\nschema: %s", errstr, text);
        cr_assert_not_null(s);
        return s;
}

static void parse_bad(const char *text, const char *fragment)
{
        sl_schema_t *s = (sl_schema_t *)1;
        sl_err_t err;

        errstr[0] = '\0';
        err = sl_schema_parse(text, &s, errstr, sizeof(errstr));
        cr_expect_eq(err, SL_ERR_SCHEMA, "expected SL_ERR_SCHEMA, got %d for %s", err, text);
        cr_expect_null(s, "no schema on failure");
        cr_expect(strstr(errstr, fragment) != NULL, "error \"%s\" lacks \"%s\" (schema %s)", errstr,
                  fragment, text);
        if (err == SL_OK)
                sl_schema_destroy(s);
}

typedef struct {
        const char *schema;
        const char *fragment;
} bad_t;

static void parse_bad_all(const bad_t *cases, size_t cnt)
{
        for (size_t i = 0; i < cnt; i++)
                parse_bad(cases[i].schema, cases[i].fragment);
}

#define BAD_ALL(cases) parse_bad_all(cases, sizeof(cases) / sizeof(cases[0]))

/* A record R with one field "f" of type @p type and default @p dflt (NULL: none). */
static char *field_schema(const char *type, const char *dflt)
{
        static char buf[2048];

        snprintf(
            buf, sizeof(buf),
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"f\",\"type\":%s%s%s}]}",
            type, dflt ? ",\"default\":" : "", dflt ? dflt : "");
        return buf;
}

static char *read_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        char *buf;
        long len;

        cr_assert_not_null(f, "cannot open %s", path);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t)len + 1);
        cr_assert_not_null(buf);
        cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
        buf[len] = '\0';
        fclose(f);
        return buf;
}

/* ---------------------------------------------------------------------------------------- */
/* Validation: invalid schemas, one test per class */

Test(schema_invalid, json_syntax)
{
        static const bad_t cases[] = {
            {"{", "not valid JSON"},
            {"", "not valid JSON"},
            {"\"int\" \"long\"", "not valid JSON"},
            {"{\"type\":\"int\",\"type\":\"long\"}", "not valid JSON"}, /* duplicate key */
        };
        sl_schema_t *s;

        BAD_ALL(cases);
        cr_expect_eq(sl_schema_parse(NULL, &s, errstr, sizeof(errstr)), SL_ERR_INVALID_ARG);
}

Test(schema_invalid, type_missing_or_malformed)
{
        static const bad_t cases[] = {
            {"{\"name\":\"x\"}", "\"type\" is missing"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\"}]}",
             "field 'a': \"type\" is missing"},
            {"{\"type\":{\"type\":\"int\"}}", "\"type\" must be a string"},
            {"42", "a type must be a JSON string, object or array"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":true}]}",
             "field 'a': a type must be"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, unknown_type_references)
{
        static const bad_t cases[] = {
            {"\"Foo\"", "unknown type \"Foo\""},
            {"{\"type\":\"integer\"}", "unknown type \"integer\""},
            {"\"record\"", "unknown type \"record\""},
            /* used before it is defined */
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"B\"},"
             "{\"name\":\"b\",\"type\":{\"type\":\"fixed\",\"name\":\"B\",\"size\":1}}]}",
             "field 'a': unknown type \"B\""},
            /* defined in namespace x, referenced by its short name from namespace y */
            {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"y\",\"fields\":["
             "{\"name\":\"a\",\"type\":{\"type\":\"fixed\",\"name\":\"B\",\"namespace\":\"x\","
             "\"size\":1}},{\"name\":\"b\",\"type\":\"B\"}]}",
             "field 'b': unknown type \"B\""},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, bad_names)
{
        static const bad_t cases[] = {
            {"{\"type\":\"record\",\"name\":\"1abc\",\"fields\":[]}",
             "\"1abc\" is not a valid name"},
            {"{\"type\":\"record\",\"name\":\"my-rec\",\"fields\":[]}", "is not a valid name"},
            {"{\"type\":\"record\",\"name\":\"\",\"fields\":[]}", "is not a valid name"},
            {"{\"type\":\"record\",\"name\":\"a..R\",\"fields\":[]}", "not a valid full name"},
            {"{\"type\":\"record\",\"name\":\"a.R.\",\"fields\":[]}", "not a valid full name"},
            {"{\"type\":\"record\",\"name\":\".R\",\"fields\":[]}", "not a valid full name"},
            {"{\"type\":\"record\",\"name\":\"a.2R\",\"fields\":[]}", "not a valid full name"},
            {"{\"type\":\"record\",\"fields\":[]}", "record has no \"name\" string"},
            {"{\"type\":\"enum\",\"name\":5,\"symbols\":[]}", "enum has no \"name\" string"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a-b\",\"type\":\"int\"}]"
             "}",
             "field name \"a-b\" is not a valid name"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"type\":\"int\"}]}",
             "field 0 has no \"name\" string"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, bad_namespaces)
{
        static const bad_t cases[] = {
            {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"1a\",\"fields\":[]}",
             "namespace \"1a\" is not a valid namespace"},
            {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a..b\",\"fields\":[]}",
             "is not a valid namespace"},
            {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.\",\"fields\":[]}",
             "is not a valid namespace"},
            {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":5,\"fields\":[]}",
             "\"namespace\" is not a string"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, primitive_names_for_named_types)
{
        static const bad_t cases[] = {
            {"{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}",
             "record name \"int\" is a primitive type name"},
            {"{\"type\":\"fixed\",\"name\":\"string\",\"namespace\":\"ns\",\"size\":1}",
             "\"ns.string\" is a primitive type name"},
            {"{\"type\":\"enum\",\"name\":\"a.null\",\"symbols\":[\"A\"]}",
             "is a primitive type name"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, duplicate_type_names)
{
        static const bad_t cases[] = {
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
             "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}}]}",
             "field 'a': type \"R\" is defined twice"},
            /* "a.E" and E in namespace a are the same full name */
            {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a\",\"fields\":["
             "{\"name\":\"x\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}},"
             "{\"name\":\"y\",\"type\":{\"type\":\"enum\",\"name\":\"a.E\",\"symbols\":[\"B\"]}}]}",
             "field 'y': type \"a.E\" is defined twice"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, duplicate_fields_and_symbols)
{
        static const bad_t cases[] = {
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
             "{\"name\":\"b\",\"type\":\"int\"},{\"name\":\"a\",\"type\":\"string\"}]}",
             "record R: field \"a\" appears twice"},
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"A\"]}",
             "enum E: symbol \"A\" appears twice"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, bad_enums)
{
        static const bad_t cases[] = {
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"1x\"]}",
             "enum E: symbol 0 is not a valid name"},
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",3]}", "symbol 1 is not a valid"},
            {"{\"type\":\"enum\",\"name\":\"E\"}", "\"symbols\" is missing or not an array"},
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"Z\"}",
             "enum E: \"default\" is not one of its symbols"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, bad_records_and_fields)
{
        static const bad_t cases[] = {
            {"{\"type\":\"record\",\"name\":\"R\"}", "\"fields\" is missing or not an array"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":{}}", "\"fields\" is missing"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[\"int\"]}",
             "field 0 is not an object"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\","
             "\"order\":\"up\"}]}",
             "\"order\" must be ascending, descending or ignore"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, bad_aliases)
{
        static const bad_t cases[] = {
            {"{\"type\":\"record\",\"name\":\"R\",\"aliases\":[\"1x\"],\"fields\":[]}",
             "record R: alias 0 is not a valid name"},
            {"{\"type\":\"record\",\"name\":\"R\",\"aliases\":\"Old\",\"fields\":[]}",
             "\"aliases\" is not an array"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\","
             "\"aliases\":[\"x.y\"]}]}",
             "field a: alias 0 is not a valid name"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, bad_unions)
{
        static const bad_t cases[] = {
            {"[\"null\",[\"int\",\"string\"]]", "a union may not contain a union (branch 1)"},
            {"[\"int\",\"string\",\"int\"]", "union has two branches of type int"},
            {"[\"int\",{\"type\":\"int\",\"logicalType\":\"date\"}]",
             "union has two branches of type int"},
            {"[{\"type\":\"array\",\"items\":\"int\"},{\"type\":\"array\",\"items\":\"string\"}]",
             "two branches of type array"},
            {"[{\"type\":\"map\",\"values\":\"int\"},{\"type\":\"map\",\"values\":\"long\"}]",
             "two branches of type map"},
            {"[{\"type\":\"fixed\",\"name\":\"F\",\"size\":1},\"F\"]", "two branches of type F"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, bad_fixed)
{
        static const bad_t cases[] = {
            {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "fixed F: \"size\" must be"},
            {"{\"type\":\"fixed\",\"name\":\"F\"}", "\"size\" must be"},
            {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":\"16\"}", "\"size\" must be"},
            {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":1.5}", "\"size\" must be"},
            {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":4294967296}", "\"size\" must be"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, arrays_and_maps_without_items)
{
        static const bad_t cases[] = {
            {"{\"type\":\"array\"}", "array has no \"items\""},
            {"{\"type\":\"map\",\"items\":\"int\"}", "map has no \"values\""},
            {"{\"type\":\"array\",\"items\":\"Nope\"}", "field '[]': unknown type \"Nope\""},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, bad_decimals)
{
        static const bad_t cases[] = {
            {"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":0}",
             "decimal precision must be a positive integer"},
            {"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":-3}",
             "precision must be a positive integer"},
            {"{\"type\":\"bytes\",\"logicalType\":\"decimal\"}", "precision must be a positive"},
            {"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":4,\"scale\":5}",
             "decimal scale must be an integer from 0 to the precision (4)"},
            {"{\"type\":\"fixed\",\"name\":\"D\",\"size\":8,\"logicalType\":\"decimal\","
             "\"precision\":4,\"scale\":-1}",
             "decimal scale"},
            {"{\"type\":\"string\",\"logicalType\":7}", "\"logicalType\" is not a string"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, nul_in_identifiers)
{
        static const bad_t cases[] = {
            {"{\"type\":\"record\",\"name\":\"R\\u0000x\",\"fields\":[]}",
             "record has no \"name\" string"},
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\\u0000B\"]}",
             "symbol 0 is not a valid name"},
            {"\"int\\u0000\"", "a type name may not contain NUL"},
            {"{\"type\":\"int\\u0000\"}", "\"type\" must be a string naming a type"},
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"e\",\"type\":"
             "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]},\"default\":\"A\\u0000\"}]}",
             "field 'e': default \"A\\u0000\" is not a symbol of enum E"},
        };
        BAD_ALL(cases);
}

Test(schema_invalid, nesting_too_deep)
{
        char *deep = malloc(200000);
        size_t n = 0;

        cr_assert_not_null(deep);
        /* 150 nested arrays: past our limit of 100. */
        for (int i = 0; i < 150; i++)
                n += (size_t)sprintf(deep + n, "{\"type\":\"array\",\"items\":");
        n += (size_t)sprintf(deep + n, "\"int\"");
        for (int i = 0; i < 150; i++)
                deep[n++] = '}';
        deep[n] = '\0';
        parse_bad(deep, "schema nests deeper than 100 levels");
        /* 20000 nested unions: jansson's own depth limit stops it first. */
        n = 0;
        for (int i = 0; i < 20000; i++)
                deep[n++] = '[';
        for (int i = 0; i < 20000; i++)
                deep[n++] = ']';
        deep[n] = '\0';
        parse_bad(deep, "not valid JSON");
        free(deep);
}

/* ---- invalid defaults, each with its path */

Test(schema_invalid, default_null_boolean)
{
        parse_bad(field_schema("\"null\"", "0"), "field 'f': default 0 is not null");
        parse_bad(field_schema("\"boolean\"", "\"true\""), "default \"true\" is not a boolean");
        parse_bad(field_schema("\"boolean\"", "1"), "default 1 is not a boolean");
}

Test(schema_invalid, default_int_long)
{
        parse_bad(field_schema("\"int\"", "\"1\""), "default \"1\" is not an int");
        parse_bad(field_schema("\"int\"", "1.5"), "default 1.5 is not an int");
        parse_bad(field_schema("\"int\"", "1.0"), "is not an int (a JSON integer)");
        parse_bad(field_schema("\"int\"", "2147483648"), "2147483648 is out of range for an int");
        parse_bad(field_schema("\"int\"", "-2147483649"), "is out of range for an int");
        parse_bad(field_schema("\"long\"", "1e3"), "is not a long");
        parse_bad(field_schema("\"long\"", "null"), "default null is not a long");
        /* beyond int64: jansson refuses the number itself */
        parse_bad(field_schema("\"long\"", "9223372036854775808"), "not valid JSON");
}

Test(schema_invalid, default_float_double)
{
        parse_bad(field_schema("\"float\"", "\"1.5\""), "is not a float");
        parse_bad(field_schema("\"float\"", "1e39"), "is out of range for a float");
        parse_bad(field_schema("\"double\"", "true"), "default true is not a double");
        /* the brief's example: a nested record's field, named by its path */
        parse_bad("{\"type\":\"record\",\"name\":\"E\",\"fields\":[{\"name\":\"usage\",\"type\":"
                  "[\"null\",{\"type\":\"record\",\"name\":\"Usage\",\"fields\":["
                  "{\"name\":\"load1\",\"type\":\"double\",\"default\":\"x\"}]}],"
                  "\"default\":null}]}",
                  "field 'usage.load1': default \"x\" is not a double");
}

Test(schema_invalid, default_string_bytes_fixed)
{
        const char *fixed4 = "{\"type\":\"fixed\",\"name\":\"F4\",\"size\":4}";

        parse_bad(field_schema("\"string\"", "5"), "default 5 is not a string");
        parse_bad(field_schema("\"bytes\"", "[1,2]"), "is not a string (bytes defaults");
        parse_bad(field_schema("\"bytes\"", "\"\\u0100\""), "has a character above \\u00FF");
        parse_bad(field_schema(fixed4, "\"abc\""),
                  "is not a string of 4 code points 0-255 (fixed F4)");
        parse_bad(field_schema(fixed4, "\"abcde\""), "(fixed F4)");
        parse_bad(field_schema(fixed4, "\"ab\\u0101c\""), "(fixed F4)");
        parse_bad(field_schema(fixed4, "1234"), "(fixed F4)");
}

Test(schema_invalid, default_enum)
{
        parse_bad(
            field_schema("{\"type\":\"enum\",\"name\":\"K\",\"symbols\":[\"A\",\"B\"]}", "\"C\""),
            "default \"C\" is not a symbol of enum K");
        parse_bad(field_schema("{\"type\":\"enum\",\"name\":\"K\",\"symbols\":[\"A\"]}", "0"),
                  "is not a symbol of enum K");
}

Test(schema_invalid, default_array_map)
{
        parse_bad(field_schema("{\"type\":\"array\",\"items\":\"int\"}", "{}"),
                  "default {} is not an array");
        parse_bad(field_schema("{\"type\":\"array\",\"items\":\"int\"}", "[1,\"x\"]"),
                  "field 'f': default at [1]: \"x\" is not an int");
        parse_bad(field_schema("{\"type\":\"map\",\"values\":\"long\"}", "[]"),
                  "default [] is not a map (a JSON object)");
        parse_bad(field_schema("{\"type\":\"map\",\"values\":\"long\"}", "{\"a\":1,\"b\":false}"),
                  "default at [\"b\"]: false is not a long");
        parse_bad(
            field_schema("{\"type\":\"array\",\"items\":{\"type\":\"map\",\"values\":\"int\"}}",
                         "[{},{\"k\":[]}]"),
            "default at [1][\"k\"]: [] is not an int");
}

Test(schema_invalid, default_record)
{
        const char *s = "{\"type\":\"record\",\"name\":\"S\",\"fields\":[{\"name\":\"a\",\"type\":"
                        "\"int\"},{\"name\":\"b\",\"type\":\"string\",\"default\":\"\"}]}";

        parse_bad(field_schema(s, "[]"), "default [] is not a record S (a JSON object)");
        parse_bad(field_schema(s, "{\"b\":\"x\"}"),
                  "default {\"b\":\"x\"} lacks field 'a' of record S, which has no default");
        parse_bad(field_schema(s, "{\"a\":\"x\"}"), "default at .a: \"x\" is not an int");
        /* a nested record's own field default, named by the full path */
        parse_bad("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"outer\",\"type\":"
                  "{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":\"inner\",\"type\":"
                  "\"int\",\"default\":\"x\"}]}}]}",
                  "field 'outer.inner': default \"x\" is not an int");
        /* records inside arrays inside maps */
        parse_bad("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"m\",\"type\":"
                  "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
                  "\"name\":\"I\",\"fields\":[{\"name\":\"x\",\"type\":\"long\",\"default\":"
                  "\"0\"}]}}}}]}",
                  "field 'm{}[].x': default \"0\" is not a long");
}

Test(schema_invalid, default_union_first_branch)
{
        parse_bad(field_schema("[\"null\",\"int\"]", "1"),
                  "default 1 is not null (a union's default must match its first branch, null)");
        parse_bad(field_schema("[\"int\",\"null\"]", "null"),
                  "is not an int (a JSON integer) (a union's default must match its first branch");
        parse_bad(field_schema("[]", "null"), "cannot be a value of an empty union");
        /* a linked list's default: next is ["null","Node"], so it must be null */
        parse_bad("{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":"
                  "\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null},"
                  "{\"name\":\"self\",\"type\":[\"null\",\"Node\"],\"default\":null},"
                  "{\"name\":\"tail\",\"type\":{\"type\":\"array\",\"items\":\"Node\"},"
                  "\"default\":[{\"v\":1,\"next\":{\"v\":2}}]}]}",
                  "field 'tail': default at [0].next: {\"v\":2} is not null");
}

/* ---------------------------------------------------------------------------------------- */
/* Validation: valid schemas */

Test(schema_valid, primitives_and_simple_forms)
{
        const char *ok[] = {
            "\"null\"",
            "\"boolean\"",
            "{\"type\":\"int\"}",
            "\"long\"",
            "\"float\"",
            "\"double\"",
            "\"bytes\"",
            "\"string\"",
            "[]",
            "[\"null\",\"string\"]",
            "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[]}",
            "{\"type\":\"fixed\",\"name\":\"Z\",\"size\":0}",
            "{\"type\":\"error\",\"name\":\"Oops\",\"fields\":[{\"name\":\"m\",\"type\":\"string\"}"
            "]}",
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":[],\"connect.name\":\"x\","
            "\"doc\":{\"any\":\"json\"}}",
        };

        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                sl_schema_destroy(parse_ok(ok[i]));
}

Test(schema_valid, long_names)
{
        char text[2048], name[401];

        memset(name, 'n', 400);
        name[400] = '\0';
        snprintf(text, sizeof(text),
                 "{\"type\":\"record\",\"name\":\"%s\",\"namespace\":\"%s.x\",\"fields\":[]}", name,
                 name);
        sl_schema_destroy(parse_ok(text));
}

Test(schema_valid, recursive_linked_list)
{
        sl_schema_t *s = parse_ok(
            "{\"type\":\"record\",\"name\":\"LongList\",\"aliases\":[\"LinkedLongs\"],\"fields\":["
            "{\"name\":\"value\",\"type\":\"long\"},"
            "{\"name\":\"next\",\"type\":[\"null\",\"LongList\"],\"default\":null},"
            "{\"name\":\"fixed_next\",\"type\":{\"type\":\"array\",\"items\":\"LongList\"},"
            "\"default\":[{\"value\":1},{\"value\":2,\"next\":null}]}]}");

        cr_expect_str_eq(
            sl_schema_canonical(s),
            "{\"name\":\"LongList\",\"type\":\"record\",\"fields\":[{\"name\":\"value\","
            "\"type\":\"long\"},{\"name\":\"next\",\"type\":[\"null\",\"LongList\"]},"
            "{\"name\":\"fixed_next\",\"type\":{\"type\":\"array\",\"items\":"
            "\"LongList\"}}]}");
        sl_schema_destroy(s);
}

Test(schema_valid, namespaces)
{
        /* inherited, explicit, dotted, reset to null with "", short and full references */
        sl_schema_t *s = parse_ok(
            "{\"type\":\"record\",\"name\":\"Outer\",\"namespace\":\"com.acme\",\"fields\":["
            "{\"name\":\"a\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":[\"X\"]}},"
            "{\"name\":\"b\",\"type\":\"Kind\"},"
            "{\"name\":\"c\",\"type\":\"com.acme.Kind\"},"
            "{\"name\":\"d\",\"type\":{\"type\":\"record\",\"name\":\"Inner\",\"namespace\":"
            "\"org.other\",\"fields\":[{\"name\":\"e\",\"type\":{\"type\":\"fixed\",\"name\":"
            "\"Hash\",\"size\":4}},{\"name\":\"k\",\"type\":\"com.acme.Kind\"}]}},"
            "{\"name\":\"f\",\"type\":\"org.other.Hash\"},"
            "{\"name\":\"g\",\"type\":{\"type\":\"fixed\",\"name\":\"x.y.Dotted\",\"namespace\":"
            "\"ignored\",\"size\":2}},"
            "{\"name\":\"h\",\"type\":{\"type\":\"fixed\",\"name\":\"Sibling\",\"size\":2}},"
            "{\"name\":\"i\",\"type\":{\"type\":\"record\",\"name\":\"Bare\",\"namespace\":\"\","
            "\"fields\":[{\"name\":\"s\",\"type\":{\"type\":\"fixed\",\"name\":\"Global\","
            "\"size\":1}}]}},"
            "{\"name\":\"j\",\"type\":\"Global\"}," /* null namespace, found from com.acme */
            "{\"name\":\"l\",\"type\":{\"type\":\"Sibling\"}}]}");

        cr_expect_str_eq(
            sl_schema_canonical(s),
            "{\"name\":\"com.acme.Outer\",\"type\":\"record\",\"fields\":["
            "{\"name\":\"a\",\"type\":{\"name\":\"com.acme.Kind\",\"type\":\"enum\",\"symbols\":["
            "\"X\"]}},{\"name\":\"b\",\"type\":\"com.acme.Kind\"},{\"name\":\"c\",\"type\":"
            "\"com.acme.Kind\"},{\"name\":\"d\",\"type\":{\"name\":\"org.other.Inner\",\"type\":"
            "\"record\",\"fields\":[{\"name\":\"e\",\"type\":{\"name\":\"org.other.Hash\",\"type\":"
            "\"fixed\",\"size\":4}},{\"name\":\"k\",\"type\":\"com.acme.Kind\"}]}},{\"name\":\"f\","
            "\"type\":\"org.other.Hash\"},{\"name\":\"g\",\"type\":{\"name\":\"x.y.Dotted\","
            "\"type\":\"fixed\",\"size\":2}},{\"name\":\"h\",\"type\":{\"name\":"
            "\"com.acme.Sibling\",\"type\":\"fixed\",\"size\":2}},{\"name\":\"i\",\"type\":{"
            "\"name\":\"Bare\",\"type\":\"record\",\"fields\":[{\"name\":\"s\",\"type\":{\"name\":"
            "\"Global\",\"type\":\"fixed\",\"size\":1}}]}},{\"name\":\"j\",\"type\":\"Global\"},"
            "{\"name\":\"l\",\"type\":\"com.acme.Sibling\"}]}");
        sl_schema_destroy(s);
}

Test(schema_valid, logical_types)
{
        const char *ok[] = {
            "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":10,\"scale\":2}",
            "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":3}",
            "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":3,\"scale\":3}",
            "{\"type\":\"fixed\",\"name\":\"Money\",\"size\":8,\"logicalType\":\"decimal\","
            "\"precision\":18,\"scale\":4}",
            "{\"type\":\"int\",\"logicalType\":\"date\"}",
            "{\"type\":\"int\",\"logicalType\":\"time-millis\"}",
            "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}",
            "{\"type\":\"string\",\"logicalType\":\"uuid\"}",
            "{\"type\":\"fixed\",\"name\":\"Dur\",\"size\":12,\"logicalType\":\"duration\"}",
            /* unknown logical types are kept and ignored, even on the wrong base type */
            "{\"type\":\"string\",\"logicalType\":\"made-up\"}",
            "{\"type\":\"string\",\"logicalType\":\"date\"}",
        };

        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                sl_schema_t *s = parse_ok(ok[i]);
                cr_expect(strstr(sl_schema_normalized(s), "logicalType") != NULL,
                          "logicalType kept in %s", sl_schema_normalized(s));
                cr_expect(strstr(sl_schema_canonical(s), "logicalType") == NULL);
                sl_schema_destroy(s);
        }
}

Test(schema_valid, every_kind_of_default)
{
        sl_schema_t *s = parse_ok(
            "{\"type\":\"record\",\"name\":\"D\",\"fields\":["
            "{\"name\":\"n\",\"type\":\"null\",\"default\":null},"
            "{\"name\":\"b\",\"type\":\"boolean\",\"default\":false},"
            "{\"name\":\"i\",\"type\":\"int\",\"default\":-2147483648},"
            "{\"name\":\"i2\",\"type\":\"int\",\"default\":2147483647},"
            "{\"name\":\"l\",\"type\":\"long\",\"default\":-9223372036854775808},"
            "{\"name\":\"f\",\"type\":\"float\",\"default\":1.5},"
            "{\"name\":\"f2\",\"type\":\"float\",\"default\":3},"
            "{\"name\":\"d\",\"type\":\"double\",\"default\":-1e300},"
            "{\"name\":\"by\",\"type\":\"bytes\",\"default\":\"\\u00ff\\u0000x\"},"
            "{\"name\":\"s\",\"type\":\"string\",\"default\":\"h\\u00e9llo \\u4e16\"},"
            "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F2\",\"size\":2},"
            "\"default\":\"\\u00e9\\u00ff\"},"
            "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"],"
            "\"default\":\"A\"},\"default\":\"B\"},"
            "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"E\"},\"default\":[\"A\","
            "\"B\"]},"
            "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"F2\"},\"default\":{\"k\":"
            "\"zz\"}},"
            "{\"name\":\"u\",\"type\":[\"string\",\"null\"],\"default\":\"x\"},"
            "{\"name\":\"u2\",\"type\":[\"null\",\"string\"],\"default\":null},"
            "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":["
            "{\"name\":\"x\",\"type\":\"int\"},{\"name\":\"y\",\"type\":\"string\",\"default\":"
            "\"\"}]},"
            "\"default\":{\"x\":1,\"extra\":\"ignored\"}},"
            "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
            "\"precision\":4},\"default\":\"\\u0001\"}]}");

        sl_schema_destroy(s);
}

Test(schema_valid, node_state_avsc)
{
        char *text = read_file(SL_NODE_STATE_AVSC);
        sl_schema_t *s = parse_ok(text);

        cr_expect_str_eq(sl_schema_text(s), text);
        cr_expect(strstr(sl_schema_canonical(s), "\"name\":\"seerlog.NodeStateEvent\"") != NULL);
        cr_expect(strstr(sl_schema_normalized(s), "\"doc\"") == NULL, "docs dropped");
        cr_expect(strstr(sl_schema_normalized(s), "\"name\":\"seerlog.Usage\"") != NULL);
        sl_schema_destroy(s);
        free(text);
}

/* ---------------------------------------------------------------------------------------- */
/* The three forms */

Test(schema_forms, compact_keeps_everything_but_whitespace)
{
        sl_schema_t *a = parse_ok("{\"type\":\"record\",\"name\":\"R\",\"doc\":\"d\",\"fields\":["
                                  "{\"name\":\"x\",\"type\":\"int\",\"default\":1}]}");
        sl_schema_t *b = parse_ok("{ \"type\" : \"record\",\n  \"name\": \"R\", \"doc\": \"d\",\n"
                                  "  \"fields\": [ { \"name\":\"x\", \"type\":\"int\",\n"
                                  "\t\"default\": 1 } ]\n}\n");
        sl_schema_t *c = parse_ok("{\"name\":\"R\",\"type\":\"record\",\"doc\":\"d\",\"fields\":["
                                  "{\"name\":\"x\",\"type\":\"int\",\"default\":1}]}");

        cr_expect_str_eq(sl_schema_compact(a), sl_schema_text(a));
        cr_expect_str_eq(sl_schema_compact(b), sl_schema_compact(a));
        cr_expect_str_neq(sl_schema_text(b), sl_schema_text(a));
        /* key order is kept: another order is another identity */
        cr_expect_str_neq(sl_schema_compact(c), sl_schema_compact(a));
        cr_expect_str_eq(sl_schema_normalized(c), sl_schema_normalized(a));
        sl_schema_destroy(a);
        sl_schema_destroy(b);
        sl_schema_destroy(c);

        a = parse_ok("  \"string\"  ");
        cr_expect_str_eq(sl_schema_compact(a), "\"string\"");
        sl_schema_destroy(a);
        a = parse_ok("{\"type\":\"string\",\"doc\":\"caf\\u00e9 \\/ \\t\"}");
        cr_expect_str_eq(sl_schema_compact(a),
                         "{\"type\":\"string\",\"doc\":\"caf\xc3\xa9 / \\t\"}");
        sl_schema_destroy(a);
}

typedef struct {
        const char *in;
        const char *out;
} form_case_t;

Test(schema_forms, normalized)
{
        static const form_case_t cases[] = {
            {"{\"type\":\"int\",\"doc\":\"x\"}", "\"int\""},
            {"[{\"type\":\"null\"},\"string\"]", "[\"null\",\"string\"]"},
            {"{\"type\":\"long\",\"logicalType\":\"timestamp-millis\",\"doc\":\"t\"}",
             "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}"},
            {"{\"scale\":0,\"precision\":5,\"logicalType\":\"decimal\",\"type\":\"bytes\"}",
             "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":5}"},
            {"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"scale\":2,\"precision\":5}",
             "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":5,\"scale\":2}"},
            {"{\"type\":\"string\",\"z\":1,\"avro.java.string\":\"String\"}",
             "{\"type\":\"string\",\"avro.java.string\":\"String\",\"z\":1}"},
            /* names qualified, namespace and docs dropped, aliases qualified and sorted */
            {"{\"namespace\":\"n\",\"name\":\"R\",\"type\":\"record\",\"doc\":\"d\",\"aliases\":"
             "[\"Z\",\"a.B\",\"Z\"],\"fields\":[{\"type\":{\"type\":\"int\"},\"name\":\"x\","
             "\"doc\":\"d\",\"order\":\"ascending\",\"aliases\":[\"w\",\"v\"],\"default\":1}]}",
             "{\"type\":\"record\",\"name\":\"n.R\",\"aliases\":[\"a.B\",\"n.Z\"],\"fields\":["
             "{\"name\":\"x\",\"aliases\":[\"v\",\"w\"],\"type\":\"int\",\"default\":1}]}"},
            /* order other than ascending is kept; custom field attributes sorted */
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":\"int\","
             "\"order\":\"ignore\",\"y\":{\"b\":1,\"a\":2}}]}",
             "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":\"int\","
             "\"order\":\"ignore\",\"y\":{\"a\":2,\"b\":1}}]}"},
            /* enum default kept; second use is the full name */
            {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":[{\"name\":\"a\","
             "\"type\":{\"symbols\":[\"B\",\"A\"],\"type\":\"enum\",\"name\":\"E\",\"default\":"
             "\"A\"},\"default\":\"B\"},{\"name\":\"b\",\"type\":\"E\"}]}",
             "{\"type\":\"record\",\"name\":\"n.R\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":"
             "\"enum\",\"name\":\"n.E\",\"symbols\":[\"B\",\"A\"],\"default\":\"A\"},\"default\":"
             "\"B\"},{\"name\":\"b\",\"type\":\"n.E\"}]}"},
            /* defaults by type: doubles as reals, record keys in field order, map keys sorted,
             * keys the record does not have dropped */
            {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"d\",\"type\":\"double\","
             "\"default\":1},{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"float\"},"
             "\"default\":{\"b\":2,\"a\":1}},{\"name\":\"s\",\"type\":{\"type\":\"record\","
             "\"name\":"
             "\"S\",\"fields\":[{\"name\":\"p\",\"type\":\"int\"},{\"name\":\"q\",\"type\":\"int\","
             "\"default\":0}]},\"default\":{\"zz\":1,\"q\":2,\"p\":1}}]}",
             "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"d\",\"type\":\"double\","
             "\"default\":1.0},{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"float\"},"
             "\"default\":{\"a\":1.0,\"b\":2.0}},{\"name\":\"s\",\"type\":{\"type\":\"record\","
             "\"name\":\"S\",\"fields\":[{\"name\":\"p\",\"type\":\"int\"},{\"name\":\"q\","
             "\"type\":"
             "\"int\",\"default\":0}]},\"default\":{\"p\":1,\"q\":2}}]}"},
            {"{\"type\":\"fixed\",\"size\":16,\"name\":\"a.MD5\",\"aliases\":[\"Hash\"]}",
             "{\"type\":\"fixed\",\"name\":\"a.MD5\",\"aliases\":[\"a.Hash\"],\"size\":16}"},
            {"{\"type\":\"error\",\"name\":\"E\",\"fields\":[]}",
             "{\"type\":\"error\",\"name\":\"E\",\"fields\":[]}"},
            {"{\"values\":{\"items\":\"int\",\"type\":\"array\"},\"type\":\"map\",\"doc\":\"x\"}",
             "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"int\"}}"},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                sl_schema_t *s = parse_ok(cases[i].in);
                cr_expect_str_eq(sl_schema_normalized(s), cases[i].out, "normalized of %s",
                                 cases[i].in);
                sl_schema_destroy(s);
        }
}

Test(schema_forms, nul_in_defaults)
{
        /* "\u0000" is a common bytes default (jansson still refuses NUL in object keys) */
        sl_schema_t *s = parse_ok("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"b\","
                                  "\"type\":\"bytes\",\"default\":\"\\u0000\"},{\"name\":\"s\","
                                  "\"type\":\"string\",\"default\":\"a\\u0000b\"}]}");

        cr_expect_str_eq(sl_schema_normalized(s),
                         "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"b\",\"type\":"
                         "\"bytes\",\"default\":\"\\u0000\"},{\"name\":\"s\",\"type\":\"string\","
                         "\"default\":\"a\\u0000b\"}]}");
        cr_expect_str_eq(sl_schema_compact(s), sl_schema_text(s));
        sl_schema_destroy(s);
        parse_bad(field_schema("{\"type\":\"map\",\"values\":\"int\"}", "{\"a\\u0000\":1}"),
                  "not valid JSON");
}

Test(schema_forms, normalized_identifies_equivalent_texts)
{
        sl_schema_t *a = parse_ok("{\"type\":\"record\",\"name\":\"a.b.R\",\"fields\":[{\"name\":"
                                  "\"x\",\"type\":\"int\",\"doc\":\"one\"}]}");
        sl_schema_t *b = parse_ok("{\"fields\":[{\"type\":{\"type\":\"int\"},\"name\":\"x\"}],"
                                  "\"namespace\":\"a.b\",\"name\":\"R\",\"type\":\"record\","
                                  "\"doc\":\"two\"}");
        sl_schema_t *c = parse_ok("{\"type\":\"record\",\"name\":\"a.b.R\",\"fields\":[{\"name\":"
                                  "\"x\",\"type\":\"int\",\"default\":0}]}");

        cr_expect_str_eq(sl_schema_normalized(a), sl_schema_normalized(b));
        cr_expect_str_neq(sl_schema_compact(a), sl_schema_compact(b));
        /* a default changes meaning */
        cr_expect_str_neq(sl_schema_normalized(a), sl_schema_normalized(c));
        cr_expect_str_eq(sl_schema_canonical(a), sl_schema_canonical(c));
        sl_schema_destroy(a);
        sl_schema_destroy(b);
        sl_schema_destroy(c);
}

/*
 * Parsing Canonical Form. Cases marked "python" were checked against python3-avro 1.11.1's
 * canonical_form; the others are derived from the spec where python3-avro deviates from it.
 */
Test(schema_forms, canonical)
{
        static const form_case_t cases[] = {
            /* python */
            {"\"int\"", "\"int\""},
            {"{\"type\":\"int\"}", "\"int\""},
            {"[\"null\",\"int\",{\"type\":\"array\",\"items\":\"long\"}]",
             "[\"null\",\"int\",{\"type\":\"array\",\"items\":\"long\"}]"},
            {"{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"bytes\"}}",
             "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"bytes\"}}"},
            {"{\"namespace\":\"com.example\",\"type\":\"record\",\"name\":\"User\",\"doc\":\"A "
             "user\",\"aliases\":[\"Person\"],\"fields\":[{\"name\":\"id\",\"type\":\"long\","
             "\"doc\":\"d\",\"default\":0,\"order\":\"descending\",\"aliases\":[\"uid\"]},{"
             "\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"},\"default\":[]}]"
             "}",
             "{\"name\":\"com.example.User\",\"type\":\"record\",\"fields\":[{\"name\":\"id\","
             "\"type\":\"long\"},{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":"
             "\"string\"}}]}"},
            {"{\"type\":\"record\",\"name\":\"Node\",\"namespace\":\"ns\",\"fields\":[{\"name\":"
             "\"v\",\"type\":\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":"
             "null}]}",
             "{\"name\":\"ns.Node\",\"type\":\"record\",\"fields\":[{\"name\":\"v\",\"type\":"
             "\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"ns.Node\"]}]}"},
            {"{\"type\":\"fixed\",\"name\":\"a.b.MD5\",\"namespace\":\"ignored\",\"size\":16}",
             "{\"name\":\"a.b.MD5\",\"type\":\"fixed\",\"size\":16}"},
            {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"],\"default\":\"A\","
             "\"doc\":\"x\"}",
             "{\"name\":\"E\",\"type\":\"enum\",\"symbols\":[\"A\",\"B\"]}"},
            /* spec [PRIMITIVES]: python keeps {"type":"string"} when other attributes exist */
            {"{\"type\":\"string\",\"doc\":\"x\",\"custom\":1}", "\"string\""},
            {"{\"type\":\"int\",\"logicalType\":\"date\"}", "\"int\""},
            {"{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":4}", "\"bytes\""},
            /* spec [FULLNAMES]: a fixed met again is its name (python repeats the definition) */
            {"{\"type\":\"record\",\"name\":\"A\",\"namespace\":\"a\",\"fields\":[{\"name\":\"f\","
             "\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":16,\"aliases\":[\"G\"]}},"
             "{\"name\":\"f2\",\"type\":\"F\"}]}",
             "{\"name\":\"a.A\",\"type\":\"record\",\"fields\":[{\"name\":\"f\",\"type\":{\"name\":"
             "\"a.F\",\"type\":\"fixed\",\"size\":16}},{\"name\":\"f2\",\"type\":\"a.F\"}]}"},
            /* spec: namespace "" is the null namespace (python applies the enclosing one) */
            {"{\"type\":\"record\",\"name\":\"Outer\",\"namespace\":\"o\",\"fields\":[{\"name\":"
             "\"in\",\"type\":{\"type\":\"record\",\"name\":\"Inner\",\"namespace\":\"\","
             "\"fields\":[]}},{\"name\":\"again\",\"type\":\"Inner\"}]}",
             "{\"name\":\"o.Outer\",\"type\":\"record\",\"fields\":[{\"name\":\"in\",\"type\":{"
             "\"name\":\"Inner\",\"type\":\"record\",\"fields\":[]}},{\"name\":\"again\",\"type\":"
             "\"Inner\"}]}"},
            /* errors are records to the data (as Avro Java writes them; python keeps "error") */
            {"{\"type\":\"error\",\"name\":\"E\",\"fields\":[]}",
             "{\"name\":\"E\",\"type\":\"record\",\"fields\":[]}"},
            /* [STRINGS], [WHITESPACE] ([INTEGERS] is moot: jansson refuses leading zeros) */
            {" { \"type\" : \"fixed\" ,\n\t\"size\" : 16 , \"name\" : \"F\" } ",
             "{\"name\":\"F\",\"type\":\"fixed\",\"size\":16}"},
            {"{\"type\":\"enum\",\"name\":\"\\u0045\",\"symbols\":[\"\\u0041\"]}",
             "{\"name\":\"E\",\"type\":\"enum\",\"symbols\":[\"A\"]}"},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                sl_schema_t *s = parse_ok(cases[i].in);
                cr_expect_str_eq(sl_schema_canonical(s), cases[i].out, "canonical of %s",
                                 cases[i].in);
                sl_schema_destroy(s);
        }
}

/* ---------------------------------------------------------------------------------------- */
/* Compatibility: the pairs shared with the oracle */

static sl_schema_t *parse_json(const json_t *j, const char *pair, const char *role)
{
        char *text = json_dumps(j, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        sl_schema_t *s = NULL;
        sl_err_t err;

        cr_assert_not_null(text);
        err = sl_schema_parse(text, &s, errstr, sizeof(errstr));
        cr_assert_eq(err, SL_OK, "pair %s: %s does not parse: %s", pair, role, errstr);
        free(text);
        return s;
}

static int messages_contain(const json_t *messages, const char *fragment)
{
        size_t i;
        const json_t *m;

        json_array_foreach(messages, i, m) if (strstr(json_string_value(m), fragment)) return 1;
        return 0;
}

Test(compat, pairs_shared_with_the_oracle)
{
        json_error_t jerr;
        json_t *pairs = json_load_file(SL_COMPAT_PAIRS_JSON, 0, &jerr);
        size_t i, checked = 0;
        const json_t *p;

        cr_assert_not_null(pairs, "%s: %s (line %d)", SL_COMPAT_PAIRS_JSON, jerr.text, jerr.line);
        cr_assert(json_array_size(pairs) >= 60, "at least 60 pairs");
        json_array_foreach(pairs, i, p)
        {
                const char *name = json_string_value(json_object_get(p, "name"));
                const char *fragment = json_string_value(json_object_get(p, "message"));
                int expected = json_is_true(json_object_get(p, "expected"));
                sl_schema_t *r = parse_json(json_object_get(p, "reader"), name, "reader");
                sl_schema_t *w = parse_json(json_object_get(p, "writer"), name, "writer");
                json_t *messages = json_array();
                int got = sl_schema_can_read(r, w, messages);
                char *dump = json_dumps(messages, 0);

                cr_expect_eq(got, expected, "pair %s: got %d, expected %d; messages %s", name, got,
                             expected, dump);
                cr_expect_eq(sl_schema_can_read(r, w, NULL), expected, "pair %s without messages",
                             name);
                if (expected)
                        cr_expect_eq(json_array_size(messages), 0, "pair %s: messages %s", name,
                                     dump);
                else
                        cr_expect(json_array_size(messages) > 0, "pair %s: no message", name);
                if (fragment)
                        cr_expect(messages_contain(messages, fragment),
                                  "pair %s: no message contains \"%s\": %s", name, fragment, dump);
                free(dump);
                json_decref(messages);
                sl_schema_destroy(r);
                sl_schema_destroy(w);
                checked++;
        }
        cr_log_info("%zu compatibility pairs checked", checked);
        json_decref(pairs);
}

/* ---------------------------------------------------------------------------------------- */
/* Compatibility: levels */

static const char *rec_v1 = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                            "\"type\":\"int\"}]}";
static const char *rec_v2 = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                            "\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\",\"default\":0}]}";
static const char *rec_v3 = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                            "\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\"}]}";

typedef struct {
        sl_compat_level_t level;
        int expected;
} level_case_t;

/* Checks @p candidate against @p versions (oldest first) under every level. */
static void check_levels(const char *const *versions, size_t cnt, const char *candidate,
                         const level_case_t *cases, size_t case_cnt)
{
        sl_schema_t *existing[8];
        sl_schema_t *c = parse_ok(candidate);

        for (size_t i = 0; i < cnt; i++)
                existing[i] = parse_ok(versions[i]);
        for (size_t i = 0; i < case_cnt; i++) {
                json_t *messages = json_array();
                int got = sl_compat_check(cases[i].level, c, (const sl_schema_t *const *)existing,
                                          cnt, messages);
                char *dump = json_dumps(messages, 0);
                cr_expect_eq(got, cases[i].expected, "%s: got %d; %s",
                             sl_compat_level_name(cases[i].level), got, dump);
                cr_expect_eq(got, !json_array_size(messages), "%s: messages iff incompatible: %s",
                             sl_compat_level_name(cases[i].level), dump);
                cr_expect_eq(sl_compat_check(cases[i].level, c,
                                             (const sl_schema_t *const *)existing, cnt, NULL),
                             got);
                free(dump);
                json_decref(messages);
        }
        for (size_t i = 0; i < cnt; i++)
                sl_schema_destroy(existing[i]);
        sl_schema_destroy(c);
}

#define CHECK_LEVELS(versions, candidate, cases)                                                   \
        check_levels(versions, sizeof(versions) / sizeof(versions[0]), candidate, cases,           \
                     sizeof(cases) / sizeof(cases[0]))

Test(compat_levels, default_removed_passes_only_non_transitive)
{
        /* v1 {a}, v2 {a, b=0}, candidate v3 {a, b}: v3 reads v2, not v1. */
        const char *versions[] = {rec_v1, rec_v2};
        static const level_case_t cases[] = {
            {SL_COMPAT_NONE, 1},
            {SL_COMPAT_BACKWARD, 1},
            {SL_COMPAT_BACKWARD_TRANSITIVE, 0},
            {SL_COMPAT_FORWARD, 1}, /* v2 reads v3: b is there */
            {SL_COMPAT_FORWARD_TRANSITIVE, 1},
            {SL_COMPAT_FULL, 1},
            {SL_COMPAT_FULL_TRANSITIVE, 0},
        };
        CHECK_LEVELS(versions, rec_v3, cases);
}

Test(compat_levels, field_readded_with_another_type)
{
        /* v1 {id, a:int}, v2 {id}, candidate v3 {id, a:string=""}: compatible with v2 only. */
        const char *versions[] = {
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
            "{\"name\":\"a\",\"type\":\"int\"}]}",
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]"
            "}",
        };
        const char *v3 =
            "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"id\",\"type\":"
            "\"string\"},{\"name\":\"a\",\"type\":\"string\",\"default\":\"\"}]}";
        static const level_case_t cases[] = {
            {SL_COMPAT_NONE, 1},
            {SL_COMPAT_BACKWARD, 1},
            {SL_COMPAT_BACKWARD_TRANSITIVE, 0},
            {SL_COMPAT_FORWARD, 1},
            {SL_COMPAT_FORWARD_TRANSITIVE, 0},
            {SL_COMPAT_FULL, 1},
            {SL_COMPAT_FULL_TRANSITIVE, 0},
        };
        CHECK_LEVELS(versions, v3, cases);
}

Test(compat_levels, enum_symbol_added)
{
        const char *versions[] = {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}"};
        static const level_case_t cases[] = {
            {SL_COMPAT_NONE, 1},
            {SL_COMPAT_BACKWARD, 1},
            {SL_COMPAT_BACKWARD_TRANSITIVE, 1},
            {SL_COMPAT_FORWARD, 0},
            {SL_COMPAT_FORWARD_TRANSITIVE, 0},
            {SL_COMPAT_FULL, 0},
            {SL_COMPAT_FULL_TRANSITIVE, 0},
        };
        CHECK_LEVELS(versions, "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}",
                     cases);
}

Test(compat_levels, optional_field_both_ways)
{
        /* int -> ["null","int"] with a default: backward ok, forward not (null is unreadable). */
        const char *versions[] = {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\","
                                  "\"type\":\"int\"}]}"};
        static const level_case_t cases[] = {
            {SL_COMPAT_BACKWARD, 1},
            {SL_COMPAT_FORWARD, 0},
            {SL_COMPAT_FULL, 0},
            {SL_COMPAT_NONE, 1},
        };
        CHECK_LEVELS(versions,
                     "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":"
                     "[\"null\",\"int\"],\"default\":null}]}",
                     cases);
}

Test(compat_levels, adding_optional_field_is_full)
{
        const char *versions[] = {rec_v1, rec_v1};
        static const level_case_t cases[] = {
            {SL_COMPAT_BACKWARD, 1}, {SL_COMPAT_BACKWARD_TRANSITIVE, 1},
            {SL_COMPAT_FORWARD, 1},  {SL_COMPAT_FORWARD_TRANSITIVE, 1},
            {SL_COMPAT_FULL, 1},     {SL_COMPAT_FULL_TRANSITIVE, 1},
        };
        CHECK_LEVELS(versions, rec_v2, cases);
}

Test(compat_levels, no_versions_is_compatible)
{
        sl_schema_t *c = parse_ok(rec_v3);
        json_t *messages = json_array();

        for (int l = 0; l < SL_COMPAT__CNT; l++)
                cr_expect_eq(sl_compat_check((sl_compat_level_t)l, c, NULL, 0, messages), 1);
        cr_expect_eq(json_array_size(messages), 0);
        cr_expect_eq(sl_compat_check(SL_COMPAT__CNT, c, NULL, 0, messages), 0);
        cr_expect(messages_contain(messages, "unknown compatibility level"));
        json_decref(messages);
        sl_schema_destroy(c);
}

Test(compat_levels, messages_name_the_version_and_direction)
{
        sl_schema_t *v[3] = {parse_ok(rec_v1), parse_ok(rec_v2), parse_ok(rec_v3)};
        sl_schema_t *c = parse_ok("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{"
                                  "\"name\":\"a\",\"type\":\"string\"}]}");
        json_t *messages = json_array();
        char *dump;

        cr_expect_eq(sl_compat_check(SL_COMPAT_FULL_TRANSITIVE, c, (const sl_schema_t *const *)v, 3,
                                     messages),
                     0);
        dump = json_dumps(messages, 0);
        /* every version fails both ways on field a; v3 also needs b, which c lacks */
        cr_expect_eq(json_array_size(messages), 7, "%s", dump);
        cr_expect(messages_contain(messages, "version index 0, new schema reading its data "
                                             "(backward): field 'a': reader string cannot read "
                                             "writer int"),
                  "%s", dump);
        cr_expect(messages_contain(messages, "version index 2, its reader reading the new schema's "
                                             "data (forward): field 'a': reader int cannot read "
                                             "writer string"),
                  "%s", dump);
        free(dump);
        json_decref(messages);
        for (int i = 0; i < 3; i++)
                sl_schema_destroy(v[i]);
        sl_schema_destroy(c);
}

Test(compat_levels, names)
{
        sl_compat_level_t l;

        for (int i = 0; i < SL_COMPAT__CNT; i++) {
                cr_expect_eq(sl_compat_level_parse(sl_compat_level_name((sl_compat_level_t)i), &l),
                             SL_OK);
                cr_expect_eq(l, (sl_compat_level_t)i);
        }
        cr_expect_str_eq(sl_compat_level_name(SL_COMPAT_BACKWARD), "BACKWARD");
        cr_expect_str_eq(sl_compat_level_name(SL_COMPAT_FULL_TRANSITIVE), "FULL_TRANSITIVE");
        cr_expect_str_eq(sl_compat_level_name(SL_COMPAT__CNT), "UNKNOWN");
        cr_expect_eq(sl_compat_level_parse("forward_transitive", &l), SL_OK);
        cr_expect_eq(l, SL_COMPAT_FORWARD_TRANSITIVE);
        cr_expect_eq(sl_compat_level_parse("Full", &l), SL_OK);
        cr_expect_eq(l, SL_COMPAT_FULL);
        cr_expect_eq(sl_compat_level_parse("FULL_TRANSITIVE ", &l), SL_ERR_INVALID_ARG);
        cr_expect_eq(sl_compat_level_parse("", &l), SL_ERR_INVALID_ARG);
        cr_expect_eq(sl_compat_level_parse(NULL, &l), SL_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------------------------------- */
/* Compatibility: hostile and large inputs */

static double seconds_since(const struct timespec *t0)
{
        struct timespec t1;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A1 {x: [null, A2], y: [null, A2]}, ..., An {x: [null, A1], y: [null, A1]}: 2^n paths. */
static char *fan_schema(int n, const char *leaf_type)
{
        char *buf = malloc(65536);
        size_t len = 0;

        cr_assert_not_null(buf);
        for (int i = 1; i <= n; i++)
                len += (size_t)sprintf(buf + len,
                                       "{\"type\":\"record\",\"name\":\"A%d\",\"fields\":["
                                       "{\"name\":\"v\",\"type\":\"%s\"},{\"name\":\"x\",\"type\":"
                                       "[\"null\",",
                                       i, leaf_type);
        len += (size_t)sprintf(buf + len, "\"A1\"]},{\"name\":\"y\",\"type\":[\"null\",\"A1\"]}]}");
        for (int i = n - 1; i >= 1; i--)
                len += (size_t)sprintf(buf + len,
                                       "]},{\"name\":\"y\",\"type\":[\"null\",\"A%d\"]}]}", i + 1);
        return buf;
}

Test(compat_hostile, shared_recursive_types_are_checked_once)
{
        char *rt = fan_schema(40, "long"), *wt = fan_schema(40, "int"),
             *bt = fan_schema(40, "string");
        sl_schema_t *r = parse_ok(rt), *w = parse_ok(wt), *bad = parse_ok(bt);
        struct timespec t0;
        json_t *messages = json_array();

        clock_gettime(CLOCK_MONOTONIC, &t0);
        cr_expect_eq(sl_schema_can_read(r, w, messages), 1);
        cr_expect_eq(sl_schema_can_read(w, r, NULL), 0);
        cr_expect_eq(sl_schema_can_read(bad, w, messages), 0);
        cr_expect(seconds_since(&t0) < 2.0, "memoised: %.3fs", seconds_since(&t0));
        cr_expect(json_array_size(messages) >= 1 && json_array_size(messages) <= 101);
        json_decref(messages);
        sl_schema_destroy(r);
        sl_schema_destroy(w);
        sl_schema_destroy(bad);
        free(rt);
        free(wt);
        free(bt);
}

/*
 * Reader {defs: [B1 .. Bn]} against writer {use: [B1 .. Bn], defs: Bn}, where B1 {p: int} and
 * B(i) {p: B(i-1)}: reading the writer's Bn recurses n deep although the JSON is flat.
 */
static char *chain_schema(int n, int writer)
{
        char *buf = malloc((size_t)n * 128 + 256);
        size_t len = 0;

        cr_assert_not_null(buf);
        len += (size_t)sprintf(buf + len,
                               "{\"type\":\"record\",\"name\":\"Top\",\"fields\":["
                               "{\"name\":\"%s\",\"type\":[",
                               writer ? "use" : "defs");
        for (int i = 1; i <= n; i++) {
                char prev[32];
                snprintf(prev, sizeof(prev), i > 1 ? "B%d" : "int", i - 1);
                len += (size_t)sprintf(buf + len,
                                       "%s{\"type\":\"record\",\"name\":\"B%d\",\"fields\":["
                                       "{\"name\":\"p\",\"type\":\"%s\"}]}",
                                       i > 1 ? "," : "", i, prev);
        }
        if (writer)
                len += (size_t)sprintf(buf + len, "]},{\"name\":\"defs\",\"type\":\"B%d\"}]}", n);
        else
                len += (size_t)sprintf(buf + len, "]}]}");
        return buf;
}

Test(compat_hostile, deep_chains_are_bounded)
{
        for (int pass = 0; pass < 2; pass++) {
                int n = pass ? 1500 : 50;
                char *rt = chain_schema(n, 0), *wt = chain_schema(n, 1);
                sl_schema_t *r = parse_ok(rt), *w = parse_ok(wt);
                json_t *messages = json_array();

                if (n < 1000) {
                        cr_expect_eq(sl_schema_can_read(r, w, messages), 1);
                } else {
                        cr_expect_eq(sl_schema_can_read(r, w, messages), 0);
                        cr_expect(messages_contain(messages, "schemas nest too deeply to check"));
                }
                json_decref(messages);
                sl_schema_destroy(r);
                sl_schema_destroy(w);
                free(rt);
                free(wt);
        }
}

Test(compat_hostile, messages_are_capped)
{
        size_t cap = 400000, len = 0;
        char *rt = malloc(cap), *wt = malloc(cap);
        sl_schema_t *r, *w;
        json_t *messages = json_array();

        cr_assert(rt && wt);
        len = (size_t)sprintf(rt, "{\"type\":\"record\",\"name\":\"R\",\"fields\":[");
        for (int i = 0; i < 5000; i++)
                len += (size_t)sprintf(rt + len, "%s{\"name\":\"f%d\",\"type\":\"int\"}",
                                       i ? "," : "", i);
        sprintf(rt + len, "]}");
        sprintf(wt, "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}");
        r = parse_ok(rt);
        w = parse_ok(wt);
        cr_expect_eq(sl_schema_can_read(r, w, messages), 0);
        cr_expect_eq(json_array_size(messages), 101);
        cr_expect(messages_contain(messages, "further incompatibilities not listed"));
        /* a non-array messages argument is ignored */
        json_decref(messages);
        messages = json_object();
        cr_expect_eq(sl_schema_can_read(r, w, messages), 0);
        cr_expect_eq(json_object_size(messages), 0);
        json_decref(messages);
        sl_schema_destroy(r);
        sl_schema_destroy(w);
        free(rt);
        free(wt);
}
