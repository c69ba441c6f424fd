%% SPDX-License-Identifier: ISC
%%%----------------------------------------------------------------------
%%% mod_floodgate_srv: the long-lived half of mod_floodgate, one per vhost.
%%%
%%% Owns the ETS verdict cache and the contact cache (module_install runs
%%% start/2 in a short-lived RPC process, so the tables must belong to a
%%% process that stays), the meter batch, and the verdict sequence: pushes
%%% are applied here in order, a gap asks for the full set, and the full
%%% set is fetched at start and retried until it arrives.  Hooks read and
%%% write both caches directly, from their own processes.
%%%
%%% Contact cache: a message between contacts is only counted, so the two
%%% roster lookups that decide "contact" (two roster_get_jid_info folds,
%%% i.e. roster reads) are made once per (sender, recipient) pair every
%%% ?CONTACT_TTL, not once per message.  Entries are
%%% {{contact, From, To}, ExpiresMonotonicMs}, From and To being
%%% {LUser, LServer} as in #jid{} (no JID is encoded for a message between
%%% contacts: encoding cost more than the lookups).  Only "is a contact"
%%% is kept: a stranger's message is gated anyway, and someone who has just
%%% become a contact must not wait for an expiry.  A subscription presence
%%% or a roster item set/removal between A and B forgets every entry whose
%%% sender is A or B (an ordered_set, so that is a range, not a scan), and
%%% for ?CONTACT_FORGET_GRACE no pair with A or B is cached: the hooks run
%%% before the roster write commits, and a lookup racing with it may still
%%% read the old roster.  Roster changes behind those hooks (shared roster
%%% groups, direct database edits) are seen within ?CONTACT_TTL.
%%%
%%% In front of that table, each sending process (c2s, s2s_in) keeps the
%%% last pair it found there in its process dictionary, with the entry's
%%% expiry, the cache generation it read before the lookup and the pair's
%%% meter counter: a sender writing to one contact reads its own memory
%%% instead of two shared tables (measured in ejabberd under load, the
%%% contact cache lookup alone cost ~1 us).
%%% The generation (an atomics counter) is bumped after every deletion
%%% that a forget makes, so a process entry read before it is dropped:
%%% whoever saw the table before the deletion read the older generation.
%%%
%%% Meter counters: a message between contacts is the most frequent event,
%%% so the hook counts it itself instead of sending this process a
%%% message.  The meter table (mod_floodgate_meter_HOST, public) holds
%%% {{From, To}, CRef, N} per pair ({LUser, LServer} each, encoded at the
%%% flush): a sender that found the pair in the shared contact cache
%%% counts in N (ets:update_counter) and keeps CRef, a counters object of
%%% the pair, with its process dictionary entry (below); its next messages
%%% to that contact only do counters:add/3.  Only a new pair casts
%%% (new_pair: batch size, flush timer).  While the table is not empty
%%% the flush runs every ?FLUSH_AFTER; it reads N and CRef and subtracts
%%% what it read (update_counter -N, counters:sub/3), so counts made
%%% meanwhile wait for the next flush: none is lost or sent twice.  A pair
%%% is deleted once nothing was counted for ?METER_IDLE, and only while N
%%% is 0 (select_delete, atomic per entry).  No process still holds its
%%% CRef then: a process entry is made when its owner counts in N, which
%%% the next flush sees, and it lives at most ?CONTACT_TTL after that.
%%%
%%% Account verdicts are keyed {LUser, LServer} too, so that the check of
%%% every stanza a local user sends is one ets:lookup on the #jid{}'s own
%%% fields, on a key present only while the account has a verdict.  Remote
%%% accounts (subject 'account' or 'jid' with a remote bare JID) share the
%%% table: a set, so 10,000s of them cost nothing to the lookups of others.
%%% Allowlist entries are cached like verdicts (verdict allowlist): the
%%% hooks decide what they override.  Each entry also carries its action,
%%% bounce (stanza error) or drop (silent).
%%%
%%% Reply window: (local account, remote account) -> the last time the
%%% local user wrote to (message) or sent directed presence to the remote
%%% one, in monotonic ms, in a public set written by the c2s processes.
%%% A message or subscription request from that remote account within the
%%% window (reply-window on full pushes, 0 = off) is a contact's.  A
%%% process writes its pair again only after ?REPLY_REFRESH (its process
%%% dictionary remembers the last pair it wrote), so a conversation costs
%%% one ETS write a minute, not one a message.  Bounded: past ?REPLY_MAX
%%% entries this process drops the oldest ones, down to 90%.
%%%
%%% Copyright (c) floodgate authors.  See COPYING.
%%%----------------------------------------------------------------------
-module(mod_floodgate_srv).
-behaviour(gen_server).

