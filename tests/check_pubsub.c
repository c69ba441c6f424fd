/* SPDX-License-Identifier: ISC */
/*
 * Unit tests: the RTBL publisher's item ids (with SHA-256 vectors) and
 * paging arithmetic, registrable domains, hostile requests to a real
 * component (items on an empty node, subscriber caps, who may read), and
 * upstream lists: line parsing, list files with bad lines (file:line
 * errors), item classification, and the listed set turning into signals
 * on a memory-only policy.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "component/pubsub.h"
#include "core/config.h"
#include "core/log.h"
#include "policy/policy.h"
#include "policy/upstream.h"
#include "tests/comp_harness.h"

/* sha256("") and two JID/domain vectors (sha256sum of the bytes) */
#define SHA_EMPTY                                                              \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ALICE                                                              \
	"7a64adf28737ea90719cbdf0b1a87a5effff3753b79c91d717f4f4153ead0498"
#define SHA_EXAMPLE                                                            \
	"bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b5"

START_TEST(sha256_vectors)
{
	char hex[65];

	up_sha256_hex("", hex);
	ck_assert_str_eq(hex, SHA_EMPTY);
	up_sha256_hex("alice@example.org", hex);
	ck_assert_str_eq(hex, SHA_ALICE);
	up_sha256_hex("example.org", hex);
	ck_assert_str_eq(hex, SHA_EXAMPLE);
}
END_TEST

START_TEST(item_ids)
{
	struct ps_id id[2];

	ck_assert_int_eq(ps_item_ids(FG_SUBJ_ACCOUNT, "alice@example.org", id),
			 2);
	ck_assert_int_eq(id[0].node, PS_JIDS);
	ck_assert_str_eq(id[0].id, SHA_ALICE);
	ck_assert_int_eq(id[1].node, PS_MUC);
	ck_assert_str_eq(id[1].id, SHA_ALICE);

	/* a domain: plainly on the domain node, hashed on the MUC node */
	ck_assert_int_eq(ps_item_ids(FG_SUBJ_DOMAIN, "example.org", id), 2);
	ck_assert_int_eq(id[0].node, PS_DOMAINS);
	ck_assert_str_eq(id[0].id, "example.org");
	ck_assert_int_eq(id[1].node, PS_MUC);
	ck_assert_str_eq(id[1].id, SHA_EXAMPLE);

	/* addresses always carry their prefix (Prosody's parse_cidr) */
	ck_assert_int_eq(ps_item_ids(FG_SUBJ_IP, "192.0.2.7", id), 1);
	ck_assert_int_eq(id[0].node, PS_IPS);
	ck_assert_str_eq(id[0].id, "192.0.2.7/32");
	ck_assert_int_eq(ps_item_ids(FG_SUBJ_IP, "2001:db8::1", id), 1);
	ck_assert_str_eq(id[0].id, "2001:db8::1/128");
	ck_assert_int_eq(ps_item_ids(FG_SUBJ_PREFIX, "192.0.2.0/24", id), 1);
	ck_assert_str_eq(id[0].id, "192.0.2.0/24");

	ck_assert_str_eq(ps_node_name(PS_MUC), "muc_bans_sha256");
	ck_assert_int_eq(ps_node_parse("spam_source_domains"), PS_DOMAINS);
	ck_assert_int_eq(ps_node_parse("spam_source_jids_sha256"), PS_JIDS);
	ck_assert_int_eq(ps_node_parse("spam_source_ips"), PS_IPS);
	ck_assert_int_eq(ps_node_parse("nope"), -1);
	ck_assert_int_eq(ps_node_parse(NULL), -1);
}
END_TEST

