-- SPDX-License-Identifier: ISC
-- floodgate: message fingerprints for mod_floodgate, loaded with
-- module:require("floodgate_fingerprint").
local sha256 = require "util.hashes".sha256;

-- Fingerprints of a body (doc/PROTOCOL.md, "Fingerprints"): fp of the
-- normalised text (URLs, mentions and digit runs folded), ufp of up to 3
-- URLs, hfp of the URL hosts. Byte for byte the twin of mod_floodgate.erl's;
-- explicit byte sets instead of %s/%w/lower(), which follow the C locale.
-- tests/integration/test_fingerprint.py loads this file outside Prosody:
-- it may use nothing but util.hashes.
local FP_PREFIXES = { "http://", "https://", "xmpp:", "www." };
local FP_UFP_MAX, FP_RESIDUE_MIN = 3, 4;
local FP_LOWER = {};
for c = 65, 90 do FP_LOWER[string.char(c)] = string.char(c + 32); end

local function fp_lower(s)
	return (s:gsub("[A-Z]", FP_LOWER));
end

-- First byte of a URL in a lowercased token: a prefix not glued to a
-- letter or digit before it.
local function fp_url_start(low)
	local i = low:find("[hxw]");
	while i do
		if i == 1 or not low:find("^[a-z0-9]", i - 1) then
			for _, p in ipairs(FP_PREFIXES) do
				if low:sub(i, i + #p - 1) == p then return i; end
			end
		end
		i = low:find("[hxw]", i + 1);
	end
end

local function fp_mention(run)
	if run:find("@", 1, true) and run:find("[^@]") then return "<m>"; end
end

-- The normalised text and the URLs as written.
local function fp_normalise(body)
	local toks, urls = {}, {};
	for tok in body:gmatch("[^ \t\n\v\f\r]+") do
		local low = fp_lower(tok);
		local i = fp_url_start(low);
		if i then
			urls[#urls + 1] = tok:sub(i);
			low = low:sub(1, i - 1) .. "<u>";
		end
		low = low:gsub("[a-z0-9._%%+%-@\128-\255]+", fp_mention);
		toks[#toks + 1] = (low:gsub("[0-9]+", "0"));
	end
	return table.concat(toks, " "), urls;
end

-- The normalised form of one URL as written, or nil.
local function fp_url(u)
	u = u:gsub("[%.,;:!%?'\"%)%]}>]+$", "");
	local low, scheme = fp_lower(u), "";
	if low:sub(1, 7) == "http://" then
		u = u:sub(8);
	elseif low:sub(1, 8) == "https://" then
		u = u:sub(9);
	elseif low:sub(1, 5) == "xmpp:" then
		scheme, u = "xmpp:", u:sub(6);
	end
	local host, rest = u:match("^([^/?#]*)(.*)$");
	host = fp_lower(host);
	if host:sub(1, 4) == "www." then host = host:sub(5); end
	if host == "" then return nil; end
	local path = rest:sub(1, 1) == "/" and rest:match("^[^?#]*") or "";
	path = path:gsub("/+$", "");
	path = path:gsub("[0-9]+", "0");
	return scheme .. host .. path;
end

local function fp_hex(s)
	return sha256(s, true):sub(1, 16);
end

-- The host name of one URL as written, for hfp, or nil: URL
-- normalisation steps 1 to 3 without their www. rule, then the part
-- after the last @ (an xmpp: address, or web user info that would
-- otherwise hide the real host), no leading www., no :port, one
-- trailing dot removed.
local function hfp_host(u)
	u = u:gsub("[%.,;:!%?'\"%)%]}>]+$", "");
	local low = fp_lower(u);
	if low:sub(1, 7) == "http://" then
		low = low:sub(8);
	elseif low:sub(1, 8) == "https://" then
		low = low:sub(9);
	elseif low:sub(1, 5) == "xmpp:" then
		low = low:sub(6);
	end
	local host = low:match("^[^/?#]*");
	host = host:match("@([^@]*)$") or host;
	if host:sub(1, 4) == "www." then host = host:sub(5); end
	host = host:gsub(":%d*$", ""):gsub("%.$", "");
	if host == "" then return nil; end
	return host;
end

-- hfp as sent on the wire (doc/PROTOCOL.md, "Host fingerprints"), or nil:
-- each URL's host and its parent suffixes that still hold a dot; past
-- HFP_PER_URL names, the host and the shortest parents, so that deep
-- subdomains cannot hide the registered domain. HFP_MAX in all, each once.
local HFP_PER_URL, HFP_MAX = 4, 12;
local function host_names(host)
	local names = { host };
	local dot = host:find(".", 1, true);
	while dot do
		host = host:sub(dot + 1);
		dot = host:find(".", 1, true);
		if not dot then break; end
		names[#names + 1] = host;
	end
	if #names > HFP_PER_URL then
		local keep = { names[1] };
		for i = #names - HFP_PER_URL + 2, #names do keep[#keep + 1] = names[i]; end
		names = keep;
	end
	return names;
end

local function host_fingerprints(urls)
	local out, seen = {}, {};
	for _, u in ipairs(urls) do
		local host = hfp_host(u);
		for _, name in ipairs(host and host_names(host) or {}) do
			if #out >= HFP_MAX then break; end
			local h = fp_hex(name);
			if not seen[h] then
				seen[h] = true;
				out[#out + 1] = h;
			end
		end
		if #out >= HFP_MAX then break; end
	end
	return out[1] and table.concat(out, " ") or nil;
end

-- fp, ufp, hfp as sent on the wire; each nil when there is none.
local function fingerprints(body)
	if not body then return nil, nil, nil; end
	local norm, urls = fp_normalise(body);
	local residue = norm:gsub("<u>", ""):gsub("<m>", ""):gsub(" ", "");
	local fp = #residue >= FP_RESIDUE_MIN and fp_hex(norm) or nil;
	local ufps, seen = {}, {};
	for _, u in ipairs(urls) do
		if #ufps >= FP_UFP_MAX then break; end
		local n = fp_url(u);
		if n then
			local h = fp_hex(n);
			if not seen[h] then
				seen[h] = true;
				ufps[#ufps + 1] = h;
			end
		end
	end
	return fp, ufps[1] and table.concat(ufps, " ") or nil, host_fingerprints(urls);
end

-- hfp alone, for messages between contacts that carry a URL.
local function hosts(body)
	local _, urls = fp_normalise(body);
	return host_fingerprints(urls);
end

return { normalise = fp_normalise, fingerprints = fingerprints, hosts = hosts };
