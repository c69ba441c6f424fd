%% SPDX-License-Identifier: ISC
%%%----------------------------------------------------------------------
%%% mod_floodgate: bridge between ejabberd and the floodgate anti-spam
%%% daemon (floodgated, an XEP-0114 component).  Implements
%%% doc/PROTOCOL.md, namespace urn:floodgate:0:
%%%   gate     synchronous IQ before invitations, stranger messages and
%%%            registrations; the daemon answers allow or deny;
%%%   meter    asynchronous, batched <message><meter><event/>...</meter>;
%%%   verdicts pushed by the daemon, cached in ETS (mod_floodgate_srv) and
%%%            enforced here without asking.
%%%
%%% The daemon decides, this module asks and obeys.  When the daemon does
%%% not answer in time the stanza goes through (fail open) unless
%%% fail_closed is set; every such case is counted and logged.
%%%
%%% "Contact" (same rule as the Prosody module): a stanza from S to R is
%%% between contacts when the roster of a local party records a
%%% relationship R agreed to or asked for: S's roster holds R with a
%%% subscription (from, to, both) or a pending request from R; or R's
%%% roster holds S with a subscription or R's own pending request to S.
%%% A pending request from S alone does not count.  For s2s traffic only
%%% the local recipient's roster is known.  Answers "contact" are cached per pair
%%% for a few seconds (mod_floodgate_srv, "Contact cache"); subscription
%%% presences and roster item changes forget them at once.
%%%
%%% Copyright (c) floodgate authors.  See COPYING.
%%%----------------------------------------------------------------------
-module(mod_floodgate).
-behaviour(gen_mod).

-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1,
         mod_options/1, mod_doc/0]).
%% hooks
-export([user_send_packet/1, s2s_receive_packet/1, muc_invite/7,
         c2s_unauthenticated_packet/2, c2s_auth_result/3,
         c2s_stream_started/2, register_user/2,
         sm_register_connection_hook/3, sm_remove_connection_hook/3,
         component_connected/1]).
%% hooks that keep the contact cache true
-export([roster_out_subscription/1, roster_in_subscription/2,
         roster_process_item/2]).
%% IQ handler (verdict pushes); decode_iq_subel/1 keeps gen_iq_handler
%% from rejecting our unknown payload with bad-request.
-export([process_iq/1, decode_iq_subel/1]).
%% shared with mod_floodgate_srv
-export([to_xmlel/1, ratelog/4]).
%% fingerprints, exported for tests/integration/test_fingerprint.py
-export([fingerprints/1, normalise/1, url_normalise/1]).
%% URL host fingerprints, for tests/integration/test_ejabberd_remote.py
-export([host_fingerprints/1, url_host/1]).

-include("logger.hrl").
-include("xmpp.hrl").
-include("mod_roster.hrl").

-define(NS, <<"urn:floodgate:0">>).
-define(WAIT_SLACK, 100).     % ms: our own receive outlives ejabberd_iq's timer
-define(LOG_INTERVAL, 10000). % ms between two repeated warnings of one kind
-define(HOOK_PRIO, 10).       % before mod_roster/mod_offline/carbons act

%%%===================================================================
%%% gen_mod
%%%===================================================================
start(Host, Opts) ->
    case gen_mod:start_child(mod_floodgate_srv, Host, Opts) of
        {ok, _} -> ok;
        {error, {already_started, _}} -> ok;
        Err -> throw(Err)
    end,
    gen_iq_handler:add_iq_handler(ejabberd_local, Host, ?NS, ?MODULE,
                                  process_iq),
    [ejabberd_hooks:add(H, Host, ?MODULE, F, P) || {H, F, P} <- hooks()],
    ejabberd_hooks:add(component_connected, ?MODULE, component_connected, 50),
    ?INFO_MSG("floodgate bridge for ~ts -> ~ts (timeout ~B ms, fail ~ts, "
              "batch ~B)",
              [Host, gen_mod:get_opt(component, Opts),
               gen_mod:get_opt(timeout, Opts),
               case gen_mod:get_opt(fail_closed, Opts) of
                   true -> <<"closed">>;
                   false -> <<"open">>
               end,
               gen_mod:get_opt(batch, Opts)]),
    ok.

stop(Host) ->
    [ejabberd_hooks:delete(H, Host, ?MODULE, F, P) || {H, F, P} <- hooks()],
    case gen_mod:is_loaded_elsewhere(Host, ?MODULE) of
        false ->
            ejabberd_hooks:delete(component_connected, ?MODULE,
                                  component_connected, 50);
        true -> ok
    end,
    gen_iq_handler:remove_iq_handler(ejabberd_local, Host, ?NS),
    gen_mod:stop_child(mod_floodgate_srv, Host),
    ok.

reload(Host, NewOpts, _OldOpts) ->
    gen_server:cast(gen_mod:get_module_proc(Host, mod_floodgate_srv),
                    {reload, NewOpts}).

depends(_Host, _Opts) -> [].

hooks() ->
    [{user_send_packet, user_send_packet, ?HOOK_PRIO},
     {s2s_receive_packet, s2s_receive_packet, ?HOOK_PRIO},
     %% mod_register answers IBR at 50; ask before it creates the account
     {c2s_unauthenticated_packet, c2s_unauthenticated_packet, 40},
     {c2s_auth_result, c2s_auth_result, 50},
     {c2s_stream_started, c2s_stream_started, 50},
     %% invitations relayed by this server's own MUC rooms
     {muc_invite, muc_invite, 50},
     {register_user, register_user, 50},
     {sm_register_connection_hook, sm_register_connection_hook, 50},
     {sm_remove_connection_hook, sm_remove_connection_hook, 50},
     %% Before mod_roster (50) writes the change: see forget_contacts/2.
     {roster_out_subscription, roster_out_subscription, 40},
     {roster_in_subscription, roster_in_subscription, 40},
     {roster_process_item, roster_process_item, 40}].

mod_opt_type(component) -> econf:domain();
mod_opt_type(timeout) -> econf:timeout(millisecond);
mod_opt_type(fail_closed) -> econf:bool();
mod_opt_type(batch) -> econf:pos_int().

mod_options(Host) ->
    [{component, <<"floodgate.", Host/binary>>},
     {timeout, 250},
     {fail_closed, false},
     {batch, 50}].

mod_doc() ->
    #{desc =>
          [<<"Bridge to the floodgate anti-spam daemon, which runs as an "
             "external component (XEP-0114). The module asks the daemon "
             "before it lets through subscription requests, messages to "
             "non-contacts, MUC invitations and in-band registrations, "
             "reports sessions, logins, registrations and messages to "
             "contacts, and enforces the verdicts the daemon pushes "
             "(quarantine, block, allowlist; local and remote accounts, "
             "domains, addresses), bouncing or silently dropping what "
             "they refuse.">>],
      opts =>
          [{component,
            #{value => <<"Domain">>,
              desc => <<"JID of the floodgate component. The default is "
                        "'floodgate.@HOST@'.">>}},
           {timeout,
            #{value => "timeout()",
              desc => <<"How long a gated stanza waits for the daemon "
                        "before the module fails open (or closed). The "
                        "default is '250' milliseconds.">>}},
           {fail_closed,
            #{value => "true | false",
              desc => <<"Refuse gated stanzas with 'resource-constraint' "
                        "when the daemon does not answer. The default is "
                        "'false' (let them through).">>}},
           {batch,
            #{value => <<"Number">>,
              desc => <<"Maximum number of meter events in one message to "
                        "the daemon. Events wait at most 1 second. The "
                        "default is '50'.">>}}],
      example =>
          ["listen:",
           "  -",
           "    port: 5347",
           "    ip: \"127.0.0.1\"",
           "    module: ejabberd_service",
           "    hosts:",
           "      floodgate.example.org:",
           "        password: \"changeme\"",
           "",
           "modules:",
           "  mod_floodgate:",
           "    component: floodgate.example.org",
           "    timeout: 250",
           "    fail_closed: false",
           "    batch: 50"]}.

