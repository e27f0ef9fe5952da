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
 *
 * Details a caller may meet:
 * - Names resolve as in the Avro spec (a dotted name is full; otherwise the enclosing namespace
 *   applies; `"namespace": ""` is the null namespace). Like Avro Java, a short reference not
 *   found in the enclosing namespace is looked up in the null namespace, and `{"type":"Name"}`
 *   references a defined type. Primitive names may not name a type, in any namespace.
 * - Defaults: null; booleans; int/long as JSON integers in range; float/double as numbers (a
 *   float in float range); string; bytes and fixed as strings of code points 0-255 (fixed: exactly
 *   size of them); enum symbols; arrays and maps element by element; records field by field
 *   (a missing field needs its own default, extra keys are ignored, as Avro Java does).
 * - logicalType is kept and not enforced, except that a decimal needs an integer precision > 0
 *   and a scale from 0 to the precision.
 * - Duplicate keys in a JSON object are rejected. NUL is allowed in string values (a bytes
 *   default "\u0000") but not in names, symbols or keywords.
 * - Limits against hostile input: types nest at most 100 deep, default values 512 deep.
 * - @p errstr names the path of fields from the top, with `[]` for array items and `{}` for map
 *   values: `field 'usage.load1': default "x" is not a double`.
 *
 * @returns SL_OK and *schemap, or SL_ERR_SCHEMA with the reason in @p errstr (the registry
 *          answers it as 422/42201), SL_ERR_INVALID_ARG when @p text is NULL, or SL_ERR_NOMEM.
 *          On failure *schemap is NULL.
 */
sl_err_t sl_schema_parse(const char *text, sl_schema_t **schemap, char *errstr, size_t errstr_size);
void sl_schema_destroy(sl_schema_t *schema);

/** @returns the text the schema was parsed from, byte for byte. */
const char *sl_schema_text(const sl_schema_t *schema);

/**
 * @returns the schema's identity form: compact JSON of the parsed text with whitespace removed
 *          and everything else (attributes, their order, docs, defaults, logical types) kept.
 *          Two texts with the same identity form are the same schema (one global id).
 *          Escapes are jansson's (UTF-8 written as is, `\/` as `/`) and reals are written with
 *          17 significant digits (`0.1` becomes `0.10000000000000001`): deterministic, not pretty.
 */
const char *sl_schema_compact(const sl_schema_t *schema);

/**
 * @returns the normalised form used with `normalize=true`: names fully qualified, attributes in
 *          a fixed order, `"int"` and `{"type":"int"}` alike, docs dropped; defaults, aliases,
 *          logical types, enum defaults and field order kept (they change meaning).
 *
 * Precisely, compact JSON where:
 * - a named type is written in full where it is defined (first in depth-first, left-to-right
 *   order) and as its full name everywhere else; "namespace" is dropped (names are full);
 * - records: `type` ("record" or "error"), `name`, `aliases`, `fields`, then other attributes;
 *   fields: `name`, `aliases`, `type`, `default`, `order` (only when not "ascending"), then other
 *   attributes; enums: `type`, `name`, `aliases`, `symbols` (in their order), `default`;
 *   fixed: `type`, `name`, `aliases`, `size`, `logicalType`, `precision`, `scale`; arrays:
 *   `type`, `items`; maps: `type`, `values`;
 * - a primitive is its bare name unless it has a logicalType or other attributes; then
 *   `type`, `logicalType`, `precision`, `scale`, then other attributes;
 * - decimal `scale` 0 is dropped (it is the default);
 * - aliases are full names (type aliases resolved against the type's namespace), sorted, without
 *   duplicates, and left out when there are none;
 * - "doc" is dropped everywhere; attributes Avro does not define ("connect.name", "java-class",
 *   ...) are kept, after the known ones, sorted by key, their values with object keys sorted;
 * - defaults are written by their type: float/double as reals (`1` and `1.0` alike), records
 *   with their fields in field order (keys the record lacks dropped), maps with sorted keys, a
 *   union's default by its first branch.
 */
const char *sl_schema_normalized(const sl_schema_t *schema);

/**
 * @returns the Avro Parsing Canonical Form (the specification's, for fingerprints): full names,
 *          only name/type/fields/symbols/items/values/size in that order, primitives as bare
 *          names (logical types too), named types written once then referenced by full name,
 *          no whitespace. Records spelt "error" are written as "record", as Avro Java does.
 */
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

/** @returns "BACKWARD", "FULL_TRANSITIVE", ...; "UNKNOWN" for a value outside the enum. */
const char *sl_compat_level_name(sl_compat_level_t level);
/** Case-insensitive; @returns SL_ERR_INVALID_ARG for an unknown name. */
sl_err_t sl_compat_level_parse(const char *name, sl_compat_level_t *levelp);

/**
 * @brief Whether data written with @p writer can be read with @p reader, by the Avro
 *        specification's schema resolution rules.
 *
 * Fields match by the reader's name, then its aliases; named types by unqualified name or a
 * reader alias equal to the writer's full name; promotions int->long/float/double,
 * long->float/double, float->double, string<->bytes; a reader enum with a default reads unknown
 * symbols; a writer union needs every branch readable, a reader union one branch that reads the
 * writer's type; logical types are not compared. Recursive types are handled (a pair being
 * checked is assumed compatible when met again). Checks deeper than 1000 nested pairs fail.
 *
 * @param messages when a JSON array, receives one JSON string per incompatibility found, naming
 *        the path (reader field names) and the rule, e.g. `field 'x': reader field 'x' has no
 *        default and is missing from the writer record R [READER_FIELD_MISSING_DEFAULT_VALUE]`.
 *        Rules: READER_FIELD_MISSING_DEFAULT_VALUE, TYPE_MISMATCH, NAME_MISMATCH,
 *        MISSING_ENUM_SYMBOLS, FIXED_SIZE_MISMATCH, MISSING_UNION_BRANCH (Avro Java's names).
 *        At most 100, then "further incompatibilities not listed". NULL (or not an array): none.
 * @returns 1 when compatible, 0 when not (also when out of memory).
 */
int sl_schema_can_read(const sl_schema_t *reader, const sl_schema_t *writer, json_t *messages);

/**
 * @brief Checks @p candidate against a subject's live versions under @p level.
 *
 * @param existing the live versions, oldest first. BACKWARD: candidate reads the latest;
 *        FORWARD: the latest reads candidate; FULL: both; the _TRANSITIVE forms against every
 *        version in @p existing; NONE: always compatible. No versions: compatible.
 * @param messages as for sl_schema_can_read(), prefixed with the index in @p existing and the
 *        direction, newest version first: `version index 2, new schema reading its data
 *        (backward): field 'a': ...` or `version index 2, its reader reading the new schema's
 *        data (forward): ...`. An unknown @p level gives 0 and "unknown compatibility level".
 * @returns 1 when compatible, 0 when not.
 */
int sl_compat_check(sl_compat_level_t level, const sl_schema_t *candidate,
                    const sl_schema_t *const *existing, size_t existing_cnt, json_t *messages);

#endif
