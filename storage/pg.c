/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the PostgreSQL store: the connection and its life.
 *
 * Opening connects, creates or migrates the schema and LISTENs, all
 * before the daemon starts serving; a database that cannot be reached
 * then is a start-up error. Afterwards the connection is non-blocking
 * and driven by the event loop: when it breaks, gating goes on from
 * memory, rows queue (bounded, see queue.c), admin commits fail at once,
 * and a timer reconnects without blocking (PQconnectStartParams). A
 * reconnect LISTENs again and re-reads every subject changed since the
 * last change it saw, so nothing announced while it was away is missed;
 * the queued rows go with the next flush.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "../core/clock.h"
#include "../core/log.h"
#include "../core/xmalloc.h"
#include "pg_int.h"
#include "schema.h"

#define PG_TIMER_MS 1000     /* reconnect and deadline checks, ms */
#define PG_RETRY_MS 1000     /* between connection attempts, ms */
#define PG_CONNECT_MS 5000   /* a connection attempt gives up, ms */
#define PG_JOB_MS 30000      /* a statement in flight gives up, ms */
#define PG_FAIL_SUMMARY 600  /* failed flushes between summaries */
#define PG_RETRY_SUMMARY 60  /* failed reconnects between log lines */
#define PG_PASSWORD_MAX 1024 /* bytes of a password file's first line */
#define NS_PER_MS 1000000ull

static int  pg_password(struct pgstore *, const char *);
static void pg_params(struct pgstore *);
static void pg_name(struct pgstore *);
static void pg_arm(struct pgstore *);
static void pg_connect_start(struct pgstore *);
static void pg_connect_step(struct pgstore *);
static void on_read(evutil_socket_t, short, void *);
static void on_write(evutil_socket_t, short, void *);
static void on_connect_io(evutil_socket_t, short, void *);
static void on_timer(evutil_socket_t, short, void *);
static void q_dropped(struct pgstore *, const char *);
static void on_notice(void *, const char *);

/* Server notices (a FATAL before a disconnect, a WARNING) go to our log,
 * escaped, instead of libpq's default of stderr. */
static void
on_notice(void *arg, const char *msg)
{
	struct pgstore *s = arg;
	char            buf[LOG_ESC_MAX], line[LOG_ESC_MAX];

	snprintf(line, sizeof line, "%s", msg);
	line[strcspn(line, "\n")] = '\0';
	log_info("store: %s: server says: %s", s->name ? s->name : "postgresql",
		 log_esc(buf, sizeof buf, line));
}

/* The first line of the password file; its text never reaches a log. */
static int
pg_password(struct pgstore *s, const char *file)
{
	char        buf[PG_PASSWORD_MAX];
	FILE       *fp;
	struct stat st;

	if ((fp = fopen(file, "re")) == NULL) {
		log_warn("store: password-file %s", file);
		return -1;
	}
	/* said, not refused: the operator may know why */
	if (fstat(fileno(fp), &st) == 0 && (st.st_mode & 0077) != 0)
		log_warnx("store: password-file %s is readable by others "
			  "(mode %04o); chmod 600 it",
			  file, (unsigned)(st.st_mode & 07777));
	if (fgets(buf, sizeof buf, fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		log_warnx("store: password-file %s: empty first line", file);
		return -1;
	}
	s->password = xstrdup(buf);
	explicit_bzero(buf, sizeof buf);
	return 0;
}

/*
 * libpq keywords, in order: later ones override what the connection
 * string says. Keepalives and a connect timeout come first (the dsn may
 * change them) so that a vanished server is noticed in seconds, not
 * hours; the encoding and the password come after (the store needs
 * UTF-8, and the password file wins over the environment).
 */
static void
pg_params(struct pgstore *s)
{
	int n = 0;

#define KW(k, v) (s->kw[n] = (k), s->val[n] = (v), n++)
	KW("connect_timeout", "5");
	KW("keepalives_idle", "10");
	KW("keepalives_interval", "5");
	KW("keepalives_count", "3");
	KW("dbname", s->dsn);
	KW("client_encoding", "UTF8");
	KW("fallback_application_name", "floodgated");
	if (s->password != NULL)
		KW("password", s->password);
	KW(NULL, NULL);
#undef KW
}

/* Where we are connected, for log lines: never the password. */
static void
pg_name(struct pgstore *s)
{
	const char *u = PQuser(s->conn), *h = PQhost(s->conn);
	const char *p = PQport(s->conn), *d = PQdb(s->conn);

	free(s->name);
	xasprintf(&s->name, "postgresql://%s@%s:%s/%s", u ? u : "", h ? h : "",
		  p ? p : "", d ? d : "");
}

struct pgstore *
pgstore_open(struct event_base *base, const char *dsn,
	     const char *password_file)
{
	struct pgstore *s = xcalloc(1, sizeof *s);
	struct timeval  tv = {PG_TIMER_MS / 1000, 0};
	PGresult       *r;
	const char     *enc;

	s->base = base;
	s->dsn = xstrdup(dsn != NULL ? dsn : "");
	if (password_file != NULL && pg_password(s, password_file) == -1)
		goto fail;
	pg_params(s);
	s->conn = PQconnectdbParams(s->kw, s->val, 1);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		pgstore_set_err(
		    s, NULL, s->conn ? PQerrorMessage(s->conn) : "no memory");
		log_warnx("store: postgresql: cannot connect: %s", s->err);
		goto fail;
	}
	pg_name(s);
	PQsetNoticeProcessor(s->conn, on_notice, s);
	/* other encodings take bytes that are not text, and what is read
	 * back is pushed in stanzas */
	enc = PQparameterStatus(s->conn, "server_encoding");
	if (enc == NULL || strcmp(enc, "UTF8") != 0)
		log_warnx("store: %s: database encoding %s, not UTF8: create "
			  "it with ENCODING 'UTF8'",
			  s->name, enc ? enc : "unknown");
	if (pgstore_schema_setup(s->conn, s->name) == -1)
		goto fail;
	r = PQexec(s->conn, "LISTEN " PG_CHANNEL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_warnx("store: %s: LISTEN: %s", s->name,
			  PQresultErrorMessage(r));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	if (PQsetnonblocking(s->conn, 1) == -1) {
		log_warnx("store: %s: cannot make the connection non-blocking",
			  s->name);
		goto fail;
	}
	s->backend_pid = PQbackendPID(s->conn);
	/* our rows carry it, so the catch-up read skips them: our memory
	 * is at least as new as what we wrote */
	if (getrandom(&s->writer, sizeof s->writer, 0) != sizeof s->writer)
		s->writer = (int64_t)clock_mono_ns() ^ (int64_t)getpid();
	s->writer &= INT64_MAX;
	if (s->writer == 0)
		s->writer = 1;
	s->q = store_q_new();
	s->inflight = store_q_new();
	s->ev_timer = event_new(base, -1, EV_PERSIST, on_timer, s);
	event_add(s->ev_timer, &tv);
	pg_arm(s);
	s->state = PG_READY;
	s->state_at = clock_mono_ns();
	log_info("store: %s: connected (schema version %d)", s->name,
		 STORE_SCHEMA_VERSION);
	return s;
fail:
	PQfinish(s->conn);
	if (s->password != NULL)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->dsn);
	free(s->name);
	free(s);
	return NULL;
}

