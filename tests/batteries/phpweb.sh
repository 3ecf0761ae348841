#!/bin/bash
# Battery of the `phpweb` image of tests/fixtures/server-images.sh (Debian bookworm, php-cli 8.2), for
# ../shared/corpus/battery.sh:
#   ../shared/corpus/battery.sh phpweb /tmp/newimg/phpweb.docker.tar PROFILE tests/batteries/phpweb.sh
# An image-scope profile must give "0 denied". Base's battery first, then the interpreter the way scripts and
# applications use it: files and locks, streams and filters, processes (proc_open, popen, exec, pcntl: fork,
# signals, alarms, exec, unshare), posix_* (ids, limits, fifos, setsid, dropping privileges, chroot), sockets
# (stream sockets and the sockets extension: TCP, UDP, unix stream and datagram, abstract names, fd passing,
# options), TLS with keys made by the openssl extension, the built-in web server with forked workers,
# opcache in its shared memory, with a file cache, JIT (tracing, function), preloading as another user, huge
# code pages, System V IPC and shmop, sessions, zlib, json, sodium, argon2 (threads), phar archives and the
# phar tool, the CLI's modes (-a, -l, -s, -w, -B/-R/-E, -i) and the Debian helpers (phpenmod, phpquery,
# sessionclean). Plain PHP only: FFI (calling C functions by name) is what `--dlsym=all` is for. Written for
# this battery, not taken from any workload. Each command is bounded by timeout; whether it succeeds does not
# matter.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
export W=/tmp/phpbat; mkdir -p $W/www $W/sess $W/oc $W/jail; cd $W || exit 1
ph() { local n=$1; shift; cat > $W/$n.php; c php "$@" $W/$n.php; }   # ph NAME [PHP OPTIONS] <<'EOF': a script
seq 1 100000 > $W/www/big.txt; echo '<h1>hello</h1>' > $W/www/index.html; echo '{"ok":true}' > $W/www/data.json
chmod 777 $W/sess
# the image has no openssl package, so no /usr/lib/ssl/openssl.cnf: the openssl extension gets a minimal one
printf '[ req ]\ndefault_bits = 2048\ndistinguished_name = dn\n[ dn ]\n' > $W/openssl.cnf; export OPENSSL_CONF=$W/openssl.cnf

# --- the CLI itself
c php -v
c php -m
s 'php -i | wc -l'
c php --ini
c php --ri 'Zend OPcache'
c php --re posix
c php --rf stream_socket_server
c php --rc Phar
c php -n -r 'echo ini_get("memory_limit"), "\n";'
s 'printf "[PHP]\nmemory_limit=64M\n" > /tmp/phpbat/my.ini; php -c /tmp/phpbat/my.ini -r "echo ini_get(\"memory_limit\"), PHP_EOL;"'
s 'printf "<?php\n\$a = [1, 2, 3];\nfunction f(\$x) { return \$x * 2; }\necho array_sum(array_map(\"f\", \$a)), PHP_EOL;\n" > /tmp/phpbat/t.php; php -l /tmp/phpbat/t.php; php -s /tmp/phpbat/t.php | head -c 300; echo; php -w /tmp/phpbat/t.php; php /tmp/phpbat/t.php'
s 'printf "<?php echo 1 +;\n" > /tmp/phpbat/bad.php; php -l /tmp/phpbat/bad.php'
s 'seq 1 5 | php -B "\$t = 0;" -R "\$t += \$argn;" -E "echo \$t, PHP_EOL;"'
s 'seq 1 3 | php -R "echo strrev(\$argn), PHP_EOL;"'
s 'printf "<?php echo strtoupper(\$argn), PHP_EOL;\n" > /tmp/phpbat/f.php; printf "ab\ncd\n" | php -F /tmp/phpbat/f.php'
s 'printf "echo 6 * 7, PHP_EOL;\n\$x = [\"a\" => 1];\nprint_r(\$x);\nfunction g() { return getmypid(); }\necho g() > 0 ? \"pid\" : \"no\", PHP_EOL;\nexit\n" | php -a'
s 'echo "<?php echo \"stdin script\", PHP_EOL;" | php'
c php -r 'echo $argc, " ", implode(",", $argv), PHP_EOL;' -- a b c
c php -d memory_limit=16M -r '$s = str_repeat("x", 64 << 20); echo strlen($s);'
c php -d max_execution_time=1 -r 'set_time_limit(1); $i = 0; while (true) { $i++; }'
c php -d error_log=/tmp/phpbat/err.log -d log_errors=1 -r 'error_log("to the log"); trigger_error("a warning", E_USER_WARNING); echo file_get_contents("/tmp/phpbat/err.log");'
c php -d display_errors=stderr -r 'echo $undefined; fwrite(STDERR, "err\n"); fprintf(STDOUT, "%s\n", "out");'

