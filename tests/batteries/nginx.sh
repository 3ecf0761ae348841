#!/bin/bash
# Battery of the corpus `nginx` image, for ../shared/corpus/battery.sh:
#   ../shared/corpus/battery.sh nginx /tmp/evalcorpus/nginx.docker.tar PROFILE tests/batteries/nginx.sh
# An image-scope profile must give "0 denied". Base's battery first, then nginx the way operators run it:
# configuration tests, a server with worker processes, thread pools, shared-memory zones, a proxy cache (its
# manager and loader processes), gzip, sendfile, then the signals that reload, reopen and upgrade the binary in
# place (which execs nginx again). Written for this battery, not taken from any workload. Requests are made with
# perl (perl-base is in the image). Each command is bounded by timeout; whether it succeeds does not matter.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
W=/tmp/nginxbat; mkdir -p $W/html $W/cache $W/logs; cd $W || exit 1
seq 1 200000 > $W/html/big.txt; echo hello > $W/html/index.html
cat > $W/nginx.conf <<CONF
worker_processes 2;
pid $W/nginx.pid;
error_log $W/logs/error.log info;
thread_pool bat threads=4;
events { worker_connections 256; use epoll; }
http {
  access_log $W/logs/access.log combined buffer=4k flush=1s;
  sendfile on; tcp_nopush on; aio threads=bat; directio 1m;
  gzip on; gzip_types text/plain; gzip_min_length 10;
  open_file_cache max=100 inactive=10s;
  limit_req_zone \$binary_remote_addr zone=rl:1m rate=100r/s;
  limit_conn_zone \$binary_remote_addr zone=cl:1m;
  proxy_cache_path $W/cache levels=1:2 keys_zone=pc:1m max_size=10m inactive=1m;
  upstream back { server 127.0.0.1:8082; keepalive 4; }
  server {
    listen 127.0.0.1:8081; listen unix:$W/nginx.sock;
    root $W/html; autoindex on;
    location /limited { limit_req zone=rl burst=5; limit_conn cl 2; alias $W/html; }
    location /proxy/ { proxy_pass http://back/; proxy_cache pc; proxy_cache_valid 200 1m; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server { listen 127.0.0.1:8082; root $W/html; location = /status { stub_status; } }
}
CONF
get() { c perl -MIO::Socket::INET -e '
  my ($port, $path, $extra) = @ARGV;
  my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port) or die "connect: $!";
  print $s "GET $path HTTP/1.1\r\nHost: b\r\n${extra}Connection: close\r\n\r\n";
  my $n = 0; $n += length while <$s>; print "$path: $n bytes\n";' "$@"; }
c nginx -v
c nginx -V
c nginx -t -c $W/nginx.conf
c nginx -T -c $W/nginx.conf
# by its full path: the upgrade below execs argv[0] as it is
c /usr/sbin/nginx -c $W/nginx.conf
c sleep 1
get 8081 /index.html
get 8081 /big.txt
get 8081 /big.txt $'Accept-Encoding: gzip\r\n'
get 8081 /big.txt $'Range: bytes=100-2000\r\n'
get 8081 /
get 8081 /limited/index.html
get 8081 /proxy/big.txt
get 8081 /proxy/big.txt
get 8081 /missing
get 8082 /status
c perl -MIO::Socket::UNIX -e '$s = IO::Socket::UNIX->new(Peer => shift) or die $!; print $s "GET / HTTP/1.0\r\n\r\n"; print while <$s>' $W/nginx.sock
c nginx -c $W/nginx.conf -s reload
c sleep 1
get 8081 /index.html
c nginx -c $W/nginx.conf -s reopen
c sleep 1
# binary upgrade: USR2 execs a new master, WINCH and QUIT retire the old one
c bash -c "kill -USR2 \$(cat $W/nginx.pid)"
c sleep 2
c bash -c "kill -WINCH \$(cat $W/nginx.pid.oldbin) && kill -QUIT \$(cat $W/nginx.pid.oldbin)"
c sleep 1
get 8081 /big.txt
c nginx -c $W/nginx.conf -s quit
c sleep 1
c nginx -c $W/nginx.conf -g 'daemon off; master_process off;' &
c sleep 1
get 8081 /index.html
c bash -c "kill \$(cat $W/nginx.pid)"
echo BATTERY-END $B
