/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: configuration parsing, including hostile and broken input.
 */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoconf.h"
#include "core/config.h"
#include "core/log.h"

static char path[64];

static struct fg_config *
load_text(const char *text)
{
	FILE *fp;
	int   fd;

	strcpy(path, "/tmp/fgcfgXXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	return config_load(path);
}

/* Run config_load with stderr captured; return what it printed. */
static char *
load_errors(const char *text, struct fg_config **out)
{
	static char buf[8192];
	FILE       *tmp = tmpfile();
	int         saved = dup(2);
	size_t      n;

	fflush(stderr);
	dup2(fileno(tmp), 2);
	*out = load_text(text);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof buf - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	unlink(path);
	return buf;
}

#define GOOD                                                                   \
	"[component]\n"                                                        \
	"jid = floodgate.example.org ; comment\n"                              \
	"secret = s3cret\n"                                                    \
	"port = 15347\n"                                                       \
	"serves = example.org, other.example\n"                                \
	"[store]\n"                                                            \
	"path = /tmp/x.db\n"                                                   \
	"[admins]\n"                                                           \
	"jids = admin@example.org\n"                                           \
	"jids = root@example.org\n"                                            \
	"[limits]\n"                                                           \
	"account.subscribe = 10/min burst 20\n"                                \
	"domain.inbound-subscribe = 100/hour\n"                                \
	"max-keys = 2048\n"                                                    \
	"[http]\n"                                                             \
	"listen = 127.0.0.1:5380\n"

START_TEST(good_config)
{
	struct fg_config *c;

	load_errors(GOOD, &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->comp_jid, "floodgate.example.org");
	ck_assert_str_eq(c->comp_secret, "s3cret");
	ck_assert_int_eq(c->comp_port, 15347);
	ck_assert_uint_eq(c->serves.n, 2);
	ck_assert_str_eq(c->serves.v[1], "other.example");
	ck_assert_uint_eq(c->admins.n, 2); /* repeated key appends */
	ck_assert_uint_eq(c->limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE].count,
			  10);
	ck_assert_uint_eq(c->limits[FG_SUBJ_ACCOUNT][FG_KIND_SUBSCRIBE].burst,
			  20);
	ck_assert_uint_eq(
	    c->limits[FG_SUBJ_DOMAIN][FG_KIND_INBOUND_SUBSCRIBE].per_ms,
	    3600000);
	ck_assert_uint_eq(
	    c->limits[FG_SUBJ_DOMAIN][FG_KIND_INBOUND_SUBSCRIBE].burst, 100);
	ck_assert_uint_eq(c->max_keys, 2048);
	ck_assert_str_eq(c->http_listen, "127.0.0.1:5380");
	ck_assert(config_list_has(&c->admins, "ROOT@example.org"));
	config_free(c);
}
END_TEST

/* The connection-habit keys, and the login times to the millisecond. */
START_TEST(login_habits)
{
	struct fg_config *c;

	load_errors(GOOD "[detect.login]\n"
			 "spread = 7\n"
			 "round-the-clock = 20\n"
			 "shared-address = 0\n"
			 "habit-window = 6h\n"
			 "short-session = 250ms\n"
			 "short-window = 2500ms\n",
		    &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->spread_nets, 7);
	ck_assert_uint_eq(c->clock_hours, 20);
	ck_assert_uint_eq(c->shared_accounts, 0);
	ck_assert_uint_eq(c->habit_window_ms, 6 * 3600000u);
	ck_assert_uint_eq(c->short_session_ms, 250);
	ck_assert_uint_eq(c->short_window_ms, 2500);
	config_free(c);
	load_errors(GOOD, &c);
	ck_assert_uint_eq(c->spread_nets, 10);
	ck_assert_uint_eq(c->clock_hours, 12);
	ck_assert_uint_eq(c->shared_accounts, 5);
	ck_assert_uint_eq(c->habit_window_ms, 86400000u);
	ck_assert_uint_eq(c->short_session_ms, 60000);
	config_free(c);
}
END_TEST

