#!/bin/bash
# Battery of the `rubyweb` image (tests/fixtures/server-images.sh: Debian's ruby 3.1 + ruby-webrick), for
# ../shared/corpus/battery.sh (BATTERY file argument). An image-scope profile must give "0 denied". Base's
# battery first, then Ruby the way programs use it: files and directories, memory maps (IO::Buffer), processes
# (spawn, fork, popen, Open3, daemon, PTY), signals, clocks and limits, threads, queues, fibers and a fiber
# scheduler, Ractors, sockets (TCP, UDP, unix, fd passing, IPv6, non-blocking, IO.select), resolvers, WEBrick
# (files, CGI, HTTPS) with Net::HTTP and open-uri, DRb, OpenSSL (digests, ciphers, keys, certificates, a TLS
# server and client), zlib, JSON, YAML, PStore, SDBM, logger, GC compaction, ObjectSpace dumps, coverage,
# YJIT; then the tools: irb, erb, gem, bundle, rake, rdoc, racc, rbs, un.rb's httpd and the image's server.
# Written for this battery, not taken from any workload. Plain Ruby only: code that calls C functions by name
# (Fiddle) is what `--dlsym=all` is for, so fiddle is only required. Each command is bounded by timeout.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
W=/tmp/rbbat; mkdir -p $W; cd $W || exit 1
r() { c ruby -e "$1"; }   # a Ruby snippet

# --- files and directories
r 'require "fileutils"; require "tmpdir"
d = Dir.mktmpdir("rb"); f = File.join(d, "a")
File.write(f, "x" * 100000); File.open(f, "a") { |h| h.write("y"); h.flush; h.fsync; h.fdatasync }
File.rename(f, f + "2"); File.link(f + "2", f + "3"); File.symlink(f + "2", f + "4")
p [File.readlink(f + "4"), File.size(f + "2"), File.lstat(f + "4").symlink?, File.realpath(f + "4"), File.identical?(f + "2", f + "3")]
File.chmod(0600, f + "2"); File.utime(Time.at(1), Time.at(2), f + "2"); File.lutime(Time.at(1), Time.at(2), f + "4"); File.truncate(f + "2", 10)
File.chown(65534, 65534, f + "2"); File.lchown(0, 0, f + "4"); (File.lchmod(0644, f + "4") rescue p($!))
FileUtils.mkdir_p(d + "/x/y/z"); FileUtils.touch(d + "/x/t"); FileUtils.cp_r(d + "/x", d + "/xc", preserve: true); FileUtils.mv(d + "/xc", d + "/xm")
FileUtils.ln_s(d + "/x", d + "/lx"); FileUtils.chmod_R("u+rwX", d); FileUtils.install(f + "3", d + "/inst", mode: 0755)
p [FileUtils.compare_file(f + "2", f + "3"), Dir.children(d).sort, Dir.glob(d + "/**/*").size, Dir.entries(d).size, Dir.exist?(d + "/x")]
Dir.foreach(d) { |e| e }; Dir.each_child(d) { |e| e }; FileUtils.rm_rf(d + "/xm"); Dir.rmdir(d + "/x/y/z"); FileUtils.remove_entry_secure(d)
p [Dir.home, Dir.tmpdir, File.expand_path("~root"), File.umask, File.umask(022)]'
r 'require "fcntl"; f = "/tmp/rbbat/io"; File.open(f, File::RDWR | File::CREAT | File::TRUNC, 0644) do |h|
  h.write("abc" * 1000); h.rewind; p h.read(5); h.sysseek(0); p h.sysread(3); h.syswrite("zz")
  p h.pread(4, 10); h.pwrite("PW", 20); h.advise(:sequential); h.advise(:willneed, 0, 100); h.advise(:dontneed)
  p [h.stat.size, h.stat.blksize, (h.fcntl(Fcntl::F_GETFL) rescue nil), h.flock(File::LOCK_EX | File::LOCK_NB), h.flock(File::LOCK_UN)]
  h.truncate(100); h.fsync; h.fdatasync; h.close_on_exec = false; p h.close_on_exec?; d = h.dup; d.close
  io = IO.for_fd(IO.sysopen(f), autoclose: true); p io.readpartial(3); io.close
end
require "fcntl"
p File.birthtime(f) rescue p($!)
p [File.stat(f).mtime, File.ftype(f), File.world_readable?(f), File.executable?("/bin/sh"), File.setuid?("/usr/bin/passwd"), File.zero?("/dev/null")]
File.open("/tmp/rbbat/excl", File::WRONLY | File::CREAT | File::EXCL | File::NOFOLLOW) { |h| h << "x" } rescue p($!)
(File.open("/tmp/rbbat", File::RDWR | File::TMPFILE) { |h| h.write("anon"); p h.stat.nlink } rescue p($!))
(File.open("/tmp/rbbat/sync", File::WRONLY | File::CREAT | File::SYNC | File::DSYNC) { |h| h << "s" } rescue p($!))
(File.open("/tmp/rbbat/direct", File::WRONLY | File::CREAT | File::DIRECT) { |h| p h } rescue p($!))
File.mkfifo("/tmp/rbbat/fifo") rescue p($!)
p IO.copy_stream("/tmp/rbbat/io", "/tmp/rbbat/io2"), IO.copy_stream(File.open("/tmp/rbbat/io"), File.open("/tmp/rbbat/io3", "w"), 100, 5)
p IO.readlines("/etc/passwd").size, File.foreach("/etc/group").count, IO.read("/etc/hostname", 4)'
r 'require "pathname"; require "find"; require "tempfile"
pa = Pathname.new("/etc"); p [pa.children.size, pa.join("passwd").file?, pa.realpath, pa.entries.size, Pathname("/tmp/rbbat").mkpath]
p Find.find("/usr/lib/ruby/3.1.0/net").count
t = Tempfile.new("bat"); t.write("temp"); t.flush; t.rewind; p t.read, t.path; t.close!; Tempfile.create("c") { |h| h.puts "x" }
p Dir.glob("/usr/lib/ruby/3.1.0/**/*.rb").size, Dir["/etc/*.conf"].size'
r 'b = IO::Buffer.new(4096, IO::Buffer::MAPPED); b.set_string("mapped"); p b.get_string(0, 6)
File.write("/tmp/rbbat/mapme", "m" * 8192)
File.open("/tmp/rbbat/mapme", "r+") { |f| m = IO::Buffer.map(f, 8192, 0); p m.get_string(0, 4); m.set_string("W", 0); m.free }
File.open("/tmp/rbbat/mapme") { |f| m = IO::Buffer.map(f, nil, 0, IO::Buffer::READONLY); p m.size }
s = IO::Buffer.for("string"); p s.readonly?, IO::Buffer.new(1 << 20).size' 