# --- files, directories, locks
ph files <<'EOF'
<?php
const W = '/tmp/phpbat';
$d = W . '/f'; @mkdir("$d/x/y/z", 0755, true);
file_put_contents("$d/a.txt", str_repeat("line\n", 20000));
file_put_contents("$d/a.txt", "more\n", FILE_APPEND | LOCK_EX);
$h = fopen("$d/a.txt", 'r+');
var_dump(flock($h, LOCK_EX), flock($h, LOCK_SH | LOCK_NB));
fseek($h, 10); fwrite($h, 'abc'); fflush($h); var_dump(fsync($h), fdatasync($h));
ftruncate($h, 5000); rewind($h); echo strlen(fread($h, 100000)), ' ', ftell($h), ' ', feof($h) ? 'eof' : '', "\n";
print_r(array_slice(fstat($h), 13)); flock($h, LOCK_UN); fclose($h);
copy("$d/a.txt", "$d/b.txt"); rename("$d/b.txt", "$d/x/c.txt"); link("$d/a.txt", "$d/hard"); symlink("$d/a.txt", "$d/soft");
echo readlink("$d/soft"), ' ', realpath("$d/x/y/../c.txt"), ' ', is_link("$d/soft") ? 'link' : '', "\n";
print_r(lstat("$d/soft")['mode']); echo "\n";
touch("$d/t", 1000000000, 1000000001); clearstatcache(); echo filemtime("$d/t"), ' ', fileatime("$d/t"), "\n";
chmod("$d/t", 0600); chown("$d/t", 'www-data'); chgrp("$d/t", 'www-data'); lchown("$d/soft", 33); lchgrp("$d/soft", 33);
printf("%o %d %d\n", fileperms("$d/t"), fileowner("$d/t"), filegroup("$d/t"));
echo umask(022), ' ', is_writable("$d/t") ? 'w' : '', is_executable('/bin/ls') ? 'x' : '', is_readable("$d/t") ? 'r' : '', "\n";
$tmp = tempnam(W, 'bat'); echo basename($tmp), ' ', file_exists($tmp) ? 'exists' : '', "\n"; unlink($tmp);
$tf = tmpfile(); fwrite($tf, 'tmp'); echo stream_get_meta_data($tf)['uri'], "\n"; fclose($tf);
print_r(scandir($d)); print_r(glob("$d/*.txt")); print_r(glob("$d/{a,x}*", GLOB_BRACE));
$dh = opendir($d); while (($e = readdir($dh)) !== false) { echo $e, ' '; } rewinddir($dh); closedir($dh); echo "\n";
foreach (new RecursiveIteratorIterator(new RecursiveDirectoryIterator($d, FilesystemIterator::SKIP_DOTS)) as $f) { echo $f->getFilename(), ':', $f->getSize(), ' '; }
echo "\n", disk_free_space('/') > 0 ? 'free' : '', ' ', disk_total_space(W) > 0 ? 'total' : '', "\n";
echo count(file("$d/a.txt")), ' ', filesize("$d/a.txt"), ' ', md5_file("$d/a.txt"), ' ', hash_file('sha256', "$d/a.txt"), "\n";
$o = new SplFileObject("$d/csv", 'w+'); $o->fputcsv(['a', 'b c', '"q"']); $o->rewind(); print_r($o->fgetcsv());
$t = new SplTempFileObject(1024); $t->fwrite(str_repeat('z', 5000)); $t->rewind(); echo strlen($t->fread(6000)), "\n";
file_put_contents("$d/i.ini", "[s]\nk = v\nn = 3\n"); print_r(parse_ini_file("$d/i.ini", true));
$in = fopen("$d/a.txt", 'r'); $out = fopen("$d/copy", 'w'); echo stream_copy_to_stream($in, $out), "\n"; fclose($in); fclose($out);
readfile("$d/i.ini"); $h = fopen("$d/i.ini", 'r'); fpassthru($h); fclose($h);
chdir("$d/x"); echo getcwd(), "\n"; chdir(W);
var_dump(fnmatch('*.txt', 'a.txt'), is_dir($d), filetype("$d/soft"), touch('/proc/nope'));
unlink("$d/hard"); unlink("$d/soft"); rmdir("$d/x/y/z"); rmdir("$d/x/y");
echo file_put_contents('/tmp/phpbat/f/big', random_bytes(1 << 20)), "\n";
EOF
ph locks <<'EOF'
<?php
// a lock held by a child process, tried and waited for by the parent
$f = '/tmp/phpbat/lockfile'; touch($f);
$pid = pcntl_fork();
if ($pid === 0) { $h = fopen($f, 'r'); flock($h, LOCK_EX); usleep(500000); flock($h, LOCK_UN); exit(0); }
usleep(200000); $h = fopen($f, 'r');
var_dump(flock($h, LOCK_EX | LOCK_NB, $would), $would);
$t = microtime(true); flock($h, LOCK_EX); printf("waited %.1f s\n", microtime(true) - $t);
pcntl_waitpid($pid, $st); var_dump(pcntl_wexitstatus($st));
EOF

