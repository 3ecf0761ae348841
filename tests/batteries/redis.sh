#!/bin/bash
# Battery of the corpus `redis` image, for ../shared/corpus/battery.sh:
#   ../shared/corpus/battery.sh redis /tmp/evalcorpus/redis.docker.tar PROFILE tests/batteries/redis.sh
# An image-scope profile must give "0 denied". Base's battery first, then the server and its tools the way
# operators use them: persistence (RDB by fork, AOF with fsync and rewrite), a replica synchronising over a
# socket, lazy freeing threads, Lua and functions, I/O threads, the benchmark, the checkers. Written for this
# battery, not taken from any workload. Each command is bounded by timeout; whether it succeeds does not matter.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
W=/tmp/redisbat; mkdir -p $W; cd $W || exit 1
r() { c redis-cli -p 7001 "$@"; }
cat > $W/a.conf <<CONF
port 7001
bind 127.0.0.1
unixsocket $W/redis.sock
dir $W
daemonize yes
pidfile $W/a.pid
logfile $W/a.log
appendonly yes
appendfsync always
save 1 1
lazyfree-lazy-user-del yes
io-threads 2
io-threads-do-reads yes
enable-debug-command yes
latency-monitor-threshold 1
CONF
c redis-server --version
c redis-server $W/a.conf
c sleep 1
r ping
r set k v
r get k
r mset a 1 b 2 c 3
r incrby a 10
r lpush l x y z
r sadd s m n
r zadd z 1 one 2 two
r hset h f v
r xadd st '*' f v
r expire k 100
r debug populate 200000
r unlink key:1
r flushall async
r debug populate 100000
r bgsave
c sleep 1
r save
r bgrewriteaof
c sleep 1
r config set appendfsync everysec
r config set activedefrag yes
r config rewrite
r info all
r client list
r client setname bat
r slowlog get
r latency doctor
r memory doctor
r memory usage a
r object encoding l
r eval "return redis.call('get', KEYS[1])" 1 a
r function load "#!lua name=bat
redis.register_function('f', function(keys, args) return 1 end)"
r fcall f 0
r debug sleep 0.1
r debug reload
r module list
r acl setuser u on '>p' '~*' '+@all'
r acl list
r wait 0 100
c redis-cli -s $W/redis.sock ping
c redis-cli -p 7001 --stat -i 0.2 2>/dev/null | head -3
c redis-cli -p 7001 --latency-history -i 1 2>/dev/null | head -1
c redis-cli -p 7001 --bigkeys
c redis-cli -p 7001 --scan --pattern 'key:1*'
c redis-cli -p 7001 --rdb $W/remote.rdb
c redis-benchmark -p 7001 -q -n 2000 -c 4 -t set,get,lpush,incr
c redis-benchmark -p 7001 -q -n 500 --threads 2 -t ping
# a replica, synchronised from the first server (disk-less and by file)
c redis-server --port 7002 --bind 127.0.0.1 --dir $W --daemonize yes --pidfile $W/b.pid --logfile $W/b.log --replicaof 127.0.0.1 7001
c sleep 2
c redis-cli -p 7002 info replication
c redis-cli -p 7001 config set repl-diskless-sync yes
c redis-cli -p 7002 replicaof no one
c redis-cli -p 7002 replicaof 127.0.0.1 7001
c sleep 2
c redis-cli -p 7002 shutdown nosave
r shutdown save
c sleep 1
c redis-check-rdb $W/dump.rdb
c bash -c "redis-check-aof $W/appendonlydir/*.manifest"
c redis-server --port 7003 --bind 127.0.0.1 --dir $W --daemonize yes --pidfile $W/c.pid --logfile $W/c.log --appendonly yes
c sleep 1
c redis-cli -p 7003 shutdown
echo BATTERY-END $B
