/*
 * Avro schemas for the registry: parsed from their text with jansson, validated completely
 * (names, namespaces, unions, sizes, logical decimal attributes and every default against its
 * type), and written in three forms: compact (identity), normalized and Parsing Canonical Form.
 *
 * Avro C cannot do this (it drops defaults, aliases and logical types: ../shared/notes/avro-c.md).
 * The parse builds a graph of sl_snode_t (schema_int.h); named types exist once and references
 * point at them, so recursive types are cycles. Every walk over the graph visits a named type's
 * definition before any reference to it (the Avro spec requires definition before use), which
 * bounds each walk's recursion by the nesting of the JSON text (SL_SCHEMA_MAX_DEPTH).
 */
#include <float.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_schema_tree.h"

/* ---------------------------------------------------------------------------------------- */
/* Small shared helpers */

static const char *const sntype_names[] = {
    [SL_SN_NULL] = "null",   [SL_SN_BOOLEAN] = "boolean", [SL_SN_INT] = "int",
    [SL_SN_LONG] = "long",   [SL_SN_FLOAT] = "float",     [SL_SN_DOUBLE] = "double",
    [SL_SN_BYTES] = "bytes", [SL_SN_STRING] = "string",   [SL_SN_RECORD] = "record",
    [SL_SN_ENUM] = "enum",   [SL_SN_FIXED] = "fixed",     [SL_SN_ARRAY] = "array",
    [SL_SN_MAP] = "map",     [SL_SN_UNION] = "union",
};

const char *sl_sntype_name(sl_sntype_t t)
{
        return sntype_names[t];
}

int sl_sntype_primitive(sl_sntype_t t)
{
        return t <= SL_SN_STRING;
}

static int primitive_type(const char *name, sl_sntype_t *t)
{
        for (int i = SL_SN_NULL; i <= SL_SN_STRING; i++) {
                if (!strcmp(name, sntype_names[i])) {
                        *t = (sl_sntype_t)i;
                        return 1;
                }
        }
        return 0;
}

/* The string value of @p j when it is a string without NUL bytes (names, symbols, keywords), or
 * NULL. Defaults may hold NUL (a bytes default "\u0000"), so the text is parsed with
 * JSON_ALLOW_NUL and identifiers must be checked. */
static const char *cstr(const json_t *j)
{
        const char *s = json_string_value(j);

        return s && strlen(s) == json_string_length(j) ? s : NULL;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const sl_sfield_t *sl_snode_field(const sl_snode_t *rec, const char *name)
{
        size_t lo = 0, hi = rec->field_cnt;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const sl_sfield_t *f = &rec->fields[rec->field_by_name[mid]];
                int c = strcmp(name, f->name);
                if (c == 0)
                        return f;
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

int sl_snode_has_symbol(const sl_snode_t *e, const char *sym)
{
        return bsearch(&sym, e->symbols_sorted, e->symbol_cnt, sizeof(*e->symbols_sorted),
                       cmp_str) != NULL;
}

void sl_spath_push(sl_spath_t *p, const char *seg)
{
        if (p->cnt < SL_SPATH_MAX)
                p->seg[p->cnt] = seg;
        p->cnt++;
}

void sl_spath_pop(sl_spath_t *p)
{
        p->cnt--;
}

const char *sl_spath_str(const sl_spath_t *p, char *buf, size_t size)
{
        size_t len = 0;
        size_t kept = p->cnt < SL_SPATH_MAX ? p->cnt : SL_SPATH_MAX;

        if (p->cnt == 0) {
                snprintf(buf, size, "top level");
                return buf;
        }
        len = (size_t)snprintf(buf, size, "field '");
        for (size_t i = 0; i < kept && len < size; i++) {
                const char *s = p->seg[i];
                int marker = !strcmp(s, "[]") || !strcmp(s, "{}");
                len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                        (i == 0 || marker) ? "" : ".", s);
        }
        if (len < size)
                snprintf(buf + len, size - len, "%s'", kept < p->cnt ? "..." : "");
        return buf;
}

static int name_start(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int name_char(char c)
{
        return name_start(c) || (c >= '0' && c <= '9');
}

/* [A-Za-z_][A-Za-z0-9_]* */
static int valid_name(const char *s)
{
        if (!s || !name_start(*s))
                return 0;
        for (s++; *s; s++)
                if (!name_char(*s))
                        return 0;
        return 1;
}

/* Dotted names: every dot-separated component a valid name (no empty ones). */
static int valid_fullname(const char *s)
{
        int at_start = 1;

        if (!s)
                return 0;
        for (; *s; s++) {
                if (*s == '.') {
                        if (at_start)
                                return 0;
                        at_start = 1;
                } else if (at_start ? !name_start(*s) : !name_char(*s)) {
                        return 0;
                } else {
                        at_start = 0;
                }
        }
        return !at_start;
}

static char *make_fullname(const char *name, const char *space)
{
        size_t len;
        char *full;

        if (strchr(name, '.') || !space || !*space)
                return strdup(name);
        len = strlen(space) + 1 + strlen(name) + 1;
        full = malloc(len);
        if (full)
                snprintf(full, len, "%s.%s", space, name);
        return full;
}

/* The first string that appears twice in @p v (sorted in place), or NULL. */
static const char *find_duplicate(const char **v, size_t cnt)
{
        qsort(v, cnt, sizeof(*v), cmp_str);
        for (size_t i = 1; i < cnt; i++)
                if (!strcmp(v[i - 1], v[i]))
                        return v[i];
        return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Parsing */

typedef struct {
        sl_schema_t *s;
        char *errstr;
        size_t errstr_size;
        sl_err_t err;
        sl_spath_t path;
        sl_snode_t **names; /* open addressing by full name */
        size_t names_cap;
        size_t names_cnt;
        unsigned char *visited;
        /* default checking: where in the value, what is wrong, and the offending value */
        char loc[256];
        char why[256];
        const json_t *bad;
} parse_ctx_t;

__attribute__((format(printf, 2, 3))) static void fail(parse_ctx_t *ctx, const char *fmt, ...)
{
        char where[512], msg[768];
        va_list ap;

        if (ctx->err)
                return; /* keep the first error */
        ctx->err = SL_ERR_SCHEMA;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (ctx->path.cnt)
                sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA, "%s: %s",
                          sl_spath_str(&ctx->path, where, sizeof(where)), msg);
        else
                sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA, "%s", msg);
}

static void nomem(parse_ctx_t *ctx)
{
        if (ctx->err == SL_ERR_NOMEM)
                return;
        ctx->err = SL_ERR_NOMEM;
        sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_NOMEM, "out of memory");
}