opt(Host, Name) -> gen_mod:get_module_opt(Host, ?MODULE, Name).

%%%===================================================================
%%% outbound: local users (c2s)
%%%===================================================================
user_send_packet({Pkt, #{jid := JID, lserver := Host} = State} = Acc) ->
    From = key(JID),
    case mod_floodgate_srv:own_entry(Host, From) of
        {block, Action} ->
            mod_floodgate_srv:count(Host, refused_account_block),
            refuse_out(Pkt, State, refusal(Host, Action, block, {account, From}));
        Entry ->
            Verdict = case Entry of
                          {V, _} -> V;
                          none -> allow
                      end,
            try outbound(Pkt, JID, Host, Verdict, State) of
                pass -> Acc;
                Refusal -> refuse_out(Pkt, State, Refusal)
            catch Class:Reason:St ->
                    ?ERROR_MSG("floodgate: outbound check failed, letting the "
                               "stanza through:~n~ts",
                               [misc:format_exception(2, Class, Reason, St)]),
                    Acc
            end
    end;
user_send_packet(Acc) ->
    Acc.

outbound(#presence{type = subscribe, to = #jid{} = To}, JID, Host, Verdict,
         State) ->
    case Verdict of
        quarantine ->
            mod_floodgate_srv:count(Host, refused_account_quarantine),
            refusal(Host, quarantine, {account, key(JID)});
        allowlist ->
            pass;
        _ ->
            Contact = is_contact(JID, To),
            gate(Host, <<"subscribe">>,
                 [{<<"from">>, bare(JID)}, {<<"to">>, bare(To)},
                  {<<"ip">>, c2s_ip(State)}, {<<"contact">>, flag(Contact)}])
    end;
%% Directed presence to a remote account opens its reply window.
outbound(#presence{type = available, to = #jid{luser = U} = To}, JID, Host,
         _Verdict, _State) when U /= <<>> ->
    note_reply(Host, JID, To),
    pass;
outbound(#message{to = #jid{} = To} = Msg, JID, Host, Verdict, State) ->
    case countable(Msg) of
        Body when is_binary(Body) ->
            case is_user_to_user(JID, To) of
                true ->
                    case outbound_message(Body, JID, To, Host, Verdict, State) of
                        pass -> note_reply(Host, JID, To), pass;
                        Refusal -> Refusal
                    end;
                false -> pass
            end;
        false -> pass
    end;
outbound(#iq{type = set, sub_els = [El]}, JID, Host, _Verdict, _State) ->
    reports(to_xmlel(El), JID, Host),
    pass;
outbound(_Pkt, _JID, _Host, _Verdict, _State) ->
    pass.

%% Most messages go to contacts: for the pair this sender wrote to last,
%% a look at its process dictionary and a counter update; no roster
%% read, no JID encoded (mod_floodgate_srv, "Meter counters").
outbound_message(Body, JID, To, Host, Verdict, State) ->
    From = key(JID),
    ToKey = key(To),
    case contact_message(Host, From, ToKey,
                         fun() -> is_contact(JID, To) end, Body) of
        true ->
            %% counted per pair, no body fingerprint: the content-wave
            %% detector never counts messages between contacts
            pass;
        false when Verdict == quarantine ->
            mod_floodgate_srv:count(Host, refused_account_quarantine),
            refusal(Host, quarantine, {account, From});
        false when Verdict == allowlist ->
            pass;
        false ->
            {FP, UFP, HFP} = all_fingerprints(Body),
            gate(Host, <<"stranger-message">>,
                 [{<<"from">>, bare(JID)}, {<<"to">>, bare(To)},
                  {<<"ip">>, c2s_ip(State)}, {<<"contact">>, <<"0">>},
                  {<<"fp">>, FP}, {<<"ufp">>, UFP}, {<<"hfp">>, HFP}])
    end.

%% A local user wrote to To: if To is a remote account, its answers
%% within the reply window are a contact's.
note_reply(_Host, #jid{lserver = S}, #jid{lserver = S}) ->
    ok;
note_reply(Host, JID, #jid{luser = U, lserver = S} = To) when U /= <<>> ->
    mod_floodgate_srv:note_reply(Host, key(JID), key(To),
                                 fun() -> not ejabberd_router:is_my_host(S) end);
note_reply(_Host, _JID, _To) ->
    ok.

refuse_out(_Pkt, State, drop) ->
    {stop, {drop, State}};
refuse_out(Pkt, State, {refuse, Cond, Text}) ->
    case xmpp:get_type(Pkt) of
        T when T == error; T == result ->
            {stop, {drop, State}};
        _ ->
            Err = xmpp:make_error(Pkt, stanza_error(Cond, Text)),
            {stop, {drop, ejabberd_c2s:send(State, Err)}}
    end.

%% What a cached verdict makes of a stanza: drop (silent, when the entry
%% says so) or {refuse, Condition, Text}.
refusal(Host, Verdict, {Subject, Key}) ->
    Action = case mod_floodgate_srv:entry(Host, Subject, Key) of
                 {_, A} -> A;
                 none -> bounce
             end,
    refusal(Host, Action, Verdict, {Subject, Key}).

refusal(Host, drop, _Verdict, _SK) ->
    mod_floodgate_srv:count(Host, dropped),
    drop;
refusal(Host, bounce, Verdict, {Subject, Key}) ->
    {refuse, <<"policy-violation">>, verdict_text(Verdict, Host, Subject, Key)}.

%% XEP-0377 spam reports ride inside a XEP-0191 block request.
reports(#xmlel{name = <<"block">>, children = Items} = Block, JID, Host) ->
    case fxml:get_tag_attr_s(<<"xmlns">>, Block) of
        ?NS_BLOCKING ->
            lists:foreach(
              fun(#xmlel{name = <<"item">>} = Item) ->
                      case report_reason(Item) of
                          false -> ok;
                          Reason ->
                              meter(Host, <<"report">>,
                                    [{<<"from">>, bare(JID)},
                                     {<<"to">>, fxml:get_tag_attr_s(<<"jid">>, Item)},
                                     {<<"reason">>, Reason}])
                      end;
                 (_) -> ok
              end, Items);
        _ -> ok
    end;
reports(_, _, _) ->
    ok.

report_reason(Item) ->
    Reports = [R || #xmlel{name = <<"report">>} = R <- Item#xmlel.children,
                    lists:member(fxml:get_tag_attr_s(<<"xmlns">>, R),
                                 [<<"urn:xmpp:reporting:1">>,
                                  <<"urn:xmpp:reporting:0">>])],
    case {Reports, fxml:get_tag_attr_s(<<"jid">>, Item)} of
        {[], _} -> false;
        {_, <<>>} -> false;
        {[R | _], _} ->
            case fxml:get_tag_attr_s(<<"reason">>, R) of
                <<>> ->
                    case [C || #xmlel{name = C} <- R#xmlel.children] of
                        [C | _] -> <<"urn:xmpp:reporting:", C/binary>>;
                        [] -> <<"urn:xmpp:reporting:spam">>
                    end;
                Reason -> Reason
            end
    end.

%%%===================================================================
%%% inbound: remote senders (s2s)
%%%===================================================================
s2s_receive_packet({Pkt, State} = Acc) ->
    From = xmpp:get_from(Pkt),
    To = xmpp:get_to(Pkt),
    case is_record(From, jid) andalso is_record(To, jid) andalso
        gen_mod:is_loaded(To#jid.lserver, ?MODULE) of
        false -> Acc;
        true ->
            try inbound(Pkt, From, To, To#jid.lserver, State) of
                pass -> Acc;
                drop -> {stop, {drop, State}};
                {refuse, Cond, Text} ->
                    case xmpp:get_type(Pkt) of
                        T when T == error; T == result -> ok;
                        _ -> ejabberd_router:route_error(
                               Pkt, stanza_error(Cond, Text))
                    end,
                    {stop, {drop, State}}
            catch Class:Reason:St ->
                    ?ERROR_MSG("floodgate: inbound check failed, letting the "
                               "stanza through:~n~ts",
                               [misc:format_exception(2, Class, Reason, St)]),
                    Acc
            end
    end;
s2s_receive_packet(Acc) ->
    Acc.

inbound(Pkt, From, To, Host, State) ->
    case sender_verdict(Host, From) of
        {block, Action, SK} ->
            mod_floodgate_srv:count(Host, refused_block_counter(SK)),
            case Pkt of
                #presence{type = subscribe} -> refusal(Host, Action, block, SK);
                %% presence broadcasts: no error for each
                #presence{} -> drop;
                _ -> refusal(Host, Action, block, SK)
            end;
        {Verdict, _Action, SK} ->
            case muc_inviter(Pkt, To) of
                none -> inbound1(Pkt, From, To, Host, Verdict, SK, State);
                Inviter -> invitation(Pkt, Inviter, To, Host, {Verdict, SK},
                                      s2s_ip(State))
            end
    end.

refused_block_counter({account, _}) -> refused_jid_block;
refused_block_counter(_) -> refused_domain_block.

refused_quarantine_counter({account, _}) -> refused_jid_quarantine;
refused_quarantine_counter(_) -> refused_domain_quarantine.

inbound1(#presence{type = subscribe}, From, To, Host, Verdict, SK, State) ->
    Contact = Verdict == allowlist orelse recipient_says(To, From)
        orelse replied(Host, To, From),
    if Verdict == quarantine, not Contact ->
            mod_floodgate_srv:count(Host, refused_quarantine_counter(SK)),
            refusal(Host, quarantine, SK);
       Verdict == allowlist ->
            pass;
       true ->
            gate(Host, <<"inbound-subscribe">>,
                 [{<<"from">>, bare(From)}, {<<"to">>, bare(To)},
                  {<<"ip">>, s2s_ip(State)}, {<<"contact">>, flag(Contact)}])
    end;
inbound1(#message{} = Msg, From, To, Host, Verdict, SK, State) ->
    case countable(Msg) of
        Body when is_binary(Body), To#jid.luser /= <<>> ->
            FromKey = key(From),
            ToKey = key(To),
            case contact_message(Host, FromKey, ToKey,
                                 fun() -> recipient_says(To, From)
                                              orelse replied(Host, To, From)
                                 end, Body) of
                true ->
                    pass;
                false when Verdict == quarantine ->
                    mod_floodgate_srv:count(Host, refused_quarantine_counter(SK)),
                    refusal(Host, quarantine, SK);
                false when Verdict == allowlist ->
                    pass;
                false ->
                    {FP, UFP, HFP} = all_fingerprints(Body),
                    gate(Host, <<"inbound-stranger-message">>,
                         [{<<"from">>, bare(From)}, {<<"to">>, bare(To)},
                          {<<"ip">>, s2s_ip(State)}, {<<"contact">>, <<"0">>},
                          {<<"fp">>, FP}, {<<"ufp">>, UFP}, {<<"hfp">>, HFP}])
            end;
        _ -> pass
    end;
inbound1(_Pkt, _From, _To, _Host, _Verdict, _SK, _State) ->
    pass.

%% A mediated MUC invitation (XEP-0045 7.8.2): the room relays it, the
%% inviter is named in <invite from=.../>.  Gated as a stranger message
%% from the inviter (stranger-message when the inviter is one of ours,
%% who may be in a remote room), with the invitation's reason as its
%% body.  The relaying sender is judged first (its block refused the
%% stanza already): when it or its domain is quarantined, only a contact
%% of the recipient may relay, so naming a contact of the recipient as
%% the inviter buys a quarantined sender nothing.  A semi-anonymous room
%% names the inviter by occupant JID: the room itself, then.
invitation(Msg, Inviter, To, Host, {quarantine, RoomSK}, IP) ->
    Room = Msg#message.from,
    case recipient_says(To, Room) orelse replied(Host, To, Room) of
        true -> invitation(Msg, Inviter, To, Host, {allow, RoomSK}, IP);
        false ->
            mod_floodgate_srv:count(Host, refused_invite_quarantine),
            refusal(Host, quarantine, RoomSK)
    end;
invitation(Msg, Inviter, To, Host, _Room, IP) ->
    Local = ejabberd_router:is_my_host(Inviter#jid.lserver),
    {Verdict, Action, SK} = case Local of
                                true -> local_verdict(Host, Inviter);
                                false -> sender_verdict(Host, Inviter)
                            end,
    case Verdict of
        block ->
            mod_floodgate_srv:count(Host, refused_invite_block),
            refusal(Host, Action, block, SK);
        allowlist ->
            pass;
        _ ->
            Contact = case Local of
                          true -> is_contact(Inviter, To);
                          false -> recipient_says(To, Inviter)
                                       orelse replied(Host, To, Inviter)
                      end,
            case Contact of
                true ->
                    pass;
                false when Verdict == quarantine ->
                    mod_floodgate_srv:count(Host, refused_invite_quarantine),
                    refusal(Host, quarantine, SK);
                false ->
                    {FP, UFP, HFP} = all_fingerprints(invite_text(Msg)),
                    Kind = case Local of
                               true -> <<"stranger-message">>;
                               false -> <<"inbound-stranger-message">>
                           end,
                    gate(Host, Kind,
                         [{<<"from">>, bare(Inviter)}, {<<"to">>, bare(To)},
                          {<<"ip">>, IP}, {<<"contact">>, <<"0">>},
                          {<<"fp">>, FP}, {<<"ufp">>, UFP}, {<<"hfp">>, HFP}])
            end
    end.

%% A local account's verdict, as sender_verdict/2 gives a remote one's.
local_verdict(Host, #jid{} = J) ->
    Key = key(J),
    case mod_floodgate_srv:entry(Host, account, Key) of
        {V, A} -> {V, A, {account, Key}};
        none -> {allow, bounce, {account, Key}}
    end.

%% The inviter of a mediated invitation to a local user, or none.  A room
%% relays it from its bare JID; a user's message always carries the
%% resource its server stamped, so a user cannot pass one of its own
%% messages off as an invitation (and its inviter off as the sender).
%% Only messages carrying an <x xmlns='...muc#user'/> are decoded.
muc_inviter(#message{type = T}, _To) when T == error; T == groupchat ->
    none;
muc_inviter(#message{from = #jid{lresource = <<>>}, sub_els = Els},
            #jid{luser = U}) when U /= <<>> ->
    invite_from(Els);
muc_inviter(_Pkt, _To) ->
    none.

invite_from([#muc_user{invites = [#muc_invite{from = #jid{} = F} | _]} | _]) ->
    F;
invite_from([#xmlel{name = <<"x">>, attrs = Attrs} = El | Rest]) ->
    case lists:keyfind(<<"xmlns">>, 1, Attrs) of
        {_, ?NS_MUC_USER} ->
            try xmpp:decode(El) of
                #muc_user{invites = [#muc_invite{from = #jid{} = F} | _]} -> F;
                _ -> invite_from(Rest)
            catch _:_ -> invite_from(Rest)
            end;
        _ -> invite_from(Rest)
    end;
invite_from([_ | Rest]) ->
    invite_from(Rest);
invite_from([]) ->
    none.

%% An invitation relayed by one of this server's rooms (mod_muc_room
%% runs the muc_invite fold on the message it is about to route): to a
%% local user it is judged as one arriving over s2s; to a remote user, when
%% the inviter is one of ours, as that user's stranger message.  The fold
%% cannot stop the routing, so a refusal replaces the message: with an
%% error to the inviter (bounce), or with an error message to this
%% server's bare JID, which ejabberd_local drops (drop).
muc_invite(#message{} = Msg, Room, _Config, #jid{} = Inviter, #jid{} = To,
           _Reason, Pkt) ->
    Local = fun(S) -> ejabberd_router:is_my_host(S) end,
    case Local(To#jid.lserver) orelse Local(Inviter#jid.lserver) of
        true ->
            SH = case Local(To#jid.lserver) of
                     true -> To#jid.lserver;
                     false -> Inviter#jid.lserver
                 end,
            case gen_mod:is_loaded(SH, ?MODULE) of
                true -> muc_invite1(Msg, Room, Inviter, To, SH, Pkt);
                false -> Msg
            end;
        false -> Msg
    end;
muc_invite(Msg, _Room, _Config, _Inviter, _To, _Reason, _Pkt) ->
    Msg.

muc_invite1(Msg, Room, Inviter, To, Host, Pkt) ->
    try invitation(Msg, Inviter, To, Host, {allow, {account, key(Room)}}, undefined) of
        pass -> Msg;
        drop -> Msg#message{type = error, to = jid:make(Host)};
        {refuse, Cond, Text} -> xmpp:make_error(Pkt, stanza_error(Cond, Text))
    catch Class:Reason:St ->
            ?ERROR_MSG("floodgate: invitation check failed, letting it through:~n~ts",
                       [misc:format_exception(2, Class, Reason, St)]),
            Msg
    end.

%% The invitation's reason, else the message body (the room's own text).
invite_text(#message{sub_els = Els} = Msg) ->
    case [R || El <- Els,
               #muc_user{invites = [#muc_invite{reason = R} | _]} <-
                   [try xmpp:decode(to_xmlel(El)) catch _:_ -> none end],
               R /= <<>>] of
        [R | _] -> R;
        [] ->
            case countable(Msg) of
                B when is_binary(B) -> B;
                false -> undefined
            end
    end.

%% Verdict of a remote sender, {Verdict, Action, {Subject, Key}}: an
%% allowlisted account is let through whatever its domain's verdict;
%% otherwise the account's or the domain's verdict, whichever is more
%% severe (a quarantined account of a blocked domain is blocked), and an
%% allowlisted domain lets its accounts without a verdict through.
sender_verdict(Host, From) ->
    Key = key(From),
    Domain = From#jid.lserver,
    case mod_floodgate_srv:entry(Host, account, Key) of
        {allowlist, A} -> {allowlist, A, {account, Key}};
        AE ->
            {V, VA} = case AE of
                          none -> {allow, bounce};
                          _ -> AE
                      end,
            case mod_floodgate_srv:entry(Host, domain, Domain) of
                {allowlist, DA} when V == allow -> {allowlist, DA, {domain, Domain}};
                {DV, DA} ->
                    case severity(DV) > severity(V) of
                        true -> {DV, DA, {domain, Domain}};
                        false -> {V, VA, {account, Key}}
                    end;
                none -> {V, VA, {account, Key}}
            end
    end.

severity(block) -> 3;
severity(quarantine) -> 2;
severity(throttle) -> 1;
severity(_) -> 0.

%% Did local user To write to remote From within the reply window?
replied(Host, To, From) ->
    mod_floodgate_srv:replied(Host, key(To), key(From)).

%%%===================================================================
%%% contact cache: forget pairs when a roster changes
%%%===================================================================
%% All three run before mod_roster writes the change, in the process that
%% makes it; mod_floodgate_srv:forget_contacts/2 also keeps the pairs out
%% of the cache until the write is surely committed.

%% A local user's subscription presence (all four types) to anyone.
roster_out_subscription(#presence{from = #jid{lserver = Host} = From,
                                  to = #jid{} = To}) ->
    forget_contacts(Host, [From, To]);
roster_out_subscription(_Pres) ->
    ok.

%% A subscription presence to a local user, from c2s or s2s; the fold's
%% accumulator (deliver or not) is mod_roster's business.
roster_in_subscription(Acc, #presence{from = #jid{} = From,
                                      to = #jid{lserver = Host} = To}) ->
    forget_contacts(Host, [From, To]),
    Acc;
roster_in_subscription(Acc, _Pres) ->
    Acc.

%% A roster item set or removed (roster IQ, admin commands); runs inside
%% mod_roster's transaction, which must not fail because of us.
roster_process_item(#roster{us = {U, S}, jid = {JU, JS, _}} = Item, Host) ->
    forget_contacts(Host, [{U, S, <<>>}, {JU, JS, <<>>}]),
    Item;
roster_process_item(Item, _Host) ->
    Item.

forget_contacts(Host, Jids) ->
    try
        mod_floodgate_srv:forget_contacts(
          Host, [begin {U, S, _} = jid:tolower(J), {U, S} end || J <- Jids])
    catch Class:Reason:St ->
            ?ERROR_MSG("floodgate: could not forget cached contacts of ~p:~n~ts",
                       [Jids, misc:format_exception(2, Class, Reason, St)])
    end,
    ok.

%%%===================================================================
%%% registration, logins, sessions
%%%===================================================================
c2s_unauthenticated_packet(#{ip := {Addr, _}, server := Server} = State,
                           #iq{type = set, sub_els = [_]} = IQ) ->
    try xmpp:try_subtag(IQ, #register{}) of
        #register{remove = false, username = U} when is_binary(U), U /= <<>> ->
            Host = jid:nameprep(Server),
            IP = ip_bin(Addr),
            %% register_user/2 runs later in this same process and has no IP.
            put(floodgate_register_ip, IP),
            case register_check(Host, U, IP) of
                pass -> State;
                drop ->
                    erase(floodgate_register_ip),
                    {stop, State};
                {refuse, Cond, Text} ->
                    erase(floodgate_register_ip),
                    IQ1 = xmpp:set_from_to(IQ, jid:make(<<>>), jid:make(Server)),
                    Err = xmpp:make_error(IQ1, stanza_error(Cond, Text)),
                    Err1 = xmpp:set_from_to(Err, jid:make(Server), undefined),
                    {stop, ejabberd_c2s:send(State, Err1)}
            end;
        _ -> State
    catch _:_ -> State
    end;
c2s_unauthenticated_packet(State, _Pkt) ->
    State.

register_check(Host, User, IP) ->
    case mod_floodgate_srv:lookup(Host, ip, IP) of
        V when V == block; V == quarantine ->
            mod_floodgate_srv:count(Host, refused_ip_register),
            {refuse, <<"not-allowed">>,
             <<"Registrations from your network are refused by the server's "
               "anti-spam policy.">>};
        _ ->
            From = case jid:nodeprep(User) of
                       error -> <<User/binary, "@", Host/binary>>;
                       LU -> <<LU/binary, "@", Host/binary>>
                   end,
            gate(Host, <<"register">>, [{<<"from">>, From}, {<<"ip">>, IP}])
    end.

register_user(User, Server) ->
    Host = jid:nameprep(Server),
    IP = erase(floodgate_register_ip),
    meter(Host, <<"registered">>,
          [{<<"from">>, jid:encode({jid:nodeprep(User), Host, <<>>})},
           {<<"ip">>, IP}]),
    ok.

c2s_stream_started(#{ip := {Addr, _}, lserver := Host} = State, _Start) ->
    IP = ip_bin(Addr),
    case mod_floodgate_srv:lookup(Host, ip, IP) of
        block ->
            case mod_floodgate_srv:any_allowlisted(Host) of
                %% An allowlisted account may log in from it: decide at
                %% the login (c2s_auth_result/3).
                true -> State#{floodgate_ip_blocked => IP};
                false -> refuse_ip(Host, IP, State)
            end;
        _ -> State
    end;
c2s_stream_started(State, _Start) ->
    State.

c2s_auth_result(#{lserver := Host} = State, true, User) ->
    meter(Host, <<"auth-ok">>, [{<<"login">>, User}, {<<"ip">>, c2s_ip(State)}]),
    Key = login_key(User, Host),
    Verdict = case Key of
                  error -> allow;
                  _ -> mod_floodgate_srv:lookup(Host, account, Key)
              end,
    case {Verdict, State} of
        {block, _} ->
            mod_floodgate_srv:count(Host, refused_account_login),
            Txt = <<"This account is blocked by the server's anti-spam policy.">>,
            {stop, ejabberd_c2s:send(State, xmpp:serr_policy_violation(Txt, <<"en">>))};
        {allowlist, _} -> State;
        {_, #{floodgate_ip_blocked := IP}} -> refuse_ip(Host, IP, State);
        _ -> State
    end;
c2s_auth_result(#{lserver := Host} = State, {false, _Reason}, User) ->
    Exists = case login_key(User, Host) of
                 error -> <<"0">>;
                 _ ->
                     {U, _} = split_login(User, Host),
                     try ejabberd_auth:user_exists(U, Host) of
                         true -> <<"1">>;
                         false -> <<"0">>
                     catch _:_ -> undefined
                     end
             end,
    meter(Host, <<"auth-fail">>, [{<<"login">>, User}, {<<"ip">>, c2s_ip(State)},
                                  {<<"exists">>, Exists}]),
    case State of
        #{floodgate_ip_blocked := IP} -> refuse_ip(Host, IP, State);
        _ -> State
    end;
c2s_auth_result(State, _Result, _User) ->
    State.

refuse_ip(Host, IP, State) ->
    mod_floodgate_srv:count(Host, refused_ip_block),
    ratelog(Host, ip_block, "floodgate: refusing connection from "
            "blocked IP ~ts", [IP]),
    Txt = <<"Connections from your address are refused by the "
            "server's anti-spam policy.">>,
    {stop, ejabberd_c2s:send(State, xmpp:serr_policy_violation(Txt, <<"en">>))}.

sm_register_connection_hook(SID, #jid{lserver = Host} = JID, Info) ->
    ets:insert(mod_floodgate_srv:table(Host),
               {{session, SID}, erlang:system_time(millisecond)}),
    meter(Host, <<"session-start">>,
          [{<<"from">>, jid:encode(jid:tolower(JID))},
           {<<"ip">>, info_ip(Info)},
           {<<"login">>, JID#jid.user}]),
    ok.

sm_remove_connection_hook({TS, _} = SID, #jid{lserver = Host} = JID, Info) ->
    Tab = mod_floodgate_srv:table(Host),
    Now = erlang:system_time(millisecond),
    Started = case catch ets:take(Tab, {session, SID}) of
                  [{_, T}] -> T;
                  _ -> misc:now_to_usec(TS) div 1000
              end,
    meter(Host, <<"session-end">>,
          [{<<"from">>, jid:encode(jid:tolower(JID))},
           {<<"ip">>, info_ip(Info)},
           {<<"duration">>, integer_to_binary(max(0, Now - Started))}]),
    ok.

%% The daemon pushes the full set when it connects; ask as well, in case
%% that push was lost.
component_connected(Component) ->
    lists:foreach(
      fun(Host) ->
              case gen_mod:is_loaded(Host, ?MODULE) andalso
                  opt(Host, component) == Component of
                  true -> mod_floodgate_srv:resync(Host, <<"component connected">>);
                  false -> ok
              end
      end, ejabberd_option:hosts()).

%%%===================================================================
%%% verdict pushes from the component
%%%===================================================================
decode_iq_subel(El) -> El.

process_iq(#iq{type = set, from = From, to = #jid{lserver = Host},
               sub_els = [El0]} = IQ) ->
    El = to_xmlel(El0),
    Comp = opt(Host, component),
    case From of
        #jid{luser = <<>>, lserver = Comp} when El#xmlel.name == <<"verdicts">> ->
            mod_floodgate_srv:push(Host, El),
            xmpp:make_iq_result(IQ);
        #jid{luser = <<>>, lserver = Comp} ->
            xmpp:make_error(IQ, xmpp:err_bad_request(<<"Expected <verdicts/>">>,
                                                     <<"en">>));
        _ ->
            mod_floodgate_srv:count(Host, refused_forged_verdicts),
            ratelog(Host, forged, "floodgate: refusing verdicts from ~ts "
                    "(only ~ts may push)", [jid:encode(From), Comp]),
            xmpp:make_error(IQ, xmpp:err_forbidden(
                                  <<"Only the floodgate component may push "
                                    "verdicts">>, <<"en">>))
    end;
process_iq(IQ) ->
    xmpp:make_error(IQ, xmpp:err_feature_not_implemented(
                          <<"Only verdict pushes (iq set) are served">>,
                          <<"en">>)).

%%%===================================================================
%%% gate and meter
%%%===================================================================
%% Ask the daemon; pass or {refuse, Condition, Text}.  Runs in the calling
%% c2s/s2s process, which waits at most `timeout'.
gate(Host, Kind, Attrs) ->
    Comp = opt(Host, component),
    case ejabberd_router:is_my_route(Comp) of
        false ->
            %% No route: the IQ would leave over s2s; do not even try.
            gate_failed(Host, Kind, down);
        true ->
            Timeout = opt(Host, timeout),
            El = #xmlel{name = <<"gate">>,
                        attrs = [{<<"xmlns">>, ?NS}, {<<"kind">>, Kind}
                                 | [{K, V} || {K, V} <- Attrs, V /= undefined]]},
            IQ = #iq{type = get, from = jid:make(Host), to = jid:make(Comp),
                     sub_els = [El]},
            ?DEBUG("floodgate: asking ~ts: ~ts",
                   [Comp, fxml:element_to_binary(El)]),
            Ref = make_ref(),
            ejabberd_router:route_iq(IQ, Ref, self(), Timeout),
            receive
                {iq_reply, Reply, Ref} -> gate_answer(Host, Kind, Reply)
            after Timeout + ?WAIT_SLACK ->
                    gate_failed(Host, Kind, timeout)
            end
    end.

gate_answer(Host, Kind, #iq{type = result, sub_els = [El0 | _]}) ->
    El = to_xmlel(El0),
    case {El#xmlel.name, fxml:get_tag_attr_s(<<"xmlns">>, El)} of
        {<<"allow">>, ?NS} ->
            mod_floodgate_srv:count(Host, {gate, Kind, allow}),
            pass;
        {<<"deny">>, ?NS} ->
            mod_floodgate_srv:count(Host, {gate, Kind, deny}),
            deny(Host, El);
        _ ->
            gate_failed(Host, Kind, error)
    end;
gate_answer(Host, Kind, timeout) ->
    gate_failed(Host, Kind, timeout);
gate_answer(Host, Kind, _) ->
    gate_failed(Host, Kind, error).

%% A <deny/>: silent with action='drop', else a stanza error.
deny(Host, El) ->
    case fxml:get_tag_attr_s(<<"action">>, El) of
        <<"drop">> ->
            mod_floodgate_srv:count(Host, dropped),
            drop;
        _ ->
            Cond = case fxml:get_tag_attr_s(<<"condition">>, El) of
                       <<>> -> <<"policy-violation">>;
                       C -> C
                   end,
            Text = case fxml:get_tag_attr_s(<<"text">>, El) of
                       <<>> -> <<"Refused by the server's anti-spam policy.">>;
                       T -> T
                   end,
            {refuse, Cond, Text}
    end.

gate_failed(Host, Kind, Why) ->
    FailClosed = opt(Host, fail_closed),
    mod_floodgate_srv:count(Host, {gate_failed, Why}),
    ratelog(Host, {gate_failed, Why},
            "floodgate: gate ~ts for ~ts: ~ts", [Why, Kind,
             case FailClosed of
                 true -> <<"refused (fail_closed)">>;
                 false -> <<"let through (fail open)">>
             end]),
    case FailClosed of
        true -> {refuse, <<"resource-constraint">>,
                 <<"The anti-spam service is unavailable, retry later.">>};
        false -> pass
    end.

meter(Host, Type, Attrs) ->
    mod_floodgate_srv:meter(Host, [{<<"type">>, Type} | Attrs]).

%% Warn at most once per ?LOG_INTERVAL per key, saying how many were
%% suppressed in between.
ratelog(Host, Key, Fmt, Args) ->
    Tab = mod_floodgate_srv:table(Host),
    Now = erlang:system_time(millisecond),
    case catch ets:lookup(Tab, {log, Key}) of
        [{_, Last, N}] when Now - Last < ?LOG_INTERVAL ->
            ets:insert(Tab, {{log, Key}, Last, N + 1});
        Found ->
            catch ets:insert(Tab, {{log, Key}, Now, 0}),
            case Found of
                [{_, _, N}] when N > 0 ->
                    ?WARNING_MSG(Fmt ++ " (~B similar suppressed)", Args ++ [N]);
                _ ->
                    ?WARNING_MSG(Fmt, Args)
            end
    end,
    ok.

%%%===================================================================
%%% helpers
%%%===================================================================
bare(#jid{} = J) -> jid:encode(jid:remove_resource(jid:tolower(J))).

%% An account as the caches key it (mod_floodgate_srv: verdicts, contacts,
%% meter counters): the #jid{}'s lowercased fields, nothing encoded.
key(#jid{luser = U, lserver = S}) -> {U, S}.

flag(true) -> <<"1">>;
flag(false) -> <<"0">>.

%% Body of a message worth gating or metering, or false.
countable(#message{type = T}) when T == groupchat; T == error -> false;
%% One body, the usual case: what xmpp:get_text/1 returns for it, without
%% its language matching (which builds a binary per message).
countable(#message{body = [#text{data = B}]}) when B /= <<>> -> B;
countable(#message{body = Body, sub_els = Els}) ->
    case xmpp:get_text(Body) of
        <<>> -> direct_invite_text(Els);
        B -> B
    end.

%% A direct invitation (XEP-0249) is a message even without a body: its
%% reason (maybe empty) stands for one.  false for other bodiless
%% messages (chat states, receipts: one look at each child's name).
direct_invite_text([#x_conference{reason = R} | _]) ->
    R;
direct_invite_text([#xmlel{name = <<"x">>, attrs = Attrs} | Rest]) ->
    case lists:keyfind(<<"xmlns">>, 1, Attrs) of
        {_, ?NS_XCONFERENCE} ->
            case lists:keyfind(<<"reason">>, 1, Attrs) of
                {_, R} -> R;
                false -> <<>>
            end;
        _ -> direct_invite_text(Rest)
    end;
direct_invite_text([_ | Rest]) ->
    direct_invite_text(Rest);
direct_invite_text([]) ->
    false.

%% User to user, not to oneself, not to a local service (MUC, the
%% component itself, ...), which has no roster to speak of.
is_user_to_user(#jid{luser = U, lserver = S}, #jid{luser = U, lserver = S}) ->
    false;
is_user_to_user(_From, #jid{luser = <<>>}) ->
    false;
%% The sender's own vhost: surely served here, and is_my_host/1 (a route
%% lookup, a config read) cost about 1 us per message.
is_user_to_user(#jid{lserver = S}, #jid{lserver = S}) ->
    true;
is_user_to_user(_From, #jid{lserver = S}) ->
    ejabberd_router:is_my_host(S) orelse not ejabberd_router:is_my_route(S).

%% Is a message or invitation from Sender to Recipient between contacts?
%% Only what the recipient agreed to or asked for counts (the Prosody
%% module's rule): a request from the sender alone, still pending, makes
%% no contact, so "invite, then message" stays a stranger message.
is_contact(Sender, Recipient) ->
    roster_says(Sender, Recipient, [in, both])
        orelse roster_says(Recipient, Sender, [out, both]).

%% For s2s traffic only the local recipient's roster is known.
recipient_says(Recipient, Sender) ->
    roster_says(Recipient, Sender, [out, both]).

%% Are From and To ({LUser, LServer} each) contacts?  From the contact
%% cache, else by Lookup() (roster reads), whose "yes" is cached.  A
%% message between contacts is counted (meter) on the way: per pair, or,
%% when its body names URL hosts, as an event of its own with their
%% fingerprints (hfp).  Precompiled patterns tell the two apart: every
%% URL has a ':', which most bodies lack (35 ns a body; looking for "://"
%% and "xmpp:" at once takes 90).
contact_message(Host, From, To, Lookup, Body) ->
    case binary:match(Body, url_pattern(colon)) == nomatch orelse
        binary:match(Body, url_pattern(url)) == nomatch of
        true -> contact_message(Host, From, To, Lookup);
        false ->
            Contact = mod_floodgate_srv:cached_contact(Host, From, To) orelse
                begin
                    mod_floodgate_srv:count(Host, contact_lookup),
                    Lookup() andalso
                        begin
                            mod_floodgate_srv:remember_contact(Host, From, To),
                            true
                        end
                end,
            Contact andalso
                case host_fingerprints(Body) of
                    undefined ->
                        mod_floodgate_srv:meter_message(Host, From, To);
                    HFP ->
                        meter(Host, <<"message">>,
                              [{<<"from">>, jid:encode(erlang:append_element(From, <<>>))},
                               {<<"to">>, jid:encode(erlang:append_element(To, <<>>))},
                               {<<"hfp">>, HFP}])
                end,
            Contact
    end.

contact_message(Host, From, To, Lookup) ->
    case mod_floodgate_srv:counted_contact(Host, From, To) of
        true -> true;
        false ->
            mod_floodgate_srv:count(Host, contact_lookup),
            case Lookup() of
                true ->
                    mod_floodgate_srv:remember_contact(Host, From, To),
                    mod_floodgate_srv:meter_message(Host, From, To),
                    true;
                false -> false
            end
    end.

%% Made once per VM: binary:compile_pattern/1 costs more than the match.
url_pattern(Which) ->
    case persistent_term:get({?MODULE, url_pattern, Which}, undefined) of
        undefined ->
            P = binary:compile_pattern(
                  case Which of
                      colon -> <<":">>;
                      url -> [<<"://">>, <<"xmpp:">>, <<"XMPP:">>, <<"Xmpp:">>]
                  end),
            persistent_term:put({?MODULE, url_pattern, Which}, P),
            P;
        P -> P
    end.

%% Does the roster of local user Owner hold Other with a subscription,
%% or with a pending request whose direction (ask: in = Other asked
%% Owner, out = Owner asked Other) is one of Asks?
roster_says(#jid{luser = U, lserver = S}, Other, Asks) when U /= <<>> ->
    case ejabberd_router:is_my_host(S) of
        true ->
            {Sub, Ask, _} = ejabberd_hooks:run_fold(
                              roster_get_jid_info, S, {none, none, []},
                              [U, S, jid:remove_resource(Other)]),
            Sub /= none orelse lists:member(Ask, Asks);
        false -> false
    end;
roster_says(_, _, _) ->
    false.

%% Fingerprints of a body (doc/PROTOCOL.md, "Fingerprints"): fp of the
%% normalised text (URLs, mentions and digit runs folded), ufp of up to 3
%% URLs, as {FP | undefined, UFP | undefined}.  Byte for byte the twin of
%% the Prosody module's; scanned by hand rather than with re, whose \s and
%% \v also match byte 0x85 (inside UTF-8 text such as "Å").
%% normalise/1 and url_normalise/1 are exported for test_fingerprint.py.
-define(FP_UFP_MAX, 3).
-define(FP_RESIDUE_MIN, 4).

fingerprints(Body) ->
    {FP, UFP, _HFP} = all_fingerprints(Body),
    {FP, UFP}.

%% {fp, ufp, hfp}, each a binary or undefined.
all_fingerprints(Body) when is_binary(Body) ->
    {Norm, Urls} = normalise(Body),
    Residue = lists:foldl(fun(P, B) -> binary:replace(B, P, <<>>, [global]) end,
                          Norm, [<<"<u>">>, <<"<m>">>, <<" ">>]),
    FP = if byte_size(Residue) >= ?FP_RESIDUE_MIN -> fp_hex(Norm);
            true -> undefined
         end,
    UFP = case fp_ufps(Urls, []) of
              [] -> undefined;
              L -> iolist_to_binary(lists:join(<<" ">>, L))
          end,
    {FP, UFP, hfp(Urls)};
all_fingerprints(_) ->
    {undefined, undefined, undefined}.

%% URL host fingerprints (hfp) of a body (doc/PROTOCOL.md, "Host
%% fingerprints"): for each URL found as for ufp, its host (url_host/1)
%% and each parent suffix that still holds a dot, at most ?HFP_PER_URL
%% per URL (the host and its shortest parents, so that a deep subdomain
%% cannot hide the registered domain) and ?HFP_MAX in all, without
%% duplicates, in order of appearance; the first 16 hex digits of the
%% SHA-256 of each, space-separated, or undefined.
-define(HFP_PER_URL, 4).
-define(HFP_MAX, 12).

host_fingerprints(Body) when is_binary(Body) ->
    {_Norm, Urls} = normalise(Body),
    hfp(Urls);
host_fingerprints(_) ->
    undefined.

hfp(Urls) ->
    Hosts = lists:foldl(
              fun(U, Acc) ->
                      case url_host(U) of
                          undefined -> Acc;
                          H -> hfp_add(hfp_names(host_suffixes(H)), Acc)
                      end
              end, [], Urls),
    case lists:reverse(Hosts) of
        [] -> undefined;
        L -> iolist_to_binary(lists:join(<<" ">>, [fp_hex(H) || H <- L]))
    end.

hfp_names(Names) when length(Names) > ?HFP_PER_URL ->
    [hd(Names) | lists:nthtail(length(Names) - ?HFP_PER_URL + 1, Names)];
hfp_names(Names) ->
    Names.

hfp_add([], Acc) -> Acc;
hfp_add(_, Acc) when length(Acc) >= ?HFP_MAX -> Acc;
hfp_add([H | Hs], Acc) ->
    case lists:member(H, Acc) of
        true -> hfp_add(Hs, Acc);
        false -> hfp_add(Hs, [H | Acc])
    end.

%% a.b.example.com -> [a.b.example.com, b.example.com, example.com]
host_suffixes(H) ->
    [H | [S || {P, 1} <- binary:matches(H, <<".">>),
               S <- [binary:part(H, P + 1, byte_size(H) - P - 1)],
               binary:match(S, <<".">>) /= nomatch]].

%% The host of a URL as written: trailing punctuation and scheme removed,
%% up to the first / ? #, lowercased; then the part after its last '@'
%% (an xmpp: address's domain, or the real host behind web user info),
%% without a leading www., a trailing :port or one trailing dot.
%% undefined when empty.
url_host(U0) ->
    U1 = fp_rstrip(U0, fun(C) -> lists:member(C, ".,;:!?'\")]}>") end),
    U = case fp_lower(U1) of
            <<"http://", _/binary>> -> fp_drop(U1, 7);
            <<"https://", _/binary>> -> fp_drop(U1, 8);
            <<"xmpp:", _/binary>> -> fp_drop(U1, 5);
            _ -> U1
        end,
    {Host0, _} = fp_span(U, fun(C) -> not lists:member(C, "/?#") end, 0),
    Host1 = case after_last(fp_lower(Host0), $@) of
                <<"www.", H/binary>> -> H;
                H -> H
            end,
    Host2 = strip_port(Host1),
    Host = case Host2 of
               <<>> -> <<>>;
               _ -> case binary:last(Host2) of
                        $. -> binary:part(Host2, 0, byte_size(Host2) - 1);
                        _ -> Host2
                    end
           end,
    case Host of
        <<>> -> undefined;
        _ -> Host
    end.

%% host:8443 -> host (only digits after the last ':')
strip_port(H) ->
    case binary:matches(H, <<":">>) of
        [] -> H;
        Ms ->
            {P, 1} = lists:last(Ms),
            Port = binary:part(H, P + 1, byte_size(H) - P - 1),
            case lists:all(fun(C) -> C >= $0 andalso C =< $9 end,
                           binary_to_list(Port)) of
                true -> binary:part(H, 0, P);
                false -> H
            end
    end.

after_last(B, C) ->
    case binary:matches(B, <<C>>) of
        [] -> B;
        Ms ->
            {P, 1} = lists:last(Ms),
            binary:part(B, P + 1, byte_size(B) - P - 1)
    end.

%% {Normalised text, [URL as written]}
normalise(Body) ->
    {Toks, Urls} = lists:unzip([fp_token(T) || T <- fp_tokens(Body, <<>>, [])]),
    {iolist_to_binary(lists:join(<<" ">>, Toks)), [U || U <- Urls, U /= none]}.

%% The normalised form of one URL as written, or undefined.
url_normalise(U0) ->
    U1 = fp_rstrip(U0, fun(C) -> lists:member(C, ".,;:!?'\")]}>") end),
    {S, U} = case fp_lower(U1) of
                 <<"http://", _/binary>> -> {<<>>, fp_drop(U1, 7)};
                 <<"https://", _/binary>> -> {<<>>, fp_drop(U1, 8)};
                 <<"xmpp:", _/binary>> -> {<<"xmpp:">>, fp_drop(U1, 5)};
                 _ -> {<<>>, U1}
             end,
    {Host0, Rest} = fp_span(U, fun(C) -> not lists:member(C, "/?#") end, 0),
    Host = case fp_lower(Host0) of
               <<"www.", H/binary>> -> H;
               H -> H
           end,
    Path0 = case Rest of
                <<"/", _/binary>> ->
                    element(1, fp_span(Rest, fun(C) -> C /= $? andalso C /= $# end, 0));
                _ -> <<>>
            end,
    Path = fp_digits(fp_rstrip(Path0, fun(C) -> C == $/ end), <<>>),
    case Host of
        <<>> -> undefined;
        _ -> <<S/binary, Host/binary, Path/binary>>
    end.

fp_ufps(_, Acc) when length(Acc) >= ?FP_UFP_MAX -> lists:reverse(Acc);
fp_ufps([], Acc) -> lists:reverse(Acc);
fp_ufps([U | Us], Acc) ->
    case url_normalise(U) of
        undefined -> fp_ufps(Us, Acc);
        N ->
            H = fp_hex(N),
            case lists:member(H, Acc) of
                true -> fp_ufps(Us, Acc);
                false -> fp_ufps(Us, [H | Acc])
            end
    end.

fp_hex(B) ->
    string:lowercase(binary:part(binary:encode_hex(crypto:hash(sha256, B)), 0, 16)).

%% Tokens: maximal runs of bytes other than space, \t, \n, \v, \f, \r.
fp_tokens(<<C, Rest/binary>>, Cur, Acc)
  when C == $\s; C == $\t; C == $\n; C == 11; C == 12; C == $\r ->
    fp_tokens(Rest, <<>>, fp_push(Cur, Acc));
fp_tokens(<<C, Rest/binary>>, Cur, Acc) ->
    fp_tokens(Rest, <<Cur/binary, C>>, Acc);
fp_tokens(<<>>, Cur, Acc) ->
    lists:reverse(fp_push(Cur, Acc)).

fp_push(<<>>, Acc) -> Acc;
fp_push(T, Acc) -> [T | Acc].

%% {Normalised token, URL as written | none}
fp_token(Tok) ->
    Low = fp_lower(Tok),
    {Low1, Url} = case fp_url_start(Low, 0) of
                      none -> {Low, none};
                      I -> {<<(binary:part(Low, 0, I))/binary, "<u>">>, fp_drop(Tok, I)}
                  end,
    {fp_digits(fp_mentions(Low1, <<>>), <<>>), Url}.

fp_lower(B) ->
    << <<(if C >= $A, C =< $Z -> C + 32; true -> C end)>> || <<C>> <= B >>.

fp_drop(B, N) -> binary:part(B, N, byte_size(B) - N).

%% First byte of a URL: a prefix not glued to a letter or digit before it.
fp_url_start(Low, I) when I >= byte_size(Low) -> none;
fp_url_start(Low, I) ->
    <<_:I/binary, Rest/binary>> = Low,
    case (I == 0 orelse not fp_alnum(binary:at(Low, I - 1)))
        andalso fp_prefix(Rest) of
        true -> I;
        false -> fp_url_start(Low, I + 1)
    end.

fp_prefix(<<"http://", _/binary>>) -> true;
fp_prefix(<<"https://", _/binary>>) -> true;
fp_prefix(<<"xmpp:", _/binary>>) -> true;
fp_prefix(<<"www.", _/binary>>) -> true;
fp_prefix(_) -> false.

fp_alnum(C) -> (C >= $a andalso C =< $z) orelse (C >= $0 andalso C =< $9).

fp_mchar(C) ->
    fp_alnum(C) orelse lists:member(C, "._%+-@") orelse C >= 16#80.

%% Runs of mention bytes holding "@" and something else become "<m>".
fp_mentions(<<>>, Acc) -> Acc;
fp_mentions(<<C, Rest/binary>> = B, Acc) ->
    case fp_mchar(C) of
        false -> fp_mentions(Rest, <<Acc/binary, C>>);
        true ->
            {Run, Rest1} = fp_span(B, fun fp_mchar/1, 0),
            AllAt = Run == binary:copy(<<"@">>, byte_size(Run)),
            Out = case binary:match(Run, <<"@">>) /= nomatch andalso not AllAt of
                      true -> <<"<m>">>;
                      false -> Run
                  end,
            fp_mentions(Rest1, <<Acc/binary, Out/binary>>)
    end.

%% Runs of digits become "0".
fp_digits(<<>>, Acc) -> Acc;
fp_digits(<<C, _/binary>> = B, Acc) when C >= $0, C =< $9 ->
    {_, Rest} = fp_span(B, fun(D) -> D >= $0 andalso D =< $9 end, 0),
    fp_digits(Rest, <<Acc/binary, "0">>);
fp_digits(<<C, Rest/binary>>, Acc) ->
    fp_digits(Rest, <<Acc/binary, C>>).

%% Split B after its longest prefix (from byte N on) whose bytes pass Pred.
fp_span(B, Pred, N) ->
    case B of
        <<_:N/binary, C, _/binary>> ->
            case Pred(C) of
                true -> fp_span(B, Pred, N + 1);
                false -> split_binary(B, N)
            end;
        _ -> split_binary(B, N)
    end.

fp_rstrip(<<>>, _) -> <<>>;
fp_rstrip(B, Pred) ->
    case Pred(binary:last(B)) of
        true -> fp_rstrip(binary:part(B, 0, byte_size(B) - 1), Pred);
        false -> B
    end.

c2s_ip(#{ip := {Addr, _}}) -> ip_bin(Addr);
c2s_ip(_) -> undefined.

s2s_ip(#{ip := {Addr, _}}) -> ip_bin(Addr);
s2s_ip(_) -> undefined.

info_ip(Info) ->
    case proplists:get_value(ip, Info) of
        {Addr, _} -> ip_bin(Addr);
        _ -> undefined
    end.

%% IPv4-mapped IPv6 (Debian's "::" listeners) as plain IPv4.
ip_bin({0, 0, 0, 0, 0, 16#ffff, AB, CD}) ->
    ip_bin({AB bsr 8, AB band 255, CD bsr 8, CD band 255});
ip_bin(Addr) when is_tuple(Addr) ->
    list_to_binary(inet:ntoa(Addr));
ip_bin(_) ->
    undefined.

split_login(Login, Host) ->
    case binary:split(Login, <<"@">>) of
        [U, S] -> {U, S};
        [U] -> {U, Host}
    end.

%% Account of a login as typed (with or without @host) as {LUser,
%% LServer}, or error.
login_key(Login, Host) ->
    {U, S} = split_login(Login, Host),
    case {jid:nodeprep(U), jid:nameprep(S)} of
        {error, _} -> error;
        {_, error} -> error;
        {<<>>, _} -> error;
        {LU, LS} -> {LU, LS}
    end.

to_xmlel(#xmlel{} = El) -> El;
to_xmlel(El) -> xmpp:encode(El).

-define(CONDITIONS,
        [<<"bad-request">>, <<"conflict">>, <<"forbidden">>,
         <<"not-acceptable">>, <<"not-allowed">>, <<"not-authorized">>,
         <<"policy-violation">>, <<"resource-constraint">>,
         <<"service-unavailable">>]).

stanza_error(Cond0, Text) ->
    Cond = case lists:member(Cond0, ?CONDITIONS) of
               true -> Cond0;
               false -> <<"policy-violation">>
           end,
    Type = case Cond of
               <<"resource-constraint">> -> wait;
               <<"not-authorized">> -> auth;
               <<"forbidden">> -> auth;
               <<"bad-request">> -> modify;
               <<"not-acceptable">> -> modify;
               _ -> cancel
           end,
    #stanza_error{type = Type, reason = binary_to_atom(Cond, utf8),
                  text = [#text{lang = <<"en">>, data = Text}]}.

verdict_text(Verdict, Host, Subject, Key) ->
    What = case Verdict of
               block -> <<"blocked">>;
               _ -> <<"quarantined">>
           end,
    Why = case catch ets:lookup(mod_floodgate_srv:table(Host), {v, Subject, Key}) of
              [{_, _, _, R, _}] when R /= <<>> -> <<": ", R/binary>>;
              _ -> <<>>
          end,
    %% A remote sender's own admin cannot lift our verdict: do not send
    %% its user there.
    Remote = case {Subject, Key} of
                 {domain, _} -> true;
                 {account, {_, S}} -> not ejabberd_router:is_my_host(S);
                 _ -> false
             end,
    case Remote of
        true ->
            <<"Refused by the recipient server's anti-spam policy (", What/binary,
              Why/binary, ").">>;
        false ->
            <<"Refused by the server's anti-spam policy (", What/binary, Why/binary,
              "). Contact the server admin.">>
    end.