# --- processes
r 'p system("true"), $?.exitstatus, `echo hi`.chomp, %x(uname -s)
pid = spawn("sh", "-c", "echo spawned; exit 4", out: "/tmp/rbbat/spawn.out", err: [:child, :out], pgroup: true, umask: 077, chdir: "/tmp", rlimit_nofile: 256, unsetenv_others: true)
p Process.wait2(pid), File.read("/tmp/rbbat/spawn.out")
pid = spawn({"FOO" => "bar"}, "echo $FOO", close_others: true, in: :close); Process.wait(pid)
pid = spawn("sleep 5"); Process.kill(:TERM, pid); p Process.waitpid2(pid)[1].termsig
pid = spawn("sleep 0.1"); th = Process.detach(pid); p th.value.success?
pid = spawn("true"); sleep 0.2; p Process.waitpid(pid, Process::WNOHANG), Process.waitall
p exec("true") if false
p IO.popen(["ls", "/"]).readlines.size, IO.popen("cat", "r+") { |io| io.write("pop"); io.close_write; io.read }
p IO.popen("-") { |io| io ? io.read : (print "forked popen"; exit!(0)) }'
r 'require "open3"
o, e, s = Open3.capture3("sh -c \"echo out; echo err >&2; exit 2\""); p [o, e, s.exitstatus]
Open3.popen3("cat") { |i, o, e, t| i.write("p3"); i.close; p o.read, t.value.success? }
p Open3.capture2("tr a-z A-Z", stdin_data: "upper"), Open3.pipeline(["echo a b"], ["wc -w"], out: "/tmp/rbbat/pl").map(&:exitstatus)
Open3.pipeline_r("seq 1 100", "tail -1") { |o, ts| p o.read }'
r 'r, w = IO.pipe; pid = fork { r.close; w.write("child #{Process.pid} #{Process.ppid}"); w.close; exit!(3) }; w.close; p r.read, Process.wait2(pid)[1].exitstatus
pid = fork { Process.setsid; p [Process.getsid, Process.getpgrp]; exit 0 }; Process.wait(pid)
pid = fork { Process.setpgid(0, 0); sleep 3 }; Process.kill(:KILL, pid); Process.wait(pid); p $?.signaled?
fork { exec("echo", "exec from fork") }; Process.wait
p Process.getpgid(0), Process.getpriority(Process::PRIO_PROCESS, 0), Process.setpriority(Process::PRIO_PROCESS, 0, 5)
p Process.uid, Process.euid, Process.gid, Process.egid, Process.groups, Process.maxgroups, Process.pid, Process.ppid
(Process::Sys.setresgid(0, 0, 0); Process::Sys.setresuid(0, 0, 0); Process.initgroups("root", 0); p Process::UID.eid) rescue p($!)
fork { Process::UID.change_privilege(65534); p Process.uid; begin File.write("/root/x", "x"); rescue => e; p e.class; end }; Process.wait
fork { Dir.chroot("/tmp") rescue p($!); p Dir.pwd }; Process.wait
Process.setproctitle("rb-battery"); p File.read("/proc/self/cmdline")[0, 10]
p Process.times, Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID), Process.clock_gettime(Process::CLOCK_THREAD_CPUTIME_ID)
p [Process::CLOCK_REALTIME, Process::CLOCK_MONOTONIC, Process::CLOCK_BOOTTIME, Process::CLOCK_MONOTONIC_RAW, Process::CLOCK_REALTIME_COARSE, :TIMES_BASED_CLOCK_PROCESS_CPUTIME_ID, :GETRUSAGE_BASED_CLOCK_PROCESS_CPUTIME_ID].map { |k| Process.clock_gettime(k) rescue $! }
p Process.clock_getres(Process::CLOCK_MONOTONIC), Process.clock_getres(:TIME_BASED_CLOCK_REALTIME)
p Process.getrlimit(:NOFILE), Process.getrlimit(:CORE), Process.getrlimit(:STACK), Process.setrlimit(:NOFILE, 512, 1024), Process.setrlimit(:CORE, 0)
p Process.getrlimit(:NOFILE), Process::RLIM_INFINITY'
r 'Signal.trap("USR1") { puts "usr1" }; trap(:USR2) { puts "usr2" }; trap("HUP", "IGNORE"); trap("CHLD") { }; trap("ALRM") { puts "alrm" }
trap("INT") { puts "int" }; trap("TERM") { puts "term" }; trap("PIPE", "SYSTEM_DEFAULT"); p Signal.list.size
%w[USR1 USR2 HUP ALRM INT TERM].each { |s| Process.kill(s, Process.pid); sleep 0.05 }
pid = fork { trap("TERM") { exit!(9) }; sleep 5 }; sleep 0.3; Process.kill("TERM", pid); p Process.wait2(pid)[1].exitstatus
Process.kill(0, Process.pid); p((Process.kill(:TERM, 999999) rescue $!.class))
r, w = IO.pipe; trap("PIPE") { }; r.close; (w.write("x") rescue p($!).class)
at_exit { puts "at_exit" }'
c ruby -e 'Process.daemon(true, true); File.write("/tmp/rbbat/daemon.pid", Process.pid.to_s); sleep 1'
s 'sleep 1.5; cat /tmp/rbbat/daemon.pid; echo'
c ruby -e 'Process.daemon; sleep 0.2'
r 'require "pty"; require "io/console"
PTY.spawn("sh", "-c", "tty; stty size; echo pty-ok") { |r, w, pid| begin; print r.read; rescue Errno::EIO; end; Process.wait(pid) }
m, s = PTY.open; p s.path, s.winsize, (s.winsize = [30, 100]), s.winsize, s.tty?, m.raw { 1 } rescue p($!)
s.echo = false; p s.echo?; s.cooked { }; p s.console_mode rescue p($!); m.close; s.close
p IO.console rescue p($!); p STDIN.tty?, (IO.console&.winsize rescue $!)
PTY.spawn("cat") { |r, w, pid| w.puts "echo-through-pty"; p r.gets; Process.kill(:KILL, pid); p PTY.check(pid) }'
r 'require "etc"
p Etc.getlogin, Etc.getpwuid(0).name, Etc.getpwnam("nobody").uid, Etc.getgrgid(0).name, Etc.getgrnam("nogroup").gid
p Etc.nprocessors, Etc.uname, Etc.sysconfdir, Etc.systmpdir, Etc.sysconf(Etc::SC_CLK_TCK), Etc.sysconf(Etc::SC_PAGESIZE), Etc.confstr(Etc::CS_PATH)
n = 0; Etc.passwd { |u| n += 1 }; Etc.group { |g| n += 1 }; p n, $stdout.pathconf(Etc::PC_PIPE_BUF) rescue p($!)'

