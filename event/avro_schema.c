/*
 * Writer schemas resolved against NodeStateEvent.
 *
 * Avro C's parser drops defaults and its resolver works by position (see
 * ../shared/notes/avro-c.md), so the decoder walks sl_schema's validated tree of the writer
 * schema and reads fields by name into the slots of the reader (sl_slot_defs). Resolution runs
 * once per writer schema and records its decisions in a plan indexed by node id.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_int.h"

#define SL_RESOLVE_MAX_DEPTH 100

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
    [SL_SLOT_USAGE] = {SL_ROLE_EVENT, "usage", SL_SK_USAGE, SL_ROLE_USAGE},
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
    [SL_SLOT_GEO] = {SL_ROLE_EVENT, "geo", SL_SK_USAGE, SL_ROLE_GEO},
    [SL_SLOT_CAPACITY] = {SL_ROLE_EVENT, "capacity", SL_SK_USAGE, SL_ROLE_CAPACITY},
    [SL_SLOT_G_LATITUDE] = {SL_ROLE_GEO, "latitude", SL_SK_DOUBLE, 0},
    [SL_SLOT_G_LONGITUDE] = {SL_ROLE_GEO, "longitude", SL_SK_DOUBLE, 0},
    [SL_SLOT_G_SITE] = {SL_ROLE_GEO, "site", SL_SK_STRING, 0},
    [SL_SLOT_C_CPU_CORES] = {SL_ROLE_CAPACITY, "cpu_cores", SL_SK_INT, 0},
    [SL_SLOT_C_MEMORY_BYTES] = {SL_ROLE_CAPACITY, "memory_bytes", SL_SK_LONG, 0},
    [SL_SLOT_C_DISK_BYTES] = {SL_ROLE_CAPACITY, "disk_bytes", SL_SK_LONG, 0},
    [SL_SLOT_C_MAX_TASKS] = {SL_ROLE_CAPACITY, "max_tasks", SL_SK_INT, 0},
};

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
                        const json_t *et = json_object_get(f, "type"), *sym;
                        size_t j;

                        json_array_foreach(json_object_get(et, "symbols"), j, sym)
                        {
                                int v = enum_parse(def->enum_role, json_string_value(sym));

                                if (v >= 0 && v < 32)
                                        reader->enum_known[def->enum_role] |= 1u << v;
                        }
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

sl_err_t sl_reader_load(sl_reader_t *reader, const char *text, char *errstr, size_t errstr_size)
{
        json_error_t jerr;
        int seen[SL_SLOT__CNT] = {0};
        sl_err_t err;
        const json_t *f;
        size_t i;

        memset(reader, 0, sizeof(*reader));
        reader->root = json_loads(text ? text : sl_node_state_avsc, 0, &jerr);
        if (!reader->root)
                return sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA, "%s schema is not JSON: %s",
                                 text ? "reader" : "embedded", jerr.text);
        err = load_record(reader, reader->root, SL_ROLE_EVENT, seen, errstr, errstr_size);
        json_array_foreach(json_object_get(reader->root, "fields"), i, f)
        {
                const char *name = json_string_value(json_object_get(f, "name"));
                sl_role_t role = !strcmp(name, "services")   ? SL_ROLE_SERVICE
                                 : !strcmp(name, "usage")    ? SL_ROLE_USAGE
                                 : !strcmp(name, "geo")      ? SL_ROLE_GEO
                                 : !strcmp(name, "capacity") ? SL_ROLE_CAPACITY
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
        for (int s = 0; !err && s < SL_SLOT__CNT; s++) {
                if (seen[s])
                        continue;
                if (!text)
                        err = sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                        "decoder slot \"%s\" is not in the reader schema",
                                        sl_slot_defs[s].name);
                reader->absent[s] = 1; /* an older reader: the field is not read */
        }
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
        sl_aschema_t *plan;
        char *errstr;
        size_t errstr_size;
        int depth;
} resolve_ctx_t;

static sl_err_t resolve_record(resolve_ctx_t *ctx, const sl_snode_t *w, sl_role_t role);

