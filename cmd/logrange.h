/**
 * @file logrange.h
 * @brief A stretch of the log: the topics matching a pattern, and per partition the offsets
 *        between two points in time; reading them once, in offset order per partition, with
 *        progress. Used by history, export, replay and verify.
 *
 * Time is the records' Kafka timestamp (the producer's CreateTime: when seerlog's producer
 * handed the event to librdkafka). The stretch [since, until) of a partition runs from the first
 * record with a timestamp at or after since up to, not including, the first record with a
 * timestamp at or after until (Kafka's offsets-for-times: the cut
 * `kafka-consumer-groups --reset-offsets --to-datetime` makes). It is a stretch of offsets, so
 * a producer's clock that goes backwards cannot make a record count twice or a partition be
 * read out of order; such a record may then lie inside a stretch whose bounds it is outside of.
 */
#ifndef SL_LOGRANGE_H
#define SL_LOGRANGE_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "cli.h"
#include "sl_err.h"

/** "No bound" for since and until. */
#define SL_RANGE_OPEN INT64_MIN

/** One partition's stretch. */
typedef struct {
        char *topic; /**< Owned by the range. */
        int32_t partition;
        int64_t start;     /**< First offset to read. */
        int64_t end;       /**< After the last offset to read; start == end: nothing. */
        int64_t low, high; /**< The watermarks when the range was resolved. */
} sl_range_part_t;

typedef struct {
        char **topics; /**< Matching topics, sorted; owned. */
        size_t topic_cnt;
        sl_range_part_t *parts; /**< By topic, then partition. */
        size_t part_cnt;
        int64_t total; /**< Sum of end - start: records to read (control records included). */
} sl_range_t;

/**
 * @brief Fills @p range with the topics whose names match @p regex (POSIX extended, like
 *        project.topic.pattern; internal topics starting with "__" never match) and their
 *        partitions' offsets for [@p since_ms, @p until_ms) (SL_RANGE_OPEN: from the log's
 *        start, to its end as it is now).
 * @param key when not NULL, only the partition of each topic that murmur2 (seerlog's
 *        partitioner, Java's) puts @p key in.
 * @returns SL_OK; SL_ERR_NOT_FOUND when no topic matches (errstr names the pattern);
 *          SL_ERR_INVALID_ARG for a bad regex; SL_ERR_KAFKA / SL_ERR_TIMEOUT when the brokers
 *          cannot say. Free with sl_range_clear() in every case.
 */
sl_err_t sl_range_resolve(rd_kafka_t *rk, const char *regex, int64_t since_ms, int64_t until_ms,
                          const char *key, size_t key_len, int timeout_ms, sl_range_t *range,
                          char *errstr, size_t errstr_size);

/** Frees what @p range owns and zeroes it. */
void sl_range_clear(sl_range_t *range);

/** Called for every record of the range, in offset order per partition; non-zero stops. */
typedef int(sl_range_record_cb_t)(const rd_kafka_message_t *rkm, void *opaque);

/** Progress of a long read on a terminal (stderr); silent when stderr is not a terminal. */
typedef struct {
        const char *what; /**< "exported", "read" */
        int enabled;
        int64_t started_ms, last_ms;
} sl_progress_t;

/** @p what: the verb shown ("exported"); @p force: show even when stderr is not a terminal. */
void sl_progress_init(sl_progress_t *pr, const char *what, int force);
/** Shows @p done of @p total (0: unknown) at most 4 times a second. */
void sl_progress_update(sl_progress_t *pr, int64_t done, int64_t total);
/** Clears the progress line. */
void sl_progress_done(sl_progress_t *pr);

/**
 * @brief Reads every record of @p range with @p rk (a consumer with no subscription; its
 *        group.id is never joined), calling @p cb for each, until each partition reached its
 *        end, @p cb returns non-zero, or @p stop (may be NULL) returns non-zero (checked a few
 *        times a second, e.g. sl_cli_interrupted).
 * @param stall_ms give up when no record and no end of partition came for this long while
 *                 partitions are still to be read (the brokers went away or froze); 0: wait
 *                 for ever.
 * @param readp the number of records passed to @p cb.
 * @returns SL_OK (all read), SL_ERR_INVALID_ARG when cb or stop ended it early (*readp says
 *          how far), SL_ERR_TIMEOUT after @p stall_ms without progress, SL_ERR_KAFKA with the
 *          reason.
 */
sl_err_t sl_range_read(rd_kafka_t *rk, const sl_range_t *range, sl_range_record_cb_t *cb,
                       void *opaque, int (*stop)(void), int stall_ms, sl_progress_t *progress,
                       int64_t *readp, char *errstr, size_t errstr_size);

/** A consumer for sl_range_read() (assigns, never joins; read_committed; partition EOFs on),
 *  with the user's settings. NULL after printing the error (*exitp set). */
rd_kafka_t *sl_range_consumer(sl_cli_t *cli, const char *client_id, int *exitp);

/** The exit code for an error of sl_range_resolve(): SL_EXIT_NOT_FOUND for no topic,
 *  SL_EXIT_USAGE for a bad pattern, else SL_EXIT_FAIL. */
int sl_range_exit(sl_err_t err);

/**
 * @brief Reads the options --since and --until (sl_time.h's forms) into @p sincep and
 *        @p untilp (SL_RANGE_OPEN when not given). An unparsable time or an --until not after
 *        --since is a usage error. @returns 0 or SL_EXIT_USAGE.
 */
int sl_cli_time_range(sl_cli_t *cli, int64_t *sincep, int64_t *untilp);

#endif