-export([start_link/2, init/1, handle_call/3, handle_cast/2,
         handle_info/2, terminate/2, code_change/3]).
-export([table/1, lookup/3, push/2, meter/2, meter_message/3, resync/2, count/2, count/3,
         stats/1, normal_key/2]).
-export([counted_contact/3, cached_contact/3, remember_contact/3,
         forget_contacts/2]).
-export([entry/3, own_entry/2, note_reply/3, note_reply/4, replied/3, reply_window/1,
         cache_counts/1,
         any_allowlisted/1]).

-include("logger.hrl").
-include("xmpp.hrl").

-define(NS, <<"urn:floodgate:0">>).
-define(FLUSH_AFTER, 1000).        % ms: a meter event waits at most this long
-define(FETCH_TIMEOUT, 10000).     % ms: full verdict set request
-define(FETCH_RETRY, 5000).        % ms: retry a failed full set request
-define(CONTACT_TTL, 10000).       % ms a cached "A and B are contacts" holds
-define(CONTACT_MAX, 10000).       % entries; at the cap the cache starts over
-define(CONTACT_FORGET_GRACE, 2000). % ms after a subscription or roster
                                   % change of A during which no pair with
                                   % A is cached (the write may not be
                                   % committed yet)
-define(METER_IDLE, (?CONTACT_TTL + 2 * ?FLUSH_AFTER)). % ms without a count
                                   % before a pair leaves the meter table
-define(REPLY_MAX, 100000).        % entries in the reply-window table
-define(REPLY_REFRESH, 60000).     % ms before a process writes the same
                                   % (local, remote) pair again

%% Names of a vhost's tables and process (see names/1).
-record(names, {verdicts :: atom(),
                contacts :: atom(),
                meter :: atom(),
                replies :: atom(),
                proc :: atom(),
                %% reply window in ms (0 = off), from the last full push
                window :: atomics:atomics_ref(),
                %% contact cache generation, see the top of the file
                gen :: atomics:atomics_ref(),
                %% verdict cache generation: bumped after every push
                vgen :: atomics:atomics_ref()}).

-define(PD_CONTACT, mod_floodgate_contact). % process dictionary key
-define(PD_REPLY, mod_floodgate_reply).     % process dictionary key
-define(PD_OWN, mod_floodgate_own).         % process dictionary key

-record(st, {host :: binary(),
             component :: binary(),
             batch :: pos_integer(),
             tab :: atom(),
             meter :: atom(),
             queue = [] :: [fxml:xmlel()],
             qlen = 0 :: non_neg_integer(),
             %% pairs new in the meter table since the last flush
             %% (new_pair casts): only decides when a batch is full
             pairs = 0 :: non_neg_integer(),
             %% when each pair in the meter table last had a count
             seen = #{} :: #{term() => integer()},
             flush_timer :: undefined | reference(),
             seq :: undefined | integer(),
             fetching = false :: boolean(),
             retry_timer :: undefined | reference()}).

%%%===================================================================
%%% API (called from hooks, in other processes)
%%%===================================================================
start_link(Host, Opts) ->
    gen_server:start_link({local, gen_mod:get_module_proc(Host, ?MODULE)},
                          ?MODULE, [Host, Opts], []).

%% gen_mod:get_module_proc/2 makes an atom from a binary, which on every
%% message cost more than the ETS operation it names: the names are made
%% once by init/1 and kept in persistent_term.  Never erased: they are a
%% function of Host, so a left-over entry is still right (erasing one
%% would cost a pass over every process).
names(Host) ->
    case persistent_term:get({?MODULE, Host}, undefined) of
        #names{} = Names -> Names;
        _ -> make_names(Host)         % not started, or an older module's
    end.

make_names(Host) ->
    #names{verdicts = gen_mod:get_module_proc(Host, mod_floodgate_cache),
           contacts = gen_mod:get_module_proc(Host, mod_floodgate_contacts),
           meter = gen_mod:get_module_proc(Host, mod_floodgate_meter),
           replies = gen_mod:get_module_proc(Host, mod_floodgate_replies),
           proc = gen_mod:get_module_proc(Host, ?MODULE),
           window = atomics:new(1, []),
           gen = atomics:new(1, []),
           vgen = atomics:new(1, [])}.

proc(Host) -> (names(Host))#names.proc.

table(Host) -> (names(Host))#names.verdicts.

contacts(Host) -> (names(Host))#names.contacts.

meter_table(Host) -> (names(Host))#names.meter.