static sl_snode_t *node_new(parse_ctx_t *ctx, sl_sntype_t type, const json_t *json)
{
        sl_schema_t *s = ctx->s;
        sl_snode_t *n;

        if (s->node_cnt == s->node_cap) {
                size_t cap = s->node_cap ? s->node_cap * 2 : 32;
                sl_snode_t **nodes = realloc(s->nodes, cap * sizeof(*nodes));
                if (!nodes) {
                        nomem(ctx);
                        return NULL;
                }
                s->nodes = nodes;
                s->node_cap = cap;
        }
        n = calloc(1, sizeof(*n));
        if (!n) {
                nomem(ctx);
                return NULL;
        }
        n->type = type;
        n->json = json;
        n->id = s->node_cnt;
        s->nodes[s->node_cnt++] = n;
        return n;
}

static uint64_t hash_str(const char *s)
{
        uint64_t h = 1469598103934665603ULL;

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return h;
}

static sl_snode_t *names_get(const parse_ctx_t *ctx, const char *fullname)
{
        if (!ctx->names_cap)
                return NULL;
        for (size_t i = hash_str(fullname) & (ctx->names_cap - 1);;
             i = (i + 1) & (ctx->names_cap - 1)) {
                if (!ctx->names[i])
                        return NULL;
                if (!strcmp(ctx->names[i]->fullname, fullname))
                        return ctx->names[i];
        }
}

static int names_put(parse_ctx_t *ctx, sl_snode_t *n)
{
        if ((ctx->names_cnt + 1) * 2 > ctx->names_cap) {
                size_t cap = ctx->names_cap ? ctx->names_cap * 2 : 64;
                sl_snode_t **t = calloc(cap, sizeof(*t));
                if (!t) {
                        nomem(ctx);
                        return 0;
                }
                for (size_t k = 0; k < ctx->names_cap; k++) {
                        if (!ctx->names[k])
                                continue;
                        size_t i = hash_str(ctx->names[k]->fullname) & (cap - 1);
                        while (t[i])
                                i = (i + 1) & (cap - 1);
                        t[i] = ctx->names[k];
                }
                free(ctx->names);
                ctx->names = t;
                ctx->names_cap = cap;
        }
        size_t i = hash_str(n->fullname) & (ctx->names_cap - 1);
        while (ctx->names[i])
                i = (i + 1) & (ctx->names_cap - 1);
        ctx->names[i] = n;
        ctx->names_cnt++;
        return 1;
}

/* The "aliases" of a named type, resolved to full names against the type's namespace. */
static int parse_type_aliases(parse_ctx_t *ctx, sl_snode_t *n, const json_t *j)
{
        const json_t *aliases = json_object_get(j, "aliases");
        size_t i;
        const json_t *a;

        if (!aliases)
                return 1;
        if (!json_is_array(aliases)) {
                fail(ctx, "%s %s: \"aliases\" is not an array", sl_sntype_name(n->type),
                     n->fullname);
                return 0;
        }
        n->aliases = calloc(json_array_size(aliases) + 1, sizeof(*n->aliases));
        if (!n->aliases) {
                nomem(ctx);
                return 0;
        }
        json_array_foreach(aliases, i, a)
        {
                const char *s = cstr(a);
                if (!s || !valid_fullname(s)) {
                        fail(ctx, "%s %s: alias %zu is not a valid name", sl_sntype_name(n->type),
                             n->fullname, i);
                        return 0;
                }
                n->aliases[i] = make_fullname(s, n->space);
                if (!n->aliases[i]) {
                        nomem(ctx);
                        return 0;
                }
                n->alias_cnt++;
        }
        return 1;
}

/* Names a record, enum or fixed: full name per the spec, no primitive names, no duplicates. */
static int define_name(parse_ctx_t *ctx, sl_snode_t *n, const json_t *j, const char *space)
{
        const char *what = sl_sntype_name(n->type);
        const char *name = cstr(json_object_get(j, "name"));
        const json_t *jns = json_object_get(j, "namespace");
        const char *dot;

        if (!name) {
                fail(ctx, "%s has no \"name\" string", what);
                return 0;
        }
        if (jns && !json_is_null(jns)) {
                space = cstr(jns);
                if (!space) {
                        fail(ctx, "%s %s: \"namespace\" is not a string", what, name);
                        return 0;
                }
        }
        if (strchr(name, '.')) {
                if (!valid_fullname(name)) {
                        fail(ctx, "%s name \"%s\" is not a valid full name", what, name);
                        return 0;
                }
        } else {
                if (!valid_name(name)) {
                        fail(ctx, "%s name \"%s\" is not a valid name ([A-Za-z_][A-Za-z0-9_]*)",
                             what, name);
                        return 0;
                }
                if (space && *space && !valid_fullname(space)) {
                        fail(ctx, "%s %s: namespace \"%s\" is not a valid namespace", what, name,
                             space);
                        return 0;
                }
        }
        n->fullname = make_fullname(name, space);
        if (!n->fullname) {
                nomem(ctx);
                return 0;
        }
        dot = strrchr(n->fullname, '.');
        n->name = dot ? dot + 1 : n->fullname;
        n->space = dot ? strndup(n->fullname, (size_t)(dot - n->fullname)) : strdup("");
        if (!n->space) {
                nomem(ctx);
                return 0;
        }
        sl_sntype_t prim;
        if (primitive_type(n->name, &prim)) {
                fail(ctx, "%s name \"%s\" is a primitive type name", what, n->fullname);
                return 0;
        }
        if (names_get(ctx, n->fullname)) {
                fail(ctx, "type \"%s\" is defined twice", n->fullname);
                return 0;
        }
        return names_put(ctx, n) && parse_type_aliases(ctx, n, j);
}

