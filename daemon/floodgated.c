/* SPDX-License-Identifier: ISC */
/*
 * floodgated - the floodgate daemon: reads the configuration, opens the
 * reputation store, attaches to the XMPP server as a component, and runs
 * the event loop until SIGTERM/SIGINT. SIGHUP reloads the configuration
 * without dropping state.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "autoconf.h"
#include "../component/comp.h"
#include "../admin/control.h"
#include "../admin/verbs.h"
#include "../admin/web.h"
#include "../policy/policy.h"
#include "../policy/upstream.h"
#include "../storage/store.h"
#include "../core/clock.h"
#include "../core/config.h"
#include "../core/ctlsock.h"
#include "../core/http.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "proc.h"

#define TICK_MS 1000          /* policy housekeeping period, ms */
#define PRUNE_BATCH 500       /* old rows per table deleted per tick, rows */
#define SHUTDOWN_GRACE_MS 200 /* let the loop finish writes, ms */

struct daemon {
	struct event_base *base;
	struct fg_config  *cfg;
	struct store      *store;
	struct policy     *pol;
	struct comp       *comp;
	struct http       *http;
	struct ctlsock    *ctl; /* floodgatectl; NULL after a failed reload */
	struct web        *web; /* the moderation page; sessions live here */
	struct event      *ev_flush;
	struct event      *ev_tick;
	struct event      *ev_sig[4];
	uint64_t           flush_slow;   /* flushes over FLUSH_SLOW_US */
	uint64_t           flushes_seen; /* store_stats.flushes last judged */
};

#define FLUSH_SLOW_US 20000 /* a flush this long is worth a warning, us */

static void __attribute__((__noreturn__)) usage(FILE *fp, int rc)
{
	fprintf(fp, "usage: floodgated -c FILE [-d] [-n] [-v] [-u USER]\n"
		    "       floodgated -V | -h\n"
		    "  -c FILE  configuration file\n"
		    "  -d       stay in the foreground, log to stderr\n"
		    "  -n       check the configuration, paths and "
		    "permissions, and exit\n"
		    "  -u USER  run as USER once sockets and store are open "
		    "(as [daemon] user)\n"
		    "  -v       more verbose (repeat for "
		    "debug)\n"
		    "  -V, --version  print the version and exit\n"
		    "  -h, --help     this help\n");
	exit(rc);
}

static void
arm(struct event *ev, uint32_t ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_add(ev, &tv);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct daemon     *d = arg;
	struct store_stats st;

	/* notices (and logs) a deleted store even when idle */
	(void)store_health(d->store, NULL);
	if (store_queued(d->store) > 0) {
		/* the store logs the first failure and a summary */
		if (store_flush(d->store) == -1)
			goto out;
		store_get_stats(d->store, &st);
		/* a PostgreSQL flush completes later: judge each one once */
		if (st.flushes != d->flushes_seen &&
		    st.last_flush_us > FLUSH_SLOW_US) {
			d->flush_slow++;
			log_warnx("store: slow flush, %llu us",
				  (unsigned long long)st.last_flush_us);
		}
		d->flushes_seen = st.flushes;
	}
out:
	arm(d->ev_flush, d->cfg->store_flush_ms);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	pol_tick(d->pol);
	web_tick(d->web, clock_wall_ms());
	if (d->cfg->store_retention_s > 0)
		(void)store_prune(d->store,
				  clock_wall_ms() -
				      (int64_t)d->cfg->store_retention_s * 1000,
				  PRUNE_BATCH);
	/* a burst of decisions should not wait for the timer */
	if (store_queued(d->store) >= d->cfg->store_flush_rows)
		store_flush(d->store);
	arm(d->ev_tick, TICK_MS);
}

static int
healthy(void *arg)
{
	struct daemon *d = arg;

	/* a store that can no longer keep what it acknowledges is down */
	return comp_up(d->comp) && store_health(d->store, NULL) == 0;
}

/* The "listed" counts of floodgatectl stats, as gauges per verdict. */
static void
listed_metrics(struct evbuffer *b, struct daemon *d)
{
	struct adm_env  env = {d->pol, d->store, d->cfg, NULL, NULL, NULL};
	struct adm_stat st[ADM_STATS_MAX];
	size_t          i, n = adm_stats(&env, st, ADM_STATS_MAX);
	const char     *help = "Subjects under a verdict";
	char            label[64];

	for (i = 0; i < n; i++) {
		if (strncmp(st[i].name, "listed_", 7) != 0)
			continue;
		snprintf(label, sizeof label, "verdict=\"%s\"", st[i].name + 7);
		http_metric(b, "floodgate_listed", "gauge", help, label,
			    (double)st[i].value);
		help = NULL;
	}
}