%% Cached verdict of a subject: allow | throttle | quarantine | block |
%% allowlist.  Key as normal_key/2 makes it: {LUser, LServer} for an
%% account.
lookup(Host, Subject, Key) ->
    case entry(Host, Subject, Key) of
        {Verdict, _Action} -> Verdict;
        none -> allow
    end.

%% The entry of the account a c2s process serves, Key ({LUser, LServer}),
%% checked before every stanza it sends.  Almost always none: the process
%% remembers that answer with the cache generation it read before the
%% lookup, and asks the table again only after a push (which bumps the
%% generation once its entries are in), so a sender without a verdict
%% reads its process dictionary instead of the shared table.
own_entry(Host, Key) ->
    G = atomics:get((names(Host))#names.vgen, 1),
    case get(?PD_OWN) of
        {Key, G} -> none;
        _ ->
            case entry(Host, account, Key) of
                none -> put(?PD_OWN, {Key, G}), none;
                E -> E
            end
    end.

%% Cached entry of a subject, {Verdict, bounce | drop}, or none.
entry(Host, Subject, Key) ->
    Tab = table(Host),
    try ets:lookup(Tab, {v, Subject, Key}) of
        [{_, Verdict, Expires, _Reason, Action}] ->
            case Expires == infinity orelse Expires > now_ms() of
                true -> {Verdict, Action};
                false -> none
            end;
        [] -> none
    catch error:badarg -> none
    end.

%% A verdicts push from the component; answered after it is applied.
push(Host, El) ->
    gen_server:call(proc(Host), {push, El}).

meter(Host, Attrs) ->
    gen_server:cast(proc(Host), {meter, Attrs}).

%% One message between contacts ({LUser, LServer} each), found by a
%% roster lookup: counted per pair, sent as one
%% <event type='message' count='N'/> per pair at the flush.  Runs in the
%% sender's (or s2s) process; see "Meter counters" at the top.
meter_message(Host, From, To) ->
    try meter_count(names(Host), {From, To}), ok
    catch error:badarg -> ok
    end.

%% Count one message in the pair's N; its counter for the next ones.
meter_count(#names{meter = Tab, proc = Proc} = Names, Key) ->
    try ets:update_counter(Tab, Key, {3, 1}) of
        %% N >= 1 now, so the flush keeps the entry for ?METER_IDLE
        _ -> ets:lookup_element(Tab, Key, 2)
    catch error:badarg ->
            CRef = counters:new(1, []),
            case ets:insert_new(Tab, {Key, CRef, 1}) of
                true ->
                    gen_server:cast(Proc, new_pair),
                    CRef;
                false ->
                    meter_count(Names, Key)    % made meanwhile by another
            end
    end.

resync(Host, Why) ->
    gen_server:cast(proc(Host), {resync, Why}).

count(Host, Name) ->
    count(Host, Name, 1).

count(Host, Name, N) ->
    try ets:update_counter(table(Host), {stat, Name}, N, {{stat, Name}, 0})
    catch error:badarg -> 0
    end.

%% Entries in the verdict cache per subject and verdict, and the reply
%% window table's size: [{{Subject, Verdict}, N}] ++ [{replies, N}], for
%% admins (ejabberdctl) and bench_ejabberd.py --preload.
cache_counts(Host) ->
    Counts = ets:foldl(fun({{v, S, _}, V, _, _, _}, Acc) ->
                               maps:update_with({S, V}, fun(N) -> N + 1 end, 1, Acc);
                          (_, Acc) -> Acc
                       end, #{}, table(Host)),
    lists:sort(maps:to_list(Counts))
        ++ [{replies, ets:info((names(Host))#names.replies, size)}].

stats(Host) ->
    try ets:match_object(table(Host), {{stat, '_'}, '_'})
    catch error:badarg -> []
    end.

%%% contact cache (see the top of the file) ----------------------------

%% Were From and To ({LUser, LServer} each) contacts less than
%% ?CONTACT_TTL ago?  If so, their message is counted (meter) too.
counted_contact(Host, From, To) ->
    #names{contacts = Tab, gen = Gen} = Names = names(Host),
    Now = mono_ms(),
    G = atomics:get(Gen, 1),            % before the lookup: see the top
    case get(?PD_CONTACT) of
        {From, To, Expires, G, CRef} when Expires > Now ->
            counters:add(CRef, 1, 1),
            true;
        _ ->
            case catch ets:lookup(Tab, {contact, From, To}) of
                [{_, Expires}] when Expires > Now ->
                    %% counted whatever happens next: false would make
                    %% the caller count it again
                    try meter_count(Names, {From, To}) of
                        CRef -> put(?PD_CONTACT, {From, To, Expires, G, CRef})
                    catch error:badarg -> ok
                    end,
                    true;
                _ -> false
            end
    end.

%% Like counted_contact/3, without counting (the caller meters the
%% message itself).
cached_contact(Host, From, To) ->
    Now = mono_ms(),
    case get(?PD_CONTACT) of
        {From, To, Expires, G, _} when Expires > Now ->
            G == atomics:get((names(Host))#names.gen, 1) orelse
                in_contact_table(Host, From, To, Now);
        _ -> in_contact_table(Host, From, To, Now)
    end.

in_contact_table(Host, From, To, Now) ->
    case catch ets:lookup(contacts(Host), {contact, From, To}) of
        [{_, Expires}] -> Expires > Now;
        _ -> false
    end.

%% The roster says From and To are contacts: remember it.
remember_contact(Host, From, To) ->
    Tab = contacts(Host),
    try
        case ets:info(Tab, size) >= ?CONTACT_MAX of
            true -> start_over(Host, Tab);
            false -> ok
        end,
        Key = {contact, From, To},
        ets:insert(Tab, {Key, mono_ms() + ?CONTACT_TTL}),
        %% Checked after the insert: forget_contacts/2 marks before it
        %% deletes, so either it deletes this entry or we see its mark.
        %% A process may have seen the entry in between: new generation.
        case forgetting(Tab, From) orelse forgetting(Tab, To) of
            true ->
                ets:delete(Tab, Key),
                atomics:add((names(Host))#names.gen, 1, 1);
            false -> ok
        end,
        ok
    catch error:badarg -> ok
    end.

%% A subscription or roster change involves these accounts
%% ({LUser, LServer} each): forget every
%% pair they send in, and cache none of theirs for ?CONTACT_FORGET_GRACE.
forget_contacts(Host, Jids) ->
    #names{contacts = Tab, gen = Gen} = names(Host),
    Until = mono_ms() + ?CONTACT_FORGET_GRACE,
    try
        lists:foreach(fun(J) ->
                              ets:insert(Tab, {{forget, J}, Until}),
                              ets:match_delete(Tab, {{contact, J, '_'}, '_'})
                      end, Jids)
    catch error:badarg -> ok
    end,
    %% after the deletions: see the top of the file
    atomics:add(Gen, 1, 1).

forgetting(Tab, Jid) ->
    case ets:lookup(Tab, {forget, Jid}) of
        [{_, Until}] -> Until > mono_ms();
        [] -> false
    end.

%% At the cap: drop every pair and every mark that no longer counts.
start_over(Host, Tab) ->
    Now = mono_ms(),
    ets:select_delete(Tab, [{{{contact, '_', '_'}, '_'}, [], [true]},
                            {{{forget, '_'}, '$1'}, [{'<', '$1', Now}], [true]}]),
    count(Host, contact_cache_full).

mono_ms() -> erlang:monotonic_time(millisecond).

%%% reply window (see the top of the file) -----------------------------

%% The reply window in ms, 0 when off.
reply_window(Host) ->
    atomics:get((names(Host))#names.window, 1).

%% Local ({LUser, LServer}) wrote to Remote: note when.  IsRemote() says
%% whether Remote is another server's (a route lookup): asked only when
%% the pair is not the one this process saw last, whose answer it keeps.
note_reply(Host, Local, Remote) ->
    note_reply(Host, Local, Remote, fun() -> true end).

note_reply(Host, Local, Remote, IsRemote) ->
    #names{window = W, replies = Tab, proc = Proc} = names(Host),
    case atomics:get(W, 1) of
        0 -> ok;
        _ ->
            Now = mono_ms(),
            case get(?PD_REPLY) of
                {Local, Remote, T} when Now - T < ?REPLY_REFRESH -> ok;
                _ ->
                    put(?PD_REPLY, {Local, Remote, Now}),
                    IsRemote() andalso
                        try
                            ets:insert(Tab, {{Local, Remote}, Now}),
                            ets:info(Tab, size) > ?REPLY_MAX andalso
                                gen_server:cast(Proc, evict_replies)
                        catch error:badarg -> false
                        end,
                    ok
            end
    end.

%% Did Local write to Remote within the reply window?
replied(Host, Local, Remote) ->
    #names{window = W, replies = Tab} = names(Host),
    case atomics:get(W, 1) of
        0 -> false;
        Window ->
            case catch ets:lookup(Tab, {Local, Remote}) of
                [{_, T}] -> mono_ms() - T =< Window;
                _ -> false
            end
    end.

%% Past ?REPLY_MAX: drop the oldest entries, down to 90% of it, in one
%% pass (a sort of the table every 10,000 new pairs at most).
evict_replies(#st{host = Host} = St) ->
    Tab = (names(Host))#names.replies,
    Size = ets:info(Tab, size),
    case Size > ?REPLY_MAX of
        true ->
            N = Size - ?REPLY_MAX * 9 div 10,
            Old = lists:sublist(lists:keysort(2, ets:tab2list(Tab)), N),
            lists:foreach(fun({K, _}) -> ets:delete(Tab, K) end, Old),
            count(Host, reply_window_evicted, N);
        false -> ok
    end,
    St.

set_reply_window(Host, Ms) ->
    #names{window = W, replies = Tab} = names(Host),
    case atomics:exchange(W, 1, Ms) of
        Ms -> ok;
        Old ->
            ?INFO_MSG("floodgate: reply window for ~ts: ~B ms (was ~B)",
                      [Host, Ms, Old]),
            Ms == 0 andalso ets:delete_all_objects(Tab),
            ok
    end.

%% Cache keys of the daemon's subjects: an account as {LUser, LServer}
%% (what a #jid{} holds), domains in lower case, IPs in inet:ntoa form.
normal_key(account, Key) ->
    try jid:decode(Key) of
        #jid{luser = U, lserver = S} -> {U, S}
    catch _:_ -> string:lowercase(Key)
    end;
normal_key(domain, Key) -> string:lowercase(Key);
normal_key(ip, Key) ->
    case inet:parse_address(binary_to_list(Key)) of
        {ok, A} -> list_to_binary(inet:ntoa(A));
        _ -> Key
    end;
normal_key(_, Key) -> Key.

%%%===================================================================
%%% gen_server
%%%===================================================================
init([Host, Opts]) ->
    process_flag(trap_exit, true),
    %% Kept from an earlier start: replacing a persistent_term costs a
    %% pass over every process.  A new generation drops what processes
    %% remember of the old contact cache.
    case persistent_term:get({?MODULE, Host}, undefined) of
        #names{gen = Gen} -> atomics:add(Gen, 1, 1);
        _ -> persistent_term:put({?MODULE, Host}, make_names(Host))
    end,
    Tab = table(Host),
    catch ets:delete(Tab),
    ets:new(Tab, [named_table, public, set, {read_concurrency, true}]),
    %% Read and written by every c2s/s2s process; ordered_set so that
    %% forgetting one sender's pairs is a key range.
    CTab = contacts(Host),
    catch ets:delete(CTab),
    ets:new(CTab, [named_table, public, ordered_set, {read_concurrency, true},
                   {write_concurrency, true}]),
    %% Counted into by every c2s/s2s process, read only at the flush.
    MTab = meter_table(Host),
    catch ets:delete(MTab),
    ets:new(MTab, [named_table, public, set, {write_concurrency, true}]),
    %% Written by c2s processes (at most once a minute per pair each),
    %% read by s2s ones.
    RTab = (names(Host))#names.replies,
    catch ets:delete(RTab),
    ets:new(RTab, [named_table, public, set, {read_concurrency, true},
                   {write_concurrency, true}]),
    atomics:put((names(Host))#names.window, 1, 0),
    self() ! fetch,
    {ok, #st{host = Host, tab = Tab, meter = MTab,
             component = gen_mod:get_opt(component, Opts),
             batch = gen_mod:get_opt(batch, Opts)}}.

handle_call({push, El}, _From, St) ->
    {reply, ok, apply_push(El, St)};
handle_call(_Req, _From, St) ->
    {reply, {error, badarg}, St}.

handle_cast({meter, Attrs}, St) ->
    {noreply, queue_event(Attrs, St)};
handle_cast(new_pair, #st{pairs = P} = St) ->
    {noreply, flush_when_due(St#st{pairs = P + 1})};
handle_cast(evict_replies, St) ->
    {noreply, evict_replies(St)};
handle_cast({resync, Why}, St) ->
    {noreply, fetch(Why, St)};
handle_cast({reload, Opts}, St) ->
    {noreply, St#st{component = gen_mod:get_opt(component, Opts),
                    batch = gen_mod:get_opt(batch, Opts)}};
handle_cast(_Msg, St) ->
    {noreply, St}.

handle_info(fetch, St) ->
    {noreply, fetch(<<"start">>, St#st{retry_timer = undefined})};
handle_info(flush, St) ->
    {noreply, flush(St#st{flush_timer = undefined})};
handle_info({iq_reply, Reply, fetch}, St) ->
    {noreply, fetched(Reply, St#st{fetching = false})};
handle_info({iq_reply, _Late, _Ctx}, St) ->
    {noreply, St};
handle_info(_Info, St) ->
    {noreply, St}.

terminate(_Reason, St) ->
    flush(St),
    ok.

code_change(_OldVsn, St, _Extra) -> {ok, St}.

%%%===================================================================
%%% verdicts
%%%===================================================================
fetch(_Why, #st{fetching = true} = St) ->
    St;
fetch(Why, #st{host = Host, component = Comp} = St) ->
    case ejabberd_router:is_my_route(Comp) of
        true ->
            ?DEBUG("floodgate: asking ~ts for the full verdict set (~ts)",
                   [Comp, Why]),
            IQ = #iq{type = get, from = jid:make(Host), to = jid:make(Comp),
                     sub_els = [#xmlel{name = <<"verdicts">>,
                                       attrs = [{<<"xmlns">>, ?NS}]}]},
            ejabberd_router:route_iq(IQ, fetch, self(), ?FETCH_TIMEOUT),
            St#st{fetching = true};
        false ->
            retry_later(St)
    end.

retry_later(#st{retry_timer = undefined} = St) ->
    St#st{retry_timer = erlang:send_after(?FETCH_RETRY, self(), fetch)};
retry_later(St) ->
    St.

cancel_retry(#st{retry_timer = undefined}) -> ok;
cancel_retry(#st{retry_timer = T}) -> erlang:cancel_timer(T), ok.

fetched(#iq{type = result, sub_els = [El0 | _]}, #st{host = Host} = St) ->
    El = mod_floodgate:to_xmlel(El0),
    case is_verdicts(El) of
        true ->
            cancel_retry(St),
            St1 = replace_all(El, St#st{retry_timer = undefined}),
            ?INFO_MSG("floodgate: verdict cache for ~ts loaded from ~ts "
                      "(seq ~p, ~B entries)",
                      [Host, St#st.component, St1#st.seq, cache_size(St)]),
            St1;
        false ->
            fetch_failed(<<"no <verdicts/> in the answer">>, St)
    end;
fetched(#iq{type = error} = IQ, St) ->
    fetch_failed(error_text(IQ), St);
fetched(timeout, St) ->
    fetch_failed(<<"timeout">>, St);
fetched(_, St) ->
    fetch_failed(<<"unexpected answer">>, St).

fetch_failed(Why, #st{host = Host} = St) ->
    count(Host, resync_failed),
    ?WARNING_MSG("floodgate: full verdict set request from ~ts to ~ts failed "
                 "(~ts); retrying in ~B s",
                 [Host, St#st.component, Why, ?FETCH_RETRY div 1000]),
    retry_later(St).

error_text(IQ) ->
    try xmpp:get_error(IQ) of
        #stanza_error{reason = R} -> atom_to_binary(R, utf8);
        _ -> <<"error">>
    catch _:_ -> <<"error">>
    end.

is_verdicts(#xmlel{name = <<"verdicts">>} = El) ->
    fxml:get_tag_attr_s(<<"xmlns">>, El) == ?NS;
is_verdicts(_) ->
    false.

apply_push(El, #st{host = Host, seq = Last} = St) ->
    Full = lists:member(fxml:get_tag_attr_s(<<"full">>, El),
                        [<<"1">>, <<"true">>]),
    Seq = to_int(fxml:get_tag_attr_s(<<"seq">>, El)),
    if Full ->
            replace_all(El, St);
       is_integer(Last), is_integer(Seq), Seq == Last + 1 ->
            apply_items(El, St),
            log_items(Host, Seq, El),
            St#st{seq = Seq};
       true ->
            %% Gap, or no full set yet: keep what this push says (it is
            %% newer than anything cached) and ask for the whole set.
            apply_items(El, St),
            log_items(Host, Seq, El),
            ?INFO_MSG("floodgate: verdict push seq ~p after ~p on ~ts: "
                      "asking for the full set", [Seq, Last, Host]),
            count(Host, seq_gap),
            fetch(<<"sequence gap">>, St#st{seq = undefined})
    end.

%% Incremental pushes are few; say what changed (full sets only count).
log_items(Host, Seq, #xmlel{children = Children}) ->
    lists:foreach(
      fun(#xmlel{name = <<"verdict">>} = V) ->
              ?INFO_MSG("floodgate: ~ts: ~ts ~ts -> ~ts~ts (~ts) [seq ~p]",
                        [Host, fxml:get_tag_attr_s(<<"subject">>, V),
                         fxml:get_tag_attr_s(<<"key">>, V),
                         fxml:get_tag_attr_s(<<"verdict">>, V),
                         case fxml:get_tag_attr_s(<<"action">>, V) of
                             <<"drop">> -> <<", drop">>;
                             _ -> <<>>
                         end,
                         fxml:get_tag_attr_s(<<"reason">>, V), Seq]);
         (_) -> ok
      end, Children).

replace_all(El, #st{tab = Tab, host = Host} = St) ->
    ets:match_delete(Tab, {{v, '_', '_'}, '_', '_', '_', '_'}),
    ets:insert(Tab, {allowlisted_accounts, 0}),
    apply_items(El, St),
    set_reply_window(Host, case to_int(fxml:get_tag_attr_s(<<"reply-window">>, El)) of
                               W when is_integer(W), W > 0 -> W;
                               _ -> 0
                           end),
    St#st{seq = to_int(fxml:get_tag_attr_s(<<"seq">>, El))}.

apply_items(#xmlel{children = Children}, #st{host = Host} = St) ->
    lists:foreach(fun(#xmlel{name = <<"verdict">>} = V) -> apply_item(V, St);
                     (_) -> ok
                  end, Children),
    %% after the entries: see own_entry/2
    atomics:add((names(Host))#names.vgen, 1, 1).

apply_item(V, #st{tab = Tab, host = Host}) ->
    Subject = subject(fxml:get_tag_attr_s(<<"subject">>, V)),
    Key0 = fxml:get_tag_attr_s(<<"key">>, V),
    Verdict = verdict(fxml:get_tag_attr_s(<<"verdict">>, V)),
    if Subject == error; Verdict == error; Key0 == <<>> ->
            ?DEBUG("floodgate: ignoring malformed verdict ~ts",
                   [fxml:element_to_binary(V)]);
       true ->
            Key = normal_key(Subject, Key0),
            Subject == account andalso count_allowlisted(Tab, Key, Verdict),
            case Verdict of
                allow ->
                    ets:delete(Tab, {v, Subject, Key});
                _ ->
                    Expires = case to_int(fxml:get_tag_attr_s(<<"expires">>, V)) of
                                  undefined -> infinity;
                                  E -> E
                              end,
                    Reason = fxml:get_tag_attr_s(<<"reason">>, V),
                    Action = case fxml:get_tag_attr_s(<<"action">>, V) of
                                 <<"drop">> -> drop;
                                 _ -> bounce
                             end,
                    ets:insert(Tab, {{v, Subject, Key}, Verdict, Expires,
                                     Reason, Action}),
                    maybe_kick(Host, Subject, Key, Verdict, Reason)
            end
    end.

%% How many accounts the cache allowlists, kept as entries come and go:
%% while there are none, a blocked address is refused at the stream's
%% start, before any login (mod_floodgate:c2s_stream_started/2).
count_allowlisted(Tab, Key, Verdict) ->
    Was = case ets:lookup(Tab, {v, account, Key}) of
              [{_, allowlist, _, _, _}] -> 1;
              _ -> 0
          end,
    Is = case Verdict of
             allowlist -> 1;
             _ -> 0
         end,
    Is == Was orelse
        ets:update_counter(Tab, allowlisted_accounts, Is - Was,
                           {allowlisted_accounts, 0}),
    ok.

%% Does the cache allowlist any account?
any_allowlisted(Host) ->
    case catch ets:lookup(table(Host), allowlisted_accounts) of
        [{_, N}] -> N > 0;
        _ -> false
    end.

%% An account block ends the account's sessions at once.
maybe_kick(Host, account, {U, Host}, block, Reason) when U /= <<>> ->
    N = ejabberd_sm:kick_user(U, Host),
    N > 0 andalso
        ?INFO_MSG("floodgate: closed ~B session(s) of blocked account "
                  "~ts (~ts)", [N, jid:encode({U, Host, <<>>}), Reason]),
    ok;
maybe_kick(_, _, _, _, _) ->
    ok.

subject(<<"account">>) -> account;
subject(<<"jid">>) -> account;             % a remote account, same cache
subject(<<"domain">>) -> domain;
subject(<<"ip">>) -> ip;
subject(<<"prefix">>) -> prefix;
subject(_) -> error.

verdict(<<"allow">>) -> allow;
verdict(<<"throttle">>) -> throttle;
verdict(<<"quarantine">>) -> quarantine;
verdict(<<"block">>) -> block;
verdict(<<"allowlist">>) -> allowlist;
verdict(_) -> error.

cache_size(#st{tab = Tab}) ->
    ets:select_count(Tab, [{{{v, '_', '_'}, '_', '_', '_', '_'}, [], [true]}]).

to_int(<<>>) -> undefined;
to_int(B) ->
    try binary_to_integer(B) catch _:_ -> undefined end.

now_ms() -> erlang:system_time(millisecond).

%%%===================================================================
%%% meter batch
%%%===================================================================
queue_event(Attrs, #st{queue = Q, qlen = N} = St) ->
    Ev = #xmlel{name = <<"event">>,
                attrs = [{K, V} || {K, V} <- Attrs, V /= undefined]},
    flush_when_due(St#st{queue = [Ev | Q], qlen = N + 1}).

%% Distinct pairs count towards the batch size like queued events.
flush_when_due(#st{qlen = N, pairs = P, batch = Max} = St) ->
    if N + P >= Max ->
            flush(St);
       St#st.flush_timer == undefined ->
            St#st{flush_timer = erlang:send_after(?FLUSH_AFTER, self(), flush)};
       true ->
            St
    end.

flush(#st{host = Host, component = Comp, batch = Max,
           meter = MTab} = St) ->
    case St#st.flush_timer of
        undefined -> ok;
        T -> erlang:cancel_timer(T)
    end,
    {Counted, Seen, Idle} = take_counts(MTab, St#st.seen, mono_ms()),
    Idle > 0 andalso count(Host, meter_pairs_idle, Idle),
    %% messages between contacts reported (or dropped): for admins and
    %% test_ejabberd_contacts.py, which checks the sum across flushes
    case lists:sum([N || {_, N} <- Counted]) of
        0 -> ok;
        Sum -> count(Host, contact_messages, Sum)
    end,
    Events = lists:reverse(St#st.queue, [message_event(From, To, N)
                                         || {{From, To}, N} <- Counted]),
    send_events(Host, Comp, Max, Events, length(Events)),
    St1 = St#st{queue = [], qlen = 0, pairs = 0, seen = Seen,
                flush_timer = undefined},
    %% Pairs in the table may be counted without a word to us.
    case ets:info(MTab, size) of
        0 -> St1;
        _ -> St1#st{flush_timer = erlang:send_after(?FLUSH_AFTER, self(), flush)}
    end.

%% Every pair's count, taken out of the table (see "Meter counters" at
%% the top), when each pair last had one, and how many idle pairs were
%% deleted.
take_counts(MTab, Seen0, Now) ->
    lists:foldl(
      fun({Key, CRef, N}, {Acc, Seen, Idle}) ->
              N > 0 andalso ets:update_counter(MTab, Key, {3, -N}),
              C = counters:get(CRef, 1),
              C > 0 andalso counters:sub(CRef, 1, C),
              case N + C of
                  0 ->
                      case Seen of
                          #{Key := T} when Now - T > ?METER_IDLE ->
                              D = ets:select_delete(
                                    MTab, [{{Key, '_', 0}, [], [true]}]),
                              {Acc, maps:remove(Key, Seen), Idle + D};
                          #{Key := _} ->
                              {Acc, Seen, Idle};
                          _ ->
                              {Acc, Seen#{Key => Now}, Idle}
                      end;
                  Sum ->
                      {[{Key, Sum} | Acc], Seen#{Key => Now}, Idle}
              end
      end, {[], Seen0, 0}, ets:tab2list(MTab)).

message_event({FU, FS}, {TU, TS}, N) ->
    Count = if N > 1 -> [{<<"count">>, integer_to_binary(N)}];
               true -> []
            end,
    #xmlel{name = <<"event">>,
           attrs = [{<<"type">>, <<"message">>},
                    {<<"from">>, jid:encode({FU, FS, <<>>})},
                    {<<"to">>, jid:encode({TU, TS, <<>>})} | Count]}.

%% At most Max events a message (new_pair casts may lag behind the table).
send_events(_Host, _Comp, _Max, [], 0) ->
    ok;
send_events(Host, Comp, Max, Events, Len) when Len > Max ->
    {Now, Later} = lists:split(Max, Events),
    send_events(Host, Comp, Max, Now, Max),
    send_events(Host, Comp, Max, Later, Len - Max);
send_events(Host, Comp, _Max, Events, N) ->
    case ejabberd_router:is_my_route(Comp) of
        true ->
            Meter = #xmlel{name = <<"meter">>, attrs = [{<<"xmlns">>, ?NS}],
                           children = Events},
            ?DEBUG("floodgate: sending ~B meter event(s) to ~ts: ~ts",
                   [N, Comp, fxml:element_to_binary(Meter)]),
            ejabberd_router:route(#message{from = jid:make(Host),
                                           to = jid:make(Comp),
                                           id = p1_rand:get_string(),
                                           sub_els = [Meter]});
        false ->
            %% Without a route the message would go out over s2s.
            count(Host, meter_dropped, N),
            mod_floodgate:ratelog(Host, meter_down,
                                  "floodgate: component ~ts not connected; "
                                  "~B meter event(s) dropped", [Comp, N])
    end.
