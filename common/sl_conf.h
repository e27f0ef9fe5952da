/**
 * @file sl_conf.h
 * @brief seerlog's configuration: `key=value` properties from a file and the command line,
 *        validated when set, routed to seerlog or to librdkafka.
 *
 * **Routing** of a key given to sl_conf_set() (or read from a file):
 *  1. A key in seerlog's table (see sl_conf_print_help(), docs/configuration.md) is seerlog's.
 *     Its value is checked against the key's type (int range, bool, URL, host:port list, one of
 *     a set of words). Some of these keys (`bootstrap.servers`) are *also* given to librdkafka,
 *     under the same name, and are checked by librdkafka too.
 *  2. A key starting with `kafka.` is a librdkafka property named by the rest of the key:
 *     `kafka.linger.ms=5` sets librdkafka's `linger.ms`.
 *  3. Any other key is a librdkafka property as is, like kcat's `-X`: `linger.ms=5`.
 *
 * A librdkafka key that names one of the keys in (1), directly (`kafka.bootstrap.servers`) or
 * through a librdkafka alias (`metadata.broker.list`), sets that seerlog key, so there is one
 * value and one place it is shown. Every librdkafka property is checked when it is set, against
 * a scratch `rd_kafka_conf_t`: an unknown property or a value librdkafka rejects fails then,
 * with librdkafka's message, not later when a client is created. (Checks that involve several
 * properties, such as `acks` with `enable.idempotence`, are librdkafka's and happen in
 * rd_kafka_new().) librdkafka properties are kept in the order they were set (setting one again
 * moves it to the end), and applied in that order, after the seerlog keys that librdkafka also
 * takes.
 *
 * **Precedence**: the last set wins. The command line loads `--config` files first and then
 * applies its flags, so a flag overrides a file.
 *
 * Every value remembers its *origin*, a short text shown by `seerlog config`: "default" for a
 * value never set, "file PATH:LINE" for sl_conf_load_file(), whatever the caller passes to
 * sl_conf_set_from() (the command line passes "flag -X", "flag --bootstrap", ...), and "set"
 * for sl_conf_set().
 *
 * Errors are SL_ERR_CONFIG (with a message naming the key, the value and what is expected),
 * SL_ERR_IO for a file that cannot be read, SL_ERR_NOMEM. A failing call changes nothing.
 *
 * Not thread-safe: configure first, then share read-only.
 */
#ifndef SL_CONF_H
#define SL_CONF_H

#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "sl_err.h"

/** Types of seerlog's own keys. */
typedef enum {
        SL_CONF_STRING,    /**< Any text. */
        SL_CONF_INT,       /**< Decimal integer within [min, max]. */
        SL_CONF_BOOL,      /**< true|false (also 1|0). */
        SL_CONF_URL,       /**< http:// or https:// URL with a host. */
        SL_CONF_HOSTPORTS, /**< host:port[,host:port...]; IPv6 hosts in brackets. */
        SL_CONF_ENUM,      /**< One of the words of `choices`. */
} sl_conf_type_t;

/** One entry of seerlog's key table. */
typedef struct {
        const char *name;
        sl_conf_type_t type;
        const char *def;     /**< Default, in string form; valid for the type. */
        int64_t min, max;    /**< SL_CONF_INT only. */
        const char *choices; /**< SL_CONF_ENUM only: "error|warn|info|debug". */
        int flags;           /**< SL_CONF_F_*. */
        const char *desc;    /**< One or two sentences, no trailing newline. */
} sl_conf_prop_t;

/** The key is also a librdkafka property of the same name: it is given to librdkafka too. */
#define SL_CONF_F_KAFKA 0x1

/**
 * @returns seerlog's key table (static) and its size in @p *cntp; for help, docs and tests.
 */
const sl_conf_prop_t *sl_conf_props(size_t *cntp);

typedef struct sl_conf_s sl_conf_t;

/** @returns a new configuration with every key at its default, or NULL when out of memory. */
sl_conf_t *sl_conf_new(void);
void sl_conf_destroy(sl_conf_t *conf);

/**
 * @brief Sets @p key to @p value, routed as described above, origin "set".
 * @returns SL_OK, SL_ERR_CONFIG (unknown librdkafka property, a value of the wrong type or one
 *          librdkafka rejects; @p errstr names the key and value) or SL_ERR_NOMEM.
 */
sl_err_t sl_conf_set(sl_conf_t *conf, const char *key, const char *value, char *errstr,
                     size_t errstr_size);

/** sl_conf_set() recording @p origin (copied; NULL means "set") as where the value came from. */
sl_err_t sl_conf_set_from(sl_conf_t *conf, const char *key, const char *value, const char *origin,
                          char *errstr, size_t errstr_size);

/**
 * @brief Reads a Kafka-style `.properties` file and sets every property in it, in file order.
 *
 * One `key=value` or `key: value` per line (the first `=` or `:` separates); whitespace around
 * key and value is trimmed; blank lines and lines whose first non-blank character is `#` or `!`
 * are ignored. Backslash escapes and line continuations are not supported (values are taken
 * literally). Origin: "file PATH:LINE".
 *
 * All or nothing: on any error the configuration is unchanged.
 *
 * @returns SL_OK; SL_ERR_IO when the file cannot be read ("PATH: strerror"); SL_ERR_CONFIG for
 *          a line that is not `key=value` or a value sl_conf_set() rejects ("PATH:LINE: ...");
 *          SL_ERR_NOMEM.
 */