struct bad_case {
	const char *text;
	const char *expect; /* substring of the error, with line */
};

static const struct bad_case bad[] = {
    {GOOD "[detect.login]\nhabit-window = 10s\n", "habit-window: at least 24s"},
    {GOOD "[detect.login]\nspread = many\n", ":18: spread"},
    {GOOD "[nonsense]\nx = 1\n", ":17: unknown section [nonsense]"},
    {GOOD "[component]\nfoo = 1\n", ":18: unknown key 'foo' in [component]"},
    {GOOD "[limits]\naccount.subscribe = ten/min\n", ":18: account.subscribe"},
    {GOOD "[limits]\naccount.subscribe = 10/fortnight\n", "unit must be"},
    {GOOD "[limits]\naccount.subscribe = 10/min burst\n", "burst M"},
    {GOOD "[limits]\naccount.subscribe = 0/min\n", "between 1 and"},
    {GOOD "[limits]\nplanet.subscribe = 1/min\n", "unknown subject 'planet'"},
    {GOOD "[limits]\naccount.teleport = 1/min\n", "unknown kind 'teleport'"},
    {GOOD "[component]\nport = 70000\n", "not a valid port"},
    {GOOD "[policy]\nhalf-life = forever\n", "not a duration"},
    {GOOD "[policy]\nblock-at = 1\n", "throttle-at < quarantine-at"},
    {GOOD "this is not ini\n", ":17: syntax error"},
    {GOOD "[blocklist]\naccess = sometimes\n", "open or domains"},
    {GOOD "[detect.traps]\naction = drop\n", ":18: action: 'drop' must be"},
    {GOOD "[lists]\naction = Block\n", "quarantine or block"},
    {GOOD "[detect.traps]\njids = a@b, trap.example\n",
     "jids: 'trap.example' is not a bare JID"},
    {GOOD "[lists]\ncolours = x\n", "unknown key 'colours' in [lists]"},
    {GOOD "[limits]\nreply-window = soon\n", ":18: reply-window: 'soon'"},
    {GOOD "[limits]\nreply-window = 400d\n", "up to 365d"},
    {"[component]\njid = a@b\nsecret = x\nserves = b\n[store]\npath=/x\n",
     "jid must be a bare domain"},
    {"[component]\njid = fg.example\n", "secret is required"},
    {GOOD "[empty]\n", ":17: unknown section [empty]"},
    {GOOD "[log]\nfacility = kern\n", "[log] facility 'kern'"},
    {GOOD "[component]\nsecret = other\n",
     ":18: secret: already set on line 3"},
    {GOOD "[store]\nflush-rows = 99999999999999999999999\n", "flush-rows: '9"},
    {GOOD "[policy]\nblock-at = 1e999\n", "not a non-negative number"},
    {GOOD "[admins]\njids = notajid\n", "not a bare JID"},
    {GOOD "[admins]\njids = jos\xe9@example.org\n",
     ":18: jids: not valid UTF-8 text (byte 0xe9 at 3)"},
    {GOOD "[store]\npath = /var/lib/\xc0\xaf.db\n",
     ":18: path: not valid UTF-8"},
    {GOOD "[store]\nbackend = mysql\n", "backend 'mysql' is not sqlite"},
    {GOOD "[store]\ndsn = host=db\n", "dsn and password-file need backend"},
    {GOOD "[store]\npassword-file = /etc/pw\n",
     "dsn and password-file need backend"},
    {GOOD "[policy]\nmode = relaxed\n", ":18: mode: 'relaxed' must be"},
    {GOOD "[actions]\nblock = reject\n", ":18: block: 'reject' must be"},
    {GOOD "[actions]\nspam = drop\n", ":18: unknown key 'spam' in [actions]"},
    {GOOD "[detect.content]\nenforce = maybe\n", ":18: enforce: 'maybe'"},
    {GOOD "[alerts]\nwebhook = http://hook.example/x\n",
     "[alerts] webhook must be an https:// URL"},
    {GOOD "[alerts]\ninterval = 0s\n", "[alerts] interval must be"},
    {GOOD "[reports]\nforward-to = mod@rtbl.example/res\n",
     ":18: forward-to: 'mod@rtbl.example/res' is not a bare JID"},
    {GOOD "[reports]\nforward-to = a@@b\n", ":18: forward-to: 'a@@b'"},
    {GOOD "[reports]\nsend = maybe\n", ":18: send: 'maybe' is not yes/no"},
    {GOOD "[http]\npublic-url = ftp://fg.example.org\n", "public-url must be"},
    {GOOD "[http]\npublic-url = https://fg.example.org/a b\n",
     "public-url must be"},
    {GOOD "[http]\npublic-url = https://fg.example.org/\"><x\n",
     "public-url must be"},
};

