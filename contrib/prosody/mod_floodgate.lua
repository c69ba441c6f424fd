-- SPDX-License-Identifier: ISC
-- mod_floodgate: bridge between Prosody 0.12 and the floodgate anti-spam
-- daemon (floodgated, an XEP-0114 component). Implements doc/PROTOCOL.md,
-- namespace urn:floodgate:0:
--   gate     synchronous IQ before invitations, stranger messages and
--            registrations; the daemon says allow or deny;
--   meter    asynchronous, batched <message><meter><event/>...</meter>;
--   verdicts pushed by the daemon, cached here and enforced without asking.
--
-- The daemon decides, this module asks and obeys. When the daemon does not
-- answer in time the stanza goes through (fail open) unless
-- floodgate_fail_closed is set; every such case is counted and logged.
--
-- "Contact" (one rule, used for every gate decision and for the meter):
-- a stanza from S to R is between contacts when the roster of a *local*
-- party records a relationship the recipient agreed to or asked for:
-- S's roster holds R with subscription from, to or both, or holds a
-- pending request from R; or R's roster holds S with subscription from,
-- to or both, or with R's own pending request to S (ask="subscribe").
-- A pending request from S alone does not count, so "invite, then
-- message" stays a stranger message. Remote rosters are unknown, so for
-- s2s traffic only the local recipient's roster counts.

local st = require "util.stanza";
local async = require "util.async";
local jid_lib = require "util.jid";
local id = require "util.id";
local new_ip = require "util.ip".new_ip;
local parse_cidr = require "util.ip".parse_cidr;
local ip_match = require "util.ip".match;
local base64 = require "util.encodings".base64;
local nodeprep = require "util.encodings".stringprep.nodeprep;
local rostermanager = require "core.rostermanager";
local usermanager = require "core.usermanager";
local now = require "util.time".now;
local new_lru = require "util.cache".new;

local jid_bare, jid_split, jid_host, jid_prep = jid_lib.bare, jid_lib.split, jid_lib.host, jid_lib.prep;

local xmlns_fg = "urn:floodgate:0";
local xmlns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";

local host = module.host;
local component = module:get_option_string("floodgate_component", "floodgate." .. host);
local gate_timeout = module:get_option_number("floodgate_timeout", 0.25);
local fail_closed = module:get_option_boolean("floodgate_fail_closed", false);
local batch_max = module:get_option_number("floodgate_batch", 50);
local log_interval = 10; -- seconds between two repeated warnings of one kind
local measure = module:get_option_boolean("floodgate_measure", false);
local MEASURE_RING = 16384; -- gate round trips kept when measuring (samples)

local GATE_PRIORITY = 10; -- above mod_presence/mod_message (0): refuse before they act
local BLOCK_PRIORITY = 20; -- cached verdicts act before the gate

--------------------------------------------------------------------------
-- metrics and rate-limited logging

local m_gate = module:metric("counter", "gate", "", "floodgate gate decisions",
	{ "kind", "result" });
local m_failopen = module:metric("counter", "fail", "", "floodgate gate failures (timeout, error, down)",
	{ "reason", "action" });
local m_local = module:metric("counter", "local_refusals", "", "refusals from the cached verdicts",
	{ "reason" });
local m_meter = module:metric("counter", "meter_events", "", "floodgate meter events queued", { "type" });
local m_dropped = module:metric("counter", "dropped", "", "refused stanzas discarded without an error (action drop)",
	{}):with_labels();

local last_log, suppressed = {}, {};
local function ratelog(key, level, fmt, ...)
	local t = now();
	if last_log[key] and t - last_log[key] < log_interval then
		suppressed[key] = (suppressed[key] or 0) + 1;
		return;
	end
	local n = suppressed[key];
	last_log[key], suppressed[key] = t, nil;
	if n then
		module:log(level, fmt .. " (%d similar suppressed)", ..., n);
	else
		module:log(level, fmt, ...);
	end
end

--------------------------------------------------------------------------
-- verdict cache: one string per entry, "VERDICT EXPIRES ACTION REASON"
-- (EXPIRES unix ms or "-", ACTION "drop" or "-", REASON possibly empty),
-- taken apart only when the entry is hit. Verdict "allowlist" is an admin
-- override that lets a sender through despite its domain's entry.
--   cache.account[local bare JID]           local accounts
--   cache.remote[hkey(remote bare JID)]     accounts of other servers
--   cache.domain[hkey(domain)]              remote domains
--   cache.ip[address], cache.prefix[CIDR]
-- Remote accounts and domains come by the ten thousand (admin blocks,
-- operator lists), and their names are only needed to look them up: they
-- are kept as 64-bit integers (the first 8 bytes of their SHA-1), so the
-- table is one block of memory, not tens of thousands of strings strewn
-- over Prosody's heap, which every message handled paid for in the
-- allocator and the collector (bench/bench_prosody.py --preload). Two
-- names sharing a key is a 2^-64 chance per pair (2^-48 on Lua 5.1).

local sha1 = require "util.hashes".sha1;
local unpack = string.unpack; -- Lua 5.3+

local hkey;
if unpack then
	function hkey(name)
		return (unpack("<i8", sha1(name)));
	end
else -- Lua 5.1/5.2 numbers are doubles: 48 bits stay exact
	function hkey(name)
		local a, b, c, d, e, f = sha1(name):byte(1, 6);
		return ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f;
	end
end
local tointeger = math.tointeger or function (x) -- Lua 5.1/5.2
	if x == x and x ~= math.huge and x ~= -math.huge then return x; end
end

local function new_cache()
	return { account = {}, remote = {}, domain = {}, ip = {}, prefix = {} };
