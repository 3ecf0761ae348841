//! `dockergate profile` with the analysis cache, end to end: a small real image (host programs
//! and the libraries they load, copied to their paths into a `dir:` rootfs), the real binary run
//! cold, warm, without the cache and on one thread: profile and evidence byte-identical every
//! time. Two processes on one empty cache at once; a damaged, a read-only and a full cache; the
//! same against a real PostgreSQL server (skipped with a message when its binaries are absent).

#[path = "support/host_image.rs"]
mod host_image;
#[path = "../../cache/tests/support/pg.rs"]
mod pg;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use host_image::{copy_with_libraries, docker_archive};

const BIN: &str = env!("CARGO_BIN_EXE_dockergate");

/// The programs of the test image.
const PROGRAMS: &[&str] = &["/bin/true", "/usr/bin/env", "/bin/sleep"];

/// A rootfs with the programs and every library they load (per the host's ldd), at their paths.
fn image() -> &'static Path {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = tempfile::Builder::new()
            .prefix("dockergate-cache-image-")
            .tempdir()
            .unwrap();
        copy_with_libraries(root.path(), PROGRAMS);
        // Readable by everyone (the read-only test runs the CLI as nobody).
        chmod(root.path(), 0o755);
        root
    })
    .path()
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn tmp() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("dockergate-cache-cli-")
        .tempdir()
        .unwrap();
    chmod(d.path(), 0o755);
    d
}

/// A profile run: (profile, evidence, stderr).
struct Run {
    profile: Vec<u8>,
    evidence: Vec<u8>,
    stderr: String,
}

fn profile_in(out_dir: &Path, tag: &str, args: &[&str]) -> Run {
    profile_of(out_dir, tag, &format!("dir:{}", image().display()), args)
}

/// `dockergate profile IMAGE` with the outputs named after `tag` in `out_dir`.
fn profile_of(out_dir: &Path, tag: &str, image: &str, args: &[&str]) -> Run {
    let p = out_dir.join(format!("{tag}.json"));
    let e = out_dir.join(format!("{tag}.evidence.json"));
    // Image scope unless the test names one: every program of the image is analysed.
    let scope: &[&str] = if args.contains(&"--scope") {
        &[]
    } else {
        &["--scope", "image"]
    };
    let out = Command::new(BIN)
        .arg("profile")
        .args(scope)
        .arg(image)
        .arg("-o")
        .arg(&p)
        .arg("--evidence")
        .arg(&e)
        .arg("--unresolved=allow-all")
        .args(args)
        .env("XDG_CACHE_HOME", out_dir.join("xdg"))
        .output()
        .unwrap();
    finish(out, &p, &e)
}

fn finish(out: Output, p: &Path, e: &Path) -> Run {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "dockergate profile failed: {stderr}");
    Run {
        profile: std::fs::read(p).unwrap(),
        evidence: std::fs::read(e).unwrap(),
        stderr,
    }
}

/// The profile and evidence without any cache, single-threaded: the reference.
fn reference() -> &'static (Vec<u8>, Vec<u8>) {
    static REF: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    REF.get_or_init(|| {
        let d = tmp();
        let r = profile_in(d.path(), "ref", &["--no-cache", "-j", "1"]);
        (r.profile, r.evidence)
    })
}

fn same_as_reference(r: &Run, what: &str) {
    let (p, e) = reference();
    assert!(
        r.profile == *p,
        "{what}: the profile differs from the uncached one"
    );
    assert!(
        r.evidence == *e,
        "{what}: the evidence differs from the uncached one"
    );
}

/// `cache: N objects: H from cache, M analysed` of a -v run.
fn hits_misses(stderr: &str) -> (u64, u64) {
    cache_counts(stderr, " objects: ")
}

/// `cache: N programs: H from cache, M analysed` of a -v run.
fn program_hits_misses(stderr: &str) -> (u64, u64) {
    cache_counts(stderr, " programs: ")
}

