#!/bin/bash
# Battery of the `pgsql` image (tests/fixtures/server-images.sh: Debian bookworm's postgresql-15), for
# ../shared/corpus/battery.sh (BATTERY file argument):
#   ../shared/corpus/battery.sh pgsql /tmp/newimg/pgsql.docker.tar PROFILE tests/batteries/pgsql.sh
# An image-scope profile must give "0 denied". Base's battery first, then PostgreSQL the way DBAs and
# applications use it: the image's own start script, initdb (checksums, ICU, separate WAL directory), pg_ctl
# (start, stop in each mode, restart, reload, logrotate, kill, promote), the server under each shared-memory
# and dynamic-shared-memory kind, huge pages "try", each wal_sync_method, crash recovery (fsync walk and
# syncfs), parallel query / index build / vacuum, hash joins and sorts that spill, LLVM JIT, autovacuum,
# checkpoints, archiving, the syslogger with csv/json logs, preloaded modules (pg_stat_statements,
# auto_explain, pg_prewarm's worker, basebackup_to_shell), authentication (trust, scram, md5, peer, PAM),
# TCP and unix sockets, COPY to/from files and programs, file_fdw, dblink and postgres_fdw, large objects,
# LISTEN/NOTIFY, advisory locks and a deadlock, timeouts and cancellation, prepared transactions, tablespaces,
# pg_basebackup (plain, tar, compressed client- and server-side, to the server, to a shell), a streaming
# replica (synchronous, then promoted, the old primary rewound with pg_rewind and restarted as its standby),
# logical replication to a third cluster and logical decoding with pg_recvlogical, pg_receivewal,
# pg_dump/pg_restore (parallel) and pg_dumpall, the client tools (createdb & co, vacuumdb, reindexdb,
# clusterdb, pg_amcheck, vacuumlo, oid2name, pgbench with threads), psql's features, the offline tools
# (pg_controldata, pg_checksums, pg_resetwal on a copy, pg_waldump, postgres --single, pg_upgrade),
# pg_test_fsync / pg_test_timing, and Debian's postgresql-common wrappers (pg_createcluster, pg_ctlcluster,
# pg_lsclusters, pg_wrapper). Written for this battery, not taken from any workload. Each command is bounded by
# timeout; whether it succeeds does not matter.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
cl() {  # cl CMD ARGS...: as c, for the few commands that need more than 10 s
  B=$((B+1)); local l="$*"; l=${l//$'\n'/ }; echo "BATTERY-CMD $B ${l:0:150}"
  timeout -k 2 30 "$@" </dev/null 2>&1; echo "BATTERY-RC $?"; }
PG=/usr/lib/postgresql/15/bin
export PATH=$PG:$PATH
W=/tmp/pgbat
mkdir -p $W/archive $W/archive2 $W/ts $W/rwal $W/bb $W/srv /run/postgresql
chown -R postgres:postgres $W /run/postgresql; chmod 700 $W/ts
cd $W || exit 1
# as the postgres user: a command (setpriv), a snippet (su, as the image's start script does)
u() { c setpriv --reuid=postgres --regid=postgres --init-groups env HOME=/var/lib/postgresql PGHOST=$W PGUSER=postgres "$@"; }
ul() { cl setpriv --reuid=postgres --regid=postgres --init-groups env HOME=/var/lib/postgresql PGHOST=$W PGUSER=postgres "$@"; }
us() { c su postgres -s /bin/bash -c "cd $W; export PATH=$PATH PGHOST=$W PGUSER=postgres; $1"; }
q() { u psql -X -p 5433 "$@"; }         # psql on the first cluster, unix socket
qa() { q -d appdb "$@"; }
qt() { u psql -X -h 127.0.0.1 -p 5433 "$@"; }   # the same over TCP
f() { cat > "$W/$1"; chown postgres:postgres "$W/$1"; }   # a file for the postgres user (SQL, scripts)

# --- the image's own entry point: initdb of /var/lib/pg/data, then the server on 127.0.0.1:18314
c postgres --version
c pg_config
c postgres --describe-config
c postgres -D /var/lib/pg/data
s 'setsid /usr/local/bin/pg-start.sh > /tmp/pgstart.log 2>&1 & for i in $(seq 40); do pg_isready -h 127.0.0.1 -p 18314 -t 1 && break; sleep 0.2; done'
c cat /tmp/initdb.log /tmp/pgstart.log
c psql -X -h 127.0.0.1 -p 18314 -U postgres -c 'create table t (k text primary key, v int)' -c "insert into t values ('a',1),('b',2)" -c 'select sum(v) from t'
c psql -X -h /run/postgresql -p 18314 -U postgres -c 'create index ti on t(v)' -c 'vacuum analyze t' -c 'checkpoint' -c 'select count(*) from generate_series(1,200000) g join t on true where g % 7 = 0'
c /usr/bin/psql -X -h 127.0.0.1 -p 18314 -U postgres -l
c pg_isready -h 127.0.0.1 -p 18314
u pg_ctl -D /var/lib/pg/data status
u pg_ctl -D /var/lib/pg/data -w -t 8 -m fast stop

# --- a fresh cluster: checksums, UTF-8, its own settings
u initdb -D $W/d1 -k -A trust -U postgres -E UTF8 --locale=C.UTF-8 --wal-segsize=16
cat >> $W/d1/postgresql.conf <<CONF
port = 5433
listen_addresses = '127.0.0.1'
unix_socket_directories = '$W,/run/postgresql'
max_connections = 50
shared_buffers = 32MB
huge_pages = try
shared_memory_type = mmap
dynamic_shared_memory_type = posix
work_mem = 1MB
maintenance_work_mem = 1MB
max_worker_processes = 16
max_parallel_workers = 8
max_parallel_workers_per_gather = 4
max_parallel_maintenance_workers = 2
max_prepared_transactions = 10
wal_level = logical
wal_log_hints = on
wal_compression = lz4
wal_sync_method = fdatasync
wal_buffers = 1MB
wal_writer_delay = 50ms
wal_writer_flush_after = 64kB
backend_flush_after = 64kB
bgwriter_delay = 50ms
bgwriter_flush_after = 128kB
checkpoint_timeout = 30s
checkpoint_flush_after = 128kB
max_wal_size = 256MB
min_wal_size = 64MB
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 128MB
archive_mode = on
archive_command = 'test ! -f $W/archive/%f && cp %p $W/archive/%f'
autovacuum_naptime = 1s
autovacuum_vacuum_threshold = 50
autovacuum_analyze_threshold = 50
autovacuum_vacuum_insert_threshold = 100
autovacuum_max_workers = 2
jit = on
jit_above_cost = 100000
shared_preload_libraries = 'pg_stat_statements,auto_explain,pg_prewarm,basebackup_to_shell'
auto_explain.log_min_duration = 500
pg_prewarm.autoprewarm_interval = 5s
basebackup_to_shell.command = 'cat > $W/shell_%f'
track_io_timing = on
track_functions = all
track_commit_timestamp = on
effective_io_concurrency = 16
maintenance_io_concurrency = 16
logging_collector = on
log_directory = 'log'
log_destination = 'stderr,csvlog,jsonlog'
log_checkpoints = on
log_connections = on
log_disconnections = on
log_autovacuum_min_duration = 0
log_temp_files = 0
log_lock_waits = on
deadlock_timeout = 200ms
logical_decoding_work_mem = 64kB
hot_standby_feedback = on
CONF
f d1hba <<HBA
local   all          app                       md5
local   peerdb       all                       peer map=m
local   all          all                       trust
host    all          app       127.0.0.1/32    scram-sha-256
host    all          pamu      127.0.0.1/32    pam
host    all          all       127.0.0.1/32    trust
local   replication  all                       trust
host    replication  all       127.0.0.1/32    trust
HBA
cp $W/d1hba $W/d1/pg_hba.conf; printf 'm root postgres\nm postgres postgres\n' >> $W/d1/pg_ident.conf
u pg_ctl -D $W/d1 -l $W/d1.log -w -t 8 start
c cat $W/d1.log
u pg_ctl -D $W/d1 status
c pg_isready -h 127.0.0.1 -p 5433
q -c 'select version()' -c 'show shared_memory_type' -c 'show huge_pages' -c 'show data_checksums'
u createdb -p 5433 appdb
u createdb -p 5433 -T template0 -E UTF8 --locale=C.UTF-8 -S file_copy scratch
u createdb -p 5433 -S wal_log -O postgres scratch2
u createuser -p 5433 -d -r rolex
u dropuser -p 5433 rolex
u dropdb -p 5433 scratch2
c /usr/bin/psql -X -h $W -p 5433 -U postgres -l

# --- data, indexes, parallel query (forced), spills, JIT
f setup.sql <<'SQL'
create extension if not exists pg_stat_statements;
create extension if not exists pgcrypto;
create extension if not exists "uuid-ossp";
create extension if not exists amcheck;
create extension if not exists pg_buffercache;
create extension if not exists pg_prewarm;
create extension if not exists pageinspect;
create extension if not exists pgstattuple;
create extension if not exists pg_visibility;
create extension if not exists pg_walinspect;
create extension if not exists hstore;
create extension if not exists pg_trgm;
create table big as select g as id, md5(g::text) as s, g % 100 as k, now() as ts from generate_series(1, 300000) g;
alter table big add primary key (id);
create table kv (k int primary key, v text, h hstore);
insert into kv select g, repeat('x', g % 50), hstore('a', g::text) from generate_series(1, 20000) g;
create table lt (id int primary key, payload text);
create function addone(int) returns int language plpgsql parallel safe as $$ begin return $1 + 1; end $$;
create function safediv(int, int) returns int language plpgsql as $$ begin return $1 / $2; exception when division_by_zero then return 0; end $$;
create view bigk as select k, count(*) from big group by k;
create materialized view bigm as select k, sum(id) from big group by k;
analyze;
SQL
qa -f $W/setup.sql
f par.sql <<'SQL'
set parallel_setup_cost = 0; set parallel_tuple_cost = 0; set min_parallel_table_scan_size = 0;
set min_parallel_index_scan_size = 0; set force_parallel_mode = on;
explain (analyze, costs off) select k, count(*), avg(id) from big group by k;
explain (analyze, costs off) select count(*) from big where s like 'ab%';
select count(*) from big a join big b using (id) where a.k < 50;
set enable_parallel_hash = on; set work_mem = '64kB';
explain (analyze, costs off, timing off) select count(*) from big a join big b on a.s = b.s;
select id from big order by s desc limit 3;
set enable_seqscan = off; explain (analyze, costs off) select count(*) from big where id between 1000 and 200000;
set enable_seqscan = on;
create index on big (s);
create index on big (k) include (id);
vacuum (parallel 2, verbose) big;
reindex (verbose) table concurrently big;
refresh materialized view bigm;
select * from bigk order by k limit 2;
select sum(safediv(id, k)) from big where id < 1000;
SQL
qa -f $W/par.sql
f jit.sql <<'SQL'
set jit = on; set jit_above_cost = 0; set jit_inline_above_cost = 0; set jit_optimize_above_cost = 0;
set jit_expressions = on; set jit_tuple_deforming = on;
explain (analyze, verbose) select sum(id * 2 + k), max(length(s)) from big where k % 3 = 1;
set parallel_setup_cost = 0; set parallel_tuple_cost = 0; set force_parallel_mode = on;
explain (analyze) select k, sum(addone(id)) from big group by k having count(*) > 10;
select pg_jit_available();
SQL
qa -f $W/jit.sql
f spill.sql <<'SQL'
set work_mem = '64kB'; set max_parallel_workers_per_gather = 0; set log_temp_files = 0;
explain (analyze, costs off) select s from big order by s offset 299990;
explain (analyze, costs off) select s, count(*) from big group by s having count(*) > 1;
set temp_file_limit = '200kB';
select s from big order by s offset 299990;
SQL
qa -f $W/spill.sql

# --- functions that reach files, randomness, the server's state
f funcs.sql <<SQL
select gen_random_uuid(), uuid_generate_v1(), uuid_generate_v4(), gen_random_bytes(16), crypt('pw', gen_salt('bf', 4));
select pg_read_file('/etc/hostname'), pg_stat_file('postgresql.conf');
select * from pg_ls_dir('.') limit 5;
select * from pg_ls_waldir() limit 3;
select * from pg_ls_logdir() limit 3;
select * from pg_ls_tmpdir();
select * from pg_ls_archive_statusdir() limit 3;
select pg_current_logfile(), pg_current_logfile('csvlog'), pg_current_logfile('jsonlog');
select pg_rotate_logfile();
select pg_log_backend_memory_contexts(pg_backend_pid());
select pg_prewarm('big'), pg_prewarm('big', 'read'), pg_prewarm('big', 'prefetch');
select autoprewarm_dump_now();
select count(*) from pg_buffercache;
select * from pgstattuple('big');
select * from pg_visibility_map_summary('big');
select * from bt_index_check('big_pkey', true);
select * from page_header(get_raw_page('big', 0));
select count(*) from pg_get_wal_records_info(pg_current_wal_lsn() - 100000, pg_current_wal_lsn());
select query, calls from pg_stat_statements order by calls desc limit 3;
select pg_size_pretty(pg_database_size('appdb')), pg_relation_filepath('big');
select * from pg_stat_bgwriter; select * from pg_stat_wal; select * from pg_stat_archiver;
select pg_stat_reset(); select pg_stat_clear_snapshot();
select pg_reload_conf();
select * from pg_file_settings where error is not null;
select txid_current(), pg_current_xact_id(), pg_xact_commit_timestamp(xmin) from kv limit 1;
SQL
qa -f $W/funcs.sql

# --- authentication: scram and md5 passwords, peer with an ident map, PAM (pam_unix and unix_chkpwd)
c useradd -m pamu
s 'echo pamu:secret | chpasswd'
q -c "set password_encryption = 'scram-sha-256'; create role app login password 'apppw'" -c "create role pamu login" -c 'create database peerdb'
q -c "set password_encryption = 'md5'; create role app2 login password 'x'" -c "alter role app set work_mem = '2MB'"
c env PGPASSWORD=apppw psql -X -h 127.0.0.1 -p 5433 -U app -d appdb -c 'select current_user, inet_server_addr()'
c env PGPASSWORD=wrong psql -X -h 127.0.0.1 -p 5433 -U app -d appdb -c 'select 1'
c env PGPASSWORD=apppw psql -X -h $W -p 5433 -U app -d appdb -c 'select current_user'
c env PGPASSWORD=secret psql -X -h 127.0.0.1 -p 5433 -U pamu -d appdb -c 'select current_user'
c env PGPASSWORD=bad psql -X -h 127.0.0.1 -p 5433 -U pamu -d appdb -c 'select 1'
c psql -X -h $W -p 5433 -U postgres -d peerdb -c 'select current_user, pg_backend_pid()'
c psql -X -h /run/postgresql -p 5433 -U postgres -d appdb -c 'select 1'
qt -c 'select inet_client_addr(), inet_server_port()'
c env PGPASSWORD=x psql -X "postgresql://app2@127.0.0.1:5433/appdb?connect_timeout=3&application_name=bat" -c 'select current_setting($$application_name$$)'

# --- COPY: files and programs, binary, freeze; file_fdw, dblink, postgres_fdw
f copy.sql <<SQL
copy big to '$W/big.csv' with (format csv, header);
copy (select * from big where k < 10) to '$W/big.bin' with (format binary);
copy (select id, s from big where k = 1) to program 'gzip -c > $W/big1.csv.gz' with (format csv);
create table big2 (like big);
copy big2 from '$W/big.csv' with (format csv, header);
copy big2 from '$W/big.bin' with (format binary);
create table nums (n int);
copy nums from program 'seq 1 5000';
begin; create table frz (id int, s text); copy frz from program 'zcat $W/big1.csv.gz' with (format csv, freeze); commit;
copy (select k, v from kv limit 5) to stdout with (format text);
create extension if not exists file_fdw;
create server files foreign data wrapper file_fdw;
create foreign table fbig (id int, s text, k int, ts timestamptz) server files options (filename '$W/big.csv', format 'csv', header 'true');
create foreign table fprog (line text) server files options (program 'ls -l /usr/lib/postgresql/15/bin');
select count(*), max(id) from fbig;
select count(*) from fprog;
create extension if not exists dblink;
select * from dblink('host=127.0.0.1 port=5433 dbname=appdb user=postgres', 'select count(*) from big') as t(n bigint);
select dblink_connect('c1', 'host=$W port=5433 dbname=postgres user=postgres');
select dblink_send_query('c1', 'select pg_sleep(0.2)'); select * from dblink_get_result('c1') as t(x text); select dblink_disconnect('c1');
create extension if not exists postgres_fdw;
create server loop foreign data wrapper postgres_fdw options (host '127.0.0.1', port '5433', dbname 'appdb', async_capable 'true');
create user mapping for postgres server loop options (user 'postgres');
create schema remote; import foreign schema public limit to (big, kv) from server loop into remote;
select count(*) from remote.big r join kv using (k) where r.k < 5;
explain (analyze, verbose, costs off) select * from remote.big where id < 10 union all select * from remote.big where id > 299990;
SQL
qa -f $W/copy.sql
c ls -la $W

# --- psql features: \copy, \!, pipes, \gexec, \gset, \crosstabview, \lo_*, \if, \timing, \include
f psqlfeat.sql <<PSQL
\timing on
\set ON_ERROR_STOP 0
\copy kv to '$W/kv.txt'
\copy (select * from big where k = 2) to '$W/k2.csv' with csv header
create table kv2 (like kv);
\copy kv2 from '$W/kv.txt'
\copy kv2 (k, v) from program 'seq 30001 30100 | sed "s/\$/\tz/"'
\! ls -la $W/kv.txt; id
\o | wc -l
select * from big limit 500;
\o $W/out.txt
select * from kv limit 10;
\o
select count(*) as n from kv \gset
\echo rows :n
select format('analyze %I', tablename) from pg_tables where schemaname = 'public' limit 3 \gexec
select k % 3 as a, k % 2 as b, count(*) from kv group by 1, 2 \crosstabview a b count
\lo_import /etc/os-release
\lo_list
select max(oid) as lo from pg_largeobject_metadata \gset
\lo_export :lo '$W/lo_out.txt'
\if :{?n}
  \echo nonzero
\endif
\d+ big
\dx
\l+
\dt+
\df+ addone
\conninfo
\setenv BATVAR 1
\! echo \$BATVAR
select 1 \g $W/g.txt
select 2 \g | cat
\! echo 'select 42;' > $W/inc.sql
\include $W/inc.sql
\pset format csv
select * from kv limit 3;
\pset format html
select * from kv limit 2;
PSQL
qa -f $W/psqlfeat.sql
c cat $W/out.txt $W/lo_out.txt
u psql -X -p 5433 -d appdb -c 'select 1' -c 'select 2' --csv
s "echo 'select count(*) from kv;' | su postgres -s /bin/sh -c 'psql -X -h $W -p 5433 -d appdb'"

# --- large objects on the server, vacuumlo
f lo.sql <<SQL
create table docs (id int, doc oid);
insert into docs values (1, lo_import('/etc/passwd')), (2, lo_from_bytea(0, 'hello'::bytea)), (3, lo_create(0));
select lo_export(doc, '$W/lo_' || id) from docs where id = 1;
begin;
select lo_open(doc, 393216) as fd from docs where id = 3 \gset
select lowrite(:fd, repeat('abc', 10000)::bytea), lo_lseek64(:fd, 10, 0), loread(:fd, 5), lo_truncate(:fd, 100);
select lo_close(:fd);
commit;
select lo_get(doc) from docs where id = 2;
select lo_unlink(doc) from docs where id = 2;
delete from docs where id = 3;
SQL
qa -f $W/lo.sql
u vacuumlo -p 5433 -n -v appdb
u vacuumlo -p 5433 -v appdb
u oid2name -p 5433
u oid2name -p 5433 -d appdb -t big

# --- LISTEN/NOTIFY, advisory locks, a deadlock, lock and statement timeouts, cancel and terminate
f listen.sql <<'SQL'
listen ch;
select pg_sleep(1.5);
select 'after';
SQL
f notify.sql <<'SQL'
notify ch, 'hello';
select pg_notify('ch', 'from function');
begin; notify ch, 'in transaction'; commit;
SQL
us "psql -X -p 5433 -d appdb -f listen.sql & sleep 0.5; psql -X -p 5433 -d appdb -f notify.sql; wait"
f lockA.sql <<'SQL'
select pg_advisory_lock(1);
select pg_sleep(0.5);
select pg_advisory_lock(2);
select pg_advisory_unlock_all();
SQL
f lockB.sql <<'SQL'
select pg_advisory_lock(2);
select pg_sleep(0.5);
select pg_advisory_lock(1);
select pg_advisory_unlock_all();
SQL
us "psql -X -p 5433 -d appdb -f lockA.sql & psql -X -p 5433 -d appdb -f lockB.sql; wait"
f locks.sql <<'SQL'
select pg_try_advisory_lock(7), pg_advisory_lock_shared(8), pg_try_advisory_xact_lock(9);
select * from pg_locks where locktype = 'advisory';
begin; select pg_advisory_xact_lock(10); select * from kv where k = 1 for update; commit;
set statement_timeout = '200ms'; select pg_sleep(2);
reset statement_timeout;
SQL
qa -f $W/locks.sql
f holdrow.sql <<'SQL'
begin; select * from kv where k = 5 for update; select pg_sleep(1.5); commit;
SQL
f waitrow.sql <<'SQL'
set lock_timeout = '300ms'; update kv set v = 'x' where k = 5;
set lock_timeout = 0; update kv set v = 'y' where k = 5;
SQL
us "psql -X -p 5433 -d appdb -f holdrow.sql & sleep 0.3; psql -X -p 5433 -d appdb -f waitrow.sql; wait"
us "psql -X -p 5433 -c 'select pg_sleep(5)' & psql -X -p 5433 -c 'set idle_in_transaction_session_timeout = 300' -c 'begin' -c 'select pg_sleep(0.6)' -c 'select 1' & sleep 0.5; psql -X -p 5433 -c \"select pg_cancel_backend(pid) from pg_stat_activity where query like '%pg_sleep(5)%' and pid <> pg_backend_pid()\"; wait"
us "psql -X -p 5433 -c 'select pg_sleep(5)' & sleep 0.5; psql -X -p 5433 -c \"select pg_terminate_backend(pid, 1000) from pg_stat_activity where query like '%pg_sleep(5)%' and pid <> pg_backend_pid()\"; wait"
f twophase.sql <<'SQL'
begin; insert into kv values (900001, 'p'); prepare transaction 'tx1';
begin; insert into kv values (900002, 'p'); prepare transaction 'tx2';
checkpoint;
select gid from pg_prepared_xacts;
commit prepared 'tx1'; rollback prepared 'tx2';
begin; savepoint a; insert into kv values (900003, 'q'); rollback to a; release a; commit;
set synchronous_commit = off; insert into kv values (900004, 'async');
SQL
qa -f $W/twophase.sql

# --- tablespaces (and temporary files in one)
qa -c "create tablespace ts location '$W/ts'" -c "alter tablespace ts set (random_page_cost = 1.5)"
f tbs.sql <<'SQL'
create table tt (id int, s text) tablespace ts;
insert into tt select g, md5(g::text) from generate_series(1, 20000) g;
create index tt_s on tt (s) tablespace ts;
alter table big2 set tablespace ts;
set temp_tablespaces = 'ts'; set work_mem = '64kB';
select count(distinct s) from tt;
select spcname, pg_tablespace_size(spcname), pg_tablespace_location(oid) from pg_tablespace;
create database tsdb tablespace ts;
SQL
qa -f $W/tbs.sql
c find $W/ts -maxdepth 3

# --- checkpoints, WAL switches, autovacuum at work
qa -c 'update kv set v = v || 1' -c 'delete from big2 where k < 20' -c 'insert into nums select generate_series(1, 30000)'
q -c 'checkpoint' -c 'select pg_switch_wal()' -c 'select pg_create_restore_point($$bat$$)' -c 'select pg_walfile_name(pg_current_wal_lsn())'
c sleep 3
qa -c 'select relname, last_autovacuum, last_autoanalyze, autovacuum_count from pg_stat_user_tables order by relname'
q -c 'select pid, backend_type, wait_event from pg_stat_activity'
c ls -la $W/archive $W/d1/log

# --- client maintenance tools
u vacuumdb -p 5433 -a -z -j 2
u vacuumdb -p 5433 -d appdb --analyze-in-stages
u vacuumdb -p 5433 -d appdb -F -t kv -v
u vacuumdb -p 5433 -d appdb --parallel=2 -t big
u reindexdb -p 5433 -d appdb -j 2
u reindexdb -p 5433 -d appdb --concurrently -t kv
u reindexdb -p 5433 -d appdb -s
q -d appdb -c 'cluster kv using kv_pkey'
u clusterdb -p 5433 -a -v
u pg_amcheck -p 5433 -d appdb -j 2 --heapallindexed --progress
u pg_amcheck -p 5433 --all --install-missing

# --- pgbench: init, several clients and threads, prepared, select-only, rate-limited, scripts with \shell
u createdb -p 5433 benchdb
u pgbench -p 5433 -i -s 2 -q --foreign-keys --partitions=2 benchdb
u pgbench -p 5433 -c 4 -j 2 -T 3 -P 1 -r benchdb
u pgbench -h 127.0.0.1 -p 5433 -c 4 -j 2 -t 300 -M prepared -S benchdb
u pgbench -p 5433 -c 2 -j 2 -T 2 -R 200 -L 50 --progress-timestamp -P 1 benchdb
u pgbench -p 5433 -c 2 -j 1 -t 50 -C -M extended -b simple-update benchdb
f bench.sql <<'SQL'
\set aid random(1, 200000)
\set d random_exponential(1, 100, 3)
\sleep 1 ms
\shell true
\setshell r echo 7
select abalance from pgbench_accounts where aid = :aid \gset
begin;
update pgbench_accounts set abalance = abalance + :d where aid = :aid;
end;
SQL
u pgbench -p 5433 -c 3 -j 3 -t 40 -n -f $W/bench.sql benchdb
u pgbench -p 5433 -i -I dtGvp -s 1 --unlogged-tables benchdb

# --- replication slots, logical decoding (pg_recvlogical), pg_receivewal
u pg_recvlogical -p 5433 -d appdb --slot=dec1 --create-slot -P test_decoding
qa -c "insert into lt select g, repeat('p', 200) from generate_series(1, 2000) g" -c 'update lt set payload = payload || 1 where id < 100'
us 'pg_recvlogical -p 5433 -d appdb --slot=dec1 --start -o include-xids=1 -o include-timestamp=1 -f decoded.txt -E $(psql -X -p 5433 -Atc "select pg_current_wal_lsn()") -v; wc -l decoded.txt'
qa -c "select * from pg_logical_slot_peek_changes('dec1', null, 10)" -c "select pg_replication_slot_advance('dec1', pg_current_wal_lsn())"
u pg_recvlogical -p 5433 -d appdb --slot=dec1 --drop-slot
us 'pg_receivewal -p 5433 -D rwal --slot=rw1 --create-slot; pg_receivewal -p 5433 -D rwal --slot=rw1 --compress=lz4 --synchronous -v -E $(psql -X -p 5433 -Atc "select pg_current_wal_lsn()"); ls -la rwal'
us 'pg_receivewal -p 5433 -D rwal --slot=rw1 --compress=gzip:5 -n -v -E $(psql -X -p 5433 -Atc "select pg_current_wal_lsn()")'
u pg_receivewal -p 5433 --slot=rw1 --drop-slot

# --- base backups: plain with a tablespace map, tar+gzip, server-side lz4, client zstd, to the server, to a shell
u pg_basebackup -h 127.0.0.1 -p 5433 -D $W/rep -R -X stream -c fast -C -S rep1 -P -T $W/ts=$W/ts_rep --manifest-checksums=SHA256
u pg_verifybackup $W/rep
u pg_basebackup -p 5433 -D $W/bb/tar -Ft -z -X fetch -c fast --manifest-checksums=CRC32C
u pg_basebackup -p 5433 -D $W/bb/lz4 -Ft --compress=server-lz4 -X stream -c fast
u pg_basebackup -p 5433 -D $W/bb/zstd -Ft --compress=client-zstd:level=1 -X stream -c fast --no-manifest
u pg_basebackup -h 127.0.0.1 -p 5433 --target=server:$W/srv -X fetch -c fast
u pg_basebackup -p 5433 --target=shell -X none -c fast
u pg_basebackup -p 5433 --target=blackhole -X none -c fast --max-rate=100M
c ls -laR $W/bb $W/srv
c ls $W

# --- a streaming replica: synchronous, hot standby queries, archive_mode=always, recovery prefetch
cat >> $W/rep/postgresql.conf <<CONF
port = 5434
shared_memory_type = sysv
dynamic_shared_memory_type = mmap
archive_mode = always
archive_command = 'cp %p $W/archive2/%f'
restore_command = 'cp $W/archive/%f %p'
recovery_prefetch = on
wal_receiver_status_interval = 1s
CONF
u pg_ctl -D $W/rep -l $W/rep.log -w -t 8 start
c cat $W/rep.log
q -c "alter system set synchronous_standby_names = '*'" -c 'select pg_reload_conf()'
c sleep 1
qa -c "insert into lt select g, 'sync' from generate_series(3001, 3100) g" -c 'select * from pg_stat_replication'
u psql -X -p 5434 -d appdb -c 'select pg_is_in_recovery(), count(*) from lt' -c 'select * from pg_stat_wal_receiver' -c 'select * from pg_stat_recovery_prefetch'
u psql -X -p 5434 -d appdb -c 'set parallel_setup_cost = 0' -c 'set parallel_tuple_cost = 0' -c 'set force_parallel_mode = on' -c 'select k, count(*) from big group by k limit 3'
u psql -X -h 127.0.0.1 -p 5434 -d appdb -c 'set jit_above_cost = 0' -c 'select sum(id) from big'
q -c "alter system reset synchronous_standby_names" -c 'select pg_reload_conf()'

# --- logical replication to a third cluster (ICU collation, separate WAL directory, 4 MB segments)
u initdb -D $W/sub --waldir=$W/subwal -A trust -U postgres --locale-provider=icu --icu-locale=und -E UTF8 --locale=C.UTF-8 --wal-segsize=4 -N
cat >> $W/sub/postgresql.conf <<CONF
port = 5435
listen_addresses = ''
unix_socket_directories = '$W'
shared_buffers = 16MB
dynamic_shared_memory_type = sysv
logical_decoding_work_mem = 64kB
max_logical_replication_workers = 4
max_sync_workers_per_subscription = 2
CONF
u pg_ctl -D $W/sub -l $W/sub.log -w -t 8 start
qa -c 'create publication pub for table lt, kv' -c "alter table lt replica identity full"
u psql -X -p 5435 -c 'create table lt (id int primary key, payload text)' -c 'create extension hstore' -c 'create table kv (k int primary key, v text, h hstore)'
u psql -X -p 5435 -c "create subscription s1 connection 'host=127.0.0.1 port=5433 dbname=appdb user=postgres' publication pub with (streaming = on, binary = true)"
c sleep 2
qa -c "insert into lt select g, repeat('s', 500) from generate_series(5001, 9000) g" -c "update lt set payload = 'u' where id > 8000" -c 'delete from kv where k > 19000'
c sleep 2
u psql -X -p 5435 -c 'select count(*) from lt' -c 'select count(*) from kv' -c 'select * from pg_stat_subscription' -c "select 'a' < 'B' collate \"und-x-icu\""
u psql -X -p 5435 -c 'alter subscription s1 disable' -c 'alter subscription s1 set (slot_name = none)' -c 'drop subscription s1'
qa -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_type = 'logical'"
u pg_ctl -D $W/sub -w -t 8 -m smart stop

# --- pg_dump / pg_restore / pg_dumpall
u pg_dump -p 5433 -Fc -f $W/app.dump appdb
u pg_dump -p 5433 -Fd -j 2 -Z 3 -f $W/app.dir appdb
u pg_dump -p 5433 -Ft -f $W/app.tar -t kv -t lt appdb
us 'pg_dump -p 5433 --inserts --rows-per-insert=100 -n public -T big -T big2 appdb | gzip > app.sql.gz'
u pg_dump -h 127.0.0.1 -p 5433 -s -f $W/schema.sql appdb
u pg_restore -l $W/app.dump
u createdb -p 5433 restored
ul pg_restore -p 5433 -j 2 -d restored $W/app.dir
u pg_restore -f $W/app.restore.sql $W/app.tar
u pg_restore -p 5433 -d restored -c --if-exists -t kv $W/app.dump
u pg_dumpall -p 5433 -g -f $W/globals.sql
u pg_dumpall -p 5433 --exclude-database=appdb --exclude-database=restored -f $W/all.sql
q -d scratch -f $W/globals.sql

# --- failover: promote the replica, rewind the old primary, run it as the new primary's standby, promote it back
u pg_ctl -D $W/rep -w -t 8 promote
u psql -X -p 5434 -d appdb -c 'select pg_is_in_recovery()' -c "insert into lt values (99999, 'after promote')" -c 'checkpoint'
qa -c "insert into lt select g, 'diverged' from generate_series(200001, 203000) g" -c 'update kv set v = v where k < 500' -c 'checkpoint'
u pg_ctl -D $W/d1 -w -t 8 -m fast stop
u pg_rewind -D $W/d1 --source-server="host=$W port=5434 user=postgres dbname=postgres" -R -P --dry-run
u pg_rewind -D $W/d1 --source-server="host=$W port=5434 user=postgres dbname=postgres" -R -P
s "printf 'port = 5433\nshared_memory_type = mmap\ndynamic_shared_memory_type = posix\narchive_mode = on\narchive_command = %s\n' \"'cp %p $W/archive/%f'\" >> $W/d1/postgresql.conf; echo \"primary_slot_name = ''\" >> $W/d1/postgresql.auto.conf; tail -n 8 $W/d1/postgresql.conf $W/d1/postgresql.auto.conf; ls $W/d1"
u pg_ctl -D $W/d1 -l $W/d1.log -w -t 8 start
c sleep 1
u psql -X -p 5433 -d appdb -c 'select pg_is_in_recovery()' -c 'select count(*) from lt where id = 99999' -c 'select * from pg_stat_wal_receiver'
u psql -X -p 5434 -c 'select * from pg_stat_replication'
u pg_ctl -D $W/d1 -w -t 8 promote
u psql -X -p 5433 -d appdb -c 'select pg_is_in_recovery(), timeline_id from pg_control_checkpoint()'
u pg_ctl -D $W/rep -w -t 8 -m fast stop
q -c 'select pg_drop_replication_slot(slot_name) from pg_replication_slots' -c 'select * from pg_replication_slots'

# (PAM with pam_unix reading /etc/shadow itself: the server's user in group shadow, taken at the next start)
c usermod -aG shadow postgres
# --- the server under other shared-memory kinds, each wal_sync_method, WAL without archiving (O_DIRECT), reloads, signals
u pg_ctl -D $W/d1 -w -t 8 -m fast restart -o '-c shared_memory_type=sysv -c dynamic_shared_memory_type=sysv -c huge_pages=try'
qa -c 'show shared_memory_type' -c 'show dynamic_shared_memory_type' -f $W/par.sql
c ipcs -a
c env PGPASSWORD=secret psql -X -h 127.0.0.1 -p 5433 -U pamu -d appdb -c 'select current_user, session_user'
u pg_ctl -D $W/d1 -w -t 8 -m fast restart -o '-c dynamic_shared_memory_type=mmap -c min_dynamic_shared_memory=8MB'
qa -c 'show dynamic_shared_memory_type' -f $W/par.sql
c ls -la $W/d1/pg_dynshmem
u pg_ctl -D $W/d1 -w -t 8 -m fast restart -o '-c dynamic_shared_memory_type=posix -c huge_pages=off -c wal_level=minimal -c max_wal_senders=0 -c archive_mode=off -c wal_sync_method=open_datasync'
qa -c 'show wal_level' -c 'create table minimal_t as select * from nums' -c 'insert into kv values (900100, $$m$$)' -c 'checkpoint'
u pg_ctl -D $W/d1 -w -t 8 -m fast restart -o '-c huge_pages=on'
u pg_ctl -D $W/d1 -l $W/d1.log -w -t 8 start
f walsync.sql <<'SQL'
select pg_reload_conf(); select pg_sleep(0.3); show wal_sync_method;
insert into nums select generate_series(1, 2000); insert into kv values (nextval('s1')::int, 'w');
checkpoint;
SQL
qa -c 'create sequence s1 start 1000000'
for m in fsync fdatasync open_sync open_datasync; do
  q -c "alter system set wal_sync_method = '$m'"
  qa -f $W/walsync.sql
done
u pg_ctl -D $W/d1 reload
u pg_ctl -D $W/d1 logrotate
s 'su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl kill HUP $(head -1 /tmp/pgbat/d1/postmaster.pid)"'
q -c "alter system set log_min_messages = 'debug1'" -c 'select pg_reload_conf()' -c 'select 1' -c 'alter system reset log_min_messages' -c 'select pg_reload_conf()'
u psql -X -p 5433 -c 'select pg_backup_start($$bat$$, true)' -c 'select * from pg_backup_stop(true)'
# crash recovery, walking the data directory with fsync, then with syncfs
u pg_ctl -D $W/d1 -w -t 8 -m immediate stop
u pg_ctl -D $W/d1 -l $W/d1.log -w -t 8 start
qa -c 'select count(*) from kv' -c 'select pg_current_wal_lsn()'
u pg_ctl -D $W/d1 -w -t 8 -m immediate stop
u pg_ctl -D $W/d1 -l $W/d1.log -w -t 8 start -o '-c recovery_init_sync_method=syncfs'
c tail -n 20 $W/d1.log
qa -c 'insert into kv values (900200, $$z$$)' -c 'select pg_switch_wal()' -c 'checkpoint'

# --- offline tools on the stopped cluster and on a copy
u pg_ctl -D $W/d1 -w -t 8 -m smart stop
u pg_controldata $W/d1
u pg_checksums --check -P $W/d1
s "cp -a $W/d1 $W/d1copy && rm -f $W/d1copy/pg_tblspc/* && ls $W/d1copy"
u pg_checksums --disable $W/d1copy
u pg_checksums --enable -P -N $W/d1copy
us "printf 'select count(*) from kv;\nvacuum kv;\ncheckpoint;\n' | postgres --single -D $W/d1copy appdb"
u pg_resetwal -n $W/d1copy
u pg_resetwal -x 10000 -o 100000 -e 2 $W/d1copy
u pg_resetwal -f $W/d1copy
u pg_resetwal --wal-segsize=32 $W/d1copy
u pg_controldata $W/d1copy
us "pg_waldump --stats=record -p $W/d1/pg_wal -t \$(pg_controldata $W/d1 | awk '/Latest checkpoint.s TimeLineID/{print \$NF}') -s \$(pg_controldata $W/d1 | awk '/REDO location/{print \$NF}') | tail -15"
us "pg_waldump -p $W/archive --stats=record \$(ls $W/archive | grep -E '^[0-9A-F]{24}\$' | head -1) | tail -15"
us "pg_waldump -p $W/archive -r Heap -b -n 100 \$(ls $W/archive | grep -E '^[0-9A-F]{24}\$' | tail -1) | tail -5"
c postgres -C shared_buffers -D $W/d1
u postgres -C data_checksums -D $W/d1
u pg_archivecleanup -n $W/archive $(ls $W/archive | grep -E '^[0-9A-F]{24}$' | tail -1)
u pg_archivecleanup -d $W/archive $(ls $W/archive | grep -E '^[0-9A-F]{24}$' | sed -n 3p)

# --- pg_upgrade: check against the big cluster, then a real upgrade (--link) of a small one
u initdb -D $W/up -k -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync
u initdb -D $W/upold -k -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync
u pg_ctl -D $W/upold -l $W/upold.log -w -t 8 start -o "-p 5442 -k $W -c listen_addresses=127.0.0.1"
u psql -X -p 5442 -c 'create table a as select generate_series(1, 1000) g' -c 'create index on a (g)' -c 'create extension pgcrypto' -c 'create view av as select count(*) from a'
u pg_ctl -D $W/upold -w -t 8 stop
s "mkdir -p $W/upgrade && chown postgres:postgres $W/upgrade"
cl su postgres -s /bin/sh -c "cd $W/upgrade && pg_upgrade --check -b $PG -B $PG -d $W/d1 -D $W/up -p 5440 -P 5441 -s $W"
cl su postgres -s /bin/sh -c "cd $W/upgrade && pg_upgrade --check --clone -b $PG -B $PG -d $W/upold -D $W/up -p 5440 -P 5441 -s $W"
cl su postgres -s /bin/sh -c "cd $W/upgrade && pg_upgrade -b $PG -B $PG -d $W/upold -D $W/up -p 5440 -P 5441 -s $W --link -j 2"
c ls $W/up $W/upgrade
u pg_ctl -D $W/up -l $W/up.log -w -t 8 start -o "-p 5443 -k $W -c listen_addresses="
u psql -X -p 5443 -c 'select count(*) from a' -c 'select * from av'
u vacuumdb -p 5443 --all --analyze-in-stages
u pg_ctl -D $W/up -w -t 8 -m fast stop
u pg_ctl init -D $W/ctlinit -o '-A trust --no-sync'

# --- Debian's postgresql-common: pg_createcluster, pg_ctlcluster, pg_lsclusters, pg_conftool, pg_wrapper
c pg_createcluster 15 bat -p 5436 -- -A trust
c pg_lsclusters
c pg_conftool 15 bat show all
c pg_ctlcluster 15 bat start
c pg_lsclusters
s 'su postgres -c "psql -X -p 5436 -c \"show ssl\" -c \"select ssl, version from pg_stat_ssl where pid = pg_backend_pid()\""'
c env PGSSLMODE=require psql -X -h 127.0.0.1 -p 5436 -U postgres -c 'select version, cipher from pg_stat_ssl where pid = pg_backend_pid()'
c env PGCLUSTER=15/bat /usr/bin/psql -X -U postgres -c 'select current_setting($$cluster_name$$)'
c pg_ctlcluster 15 bat reload
c pg_ctlcluster 15 bat stop
c pg_dropcluster 15 bat

# --- timing tools, then the last server stopped
u pg_test_timing -d 1
ul pg_test_fsync -s 1 -f $W/fsync.test
u pg_ctl -D $W/d1 -l $W/d1.log -w -t 8 start
qa -c 'select count(*) from kv' -c 'checkpoint'
u pg_ctl -D $W/d1 -w -t 8 -m fast stop
u pg_ctl -D $W/d1 status
c ls -la $W/d1/log
s "tail -n 2 $W/d1/log/*.json $W/d1/log/*.csv | cut -c1-300"
echo BATTERY-END $B