START_TEST(paging)
{
	struct ps_rsm r;
	size_t        s, e;

	memset(&r, 0, sizeof r);
	/* no max: the service's page size */
	ps_page(10000, &r, &s, &e);
	ck_assert_uint_eq(s, 0);
	ck_assert_uint_eq(e, PS_PAGE_MAX);
	r.max = 500;
	ps_page(10000, &r, &s, &e);
	ck_assert_uint_eq(e - s, 500);
	/* after the last item of page 1 */
	r.after_set = 1;
	r.after_pos = 500;
	ps_page(10000, &r, &s, &e);
	ck_assert_uint_eq(s, 500);
	ck_assert_uint_eq(e, 1000);
	/* the last, short page and the empty one after it */
	r.after_pos = 9800;
	ps_page(10000, &r, &s, &e);
	ck_assert_uint_eq(s, 9800);
	ck_assert_uint_eq(e, 10000);
	r.after_pos = 10000;
	ps_page(10000, &r, &s, &e);
	ck_assert_uint_eq(s, e);
	/* a cursor past the end (stale id) is the end */
	r.after_pos = 20000;
	ps_page(10000, &r, &s, &e);
	ck_assert_uint_eq(s, 10000);
	ck_assert_uint_eq(e, 10000);
	/* an empty <before/>: the last page */
	memset(&r, 0, sizeof r);
	r.max = 300;
	r.before_set = 1;
	r.before_pos = 10000;
	ps_page(10000, &r, &s, &e);
	ck_assert_uint_eq(s, 9700);
	ck_assert_uint_eq(e, 10000);
	r.before_pos = 100;
	ps_page(10000, &r, &s, &e);
	ck_assert_uint_eq(s, 0);
	ck_assert_uint_eq(e, 100);
	/* index */
	memset(&r, 0, sizeof r);
	r.max = 10;
	r.index_set = 1;
	r.index = 95;
	ps_page(100, &r, &s, &e);
	ck_assert_uint_eq(s, 95);
	ck_assert_uint_eq(e, 100);
	/* a huge max is capped */
	memset(&r, 0, sizeof r);
	r.max = 1000000;
	ps_page(50000, &r, &s, &e);
	ck_assert_uint_eq(e, PS_PAGE_MAX);
	/* an empty node */
	ps_page(0, &r, &s, &e);
	ck_assert_uint_eq(s, 0);
	ck_assert_uint_eq(e, 0);
}
END_TEST

START_TEST(reg_domains)
{
	static const char *const v[][2] = {
	    {"a.evil.example", "evil.example"},
	    {"b.c.evil.example", "evil.example"},
	    {"evil.example", "evil.example"},
	    {"EVIL.Example.", "evil.example"},
	    {"x.y.shop.co.uk", "shop.co.uk"},
	    {"co.uk", "co.uk"},
	    {"example", "example"},
	    /* private-section suffixes count as their provider */
	    {"bot1.duckdns.org", "duckdns.org"},
	    {"192.0.2.7", "192.0.2.7"},
	    {"[2001:db8::1]", "[2001:db8::1]"},
	};
	char   out[64];
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		ck_assert_int_eq(ps_reg_domain(v[i][0], out, sizeof out), 0);
		ck_assert_msg(strcmp(out, v[i][1]) == 0, "%s -> %s, not %s",
			      v[i][0], out, v[i][1]);
	}
	ck_assert_int_eq(ps_reg_domain("", out, sizeof out), -1);
	ck_assert_int_eq(ps_reg_domain(".", out, sizeof out), -1);
	ck_assert_int_eq(ps_reg_domain(NULL, out, sizeof out), -1);
	ck_assert_int_eq(ps_reg_domain("a.evil.example", out, 4), -1);
}
END_TEST

#define PS_IQ(type, from, id, payload)                                         \
	"<iq type='" type "' from='" from "' to='" HN_COMP_JID "' id='" id     \
	"'><pubsub xmlns='http://jabber.org/protocol/pubsub'>" payload         \
	"</pubsub></iq>"

/* A remote JID asks max_items of a node nothing was ever published on:
 * the reply is an empty result (this was a memcpy from NULL, fatal
 * under UBSan). */
