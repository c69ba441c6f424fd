/* SPDX-License-Identifier: ISC */
/*
 * floodgate - floodgatectl's online subcommands: build one request line
 * (admin/control.h), send it over the daemon's UNIX socket, print the
 * answer. The daemon validates and acts; this side only checks what it
 * can say as a usage error.
 *
 * Exit codes: 0 ok, 1 refused or not found, 2 usage or bad input,
 * 3 daemon unreachable.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/config.h"
#include "fgpaths.h"
#include "../admin/control.h"
#include "../core/xmalloc.h"
#include "../policy/upstream.h"
#include "ctl.h"
#include "logtools.h"

#define CTL_WAIT_S 30                     /* for the daemon's answer, seconds */
#define CTL_ANSWER_MAX (64 * 1024 * 1024) /* bytes of an answer we read */
#define CTL_DOMAIN_MAX 256 /* bytes of a list domain: 253 + dot + NUL */
#define CTL_CONFIG_MAX (1024 * 1024) /* bytes of the ini we look through */
#define DEFAULT_CONFIG FG_CONFIG_FILE
#define DEFAULT_SOCKET FG_RUN_DIR "/" ADM_CTL_SOCKNAME

struct verb {
	const char *name;
	int         nsubj;  /* 1: SUBJECT required */
	int         reason; /* 1: REASON... required, 0 optional, -1 none */
	int         dur;    /* takes -f DURATION */
	const char *args;
};

static const struct verb verbs[] = {
    {"inspect", 1, -1, 0, "SUBJECT"},
    {"list", 0, -1, 0,
     "[all|throttle|quarantine|block|allowlist] [-t TYPE] [--would]"},
    {"block", 1, 1, 1, "[-f DURATION] SUBJECT REASON..."},
    {"unblock", 1, 0, 0, "SUBJECT [REASON...]"},
    {"quarantine", 1, 1, 1, "[-f DURATION] SUBJECT REASON..."},
    {"allowlist", 1, 0, 1, "[-f DURATION] SUBJECT [REASON...]"},
    {"stats", 0, -1, 0, ""},
    {"reload", 0, -1, 0, ""},
    {"backup", 1, -1, 0, "FILE"},
    {"web-login", 1, -1, 0, "ADMIN"},
};

static int
usage(FILE *fp, const struct verb *v)
{
	fprintf(
	    fp,
	    "usage: floodgatectl %s [-c FILE | -s SOCKET] [--json] %s\n"
	    "  -c FILE    floodgated's configuration (finds the socket; "
	    "default %s)\n"
	    "  -s SOCKET  the control socket itself\n"
	    "  -j, --json answer as JSON\n"
	    "SUBJECT: user@domain (local or remote account), domain, IP "
	    "address or IP/24 (IPv6 /48);"
	    " \"account:\" (or \"jid:\"), \"domain:\", \"ip:\", \"prefix:\" "
	    "force the "
	    "type.\nDURATION: 30m, 6h, 7d, forever (default).\n",
	    v->name, v->args, DEFAULT_CONFIG);
	return CTL_EXIT_USAGE;
}

/* key=value to the request, refusing what the line cannot carry. */
static int
field(struct adm_buf *b, const char *key, const char *val)
{
	if (strpbrk(val, "\t\r\n") != NULL) {
		fprintf(stderr,
			"floodgatectl: %s may not contain tabs or "
			"newlines\n",
			key);
		return -1;
	}
	adm_buf_printf(b, "\t%s=%s", key, val);
	return 0;
}

/* Trim blanks (and an inline "; comment") in place. */
static char *
trim(char *s)
{
	char *e, *c;

	while (*s == ' ' || *s == '\t')
		s++;
	if ((c = strstr(s, " ;")) != NULL || (c = strstr(s, "\t;")) != NULL)
		*c = '\0';
	e = s + strlen(s);
	while (e > s && strchr(" \t\r\n", e[-1]) != NULL)
		*--e = '\0';
	return s;
}

/*
 * Only [control] socket and [store] path, read leniently: during an
 * incident a typo elsewhere in the file must not keep the operator from
 * unblocking. The daemon itself is strict. -1 (said) when unreadable.
 */
