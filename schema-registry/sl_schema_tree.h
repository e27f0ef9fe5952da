/**
 * @file sl_schema_tree.h
 * @brief The parsed, validated tree of an sl_schema_t, for code that walks schemas: the
 *        compatibility checker (compat.c) and the event decoder (event/), which resolves writer
 *        schemas against its reader on this tree.
 *
 * Read-only for everyone but schema.c: a parsed schema is immutable and may be shared between
 * threads. Per-schema state of a walker (a decode plan, memo tables) belongs in arrays indexed by
 * sl_snode_t.id (0 .. sl_schema_t.node_cnt - 1), never in the nodes.
 */
#ifndef SL_SCHEMA_TREE_H
#define SL_SCHEMA_TREE_H

#include <stddef.h>

#include "sl_schema.h"

/* How deeply type definitions may nest in the JSON text (hostile input must not blow the stack). */
#define SL_SCHEMA_MAX_DEPTH 100
/* How deeply a default value may nest (a linked list's default nests once per element). */
#define SL_SCHEMA_MAX_DEFAULT_DEPTH 512
/* Path segments kept for messages; deeper paths are shown truncated. */
#define SL_SPATH_MAX 128

typedef enum {
        SL_SN_NULL,
        SL_SN_BOOLEAN,
        SL_SN_INT,
        SL_SN_LONG,
        SL_SN_FLOAT,
        SL_SN_DOUBLE,
        SL_SN_BYTES,
        SL_SN_STRING,
        SL_SN_RECORD,
        SL_SN_ENUM,
        SL_SN_FIXED,
        SL_SN_ARRAY,
        SL_SN_MAP,
        SL_SN_UNION,
} sl_sntype_t;

typedef struct sl_snode_s sl_snode_t;

typedef struct {
        const char *name;      /* borrowed from the schema's JSON */
        const json_t *aliases; /* JSON array of valid names, or NULL */
        const json_t *dflt;    /* the "default" (JSON null included), or NULL when it has none */
        const json_t *json;    /* the field's object */
        sl_snode_t *type;
} sl_sfield_t;

/*
 * One type. Named types (record, enum, fixed) exist once; every reference points at the same
 * node, so the graph has cycles for recursive types. Primitive references get their own node.
 */
struct sl_snode_s {
        sl_sntype_t type;
        size_t id;          /* index in the schema's node list */
        const json_t *json; /* the definition: a JSON string, object or array */

        /* named types */
        char *fullname;
        const char *name;  /* unqualified: points into fullname */
        const char *space; /* namespace, "" for the null namespace; owned */
        char **aliases;    /* full names (relative aliases resolved against space) */
        size_t alias_cnt;
        int is_error; /* a record spelt "error" */

        /* record */
        sl_sfield_t *fields;
        size_t field_cnt;
        size_t *field_by_name; /* field indices sorted by name, for lookups */

        /* enum */
        const char **symbols;        /* borrowed from the JSON */
        const char **symbols_sorted; /* the same, sorted, for lookups */
        size_t symbol_cnt;
        const char *enum_default;

        sl_snode_t *items; /* array items, map values */

        sl_snode_t **branches; /* union */
        size_t branch_cnt;

        size_t size; /* fixed */

        const char *logical_type; /* primitives and fixed; not enforced except decimal */
};

struct sl_schema_s {
        char *text;
        char *compact;
        char *normalized;
        char *canonical;
        json_t *root; /* the parsed text; nodes borrow strings and defaults from it */
        sl_snode_t *top;
        sl_snode_t **nodes;
        size_t node_cnt;
        size_t node_cap;
};

/* "int", "record", ... */
const char *sl_sntype_name(sl_sntype_t t);
/* 1 for null .. string */
int sl_sntype_primitive(sl_sntype_t t);
/* The record field called @p name (not aliases), or NULL. */
const sl_sfield_t *sl_snode_field(const sl_snode_t *rec, const char *name);
/* 1 if enum @p e has the symbol @p sym. */
int sl_snode_has_symbol(const sl_snode_t *e, const char *sym);

/* A path of field names ("usage.load1") with "[]" for array items and "{}" for map values. */
typedef struct {
        const char *seg[SL_SPATH_MAX];
        size_t cnt; /* may exceed SL_SPATH_MAX: deeper segments are not kept */
} sl_spath_t;

void sl_spath_push(sl_spath_t *p, const char *seg);
void sl_spath_pop(sl_spath_t *p);
/* "field 'usage.load1'" (or "top level" for the empty path) into @p buf; returns buf. */
const char *sl_spath_str(const sl_spath_t *p, char *buf, size_t size);

#endif
