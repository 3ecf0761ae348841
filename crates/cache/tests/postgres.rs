//! The shared cache on a real PostgreSQL server (started for the test from Debian's binaries,
//! see support/pg.rs; skipped with a message when they are absent): cold and warm, many
//! concurrent writers (threads and processes), idempotent inserts, damaged rows, other
//! versions, and a server that goes away in the middle of a run.

mod support;

use dockergate_cache::{entry, Location};
use support::pg::server_or_skip;
use support::{
    ask_all, child_writer, cold_then_warm, concurrent_processes, concurrent_threads, objects, open,
    run,
};

/// Not a test on its own: the body of the writer processes.
#[test]
fn writer_child() {
    child_writer();
}

#[test]
fn postgres_cache() {
    let Some(server) = server_or_skip("postgres_cache") else {
        return;
    };
    let n = objects().len() as u64;

    // Cold, warm, the run log.
    cold_then_warm(&Location::Postgres(server.url("cold_warm")));

    // Writers at once: threads, then processes (each does three runs).
    concurrent_threads(&Location::Postgres(server.url("threads2")), 2);
    concurrent_threads(&Location::Postgres(server.url("threads8")), 8);
    let url = server.url("processes");
    concurrent_processes(&url, "writer_child", 2);
    let url4 = server.url("processes4");
    concurrent_processes(&url4, "writer_child", 4);

    // First use of a database by many at once: the tables are created once.
    concurrent_threads(&Location::Postgres(server.url("fresh_race")), 6);

    // Idempotent inserts: the same results again change nothing.
    let loc = Location::Postgres(url.clone());
    let (cache, _) = open(&loc);
    let before = cache.info().unwrap().entries;
    drop(cache);
    let (h, m, w) = run(&loc, "again");
    assert_eq!((h, m), (n, 0), "{w:?}");
    let (cache, _) = open(&loc);
    assert_eq!(cache.info().unwrap().entries, before);
    drop(cache);

    // A damaged value and another object's value under our key: caught, replaced.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let objs = objects();
    let k0 = entry::Key::of(&objs[0].bytes, &objs[0].elf).unwrap();
    let k1 = entry::Key::of(&objs[1].bytes, &objs[1].elf).unwrap();
    let k2 = entry::Key::of(&objs[2].bytes, &objs[2].elf).unwrap();
    c.execute(
        "UPDATE dockergate_summaries SET value = set_byte(value, 20, get_byte(value, 20) # 255) WHERE content = $1",
        &[&&k0.content[..]],
    )
    .unwrap();
    let v2: Vec<u8> = c
        .query_one(
            "SELECT value FROM dockergate_summaries WHERE content = $1",
            &[&&k2.content[..]],
        )
        .unwrap()
        .get(0);
    c.execute(
        "UPDATE dockergate_summaries SET value = $1 WHERE content = $2",
        &[&v2, &&k1.content[..]],
    )
    .unwrap();
    // Rows of another analyser version and layout: never used, removed by clear --stale.
    c.execute(
        "INSERT INTO dockergate_summaries (content, version, layout, arch, created, value) VALUES ($1, $2, $3, $4, 0, $5)",
        &[&&k0.content[..], &(k0.version as i32 + 1), &(k0.layout as i64), &i64::from(k0.arch), &v2],
    )
    .unwrap();
    let (h, m, w) = run(&loc, "damaged");
    assert_eq!((h, m), (n - 2, 2), "{w:?}");
    assert_eq!(
        w.iter().filter(|w| w.contains("damaged entry")).count(),
        2,
        "{w:?}"
    );
    let (h, m, w) = run(&loc, "repaired");
    assert_eq!((h, m), (n, 0), "{w:?}");
    let (cache, _) = open(&loc);
    let info = cache.info().unwrap();
    assert_eq!((info.entries, info.current_entries), (n + 1, n));
    assert_eq!(cache.clear(true).unwrap(), 1);
    assert_eq!(cache.clear(false).unwrap(), n);
    assert_eq!(cache.info().unwrap().entries, 0);
    drop(cache);

    // A user who may read but not write: lookups only, right answers, a warning.
    let ro = Location::Postgres(server.url("readonly"));
    let (h, m, _) = run(&ro, "fill");
    assert_eq!((h, m), (0, n));
    let (cache, _) = open(&ro);
    cache.clear(false).unwrap();
    drop(cache);
    let mut admin = postgres::Client::connect(&server.url("readonly"), postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "CREATE ROLE reader LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;",
        )
        .unwrap();
    let reader = Location::Postgres(format!(
        "postgres://reader@127.0.0.1:{}/readonly",
        server.port
    ));
    let (cache, warnings) = open(&reader);
    ask_all(&cache);
    let s = cache.finish("reader");
    drop(cache);
    assert_eq!((s.hits, s.misses, s.written), (0, n, 0));
    assert!(s.not_written > 0);
    let w = warnings.lock().unwrap().clone();
    assert!(w.iter().any(|w| w.contains("without storing")), "{w:?}");

    // The server goes away in the middle of a run: right answers, a warning.
    let gone = Location::Postgres(server.url("gone"));
    let (cache, warnings) = open(&gone);
    drop(server);
    ask_all(&cache);
    let s = cache.finish("gone");
    drop(cache);
    assert_eq!(s.misses, n);
    let w = warnings.lock().unwrap().clone();
    assert!(w.iter().any(|w| w.contains("without the cache")), "{w:?}");
}

#[test]
fn unreachable_server_is_an_error_not_a_hang() {
    // A closed port on loopback: refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t0 = std::time::Instant::now();
    let r = dockergate_cache::Cache::open(
        &Location::Postgres(format!("postgres://nobody:secret@127.0.0.1:{port}/x")),
        None,
    );
    let err = r.err().expect("no server there");
    assert!(err.contains("cannot connect"), "{err}");
    assert!(!err.contains("secret"), "the password is not shown: {err}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(15));
}