end
local cache = new_cache();
-- Each distinct entry string once: ten thousand entries of one operator
-- list share their verdict and reason, and a string longer than Lua's
-- 40-byte short strings is not shared by itself. Emptied with each full
-- set, so it holds no more strings than the pushes since.
local packed_strings = {};
local last_seq; -- nil until a full set arrived
local resync_pending = false;

local function is_local_key(key)
	return jid_host(key) == host;
end

-- The table an entry of subject (as pushed) lives in, and its key there.
local function slot(subject, key)
	if subject == "domain" then return cache.domain, hkey(key); end
	if subject == "account" and not is_local_key(key) then return cache.remote, hkey(key); end
	return cache[subject], key;
end

-- verdict, entry (a table made for the caller: { reason=, action=,
-- subject= "remote" for a remote account's }) or nil.
local function lookup(subject, key)
	if not key then return nil; end
	local t, k = slot(subject, key);
	local packed = t and t[k];
	if not packed then return nil; end
	local v, expires, action, reason = packed:match("^(%S+) (%S+) (%S+) (.*)$");
	expires = tonumber(expires);
	if expires and expires <= now() * 1000 then
		t[k] = nil;
		return nil;
	end
	return v, { reason = reason ~= "" and reason or nil, action = action == "drop" and "drop" or nil,
		subject = t == cache.remote and "remote" or subject };
end

local function normal_ip(ip)
	if not ip then return nil; end
	local parsed = new_ip(ip);
	return parsed and parsed.normal or ip;
end

local function ip_verdict(ip)
	if not ip then return nil; end
	local v, e = lookup("ip", normal_ip(ip));
	if v then return v, e; end
	local parsed = new_ip(ip);
	if not parsed then return nil; end
	-- Prefix verdicts are few (throttle at most); a scan is fine.
	for key in pairs(cache.prefix) do
		local net, bits = parse_cidr(key);
		if net and bits and ip_match(parsed, net, bits) then
			local pv, pe = lookup("prefix", key);
			if pv then return pv, pe; end
		end
	end
	return nil;
end

local SEVERITY = { throttle = 1, quarantine = 2, block = 3 };

-- Verdict of the (remote) sender of a stanza: its account's or its
-- domain's, whichever is more severe (a quarantined account of a blocked
-- domain is blocked); an allowlisted account has none, and an
-- allowlisted domain leaves only its accounts' own entries.
local function sender_verdict(bare)
	local v, e = lookup("account", bare);
	if v == "allowlist" then return nil; end
	local dv, de = lookup("domain", jid_host(bare));
	if dv and (SEVERITY[dv] or 0) > (SEVERITY[v] or 0) then return dv, de; end
	return v, e;
end

local close_sessions; -- defined below
local direct_invite_text; -- defined with the inbound hooks

-- Reply window (milliseconds, 0 = off), from the full push's reply-window.
local reply_window = 0;

local function apply_verdict(tag, full)
	local subject, key, verdict = tag.attr.subject, tag.attr.key, tag.attr.verdict;
	if subject == "jid" then subject = "account"; end
	if not (subject and key and verdict and cache[subject]) or subject == "remote" then
		module:log("debug", "Ignoring malformed verdict %s", tag);
		return;
	end
	if subject == "account" then key = jid_bare(key) or key; end
	if subject == "ip" then key = normal_ip(key); end
	if subject == "account" or subject == "domain" then key = key:lower(); end
	module:log(full and "debug" or "info", "Verdict %s %s: %s (%s)%s", subject, key, verdict,
		tag.attr.reason or "no reason", tag.attr.action == "drop" and ", dropped silently" or "");
	local t, k = slot(subject, key);
	if verdict == "allow" then
		t[k] = nil;
		return;
	end
	-- an integer of milliseconds, or none (not "1e400" or "nan")
	local expires = tonumber(tag.attr.expires);
	expires = expires and tointeger(math.floor(expires));
	local packed = ("%s %s %s %s"):format(verdict:gsub("%s", "_"),
		expires and ("%d"):format(expires) or "-", tag.attr.action == "drop" and "drop" or "-",
		tag.attr.reason or "");
	local shared = packed_strings[packed];
	if not shared then
		packed_strings[packed], shared = packed, packed;
	end
	t[k] = shared;
	if subject == "account" and verdict == "block" and is_local_key(key) then
		-- after the push is answered, outside the component's stanza handler
		module:add_timer(0, function () close_sessions(key, tag.attr.reason); end);
	end
end

local function count_entries()
	local n = 0;
	for _, t in pairs(cache) do for _ in pairs(t) do n = n + 1; end end
	return n;
end

-- Entries per subject, read from the admin shell with
--   >prosody.hosts["example.org"].modules.floodgate.floodgate_cache()
function floodgate_cache() -- luacheck: ignore 111
	local n = {};
	for subject, t in pairs(cache) do
		local c = 0;
		for _ in pairs(t) do c = c + 1; end
		n[#n + 1] = ("%s=%d"):format(subject, c);
	end
	table.sort(n);
	return ("floodgate verdict cache: %s; reply window %d ms"):format(table.concat(n, " "), reply_window);
end

local function load_verdicts(el, from_full_request)
	local full = el.attr.full == "1" or el.attr.full == "true" or from_full_request;
	local seq = tonumber(el.attr.seq);
	local window = tonumber(el.attr["reply-window"]);
	if window and window >= 0 then reply_window = window;
	elseif full then reply_window = 0; end
	if full then
		cache, packed_strings = new_cache(), {};
	elseif last_seq and seq and seq ~= last_seq + 1 then
		module:log("info", "Verdict push seq %d after %d: gap, asking for the full set", seq, last_seq);
		last_seq = nil;
	end
	for tag in el:childtags("verdict", xmlns_fg) do
		apply_verdict(tag, full);
	end
	if full then
		last_seq = seq;
		module:log("info", "Verdict cache replaced by the full set (seq %s, %d entries); reply window %d ms",
			tostring(seq), count_entries(), reply_window);
	elseif last_seq then
		last_seq = seq;
	end
	return last_seq ~= nil;
end

local function request_full_set(why)
	if resync_pending then return; end
	resync_pending = true;
	module:log("debug", "Requesting the full verdict set (%s)", why);
	local iq = st.iq({ type = "get", from = host, to = component, id = "fgv" .. id.short() })
		:tag("verdicts", { xmlns = xmlns_fg });
	module:send_iq(iq, nil, 10):next(function (res)
		resync_pending = false;
		local el = res.stanza.attr.type == "result" and res.stanza:get_child("verdicts", xmlns_fg);
		if el then
			load_verdicts(el, true);
		else
			ratelog("resync", "warn", "Full verdict set request to %s failed: %s", component,
				res.stanza.attr.type);
		end
	end, function (err)
		resync_pending = false;
		ratelog("resync", "warn", "Full verdict set request to %s failed: %s", component, tostring(err));
	end);
end

module:hook("iq-set/host/" .. xmlns_fg .. ":verdicts", function (event)
	local stanza, origin = event.stanza, event.origin;
	if stanza.attr.from ~= component then
		m_local:with_labels("forged-verdicts"):add(1);
		ratelog("forged", "warn", "Refusing verdicts from %s (only %s may push)", stanza.attr.from, component);
		origin.send(st.error_reply(stanza, "auth", "forbidden"));
		return true;
	end
	local in_sync = load_verdicts(stanza.tags[1]);
	origin.send(st.reply(stanza));
	if not in_sync then request_full_set("sequence gap"); end
	return true;
end);

--------------------------------------------------------------------------
-- helpers

local function user_bare(origin)
	if origin.username and origin.host then
		return origin.username .. "@" .. origin.host;
	end
end

-- The same, remembered on the session: the per-stanza hooks need it for
-- every stanza a user sends.
local function session_bare(origin)
	local bare = origin.floodgate_bare;
	if not bare then
		bare = user_bare(origin);
		origin.floodgate_bare = bare;
	end
	return bare;
end

local function is_local(bare)
	local node, h = jid_split(bare);
	return node ~= nil and h == host;
end

local function roster_of(bare)
	local node, h = jid_split(bare);
	if not node or h ~= host then return nil; end
	return rostermanager.load_roster(node, h);
end

local function subscribed(item)
	local sub = item and item.subscription;
	return sub == "from" or sub == "to" or sub == "both";
end

-- Is the message/invitation from sender to recipient between contacts?
-- Only what the recipient agreed to or asked for counts: a pending
-- request *from* the sender does not make the recipient a contact.
local function is_contact(sender, recipient)
	local sr = roster_of(sender);
	if sr then
		if subscribed(sr[recipient]) then return true; end
		local meta = sr[false];
		if meta and meta.pending and meta.pending[recipient] then return true; end
	end
	local rr = roster_of(recipient);
	if rr then
		local item = rr[sender];
		if subscribed(item) or (item and item.ask) then return true; end
	end
	return false;
end

-- Body fingerprints (doc/PROTOCOL.md, "Fingerprints"), in their own file
-- so the cross-language test loads exactly what the module runs.
local fingerprint_lib = module:require("floodgate_fingerprint");
local fingerprints, hosts = fingerprint_lib.fingerprints, fingerprint_lib.hosts;
local find, type = string.find, type;


local function error_type(condition)
	if condition == "resource-constraint" then return "wait"; end
	if condition == "not-authorized" or condition == "forbidden" then return "auth"; end
	return "cancel";
end

-- action "drop": discard silently (no error goes back), as the daemon
-- asked on the verdict entry or the gate's <deny/>.
local function refuse(event, condition, text, inbound, action)
	local stanza = event.stanza;
	if action == "drop" then
		m_dropped:add(1);
		module:log("debug", "Dropped %s from %s to %s without an error (%s)", stanza.name,
			stanza.attr.from, stanza.attr.to, text);
		return true;
	end
	if stanza.attr.type == "error" or stanza.attr.type == "result" then return true; end
	local reply = st.error_reply(stanza, error_type(condition), condition, text);
	if inbound then
		module:send(reply);
	else
		event.origin.send(reply);
	end
	return true;
end

local function verdict_text(verdict, e)
	local what = verdict == "block" and "blocked" or "quarantined";
	local why = e and e.reason and (": " .. e.reason) or "";
	-- a remote sender's own admin cannot lift our verdict: do not send
	-- its user there
	if e and (e.subject == "remote" or e.subject == "domain") then
		return ("Refused by the recipient server's anti-spam policy (%s%s)."):format(what, why);
	end
	return ("Refused by the server's anti-spam policy (%s%s). Contact the server admin."):format(what, why);
end

--------------------------------------------------------------------------
-- optional timing of the gate round trip (floodgate_measure = true):
-- seconds from send_iq to the answer, in a fixed ring, read from the admin
-- shell with
--   >prosody.hosts["example.org"].modules.floodgate.floodgate_timings(true)
-- (true resets the ring after reading). Off: one nil test per gate.

local monotonic = require "util.time".monotonic or now;
local ring, ring_n = {}, 0;

local function measure_add(dt)
	ring_n = ring_n + 1;
	ring[(ring_n - 1) % MEASURE_RING + 1] = dt;
end

function floodgate_timings(reset) -- luacheck: ignore 111
	local s = {};
	for i = 1, math.min(ring_n, MEASURE_RING) do s[i] = ring[i]; end
	table.sort(s);
	local function pct(p)
		if #s == 0 then return 0; end
		return s[math.max(1, math.ceil(#s * p))] * 1e6;
	end
	local out = ("floodgate gate round trips: n=%d total=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f")
		:format(#s, ring_n, pct(0.50), pct(0.90), pct(0.99), pct(1));
	if reset then ring, ring_n = {}, 0; end
	return out;
end

--------------------------------------------------------------------------
-- gate: returns nil to allow, or condition, text to refuse

local function fail(kind, reason)
	local action = fail_closed and "refused" or "allowed";
	m_failopen:with_labels(reason, action):add(1);
	ratelog("fail-" .. reason, "warn", "floodgate gate failed (%s) for %s: stanza %s", reason, kind,
		fail_closed and "refused (floodgate_fail_closed)" or "let through (fail open)");
	if fail_closed then
		return "resource-constraint", "The anti-spam service is unavailable, retry later.";
	end
end

local function gate(kind, attrs)
	if not async.ready() then return fail(kind, "no-async"); end
	attrs.xmlns, attrs.kind = xmlns_fg, kind;
	local iq = st.iq({ type = "get", from = host, to = component, id = "fgg" .. id.short() })
		:tag("gate", attrs);
	module:log("debug", "Gate query to %s: %s", component, iq);
	local t0 = measure and monotonic();
	local res, err = async.wait_for(module:send_iq(iq, nil, gate_timeout));
	if t0 then measure_add(monotonic() - t0); end
	if not res then
		local cond = type(err) == "table" and err.condition or tostring(err);
		if cond == "remote-server-timeout" and err.text == "IQ stanza timed out" then
			return fail(kind, "timeout");
		end
		return fail(kind, cond == "remote-server-timeout" and "down" or "error");
	end
	local reply = res.stanza;
	if reply.attr.type ~= "result" then
		-- mod_component answers for a disconnected component (send_iq
		-- resolves with that error instead of rejecting)
		local _, cond = reply:get_error();
		return fail(kind, cond == "remote-server-timeout" and "down" or "error");
	end
	local deny = reply:get_child("deny", xmlns_fg);
	if deny then
		m_gate:with_labels(kind, "deny"):add(1);
		return deny.attr.condition or "policy-violation",
			deny.attr.text or "Refused by the server's anti-spam policy.",
			deny.attr.action == "drop" and "drop" or nil;
	end
	if reply:get_child("allow", xmlns_fg) then
		m_gate:with_labels(kind, "allow"):add(1);
		return nil;
	end
	return fail(kind, "error");
end

-- A stanza the daemon decides, unless the sender's cached quarantine
-- refuses it first (reason: the local_refusals label); inbound replies go
-- back over s2s.
local function quarantine_or_gate(event, v, e, reason, kind, attrs, inbound)
	if v == "quarantine" then
		m_local:with_labels(reason):add(1);
		return refuse(event, "policy-violation", verdict_text(v, e), inbound, e.action);
	end
	local cond, text, action = gate(kind, attrs);
	if cond then return refuse(event, cond, text, inbound, action); end
end

--------------------------------------------------------------------------
-- meter: batched, flushed at latest 1 s after the first queued event

local queue, flush_timer = {}, nil;
-- Messages to contacts are not queued one event each: they are counted per
-- (from, to) pair until the flush, which sends one event with count= per
-- pair (doc/PROTOCOL.md). counted[pair] = messages, pair = { from =, to = }
-- (an entry of the contact cache below); ncounted = distinct pairs, which
-- count towards floodgate_batch like queued events.
local counted, ncounted = {}, 0;
local m_meter_message = m_meter:with_labels("message");

local function flush()
	flush_timer = nil;
	local events = queue;
	if ncounted > 0 then
		for pair, n in pairs(counted) do
			events[#events + 1] = { type = "message", from = pair.from, to = pair.to,
				count = n > 1 and tostring(n) or nil };
			m_meter_message:add(n);
		end
		counted, ncounted = {}, 0;
	end
	if #events == 0 then return; end
	queue = {};
	for first = 1, #events, batch_max do
		local last = math.min(first + batch_max - 1, #events);
		local msg = st.message({ from = host, to = component, id = "fgm" .. id.short() })
			:tag("meter", { xmlns = xmlns_fg });
		for i = first, last do
			msg:tag("event", events[i]):up();
		end
		module:log("debug", "Sending %d meter events to %s: %s", last - first + 1, component, msg);
		module:send(msg);
	end
end

local function schedule_flush()
	if #queue + ncounted >= batch_max then
		if flush_timer then flush_timer:stop(); end
		flush();
	elseif not flush_timer then
		flush_timer = module:add_timer(1, flush);
	end
end

local function meter(attrs)
	m_meter:with_labels(attrs.type):add(1);
	queue[#queue + 1] = attrs;
	schedule_flush();
end

-- A message between contacts whose body may hold a URL (it has a colon:
-- one plain find) goes as an event of its own with hfp, so the daemon can
-- match its hosts against operator lists; the others are counted.
local function meter_url_message(pair, body)
	local hfp = hosts(body);
	if not hfp then return false; end
	meter({ type = "message", from = pair.from, to = pair.to, hfp = hfp });
	return true;
end

-- One more message between the contacts of pair: a table update, no
-- allocation; the event is built at the flush.
local function meter_contact(pair, body)
	if body and find(body, ":", 1, true) and meter_url_message(pair, body) then return; end
	local n = counted[pair];
	if n then
		counted[pair] = n + 1;
		return;
	end
	counted[pair], ncounted = 1, ncounted + 1;
	schedule_flush();
end

-- A meter message bounced by mod_component while the link is down comes
-- back to the host as an error; swallow it quietly.
module:hook("message/host", function (event)
	local stanza = event.stanza;
	if stanza.attr.from == component and stanza.attr.type == "error" then
		ratelog("meter-bounce", "warn", "Meter batch to %s bounced (component down?)", component);
		return true;
	end
end, 10);

module:hook_global("server-stopping", flush);

--------------------------------------------------------------------------
-- reply window: replied:get(local bare .. " " .. remote bare) = when (ms)
-- the local user last sent a message or directed presence to that remote
-- JID. A message or subscription request from it within reply_window
-- counts as from a contact: a conversation our user started is never
-- gated. util.cache evicts the least recently written entry.

local REPLY_MAX = 100000; -- (local, remote) pairs remembered
local replied = new_lru(REPLY_MAX);

local function note_outbound(from, to)
	if reply_window > 0 and to and not is_local_key(to) then
		replied:set(from .. " " .. to, now() * 1000);
	end
end

local function in_reply_window(to, from)
	if reply_window <= 0 then return false; end
	local t = replied:get(to .. " " .. from);
	return t ~= nil and now() * 1000 - t <= reply_window;
end

-- Directed presence (to someone without a subscription to the user's
-- presence, as mod_presence defines it) opens the window too; presence
-- broadcast to subscribers and subscription presences do not.
local function outbound_presence(event)
	local origin, stanza = event.origin, event.stanza;
	if reply_window <= 0 or origin.type ~= "c2s" or stanza.attr.type ~= nil then return; end
	local to = jid_bare(stanza.attr.to);
	if not to or is_local_key(to) then return; end
	local item = origin.roster and origin.roster[to];
	if item and (item.subscription == "both" or item.subscription == "from") then return; end
	note_outbound(session_bare(origin), to);
end
module:hook("pre-presence/bare", outbound_presence, GATE_PRIORITY - 1);
module:hook("pre-presence/full", outbound_presence, GATE_PRIORITY - 1);

--------------------------------------------------------------------------
-- outbound (local users)

local function outbound_blocked(event)
	local origin = event.origin;
	if origin.type ~= "c2s" then return; end
	local bare = session_bare(origin);
	local v, e = lookup("account", bare);
	if v == "block" then
		m_local:with_labels("account-block"):add(1);
		return refuse(event, "policy-violation", verdict_text(v, e), false, e.action);
	end
end

-- pre-message/bare and /full: outbound_message checks the block itself
module:hook("pre-message/host", outbound_blocked, BLOCK_PRIORITY);
for _, kind in ipairs { "presence", "iq" } do
	for _, t in ipairs { "bare", "full", "host" } do
		module:hook("pre-" .. kind .. "/" .. t, outbound_blocked, BLOCK_PRIORITY);
	end
end

local function outbound_subscribe(event)
	local origin, stanza = event.origin, event.stanza;
	if stanza.attr.type ~= "subscribe" or origin.type ~= "c2s" then return; end
	local from, to = user_bare(origin), jid_bare(stanza.attr.to);
	if not (from and to) then return; end
	local contact = is_contact(from, to);
	local v, e = lookup("account", from);
	return quarantine_or_gate(event, v, e, "account-quarantine", "subscribe",
		{ from = from, to = to, ip = origin.ip, contact = contact and "1" or "0" });
end
module:hook("pre-presence/bare", outbound_subscribe, GATE_PRIORITY);
module:hook("pre-presence/full", outbound_subscribe, GATE_PRIORITY);

--------------------------------------------------------------------------
-- contact cache: a message between contacts is only counted (see
-- meter_contact), so the roster lookups of is_contact() are done once per
-- pair every CONTACT_TTL seconds, not once per message:
--   contacts[sender bare JID][recipient as addressed] = { from =, to =, expires = }
-- Only "is a contact" is remembered: a stranger message is gated anyway,
-- and someone who just became a contact must not wait for an expiry.
-- A subscription presence or roster change between A and B forgets every
-- entry whose sender is A or B; roster changes made behind Prosody's back
-- (other modules, admin tools) are seen within CONTACT_TTL. At most
-- CONTACT_MAX entries are made before the cache starts over.

local CONTACT_TTL = 10; -- seconds
local CONTACT_MAX = 10000;
local contacts, ncontacts = {}, 0;

-- The cached pair for a message from (bare) to to_attr, or nil.
local function cached_contact(from, to_attr)
	local by_from = contacts[from];
	local pair = by_from and by_from[to_attr];
	if pair and pair.expires > now() then return pair; end
end

local function remember_contact(from, to_attr, to)
	local by_from = contacts[from];
	local pair = by_from and by_from[to_attr];
	if pair then -- expired: same pair, still contacts
		pair.expires = now() + CONTACT_TTL;
		return pair;
	end
	if ncontacts >= CONTACT_MAX then
		contacts, ncontacts = {}, 0;
		by_from = nil;
	end
	if not by_from then
		by_from = {};
		contacts[from] = by_from;
	end
	pair = { from = from, to = to, expires = now() + CONTACT_TTL };
	by_from[to_attr] = pair;
	ncontacts = ncontacts + 1;
	return pair;
end

local function forget_contacts(a, b)
	if a then contacts[a] = nil; end
	if b then contacts[b] = nil; end
end

local subscription_types = { subscribe = true, subscribed = true, unsubscribe = true, unsubscribed = true };
local function subscription_seen(event)
	local stanza = event.stanza;
	if not subscription_types[stanza.attr.type] then return; end
	local from = stanza.attr.from;
	forget_contacts(from and jid_bare(from) or session_bare(event.origin), jid_bare(stanza.attr.to));
end
for _, name in ipairs { "pre-presence/bare", "pre-presence/full", "presence/bare", "presence/full" } do
	module:hook(name, subscription_seen, BLOCK_PRIORITY + 10);
end

module:hook("iq/self/jabber:iq:roster:query", function (event)
	local stanza = event.stanza;
	if stanza.attr.type ~= "set" then return; end
	forget_contacts(session_bare(event.origin));
	for item in stanza.tags[1]:childtags("item") do
		forget_contacts(jid_bare(item.attr.jid));
	end
end, BLOCK_PRIORITY + 10);

module:hook("roster-item-removed", function (event)
	forget_contacts(event.username and (event.username .. "@" .. host), jid_bare(event.jid));
end, BLOCK_PRIORITY + 10);

-- What the contact cache does not answer: roster lookups, then the gate
-- for a stranger message.
local function outbound_uncached(event, from, to_attr)
	local origin, stanza = event.origin, event.stanza;
	local to = jid_bare(to_attr);
	if not (from and to) or from == to then return; end
	local body = stanza:get_child_text("body") or direct_invite_text(stanza);
	if is_contact(from, to) then
		-- no fp/ufp: the content-wave detector never counts messages
		-- between contacts; hfp only when the body holds a URL
		return meter_contact(remember_contact(from, to_attr, to), body);
	end
	local fp, ufp, hfp = fingerprints(body);
	local v, e = lookup("account", from);
	local refused = quarantine_or_gate(event, v, e, "account-quarantine", "stranger-message",
		{ from = from, to = to, ip = origin.ip, contact = "0", fp = fp, ufp = ufp, hfp = hfp });
	if refused == nil then note_outbound(from, to); end
	return refused;
end

-- The hot path: every message a local user sends comes here, and most go
-- to contacts. One handler (not a block check and a gate hook) and, for a
-- cached contact pair, table lookups, a plain find for a colon (a URL's
-- hint) in the body's text node and a count only: nothing allocated
-- (get_child, not get_child_text, which copies a body longer than Lua's
-- 40-byte short strings).
local function outbound_message(event)
	local origin = event.origin;
	if origin.type ~= "c2s" then return; end
	local from = origin.floodgate_bare or session_bare(origin);
	if cache.account[from] then
		local refused = outbound_blocked(event);
		if refused ~= nil then return refused; end
	end
	local stanza = event.stanza;
	local t = stanza.attr.type;
	if t == "error" or t == "groupchat" then return; end
	local body = stanza:get_child("body");
	if not body then
		-- a bodiless direct invitation is judged like a message
		if direct_invite_text(stanza) then return outbound_uncached(event, from, stanza.attr.to); end
		return;
	end
	local to_attr = stanza.attr.to;
	local by_from = contacts[from];
	local pair = by_from and by_from[to_attr];
	if pair and pair.expires > now() then
		local text = body[1];
		if type(text) ~= "string" or find(text, ":", 1, true) then
			return meter_contact(pair, stanza:get_child_text("body"));
		end
		local n = counted[pair];
		if n then
			counted[pair] = n + 1;
			return;
		end
		return meter_contact(pair);
	end
	return outbound_uncached(event, from, to_attr);
end
module:hook("pre-message/bare", outbound_message, BLOCK_PRIORITY);
module:hook("pre-message/full", outbound_message, BLOCK_PRIORITY);

--------------------------------------------------------------------------
-- inbound (s2s)

local REFUSAL_LABEL = { remote = "remote-", domain = "domain-" };

local function label(e, verdict)
	return (REFUSAL_LABEL[e and e.subject] or "domain-") .. verdict;
end

local function inbound_blocked(event)
	local origin, stanza = event.origin, event.stanza;
	if origin.type ~= "s2sin" then return; end
	local from = jid_bare(stanza.attr.from);
	local v, e = sender_verdict(from or "");
	if v == "block" then
		m_local:with_labels(label(e, "block")):add(1);
		local t = stanza.attr.type;
		if t == "error" or t == "result" then return true; end
		-- presence is dropped, except a subscription request: its sender
		-- learns it was refused
		if stanza.name == "presence" and t ~= "subscribe" then return true; end
		return refuse(event, "policy-violation", verdict_text(v, e), true, e.action);
	end
end
-- message/bare and /full: inbound_message checks the block itself, so a
-- local message (delivered through the same events) costs one call
module:hook("message/host", inbound_blocked, BLOCK_PRIORITY);
for _, kind in ipairs { "presence", "iq" } do
	for _, t in ipairs { "bare", "full", "host" } do
		module:hook(kind .. "/" .. t, inbound_blocked, BLOCK_PRIORITY);
	end
end

local function inbound_subscribe(event)
	local origin, stanza = event.origin, event.stanza;
	if origin.type ~= "s2sin" or stanza.attr.type ~= "subscribe" then return; end
	local from, to = jid_bare(stanza.attr.from), jid_bare(stanza.attr.to);
	if not (from and to) then return; end
	local contact = is_contact(from, to) or in_reply_window(to, from);
	-- a contact's request is the daemon's to decide, quarantine or not
	local v, e;
	if not contact then v, e = sender_verdict(from); end
	return quarantine_or_gate(event, v, e, label(e, "quarantine"), "inbound-subscribe",
		{ from = from, to = to, ip = origin.ip, contact = contact and "1" or "0" }, true);
end
module:hook("presence/bare", inbound_subscribe, GATE_PRIORITY);

local xmlns_muc_user = "http://jabber.org/protocol/muc#user";

-- A mediated MUC invitation: the room relays it, so the stanza is from
-- the room; it is judged as a stranger message from the inviter (the
-- invite's from), its reason text as the body. The room's own verdict
-- was checked by inbound_blocked (rooms of other servers). A room that
-- hides real JIDs names the inviter by its occupant JID (Prosody does,
-- for an inviter in the room): the bare JID is then the room's.
local function gate_invite(event, invite, to)
	local origin = event.origin;
	local room = jid_bare(event.stanza.attr.from);
	-- an inviter that is no valid JID is judged as the room
	local inviter = jid_bare(jid_prep(invite.attr.from) or event.stanza.attr.from);
	if not (inviter and to and room) or inviter == to then return; end
	-- a quarantined relay is a stranger like any other sender: it does
	-- not get through by naming a contact of the recipient as inviter
	if room ~= inviter and not is_local(room) then
		local rv, re = sender_verdict(room);
		if rv == "quarantine" and not is_contact(room, to) and not in_reply_window(to, room) then
			m_local:with_labels(label(re, "quarantine")):add(1);
			return refuse(event, "policy-violation", verdict_text(rv, re), true, re.action);
		end
	end
	local v, e, kind, reason;
	if is_local(inviter) then
		v, e = lookup("account", inviter);
		kind, reason = "stranger-message", "account-quarantine";
	else
		v, e = sender_verdict(inviter);
		kind, reason = "inbound-stranger-message", label(e, "quarantine");
	end
	if v == "block" then
		m_local:with_labels(is_local(inviter) and "account-block" or label(e, "block")):add(1);
		return refuse(event, "policy-violation", verdict_text(v, e), true, e.action);
	end
	if is_contact(inviter, to) or in_reply_window(to, inviter) then return; end
	local fp, ufp, hfp = fingerprints(invite:get_child_text("reason"));
	return quarantine_or_gate(event, v, e, reason, kind,
		{ from = inviter, to = to, ip = origin.type == "s2sin" and origin.ip or nil, contact = "0",
			fp = fp, ufp = ufp, hfp = hfp }, true);
end

-- A direct invitation (XEP-0249) is a message even without a body: its
-- reason stands for one. nil for other bodiless messages.
local xmlns_conference = "jabber:x:conference";
function direct_invite_text(stanza)
	local x = stanza:get_child("x", xmlns_conference);
	return x and (x.attr.reason or "");
end

-- Rooms relay invitations from their bare JID; a user's own message
-- dressed as an invitation (from a full JID) stays that user's message,
-- or a quarantined account could name a contact of the recipient as
-- inviter and be let through.
local function muc_invite(stanza)
	local from = stanza.attr.from;
	if not from or jid_bare(from) ~= from then return nil; end
	local x = stanza:get_child("x", xmlns_muc_user);
	return x and x:get_child("invite");
end

local function inbound_message(event)
	local origin, stanza = event.origin, event.stanza;
	local otype = origin.type;
	if otype ~= "s2sin" then
		-- a room of our own server relaying an invitation
		if otype == "component" then
			local invite = muc_invite(stanza);
			if invite then return gate_invite(event, invite, jid_bare(stanza.attr.to)); end
		end
		return;
	end
	local refused = inbound_blocked(event);
	if refused ~= nil then return refused; end
	local t = stanza.attr.type;
	if t == "error" or t == "groupchat" then return; end
	local invite = muc_invite(stanza);
	if invite then return gate_invite(event, invite, jid_bare(stanza.attr.to)); end
	local body = stanza:get_child_text("body") or direct_invite_text(stanza);
	if not body then return; end
	local from, to_attr = jid_bare(stanza.attr.from), stanza.attr.to;
	local pair = cached_contact(from, to_attr);
	if pair then return meter_contact(pair, body); end
	local to = jid_bare(to_attr);
	if not (from and to) then return; end
	if is_contact(from, to) or in_reply_window(to, from) then
		return meter_contact(remember_contact(from, to_attr, to), body);
	end
	local fp, ufp, hfp = fingerprints(body);
	local v, e = sender_verdict(from);
	return quarantine_or_gate(event, v, e, label(e, "quarantine"), "inbound-stranger-message",
		{ from = from, to = to, ip = origin.ip, contact = "0", fp = fp, ufp = ufp, hfp = hfp }, true);
end
module:hook("message/bare", inbound_message, BLOCK_PRIORITY);
module:hook("message/full", inbound_message, BLOCK_PRIORITY);

--------------------------------------------------------------------------
-- registration

module:hook("user-registering", function (event)
	local from = event.username .. "@" .. (event.host or host);
	local ip = event.ip or (event.session and event.session.ip);
	if ip_verdict(ip) == "block" then
		m_local:with_labels("ip-block"):add(1);
		event.allowed = false;
		event.error = { type = "cancel", condition = "not-allowed",
			text = "Registrations from your network are refused by the server's anti-spam policy." };
		event.reason = event.error.text;
		return;
	end
	local cond, text = gate("register", { from = from, ip = ip });
	if cond then
		event.allowed = false;
		event.error = { type = error_type(cond), condition = cond, text = text };
		event.reason = text;
	end
end, GATE_PRIORITY);

module:hook("user-registered", function (event)
	local ip = event.ip or (event.session and event.session.ip);
	meter({ type = "registered", from = event.username .. "@" .. (event.host or host), ip = ip });
end);

--------------------------------------------------------------------------
-- authentication and sessions

-- The login as the client typed it: mod_saslauth only keeps the nodeprepped
-- (lowercased) name, so read it from the SASL initial response ourselves.
local function typed_login(mechanism, text)
	if not text then return nil; end
	local data = base64.decode(text);
	if not data then return nil; end
	if mechanism == "PLAIN" then
		local _, authcid = data:match("^([^%z]*)%z([^%z]+)%z");
		return authcid;
	elseif mechanism and mechanism:match("^SCRAM%-") then
		local n = data:match("^[^,]*,[^,]*,n=([^,]*)");
		return n and n:gsub("=2C", ","):gsub("=3D", "=");
	end
end

local function login_node(login)
	if not login then return nil; end
	local node = login:match("^([^@]+)@") or login;
	return nodeprep(node);
end

local function sasl_failure(session, condition, text)
	session.send(st.stanza("failure", { xmlns = xmlns_sasl }):tag(condition):up()
		:tag("text"):text(text));
end

module:hook("stanza/" .. xmlns_sasl .. ":auth", function (event)
	local session, stanza = event.origin, event.stanza;
	if session.type ~= "c2s_unauthed" then return; end
	session.floodgate_login = typed_login(stanza.attr.mechanism, stanza[1]);
	local node = login_node(session.floodgate_login);
	local v = node and lookup("account", node .. "@" .. host);
	-- an allowlisted account logs in from a blocked address
	if v ~= "allowlist" and ip_verdict(session.ip) == "block" then
		m_local:with_labels("ip-block"):add(1);
		sasl_failure(session, "not-authorized", "Logins from your address are refused by the server's anti-spam policy.");
		return true;
	end
	if v == "block" then
		m_local:with_labels("account-block"):add(1);
		sasl_failure(session, "account-disabled", "This account is blocked by the server's anti-spam policy.");
		return true;
	end
end, 10);

module:hook("authentication-success", function (event)
	local session = event.session;
	local login = session.floodgate_login or session.username;
	meter({ type = "auth-ok", login = login, ip = session.ip });
	local bare = user_bare(session);
	if lookup("account", bare) == "block" then
		m_local:with_labels("account-block"):add(1);
		module:add_timer(0, function ()
			session:close({ condition = "policy-violation",
				text = "This account is blocked by the server's anti-spam policy." });
		end);
	end
end);

module:hook("authentication-failure", function (event)
	local session = event.session;
	local login = session.floodgate_login or (session.sasl_handler and session.sasl_handler.username);
	local exists;
	local node = login_node(login);
	if node then exists = usermanager.user_exists(node, host) and "1" or "0"; end
	meter({ type = "auth-fail", login = login, ip = session.ip, exists = exists });
end);

module:hook("resource-bind", function (event)
	local session = event.session;
	session.floodgate_bound = now();
	meter({ type = "session-start", from = session.full_jid, ip = session.ip,
		login = session.floodgate_login or session.username });
end);

module:hook("resource-unbind", function (event)
	local session = event.session;
	local started = session.conntime or session.floodgate_bound;
	meter({ type = "session-end", from = session.full_jid, ip = session.ip,
		duration = started and ("%d"):format(math.floor((now() - started) * 1000)) or nil });
end);

function close_sessions(bare, reason)
	local node, h = jid_split(bare);
	if h ~= host or not node then return; end
	local user = prosody.hosts[host] and prosody.hosts[host].sessions[node];
	if not user then return; end
	local list = {};
	for _, session in pairs(user.sessions) do list[#list + 1] = session; end
	for _, session in ipairs(list) do
		module:log("info", "Closing session %s: account blocked (%s)", session.full_jid, reason or "no reason");
		session:close({ condition = "policy-violation",
			text = "This account is blocked by the server's anti-spam policy." });
	end
end

--------------------------------------------------------------------------
-- spam reports (XEP-0377, inside a XEP-0191 block)

module:hook("iq-set/self/urn:xmpp:blocking:block", function (event)
	local origin, stanza = event.origin, event.stanza;
	local from = user_bare(origin);
	for item in stanza.tags[1]:childtags("item") do
		local report = item:get_child("report", "urn:xmpp:reporting:1")
			or item:get_child("report", "urn:xmpp:reporting:0");
		if report and item.attr.jid then
			local reason = report.attr.reason;
			if not reason then
				local child = report.tags[1];
				reason = child and ("urn:xmpp:reporting:" .. child.name) or "urn:xmpp:reporting:spam";
			end
			meter({ type = "report", from = from, to = item.attr.jid, reason = reason });
		end
	end
end, 10);

--------------------------------------------------------------------------
-- component link: resync on (re)connect and at load

local function watch_component(h)
	if h ~= component then return; end
	module:context(component):hook("component-authenticated", function ()
		module:log("info", "floodgate component %s connected", component);
		-- The daemon pushes the full set on connect; ask as well, in case a
		-- push was lost, after the handshake has settled.
		module:add_timer(0.5, function () request_full_set("component connected"); end);
	end);
	module:context(component):hook("component-disconnected", function ()
		module:log("warn", "floodgate component %s disconnected; gating fails %s", component,
			fail_closed and "closed" or "open");
	end);
end

if prosody.hosts[component] then
	watch_component(component);
else
	module:hook_global("host-activated", watch_component);
end

-- At load (server start or reload). If the component is not linked yet,
-- the request bounces and component-authenticated asks again.
module:add_timer(0, function () request_full_set("module loaded"); end);

if measure then
	module:hook_global("server-stopping", function () module:log("info", "%s", floodgate_timings()); end);
end

module:log("info", "floodgate bridge for %s -> %s (timeout %.3fs, fail %s, batch %d%s)", host, component,
	gate_timeout, fail_closed and "closed" or "open", batch_max, measure and ", measuring" or "");