/* logicalType is kept, not enforced, except that a decimal needs a sane precision and scale. */
static int parse_logical(parse_ctx_t *ctx, sl_snode_t *n, const json_t *j)
{
        const json_t *lt = json_object_get(j, "logicalType");
        const json_t *precision, *scale;

        if (!lt)
                return 1;
        n->logical_type = cstr(lt);
        if (!n->logical_type) {
                fail(ctx, "\"logicalType\" is not a string");
                return 0;
        }
        if (strcmp(n->logical_type, "decimal"))
                return 1;
        precision = json_object_get(j, "precision");
        scale = json_object_get(j, "scale");
        if (!json_is_integer(precision) || json_integer_value(precision) <= 0) {
                fail(ctx, "decimal precision must be a positive integer");
                return 0;
        }
        if (scale && (!json_is_integer(scale) || json_integer_value(scale) < 0 ||
                      json_integer_value(scale) > json_integer_value(precision))) {
                fail(ctx, "decimal scale must be an integer from 0 to the precision (%lld)",
                     (long long)json_integer_value(precision));
                return 0;
        }
        return 1;
}

static sl_snode_t *parse_node(parse_ctx_t *ctx, const json_t *j, const char *space, int depth);

static sl_snode_t *parse_reference(parse_ctx_t *ctx, const json_t *j, const char *name,
                                   const char *space)
{
        sl_sntype_t t;
        sl_snode_t *n;
        char *full;

        if (primitive_type(name, &t))
                return node_new(ctx, t, j);
        full = make_fullname(name, space);
        if (!full) {
                nomem(ctx);
                return NULL;
        }
        n = names_get(ctx, full);
        free(full);
        /* As in Avro Java: a short name missing from the enclosing namespace may be a null one. */
        if (!n && !strchr(name, '.') && space && *space)
                n = names_get(ctx, name);
        if (!n)
                fail(ctx, "unknown type \"%s\" (named types must be defined before they are used)",
                     name);
        return n;
}

typedef struct {
        const char *name;
        size_t idx;
} name_idx_t;

static int cmp_name_idx(const void *a, const void *b)
{
        return strcmp(((const name_idx_t *)a)->name, ((const name_idx_t *)b)->name);
}

static int parse_field_attrs(parse_ctx_t *ctx, const sl_snode_t *rec, sl_sfield_t *f,
                             const json_t *jf, size_t i)
{
        const json_t *aliases, *order, *a;
        size_t k;

        if (!json_is_object(jf)) {
                fail(ctx, "record %s: field %zu is not an object", rec->fullname, i);
                return 0;
        }
        f->json = jf;
        f->name = cstr(json_object_get(jf, "name"));
        if (!f->name) {
                fail(ctx, "record %s: field %zu has no \"name\" string", rec->fullname, i);
                return 0;
        }
        if (!valid_name(f->name)) {
                fail(ctx, "record %s: field name \"%s\" is not a valid name", rec->fullname,
                     f->name);
                return 0;
        }
        aliases = json_object_get(jf, "aliases");
        if (aliases) {
                if (!json_is_array(aliases)) {
                        fail(ctx, "record %s: field %s: \"aliases\" is not an array", rec->fullname,
                             f->name);
                        return 0;
                }
                json_array_foreach(aliases, k, a)
                {
                        if (!valid_name(cstr(a))) {
                                fail(ctx, "record %s: field %s: alias %zu is not a valid name",
                                     rec->fullname, f->name, k);
                                return 0;
                        }
                }
                f->aliases = aliases;
        }
        order = json_object_get(jf, "order");
        if (order && !(cstr(order) &&
                       (!strcmp(cstr(order), "ascending") || !strcmp(cstr(order), "descending") ||
                        !strcmp(cstr(order), "ignore")))) {
                fail(ctx, "record %s: field %s: \"order\" must be ascending, descending or ignore",
                     rec->fullname, f->name);
                return 0;
        }
        f->dflt = json_object_get(jf, "default");
        return 1;
}

static sl_snode_t *parse_record(parse_ctx_t *ctx, const json_t *j, const char *space, int depth,
                                int is_error)
{
        sl_snode_t *n = node_new(ctx, SL_SN_RECORD, j);
        const json_t *fields = json_object_get(j, "fields");
        name_idx_t *names;
        size_t i;

        if (!n || !define_name(ctx, n, j, space))
                return NULL;
        n->is_error = is_error;
        if (!json_is_array(fields)) {
                fail(ctx, "record %s: \"fields\" is missing or not an array", n->fullname);
                return NULL;
        }
        n->field_cnt = json_array_size(fields);
        n->fields = calloc(n->field_cnt + 1, sizeof(*n->fields));
        n->field_by_name = calloc(n->field_cnt + 1, sizeof(*n->field_by_name));
        names = calloc(n->field_cnt + 1, sizeof(*names));
        if (!n->fields || !n->field_by_name || !names) {
                free(names);
                nomem(ctx);
                return NULL;
        }
        for (i = 0; i < n->field_cnt; i++) {
                if (!parse_field_attrs(ctx, n, &n->fields[i], json_array_get(fields, i), i)) {
                        free(names);
                        return NULL;
                }
                names[i].name = n->fields[i].name;
                names[i].idx = i;
        }
        qsort(names, n->field_cnt, sizeof(*names), cmp_name_idx);
        for (i = 0; i < n->field_cnt; i++) {
                if (i > 0 && !strcmp(names[i - 1].name, names[i].name)) {
                        fail(ctx, "record %s: field \"%s\" appears twice", n->fullname,
                             names[i].name);
                        free(names);
                        return NULL;
                }
                n->field_by_name[i] = names[i].idx;
        }
        free(names);
        for (i = 0; i < n->field_cnt; i++) {
                sl_sfield_t *f = &n->fields[i];
                const json_t *jt = json_object_get(f->json, "type");
                sl_spath_push(&ctx->path, f->name);
                if (!jt)
                        fail(ctx, "\"type\" is missing");
                else
                        f->type = parse_node(ctx, jt, n->space, depth + 1);
                sl_spath_pop(&ctx->path);
                if (!f->type)
                        return NULL;
        }
        return n;
}

