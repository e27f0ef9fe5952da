/*
 * Avro schemas as jansson-parsed trees, and their resolution against NodeStateEvent.
 *
 * Avro C's parser drops defaults and its resolver works by position (see
 * ../shared/notes/avro-c.md), so the decoder walks its own tree of the writer schema and reads
 * fields by name into the slots of the reader (sl_slot_defs).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_int.h"

#define SL_SCHEMA_MAX_DEPTH 64

const sl_slot_def_t sl_slot_defs[SL_SLOT__CNT] = {
    [SL_SLOT_EVENT_ID] = {SL_ROLE_EVENT, "event_id", SL_SK_STRING, 0},
    [SL_SLOT_NODE_ID] = {SL_ROLE_EVENT, "node_id", SL_SK_STRING, 0},
    [SL_SLOT_NODE_TYPE] = {SL_ROLE_EVENT, "node_type", SL_SK_STRING, 0},
    [SL_SLOT_REGION] = {SL_ROLE_EVENT, "region", SL_SK_STRING, 0},
    [SL_SLOT_CLUSTER] = {SL_ROLE_EVENT, "cluster", SL_SK_STRING, 0},
    [SL_SLOT_INCARNATION] = {SL_ROLE_EVENT, "incarnation", SL_SK_LONG, 0},
    [SL_SLOT_SEQ] = {SL_ROLE_EVENT, "seq", SL_SK_LONG, 0},
    [SL_SLOT_EVENT_TIME] = {SL_ROLE_EVENT, "event_time", SL_SK_LONG, 0},
    [SL_SLOT_KIND] = {SL_ROLE_EVENT, "kind", SL_SK_ENUM, SL_ROLE_KIND},
    [SL_SLOT_STATUS] = {SL_ROLE_EVENT, "status", SL_SK_ENUM, SL_ROLE_STATUS},
    [SL_SLOT_HOSTNAME] = {SL_ROLE_EVENT, "hostname", SL_SK_STRING, 0},
    [SL_SLOT_ADDRESSES] = {SL_ROLE_EVENT, "addresses", SL_SK_STRING_ARRAY, 0},
    [SL_SLOT_SERVICES] = {SL_ROLE_EVENT, "services", SL_SK_SERVICE_ARRAY, 0},
    [SL_SLOT_USAGE] = {SL_ROLE_EVENT, "usage", SL_SK_USAGE, 0},
    [SL_SLOT_LABELS] = {SL_ROLE_EVENT, "labels", SL_SK_STRING_MAP, 0},
    [SL_SLOT_AGENT_VERSION] = {SL_ROLE_EVENT, "agent_version", SL_SK_STRING, 0},
    [SL_SLOT_SOURCE] = {SL_ROLE_EVENT, "source", SL_SK_ENUM, SL_ROLE_SOURCE},
    [SL_SLOT_SVC_NAME] = {SL_ROLE_SERVICE, "name", SL_SK_STRING, 0},
    [SL_SLOT_SVC_META] = {SL_ROLE_SERVICE, "meta", SL_SK_STRING_MAP, 0},
    [SL_SLOT_U_CPU_PERCENT] = {SL_ROLE_USAGE, "cpu_percent", SL_SK_DOUBLE, 0},
    [SL_SLOT_U_CPU_COUNT] = {SL_ROLE_USAGE, "cpu_count", SL_SK_INT, 0},
    [SL_SLOT_U_LOAD1] = {SL_ROLE_USAGE, "load1", SL_SK_DOUBLE, 0},
    [SL_SLOT_U_LOAD5] = {SL_ROLE_USAGE, "load5", SL_SK_DOUBLE, 0},
    [SL_SLOT_U_LOAD15] = {SL_ROLE_USAGE, "load15", SL_SK_DOUBLE, 0},
    [SL_SLOT_U_MEM_TOTAL] = {SL_ROLE_USAGE, "mem_total", SL_SK_LONG, 0},
    [SL_SLOT_U_MEM_USED] = {SL_ROLE_USAGE, "mem_used", SL_SK_LONG, 0},
    [SL_SLOT_U_MEM_AVAILABLE] = {SL_ROLE_USAGE, "mem_available", SL_SK_LONG, 0},
    [SL_SLOT_U_DISK_TOTAL] = {SL_ROLE_USAGE, "disk_total", SL_SK_LONG, 0},
    [SL_SLOT_U_DISK_USED] = {SL_ROLE_USAGE, "disk_used", SL_SK_LONG, 0},
    [SL_SLOT_U_SENSORS] = {SL_ROLE_USAGE, "sensors", SL_SK_DOUBLE_MAP, 0},
};

static const char *const atype_names[] = {
    [SL_AT_NULL] = "null",   [SL_AT_BOOLEAN] = "boolean", [SL_AT_INT] = "int",
    [SL_AT_LONG] = "long",   [SL_AT_FLOAT] = "float",     [SL_AT_DOUBLE] = "double",
    [SL_AT_BYTES] = "bytes", [SL_AT_STRING] = "string",   [SL_AT_RECORD] = "record",
    [SL_AT_ENUM] = "enum",   [SL_AT_ARRAY] = "array",     [SL_AT_MAP] = "map",
    [SL_AT_UNION] = "union", [SL_AT_FIXED] = "fixed",
};

const char *sl_atype_name(sl_atype_t t)
{
        return atype_names[t];
}

typedef struct {
        sl_aschema_t *schema;
        char *errstr;
        size_t errstr_size;
        sl_err_t err;
} parse_ctx_t;

__attribute__((format(printf, 2, 3))) static void fail(parse_ctx_t *ctx, const char *fmt, ...)
{
        va_list ap;

        if (ctx->err)
                return; /* keep the first error */
        ctx->err = SL_ERR_SCHEMA;
        if (ctx->errstr && ctx->errstr_size) {
                va_start(ap, fmt);
                vsnprintf(ctx->errstr, ctx->errstr_size, fmt, ap);
                va_end(ap);
        }
}

