//! Hostile input to the code analysis: real ELF files of the host, mutated with a fixed seed (the
//! ELF parser's mutations of every structure ld.so reads, plus bytes overwritten anywhere, code
//! included), and files built to multiply the work (tens of thousands of sections each covering
//! the whole file, a PLT section as large as the address space). Whatever still parses must be
//! analysed without a panic and in bounded time: an image is untrusted, and one file of it must
//! not stop or stall the analysis of the others.
//!
//! `DOCKERGATE_FUZZ_ROUNDS` multiplies the number of mutations (default 1).

use std::time::{Duration, Instant};

use dockergate_analysis::analyze_object;
use dockergate_elf::parse_elf;

#[path = "../../elf/tests/support/mutate.rs"]
mod mutate;
use mutate::*;

/// Far above what any file here takes as is (libc: well under a second).
const TIME_LIMIT: Duration = Duration::from_secs(30);

/// Parses and analyses `b` on a thread of its own; records a panic or a run over the time limit
/// (a file that makes the analysis loop for ever is left running) in `failures`. Returns whether
/// the file parsed.
fn check(
    name: &str,
    b: &[u8],
    what: &str,
    slowest: &mut Duration,
    failures: &mut Vec<String>,
) -> bool {
    let bytes = b.to_vec();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = Instant::now();
    std::thread::spawn(move || {
        let parsed = match parse_elf(&bytes) {
            Ok(elf) => {
                let _ = analyze_object(&bytes, &elf);
                true
            }
            Err(_) => false,
        };
        let _ = tx.send(parsed);
    });
    let r = rx.recv_timeout(TIME_LIMIT);
    *slowest = (*slowest).max(t.elapsed());
    match r {
        Ok(parsed) => parsed,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            failures.push(format!(
                "time: not done after {TIME_LIMIT:?} on {name} ({what})"
            ));
            false
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The thread panicked before it could answer.
            note_panic(failures, name, what);
            false
        }
    }
}

/// `orig` with `k` bytes anywhere (code, tables, headers) set to edge values.
fn overwrite_bytes(orig: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut b = orig.to_vec();
    let mut what = String::from("bytes");
    for _ in 0..1 + rng.below(8) {
        // Headers are small and matter most: hit them often.
        let at = match rng.below(3) {
            0 => rng.below(b.len().min(64)),
            1 => rng.below(b.len().min(4096)),
            _ => rng.below(b.len()),
        };
        let v = match rng.below(4) {
            0 => 0,
            1 => 0xff,
            2 => rng.next() as u8,
            _ => b[at] ^ (1 << rng.below(8)),
        };
        b[at] = v;
        what.push_str(&format!(" {at:#x}={v:#x}"));
    }
    (b, what)
}

/// `orig` (a 64-bit file) with a new section header table of `n` entries appended: copies of its
/// first allocated, writable, data-holding section, each now covering the whole file.
fn many_whole_file_sections(orig: &[u8], n: usize) -> Option<Vec<u8>> {
    let l = layout(orig);
    let c = l.c;
    if c.w != 8 {
        return None;
    }
    let template = (0..l.shnum).map(|i| l.shoff + i * c.shsize).find(|&sh| {
        let ty = u32le(orig, sh + 4);
        let flags = word(orig, c, sh + 8);
        ty == 1 && flags & 3 == 3
    })?;
    let mut b = orig.to_vec();
    while b.len() % 8 != 0 {
        b.push(0);
    }
    let table = b.len();
    let header: Vec<u8> = orig[template..template + c.shsize].to_vec();
    for _ in 0..n {
        b.extend_from_slice(&header);
    }
    let len = b.len() as u64;
    for i in 0..n {
        let sh = table + i * c.shsize;
        put64(&mut b, sh + c.sh_fields[1], 0);
        put64(&mut b, sh + c.sh_fields[2], len);
    }
    put64(&mut b, c.shoff, table as u64);
    put16(&mut b, c.shnum, n as u16);
    put16(&mut b, c.shnum + 2, 0); // e_shstrndx: the names are garbage, the sizes are not
    Some(b)
}

/// `orig` with its `.plt` section (the first executable section of 16-byte entries) made as large
/// as the address space.
fn huge_plt(orig: &[u8]) -> Option<Vec<u8>> {
    let l = layout(orig);
    let c = l.c;
    if c.w != 8 {
        return None;
    }
    let sh = (0..l.shnum).map(|i| l.shoff + i * c.shsize).find(|&sh| {
        let flags = word(orig, c, sh + 8);
        let entsize = word(orig, c, sh + 56);
        flags & 4 != 0 && entsize == 16
    })?;
    let mut b = orig.to_vec();
    put64(&mut b, sh + c.sh_fields[2], u64::MAX - 0x1000);
    Some(b)
}

#[test]
fn analysis_survives_hostile_input() {
    let rounds: usize = std::env::var("DOCKERGATE_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut inputs: Vec<(String, Vec<u8>, usize)> = Vec::new();
    for (path, n) in [
        ("/bin/ls", 300),
        ("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 100),
        ("/lib/x86_64-linux-gnu/libc.so.6", 20),
    ] {
        match std::fs::read(path) {
            Ok(b) => inputs.push((path.into(), b, n)),
            Err(_) => eprintln!("SKIP: {path} is not here"),
        }
    }
    if inputs.is_empty() {
        eprintln!("SKIP: no ELF file of the host to mutate");
        return;
    }
    record_panics();
    let mut failures: Vec<String> = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut rng = Rng(0x0a11_a1f5_15ba_d5ee);
    let (mut tried, mut parsed) = (0, 0);
    for (name, orig, n) in &inputs {
        // Built to multiply the work; both still parse.
        if let Some(b) = many_whole_file_sections(orig, 60_000) {
            assert!(
                check(
                    name,
                    &b,
                    "60000 sections over the whole file",
                    &mut slowest,
                    &mut failures
                ),
                "{name} with 60000 sections still parses"
            );
        }
        if let Some(b) = huge_plt(orig) {
            assert!(
                check(
                    name,
                    &b,
                    "a PLT as large as the address space",
                    &mut slowest,
                    &mut failures
                ),
                "{name} with a huge PLT still parses"
            );
        }
        let l = layout(orig);
        for k in 0..n * rounds {
            let (b, what) = if k % 2 == 0 {
                mutate(orig, &l, &mut rng)
            } else {
                overwrite_bytes(orig, &mut rng)
            };
            tried += 1;
            if check(name, &b, &what, &mut slowest, &mut failures) {
                parsed += 1;
            }
        }
    }
    let _ = std::panic::take_hook();
    assert!(
        failures.is_empty(),
        "the analysis failed (panic or time) at {} places:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{tried} mutated files, {parsed} parsed and were analysed; slowest {slowest:?}");
    assert!(
        parsed * 2 > tried,
        "only {parsed} of {tried} mutated files parse"
    );
}