sl_err_t sl_conf_load_file(sl_conf_t *conf, const char *path, char *errstr, size_t errstr_size);

/**
 * @brief sl_conf_load_file() on an open stream (a pipe, a text in memory with fmemopen()), read
 *        to its end and not closed; @p name stands for the path in origins and messages.
 */
sl_err_t sl_conf_load_stream(sl_conf_t *conf, FILE *fp, const char *name, char *errstr,
                             size_t errstr_size);

/**
 * @brief The value of @p key in string form: for a seerlog key its value or default; for a
 *        librdkafka key (with or without the `kafka.` prefix) the value set, or NULL if it was
 *        not set here (librdkafka's own default then applies).
 * @returns a pointer owned by @p conf, valid until the next set or load on it.
 */
const char *sl_conf_get(const sl_conf_t *conf, const char *key);

/** @returns the origin of @p key's value ("default" for an unset seerlog key), or NULL. */
const char *sl_conf_origin(const sl_conf_t *conf, const char *key);

/**
 * @returns 1 when a schema registry decides what schema ids mean: schema.mode set to register or
 *          lookup, or (schema.mode left at its default) registry.url given (--registry, a file,
 *          -X); 0 otherwise, and then schema.id stands for the built-in schema without asking
 *          any registry. Decoders (projector, tail, history, export) follow it.
 */
int sl_conf_registry_in_use(const sl_conf_t *conf);

/**
 * Typed getters for seerlog's keys. The value was validated when set, so they cannot fail; a key
 * that is not in the table or not of that type is a programming error and returns 0.
 */
int64_t sl_conf_get_int(const sl_conf_t *conf, const char *key);
int sl_conf_get_bool(const sl_conf_t *conf, const char *key);
/** @returns the index of the value among the key's choices ("info" in "error|warn|info" is 2). */
int sl_conf_get_enum(const sl_conf_t *conf, const char *key);

/**
 * @brief The i-th librdkafka property set, in set order.
 * @returns 1 and fills the non-NULL out-pointers (owned by @p conf), or 0 when @p idx is past the
 *          end. Seerlog keys that librdkafka also takes are not in this list.
 */
int sl_conf_kafka_prop(const sl_conf_t *conf, size_t idx, const char **namep, const char **valuep,
                       const char **originp);

/**
 * @brief Applies to @p rk_conf every property librdkafka should see: the seerlog keys flagged
 *        SL_CONF_F_KAFKA (set or default), then the librdkafka properties in set order.
 *
 * Lets a caller set its own defaults on @p rk_conf first, which the user's properties override.
 * Refuses a half-configured security setup first (sl_conf_check_security()), and installs
 * sl_kafka_error_cb() (sl_kafka.h) as the error callback: authentication and TLS failures stop
 * the process instead of being retried forever.
 * @returns SL_OK or SL_ERR_CONFIG (librdkafka's message). On error @p rk_conf may have been
 *          partly changed; the caller destroys it.
 */
sl_err_t sl_conf_kafka_apply(const sl_conf_t *conf, rd_kafka_conf_t *rk_conf, char *errstr,
                             size_t errstr_size);

/**
 * @brief Refuses a half-configured Kafka security setup, in which librdkafka would silently
 *        ignore settings or fail only at connect time.
 *
 * Rules (librdkafka's names; aliases and the `kafka.` prefix are the same keys):
 *  - sasl.username and sasl.password are set together or not at all;
 *  - any sasl.* key needs a security.protocol that uses SASL (SASL_SSL, SASL_PLAINTEXT);
 *  - security.protocol SASL_* needs sasl.mechanisms set, and PLAIN or SCRAM-* need the
 *    username and password;
 *  - any ssl.* key needs a security.protocol that uses TLS (SSL, SASL_SSL);
 *  - ssl.ca.location, ssl.certificate.location, ssl.key.location and ssl.crl.location name
 *    readable files (or "probe" for the CA).
 * sl_conf_kafka_apply() checks it before every client; the command line checks it at start.
 * Messages name the keys, never a secret value.
 * @returns SL_OK or SL_ERR_CONFIG.
 */
sl_err_t sl_conf_check_security(const sl_conf_t *conf, char *errstr, size_t errstr_size);

/**
 * @brief A new librdkafka configuration with everything sl_conf_kafka_apply() applies.
 * @returns the configuration, owned by the caller (rd_kafka_new() takes it), or NULL with
 *          @p errstr set.
 */
rd_kafka_conf_t *sl_conf_kafka(const sl_conf_t *conf, char *errstr, size_t errstr_size);

/**
 * @returns 1 if the value of librdkafka property or seerlog key @p name should not be printed
 *          (passwords, secrets, private keys), else 0.
 */
int sl_conf_is_sensitive(const char *name);

/**
 * @brief Prints the effective configuration: seerlog's keys, then the librdkafka properties in
 *        the order they are applied, one `key=value  # origin` line each (sensitive values
 *        redacted). For people, not for reading back as a properties file.
 */
void sl_conf_print(const sl_conf_t *conf, FILE *fp);

/** Prints the key table and the routing rules for `--help`. */
void sl_conf_print_help(FILE *fp);

/** Prints the key table and routing rules as Markdown: the text of docs/configuration.md. */
void sl_conf_print_markdown(FILE *fp);

#endif