static sl_anode_t *node_new(parse_ctx_t *ctx, sl_atype_t type)
{
        sl_anode_t *n = calloc(1, sizeof(*n));

        if (!n) {
                fail(ctx, "out of memory");
                ctx->err = SL_ERR_NOMEM;
                return NULL;
        }
        n->type = type;
        n->next_alloc = ctx->schema->all;
        ctx->schema->all = n;
        return n;
}

static int primitive_type(const char *name, sl_atype_t *t)
{
        for (int i = SL_AT_NULL; i <= SL_AT_STRING; i++) {
                if (!strcmp(name, atype_names[i])) {
                        *t = (sl_atype_t)i;
                        return 1;
                }
        }
        return 0;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static int valid_name(const char *s)
{
        if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
                return 0;
        for (s++; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                      (*s >= '0' && *s <= '9') || *s == '_'))
                        return 0;
        return 1;
}

/* Dotted names: every component a valid name. */
static int valid_fullname(const char *s)
{
        char buf[512];
        size_t len = strlen(s);

        if (len == 0 || len >= sizeof(buf))
                return 0;
        memcpy(buf, s, len + 1);
        for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok;
             tok = strtok_r(NULL, ".", &save))
                if (!valid_name(tok))
                        return 0;
        return s[0] != '.' && s[len - 1] != '.' && !strstr(s, "..");
}

static char *make_fullname(const char *name, const char *ns)
{
        char *full;
        size_t len;

        if (strchr(name, '.') || !ns || !*ns)
                return strdup(name);
        len = strlen(ns) + 1 + strlen(name) + 1;
        full = malloc(len);
        if (full)
                snprintf(full, len, "%s.%s", ns, name);
        return full;
}

static sl_anode_t *find_named(parse_ctx_t *ctx, const char *fullname)
{
        for (sl_anode_t *n = ctx->schema->all; n; n = n->next_alloc)
                if (n->fullname && !strcmp(n->fullname, fullname))
                        return n;
        return NULL;
}

/* The namespace part of a full name, written into buf. */
static const char *namespace_of(const char *fullname, char *buf, size_t size)
{
        const char *dot = strrchr(fullname, '.');

        if (!dot || (size_t)(dot - fullname) >= size)
                return "";
        memcpy(buf, fullname, (size_t)(dot - fullname));
        buf[dot - fullname] = '\0';
        return buf;
}

static sl_anode_t *parse_node(parse_ctx_t *ctx, const json_t *j, const char *ns, int depth);

static sl_anode_t *parse_reference(parse_ctx_t *ctx, const char *name, const char *ns)
{
        sl_atype_t t;
        sl_anode_t *n;
        char *full;

        if (primitive_type(name, &t))
                return node_new(ctx, t);
        full = make_fullname(name, ns);
        if (!full) {
                fail(ctx, "out of memory");
                return NULL;
        }
        n = find_named(ctx, full);
        if (!n && strcmp(full, name))
                n = find_named(ctx, name); /* a name in the null namespace */
        if (!n)
                fail(ctx, "unknown type \"%s\"", name);
        free(full);
        return n;
}

