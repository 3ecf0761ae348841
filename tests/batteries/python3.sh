#!/bin/bash
# Battery of the corpus `python3` image (Debian python3 on minbase), for ../shared/corpus/battery.sh:
#   ../shared/corpus/battery.sh python3 /tmp/evalcorpus/python3.docker.tar PROFILE tests/batteries/python3.sh
# An image-scope profile must give "0 denied". It runs base's battery first, then the interpreter the way
# programs use it: the standard library's modules that reach the kernel (files, processes, threads, sockets,
# event loops, signals, timers, memory maps, compression, databases, TLS, locales), written for this battery,
# not taken from any workload. Plain Python only: code that calls C functions by name (ctypes) is what
# `--dlsym=all` is for. Each command is bounded by timeout; whether it succeeds does not matter.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
W=/tmp/pybat; mkdir -p $W; cd $W || exit 1
p() { c python3 -c "$1"; }   # a Python snippet

# --- files and directories
p 'import os, shutil, tempfile
d = tempfile.mkdtemp(); f = os.path.join(d, "a")
with open(f, "w") as h: h.write("x" * 100000)
os.rename(f, f + "2"); os.link(f + "2", f + "3"); os.symlink(f + "2", f + "4")
print(os.readlink(f + "4"), os.stat(f + "2").st_size, os.lstat(f + "4").st_mode)
os.chmod(f + "2", 0o600); os.utime(f + "2", (1, 2)); os.truncate(f + "2", 10)
shutil.copy2(f + "2", f + "5"); shutil.copytree(d, d + "c"); shutil.rmtree(d + "c")
print(sorted(os.listdir(d)), [e.name for e in os.scandir(d)])
os.makedirs(d + "/x/y/z", exist_ok=True); os.removedirs(d + "/x/y/z"); shutil.rmtree(d)'
p 'import os
fd = os.open("/tmp/pybat/f", os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"abc" * 1000); os.fsync(fd); os.fdatasync(fd); os.lseek(fd, 0, 0); print(os.read(fd, 10))
print(os.pread(fd, 5, 3)); os.pwrite(fd, b"zz", 1); os.ftruncate(fd, 100)
try: os.posix_fallocate(fd, 0, 4096); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
except OSError as e: print(e)
print(os.fstat(fd).st_size, os.fstatvfs(fd).f_bsize, os.get_blocking(fd)); os.set_blocking(fd, False)
d2 = os.dup(fd); os.dup2(fd, 20); os.close(20); os.close(d2)
os.readv(fd, [bytearray(4)]); os.writev(fd, [b"a", b"b"])
try: os.copy_file_range(fd, os.open("/tmp/pybat/g", os.O_WRONLY | os.O_CREAT), 10)
except OSError as e: print(e)
os.close(fd)'
p 'import os, sys
r, w = os.pipe2(os.O_CLOEXEC); os.write(w, b"hi"); print(os.read(r, 2))
fd = os.open("/tmp/pybat/f", os.O_RDONLY); out = os.open("/tmp/pybat/h", os.O_WRONLY | os.O_CREAT)
try: print(os.sendfile(out, fd, 0, 100))
except OSError as e: print(e)
try: print(os.splice(fd, w, 10))
except (OSError, AttributeError) as e: print(e)
print(os.statvfs("/").f_blocks, os.access("/etc/passwd", os.R_OK), os.getcwd())
os.chdir("/tmp"); os.fchdir(fd) if False else None; print(os.path.realpath("/proc/self/exe"))
print(os.get_terminal_size(0) if os.isatty(0) else "no tty", os.cpu_count(), os.sched_getaffinity(0))'
p 'import os
try:
    os.setxattr("/tmp/pybat/f", "user.k", b"v"); print(os.getxattr("/tmp/pybat/f", "user.k"), os.listxattr("/tmp/pybat/f"))
    os.removexattr("/tmp/pybat/f", "user.k")
