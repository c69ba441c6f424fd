/* SPDX-License-Identifier: ISC */
/*
 * floodgate - log scanner internals shared by the reader and the line
 * parsers. Not for other modules.
 */
#ifndef FG_LOGSCAN_INT_H
#define FG_LOGSCAN_INT_H

#include "logscan.h"

/* Parse result of one line. */
enum lp_res {
	LP_RECORD,  /* rec filled */
	LP_IGNORED, /* well-formed, nothing of interest */
	LP_BAD      /* not a line of this format, or a broken one */
};

/* Per-file state the parsers need. */
struct lp_file {
	enum logscan_fmt fmt;        /* AUTO until detected */
	int              year;       /* Prosody: year of the current lines */
	int              mtime_year; /* Prosody: from mtime, 0 if explicit */
	int              mtime_mon;  /* 1-12 */
	int              prev_mon;   /* for rollover with an explicit year */
	/* The lines of one file share their date: the last one parsed and
	 * its day number, so the next lines only compare it. */
	int     date_ok;   /* date/days hold a valid date */
	char    date[10];  /* ejabberd "YYYY-MM-DD", Prosody "Mon DD" */
	int64_t date_days; /* days since 1970-01-01 */
};

/* Scratch for one record; strings point into these. */
struct lp_out {
	struct logscan_rec rec;
	char               user[LOGSCAN_FIELD_MAX];
	char               host[LOGSCAN_FIELD_MAX];
	char               ip[LOGSCAN_FIELD_MAX];
	char               sid[LOGSCAN_FIELD_MAX];
};

enum lp_res lp_ejabberd(const char *, const char *, struct lp_file *,
			struct lp_out *);
enum lp_res lp_prosody(const char *, const char *, struct lp_file *,
		       struct lp_out *);
/* Which format does this line look like? AUTO if neither. */
enum logscan_fmt lp_detect(const char *, const char *);

#endif
