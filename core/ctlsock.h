/* SPDX-License-Identifier: ISC */
/*
 * floodgate - the control socket floodgatectl talks to: a UNIX stream
 * socket, mode 0660, one request line per connection. This file only
 * carries bytes; what a line means is admin/control.c's business.
 */
#ifndef FG_CTLSOCK_H
#define FG_CTLSOCK_H

struct event_base;
struct evbuffer;
struct ctlsock;

/* One request: actor names the peer ("ctl:root"); line is NUL-terminated
 * without its newline and may be modified; the answer goes to out, after
 * which the connection is closed. */
typedef void (*ctlsock_cb)(const char *actor, char *line, struct evbuffer *out,
			   void *);

/* NULL (logged) when the path is unusable, the group unknown or another
 * daemon listens on it. group (may be NULL) may use the socket too. */
struct ctlsock *ctlsock_new(struct event_base *, const char *path,
			    const char *group, ctlsock_cb, void *);
/* Reload: move to another path or group, or listen anew if the file was
 * removed; the old socket stays on failure. */
int ctlsock_rebind(struct ctlsock *, const char *path, const char *group);
const char *ctlsock_path(const struct ctlsock *);
/* Closes the listener and open connections, removes the socket file. */
void ctlsock_free(struct ctlsock *);

#endif