/* Observe mode, enforce per detector, actions per reason, alerts. */
START_TEST(observe_actions_alerts)
{
	struct fg_config *c;

	load_errors(GOOD "[policy]\nmode = observe\n"
			 "[detect.content]\nenforce = no\n"
			 "[detect.upstream]\nenforce = no\n"
			 "[actions]\nblock = drop\nwave = drop\n"
			 "quarantine = bounce\n"
			 "[alerts]\nwebhook = https://hook.example/x\n"
			 "ca-file = /etc/ssl/hook.pem\ninterval = 5s\n"
			 "link-down = 2min\nstate = /tmp/alerts.state\n",
		    &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->observe, 1);
	ck_assert_int_eq(c->enforce[FG_DET_CONTENT], 0);
	ck_assert_int_eq(c->enforce[FG_DET_UPSTREAM], 0);
	ck_assert_int_eq(c->enforce[FG_DET_REGISTRATION], 1);
	ck_assert_int_eq(c->drop[FG_CAUSE_BLOCK], 1);
	ck_assert_int_eq(c->drop[FG_CAUSE_WAVE], 1);
	ck_assert_int_eq(c->drop[FG_CAUSE_QUARANTINE], 0);
	ck_assert_int_eq(c->drop[FG_CAUSE_TRAP], 0);
	ck_assert_str_eq(c->alerts_webhook, "https://hook.example/x");
	ck_assert_str_eq(c->alerts_ca_file, "/etc/ssl/hook.pem");
	ck_assert_str_eq(c->alerts_state, "/tmp/alerts.state");
	ck_assert_uint_eq(c->alerts_interval_s, 5);
	ck_assert_uint_eq(c->alerts_link_down_s, 120);
	config_free(c);
	/* the defaults: enforce everything, bounce everything, a minute */
	load_errors(GOOD, &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->observe, 0);
	ck_assert_int_eq(c->enforce[FG_DET_SPAMTRAPS], 1);
	ck_assert_int_eq(c->drop[FG_CAUSE_BLOCK], 0);
	ck_assert_ptr_null(c->alerts_webhook);
	ck_assert_uint_eq(c->alerts_interval_s, 60);
	config_free(c);
}
END_TEST

/* [reports]: sending is on by default; collectors are normalised. */
START_TEST(reports_keys)
{
	struct fg_config *c;

	load_errors(GOOD, &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->report_send, 1);
	ck_assert_uint_eq(c->report_forward_to.n, 0);
	config_free(c);
	load_errors(GOOD "[reports]\nsend = no\n"
			 "forward-to = Mod@RTBL.example, abuse@x.example\n",
		    &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->report_send, 0);
	ck_assert_uint_eq(c->report_forward_to.n, 2);
	ck_assert_str_eq(c->report_forward_to.v[0], "mod@rtbl.example");
	ck_assert_str_eq(c->report_forward_to.v[1], "abuse@x.example");
	config_free(c);
}
END_TEST

