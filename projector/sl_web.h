/**
 * @file sl_web.h
 * @brief The projector's web dashboard (projector/web/, docs/api.md "The web dashboard"): its
 *        HTML, JavaScript and CSS, compiled into the binary, and served by the HTTP API
 *        (sl_api.h) at / and /ui/NAME.
 *
 * Nothing is fetched from elsewhere: the page talks only to the API it came from, which the
 * Content-Security-Policy SL_WEB_CSP enforces in the browser.
 */
#ifndef SL_WEB_H
#define SL_WEB_H

#include <stddef.h>

#include <microhttpd.h>

/** The Content-Security-Policy of the dashboard's responses: everything from 'self' only. */
#define SL_WEB_CSP                                                                                 \
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                \
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                \
        "form-action 'self'; frame-ancestors 'none'"

/**
 * @brief Finds the asset @p name of the dashboard ("index.html", "app.js", "style.css").
 * @param body set to the asset's bytes: static, NUL-terminated, never freed.
 * @param len set to their length (without the NUL).
 * @param content_type set to the asset's Content-Type (static).
 * @returns 0, or -1 if there is no such asset (the outputs are then left alone).
 */
int sl_web_find(const char *name, const char **body, size_t *len, const char **content_type);

/**
 * @brief Queues the asset @p name on @p c with status 200, its Content-Type and the
 *        Content-Security-Policy SL_WEB_CSP (the response borrows the static bytes).
 * @returns MHD_YES or MHD_NO as MHD_queue_response() does; MHD_NO also when there is no such
 *          asset (check with sl_web_find() first to answer 404) or out of memory.
 */
enum MHD_Result sl_web_queue(struct MHD_Connection *c, const char *name);

#endif
