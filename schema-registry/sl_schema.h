/**
 * @file sl_schema.h
 * @brief Avro schemas as the registry sees them: parsed and fully validated from their text,
 *        normalised, and checked for compatibility under Confluent's levels.
 *
 * Avro C cannot do any of this (it drops defaults, aliases and logical types, and resolves by
 * position: see ../shared/notes/avro-c.md), so it is our own code over jansson-parsed trees.
 *
 * Ownership: an sl_schema_t owns everything it points to; strings returned by its getters are
 * valid until sl_schema_destroy(). Schemas are immutable after parsing and may be shared between
 * threads.
 */
#ifndef SL_SCHEMA_H
#define SL_SCHEMA_H

#include <stddef.h>

#include <jansson.h>

#include "sl_err.h"

typedef struct sl_schema_s sl_schema_t;

/**
 * @brief Parses @p text and validates it completely: JSON syntax, every type, full names and
 *        namespaces, duplicate type names, duplicate field names and enum symbols, names that
 *        are not `[A-Za-z_][A-Za-z0-9_]*`, unions (no nested unions, no two branches of the same
 *        type or name), fixed sizes, and every default against its field's type (a union's
 *        default against its first branch).
 * @returns SL_OK and *schemap, or SL_ERR_SCHEMA with the reason in @p errstr (the registry
 *          answers it as 422/42201), or SL_ERR_NOMEM.
 */
sl_err_t sl_schema_parse(const char *text, sl_schema_t **schemap, char *errstr,
                         size_t errstr_size);
void sl_schema_destroy(sl_schema_t *schema);

/** @returns the text the schema was parsed from, byte for byte. */
const char *sl_schema_text(const sl_schema_t *schema);

/**
 * @returns the schema's identity form: compact JSON of the parsed text with whitespace removed
 *          and everything else (attributes, their order, docs, defaults, logical types) kept.
 *          Two texts with the same identity form are the same schema (one global id).
 */
const char *sl_schema_compact(const sl_schema_t *schema);

/**
 * @returns the normalised form used with `normalize=true`: names fully qualified, attributes in
 *          a fixed order, `"int"` and `{"type":"int"}` alike, docs dropped; defaults, aliases,
 *          logical types, enum defaults and field order kept (they change meaning).
 */
const char *sl_schema_normalized(const sl_schema_t *schema);

/** @returns the Avro Parsing Canonical Form (the specification's, for fingerprints). */
const char *sl_schema_canonical(const sl_schema_t *schema);

/** Confluent's compatibility levels. */
typedef enum {
        SL_COMPAT_NONE = 0,
        SL_COMPAT_BACKWARD,
        SL_COMPAT_BACKWARD_TRANSITIVE,
        SL_COMPAT_FORWARD,
        SL_COMPAT_FORWARD_TRANSITIVE,
        SL_COMPAT_FULL,
        SL_COMPAT_FULL_TRANSITIVE,
        SL_COMPAT__CNT
} sl_compat_level_t;

/** @returns "BACKWARD", "FULL_TRANSITIVE", ... */
const char *sl_compat_level_name(sl_compat_level_t level);
/** Case-insensitive; @returns SL_ERR_INVALID_ARG for an unknown name. */
sl_err_t sl_compat_level_parse(const char *name, sl_compat_level_t *levelp);

/**
 * @brief Whether data written with @p writer can be read with @p reader, by the Avro
 *        specification's schema resolution rules.
 * @param messages when not NULL, receives one JSON string per incompatibility found, naming the
 *        path and the rule ("reader field 'x' has no default and is missing from the writer").
 * @returns 1 when compatible, 0 when not.
 */
int sl_schema_can_read(const sl_schema_t *reader, const sl_schema_t *writer, json_t *messages);

/**
 * @brief Checks @p candidate against a subject's live versions under @p level.
 *
 * @param existing the live versions, oldest first. BACKWARD: candidate reads the latest;
 *        FORWARD: the latest reads candidate; FULL: both; the _TRANSITIVE forms against every
 *        version in @p existing; NONE: always compatible. No versions: compatible.
 * @param messages as for sl_schema_can_read(), prefixed with the version index checked.
 * @returns 1 when compatible, 0 when not.
 */
int sl_compat_check(sl_compat_level_t level, const sl_schema_t *candidate,
                    const sl_schema_t *const *existing, size_t existing_cnt, json_t *messages);

#endif