/// (H, M) of the `cache: N<what>H from cache, M analysed` line of a -v run.
fn cache_counts(stderr: &str, what: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("cache: ") && l.contains(what))
        .unwrap_or_else(|| panic!("no cache line with {what:?} in: {stderr}"));
    let num = |after: &str| -> u64 {
        let i = line.find(after).unwrap();
        line[..i].rsplit(' ').next().unwrap().parse().unwrap()
    };
    (num(" from cache"), num(" analysed"))
}

/// The entry count `cache stats` prints.
fn entries(stats: &str) -> u64 {
    stats
        .lines()
        .find_map(|l| l.strip_prefix("entries:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no entries line in: {stats}"))
}

#[test]
fn cold_warm_uncached_one_thread_identical() {
    let d = tmp();
    let cache = d.path().join("c.db");
    let c = cache.to_str().unwrap();
    let cold = profile_in(d.path(), "cold", &["--cache", c, "-v"]);
    same_as_reference(&cold, "cold");
    let (h, m) = hits_misses(&cold.stderr);
    assert_eq!(h, 0, "{}", cold.stderr);
    assert!(m >= PROGRAMS.len() as u64);
    // An empty cache: no file is read and hashed ahead of the analysis, which hashes each
    // as it reads it; with entries in the cache, every file is (and all are found).
    assert!(!cold.stderr.contains("cache: hashed"), "{}", cold.stderr);
    let other = profile_in(
        d.path(),
        "other",
        &["--cache", c, "-v", "--exclude", "/bin/sleep"],
    );
    assert!(other.stderr.contains("cache: hashed"), "{}", other.stderr);
    assert_eq!(hits_misses(&other.stderr).1, 0, "{}", other.stderr);
    let warm = profile_in(d.path(), "warm", &["--cache", c, "-v"]);
    same_as_reference(&warm, "warm");
    assert_eq!(hits_misses(&warm.stderr), (m, 0), "{}", warm.stderr);
    // Every program's result came from the cache too (the witnesses analysed again).
    assert_eq!(program_hits_misses(&warm.stderr).1, 0, "{}", warm.stderr);
    let warm1 = profile_in(d.path(), "warm1", &["--cache", c, "-v", "-j", "1"]);
    same_as_reference(&warm1, "warm, one thread");
    assert_eq!(hits_misses(&warm1.stderr), (m, 0));
    let many = profile_in(d.path(), "many", &["--cache", c, "-j", "4"]);
    same_as_reference(&many, "warm, four threads");
    let none = profile_in(d.path(), "none", &["--no-cache"]);
    same_as_reference(&none, "--no-cache");

    // The default place: $XDG_CACHE_HOME/dockergate/cache.db.
    let dflt = profile_in(d.path(), "default", &[]);
    same_as_reference(&dflt, "default cache");
    assert!(d.path().join("xdg/dockergate/cache.db").is_file());

    // -q: nothing but warnings; default: the summary line.
    let q = profile_in(d.path(), "quiet", &["--cache", c, "-q"]);
    assert!(
        q.stderr.lines().all(|l| l.starts_with("warning: ")),
        "{}",
        q.stderr
    );
    assert!(dflt.stderr.contains("syscalls allowed"), "{}", dflt.stderr);

    // cache stats: entries, the last run's hit rate; clear empties it.
    let stats = Command::new(BIN)
        .args(["cache", "stats", "--cache", c])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.status.success(), "{text}");
    // Object summaries plus completed summaries (functions completed on demand).
    assert!(entries(&text) >= m, "{text}");
    assert!(text.contains("hit rate 100.0%"), "{text}");
    let json = Command::new(BIN)
        .args(["cache", "stats", "--json", "--cache", c])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let n = entries(&text);
    assert_eq!(v["entries"], n);
    assert_eq!(v["last_run"]["hits"], m);
    let clear = Command::new(BIN)
        .args(["cache", "clear", "--cache", c])
        .output()
        .unwrap();
    assert!(clear.status.success());
    assert!(String::from_utf8_lossy(&clear.stdout).contains(&format!("removed {n} entries")));
    let again = profile_in(d.path(), "again", &["--cache", c, "-v"]);
    assert_eq!(hits_misses(&again.stderr), (0, m));
}

