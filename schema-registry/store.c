/*
 * The registry's in-memory state, rebuilt by applying the `_schemas` topic in order, and the
 * record format (Confluent's: JSON keys in a fixed field order, compared byte for byte by log
 * compaction; JSON values; an empty value is a tombstone).
 */
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const sl_reg_mode_names[SL_MODE__CNT] = {
    [SL_MODE_READWRITE] = "READWRITE",
    [SL_MODE_READONLY] = "READONLY",
    [SL_MODE_READONLY_OVERRIDE] = "READONLY_OVERRIDE",
    [SL_MODE_IMPORT] = "IMPORT",
};

const char *sl_reg_mode_name(sl_reg_mode_t mode)
{
        return mode < SL_MODE__CNT ? sl_reg_mode_names[mode] : "READWRITE";
}

int sl_reg_mode_parse(const char *name, sl_reg_mode_t *modep)
{
        for (int i = 0; i < SL_MODE__CNT; i++)
                if (!strcasecmp(name, sl_reg_mode_names[i])) {
                        *modep = (sl_reg_mode_t)i;
                        return 0;
                }
        return -1;
}

int sl_reg_store_init(sl_reg_store_t *st, sl_reg_log_cb_t log, void *log_opaque)
{
        memset(st, 0, sizeof(*st));
        st->log = log;
        st->log_opaque = log_opaque;
        st->global_compat = SL_COMPAT_BACKWARD;
        st->global_mode = SL_MODE_READWRITE;
        return pthread_rwlock_init(&st->lock, NULL) ? -1 : 0;
}

static void sl_reg_schema_free(void *p)
{
        sl_reg_schema_t *s = p;

        if (!s)
                return;
        sl_schema_destroy(s->parsed);
        free(s->text);
        free(s->identity);
        free(s);
}

static void sl_reg_subject_free(void *p)
{
        sl_reg_subject_t *subj = p;

        if (!subj)
                return;
        for (size_t i = 0; i < subj->cnt; i++)
                free(subj->v[i].key);
        free(subj->v);
        free(subj->name);
        free(subj);
}

void sl_reg_store_destroy(sl_reg_store_t *st)
{
        sl_reg_map_clear(&st->subjects, sl_reg_subject_free);
        sl_reg_map_clear(&st->identities, NULL);
        sl_reg_map_clear(&st->ids, sl_reg_schema_free);
        free(st->leader_url);
        st->leader_url = NULL;
        pthread_rwlock_destroy(&st->lock);
}

sl_reg_subject_t *sl_reg_store_subject(const sl_reg_store_t *st, const char *name)
{
        return sl_reg_map_get(&st->subjects, name);
}

sl_reg_schema_t *sl_reg_store_schema(const sl_reg_store_t *st, int32_t id)
{
        char key[16];

        snprintf(key, sizeof(key), "%d", (int)id);
        return sl_reg_map_get(&st->ids, key);
}

sl_reg_schema_t *sl_reg_store_identity(const sl_reg_store_t *st, const char *identity)
{
        return sl_reg_map_get(&st->identities, identity);
}

sl_compat_level_t sl_reg_store_compat(const sl_reg_store_t *st, const sl_reg_subject_t *subj)
{
        if (subj && subj->has_compat)
                return subj->compat;
        return st->has_global_compat ? st->global_compat : SL_COMPAT_BACKWARD;
}

sl_reg_mode_t sl_reg_store_mode(const sl_reg_store_t *st, const sl_reg_subject_t *subj)
{
        if (subj && subj->has_mode)
                return subj->mode;
        return st->has_global_mode ? st->global_mode : SL_MODE_READWRITE;
}