/* Defines a named type's full name; fails on a bad or duplicate name. */
static int define_name(parse_ctx_t *ctx, sl_anode_t *n, const json_t *j, const char *ns,
                       const char **nsp, char *nsbuf, size_t nsbuf_size)
{
        const char *name = json_string_value(json_object_get(j, "name"));
        const json_t *jns = json_object_get(j, "namespace");

        if (!name) {
                fail(ctx, "%s without a \"name\"", sl_atype_name(n->type));
                return 0;
        }
        if (jns && !json_is_string(jns) && !json_is_null(jns)) {
                fail(ctx, "\"namespace\" of %s is not a string", name);
                return 0;
        }
        if (jns && json_is_string(jns))
                ns = json_string_value(jns);
        if (ns && *ns && !valid_fullname(ns)) {
                fail(ctx, "invalid namespace \"%s\"", ns);
                return 0;
        }
        if (!valid_fullname(name)) {
                fail(ctx, "invalid name \"%s\"", name);
                return 0;
        }
        n->fullname = make_fullname(name, ns);
        if (!n->fullname) {
                fail(ctx, "out of memory");
                return 0;
        }
        for (sl_anode_t *o = ctx->schema->all; o; o = o->next_alloc) {
                if (o != n && o->fullname && !strcmp(o->fullname, n->fullname)) {
                        fail(ctx, "type \"%s\" is defined twice", n->fullname);
                        return 0;
                }
        }
        *nsp = namespace_of(n->fullname, nsbuf, nsbuf_size);
        return 1;
}

static sl_anode_t *parse_record(parse_ctx_t *ctx, const json_t *j, const char *ns, int depth)
{
        char nsbuf[512];
        const char *inner_ns;
        sl_anode_t *n = node_new(ctx, SL_AT_RECORD);
        const json_t *fields = json_object_get(j, "fields");
        size_t i;
        const json_t *f;

        if (!n || !define_name(ctx, n, j, ns, &inner_ns, nsbuf, sizeof(nsbuf)))
                return NULL;
        if (!json_is_array(fields)) {
                fail(ctx, "record %s: \"fields\" is not an array", n->fullname);
                return NULL;
        }
        n->field_cnt = json_array_size(fields);
        n->fields = calloc(n->field_cnt ? n->field_cnt : 1, sizeof(*n->fields));
        if (!n->fields) {
                fail(ctx, "out of memory");
                return NULL;
        }
        json_array_foreach(fields, i, f)
        {
                const char *fname = json_string_value(json_object_get(f, "name"));
                if (!json_is_object(f) || !valid_name(fname)) {
                        fail(ctx, "record %s: field %zu has no valid \"name\"", n->fullname, i);
                        return NULL;
                }
                for (size_t k = 0; k < i; k++) {
                        if (!strcmp(n->fields[k].name, fname)) {
                                fail(ctx, "record %s: field \"%s\" appears twice", n->fullname,
                                     fname);
                                return NULL;
                        }
                }
                n->fields[i].name = strdup(fname);
                n->fields[i].slot = -1;
                if (!n->fields[i].name) {
                        fail(ctx, "out of memory");
                        return NULL;
                }
                n->fields[i].type =
                    parse_node(ctx, json_object_get(f, "type"), inner_ns, depth + 1);
                if (!n->fields[i].type) {
                        fail(ctx, "record %s: field \"%s\" has no valid \"type\"", n->fullname,
                             fname);
                        return NULL;
                }
        }
        return n;
}