#[test]
fn two_processes_share_one_cache() {
    let d = tmp();
    let cache = d.path().join("shared.db");
    let c = cache.to_str().unwrap();
    for round in 0..2 {
        let spawn = |tag: &str| {
            let p = d.path().join(format!("{tag}.json"));
            let e = d.path().join(format!("{tag}.evidence.json"));
            let child = Command::new(BIN)
                .args(["profile", "--scope", "image"])
                .arg(format!("dir:{}", image().display()))
                .arg("-o")
                .arg(&p)
                .arg("--evidence")
                .arg(&e)
                .args(["--unresolved=allow-all", "-v", "--cache", c])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (child, p, e)
        };
        let a = spawn(&format!("a{round}"));
        let b = spawn(&format!("b{round}"));
        for (child, p, e) in [a, b] {
            let r = finish(child.wait_with_output().unwrap(), &p, &e);
            same_as_reference(&r, "concurrent");
            assert!(!r.stderr.contains("warning: the cache"), "{}", r.stderr);
        }
    }
    let warm = profile_in(d.path(), "warm", &["--cache", c, "-v"]);
    let (h, m) = hits_misses(&warm.stderr);
    assert_eq!(m, 0, "nothing was lost: {}", warm.stderr);
    assert!(h > 0);
}

#[test]
fn damaged_cache_file_is_reported_and_rebuilt() {
    let d = tmp();
    let cache = d.path().join("c.db");
    let c = cache.to_str().unwrap();
    let cold = profile_in(d.path(), "cold", &["--cache", c, "-v"]);
    let (_, n) = hits_misses(&cold.stderr);
    // Bytes flipped through the file, then the file cut short.
    let mut data = std::fs::read(&cache).unwrap();
    for i in (150..data.len()).step_by(997) {
        data[i] ^= 0xa5;
    }
    std::fs::write(&cache, &data).unwrap();
    let r = profile_in(d.path(), "flipped", &["--cache", c, "-v"]);
    same_as_reference(&r, "flipped bytes");
    assert!(r.stderr.contains("warning: "), "{}", r.stderr);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&cache)
        .unwrap();
    f.set_len(std::fs::metadata(&cache).unwrap().len() / 3)
        .unwrap();
    drop(f);
    let r = profile_in(d.path(), "truncated", &["--cache", c, "-v"]);
    same_as_reference(&r, "truncated");
    assert!(r.stderr.contains("damaged"), "{}", r.stderr);
    let r = profile_in(d.path(), "after", &["--cache", c, "-v"]);
    same_as_reference(&r, "after the rebuild");
    assert_eq!(hits_misses(&r.stderr), (n, 0), "{}", r.stderr);
}

#[test]
fn read_only_cache_is_used_for_lookups() {
    let d = tmp();
    let dir = d.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    let cache = dir.join("c.db");
    let c = cache.to_str().unwrap();
    profile_in(d.path(), "fill", &["--cache", c]);
    for e in std::fs::read_dir(&dir).unwrap() {
        chmod(&e.unwrap().path(), 0o444);
    }
    chmod(&dir, 0o555);
    let out_dir = d.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    chmod(&out_dir, 0o777);
    let p = out_dir.join("ro.json");
    let e = out_dir.join("ro.evidence.json");
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    let out = cmd
        .args(["profile", "--scope", "image"])
        .arg(format!("dir:{}", image().display()))
        .arg("-o")
        .arg(&p)
        .arg("--evidence")
        .arg(&e)
        .args(["--unresolved=allow-all", "-v", "--cache", c])
        .env("HOME", &out_dir)
        .current_dir("/")
        .output()
        .unwrap();
    chmod(&dir, 0o755);
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("runuser") {
        eprintln!(
            "SKIPPED read_only_cache_is_used_for_lookups: cannot run as nobody: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let r = finish(out, &p, &e);
    same_as_reference(&r, "read-only cache");
    assert!(r.stderr.contains("read-only"), "{}", r.stderr);
    let (h, m) = hits_misses(&r.stderr);
    assert!(h > 0 && m == 0, "{}", r.stderr);
}

/// A real full file system (a 512 KiB tmpfs, root only): warned, right output.
#[test]
fn full_disk_goes_on_uncached() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED full_disk_goes_on_uncached: mounting a small tmpfs needs root");
        return;
    }
    let d = tmp();
    let mnt = d.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&mnt)
        .status();
    if !st.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED full_disk_goes_on_uncached: cannot mount a tmpfs here");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    // Fill it but for ~170 KiB, so that the cache starts and then runs out of room.
    let filler = mnt.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 340 << 10]);
    let cache = mnt.join("c.db");
    let r = profile_in(
        d.path(),
        "full",
        &["--cache", cache.to_str().unwrap(), "-v"],
    );
    same_as_reference(&r, "full disk");
    assert!(r.stderr.contains("warning: "), "{}", r.stderr);
    assert!(
        r.stderr.contains("without storing") || r.stderr.contains("without the cache"),
        "{}",
        r.stderr
    );
}