# --- threads, fibers, ractors
r 'q = Queue.new; sq = SizedQueue.new(2); m = Mutex.new; cv = ConditionVariable.new; done = false; count = 0
ths = 8.times.map { |i| Thread.new { 100.times { m.synchronize { count += 1 } }; q << i } }
prod = Thread.new { 10.times { |i| sq.push(i) }; sq.close }; cons = Thread.new { a = []; while (x = sq.pop); a << x; end; a }
waiter = Thread.new { m.synchronize { cv.wait(m, 2) until done; :woken } }; sleep 0.1; m.synchronize { done = true; cv.broadcast }
ths.each(&:join); p count, q.size, cons.value, waiter.value
t = Thread.new { sleep }; t.report_on_exception = false; sleep 0.05; t.wakeup; t.raise("stop"); (t.join(1) rescue p($!.message)); t.kill
t = Thread.new { Thread.handle_interrupt(RuntimeError => :never) { sleep 0.1; :safe } }; p t.value
p Thread.current.native_thread_id, Thread.list.size, (Thread.current.name = "rbmain"), Thread.main.priority
x = Thread.new { Thread.current.report_on_exception = false; raise "boom" }; p((x.join rescue $!.message))
require "timeout"; p((Timeout.timeout(0.1) { sleep 1 } rescue $!.class)); require "monitor"; mon = Monitor.new; mon.synchronize { mon.synchronize { } }
tl = Thread.new { Thread.stop; :resumed }; sleep 0.05 until tl.status == "sleep"; tl.run; p tl.value
p 50.times.map { |i| Thread.new { Thread.pass; i * 2 } }.map(&:value).sum'
r 'f = Fiber.new { |x| y = Fiber.yield(x + 1); y * 2 }; p f.resume(1), f.resume(10), f.alive?
e = Enumerator.new { |y| 3.times { |i| y << i } }; p e.next, e.next, e.to_a
g = Fiber.new(blocking: true) { :blocking }; p g.resume, Fiber.current.blocking?
class Sched
  def initialize; @readable = {}; @writable = {}; @waiting = {}; @ready = []; @blocking = 0; end
  def run
    while @readable.any? || @writable.any? || @waiting.any? || @ready.any?
      r, w = IO.select(@readable.keys, @writable.keys, [], 0.05)
      r&.each { |io| @readable.delete(io)&.resume }; w&.each { |io| @writable.delete(io)&.resume }
      now = Process.clock_gettime(Process::CLOCK_MONOTONIC); @waiting.select { |_, t| t <= now }.each_key { |fb| @waiting.delete(fb); fb.resume }
      rd = @ready; @ready = []; rd.each(&:resume)
    end
  end
  def io_wait(io, events, timeout)
    @readable[io] = Fiber.current if (events & IO::READABLE) != 0; @writable[io] = Fiber.current if (events & IO::WRITABLE) != 0
    Fiber.yield; events
  end
  def kernel_sleep(d = nil); @waiting[Fiber.current] = Process.clock_gettime(Process::CLOCK_MONOTONIC) + (d || 0); Fiber.yield; end
  def block(b, t = nil); @waiting[Fiber.current] = Process.clock_gettime(Process::CLOCK_MONOTONIC) + (t || 1); Fiber.yield; end
  def unblock(b, fb); @ready << fb; end
  def fiber(&blk); fb = Fiber.new(blocking: false, &blk); fb.resume; fb; end
  def close; run; end
  def address_resolve(h); ["127.0.0.1"]; end
end
Thread.new do
  Fiber.set_scheduler(Sched.new)
  r, w = IO.pipe
  Fiber.schedule { p [:fiber_read, r.read(5)] }
  Fiber.schedule { sleep 0.05; w.write("hello"); w.close }
  Fiber.schedule { sleep 0.02; p :slept }
end.join
p Fiber.scheduler'
r 'Warning[:experimental] = false
rs = 4.times.map { |i| Ractor.new(i) { |n| (1..200000).sum * n } }; p rs.map(&:take)
pipe = Ractor.new { loop { Ractor.yield(Ractor.receive * 2) } }; pipe.send(21); p pipe.take
p Ractor.count, Ractor.current, Ractor.new { Ractor.receive }.tap { |x| x << "msg" }.take'

