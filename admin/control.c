/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the control protocol, daemon side: parse one request line,
 * run it through the admin verbs (the same validation and audit as the
 * ad-hoc commands), and render the answer as text for people or JSON
 * for scripts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconf.h"
#include "../core/utf8.h"
#include "../core/xmalloc.h"
#include "../storage/store.h"
#include "../core/clock.h"
#include "control.h"
#include "web.h"

static void put_status(struct adm_buf *, int, int, const char *);
static int  do_inspect(const struct adm_env *, const struct adm_req *,
		       struct adm_buf *);
static int  do_list(const struct adm_env *, const struct adm_req *,
		    struct adm_buf *);
static int  do_stats(const struct adm_env *, const struct adm_req *,
		     struct adm_buf *);
static int  do_backup(const struct adm_env *, const struct adm_req *,
		      struct adm_buf *);
static int  do_web_login(const struct adm_env *, const struct adm_req *,
			 struct adm_buf *);

void
adm_buf_printf(struct adm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int     n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL,
			      b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p != NULL && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
}

void
adm_buf_json(struct adm_buf *b, const char *s)
{
	const unsigned char *p;
	size_t               k;
	uint32_t             cp;

	adm_buf_printf(b, "\"");
	for (p = (const unsigned char *)(s ? s : ""); *p != '\0'; p++) {
		/* JSON is UTF-8: a bad byte (never expected, as every edge
		 * validates) becomes U+FFFD rather than breaking the
		 * document */
		if (*p >= 0x80 &&
		    (k = utf8_seq((const char *)p, strnlen((const char *)p, 4),
				  &cp)) > 0) {
			adm_buf_printf(b, "%.*s", (int)k, (const char *)p);
			p += k - 1;
		} else if (*p >= 0x80)
			adm_buf_printf(b, "\\ufffd");
		else if (*p == '"' || *p == '\\')
			adm_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			adm_buf_printf(b, "\\u%04x", *p);
		else
			adm_buf_printf(b, "%c", *p);
	}
	adm_buf_printf(b, "\"");
}