/* [http] public-url: kept as given; unset by default. */
START_TEST(public_url)
{
	struct fg_config *c;

	load_errors(GOOD, &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(c->http_public_url);
	config_free(c);
	load_errors(GOOD "[http]\npublic-url = https://fg.example.org/\n", &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->http_public_url, "https://fg.example.org/");
	config_free(c);
}
END_TEST

START_TEST(bad_config)
{
	struct fg_config *c;
	const char       *err = load_errors(bad[_i].text, &c);

	ck_assert_msg(c == NULL, "case %d accepted", _i);
	ck_assert_msg(strstr(err, bad[_i].expect) != NULL,
		      "case %d: expected '%s' in '%s'", _i, bad[_i].expect,
		      err);
	ck_assert_msg(strstr(err, path) != NULL, "no file name in '%s'", err);
}
END_TEST

START_TEST(long_line)
{
	struct fg_config *c;
	char              text[2048];
	const char       *err;

	snprintf(text, sizeof text, "%s[admins]\njids = %0500d@x\n", GOOD, 1);
	err = load_errors(text, &c);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
}
END_TEST

START_TEST(secret_not_in_errors)
{
	struct fg_config *c;
	const char       *err = load_errors(GOOD "[component]\nport = x\n", &c);

	ck_assert_ptr_null(c);
	ck_assert_ptr_null(strstr(err, "s3cret"));
}
END_TEST

/* PostgreSQL: the dsn and password file are kept, the path may go
 * when the control socket is named, and the password never needs to be
 * in the file itself. */
START_TEST(store_postgresql)
{
	struct fg_config *c;
	const char       *err;

#define PG_BASE                                                                \
	"[component]\njid = fg.example\nsecret = x\nserves = example\n"        \
	"[store]\nbackend = postgresql\n"
	c = load_text(PG_BASE "dsn = host=db.example port=5433 dbname=fg\n"
			      "password-file = /etc/floodgate/pgpass\n"
			      "[control]\nsocket = /run/fg/ctl.sock\n");
#ifdef HAVE_LIBPQ
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->store_pg, 1);
	ck_assert_str_eq(c->store_dsn, "host=db.example port=5433 dbname=fg");
	ck_assert_str_eq(c->store_password_file, "/etc/floodgate/pgpass");
	ck_assert_ptr_null(c->store_path);
	config_free(c);
	err = load_errors(PG_BASE, &c);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "set [control] socket"));
#else
	ck_assert_ptr_null(c);
	err = load_errors(PG_BASE, &c);
	ck_assert_ptr_nonnull(strstr(err, "built without libpq"));
#endif
#undef PG_BASE
}
END_TEST

START_TEST(missing_file)
{
	struct fg_config *c;

	log_init(1, 0, "test");
	c = config_load("/nonexistent/floodgate.ini");
	ck_assert_ptr_null(c);
}
END_TEST

/* trap recipients, operator lists and the reply window */
START_TEST(remote_keys)
{
	struct fg_config *c;

	load_errors(GOOD, &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->reply_window_ms, 30ULL * 86400 * 1000);
	ck_assert_int_eq(c->trap_block, 0);
	ck_assert_int_eq(c->lists_block, 0);
	ck_assert_ptr_null(c->lists_jids);
	config_free(c);
	load_errors(GOOD
		    "[limits]\nreply-window = 0\n"
		    "[detect.traps]\njids = trap@example.org, t2@example.org\n"
		    "file = /etc/traps\naction = block\n"
		    "[lists]\njids = /l/jids\ndomains = /l/domains\n"
		    "url-hosts = /l/hosts\naction = block\n",
		    &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->reply_window_ms, 0);
	ck_assert_uint_eq(c->trap_jids.n, 2);
	ck_assert_str_eq(c->trap_jids.v[1], "t2@example.org");
	ck_assert_str_eq(c->trap_file, "/etc/traps");
	ck_assert_int_eq(c->trap_block, 1);
	ck_assert_str_eq(c->lists_jids, "/l/jids");
	ck_assert_str_eq(c->lists_domains, "/l/domains");
	ck_assert_str_eq(c->lists_url_hosts, "/l/hosts");
	ck_assert_int_eq(c->lists_block, 1);
	config_free(c);
	load_errors(GOOD "[limits]\nreply-window = 12h\n", &c);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->reply_window_ms, 12ULL * 3600 * 1000);
	config_free(c);
}
END_TEST