static sl_anode_t *parse_enum(parse_ctx_t *ctx, const json_t *j, const char *ns)
{
        char nsbuf[512];
        const char *inner_ns;
        sl_anode_t *n = node_new(ctx, SL_AT_ENUM);
        const json_t *symbols = json_object_get(j, "symbols");
        size_t i;
        const json_t *s;

        if (!n || !define_name(ctx, n, j, ns, &inner_ns, nsbuf, sizeof(nsbuf)))
                return NULL;
        if (!json_is_array(symbols) || json_array_size(symbols) == 0) {
                fail(ctx, "enum %s: \"symbols\" is not a non-empty array", n->fullname);
                return NULL;
        }
        n->symbol_cnt = json_array_size(symbols);
        n->symbols = calloc(n->symbol_cnt, sizeof(*n->symbols));
        n->enum_map = calloc(n->symbol_cnt, sizeof(*n->enum_map));
        if (!n->symbols || !n->enum_map) {
                fail(ctx, "out of memory");
                return NULL;
        }
        json_array_foreach(symbols, i, s)
        {
                const char *sym = json_string_value(s);
                if (!valid_name(sym)) {
                        fail(ctx, "enum %s: symbol %zu is not a valid name", n->fullname, i);
                        return NULL;
                }
                for (size_t k = 0; k < i; k++) {
                        if (!strcmp(n->symbols[k], sym)) {
                                fail(ctx, "enum %s: symbol \"%s\" appears twice", n->fullname, sym);
                                return NULL;
                        }
                }
                n->symbols[i] = strdup(sym);
                if (!n->symbols[i]) {
                        fail(ctx, "out of memory");
                        return NULL;
                }
        }
        const json_t *dflt = json_object_get(j, "default");
        if (dflt) {
                size_t k;
                for (k = 0; json_is_string(dflt) && k < n->symbol_cnt; k++)
                        if (!strcmp(n->symbols[k], json_string_value(dflt)))
                                break;
                if (!json_is_string(dflt) || k == n->symbol_cnt) {
                        fail(ctx, "enum %s: \"default\" is not one of its symbols", n->fullname);
                        return NULL;
                }
        }
        return n;
}

static sl_anode_t *parse_fixed(parse_ctx_t *ctx, const json_t *j, const char *ns)
{
        char nsbuf[512];
        const char *inner_ns;
        sl_anode_t *n = node_new(ctx, SL_AT_FIXED);
        const json_t *size = json_object_get(j, "size");

        if (!n || !define_name(ctx, n, j, ns, &inner_ns, nsbuf, sizeof(nsbuf)))
                return NULL;
        if (!json_is_integer(size) || json_integer_value(size) < 0 ||
            json_integer_value(size) > (1 << 30)) {
                fail(ctx, "fixed %s: \"size\" is not a valid size", n->fullname);
                return NULL;
        }
        n->size = (size_t)json_integer_value(size);
        return n;
}

/* The identity of a union branch: its type, or its full name for named types. */
static const char *branch_key(const sl_anode_t *n)
{
        return n->fullname ? n->fullname : sl_atype_name(n->type);
}

static sl_anode_t *parse_union(parse_ctx_t *ctx, const json_t *j, const char *ns, int depth)
{
        sl_anode_t *n = node_new(ctx, SL_AT_UNION);
        size_t i;
        const json_t *b;

        if (!n)
                return NULL;
        n->branch_cnt = json_array_size(j);
        if (n->branch_cnt == 0) {
                fail(ctx, "empty union");
                return NULL;
        }
        n->branches = calloc(n->branch_cnt, sizeof(*n->branches));
        n->branch_ok = calloc(n->branch_cnt, 1);
        if (!n->branches || !n->branch_ok) {
                fail(ctx, "out of memory");
                return NULL;
        }
        json_array_foreach(j, i, b)
        {
                n->branches[i] = parse_node(ctx, b, ns, depth + 1);
                if (!n->branches[i])
                        return NULL;
                if (n->branches[i]->type == SL_AT_UNION) {
                        fail(ctx, "a union may not directly contain a union");
                        return NULL;
                }
                for (size_t k = 0; k < i; k++) {
                        if (!strcmp(branch_key(n->branches[k]), branch_key(n->branches[i]))) {
                                fail(ctx, "union has two branches of type %s",
                                     branch_key(n->branches[i]));
                                return NULL;
                        }
                }
        }
        return n;
}

