/**
 * @file sl_sysinfo.h
 * @brief What a node agent reports about its own node: CPU, load, memory and disk from /proc
 *        and statfs, hostname and addresses; and the parsers of the node's status and services
 *        files and of node.labels / node.services.
 *
 * Every parser takes the text of a file (NUL-terminated), so it is tested with canned /proc
 * contents; a truncated or garbled file is SL_ERR_BAD_VALUE with the detail in errstr, never a
 * crash, and leaves the outputs untouched.
 *
 * Linux only. Not thread-safe: one sl_sysinfo_t per thread.
 */
#ifndef SL_SYSINFO_H
#define SL_SYSINFO_H

#include <stddef.h>
#include <stdint.h>

#include "sl_err.h"
#include "sl_event.h"

/** Aggregate CPU time counters of /proc/stat's "cpu" line, in clock ticks. */
typedef struct {
        uint64_t total; /**< Every state but guest (already counted in user). */
        uint64_t idle;  /**< idle + iowait. */
} sl_cpu_times_t;

/**
 * @brief Parses /proc/stat: the aggregate "cpu" line (at least user nice system idle) into
 *        @p times and the number of "cpuN" lines into @p *cpu_countp.
 */
sl_err_t sl_sysinfo_parse_stat(const char *text, sl_cpu_times_t *times, int32_t *cpu_countp,
                               char *errstr, size_t errstr_size);

/**
 * @brief CPU use in percent (0-100, all cores) between two samples; since boot when @p prev is
 *        NULL. A counter that went back (a new boot, a bad sample) or no elapsed time gives 0.
 */
double sl_sysinfo_cpu_percent(const sl_cpu_times_t *prev, const sl_cpu_times_t *cur);

/** @brief Parses /proc/loadavg ("0.52 0.58 0.59 1/389 12345"). */
sl_err_t sl_sysinfo_parse_loadavg(const char *text, double *load1, double *load5, double *load15,
                                  char *errstr, size_t errstr_size);

/**
 * @brief Parses /proc/meminfo into bytes: MemTotal and MemAvailable (kernels before 3.14 lack it:
 *        MemFree + Buffers + Cached then). @p *usedp = total - available.
 */
sl_err_t sl_sysinfo_parse_meminfo(const char *text, int64_t *totalp, int64_t *availablep,
                                  int64_t *usedp, char *errstr, size_t errstr_size);

typedef struct sl_sysinfo_s sl_sysinfo_t;

/**
 * @brief A reader of the node's usage.
 * @param proc_dir where /proc is ("/proc" when NULL; tests point it at canned files).
 * @param disk_path the file system whose size is reported ("/" when NULL).
 * @returns NULL with the reason in @p errstr (out of memory, @p disk_path not a directory).
 */
sl_sysinfo_t *sl_sysinfo_new(const char *proc_dir, const char *disk_path, char *errstr,
                             size_t errstr_size);
void sl_sysinfo_destroy(sl_sysinfo_t *si);

/**
 * @brief Reads the usage now into @p usage (every field but sensors, which are left alone).
 *
 * cpu_percent is the use since the previous successful call (since boot on the first).
 * @returns SL_OK, SL_ERR_IO (a file cannot be read, statfs failed) or SL_ERR_BAD_VALUE (a file
 *          cannot be parsed); @p usage is unchanged on error.
 */
sl_err_t sl_sysinfo_read(sl_sysinfo_t *si, sl_usage_t *usage, char *errstr, size_t errstr_size);

/** @brief This host's name (gethostname), NUL-terminated in @p buf. */
sl_err_t sl_sysinfo_hostname(char *buf, size_t size, char *errstr, size_t errstr_size);

/**
 * @brief Appends to @p ev the addresses of the interfaces that are up, IPv4 and IPv6, without
 *        loopback and IPv6 link-local addresses (they need a scope to be reached), each once.
 */
sl_err_t sl_sysinfo_add_addresses(sl_event_t *ev, char *errstr, size_t errstr_size);

/**
 * @brief Percentages of CPU, memory and disk use in @p pct[0..2] (0 for a total of 0).
 */
void sl_usage_percents(const sl_usage_t *usage, double pct[3]);

/**
 * @returns 1 when the CPU, memory or disk percentage of @p cur moved by at least
 *          @p threshold points from @p last, else 0.
 */
int sl_usage_moved(const double last[3], const double cur[3], double threshold);

/* ---- The node's description (node.* keys and files) ---- */

/**
 * @brief Parses a status file: its first word (up, degraded, draining, down, maintenance; any
 * case); empty or blank text is up. @returns SL_ERR_BAD_ENUM for any other word ("left" is the
 * agent's to send).
 */
sl_err_t sl_node_status_file_parse(const char *text, sl_node_status_t *statusp, char *errstr,
                                   size_t errstr_size);

/**
 * @brief Appends the services of @p text to @p ev: entries `name[;key=value...]` separated by
 *        @p sep (',' for node.services, '\n' for node.services.file). Whitespace around names,
 *        keys and values is trimmed; empty entries and, when @p sep is '\n', lines starting with
 *        '#' are skipped. A duplicate service name, an empty key or a meta without '=' is
 *        SL_ERR_BAD_VALUE; then @p ev may hold some of the services (reset it).
 */
sl_err_t sl_node_services_parse(sl_event_t *ev, const char *text, char sep, char *errstr,
                                size_t errstr_size);

/**
 * @brief Appends the labels of @p text (`key=value[,key=value...]`) to @p ev. An empty key, an
 *        entry without '=' or a duplicate key is SL_ERR_BAD_VALUE.
 */
sl_err_t sl_node_labels_parse(sl_event_t *ev, const char *text, char *errstr, size_t errstr_size);

/** @returns 1 when @p a and @p b list the same services (names and meta, in order), else 0. */
int sl_node_services_equal(const sl_event_t *a, const sl_event_t *b);

#endif