# --- streams, wrappers, filters, stream_select
ph streams <<'EOF'
<?php
$m = fopen('php://memory', 'w+'); fwrite($m, 'memory'); rewind($m); echo fread($m, 10), "\n";
$t = fopen('php://temp/maxmemory:1024', 'w+'); fwrite($t, str_repeat('t', 100000)); rewind($t); echo strlen(stream_get_contents($t)), "\n";
fwrite(STDERR, "to stderr\n"); $o = fopen('php://output', 'w'); fwrite($o, "php://output\n");
echo file_get_contents('data://text/plain;base64,SGVsbG8='), "\n";
file_put_contents('compress.zlib:///tmp/phpbat/z.gz', str_repeat('zzz', 10000)); echo strlen(file_get_contents('compress.zlib:///tmp/phpbat/z.gz')), "\n";
foreach (new DirectoryIterator('glob:///etc/*.conf') as $g) { echo $g->getFilename(), ' '; } echo "\n";
$h = fopen('/tmp/phpbat/filtered', 'w'); stream_filter_append($h, 'string.rot13'); stream_filter_append($h, 'convert.base64-encode'); fwrite($h, 'filters'); fclose($h);
echo file_get_contents('/tmp/phpbat/filtered'), ' ', file_get_contents('php://filter/read=convert.base64-decode|string.rot13/resource=/tmp/phpbat/filtered'), "\n";
$h = fopen('php://temp', 'w+'); $f = stream_filter_append($h, 'zlib.deflate', STREAM_FILTER_WRITE, ['level' => 9]); fwrite($h, str_repeat('abc', 1000)); stream_filter_remove($f); echo ftell($h), "\n";
print_r(stream_get_wrappers()); print_r(stream_get_filters()); print_r(stream_get_transports());
[$a, $b] = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, STREAM_IPPROTO_IP);
stream_set_blocking($b, false); stream_set_timeout($a, 1); stream_set_write_buffer($a, 0); stream_set_read_buffer($b, 0); stream_set_chunk_size($a, 4096);
fwrite($a, 'pair'); $r = [$b]; $w = null; $e = null; echo stream_select($r, $w, $e, 1), ' ', fread($b, 10), "\n";
var_dump(stream_isatty(STDOUT), posix_isatty(STDIN), stream_supports_lock($a));
$p = proc_open(['sh', '-c', 'echo out; echo err >&2; sleep 0.2; echo late'], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
stream_set_blocking($pipes[1], false); stream_set_blocking($pipes[2], false);
while (!feof($pipes[1]) || !feof($pipes[2])) { $r = array_filter([$pipes[1], $pipes[2]], fn($x) => !feof($x)); $w = $e = null;
  if (stream_select($r, $w, $e, 2) < 1) break; foreach ($r as $x) { echo 'got: ', fread($x, 100); } }
proc_close($p);
posix_mkfifo('/tmp/phpbat/fifo', 0600); $pid = pcntl_fork();
if ($pid === 0) { $w = fopen('/tmp/phpbat/fifo', 'w'); fwrite($w, "through the fifo\n"); exit(0); }
$r = fopen('/tmp/phpbat/fifo', 'r'); echo fgets($r); pcntl_waitpid($pid, $st);
EOF

# --- processes: exec family, proc_open, pcntl (fork, signals, alarms, exec, priorities, unshare)
ph procs <<'EOF'
<?php
echo exec('uname -s', $out, $rc), " $rc\n"; echo shell_exec('echo shell; id -u'); system('ls / | head -n 3'); passthru('echo passthru');
echo `echo backtick`; $h = popen('sort -r', 'w'); fwrite($h, "a\nb\nc\n"); pclose($h); $h = popen('date +%Y', 'r'); echo fgets($h); pclose($h);
$p = proc_open('cat', [0 => ['pipe', 'r'], 1 => ['pipe', 'w']], $pp, '/tmp', ['X' => '1']);
fwrite($pp[0], "to cat\n"); fclose($pp[0]); echo stream_get_contents($pp[1]); print_r(proc_get_status($p)); proc_close($p);
$p = proc_open(['sleep', '5'], [], $pp); proc_terminate($p, SIGTERM); usleep(100000); print_r(proc_get_status($p)); proc_close($p);
$p = proc_open('echo $X', [1 => ['file', '/tmp/phpbat/pout', 'w']], $pp, null, ['X' => 'env']); proc_close($p); echo file_get_contents('/tmp/phpbat/pout');
$p = proc_open(['true'], [0 => ['redirect', 1], 1 => ['null'], 2 => ['pty']], $pp); if ($p) proc_close($p);
proc_nice(1); echo pcntl_getpriority(), "\n"; pcntl_setpriority(2); echo pcntl_getpriority(getmypid(), PRIO_PROCESS), "\n";
echo escapeshellarg("a'b"), ' ', escapeshellcmd('a;b'), "\n";
// fork, wait, signals
$kids = [];
for ($i = 0; $i < 4; $i++) { $pid = pcntl_fork(); if ($pid === 0) { usleep(50000 * $i); exit($i + 10); } $kids[] = $pid; }
while (($pid = pcntl_wait($st, WUNTRACED)) > 0) { echo "child $pid: ", pcntl_wifexited($st) ? pcntl_wexitstatus($st) : 'signal', "\n"; }
pcntl_async_signals(true); $got = [];
pcntl_signal(SIGUSR1, function ($s, $info) use (&$got) { $got[] = "usr1 from {$info['pid']}"; });
pcntl_signal(SIGALRM, function ($s) use (&$got) { $got[] = 'alarm'; });
pcntl_signal(SIGCHLD, SIG_DFL); var_dump(pcntl_signal_get_handler(SIGUSR1) !== SIG_DFL);
posix_kill(getmypid(), SIGUSR1); pcntl_alarm(1); sleep(2); print_r($got);
pcntl_async_signals(false); pcntl_signal(SIGUSR2, fn() => print("usr2 dispatched\n")); posix_kill(getmypid(), SIGUSR2); pcntl_signal_dispatch();
pcntl_sigprocmask(SIG_BLOCK, [SIGHUP], $old); posix_kill(getmypid(), SIGHUP);
var_dump(pcntl_sigtimedwait([SIGHUP], $info, 1) === SIGHUP); pcntl_sigprocmask(SIG_SETMASK, $old);
pcntl_sigprocmask(SIG_BLOCK, [SIGTERM]); $pid = pcntl_fork();
if ($pid === 0) { posix_kill(posix_getppid(), SIGTERM); exit(0); }
var_dump(pcntl_sigwaitinfo([SIGTERM], $info)); pcntl_waitpid($pid, $st, WNOHANG | WUNTRACED);
$pid = pcntl_fork(); if ($pid === 0) { pcntl_exec('/bin/echo', ['exec', 'from', 'child'], ['A' => 'b']); exit(1); } pcntl_waitpid($pid, $st);
$pid = pcntl_fork(); if ($pid === 0) { posix_kill(getmypid(), SIGSTOP); exit(3); }
pcntl_waitpid($pid, $st, WUNTRACED); var_dump(pcntl_wifstopped($st), pcntl_wstopsig($st)); posix_kill($pid, SIGCONT); posix_kill($pid, SIGKILL);
pcntl_waitpid($pid, $st); var_dump(pcntl_wifsignaled($st), pcntl_wtermsig($st));
foreach ([CLONE_NEWUTS, CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWNET] as $flag) { $pid = pcntl_fork();
  if ($pid === 0) { $ok = @pcntl_unshare($flag); echo "unshare $flag: ", $ok ? 'ok' : pcntl_strerror(pcntl_get_last_error()), "\n"; exit(0); } pcntl_waitpid($pid, $st); }
register_shutdown_function(fn() => print("shutdown function\n"));
EOF

# --- posix_*: ids, groups, limits, sessions, privileges, chroot
ph posix <<'EOF'
<?php
print_r(posix_uname()); print_r(posix_times()); echo posix_getcwd(), ' ', posix_ctermid(), ' ', var_export(posix_ttyname(STDOUT), true), "\n";
echo posix_getpid(), ' ', posix_getppid(), ' ', posix_getpgrp(), ' ', posix_getsid(0), ' ', posix_getpgid(0), "\n";
echo posix_getuid(), posix_geteuid(), posix_getgid(), posix_getegid(), ' ', implode(',', posix_getgroups()), ' ', var_export(posix_getlogin(), true), "\n";
print_r(posix_getpwnam('www-data')); print_r(posix_getpwuid(0)); print_r(posix_getgrnam('www-data')); print_r(posix_getgrgid(0));
print_r(posix_getrlimit()); var_dump(posix_setrlimit(POSIX_RLIMIT_NOFILE, 512, 1024), posix_getrlimit()['soft openfiles']);
var_dump(posix_access('/etc/shadow', POSIX_R_OK), posix_access('/nope'), posix_strerror(posix_get_last_error()), posix_errno());
var_dump(posix_mkfifo('/tmp/phpbat/fifo2', 0644), posix_mknod('/tmp/phpbat/fifo3', POSIX_S_IFIFO | 0644), posix_mknod('/tmp/phpbat/null2', POSIX_S_IFCHR | 0666, 1, 3));
echo getmypid(), ' ', getmyuid(), ' ', getmygid(), ' ', get_current_user(), ' ', getmyinode(), ' ', gethostname(), ' ', php_uname(), "\n";
print_r(getrusage()); print_r(sys_getloadavg()); echo sys_get_temp_dir(), ' ', memory_get_usage(), ' ', memory_get_peak_usage(true), "\n";
$pid = pcntl_fork();
if ($pid === 0) {
  var_dump(posix_setsid(), posix_getsid(0) === getmypid(), posix_setpgid(0, 0));
  var_dump(posix_initgroups('www-data', 33), posix_setegid(33), posix_seteuid(33), posix_geteuid());
  var_dump(posix_seteuid(0), posix_setgid(33), posix_setuid(33), posix_getuid(), @file_put_contents('/root/nope', 'x'), posix_seteuid(0));
  exit(0);
}
pcntl_waitpid($pid, $st);
$pid = pcntl_fork();
if ($pid === 0) { @mkdir('/tmp/phpbat/jail/etc'); var_dump(chroot('/tmp/phpbat/jail'), getcwd(), scandir('/')); exit(0); }
pcntl_waitpid($pid, $st);
EOF

# --- time, randomness, hashing, crypto, compression, json
ph timerand <<'EOF'
<?php
date_default_timezone_set('Europe/Paris'); echo date('c'), ' ', (new DateTime('2024-06-01 12:00', new DateTimeZone('America/New_York')))->format(DATE_RFC2822), "\n";
print_r(array_slice(timezone_identifiers_list(), 0, 3)); echo (new DateTimeZone('Asia/Tokyo'))->getOffset(new DateTime()), "\n";
$t = hrtime(true); usleep(20000); time_nanosleep(0, 20000000); sleep(1); time_sleep_until(microtime(true) + 0.05); printf("%.2f s\n", (hrtime(true) - $t) / 1e9);
print_r(gettimeofday()); echo microtime(true) > 0 ? 'microtime' : '', ' ', hrtime()[0] >= 0 ? 'hrtime' : '', ' ', uniqid('', true), ' ', lcg_value() < 1 ? 'lcg' : '', "\n";
echo strlen(random_bytes(64)), ' ', random_int(1, 10) <= 10 ? 'int' : '', ' ', mt_rand(), ' ', rand(), "\n";
$r = new Random\Randomizer(); echo strlen($r->getBytes(16)), ' ', $r->getInt(1, 6), ' ', implode('', $r->shuffleArray([1, 2, 3])), "\n";
$r = new Random\Randomizer(new Random\Engine\Xoshiro256StarStar(42)); echo $r->nextInt(), "\n";
echo hash('sha512', 'x'), ' ', hash_hmac('sha256', 'data', 'key'), ' ', bin2hex(hash_pbkdf2('sha256', 'pw', 'salt', 10000, 16, true)), "\n";
echo crc32('x'), ' ', md5('x'), ' ', sha1('x'), ' ', crypt('pw', '$6$rounds=5000$salt$'), "\n";
$h = password_hash('secret', PASSWORD_BCRYPT, ['cost' => 8]); var_dump(password_verify('secret', $h));
$h = password_hash('secret', PASSWORD_ARGON2ID, ['memory_cost' => 1 << 14, 'time_cost' => 2, 'threads' => 4]); var_dump(password_verify('secret', $h), password_get_info($h));
$k = sodium_crypto_secretbox_keygen(); $n = random_bytes(SODIUM_CRYPTO_SECRETBOX_NONCEBYTES);
echo sodium_crypto_secretbox_open(sodium_crypto_secretbox('sodium', $n, $k), $n, $k), ' ';
$kp = sodium_crypto_box_keypair(); echo strlen(sodium_crypto_box_publickey($kp)), ' ', strlen(sodium_crypto_sign_detached('m', sodium_crypto_sign_secretkey(sodium_crypto_sign_keypair()))), ' ';
echo substr(sodium_crypto_pwhash_str('pw', SODIUM_CRYPTO_PWHASH_OPSLIMIT_INTERACTIVE, SODIUM_CRYPTO_PWHASH_MEMLIMIT_INTERACTIVE), 0, 10), "\n";
$data = str_repeat('compress me ', 100000);
echo strlen(gzcompress($data, 9)), ' ', strlen(gzencode($data)), ' ', strlen(gzdeflate($data)), ' ', strlen(zlib_encode($data, ZLIB_ENCODING_RAW)), ' ', gzuncompress(gzcompress('rt')), "\n";
$ctx = deflate_init(ZLIB_ENCODING_GZIP); $out = deflate_add($ctx, $data, ZLIB_NO_FLUSH) . deflate_add($ctx, '', ZLIB_FINISH);
$ictx = inflate_init(ZLIB_ENCODING_GZIP); echo strlen(inflate_add($ictx, $out)), "\n";
$g = gzopen('/tmp/phpbat/x.gz', 'w9'); gzwrite($g, $data); gzclose($g); $g = gzopen('/tmp/phpbat/x.gz', 'r'); echo strlen(gzread($g, 1 << 21)), "\n"; gzclose($g); echo count(gzfile('/tmp/phpbat/x.gz')), "\n";
ob_start('ob_gzhandler'); echo 'x'; ob_end_clean();
$big = []; for ($i = 0; $i < 50000; $i++) { $big["k$i"] = ['id' => $i, 'v' => [1.5, true, null, "s$i"]]; }
$j = json_encode($big, JSON_PRETTY_PRINT); echo strlen($j), ' ', count(json_decode($j, true)), ' ', json_last_error_msg(), "\n";
var_dump(json_decode('{"a":', false), json_last_error(), serialize([1]), unserialize('a:1:{i:0;i:1;}'));
echo iconv('UTF-8', 'ISO-8859-1//TRANSLIT', 'café'), ' ', iconv_strlen('café'), ' ', bin2hex(iconv('UTF-8', 'UTF-16', 'a')), "\n";
echo cal_days_in_month(CAL_GREGORIAN, 2, 2024), ' ', jdtogregorian(2460000), ' ', easter_date(2024), "\n";
bindtextdomain('bat', '/tmp/phpbat'); textdomain('bat'); echo _('untranslated'), ' ', ctype_alpha('abc') ? 'ctype' : '', ' ', count(token_get_all('<?php echo 1;')), "\n";
$fi = new finfo(FILEINFO_MIME); echo $fi->file('/bin/ls'), ' ', $fi->file('/tmp/phpbat/x.gz'), ' ', mime_content_type('/etc/passwd'), "\n";
var_dump(@exif_read_data('/tmp/phpbat/x.gz'), exif_imagetype('/tmp/phpbat/x.gz'));
gc_enable(); for ($i = 0; $i < 10000; $i++) { $a = new stdClass; $a->self = $a; } echo gc_collect_cycles(), "\n"; print_r(gc_status());
EOF
ph openssl <<'EOF'
<?php
$key = openssl_pkey_new(['private_key_type' => OPENSSL_KEYTYPE_EC, 'curve_name' => 'prime256v1']);
$rsa = openssl_pkey_new(['private_key_bits' => 2048, 'private_key_type' => OPENSSL_KEYTYPE_RSA]);
$csr = openssl_csr_new(['commonName' => 'localhost'], $key, ['digest_alg' => 'sha256']);
$crt = openssl_csr_sign($csr, null, $key, 30, ['digest_alg' => 'sha256']);
openssl_x509_export_to_file($crt, '/tmp/phpbat/crt.pem'); openssl_pkey_export_to_file($key, '/tmp/phpbat/key.pem');
file_put_contents('/tmp/phpbat/both.pem', file_get_contents('/tmp/phpbat/crt.pem') . file_get_contents('/tmp/phpbat/key.pem'));
print_r(openssl_x509_parse($crt)['subject']); openssl_pkcs12_export($crt, $p12, $key, 'pw'); echo strlen($p12), "\n";
openssl_sign('data', $sig, $rsa, OPENSSL_ALGO_SHA256); var_dump(openssl_verify('data', $sig, openssl_pkey_get_details($rsa)['key'], OPENSSL_ALGO_SHA256));
openssl_public_encrypt('secret', $enc, openssl_pkey_get_details($rsa)['key']); openssl_private_decrypt($enc, $dec, $rsa); echo $dec, "\n";
$iv = openssl_random_pseudo_bytes(16); $c = openssl_encrypt('aes text', 'aes-256-gcm', str_repeat('k', 32), 0, substr($iv, 0, 12), $tag);
echo openssl_decrypt($c, 'aes-256-gcm', str_repeat('k', 32), 0, substr($iv, 0, 12), $tag), ' ', count(openssl_get_cipher_methods()), ' ', openssl_digest('x', 'sha3-256'), "\n";
echo bin2hex(openssl_pbkdf2('pw', 'salt', 16, 1000, 'sha256')), ' ', OPENSSL_VERSION_TEXT, "\n"; print_r(openssl_get_cert_locations());
// a TLS server in this process, a TLS client in a forked child
$ctx = stream_context_create(['ssl' => ['local_cert' => '/tmp/phpbat/both.pem', 'allow_self_signed' => true, 'verify_peer' => false]]);
$srv = stream_socket_server('tls://127.0.0.1:0', $en, $es, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $ctx); $addr = stream_socket_get_name($srv, false);
$pid = pcntl_fork();
if ($pid === 0) {
  $cctx = stream_context_create(['ssl' => ['verify_peer' => true, 'cafile' => '/tmp/phpbat/crt.pem', 'peer_name' => 'localhost', 'capture_peer_cert' => true]]);
  $c = stream_socket_client("tls://$addr", $en, $es, 5, STREAM_CLIENT_CONNECT, $cctx); fwrite($c, "hello tls\n"); echo 'client got: ', fgets($c);
  print_r(stream_get_meta_data($c)['crypto'] ?? []); exit(0);
}
$conn = stream_socket_accept($srv, 5); echo 'server got: ', fgets($conn); fwrite($conn, "hi back\n"); fclose($conn); pcntl_waitpid($pid, $st);
// STARTTLS-style: plain TCP first, then stream_socket_enable_crypto
$srv = stream_socket_server('tcp://127.0.0.1:0', $en, $es, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $ctx); $addr = stream_socket_get_name($srv, false);
$pid = pcntl_fork();
if ($pid === 0) { $c = stream_socket_client("tcp://$addr", $en, $es, 5); stream_context_set_option($c, 'ssl', 'verify_peer', false); fgets($c);
  stream_socket_enable_crypto($c, true, STREAM_CRYPTO_METHOD_TLS_CLIENT); fwrite($c, "after starttls\n"); exit(0); }
$conn = stream_socket_accept($srv, 5); fwrite($conn, "220 go\n"); stream_socket_enable_crypto($conn, true, STREAM_CRYPTO_METHOD_TLS_SERVER); echo fgets($conn); pcntl_waitpid($pid, $st);
EOF

# --- sockets: stream sockets and the sockets extension
ph streamsock <<'EOF'
<?php
$srv = stream_socket_server('tcp://127.0.0.1:0', $en, $es); $addr = stream_socket_get_name($srv, false); echo "listening on $addr\n";
$c = stream_socket_client("tcp://$addr", $en, $es, 2); $conn = stream_socket_accept($srv, 2, $peer); echo "peer $peer\n";
fwrite($c, "ping\n"); echo fgets($conn); stream_socket_sendto($conn, "oob", STREAM_OOB); fwrite($conn, "pong\n");
echo stream_socket_recvfrom($c, 5, STREAM_PEEK), '|', fgets($c); stream_socket_shutdown($c, STREAM_SHUT_WR); var_dump(fgets($conn));
// async connects, many at once, with stream_select
$cs = []; for ($i = 0; $i < 5; $i++) { $cs[] = stream_socket_client("tcp://$addr", $en, $es, 2, STREAM_CLIENT_CONNECT | STREAM_CLIENT_ASYNC_CONNECT); }
$acc = []; for ($i = 0; $i < 5; $i++) { $r = [$srv]; $w = $e = null; if (stream_select($r, $w, $e, 2)) $acc[] = stream_socket_accept($srv); }
$r = []; $w = $cs; $e = null; echo 'writable: ', stream_select($r, $w, $e, 2), ' accepted: ', count($acc), "\n";
$ctx = stream_context_create(['socket' => ['so_reuseport' => true, 'backlog' => 16, 'tcp_nodelay' => true, 'ipv6_v6only' => false]]);
$s6 = @stream_socket_server('tcp://[::1]:0', $en, $es, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $ctx); var_dump($s6 ? stream_socket_get_name($s6, false) : $es);
// UDP
$u = stream_socket_server('udp://127.0.0.1:0', $en, $es, STREAM_SERVER_BIND); $ua = stream_socket_get_name($u, false);
$uc = stream_socket_client("udp://$ua"); fwrite($uc, 'datagram'); echo stream_socket_recvfrom($u, 100, 0, $from), " from $from\n";
stream_socket_sendto($u, 'reply', 0, $from); echo fread($uc, 100), "\n";
// unix stream and datagram sockets
@unlink('/tmp/phpbat/s.sock'); $us = stream_socket_server('unix:///tmp/phpbat/s.sock', $en, $es);
$ucl = stream_socket_client('unix:///tmp/phpbat/s.sock'); $ucn = stream_socket_accept($us); fwrite($ucl, "over unix\n"); echo fgets($ucn);
@unlink('/tmp/phpbat/d.sock'); $ud = stream_socket_server('udg:///tmp/phpbat/d.sock', $en, $es, STREAM_SERVER_BIND);
$udc = stream_socket_client('udg:///tmp/phpbat/d.sock'); fwrite($udc, 'unix datagram'); echo stream_socket_recvfrom($ud, 100), "\n";
$fp = fsockopen('127.0.0.1', (int) explode(':', $addr)[1], $en, $es, 2); var_dump((bool) $fp); $fp = @fsockopen('127.0.0.1', 1, $en, $es, 1); var_dump($es);
$fp = fsockopen('udp://127.0.0.1', (int) explode(':', $ua)[1]); fwrite($fp, 'fsock udp'); echo stream_socket_recvfrom($u, 100), "\n";
echo gethostbyname('localhost'), ' ', gethostbyaddr('127.0.0.1'), ' ', implode(',', gethostbynamel('localhost') ?: []), ' ', getprotobyname('tcp'), ' ', var_export(getservbyname('http', 'tcp'), true), "\n";
var_dump(@dns_get_record('localhost', DNS_A), @checkdnsrr('example.invalid', 'MX'), inet_ntop(inet_pton('::1')), ip2long('10.0.0.1'));
EOF
ph sockets <<'EOF'
<?php
$s = socket_create(AF_INET, SOCK_STREAM, SOL_TCP); socket_set_option($s, SOL_SOCKET, SO_REUSEADDR, 1); socket_set_option($s, SOL_SOCKET, SO_REUSEPORT, 1);
socket_bind($s, '127.0.0.1', 0); socket_listen($s, 8); socket_getsockname($s, $addr, $port); echo "bound $addr:$port\n";
$c = socket_create(AF_INET, SOCK_STREAM, SOL_TCP); socket_set_option($c, SOL_TCP, TCP_NODELAY, 1); socket_set_option($c, SOL_SOCKET, SO_KEEPALIVE, 1);
socket_set_option($c, SOL_SOCKET, SO_RCVTIMEO, ['sec' => 1, 'usec' => 0]); socket_set_option($c, SOL_SOCKET, SO_LINGER, ['l_onoff' => 1, 'l_linger' => 1]);
socket_set_option($c, SOL_SOCKET, SO_SNDBUF, 65536); socket_set_option($c, IPPROTO_IP, 2 /* IP_TTL */, 10);
socket_set_nonblock($c); @socket_connect($c, '127.0.0.1', $port); echo socket_strerror(socket_last_error($c)), "\n"; socket_set_block($c);
$r = [$s]; $w = $e = null; socket_select($r, $w, $e, 1); $a = socket_accept($s); socket_getpeername($a, $pa, $pp); echo "peer $pa:$pp\n";
socket_write($c, "sockets ext\n"); echo socket_read($a, 100, PHP_NORMAL_READ); socket_send($a, 'send', 4, 0); socket_recv($c, $buf, 4, MSG_WAITALL); echo "$buf\n";
var_dump(socket_get_option($c, SOL_SOCKET, SO_TYPE), socket_get_option($c, SOL_SOCKET, SO_RCVBUF) > 0, socket_get_option($c, SOL_SOCKET, SO_ERROR));
socket_shutdown($c, 1); socket_close($c); socket_close($a);
$st = socket_export_stream($s); $s2 = socket_import_stream($st); var_dump($s2 instanceof Socket);
// UDP, IPv6, multicast options
$u = socket_create(AF_INET, SOCK_DGRAM, SOL_UDP); socket_bind($u, '127.0.0.1', 0); socket_getsockname($u, $ua, $up);
$u2 = socket_create(AF_INET, SOCK_DGRAM, SOL_UDP); socket_sendto($u2, 'udp ext', 7, 0, '127.0.0.1', $up); socket_recvfrom($u, $buf, 100, 0, $from, $fport); echo "$buf from $from\n";
var_dump(@socket_set_option($u, IPPROTO_IP, MCAST_JOIN_GROUP, ['group' => '239.1.2.3', 'interface' => 0]), @socket_set_option($u, SOL_SOCKET, SO_BROADCAST, 1));
$v6 = @socket_create(AF_INET6, SOCK_DGRAM, SOL_UDP); var_dump($v6 && @socket_bind($v6, '::1', 0), $v6 ? @socket_set_option($v6, IPPROTO_IPV6, IPV6_V6ONLY, 1) : null);
$raw = @socket_create(AF_INET, SOCK_RAW, 1); var_dump($raw ? 'raw socket' : socket_strerror(socket_last_error()));
// unix: pair, fd passing and credentials, abstract names, datagrams
socket_create_pair(AF_UNIX, SOCK_STREAM, 0, $pair); socket_write($pair[0], 'pair'); echo socket_read($pair[1], 10), "\n";
$f = fopen('/etc/hostname', 'r');
var_dump(socket_sendmsg($pair[0], ['iov' => ['with fd'], 'control' => [['level' => SOL_SOCKET, 'type' => SCM_RIGHTS, 'data' => [$f]]]], 0));
$msg = ['name' => [], 'buffer_size' => 64, 'controllen' => socket_cmsg_space(SOL_SOCKET, SCM_RIGHTS, 1)];
var_dump(socket_recvmsg($pair[1], $msg, 0)); $got = $msg['control'][0]['data'][0] ?? null; echo 'passed fd reads: ', $got ? fgets($got) : 'nothing', "\n";
socket_set_option($pair[1], SOL_SOCKET, SO_PASSCRED, 1);
socket_sendmsg($pair[0], ['iov' => ['creds'], 'control' => [['level' => SOL_SOCKET, 'type' => SCM_CREDENTIALS, 'data' => ['pid' => getmypid(), 'uid' => 0, 'gid' => 0]]]], 0);
$msg = ['name' => [], 'buffer_size' => 64, 'controllen' => socket_cmsg_space(SOL_SOCKET, SCM_CREDENTIALS)]; socket_recvmsg($pair[1], $msg, 0); print_r($msg['control'] ?? []);
$ab = socket_create(AF_UNIX, SOCK_STREAM, 0); var_dump(socket_bind($ab, "\0phpbat-abstract"), socket_listen($ab));
$abc = socket_create(AF_UNIX, SOCK_STREAM, 0); var_dump(socket_connect($abc, "\0phpbat-abstract"));
@unlink('/tmp/phpbat/ud.sock'); $ud = socket_create(AF_UNIX, SOCK_DGRAM, 0); socket_bind($ud, '/tmp/phpbat/ud.sock');
$udc = socket_create(AF_UNIX, SOCK_DGRAM, 0); socket_sendto($udc, 'unix dgram', 10, 0, '/tmp/phpbat/ud.sock'); socket_recvfrom($ud, $buf, 100, MSG_DONTWAIT, $from); echo "$buf\n";
$sp = socket_create(AF_UNIX, SOCK_SEQPACKET, 0); var_dump((bool) $sp);
$ai = socket_addrinfo_lookup('localhost', '0', ['ai_family' => AF_INET, 'ai_socktype' => SOCK_STREAM]); print_r(socket_addrinfo_explain($ai[0]));
$b = socket_addrinfo_bind($ai[0]); var_dump((bool) $b); socket_listen($b); socket_getsockname($b, $ba, $bp);
$ai2 = socket_addrinfo_lookup('127.0.0.1', (string) $bp, ['ai_family' => AF_INET, 'ai_socktype' => SOCK_STREAM]); var_dump((bool) socket_addrinfo_connect($ai2[0]));
EOF
ph ftpmail <<'EOF'
<?php
// a minimal FTP control server in a child, and the ftp extension against it
$srv = stream_socket_server('tcp://127.0.0.1:0'); $port = (int) explode(':', stream_socket_get_name($srv, false))[1];
$pid = pcntl_fork();
if ($pid === 0) { $c = stream_socket_accept($srv, 5); fwrite($c, "220 bat ftp\r\n");
  while (($l = fgets($c)) !== false) { $cmd = strtoupper(substr(trim($l), 0, 4));
    $ans = ['USER' => '331 pw', 'PASS' => '230 in', 'SYST' => '215 UNIX Type: L8', 'PWD' => '257 "/" cwd', 'QUIT' => '221 bye'][$cmd] ?? '502 no';
    fwrite($c, "$ans\r\n"); if ($cmd === 'QUIT') break; } exit(0); }
$f = ftp_connect('127.0.0.1', $port, 5); var_dump(ftp_login($f, 'u', 'p'), ftp_systype($f), ftp_pwd($f), ftp_close($f)); pcntl_waitpid($pid, $st);
var_dump(@ftp_connect('127.0.0.1', 1, 1), @ftp_ssl_connect('127.0.0.1', 1, 1));
openlog('phpbat', LOG_PID | LOG_NDELAY, LOG_USER); syslog(LOG_WARNING, 'battery message'); closelog();
var_dump(mail('root@localhost', 'subject', 'body', 'X-Bat: 1'));
EOF
c php -d 'sendmail_path=cat > /tmp/phpbat/mail.txt' -r 'var_dump(mail("a@example.com", "hi", "mail body")); echo file_get_contents("/tmp/phpbat/mail.txt");'

# --- System V IPC and shmop, shared between forked processes
ph ipc <<'EOF'
<?php
$key = ftok(__FILE__, 'b'); echo "key $key\n";
$shm = shmop_open($key, 'c', 0644, 4096); shmop_write($shm, 'shmop data', 0); echo shmop_read($shm, 0, 10), ' ', shmop_size($shm), "\n";
$pid = pcntl_fork(); if ($pid === 0) { $s = shmop_open($key, 'w', 0, 0); shmop_write($s, 'from child', 0); exit(0); } pcntl_waitpid($pid, $st);
echo shmop_read($shm, 0, 10), "\n"; shmop_delete($shm);
$sem = sem_get($key + 1, 1, 0666, true); $sv = shm_attach($key + 2, 65536, 0666);
shm_put_var($sv, 1, ['count' => 0]);
$kids = [];
for ($i = 0; $i < 3; $i++) { $pid = pcntl_fork();
  if ($pid === 0) { for ($j = 0; $j < 50; $j++) { sem_acquire($sem); $v = shm_get_var($sv, 1); $v['count']++; shm_put_var($sv, 1, $v); sem_release($sem); } exit(0); }
  $kids[] = $pid; }
foreach ($kids as $k) pcntl_waitpid($k, $st);
print_r(shm_get_var($sv, 1)); var_dump(shm_has_var($sv, 1), sem_acquire($sem, true)); sem_release($sem); shm_remove_var($sv, 1); shm_remove($sv); shm_detach($sv); sem_remove($sem);
$q = msg_get_queue($key + 3, 0666); var_dump(msg_queue_exists($key + 3));
$pid = pcntl_fork(); if ($pid === 0) { msg_send($q, 2, ['hello' => 'queue']); msg_send($q, 3, 'raw', false); exit(0); }
msg_receive($q, 2, $type, 1024, $msg); print_r($msg); msg_receive($q, 0, $type, 1024, $msg, false); echo "$type $msg\n";
var_dump(msg_receive($q, 9, $type, 1024, $msg, true, MSG_IPC_NOWAIT, $err), $err);
print_r(msg_stat_queue($q)); msg_set_queue($q, ['msg_perm.mode' => 0600]); pcntl_waitpid($pid, $st); msg_remove_queue($q);
EOF

# --- sessions (the files handler, with locking and garbage collection)
ph session -d session.save_path=/tmp/phpbat/sess -d session.use_cookies=0 -d session.gc_probability=1 -d session.gc_divisor=1 -d session.gc_maxlifetime=1 <<'EOF'
<?php
ob_start(); touch('/tmp/phpbat/sess/sess_old', time() - 100);
session_id('battery1'); session_start(); $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1; $_SESSION['when'] = time(); session_write_close();
session_start(); echo session_id(), ' ', $_SESSION['n'], ' ', session_save_path(), "\n"; session_regenerate_id(true); echo strlen(session_id()), "\n";
print_r(scandir('/tmp/phpbat/sess')); var_dump(session_gc()); session_destroy(); ob_end_flush();
EOF
c /usr/lib/php/sessionclean
c phpquery -v 8.2 -s cli -m opcache
c phpquery -M
c phpdismod -v 8.2 -s cli sysvmsg
s 'php -m | grep -c sysvmsg'
c phpenmod -v 8.2 -s cli sysvmsg
s 'php -m | grep -c sysvmsg'

# --- opcache: shared memory, a file cache, JIT (tracing and function), preloading as www-data, huge code
# pages, memory protection
cat > $W/bench.php <<'EOF'
<?php
function fib($n) { return $n < 2 ? $n : fib($n - 1) + fib($n - 2); }
$t = microtime(true); $s = 0; for ($i = 0; $i < 2000000; $i++) { $s += $i % 7; } $f = fib(25);
$st = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
printf("s=%d fib=%d %.2fs opcache=%s jit=%s\n", $s, $f, microtime(true) - $t, var_export($st['opcache_enabled'] ?? false, true), var_export($st['jit']['on'] ?? false, true));
EOF
cat > $W/preload.php <<'EOF'
<?php
function preloaded_fn() { return 'preloaded'; }
opcache_compile_file('/tmp/phpbat/bench.php');
EOF
# (file_update_protection=0: the scripts were written a moment ago, and opcache does not cache younger files)
O="-d opcache.enable_cli=1 -d opcache.file_update_protection=0"
c php $O -d opcache.jit=tracing -d opcache.jit_buffer_size=32M $W/bench.php
c php $O -d opcache.file_cache=$W/oc -d opcache.jit=tracing -d opcache.jit_buffer_size=32M $W/bench.php
c php $O -d opcache.file_cache=$W/oc -d opcache.jit=tracing -d opcache.jit_buffer_size=32M $W/bench.php
c php $O -d opcache.file_cache=$W/oc -d opcache.file_cache_only=1 $W/bench.php
s "find $W/oc -type f | head -n 3"
c php $O -d opcache.jit=function -d opcache.jit_buffer_size=16M -d opcache.jit_debug=0x10 $W/bench.php
s 'ls /tmp/perf-*.map 2>/dev/null | head -n 2'
c php $O -d opcache.jit=1255 -d opcache.jit_buffer_size=16M -d opcache.jit_debug=0x20 $W/bench.php
c php $O -d opcache.huge_code_pages=1 -d opcache.protect_memory=1 -d opcache.lockfile_path=$W $W/bench.php
c php $O -d opcache.preload=$W/preload.php -d opcache.preload_user=www-data -r 'var_dump(function_exists("preloaded_fn") ? preloaded_fn() : "not preloaded");'
c php $O -d opcache.memory_consumption=32 -d opcache.interned_strings_buffer=4 -r 'opcache_compile_file("/tmp/phpbat/bench.php"); var_dump(opcache_is_script_cached("/tmp/phpbat/bench.php"), opcache_invalidate("/tmp/phpbat/bench.php", true), opcache_reset()); print_r(array_keys(opcache_get_status(true))); print_r(opcache_get_configuration()["directives"]["opcache.jit"]);'

# --- phar: archives built, signed, compressed, run, and the phar tool
mkdir -p $W/app/src; echo '<?php function hello() { return "hello from phar"; }' > $W/app/src/lib.php
echo '<?php require __DIR__ . "/src/lib.php"; echo hello(), " ", Phar::running(), PHP_EOL;' > $W/app/index.php
ph mkphar -d phar.readonly=0 <<'EOF'
<?php
@unlink('/tmp/phpbat/app.phar'); $p = new Phar('/tmp/phpbat/app.phar');
$p->startBuffering(); $p->buildFromDirectory('/tmp/phpbat/app'); $p->setStub($p->createDefaultStub('index.php')); $p->setMetadata(['v' => 1]);
$p->setSignatureAlgorithm(Phar::SHA256); $p->stopBuffering(); $p->compressFiles(Phar::GZ); echo count($p), ' ', $p->getSignature()['hash_type'], "\n";
@unlink('/tmp/phpbat/app.tar.gz'); @unlink('/tmp/phpbat/app.tar'); $t = new PharData('/tmp/phpbat/app.tar'); $t->buildFromDirectory('/tmp/phpbat/app'); $t->compress(Phar::GZ);
@unlink('/tmp/phpbat/app.zip'); $z = new PharData('/tmp/phpbat/app.zip'); $z->addFromString('a.txt', str_repeat('a', 1000)); $z->addFile('/etc/hostname', 'h');
$x = new PharData('/tmp/phpbat/app.tar.gz'); @mkdir('/tmp/phpbat/out'); $x->extractTo('/tmp/phpbat/out', null, true); print_r(scandir('/tmp/phpbat/out'));
echo file_get_contents('phar:///tmp/phpbat/app.phar/src/lib.php'), "\n";
$k = openssl_pkey_new(['private_key_bits' => 2048]); openssl_pkey_export($k, $pem);
@unlink('/tmp/phpbat/signed.phar'); $s = new Phar('/tmp/phpbat/signed.phar'); $s->addFromString('index.php', '<?php echo "signed\n";');
$s->setSignatureAlgorithm(Phar::OPENSSL, $pem); file_put_contents('/tmp/phpbat/signed.phar.pubkey', openssl_pkey_get_details($k)['key']); echo $s->getSignature()['hash_type'], "\n";
EOF
c php $W/app.phar
c php -r 'include "phar:///tmp/phpbat/app.phar/src/lib.php"; echo hello(), PHP_EOL; print_r((new Phar("/tmp/phpbat/app.phar"))->getMetadata());'
c phar list -f $W/app.phar
c phar info -f $W/app.phar
c phar extract -f $W/app.phar $W/pharout
c php -d phar.readonly=0 /usr/bin/phar pack -f $W/packed.phar -c gz $W/app
c phar list -f $W/packed.phar
c phar.phar help

# --- the built-in web server: forked workers with opcache (shared memory, JIT) and a router doing real work
cat > $W/router.php <<'EOF'
<?php
$p = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
switch ($p) {
  case '/session': session_save_path('/tmp/phpbat/sess'); session_start(); $_SESSION['hits'] = ($_SESSION['hits'] ?? 0) + 1; setcookie('bat', 'x', time() + 60);
    echo 'hits=', $_SESSION['hits'], "\n"; break;
  case '/upload': foreach ($_FILES as $f) { move_uploaded_file($f['tmp_name'], '/tmp/phpbat/up-' . basename($f['name'])); echo $f['name'], ' ', $f['size'], "\n"; } break;
  case '/post': header('Content-Type: application/json'); echo json_encode(['len' => strlen(file_get_contents('php://input')), 'post' => $_POST]); break;
  case '/exec': echo shell_exec('id -un'), getmypid(), "\n"; break;
  case '/sleep': usleep(200000); echo "slept\n"; break;
  case '/status': $s = opcache_get_status(false); echo json_encode(['opcache' => $s['opcache_enabled'] ?? false, 'jit' => $s['jit']['on'] ?? false]), "\n"; break;
  case '/stream': for ($i = 0; $i < 5; $i++) { echo str_repeat('s', 1000), "\n"; flush(); } break;
  case '/gzip': ob_start('ob_gzhandler'); echo str_repeat('compressible ', 5000); ob_end_flush(); break;
  case '/redirect': header('Location: /index.html', true, 302); break;
  default: return false;
}
EOF
s "PHP_CLI_SERVER_WORKERS=3 php -d opcache.file_update_protection=0 -d opcache.jit=tracing -d opcache.jit_buffer_size=16M -S 127.0.0.1:8081 -t $W/www $W/router.php > $W/srv1.log 2>&1 & echo \$! > $W/srv1.pid"
s "php -S 127.0.0.1:8082 -t $W/www > $W/srv2.log 2>&1 & echo \$! > $W/srv2.pid"
s 'for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/8081 && exec 4<>/dev/tcp/127.0.0.1/8082) 2>/dev/null && exit 0; sleep 0.1; done; exit 1'
ph client <<'EOF'
<?php
$u = 'http://127.0.0.1:8081';
echo file_get_contents("$u/index.html"), strlen(file_get_contents("$u/big.txt")), ' ', $http_response_header[0], "\n";
echo file_get_contents("$u/status"), file_get_contents("$u/exec"), file_get_contents("$u/session");
print_r(get_headers("$u/data.json", true)); echo @file_get_contents("$u/missing") === false ? "404 ok\n" : "no 404\n";
$ctx = stream_context_create(['http' => ['method' => 'POST', 'header' => "Content-Type: application/x-www-form-urlencoded\r\n", 'content' => http_build_query(['a' => 1, 'b' => 'two']), 'timeout' => 5]]);
echo file_get_contents("$u/post", false, $ctx), "\n";
$b = 'batboundary'; $body = "--$b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"up.txt\"\r\nContent-Type: text/plain\r\n\r\n" . str_repeat('u', 50000) . "\r\n--$b--\r\n";
$ctx = stream_context_create(['http' => ['method' => 'POST', 'header' => "Content-Type: multipart/form-data; boundary=$b\r\n", 'content' => $body]]);
echo file_get_contents("$u/upload", false, $ctx);
$h = fopen("$u/stream", 'r'); print_r(array_keys(stream_get_meta_data($h))); $n = 0; while (!feof($h)) { $n += strlen(fread($h, 512)); } echo "streamed $n\n"; fclose($h);
$ctx = stream_context_create(['http' => ['header' => "Accept-Encoding: gzip\r\n"]]); $g = file_get_contents("$u/gzip", false, $ctx); echo strlen($g), ' ', strlen(gzdecode($g)), "\n";
echo strlen(file_get_contents("$u/redirect")), "\n";
// concurrent requests to the workers: async sockets and stream_select
$socks = []; for ($i = 0; $i < 6; $i++) { $s = stream_socket_client('tcp://127.0.0.1:8081', $en, $es, 5); fwrite($s, "GET /sleep HTTP/1.0\r\nHost: x\r\n\r\n"); $socks[$i] = $s; }
$t = microtime(true); $done = 0; $buf = [];
while ($done < 6 && microtime(true) - $t < 8) { $r = array_values($socks); $w = $e = null; if (!stream_select($r, $w, $e, 2)) break;
  foreach ($r as $s) { $k = array_search($s, $socks, true); $d = fread($s, 8192); if ($d === '' || $d === false) { fclose($s); unset($socks[$k]); $done++; } else { $buf[$k] = ($buf[$k] ?? '') . $d; } } }
printf("%d concurrent answers in %.2f s\n", $done, microtime(true) - $t);
$fp = fsockopen('127.0.0.1', 8082, $en, $es, 5); fwrite($fp, "HEAD /big.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); echo fgets($fp);
echo strlen(file_get_contents('http://127.0.0.1:8082/big.txt')), ' ', strlen(file_get_contents('http://127.0.0.1:8082/')), "\n";
EOF
c perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:8081") or die $!; print $s "GET /session HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"; print while <$s>'
s 'exec 3<>/dev/tcp/127.0.0.1/8082; printf "GET /data.json HTTP/1.0\r\n\r\n" >&3; cat <&3'
# stop the servers and the workers of the first (by their pids: the master and its children)
s "p=\$(cat $W/srv1.pid); all=\"\$p \$(cat /proc/\$p/task/*/children) \$(cat $W/srv2.pid)\"; echo \$all; kill -TERM \$all; sleep 0.5
   for q in \$all; do kill -0 \$q 2>/dev/null && { echo \$q still running; kill -KILL \$q; }; done; tail -n 5 $W/srv1.log; tail -n 3 $W/srv2.log"
echo BATTERY-END $B