static sl_anode_t *parse_node(parse_ctx_t *ctx, const json_t *j, const char *ns, int depth)
{
        const char *type;

        if (ctx->err)
                return NULL;
        if (depth > SL_SCHEMA_MAX_DEPTH) {
                fail(ctx, "schema nests deeper than %d levels", SL_SCHEMA_MAX_DEPTH);
                return NULL;
        }
        if (json_is_string(j))
                return parse_reference(ctx, json_string_value(j), ns);
        if (json_is_array(j))
                return parse_union(ctx, j, ns, depth);
        if (!json_is_object(j)) {
                fail(ctx, "a type must be a string, an object or an array");
                return NULL;
        }
        type = json_string_value(json_object_get(j, "type"));
        if (!type) {
                /* {"type": {...}} nests a type definition. */
                const json_t *inner = json_object_get(j, "type");
                if (json_is_object(inner) || json_is_array(inner))
                        return parse_node(ctx, inner, ns, depth + 1);
                fail(ctx, "object without a \"type\"");
                return NULL;
        }
        if (!strcmp(type, "record") || !strcmp(type, "error"))
                return parse_record(ctx, j, ns, depth);
        if (!strcmp(type, "enum"))
                return parse_enum(ctx, j, ns);
        if (!strcmp(type, "fixed"))
                return parse_fixed(ctx, j, ns);
        if (!strcmp(type, "array") || !strcmp(type, "map")) {
                sl_anode_t *n = node_new(ctx, type[0] == 'a' ? SL_AT_ARRAY : SL_AT_MAP);
                const json_t *items = json_object_get(j, type[0] == 'a' ? "items" : "values");
                if (!n)
                        return NULL;
                if (!items) {
                        fail(ctx, "%s without \"%s\"", type, type[0] == 'a' ? "items" : "values");
                        return NULL;
                }
                n->items = parse_node(ctx, items, ns, depth + 1);
                return n->items ? n : NULL;
        }
        return parse_reference(ctx, type, ns);
}

/* Smallest encoded size, memoised; a node under computation counts as 0 (recursive types). */
static size_t compute_min_size(sl_anode_t *n)
{
        size_t m = 0;

        if (n->min_state)
                return n->min_state == 2 ? n->min_size : 0;
        n->min_state = 1;
        switch (n->type) {
        case SL_AT_NULL:
                m = 0;
                break;
        case SL_AT_FLOAT:
                m = 4;
                break;
        case SL_AT_DOUBLE:
                m = 8;
                break;
        case SL_AT_FIXED:
                m = n->size;
                break;
        case SL_AT_RECORD:
                for (size_t i = 0; i < n->field_cnt; i++) {
                        m += compute_min_size(n->fields[i].type);
                        if (m > (1u << 30))
                                m = 1u << 30;
                }
                break;
        case SL_AT_UNION:
                m = (size_t)1 << 30;
                for (size_t i = 0; i < n->branch_cnt; i++) {
                        size_t b = compute_min_size(n->branches[i]);
                        if (b < m)
                                m = b;
                }
                m += 1;
                break;
        case SL_AT_ARRAY:
        case SL_AT_MAP:
                compute_min_size(n->items);
                m = 1;
                break;
        default:
                m = 1; /* boolean, varints, lengths, enum index */
                break;
        }
        n->min_size = m;
        n->min_state = 2;
        return m;
}

sl_err_t sl_aschema_parse(const char *text, sl_aschema_t **schemap, char *errstr,
                          size_t errstr_size)
{
        json_error_t jerr;
        json_t *root;
        parse_ctx_t ctx = {.errstr = errstr, .errstr_size = errstr_size};

        *schemap = NULL;
        if (!text)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "no schema text");
        root = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                 "schema is not valid JSON: %s (line %d, column %d)", jerr.text,
                                 jerr.line, jerr.column);
        ctx.schema = calloc(1, sizeof(*ctx.schema));
        if (!ctx.schema) {
                json_decref(root);
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        }
        ctx.schema->root = parse_node(&ctx, root, NULL, 0);
        json_decref(root);
        if (ctx.err || !ctx.schema->root) {
                sl_aschema_destroy(ctx.schema);
                return ctx.err ? ctx.err : SL_ERR_SCHEMA;
        }
        for (sl_anode_t *n = ctx.schema->all; n; n = n->next_alloc)
                compute_min_size(n);
        *schemap = ctx.schema;
        return SL_OK;
}

void sl_aschema_destroy(sl_aschema_t *schema)
{
        sl_anode_t *n, *next;

        if (!schema)
                return;
        for (n = schema->all; n; n = next) {
                next = n->next_alloc;
                for (size_t i = 0; n->fields && i < n->field_cnt; i++)
                        free(n->fields[i].name);
                for (size_t i = 0; n->symbols && i < n->symbol_cnt; i++)
                        free(n->symbols[i]);
                free(n->fields);
                free(n->symbols);
                free(n->enum_map);
                free(n->branches);
                free(n->branch_ok);
                free(n->fullname);
                free(n);
        }
        free(schema);
}

/* ---------------------------------------------------------------------------------------- */
/* The reader: slots and their defaults, taken from the embedded schema's JSON. */

