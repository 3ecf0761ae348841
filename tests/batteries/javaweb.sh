#!/bin/bash
# Battery of the `javaweb` image (tests/fixtures/server-images.sh: Debian's OpenJDK 17), for
# ../shared/corpus/battery.sh (BATTERY file argument). An image-scope profile must give "0 denied". Base's
# battery first, then the JDK the way developers and operators use it: a program compiled here that touches
# files, channels, memory maps, file watches, processes, threads, sockets (blocking, NIO, asynchronous, unix),
# HTTP, TLS, zip, management beans and signals, run under each garbage collector and execution mode; then
# the tools that attach to a running JVM (jcmd, jstack, jmap, jfr) and the others (jshell, javac, jar,
# keytool). Written for this battery, not taken from any workload. Each command is bounded by timeout.
BATTERY_INCLUDED=1
. /.evalbattery/shared/base.sh
W=/tmp/javabat; mkdir -p $W; cd $W || exit 1
cat > $W/Bat.java <<'JAVA'
import java.io.*;
import java.net.*;
import java.nio.*;
import java.nio.channels.*;
import java.nio.file.*;
import java.nio.file.attribute.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.zip.*;
import java.lang.management.*;

public class Bat {
    static void step(String name, Callable<Object> c) {
        try { System.out.println(name + ": " + c.call()); } catch (Throwable t) { System.out.println(name + " failed: " + t); }
    }
    public static void main(String[] a) throws Exception {
        Path d = Files.createTempDirectory("jbat");
        step("files", () -> {
            Path f = d.resolve("a"); Files.writeString(f, "x".repeat(100000));
            Files.copy(f, d.resolve("b"), StandardCopyOption.COPY_ATTRIBUTES);
            Files.move(d.resolve("b"), d.resolve("c"), StandardCopyOption.ATOMIC_MOVE);
            Files.createSymbolicLink(d.resolve("l"), f); Files.createLink(d.resolve("h"), f);
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
            Files.setLastModifiedTime(f, FileTime.fromMillis(1000));
            PosixFileAttributes at = Files.readAttributes(f, PosixFileAttributes.class);
            try { UserDefinedFileAttributeView v = Files.getFileAttributeView(f, UserDefinedFileAttributeView.class); v.write("k", ByteBuffer.wrap(new byte[]{1})); v.list(); } catch (IOException e) { }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) { ds.forEach(p -> {}); }
            Files.walk(Paths.get("/etc"), 2).count();
            return at.size() + " " + Files.readSymbolicLink(d.resolve("l")) + " " + Files.getFileStore(f).getTotalSpace();
        });
        step("channels", () -> {
            try (FileChannel ch = FileChannel.open(d.resolve("m"), StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                MappedByteBuffer mb = ch.map(FileChannel.MapMode.READ_WRITE, 0, 1 << 20); mb.put(0, (byte) 1); mb.force();
                ch.write(ByteBuffer.wrap(new byte[100]), 10); ch.force(true); ch.truncate(4096);
                try (FileLock l = ch.lock()) { }
                try (FileChannel src = FileChannel.open(d.resolve("a"))) { src.transferTo(0, src.size(), ch); }
                return ch.size();
            }
        });
        step("watch", () -> {
            WatchService ws = FileSystems.getDefault().newWatchService();
            d.register(ws, StandardWatchEventKinds.ENTRY_CREATE); Files.writeString(d.resolve("w"), "x");
            WatchKey k = ws.poll(2, TimeUnit.SECONDS); ws.close(); return k != null;
        });
        step("process", () -> {
            Process p = new ProcessBuilder("ls", "/").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            Process q = Runtime.getRuntime().exec(new String[]{"sh", "-c", "echo $$; sleep 5"}); q.destroy(); q.waitFor();
            ProcessHandle.current().children().count(); ProcessHandle.allProcesses().count();
            return p.waitFor() + " " + out.length() + " " + ProcessHandle.current().pid() + " " + ProcessHandle.current().info().command().orElse("?");
        });
        step("threads", () -> {
            ExecutorService ex = Executors.newFixedThreadPool(4); List<Future<Integer>> fs = new ArrayList<>();
            for (int i = 0; i < 8; i++) { final int n = i; fs.add(ex.submit(() -> n * n)); }
            int s = 0; for (Future<Integer> f : fs) s += f.get(); ex.shutdown(); ex.awaitTermination(5, TimeUnit.SECONDS);
            ForkJoinPool.commonPool().submit(() -> Arrays.stream(new int[100000]).parallel().sum()).get();
            ScheduledExecutorService se = Executors.newScheduledThreadPool(1); se.schedule(() -> 1, 10, TimeUnit.MILLISECONDS).get(); se.shutdown();
            Object lock = new Object(); synchronized (lock) { lock.wait(10); } Thread.sleep(5); LockSupportTest.park();
            return s;
        });
        step("sockets", () -> {
            try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
                Socket c = new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort()); Socket sv = ss.accept();
                c.setTcpNoDelay(true); c.setSoTimeout(1000); c.getOutputStream().write(new byte[5000]); sv.getInputStream().readNBytes(5000);
                c.shutdownOutput(); c.close(); sv.close();
            }
            DatagramSocket u = new DatagramSocket(0, InetAddress.getLoopbackAddress()); DatagramSocket v = new DatagramSocket();
            v.send(new DatagramPacket(new byte[]{1}, 1, InetAddress.getLoopbackAddress(), u.getLocalPort())); DatagramPacket pk = new DatagramPacket(new byte[10], 10); u.setSoTimeout(1000); u.receive(pk);
            MulticastSocket ms = new MulticastSocket(0); ms.close();
            return InetAddress.getByName("localhost") + " " + InetAddress.getLocalHost() + " " + Collections.list(NetworkInterface.getNetworkInterfaces()).size();
        });
        step("nio", () -> {
            Selector sel = Selector.open();
            ServerSocketChannel ssc = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)); ssc.configureBlocking(false); ssc.register(sel, SelectionKey.OP_ACCEPT);
            SocketChannel sc = SocketChannel.open(ssc.getLocalAddress()); sel.select(1000);
            SocketChannel acc = ssc.accept(); sc.write(ByteBuffer.wrap("hi".getBytes())); ByteBuffer b = ByteBuffer.allocateDirect(10); acc.read(b);
            Pipe pipe = Pipe.open(); pipe.sink().write(ByteBuffer.wrap(new byte[]{1}));
            AsynchronousServerSocketChannel as = AsynchronousServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Future<AsynchronousSocketChannel> fa = as.accept(); AsynchronousSocketChannel ac = AsynchronousSocketChannel.open(); ac.connect(as.getLocalAddress()).get(); fa.get().close();
            AsynchronousFileChannel af = AsynchronousFileChannel.open(d.resolve("a")); af.read(ByteBuffer.allocate(10), 0).get(); af.close();
            DatagramChannel dc = DatagramChannel.open().bind(null); dc.close();
            Path sp = d.resolve("sock"); ServerSocketChannel us = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(sp));
            SocketChannel uc = SocketChannel.open(UnixDomainSocketAddress.of(sp)); us.accept().close(); uc.close(); us.close();
            return b.position();
        });
        step("http", () -> {
            com.sun.net.httpserver.HttpServer hs = com.sun.net.httpserver.HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            hs.createContext("/", ex -> { byte[] r = "ok".getBytes(); ex.sendResponseHeaders(200, r.length); ex.getResponseBody().write(r); ex.close(); }); hs.start();
            java.net.http.HttpClient cl = java.net.http.HttpClient.newHttpClient();
            String body = cl.send(java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + hs.getAddress().getPort() + "/")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
            HttpURLConnection uc = (HttpURLConnection) new URL("http://127.0.0.1:" + hs.getAddress().getPort() + "/").openConnection(); uc.getInputStream().readAllBytes();
            hs.stop(0); return body;
        });
        step("crypto", () -> {
            java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("EC"); g.initialize(256); g.generateKeyPair();
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getDefault(); ctx.getSupportedSSLParameters();
            java.security.SecureRandom.getInstanceStrong().nextInt(); new java.security.SecureRandom().nextInt();
            return java.security.MessageDigest.getInstance("SHA-256").digest(new byte[10]).length;
        });
        step("zip", () -> {
            ByteArrayOutputStream bo = new ByteArrayOutputStream();
            try (ZipOutputStream z = new ZipOutputStream(bo)) { z.putNextEntry(new ZipEntry("a")); z.write(new byte[100000]); }
            try (ZipFile zf = new ZipFile(new File("/usr/lib/jvm").listFiles()[0].toPath().resolve("lib/jrt-fs.jar").toFile())) { zf.size(); }
            Deflater df = new Deflater(); df.setInput(new byte[1000]); df.finish(); df.deflate(new byte[100]); df.end();
            new CRC32().update(new byte[10]); return bo.size();
        });
        step("management", () -> {
            OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
            ThreadMXBean tb = ManagementFactory.getThreadMXBean(); tb.getThreadCpuTime(Thread.currentThread().getId()); tb.dumpAllThreads(true, true);
            ManagementFactory.getMemoryMXBean().getHeapMemoryUsage(); ManagementFactory.getRuntimeMXBean().getUptime();
            ManagementFactory.getGarbageCollectorMXBeans().forEach(x -> x.getCollectionCount());
            if (os instanceof com.sun.management.UnixOperatingSystemMXBean u) u.getOpenFileDescriptorCount();
            System.gc(); Runtime.getRuntime().availableProcessors(); Runtime.getRuntime().addShutdownHook(new Thread(() -> {}));
            return os.getSystemLoadAverage() + " " + os.getArch();
        });
        step("misc", () -> {
            TimeZone.getDefault(); java.time.ZonedDateTime.now(); System.nanoTime(); System.getenv("PATH"); Locale.getDefault();
            java.nio.charset.Charset.availableCharsets().size();
            sun.misc.Signal.handle(new sun.misc.Signal("USR2"), s -> {}); sun.misc.Signal.raise(new sun.misc.Signal("USR2"));
            Thread.sleep(50); return new File("/").getFreeSpace() > 0;
        });
        System.exit(0);
    }
}
class LockSupportTest { static void park() { java.util.concurrent.locks.LockSupport.parkNanos(1000); } }
JAVA
c javac -d $W $W/Bat.java
c jar cfe $W/bat.jar Bat -C $W .
c java -cp $W Bat
c java -jar $W/bat.jar
for opt in -XX:+UseSerialGC -XX:+UseParallelGC -XX:+UseZGC -XX:+UseShenandoahGC -Xint -XX:TieredStopAtLevel=1 \
    -XX:+AlwaysPreTouch -XX:+UseTransparentHugePages -XX:+UseNUMA -XX:-UseCompressedOops -Xss256k; do
  c java $opt -Xmx128m -cp $W Bat