# --- sockets
r 'require "socket"; require "ipaddr"
srv = TCPServer.new("127.0.0.1", 0); port = srv.addr[1]
t = Thread.new { c = srv.accept; c.write(c.readpartial(100).upcase); c.close }
s = TCPSocket.new("127.0.0.1", port); s.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1); s.setsockopt(:SOCKET, :KEEPALIVE, true)
s.write("tcp"); p s.read, s.getsockopt(:SOCKET, :RCVBUF).int, s.local_address, s.remote_address, s.peeraddr; s.close; t.join
srv.listen(64); p srv.getsockopt(:SOCKET, :REUSEADDR).bool; srv.close
u = UDPSocket.new; u.bind("127.0.0.1", 0); v = UDPSocket.new; v.send("udp", 0, "127.0.0.1", u.addr[1]); p u.recvfrom(10)
v.connect("127.0.0.1", u.addr[1]); v.send("c", 0); p u.recv_nonblock(10) rescue (IO.select([u], nil, nil, 1); p u.recv(10))
v.setsockopt(:SOCKET, :BROADCAST, true); u.setsockopt(Socket::IPPROTO_IP, Socket::IP_MULTICAST_TTL, 2) rescue p($!)
begin; m = UDPSocket.new; m.setsockopt(Socket::IPPROTO_IP, Socket::IP_ADD_MEMBERSHIP, IPAddr.new("239.1.1.1").hton + IPAddr.new("0.0.0.0").hton); rescue => e; p e; end
path = "/tmp/rbbat/u.sock"; File.unlink(path) rescue nil; us = UNIXServer.new(path)
t = Thread.new { c = us.accept; c.send_io(File.open("/etc/hostname")); c.sendmsg("msg", 0, nil, [:SOCKET, :RIGHTS, [STDOUT.fileno].pack("i")]); c.puts "unix"; c.close }
uc = UNIXSocket.new(path); io = uc.recv_io; p io.read.size; p uc.recvmsg(10, 0, nil, scm_rights: true); p uc.gets; t.join; us.close
a, b = UNIXSocket.pair(:DGRAM); a.send("dg", 0); p b.recv(5); a, b = Socket.pair(:UNIX, :STREAM); a.write("sp"); p b.read_nonblock(5)
p Socket.getaddrinfo("localhost", 80, nil, :STREAM).size, Addrinfo.tcp("localhost", 80).ip_address, Addrinfo.getaddrinfo("127.0.0.1", nil).size
p Socket.gethostname, Socket.ip_address_list.map(&:ip_address), Socket.getifaddrs.map(&:name).uniq, Socket.getservbyname("http") rescue p($!)
p Addrinfo.ip("::1").ipv6_loopback?, Socket.sockaddr_in(80, "127.0.0.1").size, Socket.unpack_sockaddr_in(Socket.sockaddr_in(1, "127.0.0.1"))'
r 'require "socket"
s6 = TCPServer.new("::1", 0) rescue p($!); (c6 = TCPSocket.new("::1", s6.addr[1]); p c6.remote_address.ipv6?; c6.close) if s6
u6 = UDPSocket.new(Socket::AF_INET6); u6.bind("::1", 0) rescue p($!)
srv = Socket.new(:INET, :STREAM); srv.setsockopt(:SOCKET, :REUSEADDR, true); srv.bind(Addrinfo.tcp("127.0.0.1", 0)); srv.listen(5); ai = srv.local_address
cl = Socket.new(:INET, :STREAM); begin; cl.connect_nonblock(ai); rescue IO::WaitWritable; IO.select(nil, [cl], nil, 2); cl.connect_nonblock(ai) rescue Errno::EISCONN; end
begin; a, _ = srv.accept_nonblock; rescue IO::WaitReadable; srv.wait_readable(2); a, _ = srv.accept_nonblock; end
cl.write("nb"); require "io/wait"; a.wait_readable(2); p a.read_nonblock(10), a.nread, a.ready?; cl.close_write; p a.read; a.close
r, w = IO.pipe; require "io/nonblock"; r.nonblock = true; p r.nonblock?, (r.read_nonblock(1) rescue $!.class), IO.select([r], [w], [], 0.1), w.wait_writable(1)
p Socket.tcp("127.0.0.1", 1, connect_timeout: 1) rescue p($!).class
p Socket.tcp("127.0.0.1", ai.ip_port) { |s| s.local_address.ip? }
(Socket.new(:INET, :RAW, Socket::IPPROTO_ICMP) rescue p($!)); (Socket.new(:PACKET, :RAW, 0) rescue p($!)); (Socket.new(:INET, :DGRAM, Socket::IPPROTO_ICMP) rescue p($!))
(Socket.new(:NETLINK, :RAW, 0).close rescue p($!))
s = TCPSocket.new("127.0.0.1", ai.ip_port); s.setsockopt(:SOCKET, :LINGER, [1, 0].pack("ii")); p s.getsockopt(Socket::IPPROTO_TCP, Socket::TCP_INFO).data.size rescue p($!)
srv.close'
r 'require "resolv"; require "ipaddr"; require "resolv-replace"
p Resolv.getaddress("localhost"), Resolv.getname("127.0.0.1"), Resolv::Hosts.new.getaddresses("localhost"), IPAddr.new("10.0.0.0/8").include?("10.1.2.3")
dns = Resolv::DNS.new(nameserver_port: [["127.0.0.1", 53]]); dns.timeouts = 0.3; p((dns.getaddress("example.com") rescue $!.class))
p((Resolv.getaddress("no-such-host.invalid") rescue $!.class), Socket.getaddrinfo("localhost", nil).size, (TCPSocket.gethostbyname("localhost") rescue $!))'