static int find_slot(sl_role_t record, const char *name)
{
        for (int s = 0; s < SL_SLOT__CNT; s++)
                if (sl_slot_defs[s].record == record && !strcmp(sl_slot_defs[s].name, name))
                        return s;
        return -1;
}

static int enum_parse(sl_role_t role, const char *symbol)
{
        sl_err_t err = SL_ERR_BAD_ENUM;
        int v = -1;

        switch (role) {
        case SL_ROLE_KIND: {
                sl_event_kind_t k;
                if (!(err = sl_event_kind_parse(symbol, &k)))
                        v = (int)k;
                break;
        }
        case SL_ROLE_STATUS: {
                sl_node_status_t s;
                if (!(err = sl_node_status_parse(symbol, &s)))
                        v = (int)s;
                break;
        }
        case SL_ROLE_SOURCE: {
                sl_source_t s;
                if (!(err = sl_source_parse(symbol, &s)))
                        v = (int)s;
                break;
        }
        default:
                break;
        }
        return err ? -1 : v;
}

/* Finds the record definition inside a field type (through unions, arrays and nesting). */
static const json_t *find_record_json(const json_t *type)
{
        if (json_is_object(type)) {
                const char *t = json_string_value(json_object_get(type, "type"));
                if (t && !strcmp(t, "record"))
                        return type;
                if (t && !strcmp(t, "array"))
                        return find_record_json(json_object_get(type, "items"));
                return find_record_json(json_object_get(type, "type"));
        }
        if (json_is_array(type)) {
                size_t i;
                const json_t *b;
                json_array_foreach(type, i, b)
                {
                        const json_t *r = find_record_json(b);
                        if (r)
                                return r;
                }
        }
        return NULL;
}

static sl_err_t load_record(sl_reader_t *reader, const json_t *rec, sl_role_t role, int *seen,
                            char *errstr, size_t errstr_size)
{
        size_t i;
        const json_t *f;

        json_array_foreach(json_object_get(rec, "fields"), i, f)
        {
                const char *name = json_string_value(json_object_get(f, "name"));
                const json_t *dflt = json_object_get(f, "default");
                int slot = name ? find_slot(role, name) : -1;
                if (slot < 0)
                        return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                         "reader schema field \"%s\" has no slot in the decoder",
                                         name ? name : "?");
                seen[slot] = 1;
                reader->dflt[slot] = dflt;
                const sl_slot_def_t *def = &sl_slot_defs[slot];
                if (def->kind == SL_SK_ENUM) {
                        const json_t *et = json_object_get(f, "type");
                        int fb = enum_parse(def->enum_role,
                                            json_string_value(json_object_get(et, "default")));
                        if (fb < 0)
                                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                                 "reader enum of \"%s\" needs a default", name);
                        reader->enum_fallback[def->enum_role] = fb;
                        if (dflt) {
                                reader->enum_dflt[slot] =
                                    enum_parse(def->enum_role, json_string_value(dflt));
                                if (reader->enum_dflt[slot] < 0)
                                        return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                                         "bad default of \"%s\"", name);
                        }
                }
                if (!dflt)
                        continue;
                switch (def->kind) {
                case SL_SK_STRING:
                        if (!json_is_string(dflt))
                                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                                 "default of \"%s\" is not a string", name);
                        break;
                case SL_SK_LONG:
                case SL_SK_INT:
                        if (!json_is_integer(dflt))
                                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                                 "default of \"%s\" is not an integer", name);
                        break;
                case SL_SK_DOUBLE:
                        if (!json_is_number(dflt))
                                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                                 "default of \"%s\" is not a number", name);
                        break;
                case SL_SK_ENUM:
                        break;
                case SL_SK_STRING_ARRAY:
                case SL_SK_SERVICE_ARRAY:
                case SL_SK_STRING_MAP:
                case SL_SK_DOUBLE_MAP:
                case SL_SK_USAGE:
                        /* The decoder starts these empty: only an empty default is supported. */
                        if (!(json_is_array(dflt) && !json_array_size(dflt)) &&
                            !(json_is_object(dflt) && !json_object_size(dflt)) &&
                            !json_is_null(dflt))
                                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                                 "default of \"%s\" must be empty", name);
                        break;
                }
        }
        return SL_OK;
}