static int slot_accepts(sl_slot_kind_t kind, const sl_snode_t *w)
{
        switch (kind) {
        case SL_SK_STRING:
                return w->type == SL_SN_STRING || w->type == SL_SN_BYTES;
        case SL_SK_LONG:
                return w->type == SL_SN_INT || w->type == SL_SN_LONG;
        case SL_SK_INT:
                return w->type == SL_SN_INT;
        case SL_SK_DOUBLE:
                return w->type == SL_SN_INT || w->type == SL_SN_LONG || w->type == SL_SN_FLOAT ||
                       w->type == SL_SN_DOUBLE;
        case SL_SK_ENUM:
                return w->type == SL_SN_ENUM;
        case SL_SK_STRING_ARRAY:
        case SL_SK_SERVICE_ARRAY:
                return w->type == SL_SN_ARRAY;
        case SL_SK_STRING_MAP:
        case SL_SK_DOUBLE_MAP:
                return w->type == SL_SN_MAP;
        case SL_SK_USAGE:
                return w->type == SL_SN_NULL || w->type == SL_SN_RECORD;
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
    [SL_SK_USAGE] = "[null, record]",
};

/* A pseudo-kind for the items of the services array. */
#define SL_SK_SERVICE_RECORD ((sl_slot_kind_t)100)

static sl_err_t claim_role(resolve_ctx_t *ctx, const sl_snode_t *w, sl_role_t role)
{
        sl_role_t *cur = &ctx->plan->role[w->id];

        if (*cur != SL_ROLE_NONE && *cur != role)
                return sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                 "writer type %s is used for two different fields", w->fullname);
        *cur = role;
        return SL_OK;
}

static sl_err_t resolve_enum(resolve_ctx_t *ctx, const sl_snode_t *w, sl_role_t role)
{
        sl_err_t err = claim_role(ctx, w, role);
        int *map;

        if (err || ctx->plan->enum_map[w->id])
                return err;
        map = calloc(w->symbol_cnt ? w->symbol_cnt : 1, sizeof(*map));
        if (!map)
                return sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < w->symbol_cnt; i++) {
                int v = enum_parse(role, w->symbols[i]);
                /* A symbol this reader does not know reads as the enum's default. */
                if (v < 0 || v >= 32 || !(ctx->reader->enum_known[role] & (1u << v)))
                        v = ctx->reader->enum_fallback[role];
                map[i] = v;
        }
        ctx->plan->enum_map[w->id] = map;
        return SL_OK;
}

static sl_err_t resolve_type(resolve_ctx_t *ctx, sl_slot_kind_t kind, sl_role_t enum_role,
                             const sl_snode_t *w, const char *field)
{
        sl_err_t err = SL_OK;

        if (++ctx->depth > SL_RESOLVE_MAX_DEPTH) {
                ctx->depth--;
                return sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                 "field \"%s\": schema nests too deep", field);
        }
        if (w->type == SL_SN_UNION) {
                size_t ok = 0;
                char keep[256] = "";
                unsigned char *branch_ok = ctx->plan->branch_ok[w->id];
                if (!branch_ok) {
                        branch_ok = calloc(w->branch_cnt ? w->branch_cnt : 1, 1);
                        if (!branch_ok) {
                                ctx->depth--;
                                return sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_NOMEM,
                                                 "out of memory");
                        }
                        ctx->plan->branch_ok[w->id] = branch_ok;
                }
                for (size_t i = 0; i < w->branch_cnt; i++) {
                        branch_ok[i] = !resolve_type(ctx, kind, enum_role, w->branches[i], field);
                        if (!branch_ok[i] && !keep[0] && ctx->errstr)
                                snprintf(keep, sizeof(keep), "%s", ctx->errstr);
                        ok += branch_ok[i];
                }
                if (!ok)
                        err = sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                        "field \"%s\": no branch of the writer's union can be read"
                                        " (%s)",
                                        field, keep);
        } else if (kind == SL_SK_SERVICE_RECORD) {
                if (w->type != SL_SN_RECORD)
                        err = sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                        "field \"%s\": writer items are %s, not a record", field,
                                        sl_sntype_name(w->type));
                else
                        err = resolve_record(ctx, w, SL_ROLE_SERVICE);
        } else if (!slot_accepts(kind, w)) {
                err = sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                "field \"%s\": writer type %s cannot be read as %s", field,
                                sl_sntype_name(w->type), kind_names[kind]);
        } else {
                switch (kind) {
                case SL_SK_ENUM:
                        err = resolve_enum(ctx, w, enum_role);
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
                        if (w->type == SL_SN_RECORD)
                                err = resolve_record(ctx, w, enum_role);
                        break;
                default:
                        break;
                }
        }
        ctx->depth--;
        return err;
}

static sl_err_t resolve_record(resolve_ctx_t *ctx, const sl_snode_t *w, sl_role_t role)
{
        int present[SL_SLOT__CNT] = {0};
        sl_err_t err;
        int *slots;

        if (ctx->plan->role[w->id] == role)
                return SL_OK; /* already resolved (a recursive or reused type) */
        if ((err = claim_role(ctx, w, role)))
                return err;
        slots = calloc(w->field_cnt ? w->field_cnt : 1, sizeof(*slots));
        if (!slots)
                return sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_NOMEM, "out of memory");
        ctx->plan->slot[w->id] = slots;
        for (size_t i = 0; i < w->field_cnt; i++) {
                const sl_sfield_t *f = &w->fields[i];
                int slot = find_slot(role, f->name);
                slots[i] = -1;
                if (slot < 0 || ctx->reader->absent[slot])
                        continue; /* a field this reader does not know: skipped */
                err = resolve_type(ctx, sl_slot_defs[slot].kind, sl_slot_defs[slot].enum_role,
                                   f->type, f->name);
                if (err)
                        return err;
                slots[i] = slot;
                present[slot] = 1;
        }
        for (int s = 0; s < SL_SLOT__CNT; s++)
                if (sl_slot_defs[s].record == role && !present[s] && !ctx->reader->dflt[s] &&
                    !ctx->reader->absent[s])
                        return sl_seterr(ctx->errstr, ctx->errstr_size, SL_ERR_SCHEMA,
                                         "writer record %s lacks field \"%s\", which has no"
                                         " default",
                                         w->fullname, sl_slot_defs[s].name);
        return SL_OK;
}