except OSError as e: print(e)
fd = os.memfd_create("m"); os.write(fd, b"x" * 10); print(os.fstat(fd).st_size)
try: e = os.eventfd(0); os.eventfd_write(e, 3); print(os.eventfd_read(e))
except (OSError, AttributeError) as ex: print(ex)
try: print(len(os.getrandom(16)), os.urandom(8).hex())
except OSError as ex: print(ex)
try: pfd = os.pidfd_open(os.getpid()); print(pfd)
except OSError as ex: print(ex)'
p 'import glob, fnmatch, pathlib, filecmp, fileinput, stat
print(len(glob.glob("/usr/lib/python3*/*.py")), pathlib.Path("/etc").is_dir())
print(sorted(p.name for p in pathlib.Path("/etc").glob("*.conf"))[:3], filecmp.cmp("/etc/passwd", "/etc/passwd"))
print(stat.filemode(pathlib.Path("/etc/passwd").stat().st_mode))'

# --- processes
p 'import subprocess, os
print(subprocess.run(["ls", "/"], capture_output=True).returncode)
print(subprocess.check_output("echo hi | tr a-z A-Z", shell=True))
p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE); print(p.communicate(b"x"))
print(subprocess.run(["sleep", "5"], timeout=0.2) if False else "", os.system("true"))
print(os.popen("uname -a").read()[:20])
pid = os.posix_spawn("/bin/true", ["true"], os.environ); print(os.waitpid(pid, 0))
pid = os.posix_spawnp("true", ["true"], os.environ); print(os.waitid(os.P_PID, pid, os.WEXITED))'
p 'import os, signal, time
pid = os.fork()
if pid == 0:
    os.setsid(); os._exit(3)
print(os.waitpid(pid, 0), os.getpgid(0), os.getsid(0), os.getppid())
pid = os.fork()
if pid == 0: time.sleep(5); os._exit(0)
os.kill(pid, signal.SIGTERM); print(os.wait4(pid, 0)[2].ru_maxrss >= 0)
r, w = os.pipe(); pid = os.fork()
if pid == 0: os.close(r); os.execv("/bin/echo", ["echo", "child"])
os.close(w); print(os.waitpid(pid, 0))'
cat > $W/mpt.py <<'PY'
import multiprocessing as mp, concurrent.futures as cf
def sq(x): return x * x
if __name__ == "__main__":
    for method in ("fork", "spawn", "forkserver"):
        ctx = mp.get_context(method)
        with ctx.Pool(2) as pool: print(method, pool.map(sq, range(5)))
    q = mp.Queue(); pr = mp.Process(target=q.put, args=(1,)); pr.start(); print(q.get()); pr.join()
    l = mp.Lock(); s = mp.Semaphore(2); v = mp.Value("i", 3); a = mp.Array("d", 3); e = mp.Event(); e.set()
    with mp.Manager() as m: d = m.dict(); d["k"] = 1; print(dict(d))
    with cf.ProcessPoolExecutor(2) as ex: print(list(ex.map(sq, range(4))))
    with cf.ThreadPoolExecutor(4) as ex: print(list(ex.map(sq, range(4))))
    from multiprocessing import shared_memory
    sm = shared_memory.SharedMemory(create=True, size=4096); sm.buf[0] = 1; sm.close(); sm.unlink()
PY
c python3 $W/mpt.py
p 'import resource, os
print(resource.getrlimit(resource.RLIMIT_NOFILE), resource.getrusage(resource.RUSAGE_SELF).ru_utime >= 0)
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
try: print(resource.prlimit(0, resource.RLIMIT_NOFILE))
except OSError as e: print(e)
print(os.getpriority(os.PRIO_PROCESS, 0), os.nice(1), os.times())
print(os.sched_getscheduler(0), os.sched_get_priority_max(os.SCHED_FIFO), os.sched_rr_get_interval(0))
os.sched_yield(); os.sched_setaffinity(0, os.sched_getaffinity(0))
try: print(os.sched_getparam(0)); os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
except OSError as e: print(e)
print(os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups(), os.getresuid(), os.getresgid())
print(os.getloadavg(), os.uname().sysname, os.umask(0o22))'