# --- WEBrick, Net::HTTP, open-uri, DRb
mkdir -p $W/www/cgi; echo '<h1>rb</h1>' > $W/www/index.html; head -c 1048576 /dev/zero > $W/www/big
printf '#!/usr/bin/ruby\nputs "Content-Type: text/plain\\r\\n\\r\\n"\nputs "cgi #{ENV["QUERY_STRING"]} #{Process.pid}"\n' > $W/www/cgi/hi.rb; chmod 755 $W/www/cgi/hi.rb
r 'require "webrick"; require "net/http"; require "logger"
log = WEBrick::Log.new("/tmp/rbbat/webrick.log", WEBrick::Log::DEBUG); acc = [[File.open("/tmp/rbbat/access.log", "w"), WEBrick::AccessLog::COMBINED_LOG_FORMAT]]
s = WEBrick::HTTPServer.new(BindAddress: "127.0.0.1", Port: 0, DocumentRoot: "/tmp/rbbat/www", Logger: log, AccessLog: acc, MaxClients: 20, CGIInterpreter: "/usr/bin/ruby")
s.mount_proc("/echo") { |q, r| r.body = q.body.to_s + q.query.inspect; r["X-Pid"] = Process.pid.to_s }
s.mount("/cgi-bin", WEBrick::HTTPServlet::FileHandler, "/tmp/rbbat/www/cgi", FancyIndexing: true)
s.mount("/rb", WEBrick::HTTPServlet::CGIHandler, "/tmp/rbbat/www/cgi/hi.rb")
auth = WEBrick::HTTPAuth::BasicAuth.new(Realm: "bat", UserDB: WEBrick::HTTPAuth::Htpasswd.new("/tmp/rbbat/htpasswd").tap { |h| h.set_passwd("bat", "u", "p"); h.flush })
s.mount_proc("/secret") { |q, r| auth.authenticate(q, r); r.body = "secret" }
port = s.config[:Port]; th = Thread.new { s.start }
Net::HTTP.start("127.0.0.1", port) do |h|
  p h.get("/").body, h.head("/big")["content-length"], h.get("/big").body.size, h.post("/echo?a=1", "posted").body, h.get("/cgi-bin/").code
  p h.get("/rb?x=1").body, h.get("/nope").code, h.request(Net::HTTP::Get.new("/big", "Range" => "bytes=0-9")).body.size
  q = Net::HTTP::Get.new("/secret"); q.basic_auth("u", "p"); p h.request(q).body
  h.request_get("/big") { |res| n = 0; res.read_body { |chunk| n += chunk.size }; p n }
