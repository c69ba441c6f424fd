/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the control protocol between floodgatectl and floodgated
 * (doc/admin.md): one request per connection, one line of TAB-separated
 * fields, the verb first, then key=value pairs:
 *
 *	block<TAB>subject=alice@example.org<TAB>reason=spam<TAB>for=1d
 *
 * keys: subject, reason, for (duration), filter (verdict for list),
 * type (subject type for list), file (backup), format (text|json). The answer
 *is a status line "CODE message" (codes in adminops.h), then a body in the
 * requested format, then the daemon closes the connection.
 */
#ifndef FG_ADM_CTL_H
#define FG_ADM_CTL_H

#include <stddef.h>

#include "verbs.h"

#define ADM_CTL_LINE_MAX 4096              /* bytes of one request line */
#define ADM_CTL_SOCKNAME "floodgated.sock" /* next to the store by default */

struct adm_req {
	const char *verb;
	const char *subject;
	const char *reason;
	const char *duration;
	const char *filter;
	const char *type;
	const char *file; /* backup: where to write, an absolute path */
	int         json;
};

/* A growable output buffer. */
struct adm_buf {
	char  *p;
	size_t len, cap;
};
void adm_buf_printf(struct adm_buf *, const char *, ...)
    __attribute__((__format__(printf, 2, 3)));
void adm_buf_json(struct adm_buf *, const char *); /* quoted, escaped */
void adm_buf_free(struct adm_buf *);

/* Split line (modified in place) into req; -1 with err on bad input. */
int adm_ctl_parse(char *line, struct adm_req *, char *err, size_t errsz);
/* Run one request line; writes status line and body to out, returns the
 * status code. */
int adm_ctl_exec(const struct adm_env *, const char *actor, char *line,
		 struct adm_buf *out);
/* floodgatectl exit code for a status code. */
int adm_ctl_exit(int status);
/* The socket path for cfg: [control] socket, or floodgated.sock in the
 * store's directory. */
const char *adm_ctl_socket(const struct fg_config *, char *, size_t);

#endif