void
pgstore_close(struct pgstore *s)
{
	size_t n;

	if (s == NULL)
		return;
	/* a long queue goes in pieces: send them while each one is in */
	while (s->state == PG_READY && (n = pgstore_queued(s)) > 0 &&
	       pgstore_wait_idle(s) == 0 && pgstore_flush(s) == 0 &&
	       pgstore_wait_idle(s) == 0 && pgstore_queued(s) < n)
		;
	if ((n = pgstore_queued(s)) > 0)
		log_warnx("store: %s: closing with %zu rows not written: %s",
			  s->name, n, s->err);
	pgstore_disarm(s);
	if (s->ev_timer != NULL)
		event_free(s->ev_timer);
	PQfinish(s->conn);
	store_q_free(s->q);
	store_q_free(s->inflight);
	if (s->password != NULL)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	free(s->dsn);
	free(s->name);
	free(s->sb);
	free(s);
}

const char *
pgstore_name(const struct pgstore *s)
{
	return s->name;
}

void
pgstore_set_change_cb(struct pgstore *s, store_subject_cb cb, void *arg)
{
	s->change_cb = cb;
	s->change_arg = arg;
}

/* The socket of an established connection on the event loop. */
static void
pg_arm(struct pgstore *s)
{
	int fd = PQsocket(s->conn);

	pgstore_disarm(s);
	s->ev_rd = event_new(s->base, fd, EV_READ | EV_PERSIST, on_read, s);
	s->ev_wr = event_new(s->base, fd, EV_WRITE, on_write, s);
	event_add(s->ev_rd, NULL);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct pgstore *s = arg;

	pgstore_input(s);
	pgstore_kick(s);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	pgstore_want_write(arg);
}

/* A new connection without waiting for it: PQconnectPoll is stepped
 * from socket events. */
static void
pg_connect_start(struct pgstore *s)
{
	s->conn = PQconnectStartParams(s->kw, s->val, 1);
	s->state = PG_CONNECTING;
	s->state_at = clock_mono_ns();
	if (s->conn == NULL || PQstatus(s->conn) == CONNECTION_BAD) {
		pgstore_lost(s,
			     s->conn ? PQerrorMessage(s->conn) : "no memory");
		return;
	}
	pg_connect_step(s);
}

static void
on_connect_io(evutil_socket_t fd, short what, void *arg)
{
	pg_connect_step(arg);
}

