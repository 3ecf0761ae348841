#!/bin/bash
# Battery of the `nodeweb` image (tests/fixtures/server-images.sh: Debian's nodejs), for
# ../shared/corpus/battery.sh (BATTERY file argument). An image-scope profile must give "0 denied". Base's
# battery first, then node the way programs use it: files (sync, callbacks, promises, streams, watchers),
# processes, worker threads, timers, sockets (TCP, UDP, unix, HTTP, HTTP/2, TLS), DNS, crypto, zlib, the REPL.
# Written for this battery, not taken from any workload. Each command is bounded by timeout.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
W=/tmp/nodebat; mkdir -p $W; cd $W || exit 1
n() { c node -e "$1"; }
n 'const fs = require("fs"), p = "/tmp/nodebat/";
fs.writeFileSync(p + "a", "x".repeat(100000)); fs.appendFileSync(p + "a", "y"); fs.copyFileSync(p + "a", p + "b");
fs.copyFileSync(p + "a", p + "c", fs.constants.COPYFILE_FICLONE); fs.renameSync(p + "c", p + "d"); fs.linkSync(p + "a", p + "e");
fs.symlinkSync(p + "a", p + "f"); console.log(fs.readlinkSync(p + "f"), fs.statSync(p + "a").size, fs.lstatSync(p + "f").isSymbolicLink());
fs.chmodSync(p + "a", 0o600); fs.utimesSync(p + "a", 1, 2); fs.truncateSync(p + "b", 10); fs.mkdirSync(p + "x/y", {recursive: true});
console.log(fs.readdirSync(p, {withFileTypes: true}).length, fs.realpathSync(p + "f"), fs.existsSync(p + "zz"));
const fd = fs.openSync(p + "g", "w+"); fs.writeSync(fd, "abc"); fs.fsyncSync(fd); fs.fdatasyncSync(fd); fs.ftruncateSync(fd, 2);
fs.fchmodSync(fd, 0o644); fs.futimesSync(fd, 1, 2); console.log(fs.fstatSync(fd).size); fs.closeSync(fd);
fs.cpSync(p + "x", p + "x2", {recursive: true}); fs.rmSync(p + "x2", {recursive: true}); fs.mkdtempSync(p + "t-");
fs.accessSync(p + "a"); try { fs.statfsSync("/") } catch (e) { console.log(e.message) }'
n 'const fs = require("fs"), fsp = require("fs/promises"), p = "/tmp/nodebat/";
(async () => { const h = await fsp.open(p + "h", "w+"); await h.write("x".repeat(1000)); await h.sync(); await h.readv([Buffer.alloc(5)], 0);
  await h.writev([Buffer.from("a"), Buffer.from("b")]); await h.stat(); await h.truncate(1); await h.close();
  await fsp.copyFile(p + "h", p + "i"); await fsp.rm(p + "i"); await fsp.readdir("/etc"); await fsp.readFile("/etc/passwd");
  for await (const d of await fsp.opendir("/etc")) {}; await fsp.lchown(p + "h", 0, 0).catch(() => {}); await fsp.lutimes(p + "h", 1, 1);
  fs.createReadStream("/etc/passwd").pipe(fs.createWriteStream(p + "s")).on("finish", () => console.log("streamed"));
  fs.readFile("/etc/hostname", () => {}); fs.stat("/", () => {}); fs.realpath("/etc", () => {}); fs.mkdtemp(p + "u", () => {});
  const w = fs.watch(p, () => {}); fs.writeFileSync(p + "watched", "x"); fs.watchFile(p + "h", {interval: 50}, () => {});
  setTimeout(() => { w.close(); fs.unwatchFile(p + "h"); }, 200);
})()'
n 'const cp = require("child_process");
console.log(cp.execSync("echo hi").toString(), cp.spawnSync("ls", ["/"]).status, cp.execFileSync("true").length);
cp.exec("uname -a", (e, o) => console.log(o)); const c = cp.spawn("cat", [], {stdio: "pipe"}); c.stdin.end("x"); c.stdout.on("data", d => console.log(d.toString()));
const f = cp.fork("-e", [], {execArgv: ["-e", "process.send(1)"]}); f.on("message", m => { console.log("fork", m); f.kill(); });
cp.spawn("sleep", ["5"], {detached: true}).kill("SIGTERM"); cp.spawnSync("sh", ["-c", "exit 3"], {shell: true, uid: 0});'
n 'const { Worker, isMainThread, parentPort, MessageChannel } = require("worker_threads");
const w = new Worker("const {parentPort} = require(\"worker_threads\"); const sab = new SharedArrayBuffer(8); const a = new Int32Array(sab); Atomics.wait(a, 0, 0, 10); parentPort.postMessage(1)", {eval: true});
w.on("message", m => { console.log("worker", m); w.terminate(); }); const { port1, port2 } = new MessageChannel(); port2.on("message", m => { console.log(m); port2.close(); }); port1.postMessage("mc");
console.log(require("os").cpus().length, require("os").loadavg(), require("os").networkInterfaces() !== null, require("os").userInfo().username, require("os").freemem() > 0, require("os").uptime() > 0);
console.log(process.memoryUsage().rss > 0, process.resourceUsage().maxRSS > 0, process.cpuUsage(), process.hrtime.bigint() > 0n, process.getuid(), process.getgroups());
process.setUncaughtExceptionCaptureCallback(() => {}); process.on("SIGUSR2", () => console.log("usr2")); process.kill(process.pid, "SIGUSR2");
try { require("os").setPriority(10); console.log(require("os").getPriority()) } catch (e) { console.log(e.message) }
process.umask(0o22); process.chdir("/tmp"); setImmediate(() => {}); setInterval(() => {}, 10).unref(); queueMicrotask(() => {});'
n 'const net = require("net"), dgram = require("dgram"), http = require("http"), fs = require("fs");
const srv = net.createServer(s => s.end("tcp")).listen(0, "127.0.0.1", () => { const c = net.connect(srv.address().port, "127.0.0.1"); c.setNoDelay(); c.setKeepAlive(true, 100); c.on("data", d => { console.log(d.toString()); srv.close(); }); });
const sp = "/tmp/nodebat/sock"; try { fs.unlinkSync(sp) } catch {}; const us = net.createServer(s => s.end("unix")).listen(sp, () => net.connect(sp).on("data", d => { console.log(d.toString()); us.close(); }));
const u = dgram.createSocket("udp4"); u.bind(0, "127.0.0.1", () => { u.setBroadcast(true); u.send("udp", u.address().port, "127.0.0.1"); }); u.on("message", m => { console.log(m.toString()); u.close(); });
const u6 = dgram.createSocket("udp6"); u6.on("error", e => console.log(e.message)); u6.bind(0, "::1", () => u6.close());
const h = http.createServer((q, r) => r.end("http")).listen(0, "127.0.0.1", () => http.get("http://127.0.0.1:" + h.address().port, r => { r.on("data", d => console.log(d.toString())); r.on("end", () => h.close()); }));'
n 'const http2 = require("http2"), tls = require("tls"), crypto = require("crypto"), https = require("https");
const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", {namedCurve: "prime256v1"});
console.log(crypto.randomBytes(8).toString("hex"), crypto.createHash("sha256").update("x").digest("hex").slice(0, 8), crypto.scryptSync("p", "s", 8).toString("hex"), crypto.randomUUID());
crypto.pbkdf2("p", "s", 1000, 32, "sha512", () => console.log("pbkdf2")); crypto.generateKeyPair("rsa", {modulusLength: 1024}, () => console.log("rsa"));
const sig = crypto.sign(null, Buffer.from("m"), privateKey); console.log(crypto.verify(null, Buffer.from("m"), publicKey, sig));
const c = crypto.createCipheriv("aes-256-gcm", crypto.randomBytes(32), crypto.randomBytes(12)); c.update("x"); c.final();
const s2 = http2.createServer(); s2.on("stream", st => st.respond({":status": 200}) || st.end("h2")); s2.listen(0, "127.0.0.1", () => { const cl = http2.connect("http://127.0.0.1:" + s2.address().port); const r = cl.request({":path": "/"}); r.on("data", d => console.log(d.toString())); r.on("end", () => { cl.close(); s2.close(); }); r.end(); });
const ctx = tls.createSecureContext(); console.log(typeof ctx, tls.getCiphers().length > 0, crypto.getHashes().length > 0);'
n 'const dns = require("dns"), zlib = require("zlib"), readline = require("readline"), util = require("util"), v8 = require("v8"), vm = require("vm"), perf = require("perf_hooks");
dns.lookup("localhost", (e, a) => console.log("lookup", a)); dns.promises.lookup("localhost", {all: true}).then(r => console.log(r.length)); dns.resolve4("localhost", e => console.log(e && e.code));
const big = Buffer.alloc(1 << 20, 1); console.log(zlib.gzipSync(big).length, zlib.brotliCompressSync(big).length, zlib.inflateSync(zlib.deflateSync(big)).length);
zlib.gzip(big, () => console.log("async gzip")); console.log(v8.getHeapStatistics().total_heap_size > 0, vm.runInNewContext("1+1"), util.inspect({a: 1}));
v8.writeHeapSnapshot("/tmp/nodebat/heap.heapsnapshot"); const h = perf.monitorEventLoopDelay(); h.enable(); setTimeout(() => h.disable(), 50);
perf.performance.mark("a"); const obs = new perf.PerformanceObserver(() => {}); obs.observe({entryTypes: ["gc"]}); global.gc && global.gc(); setTimeout(() => obs.disconnect(), 60);'
c node --version
c node -p 'process.versions'
c node --v8-options
c bash -c 'echo "1+1; .exit" | node -i'
c node --check /dev/null
c node --cpu-prof --cpu-prof-dir=/tmp/nodebat/prof -e 'for (let i = 0; i < 1e6; i++);'
c node --heap-prof --heap-prof-dir=/tmp/nodebat/prof -e 'new Array(1e5).fill(1)'
c node --prof -e 'for (let i = 0; i < 1e6; i++);'
c node --expose-gc -e 'gc(); console.log("gc")'
c node --max-old-space-size=64 -e 'const a = []; try { for (;;) a.push(new Array(1e6)) } catch (e) {}'
c node --jitless -e 'console.log(1)'
c node --report-on-signal --report-directory=/tmp/nodebat -e 'process.report.writeReport("/tmp/nodebat/r.json")'
c node --abort-on-uncaught-exception -e 'console.log(1)'
c node --stack-size=2000 -e 'function f(n) { return n ? f(n - 1) : 0 } console.log(f(10000))'
c node --inspect=127.0.0.1:0 -e 'setTimeout(() => {}, 100)'
c node --trace-gc -e 'for (let i = 0; i < 1e6; i++) ({})'
echo BATTERY-END $B