static sl_snode_t *parse_enum(parse_ctx_t *ctx, const json_t *j, const char *space)
{
        sl_snode_t *n = node_new(ctx, SL_SN_ENUM, j);
        const json_t *symbols = json_object_get(j, "symbols");
        const json_t *dflt = json_object_get(j, "default");
        const char *dup;
        size_t i;

        if (!n || !define_name(ctx, n, j, space))
                return NULL;
        if (!json_is_array(symbols)) {
                fail(ctx, "enum %s: \"symbols\" is missing or not an array", n->fullname);
                return NULL;
        }
        n->symbol_cnt = json_array_size(symbols);
        n->symbols = calloc(n->symbol_cnt + 1, sizeof(*n->symbols));
        n->symbols_sorted = calloc(n->symbol_cnt + 1, sizeof(*n->symbols_sorted));
        if (!n->symbols || !n->symbols_sorted) {
                nomem(ctx);
                return NULL;
        }
        for (i = 0; i < n->symbol_cnt; i++) {
                const char *sym = cstr(json_array_get(symbols, i));
                if (!valid_name(sym)) {
                        fail(ctx, "enum %s: symbol %zu is not a valid name", n->fullname, i);
                        return NULL;
                }
                n->symbols[i] = n->symbols_sorted[i] = sym;
        }
        dup = find_duplicate(n->symbols_sorted, n->symbol_cnt);
        if (dup) {
                fail(ctx, "enum %s: symbol \"%s\" appears twice", n->fullname, dup);
                return NULL;
        }
        if (dflt) {
                for (i = 0; cstr(dflt) && i < n->symbol_cnt; i++)
                        if (!strcmp(n->symbols[i], cstr(dflt)))
                                n->enum_default = n->symbols[i];
                if (!n->enum_default) {
                        fail(ctx, "enum %s: \"default\" is not one of its symbols", n->fullname);
                        return NULL;
                }
        }
        return n;
}

static sl_snode_t *parse_fixed(parse_ctx_t *ctx, const json_t *j, const char *space)
{
        sl_snode_t *n = node_new(ctx, SL_SN_FIXED, j);
        const json_t *size = json_object_get(j, "size");

        if (!n || !define_name(ctx, n, j, space))
                return NULL;
        if (!json_is_integer(size) || json_integer_value(size) < 0 ||
            json_integer_value(size) > INT32_MAX) {
                fail(ctx, "fixed %s: \"size\" must be an integer from 0 to 2^31-1", n->fullname);
                return NULL;
        }
        n->size = (size_t)json_integer_value(size);
        return parse_logical(ctx, n, j) ? n : NULL;
}

/* The identity of a union branch: its full name for named types, else its type. */
static const char *branch_key(const sl_snode_t *n)
{
        return n->fullname ? n->fullname : sl_sntype_name(n->type);
}

static sl_snode_t *parse_union(parse_ctx_t *ctx, const json_t *j, const char *space, int depth)
{
        sl_snode_t *n = node_new(ctx, SL_SN_UNION, j);
        const char **keys;
        const char *dup;
        size_t i;

        if (!n)
                return NULL;
        n->branch_cnt = json_array_size(j);
        n->branches = calloc(n->branch_cnt + 1, sizeof(*n->branches));
        if (!n->branches) {
                nomem(ctx);
                return NULL;
        }
        for (i = 0; i < n->branch_cnt; i++) {
                n->branches[i] = parse_node(ctx, json_array_get(j, i), space, depth + 1);
                if (!n->branches[i])
                        return NULL;
                if (n->branches[i]->type == SL_SN_UNION) {
                        fail(ctx, "a union may not contain a union (branch %zu)", i);
                        return NULL;
                }
        }
        keys = calloc(n->branch_cnt + 1, sizeof(*keys));
        if (!keys) {
                nomem(ctx);
                return NULL;
        }
        for (i = 0; i < n->branch_cnt; i++)
                keys[i] = branch_key(n->branches[i]);
        dup = find_duplicate(keys, n->branch_cnt);
        if (dup)
                fail(ctx, "union has two branches of type %s", dup);
        free(keys);
        return dup ? NULL : n;
}

static sl_snode_t *parse_node(parse_ctx_t *ctx, const json_t *j, const char *space, int depth)
{
        const json_t *jt;
        const char *type;
        sl_sntype_t prim;

        if (ctx->err)
                return NULL;
        if (depth > SL_SCHEMA_MAX_DEPTH) {
                fail(ctx, "schema nests deeper than %d levels", SL_SCHEMA_MAX_DEPTH);
                return NULL;
        }
        if (json_is_string(j)) {
                if (!cstr(j)) {
                        fail(ctx, "a type name may not contain NUL");
                        return NULL;
                }
                return parse_reference(ctx, j, cstr(j), space);
        }
        if (json_is_array(j))
                return parse_union(ctx, j, space, depth);
        if (!json_is_object(j)) {
                fail(ctx, "a type must be a JSON string, object or array");
                return NULL;
        }
        jt = json_object_get(j, "type");
        if (!jt) {
                fail(ctx, "\"type\" is missing");
                return NULL;
        }
        type = cstr(jt);
        if (!type) {
                fail(ctx, "\"type\" must be a string naming a type");
                return NULL;
        }
        if (primitive_type(type, &prim)) {
                sl_snode_t *n = node_new(ctx, prim, j);
                return n && parse_logical(ctx, n, j) ? n : NULL;
        }
        if (!strcmp(type, "record") || !strcmp(type, "error"))
                return parse_record(ctx, j, space, depth, type[0] == 'e');
        if (!strcmp(type, "enum"))
                return parse_enum(ctx, j, space);
        if (!strcmp(type, "fixed"))
                return parse_fixed(ctx, j, space);
        if (!strcmp(type, "array") || !strcmp(type, "map")) {
                int array = type[0] == 'a';
                const char *key = array ? "items" : "values";
                const json_t *items = json_object_get(j, key);
                sl_snode_t *n = node_new(ctx, array ? SL_SN_ARRAY : SL_SN_MAP, j);
                if (!n)
                        return NULL;
                if (!items) {
                        fail(ctx, "%s has no \"%s\"", type, key);
                        return NULL;
                }
                sl_spath_push(&ctx->path, array ? "[]" : "{}");
                n->items = parse_node(ctx, items, space, depth + 1);
                sl_spath_pop(&ctx->path);
                return n->items ? n : NULL;
        }
        /* {"type": "SomeName"}: a reference, as Avro Java accepts. */
        return parse_reference(ctx, j, type, space);
}