static int
read_socket_keys(const char *cfgpath, struct fg_config *cfg)
{
	char        sect[64] = "", *line = NULL, *p, *eq, *k;
	size_t      cap = 0, total = 0;
	ssize_t     n;
	struct stat st;
	FILE       *fp = NULL;
	int         fd;

	if ((fd = open(cfgpath, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (fp = fdopen(fd, "r")) == NULL) {
		fprintf(stderr,
			"floodgatectl: %s: %s; name the socket with -s PATH\n",
			cfgpath,
			fd != -1 && errno == 0 ? "not a regular file"
					       : strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) != -1 &&
	       (total += (size_t)n) <= CTL_CONFIG_MAX) {
		p = trim(line);
		if (*p == '[' && (eq = strchr(p, ']')) != NULL) {
			snprintf(sect, sizeof sect, "%.*s", (int)(eq - p - 1),
				 p + 1);
			continue;
		}
		if (*p == ';' || *p == '#' || (eq = strchr(p, '=')) == NULL)
			continue;
		*eq = '\0';
		k = trim(p);
		p = trim(eq + 1);
		if (*p == '\0')
			continue;
		if (!strcmp(sect, "control") && !strcmp(k, "socket")) {
			free(cfg->ctl_socket);
			cfg->ctl_socket = xstrdup(p);
		} else if (!strcmp(sect, "store") && !strcmp(k, "path")) {
			free(cfg->store_path);
			cfg->store_path = xstrdup(p);
		}
	}
	free(line);
	fclose(fp);
	return 0;
}

static int
find_socket(const char *cfgpath, const char *sock, char *buf, size_t bufsz)
{
	struct fg_config cfg;
	const char      *env;
	int              rc;

	if (sock != NULL) {
		snprintf(buf, bufsz, "%s", sock);
		return 0;
	}
	if (cfgpath == NULL && (env = getenv("FLOODGATE_SOCKET")) != NULL) {
		snprintf(buf, bufsz, "%s", env);
		return 0;
	}
	if (cfgpath == NULL && access(DEFAULT_CONFIG, R_OK) == 0)
		cfgpath = DEFAULT_CONFIG;
	if (cfgpath == NULL) {
		snprintf(buf, bufsz, "%s", DEFAULT_SOCKET);
		return 0;
	}
	memset(&cfg, 0, sizeof cfg);
	errno = 0;
	if ((rc = read_socket_keys(cfgpath, &cfg)) == 0)
		adm_ctl_socket(&cfg, buf, bufsz);
	free(cfg.ctl_socket);
	free(cfg.store_path);
	return rc;
}

/* Send the request, read the whole answer; -1 when unreachable. */
static int
talk(const char *path, const struct adm_buf *req, struct adm_buf *ans)
{
	struct sockaddr_un sun;
	struct timeval     tv = {CTL_WAIT_S, 0};
	char               buf[8192];
	ssize_t            n;
	size_t             off = 0;
	int                fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "floodgatectl: %s: path too long\n", path);
		return -1;
	}
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		goto fail;
	while (off < req->len) {
		if ((n = send(fd, req->p + off, req->len - off,
			      MSG_NOSIGNAL)) <= 0)
			goto fail;
		off += (size_t)n;
	}
	while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
		if (ans->len + (size_t)n > CTL_ANSWER_MAX)
			break;
		adm_buf_printf(ans, "%.*s", (int)n, buf);
	}
	if (n < 0 || ans->len == 0)
		goto fail;
	close(fd);
	return 0;
