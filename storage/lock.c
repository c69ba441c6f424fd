/* SPDX-License-Identifier: ISC */
/*
 * floodgate - one writer per store, and noticing when the store goes.
 *
 * The daemon holds an flock() on PATH.lock for its whole life; an offline
 * tool (floodgatectl sweep --import) takes the same lock, so the two never
 * write one database behind each other's back. The lock file says who
 * holds it ("PID NAME"), for the refusal message.
 *
 * SQLite keeps writing to its open descriptor even after the file was
 * unlinked or replaced, and a restart would then silently create an empty
 * store. So the path's st_dev/st_ino are compared with the open file's
 * before every flush and every admin commit; a mismatch marks the store
 * lost until the file is back.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/xmalloc.h"
#include "store_int.h"

#define LOCK_SUFFIX ".lock"
#define LOCK_TEXT_MAX 128 /* bytes of "PID NAME" read back */

extern char *program_invocation_short_name;

static char *lock_path(const char *);
static void  lock_holder(int, char *, size_t);

static char *
lock_path(const char *path)
{
	char *lp;

	xasprintf(&lp, "%s%s", path, LOCK_SUFFIX);
	return lp;
}

/* "floodgated (pid 123)" from the lock file's text. */
static void
lock_holder(int fd, char *out, size_t outsz)
{
	char    buf[LOCK_TEXT_MAX], name[64];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	long    pid;

	snprintf(out, outsz, "another process");
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %63[A-Za-z0-9_.-]", &pid, name) == 2)
		snprintf(out, outsz, "%s (pid %ld)", name, pid);
}

/*
 * Refuse to create an empty database where a store was in use (its lock
 * file is still there): the file was lost, and starting empty would lift
 * every block an admin made. The whole directory gone is not caught.
 */
int
store_prepare_file(const char *path)
{
	struct stat sb;
	char       *lp;
	int         fd, rc = 0;

	if (stat(path, &sb) == 0)
		return 0;
	if (errno != ENOENT)
		return 0; /* sqlite3_open says what is wrong */
	lp = lock_path(path);
	if (access(lp, F_OK) == 0) {
		log_warnx("store: %s: missing, but %s shows a store was in "
			  "use here; refusing to start with an empty one "
			  "(acknowledged admin actions would be lost): restore "
			  "the database, or remove %s to start empty",
			  path, lp, lp);
		rc = -1;
	} else if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			      0600)) != -1) {
		/* audit rows hold addresses and JIDs: owner only. SQLite
		 * gives its -wal and -shm files the database's mode. */
		close(fd);
		log_warnx("store: %s: no database here, creating a new, "
			  "empty store",
			  path);
	}
	free(lp);
	return rc;
}

int
store_lock(struct sqlstore *s, const char *path)
{
	char *lp = lock_path(path);
	char  who[LOCK_TEXT_MAX + 16], text[LOCK_TEXT_MAX];
	int   n;

	s->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd == -1) {
		log_warn("store: %s: cannot open the lock file", lp);
		goto fail;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			log_warn("store: %s: cannot lock", lp);
			goto fail;
		}
		lock_holder(s->lockfd, who, sizeof who);
		log_warnx("store: %s is held by %s; while the daemon runs, "
			  "change it through the daemon (floodgatectl block, "
			  "quarantine, ...), or stop it first",
			  path, who);
		goto fail;
	}
	n = snprintf(text, sizeof text, "%ld %s\n", (long)getpid(),
		     program_invocation_short_name);
	if (ftruncate(s->lockfd, 0) == -1 ||
	    pwrite(s->lockfd, text, (size_t)n, 0) != n)
		log_warn("store: %s: cannot note our pid", lp);
	free(lp);
	return 0;
fail:
	if (s->lockfd != -1)
		close(s->lockfd);
	s->lockfd = -1;
	free(lp);
	return -1;
}

void
store_unlock(struct sqlstore *s)
{
	if (s->lockfd != -1)
		close(s->lockfd); /* releases the flock */
	s->lockfd = -1;
}

/*
 * Remember which file we opened, and take the other users' permissions
 * off a database an older version created 0644 (and its WAL files).
 * Only done once the file is known to be ours: a refused file is not
 * touched.
 */
int
store_pin(struct sqlstore *s, const char *path)
{
	static const char *const side[] = {"", "-wal", "-shm"};
	struct stat              sb;
	char                    *p;
	size_t                   i;
	int                      fixed = 0;

	if (stat(path, &sb) == -1) {
		log_warn("store: %s: stat", path);
		return -1;
	}
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	for (i = 0; i < sizeof side / sizeof side[0]; i++) {
		xasprintf(&p, "%s%s", path, side[i]);
		if (stat(p, &sb) == 0 && (sb.st_mode & 007) != 0 &&
		    chmod(p, sb.st_mode & 0770) == 0)
			fixed = 1;
		free(p);
	}
	if (fixed)
		log_warnx("store: %s: was readable by every local user; "
			  "removed the others' permissions",
			  path);
	return 0;
}

/*
 * 0 while PATH is still the file we opened. Logs once when it stops
 * being so and once when it is back.
 */
int
store_identity(struct sqlstore *s)
{
	struct stat sb;
	const char *why = NULL;

	if (stat(s->path, &sb) == -1)
		why = errno == ENOENT ? "the database file was deleted"
				      : "the database file cannot be checked";
	else if (sb.st_dev != s->dev || sb.st_ino != s->ino)
		why = "the database file was replaced";
	if (why != NULL && s->lost == NULL)
		log_warnx("store: %s: %s while in use: nothing more can be "
			  "kept; admin actions are refused and /healthz "
			  "reports it until the file is back",
			  s->path, why);
	else if (why == NULL && s->lost != NULL)
		log_info("store: %s: the database file is back", s->path);
	s->lost = why;
	return why == NULL ? 0 : -1;
}