# --- threads, signals, time
p 'import threading, queue, time, signal, os
q = queue.Queue(); c = threading.Condition(); b = threading.Barrier(3)
def work(i):
    b.wait(); q.put(i)
    with c: c.notify_all()
ts = [threading.Thread(target=work, args=(i,)) for i in range(3)]
[t.start() for t in ts]; [t.join() for t in ts]; print(sorted(q.queue))
e = threading.Event(); threading.Timer(0.05, e.set).start(); print(e.wait(2))
print(threading.get_native_id(), threading.stack_size())
signal.signal(signal.SIGUSR1, lambda *a: print("usr1")); os.kill(os.getpid(), signal.SIGUSR1)
signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2]); os.kill(os.getpid(), signal.SIGUSR2)
print(signal.sigpending(), signal.sigtimedwait([signal.SIGUSR2], 1))
signal.setitimer(signal.ITIMER_REAL, 0.05); signal.signal(signal.SIGALRM, lambda *a: None); time.sleep(0.2)
print(signal.getitimer(signal.ITIMER_REAL)); signal.alarm(0); signal.siginterrupt(signal.SIGALRM, True)
signal.raise_signal(signal.SIGUSR1); signal.set_wakeup_fd(-1)'
p 'import time
print(time.time(), time.monotonic(), time.perf_counter(), time.process_time(), time.thread_time())
for c in ("CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_BOOTTIME", "CLOCK_PROCESS_CPUTIME_ID", "CLOCK_THREAD_CPUTIME_ID", "CLOCK_TAI"):
    if hasattr(time, c): print(c, time.clock_gettime(getattr(time, c)), time.clock_getres(getattr(time, c)))
time.sleep(0.01); print(time.strftime("%c", time.localtime()), time.tzname, time.get_clock_info("monotonic"))
import datetime, zoneinfo; print(datetime.datetime.now(zoneinfo.ZoneInfo("UTC")))'

# --- sockets and event loops
p 'import socket, os, select
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); a = s.getsockname()
c = socket.create_connection(a); d, _ = s.accept(); c.sendall(b"x" * 5000); print(len(d.recv(10000)))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); print(c.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
d.shutdown(socket.SHUT_WR); c.close(); d.close(); s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.sendto(b"d", u.getsockname()); print(u.recvfrom(10))
x, y = socket.socketpair(); x.sendmsg([b"m"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(memoryview(__import__("array").array("i", [0]))))]); print(y.recvmsg(10, 100))
socket.send_fds(x, [b"f"], [1]); print(socket.recv_fds(y, 10, 1))
p = "/tmp/pybat/sock"; os.path.exists(p) and os.unlink(p)
l = socket.socket(socket.AF_UNIX); l.bind(p); l.listen(); k = socket.socket(socket.AF_UNIX); k.connect(p); m, _ = l.accept()
k.send(b"u"); print(m.recv(1), select.select([m], [], [], 0))
try: s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", 0)); print(s6.getsockname())
except OSError as e: print(e)
print(socket.gethostname(), socket.getaddrinfo("localhost", 80)[:1], socket.if_nameindex()[:1])
try: print(socket.gethostbyname("localhost"), socket.getfqdn())
except OSError as e: print(e)'
p 'import selectors, select, socket
a, b = socket.socketpair(); b.send(b"x")
for S in ("EpollSelector", "PollSelector", "SelectSelector"):
    sel = getattr(selectors, S)(); sel.register(a, selectors.EVENT_READ); print(S, len(sel.select(0.1))); sel.close()
p = select.poll(); p.register(a, select.POLLIN); print(p.poll(10))
e = select.epoll(); e.register(a, select.EPOLLIN); print(e.poll(0.1)); e.close()'
p 'import asyncio
async def handle(r, w):
    w.write(await r.read(100)); await w.drain(); w.close()
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0); port = srv.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection("127.0.0.1", port); w.write(b"ping"); w.write_eof(); print(await r.read())
    p = await asyncio.create_subprocess_exec("echo", "sub", stdout=asyncio.subprocess.PIPE); print(await p.communicate())
    print(await asyncio.to_thread(sum, [1, 2]), await asyncio.wait_for(asyncio.sleep(0.01, "ok"), 1))
    loop = asyncio.get_running_loop(); print(await loop.getaddrinfo("localhost", 80))
    srv.close(); await srv.wait_closed()