done
c java -Xshare:dump -XX:SharedArchiveFile=$W/app.jsa -cp $W/bat.jar Bat
c java -XX:SharedArchiveFile=$W/app.jsa -cp $W/bat.jar Bat
c java -XX:ArchiveClassesAtExit=$W/dyn.jsa -cp $W/bat.jar Bat
c java -Xlog:gc*:file=$W/gc.log -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=$W -Xmx16m -cp $W Bat
c java -XX:StartFlightRecording=duration=2s,filename=$W/rec.jfr -cp $W Bat
c java -XX:+UnlockDiagnosticVMOptions -XX:+PrintFlagsFinal -version
c java -XshowSettings:all -version
c java --list-modules
c java -Xcheck:jni -cp $W Bat
# tools that attach to a running JVM (a unix socket in /tmp, SIGQUIT)

s "cat > $W/Sleep.java <<'J'
public class Sleep { public static void main(String[] a) throws Exception { Thread.sleep(8000); } }
J
javac -d $W $W/Sleep.java"
s "java -cp $W Sleep & pid=\$!; sleep 1; jps -l; jcmd \$pid VM.version; jcmd \$pid Thread.print | head -3; jcmd \$pid GC.heap_info; jstack \$pid | head -3; jmap -histo \$pid | head -3; jinfo -flags \$pid; jstat -gc \$pid; jcmd \$pid JFR.start duration=1s filename=$W/a.jfr; sleep 2; jfr summary $W/a.jfr | head -3; kill -QUIT \$pid; kill \$pid; wait"
s "echo 'System.out.println(1 + 1)' | jshell -q"
c javap -c -cp $W Bat
c jdeps $W/bat.jar
c jar tf $W/bat.jar
c keytool -genkeypair -alias a -keyalg EC -dname CN=bat -keystore $W/ks.p12 -storepass changeit -validity 1
c keytool -list -keystore $W/ks.p12 -storepass changeit
c jarsigner -keystore $W/ks.p12 -storepass changeit $W/bat.jar a
c jimage list /usr/lib/jvm/java-17-openjdk-amd64/lib/modules
c jlink --add-modules java.base --output $W/rt --strip-debug --no-header-files --no-man-pages
c $W/rt/bin/java -version
echo BATTERY-END $B
