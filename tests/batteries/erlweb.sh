#!/bin/bash
# Battery of the `erlweb` image (tests/fixtures/server-images.sh: Debian's erlang-base + erlang-inets, OTP 25),
# for ../shared/corpus/battery.sh (BATTERY file argument). An image-scope profile must give "0 denied". Base's
# battery first, then Erlang/OTP the way programs and operators use it: a module compiled here with erlc that
# touches files (raw, delayed, compressed, sendfile), ports and external programs, processes and schedulers,
# gen_tcp/gen_udp/gen_sctp and the socket NIF, resolvers, inets httpd + httpc (CGI, ranges, logs), tftp, ssl
# (TLS 1.2/1.3, DTLS, https), crypto, ets/dets/disk_log/mnesia, zlib/tar/zip, logger, dbg trace ports and
# signals, run under different emulator flags (schedulers, dirty schedulers, async threads, poll threads,
# binding, allocators, JIT options); then the shell, escript, erlc, sasl releases, asn1, crash dumps, heart,
# run_erl/to_erl, epmd and distributed nodes (short and long names, TLS distribution) with erl_call.
# Written for this battery, not taken from any workload. Each command is bounded by timeout.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
W=/tmp/erlbat; mkdir -p $W; cd $W || exit 1
cat > $W/bat.erl <<'ERL'
-module(bat).
-export([init/1, main/1, files/0, procs/0, tcp/0, udp/0, sock/0, dns/0, web/0, tls/0, crypt/0, store/0, zips/0, misc/0, logs/0, trace/0, sigs/0]).
-include_lib("kernel/include/file.hrl").

main(Groups) ->
    [begin io:format("== ~s~n", [G]), ?MODULE:(list_to_atom(G))() end || G <- Groups],
    halt().

step(Name, F) ->
    try io:format("~s: ~0p~n", [Name, F()])
    catch C:E:St -> io:format("~s failed: ~0p:~0p ~0P~n", [Name, C, E, St, 8]) end.

dir() -> D = "/tmp/erlbat/files", ok = filelib:ensure_dir(D ++ "/x"), D.