asyncio.run(main())'
p 'import http.server, threading, urllib.request, socketserver, json
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
print(urllib.request.urlopen("http://127.0.0.1:%d/" % srv.server_address[1]).status); srv.shutdown()
import xmlrpc.server, xmlrpc.client
x = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False); x.register_function(pow)
threading.Thread(target=x.serve_forever, daemon=True).start()
print(xmlrpc.client.ServerProxy("http://127.0.0.1:%d" % x.server_address[1]).pow(2, 5)); x.shutdown()'
p 'import ssl, socket, hashlib, hmac, secrets, base64
ctx = ssl.create_default_context(); print(ctx.protocol, ssl.OPENSSL_VERSION, len(ctx.get_ca_certs()) >= 0)
print(hashlib.sha256(b"x").hexdigest()[:8], hashlib.md5(b"x").hexdigest()[:8], hashlib.blake2b(b"x").hexdigest()[:8], hashlib.scrypt(b"p", salt=b"s", n=2, r=1, p=1)[:2])
print(hmac.new(b"k", b"m", "sha1").hexdigest()[:8], secrets.token_hex(4), base64.b64encode(b"x"))
a, b = socket.socketpair(); print(ssl.MemoryBIO(), ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).options)'

# --- memory, data, compression, databases
p 'import mmap, os, array, struct
with open("/tmp/pybat/mm", "wb") as f: f.write(b"\0" * 65536)
with open("/tmp/pybat/mm", "r+b") as f:
    m = mmap.mmap(f.fileno(), 0); m[0:3] = b"abc"; m.flush(); m.madvise(mmap.MADV_RANDOM) if hasattr(m, "madvise") else None
    m.resize(131072) if hasattr(m, "resize") else None; print(m[:3], m.find(b"c")); m.close()
a = mmap.mmap(-1, 1 << 20); a.write(b"x"); a.close(); print(array.array("i", range(5)).tobytes()[:4], struct.calcsize("P"))
b = bytearray(50 << 20); del b'
p 'import zlib, gzip, bz2, lzma, zipfile, tarfile, shutil, io
data = b"hello " * 10000
print(len(zlib.compress(data)), len(gzip.compress(data)), len(bz2.compress(data)), len(lzma.compress(data)))
with zipfile.ZipFile("/tmp/pybat/z.zip", "w", zipfile.ZIP_DEFLATED) as z: z.writestr("a", data)
with tarfile.open("/tmp/pybat/t.tar.xz", "w:xz") as t: t.add("/etc/hostname")
shutil.make_archive("/tmp/pybat/arch", "gztar", "/etc", "default"); shutil.unpack_archive("/tmp/pybat/arch.tar.gz", "/tmp/pybat/un")
print(zipfile.ZipFile("/tmp/pybat/z.zip").namelist(), tarfile.open("/tmp/pybat/t.tar.xz").getnames())'
p 'import sqlite3, dbm, shelve, json, csv, pickle, io
db = sqlite3.connect("/tmp/pybat/db.sqlite"); db.execute("pragma journal_mode=wal"); db.execute("create table if not exists t(x)")
db.executemany("insert into t values (?)", [(i,) for i in range(1000)]); db.commit(); print(db.execute("select count(*) from t").fetchone())
db.execute("vacuum"); db.close(); m = sqlite3.connect(":memory:"); m.execute("select 1")
with shelve.open("/tmp/pybat/shelf") as s: s["k"] = [1, 2]
print(json.dumps({"a": 1}), pickle.loads(pickle.dumps({1, 2})))'
p 'import locale, gettext, unicodedata, codecs, encodings.idna
for l in ("C.UTF-8", "C", ""):
    try: print(locale.setlocale(locale.LC_ALL, l))
    except locale.Error as e: print(e)
