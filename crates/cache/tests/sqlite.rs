//! The SQLite cache: cold and warm, concurrent writers (threads and processes), and every way
//! the file can go bad: flipped bytes, truncation, another analyser version, another cache
//! schema, another program's database, a read-only place, a full disk. In every case the
//! answers are the analysis's own; the cache only ever costs a warning.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use dockergate_cache::{entry, Location};
use support::{
    ask_all, child_writer, cold_then_warm, concurrent_processes, concurrent_threads, objects, open,
    run, sqlite,
};

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("dockergate-cache-test-")
        .tempdir()
        .unwrap()
}

/// A cache file with every object in it, closed (its WAL folded into the file).
fn filled(dir: &Path) -> PathBuf {
    let path = dir.join("cache.db");
    let (h, m, w) = run(&sqlite(&path), "fill");
    assert_eq!(h, 0);
    assert_eq!(m, objects().len() as u64);
    assert!(w.is_empty(), "{w:?}");
    assert!(
        !dir.join("cache.db-wal").exists()
            || std::fs::metadata(dir.join("cache.db-wal")).unwrap().len() == 0,
        "the WAL is checkpointed on close"
    );
    path
}

#[test]
fn cold_then_warm_sqlite() {
    let d = tmp();
    cold_then_warm(&sqlite(&d.path().join("sub/dir/cache.db")));
}

/// Results written by a writer thread while the analysis goes on (as the CLI runs it) are all
/// stored: the next run takes every object from the cache.
#[test]
fn results_written_behind_the_analysis_are_all_kept() {
    let d = tmp();
    let loc = sqlite(&d.path().join("cache.db"));
    let n = objects().len() as u64;
    let (cache, warnings) = open(&loc);
    cache.begin_write_behind();
    std::thread::scope(|s| {
        s.spawn(|| cache.write_behind());
        ask_all(&cache);
        cache.stop_writing();
    });
    let stats = cache.finish("behind");
    assert_eq!((stats.misses, stats.written), (n, n));
    drop(cache);
    assert!(warnings.lock().unwrap().is_empty());
    let (h, m, w) = run(&loc, "warm");
    assert_eq!((h, m), (n, 0), "{w:?}");
}

#[test]
fn two_threads_write_at_once() {
    let d = tmp();
    concurrent_threads(&sqlite(&d.path().join("cache.db")), 2);
}

#[test]
fn eight_threads_write_at_once() {
    let d = tmp();
    concurrent_threads(&sqlite(&d.path().join("cache.db")), 8);
}

/// Not a test on its own: the body of the writer processes of `two_processes_write_at_once`.
#[test]
fn writer_child() {
    child_writer();
}

#[test]
fn two_processes_write_at_once() {
    let d = tmp();
    let path = d.path().join("cache.db");
    concurrent_processes(path.to_str().unwrap(), "writer_child", 2);
}

#[test]
fn four_processes_write_at_once() {
    let d = tmp();
    let path = d.path().join("cache.db");
    concurrent_processes(path.to_str().unwrap(), "writer_child", 4);
}