/* ---------------------------------------------------------------------------------------- */
/* Defaults: every default checked against its type, after the whole graph exists (a record's
 * default may use the record itself). */

static void value_str(const json_t *v, char *buf, size_t size)
{
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);

        if (!s) {
                snprintf(buf, size, "(value)");
                return;
        }
        if (strlen(s) > 60)
                snprintf(buf, size, "%.57s...", s);
        else
                snprintf(buf, size, "%s", s);
        free(s);
}

__attribute__((format(printf, 3, 4))) static int bad_default(parse_ctx_t *ctx, const json_t *v,
                                                             const char *fmt, ...)
{
        va_list ap;

        ctx->bad = v;
        va_start(ap, fmt);
        vsnprintf(ctx->why, sizeof(ctx->why), fmt, ap);
        va_end(ap);
        return 0;
}

/* Appends to ctx->loc; returns the previous length to restore. */
__attribute__((format(printf, 2, 3))) static size_t loc_push(parse_ctx_t *ctx, const char *fmt, ...)
{
        size_t len = strlen(ctx->loc);
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(ctx->loc + len, sizeof(ctx->loc) - len, fmt, ap);
        va_end(ap);
        return len;
}

/* bytes and fixed defaults are strings of code points 0-255; returns the count or -1. */
static long latin1_len(const json_t *v)
{
        const unsigned char *s = (const unsigned char *)json_string_value(v);
        size_t len = json_string_length(v);
        long cnt = 0;

        for (size_t i = 0; i < len; i++) {
                if (s[i] >= 0xC4)
                        return -1; /* a lead byte of U+0100 or above */
                if ((s[i] & 0xC0) != 0x80)
                        cnt++;
        }
        return cnt;
}

static const char *article(const char *word)
{
        return strchr("aeiou", word[0]) ? "an" : "a";
}

static int check_default(parse_ctx_t *ctx, const sl_snode_t *t, const json_t *v, int depth)
{
        const char *tn = sl_sntype_name(t->type);

        if (depth > SL_SCHEMA_MAX_DEFAULT_DEPTH)
                return bad_default(ctx, v, "nests deeper than %d levels",
                                   SL_SCHEMA_MAX_DEFAULT_DEPTH);
        switch (t->type) {
        case SL_SN_NULL:
                return json_is_null(v) ? 1 : bad_default(ctx, v, "is not null");
        case SL_SN_BOOLEAN:
                return json_is_boolean(v) ? 1 : bad_default(ctx, v, "is not a boolean");
        case SL_SN_INT:
        case SL_SN_LONG:
                if (!json_is_integer(v))
                        return bad_default(ctx, v, "is not %s %s (a JSON integer)", article(tn),
                                           tn);
                if (t->type == SL_SN_INT &&
                    (json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX))
                        return bad_default(ctx, v, "is out of range for an int");
                return 1;
        case SL_SN_FLOAT:
        case SL_SN_DOUBLE:
                if (!json_is_number(v))
                        return bad_default(ctx, v, "is not a %s", tn);
                if (t->type == SL_SN_FLOAT &&
                    (json_number_value(v) > FLT_MAX || json_number_value(v) < -FLT_MAX))
                        return bad_default(ctx, v, "is out of range for a float");
                return 1;
        case SL_SN_STRING:
                return json_is_string(v) ? 1 : bad_default(ctx, v, "is not a string");
        case SL_SN_BYTES:
                if (!json_is_string(v))
                        return bad_default(ctx, v, "is not a string (bytes defaults are strings)");
                if (latin1_len(v) < 0)
                        return bad_default(ctx, v,
                                           "has a character above \\u00FF (bytes defaults are "
                                           "strings of code points 0-255)");
                return 1;
        case SL_SN_FIXED:
                if (!json_is_string(v) || latin1_len(v) != (long)t->size)
                        return bad_default(ctx, v,
                                           "is not a string of %zu code points 0-255 (fixed %s)",
                                           t->size, t->fullname);
                return 1;
        case SL_SN_ENUM:
                if (cstr(v) && sl_snode_has_symbol(t, cstr(v)))
                        return 1;
                return bad_default(ctx, v, "is not a symbol of enum %s", t->fullname);
        case SL_SN_ARRAY: {
                size_t i;
                const json_t *item;
                if (!json_is_array(v))
                        return bad_default(ctx, v, "is not an array");
                json_array_foreach(v, i, item)
                {
                        size_t mark = loc_push(ctx, "[%zu]", i);
                        if (!check_default(ctx, t->items, item, depth + 1))
                                return 0;
                        ctx->loc[mark] = '\0';
                }
                return 1;
        }
        case SL_SN_MAP: {
                const char *key;
                json_t *val;
                if (!json_is_object(v))
                        return bad_default(ctx, v, "is not a map (a JSON object)");
                json_object_foreach((json_t *)v, key, val)
                {
                        size_t mark = loc_push(ctx, "[\"%s\"]", key);
                        if (!check_default(ctx, t->items, val, depth + 1))
                                return 0;
                        ctx->loc[mark] = '\0';
                }
                return 1;
        }
        case SL_SN_RECORD:
                if (!json_is_object(v))
                        return bad_default(ctx, v, "is not a record %s (a JSON object)",
                                           t->fullname);
                /* Like Avro Java: missing fields take their own default, extra keys are ignored. */
                for (size_t i = 0; i < t->field_cnt; i++) {
                        const sl_sfield_t *f = &t->fields[i];
                        const json_t *fv = json_object_get(v, f->name);
                        if (!fv) {
                                if (!f->dflt)
                                        return bad_default(ctx, v,
                                                           "lacks field '%s' of record %s, which "
                                                           "has no default",
                                                           f->name, t->fullname);
                                continue;
                        }
                        size_t mark = loc_push(ctx, ".%s", f->name);
                        if (!check_default(ctx, f->type, fv, depth + 1))
                                return 0;
                        ctx->loc[mark] = '\0';
                }
                return 1;
        case SL_SN_UNION:
                if (t->branch_cnt == 0)
                        return bad_default(ctx, v, "cannot be a value of an empty union");
                if (!check_default(ctx, t->branches[0], v, depth + 1)) {
                        size_t len = strlen(ctx->why);
                        /* Appended in place; a long reason simply loses the tail. */
                        snprintf(ctx->why + len, sizeof(ctx->why) - len, "%s%s)",
                                 " (a union's default must match its first branch, ",
                                 branch_key(t->branches[0]));
                        return 0;
                }
                return 1;
        }
        return 1;
}