START_TEST(items_empty_node)
{
	struct harness h;
	int            n;

	hn_init(&h, 1);
	for (n = 0; n < PS__NODES; n++) {
		char xml[512];

		snprintf(xml, sizeof xml,
			 PS_IQ("get", "alice@example.org/r", "q1",
			       "<items node='%s' max_items='%s'/>"),
			 ps_node_name(n), n % 2 ? "1" : "-5");
		ck_assert_int_eq(hn_send(&h, xml), 0);
		ck_assert_ptr_nonnull(h.last);
		ck_assert_msg(strstr(h.last, "type=\"result\"") != NULL, "%s",
			      h.last);
		ck_assert_ptr_null(strstr(h.last, "<item "));
	}
	ck_assert_uint_eq(h.replies, PS__NODES);
	hn_fini(&h);
}
END_TEST

/* Asking for the same listed id thousands of times gets it at most
 * PS_ITEMS_ASKED_MAX times: no amplification. */
START_TEST(items_by_id_bounded)
{
	struct harness h;
	size_t         i, len, n = 0;
	char          *xml, *p;
	const char    *head = PS_IQ("get", "alice@example.org/r", "q2",
				    "<items node='spam_source_domains'>");
	const char    *item = "<item id='spam.example'/>";

	hn_init(&h, 0);
	ck_assert_int_eq(pol_admin(h.pol, FG_SUBJ_DOMAIN, "spam.example",
				   FG_OVR_BLOCK, "admin@example.org", "test",
				   0),
			 0);
	len = strlen(head) + 5000 * strlen(item) + 64;
	xml = malloc(len);
	/* head without its closing </pubsub></iq>, then the items */
	snprintf(xml, len, "%.*s",
		 (int)(strlen(head) - strlen("</pubsub></iq>")), head);
	for (i = 0; i < 5000; i++)
		strcat(xml, item);
	strcat(xml, "</items></pubsub></iq>");
	ck_assert_int_eq(hn_send(&h, xml), 0);
	ck_assert_ptr_nonnull(h.last);
	for (p = h.last; (p = strstr(p, "id=\"spam.example\"")) != NULL; p++)
		n++;
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, PS_ITEMS_ASKED_MAX);
	free(xml);
	hn_fini(&h);
}
END_TEST

static int
subscribe_as(struct harness *h, const char *jid)
{
	char xml[1024];

	snprintf(xml, sizeof xml,
		 "<iq type='set' from='%s' to='" HN_COMP_JID "' id='s'>"
		 "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
		 "<subscribe node='spam_source_domains' jid='%s'/>"
		 "</pubsub></iq>",
		 jid, jid);
	ck_assert_int_eq(hn_send(h, xml), 0);
	ck_assert_ptr_nonnull(h->last);
	return strstr(h->last, "subscription=\"subscribed\"") != NULL;
}

/* 5,000 subscriptions from 200 subdomains of one remote domain hold only
 * PS_SUBS_PER_DOMAIN places; remote domains together cannot take the
 * places reserved for the served domain and the peers. */
START_TEST(subscriber_caps)
{
	struct harness h;
	char           jid[128];
	size_t         i, ok = 0;

	hn_config(&h);
	h.cfg.bl_access_open = 1; /* the worst case: anyone may read */
	h.cfg.limits[FG_SUBJ_DOMAIN][FG_KIND_QUERY].count = 0; /* no rate */
	hn_start(&h, 0);
	for (i = 0; i < 5000; i++) {
		snprintf(jid, sizeof jid, "bot%zu@s%zu.evil.example/r", i / 200,
			 i % 200);
		ok += subscribe_as(&h, jid);
	}
	ck_assert_uint_eq(ok, PS_SUBS_PER_DOMAIN);
	ck_assert_ptr_nonnull(strstr(h.last, "too-many-subscriptions"));
	/* many remote domains: they stop short of the reserve */
	for (i = 0, ok = 0; i < 5000; i++) {
		snprintf(jid, sizeof jid, "bot@d%zu.example/r%zu", i / 16,
			 i % 16);
		ok += subscribe_as(&h, jid);
	}
	ck_assert_uint_eq(ok + PS_SUBS_PER_DOMAIN,
			  PS_SUBS_MAX - PS_SUBS_RESERVED);
	ck_assert_ptr_nonnull(strstr(h.last, "resource-constraint"));
	/* the served domain's RTBL consumers, its MUC, and a peer */
	ck_assert(subscribe_as(&h, "example.org"));
	ck_assert(subscribe_as(&h, "example.org/rtbl-spam_source_domains"));
	ck_assert(subscribe_as(&h, "rooms.example.org"));
	ck_assert(subscribe_as(&h, "peer.example"));
	ck_assert(subscribe_as(&h, "alice@example.org/phone"));
	/* still nothing for the evil one, and leaving is always possible */
	ck_assert(!subscribe_as(&h, "new@s9.evil.example"));
	hn_fini(&h);
}
END_TEST