fail:
	fprintf(stderr,
		"floodgatectl: daemon unreachable at %s: %s (another socket: "
		"-s PATH)\n",
		path,
		ans->len == 0 && errno == 0 ? "no answer" : strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static int
answer(struct adm_buf *ans)
{
	char *nl, *msg;
	long  code;

	if ((nl = memchr(ans->p, '\n', ans->len)) == NULL ||
	    (code = strtol(ans->p, &msg, 10)) < 100 || code > 599) {
		fprintf(stderr, "floodgatectl: garbled answer from the "
				"daemon\n");
		return CTL_EXIT_UNREACHABLE;
	}
	*nl = '\0';
	while (*msg == ' ')
		msg++;
	if (code != ADM_OK)
		fprintf(stderr, "floodgatectl: %s\n", msg);
	fwrite(nl + 1, 1, ans->len - (size_t)(nl + 1 - ans->p), stdout);
	return adm_ctl_exit((int)code);
}

int
ctl_online(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"for", required_argument, NULL, 'f'},
	    {"type", required_argument, NULL, 't'},
	    {"would", no_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const struct verb *v = NULL;
	const char        *cfgpath = NULL, *sock = NULL, *dur = NULL;
	const char        *type = NULL;
	int                would = 0;
	struct adm_buf     req = {NULL, 0, 0}, ans = {NULL, 0, 0};
	char               path[4096], file[4096];
	size_t             i;
	int                ch, json = 0, rc = CTL_EXIT_USAGE;

	for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(argv[0], verbs[i].name) == 0)
			v = &verbs[i];
	if (v == NULL)
		return CTL_EXIT_USAGE;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:s:jf:t:wh", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'f':
			if (!v->dur)
				return usage(stderr, v);
			dur = optarg;
			break;
		case 't':
			if (strcmp(v->name, "list") != 0)
				return usage(stderr, v);
			type = optarg;
			break;
		case 'w':
			if (strcmp(v->name, "list") != 0)
				return usage(stderr, v);
			would = 1;
			break;
		case 'h':
			usage(stdout, v);
			return CTL_EXIT_OK;
		default:
			return usage(stderr, v);
		}
	}
	argc -= optind;
	argv += optind;
	if (v->reason == 1 && argc == v->nsubj && argc > 0) {
		fprintf(stderr, "floodgatectl: a reason is required to %s\n",
			v->name);
		return CTL_EXIT_USAGE;
	}
	if (argc < v->nsubj || (v->reason == 1 && argc < 2) ||
	    (v->reason == -1 && argc > v->nsubj + (!strcmp(v->name, "list"))))
		return usage(stderr, v);

	adm_buf_printf(&req, "%s", v->name);
	if (json)
		adm_buf_printf(&req, "\tformat=json");
	if (!strcmp(v->name, "backup")) {
		/* the daemon writes it: a name relative to here means
		 * nothing there */
		if (argv[0][0] == '/')
			snprintf(file, sizeof file, "%s", argv[0]);
		else if (getcwd(file, sizeof file) == NULL ||
			 strlen(file) + strlen(argv[0]) + 2 > sizeof file) {
			fprintf(stderr, "floodgatectl: backup: cannot make "
					"the file name absolute\n");
			goto done;
		} else
			snprintf(file + strlen(file),
				 sizeof file - strlen(file), "/%s", argv[0]);
		if (field(&req, "file", file) == -1)
			goto done;
	} else if (v->nsubj && field(&req, "subject", argv[0]) == -1)
		goto done;
	if (!strcmp(v->name, "list") && (argc > 0 || would) &&
	    field(&req, "filter", would ? "would" : argv[0]) == -1)
		goto done;
	if (type != NULL && field(&req, "type", type) == -1)
		goto done;
	if (dur != NULL && field(&req, "for", dur) == -1)
		goto done;
	if (v->reason >= 0 && argc > 1) {
		struct adm_buf r = {NULL, 0, 0};

		for (i = 1; i < (size_t)argc; i++)
			adm_buf_printf(&r, "%s%s", i > 1 ? " " : "", argv[i]);
		ch = field(&req, "reason", r.p);
		adm_buf_free(&r);
		if (ch == -1)
			goto done;
	}
	adm_buf_printf(&req, "\n");
	if (find_socket(cfgpath, sock, path, sizeof path) == -1) {
		rc = CTL_EXIT_UNREACHABLE;
		goto done;
	}
	errno = 0;
	if (talk(path, &req, &ans) == -1)
		rc = CTL_EXIT_UNREACHABLE;
	else
		rc = answer(&ans);
done:
	adm_buf_free(&req);
	adm_buf_free(&ans);
	return rc;
}

/*
 * import FILE...: the domains of plain blocklists (JabberSPAM format: one
 * a line, # comments) become admin blocks, one request each, through the
 * same "block" verb as by hand, so the daemon validates, audits and names
 * the actor from the socket peer. A domain already under an admin block
 * is counted and left as it is.
 */
struct import_sum {
	size_t imported, already, refused, bad;
};

/* One request; the status code, or -1 when unreachable. */
static int
request(const char *path, const struct adm_buf *req, struct adm_buf *ans)
{
	char *end;
	long  code;

	ans->len = 0;
	errno = 0;
	if (talk(path, req, ans) == -1)
		return -1;
	adm_buf_printf(ans, "%s", ""); /* NUL-terminated */
	code = strtol(ans->p, &end, 10);
	if (end == ans->p || code < 100 || code > 599)
		return ADM_FAILED;
	return (int)code;
}