sl_err_t sl_reader_load(sl_reader_t *reader, char *errstr, size_t errstr_size)
{
        json_error_t jerr;
        int seen[SL_SLOT__CNT] = {0};
        sl_err_t err;
        const json_t *f;
        size_t i;

        memset(reader, 0, sizeof(*reader));
        reader->root = json_loads(sl_node_state_avsc, 0, &jerr);
        if (!reader->root)
                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                 "embedded schema is not JSON: %s", jerr.text);
        err = load_record(reader, reader->root, SL_ROLE_EVENT, seen, errstr, errstr_size);
        json_array_foreach(json_object_get(reader->root, "fields"), i, f)
        {
                const char *name = json_string_value(json_object_get(f, "name"));
                sl_role_t role = !strcmp(name, "services") ? SL_ROLE_SERVICE
                                 : !strcmp(name, "usage")  ? SL_ROLE_USAGE
                                                           : SL_ROLE_NONE;
                if (err || role == SL_ROLE_NONE)
                        continue;
                const json_t *rec = find_record_json(json_object_get(f, "type"));
                if (!rec)
                        err = sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                        "reader field \"%s\" has no record type", name);
                else
                        err = load_record(reader, rec, role, seen, errstr, errstr_size);
        }
        for (int s = 0; !err && s < SL_SLOT__CNT; s++)
                if (!seen[s])
                        err = sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                        "decoder slot \"%s\" is not in the reader schema",
                                        sl_slot_defs[s].name);
        if (err)
                sl_reader_clear(reader);
        return err;
}

void sl_reader_clear(sl_reader_t *reader)
{
        json_decref(reader->root);
        memset(reader, 0, sizeof(*reader));
}

/* ---------------------------------------------------------------------------------------- */
/* Resolution: which writer fields fill which slots, checked once per writer schema. */

typedef struct {
        const sl_reader_t *reader;
        char *errstr;
        size_t errstr_size;
        int depth;
} resolve_ctx_t;

static sl_err_t resolve_record(resolve_ctx_t *ctx, sl_anode_t *w, sl_role_t role);

int sl_slot_accepts(sl_slot_kind_t kind, const sl_anode_t *w)
{
        switch (kind) {
        case SL_SK_STRING:
                return w->type == SL_AT_STRING || w->type == SL_AT_BYTES;
        case SL_SK_LONG:
                return w->type == SL_AT_INT || w->type == SL_AT_LONG;
        case SL_SK_INT:
                return w->type == SL_AT_INT;
        case SL_SK_DOUBLE:
                return w->type == SL_AT_INT || w->type == SL_AT_LONG || w->type == SL_AT_FLOAT ||
                       w->type == SL_AT_DOUBLE;
        case SL_SK_ENUM:
                return w->type == SL_AT_ENUM;
        case SL_SK_STRING_ARRAY:
        case SL_SK_SERVICE_ARRAY:
                return w->type == SL_AT_ARRAY;
        case SL_SK_STRING_MAP:
        case SL_SK_DOUBLE_MAP:
                return w->type == SL_AT_MAP;
        case SL_SK_USAGE:
                return w->type == SL_AT_NULL || w->type == SL_AT_RECORD;
        }
        return 0;
}

static const char *const kind_names[] = {
    [SL_SK_STRING] = "string",
    [SL_SK_LONG] = "long",
    [SL_SK_INT] = "int",
    [SL_SK_DOUBLE] = "double",
    [SL_SK_ENUM] = "enum",
    [SL_SK_STRING_ARRAY] = "array<string>",
    [SL_SK_SERVICE_ARRAY] = "array<Service>",
    [SL_SK_STRING_MAP] = "map<string>",
    [SL_SK_DOUBLE_MAP] = "map<double>",
    [SL_SK_USAGE] = "[null, Usage]",
};

/* A pseudo-kind for the items of the services array. */
#define SL_SK_SERVICE_RECORD ((sl_slot_kind_t)100)

static sl_err_t resolve_enum(resolve_ctx_t *ctx, sl_anode_t *w, sl_role_t role, const char *field)
{
        if (w->role != SL_ROLE_NONE && w->role != role)
                return sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                 "writer enum %s is used for two different fields", w->fullname);
        w->role = role;
        for (size_t i = 0; i < w->symbol_cnt; i++) {
                int v = enum_parse(role, w->symbols[i]);
                /* A symbol this reader does not know reads as the enum's default. */
                w->enum_map[i] = v >= 0 ? v : ctx->reader->enum_fallback[role];
        }
        return SL_OK;
}