/// Flips one byte inside every stored value (found by its magic): every entry is reported
/// damaged, analysed again, and replaced; the next run is all hits.
#[test]
fn damaged_values_are_rebuilt() {
    let d = tmp();
    let path = filled(d.path());
    let mut data = std::fs::read(&path).unwrap();
    let mut flipped = 0;
    // Past the 100-byte database header (whose application id also reads "DGC1"); free
    // pages may hold old copies too, so at least one per object.
    let mut i = 100;
    while let Some(off) = find(&data[i..], entry::MAGIC) {
        let at = i + off + 12; // past the magic and the CRC: the payload
        if at < data.len() {
            data[at] ^= 0x5a;
            flipped += 1;
        }
        i = i + off + 4;
    }
    assert!(flipped >= objects().len(), "a value per object in the file");
    std::fs::write(&path, &data).unwrap();
    let loc = sqlite(&path);
    let (h, m, w) = run(&loc, "damaged");
    assert_eq!((h, m), (0, objects().len() as u64));
    assert!(
        w.iter().any(|w| w.contains("damaged entry")),
        "a warning names the damage: {w:?}"
    );
    let (h, m, w) = run(&loc, "repaired");
    assert_eq!((h, m), (objects().len() as u64, 0), "{w:?}");
    assert!(w.is_empty(), "{w:?}");
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Bytes flipped all over the file (b-tree pages, headers of pages, values): whatever SQLite
/// makes of it, the answers are right, something is reported, and the cache works afterwards.
#[test]
fn flipped_bytes_anywhere() {
    for (seed, stride) in [(1u64, 4096usize), (7, 1000), (13, 333), (99, 16384)] {
        let d = tmp();
        let path = filled(d.path());
        let mut data = std::fs::read(&path).unwrap();
        // Leave the 100-byte database header alone in half the cases.
        let start = if seed % 2 == 0 { 0 } else { 100 };
        let mut x = seed;
        let mut at = start + (seed as usize % stride);
        while at < data.len() {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            data[at] ^= (x >> 56) as u8 | 1;
            at += stride;
        }
        std::fs::write(&path, &data).unwrap();
        let loc = sqlite(&path);
        let w = use_or_fail(&loc);
        assert!(!w.is_empty(), "stride {stride}: the damage went unreported");
        // Afterwards the file works: everything is there or is added again, and read back.
        let (cache, _) = open(&loc);
        ask_all(&cache);
        cache.finish("after");
        drop(cache);
        let (h, m, w) = run(&loc, "after");
        assert_eq!(
            (h, m),
            (objects().len() as u64, 0),
            "stride {stride}: {w:?}"
        );
    }
}

/// One run that must give right answers; a cache that cannot be opened at all counts as a
/// run without it. Returns the warnings (or the error).
fn use_or_fail(loc: &Location) -> Vec<String> {
    let warnings = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let w = warnings.clone();
    let sink: dockergate_cache::WarningSink =
        std::sync::Arc::new(move |m: &str| w.lock().unwrap().push(m.to_string()));
    match dockergate_cache::Cache::open(loc, Some(sink)) {
        Ok(cache) => {
            ask_all(&cache);
            cache.finish("damaged");
            drop(cache);
            let w = warnings.lock().unwrap().clone();
            w
        }
        Err(e) => vec![e],
    }
}

/// A file cut short: reported, rebuilt, right answers; the next run is all hits.
#[test]
fn truncated_file() {
    for keep in [0.5f64, 0.1, 0.01] {
        let d = tmp();
        let path = filled(d.path());
        let len = std::fs::metadata(&path).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len((len as f64 * keep) as u64).unwrap();
        drop(f);
        let loc = sqlite(&path);
        let (h, m, w) = run(&loc, "truncated");
        assert_eq!(h + m, objects().len() as u64);
        assert!(
            w.iter().any(|w| w.contains("damaged")),
            "keep {keep}: the damage is reported: {w:?}"
        );
        let (h, m, w) = run(&loc, "after");
        assert_eq!((h, m), (objects().len() as u64, 0), "keep {keep}: {w:?}");
    }
}

/// A file of 0 bytes or of garbage where the cache should be, with our lock file beside it.
#[test]
fn garbage_file_of_ours_is_rebuilt() {
    let d = tmp();
    let path = filled(d.path());
    std::fs::write(&path, b"this is not a database, not at all; long enough to have a header ........................................................................").unwrap();
    let loc = sqlite(&path);
    let (h, m, w) = run(&loc, "garbage");
    assert_eq!((h, m), (0, objects().len() as u64));
    assert!(w.iter().any(|w| w.contains("damaged")), "{w:?}");
    let (h, m, _) = run(&loc, "after");
    assert_eq!((h, m), (objects().len() as u64, 0));
}

/// `--cache` pointed by mistake at some other file: never deleted, never written.
#[test]
fn someone_elses_file_is_left_alone() {
    let d = tmp();
    let path = d.path().join("notes.txt");
    let text = b"my precious notes, not a cache\n".repeat(20);
    std::fs::write(&path, &text).unwrap();
    let r = dockergate_cache::Cache::open(&sqlite(&path), None);
    assert!(r.is_err(), "a text file is not usable as a cache");
    assert_eq!(std::fs::read(&path).unwrap(), text);
    // Another program's SQLite database.
    let db = d.path().join("other.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (42);")
        .unwrap();
    drop(c);
    let before = std::fs::read(&db).unwrap();
    let r = dockergate_cache::Cache::open(&sqlite(&db), None);
    let err = r.err().expect("another program's database is not used");
    assert!(err.contains("not a dockergate cache"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

/// Rows of another analyser version (or summary layout) are never used; a row under our key
/// holding another object's value is caught by its checksum; `clear --stale` removes the others.
#[test]
fn other_versions_and_misplaced_rows() {
    let d = tmp();
    let path = filled(d.path());
    let objs = objects();
    let c = rusqlite::Connection::open(&path).unwrap();
    // Another version's row for object 0 with object 1's value: must never be used for us.
    let key0 = entry::Key::of(&objs[0].bytes, &objs[0].elf).unwrap();
    let key1 = entry::Key::of(&objs[1].bytes, &objs[1].elf).unwrap();
    let value1: Vec<u8> = c
        .query_row(
            "SELECT value FROM summaries WHERE content = ?1",
            [&key1.content[..]],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "INSERT INTO summaries (content, version, layout, arch, created, value) VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        rusqlite::params![&key0.content[..], i64::from(key0.version) + 1, key0.layout as i64, i64::from(key0.arch), value1],
    )
    .unwrap();
    c.execute(
        "INSERT INTO summaries (content, version, layout, arch, created, value) VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        rusqlite::params![&key0.content[..], i64::from(key0.version), key0.layout as i64 ^ 1, i64::from(key0.arch), value1],
    )
    .unwrap();
    // Our key for object 0, holding object 1's (intact) value.
    c.execute(
        "UPDATE summaries SET value = ?1 WHERE content = ?2 AND version = ?3 AND layout = ?4",
        rusqlite::params![
            value1,
            &key0.content[..],
            i64::from(key0.version),
            key0.layout as i64
        ],
    )
    .unwrap();
    drop(c);
    let loc = sqlite(&path);
    let (h, m, w) = run(&loc, "misplaced");
    assert_eq!((h, m), (objs.len() as u64 - 1, 1), "{w:?}");
    assert!(w.iter().any(|w| w.contains("checksum")), "{w:?}");
    // Object 2 only under another analyser version: a warning, analysed again, stored.
    let c = rusqlite::Connection::open(&path).unwrap();
    let k2 = entry::Key::of(&objs[2].bytes, &objs[2].elf).unwrap();
    c.execute(
        "UPDATE summaries SET version = version + 7 WHERE content = ?1",
        [&k2.content[..]],
    )
    .unwrap();
    drop(c);
    let (cache, warnings) = open(&loc);
    let batch: Vec<(&[u8], &dockergate_elf::ElfObject)> =
        objs.iter().map(|o| (o.bytes.as_slice(), &o.elf)).collect();
    cache.prefetch_bytes(&batch);
    ask_all(&cache);
    let s = cache.finish("other version");
    drop(cache);
    assert_eq!(
        (s.hits, s.misses, s.other_versions),
        (objs.len() as u64 - 1, 1, 1)
    );
    assert_eq!(s.fetched, objs.len() as u64 - 1, "one batch");
    let w = warnings.lock().unwrap().clone();
    assert!(
        w.iter().any(|w| w.contains("another analyser version")),
        "{w:?}"
    );
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "DELETE FROM summaries WHERE content = ?1 AND version <> ?2",
        rusqlite::params![&k2.content[..], i64::from(k2.version)],
    )
    .unwrap();
    drop(c);
    let (cache, _) = open(&loc);
    let info = cache.info().unwrap();
    assert_eq!(info.entries, objs.len() as u64 + 2);
    assert_eq!(info.current_entries, objs.len() as u64);
    assert_eq!(cache.clear(true).unwrap(), 2);
    assert_eq!(cache.info().unwrap().entries, objs.len() as u64);
    drop(cache);
    let (h, m, w) = run(&loc, "after");
    assert_eq!((h, m), (objs.len() as u64, 0), "{w:?}");
}

/// A file of an older cache schema is rebuilt; one of a newer schema is left alone.
#[test]
fn other_cache_schemas() {
    let d = tmp();
    let path = filled(d.path());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA user_version = 0").unwrap();
    drop(c);
    let (h, m, w) = run(&sqlite(&path), "older");
    assert_eq!((h, m), (0, objects().len() as u64));
    assert!(w.iter().any(|w| w.contains("older")), "{w:?}");

    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(c);
    let before = std::fs::read(&path).unwrap();
    let err = dockergate_cache::Cache::open(&sqlite(&path), None)
        .err()
        .expect("a newer schema is not used");
    assert!(err.contains("newer"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// `clear` empties the cache and gives the space back.
#[test]
fn clear_empties() {
    let d = tmp();
    let path = filled(d.path());
    let (cache, _) = open(&sqlite(&path));
    let before = cache.info().unwrap();
    assert!(before.entries > 0 && before.disk_bytes > 0);
    assert_eq!(cache.clear(false).unwrap(), before.entries);
    let after = cache.info().unwrap();
    assert_eq!(after.entries, 0);
    assert!(after.last_run.is_none());
    assert!(after.disk_bytes < before.disk_bytes);
}

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Not a test on its own: run by `read_only_cache` as an unprivileged user.
#[test]
fn read_only_child() {
    let Ok(spec) = std::env::var("DOCKERGATE_CACHE_TEST_RO") else {
        return;
    };
    read_only_checks(Path::new(&spec));
}

fn read_only_checks(path: &Path) {
    let n = objects().len() as u64;
    let (cache, warnings) = open(&sqlite(path));
    ask_all(&cache);
    let s = cache.finish("read-only");
    drop(cache);
    let w = warnings.lock().unwrap().clone();
    assert_eq!(s.hits + s.misses, n);
    assert_eq!(s.written, 0);
    assert!(
        w.iter()
            .any(|w| w.contains("read-only") || w.contains("without")),
        "the read-only cache is reported: {w:?}"
    );
    // A new place in a read-only directory: no cache at all, with a reason.
    let parent = path.parent().unwrap();
    let err = dockergate_cache::Cache::open(&sqlite(&parent.join("new/cache.db")), None);
    assert!(err.is_err());
}

/// A cache in a directory nobody may write: lookups only (or none), right answers, warnings.
#[test]
fn read_only_cache() {
    let d = tmp();
    let path = filled(d.path());
    // Drop one entry so that the read-only run has something it cannot store.
    let c = rusqlite::Connection::open(&path).unwrap();
    let k = entry::Key::of(&objects()[0].bytes, &objects()[0].elf).unwrap();
    c.execute("DELETE FROM summaries WHERE content = ?1", [&k.content[..]])
        .unwrap();
    drop(c);
    let mode = |p: &Path, m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    for entry in std::fs::read_dir(d.path()).unwrap() {
        mode(&entry.unwrap().path(), 0o444);
    }
    mode(d.path(), 0o555);
    if is_root() {
        // Root ignores permissions: run the checks as nobody.
        let exe = std::env::current_exe().unwrap();
        let out = Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(&exe)
            .args([
                "--exact",
                "read_only_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("DOCKERGATE_CACHE_TEST_RO", &path)
            .output()
            .unwrap();
        mode(d.path(), 0o755);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() && stdout.is_empty() {
            eprintln!(
                "SKIPPED read_only_cache: cannot run the test binary as nobody: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        read_only_checks(&path);
        mode(d.path(), 0o755);
    }
    // Nothing was changed.
    let (h, m, _) = run(&sqlite(&path), "after");
    assert_eq!((h, m), (objects().len() as u64 - 1, 1));
}

/// A full disk (a file size limit stands in for it here; the CLI test fills a real tmpfs): the
/// run goes on with right answers and a warning.
#[test]
fn full_cache_goes_on() {
    let d = tmp();
    let path = d.path().join("cache.db");
    // Create it (small), then fill it under a 64 KiB file size limit.
    drop(open(&sqlite(&path)).0);
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 64; exec \"$0\" --exact full_child --nocapture --test-threads=1")
        .arg(&exe)
        .env("DOCKERGATE_CACHE_TEST_FULL", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Not a test on its own: run by `full_cache_goes_on` with a 64 KiB file size limit.
#[test]
fn full_child() {
    let Ok(spec) = std::env::var("DOCKERGATE_CACHE_TEST_FULL") else {
        return;
    };
    let (cache, warnings) = open(&sqlite(Path::new(&spec)));
    ask_all(&cache);
    let s = cache.finish("full");
    drop(cache);
    let w = warnings.lock().unwrap().clone();
    assert_eq!(s.misses, objects().len() as u64);
    assert!(s.not_written > 0, "{s:?}");
    assert!(w.iter().any(|w| w.contains("going on without")), "{w:?}");
}

/// Completed summaries (`SummarySource::complete`) are cached under a key that covers the file,
/// the summary completed and the functions asked: a second run takes them from the cache, and
/// every answer is what `complete_functions` gives.
#[test]
fn completions_are_cached() {
    use dockergate_analysis::complete_functions;
    use dockergate_pipeline::SummarySource;
    let d = tmp();
    let loc = sqlite(&d.path().join("cache.db"));
    let asks: Vec<(usize, Vec<u32>)> = objects()
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let n = o.fresh.functions.len() as u32;
            (i, (0..n).step_by(7).take(5).collect())
        })
        .collect();
    for round in 0..2 {
        let (cache, warnings) = open(&loc);
        for (i, funcs) in &asks {
            let o = &objects()[*i];
            let want = complete_functions(&o.bytes, &o.elf, &o.fresh, funcs).unwrap();
            let got = cache.complete(&o.bytes, &o.elf, &o.fresh, funcs).unwrap();
            assert!(*got == want, "{}: completion differs", o.path.display());
            // Other functions asked: another entry, another answer.
            let other = cache.complete(&o.bytes, &o.elf, &o.fresh, &[]).unwrap();
            assert!(*other == complete_functions(&o.bytes, &o.elf, &o.fresh, &[]).unwrap());
        }
        let s = cache.finish("completions");
        drop(cache);
        assert!(warnings.lock().unwrap().is_empty());
        let n = 2 * asks.len() as u64;
        if round == 0 {
            assert_eq!((s.completion_hits, s.completion_misses), (0, n));
        } else {
            assert_eq!((s.completion_hits, s.completion_misses), (n, 0));
        }
    }
}

/// A completed summary also becomes the object's own entry: the next run that meets the object
/// starts from it (and so asks for no completion again), whatever the functions were.
#[test]
fn completed_summary_serves_the_next_run() {
    use dockergate_analysis::complete_functions;
    use dockergate_pipeline::SummarySource;
    let d = tmp();
    let loc = sqlite(&d.path().join("cache.db"));
    let mut wanted = Vec::new();
    {
        let (cache, warnings) = open(&loc);
        for o in objects() {
            let n = o.fresh.functions.len() as u32;
            let funcs: Vec<u32> = (0..n).step_by(5).take(4).collect();
            let base = cache.summary(&o.bytes, &o.elf).unwrap();
            assert!(*base == o.fresh, "{}: first summary", o.path.display());
            let done = cache.complete(&o.bytes, &o.elf, &base, &funcs).unwrap();
            assert!(*done == complete_functions(&o.bytes, &o.elf, &o.fresh, &funcs).unwrap());
            wanted.push(done);
        }
        cache.finish("completion");
        assert!(warnings.lock().unwrap().is_empty());
    }
    assert!(
        objects().iter().zip(&wanted).any(|(o, w)| **w != o.fresh),
        "no completion changed a summary: the test shows nothing"
    );
    let (cache, warnings) = open(&loc);
    for (o, want) in objects().iter().zip(&wanted) {
        let got = cache.summary(&o.bytes, &o.elf).unwrap();
        assert!(
            got == *want,
            "{}: not the completed summary",
            o.path.display()
        );
    }
    let s = cache.finish("after completion");
    assert!(warnings.lock().unwrap().is_empty());
    assert_eq!((s.hits, s.misses), (objects().len() as u64, 0));
}
