//! Times fetching and decoding every entry of a cache file: `decode_bench PATH`.
use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: decode_bench CACHE.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let t0 = Instant::now();
    let mut stmt = conn
        .prepare("SELECT content, version, layout, arch, value FROM summaries")
        .unwrap();
    let rows: Vec<(dockergate_cache::Key, Vec<u8>)> = stmt
        .query_map([], |r| {
            let c: Vec<u8> = r.get(0)?;
            Ok((
                dockergate_cache::Key {
                    content: c.try_into().unwrap(),
                    version: r.get::<_, i64>(1)? as u32,
                    layout: r.get::<_, i64>(2)? as u64,
                    arch: r.get::<_, i64>(3)? as u32,
                },
                r.get(4)?,
            ))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let bytes: usize = rows.iter().map(|r| r.1.len()).sum();
    println!(
        "fetched {} rows, {} bytes in {:?}",
        rows.len(),
        bytes,
        t0.elapsed()
    );
    let t1 = Instant::now();
    let mut n = 0;
    let mut decoded = Vec::new();
    for (k, v) in &rows {
        let s = dockergate_cache::entry::decode(k, v).unwrap();
        n += s.functions.len();
        decoded.push(s);
    }
    println!("decoded {} functions in {:?}", n, t1.elapsed());
    let t2 = Instant::now();
    for (k, v) in &rows {
        dockergate_cache::entry::verify(k, v).unwrap();
    }
    println!("crc only {:?}", t2.elapsed());
    let calls: usize = decoded
        .iter()
        .flat_map(|s| &s.functions)
        .map(|f| f.calls.len())
        .sum();
    let args: usize = decoded
        .iter()
        .flat_map(|s| &s.functions)
        .flat_map(|f| &f.calls)
        .map(|c| c.args().len())
        .sum();
    let named: usize = decoded
        .iter()
        .flat_map(|s| &s.functions)
        .filter(|f| f.name.is_some())
        .count();
    let sys: usize = decoded
        .iter()
        .flat_map(|s| &s.functions)
        .map(|f| f.syscalls.len())
        .sum();
    println!("calls {calls} args {args} named {named} syscalls {sys}");
    let t3 = Instant::now();
    drop(decoded);
    println!("drop {:?}", t3.elapsed());
}