files() ->
    D = dir(), F = filename:join(D, "a"),
    step("write/read", fun() ->
        ok = file:write_file(F, binary:copy(<<"x">>, 100000)), ok = file:write_file(F, <<"y">>, [append]),
        {ok, B} = file:read_file(F), byte_size(B) end),
    step("dirs", fun() ->
        ok = file:make_dir(D ++ "/sub"), ok = filelib:ensure_dir(D ++ "/p/q/r/"), ok = file:rename(D ++ "/sub", D ++ "/sub2"),
        {ok, L} = file:list_dir(D), {ok, L2} = file:list_dir_all(D), ok = file:del_dir(D ++ "/sub2"),
        file:del_dir_r(D ++ "/p"), {lists:sort(L), length(L2), filelib:is_dir(D), filelib:wildcard(D ++ "/*"), file:get_cwd()} end),
    step("info", fun() ->
        {ok, I} = file:read_file_info(F, [{time, posix}]),
        ok = file:write_file_info(F, I#file_info{mode = 8#600, mtime = 1000, atime = 2000}, [{time, posix}]),
        ok = file:change_mode(F, 8#644), file:change_owner(F, 65534, 65534), ok = file:change_time(F, {{2020,1,2},{3,4,5}}),
        ok = file:change_group(F, 0), {ok, I2} = file:read_link_info(F), {I#file_info.size, I2#file_info.mode} end),
    step("links", fun() ->
        file:delete(D ++ "/l"), file:delete(D ++ "/h"),
        ok = file:make_symlink(F, D ++ "/l"), ok = file:make_link(F, D ++ "/h"), {ok, T} = file:read_link(D ++ "/l"),
        {ok, T2} = file:read_link_all(D ++ "/l"), {ok, Ln} = file:read_link_info(D ++ "/l"),
        {T, T2, Ln#file_info.type, filelib:file_size(D ++ "/h")} end),
    step("copy/delete", fun() -> {ok, N} = file:copy(F, D ++ "/c"), ok = file:delete(D ++ "/c"), {N, file:delete(D ++ "/nope")} end),
    step("raw", fun() ->
        {ok, H} = file:open(D ++ "/raw", [raw, binary, read, write]),
        ok = file:write(H, binary:copy(<<"ab">>, 50000)), {ok, _} = file:position(H, 10), {ok, B} = file:read(H, 5),
        ok = file:pwrite(H, 100, <<"zz">>), {ok, P} = file:pread(H, 99, 4), ok = file:pwrite(H, [{0, <<"q">>}, {5000, <<"r">>}]),
        {ok, Ps} = file:pread(H, [{0, 2}, {4999, 3}]), ok = file:datasync(H), ok = file:sync(H),
        R1 = file:allocate(H, 0, 1 bsl 20), R2 = file:advise(H, 0, 0, sequential), R3 = file:advise(H, 0, 0, dont_need),
        {ok, 0} = file:position(H, bof), ok = file:truncate(H), file:close(H), {B, P, Ps, R1, R2, R3} end),
    step("modes", fun() ->
        {ok, H} = file:open(D ++ "/dw", [write, {delayed_write, 1024, 10}]), [file:write(H, "line\n") || _ <- lists:seq(1, 500)], ok = file:close(H),
        {ok, H2} = file:open(D ++ "/dw", [read, {read_ahead, 4096}]), {ok, L} = file:read_line(H2), file:close(H2),
        {ok, H3} = file:open(D ++ "/ex", [write, exclusive, sync]), file:write(H3, "x"), file:close(H3),
        {error, eexist} = file:open(D ++ "/ex", [write, exclusive]), file:delete(D ++ "/ex"),
        {ok, H4} = file:open(D ++ "/gz", [write, compressed]), io:format(H4, "~p.~n", [{a, 1}]), file:close(H4),
        {ok, H5} = file:open(D ++ "/gz", [read, compressed]), {ok, T} = io:read(H5, ''), file:close(H5),
        {ok, H6} = file:open(<<"ram data">>, [ram, read, binary]), {ok, RB} = file:read(H6, 3),
        {ok, H7} = file:open(D ++ "/u8", [write, {encoding, utf8}]), io:put_chars(H7, [955, 10]), file:close(H7),
        {L, T, RB, catch file:open(D, [read, directory])} end),
    step("consult/script", fun() ->
        ok = file:write_file(D ++ "/t.config", "{a, 1}.\n{b, [2]}.\n"), {ok, Ts} = file:consult(D ++ "/t.config"),
        ok = file:write_file(D ++ "/s.script", "X = 2, X * 21.\n"), {ok, V} = file:script(D ++ "/s.script"),
        {ok, V2, P} = file:path_script(["/nonexistent", D], "s.script"), {Ts, V, V2, P} end),
    step("sendfile", fun() ->
        {ok, L} = gen_tcp:listen(0, [binary, {active, false}, {ip, {127,0,0,1}}]), {ok, Port} = inet:port(L),
        Self = self(),
        spawn(fun() -> {ok, C} = gen_tcp:connect({127,0,0,1}, Port, [binary, {active, false}]), Self ! {got, recv_all(C, 0)} end),
        {ok, S} = gen_tcp:accept(L), {ok, N} = file:sendfile(F, S), {ok, Fd} = file:open(F, [raw, read, binary]),
        {ok, N2} = file:sendfile(Fd, S, 10, 1000, []), gen_tcp:close(S), R = receive {got, X} -> X after 3000 -> timeout end, {N, N2, R} end),
    step("prim_file", fun() ->
        {prim_file:get_cwd(), prim_file:read_file_info("/etc/passwd"), prim_file:list_dir("/"), element(1, prim_file:read_file("/etc/hostname")),
         prim_file:read_link("/proc/self/exe"), prim_file:altname("/tmp")} end),
    step("cwd/env", fun() ->
        ok = file:set_cwd(D), {ok, C} = file:get_cwd(), ok = file:set_cwd("/"), os:putenv("BATVAR", "1"), os:unsetenv("BATVAR"),
        {C, os:getenv("HOME"), os:type(), os:version(), os:find_executable("sh"), length(os:getenv())} end),
    step("filelib", fun() ->
        {filelib:fold_files("/etc", "\\.conf$", true, fun(_, A) -> A + 1 end, 0), filelib:last_modified("/etc/passwd"),
         filelib:is_regular("/etc/passwd"), filelib:safe_relative_path("a/../b", ".")} end),
    step("proc files", fun() -> [byte_size(element(2, file:read_file(P))) || P <- ["/proc/self/status", "/proc/cpuinfo", "/proc/meminfo", "/proc/self/maps"]] end),
    ok.

recv_all(S, N) -> case gen_tcp:recv(S, 0, 3000) of {ok, B} -> recv_all(S, N + byte_size(B)); _ -> N end.

procs() ->
    step("os:cmd", fun() -> {os:cmd("ls / | head -3"), os:cmd("echo $$ && exit 3"), os:cmd("cat /etc/hostname", #{max_size => 5})} end),
    step("spawn port", fun() ->
        P = open_port({spawn, "cat"}, [binary, stream, exit_status, use_stdio]), port_command(P, <<"hello">>),
        R = receive {P, {data, B}} -> B after 3000 -> timeout end, Info = erlang:port_info(P), port_close(P), {R, length(Info)} end),
    step("spawn_executable", fun() ->
        P = open_port({spawn_executable, "/bin/sh"}, [{args, ["-c", "echo $FOO; pwd; echo err >&2; exit 7"]}, {cd, "/tmp"},
             {env, [{"FOO", "bar"}]}, exit_status, stderr_to_stdout, {line, 100}, hide]),
        collect(P, []) end),
    step("spawn_executable arg0", fun() ->
        P = open_port({spawn_executable, os:find_executable("ls")}, [{args, ["/"]}, {arg0, "myls"}, exit_status, binary]), collect(P, []) end),
    step("nouse_stdio", fun() ->
        P = open_port({spawn, "sh -c 'echo x >&4' 4>&1"}, [nouse_stdio, exit_status]), collect(P, []) end),
    step("port kill", fun() ->
        P = open_port({spawn, "sleep 20"}, [exit_status]), {os_pid, Pid} = erlang:port_info(P, os_pid),
        os:cmd("kill -TERM " ++ integer_to_list(Pid)), R = collect(P, []), {Pid, R} end),
    step("many ports", fun() ->
        Ps = [open_port({spawn, "echo " ++ integer_to_list(I)}, [exit_status]) || I <- lists:seq(1, 20)], [collect(P, []) || P <- Ps] end),
    step("fd port", fun() -> P = open_port({fd, 0, 1}, [out]), port_command(P, "fd port\n"), port_close(P) end),
    step("spawn_driver", fun() -> catch open_port({spawn_driver, "no_such_driver"}, []) end),
    step("processes", fun() ->
        Self = self(), N = 20000,
        Ps = [spawn(fun() -> receive {go, From} -> From ! done end end) || _ <- lists:seq(1, N)],
        [P ! {go, Self} || P <- Ps], [receive done -> ok end || _ <- Ps],
        {Pid, Ref} = spawn_monitor(fun() -> exit(boom) end), receive {'DOWN', Ref, _, _, R} -> R end,
        process_flag(trap_exit, true), L = spawn_link(fun() -> exit(normal) end), receive {'EXIT', L, R2} -> R2 end,
        P3 = spawn_opt(fun() -> ok end, [{priority, high}, {min_heap_size, 10000}, {fullsweep_after, 0}, {message_queue_data, off_heap}]),
        {Pid, R2, P3, erlang:system_info(process_count)} end),
    step("schedulers", fun() ->
        S = erlang:system_info(schedulers), Old = erlang:system_flag(schedulers_online, 1), erlang:system_flag(schedulers_online, Old),
        erlang:system_flag(multi_scheduling, block), erlang:system_flag(multi_scheduling, unblock),
        DC = erlang:system_flag(dirty_cpu_schedulers_online, 1), erlang:system_flag(dirty_cpu_schedulers_online, DC),
        erlang:statistics(scheduler_wall_time), erlang:system_flag(scheduler_wall_time, true), timer:sleep(50),
        W = erlang:statistics(scheduler_wall_time), erlang:system_flag(scheduler_wall_time, false),
        {S, Old, length(W), erlang:system_info(scheduler_bindings), erlang:system_info(cpu_topology), erlang:system_info(logical_processors_available)} end),
    step("dirty work", fun() ->
        Big = binary:copy(<<"0123456789">>, 2000000), Ps = [spawn_monitor(fun() -> exit(crypto:hash(sha256, Big)) end) || _ <- lists:seq(1, 4)],
        Rs = [receive {'DOWN', R, _, _, H} -> byte_size(H) end || {_, R} <- Ps], erlang:garbage_collect(),
        {Rs, byte_size(term_to_binary(lists:seq(1, 100000), [compressed]))} end),
    step("peer", fun() ->
        {ok, Peer, Node} = peer:start_link(#{connection => standard_io, args => ["+S", "1"]}),
        R = peer:call(Peer, erlang, system_info, [schedulers]), peer:stop(Peer), {Node, R} end),
    ok.

collect(P, Acc) ->
    receive {P, {data, D}} -> collect(P, [D | Acc]); {P, {exit_status, S}} -> {lists:reverse(Acc), S}
    after 5000 -> catch port_close(P), {lists:reverse(Acc), timeout} end.

tcp() ->
    step("gen_tcp", fun() ->
        {ok, L} = gen_tcp:listen(0, [binary, {active, false}, {reuseaddr, true}, {backlog, 16}, {ip, loopback}]), {ok, Port} = inet:port(L),
        Self = self(), spawn(fun() -> {ok, S} = gen_tcp:accept(L), {ok, D} = gen_tcp:recv(S, 0), gen_tcp:send(S, D), Self ! {srv, inet:peername(S)}, gen_tcp:close(S) end),
        {ok, C} = gen_tcp:connect("localhost", Port, [binary, {active, true}, {nodelay, true}, {keepalive, true}, {sndbuf, 65536}, {recbuf, 65536}, {tos, 16}, {send_timeout, 1000}]),
        ok = gen_tcp:send(C, <<"ping">>), R = receive {tcp, C, B} -> B after 3000 -> timeout end,
        O = inet:getopts(C, [nodelay, keepalive, sndbuf, recbuf, priority, tos, linger]), St = inet:getstat(C, [recv_oct, send_oct]), inet:setopts(C, [{linger, {true, 0}}, {priority, 3}]),
        gen_tcp:shutdown(C, write), gen_tcp:close(C), {R, O, St, receive {srv, P} -> P after 3000 -> none end} end),
    step("gen_tcp packet", fun() ->
        {ok, L} = gen_tcp:listen(0, [binary, {packet, 4}, {active, once}]), {ok, Port} = inet:port(L),
        spawn(fun() -> {ok, S} = gen_tcp:accept(L), [gen_tcp:send(S, <<I:32>>) || I <- lists:seq(1, 100)], timer:sleep(500), gen_tcp:close(S) end),
        {ok, C} = gen_tcp:connect({127,0,0,1}, Port, [binary, {packet, 4}, {active, false}]),
        Ms = [gen_tcp:recv(C, 0, 2000) || _ <- lists:seq(1, 100)], gen_tcp:close(C), length(Ms) end),
    step("gen_tcp line/http", fun() ->
        {ok, L} = gen_tcp:listen(0, [list, {packet, http}, {active, false}]), {ok, Port} = inet:port(L),
        spawn(fun() -> {ok, C} = gen_tcp:connect({127,0,0,1}, Port, []), gen_tcp:send(C, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), timer:sleep(300) end),
        {ok, S} = gen_tcp:accept(L, 3000), R = gen_tcp:recv(S, 0, 2000), {R, erlang:decode_packet(line, <<"a\nb">>, [])} end),
    step("gen_tcp ipv6", fun() ->
        {ok, L} = gen_tcp:listen(0, [inet6, {ip, {0,0,0,0,0,0,0,1}}, {ipv6_v6only, true}]), {ok, Port} = inet:port(L),
        spawn(fun() -> gen_tcp:accept(L) end), R = gen_tcp:connect({0,0,0,0,0,0,0,1}, Port, [inet6]), {Port, R} end),
    step("gen_tcp unix", fun() ->
        P = "/tmp/erlbat/tcp.sock", file:delete(P), {ok, L} = gen_tcp:listen(0, [binary, {ifaddr, {local, P}}, {active, false}]),
        spawn(fun() -> {ok, S} = gen_tcp:accept(L), gen_tcp:send(S, "unix"), timer:sleep(200) end),
        {ok, C} = gen_tcp:connect({local, P}, 0, [binary, {active, false}]), gen_tcp:recv(C, 0, 2000) end),
    step("gen_tcp refused/timeout", fun() -> {gen_tcp:connect({127,0,0,1}, 1, [], 1000), gen_tcp:connect({10,255,255,1}, 80, [], 200)} end),
    step("gen_tcp socket backend", fun() ->
        {ok, L} = gen_tcp:listen(0, [{inet_backend, socket}, binary, {active, false}, {reuseaddr, true}]), {ok, Port} = inet:port(L),
        spawn(fun() -> {ok, S} = gen_tcp:accept(L), {ok, D} = gen_tcp:recv(S, 0), gen_tcp:send(S, D) end),
        {ok, C} = gen_tcp:connect({127,0,0,1}, Port, [{inet_backend, socket}, binary, {active, true}, {nodelay, true}]),
        gen_tcp:send(C, <<"sock">>), receive {tcp, C, B} -> B after 3000 -> timeout end end),
    step("many conns", fun() ->
        {ok, L} = gen_tcp:listen(0, [binary, {active, false}, {backlog, 128}]), {ok, Port} = inet:port(L),
        Self = self(), spawn(fun() -> As = [gen_tcp:accept(L, 2000) || _ <- lists:seq(1, 100)], Self ! {accepted, length(As)}, timer:sleep(1000) end),
        Cs = [gen_tcp:connect({127,0,0,1}, Port, [binary]) || _ <- lists:seq(1, 100)], {length([x || {ok, _} <- Cs]), receive {accepted, N} -> N after 3000 -> timeout end} end),
    step("sctp", fun() ->
        case gen_sctp:open(0, [{ip, {127,0,0,1}}]) of {ok, S} -> L = gen_sctp:listen(S, true), gen_sctp:close(S), L; E -> E end end),
    step("sctp socket", fun() -> socket:open(inet, seqpacket, sctp) end),
    ok.

udp() ->
    step("gen_udp", fun() ->
        {ok, A} = gen_udp:open(0, [binary, {active, false}, {ip, {127,0,0,1}}, {reuseaddr, true}, {recbuf, 65536}]), {ok, PA} = inet:port(A),
        {ok, B} = gen_udp:open(0, [binary, {active, true}, {broadcast, true}]),
        ok = gen_udp:send(B, {127,0,0,1}, PA, <<"dgram">>), R = gen_udp:recv(A, 0, 2000), {ok, {_, PB}} = inet:sockname(B),
        gen_udp:send(A, {127,0,0,1}, PB, <<"back">>), R2 = receive {udp, B, _, _, D} -> D after 2000 -> timeout end,
        gen_udp:connect(A, {127,0,0,1}, PB), gen_udp:send(A, <<"c">>),
        {R, R2, inet:setopts(B, [{multicast_ttl, 2}, {multicast_loop, true}, {add_membership, {{239,1,1,1}, {0,0,0,0}}}])} end),
    step("gen_udp ipv6", fun() -> {ok, S} = gen_udp:open(0, [inet6, {ip, {0,0,0,0,0,0,0,1}}]), gen_udp:send(S, {0,0,0,0,0,0,0,1}, 9, "x") end),
    step("gen_udp unix", fun() ->
        P = "/tmp/erlbat/udp.sock", file:delete(P), {ok, S} = gen_udp:open(0, [{ifaddr, {local, P}}, binary, {active, false}]),
        {ok, C} = gen_udp:open(0, [local]), ok = gen_udp:send(C, {local, P}, 0, <<"u">>), gen_udp:recv(S, 0, 2000) end),
    step("gen_udp socket backend", fun() ->
        {ok, A} = gen_udp:open(0, [{inet_backend, socket}, binary, {active, false}]), {ok, PA} = inet:port(A),
        {ok, B} = gen_udp:open(0, [{inet_backend, socket}, binary]), gen_udp:send(B, {127,0,0,1}, PA, <<"s">>), gen_udp:recv(A, 0, 2000) end),
    ok.

sock() ->
    step("socket tcp", fun() ->
        {ok, L} = socket:open(inet, stream, tcp), ok = socket:setopt(L, {socket, reuseaddr}, true),
        ok = socket:bind(L, #{family => inet, addr => loopback, port => 0}), ok = socket:listen(L, 10), {ok, #{port := Port}} = socket:sockname(L),
        Self = self(), spawn(fun() -> {ok, A} = socket:accept(L), {ok, D} = socket:recv(A, 0, 2000), ok = socket:send(A, D),
                                     {ok, M} = socket:recvmsg(A, 2000), Self ! {srv, M}, socket:shutdown(A, read_write), socket:close(A) end),
        {ok, C} = socket:open(inet, stream, tcp), ok = socket:connect(C, #{family => inet, addr => {127,0,0,1}, port => Port}),
        ok = socket:send(C, <<"hello">>), {ok, R} = socket:recv(C, 5, 2000), ok = socket:sendmsg(C, #{iov => [<<"a">>, <<"b">>]}),
        Opts = [socket:getopt(C, O) || O <- [{socket, rcvbuf}, {socket, sndbuf}, {tcp, nodelay}, {socket, keepalive}, {ip, tos}, {socket, type}]],
        socket:setopt(C, {tcp, nodelay}, true), socket:setopt(C, {socket, linger}, #{onoff => true, linger => 1}),
        Info = socket:info(C), socket:close(C), {R, Opts, maps:size(Info), receive {srv, M} -> M after 2000 -> none end} end),
    step("socket nowait", fun() ->
        {ok, L} = socket:open(inet, stream), ok = socket:bind(L, #{family => inet, addr => loopback, port => 0}), ok = socket:listen(L),
        {select, {select_info, _, Ref}} = socket:accept(L, nowait), {ok, #{port := Port}} = socket:sockname(L),
        {ok, C} = socket:open(inet, stream), socket:connect(C, #{family => inet, addr => loopback, port => Port}),
        receive {'$socket', L, select, Ref} -> {ok, A} = socket:accept(L, 0), socket:recv(A, 0, nowait) after 2000 -> timeout end end),
    step("socket udp", fun() ->
        {ok, A} = socket:open(inet, dgram, udp), ok = socket:bind(A, #{family => inet, addr => loopback, port => 0}), {ok, SA} = socket:sockname(A),
        {ok, B} = socket:open(inet, dgram, udp), ok = socket:sendto(B, <<"d">>, SA), R = socket:recvfrom(A, 0, 2000),
        ok = socket:sendmsg(B, #{addr => SA, iov => [<<"m">>]}), R2 = socket:recvmsg(A, 0, 0, [], 2000), {R, R2} end),
    step("socket ipv6", fun() ->
        {ok, S} = socket:open(inet6, stream, tcp), socket:setopt(S, {ipv6, v6only}, true),
        {socket:bind(S, #{family => inet6, addr => {0,0,0,0,0,0,0,1}, port => 0}), socket:close(S)} end),
    step("socket local", fun() ->
        P = "/tmp/erlbat/s.sock", file:delete(P), {ok, L} = socket:open(local, stream, default), ok = socket:bind(L, #{family => local, path => P}),
        ok = socket:listen(L), spawn(fun() -> {ok, A} = socket:accept(L), socket:send(A, <<"local">>) end),
        {ok, C} = socket:open(local, stream, default), ok = socket:connect(C, #{family => local, path => P}), R = socket:recv(C, 5, 2000),
        {ok, D} = socket:open(local, dgram, default), {R, socket:close(D)} end),
    step("socket sendfile", fun() ->
        {ok, L} = socket:open(inet, stream), ok = socket:bind(L, #{family => inet, addr => loopback, port => 0}), ok = socket:listen(L), {ok, SA} = socket:sockname(L),
        spawn(fun() -> {ok, A} = socket:accept(L), recv_sock(A) end), {ok, C} = socket:open(inet, stream), ok = socket:connect(C, SA),
        {ok, F} = file:open("/etc/passwd", [raw, read]), socket:sendfile(C, F) end),
    step("socket raw/misc", fun() ->
        {socket:open(inet, raw, icmp), socket:open(inet, dgram, icmp), socket:open(packet, raw, default), socket:supports(), socket:number_of(),
         socket:is_supported(sctp), catch socket:i()} end),
    ok.

recv_sock(A) -> case socket:recv(A, 0, 2000) of {ok, _} -> recv_sock(A); _ -> ok end.

dns() ->
    step("getaddrs", fun() -> {inet:getaddrs("localhost", inet), inet:getaddrs("localhost", inet6), inet:getaddr("127.0.0.1", inet)} end),
    step("gethostbyname", fun() -> {inet:gethostbyname("localhost"), inet:gethostbyaddr({127,0,0,1}), inet:gethostname(), inet:gethostbyname(element(2, inet:gethostname()))} end),
    step("native lookup", fun() -> inet_db:set_lookup([native]), {inet:gethostbyname("localhost"), inet:gethostbyname("no-such-host.invalid"), inet:gethostbyaddr("::1")} end),
    step("file lookup", fun() -> inet_db:set_lookup([file, dns]), {inet:gethostbyname("localhost"), inet_res:resolve("example.com", in, a, [{timeout, 300}]), inet_res:getbyname("x.invalid", a, 300)} end),
    step("ifaddrs", fun() -> {inet:getifaddrs(), inet:ntoa({127,0,0,1}), inet:parse_address("::1"), inet:i()} end),
    step("inet_res", fun() -> {inet_res:lookup("localhost", in, a, [{nameservers, [{{127,0,0,1}, 53}]}, {timeout, 300}]), inet_db:res_option(nameservers)} end),
    ok.

web() ->
    D = "/tmp/erlbat/www", filelib:ensure_dir(D ++ "/cgi-bin/x"), file:write_file(D ++ "/index.html", "<h1>erl</h1>"),
    file:write_file(D ++ "/big", binary:copy(<<"b">>, 1 bsl 20)),
    file:write_file(D ++ "/cgi-bin/hi.sh", "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho cgi $QUERY_STRING\n"), file:change_mode(D ++ "/cgi-bin/hi.sh", 8#755),
    step("inets start", fun() -> inets:start() end),
    {ok, H} = inets:start(httpd, [{port, 0}, {bind_address, {127,0,0,1}}, {server_name, "bat"}, {server_root, "/tmp/erlbat"}, {document_root, D},
        {directory_index, ["index.html"]}, {script_alias, {"/cgi-bin/", D ++ "/cgi-bin/"}}, {erl_script_alias, {"/esi", [bat]}},
        {transfer_log, "/tmp/erlbat/access.log"}, {error_log, "/tmp/erlbat/error.log"}, {max_clients, 50},
        {modules, [mod_alias, mod_range, mod_esi, mod_cgi, mod_get, mod_head, mod_dir, mod_log]}]),
    [{port, Port}] = httpd:info(H, [port]), U = "http://127.0.0.1:" ++ integer_to_list(Port),
    step("httpc get", fun() -> {ok, {S, _, B}} = httpc:request(U ++ "/"), {S, B} end),
    step("httpc head/big", fun() -> {ok, {_, _, B}} = httpc:request(get, {U ++ "/big", []}, [], [{body_format, binary}]), {element(1, httpc:request(head, {U ++ "/", []}, [], [])), byte_size(B)} end),
    step("httpc range", fun() -> httpc:request(get, {U ++ "/big", [{"range", "bytes=0-9"}]}, [], []) end),
    step("httpc cgi", fun() -> httpc:request(U ++ "/cgi-bin/hi.sh?q=1") end),
    step("httpc dir/404", fun() -> {httpc:request(U ++ "/cgi-bin/"), element(1, element(2, httpc:request(U ++ "/nope")))} end),
    step("httpc post", fun() -> httpc:request(post, {U ++ "/", [], "text/plain", "body"}, [{timeout, 3000}], []) end),
    step("httpc stream to file", fun() -> file:delete("/tmp/erlbat/dl"), httpc:request(get, {U ++ "/big", []}, [], [{stream, "/tmp/erlbat/dl"}]), filelib:file_size("/tmp/erlbat/dl") end),
    step("httpc async/keepalive", fun() ->
        httpc:set_options([{max_keep_alive_length, 10}, {pipeline_timeout, 1000}, {max_sessions, 4}]),
        Rs = [element(2, httpc:request(get, {U ++ "/", []}, [], [{sync, false}])) || _ <- lists:seq(1, 10)],
        [receive {http, {R, _}} -> ok after 3000 -> timeout end || R <- Rs] end),
    step("httpc ipv6 refused", fun() -> httpc:request(get, {"http://[::1]:1/", []}, [{timeout, 1000}], []) end),
    step("http_uri/httpd_util", fun() -> {uri_string:parse(U), httpd_util:rfc1123_date(), httpd:info(H)} end),
    step("ftp refused", fun() -> application:ensure_all_started(ftp), ftp:open({127,0,0,1}, [{port, 1}, {timeout, 1000}]) end),
    step("tftp roundtrip", fun() ->
        application:ensure_all_started(tftp), file:write_file("/tmp/erlbat/tftp.src", binary:copy(<<"t">>, 3000)),
        {ok, Pid} = tftp:start([{port, 0}]), {ok, Info} = tftp:info(Pid), P = proplists:get_value(port, Info),
        R1 = tftp:write_file("/tmp/erlbat/tftp.up", binary:copy(<<"u">>, 2000), [{port, P}, {host, "127.0.0.1"}]),
        R2 = tftp:read_file("/tmp/erlbat/tftp.src", binary, [{port, P}, {host, "127.0.0.1"}]), {P, R1, element(1, R2)} end),
    inets:stop(httpd, H),
    ok.

tls() ->
    step("ssl start", fun() -> application:ensure_all_started(ssl) end),
    #{server_config := SC, client_config := CC} = public_key:pkix_test_data(#{server_chain => #{root => [{key, {namedCurve, secp256r1}}], peer => [{key, {namedCurve, secp256r1}}]},
                                                                           client_chain => #{root => [{key, {rsa, 2048, 65537}}], peer => [{key, {rsa, 2048, 65537}}]}}),
    D = "/tmp/erlbat/tls", filelib:ensure_dir(D ++ "/x"),
    step("pem files", fun() ->
        Cert = proplists:get_value(cert, SC), {_, K} = proplists:get_value(key, SC),
        ok = file:write_file(D ++ "/cert.pem", public_key:pem_encode([{'Certificate', Cert, not_encrypted}])),
        ok = file:write_file(D ++ "/key.pem", public_key:pem_encode([{'ECPrivateKey', K, not_encrypted}])),
        {ok, Pem} = file:read_file(D ++ "/cert.pem"), length(public_key:pem_decode(Pem)) end),
    lists:foreach(fun(V) ->
        step("ssl " ++ atom_to_list(V), fun() ->
            {ok, L} = ssl:listen(0, [{versions, [V]}, {reuseaddr, true}, binary, {active, false} | SC]), {ok, {_, Port}} = ssl:sockname(L),
            spawn(fun() -> {ok, T} = ssl:transport_accept(L, 3000), {ok, S} = ssl:handshake(T, 3000), {ok, B} = ssl:recv(S, 0, 3000), ssl:send(S, B), timer:sleep(300), ssl:close(S) end),
            {ok, C} = ssl:connect({127,0,0,1}, Port, [{versions, [V]}, binary, {active, false}, {server_name_indication, disable} | CC], 5000),
            ok = ssl:send(C, <<"tls">>), R = ssl:recv(C, 0, 3000), I = ssl:connection_information(C, [protocol, selected_cipher_suite]),
            ssl:close(C), ssl:close(L), {R, I} end) end, ['tlsv1.3', 'tlsv1.2']),
    step("dtls", fun() ->
        {ok, L} = ssl:listen(0, [{protocol, dtls}, binary, {active, false} | SC]), {ok, {_, Port}} = ssl:sockname(L),
        spawn(fun() -> {ok, T} = ssl:transport_accept(L, 3000), {ok, S} = ssl:handshake(T, 3000), {ok, B} = ssl:recv(S, 0, 3000), ssl:send(S, B) end),
        {ok, C} = ssl:connect({127,0,0,1}, Port, [{protocol, dtls}, binary, {active, false}, {server_name_indication, disable} | CC], 5000),
        ssl:send(C, <<"dtls">>), ssl:recv(C, 0, 3000) end),
    step("https httpd/httpc", fun() ->
        inets:start(), {ok, H} = inets:start(httpd, [{port, 0}, {bind_address, {127,0,0,1}}, {server_name, "tls"}, {server_root, "/tmp/erlbat"},
            {document_root, "/tmp/erlbat"}, {socket_type, {ssl, SC}}]), [{port, P}] = httpd:info(H, [port]),
        R = httpc:request(get, {"https://127.0.0.1:" ++ integer_to_list(P) ++ "/", []}, [{ssl, [{server_name_indication, disable} | CC]}, {timeout, 5000}], []),
        {element(1, R), element(1, element(2, R))} end),
    step("cacerts", fun() -> {catch length(public_key:cacerts_get()), ssl:cipher_suites(default, 'tlsv1.3') =/= []} end),
    ok.

crypt() ->
    step("rand", fun() -> {byte_size(crypto:strong_rand_bytes(64)), rand:uniform(), crypto:rand_seed()} end),
    step("hashes", fun() -> [byte_size(crypto:hash(A, binary:copy(<<"x">>, 100000))) || A <- [md5, sha, sha256, sha512, sha3_256, blake2b]] end),
    step("hmac/cmac", fun() -> {crypto:mac(hmac, sha256, <<"k">>, <<"d">>), crypto:mac(cmac, aes_128_cbc, <<0:128>>, <<"d">>)} end),
    step("ciphers", fun() ->
        K = crypto:strong_rand_bytes(32), IV = crypto:strong_rand_bytes(12),
        {C, T} = crypto:crypto_one_time_aead(aes_256_gcm, K, IV, <<"plain">>, <<"aad">>, true),
        St = crypto:crypto_init(chacha20, K, crypto:strong_rand_bytes(16), true), crypto:crypto_update(St, <<"x">>),
        {crypto:crypto_one_time_aead(aes_256_gcm, K, IV, C, <<"aad">>, T, false), length(crypto:supports(ciphers))} end),
    step("pubkey", fun() ->
        {Pub, Priv} = crypto:generate_key(ecdh, secp256r1), S = crypto:sign(ecdsa, sha256, <<"m">>, [Priv, secp256r1]),
        {RP, RK} = crypto:generate_key(rsa, {2048, 65537}), RS = crypto:sign(rsa, sha256, <<"m">>, RK),
        {EP, EK} = crypto:generate_key(eddsa, ed25519),
        {crypto:verify(ecdsa, sha256, <<"m">>, S, [Pub, secp256r1]), crypto:verify(rsa, sha256, <<"m">>, RS, RP),
         crypto:verify(eddsa, none, <<"m">>, crypto:sign(eddsa, none, <<"m">>, [EK, ed25519]), [EP, ed25519]),
         byte_size(crypto:compute_key(ecdh, element(1, crypto:generate_key(ecdh, x25519)), element(2, crypto:generate_key(ecdh, x25519)), x25519))} end),
    step("pbkdf2", fun() -> crypto:pbkdf2_hmac(sha256, <<"p">>, <<"s">>, 10000, 32) end),
    step("engine", fun() ->
        {crypto:engine_list(), catch crypto:engine_load(<<"dynamic">>, [{<<"SO_PATH">>, list_to_binary(code:priv_dir(crypto) ++ "/lib/otp_test_engine.so")}, <<"LOAD">>], []),
         catch crypto:ensure_engine_loaded(<<"otp_test_engine">>, list_to_binary(code:priv_dir(crypto) ++ "/lib/otp_test_engine.so"))} end),
    step("info", fun() -> {crypto:info_lib(), crypto:info_fips(), crypto:enable_fips_mode(true), crypto:info()} end),
    ok.

store() ->
    D = "/tmp/erlbat/store", filelib:ensure_dir(D ++ "/x"),
    step("ets", fun() ->
        T = ets:new(t, [set, public, {write_concurrency, true}, {read_concurrency, true}]), ets:insert(T, [{I, I * 2} || I <- lists:seq(1, 50000)]),
        ok = ets:tab2file(T, D ++ "/t.ets", [{extended_info, [md5sum]}]), {ok, T2} = ets:file2tab(D ++ "/t.ets", [{verify, true}]),
        {ets:info(T2, size), ets:select_count(T, [{{'$1', '_'}, [{'<', '$1', 100}], [true]}])} end),
    step("dets", fun() ->
        {ok, T} = dets:open_file(bat, [{file, D ++ "/t.dets"}, {type, set}, {auto_save, 100}]), ok = dets:insert(T, [{I, <<I:32>>} || I <- lists:seq(1, 20000)]),
        ok = dets:sync(T), L = dets:lookup(T, 77), ok = dets:close(T), {ok, T3} = dets:open_file(bat, [{file, D ++ "/t.dets"}, {repair, force}]),
        S = dets:info(T3, size), dets:close(T3), {L, S} end),
    step("disk_log", fun() ->
        {ok, L} = disk_log:open([{name, wl}, {file, D ++ "/wrap"}, {type, wrap}, {size, {4096, 4}}]), [disk_log:log(L, {term, I}) || I <- lists:seq(1, 1000)],
        ok = disk_log:sync(L), {_, Ts} = disk_log:chunk(L, start), disk_log:close(L),
        {ok, H} = disk_log:open([{name, hl}, {file, D ++ "/halt.log"}, {format, external}]), disk_log:blog(H, <<"line\n">>), disk_log:truncate(H), disk_log:close(H), length(Ts) end),
    step("mnesia", fun() ->
        application:set_env(mnesia, dir, D ++ "/mnesia"), mnesia:create_schema([node()]), ok = mnesia:start(),
        mnesia:create_table(kv, [{disc_copies, [node()]}, {attributes, [k, v]}]), mnesia:create_table(kl, [{disc_only_copies, [node()]}, {attributes, [k, v]}]),
        ok = mnesia:wait_for_tables([kv, kl], 5000), {atomic, ok} = mnesia:transaction(fun() -> [mnesia:write({kv, I, I}) || I <- lists:seq(1, 1000)], mnesia:write({kl, 1, 2}), ok end),
        mnesia:dump_tables([kv]), mnesia:dump_log(), R = mnesia:dirty_read(kv, 10), mnesia:backup(D ++ "/mnesia.bak"), stopped = mnesia:stop(), R end),
    ok.

zips() ->
    D = "/tmp/erlbat/zip", filelib:ensure_dir(D ++ "/x"), file:write_file(D ++ "/a.txt", binary:copy(<<"zip me ">>, 10000)),
    step("zlib", fun() ->
        B = binary:copy(<<"abc">>, 100000), Z = zlib:open(), ok = zlib:deflateInit(Z, best_compression), C = zlib:deflate(Z, B, finish), zlib:deflateEnd(Z), zlib:close(Z),
        {byte_size(zlib:compress(B)), byte_size(zlib:gunzip(zlib:gzip(B))), byte_size(zlib:unzip(zlib:zip(B))), iolist_size(C)} end),
    step("erl_tar", fun() ->
        ok = erl_tar:create(D ++ "/t.tar.gz", [{"a.txt", D ++ "/a.txt"}, {"etc/hostname", "/etc/hostname"}], [compressed, verbose]),
        {ok, L} = erl_tar:table(D ++ "/t.tar.gz", [compressed]), ok = erl_tar:extract(D ++ "/t.tar.gz", [compressed, {cwd, D ++ "/out"}]), L end),
    step("zip", fun() ->
        {ok, Z} = zip:create(D ++ "/t.zip", ["a.txt"], [{cwd, D}]), {ok, L} = zip:list_dir(Z), {ok, E} = zip:extract(Z, [{cwd, D ++ "/zout"}]),
        {ok, M} = zip:create("mem.zip", [{"x", <<"data">>}], [memory]), {ok, H} = zip:zip_open(element(2, M), [memory]), zip:zip_close(H), {length(L), E} end),
    ok.

misc() ->
    step("system_info", fun() ->
        [{K, catch erlang:system_info(K)} || K <- [otp_release, version, system_architecture, schedulers, schedulers_online, dirty_cpu_schedulers, dirty_io_schedulers,
            thread_pool_size, kernel_poll, logical_processors, cpu_topology, emu_flavor, allocator, check_io, os_monotonic_time_source, os_system_time_source,
            time_warp_mode, wordsize, port_limit, process_limit, start_time]] end),
    step("memory/stats", fun() -> {erlang:memory(), erlang:statistics(runtime), erlang:statistics(wall_clock), erlang:statistics(io), erlang:statistics(microstate_accounting)} end),
    step("msacc", fun() -> msacc:start(100), msacc:stats() =/= [] end),
    step("allocators", fun() -> {erlang:system_info({allocator, binary_alloc}) =/= [], erlang:system_info(alloc_util_allocators)} end),
    step("time", fun() -> {erlang:monotonic_time(), erlang:system_time(), os:system_time(), os:perf_counter(), os:timestamp(), erlang:localtime(), calendar:local_time(),
                           erlang:universaltime_to_localtime({{2020,6,1},{0,0,0}}), erlang:time_offset(), erlang:timestamp()} end),
    step("timers", fun() ->
        R = erlang:send_after(10, self(), t1), erlang:start_timer(20, self(), t2), {ok, T} = timer:send_interval(5, tick),
        timer:sleep(50), timer:cancel(T), erlang:cancel_timer(R), Ms = flush([]),
        {ok, T3} = timer:apply_after(10, erlang, send, [self(), applied]), receive applied -> ok after 1000 -> timeout end, {length(Ms), T3, timer:tc(timer, sleep, [5])} end),
    step("os", fun() -> {os:getpid(), os:type(), os:cmd("id -u"), erlang:system_info(os_monotonic_time_source)} end),
    step("gen_server/supervisor", fun() ->
        {ok, P} = gen_event:start(), gen_event:stop(P), {ok, S} = supervisor:start_link(?MODULE, []), Ch = supervisor:which_children(S), unlink(S), exit(S, shutdown), {Ch, application:which_applications()} end),
    step("re/unicode/io", fun() -> {re:run("abc123", "[0-9]+", [{capture, all, list}]), unicode:characters_to_binary("λ"), io_lib:format("~p", [self()]), io:get_line(''), io:columns()} end),
    step("code", fun() -> {code:which(lists), code:priv_dir(crypto), code:lib_dir(), code:all_loaded() =/= [], code:ensure_loaded(beam_lib), code:root_dir(),
                          beam_lib:chunks(code:which(lists), [attributes]) =/= error, erl_ddll:loaded_drivers()} end),
    step("system_information", fun() -> file:delete("/tmp/erlbat/sysinfo"), system_information:to_file("/tmp/erlbat/sysinfo"), filelib:file_size("/tmp/erlbat/sysinfo") end),
    step("observer_backend", fun() -> length(observer_backend:sys_info()) end),
    step("scheduler util", fun() -> scheduler:utilization(1) end),
    step("compile in memory", fun() ->
        {ok, M, B} = compile:forms([{attribute, 1, module, dyn}, {attribute, 2, export, [{f, 0}]}, {function, 3, f, 0, [{clause, 3, [], [], [{integer, 3, 42}]}]}], [binary]),
        {module, dyn} = code:load_binary(M, "dyn.erl", B), dyn:f() end),
    step("persistent/atomics", fun() -> persistent_term:put(k, v), A = atomics:new(4, []), atomics:add(A, 1, 5), C = counters:new(1, [write_concurrency]), counters:add(C, 1, 1), {persistent_term:get(k), atomics:get(A, 1)} end),
    step("halt crash dump env", fun() -> os:getenv("ERL_CRASH_DUMP") end),
    ok.

init([]) -> {ok, {#{strategy => one_for_one}, [#{id => w, start => {gen_event, start_link, []}}]}}.

flush(Acc) -> receive M -> flush([M | Acc]) after 0 -> Acc end.

logs() ->
    logger:set_handler_config(default, level, none),
    step("logger file", fun() ->
        ok = logger:add_handler(fh, logger_std_h, #{config => #{file => "/tmp/erlbat/log/bat.log", max_no_bytes => 2000, max_no_files => 3, filesync_repeat_interval => 50}}),
        [logger:error("battery log line ~p ~s", [I, lists:duplicate(50, $x)]) || I <- lists:seq(1, 200)], timer:sleep(200), logger_std_h:filesync(fh), logger:remove_handler(fh),
        file:list_dir("/tmp/erlbat/log") end),
    step("logger disk_log", fun() ->
        ok = logger:add_handler(dh, logger_disk_log_h, #{config => #{file => "/tmp/erlbat/log/disk.log", type => wrap, max_no_files => 2, max_no_bytes => 4000}}),
        [logger:warning("dlog ~p", [I]) || I <- lists:seq(1, 100)], timer:sleep(100), logger:remove_handler(dh), ok end),
    step("error_logger tty/file", fun() -> error_logger:logfile({open, "/tmp/erlbat/log/el.log"}), error_logger:error_msg("x~n"), error_logger:logfile(close) end),
    ok.

trace() ->
    step("dbg file", fun() ->
        {ok, _} = dbg:tracer(port, dbg:trace_port(file, "/tmp/erlbat/trace.bin")), dbg:p(all, [call]), dbg:tpl(lists, seq, []), lists:seq(1, 3),
        dbg:flush_trace_port(), dbg:stop(), filelib:file_size("/tmp/erlbat/trace.bin") end),
    step("dbg wrap file", fun() ->
        {ok, _} = dbg:tracer(port, dbg:trace_port(file, {"/tmp/erlbat/wtrace", wrap, ".bin", 1000, 3})), dbg:p(all, [procs]), [spawn(fun() -> ok end) || _ <- lists:seq(1, 100)],
        dbg:stop(), file:list_dir("/tmp/erlbat") end),
    step("dbg ip", fun() ->
        {ok, _} = dbg:tracer(port, dbg:trace_port(ip, 0)), P = dbg:trace_port_control(node(), get_listen_port), dbg:p(self(), [send]),
        {ok, Port} = P, {ok, S} = gen_tcp:connect({127,0,0,1}, Port, [binary, {active, false}]), self() ! x, R = gen_tcp:recv(S, 0, 1000), dbg:stop(), {Port, element(1, R)} end),
    step("dbg process", fun() -> dbg:tracer(), dbg:p(self(), [m]), self() ! y, dbg:stop() end),
    step("dyntrace", fun() -> {catch dyntrace:available(), catch dyntrace:p(1)} end),
    step("erlang:trace", fun() -> erlang:trace(self(), true, [call]), erlang:trace_pattern({lists, reverse, 1}, true, [local]), lists:reverse([1]), erlang:trace(self(), false, [call]) end),
    step("seq_trace/system_monitor", fun() -> {erlang:system_monitor(self(), [{long_gc, 100}, busy_port]), erlang:system_profile(self(), [runnable_procs]), erlang:system_profile(undefined, [])} end),
    ok.

sigs() ->
    step("set_signal", fun() -> [os:set_signal(S, handle) || S <- [sighup, sigusr1, sigusr2, sigterm, sigchld, sigquit, sigalrm, sigtstp]] end),
    step("signals", fun() ->
        Pid = os:getpid(), [os:cmd("kill -" ++ S ++ " " ++ Pid) || S <- ["HUP", "USR2", "ALRM", "TSTP", "CHLD"]], timer:sleep(300), flush([]) end),
    step("set default", fun() -> [os:set_signal(S, default) || S <- [sighup, sigusr2, sigalrm]], os:set_signal(sigusr2, ignore) end),
    step("sigterm", fun() -> os:cmd("kill -TERM " ++ os:getpid()), timer:sleep(3000) end),
    ok.
ERL
e() { c erl -noshell -pa $W "$@"; }            # erl with the battery module on the path
ev() { c erl -noshell -eval "$1"; }            # an Erlang expression sequence (ends with halt().)
HOSTNAME_S=$(hostname -s 2>/dev/null || hostname)

# --- compile the module, then run its groups under different emulator flags
c erlc -o $W $W/bat.erl
c erlc -o /tmp -W0 +debug_info +warn_unused_vars $W/bat.erl
c erlc -S -o /tmp $W/bat.erl
c erlc +to_core -o /tmp $W/bat.erl
c erlc -E -P -o /tmp $W/bat.erl
e -run bat main files
e +A 16 +SDio 4 -run bat main files
e +S 4:4 +SDcpu 2:2 +SDio 8 +A 8 +K true -run bat main procs
e +S 1:1 +SDcpu 1 +SDio 1 -run bat main procs
e +IOt 2 +IOp 2 -run bat main tcp
e -kernel inet_backend socket -run bat main tcp
e +IOt 1 +IOs false -run bat main udp
e -kernel inet_backend socket -run bat main udp
e -run bat main sock
e +S 4 -run bat main sock
e -run bat main dns
e -run bat main web
e -kernel inet_backend socket -run bat main web
e -run bat main tls
e +SDcpu 4 +S 4 -run bat main crypt
e -run bat main store
e +A 0 -run bat main store
e -run bat main zips
e +sbt db +sbwt very_long +swt very_low +sub true -run bat main misc
e +sbt tnnps +stbt s +sbwtdcpu none +sbwtdio none -run bat main misc
e -run bat main logs
e -run bat main trace
e -run bat main sigs
e -run bat main files procs tcp udp sock store zips

# --- emulator options: JIT, allocators, limits, time
ev 'io:format("~p~n", [{erlang:system_info(emu_flavor), erlang:system_info(schedulers)}]), halt().'
c erl +JPperf true -noshell -eval 'lists:seq(1, 10), io:format("~p~n", [filelib:wildcard("/tmp/perf-*.map")]), halt().'
c erl +JPperf dump -noshell -eval 'io:format("~p~n", [filelib:wildcard("/tmp/jit-*.dump") ++ filelib:wildcard("jit-*.dump")]), halt().'
c erl +JPperf map -noshell -eval 'halt().'
c erl +JPperf false -noshell -eval 'io:format("~p~n", [compile:forms([{attribute,1,module,m1}], [])]), halt().'
s 'mkdir -p /tmp/erlbat/asm && cd /tmp/erlbat/asm && erl +JDdump true -noshell -pa /tmp/erlbat -eval "code:load_file(bat), io:format(\"~p~n\", [length(filelib:wildcard(\"*.asm\"))]), halt()."'
c erl +MMscs 64 +MMsco true -noshell -eval 'B = binary:copy(<<1>>, 10000000), io:format("~p~n", [{byte_size(B), erlang:system_info({allocator, mseg_alloc}) =/= false}]), halt().'
c erl +Mea min -noshell -eval 'io:format("~p~n", [erlang:system_info(allocator)]), halt().'
c erl +Mea max +MBas aobf +MHas aoffcbf +Mlpm all -noshell -eval 'L = [binary:copy(<<1>>, 100000) || _ <- lists:seq(1, 200)], io:format("~p~n", [length(L)]), halt().'
c erl +MMmcs 10 +MBlmbcs 1024 +MBsmbcs 256 -noshell -eval 'halt().'
c erl +Musac false +MIscs 128 -noshell -eval 'halt().'
c erl +hms 10000 +hmbs 50000 +hmax 100000000 +hmaxk true -noshell -eval 'halt().'
c erl +P 1048576 +Q 65536 +t 2000000 +e 5000 +zdbbl 8192 +zdntgc 100 -noshell -eval 'io:format("~p~n", [{erlang:system_info(process_limit), erlang:system_info(port_limit)}]), halt().'
c erl +C multi_time_warp +c true -noshell -eval 'io:format("~p~n", [{erlang:system_info(time_warp_mode), erlang:system_info(time_correction)}]), halt().'
c erl +C no_time_warp +c false -noshell -eval 'io:format("~p~n", [erlang:system_info(os_system_time_source)]), halt().'
c erl +pc unicode +fnu +Bi +spp true +zosrl 1 +rg 2 -noshell -eval 'halt().'
c erl +Bd +sbt nnts +sct L0-1c0-1 -noshell -eval 'io:format("~p~n", [erlang:system_info(scheduler_bindings)]), halt().'
c erl +sws default +swct very_eager +sfwi 100 +scl false +secio true -noshell -eval 'timer:sleep(100), halt().'
c erl +SP 50:50 +SDPcpu 50 -noshell -eval 'io:format("~p~n", [erlang:system_info(schedulers_online)]), halt().'
c erl +a 128 +sss 64 +sssdcpu 64 +sssdio 64 -noshell -eval 'halt().'
c erl +L +IOPt 100 +IOPp 100 -noshell -eval 'halt().'
c erl -emu_flavor emu -noshell -eval 'halt().'
c erl -emu_type debug -noshell -eval 'halt().'
c erl -version
c erl +V
c erl -noshell -s erlang halt
c erl -noshell -noinput -run init stop
c erl -noshell -boot start_clean -eval 'halt().'
c erl -noshell -boot start_sasl -eval 'io:format("~p~n", [application:which_applications()]), halt().'
c erl -noshell -mode embedded -eval 'halt().'
c erl -noshell -mode interactive -eval 'halt().' -extra a b c
c erl -noshell -env ERL_MAX_PORTS 4096 -eval 'io:format("~p~n", [erlang:system_info(port_limit)]), halt().'
c env ERL_FLAGS='+S 2' ERL_AFLAGS='-kernel logger_level warning' ERL_ZFLAGS='-eval halt().' erl -noshell
c env ERL_LIBS=$W erl -noshell -eval 'halt().'
s 'printf "%s\n" "-noshell" "+S 1" > /tmp/erlbat/args; erl -args_file /tmp/erlbat/args -eval "halt()."'
s 'echo "[{kernel, [{logger_level, info}]}, {sasl, [{sasl_error_logger, tty}]}]." > /tmp/erlbat/sys.config; erl -config /tmp/erlbat/sys -noshell -eval "io:format(\"~p~n\", [application:get_env(kernel, logger_level)]), halt()."'
c erl -noshell -pz $W -pa /tmp -eval 'io:format("~p~n", [code:get_path()]), halt().'
c erl -noshell -eval 'erlang:halt(7, [{flush, false}]).'

# --- shells with input from a pipe
s 'printf "1+1.\nio:format(\"~p~n\", [os:getpid()]).\nlists:seq(1,5).\nhalt().\n" | erl'
s 'printf "X = 3.\nX * 2.\nh().\nb().\nhalt().\n" | erl -oldshell'
s 'printf "io:format(\"~p~n\", [node()]).\nhalt().\n" | erl -sname shell_$$'
s 'printf "c(\"/tmp/erlbat/bat\", [{outdir, \"/tmp\"}]).\nm(lists).\nhalt().\n" | erl -pa /tmp/erlbat'
s 'echo "halt()." | erl -noinput -s init stop'

# --- erlc, escript, make, compile
s 'mkdir -p /tmp/erlbat/cc && cd /tmp/erlbat/cc && cp ../bat.erl . && erl -compile bat -noshell && ls'
s 'cd /tmp/erlbat && printf "%s\n" "#!/usr/bin/env escript" "%%! +S 2 -smp enable" "main(Args) -> io:format(\"escript ~p ~p~n\", [Args, erlang:system_info(schedulers)]), {ok, L} = file:list_dir(\"/etc\"), io:format(\"~p~n\", [length(L)]), halt(3)." > hello.escript && chmod +x hello.escript && ./hello.escript a b; escript hello.escript c'
s 'cd /tmp/erlbat && printf "%s\n" "#!/usr/bin/env escript" "-mode(compile)." "main(_) -> io:format(\"~p~n\", [os:cmd(\"echo compiled mode\")])." > comp.escript && escript comp.escript && escript -s comp.escript; escript -c comp.escript; escript -i comp.escript'
c erl -noshell -pa $W -eval 'ok = escript:create("/tmp/erlbat/bat.escript", [shebang, {emu_args, "+S 1"}, {archive, [{"bat.beam", element(2, file:read_file("/tmp/erlbat/bat.beam"))}], []}]), file:change_mode("/tmp/erlbat/bat.escript", 8#755), io:format("~P~n", [escript:extract("/tmp/erlbat/bat.escript", []), 10]), halt().'
s 'cd /tmp/erlbat && printf "%s\n" "-module(arch)." "-export([main/1])." "main(_) -> io:format(\"archive main~n\")." > arch.erl && erlc arch.erl && erl -noshell -eval "escript:create(\"arch2.escript\", [shebang, {emu_args, \"-escript main arch\"}, {archive, [{\"arch.beam\", element(2, file:read_file(\"arch.beam\"))}], []}]), halt()." && escript arch2.escript'
c erl -noshell -eval 'escript:create("/tmp/erlbat/src.escript", [shebang, {source, <<"main(_) -> io:format(\"src~n\").">>}]), halt().'
c escript /tmp/erlbat/src.escript
c /tmp/erlbat/bat.escript zips
s 'cd /tmp/erlbat && cat > Bat.asn1 <<EOF
Bat DEFINITIONS AUTOMATIC TAGS ::= BEGIN
  Msg ::= SEQUENCE { id INTEGER, name OCTET STRING, tags SEQUENCE OF UTF8String }
END
EOF
erlc -bber Bat.asn1 && erlc -o /tmp -bper Bat.asn1 && erl -noshell -eval "{ok, B} = '"'"'Bat'"'"':encode('"'"'Msg'"'"', {'"'"'Msg'"'"', 1, <<\"n\">>, [\"t\"]}), io:format(\"~p~n\", ['"'"'Bat'"'"':decode('"'"'Msg'"'"', B)]), halt()."'
c erl -noshell -eval 'io:format("~p~n", [asn1rt_nif:decode_ber_tlv(<<48,3,2,1,5>>)]), halt().'

# --- sasl: a release boot script and tarball, then boot from it
s 'cd /tmp/erlbat && mkdir -p rel && cd rel && printf "{release, {\"batrel\", \"1\"}, {erts, \"%s\"}, [{kernel, \"%s\"}, {stdlib, \"%s\"}, {sasl, \"%s\"}]}.\n" $(erl -noshell -eval "[io:format(\"~s \", [V]) || V <- [erlang:system_info(version)] ++ [element(3, lists:keyfind(A, 1, application:loaded_applications())) || A <- [kernel, stdlib]]], application:load(sasl), {_, _, V} = lists:keyfind(sasl, 1, application:loaded_applications()), io:format(\"~s\", [V]), halt().") > batrel.rel && cat batrel.rel && erl -noshell -eval "io:format(\"~p~n\", [{systools:make_script(\"batrel\", [local, silent]), systools:make_tar(\"batrel\", [silent])}]), halt()." && ls && erl -boot /tmp/erlbat/rel/batrel -noshell -eval "io:format(\"~p~n\", [application:which_applications()]), halt()."'
c erl -noshell -boot start_sasl -eval 'io:format("~p~n", [catch release_handler:which_releases()]), alarm_handler:set_alarm({bat, x}), io:format("~p~n", [alarm_handler:get_alarms()]), halt().'

# --- crash dumps, abort, heart
c env ERL_CRASH_DUMP=/tmp/erlbat/halt.dump erl -noshell -eval 'erlang:halt("battery crash dump").'
c env ERL_CRASH_DUMP=/tmp/erlbat/usr1.dump erl -noshell -eval 'os:cmd("kill -USR1 " ++ os:getpid()), timer:sleep(5000).'
c env ERL_CRASH_DUMP=/tmp/erlbat/bytes.dump ERL_CRASH_DUMP_BYTES=1000 ERL_CRASH_DUMP_SECONDS=5 erl -noshell -eval 'erlang:halt("small dump").'
c env ERL_CRASH_DUMP=/tmp/erlbat/exit.dump erl -noshell -eval 'exit(boom).'
c erl -noshell -eval 'erlang:halt(abort).'
s 'ls -la /tmp/erlbat/*.dump; head -c 300 /tmp/erlbat/halt.dump'
c env HEART_BEAT_TIMEOUT=10 erl -heart -noshell -eval 'heart:set_cmd("echo heart-cmd"), io:format("~p~n", [heart:get_cmd()]), timer:sleep(500), heart:clear_cmd(), init:stop().'
c env HEART_COMMAND='echo restarted' HEART_BEAT_TIMEOUT=10 HEART_KILL_SIGNAL=SIGKILL erl -heart -noshell -eval 'timer:sleep(200), halt().'

# --- run_erl / to_erl
s 'mkdir -p /tmp/erlbat/pipe /tmp/erlbat/rlog && run_erl -daemon /tmp/erlbat/pipe/ /tmp/erlbat/rlog/ "exec erl -sname runerl_$$" && sleep 2 && (echo "io:format(\"to_erl ~p~n\", [node()])."; sleep 1; echo "halt().") | to_erl /tmp/erlbat/pipe/; sleep 1; cat /tmp/erlbat/rlog/erlang.log.*'
s 'RUN_ERL_LOG_MAXSIZE=2000 RUN_ERL_LOG_GENERATIONS=2 RUN_ERL_LOG_ACTIVITY_MINUTES=1 run_erl /tmp/erlbat/pipe/ /tmp/erlbat/rlog/ "exec erl -noshell -eval \"[io:format(\\\"~p~n\\\", [I]) || I <- lists:seq(1, 500)], halt().\"" & sleep 3; ls -la /tmp/erlbat/rlog; wait'
c to_erl /tmp/erlbat/nopipe/

# --- epmd and distribution
c epmd -daemon
c epmd -names
c erl -sname node1 -setcookie batcookie -detached -noshell -eval 'timer:sleep(20000), halt().'
s 'for i in $(seq 30); do epmd -names | grep -q node1 && break; sleep 0.2; done; epmd -names'
c erl -sname node2 -setcookie batcookie -noshell -eval '[_, H] = string:split(atom_to_list(node()), "@"), N = list_to_atom("node1@" ++ H), P = net_adm:ping(N), io:format("~p~n", [{P, nodes(), rpc:call(N, os, getpid, []), rpc:call(N, erlang, system_info, [schedulers]), erpc:call(N, fun() -> node() end), net_kernel:get_state()}]), Pid = spawn(N, fun() -> receive {From, X} -> From ! {back, X} end end), Pid ! {self(), hi}, receive M -> io:format("~p~n", [M]) after 2000 -> timeout end, global:register_name(bat_g, self()), global:sync(), io:format("~p~n", [{global:whereis_name(bat_g), net_adm:names(), net_adm:localhost()}]), erlang:monitor_node(N, true), halt().'
c erl_call -sname node1 -c batcookie -a 'erlang node []'
c erl_call -sname node1 -c batcookie -a 'os getpid []' -v
s 'echo "X = 21, X * 2." | erl_call -sname node1 -c batcookie -e'
s 'cd /tmp/erlbat && erl_call -sname node1 -c batcookie -m < arch.erl'
c erl_call -s -sname node3 -c batcookie -a 'erlang node []'
c erl_call -sname node3 -c batcookie -q
c erl_call -sname node1 -c batcookie -q
c erl -name long1@127.0.0.1 -setcookie batcookie -detached -noshell -eval 'timer:sleep(15000), halt().'
s 'sleep 2; erl -name long2@127.0.0.1 -setcookie batcookie -noshell -eval "io:format(\"~p~n\", [{net_adm:ping('"'"'long1@127.0.0.1'"'"'), rpc:call('"'"'long1@127.0.0.1'"'"', init, stop, [])}]), halt()."'
c erl -sname node6 -proto_dist inet6_tcp -setcookie batcookie -noshell -eval 'io:format("~p~n", [{node(), net_kernel:get_state()}]), halt().'
c erl -noshell -eval '{ok, _} = net_kernel:start([dyn1, shortnames]), erlang:set_cookie(x), io:format("~p~n", [{node(), erlang:get_cookie(), net_kernel:stop()}]), halt().'
c erl -sname node7 -start_epmd false -erl_epmd_port 4371 -setcookie batcookie -noshell -eval 'io:format("~p~n", [node()]), halt().'
c erl -sname node8 -kernel inet_dist_listen_min 9100 inet_dist_listen_max 9105 -hidden -connect_all false -setcookie batcookie -noshell -eval 'io:format("~p~n", [net_kernel:get_state()]), halt().'
s 'D=/tmp/erlbat/tls; [ -f $D/cert.pem ] || erl -noshell -pa /tmp/erlbat -run bat main tls >/dev/null; printf "[{server, [{certfile, \"%s/cert.pem\"}, {keyfile, \"%s/key.pem\"}, {verify, verify_none}]}, {client, [{verify, verify_none}]}].\n" $D $D > $D/dist.conf; cat $D/dist.conf
erl -sname tls1 -proto_dist inet_tls -ssl_dist_optfile $D/dist.conf -setcookie batcookie -detached -noshell -eval "timer:sleep(8000), halt()."; sleep 3
erl -sname tls2 -proto_dist inet_tls -ssl_dist_optfile $D/dist.conf -setcookie batcookie -noshell -eval "[_, H] = string:split(atom_to_list(node()), \"@\"), N = list_to_atom(\"tls1@\" ++ H), io:format(\"~p~n\", [{net_adm:ping(N), rpc:call(N, erlang, halt, [])}]), halt()."'
c epmd -names
c epmd -kill
c epmd -port 4371 -daemon -relaxed_command_check
c epmd -port 4371 -kill

# --- the server of the image and its programs
s 'erl -noshell -eval "inets:start(), {ok,_} = inets:start(httpd, [{port,18333},{bind_address,{127,0,0,1}},{server_name,\"eval\"},{server_root,\"/tmp\"},{document_root,\"/srv/www\"},{directory_index,[\"index.html\"]},{modules,[mod_alias,mod_get,mod_head]}]), timer:sleep(infinity)." & P=$!; sleep 2; erl -noshell -eval "inets:start(), io:format(\"~p~n\", [[element(1, httpc:request(U)) || U <- [\"http://127.0.0.1:18333/\", \"http://127.0.0.1:18333/nope\"]]]), halt()."; kill -TERM $P; wait $P'
c /usr/lib/erlang/erts-13.1.5/bin/inet_gethost
c /usr/lib/erlang/erts-13.1.5/bin/yielding_c_fun
c /usr/lib/erlang/erts-13.1.5/bin/dyn_erl -noshell -eval 'halt().'
c sh /usr/lib/erlang/lib/inets-8.2.2/priv/bin/runcgi.sh /bin/true
echo BATTERY-END $B