end
p Net::HTTP.get(URI("http://127.0.0.1:#{port}/echo?b=2")); require "open-uri"; p URI.open("http://127.0.0.1:#{port}/").read
p 5.times.map { Thread.new { Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/")).code } }.map(&:value)
s.shutdown; th.join; p File.size("/tmp/rbbat/access.log")'
r 'require "webrick"; require "webrick/https"; require "net/http"
s = WEBrick::HTTPServer.new(BindAddress: "127.0.0.1", Port: 0, SSLEnable: true, SSLCertName: [["CN", "localhost"]], Logger: WEBrick::Log.new(nil, 0), AccessLog: [])
s.mount_proc("/") { |q, r| r.body = "https #{q.ssl?}" }; th = Thread.new { s.start }
h = Net::HTTP.new("127.0.0.1", s.config[:Port]); h.use_ssl = true; h.verify_mode = OpenSSL::SSL::VERIFY_NONE
p h.start { |c| c.get("/").body }; s.shutdown; th.join'
r 'require "drb/drb"; require "drb/unix"
class Calc; def add(a, b); a + b; end; def pid; Process.pid; end; end
DRb.start_service("druby://127.0.0.1:0", Calc.new); u = DRbObject.new_with_uri(DRb.uri); p u.add(1, 2)
File.unlink("/tmp/rbbat/drb.sock") rescue nil; svc = DRb::DRbServer.new("drbunix:/tmp/rbbat/drb.sock", Calc.new); p DRbObject.new_with_uri("drbunix:/tmp/rbbat/drb.sock").pid; svc.stop_service; DRb.stop_service'
r 'require "net/ftp"; require "net/smtp"; require "net/pop"; require "net/imap"; require "net/telnet" rescue nil
[-> { Net::FTP.open("127.0.0.1", port: 1) }, -> { Net::SMTP.start("127.0.0.1", 1) }, -> { Net::POP3.start("127.0.0.1", 1) }, -> { Net::IMAP.new("127.0.0.1", port: 1) }].each { |f| p((f.call rescue $!.class)) }'

# --- OpenSSL
r 'require "openssl"; require "digest"; require "securerandom"
p OpenSSL::OPENSSL_VERSION, OpenSSL::OPENSSL_LIBRARY_VERSION, OpenSSL::Digest.new("SHA256").hexdigest("x")[0, 8], Digest::SHA512.hexdigest("x")[0, 8], Digest::MD5.file("/etc/passwd").hexdigest[0, 8]
p Digest::RMD160.hexdigest("x")[0, 8], Digest::SHA1.base64digest("x"), Digest::SHA256.file("/etc/passwd").hexdigest[0, 8], Digest.hexencode("ab"), OpenSSL::HMAC.hexdigest("SHA256", "k", "d")[0, 8]
c = OpenSSL::Cipher.new("aes-256-gcm").encrypt; k = c.random_key; iv = c.random_iv; c.auth_data = ""; ct = c.update("secret") + c.final; tag = c.auth_tag
d = OpenSSL::Cipher.new("aes-256-gcm").decrypt; d.key = k; d.iv = iv; d.auth_tag = tag; d.auth_data = ""; p d.update(ct) + d.final
p OpenSSL::Cipher.new("chacha20-poly1305").encrypt.random_key.size, OpenSSL::Cipher.ciphers.size, OpenSSL::Random.random_bytes(8).size
p OpenSSL::KDF.pbkdf2_hmac("p", salt: "s", iterations: 1000, length: 32, hash: "SHA256").size, (OpenSSL::KDF.scrypt("p", salt: "s", N: 1024, r: 8, p: 1, length: 16).size rescue $!), OpenSSL::KDF.hkdf("k", salt: "s", info: "i", length: 16, hash: "SHA256").size
p SecureRandom.hex(8), SecureRandom.uuid, Random.urandom(8).size, Random.new_seed > 0, Random.bytes(4).size
rsa = OpenSSL::PKey::RSA.generate(2048); sig = rsa.sign("SHA256", "m"); p rsa.public_key.verify("SHA256", sig, "m")
ec = OpenSSL::PKey::EC.generate("prime256v1"); p ec.verify("SHA256", ec.sign("SHA256", "m"), "m"); ed = OpenSSL::PKey.generate_key("ED25519"); p ed.oid
dh = OpenSSL::PKey.generate_parameters("DH", "dh_paramgen_prime_len" => 512) rescue p($!)
p OpenSSL::PKey.read(rsa.to_pem).private?, OpenSSL::PKey::EC.builtin_curves.size, OpenSSL::Config::DEFAULT_CONFIG_FILE, (OpenSSL::Config.load(OpenSSL::Config::DEFAULT_CONFIG_FILE).sections.size rescue $!)
st = OpenSSL::X509::Store.new; st.set_default_paths; p OpenSSL::X509::DEFAULT_CERT_FILE, (OpenSSL::fips_mode = false)'
r 'require "openssl"; require "socket"
key = OpenSSL::PKey::EC.generate("prime256v1"); name = OpenSSL::X509::Name.parse("/CN=localhost")
cert = OpenSSL::X509::Certificate.new; cert.version = 2; cert.serial = 1; cert.subject = name; cert.issuer = name; cert.public_key = key
cert.not_before = Time.now - 60; cert.not_after = Time.now + 3600
ef = OpenSSL::X509::ExtensionFactory.new(cert, cert); cert.add_extension(ef.create_extension("basicConstraints", "CA:TRUE", true)); cert.add_extension(ef.create_extension("subjectAltName", "DNS:localhost,IP:127.0.0.1"))
cert.sign(key, "SHA256"); File.write("/tmp/rbbat/cert.pem", cert.to_pem); File.write("/tmp/rbbat/key.pem", key.to_pem)
p OpenSSL::X509::Certificate.new(File.read("/tmp/rbbat/cert.pem")).verify(key), cert.subject.to_s
p12 = OpenSSL::PKCS12.create("pw", "bat", key, cert) rescue p($!)
p OpenSSL::PKCS12.new(p12.to_der, "pw").certificate.subject.to_s rescue p($!)
req = OpenSSL::X509::Request.new; req.subject = name; req.public_key = key; req.sign(key, "SHA256"); p req.verify(key)
[OpenSSL::SSL::TLS1_3_VERSION, OpenSSL::SSL::TLS1_2_VERSION].each do |v|
  ctx = OpenSSL::SSL::SSLContext.new; ctx.cert = cert; ctx.key = key; ctx.min_version = ctx.max_version = v
  tcp = TCPServer.new("127.0.0.1", 0); srv = OpenSSL::SSL::SSLServer.new(tcp, ctx)
  th = Thread.new { c = srv.accept; c.write(c.gets.upcase); c.close }
  cctx = OpenSSL::SSL::SSLContext.new; cctx.cert_store = OpenSSL::X509::Store.new.tap { |s| s.add_cert(cert) }; cctx.verify_mode = OpenSSL::SSL::VERIFY_PEER; cctx.verify_hostname = true
  cl = OpenSSL::SSL::SSLSocket.new(TCPSocket.new("127.0.0.1", tcp.addr[1]), cctx); cl.hostname = "localhost"; cl.sync_close = true; cl.connect
  cl.puts "tls"; p [cl.gets, cl.ssl_version, cl.cipher[0], cl.peer_cert.subject.to_s, cl.session.nil?]; cl.close; th.join; srv.close
end'

# --- data formats, storage, compression, logging
r 'require "zlib"; require "json"; require "yaml"; require "csv"; require "pstore"; require "logger"; require "stringio"
data = "abc" * 100000; z = Zlib::Deflate.deflate(data, Zlib::BEST_COMPRESSION); p z.size, Zlib::Inflate.inflate(z).size, Zlib.crc32(data), Zlib.adler32(data)
Zlib::GzipWriter.open("/tmp/rbbat/d.gz") { |g| g.mtime = Time.at(1); g.write(data) }; p Zlib::GzipReader.open("/tmp/rbbat/d.gz") { |g| g.read.size }
p Zlib.gunzip(Zlib.gzip("x")), Zlib::ZLIB_VERSION
File.write("/tmp/rbbat/d.json", JSON.pretty_generate({"a" => [1, 2, {"b" => nil}], "t" => Time.at(0).to_s})); p JSON.parse(File.read("/tmp/rbbat/d.json")), JSON.dump([1]), JSON.load_file("/tmp/rbbat/d.json").size
File.write("/tmp/rbbat/d.yml", {"k" => [1, 2], "s" => "v"}.to_yaml); p YAML.safe_load_file("/tmp/rbbat/d.yml"), YAML.load("--- :sym", permitted_classes: [Symbol]) rescue p($!)
CSV.open("/tmp/rbbat/d.csv", "w") { |c| c << [1, "a"]; c << [2, "b"] }; p CSV.read("/tmp/rbbat/d.csv")
ps = PStore.new("/tmp/rbbat/d.pstore"); ps.transaction { ps[:k] = (1..100).to_a }; p ps.transaction(true) { ps[:k].size }
lg = Logger.new("/tmp/rbbat/rot.log", 3, 2000); 300.times { |i| lg.info("line #{i}") }; lg.close; p Dir["/tmp/rbbat/rot.log*"].size
sio = StringIO.new; Logger.new(sio).warn("x"); p sio.string.size'
r 'require "sdbm" rescue p($!)
if defined?(SDBM) then db = SDBM.open("/tmp/rbbat/sdbm"); 1000.times { |i| db[i.to_s] = "v#{i}" }; p db["77"], db.size; db.close end
require "syslog"; (Syslog.open("rbbat") { |s| s.info("battery") } rescue p($!)); require "nkf"; p NKF.nkf("-w", "x")
require "bigdecimal"; require "date"; require "time"; require "set"; require "strscan"; require "erb"; require "cgi"; require "uri"; require "ostruct"; require "optparse"
p BigDecimal("1.1") + BigDecimal("2.2"), Date.today.year > 2000, DateTime.now.zone, Time.now.localtime.utc_offset, Time.parse("2020-01-01").year, Set[1, 2].size
p ERB.new("<%= 1 + 2 %>").result, CGI.escapeHTML("<"), URI.parse("http://x/y?z").path, StringScanner.new("ab").scan(/a/), OpenStruct.new(a: 1).a
ENV["TZ"] = "America/New_York"; p Time.now.zone; ENV["TZ"] = "UTC"; p Time.now.zone; p Time.now.getlocal("+09:00").hour.class
require "fiddle"; p Fiddle::VERSION, Fiddle::SIZEOF_VOIDP'

# --- GC, object space, VM
r 'require "objspace"; require "coverage"
GC.start(full_mark: true, immediate_sweep: true); p GC.stat[:count] > 0, GC.count, GC.stat(:heap_live_slots) > 0, GC.latest_gc_info[:major_by]
a = 100000.times.map { |i| "s#{i}" }; a = nil; p GC.compact.class rescue p($!)
GC.auto_compact = true; 200000.times.map { |i| [i] }; GC.start; p GC.auto_compact; GC.auto_compact = false
p GC.verify_compaction_references(double_heap: true, toward: :empty).class rescue p($!)
ObjectSpace.trace_object_allocations_start; o = Object.new; p ObjectSpace.allocation_sourcefile(o); ObjectSpace.trace_object_allocations_stop
File.open("/tmp/rbbat/heap.json", "w") { |f| ObjectSpace.dump_all(output: f) }; p File.size("/tmp/rbbat/heap.json") > 0, ObjectSpace.count_objects[:TOTAL] > 0, ObjectSpace.memsize_of_all > 0
p ObjectSpace.each_object(Class).count > 0; w = ObjectSpace::WeakMap.new; w[1] = "x"; GC.stress = false
iseq = RubyVM::InstructionSequence.compile("1 + 2"); bin = iseq.to_binary; p RubyVM::InstructionSequence.load_from_binary(bin).eval
require "ripper"; p Ripper.sexp("a = 1").size; tp = TracePoint.new(:call) { }; tp.enable { [1].map { } }; p RubyVM.stat.size > 0
Coverage.start(lines: true); File.write("/tmp/rbbat/cov.rb", "x = 1\n"); load "/tmp/rbbat/cov.rb"; p Coverage.result.size'
c ruby --yjit -e 'p defined?(RubyVM::YJIT) && RubyVM::YJIT.enabled?; def f(n) = n < 2 ? n : f(n - 1) + f(n - 2); p f(24)'
c ruby --yjit --yjit-call-threshold=1 --yjit-exec-mem-size=8 -e 'p 100000.times.map { |i| i * 2 }.sum'
c ruby --yjit-stats -e 'p 1'
c ruby --jit -e 'p RubyVM::MJIT.enabled?; 100.times { }'
c ruby --mjit --mjit-verbose=1 --mjit-wait -e '1'
c ruby --disable-gems -e 'p defined?(Gem)'
c ruby --enable=frozen-string-literal -W:no-deprecated -W:experimental -e 'p "x".frozen?'
c ruby --dump=insns -e 'p 1'
c ruby --dump=parsetree -e 'p 1'
c ruby -c /usr/lib/ruby/3.1.0/un.rb
c ruby -w -e 'x = 1'
c ruby -d -e '1' 
s 'ruby -y -e 1 2>&1 | tail -2'
c ruby -v
c ruby --version
c ruby -e 'p RbConfig::CONFIG.values_at("host", "ruby_version", "CC", "configure_args")'
s 'seq 1 5 | ruby -ne "puts \$_.to_i * 2"; printf "a b\nc d\n" | ruby -ane "p \$F"; printf "x\n" > /tmp/rbbat/inplace; ruby -i.bak -pe "\$_.upcase!" /tmp/rbbat/inplace; cat /tmp/rbbat/inplace /tmp/rbbat/inplace.bak'
s 'printf "junk\n#!ruby\np :x_flag\n__END__\n" > /tmp/rbbat/x.rb; ruby -x /tmp/rbbat/x.rb; cd /usr/lib/ruby/3.1.0 && ruby -S -e "p 1"; ruby -I/tmp/rbbat -rjson -e "p JSON"'
s 'printf "p ARGV\np __FILE__\n" | ruby - a b'
c ruby -e 'exit!(5)'
c ruby -e 'abort("aborting")'
s 'ruby -e "Process.kill(:SEGV, Process.pid)" 2>&1 | head -3'
c ruby -e 'raise "uncaught"'
c ruby -e 'sleep 30'
c ruby -e 'x = []; loop { x << "a" * 1_000_000; break if x.size > 200 }; p x.size'
c ruby -e 'def r(n) = r(n + 1); begin; r(0); rescue SystemStackError => e; p e.class; end'

# --- tools: irb, erb, gem, bundle, rake, rdoc, racc, rbs, debug, un.rb
s 'printf "1 + 1\nrequire \"socket\"\nSocket.gethostname.size\n[1,2,3].map { |x| x * 2 }\nexit\n" | irb -f --noprompt'
s 'printf "x = 3\nx * 7\n" | irb -f --simple-prompt --noreadline'
s 'printf "puts 42\n" | irb -f --prompt inf-ruby --noecho'
s 'printf "<%% 3.times do |i| %%>row <%%= i %%>\n<%% end %%>\n" > /tmp/rbbat/t.erb && erb /tmp/rbbat/t.erb && erb -x -T - /tmp/rbbat/t.erb | ruby -c'
c gem list
c gem env
c gem --version
c gem list --local --details webrick
c gem spec webrick
c gem contents webrick
c gem which webrick
c gem dependency rake
c gem environment gempath
c gem help commands
c gem list --remote --quiet
s 'mkdir -p /tmp/rbbat/gem/lib && cd /tmp/rbbat/gem && echo "module Batgem; def self.hi = :hi; end" > lib/batgem.rb && printf "Gem::Specification.new do |s|\n s.name = \"batgem\"; s.version = \"0.1.0\"; s.summary = \"b\"; s.authors = [\"b\"]; s.files = [\"lib/batgem.rb\"]; s.license = \"MIT\"\nend\n" > batgem.gemspec && gem build batgem.gemspec && gem install --local --no-document ./batgem-0.1.0.gem && ruby -rbatgem -e "p Batgem.hi" && gem uninstall -x batgem'
s 'mkdir -p /tmp/rbbat/gem && cd /tmp/rbbat/gem && gem install --local --no-document --install-dir /tmp/rbbat/gemdir ./batgem-0.1.0.gem && GEM_HOME=/tmp/rbbat/gemdir gem list batgem'
s 'mkdir -p /tmp/rbbat/bundle && cd /tmp/rbbat/bundle && rm -f Gemfile* && bundle3.1 init && printf "gem \"json\"\ngem \"batgem\", path: \"/tmp/rbbat/gem\"\n" >> Gemfile && bundle3.1 config set --local path vendor && bundle3.1 install --local && bundle3.1 list && bundle3.1 exec ruby -e "require \"batgem\"; require \"json\"; p Batgem.hi, JSON::VERSION" && cat Gemfile.lock'
c bundle3.1 --version
c bundle3.1 env
c bundler3.1 platform
s 'mkdir -p /tmp/rbbat/rake && cd /tmp/rbbat/rake && cat > Rakefile <<EOF
require "rake/clean"
CLEAN.include("*.o")
file "a.txt" do |t| File.write(t.name, "a") end
file "b.txt" => "a.txt" do |t| sh "cp a.txt b.txt" end
multitask :par => %w[p1 p2 p3]
%w[p1 p2 p3].each { |n| task(n) { sleep 0.05; puts n } }
task :default => ["b.txt", :par] do ruby "-e", "p :rake_ruby" end
EOF
rake && rake -T; rake -P; rake clean; rake -j 4 par'
s 'mkdir -p /tmp/rbbat/rdoc && cd /tmp/rbbat/rdoc && printf "# Docs for Bat\nclass Bat\n  # say hi\n  def hi; end\nend\n" > bat.rb && rdoc -q -o out bat.rb && ls out | head -5 && rdoc --ri -q -o ri bat.rb && ri -d ri Bat'
c ri --no-pager String
s 'cd /tmp/rbbat && printf "class Calc\nrule\n  exp: exp \"+\" NUM { result = val[0] + val[2] } | NUM\nend\n---- inner\ndef parse(toks) = (@t = toks; do_parse)\ndef next_token = @t.shift\n" > calc.y && racc3.1 -o calc.rb calc.y && ruby -r./calc -e "p Calc.new.parse([[:NUM, 1], [\"+\", \"+\"], [:NUM, 2], [false, false]])"'
s 'ruby -e "load Gem.bin_path(%q(rbs), %q(rbs))" -- list | tail -3'
c ruby -e 'load Gem.bin_path("rbs", "rbs")' -- method String upcase
s 'cd /tmp/rbbat && printf "def add(a, b) = a + b\nadd(1, 2)\n" > tp.rb && ruby -e "load Gem.bin_path(\"typeprof\", \"typeprof\")" tp.rb'
c ruby -r debug/open_nonstop -e 'sleep 0.5; p :debug_open'
s 'RUBY_DEBUG_SOCK_DIR=/tmp/rbbat ruby -e "require \"debug/session\"; DEBUGGER__.open(nonstop: true); sleep 0.5; p Dir[\"/tmp/rbbat/ruby-debug*\"]"'
s 'cd /tmp/rbbat && printf "require \"minitest/autorun\"\nclass T < Minitest::Test\n def test_x = assert_equal(2, 1 + 1)\nend\n" > mt.rb && ruby mt.rb; printf "require \"test/unit\"\nclass U < Test::Unit::TestCase\n def test_y = assert(true)\nend\n" > tu.rb && ruby tu.rb'
s 'cd /tmp/rbbat && ruby -e "require \"mkmf\"; p have_header(\"stdio.h\")"; ls mkmf.log 2>/dev/null'
s 'ruby -run -e httpd -- --port=18341 --bind-address=127.0.0.1 /tmp/rbbat/www & P=$!; sleep 2; ruby -rnet/http -e "p Net::HTTP.get(URI(\"http://127.0.0.1:18341/\"))"; kill -TERM $P; wait $P'
s 'cd /tmp/rbbat && ruby -run -e mkdir -- -p un/a/b && ruby -run -e touch -- un/a/f && ruby -run -e cp -- un/a/f un/g && ruby -run -e ln -- -s un/g un/l && ruby -run -e chmod -- 0600 un/g && ruby -run -e install -- -m 0644 un/g un/h && ruby -run -e rm -- -rf un/a && ruby -run -e mkmf -- bat 2>&1 | head -3; ls -la un'
s 'ruby -rwebrick -e "s=WEBrick::HTTPServer.new(BindAddress: %q(127.0.0.1), Port: 18323, DocumentRoot: %q(/srv/www)); trap(%q(TERM)){s.shutdown}; s.start" & P=$!; sleep 2; ruby -rnet/http -e "h = Net::HTTP.new(%q(127.0.0.1), 18323); p h.get(%q(/)).code, h.get(%q(/nope)).code, h.head(%q(/)).code"; kill -TERM $P; wait $P'
echo BATTERY-END $B