static int
import_domain(const char *path, const char *file, size_t line,
	      const char *domain, struct import_sum *sum)
{
	struct adm_buf req = {NULL, 0, 0}, ans = {NULL, 0, 0};
	char          *nl;
	int            code, rc = 0;

	adm_buf_printf(&req, "inspect\tformat=json\tsubject=domain:%s\n",
		       domain);
	if ((code = request(path, &req, &ans)) == -1) {
		rc = -1;
		goto done;
	}
	if (code == ADM_OK && strstr(ans.p, "\"override\":\"block\"") != NULL) {
		sum->already++;
		goto done;
	}
	req.len = 0;
	/* file was checked for tabs and newlines; the domain is clean */
	adm_buf_printf(&req,
		       "block\tsubject=domain:%s\treason=imported "
		       "from %s\n",
		       domain, file);
	if ((code = request(path, &req, &ans)) == -1) {
		rc = -1;
		goto done;
	}
	if (code == ADM_OK) {
		sum->imported++;
		goto done;
	}
	sum->refused++;
	if ((nl = strchr(ans.p, '\n')) != NULL)
		*nl = '\0';
	fprintf(stderr, "floodgatectl: %s:%zu: %s: %s\n", file, line, domain,
		ans.p);
done:
	adm_buf_free(&req);
	adm_buf_free(&ans);
	return rc;
}

/* One list file; -1 when the daemon is unreachable, 1 if unreadable. */
static int
import_file(const char *path, const char *file, struct import_sum *sum)
{
	FILE       *fp;
	char       *line = NULL, dom[CTL_DOMAIN_MAX];
	size_t      cap = 0, lineno = 0;
	ssize_t     n;
	const char *err;
	int         r, rc = 0;

	if (strpbrk(file, "\t\r\n") != NULL) {
		fprintf(stderr,
			"floodgatectl: %s: no tabs or newlines in the "
			"file name, please\n",
			file);
		return 1;
	}
	if ((fp = fopen(file, "r")) == NULL) {
		fprintf(stderr, "floodgatectl: %s: %s\n", file,
			strerror(errno));
		return 1;
	}
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if ((r = up_parse_line(line, dom, sizeof dom, &err)) == 0)
			continue;
		if (r == -1) {
			sum->bad++;
			fprintf(stderr, "floodgatectl: %s:%zu: %s (skipped)\n",
				file, lineno, err != NULL ? err : "bad line");
			continue;
		}
		if (import_domain(path, file, lineno, dom, sum) == -1) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		fprintf(stderr, "floodgatectl: %s: %s\n", file,
			strerror(errno));
		rc = 1;
	}
	free(line);
	fclose(fp);
	return rc;
}

static int
import_usage(FILE *fp)
{
	fprintf(fp,
		"usage: floodgatectl import [-c FILE | -s SOCKET] LIST...\n"
		"  Blocks every domain of plain domain lists (JabberSPAM "
		"format: one a\n  line, # comments) in the running daemon, as "
		"\"block\" does, with the\n  reason \"imported from LIST\". "
		"Bad lines are reported and skipped.\n"
		"  -c FILE    floodgated's configuration (finds the socket; "
		"default %s)\n"
		"  -s SOCKET  the control socket itself\n"
		"exit: 0 ok, 1 a domain refused or a list unreadable, 2 usage, "
		"3 daemon unreachable\n",
		DEFAULT_CONFIG);
	return CTL_EXIT_USAGE;
}

int
ctl_import(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char       *cfgpath = NULL, *sock = NULL;
	char              path[4096];
	struct import_sum sum = {0, 0, 0, 0};
	int               ch, i, r, rc = CTL_EXIT_OK;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			import_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return import_usage(stderr);
		}
	}
	if (optind >= argc)
		return import_usage(stderr);
	if (find_socket(cfgpath, sock, path, sizeof path) == -1)
		return CTL_EXIT_UNREACHABLE;
	for (i = optind; i < argc; i++) {
		if ((r = import_file(path, argv[i], &sum)) == -1)
			return CTL_EXIT_UNREACHABLE;
		if (r == 1)
			rc = CTL_EXIT_REFUSED;
	}
	printf("floodgatectl import: %zu domains blocked, %zu already "
	       "blocked, %zu refused, %zu bad lines skipped\n",
	       sum.imported, sum.already, sum.refused, sum.bad);
	if (sum.refused > 0)
		rc = CTL_EXIT_REFUSED;
	return rc;
}