#[test]
fn postgres_shared_cache() {
    let Some(server) = pg::server_or_skip("postgres_shared_cache") else {
        return;
    };
    let url = server.url("cli");
    let d = tmp();
    // Two machines' worth of processes at once on an empty server, twice.
    for round in 0..2 {
        let spawn = |tag: String| {
            let p = d.path().join(format!("{tag}.json"));
            let e = d.path().join(format!("{tag}.evidence.json"));
            let child = Command::new(BIN)
                .args(["profile", "--scope", "image"])
                .arg(format!("dir:{}", image().display()))
                .arg("-o")
                .arg(&p)
                .arg("--evidence")
                .arg(&e)
                .args(["--unresolved=allow-all", "-v", "--cache", &url])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (child, p, e)
        };
        let runs: Vec<_> = (0..3).map(|i| spawn(format!("pg{round}-{i}"))).collect();
        for (child, p, e) in runs {
            let r = finish(child.wait_with_output().unwrap(), &p, &e);
            same_as_reference(&r, "postgres, concurrent");
            assert!(!r.stderr.contains("warning: the cache"), "{}", r.stderr);
        }
    }
    let warm = profile_in(d.path(), "pgwarm", &["--cache", &url, "-v"]);
    same_as_reference(&warm, "postgres, warm");
    let (h, m) = hits_misses(&warm.stderr);
    assert!(h > 0 && m == 0, "{}", warm.stderr);
    assert!(warm
        .stderr
        .contains("cache: postgres postgres://postgres@127.0.0.1"));
    let stats = Command::new(BIN)
        .args(["cache", "stats", "--cache", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&stats.stdout);
    assert!(entries(&text) >= h, "{text}");
    assert!(text.contains("hit rate 100.0%"), "{text}");
}

/// The test image as a docker-archive with `cmd` as its Cmd.
fn archive(dir: &Path, cmd: &str) -> PathBuf {
    let out = dir.join(format!("image-{}.tar", cmd.replace('/', "_")));
    docker_archive(image(), &[cmd], &out);
    out
}

fn profile_archive(out_dir: &Path, tag: &str, image: &Path, args: &[&str]) -> Run {
    profile_of(
        out_dir,
        tag,
        &format!("docker-archive:{}", image.display()),
        args,
    )
}

/// An archive seen before, with the same options: its whole report comes from the cache, byte
/// for byte what an uncached run writes. Other bytes or other options are analysed.
#[test]
fn whole_report_replayed_for_the_same_archive() {
    let d = tmp();
    let c = d.path().join("r.db");
    let c = c.to_str().unwrap();
    let img = archive(d.path(), "/bin/true");
    let reference = profile_archive(d.path(), "ref", &img, &["--no-cache"]);
    let cold = profile_archive(d.path(), "cold", &img, &["--cache", c, "-v"]);
    assert!(!cold.stderr.contains("the whole report"), "{}", cold.stderr);
    let warm = profile_archive(d.path(), "warm", &img, &["--cache", c, "-v"]);
    assert!(warm.stderr.contains("the whole report"), "{}", warm.stderr);
    for r in [&cold, &warm] {
        assert!(
            r.profile == reference.profile,
            "profile differs from the uncached one"
        );
        assert!(
            r.evidence == reference.evidence,
            "evidence differs from the uncached one"
        );
    }
    // Another option: analysed again.
    let scoped = profile_archive(
        d.path(),
        "scoped",
        &img,
        &["--cache", c, "-v", "--scope", "entrypoint"],
    );
    assert!(
        !scoped.stderr.contains("the whole report"),
        "{}",
        scoped.stderr
    );
    // Other bytes (another Cmd in the config): analysed again.
    let other = archive(d.path(), "/usr/bin/env");
    let r = profile_archive(
        d.path(),
        "other",
        &other,
        &["--cache", c, "-v", "--scope", "entrypoint"],
    );
    assert!(!r.stderr.contains("the whole report"), "{}", r.stderr);
    assert!(r.evidence != scoped.evidence);
}

/// A damaged whole report (its bytes changed in the SQLite file) is reported, never replayed:
/// the image is analysed again, the output is the uncached one, and the entry is replaced.
#[test]
fn damaged_report_is_recomputed_and_replaced() {
    let d = tmp();
    let c = d.path().join("dr.db");
    let c = c.to_str().unwrap();
    let img = archive(d.path(), "/bin/sleep");
    let reference = profile_archive(d.path(), "ref", &img, &["--no-cache"]);
    profile_archive(d.path(), "cold", &img, &["--cache", c]);
    let db = rusqlite::Connection::open(c).unwrap();
    // REPORT_ARCH ("REPT"): flip one byte of the payload of every report entry.
    let n = db
        .execute(
            "UPDATE summaries SET value = CAST(substr(value, 1, 20) || X'FF' || substr(value, 22) AS BLOB) WHERE arch = 1380274260",
            [],
        )
        .unwrap();
    assert_eq!(n, 1, "one report entry");
    drop(db);
    let r = profile_archive(d.path(), "damaged", &img, &["--cache", c, "-v"]);
    assert!(
        r.stderr.contains("damaged entry") && r.stderr.contains("an image report"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("the whole report"), "{}", r.stderr);
    assert!(r.profile == reference.profile && r.evidence == reference.evidence);
    let again = profile_archive(d.path(), "again", &img, &["--cache", c, "-v"]);
    assert!(
        again.stderr.contains("the whole report"),
        "{}",
        again.stderr
    );
    assert!(again.profile == reference.profile && again.evidence == reference.evidence);
}

/// A program's kept result is keyed by the contents of every object it loads: in an image
/// whose C library differs (the same file with bytes appended, as loadable), every program is
/// analysed again, and the output is the uncached one; run again, all come from the cache.
#[test]
fn program_results_follow_library_contents() {
    let d = tmp();
    let cache = d.path().join("p.db");
    let c = cache.to_str().unwrap();
    let a = profile_in(d.path(), "a", &["--cache", c, "-v"]);
    let (_, analysed) = program_hits_misses(&a.stderr);
    assert!(analysed >= PROGRAMS.len() as u64, "{}", a.stderr);

    let other = tempfile::Builder::new()
        .prefix("dockergate-cache-image-b-")
        .tempdir()
        .unwrap();
    copy_with_libraries(other.path(), PROGRAMS);
    let libc = walk(other.path())
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "libc.so.6"))
        .expect("the test image holds the C library");
    let mut bytes = std::fs::read(&libc).unwrap();
    bytes.extend_from_slice(b"\0another build of the same library\0");
    std::fs::write(&libc, bytes).unwrap();
    let image = format!("dir:{}", other.path().display());

    let reference = profile_of(d.path(), "bref", &image, &["--no-cache"]);
    let b = profile_of(d.path(), "b", &image, &["--cache", c, "-v"]);
    assert!(
        b.profile == reference.profile,
        "profile differs from the uncached one"
    );
    assert!(
        b.evidence == reference.evidence,
        "evidence differs from the uncached one"
    );
    assert_eq!(
        program_hits_misses(&b.stderr),
        (0, analysed),
        "{}",
        b.stderr
    );
    let again = profile_of(d.path(), "b2", &image, &["--cache", c, "-v"]);
    assert!(again.evidence == reference.evidence);
    assert_eq!(
        program_hits_misses(&again.stderr),
        (analysed, 0),
        "{}",
        again.stderr
    );
}

/// Every regular file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