/* Subscriptions already in the store (from before the caps, say) are
 * loaded under the same rules. */
START_TEST(stored_subscribers_capped)
{
	struct harness   h;
	struct evbuffer *b = evbuffer_new();
	char             jid[128], *text;
	size_t           i;

	hn_config(&h);
	h.cfg.bl_access_open = 1;
	hn_start(&h, 1);
	for (i = 0; i < 40; i++) {
		snprintf(jid, sizeof jid, "bot@s%zu.evil.example/r", i);
		ck_assert_int_eq(
		    store_sub_add(h.st, "spam_source_domains", jid), 0);
	}
	comp_free(h.c);
	h.c = comp_new(h.base, &h.cfg, h.pol, h.st);
	comp_set_sink(h.c, hn_sink, &h);
	comp_metrics(b, h.c);
	evbuffer_add(b, "", 1);
	text = (char *)evbuffer_pullup(b, -1);
	ck_assert_msg(strstr(text, "floodgate_pubsub_subscribers 16\n") != NULL,
		      "%s", text);
	ck_assert_ptr_nonnull(strstr(
	    text,
	    "floodgate_pubsub_refused_total{reason=\"subscribers\"} 24\n"));
	ck_assert(!subscribe_as(&h, "new@s99.evil.example"));
	ck_assert(subscribe_as(&h, "example.org"));
	evbuffer_free(b);
	hn_fini(&h);
}
END_TEST

/* Blocked client IPs and hashed local JIDs are not public by default:
 * only the served domains and [blocklist] domains read. */
START_TEST(access_default)
{
	struct harness h;

	hn_init(&h, 0);
	ck_assert_int_eq(h.cfg.bl_access_open, 0);
	ck_assert_int_eq(hn_send(&h, PS_IQ("get", "eve@remote.example/r", "a1",
					   "<items node='spam_source_ips'/>")),
			 0);
	ck_assert_ptr_nonnull(strstr(h.last, "forbidden"));
	ck_assert_int_eq(
	    hn_send(&h, PS_IQ("set", "eve@remote.example/r", "a2",
			      "<subscribe node='spam_source_jids_sha256' "
			      "jid='eve@remote.example/r'/>")),
	    0);
	ck_assert_ptr_nonnull(strstr(h.last, "forbidden"));
	ck_assert_int_eq(hn_send(&h, PS_IQ("get", "alice@example.org/r", "a3",
					   "<items node='spam_source_ips'/>")),
			 0);
	ck_assert_ptr_null(strstr(h.last, "<error"));
	ck_assert_int_eq(hn_send(&h, PS_IQ("get", "rooms.peer.example", "a4",
					   "<items node='spam_source_ips'/>")),
			 0);
	ck_assert_ptr_null(strstr(h.last, "<error"));
	hn_fini(&h);
}
END_TEST

static const struct {
	const char *line;
	int         rc;
	const char *out;
} lines[] = {
    {"spam.example", 1, "spam.example"},
    {"  Spam.Example.  ", 1, "spam.example"},
    {"spam.example # a comment", 1, "spam.example"},
    {"spam.example\t# tab then comment", 1, "spam.example"},
    {"# only a comment", 0, NULL},
    {"", 0, NULL},
    {"   \t ", 0, NULL},
    {"xn--bcher-kva.example", 1, "xn--bcher-kva.example"},
    {"two words.example", -1, NULL},
    {"user@spam.example", -1, NULL},
    {"spam.example/resource", -1, NULL},
    {"spam..example", -1, NULL},
    {".spam.example", -1, NULL},
    {"spam.exa<mple", -1, NULL},
    {"*.spam.example", -1, NULL},
};

