//! Hostile input: real ELF files of the host (and small ones built here by hand), mutated
//! thousands of times with a fixed seed — truncated, bytes flipped in every structure ld.so
//! reads, counts and sizes made huge, offsets and addresses pointed outside the file, into the
//! headers or into the dynamic section itself. `parse_elf` must never panic, and each parse must
//! stay within a bound on time and on memory (measured by a counting allocator).
//!
//! `DOCKERGATE_FUZZ_ROUNDS` multiplies the number of mutations (default 1).

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dockergate_elf::parse_elf;

/// Tracks the bytes allocated now and the peak since the last reset.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                    + (new_size - layout.size());
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[path = "support/mutate.rs"]
mod mutate;
use mutate::*;

/// Parses `b`, failing the test on a panic or when time or memory goes past the bound.
fn check(
    name: &str,
    b: &[u8],
    what: &str,
    worst: &mut (Duration, usize),
    panics: &mut Vec<String>,
) -> bool {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| parse_elf(b).is_ok()));
    let took = t.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    if r.is_err() {
        note_panic(panics, name, what);
        return false;
    }
    // Generous bounds: a legitimate parse of libc.so.6 takes a few ms and ~10 times its size.
    // (Reported through `panics`: the test's panic hook would swallow an assertion here.)
    let mem_limit = 64 * b.len() + (64 << 20);
    if peak > mem_limit {
        panics.push(format!(
            "memory: {peak} bytes on {name} ({what}), limit {mem_limit}"
        ));
    }
    if took > Duration::from_secs(10) {
        panics.push(format!("time: {took:?} on {name} ({what})"));
    }
    if took > worst.0 {
        worst.0 = took;
    }
    if peak > worst.1 {
        worst.1 = peak;
    }
    r.unwrap_or(false)
}

/// Amplification attacks: a file whose parts are small but multiply. `nsyms` symbols all named
/// by one `name_len`-byte string (the names share bytes), and a DT_RELR table of `relr_words`
/// all-ones bitmap words (63 relocations each).
fn amplifier(nsyms: usize, name_len: usize, relr_words: usize) -> Vec<u8> {
    let strtab = 0x1000;
    let symtab = strtab + name_len + 16;
    let hash = symtab + nsyms * 24;
    let relr = hash + 8 + 4 + nsyms * 4 + 8;
    let size = relr + relr_words * 8 + 8;
    let mut b = vec![0u8; size];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = 1;
    b[6] = 1;
    put16(&mut b, 16, 3);
    put16(&mut b, 18, 62);
    put32(&mut b, 20, 1);
    put64(&mut b, 32, 64);
    put16(&mut b, 52, 64);
    put16(&mut b, 54, 56);
    put16(&mut b, 56, 2);
    put16(&mut b, 58, 64);
    let ph = 64;
    put32(&mut b, ph, 1);
    put32(&mut b, ph + 4, 6);
    put64(&mut b, ph + 32, size as u64);
    put64(&mut b, ph + 40, size as u64);
    let ph = 64 + 56;
    put32(&mut b, ph, 2);
    put64(&mut b, ph + 8, 0x200);
    put64(&mut b, ph + 16, 0x200);
    put64(&mut b, ph + 32, 0x100);
    put64(&mut b, ph + 40, 0x100);
    for i in 0..name_len {
        b[strtab + 1 + i] = b'a' + (i % 26) as u8;
    }
    for i in 1..nsyms {
        let s = symtab + i * 24;
        put32(&mut b, s, 1);
        b[s + 4] = 0x12;
        put16(&mut b, s + 6, 1);
        put64(&mut b, s + 8, 0x100 + i as u64);
    }
    put32(&mut b, hash, 1);
    put32(&mut b, hash + 4, nsyms as u32);
    put64(&mut b, relr, 0x2000);
    for i in 0..relr_words {
        put64(&mut b, relr + 8 + i * 8, u64::MAX);
    }
    let dynamic = [
        (1u64, 1u64),
        (5, strtab as u64),
        (10, (name_len + 16) as u64),
        (6, symtab as u64),
        (11, 24),
        (4, hash as u64),
        (36, relr as u64),
        (35, (relr_words * 8 + 8) as u64),
        (0, 0),
    ];
    for (i, (t, v)) in dynamic.iter().enumerate() {
        put64(&mut b, 0x200 + i * 16, *t);
        put64(&mut b, 0x200 + i * 16 + 8, *v);
    }
    b
}

