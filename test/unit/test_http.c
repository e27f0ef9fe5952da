/* Unit tests of common/sl_http's security settings: the auth file, roles, TLS and refusals. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_conf.h"
#include "sl_http.h"

static sl_conf_t *conf;
static sl_http_sec_t *sec;
static char errstr[512];
static char tmpdir[64];

static void setup(void)
{
        strcpy(tmpdir, "/tmp/sl_test_http.XXXXXX");
        cr_assert_not_null(mkdtemp(tmpdir));
        conf = sl_conf_new();
        cr_assert_not_null(conf);
        sec = NULL;
        errstr[0] = '\0';
}

static void teardown(void)
{
        char cmd[128];

        sl_http_sec_destroy(sec);
        sl_conf_destroy(conf);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        cr_assert_eq(system(cmd), 0);
}

/* Writes @p text to tmpdir/@p name with @p mode and sets api.auth.file to it. */
static void auth_file(const char *name, const char *text, mode_t mode)
{
        char path[128];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        cr_assert_not_null(fp = fopen(path, "w"));
        fputs(text, fp);
        fclose(fp);
        chmod(path, mode);
        cr_assert_eq(sl_conf_set(conf, "api.auth.file", path, errstr, sizeof(errstr)), SL_OK, "%s",
                     errstr);
}

static sl_err_t load(const char *host)
{
        return sl_http_sec_new(conf, "api", host, &sec, errstr, sizeof(errstr));
}

TestSuite(http_sec, .init = setup, .fini = teardown);

Test(http_sec, nothing_set_is_open)
{
        cr_assert_eq(load("0.0.0.0"), SL_OK, "%s", errstr);
        cr_assert_eq(sl_http_sec_auth(sec), 0);
        cr_assert_eq(sl_http_sec_tls(sec), 0);
        cr_assert_null(sl_http_sec_warning(sec));
}

Test(http_sec, users_tokens_and_roles)
{
        auth_file("users",
                  "# comment\r\n"
                  "\n"
                  "old:pw:with:colons\r\n"
                  "ro:rpw:read\n"
                  "adm:apw:admin\n"
                  "odd:ends:in:read:admin\n"
                  "Bearer abcdefghijklmnop0123:read\n"
                  "Bearer ZZZZZZZZZZZZZZZZ/+_-.~==\n",
                  0600);
        cr_assert_eq(load("127.0.0.1"), SL_OK, "%s", errstr);
        cr_assert_eq(sl_http_sec_auth(sec), 1);
        cr_assert_null(sl_http_sec_warning(sec));
        cr_assert_eq(sl_http_sec_basic(sec, "old", "pw:with:colons"), SL_HTTP_ROLE_ADMIN,
                     "no role: admin, every ':' but a role's belongs to the password");
        cr_assert_eq(sl_http_sec_basic(sec, "ro", "rpw"), SL_HTTP_ROLE_READ);
        cr_assert_eq(sl_http_sec_basic(sec, "ro", "rpw:read"), SL_HTTP_ROLE_NONE);
        cr_assert_eq(sl_http_sec_basic(sec, "adm", "apw"), SL_HTTP_ROLE_ADMIN);
        cr_assert_eq(sl_http_sec_basic(sec, "odd", "ends:in:read"), SL_HTTP_ROLE_ADMIN);
        cr_assert_eq(sl_http_sec_basic(sec, "adm", "rpw"), SL_HTTP_ROLE_NONE);
        cr_assert_eq(sl_http_sec_basic(sec, "nobody", "apw"), SL_HTTP_ROLE_NONE);
        cr_assert_eq(sl_http_sec_basic(sec, "adm", ""), SL_HTTP_ROLE_NONE);
        cr_assert_eq(sl_http_sec_bearer(sec, "abcdefghijklmnop0123"), SL_HTTP_ROLE_READ);
        cr_assert_eq(sl_http_sec_bearer(sec, "ZZZZZZZZZZZZZZZZ/+_-.~=="), SL_HTTP_ROLE_ADMIN);
        cr_assert_eq(sl_http_sec_bearer(sec, "abcdefghijklmnop012"), SL_HTTP_ROLE_NONE);
        cr_assert_eq(sl_http_sec_bearer(sec, "rpw"), SL_HTTP_ROLE_NONE,
                     "a password is not a token");
        cr_assert_eq(sl_http_sec_basic(sec, "Bearer abcdefghijklmnop0123", ""), SL_HTTP_ROLE_NONE);
}

