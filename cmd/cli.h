/**
 * @file cli.h
 * @brief The command-line framework of the `seerlog` binary: subcommands declared as tables,
 *        common options, help, errors, exit codes, signals.
 *
 * A subcommand is an sl_cmd_t (name, one-line summary, usage, description, a table of its own
 * options, a run function) listed in seerlog.c's table. sl_cli_main() parses the common options
 * and the subcommand's options with getopt_long (options may appear on either side of the
 * subcommand's name for the common ones), builds the configuration (--config files first, then
 * --bootstrap, --registry and -X in command-line order, so flags override files), and calls the
 * run function, which reads its options with sl_cli_str() and friends.
 *
 * Exit codes: SL_EXIT_OK (0), SL_EXIT_FAIL (1: a runtime failure, e.g. delivery failed),
 * SL_EXIT_USAGE (2: unknown subcommand or option, missing argument, bad value), and for the
 * commands that read the log SL_EXIT_NOT_FOUND (3), SL_EXIT_MISMATCH (4) and
 * SL_EXIT_INTERRUPTED (130). A usage error
 * prints one line `seerlog: [SUBCOMMAND: ]MESSAGE` and a hint line `(see 'seerlog help ...')` on
 * stderr.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "sl_conf.h"
#include "sl_event.h"
#include "sl_producer.h"

#define SL_EXIT_OK    0
#define SL_EXIT_FAIL  1
#define SL_EXIT_USAGE 2
/** Nothing to work on: an unknown node, no events in the range, no topic matching. */
#define SL_EXIT_NOT_FOUND 3
/** seerlog verify: the projection and the replay differ. */
#define SL_EXIT_MISMATCH 4
/** Stopped by SIGINT or SIGTERM before the work was done (its output was not left behind). */
#define SL_EXIT_INTERRUPTED 130

/** Meant to be given more than once (help says so). Every option keeps all its values
 * (sl_cli_nth()); for the others the last one wins (sl_cli_str()). */
#define SL_OPT_REPEAT   0x1
#define SL_OPT_REQUIRED 0x2 /**< Must be given, with a non-empty value. */

/** One option of a subcommand. Tables end with an all-zero entry. */
typedef struct {
        const char *name; /**< Long name without "--"; also the name sl_cli_str() looks up. */
        int short_name;   /**< 0 for none. */
        const char *arg;  /**< Argument's name in help ("MS"), or NULL for a flag. */
        int flags;        /**< SL_OPT_*. */
        const char *help; /**< One line. */
} sl_opt_t;

typedef struct sl_cli_s sl_cli_t;

/** One subcommand. */
typedef struct {
        const char *name;
        const char *summary;     /**< One line for `seerlog --help`, no final period. */
        const char *usage;       /**< What follows "seerlog NAME " in the usage line. */
        const char *description; /**< Paragraphs for `seerlog help NAME`; may be NULL. */
        const sl_opt_t *opts;    /**< The subcommand's own options; may be NULL. */
        int (*run)(sl_cli_t *cli);
        int max_args;                 /**< Positional arguments accepted (most take none). */
        void (*help_extra)(FILE *fp); /**< Printed at the end of the help; may be NULL. */
} sl_cmd_t;

/** Runs the binary: parses @p argv, dispatches to one of @p cmds. @returns the exit code. */
int sl_cli_main(int argc, char **argv, const sl_cmd_t *const *cmds, size_t cmd_cnt);

/** @returns the configuration built from --config, --bootstrap, --registry and -X. */
sl_conf_t *sl_cli_conf(const sl_cli_t *cli);

/** @returns the subcommand being run. */
const sl_cmd_t *sl_cli_cmd(const sl_cli_t *cli);

/** @returns the last value of option @p name, or NULL when it was not given. */
const char *sl_cli_str(const sl_cli_t *cli, const char *name);

/** @returns how many times option @p name was given. */
size_t sl_cli_count(const sl_cli_t *cli, const char *name);

/** @returns the @p i-th value of a repeatable option, in command-line order. */
const char *sl_cli_nth(const sl_cli_t *cli, const char *name, size_t i);

/** Positional arguments. */
int sl_cli_argc(const sl_cli_t *cli);
const char *sl_cli_arg(const sl_cli_t *cli, int i);

