/*
 * Schema compatibility: whether a reader schema can read what a writer schema wrote, by the Avro
 * specification's resolution rules, and Confluent's levels on top of it.
 *
 * Recursive types: a (reader record, writer record) pair being checked is assumed compatible
 * when it is met again (the greatest fixed point, as Avro Java and Python do). Results are
 * memoised so shared types are checked once; an "incompatible" result is final (it was found
 * under optimistic assumptions, so it holds), but a "compatible" one that relied on a pair still
 * in progress is only tentative: it is dropped if that pair turns out incompatible.
 *
 * Messages: failures found while trying the branches of a reader union are not reported (the
 * next branch may do); only the final verdict is, with the details of the closest branch.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sl_schema_tree.h"

/* Pairs checked within each other (records nest through names, so the text's depth is no bound). */
#define SL_COMPAT_MAX_DEPTH 1000
/* Messages per sl_schema_can_read(); a hostile schema must not produce millions. */
#define SL_COMPAT_MAX_MESSAGES 100

typedef enum {
        M_EMPTY = 0,    /* free slot */
        M_UNKNOWN,      /* dropped tentative result: check again */
        M_BUSY,         /* in progress; depth = its frame */
        M_OK,           /* compatible, final */
        M_OK_TENTATIVE, /* compatible if the frames from depth up are; depth = lowest relied on */
        M_BAD_QUIET,    /* incompatible, found without messages */
        M_BAD_REPORTED, /* incompatible, messages given */
} mstate_t;

typedef struct {
        uint64_t key;
        mstate_t state;
        int depth;
} memo_t;

typedef struct {
        json_t *messages; /* NULL: nothing is reported */
        size_t msg_cnt;
        int quiet;
        memo_t *memo; /* open addressing by (reader id, writer id) */
        size_t memo_cap;
        size_t memo_cnt;
        uint64_t *trail; /* keys of M_OK_TENTATIVE entries, in the order they were made */
        size_t trail_len;
        size_t trail_cap;
        int frames; /* record pairs in progress */
        int low;    /* lowest in-progress frame the current check relied on; INT_MAX: none */
        int depth;
        int nomem;
        sl_spath_t path;
} cctx_t;

static int check(cctx_t *ctx, const sl_snode_t *r, const sl_snode_t *w);

/* ---------------------------------------------------------------------------------------- */
/* Messages */

__attribute__((format(printf, 3, 4))) static void report(cctx_t *ctx, const char *rule,
                                                         const char *fmt, ...)
{
        char where[512], msg[768], line[1400];
        va_list ap;

        if (ctx->quiet)
                return;
        if (++ctx->msg_cnt > SL_COMPAT_MAX_MESSAGES) {
                if (ctx->msg_cnt == SL_COMPAT_MAX_MESSAGES + 1)
                        json_array_append_new(ctx->messages,
                                              json_string("further incompatibilities not listed"));
                return;
        }
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(line, sizeof(line), "%s: %s [%s]", sl_spath_str(&ctx->path, where, sizeof(where)),
                 msg, rule);
        json_array_append_new(ctx->messages, json_string(line));
}

/* "int", "record ns.Name", "array", ... */
static const char *describe(const sl_snode_t *n, char *buf, size_t size)
{
        if (n->fullname)
                snprintf(buf, size, "%s %s", sl_sntype_name(n->type), n->fullname);
        else
                snprintf(buf, size, "%s", sl_sntype_name(n->type));
        return buf;
}

/* ---------------------------------------------------------------------------------------- */
/* Memo table */

static memo_t *memo_find(cctx_t *ctx, uint64_t key)
{
        if (!ctx->memo_cap)
                return NULL;
        for (size_t i = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & (ctx->memo_cap - 1);;
             i = (i + 1) & (ctx->memo_cap - 1)) {
                if (ctx->memo[i].state == M_EMPTY)
                        return NULL;
                if (ctx->memo[i].key == key)
                        return &ctx->memo[i];
        }
}

static memo_t *memo_slot(memo_t *tab, size_t cap, uint64_t key)
{
        size_t i = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & (cap - 1);

        while (tab[i].state != M_EMPTY && tab[i].key != key)
                i = (i + 1) & (cap - 1);
        return &tab[i];
}

