/**
 * @file bridge_probe.h
 * @brief Asynchronous probes for `seerlog bridge`: many HTTP GETs, TCP connects and JSON fetches
 *        at once, on one thread, at most N at a time (libcurl's multi interface).
 *
 * A job is submitted with an opaque pointer of the caller's (the node it is for) and ends in
 * exactly one call of the done callback, from sl_prober_run(), unless it is cancelled first
 * (sl_prober_cancel(): no callback). Jobs wait in a FIFO queue until one of the @p concurrency
 * slots is free; each slot reuses one curl easy handle.
 *
 *  - SL_JOB_HTTP: GET of the URL, no redirects followed, no proxy (the environment's *_proxy
 *    variables are ignored: a probe goes straight to the node), the body read and dropped (at
 *    most 64 KiB: a longer one is cut, the status stands). Answered when a status line came.
 *  - SL_JOB_TCP: a connect to tcp://HOST:PORT, through libcurl's connect-only mode: libcurl
 *    resolves the name asynchronously (its threaded resolver, its DNS cache) and tries the
 *    addresses (happy eyeballs), sends no byte, and the socket is closed once connected.
 *    Answered when the connection was accepted.
 *  - SL_JOB_FETCH: GET of the URL (the environment's proxy settings apply), the body kept (at
 *    most 64 MiB) and handed to the callback NUL-terminated.
 *
 * Timeouts: each job has its own, covering the name lookup, the connect and the transfer.
 * Threads: one thread uses a prober; libcurl's resolver runs its own.
 */
#ifndef SL_BRIDGE_PROBE_H
#define SL_BRIDGE_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "api_client.h"
#include "sl_err.h"

typedef struct sl_prober_s sl_prober_t;

typedef enum {
        SL_JOB_HTTP = 1,
        SL_JOB_TCP,
        SL_JOB_FETCH,
} sl_job_kind_t;

/** What a job found. Pointers are valid only during the callback. */
typedef struct {
        int answered;       /**< HTTP/FETCH: a status line arrived; TCP: connected. */
        long http_status;   /**< HTTP/FETCH: the status code; 0 without an answer. */
        int64_t latency_us; /**< The job's time from its start (not its wait in the queue). */
        const char *error;  /**< Without an answer: libcurl's reason; "" otherwise. */
        const char *body;   /**< FETCH with an answer: the body, NUL-terminated; else NULL. */
        size_t body_len;
} sl_probe_result_t;

/** Called once per job that was not cancelled. May submit jobs; must not cancel any. */
typedef void(sl_probe_done_cb_t)(void *job, const sl_probe_result_t *res, void *opaque);

/**
 * @brief A prober running at most @p concurrency jobs at once.
 * @param insecure non-zero: https probes do not verify the node's certificate.
 * @returns NULL with the reason in @p errstr (libcurl could not start, out of memory).
 */
sl_prober_t *sl_prober_new(size_t concurrency, int insecure, sl_probe_done_cb_t *cb, void *opaque,
                           char *errstr, size_t errstr_size);

/**
 * @brief FETCH jobs (a projector's API) send the credentials and trust the CA of @p auth,
 *        which is borrowed: keep it until the prober is destroyed. NULL: none.
 */
void sl_prober_set_fetch_auth(sl_prober_t *pr, const sl_apic_auth_t *auth);

/** Cancels every job (no callbacks) and frees the prober. */
void sl_prober_destroy(sl_prober_t *pr);

/**
 * @brief Queues a job. @p url is copied: http(s)://... for HTTP and FETCH, tcp://HOST:PORT for
 *        TCP. @p job identifies it for the callback and sl_prober_cancel().
 * @returns SL_OK, or SL_ERR_NOMEM.
 */
sl_err_t sl_prober_submit(sl_prober_t *pr, sl_job_kind_t kind, const char *url, int timeout_ms,
                          void *job, char *errstr, size_t errstr_size);

/** Cancels every job submitted with @p job (queued or running), without callbacks. */
void sl_prober_cancel(sl_prober_t *pr, void *job);

/**
 * @brief Starts queued jobs in free slots, drives the running ones, and calls the callback for
 *        each that ended; waits up to @p timeout_ms for network activity when none ended yet.
 *        Returns at once when nothing runs or waits.
 * @returns the number of jobs that ended.
 */
int sl_prober_run(sl_prober_t *pr, int timeout_ms);

/** @returns the jobs running plus the jobs waiting for a slot. */
size_t sl_prober_busy(const sl_prober_t *pr);

#endif