void
adm_buf_free(struct adm_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

int
adm_ctl_parse(char *line, struct adm_req *rq, char *err, size_t errsz)
{
	char        *f, *v, *next;
	const char **slot;
	size_t       n = strlen(line), bad;

	memset(rq, 0, sizeof *rq);
	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	for (f = line; *f != '\0'; f++)
		if (((unsigned char)*f < 0x20 && *f != '\t') || *f == 0x7f) {
			snprintf(err, errsz, "control characters in request");
			return -1;
		}
	/* what is accepted here ends up in stanzas, JSON and SQLite */
	if (utf8_check(line, &bad) == -1) {
		snprintf(err, errsz,
			 "request is not valid UTF-8 (byte 0x%02x at offset "
			 "%zu): use UTF-8 text",
			 (unsigned char)line[bad], bad);
		return -1;
	}
	rq->verb = line;
	if ((next = strchr(line, '\t')) != NULL)
		*next++ = '\0';
	if (*rq->verb == '\0') {
		snprintf(err, errsz, "empty request");
		return -1;
	}
	while ((f = next) != NULL) {
		if ((next = strchr(f, '\t')) != NULL)
			*next++ = '\0';
		if ((v = strchr(f, '=')) == NULL) {
			snprintf(err, errsz, "field without '=': %.60s", f);
			return -1;
		}
		*v++ = '\0';
		if (!strcmp(f, "subject"))
			slot = &rq->subject;
		else if (!strcmp(f, "reason"))
			slot = &rq->reason;
		else if (!strcmp(f, "for"))
			slot = &rq->duration;
		else if (!strcmp(f, "filter"))
			slot = &rq->filter;
		else if (!strcmp(f, "type"))
			slot = &rq->type;
		else if (!strcmp(f, "file"))
			slot = &rq->file;
		else if (!strcmp(f, "format")) {
			if (strcmp(v, "json") && strcmp(v, "text")) {
				snprintf(err, errsz, "format is text or json");
				return -1;
			}
			rq->json = strcmp(v, "json") == 0;
			continue;
		} else {
			snprintf(err, errsz, "unknown field: %.60s", f);
			return -1;
		}
		if (*slot != NULL) {
			snprintf(err, errsz, "field given twice: %s", f);
			return -1;
		}
		*slot = v;
	}
	return 0;
}

/* The first line, and for JSON the opening of the object; in text the
 * message of a failure is only on the status line (floodgatectl prints
 * it to stderr). */
static void
put_status(struct adm_buf *b, int json, int status, const char *msg)
{
	adm_buf_printf(b, "%d %s\n", status, msg);
	if (json) {
		adm_buf_printf(b,
			       "{\"status\":%d,\"ok\":%s,\"message\":", status,
			       status == ADM_OK ? "true" : "false");
		adm_buf_json(b, msg);
	}
}

static int
do_inspect(const struct adm_env *env, const struct adm_req *rq,
	   struct adm_buf *b)
{
	struct adm_result r;
	struct adm_view  *v = xcalloc(1, sizeof *v);
	struct adm_audit *a;
	char              t1[32], t2[32];
	const char       *at;
	size_t            i;

	adm_inspect(env, rq->subject, v, &r);
	if (r.status == ADM_BAD) {
		put_status(b, rq->json, r.status, r.msg);
		goto done;
	}
	adm_buf_printf(b, "%d %s\n", r.status, r.msg);
	adm_fmt_time(v->expires, t1, sizeof t1);
	if (rq->json) {
		adm_buf_printf(b,
			       "{\"status\":%d,\"ok\":%s,\"type\":\"%s\","
			       "\"subject\":",
			       r.status, r.status == ADM_OK ? "true" : "false",
			       fg_subj_name(v->type));
		adm_buf_json(b, v->key);
		adm_buf_printf(
		    b,
		    ",\"known\":%s,\"score\":%.3f,\"verdict\":"
		    "\"%s\",\"effective\":\"%s\",\"override\":\"%s\","
		    "\"expires\":%lld,\"actor\":",
		    v->known ? "true" : "false", v->score,
		    fg_verdict_name(v->verdict), fg_verdict_name(v->effective),
		    fg_override_name(v->override), (long long)v->expires);
		adm_buf_json(b, v->actor);
		adm_buf_printf(b, ",\"reason\":");
		adm_buf_json(b, v->reason);
		adm_buf_printf(b, ",\"signals\":");
		adm_buf_json(b, v->signals);
		adm_buf_printf(b,
			       ",\"pubsub\":{\"node\":\"%s\",\"listed\":%s},"
			       "\"audit\":[",
			       v->pubsub_node, v->published ? "true" : "false");
		for (i = 0; i < v->naudit; i++) {
			a = &v->audit[i];
			adm_buf_printf(b,
				       "%s{\"at\":%lld,\"from\":\"%s\","
				       "\"to\":\"%s\",\"actor\":",
				       i ? "," : "", (long long)a->at,
				       fg_verdict_name(a->old_v),
				       fg_verdict_name(a->new_v));
			adm_buf_json(b, a->actor);
			adm_buf_printf(b, ",\"reason\":");
			adm_buf_json(b, a->reason);
			adm_buf_printf(b, ",\"signals\":");
			adm_buf_json(b, a->signals);
			adm_buf_printf(b, "}");
		}
		adm_buf_printf(b, "]");
		goto done;
	}
	at = v->type == FG_SUBJ_ACCOUNT ? strchr(v->key, '@') : NULL;
	adm_buf_printf(
	    b, "subject:   %s %s%s%s\n", fg_subj_name(v->type), v->key,
	    at != NULL && env->cfg != NULL && !adm_served(env->cfg, at + 1)
		? " (remote)"
		: "",
	    v->known ? "" : " (nothing on record)");
	adm_buf_printf(b, "verdict:   %s", fg_verdict_name(v->effective));
	if (v->override != FG_OVR_NONE)
		adm_buf_printf(b, " (override %s by %s: %s)",
			       fg_override_name(v->override), v->actor,
			       v->reason);
	adm_buf_printf(b, ", expires %s\n", v->expires ? t1 : "never");
	adm_buf_printf(b, "automatic: %s, score %.2f\n",
		       fg_verdict_name(v->verdict), v->score);
	adm_buf_printf(b, "signals:   %s\n",
		       v->signals[0] ? v->signals : "none");
	adm_buf_printf(b, "pubsub:    %s %s\n",
		       v->published ? "listed on" : "not listed on",
		       v->pubsub_node);
	adm_buf_printf(b, "audit:     %s\n",
		       v->naudit ? "(newest first)" : "none");
	for (i = 0; i < v->naudit; i++) {
		a = &v->audit[i];
		adm_buf_printf(b, "  %s  %s -> %s  by %s: %s%s%s%s\n",
			       adm_fmt_time(a->at, t2, sizeof t2),
			       fg_verdict_name(a->old_v),
			       fg_verdict_name(a->new_v), a->actor, a->reason,
			       a->signals[0] ? " [" : "", a->signals,
			       a->signals[0] ? "]" : "");
	}
done:
	free(v);
	return r.status;
}

static int
do_list(const struct adm_env *env, const struct adm_req *rq, struct adm_buf *b)
{
	struct adm_list   l;
	struct adm_entry *e;
	enum fg_verdict   vf = FG_V__MAX;
	enum fg_subj      tf = FG_SUBJ__MAX;
	char              t[32], msg[64], vb[32];
	size_t            i, j;
	int               has_reason, would = 0;

	/* would: what observe mode (or enforce = no) keeps from acting */
	if (rq->filter != NULL && strcmp(rq->filter, "would") == 0)
		would = 1;
	else if (adm_list_filter(rq->filter, &vf) == -1) {
		put_status(b, rq->json, ADM_BAD,
			   "filter is " ADM_LIST_FILTERS " (or would)");
		return ADM_BAD;
	}
	if (rq->type != NULL && strcmp(rq->type, "all") != 0 &&
	    adm_subj_parse(rq->type, &tf) == -1) {
		put_status(b, rq->json, ADM_BAD,
			   "type is account, domain, ip, prefix or all");
		return ADM_BAD;
	}
	adm_list_get(env, vf, tf, &l);
	if (would) {
		for (i = j = 0; i < l.n; i++) {
			if (l.v[i].enforced < l.v[i].effective) {
				l.v[j++] = l.v[i];
				continue;
			}
			free(l.v[i].key);
			free(l.v[i].actor);
			free(l.v[i].reason);
		}
		l.n = j;
	}
	snprintf(msg, sizeof msg, "%zu listed", l.n);
	adm_buf_printf(b, "%d %s\n", ADM_OK, msg);
	if (rq->json)
		adm_buf_printf(b,
			       "{\"status\":200,\"ok\":true,\"count\":%zu,"
			       "\"items\":[",
			       l.n);
	else if (l.n > 0)
		adm_buf_printf(b, "%-8s %-32s %-10s %-20s %s\n", "TYPE",
			       "SUBJECT", "VERDICT", "EXPIRES", "BY: REASON");
	for (i = 0; i < l.n; i++) {
		e = &l.v[i];
		adm_fmt_time(e->expires, t, sizeof t);
		if (!rq->json) {
			/* "auto" alone when there is no reason to show */
			has_reason = e->reason != NULL && e->reason[0] != '\0';
			/* an observed verdict reads "would-block" */
			snprintf(vb, sizeof vb, "%s%s",
				 e->enforced < e->effective ? "would-" : "",
				 fg_verdict_name(e->effective));
			adm_buf_printf(b, "%-8s %-32s %-10s %-20s %s%s%s\n",
				       fg_subj_name(e->type), e->key, vb, t,
				       e->actor ? e->actor : "auto",
				       has_reason ? ": " : "",
				       has_reason ? e->reason : "");
			continue;
		}
		adm_buf_printf(b,
			       "%s{\"type\":\"%s\",\"subject\":", i ? "," : "",
			       fg_subj_name(e->type));
		adm_buf_json(b, e->key);
		adm_buf_printf(b,
			       ",\"verdict\":\"%s\",\"enforced\":\"%s\","
			       "\"override\":\"%s\","
			       "\"score\":%.3f,\"expires\":%lld,\"actor\":",
			       fg_verdict_name(e->effective),
			       fg_verdict_name(e->enforced),
			       fg_override_name(e->override), e->score,
			       (long long)e->expires);
		adm_buf_json(b, e->actor ? e->actor : "auto");
		adm_buf_printf(b, ",\"reason\":");
		adm_buf_json(b, e->reason);
		adm_buf_printf(b, "}");
	}
	if (rq->json)
		adm_buf_printf(b, "]");
	else
		adm_buf_printf(b, "%s\n", msg);
	adm_list_free(&l);
	return ADM_OK;
}

static int
do_stats(const struct adm_env *env, const struct adm_req *rq, struct adm_buf *b)
{
	struct adm_stat st[ADM_STATS_MAX];
	size_t          i, n = adm_stats(env, st, ADM_STATS_MAX);

	adm_buf_printf(b, "%d stats\n", ADM_OK);
	/* which build answers: the counters' meaning follows the version */
	if (rq->json)
		adm_buf_printf(b,
			       "{\"status\":200,\"ok\":true,\"version\":\"%s\","
			       "\"stats\":{",
			       PACKAGE_VERSION);
	else
		adm_buf_printf(b, "%-20s %s\n", "version", PACKAGE_VERSION);
	for (i = 0; i < n; i++) {
		if (rq->json)
			adm_buf_printf(b, "%s\"%s\":%llu", i ? "," : "",
				       st[i].name,
				       (unsigned long long)st[i].value);
		else
			adm_buf_printf(b, "%-20s %llu\n", st[i].name,
				       (unsigned long long)st[i].value);
	}
	if (rq->json)
		adm_buf_printf(b, "}");
	return ADM_OK;
}

/* An online copy of the store, written by the daemon (it holds the
 * store's lock, so no other process may read it consistently). */
static int
do_backup(const struct adm_env *env, const struct adm_req *rq,
	  struct adm_buf *b)
{
	char msg[ADM_MSG_MAX], err[ADM_MSG_MAX - 64];
	int  status = ADM_FAILED;

	if (rq->file == NULL || rq->file[0] != '/') {
		snprintf(msg, sizeof msg, "backup takes an absolute file name");
		status = ADM_BAD;
	} else if (env->store == NULL)
		snprintf(msg, sizeof msg, "no store to back up");
	else if (store_backup(env->store, rq->file, err, sizeof err) == -1)
		snprintf(msg, sizeof msg, "backup failed: %s", err);
	else {
		snprintf(msg, sizeof msg, "store backed up to %.400s",
			 rq->file);
		status = ADM_OK;
	}
	put_status(b, rq->json, status, msg);
	if (status == ADM_OK && !rq->json)
		adm_buf_printf(b, "%s\n", msg);
	return status;
}

/* A one-time login link to the moderation page for an admin. */
static int
do_web_login(const struct adm_env *env, const struct adm_req *rq,
	     struct adm_buf *b)
{
	struct adm_result r;
	char              url[1024];

	web_login_link(env->web, rq->subject, clock_wall_ms(), url, sizeof url,
		       &r);
	put_status(b, rq->json, r.status, r.msg);
	if (r.status != ADM_OK)
		return r.status;
	if (rq->json) {
		adm_buf_printf(b, ",\"url\":");
		adm_buf_json(b, url);
	} else
		adm_buf_printf(b, "%s\n", url);
	return r.status;
}

int
adm_ctl_exec(const struct adm_env *env, const char *actor, char *line,
	     struct adm_buf *b)
{
	struct adm_req    rq;
	struct adm_result r;
	enum adm_verb     verb;
	char              err[ADM_MSG_MAX];
	int               status;

	if (adm_ctl_parse(line, &rq, err, sizeof err) == -1) {
		put_status(b, rq.json, ADM_BAD, err);
		status = ADM_BAD;
	} else if (!strcmp(rq.verb, "inspect"))
		status = do_inspect(env, &rq, b);
	else if (!strcmp(rq.verb, "list"))
		status = do_list(env, &rq, b);
	else if (!strcmp(rq.verb, "stats"))
		status = do_stats(env, &rq, b);
	else if (!strcmp(rq.verb, "reload")) {
		int rr =
		    env->reload != NULL ? env->reload(env->reload_arg) : -1;

		if (rr == -1)
			put_status(
			    b, rq.json, status = ADM_FAILED,
			    "reload failed: the running configuration is "
			    "kept (see the daemon's log)");
		else if (rr == 1)
			put_status(b, rq.json, status = ADM_FAILED,
				   "configuration reloaded, but a trap or "
				   "list file has bad lines and was not "
				   "loaded: the previous list is kept (see "
				   "the daemon's log for file:line)");
		else
			put_status(b, rq.json, status = ADM_OK,
				   "configuration reloaded");
		if (status == ADM_OK && !rq.json)
			adm_buf_printf(b, "configuration reloaded\n");
	} else if (!strcmp(rq.verb, "backup"))
		status = do_backup(env, &rq, b);
	else if (!strcmp(rq.verb, "web-login"))
		status = do_web_login(env, &rq, b);
	else if (adm_verb_parse(rq.verb, &verb) == 0) {
		adm_act(env, verb, actor, rq.subject, rq.reason, rq.duration,
			&r);
		put_status(b, rq.json, status = r.status, r.msg);
		if (r.status == ADM_OK && !rq.json)
			adm_buf_printf(b, "%s\n", r.msg);
	} else {
		snprintf(err, sizeof err, "unknown command: %.60s", rq.verb);
		put_status(b, rq.json, status = ADM_BAD, err);
	}
	if (rq.json)
		adm_buf_printf(b, "}\n");
	return status;
}

int
adm_ctl_exit(int status)
{
	switch (status) {
	case ADM_OK:
		return 0;
	case ADM_BAD:
		return 2;
	default:
		return 1;
	}
}

const char *
adm_ctl_socket(const struct fg_config *cfg, char *buf, size_t bufsz)
{
	const char *slash;

	if (cfg->ctl_socket != NULL && *cfg->ctl_socket != '\0')
		snprintf(buf, bufsz, "%s", cfg->ctl_socket);
	else if (cfg->store_path != NULL &&
		 (slash = strrchr(cfg->store_path, '/')) != NULL)
		snprintf(buf, bufsz, "%.*s/%s", (int)(slash - cfg->store_path),
			 cfg->store_path, ADM_CTL_SOCKNAME);
	else
		snprintf(buf, bufsz, "%s", ADM_CTL_SOCKNAME);
	return buf;
}