/* Walks the graph from the top (definitions first), checking field defaults with their path. */
static void check_defaults(parse_ctx_t *ctx, const sl_snode_t *n)
{
        if (ctx->err)
                return;
        switch (n->type) {
        case SL_SN_RECORD:
                if (ctx->visited[n->id])
                        return;
                ctx->visited[n->id] = 1;
                for (size_t i = 0; i < n->field_cnt && !ctx->err; i++) {
                        const sl_sfield_t *f = &n->fields[i];
                        sl_spath_push(&ctx->path, f->name);
                        ctx->loc[0] = '\0';
                        if (f->dflt && !check_default(ctx, f->type, f->dflt, 0)) {
                                char val[80];
                                value_str(ctx->bad, val, sizeof(val));
                                if (ctx->loc[0])
                                        fail(ctx, "default at %s: %s %s", ctx->loc, val, ctx->why);
                                else
                                        fail(ctx, "default %s %s", val, ctx->why);
                        }
                        check_defaults(ctx, f->type);
                        sl_spath_pop(&ctx->path);
                }
                break;
        case SL_SN_ARRAY:
        case SL_SN_MAP:
                sl_spath_push(&ctx->path, n->type == SL_SN_ARRAY ? "[]" : "{}");
                check_defaults(ctx, n->items);
                sl_spath_pop(&ctx->path);
                break;
        case SL_SN_UNION:
                for (size_t i = 0; i < n->branch_cnt; i++)
                        check_defaults(ctx, n->branches[i]);
                break;
        default:
                break;
        }
}

/* ---------------------------------------------------------------------------------------- */
/* Forms */

typedef struct {
        unsigned char *seen; /* named types already written (later occurrences: the full name) */
        int ok;
} form_ctx_t;

static void oset(form_ctx_t *fc, json_t *o, const char *key, json_t *v)
{
        if (!v || !o || json_object_set_new(o, key, v))
                fc->ok = 0;
}

static void aadd(form_ctx_t *fc, json_t *a, json_t *v)
{
        if (!v || !a || json_array_append_new(a, v))
                fc->ok = 0;
}

/* Parsing Canonical Form: [PRIMITIVES] [FULLNAMES] [STRIP] [ORDER]; the dump does the rest. */
static json_t *canonical_node(form_ctx_t *fc, const sl_snode_t *n)
{
        json_t *o;

        if (sl_sntype_primitive(n->type))
                return json_string(sl_sntype_name(n->type));
        if (n->fullname) {
                if (fc->seen[n->id])
                        return json_string(n->fullname);
                fc->seen[n->id] = 1;
        }
        if (n->type == SL_SN_UNION) {
                o = json_array();
                for (size_t i = 0; i < n->branch_cnt; i++)
                        aadd(fc, o, canonical_node(fc, n->branches[i]));
                return o;
        }
        o = json_object();
        if (n->fullname)
                oset(fc, o, "name", json_string(n->fullname));
        oset(fc, o, "type", json_string(sl_sntype_name(n->type)));
        switch (n->type) {
        case SL_SN_RECORD: {
                json_t *fields = json_array();
                for (size_t i = 0; i < n->field_cnt; i++) {
                        json_t *f = json_object();
                        oset(fc, f, "name", json_string(n->fields[i].name));
                        oset(fc, f, "type", canonical_node(fc, n->fields[i].type));
                        aadd(fc, fields, f);
                }
                oset(fc, o, "fields", fields);
                break;
        }
        case SL_SN_ENUM: {
                json_t *symbols = json_array();
                for (size_t i = 0; i < n->symbol_cnt; i++)
                        aadd(fc, symbols, json_string(n->symbols[i]));
                oset(fc, o, "symbols", symbols);
                break;
        }
        case SL_SN_ARRAY:
                oset(fc, o, "items", canonical_node(fc, n->items));
                break;
        case SL_SN_MAP:
                oset(fc, o, "values", canonical_node(fc, n->items));
                break;
        case SL_SN_FIXED:
                oset(fc, o, "size", json_integer((json_int_t)n->size));
                break;
        default:
                break;
        }
        return o;
}

/* The keys of @p o, sorted (*cntp of them), or NULL when out of memory. jansson refuses NUL in
 * keys even with JSON_ALLOW_NUL, so they are plain C strings. */
static const char **sorted_keys(const json_t *o, size_t *cntp)
{
        const char **keys = calloc(json_object_size(o) + 1, sizeof(*keys));
        size_t i = 0;
        const char *key;
        json_t *val;

        if (!keys)
                return NULL;
        json_object_foreach((json_t *)o, key, val) keys[i++] = key;
        qsort(keys, i, sizeof(*keys), cmp_str);
        *cntp = i;
        return keys;
}