START_TEST(durations)
{
	uint64_t ms;

	ck_assert_int_eq(config_parse_duration_ms("250ms", &ms), 0);
	ck_assert_uint_eq(ms, 250);
	ck_assert_int_eq(config_parse_duration_ms("6h", &ms), 0);
	ck_assert_uint_eq(ms, 21600000);
	ck_assert_int_eq(config_parse_duration_ms("30", &ms), 0);
	ck_assert_uint_eq(ms, 30000);
	ck_assert_int_eq(config_parse_duration_ms("-1s", &ms), -1);
	ck_assert_int_eq(config_parse_duration_ms("1e300d", &ms), -1);
	ck_assert_int_eq(config_parse_duration_ms("nan", &ms), -1);
}
END_TEST

/* Not a regular file: /dev/zero never ends, a FIFO blocks the open. */
START_TEST(not_regular)
{
	char fifo[64];

	ck_assert_ptr_null(config_load("/dev/zero"));
	snprintf(fifo, sizeof fifo, "/tmp/fgcfgfifo%ld", (long)getpid());
	unlink(fifo);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_ptr_null(
	    config_load(fifo)); /* the test times out on a hang */
	unlink(fifo);
}
END_TEST

/* A valid file followed by text that must make it invalid. */
static char *
good_plus(const char *line, size_t times, size_t *len)
{
	size_t n = strlen(GOOD), l = strlen(line), i;
	char  *t = malloc(n + l * times + 1);

	memcpy(t, GOOD, n);
	for (i = 0; i < times; i++)
		memcpy(t + n + i * l, line, l);
	t[n + l * times] = '\0';
	*len = n + l * times;
	return t;
}

START_TEST(many_empty_sections)
{
	struct fg_config *c;
	char             *text, *more;
	size_t            len, i, lines = 0;
	const char       *err;

	/* 100,000 headers of unknown sections, none with a key */
	text = good_plus("", 0, &len);
	more = malloc(len + 100000 * 16);
	memcpy(more, text, len);
	for (i = 0; i < 100000; i++)
		len += (size_t)sprintf(more + len, "[s%zu]\n", i);
	err = load_errors(more, &c);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, ":17: unknown section [s0]"));
	for (; *err != '\0'; err++)
		lines += *err == '\n';
	ck_assert_msg(lines < 30, "%zu error lines for one bad file", lines);
	free(text);
	free(more);
}
END_TEST

START_TEST(too_big)
{
	struct fg_config *c;
	size_t            len;
	char *text = good_plus("; a comment of 32 bytes ......\n", 40000, &len);
	const char *err = load_errors(text, &c);

	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "larger than"));
	free(text);
}
END_TEST

START_TEST(nul_byte)
{
	static const char text[] = GOOD "[admins]\njids = a@b\0c@d\n";
	struct fg_config *c;
	FILE             *fp;
	int               fd;

	strcpy(path, "/tmp/fgcfgXXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	fwrite(text, 1, sizeof text - 1, fp);
	fclose(fp);
	c = config_load(path);
	unlink(path);
	ck_assert_ptr_null(c);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("config");
	TCase   *tc = tcase_create("parse");
	SRunner *sr;
	int      failed;

	log_init(1, 0, "check_config");
	tcase_add_test(tc, good_config);
	tcase_add_test(tc, observe_actions_alerts);
	tcase_add_test(tc, login_habits);
	tcase_add_loop_test(tc, bad_config, 0, sizeof bad / sizeof bad[0]);
	tcase_add_test(tc, long_line);
	tcase_add_test(tc, public_url);
	tcase_add_test(tc, secret_not_in_errors);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, store_postgresql);
	tcase_add_test(tc, durations);
	tcase_add_test(tc, not_regular);
	tcase_add_test(tc, remote_keys);
	tcase_add_test(tc, many_empty_sections);
	tcase_add_test(tc, too_big);
	tcase_add_test(tc, nul_byte);
	tcase_add_test(tc, reports_keys);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