static void
core_metrics(struct evbuffer *b, void *arg)
{
	struct daemon     *d = arg;
	struct pol_stats   ps;
	struct store_stats ss;

	pol_get_stats(d->pol, &ps);
	store_get_stats(d->store, &ss);
	http_metric(b, "floodgate_policy_gates_total", "counter",
		    "Gate decisions taken by the policy", NULL,
		    (double)ps.gates);
	http_metric(b, "floodgate_policy_denied_total", "counter",
		    "Gate decisions that denied", NULL, (double)ps.denied);
	http_metric(b, "floodgate_would_refuse_total", "counter",
		    "Gates observe mode let through that enforce mode would "
		    "have refused, by the verdict it would have applied",
		    "verdict=\"throttle\"", (double)ps.would[FG_V_THROTTLE]);
	http_metric(b, "floodgate_would_refuse_total", "counter", NULL,
		    "verdict=\"quarantine\"",
		    (double)ps.would[FG_V_QUARANTINE]);
	http_metric(b, "floodgate_would_refuse_total", "counter", NULL,
		    "verdict=\"block\"", (double)ps.would[FG_V_BLOCK]);
	http_metric(b, "floodgate_policy_dropped_total", "counter",
		    "Refusals answered with action drop ([actions])", NULL,
		    (double)ps.dropped);
	http_metric(b, "floodgate_policy_events_total", "counter",
		    "Meter events processed", NULL, (double)ps.events);
	http_metric(b, "floodgate_subjects", "gauge",
		    "Subjects with reputation state in memory", NULL,
		    (double)ps.subjects);
	http_metric(b, "floodgate_buckets", "gauge", "Rate buckets in memory",
		    NULL, (double)ps.buckets);
	http_metric(b, "floodgate_bucket_evictions_total", "counter",
		    "Buckets evicted at the cap", NULL,
		    (double)ps.bucket_evictions);
	http_metric(b, "floodgate_verdict_changes_total", "counter",
		    "Changes of effective verdicts", NULL,
		    (double)ps.verdict_changes);
	http_metric(b, "floodgate_list_rejects_total", "counter",
		    "Trap or operator list files not loaded (bad lines)", NULL,
		    (double)ps.list_rejects);
	http_metric(b, "floodgate_store_flushes_total", "counter",
		    "Write-behind transactions", NULL, (double)ss.flushes);
	http_metric(b, "floodgate_store_rows_total", "counter",
		    "Rows written behind", NULL, (double)ss.rows_written);
	http_metric(b, "floodgate_store_flush_errors_total", "counter",
		    "Failed write-behind transactions", NULL,
		    (double)ss.flush_errors);
	http_metric(b, "floodgate_store_last_flush_seconds", "gauge",
		    "Duration of the last flush", NULL,
		    (double)ss.last_flush_us / 1e6);
	http_metric(b, "floodgate_store_queued_rows", "gauge",
		    "Rows waiting for the next flush", NULL,
		    (double)store_queued(d->store));
	http_metric(b, "floodgate_store_pruned_rows_total", "counter",
		    "Audit, registration and report rows past [store] "
		    "retention deleted",
		    NULL, (double)ss.pruned);
	http_metric(b, "floodgate_store_ok", "gauge",
		    "1 while the store can keep what it acknowledges (SQLite: "
		    "the file opened is still there; PostgreSQL: connected)",
		    NULL, store_health(d->store, NULL) == 0 ? 1 : 0);
	http_metric(b, "floodgate_store_slow_flushes_total", "counter",
		    "Flushes slower than 20 ms", NULL, (double)d->flush_slow);
	http_metric(b, "floodgate_build_info", "gauge",
		    "The running floodgated", "version=\"" PACKAGE_VERSION "\"",
		    1);
	listed_metrics(b, d);
}

/* The pages need the component: wired once it exists. */
static void
wire_http(struct daemon *d)
{
	if (d->http == NULL)
		return;
	http_set_health(d->http, healthy, d);
	http_add_collector(d->http, comp_metrics, d->comp);
	http_add_collector(d->http, core_metrics, d);
	http_add_page(d->http, "/blocklist.txt", "text/plain; charset=utf-8",
		      comp_blocklist_txt, d->comp);
	http_add_handler(d->http, WEB_PREFIX, web_handle, d->web);
}

/* The moderation page and the ad-hoc web-login see the current
 * configuration and component. */
