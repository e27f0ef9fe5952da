/**
 * @file sl_http.h
 * @brief What seerlog's HTTP servers (the registry, the projector's API) share on top of
 *        libmicrohttpd: the raw request path split and percent-decoded one segment at a time
 *        (so that %2F is part of a name, not a separator), query arguments decoded, and a
 *        constant-time secret comparison.
 *
 * libmicrohttpd decodes %XX in the path before routing; a server that wants the segments must
 * install sl_http_unescape_none() as MHD_OPTION_UNESCAPE_CALLBACK, and then decode the path with
 * sl_http_split_path() and the arguments with sl_http_args_collect().
 */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stddef.h>

#include <microhttpd.h>

/** MHD_OPTION_UNESCAPE_CALLBACK that keeps every byte (decoding is done here). */
size_t sl_http_unescape_none(void *cls, struct MHD_Connection *c, char *s);

/**
 * @brief Percent-decodes [s, s + len) into a new string; '+' is a space when @p plus (query
 *        strings). A '%' not followed by two hex digits is kept as is.
 * @returns a malloc()ed string, or NULL when out of memory or when the text decodes to a NUL
 *          byte (*nulp then set).
 */
char *sl_http_pct_decode(const char *s, size_t len, int plus, int *nulp);

/** Query arguments, decoded, in the order given. Zero-initialise; free with sl_http_args_free(). */
typedef struct {
        char **keys, **values;
        size_t cnt, cap;
        int nomem; /**< An argument could not be kept for want of memory. */
} sl_http_args_t;

/**
 * MHD_KeyValueIterator for MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, ...) with an
 * sl_http_args_t as @p cls. An argument that decodes to a NUL byte is dropped.
 */
enum MHD_Result sl_http_args_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value);

void sl_http_args_free(sl_http_args_t *a);

/** @returns the value of argument @p name (the last one given wins), or NULL. */
const char *sl_http_arg(const sl_http_args_t *a, const char *name);

/**
 * @brief Splits the raw path @p url ("/a/b%2Fc/") into decoded segments ("a", "b/c"); one
 *        trailing slash is ignored.
 * @returns 0, -1 (out of memory) or -2 (a segment decodes to a NUL byte). Free the segments
 *          with sl_http_segs_free().
 */
int sl_http_split_path(const char *url, char ***segp, size_t *cntp);

void sl_http_segs_free(char **seg, size_t cnt);

/** Compares two secrets in time independent of where they differ. @returns 1 if equal. */
int sl_http_secret_eq(const char *a, const char *b);

#endif