/**
 * @brief Reads option @p name as an integer in [min, max]; @p def when not given.
 * @returns 0, or SL_EXIT_USAGE after printing the usage error.
 */
int sl_cli_int(const sl_cli_t *cli, const char *name, int64_t def, int64_t min, int64_t max,
               int64_t *valp);

/** Prints a usage error (and the hint) for the current subcommand. @returns SL_EXIT_USAGE. */
int sl_cli_usage_error(const sl_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Prints `seerlog: SUBCOMMAND: MESSAGE` on stderr. @returns SL_EXIT_FAIL. */
int sl_cli_fail(const sl_cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Prints the help of @p cmd (or the top-level help when NULL) on @p fp. */
void sl_cli_print_help(const sl_cli_t *cli, const sl_cmd_t *cmd, FILE *fp);

/** Prints the help of the subcommand named @p name. @returns 0 if there is no such subcommand. */
int sl_cli_print_cmd_help(const sl_cli_t *cli, const char *name, FILE *fp);

/**
 * @brief A librdkafka configuration for a client of this subcommand: seerlog's own defaults
 *        (client.id, log_level from log.level), then @p defaults (NULL-terminated name, value
 *        pairs: the subcommand's defaults), then the user's properties, which win.
 * @returns the configuration or NULL after printing the error (*exitp = SL_EXIT_USAGE).
 */
rd_kafka_conf_t *sl_cli_kafka_conf(const sl_cli_t *cli, const char *const *defaults, int *exitp);

/**
 * Makes SIGINT and SIGTERM set a flag instead of killing the process, so a loop can stop and
 * close its Kafka client cleanly; a second signal kills as usual.
 */
void sl_cli_trap_signals(void);

/** @returns 1 once SIGINT or SIGTERM arrived after sl_cli_trap_signals(). */
int sl_cli_interrupted(void);

/**
 * @brief The outbox of a simulator or a benchmark: when outbox.enable is on and outbox.dir is
 *        not set, creates a new temporary directory (TMPDIR or /tmp, named PREFIX-outbox.XXXXXX),
 *        writes its path into @p tmpdir and sets outbox.dir to it, rather than using the node's
 *        real outbox, whose records would be replayed into the run. Otherwise @p tmpdir is "".
 * @returns 0, or SL_EXIT_FAIL after printing the error.
 */
int sl_cli_outbox_tmp_prepare(sl_cli_t *cli, const char *prefix, char *tmpdir, size_t tmpdir_size);

/** Removes the directory sl_cli_outbox_tmp_prepare() made, if any, and empties @p tmpdir. */
void sl_cli_outbox_tmp_cleanup(char *tmpdir);

/**
 * @brief --record FILE, when given: opens FILE for appending and has @p p write one line
 *        "NODE INCARNATION SEQ" to it for every event it accepts (sl_producer_set_accept_cb()),
 *        each line written out at once, so a process killed at any moment leaves in FILE every
 *        accepted event but those of the publish call it was killed in.
 * @returns 0 with *@p fpp the file to fclose() at the end (NULL without --record), or
 *          SL_EXIT_FAIL after printing the error.
 */
int sl_cli_record_start(sl_cli_t *cli, sl_producer_t *p, FILE **fpp);

/** Makes a new directory TMPDIR/PREFIX.XXXXXX (TMPDIR or /tmp) and writes its path into @p dir.
 *  @returns 0, or SL_EXIT_FAIL after printing the error. */
int sl_cli_tmpdir(sl_cli_t *cli, const char *prefix, char *dir, size_t size);

/** For a decoding codec made with sl_codec_new(schema.id): with the registry in use
 *  (sl_conf_registry_in_use()), forgets that schema.id is the built-in schema (the registry
 *  says what every id is). */
void sl_cli_decoder_ids(const sl_cli_t *cli, sl_codec_t *codec);

/** Removes @p dir and everything in it (if @p dir is not ""), and empties @p dir. */
void sl_cli_rmtree(char *dir);

/** @returns milliseconds on the monotonic clock. */
int64_t sl_cli_now_mono_ms(void);

/** @returns milliseconds since the epoch. */
int64_t sl_cli_now_ms(void);

#endif