/* A copy of @p v with object keys sorted, so that key order does not matter. */
static json_t *sorted_copy(const json_t *v)
{
        if (json_is_array(v)) {
                json_t *a = json_array();
                size_t i;
                const json_t *item;
                json_array_foreach(v, i, item)
                {
                        if (json_array_append_new(a, sorted_copy(item))) {
                                json_decref(a);
                                return NULL;
                        }
                }
                return a;
        }
        if (json_is_object(v)) {
                size_t cnt = 0;
                const char **keys = sorted_keys(v, &cnt);
                json_t *o = json_object();
                for (size_t i = 0; keys && o && i < cnt; i++) {
                        json_t *val = json_object_get(v, keys[i]);
                        if (json_object_set_new(o, keys[i], sorted_copy(val))) {
                                json_decref(o);
                                o = NULL;
                        }
                }
                if (!keys) {
                        json_decref(o);
                        o = NULL;
                }
                free(keys);
                return o;
        }
        return json_deep_copy(v);
}

/* A default written by its type: floats as reals, records in field order, maps sorted. */
static json_t *normalized_default(const sl_snode_t *t, const json_t *v)
{
        switch (t->type) {
        case SL_SN_FLOAT:
        case SL_SN_DOUBLE:
                return json_real(json_number_value(v));
        case SL_SN_UNION:
                return normalized_default(t->branches[0], v);
        case SL_SN_ARRAY: {
                json_t *a = json_array();
                size_t i;
                const json_t *item;
                json_array_foreach(v, i, item)
                {
                        if (json_array_append_new(a, normalized_default(t->items, item))) {
                                json_decref(a);
                                return NULL;
                        }
                }
                return a;
        }
        case SL_SN_MAP: {
                size_t cnt = 0;
                const char **keys = sorted_keys(v, &cnt);
                json_t *o = keys ? json_object() : NULL;
                for (size_t i = 0; o && i < cnt; i++) {
                        json_t *val = json_object_get(v, keys[i]);
                        if (json_object_set_new(o, keys[i], normalized_default(t->items, val))) {
                                json_decref(o);
                                o = NULL;
                        }
                }
                free(keys);
                return o;
        }
        case SL_SN_RECORD: {
                json_t *o = json_object();
                for (size_t i = 0; i < t->field_cnt && o; i++) {
                        const json_t *fv = json_object_get(v, t->fields[i].name);
                        if (fv && json_object_set_new(o, t->fields[i].name,
                                                      normalized_default(t->fields[i].type, fv))) {
                                json_decref(o);
                                o = NULL;
                        }
                }
                return o;
        }
        default:
                return json_deep_copy(v);
        }
}

static int in_list(const char *key, const char *const *list)
{
        for (; *list; list++)
                if (!strcmp(key, *list))
                        return 1;
        return 0;
}

/* Attributes with no meaning to Avro ("connect.name", "java-class", ...), sorted by key. */
static void add_custom(form_ctx_t *fc, json_t *o, const json_t *j, const char *const *reserved)
{
        size_t cnt = 0;
        const char **keys;

        if (!json_is_object(j))
                return;
        keys = sorted_keys(j, &cnt);
        if (!keys) {
                fc->ok = 0;
                return;
        }
        for (size_t i = 0; i < cnt; i++) {
                if (in_list(keys[i], reserved))
                        continue;
                if (json_object_set_new(o, keys[i], sorted_copy(json_object_get(j, keys[i]))))
                        fc->ok = 0;
        }
        free(keys);
}

/* aliases as a sorted, de-duplicated JSON array, or nothing when there are none */
static void add_aliases(form_ctx_t *fc, json_t *o, const char **aliases, size_t cnt)
{
        json_t *a;

        if (!cnt)
                return;
        qsort(aliases, cnt, sizeof(*aliases), cmp_str);
        a = json_array();
        for (size_t i = 0; i < cnt; i++)
                if (i == 0 || strcmp(aliases[i - 1], aliases[i]))
                        aadd(fc, a, json_string(aliases[i]));
        oset(fc, o, "aliases", a);
}

static void add_logical(form_ctx_t *fc, json_t *o, const sl_snode_t *n)
{
        const json_t *scale;

        if (!n->logical_type)
                return;
        oset(fc, o, "logicalType", json_string(n->logical_type));
        if (strcmp(n->logical_type, "decimal"))
                return;
        oset(fc, o, "precision", json_deep_copy(json_object_get(n->json, "precision")));
        scale = json_object_get(n->json, "scale");
        if (scale && json_integer_value(scale) != 0)
                oset(fc, o, "scale", json_deep_copy(scale));
}

static json_t *normalized_node(form_ctx_t *fc, const sl_snode_t *n);

static json_t *normalized_field(form_ctx_t *fc, const sl_sfield_t *f)
{
        static const char *const reserved[] = {"name",    "aliases", "doc", "type",
                                               "default", "order",   NULL};
        json_t *o = json_object();
        const json_t *order = json_object_get(f->json, "order");

        oset(fc, o, "name", json_string(f->name));
        if (f->aliases) {
                size_t cnt = json_array_size(f->aliases);
                const char **aliases = calloc(cnt + 1, sizeof(*aliases));
                if (!aliases) {
                        fc->ok = 0;
                } else {
                        for (size_t i = 0; i < cnt; i++)
                                aliases[i] = cstr(json_array_get(f->aliases, i));
                        add_aliases(fc, o, aliases, cnt);
                        free(aliases);
                }
        }
        oset(fc, o, "type", normalized_node(fc, f->type));
        if (f->dflt)
                oset(fc, o, "default", normalized_default(f->type, f->dflt));
        if (order && strcmp(cstr(order), "ascending"))
                oset(fc, o, "order", json_deep_copy(order));
        add_custom(fc, o, f->json, reserved);
        return o;
}