print(locale.getpreferredencoding(), unicodedata.name("é"), codecs.lookup("latin-1").name, "ü".encode("cp1252"))
print(gettext.gettext("x"), "bücher.example".encode("idna"))'
p 'import pwd, grp, getpass, os, platform, sysconfig, site, uuid, random
print(pwd.getpwuid(0).pw_name, grp.getgrgid(0).gr_name, getpass.getuser(), len(pwd.getpwall()), len(grp.getgrall()))
print(platform.platform(), platform.libc_ver(), sysconfig.get_platform(), site.getsitepackages()[:1])
print(uuid.uuid1(), uuid.uuid4(), random.SystemRandom().random() < 1)
try: import spwd
except ImportError: pass'
p 'import tempfile, logging, logging.handlers, syslog, faulthandler, tracemalloc, gc, atexit, sys
logging.basicConfig(filename="/tmp/pybat/log", level=logging.DEBUG); logging.info("x")
h = logging.handlers.RotatingFileHandler("/tmp/pybat/rlog", maxBytes=10, backupCount=2); logging.getLogger().addHandler(h)
for i in range(5): logging.warning("rotate %d", i)
try: h2 = logging.handlers.SysLogHandler(address="/dev/log")
except OSError as e: print(e)
syslog.openlog("bat"); syslog.syslog("x")
faulthandler.enable(); faulthandler.dump_traceback_later(5); faulthandler.cancel_dump_traceback_later()
tracemalloc.start(); [0] * 1000; print(tracemalloc.get_traced_memory()[0] > 0); gc.collect()
with tempfile.TemporaryFile() as t: t.write(b"x")
with tempfile.SpooledTemporaryFile(10) as t: t.write(b"x" * 100)'
p 'import termios, tty, pty, fcntl, os, struct
pid, fd = pty.fork()
if pid == 0: os.execv("/bin/echo", ["echo", "in a pty"])
print(os.read(fd, 100)); os.waitpid(pid, 0)
m, s = os.openpty(); print(os.ttyname(s), termios.tcgetattr(s)[3]); tty.setraw(s)
print(fcntl.fcntl(m, fcntl.F_GETFL), fcntl.ioctl(m, termios.TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0)))
fcntl.flock(os.open("/tmp/pybat/lk", os.O_CREAT | os.O_RDWR), fcntl.LOCK_EX)
fcntl.lockf(os.open("/tmp/pybat/lk2", os.O_CREAT | os.O_RDWR), fcntl.LOCK_EX)'

# --- the interpreter's own tools
c python3 -m compileall -q /tmp/pybat
c python3 -m py_compile /usr/lib/python3/dist-packages/../../python3.11/os.py
c python3 -m json.tool /etc/os-release
c python3 -m timeit -n 100 "sum(range(100))"
c python3 -m pydoc -k zipfile
c python3 -m platform
c python3 -m sysconfig
c python3 -m site
c python3 -m venv /tmp/pybat/venv --without-pip
c /tmp/pybat/venv/bin/python -c 'import sys; print(sys.prefix)'
c python3 -m zipfile -l /tmp/pybat/z.zip
c python3 -m tarfile -l /tmp/pybat/t.tar.xz
c python3 -m gzip /tmp/pybat/log
c python3 -m base64 /etc/hostname
c python3 -m calendar 2026
c python3 -m doctest /dev/null
c python3 -m cProfile -s time -c 'sum(range(1000))'
c python3 -m trace --count -C /tmp/pybat/cov $W/mpt.py
c python3 -m tabnanny /tmp/pybat
c python3 -X importtime -c 'import asyncio, email, xml.dom.minidom, decimal, fractions, statistics, csv, ctypes.util'
c python3 -I -S -E -c 'import sys; print(sys.flags)'
c python3 -X dev -W error -c 'import warnings'
c python3 -X faulthandler -X tracemalloc=5 -c 'print(1)'
echo BATTERY-END $B