sl_reg_version_t *sl_reg_subject_version(const sl_reg_subject_t *subj, int32_t version)
{
        size_t lo = 0, hi;

        if (!subj)
                return NULL;
        hi = subj->cnt;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;

                if (subj->v[mid].version == version)
                        return &subj->v[mid];
                if (subj->v[mid].version < version)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

sl_reg_version_t *sl_reg_subject_latest(const sl_reg_subject_t *subj, int deleted)
{
        if (!subj)
                return NULL;
        for (size_t i = subj->cnt; i > 0; i--)
                if (deleted || !subj->v[i - 1].deleted)
                        return &subj->v[i - 1];
        return NULL;
}

size_t sl_reg_subject_live(const sl_reg_subject_t *subj)
{
        size_t n = 0;

        for (size_t i = 0; subj && i < subj->cnt; i++)
                n += !subj->v[i].deleted;
        return n;
}

#define SL_LOG(st, level, ...)                                                                     \
        do {                                                                                       \
                if ((st)->log)                                                                     \
                        (st)->log((st)->log_opaque, level, __VA_ARGS__);                           \
        } while (0)

static sl_reg_subject_t *sl_reg_subject_get_or_add(sl_reg_store_t *st, const char *name)
{
        sl_reg_subject_t *subj = sl_reg_map_get(&st->subjects, name);

        if (subj)
                return subj;
        if (!(subj = calloc(1, sizeof(*subj))) || !(subj->name = strdup(name)) ||
            sl_reg_map_put(&st->subjects, name, subj)) {
                sl_reg_subject_free(subj);
                return NULL;
        }
        return subj;
}

/* Drops a subject that no longer holds anything. */
static void sl_reg_subject_gc(sl_reg_store_t *st, sl_reg_subject_t *subj)
{
        if (subj->cnt || subj->has_compat || subj->has_mode)
                return;
        sl_reg_map_del(&st->subjects, subj->name);
        sl_reg_subject_free(subj);
}

static void sl_reg_id_key(int32_t id, char *buf, size_t size)
{
        snprintf(buf, size, "%d", (int)id);
}

/* One version less refers to schema @p id: forget the schema when none does. */
static void sl_reg_schema_unref(sl_reg_store_t *st, int32_t id)
{
        char key[16];
        sl_reg_schema_t *s;

        sl_reg_id_key(id, key, sizeof(key));
        if (!(s = sl_reg_map_get(&st->ids, key)) || --s->refs > 0)
                return;
        sl_reg_map_del(&st->ids, key);
        if (sl_reg_map_get(&st->identities, s->identity) == s) {
                size_t b;

                sl_reg_map_del(&st->identities, s->identity);
                /* Another id with the same identity (only possible in a foreign log) takes over. */
                for (sl_reg_map_entry_t *e = sl_reg_map_next(&st->ids, NULL, &b); e;
                     e = sl_reg_map_next(&st->ids, e, &b)) {
                        sl_reg_schema_t *o = e->value;

                        if (!strcmp(o->identity, s->identity)) {
                                sl_reg_map_put(&st->identities, o->identity, o);
                                break;
                        }
                }
        }
        sl_reg_schema_free(s);
}

static void sl_reg_apply_schema(sl_reg_store_t *st, json_t *jkey, const char *key, size_t key_len,
                                json_t *jval, int64_t offset)
{
        const char *subject = json_string_value(json_object_get(jkey, "subject"));
        json_t *jversion = json_object_get(jkey, "version");
        int32_t version, id;
        const char *text;
        int deleted;
        sl_reg_subject_t *subj;
        sl_reg_version_t *v;
        sl_reg_schema_t *s;
        char idkey[16], errstr[256];
        char *keycopy;

        if (!subject || !json_is_integer(jversion) || json_integer_value(jversion) < 1 ||
            json_integer_value(jversion) > INT32_MAX) {
                SL_LOG(st, SL_LOG_WARN, "offset %lld: SCHEMA key without subject/version: skipped",
                       (long long)offset);
                return;
        }
        version = (int32_t)json_integer_value(jversion);
        subj = sl_reg_map_get(&st->subjects, subject);

        if (!jval) { /* tombstone: permanent deletion of the version */
                size_t i;

                if (!(v = sl_reg_subject_version(subj, version)))
                        return;
                id = v->id;
                free(v->key);
                i = (size_t)(v - subj->v);
                memmove(&subj->v[i], &subj->v[i + 1], (subj->cnt - i - 1) * sizeof(*subj->v));
                subj->cnt--;
                sl_reg_schema_unref(st, id);
                sl_reg_subject_gc(st, subj);
                return;
        }

        text = json_string_value(json_object_get(jval, "schema"));
        if (!json_is_integer(json_object_get(jval, "id")) || !text ||
            json_integer_value(json_object_get(jval, "id")) < 1 ||
            json_integer_value(json_object_get(jval, "id")) > INT32_MAX) {
                SL_LOG(st, SL_LOG_WARN, "offset %lld: SCHEMA value without id/schema: skipped",
                       (long long)offset);
                return;
        }
        id = (int32_t)json_integer_value(json_object_get(jval, "id"));
        deleted = json_is_true(json_object_get(jval, "deleted"));
        sl_reg_id_key(id, idkey, sizeof(idkey));
        s = sl_reg_map_get(&st->ids, idkey);

        if (!s) {
                const char *type = json_string_value(json_object_get(jval, "schemaType"));

                if (!(s = calloc(1, sizeof(*s))) || !(s->text = strdup(text)))
                        goto nomem;
                s->id = id;
                if ((!type || !strcasecmp(type, "AVRO")) &&
                    !sl_schema_parse(text, &s->parsed, errstr, sizeof(errstr)))
                        s->identity = strdup(sl_schema_compact(s->parsed));
                else
                        s->identity = strdup(text);
                if (!s->identity || sl_reg_map_put(&st->ids, idkey, s))
                        goto nomem;
                if (!sl_reg_map_get(&st->identities, s->identity) &&
                    sl_reg_map_put(&st->identities, s->identity, s)) {
                        sl_reg_map_del(&st->ids, idkey);
                        goto nomem;
                }
        } else {
                /* The id is taken: the record must carry the same schema. */
                sl_schema_t *parsed = NULL;
                int same;

                if (!sl_schema_parse(text, &parsed, errstr, sizeof(errstr)))
                        same = !strcmp(sl_schema_compact(parsed), s->identity);
                else
                        same = !strcmp(text, s->identity);
                sl_schema_destroy(parsed);
                if (!same) {
                        SL_LOG(st, SL_LOG_ERROR,
                               "offset %lld: subject '%s' version %d claims id %d, which is bound "
                               "to a different schema: record ignored (first in log order wins)",
                               (long long)offset, subject, (int)version, (int)id);
                        return;
                }
        }
        /* From here on s is in the maps; a schema nothing refers to is dropped on failure. */
        s->refs++;
        if (!(subj = sl_reg_subject_get_or_add(st, subject)) || !(keycopy = malloc(key_len + 1))) {
                sl_reg_schema_unref(st, id);
                s = NULL;
                goto nomem;
        }
        memcpy(keycopy, key, key_len);
        keycopy[key_len] = '\0';

        if ((v = sl_reg_subject_version(subj, version))) {
                int32_t old = v->id;

                free(v->key);
                v->key = keycopy;
                v->key_len = key_len;
                v->deleted = deleted;
                v->id = id;
                sl_reg_schema_unref(st, old); /* the reference this version held */
        } else {
                size_t i = subj->cnt;

                if (subj->cnt == subj->cap) {
                        size_t cap = subj->cap ? subj->cap * 2 : 4;
                        sl_reg_version_t *nv = realloc(subj->v, cap * sizeof(*nv));

                        if (!nv) {
                                free(keycopy);
                                sl_reg_schema_unref(st, id);
                                sl_reg_subject_gc(st, subj);
                                s = NULL;
                                goto nomem;
                        }
                        subj->v = nv;
                        subj->cap = cap;
                }
                while (i > 0 && subj->v[i - 1].version > version)
                        i--;
                memmove(&subj->v[i + 1], &subj->v[i], (subj->cnt - i) * sizeof(*subj->v));
                subj->v[i] = (sl_reg_version_t){.version = version,
                                                .id = id,
                                                .deleted = deleted,
                                                .key = keycopy,
                                                .key_len = key_len};
                subj->cnt++;
        }
        if (id > st->max_id)
                st->max_id = id;
        return;

nomem:
        if (s && !sl_reg_map_get(&st->ids, idkey))
                sl_reg_schema_free(s);
        SL_LOG(st, SL_LOG_ERROR, "offset %lld: out of memory applying a SCHEMA record",
               (long long)offset);
}

static void sl_reg_apply_config(sl_reg_store_t *st, json_t *jkey, json_t *jval, int64_t offset)
{
        json_t *jsubject = json_object_get(jkey, "subject");
        const char *level_name =
            jval ? json_string_value(json_object_get(jval, "compatibilityLevel")) : NULL;
        sl_compat_level_t level = SL_COMPAT_BACKWARD;
        sl_reg_subject_t *subj;

        if (jval && (!level_name || sl_compat_level_parse(level_name, &level))) {
                SL_LOG(st, SL_LOG_WARN, "offset %lld: CONFIG value without a known level: skipped",
                       (long long)offset);
                return;
        }
        if (!jsubject || json_is_null(jsubject)) {
                st->has_global_compat = jval != NULL;
                st->global_compat = jval ? level : SL_COMPAT_BACKWARD;
                return;
        }
        if (!json_is_string(jsubject))
                return;
        if (!jval) {
                if ((subj = sl_reg_map_get(&st->subjects, json_string_value(jsubject)))) {
                        subj->has_compat = 0;
                        sl_reg_subject_gc(st, subj);
                }
                return;
        }
        if (!(subj = sl_reg_subject_get_or_add(st, json_string_value(jsubject)))) {
                SL_LOG(st, SL_LOG_ERROR, "offset %lld: out of memory", (long long)offset);
                return;
        }
        subj->has_compat = 1;
        subj->compat = level;
}

static void sl_reg_apply_mode(sl_reg_store_t *st, json_t *jkey, json_t *jval, int64_t offset)
{
        json_t *jsubject = json_object_get(jkey, "subject");
        const char *name = jval ? json_string_value(json_object_get(jval, "mode")) : NULL;
        sl_reg_mode_t mode = SL_MODE_READWRITE;
        sl_reg_subject_t *subj;

        if (jval && (!name || sl_reg_mode_parse(name, &mode))) {
                SL_LOG(st, SL_LOG_WARN, "offset %lld: MODE value without a known mode: skipped",
                       (long long)offset);
                return;
        }
        if (!jsubject || json_is_null(jsubject)) {
                st->has_global_mode = jval != NULL;
                st->global_mode = mode;
                return;
        }
        if (!json_is_string(jsubject))
                return;
        if (!jval) {
                if ((subj = sl_reg_map_get(&st->subjects, json_string_value(jsubject)))) {
                        subj->has_mode = 0;
                        sl_reg_subject_gc(st, subj);
                }
                return;
        }
        if (!(subj = sl_reg_subject_get_or_add(st, json_string_value(jsubject)))) {
                SL_LOG(st, SL_LOG_ERROR, "offset %lld: out of memory", (long long)offset);
                return;
        }
        subj->has_mode = 1;
        subj->mode = mode;
}

/* Confluent's soft deletion of a subject: every version up to "version" is deleted. */
static void sl_reg_apply_delete_subject(sl_reg_store_t *st, json_t *jval)
{
        const char *subject = json_string_value(json_object_get(jval, "subject"));
        json_t *jversion = json_object_get(jval, "version");
        sl_reg_subject_t *subj;

        if (!subject || !json_is_integer(jversion) ||
            !(subj = sl_reg_map_get(&st->subjects, subject)))
                return;
        for (size_t i = 0; i < subj->cnt; i++)
                if (subj->v[i].version <= json_integer_value(jversion))
                        subj->v[i].deleted = 1;
}

void sl_reg_store_apply(sl_reg_store_t *st, const char *key, size_t key_len, const char *value,
                        size_t value_len, int64_t offset)
{
        json_t *jkey = NULL, *jval = NULL;
        json_error_t jerr;
        const char *type;

        if (!key || !key_len) {
                SL_LOG(st, SL_LOG_WARN, "offset %lld: record without a key: skipped",
                       (long long)offset);
                return;
        }
        if (!(jkey = json_loadb(key, key_len, 0, &jerr)) || !json_is_object(jkey) ||
            !(type = json_string_value(json_object_get(jkey, "keytype")))) {
                SL_LOG(st, SL_LOG_WARN, "offset %lld: key is not a registry key: skipped",
                       (long long)offset);
                goto done;
        }
        if (value && value_len &&
            (!(jval = json_loadb(value, value_len, 0, &jerr)) || !json_is_object(jval))) {
                SL_LOG(st, SL_LOG_WARN, "offset %lld: %s value is not a JSON object: skipped",
                       (long long)offset, type);
                goto done;
        }

        if (!strcmp(type, "SCHEMA"))
                sl_reg_apply_schema(st, jkey, key, key_len, jval, offset);
        else if (!strcmp(type, "CONFIG"))
                sl_reg_apply_config(st, jkey, jval, offset);
        else if (!strcmp(type, "MODE"))
                sl_reg_apply_mode(st, jkey, jval, offset);
        else if (!strcmp(type, "DELETE_SUBJECT")) {
                if (jval)
                        sl_reg_apply_delete_subject(st, jval);
        } else if (!strcmp(type, "NOOP")) {
                const char *url = jval ? json_string_value(json_object_get(jval, "leader")) : NULL;

                if (url) {
                        char *copy = strdup(url);

                        if (copy) {
                                free(st->leader_url);
                                st->leader_url = copy;
                        }
                }
        } else
                SL_LOG(st, SL_LOG_DEBUG, "offset %lld: key type %s not used here: skipped",
                       (long long)offset, type);

done:
        json_decref(jkey);
        json_decref(jval);
}

/* ------------------------------------------------------------------------------------------ */
/* Record format                                                                              */

/* Compact JSON of @p j (stolen), NULL when out of memory. */
static char *sl_reg_dump(json_t *j)
{
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

        json_decref(j);
        return s;
}

static json_t *sl_reg_subject_json(const char *subject)
{
        return subject ? json_string(subject) : json_null();
}

/* Jansson keeps insertion order, which makes the field order below the bytes of the key. */
char *sl_reg_key_schema(const char *subject, int32_t version)
{
        return sl_reg_dump(json_pack("{s:s, s:s, s:i, s:i}", "keytype", "SCHEMA", "subject",
                                     subject, "version", (int)version, "magic", 1));
}

char *sl_reg_value_schema(const char *subject, int32_t version, int32_t id, const char *schema,
                          int deleted)
{
        return sl_reg_dump(json_pack("{s:s, s:i, s:i, s:s, s:b}", "subject", subject, "version",
                                     (int)version, "id", (int)id, "schema", schema, "deleted",
                                     deleted));
}

char *sl_reg_key_config(const char *subject)
{
        return sl_reg_dump(json_pack("{s:s, s:o, s:i}", "keytype", "CONFIG", "subject",
                                     sl_reg_subject_json(subject), "magic", 0));
}

char *sl_reg_value_config(sl_compat_level_t level)
{
        return sl_reg_dump(json_pack("{s:s}", "compatibilityLevel", sl_compat_level_name(level)));
}

char *sl_reg_key_mode(const char *subject)
{
        return sl_reg_dump(json_pack("{s:s, s:o, s:i}", "keytype", "MODE", "subject",
                                     sl_reg_subject_json(subject), "magic", 0));
}

char *sl_reg_value_mode(sl_reg_mode_t mode)
{
        return sl_reg_dump(json_pack("{s:s}", "mode", sl_reg_mode_name(mode)));
}

char *sl_reg_key_delete_subject(const char *subject)
{
        return sl_reg_dump(json_pack("{s:s, s:s, s:i}", "keytype", "DELETE_SUBJECT", "subject",
                                     subject, "magic", 0));
}

char *sl_reg_value_delete_subject(const char *subject, int32_t version)
{
        return sl_reg_dump(json_pack("{s:s, s:i}", "subject", subject, "version", (int)version));
}

char *sl_reg_key_noop(void)
{
        return sl_reg_dump(json_pack("{s:s, s:i}", "keytype", "NOOP", "magic", 0));
}

char *sl_reg_value_noop(const char *leader_url)
{
        return sl_reg_dump(json_pack("{s:s}", "leader", leader_url));
}
