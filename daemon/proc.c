/* SPDX-License-Identifier: ISC */
/*
 * floodgate - process chores of floodgated (see proc.h).
 *
 * daemon(3) forks before anything is opened, so a store or socket error
 * used to end in an exit 0 and a line in syslog. Here the child opens
 * everything first and tells the parent through a pipe; the parent's exit
 * status is the start-up's.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autoconf.h"
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "../core/config.h"
#include "../core/log.h"
#include "../policy/listfile.h"
#include "proc.h"

#define PROC_READY 'R'    /* the byte the child sends when started */
#define PIDFILE_MODE 0644 /* pidfile permissions */
#define PID_TEXT_MAX 32   /* bytes of a pid in text */

static int ready_fd = -1; /* child's end of the start-up pipe */

static int check_dir(const char *what, const char *file, int need_write);

void
proc_detach_begin(void)
{
	int   p[2], st;
	pid_t pid;
	char  c = 0;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(p[0]);
		ready_fd = p[1];
		if (setsid() == -1)
			fatal("setsid");
		return;
	}
	close(p[1]);
	while (read(p[0], &c, 1) == -1 && errno == EINTR)
		;
	if (c == PROC_READY)
		_exit(0);
	/* the child failed and said why on our stderr */
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	_exit(WIFEXITED(st) && WEXITSTATUS(st) != 0 ? WEXITSTATUS(st) : 1);
}

void
proc_detach_done(void)
{
	char c = PROC_READY;
	int  fd;

	if (ready_fd == -1)
		return;
	if (chdir("/") == -1)
		log_warn("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(ready_fd, &c, 1) != 1)
		log_warn("start-up pipe");
	close(ready_fd);
	ready_fd = -1;
}

int
proc_pidfile_write(const char *path)
{
	char buf[PID_TEXT_MAX];
	int  fd, n;

	if (path == NULL)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  PIDFILE_MODE);
	if (fd == -1) {
		log_warn("pidfile %s", path);
		return -1;
	}
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		log_warn("pidfile %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

void
proc_pidfile_remove(const char *path)
{
	char  buf[PID_TEXT_MAX];
	FILE *fp;
	long  pid = 0;

	if (path == NULL || (fp = fopen(path, "r")) == NULL)
		return;
	if (fgets(buf, sizeof buf, fp) != NULL)
		pid = strtol(buf, NULL, 10);
	fclose(fp);
	if (pid == (long)getpid() && unlink(path) == -1)
		log_debug("pidfile %s: %s", path, strerror(errno));
}

int
proc_switch_user(const char *user, const char *own)
{
	struct passwd *pw;

	if (user == NULL)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("user '%s' does not exist", user);
		return -1;
	}
	if (pw->pw_uid == geteuid())
		return 0;
	if (geteuid() != 0) {
		log_warnx("cannot switch to user '%s': not running as root",
			  user);
		return -1;
	}
	/* so that it can remove the file at exit */
	if (own != NULL && chown(own, pw->pw_uid, (gid_t)-1) == -1) {
		log_warn("chown %s to %s", own, user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
		log_warn("cannot switch to user '%s'", user);
		return -1;
	}
	if (setuid(0) != -1) {
		log_warnx("user switch to '%s' is reversible; refusing", user);
		return -1;
	}
	log_info("running as user %s", user);
	return 0;
}

void
proc_notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	/* 0 when NOTIFY_SOCKET is unset: not under systemd */
	if (sd_notify(0, state) < 0)
		log_debug("sd_notify %s failed", state);
#else
	(void)state;
#endif
}

/* The directory holding file must exist (and be writable). */
static int
check_dir(const char *what, const char *file, int need_write)
{
	char        buf[PATH_MAX];
	struct stat st;
	const char *dir;

	snprintf(buf, sizeof buf, "%s", file);
	dir = dirname(buf);
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warnx("%s %s: directory %s does not exist", what, file,
			  dir);
		return -1;
	}
	if (need_write && access(dir, W_OK | X_OK) == -1) {
		log_warnx("%s %s: directory %s is not writable by uid %ld",
			  what, file, dir, (long)geteuid());
		return -1;
	}
	return 0;
}

/* A live socket there means another daemon would refuse us a start. */
static int
socket_live(const char *path)
{
	struct sockaddr_un sun;
	int                fd, live;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path)
		return 0;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	live = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
	close(fd);
	return live;
}

/* A list file that would not load: its bad lines, as file:line. */
static int
check_list(const char *what, enum lf_kind kind, const char *path)
{
	struct lf_set *s;
	int            r;

	if (path == NULL)
		return 0;
	s = lf_new();
	r = lf_read(s, kind, path);
	lf_free(s);
	if (r != 0)
		log_warnx("%s %s: would not be loaded", what, path);
	return r == 0 ? 0 : -1;
}

int
proc_check(const struct fg_config *c, const char *sock, const char *user)
{
	struct stat st;
	int         rc = 0;

	/* as another user the permissions are theirs, not ours */
	int as_us = user == NULL || geteuid() != 0;

	/* a PostgreSQL store is checked by connecting, at start-up; its
	 * password file must at least be there for the daemon's user */
	if (c->store_pg) {
		if (as_us && c->store_password_file != NULL &&
		    access(c->store_password_file, R_OK) == -1) {
			log_warn("[store] password-file %s",
				 c->store_password_file);
			rc = -1;
		}
	} else if (check_dir("[store] path", c->store_path, as_us) == -1)
		rc = -1;
	else if (as_us && stat(c->store_path, &st) == 0 &&
		 access(c->store_path, R_OK | W_OK) == -1) {
		log_warnx("[store] path %s: not writable by uid %ld",
			  c->store_path, (long)geteuid());
		rc = -1;
	}
	if (check_dir("control socket", sock, as_us) == -1)
		rc = -1;
	else if (socket_live(sock)) {
		log_warnx("control socket %s is in use by another floodgated",
			  sock);
		rc = -1;
	}
	if (c->pidfile != NULL && check_dir("pidfile", c->pidfile, 0) == -1)
		rc = -1;
	/* every list, so each bad line is shown at once */
	rc |= check_list("[detect.traps] file", LF_JIDS, c->trap_file);
	rc |= check_list("[lists] jids", LF_JIDS, c->lists_jids);
	rc |= check_list("[lists] domains", LF_DOMAINS, c->lists_domains);
	rc |= check_list("[lists] url-hosts", LF_HOSTS, c->lists_url_hosts);
	/* warnings: the file may be checked before the package adds them */
	if (user != NULL && getpwnam(user) == NULL)
		log_warnx("warning: user '%s' does not exist (yet)", user);
	if (c->ctl_group != NULL && getgrnam(c->ctl_group) == NULL)
		log_warnx("warning: [control] group '%s' does not exist (yet)",
			  c->ctl_group);
	if (stat(c->path, &st) == 0 && (st.st_mode & S_IROTH))
		log_warnx("warning: %s holds the component secret and is "
			  "readable by everyone (chmod o-r)",
			  c->path);
	if (strcmp(c->comp_secret, "changeme") == 0)
		log_warnx("warning: [component] secret is still 'changeme'");
	return rc;
}