START_TEST(parse_line)
{
	char        out[300];
	const char *err;
	int         rc = up_parse_line(lines[_i].line, out, sizeof out, &err);

	ck_assert_msg(rc == lines[_i].rc, "'%s': %d, expected %d",
		      lines[_i].line, rc, lines[_i].rc);
	if (rc == 1)
		ck_assert_str_eq(out, lines[_i].out);
	if (rc == -1)
		ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(long_label)
{
	char        in[300], out[300];
	const char *err;

	memset(in, 'a', 64);
	strcpy(in + 64, ".example");
	ck_assert_int_eq(up_parse_line(in, out, sizeof out, &err), -1);
	memset(in, 'a', 63); /* a 63-byte label is fine */
	strcpy(in + 63, ".example");
	ck_assert_int_eq(up_parse_line(in, out, sizeof out, &err), 1);
}
END_TEST

struct got {
	char   v[8][64];
	size_t n;
};

static void
got_cb(const char *d, void *arg)
{
	struct got *g = arg;

	if (g->n < 8)
		snprintf(g->v[g->n++], sizeof g->v[0], "%s", d);
}

/* Run f with stderr captured into buf. */
static int
read_captured(const char *path, struct got *g, char *buf, size_t len)
{
	FILE  *tmp = tmpfile();
	int    saved = dup(2), rc;
	size_t n;

	fflush(stderr);
	dup2(fileno(tmp), 2);
	rc = up_read_file(path, got_cb, g);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return rc;
}

START_TEST(list_file)
{
	char       path[] = "/tmp/fgupXXXXXX", buf[4096], expect[128];
	struct got g;
	FILE      *fp;
	int        fd = mkstemp(path), rc;

	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	fputs("# JabberSPAM-style list\n"
	      "spam.example\n"
	      "\n"
	      "bad line.example\n"
	      "Other.Example # trailing comment\r\n"
	      "user@x.example\n"
	      "third.example",
	      fp);
	fclose(fp);
	memset(&g, 0, sizeof g);
	rc = read_captured(path, &g, buf, sizeof buf);
	ck_assert_int_eq(rc, 2);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_str_eq(g.v[0], "spam.example");
	ck_assert_str_eq(g.v[1], "other.example");
	ck_assert_str_eq(g.v[2], "third.example");
	snprintf(expect, sizeof expect, "%s:4: ", path);
	ck_assert_msg(strstr(buf, expect) != NULL, "no '%s' in: %s", expect,
		      buf);
	snprintf(expect, sizeof expect, "%s:6: ", path);
	ck_assert_msg(strstr(buf, expect) != NULL, "no '%s' in: %s", expect,
		      buf);
	unlink(path);
	/* a missing file is an error, not an empty list */
	memset(&g, 0, sizeof g);
	ck_assert_int_eq(read_captured(path, &g, buf, sizeof buf), -1);
	ck_assert_uint_eq(g.n, 0);
}
END_TEST

START_TEST(classify)
{
	char out[300];

	ck_assert_int_eq(up_classify("Spam.Example", out, sizeof out),
			 UP_DOMAIN);
	ck_assert_str_eq(out, "spam.example");
	ck_assert_int_eq(up_classify(SHA_ALICE, out, sizeof out), UP_HASH);
	ck_assert_int_eq(
	    up_classify("7A64ADF28737EA90719CBDF0B1A87A5EFFFF3753B79C91D717F4F"
			"4153EAD0498",
			out, sizeof out),
	    UP_HASH);
	ck_assert_str_eq(out, SHA_ALICE);
	ck_assert_int_eq(up_classify("192.0.2.7/32", out, sizeof out), UP_IP);
	ck_assert_str_eq(out, "192.0.2.7");
	ck_assert_int_eq(up_classify("192.0.2.7", out, sizeof out), UP_IP);
	ck_assert_int_eq(up_classify("2001:db8::1/128", out, sizeof out),
			 UP_IP);
	ck_assert_int_eq(up_classify("192.0.2.0/24", out, sizeof out),
			 UP_PREFIX);
	ck_assert_str_eq(out, "192.0.2.0/24");
	ck_assert_int_eq(up_classify("192.0.2.0/16", out, sizeof out), UP_BAD);
	ck_assert_int_eq(up_classify("1.2.3.4/x", out, sizeof out), UP_BAD);
	ck_assert_int_eq(up_classify("", out, sizeof out), UP_BAD);
	ck_assert_int_eq(up_classify("a b", out, sizeof out), UP_BAD);
}
END_TEST

/* The listed set on a memory-only policy: list, unlist, replace. */
START_TEST(listed_set)
{
	struct fg_config cfg;
	struct policy   *p;
	struct pol_info  info;

	config_defaults(&cfg);
	p = pol_new(&cfg, NULL);
	pol_upstream_list(p, "rtbl:a/n", "bad.example");
	pol_upstream_list(p, "file:/x", "bad.example");
	ck_assert_uint_eq(pol_upstream_count(p), 1);
	pol_inspect(p, FG_SUBJ_DOMAIN, "bad.example", &info);
	ck_assert(info.score >= cfg.w_upstream - 0.01);
	ck_assert_int_eq(info.effective, FG_V_QUARANTINE);
	/* one source dropping it is not enough */
	pol_upstream_unlist(p, "rtbl:a/n", "bad.example");
	ck_assert_uint_eq(pol_upstream_count(p), 1);
	/* a full copy of file:/x without it takes the weight back */
	pol_upstream_begin(p, "file:/x");
	pol_upstream_list(p, "file:/x", "other.example");
	pol_upstream_end(p, "file:/x");
	ck_assert_uint_eq(pol_upstream_count(p), 1);
	pol_inspect(p, FG_SUBJ_DOMAIN, "bad.example", &info);
	ck_assert(info.score < 0.01);
	/* hashes are matched at gate time only */
	pol_upstream_list(p, "rtbl:a/muc", SHA_ALICE);
	pol_inspect(p, FG_SUBJ_ACCOUNT, "alice@example.org", &info);
	ck_assert(info.score < 0.01);
	{
		struct pol_gate   g = {.kind = FG_KIND_SUBSCRIBE,
				       .from = "Alice@Example.org/phone",
				       .to = "bob@example.net"};
		struct pol_answer a;

		pol_gate(p, &g, &a); /* the pregate hook matches the hash */
	}
	pol_inspect(p, FG_SUBJ_ACCOUNT, "alice@example.org", &info);
	ck_assert(info.score >= cfg.w_upstream - 0.01);
	pol_upstream_drop(p, "rtbl:a/muc");
	pol_inspect(p, FG_SUBJ_ACCOUNT, "alice@example.org", &info);
	ck_assert(info.score < 0.01);
	ck_assert_uint_eq(pol_upstream_count(p), 1);
	pol_free(p);
	free(cfg.comp_server);
}
END_TEST

int
main(void)
{
	Suite   *s = suite_create("pubsub");
	TCase   *tc = tcase_create("publisher");
	TCase   *tu = tcase_create("upstream");
	TCase   *th = tcase_create("hostile");
	SRunner *sr;
	int      failed;

	log_init(1, 0, "check_pubsub");
	tcase_add_test(tc, sha256_vectors);
	tcase_add_test(tc, item_ids);
	tcase_add_test(tc, paging);
	tcase_add_test(tc, reg_domains);
	suite_add_tcase(s, tc);
	tcase_add_test(th, items_empty_node);
	tcase_add_test(th, items_by_id_bounded);
	tcase_add_test(th, subscriber_caps);
	tcase_add_test(th, stored_subscribers_capped);
	tcase_add_test(th, access_default);
	tcase_set_timeout(th, 60);
	suite_add_tcase(s, th);
	tcase_add_loop_test(tu, parse_line, 0, sizeof lines / sizeof lines[0]);
	tcase_add_test(tu, long_label);
	tcase_add_test(tu, list_file);
	tcase_add_test(tu, classify);
	tcase_add_test(tu, listed_set);
	suite_add_tcase(s, tu);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
