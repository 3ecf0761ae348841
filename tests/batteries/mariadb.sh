#!/bin/bash
# Battery of the `mariadb` image of tests/fixtures/server-images.sh (Debian bookworm, mariadb-server and
# mariadb-client 10.11, galera-4), for ../shared/corpus/battery.sh:
#   ../shared/corpus/battery.sh mariadb /tmp/newimg/mariadb.docker.tar PROFILE tests/batteries/mariadb.sh
# An image-scope profile must give "0 denied". Base's battery first, then the server and its tools the way
# operators and applications use them: a fresh datadir (mariadb-install-db), mariadbd in the background with
# InnoDB variants (native AIO on/off, O_DIRECT/fsync/O_DSYNC/O_DIRECT_NO_FSYNC, large pages, NUMA
# interleave, mlockall), the thread pool and its extra port, TLS, binlog, encryption at rest, plugins that
# reach the kernel (disks, server_audit, handlersocket, federatedx connecting back to the server, PAM through
# its setuid helper, ed25519), queries by the unix socket and TCP, DDL/DML, transactions and XA, lock waits
# and KILL, INTO OUTFILE / LOAD DATA, events, partitions, full-text, the client tools (dump, import, admin,
# check, slap, binlog, upgrade, tzinfo), a replica started by mariadbd-multi/mysqld_safe, a kill -9 that
# mysqld_safe recovers from, a two-node Galera cluster with an rsync state transfer, the Debian default
# configuration, and the offline checkers (aria_chk, myisamchk, myisampack, innochecksum...) on stopped
# tables. mariabackup is not in the image (mariadb-backup is not installed). Written for this battery, not
# taken from any workload. Each command is bounded by timeout; whether it succeeds does not matter.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
export W=/tmp/mdbbat; mkdir -p $W; cd $W || exit 1
export S=$W/p.sock R=$W/r.sock
# a longer bound for the few commands that do more work than 10 s allows on a slow host
cl() { B=$((B+1)); local l="$*"; l=${l//$'\n'/ }; echo "BATTERY-CMD $B ${l:0:150}"
  timeout -k 2 40 "$@" </dev/null 2>&1; echo "BATTERY-RC $?"; }
q() { c mariadb -S $S --force -e "$1"; }                                       # root by the unix socket
t() { c mariadb --protocol=tcp -h 127.0.0.1 -P 3307 -u bat -pbatpw --force -e "$1"; }  # a user by TCP
waitsock() { s "for i in \$(seq 90); do mariadb-admin -S $1 ping >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1"; }

# --- files the servers use: a config, a TLS key pair, an encryption key file, directories for mysql
mkdir -p $W/files $W/tmp $W/pbin $W/g1 $W/g2
cat > $W/bat.key <<'EOF'
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLC/WxAFU4SyDPAIQ
s3JE9cuCJub1u4CCh0ZCVdVSitChRANCAARuWJ52Zoh7QT+ilb6ehs2CpNy+3NQx
EDB02jXmGAmW8WzyI2NbZ9fFaEmOwnIZkw8Eh1XWgSN/1HUxgg2uKdHv
-----END PRIVATE KEY-----
EOF
cat > $W/bat.crt <<'EOF'
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
EOF
echo "1;$(printf '%064d' 7)" > $W/keys.txt
cat > $W/p.cnf <<EOF
[client]
socket=$S
[mysqld]
user=mysql
datadir=$W/p
socket=$S
port=3307
bind-address=127.0.0.1
pid-file=$W/p.pid
log-error=$W/p.err
server-id=1
log-bin=$W/pbin/mysql-bin
binlog-format=MIXED
secure-file-priv=$W/files
tmpdir=$W/tmp
event-scheduler=ON
innodb-buffer-pool-size=64M
innodb-log-file-size=16M
general-log=1
general-log-file=$W/p-general.log
slow-query-log=1
slow-query-log-file=$W/p-slow.log
long-query-time=0
log-output=FILE,TABLE
local-infile=1
ssl-cert=$W/bat.crt
ssl-key=$W/bat.key
plugin-load-add=file_key_management
file-key-management-filename=$W/keys.txt
performance-schema=ON
userstat=1
query-cache-type=1
query-cache-size=1M
[mysqld_safe]
skip-syslog
EOF
cat > $W/multi.cnf <<EOF
[mysqld_multi]
mysqld=/usr/bin/mysqld_safe
mysqladmin=/usr/bin/mysqladmin
log=$W/multi.log
[mysqld2]
user=mysql
datadir=$W/r
socket=$R
port=3309
bind-address=127.0.0.1
pid-file=$W/r.pid
log-error=$W/r.err
server-id=2
relay-log=$W/r-relay
log-bin=$W/r-bin
log-slave-updates=1
read-only=1
slave-parallel-threads=2
slave-skip-errors=all
plugin-load-add=ha_archive
plugin-load-add=ha_blackhole
innodb-buffer-pool-size=32M
innodb-use-native-aio=0
innodb-flush-method=fsync
skip-syslog
EOF
chown mysql:mysql $W $W/files $W/tmp $W/pbin $W/g1 $W/g2
chmod 644 $W/bat.key $W/keys.txt
printf 'select 42;\nshow tables;\n' > $W/src.sql
seq 1 500 | awk '{print 1000+$1 "," $1*3}' > $W/local.csv
# PAM for the auth_pam plugin: a local user checked by pam_unix (through the setuid auth_pam_tool)
printf 'auth required pam_unix.so\naccount required pam_unix.so\n' > /etc/pam.d/mariadb

# --- tools that need no server
c mariadbd --version
s 'mariadbd --verbose --help 2>/dev/null | tail -n 5'
c my_print_defaults mysqld server mariadb client
c my_print_defaults --defaults-file=$W/p.cnf --mysqld client
c mariadb --version
c perror 13 28 1205 1213
c resolveip localhost 127.0.0.1
c resolve_stack_dump --help
s "echo 'colour flavour' | replace colour color flavour flavor --"
s "printf 'caf\xc3\xa9\n' > $W/u8.txt; mariadb-conv -f utf8mb4 -t latin1 $W/u8.txt | od -c | head -2"
c mariadb-service-convert
c mariadb-waitpid 999999 1

# --- a fresh datadir, and a second one for the replica
cl mariadb-install-db --user=mysql --datadir=$W/p --auth-root-authentication-method=normal --skip-test-db
cl mysql_install_db --user=mysql --datadir=$W/r --auth-root-authentication-method=socket
c ls -la $W/p $W/r

# --- run A: native AIO (io_uring or libaio), O_DIRECT, thread pool with an extra port, large pages, NUMA,
# handlersocket listeners, MyISAM log
s "mariadbd --defaults-file=$W/p.cnf --innodb-use-native-aio=1 --innodb-flush-method=O_DIRECT \
   --thread-handling=pool-of-threads --thread-pool-size=4 --extra-port=3308 --large-pages \
   --loose-innodb-numa-interleave=1 --log-isam=$W/isam.log --plugin-maturity=beta --plugin-load-add=handlersocket \
   --loose-handlersocket-address=127.0.0.1 --loose-handlersocket-port=9998 --loose-handlersocket-port-wr=9999 \
   > $W/runA.out 2>&1 &"
waitsock $S
c tail -n 15 $W/p.err
s "grep -i -E 'uring|aio|huge|large|numa' $W/p.err"
q "create user bat@'%' identified by 'batpw'; grant all on *.* to bat@'%' with grant option;
   create user repl@'%' identified by 'replpw'; grant replication slave, replication client, binlog monitor on *.* to repl@'%'"
q "select version(), @@innodb_use_native_aio, @@innodb_flush_method, @@thread_handling, @@large_pages; show global status like 'Ssl_version'"
q "create database shop; use shop;
   create table items (id int primary key auto_increment, name varchar(64), price decimal(10,2), descr text,
     created datetime default now(), key(name), fulltext(descr)) engine=innodb;
   insert into items(name, price, descr) select concat('item', seq % 5000), seq / 7,
     concat('the quick brown fox number ', seq, ' jumps ', if(seq % 3, 'over', 'under'), ' the lazy dog') from seq_1_to_30000"
q "use shop; select count(*), sum(price) from items; select id, name from items where match(descr) against ('+under +fox' in boolean mode) limit 3;
   select count(*) from items where match(descr) against ('quick lazy' with query expansion)"
q "set session sort_buffer_size=32768, max_heap_table_size=16384, tmp_table_size=16384, tmp_memory_table_size=16384; use shop;
   select name, count(*) c from items group by name order by c desc, name limit 3; select distinct descr from items order by descr desc limit 2;
   select a.id from items a join items b on a.name = b.name and a.id < b.id order by a.price desc limit 2"
q "use shop; create table logm (id int primary key, msg varchar(100), fulltext(msg)) engine=myisam;
   insert into logm select seq, concat('message ', seq, ' about mariadb storage') from seq_1_to_20000;
   create table loga (id int primary key, msg varchar(100), fulltext(msg)) engine=aria transactional=1;
   insert into loga select * from logm; create table logmem engine=memory select id from logm limit 1000;
   install soname 'ha_archive'; create table logarch engine=archive select * from logm; select count(*) from logarch;
   install soname 'ha_blackhole'; create table bh (x int) engine=blackhole; insert into bh values (1)"
q "use shop; create table ev (id int, d date, v int) partition by range (year(d)) (partition p2020 values less than (2021),
     partition p2021 values less than (2022), partition pmax values less than maxvalue);
   insert into ev select seq, '2020-01-01' + interval seq day, seq from seq_1_to_1500;
   alter table ev reorganize partition pmax into (partition p2022 values less than (2023), partition pmax values less than maxvalue);
   alter table ev drop partition p2020; create table ev_x like ev; alter table ev_x remove partitioning;
   alter table ev exchange partition p2021 with table ev_x;
   create table evh (id int primary key, v int) engine=myisam partition by hash(id) partitions 4; insert into evh select seq, seq from seq_1_to_1000;
   select partition_name, table_rows from information_schema.partitions where table_schema='shop' and partition_name is not null"