Test(http_sec, readable_by_others_is_a_warning)
{
        auth_file("users", "a:b\n", 0644);
        cr_assert_eq(load("::1"), SL_OK, "%s", errstr);
        cr_assert_not_null(sl_http_sec_warning(sec));
        cr_assert(strstr(sl_http_sec_warning(sec), "can be read by other users (mode 0644)"), "%s",
                  sl_http_sec_warning(sec));
}

Test(http_sec, malformed_files_are_refused_without_the_secret)
{
        static const char *const bad[] = {
            "nocolonsecretXYZ\n",
            ":emptyuser\n",
            "emptypass:\n",
            "Bearer short:read\n",
            "Bearer has space in itXYZ\n",
            "# only a comment\n\n",
            "",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                auth_file("bad", bad[i], 0600);
                cr_assert_eq(load("127.0.0.1"), SL_ERR_CONFIG, "case %zu accepted", i);
                cr_assert_null(sec);
                cr_assert(strstr(errstr, "api.auth.file="), "%s", errstr);
                cr_assert_null(strstr(errstr, "XYZ"), "the line is quoted: %s", errstr);
        }
        auth_file("bad", "ok:fine\n\nnocolonsecretXYZ\n", 0600);
        cr_assert_eq(load("127.0.0.1"), SL_ERR_CONFIG);
        cr_assert(strstr(errstr, "line 3"), "%s", errstr);
}

Test(http_sec, auth_without_tls_off_loopback)
{
        static const char *const loop[] = {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"};
        static const char *const open[] = {"0.0.0.0", "::", "", "10.0.0.1", "example.org"};

        auth_file("users", "a:b\n", 0600);
        for (size_t i = 0; i < sizeof(loop) / sizeof(*loop); i++) {
                cr_assert_eq(load(loop[i]), SL_OK, "%s: %s", loop[i], errstr);
                sl_http_sec_destroy(sec);
                sec = NULL;
        }
        for (size_t i = 0; i < sizeof(open) / sizeof(*open); i++) {
                cr_assert_eq(load(open[i]), SL_ERR_CONFIG, "%s accepted", open[i]);
                cr_assert(strstr(errstr, "api.allow.insecure.auth=true"), "%s", errstr);
        }
        cr_assert_eq(sl_conf_set(conf, "api.allow.insecure.auth", "true", errstr, sizeof(errstr)),
                     SL_OK);
        cr_assert_eq(load("0.0.0.0"), SL_OK, "%s", errstr);
}

Test(http_sec, cert_and_key_go_together)
{
        cr_assert_eq(sl_conf_set(conf, "api.tls.cert", "/nonexistent.pem", errstr, sizeof(errstr)),
                     SL_OK);
        cr_assert_eq(load("127.0.0.1"), SL_ERR_CONFIG);
        cr_assert(strstr(errstr, "api.tls.key is missing"), "%s", errstr);
        cr_assert_eq(
            sl_conf_set(conf, "api.tls.key", "/nonexistent-key.pem", errstr, sizeof(errstr)),
            SL_OK);
        cr_assert_eq(load("127.0.0.1"), SL_ERR_CONFIG);
        cr_assert(strstr(errstr, "api.tls.cert=/nonexistent.pem"), "%s", errstr);
}

Test(http_sec, tls_pem_is_loaded_at_start)
{
        char cmd[512], cert[128], key[128];

        snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
        snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=t -keyout %s "
                 "-out %s >/dev/null 2>&1",
                 key, cert);
        cr_assert_eq(system(cmd), 0, "openssl");
        chmod(key, 0600);
        cr_assert_eq(sl_conf_set(conf, "api.tls.cert", cert, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(sl_conf_set(conf, "api.tls.key", key, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(load("127.0.0.1"), SL_OK, "%s", errstr);
        cr_assert_eq(sl_http_sec_tls(sec), 1);
        sl_http_sec_destroy(sec);
        sec = NULL;
        /* The certificate as its own key: not a key. */
        cr_assert_eq(sl_conf_set(conf, "api.tls.key", cert, errstr, sizeof(errstr)), SL_OK);
        cr_assert_eq(load("127.0.0.1"), SL_ERR_CONFIG);
        cr_assert(strstr(errstr, "not a usable PEM"), "%s", errstr);
}