/// A minimal 64-bit shared object built by hand: header, two program headers (PT_LOAD and
/// PT_DYNAMIC), a dynamic section with a DT_NEEDED, a string table, a symbol table and a hash.
fn tiny_elf() -> Vec<u8> {
    let mut b = vec![0u8; 0x400];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = 1;
    b[6] = 1;
    put16(&mut b, 16, 3);
    put16(&mut b, 18, 62);
    put32(&mut b, 20, 1);
    put64(&mut b, 32, 64);
    put16(&mut b, 52, 64);
    put16(&mut b, 54, 56);
    put16(&mut b, 56, 2);
    put16(&mut b, 58, 64);
    // PT_LOAD covering the file
    let ph = 64;
    put32(&mut b, ph, 1);
    put32(&mut b, ph + 4, 5);
    put64(&mut b, ph + 32, 0x400);
    put64(&mut b, ph + 40, 0x400);
    // PT_DYNAMIC at 0x200
    let ph = 64 + 56;
    put32(&mut b, ph, 2);
    put64(&mut b, ph + 8, 0x200);
    put64(&mut b, ph + 16, 0x200);
    put64(&mut b, ph + 32, 0x80);
    put64(&mut b, ph + 40, 0x80);
    // strings at 0x300: "\0libc.so.6\0f\0"
    b[0x301..0x30b].copy_from_slice(b"libc.so.6\0");
    b[0x30b..0x30d].copy_from_slice(b"f\0");
    // symbols at 0x340: null, f (global func, defined)
    put32(&mut b, 0x358, 11);
    b[0x35c] = 0x12;
    put16(&mut b, 0x35e, 1);
    put64(&mut b, 0x360, 0x100);
    // hash at 0x380: nbucket 1, nchain 2
    put32(&mut b, 0x380, 1);
    put32(&mut b, 0x384, 2);
    put32(&mut b, 0x388, 1);
    let dynamic = [
        (1u64, 1u64),
        (5, 0x300),
        (10, 0x40),
        (6, 0x340),
        (11, 24),
        (4, 0x380),
        (0, 0),
    ];
    for (i, (t, v)) in dynamic.iter().enumerate() {
        put64(&mut b, 0x200 + i * 16, *t);
        put64(&mut b, 0x200 + i * 16 + 8, *v);
    }
    b
}

#[test]
fn parse_elf_survives_hostile_input() {
    let rounds: usize = std::env::var("DOCKERGATE_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut inputs: Vec<(String, Vec<u8>, usize)> = vec![("tiny".into(), tiny_elf(), 3000)];
    for (path, n) in [
        ("/bin/ls", 3000),
        ("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 1500),
        ("/lib/x86_64-linux-gnu/libc.so.6", 600),
    ] {
        match std::fs::read(path) {
            Ok(b) => inputs.push((path.into(), b, n)),
            Err(_) => eprintln!("SKIP: {path} is not here"),
        }
    }
    // A 32-bit shared object, when gcc can make one.
    let dir = std::env::temp_dir().join(format!("dockergate-hostile-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let src = dir.join("a.c");
    let out = dir.join("lib32.so");
    let _ = std::fs::write(
        &src,
        "int f(int x) { return x + 1; }\nint g(void) { return f(1); }\n",
    );
    let built = std::process::Command::new("gcc")
        .args(["-m32", "-shared", "-fPIC", "-nostdlib", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success());
    match std::fs::read(&out) {
        Ok(b) if built => inputs.push(("32-bit lib".into(), b, 1500)),
        _ => eprintln!("SKIP: no 32-bit object (gcc -m32 failed)"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Without bounds these would take ~800 MB (names) and ~190 MB (RELR relocations).
    let amp = amplifier(50_000, 16_000, 0);
    let parsed_amp = parse_elf(&amp).expect("the amplifier parses");
    assert_eq!(parsed_amp.dynsym.len(), 50_000);
    let relr = amplifier(2, 8, 131_072);
    assert!(parse_elf(&relr).is_ok());
    let tiny = parse_elf(&inputs[0].1).expect("the hand-made ELF parses");
    assert_eq!(tiny.needed, vec!["libc.so.6".to_string()]);
    assert_eq!(tiny.dynsym.len(), 2);
    record_panics();
    let mut panics: Vec<String> = Vec::new();
    let mut rng = Rng(0x5eed_e1f0_dead_beef);
    for (name, b) in [("shared names", &amp), ("RELR bitmap", &relr)] {
        assert!(check(
            name,
            b,
            "as built",
            &mut (Duration::ZERO, 0),
            &mut panics
        ));
    }
    let mut total = 0;
    let mut mutated = 0;
    let mut parsed = 0;
    let mut worst = (Duration::ZERO, 0usize);
    for (name, orig, n) in &inputs {
        assert!(parse_elf(orig).is_ok(), "{name} parses as is");
        // Truncation at every offset of the first 4 KiB, then at a stride.
        let stride = (orig.len() / 500).max(1);
        let cuts: Vec<usize> = (0..orig.len().min(4096))
            .chain((4096..orig.len()).step_by(stride))
            .collect();
        for cut in cuts {
            check(
                name,
                &orig[..cut],
                &format!("truncated at {cut}"),
                &mut worst,
                &mut panics,
            );
            total += 1;
        }
        let l = layout(orig);
        for _ in 0..n * rounds {
            let (b, what) = mutate(orig, &l, &mut rng);
            if check(name, &b, &what, &mut worst, &mut panics) {
                parsed += 1;
            }
            total += 1;
            mutated += 1;
        }
    }
    let _ = std::panic::take_hook();
    assert!(
        panics.is_empty(),
        "parse_elf failed (panic, time or memory) at {} places:\n{}",
        panics.len(),
        panics.join("\n")
    );
    eprintln!(
        "{total} hostile inputs parsed ({parsed} of {mutated} mutations still parse); slowest {:?}, most memory {} bytes",
        worst.0, worst.1
    );
    // The mutations must reach past the headers most of the time.
    assert!(
        parsed * 2 > mutated,
        "only {parsed} of {mutated} mutated files parse"
    );
}