q "use shop; create table acct (id int primary key, bal int) engine=innodb; insert into acct select seq, 100 from seq_1_to_10;
   start transaction; update acct set bal=bal-10 where id=1; savepoint s1; update acct set bal=bal+10 where id=2; rollback to savepoint s1; commit;
   begin; delete from acct where id=3; rollback;
   xa start 'x1'; update acct set bal=0 where id=4; xa end 'x1'; xa prepare 'x1'; xa recover; xa commit 'x1'; select * from acct"
s "mariadb -S $S -e 'use shop; begin; select * from acct where id=5 for update; do sleep(2); commit' &
   sleep 0.5; mariadb -S $S -e 'set innodb_lock_wait_timeout=5; use shop; update acct set bal=1 where id=5; select bal from acct where id=5'; wait"
s "mariadb -S $S -e 'use shop; begin; update acct set bal=2 where id=6; do sleep(1); update acct set bal=2 where id=7; commit' &
   sleep 0.3; mariadb -S $S -e 'use shop; begin; update acct set bal=3 where id=7; do sleep(1); update acct set bal=3 where id=6; commit'; wait"
q "show engine innodb status\G" 
s "mariadb -S $S -e 'select sleep(8)' & sleep 0.5
   id=\$(mariadb -S $S -N -e \"select id from information_schema.processlist where info like 'select sleep%'\")
   mariadb-admin -S $S kill \$id; wait"
q "select * from shop.items where id < 5000 into outfile '$W/files/items.csv' fields terminated by ',' enclosed by '\"' lines terminated by '\n'"
q "select * from shop.acct limit 1 into dumpfile '$W/files/acct.bin'"
q "use shop; create table items2 like items; load data infile '$W/files/items.csv' into table items2 fields terminated by ',' enclosed by '\"'; select count(*) from items2"
c mariadb -S $S --local-infile=1 -e "use shop; load data local infile '$W/local.csv' into table acct fields terminated by ','; select count(*) from acct"
q "select load_file('$W/files/items.csv') is not null"
q "use shop; create table ticks (t datetime(6)); create event tick on schedule every 1 second do insert into ticks values (now(6));
   create event once on schedule at now() + interval 1 second do insert into ticks values ('2000-01-01'); show events"
s "mariadb -S $S shop <<'EOF'
delimiter //
create procedure fill(n int) begin declare i int default 0; while i < n do insert into acct values (2000 + i, i); set i = i + 1; end while; end //
create trigger acct_bi before insert on acct for each row set new.bal = greatest(new.bal, 0) //
create function twice(x int) returns int deterministic return x * 2 //
delimiter ;
call fill(300); select twice(21); create view rich as select * from acct where bal > 50; select count(*) from rich;
EOF"
q "with recursive r(n) as (select 1 union all select n + 1 from r where n < 1000) select sum(n) from r;
   select id, sum(bal) over (order by id rows between 2 preceding and current row) from shop.acct limit 5;
   select json_extract('{\"a\":[1,2,3]}', '$.a[1]'), json_arrayagg(id) from shop.acct where id < 4;
   create sequence shop.sq; select nextval(shop.sq), nextval(shop.sq);
   create table shop.vt (x int) with system versioning; insert into shop.vt values (1); update shop.vt set x = 2;
   select x, row_start is not null from shop.vt for system_time all;
   use shop; create temporary table tt (a int) engine=innodb; insert into tt values (1); select * from tt"
q "use shop; alter table items add column extra int default 0; alter table items add index (price), algorithm=inplace, lock=none;
   alter table items modify name varchar(80), algorithm=copy; alter table logm engine=myisam;
   optimize table items; analyze table items persistent for all; check table items extended; checksum table items; repair table logm"
q "use shop; create table secret (id int, s text) engine=innodb encrypted=yes encryption_key_id=1; insert into secret values (1, repeat('x', 1000));
   set global innodb_encrypt_tables=ON; set global innodb_encryption_threads=2; do sleep(1);
   select name, encryption_scheme from information_schema.innodb_tablespaces_encryption limit 5; set global innodb_encryption_threads=0"
q "set global innodb_buffer_pool_size=128*1024*1024; do sleep(1); show status like 'innodb_buffer_pool_resize%'"
q "install soname 'disks'; select * from information_schema.disks;
   install soname 'server_audit'; set global server_audit_file_path='$W/audit.log'; set global server_audit_logging=on; select 1;
   install soname 'query_response_time'; set global query_response_time_stats=on; select * from information_schema.query_response_time limit 2;
   install soname 'metadata_lock_info'; select * from information_schema.metadata_lock_info;
   install soname 'locales'; select count(*) from information_schema.locales;
   install soname 'sql_errlog'; select nosuchcol from dual;
   install soname 'query_cache_info'; select * from information_schema.query_cache_info limit 1;
   install soname 'simple_password_check'; install soname 'password_reuse_check'; install soname 'type_mysql_json'"
q "install soname 'auth_ed25519'; create user ed@localhost identified via ed25519 using password('Ed25519pw!x');
   install soname 'auth_pam'; create user pamu@localhost identified via pam using 'mariadb'"
c mariadb -S $S -u ed -p'Ed25519pw!x' -e 'select current_user()'
c useradd -M pamu
s 'echo pamu:pamPW123 | chpasswd'
c mariadb -S $S -u pamu -ppamPW123 -e 'select current_user()'
c mariadb -S $S -u pamu -pwrong -e 'select current_user()'
q "install soname 'ha_federatedx';
   create server lb foreign data wrapper mysql options (host '127.0.0.1', port 3307, user 'bat', password 'batpw', database 'shop');
   create table shop.fed engine=federated connection='lb/acct'; select count(*), sum(bal) from shop.fed; insert into shop.fed values (5000, 1)"
s "exec 3<>/dev/tcp/127.0.0.1/9998; printf 'P\t0\tshop\tacct\tPRIMARY\tid,bal\n0\t=\t1\t1\n' >&3; timeout 2 head -n 2 <&3"
s "exec 3<>/dev/tcp/127.0.0.1/9999; printf 'P\t1\tshop\tacct\tPRIMARY\tid,bal\n1\t+\t2\t7000\t7\n' >&3; timeout 2 head -n 2 <&3"
# clients: TCP, TLS, the thread pool's extra port, output formats, client-side shell and tee
t "status"
c mariadb --protocol=tcp -h 127.0.0.1 -P 3307 -u bat -pbatpw --ssl --ssl-ca=$W/bat.crt --ssl-verify-server-cert -e "show status like 'Ssl_cipher'"
c mariadb --protocol=tcp -h 127.0.0.1 -P 3308 -u bat -pbatpw -e 'select @@extra_port, connection_id()'
c mariadb -S $S --xml -e 'select * from shop.acct limit 3'
c mariadb -S $S --html -e 'select * from shop.acct limit 3'
c mariadb -S $S -e "tee $W/tee.out
select count(*) from shop.items; \\! ls $W/files
notee"
s "printf 'use shop\nselect count(*) from acct;\nsource $W/src.sql\nselect 1;\n' | mariadb -S $S --force -t"
s "mariadb -S $S --init-command='set @x=1' -N -B -e 'select @x, now(6)' | cat"
# the command-line tools
c mariadb-admin -S $S status
s "mariadb-admin -S $S extended-status | wc -l"
s "mariadb-admin -S $S variables | wc -l"
c mariadb-admin -S $S processlist
c mariadb-admin -S $S flush-logs flush-hosts flush-tables flush-privileges flush-status
c mariadb-admin -S $S refresh
c mariadb-admin -S $S version ping
c mariadb-admin -S $S debug
c mariadb-admin -S $S create tmpdb
c mariadb-admin -S $S -f drop tmpdb
c mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3307 -u bat -pbatpw -i 1 -c 2 status
c mariadb-show -S $S
c mariadb-show -S $S shop items
s "mariadb-check -S $S --all-databases | tail -n 5"
c mariadb-check -S $S --analyze shop
c mariadb-optimize -S $S shop
c mariadb-analyze -S $S shop
c mariadb-repair -S $S shop logm loga
c mariadbcheck -S $S --check-upgrade --all-databases
s "mariadb-dump -S $S --single-transaction --routines --events --triggers --master-data=2 --all-databases > $W/all.sql; ls -la $W/all.sql"
s "mariadb-dump -S $S shop > $W/shop.sql; mariadb-dump --protocol=tcp -h 127.0.0.1 -P 3307 -u bat -pbatpw --compress shop acct | gzip > $W/acct.sql.gz; ls -la $W"
c mariadb-dump -S $S --tab=$W/files shop acct items
s "mariadb-dump -S $S --xml shop acct | tail -n 5"
s "mariadb -S $S -e 'create database shop2'; mariadb -S $S shop2 < $W/shop.sql; mariadb -S $S -e 'select count(*) from shop2.items'"
c mariadb-import -S $S --local --use-threads=2 --delete shop2 $W/files/acct.txt $W/files/items.txt
s "zcat $W/acct.sql.gz | mariadb --protocol=tcp -h 127.0.0.1 -P 3307 -u bat -pbatpw shop2"
c mariadb-slap -S $S --concurrency=4 --iterations=2 --number-of-queries=200 --auto-generate-sql --auto-generate-sql-load-type=mixed
c mariadb-slap -S $S --concurrency=2 --create-schema=shop --query='select count(*) from items where price > 10' --iterations=3
s "ls $W/pbin; mariadb-binlog $W/pbin/mysql-bin.000001 | tail -n 5"
s "mariadb-binlog --base64-output=decode-rows -v --start-position=4 $W/pbin/mysql-bin.000002 | head -n 20"
s "mariadb-binlog --read-from-remote-server --host=127.0.0.1 --port=3307 --user=repl --password=replpw mysql-bin.000001 | wc -l"
s "mariadb-binlog --read-from-remote-server --raw --result-file=$W/raw- --host=127.0.0.1 --port=3307 --user=repl --password=replpw mysql-bin.000001; ls -la $W/raw-*"
q "show binary logs; show master status; show binlog events limit 5; select @@gtid_binlog_pos"
cl mariadb-upgrade -S $S --force
s "mariadb-tzinfo-to-sql /usr/share/zoneinfo/Europe 2>/dev/null | mariadb -S $S mysql; mariadb-tzinfo-to-sql /usr/share/zoneinfo/Europe/Paris Europe/Paris | mariadb -S $S mysql; mariadb -S $S -e \"select convert_tz(now(), '+00:00', 'Europe/Paris')\""
s "printf '\nn\nn\nY\nY\nY\nY\n' | mariadb-secure-installation --socket=$S"
c mariadb-dumpslow $W/p-slow.log
c mariadb-find-rows --regexp=acct $W/shop.sql
s "kill -HUP \$(cat $W/p.pid); sleep 0.5; tail -n 3 $W/p.err"
q "select count(*) from shop.ticks; flush binary logs; flush error logs; flush slow logs; flush general logs"

# --- a replica, started the operator's way (mariadbd-multi runs mysqld_safe), synchronised over TCP with TLS
c mariadbd-multi --defaults-file=$W/multi.cnf start 2
waitsock $R
c mariadbd-multi --defaults-file=$W/multi.cnf report
c mariadb -S $R -e "change master to master_host='127.0.0.1', master_port=3307, master_user='repl', master_password='replpw',
   master_use_gtid=slave_pos, master_ssl=1, master_ssl_ca='$W/bat.crt'; start slave"
q "insert into shop.acct values (9000, 9)"
c sleep 2
c mariadb -S $R -e 'show slave status\G'
c mariadb -S $R -e 'select count(*) from shop.items; select * from shop.acct where id = 9000'
c mariadb-dump -S $R --dump-slave=2 --single-transaction shop acct
c mariadb -S $R -e 'stop slave; set global gtid_slave_pos=@@gtid_slave_pos; start slave; show all slaves status\G'
s "grep -m 3 ERROR $W/r.err | cut -c1-200"
c mariadbd-multi --defaults-file=$W/multi.cnf stop 2
c mariadb-admin -S $R shutdown
s "for i in \$(seq 80); do [ -S $R ] || break; sleep 0.1; done; tail -n 4 $W/r.err"
q "purge binary logs before now() + interval 1 day; show binary logs"
q "shutdown"
s "for i in \$(seq 90); do [ -e $W/p.pid ] || break; sleep 0.1; done; tail -n 3 $W/p.err"

# --- offline tools on the stopped tables
s "cp $W/p/shop/logm.* $W/tmp/; cp $W/p/shop/loga.* $W/tmp/; ls $W/tmp"
c myisamchk -d $W/p/shop/logm
c myisamchk -e $W/p/shop/logm
c myisamchk -r -q --sort-index --sort-records=1 $W/tmp/logm
c myisampack $W/tmp/logm
c myisamchk -rq $W/tmp/logm
c myisam_ftdump -c $W/p/shop/logm 1
s "myisamlog -v $W/isam.log | tail -n 5"
cd $W/p
c aria_chk -d shop/loga
c aria_chk -e shop/loga
c aria_ftdump -c shop/loga 1
cd $W
c aria_chk -r --tmpdir=$W/tmp $W/tmp/loga
c aria_pack $W/tmp/loga
c aria_chk -rq --ignore-control-file $W/tmp/loga
c aria_dump_log -f $W/p/aria_log.00000001
s "cd $W/p && aria_read_log -d -h $W/p"
c innochecksum $W/p/ibdata1
c innochecksum -S $W/p/shop/items.ibd
c innochecksum -v --log=$W/ichk.log $W/p/shop/acct.ibd

# --- run B: mysqld_safe, no native AIO, fsync, one thread per connection, mlockall; kill -9 and the restart
# mysqld_safe does by itself (crash recovery of InnoDB, Aria and the binlog)
s "mysqld_safe --defaults-file=$W/p.cnf --innodb-use-native-aio=0 --innodb-flush-method=fsync \
   --thread-handling=one-thread-per-connection --memlock --innodb-flush-log-at-trx-commit=1 > $W/runB.out 2>&1 &"
waitsock $S
s "grep -i -E 'uring|aio|lock|memory' $W/p.err | tail -n 5"
q "select @@innodb_use_native_aio, @@innodb_flush_method, @@locked_in_memory; use shop;
   begin; insert into acct select 10000 + seq, seq from seq_1_to_2000; commit; insert into loga values (30000, 'after')"
s "kill -9 \$(cat $W/p.pid); sleep 1; for i in \$(seq 90); do mariadb-admin -S $S ping >/dev/null 2>&1 && break; sleep 0.1; done; tail -n 20 $W/p.err"
q "select count(*) from shop.acct; select count(*) from shop.loga; check table shop.loga"
c mariadb-admin -S $S shutdown
s "for i in \$(seq 90); do pgrep -f mysqld_safe >/dev/null || break; sleep 0.1; done; cat $W/runB.out"

# --- run C: O_DSYNC, then O_DIRECT_NO_FSYNC with native AIO and lazy log flushes
s "mariadbd --defaults-file=$W/p.cnf --innodb-flush-method=O_DSYNC --innodb-use-native-aio=1 > $W/runC.out 2>&1 &"
waitsock $S
q "select @@innodb_flush_method; use shop; insert into shop.acct select 20000 + seq, seq from seq_1_to_500; flush tables with read lock; unlock tables"
c mariadb-admin -S $S shutdown
s "for i in \$(seq 90); do [ -e $W/p.pid ] || break; sleep 0.1; done"
s "mariadbd --defaults-file=$W/p.cnf --innodb-flush-method=O_DIRECT_NO_FSYNC --innodb-flush-log-at-trx-commit=2 \
   --skip-log-bin --loose-innodb-log-file-buffering=ON > $W/runD.out 2>&1 &"
waitsock $S
q "select @@innodb_flush_method; update shop.items set price = price + 1 where id % 10 = 0; select count(*) from shop.items"
c mariadb-admin -S $S shutdown
s "for i in \$(seq 90); do [ -e $W/p.pid ] || break; sleep 0.1; done"

# --- a two-node Galera cluster: the first node bootstraps it, the second joins by an rsync state transfer
cl mariadb-install-db --user=mysql --datadir=$W/g1 --auth-root-authentication-method=socket --skip-test-db
G="--no-defaults --user=mysql --wsrep-on=ON --wsrep-provider=/usr/lib/galera/libgalera_smm.so --binlog-format=ROW"
G="$G --innodb-autoinc-lock-mode=2 --innodb-buffer-pool-size=32M --bind-address=127.0.0.1 --wsrep-sst-method=rsync"
G="$G --wsrep-cluster-name=bat --wsrep-node-address=127.0.0.1"
s "mariadbd $G --datadir=$W/g1 --socket=$W/g1.sock --port=3311 --pid-file=$W/g1.pid --log-error=$W/g1.err \
   --wsrep-cluster-address=gcomm:// --wsrep-new-cluster \
   --wsrep-provider-options='gmcast.listen_addr=tcp://127.0.0.1:4567;ist.recv_addr=127.0.0.1:4568' > $W/g1.out 2>&1 &"
waitsock $W/g1.sock
c mariadb -S $W/g1.sock -e "show status like 'wsrep_cluster_size'; create database gal; use gal; create table gal.t (id int primary key, v int); insert into gal.t select seq, seq from seq_1_to_100"
s "mariadbd $G --datadir=$W/g2 --socket=$W/g2.sock --port=3312 --pid-file=$W/g2.pid --log-error=$W/g2.err \
   --wsrep-cluster-address=gcomm://127.0.0.1:4567 --wsrep-sst-receive-address=127.0.0.1:4444 \
   --wsrep-provider-options='gmcast.listen_addr=tcp://127.0.0.1:4577;ist.recv_addr=127.0.0.1:4578' > $W/g2.out 2>&1 &"
s "for i in \$(seq 95); do mariadb -S $W/g2.sock -N -e \"show status like 'wsrep_local_state_comment'\" 2>/dev/null | grep -q Synced && exit 0; sleep 0.1; done; exit 1"
c mariadb -S $W/g2.sock -e "show status like 'wsrep_cluster_size'; select count(*) from gal.t; insert into gal.t values (1000, 1)"
c mariadb -S $W/g1.sock -e "select * from gal.t where id = 1000; show status like 'wsrep_local_state_comment'"
s "tail -n 30 $W/g2.err | cut -c1-200"
c mariadb-admin -S $W/g2.sock shutdown
c mariadb-admin -S $W/g1.sock shutdown
s "for i in \$(seq 90); do [ -e $W/g1.pid ] || [ -e $W/g2.pid ] || break; sleep 0.1; done"
# galera_recovery (what the systemd unit runs first) reads the configuration: a drop-in for the run
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
printf '[galera]\nwsrep_on=ON\nwsrep_provider=/usr/lib/galera/libgalera_smm.so\nbinlog_format=ROW\nwsrep_cluster_address=gcomm://\ndatadir=%s/g1\n' $W > /etc/mysql/conf.d/zz-bat.cnf
cl galera_recovery
rm -f /etc/mysql/conf.d/zz-bat.cnf

# --- the image's default configuration (/etc/mysql, /var/lib/mysql, /run/mysqld) as the package sets it up
s 'mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld; mariadbd-safe > /tmp/mdbbat/default.out 2>&1 &'
waitsock /run/mysqld/mysqld.sock
c mariadb -e 'select version(), @@datadir, @@socket; show databases'
c mariadb-admin shutdown
s "for i in \$(seq 90); do pgrep -f mariadbd-safe >/dev/null || break; sleep 0.1; done; ls /run/mysqld"
echo BATTERY-END $B