/* The entry for @p key, created (M_UNKNOWN) when missing; NULL when out of memory. */
static memo_t *memo_get(cctx_t *ctx, uint64_t key)
{
        memo_t *e = memo_find(ctx, key);

        if (e)
                return e;
        if ((ctx->memo_cnt + 1) * 2 > ctx->memo_cap) {
                size_t cap = ctx->memo_cap ? ctx->memo_cap * 2 : 64;
                memo_t *tab = calloc(cap, sizeof(*tab));
                if (!tab) {
                        ctx->nomem = 1;
                        return NULL;
                }
                for (size_t i = 0; i < ctx->memo_cap; i++)
                        if (ctx->memo[i].state != M_EMPTY)
                                *memo_slot(tab, cap, ctx->memo[i].key) = ctx->memo[i];
                free(ctx->memo);
                ctx->memo = tab;
                ctx->memo_cap = cap;
        }
        e = memo_slot(ctx->memo, ctx->memo_cap, key);
        e->key = key;
        e->state = M_UNKNOWN;
        ctx->memo_cnt++;
        return e;
}

static int trail_push(cctx_t *ctx, uint64_t key)
{
        if (ctx->trail_len == ctx->trail_cap) {
                size_t cap = ctx->trail_cap ? ctx->trail_cap * 2 : 64;
                uint64_t *t = realloc(ctx->trail, cap * sizeof(*t));
                if (!t) {
                        ctx->nomem = 1;
                        return 0;
                }
                ctx->trail = t;
                ctx->trail_cap = cap;
        }
        ctx->trail[ctx->trail_len++] = key;
        return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* The rules */

/* Named types match on the unqualified name, or on a reader alias naming the writer's full name. */
static int names_match(const sl_snode_t *r, const sl_snode_t *w)
{
        if (!strcmp(r->name, w->name))
                return 1;
        for (size_t i = 0; i < r->alias_cnt; i++)
                if (!strcmp(r->aliases[i], w->fullname))
                        return 1;
        return 0;
}

static int check_names(cctx_t *ctx, const sl_snode_t *r, const sl_snode_t *w)
{
        char rd[300], wd[300];

        if (names_match(r, w))
                return 1;
        report(ctx, "NAME_MISMATCH", "writer %s matches neither the name nor an alias of reader %s",
               describe(w, wd, sizeof(wd)), describe(r, rd, sizeof(rd)));
        return 0;
}

static const sl_sfield_t *writer_field(const sl_snode_t *w, const sl_sfield_t *rf)
{
        const sl_sfield_t *wf = sl_snode_field(w, rf->name);

        for (size_t i = 0; !wf && i < json_array_size(rf->aliases); i++)
                wf = sl_snode_field(w, json_string_value(json_array_get(rf->aliases, i)));
        return wf;
}

static int check_record_fields(cctx_t *ctx, const sl_snode_t *r, const sl_snode_t *w)
{
        int ok = 1;

        if (!check_names(ctx, r, w))
                return 0;
        /* Writer fields the reader lacks are skipped: only reader fields matter. */
        for (size_t i = 0; i < r->field_cnt && (ok || !ctx->quiet); i++) {
                const sl_sfield_t *rf = &r->fields[i];
                const sl_sfield_t *wf = writer_field(w, rf);
                sl_spath_push(&ctx->path, rf->name);
                if (wf) {
                        ok &= check(ctx, rf->type, wf->type);
                } else if (!rf->dflt) {
                        report(ctx, "READER_FIELD_MISSING_DEFAULT_VALUE",
                               "reader field '%s' has no default and is missing from the writer"
                               " record %s%s",
                               rf->name, w->fullname, rf->aliases ? " (aliases included)" : "");
                        ok = 0;
                }
                sl_spath_pop(&ctx->path);
        }
        return ok;
}

/* A record pair, memoised (see the comment at the top). */
static int check_records(cctx_t *ctx, const sl_snode_t *r, const sl_snode_t *w)
{
        uint64_t key = ((uint64_t)r->id << 32) | (uint64_t)w->id;
        memo_t *e = memo_get(ctx, key);
        int was_bad, ok, frame, saved_low, frame_low;
        size_t trail_start;
        char rd[300], wd[300];

        if (!e)
                return 0;
        switch (e->state) {
        case M_BUSY:
        case M_OK_TENTATIVE:
                if (e->depth < ctx->low)
                        ctx->low = e->depth;
                return 1;
        case M_OK:
                return 1;
        case M_BAD_REPORTED:
                report(ctx, "TYPE_MISMATCH", "reader %s cannot read writer %s (reported above)",
                       describe(r, rd, sizeof(rd)), describe(w, wd, sizeof(wd)));
                return 0;
        case M_BAD_QUIET:
                if (ctx->quiet)
                        return 0;
                break; /* check again to give the reasons */
        default:
                break;
        }
        was_bad = e->state == M_BAD_QUIET;
        frame = ++ctx->frames;
        e->state = M_BUSY;
        e->depth = frame;
        saved_low = ctx->low;
        ctx->low = INT_MAX;
        trail_start = ctx->trail_len;

        ok = check_record_fields(ctx, r, w);

        ctx->frames--;
        frame_low = ctx->low;
        e = memo_find(ctx, key); /* the table may have moved */
        if (ok && was_bad) {
                /* Found incompatible before; that holds whatever this pass assumed. */
                report(ctx, "TYPE_MISMATCH", "reader %s cannot read writer %s",
                       describe(r, rd, sizeof(rd)), describe(w, wd, sizeof(wd)));
                ok = 0;
        }
        if (!ok) {
                /* Results that assumed pairs in progress were compatible may be wrong now. */
                for (size_t i = trail_start; i < ctx->trail_len; i++) {
                        memo_t *t = memo_find(ctx, ctx->trail[i]);
                        if (t && t->state == M_OK_TENTATIVE)
                                t->state = M_UNKNOWN;
                }
                ctx->trail_len = trail_start;
                e->state = ctx->quiet ? M_BAD_QUIET : M_BAD_REPORTED;
                ctx->low = saved_low;
                return 0;
        }
        /* Results that relied on this frame now rely on what this frame relied on. */
        size_t keep = trail_start;
        for (size_t i = trail_start; i < ctx->trail_len; i++) {
                memo_t *t = memo_find(ctx, ctx->trail[i]);
                if (!t || t->state != M_OK_TENTATIVE)
                        continue;
                if (t->depth >= frame) {
                        if (frame_low >= frame) {
                                t->state = M_OK;
                                continue;
                        }
                        t->depth = frame_low;
                }
                ctx->trail[keep++] = ctx->trail[i];
        }
        ctx->trail_len = keep;
        if (frame_low >= frame) {
                e->state = M_OK;
                ctx->low = saved_low;
        } else {
                e->state = M_OK_TENTATIVE;
                e->depth = frame_low;
                trail_push(ctx, key);
                ctx->low = saved_low < frame_low ? saved_low : frame_low;
        }
        return 1;
}

static int check_enum(cctx_t *ctx, const sl_snode_t *r, const sl_snode_t *w)
{
        char missing[400] = "";
        size_t len = 0, cnt = 0;

        if (!check_names(ctx, r, w))
                return 0;
        if (r->enum_default)
                return 1; /* unknown writer symbols read as the reader's default */
        for (size_t i = 0; i < w->symbol_cnt; i++) {
                if (sl_snode_has_symbol(r, w->symbols[i]))
                        continue;
                if (cnt < 8 && len < sizeof(missing))
                        len += (size_t)snprintf(missing + len, sizeof(missing) - len, "%s%s",
                                                cnt ? ", " : "", w->symbols[i]);
                cnt++;
        }
        if (!cnt)
                return 1;
        report(ctx, "MISSING_ENUM_SYMBOLS",
               "writer enum %s has symbol%s %s%s that reader enum %s lacks, and the reader has no"
               " default",
               w->fullname, cnt > 1 ? "s" : "", missing, cnt > 8 ? ", ..." : "", r->fullname);
        return 0;
}

/* Avro's promotions: int -> long, float, double; long -> float, double; float -> double;
 * string <-> bytes. */
static int promotes(sl_sntype_t w, sl_sntype_t r)
{
        switch (r) {
        case SL_SN_LONG:
                return w == SL_SN_INT;
        case SL_SN_FLOAT:
                return w == SL_SN_INT || w == SL_SN_LONG;
        case SL_SN_DOUBLE:
                return w == SL_SN_INT || w == SL_SN_LONG || w == SL_SN_FLOAT;
        case SL_SN_STRING:
                return w == SL_SN_BYTES;
        case SL_SN_BYTES:
                return w == SL_SN_STRING;
        default:
                return 0;
        }
}

/* Neither is a union. */
static int check_plain(cctx_t *ctx, const sl_snode_t *r, const sl_snode_t *w)
{
        char rd[300], wd[300];
        int ok;

        if (r->type != w->type) {
                if (promotes(w->type, r->type))
                        return 1;
                report(ctx, "TYPE_MISMATCH", "reader %s cannot read writer %s%s",
                       describe(r, rd, sizeof(rd)), describe(w, wd, sizeof(wd)),
                       sl_sntype_primitive(r->type) && sl_sntype_primitive(w->type)
                           ? " (no such promotion)"
                           : "");
                return 0;
        }
        switch (r->type) {
        case SL_SN_RECORD:
                return check_records(ctx, r, w);
        case SL_SN_ENUM:
                return check_enum(ctx, r, w);
        case SL_SN_FIXED:
                if (!check_names(ctx, r, w))
                        return 0;
                if (r->size == w->size)
                        return 1;
                report(ctx, "FIXED_SIZE_MISMATCH",
                       "reader fixed %s has size %zu, writer fixed %s has size %zu", r->fullname,
                       r->size, w->fullname, w->size);
                return 0;
        case SL_SN_ARRAY:
        case SL_SN_MAP:
                sl_spath_push(&ctx->path, r->type == SL_SN_ARRAY ? "[]" : "{}");
                ok = check(ctx, r->items, w->items);
                sl_spath_pop(&ctx->path);
                return ok;
        default:
                return 1; /* the same primitive; logical types are not checked */
        }
}

/* The branch a reader would pick if only the outer type mattered: same kind, and same name. */
static int resembles(const sl_snode_t *r, const sl_snode_t *w)
{
        if (r->type != w->type)
                return 0;
        return !r->fullname || names_match(r, w);
}

/* A reader union reading a writer type that is not a union: some branch must read it. */
static int check_reader_union(cctx_t *ctx, const sl_snode_t *r, const sl_snode_t *w)
{
        char wd[300], branches[400] = "";
        size_t len = 0;

        ctx->quiet++;
        for (size_t i = 0; i < r->branch_cnt; i++) {
                if (check(ctx, r->branches[i], w)) {
                        ctx->quiet--;
                        return 1;
                }
        }
        ctx->quiet--;
        if (ctx->quiet)
                return 0;
        for (size_t i = 0; i < r->branch_cnt; i++)
                if (resembles(r->branches[i], w))
                        return check(ctx, r->branches[i], w); /* its reasons, reported */
        for (size_t i = 0; i < r->branch_cnt && len < sizeof(branches); i++) {
                char bd[300];
                len += (size_t)snprintf(branches + len, sizeof(branches) - len, "%s%s",
                                        i ? ", " : "", describe(r->branches[i], bd, sizeof(bd)));
        }
        report(ctx, "MISSING_UNION_BRANCH", "no branch of the reader union [%s] can read writer %s",
               branches, describe(w, wd, sizeof(wd)));
        return 0;
}

static int check(cctx_t *ctx, const sl_snode_t *r, const sl_snode_t *w)
{
        int ok = 1;

        if (ctx->nomem)
                return 0;
        if (++ctx->depth > SL_COMPAT_MAX_DEPTH) {
                report(ctx, "TYPE_MISMATCH", "schemas nest too deeply to check (over %d levels)",
                       SL_COMPAT_MAX_DEPTH);
                ok = 0;
        } else if (w->type == SL_SN_UNION) {
                /* Every branch the writer may have written must be readable. */
                for (size_t i = 0; i < w->branch_cnt && (ok || !ctx->quiet); i++)
                        ok &= r->type == SL_SN_UNION ? check_reader_union(ctx, r, w->branches[i])
                                                     : check(ctx, r, w->branches[i]);
        } else if (r->type == SL_SN_UNION) {
                ok = check_reader_union(ctx, r, w);
        } else {
                ok = check_plain(ctx, r, w);
        }
        ctx->depth--;
        return ok && !ctx->nomem;
}

/* ---------------------------------------------------------------------------------------- */
/* Public API */

int sl_schema_can_read(const sl_schema_t *reader, const sl_schema_t *writer, json_t *messages)
{
        cctx_t ctx = {.low = INT_MAX};
        int ok;

        ctx.messages = json_is_array(messages) ? messages : NULL;
        ctx.quiet = ctx.messages ? 0 : 1;
        ok = check(&ctx, reader->top, writer->top);
        if (ctx.nomem) {
                ok = 0;
                if (ctx.messages)
                        json_array_append_new(ctx.messages,
                                              json_string("out of memory checking compatibility"));
        }
        free(ctx.memo);
        free(ctx.trail);
        return ok;
}

static const char *const level_names[SL_COMPAT__CNT] = {
    [SL_COMPAT_NONE] = "NONE",
    [SL_COMPAT_BACKWARD] = "BACKWARD",
    [SL_COMPAT_BACKWARD_TRANSITIVE] = "BACKWARD_TRANSITIVE",
    [SL_COMPAT_FORWARD] = "FORWARD",
    [SL_COMPAT_FORWARD_TRANSITIVE] = "FORWARD_TRANSITIVE",
    [SL_COMPAT_FULL] = "FULL",
    [SL_COMPAT_FULL_TRANSITIVE] = "FULL_TRANSITIVE",
};

const char *sl_compat_level_name(sl_compat_level_t level)
{
        if ((int)level < 0 || level >= SL_COMPAT__CNT)
                return "UNKNOWN";
        return level_names[level];
}

sl_err_t sl_compat_level_parse(const char *name, sl_compat_level_t *levelp)
{
        for (int i = 0; name && i < SL_COMPAT__CNT; i++) {
                if (!strcasecmp(name, level_names[i])) {
                        *levelp = (sl_compat_level_t)i;
                        return SL_OK;
                }
        }
        return SL_ERR_INVALID_ARG;
}

/* One direction against one version; messages prefixed with the version index. */
static int check_one(const sl_schema_t *reader, const sl_schema_t *writer, size_t index,
                     const char *direction, json_t *messages)
{
        json_t *found = messages ? json_array() : NULL;
        int ok = sl_schema_can_read(reader, writer, found);
        size_t i;
        json_t *m;

        json_array_foreach(found, i, m)
        {
                char line[1600];
                snprintf(line, sizeof(line), "version index %zu, %s: %s", index, direction,
                         json_string_value(m));
                json_array_append_new(messages, json_string(line));
        }
        json_decref(found);
        return ok;
}

int sl_compat_check(sl_compat_level_t level, const sl_schema_t *candidate,
                    const sl_schema_t *const *existing, size_t existing_cnt, json_t *messages)
{
        int backward, forward, transitive, ok = 1;

        if (!json_is_array(messages))
                messages = NULL;
        switch (level) {
        case SL_COMPAT_NONE:
                return 1;
        case SL_COMPAT_BACKWARD:
        case SL_COMPAT_BACKWARD_TRANSITIVE:
                backward = 1, forward = 0;
                break;
        case SL_COMPAT_FORWARD:
        case SL_COMPAT_FORWARD_TRANSITIVE:
                backward = 0, forward = 1;
                break;
        case SL_COMPAT_FULL:
        case SL_COMPAT_FULL_TRANSITIVE:
                backward = 1, forward = 1;
                break;
        default:
                if (messages)
                        json_array_append_new(messages, json_string("unknown compatibility level"));
                return 0;
        }
        transitive = level == SL_COMPAT_BACKWARD_TRANSITIVE ||
                     level == SL_COMPAT_FORWARD_TRANSITIVE || level == SL_COMPAT_FULL_TRANSITIVE;
        /* Newest first: the most relevant messages come first. */
        for (size_t k = existing_cnt; k > 0 && (ok || messages); k--) {
                size_t i = k - 1;
                if (backward)
                        ok &= check_one(candidate, existing[i], i,
                                        "new schema reading its data (backward)", messages);
                if (forward)
                        ok &= check_one(existing[i], candidate, i,
                                        "its reader reading the new schema's data (forward)",
                                        messages);
                if (!transitive)
                        break;
        }
        return ok;
}
