//! What the cache tests share: real objects (host binaries, analysed for real), checks that
//! every answer equals a fresh analysis, and scenarios run against both backends.
#![allow(dead_code)]

pub mod pg;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use dockergate_analysis::{analyze_object, ObjectSummary};
use dockergate_cache::{Cache, Location, WarningSink};
use dockergate_elf::{parse_elf, ElfObject};
use dockergate_pipeline::SummarySource;

/// A real object: its path, bytes, parsed headers and its summary analysed afresh.
pub struct Obj {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub elf: ElfObject,
    pub fresh: ObjectSummary,
}

/// A few small host programs (distinct contents), analysed once per test process.
pub fn objects() -> &'static [Obj] {
    static OBJS: OnceLock<Vec<Obj>> = OnceLock::new();
    OBJS.get_or_init(|| {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for p in [
            "/bin/true",
            "/bin/false",
            "/usr/bin/env",
            "/bin/echo",
            "/usr/bin/basename",
            "/usr/bin/dirname",
            "/bin/sleep",
            "/usr/bin/yes",
        ] {
            let Ok(bytes) = std::fs::read(p) else {
                continue;
            };
            if !seen.insert(bytes.clone()) {
                continue;
            }
            let Ok(elf) = parse_elf(&bytes) else { continue };
            let Ok(fresh) = analyze_object(&bytes, &elf) else {
                continue;
            };
            out.push(Obj {
                path: p.into(),
                bytes,
                elf,
                fresh,
            });
        }
        assert!(out.len() >= 3, "need at least 3 host programs to test with");
        out
    })
}

/// A cache whose warnings are collected.
pub fn open(loc: &Location) -> (Cache, Arc<Mutex<Vec<String>>>) {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let w = warnings.clone();
    let sink: WarningSink = Arc::new(move |m: &str| w.lock().unwrap().push(m.to_string()));
    let cache = Cache::open(loc, Some(sink)).expect("the cache opens");
    (cache, warnings)
}

/// Asks the cache for every object; each answer must be the fresh analysis.
pub fn ask_all(cache: &Cache) {
    for o in objects() {
        let s = cache
            .summary(&o.bytes, &o.elf)
            .unwrap_or_else(|e| panic!("{}: {e}", o.path.display()));
        assert!(
            *s == o.fresh,
            "{}: the cache gave a summary that is not the analysis's",
            o.path.display()
        );
    }
}

/// One full run: open, ask everything, finish. Returns (hits, misses, warnings).
pub fn run(loc: &Location, image: &str) -> (u64, u64, Vec<String>) {
    let (cache, warnings) = open(loc);
    ask_all(&cache);
    let s = cache.finish(image);
    drop(cache);
    let w = warnings.lock().unwrap().clone();
    (s.hits, s.misses, w)
}

/// Cold then warm: everything analysed once, then everything from the cache.
pub fn cold_then_warm(loc: &Location) {
    let n = objects().len() as u64;
    let (h, m, w) = run(loc, "cold");
    assert_eq!((h, m), (0, n), "cold run: {w:?}");
    assert!(w.is_empty(), "{w:?}");
    let (h, m, w) = run(loc, "warm");
    assert_eq!((h, m), (n, 0), "warm run: {w:?}");
    assert!(w.is_empty(), "{w:?}");
    let (cache, _) = open(loc);
    let info = cache.info().unwrap();
    assert_eq!(info.entries, n);
    assert_eq!(info.current_entries, n);
    let last = info.last_run.expect("a recorded run");
    assert_eq!(last.image, "warm");
    assert_eq!((last.hits, last.misses, last.objects), (n, 0, n));
    assert_eq!(last.hit_rate(), 1.0);
}

/// Threads with a cache each, all writing the same results at once: every one succeeds,
/// nothing is lost, and a later run finds everything.
pub fn concurrent_threads(loc: &Location, threads: usize) {
    let n = objects().len() as u64;
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                // Everyone reaches the barrier, even when opening fails (then reported).
                let opened = std::panic::catch_unwind(|| open(loc));
                barrier.wait();
                let (cache, warnings) = opened.unwrap_or_else(|e| std::panic::resume_unwind(e));
                ask_all(&cache);
                let st = cache.finish(&format!("thread {t}"));
                assert_eq!(st.objects(), n);
                assert_eq!(st.not_written, 0);
                assert!(warnings.lock().unwrap().is_empty(), "{warnings:?}");
            });
        }
    });
    let (h, m, w) = run(loc, "after");
    assert_eq!((h, m), (n, 0), "{w:?}");
    let (cache, _) = open(loc);
    assert_eq!(cache.info().unwrap().entries, n);
}

/// The environment variable that makes a test process act as a writer child.
pub const CHILD_ENV: &str = "DOCKERGATE_CACHE_TEST_CHILD";

/// When this process is a child writer (see [`concurrent_processes`]): writes everything to
/// the location in the variable and returns true.
pub fn child_writer() -> bool {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return false;
    };
    let loc = Location::parse(&spec);
    for round in 0..3 {
        let (cache, warnings) = open(&loc);
        ask_all(&cache);
        let st = cache.finish(&format!("child {} round {round}", std::process::id()));
        assert_eq!(st.not_written, 0);
        let w = warnings.lock().unwrap();
        assert!(w.is_empty(), "{w:?}");
    }
    true
}

/// Processes (this test binary again, running `test_name` with [`CHILD_ENV`] set) writing to
/// one cache at once: all succeed, and nothing is lost.
pub fn concurrent_processes(loc_spec: &str, test_name: &str, processes: usize) {
    let n = objects().len() as u64;
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..processes)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, loc_spec)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a writer process failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "the child ran no test: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let loc = Location::parse(loc_spec);
    let (h, m, w) = run(&loc, "after processes");
    assert_eq!((h, m), (n, 0), "{w:?}");
    let (cache, _) = open(&loc);
    assert_eq!(cache.info().unwrap().entries, n);
}

/// `Location` of a SQLite file.
pub fn sqlite(path: &Path) -> Location {
    Location::Sqlite(path.to_path_buf())
}