/* Smallest encoded size of every node, memoised; a node in progress counts as 0 (recursion). */
static size_t min_size(sl_aschema_t *plan, unsigned char *state, const sl_snode_t *n)
{
        size_t m = 0;

        if (state[n->id])
                return state[n->id] == 2 ? plan->min_size[n->id] : 0;
        state[n->id] = 1;
        switch (n->type) {
        case SL_SN_NULL:
                break;
        case SL_SN_FLOAT:
                m = 4;
                break;
        case SL_SN_DOUBLE:
                m = 8;
                break;
        case SL_SN_FIXED:
                m = n->size;
                break;
        case SL_SN_RECORD:
                for (size_t i = 0; i < n->field_cnt; i++) {
                        m += min_size(plan, state, n->fields[i].type);
                        if (m > (1u << 30))
                                m = 1u << 30;
                }
                break;
        case SL_SN_UNION:
                m = (size_t)1 << 30;
                for (size_t i = 0; i < n->branch_cnt; i++) {
                        size_t b = min_size(plan, state, n->branches[i]);
                        if (b < m)
                                m = b;
                }
                m += 1;
                break;
        case SL_SN_ARRAY:
        case SL_SN_MAP:
                min_size(plan, state, n->items);
                m = 1;
                break;
        default:
                m = 1; /* boolean, varints, lengths, enum index */
                break;
        }
        plan->min_size[n->id] = m;
        state[n->id] = 2;
        return m;
}

void sl_aschema_destroy(sl_aschema_t *plan)
{
        if (!plan)
                return;
        for (size_t i = 0; plan->schema && i < plan->schema->node_cnt; i++) {
                if (plan->slot)
                        free(plan->slot[i]);
                if (plan->enum_map)
                        free(plan->enum_map[i]);
                if (plan->branch_ok)
                        free(plan->branch_ok[i]);
        }
        free(plan->role);
        free(plan->slot);
        free(plan->enum_map);
        free(plan->branch_ok);
        free(plan->min_size);
        sl_schema_destroy(plan->schema);
        free(plan);
}

sl_err_t sl_aschema_new(const char *text, const sl_reader_t *reader, sl_aschema_t **writerp,
                        char *errstr, size_t errstr_size)
{
        sl_aschema_t *plan;
        resolve_ctx_t ctx = {reader, NULL, errstr, errstr_size, 0};
        const sl_snode_t *root;
        unsigned char *state;
        sl_err_t err;
        size_t n;

        *writerp = NULL;
        plan = calloc(1, sizeof(*plan));
        if (!plan)
                return sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
        if ((err = sl_schema_parse(text, &plan->schema, errstr, errstr_size))) {
                free(plan);
                return err;
        }
        n = plan->schema->node_cnt ? plan->schema->node_cnt : 1;
        plan->role = calloc(n, sizeof(*plan->role));
        plan->slot = calloc(n, sizeof(*plan->slot));
        plan->enum_map = calloc(n, sizeof(*plan->enum_map));
        plan->branch_ok = calloc(n, sizeof(*plan->branch_ok));
        plan->min_size = calloc(n, sizeof(*plan->min_size));
        state = calloc(n, 1);
        if (!plan->role || !plan->slot || !plan->enum_map || !plan->branch_ok || !plan->min_size ||
            !state) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_NOMEM, "out of memory");
                goto done;
        }
        for (size_t i = 0; i < plan->schema->node_cnt; i++)
                min_size(plan, state, plan->schema->nodes[i]);

        root = plan->schema->top;
        if (root->type != SL_SN_RECORD) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                "writer schema is a %s, not the NodeStateEvent record",
                                sl_sntype_name(root->type));
                goto done;
        }
        if (strcmp(root->name, "NodeStateEvent")) {
                err = sl_seterr(errstr, errstr_size, SL_ERR_SCHEMA,
                                "writer schema is record %s, not NodeStateEvent", root->fullname);
                goto done;
        }
        ctx.plan = plan;
        err = resolve_record(&ctx, root, SL_ROLE_EVENT);

done:
        free(state);
        if (err)
                sl_aschema_destroy(plan);
        else
                *writerp = plan;
        return err;
}