static sl_err_t resolve_type(resolve_ctx_t *ctx, sl_slot_kind_t kind, sl_role_t enum_role,
                             sl_anode_t *w, const char *field)
{
        sl_err_t err = SL_OK;

        if (++ctx->depth > SL_SCHEMA_MAX_DEPTH) {
                ctx->depth--;
                return sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                 "field \"%s\": schema nests too deep", field);
        }
        if (w->type == SL_AT_UNION) {
                size_t ok = 0;
                char keep[256] = "";
                for (size_t i = 0; i < w->branch_cnt; i++) {
                        w->branch_ok[i] =
                            !resolve_type(ctx, kind, enum_role, w->branches[i], field);
                        if (!w->branch_ok[i] && !keep[0] && ctx->errstr)
                                snprintf(keep, sizeof(keep), "%s", ctx->errstr);
                        ok += w->branch_ok[i];
                }
                if (!ok)
                        err = sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                        "field \"%s\": no branch of the writer's union can be read"
                                        " (%s)",
                                        field, keep);
        } else if (kind == SL_SK_SERVICE_RECORD) {
                if (w->type != SL_AT_RECORD)
                        err = sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                        "field \"%s\": writer items are %s, not a record", field,
                                        sl_atype_name(w->type));
                else
                        err = resolve_record(ctx, w, SL_ROLE_SERVICE);
        } else if (!sl_slot_accepts(kind, w)) {
                err = sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                "field \"%s\": writer type %s cannot be read as %s", field,
                                sl_atype_name(w->type), kind_names[kind]);
        } else {
                switch (kind) {
                case SL_SK_ENUM:
                        err = resolve_enum(ctx, w, enum_role, field);
                        break;
                case SL_SK_STRING_ARRAY:
                case SL_SK_STRING_MAP:
                        err = resolve_type(ctx, SL_SK_STRING, 0, w->items, field);
                        break;
                case SL_SK_DOUBLE_MAP:
                        err = resolve_type(ctx, SL_SK_DOUBLE, 0, w->items, field);
                        break;
                case SL_SK_SERVICE_ARRAY:
                        err = resolve_type(ctx, SL_SK_SERVICE_RECORD, 0, w->items, field);
                        break;
                case SL_SK_USAGE:
                        if (w->type == SL_AT_RECORD)
                                err = resolve_record(ctx, w, SL_ROLE_USAGE);
                        break;
                default:
                        break;
                }
        }
        ctx->depth--;
        return err;
}

static sl_err_t resolve_record(resolve_ctx_t *ctx, sl_anode_t *w, sl_role_t role)
{
        int present[SL_SLOT__CNT] = {0};
        sl_err_t err;

        if (w->role == role)
                return SL_OK; /* already resolved (a recursive or reused type) */
        if (w->role != SL_ROLE_NONE)
                return sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                 "writer record %s is used for two different fields", w->fullname);
        w->role = role;
        for (size_t i = 0; i < w->field_cnt; i++) {
                sl_afield_t *f = &w->fields[i];
                int slot = find_slot(role, f->name);
                f->slot = -1;
                if (slot < 0)
                        continue; /* a field this reader does not know: skipped */
                err = resolve_type(ctx, sl_slot_defs[slot].kind, sl_slot_defs[slot].enum_role,
                                   f->type, f->name);
                if (err)
                        return err;
                f->slot = slot;
                present[slot] = 1;
        }
        for (int s = 0; s < SL_SLOT__CNT; s++)
                if (sl_slot_defs[s].record == role && !present[s] && !ctx->reader->dflt[s])
                        return sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                         "writer record %s lacks field \"%s\", which has no"
                                         " default",
                                         w->fullname, sl_slot_defs[s].name);
        return SL_OK;
}

sl_err_t sl_aschema_resolve(sl_aschema_t *writer, const sl_reader_t *reader, char *errstr,
                            size_t errstr_size)
{
        resolve_ctx_t ctx = {reader, errstr, errstr_size, 0};
        const sl_anode_t *root = writer->root;
        const char *dot;

        if (root->type != SL_AT_RECORD)
                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                 "writer schema is a %s, not the NodeStateEvent record",
                                 sl_atype_name(root->type));
        dot = strrchr(root->fullname, '.');
        if (strcmp(dot ? dot + 1 : root->fullname, "NodeStateEvent"))
                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                 "writer schema is record %s, not NodeStateEvent", root->fullname);
        return resolve_record(&ctx, writer->root, SL_ROLE_EVENT);
}
