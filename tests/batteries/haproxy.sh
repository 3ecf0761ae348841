#!/bin/bash
# Battery of the `haproxy` image of tests/fixtures/server-images.sh (Debian bookworm, haproxy 2.6 with OpenSSL,
# Lua, PCRE2 JIT, the Prometheus exporter), for ../shared/corpus/battery.sh:
#   ../shared/corpus/battery.sh haproxy /tmp/newimg/haproxy.docker.tar PROFILE tests/batteries/haproxy.sh
# An image-scope profile must give "0 denied". Base's battery first, then haproxy the way operators run it:
# version and configuration checks (-vv, -c, -cc, -dD, -dW, -dL, -dK), an origin instance (daemon, chroot,
# user haproxy, two threads, Lua services answering HTTP and TCP, TLS, h2 and PROXY-protocol listeners, unix
# and abstract sockets), and a master-worker instance (-W -D, master CLI, four threads pinned with cpu-map) in
# front of it: HTTP and TCP proxying with splicing, health checks (HTTP, TCP, TLS, agent, external-check
# scripts forked by haproxy), TLS and h2 on both sides, compression, the cache, stick tables with peers,
# basic auth with crypt(3) passwords, maps and ACLs (PCRE2 JIT), DNS resolvers, Lua actions, tasks, cosockets
# and the httpclient, the Prometheus exporter, logging to a unix datagram socket, UDP and a ring, the runtime
# API (show info/stat/sess/fd/threads/pools/table/map, server state changes, dynamic servers, weights,
# certificates updated live), reloads (SIGUSR2 and the master CLI, with listening sockets passed over the
# stats socket), a classic -sf/-x takeover, the signals that pause, resume, dump and stop, the systemd notify
# mode, the debug modes with poll/select pollers, and halog on the collected logs. Requests are made with perl
# (perl-base) and bash's /dev/tcp. Written for this battery, not taken from any workload. Each command is
# bounded by timeout; whether it succeeds does not matter.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
W=/tmp/haproxybat; mkdir -p $W/jail $W/conf.d; cd $W || exit 1
# get PORT PATH [EXTRA HEADERS] [METHOD] [BODY]: an HTTP/1.1 request from perl, prints the status line and size
get() { c perl -MIO::Socket::INET -e '
  my ($port, $path, $extra, $method, $body) = @ARGV; $method ||= "GET"; $body //= "";
  my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Timeout => 5) or die "connect: $!";
  my $len = length($body) ? "Content-Length: " . length($body) . "\r\n" : "";
  print $s "$method $path HTTP/1.1\r\nHost: localhost\r\n${extra}${len}Connection: close\r\n\r\n$body";
  my ($st, $n, $hdr) = (undef, 0, ""); while (<$s>) { $st //= $_; $n += length; $hdr .= $_ if $n < 600 }
  print $hdr; print "\n$path: $n bytes\n";' "$@"; }
# cli SOCKET COMMAND...: one command on a unix-socket CLI (stats socket or master CLI)
cli() { c perl -MIO::Socket::UNIX -e '
  my $s = IO::Socket::UNIX->new(Peer => shift) or die "connect: $!"; print $s join(" ", @ARGV), "\n"; shutdown($s, 1);
  my $n = 0; while (<$s>) { print if $n++ < 40 } print "($n lines)\n";' "$@"; }
A=$W/admin.sock M=$W/master.sock O=$W/origin.sock
# the image has no procps: processes are listed from /proc, the current worker is asked to the master CLI
PS='for d in /proc/[0-9]*; do a=$(tr "\0" " " < $d/cmdline 2>/dev/null); case "$a" in haproxy*|/usr/sbin/haproxy*) echo "${d#/proc/} $(stat -c %U $d) $(ls $d/task | wc -l) $a";; esac; done'
WORKER="perl -MIO::Socket::UNIX -e '\$s = IO::Socket::UNIX->new(Peer => \"$W/master.sock\") or die; print \$s \"show proc\\n\"; while (<\$s>) { if (/^(\\d+)\\s+worker\\s/) { print \$1; last } }'"
waitport() { s "for i in \$(seq 80); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && exit 0; sleep 0.1; done; exit 1"; }

# --- files: a certificate, Lua scripts, a map, an external check, configurations
cat > $W/site.pem <<'EOF'
-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUZvnfGp3y3zMR23yV+tvDfKTeevAwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNDA3NDY0N1oYDzIxMjYxMDMx
MDc0NjQ3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARuWJ52Zoh7QT+ilb6ehs2CpNy+3NQxEDB02jXmGAmW8WzyI2NbZ9fF
aEmOwnIZkw8Eh1XWgSN/1HUxgg2uKdHvo28wbTAdBgNVHQ4EFgQUGOgsj2+WRobx
yZ0Tb8wt8b4dupYwHwYDVR0jBBgwFoAUGOgsj2+WRobxyZ0Tb8wt8b4dupYwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAJ7NbY18EzPhKSfqekFqUfutkPyyjyJQuP5IAa5/6uV5AiBp
on+aVA4/a5ggTTp7vS9MuaEM8hF5Qb+P+hb/rwUCPg==
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLC/WxAFU4SyDPAIQ
s3JE9cuCJub1u4CCh0ZCVdVSitChRANCAARuWJ52Zoh7QT+ilb6ehs2CpNy+3NQx
EDB02jXmGAmW8WzyI2NbZ9fFaEmOwnIZkw8Eh1XWgSN/1HUxgg2uKdHv
-----END PRIVATE KEY-----
EOF
cat > $W/origin.lua <<'EOF'
local chunk = string.rep("0123456789abcdef", 4096)
core.register_service("big", "http", function(applet)
  applet:set_status(200); applet:add_header("content-type", "text/plain")
  applet:add_header("content-length", tostring(#chunk * 16)); applet:start_response()
  for i = 1, 16 do applet:send(chunk) end
end)
core.register_service("echo", "http", function(applet)
  local body = applet:receive() or ""
  local r = applet.method .. " " .. applet.path .. " " .. #body .. " " .. (applet.headers["x-lua"] and "tagged" or "-") .. "\n"
  applet:set_status(200); applet:add_header("content-length", tostring(#r)); applet:start_response(); applet:send(r)
end)
core.register_service("agent", "tcp", function(applet) applet:send("up 75%\n") end)
core.register_service("tcpbig", "tcp", function(applet)
  local line = applet:getline()
  for i = 1, 32 do applet:send(chunk) end
end)
EOF
cat > $W/main.lua <<'EOF'
core.register_init(function()
  local p = io.popen("uname -sr"); core.Info("lua init on " .. (p:read("*l") or "?")); p:close()
end)
core.register_action("tag", {"http-req"}, function(txn)
  txn.http:req_set_header("X-Lua", "1"); txn:set_var("txn.lua_sec", core.now().sec)
end)
core.register_converters("rev", function(s) return string.reverse(s) end)
core.register_fetches("luapath", function(txn) return "lua:" .. txn.f:path() end)
core.register_service("hello", "http", function(applet)
  local m = core.get_info()
  local r = "hello from lua, threads " .. tostring(m.Nbthread) .. ", " .. applet:get_var("txn.lua_sec") .. "\n"
  applet:set_status(200); applet:add_header("content-length", tostring(#r)); applet:start_response(); applet:send(r)
end)
core.register_task(function()
  core.msleep(800)
  local s = core.tcp(); s:settimeout(2)
  if s:connect("127.0.0.1", 9001) then s:send("GET / HTTP/1.0\r\n\r\n"); local r = s:receive("*a"); core.Info("cosocket read " .. #(r or "")) end
  s:close()
  local hc = core.httpclient()
  local res = hc:get{url = "http://127.0.0.1:9002/from-httpclient", timeout = 2000}
  core.Info("httpclient status " .. tostring(res and res.status))
  local f = io.open("/tmp/haproxybat/lua-task.txt", "w"); f:write("task ran ", tostring(res and res.status), "\n"); f:close()
  for i = 1, 20 do core.msleep(500); core.set_map("/tmp/haproxybat/paths.map", "/tick", tostring(i)) end
end)
EOF
printf '/a value_a\n/b value_b\n' > $W/paths.map
printf '10.0.0.0/8 private\n127.0.0.0/8 loopback\n' > $W/nets.map
cat > $W/check.sh <<'EOF'
#!/bin/bash
# haproxy's external-check: $3 and $4 are the server's address and port
echo "$(date +%T) $HAPROXY_PROXY_NAME/$HAPROXY_SERVER_NAME $3:$4" >> /tmp/haproxybat/extcheck.log
exec 3<>/dev/tcp/$3/$4 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && head -n 1 <&3 | grep -q 200
EOF
chmod 755 $W/check.sh
HASH=$(perl -e 'print crypt("secret", q($6$batsalt$))')
printf '{"output_file":"%s/ot-spans.json"}\n' $W > $W/mocktracer.json
cat > $W/ot.cfg <<EOF
[bat-ot]
  ot-tracer bat-tracer
    config $W/mocktracer.json
    plugin ../../usr/lib/x86_64-linux-gnu/libopentracing_mocktracer.so.1
    scopes frontend_http_request
  ot-scope frontend_http_request
    span "request" root
      tag "path" path
    event on-frontend-http-request
EOF
cat > $W/origin.cfg <<EOF
global
  daemon
  pidfile $W/origin.pid
  chroot $W/jail
  user haproxy
  group haproxy
  nbthread 2
  set-dumpable
  lua-load-per-thread $W/origin.lua
  stats socket $O mode 600 level admin expose-fd listeners
  log 127.0.0.1:5514 local1 info
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  log global
  option httplog
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend o1
  bind 127.0.0.1:9001
  bind unix@$W/o1.sock mode 666
  bind abns@origin1
  bind 127.0.0.1:9012 ssl crt $W/site.pem alpn h2,http/1.1
  bind 127.0.0.1:9022 proto h2
  bind 127.0.0.1:9032 accept-proxy
  http-request use-service lua.big if { path /big }
  http-request use-service lua.echo if { path_beg /echo }
  http-request return status 200 content-type text/plain string "origin one\n" if { path / }
  http-request return status 200 content-type text/plain lf-string "origin %[dst_port] %[path] %[src] %[ssl_fc]\n"
frontend o2
  bind 127.0.0.1:9002
  http-request use-service lua.big if { path /big }
  http-request return status 200 content-type text/plain lf-string "origin two %[path]\n"
frontend agent
  mode tcp
  bind 127.0.0.1:9010
  tcp-request content use-service lua.agent
frontend tcpbig
  mode tcp
  bind 127.0.0.1:9011
  tcp-request inspect-delay 1s
  tcp-request content use-service lua.tcpbig
EOF
cat > $W/main.cfg <<EOF
global
  nbthread 4
  cpu-map 1/all 0-1
  maxconn 200
  set-dumpable
  stats socket $A mode 600 level admin expose-fd listeners
  stats socket ipv4@127.0.0.1:9999 level admin
  stats timeout 10s
  log $W/log.sock local0 info
  log 127.0.0.1:5514 local1 notice
  log ring@evring local2
  log-send-hostname
  lua-load $W/main.lua
  external-check
  insecure-fork-wanted
  hard-stop-after 10s
  server-state-file $W/state
  ssl-server-verify none
  tune.ssl.default-dh-param 2048
  httpclient.ssl.verify none
ring evring
  description "events"
  format rfc3164
  maxlen 1200
  size 32764
userlist admins
  user admin password $HASH
  user op insecure-password op
resolvers local
  nameserver ns1 127.0.0.1:5353
  parse-resolv-conf
  resolve_retries 1
  timeout resolve 1s
  timeout retry 1s
  hold valid 10s
peers mypeers
  peer main 127.0.0.1:10000
cache small
  total-max-size 4
  max-age 60
http-errors myerrs
  errorfile 503 /etc/haproxy/errors/503.http
defaults
  mode http
  log global
  option httplog
  option dontlognull
  timeout connect 2s
  timeout client 10s
  timeout server 10s
  timeout queue 5s
  timeout check 2s
  load-server-state-from-file global
  retries 2
  option redispatch
frontend web
  bind 127.0.0.1:8080 tfo backlog 128 mss 1400 tcp-ut 20s
  bind [::1]:8080 v6only
  bind unix@$W/web.sock mode 666
  bind 127.0.0.1:8443 ssl crt $W/site.pem alpn h2,http/1.1
  bind 127.0.0.1:8082 proto h2
  unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
  http-request set-header X-Unique-ID %[unique-id]
  http-request capture req.hdr(host) len 32
  stick-table type ip size 1k expire 30s store http_req_rate(10s),conn_cur,gpc0 peers mypeers
  http-request track-sc0 src
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt 1000 }
  http-request lua.tag
  http-request set-var(txn.lookup) path,map($W/paths.map,none)
  http-request set-header X-Net %[src,map_ip($W/nets.map,other)]
  http-request set-header X-Rev %[path,lua.rev]
  http-request auth realm bat if { path_beg /private } !{ http_auth(admins) }
  http-request return status 200 content-type text/plain lf-string "private ok %[http_auth_group(admins)]\n" if { path_beg /private }
  http-request return status 200 content-type text/plain lf-string "regex %[path] %[var(txn.lookup)] %[lua.luapath]\n" if { path_reg ^/re/[0-9]+\$ }
  http-request return status 200 content-type text/plain lf-string "map %[var(txn.lookup)]\n" if { path /a } || { path /tick }
  http-request use-service prometheus-exporter if { path /metrics }
  http-request use-service lua.hello if { path /lua }
  http-request cache-use small if { path_beg /cached }
  http-response cache-store small
  filter cache small
  filter compression
  filter opentracing id bat-ot config $W/ot.cfg
  compression algo gzip deflate
  compression type text/plain
  errorfiles myerrs
  use_backend be_tls if { path_beg /tls }
  use_backend be_h2 if { path_beg /h2 }
  use_backend be_unix if { path_beg /unix } || { path_beg /cached }
  use_backend be_proxy if { path_beg /proxy }
  use_backend be_ext if { path_beg /ext }
  use_backend be_dns if { path_beg /dns }
  default_backend be_web
backend be_web
  balance roundrobin
  cookie SRV insert indirect nocache
  option httpchk GET /
  http-check expect status 200
  option forwardfor
  http-reuse always
  server s1 127.0.0.1:9001 weight 100 check inter 500 rise 1 fall 2 cookie s1 source 127.0.0.1 tcp-ut 10s pool-max-conn 10
  server s2 127.0.0.1:9002 weight 100 check inter 500 rise 1 fall 2 cookie s2 agent-check agent-port 9010 agent-inter 1s
  server s3 127.0.0.1:9099 check inter 500 rise 1 fall 1 backup
backend be_tls
  server t1 127.0.0.1:9012 ssl verify none alpn h2,http/1.1 sni str(localhost) check check-ssl inter 1s
backend be_h2
  server h1 127.0.0.1:9022 proto h2 check inter 1s
backend be_unix
  balance roundrobin
  server u1 unix@$W/o1.sock
  server u2 abns@origin1
backend be_proxy
  server p1 127.0.0.1:9032 send-proxy-v2 check check-send-proxy inter 1s
backend be_ext
  option external-check
  external-check path "/usr/bin:/bin"
  external-check command $W/check.sh
  server e1 127.0.0.1:9001 check inter 1s
backend be_dns
  server d1 origin.bat.invalid:9001 resolvers local init-addr none check inter 1s
listen stats
  bind 127.0.0.1:8404
  stats enable
  stats uri /stats
  stats admin if TRUE
  stats show-legends
  stats refresh 5s
listen tcpproxy
  mode tcp
  bind 127.0.0.1:8090
  option tcplog
  option splice-auto
  option splice-request
  option splice-response
  option tcp-check
  tcp-check connect
  server b1 127.0.0.1:9011 check inter 1s
listen selfssl
  bind 127.0.0.1:8081
  server s 127.0.0.1:8443 ssl verify none alpn http/1.1 sni str(localhost)
listen toh2
  bind 127.0.0.1:8083
  server s 127.0.0.1:8082 proto h2
EOF
cat > $W/tiny.cfg <<EOF
global
  log stdout format raw daemon
defaults
  mode http
  log global
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend f
  bind 127.0.0.1:8070
  filter trace name bat
  http-request return status 200 content-type text/plain string "tiny\n"
EOF
cp $W/tiny.cfg $W/conf.d/10-tiny.cfg
printf 'global\n  nbthread 2\n' > $W/conf.d/00-global.cfg
printf 'frontend broken\n  bind 127.0.0.1:8071\n  http-request nonsense\n' > $W/bad.cfg

# --- versions and configuration checks
c haproxy -v
c haproxy -vv
c haproxy -c -f /etc/haproxy/haproxy.cfg
c haproxy -c -f $W/origin.cfg
c haproxy -c -V -L main -f $W/main.cfg
c haproxy -c -dD -L main -f $W/main.cfg
c haproxy -c -dW -f $W/tiny.cfg
c haproxy -c -dL -f $W/tiny.cfg
c haproxy -c -f $W/conf.d
c haproxy -c -f $W/bad.cfg
c haproxy -cc 'version_atleast(2.4)'
c haproxy -cc 'feature(OPENSSL) && feature(LUA)'
s 'haproxy -dKall -q -c -f /dev/null | wc -l'
c haproxy -dM,help

# --- log receivers: a unix datagram socket, UDP syslog; and the systemd notify socket
s "perl -MIO::Socket::UNIX -MSocket -e 'unlink \$ARGV[0]; my \$s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => \$ARGV[0]) or die \$!;
   chmod 0666, \$ARGV[0]; open(my \$f, \">>\", \$ARGV[1]) or die; \$f->autoflush(1); while (1) { \$s->recv(my \$b, 65535); print \$f \$b, \"\\n\" }' \
   $W/log.sock $W/unix.log > /dev/null 2>&1 & echo \$! > $W/logrx.pid"
s "perl -MIO::Socket::INET -e 'my \$s = IO::Socket::INET->new(Proto => \"udp\", LocalAddr => \"127.0.0.1:5514\") or die \$!;
   open(my \$f, \">>\", \$ARGV[0]) or die; \$f->autoflush(1); while (1) { \$s->recv(my \$b, 65535); print \$f \$b, \"\\n\" }' \
   $W/udp.log > /dev/null 2>&1 & echo \$! > $W/udprx.pid"
s "perl -MIO::Socket::UNIX -MSocket -e 'unlink \$ARGV[0]; my \$s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => \$ARGV[0]) or die \$!;
   open(my \$f, \">>\", \$ARGV[1]) or die; \$f->autoflush(1); while (1) { \$s->recv(my \$b, 65535); print \$f \$b, \"\\n\" }' \
   $W/notify.sock $W/notify.log > /dev/null 2>&1 & echo \$! > $W/notifyrx.pid"

# --- the origin: daemon, chroot, user haproxy, Lua services
c haproxy -f $W/origin.cfg
waitport 9001
s "cat $W/origin.pid; $PS"
get 9001 /
get 9001 /big
get 9002 /x
c perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => shift) or die $!; print $s "GET /unix HTTP/1.0\r\n\r\n"; print while <$s>' $W/o1.sock

# --- the master-worker instance in front of it
c haproxy -W -D -p $W/main.pid -S $M,mode,600 -L main -f $W/main.cfg
waitport 8080
s "cat $W/main.pid; $PS; echo worker \$($WORKER)"
c sleep 1.5
get 8080 /
get 8080 /
get 8080 /big
get 8080 /big $'Accept-Encoding: gzip\r\n'
get 8080 /echo/post $'Content-Type: text/plain\r\n' POST 'hello body'
get 8080 /a
get 8080 /re/123
get 8080 /lua
get 8080 /private
get 8080 /private $'Authorization: Basic YWRtaW46c2VjcmV0\r\n'
get 8080 /private $'Authorization: Basic b3A6b3A=\r\n'
get 8080 /cached/1
get 8080 /cached/1
get 8080 /tls/over-tls
get 8080 /h2/over-h2
get 8080 /unix/1
get 8080 /unix/2
get 8080 /proxy/v2
get 8080 /ext/checked
get 8080 /dns/unresolved
get 8080 /metrics
get 8081 /via-selfssl
get 8083 /via-h2-client
get 8404 '/stats;csv'
get 8404 /stats
get 8080 /tick
s 'exec 3<>/dev/tcp/::1/8080; printf "GET /v6-bash HTTP/1.0\r\n\r\n" >&3; head -n 1 <&3'
c perl -MIO::Socket::IP -e '$s = IO::Socket::IP->new(PeerHost => "::1", PeerPort => 8080) or die $!; print $s "GET /v6 HTTP/1.0\r\n\r\n"; print while <$s>'
c perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => shift) or die $!; print $s "GET /over-unix HTTP/1.0\r\n\r\n"; print while <$s>' $W/web.sock
s 'exec 3<>/dev/tcp/127.0.0.1/8080; printf "GET / HTTP/1.1\r\nHost: b\r\n\r\nGET /a HTTP/1.1\r\nHost: b\r\n\r\nGET /big HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n" >&3; cat <&3 | wc -c'
s 'exec 3<>/dev/tcp/127.0.0.1/8090; echo go >&3; cat <&3 | wc -c'
s 'for i in $(seq 1 8); do (exec 3<>/dev/tcp/127.0.0.1/8080; printf "GET /big HTTP/1.0\r\n\r\n" >&3; cat <&3 | wc -c) & done; wait'
s 'for i in $(seq 1 4); do (exec 3<>/dev/tcp/127.0.0.1/8090; echo go >&3; cat <&3 | wc -c) & done; wait'
c sleep 1

# --- the runtime API (stats socket: unix and TCP) and the master CLI
cli $A show info
cli $A show stat
cli $A show servers state
cli $A show sess
cli $A show fd
cli $A show activity
cli $A show threads
cli $A show pools
cli $A show tasks
cli $A show table
cli $A show table web
cli $A set table web key 10.1.2.3 data.gpc0 5
cli $A clear table web key 10.1.2.3
cli $A show map $W/paths.map
cli $A add map $W/paths.map /c value_c
cli $A set map $W/paths.map /a value_a2
cli $A del map $W/paths.map /b
cli $A show acl
cli $A show errors
cli $A show events evring
cli $A show resolvers
cli $A show peers
cli $A show cache
cli $A show ssl cert
cli $A show ssl cert $W/site.pem
s "perl -MIO::Socket::UNIX -e '\$s = IO::Socket::UNIX->new(Peer => \$ARGV[0]) or die; open(F, \$ARGV[1]); local \$/; \$c = <F>;
   print \$s \"set ssl cert \$ARGV[1] <<\\n\$c\\n\"; print while <\$s>' $A $W/site.pem"
cli $A commit ssl cert $W/site.pem
cli $A show ssl cert $W/site.pem
cli $A set profiling tasks on
cli $A show profiling
cli $A disable server be_web/s2
cli $A set server be_web/s1 state drain
cli $A set server be_web/s1 weight 50%
cli $A set server be_web/s1 state ready
cli $A enable server be_web/s2
cli $A set server be_web/s3 addr 127.0.0.1 port 9002
cli $A set server be_web/s3 state maint
cli $A add server be_web/dyn 127.0.0.1:9002 check
cli $A enable health be_web/dyn
cli $A enable server be_web/dyn
cli $A disable server be_web/dyn
cli $A del server be_web/dyn
cli $A disable frontend web
get 8080 /while-paused
cli $A enable frontend web
cli $A set maxconn global 150
cli $A set rate-limit connections global 1000
cli $A show env
cli $A show schema json
s "exec 3<>/dev/tcp/127.0.0.1/9999; echo 'show info' >&3; head -n 5 <&3"
s "exec 3<>/dev/tcp/127.0.0.1/9999; printf 'prompt\nshow stat\nshow sess\nquit\n' >&3; cat <&3 | wc -l"
cli $M show proc
cli $M @1 show info
s "perl -MIO::Socket::UNIX -e '\$s = IO::Socket::UNIX->new(Peer => \$ARGV[0]) or die; print \$s \"@!\$ARGV[1] show threads\\n\"; shutdown(\$s, 1); print while <\$s>' $M \$($WORKER) | head -n 20"
cli $A shutdown sessions server be_web/s1
s "perl -MIO::Socket::UNIX -e '\$s = IO::Socket::UNIX->new(Peer => \$ARGV[0]) or die; print \$s \"show servers state\\n\"; print while <\$s>' $A > $W/state; cut -d' ' -f1-12 $W/state"
s "tail -n 3 $W/unix.log; grep -c . $W/unix.log; tail -n 2 $W/udp.log; cat $W/extcheck.log | tail -n 2; cat $W/lua-task.txt"

# --- reloads: SIGUSR2 to the master, the master CLI's reload (listening sockets passed over the stats socket),
# then the signals a worker and the master understand
s "kill -USR2 \$(cat $W/main.pid)"
c sleep 1.5
cli $M show proc
get 8080 /after-usr2
s "perl -MIO::Socket::UNIX -e '\$s = IO::Socket::UNIX->new(Peer => \$ARGV[0]) or die; print \$s \"show servers state be_web\\n\"; print while <\$s>' $A | cut -d' ' -f1-12"
cli $M reload
c sleep 1.5
cli $M show proc
get 8080 /after-cli-reload
get 8090 /
cli $A show table web
s "w=\$($WORKER); echo worker \$w; kill -HUP \$w; kill -QUIT \$w; sleep 0.5; tail -n 3 $W/unix.log"
s "ls $W/ot-spans.json && head -c 300 $W/ot-spans.json"

# --- the origin: a classic takeover (-x passes the listening sockets, -sf finishes the old process), a hard
# takeover (-st); SIGTTOU/SIGTTIN (pause and resume the listeners) on a small instance
s "haproxy -f $W/origin.cfg -x $O -sf \$(cat $W/origin.pid); sleep 1; cat $W/origin.pid; $PS"
get 9001 /after-takeover
s "haproxy -f $W/origin.cfg -st \$(cat $W/origin.pid); sleep 0.5; cat $W/origin.pid"
get 9002 /after-st
s "haproxy -db -f $W/tiny.cfg > $W/pause.out 2>&1 & p=\$!; sleep 0.5; kill -TTOU \$p; sleep 0.3
   (exec 3<>/dev/tcp/127.0.0.1/8070) 2>/dev/null && echo still accepting || echo paused; kill -TTIN \$p; sleep 0.3
   exec 3<>/dev/tcp/127.0.0.1/8070; printf 'GET /resumed HTTP/1.0\r\n\r\n' >&3; head -n 1 <&3; kill \$p; wait; grep -i -E 'paus|resum' $W/pause.out"
get 9001 /origin-still-up

# --- other modes: systemd notify, debug with the poll and select pollers, memory limits and poisoning
s "NOTIFY_SOCKET=$W/notify.sock haproxy -Ws -f $W/tiny.cfg > $W/ws.out 2>&1 & sleep 1; kill -USR2 \$!; sleep 1; kill -TERM \$!; wait; cat $W/notify.log"
s "haproxy -d -de -f $W/tiny.cfg > $W/poll.out 2>&1 & sleep 0.5; exec 3<>/dev/tcp/127.0.0.1/8070; printf 'GET /poll HTTP/1.0\r\n\r\n' >&3; cat <&3; kill \$!; wait; tail -n 5 $W/poll.out"
s "haproxy -db -de -dp -dS -dR -dG -dV -f $W/tiny.cfg > $W/select.out 2>&1 & sleep 0.5; exec 3<>/dev/tcp/127.0.0.1/8070; printf 'GET /select HTTP/1.0\r\n\r\n' >&3; cat <&3; kill -USR1 \$!; wait; tail -n 5 $W/select.out"
s "haproxy -db -m 256 -n 100 -N 50 -dM0x55 -f $W/tiny.cfg > $W/mem.out 2>&1 & sleep 0.5; exec 3<>/dev/tcp/127.0.0.1/8070; printf 'GET /mem HTTP/1.0\r\n\r\n' >&3; cat <&3; kill -TERM \$!; wait; tail -n 3 $W/mem.out"

# --- stopping: graceful (SIGUSR1 to the master), hard (SIGTERM to the origin)
s "m=\$(cat $W/main.pid); kill -USR1 \$m; for i in \$(seq 50); do kill -0 \$m 2>/dev/null || break; sleep 0.1; done; $PS"
s "kill -TERM \$(cat $W/origin.pid); sleep 0.5; $PS"

# --- halog on the collected logs
s "sed 's/^<[0-9]*>//' $W/unix.log > $W/halog.in; wc -l $W/halog.in; halog -st < $W/halog.in"
c halog -srv -H -q $W/halog.in
s "halog -u -H -q < $W/halog.in | head -n 5"
s "halog -ic -q < $W/halog.in | head -n 5"
s "halog -pct -H -q < $W/halog.in | tail -n 3"
s "kill \$(cat $W/logrx.pid) \$(cat $W/udprx.pid) \$(cat $W/notifyrx.pid)"
echo BATTERY-END $B