static void
pg_connect_step(struct pgstore *s)
{
	PostgresPollingStatusType st = PQconnectPoll(s->conn);
	int                       fd = PQsocket(s->conn);

	pgstore_disarm(s);
	switch (st) {
	case PGRES_POLLING_READING:
	case PGRES_POLLING_WRITING:
		/* the socket may change between steps: a new event each */
		s->ev_rd =
		    event_new(s->base, fd,
			      st == PGRES_POLLING_READING ? EV_READ : EV_WRITE,
			      on_connect_io, s);
		event_add(s->ev_rd, NULL);
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		pgstore_set_err(s, "cannot connect", PQerrorMessage(s->conn));
		if (s->down_logged++ % PG_RETRY_SUMMARY == 0)
			log_warnx("store: %s: %s (still retrying)", s->name,
				  s->err);
		PQfinish(s->conn);
		s->conn = NULL;
		s->state = PG_DOWN;
		s->state_at = clock_mono_ns();
		return;
	}
	if (PQsetnonblocking(s->conn, 1) == -1) {
		pgstore_lost(s, "cannot make the connection non-blocking");
		return;
	}
	PQsetNoticeProcessor(s->conn, on_notice, s);
	s->backend_pid = PQbackendPID(s->conn);
	pg_arm(s);
	s->state = PG_LISTENING;
	(void)pgstore_send(s, PJ_LISTEN, "LISTEN " PG_CHANNEL, 0, NULL);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pgstore *s = arg;
	uint64_t        now = clock_mono_ns();
	char            buf[64];

	switch (s->state) {
	case PG_DOWN:
		if (now - s->state_at >= PG_RETRY_MS * NS_PER_MS)
			pg_connect_start(s);
		break;
	case PG_CONNECTING:
		if (now - s->state_at >= PG_CONNECT_MS * NS_PER_MS) {
			snprintf(buf, sizeof buf, "no connection in %d ms",
				 PG_CONNECT_MS);
			pgstore_disarm(s);
			pgstore_set_err(s, "cannot connect", buf);
			if (s->down_logged++ % PG_RETRY_SUMMARY == 0)
				log_warnx("store: %s: %s (still retrying)",
					  s->name, s->err);
			PQfinish(s->conn);
			s->conn = NULL;
			s->state = PG_DOWN;
			s->state_at = now;
		}
		break;
	default:
		if (s->job != PJ_NONE &&
		    now - s->job_at >= PG_JOB_MS * NS_PER_MS) {
			snprintf(buf, sizeof buf, "no answer in %d ms",
				 PG_JOB_MS);
			pgstore_lost(s, buf);
		} else
			pgstore_kick(s);
	}
}

int
pgstore_health(struct pgstore *s, const char **why)
{
	if (s->state == PG_READY) {
		if (why != NULL)
			*why = NULL;
		return 0;
	}
	if (why != NULL)
		*why =
		    s->state == PG_DOWN ? s->err : "reconnecting to PostgreSQL";
	return -1;
}

void
pgstore_get_stats(const struct pgstore *s, struct store_stats *out)
{
	*out = s->stats;
	out->queued = pgstore_queued(s);
}

size_t
pgstore_queued(const struct pgstore *s)
{
	return store_q_len(s->q) + store_q_len(s->inflight);
}

/* Count a row the queue refused; log the first of a run. */
static void
q_dropped(struct pgstore *s, const char *what)
{
	s->stats.dropped++;
	if (!s->dropping) {
		s->dropping = 1;
		log_warnx("store: %s: write queue full, dropping %s rows "
			  "until a flush succeeds",
			  s->name, what);
	}
}

void
pgstore_queue_subject(struct pgstore *s, const struct store_subject *e)
{
	if ((unsigned)e->type >= FG_SUBJ__MAX ||
	    (unsigned)e->verdict >= FG_V__MAX ||
	    (unsigned)e->override >= FG_OVR__MAX) {
		log_warnx("store: bad subject row dropped");
		s->stats.dropped++;
		return;
	}
	if (store_q_subject(s->q, e) == -1)
		q_dropped(s, "subject");
}

void
pgstore_queue_audit(struct pgstore *s, const struct store_audit *a)
{
	if ((unsigned)a->type >= FG_SUBJ__MAX ||
	    (unsigned)a->old_verdict >= FG_V__MAX ||
	    (unsigned)a->new_verdict >= FG_V__MAX) {
		log_warnx("store: bad audit row dropped");
		s->stats.dropped++;
		return;
	}
	if (store_q_audit(s->q, a) == -1)
		q_dropped(s, "audit");
}

void
pgstore_queue_registration(struct pgstore                  *s,
			   const struct store_registration *r)
{
	if (store_q_registration(s->q, r) == -1)
		q_dropped(s, "registration");
}

int
pgstore_flush(struct pgstore *s)
{
	size_t n = store_q_len(s->q);

	if (n == 0)
		return 0;
	if (s->state != PG_READY) {
		s->stats.flush_errors++;
		if (s->failing++ == 0)
			log_warnx("store: %s: flush failed, keeping %zu "
				  "queued rows: %s",
				  s->name, n, s->err);
		else if (s->failing % PG_FAIL_SUMMARY == 0)
			log_warnx("store: %s: flushes still failing (%llu in a "
				  "row, %zu rows queued, %llu dropped): %s",
				  s->name, (unsigned long long)s->failing,
				  pgstore_queued(s),
				  (unsigned long long)s->stats.dropped, s->err);
		return -1;
	}
	return pgstore_send_batch(s);
}