static void
wire_web(struct daemon *d)
{
	struct adm_env env = {d->pol, d->store, d->cfg, NULL, NULL, d->web};

	web_set_env(d->web, &env);
	comp_set_web(d->comp, d->web);
}

static int
start_http(struct daemon *d)
{
	if (d->cfg->http_listen == NULL)
		return 0;
	if ((d->http = http_new(d->base, d->cfg->http_listen)) == NULL)
		return -1;
	wire_http(d);
	return 0;
}

static void on_ctl(const char *, char *, struct evbuffer *, void *);

/* Both NULL, or the same text. */
static int
streq(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static int
reload(struct daemon *d)
{
	struct fg_config *n;
	struct pol_stats  ps;
	uint64_t          rejects;
	int               relink, rehttp;
	char              sock[PATH_MAX];

	log_info("reloading %s", d->cfg->path);
	if ((n = config_load(d->cfg->path)) == NULL) {
		log_warnx("reload failed: keeping the running configuration");
		return -1;
	}
	if (n->store_pg != d->cfg->store_pg ||
	    !streq(n->store_path, d->cfg->store_path) ||
	    !streq(n->store_dsn, d->cfg->store_dsn) ||
	    !streq(n->store_password_file, d->cfg->store_password_file))
		log_warnx("reload: [store] changes need a restart; still "
			  "using %s",
			  store_name(d->store));
	relink = config_link_changed(d->cfg, n);
	rehttp = (n->http_listen == NULL) != (d->cfg->http_listen == NULL) ||
		 (n->http_listen != NULL &&
		  strcmp(n->http_listen, d->cfg->http_listen) != 0);
	pol_get_stats(d->pol, &ps);
	rejects = ps.list_rejects;
	pol_reconfigure(d->pol, n);
	pol_get_stats(d->pol, &ps);
	rejects = ps.list_rejects - rejects;
	pol_upstream_load_files(d->pol, n); /* lists reread on SIGHUP */
	if (relink) {
		log_info("reload: component settings changed, reconnecting");
		comp_stop(d->comp);
		if (d->http != NULL) {
			http_free(d->http);
			d->http = NULL;
			rehttp = 1;
		}
		comp_free(d->comp);
		d->comp = comp_new(d->base, n, d->pol, d->store);
		comp_start(d->comp);
	} else
		comp_reconfigure(d->comp, n);
	config_free(d->cfg);
	d->cfg = n;
	wire_web(d);
	if (rehttp) {
		http_free(d->http);
		d->http = NULL;
		if (start_http(d) == -1)
			log_warnx("reload: http listener not started");
	}
	adm_ctl_socket(d->cfg, sock, sizeof sock);
	if (d->ctl == NULL) {
		if ((d->ctl = ctlsock_new(d->base, sock, d->cfg->ctl_group,
					  on_ctl, d)) == NULL)
			log_warnx("reload: still no control socket");
	} else if (ctlsock_rebind(d->ctl, sock, d->cfg->ctl_group) == -1)
		log_warnx("reload: control socket stays on %s",
			  ctlsock_path(d->ctl));
	log_info("reload done");
	return rejects > 0 ? 1 : 0;
}

static int
ctl_reload(void *arg)
{
	return reload(arg);
}

/* One floodgatectl request: the same admin verbs as the ad-hoc
 * commands, with the peer's user as the actor. */
static void
on_ctl(const char *actor, char *line, struct evbuffer *out, void *arg)
{
	struct daemon *d = arg;
	struct adm_env env = {d->pol, d->store, d->cfg, ctl_reload, d, d->web};
	struct adm_buf b = {NULL, 0, 0};

	adm_ctl_exec(&env, actor, line, &b);
	evbuffer_add(out, b.p, b.len);
	adm_buf_free(&b);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = {0, SHUTDOWN_GRACE_MS * 1000};

	switch (sig) {
	case SIGHUP:
		proc_notify("RELOADING=1");
		reload(d);
		proc_notify("READY=1");
		break;
	case SIGTERM:
	case SIGINT:
		log_info("%s: shutting down",
			 sig == SIGTERM ? "SIGTERM" : "SIGINT");
		proc_notify("STOPPING=1");
		comp_stop(d->comp);
		event_base_loopexit(d->base, &tv);
		break;
	}
}

/* Keep 0-2 taken so no socket of ours lands on a standard stream. */
static void
hold_std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* Everything that can fail at start-up, before we detach; -1 (logged). */
/*
 * Everything that can fail at start-up, before we detach; -1 (logged).
 * Sockets and the pidfile may need root; the store is opened after the
 * user switch so that its files belong to that user.
 */
static int
open_all(struct daemon *d, const char *user)
{
	char sock[PATH_MAX];

	if ((d->base = event_base_new()) == NULL)
		fatalx("event_base_new");
	d->ctl = ctlsock_new(d->base, adm_ctl_socket(d->cfg, sock, sizeof sock),
			     d->cfg->ctl_group, on_ctl, d);
	if (d->ctl == NULL)
		return -1;
	if (d->cfg->http_listen != NULL &&
	    (d->http = http_new(d->base, d->cfg->http_listen)) == NULL)
		return -1;
	if (proc_pidfile_write(d->cfg->pidfile) == -1 ||
	    proc_switch_user(user, ctlsock_path(d->ctl)) == -1)
		return -1;
	d->store = d->cfg->store_pg ? store_open_pg(d->base, d->cfg->store_dsn,
						    d->cfg->store_password_file)
				    : store_open(d->cfg->store_path);
	if (d->store == NULL)
		return -1;
	if ((d->pol = pol_new(d->cfg, d->store)) == NULL)
		return -1;
	/* other instances on a shared store: their verdicts become ours */
	store_set_change_cb(d->store, pol_shared_change, d->pol);
	d->comp = comp_new(d->base, d->cfg, d->pol, d->store);
	pol_upstream_load_files(d->pol, d->cfg);
	d->web = web_new();
	wire_web(d);
	wire_http(d);
	return 0;
}

static void
close_all(struct daemon *d)
{
	http_free(d->http);
	ctlsock_free(d->ctl);
	comp_free(d->comp);
	web_free(d->web);
	pol_free(d->pol);
	store_close(d->store); /* flushes what is still queued */
	if (d->base != NULL)
		event_base_free(d->base);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon    d;
	const char      *path = NULL, *user = NULL;
	int              ch, fg = 0, check = 0, verbose = 0, i, rc = 0;
	struct sigaction sa;
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	char             sock[PATH_MAX];

	while ((ch = getopt_long(argc, argv, "c:dnu:vVh", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			fg = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'u':
			user = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("floodgated %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, 2);
		}
	}
	if (path == NULL || optind != argc)
		usage(stderr, 2);
	/* start-up errors go to the caller's stderr, syslog comes later */
	log_init(1, verbose, "floodgated");
	log_libevent();
	memset(&d, 0, sizeof d);
	if ((d.cfg = config_load(path)) == NULL) {
		log_warnx("%s: configuration not valid", path);
		return 1;
	}
	if (user == NULL)
		user = d.cfg->user;
	if (check) {
		adm_ctl_socket(d.cfg, sock, sizeof sock);
		rc = proc_check(d.cfg, sock, user) == -1 ? 1 : 0;
		fprintf(stderr, "%s: configuration %s\n", path,
			rc ? "not usable" : "OK");
		config_free(d.cfg);
		return rc;
	}
	hold_std_fds();
	if (!fg)
		proc_detach_begin();

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL); /* a dead peer: EPIPE, not death */
	srandom((unsigned)(clock_mono_ns() ^ (uint64_t)getpid()));

	if (open_all(&d, user) == -1) {
		log_warnx("floodgated not started");
		close_all(&d);
		config_free(d.cfg);
		return 1;
	}
	for (i = 0; i < 3; i++) {
		d.ev_sig[i] = evsignal_new(d.base, sigs[i], on_signal, &d);
		evsignal_add(d.ev_sig[i], NULL);
	}
	d.ev_flush = evtimer_new(d.base, on_flush, &d);
	d.ev_tick = evtimer_new(d.base, on_tick, &d);
	arm(d.ev_flush, d.cfg->store_flush_ms);
	arm(d.ev_tick, TICK_MS);
	if (!fg) {
		log_syslog(d.cfg->log_ident, d.cfg->log_facility);
		proc_detach_done();
	}
	log_info("floodgated %s starting: component %s via %s:%d, store %s",
		 PACKAGE_VERSION, d.cfg->comp_jid, d.cfg->comp_server,
		 d.cfg->comp_port, store_name(d.store));
	comp_start(d.comp);
	proc_notify("READY=1");

	event_base_dispatch(d.base);

	for (i = 0; i < 3; i++)
		event_free(d.ev_sig[i]);
	event_free(d.ev_flush);
	event_free(d.ev_tick);
	close_all(&d);
	proc_pidfile_remove(d.cfg->pidfile);
	config_free(d.cfg);
	log_info("stopped");
	return 0;
}