static json_t *normalized_node(form_ctx_t *fc, const sl_snode_t *n)
{
        static const char *const r_record[] = {"type", "name",   "namespace", "aliases",
                                               "doc",  "fields", NULL};
        static const char *const r_enum[] = {"type", "name",    "namespace", "aliases",
                                             "doc",  "symbols", "default",   NULL};
        static const char *const r_fixed[] = {"type", "name", "namespace",   "aliases",
                                              "doc",  "size", "logicalType", NULL};
        static const char *const r_decimal_fixed[] = {"type",  "name", "namespace",   "aliases",
                                                      "doc",   "size", "logicalType", "precision",
                                                      "scale", NULL};
        static const char *const r_prim[] = {"type", "doc", "logicalType", NULL};
        static const char *const r_decimal_prim[] = {"type",      "doc",   "logicalType",
                                                     "precision", "scale", NULL};
        static const char *const r_array[] = {"type", "doc", "items", NULL};
        static const char *const r_map[] = {"type", "doc", "values", NULL};
        int decimal = n->logical_type && !strcmp(n->logical_type, "decimal");
        json_t *o;

        if (n->fullname) {
                if (fc->seen[n->id])
                        return json_string(n->fullname);
                fc->seen[n->id] = 1;
        }
        if (n->type == SL_SN_UNION) {
                o = json_array();
                for (size_t i = 0; i < n->branch_cnt; i++)
                        aadd(fc, o, normalized_node(fc, n->branches[i]));
                return o;
        }
        if (sl_sntype_primitive(n->type)) {
                /* "int" and {"type":"int"} alike: an object only when something is left. */
                json_t *custom = json_object();
                add_custom(fc, custom, n->json, decimal ? r_decimal_prim : r_prim);
                if (!n->logical_type && custom && !json_object_size(custom)) {
                        json_decref(custom);
                        return json_string(sl_sntype_name(n->type));
                }
                o = json_object();
                oset(fc, o, "type", json_string(sl_sntype_name(n->type)));
                add_logical(fc, o, n);
                if (json_object_update(o, custom))
                        fc->ok = 0;
                json_decref(custom);
                return o;
        }
        o = json_object();
        oset(fc, o, "type", json_string(n->is_error ? "error" : sl_sntype_name(n->type)));
        if (n->fullname) {
                oset(fc, o, "name", json_string(n->fullname));
                add_aliases(fc, o, (const char **)n->aliases, n->alias_cnt);
        }
        switch (n->type) {
        case SL_SN_RECORD: {
                json_t *fields = json_array();
                for (size_t i = 0; i < n->field_cnt; i++)
                        aadd(fc, fields, normalized_field(fc, &n->fields[i]));
                oset(fc, o, "fields", fields);
                add_custom(fc, o, n->json, r_record);
                break;
        }
        case SL_SN_ENUM: {
                json_t *symbols = json_array();
                for (size_t i = 0; i < n->symbol_cnt; i++)
                        aadd(fc, symbols, json_string(n->symbols[i]));
                oset(fc, o, "symbols", symbols);
                if (n->enum_default)
                        oset(fc, o, "default", json_string(n->enum_default));
                add_custom(fc, o, n->json, r_enum);
                break;
        }
        case SL_SN_FIXED:
                oset(fc, o, "size", json_integer((json_int_t)n->size));
                add_logical(fc, o, n);
                add_custom(fc, o, n->json, decimal ? r_decimal_fixed : r_fixed);
                break;
        case SL_SN_ARRAY:
                oset(fc, o, "items", normalized_node(fc, n->items));
                add_custom(fc, o, n->json, r_array);
                break;
        case SL_SN_MAP:
                oset(fc, o, "values", normalized_node(fc, n->items));
                add_custom(fc, o, n->json, r_map);
                break;
        default:
                break;
        }
        return o;
}

static char *dump_form(sl_schema_t *s, json_t *(*build)(form_ctx_t *, const sl_snode_t *))
{
        form_ctx_t fc = {calloc(s->node_cnt + 1, 1), 1};
        json_t *j;
        char *out = NULL;

        if (!fc.seen)
                return NULL;
        j = build(&fc, s->top);
        if (j && fc.ok)
                out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        json_decref(j);
        free(fc.seen);
        return out;
}

/* ---------------------------------------------------------------------------------------- */
/* Public API */

sl_err_t sl_schema_parse(const char *text, sl_schema_t **schemap, char *errstr, size_t errstr_size)
{
        parse_ctx_t ctx = {.errstr = errstr, .errstr_size = errstr_size};
        json_error_t jerr;
        sl_schema_t *s;

        *schemap = NULL;
        if (!text)
                return sl_seterr(errstr, errstr_size, SL_ERR_INVALID_ARG, "no schema text");
        s = calloc(1, sizeof(*s));
        if (!s)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        ctx.s = s;
        s->root =
            json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        if (!s->root) {
                sl_schema_destroy(s);
                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                 "schema is not valid JSON: %s (line %d, column %d)", jerr.text,
                                 jerr.line, jerr.column);
        }
        s->top = parse_node(&ctx, s->root, "", 0);
        if (!ctx.err && !s->top)
                fail(&ctx, "invalid schema");
        if (!ctx.err) {
                ctx.visited = calloc(s->node_cnt + 1, 1);
                if (!ctx.visited)
                        nomem(&ctx);
                else
                        check_defaults(&ctx, s->top);
        }
        if (!ctx.err) {
                s->text = strdup(text);
                s->compact =
                    json_dumps(s->root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
                s->normalized = dump_form(s, normalized_node);
                s->canonical = dump_form(s, canonical_node);
                if (!s->text || !s->compact || !s->normalized || !s->canonical)
                        nomem(&ctx);
        }
        free(ctx.visited);
        free(ctx.names);
        if (ctx.err) {
                sl_schema_destroy(s);
                return ctx.err;
        }
        *schemap = s;
        return SL_OK;
}

void sl_schema_destroy(sl_schema_t *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->node_cnt; i++) {
                sl_snode_t *n = s->nodes[i];
                for (size_t k = 0; k < n->alias_cnt; k++)
                        free(n->aliases[k]);
                free(n->aliases);
                free(n->fullname);
                free((char *)n->space);
                free(n->fields);
                free(n->field_by_name);
                free(n->symbols);
                free(n->symbols_sorted);
                free(n->branches);
                free(n);
        }
        free(s->nodes);
        json_decref(s->root);
        free(s->text);
        free(s->compact);
        free(s->normalized);
        free(s->canonical);
        free(s);
}

const char *sl_schema_text(const sl_schema_t *schema)
{
        return schema->text;
}

const char *sl_schema_compact(const sl_schema_t *schema)
{
        return schema->compact;
}

const char *sl_schema_normalized(const sl_schema_t *schema)
{
        return schema->normalized;
}

const char *sl_schema_canonical(const sl_schema_t *schema)
{
        return schema->canonical;
}
