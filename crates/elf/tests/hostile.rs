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

/// splitmix64: a tiny deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    /// A value that is often an edge: 0, 1, all ones, a power of two, near a size, or random.
    fn nasty(&mut self, near: u64) -> u64 {
        match self.below(10) {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => u32::MAX as u64,
            4 => 1 << self.below(64),
            5 => near,
            6 => near.wrapping_add(self.below(64) as u64),
            7 => near.wrapping_sub(self.below(64) as u64),
            8 => 0x7fff_ffff,
            _ => self.next(),
        }
    }
}

/// Field offsets of the ELF class of a file (little-endian files only).
#[derive(Clone, Copy, Debug)]
struct Class {
    w: usize,
    phoff: usize,
    shoff: usize,
    phnum: usize,
    shnum: usize,
    phsize: usize,
    shsize: usize,
    /// p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
    ph_fields: [usize; 6],
    /// sh_type, sh_offset, sh_size
    sh_fields: [usize; 3],
}

const C64: Class = Class {
    w: 8,
    phoff: 32,
    shoff: 40,
    phnum: 56,
    shnum: 60,
    phsize: 56,
    shsize: 64,
    ph_fields: [8, 16, 24, 32, 40, 48],
    sh_fields: [4, 24, 32],
};
const C32: Class = Class {
    w: 4,
    phoff: 28,
    shoff: 32,
    phnum: 44,
    shnum: 48,
    phsize: 32,
    shsize: 40,
    ph_fields: [4, 8, 12, 16, 20, 28],
    sh_fields: [4, 16, 20],
};

/// Where the structures ld.so reads lie in one (well-formed) file.
#[derive(Debug)]
struct FileLayout {
    c: Class,
    phoff: usize,
    phnum: usize,
    shoff: usize,
    shnum: usize,
    /// File range of PT_DYNAMIC.
    dynamic: Option<(usize, usize)>,
    /// File ranges of the sections worth hitting.
    regions: Vec<(usize, usize)>,
    /// (file offset of the d_val, tag) of each dynamic entry.
    dyn_entries: Vec<(usize, u64)>,
}

fn u16le(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes([b[o], b[o + 1]]) as usize
}
fn u32le(b: &[u8], o: usize) -> usize {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize
}
fn word(b: &[u8], c: Class, o: usize) -> u64 {
    if c.w == 8 {
        u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
    } else {
        u32le(b, o) as u64
    }
}
fn put_word(b: &mut [u8], c: Class, o: usize, v: u64) {
    if c.w == 8 {
        put64(b, o, v)
    } else {
        put32(b, o, v as u32)
    }
}
fn put64(b: &mut [u8], o: usize, v: u64) {
    if o + 8 <= b.len() {
        b[o..o + 8].copy_from_slice(&v.to_le_bytes());
    }
}
fn put32(b: &mut [u8], o: usize, v: u32) {
    if o + 4 <= b.len() {
        b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }
}
fn put16(b: &mut [u8], o: usize, v: u16) {
    if o + 2 <= b.len() {
        b[o..o + 2].copy_from_slice(&v.to_le_bytes());
    }
}

fn layout(b: &[u8]) -> FileLayout {
    let c = if b[4] == 1 { C32 } else { C64 };
    let mut l = FileLayout {
        c,
        phoff: word(b, c, c.phoff) as usize,
        phnum: u16le(b, c.phnum),
        shoff: word(b, c, c.shoff) as usize,
        shnum: u16le(b, c.shnum),
        dynamic: None,
        regions: Vec::new(),
        dyn_entries: Vec::new(),
    };
    for i in 0..l.phnum {
        let ph = l.phoff + i * c.phsize;
        if u32le(b, ph) == 2 {
            let off = word(b, c, ph + c.ph_fields[0]) as usize;
            let size = word(b, c, ph + c.ph_fields[3]) as usize;
            l.dynamic = Some((off, size));
            for e in (off..off + size).step_by(2 * c.w) {
                l.dyn_entries.push((e + c.w, word(b, c, e)));
            }
        }
    }
    for i in 0..l.shnum {
        let sh = l.shoff + i * c.shsize;
        if sh + c.shsize > b.len() {
            break;
        }
        let ty = u32le(b, sh + c.sh_fields[0]);
        let off = word(b, c, sh + c.sh_fields[1]) as usize;
        let size = word(b, c, sh + c.sh_fields[2]) as usize;
        // dynsym, dynamic, hash, gnu hash, versym, verdef, verneed, rela, rel, relr, strtab
        if [
            11,
            6,
            5,
            0x6fff_fff6,
            0x6fff_ffff,
            0x6fff_fffd,
            0x6fff_fffe,
            4,
            9,
            19,
            3,
        ]
        .contains(&ty)
            && size > 0
            && off < b.len()
        {
            l.regions.push((off, size));
        }
    }
    l
}

/// One mutation of `orig`, described for the failure message.
fn mutate(orig: &[u8], l: &FileLayout, rng: &mut Rng) -> (Vec<u8>, String) {
    let c = l.c;
    let mut b = orig.to_vec();
    let len = b.len() as u64;
    let what;
    match rng.below(12) {
        0 => {
            let cut = rng.below(b.len());
            b.truncate(cut);
            what = format!("truncated at {cut}");
        }
        1 => {
            // Flips in the ELF header.
            let n = 1 + rng.below(4);
            for _ in 0..n {
                let o = rng.below(if c.w == 8 { 64 } else { 52 });
                b[o] ^= 1 << rng.below(8);
            }
            what = format!("{n} flips in the ELF header");
        }
        2 => {
            // Program headers: any field made nasty.
            let ph = l.phoff + rng.below(l.phnum.max(1)) * c.phsize;
            let field = c.ph_fields[rng.below(6)];
            let v = rng.nasty(len);
            put_word(&mut b, c, ph + field, v);
            what = format!("phdr at {ph} field +{field} = {v:#x}");
        }
        3 => {
            // A dynamic entry's value made nasty (strtab, symtab, hash, versym, rela, sizes...).
            if l.dyn_entries.is_empty() {
                return (b, "no dynamic section".into());
            }
            let (o, tag) = l.dyn_entries[rng.below(l.dyn_entries.len())];
            let v = rng.nasty(len);
            put_word(&mut b, c, o, v);
            what = format!("dynamic tag {tag:#x} = {v:#x}");
        }
        4 => {
            // A dynamic entry's tag changed (duplicates, DT_NULL early, unknown tags).
            if l.dyn_entries.is_empty() {
                return (b, "no dynamic section".into());
            }
            let (o, _) = l.dyn_entries[rng.below(l.dyn_entries.len())];
            let tags = [
                0,
                1,
                2,
                4,
                5,
                6,
                7,
                8,
                10,
                12,
                13,
                14,
                15,
                16,
                17,
                18,
                20,
                23,
                25,
                26,
                27,
                28,
                29,
                30,
                32,
                33,
                35,
                36,
                0x6fff_fef5,
                0x6fff_fff0,
                0x6fff_fffb,
                0x6fff_fffc,
                0x6fff_fffd,
                0x6fff_fffe,
                0x6fff_ffff,
            ];
            let t = tags[rng.below(tags.len())];
            put_word(&mut b, c, o - c.w, t);
            what = format!("dynamic entry at {} gets tag {t:#x}", o - c.w);
        }
        5 => {
            // Random bytes inside the symbol, hash, version, relocation and string tables.
            if l.regions.is_empty() {
                return (b, "no sections".into());
            }
            let (off, size) = l.regions[rng.below(l.regions.len())];
            let n = 1 + rng.below(16);
            for _ in 0..n {
                let o = off + rng.below(size);
                if o < b.len() {
                    b[o] = rng.next() as u8;
                }
            }
            what = format!("{n} random bytes in [{off}, +{size})");
        }
        6 => {
            // Huge counts: phnum, shnum, shentsize, shstrndx.
            let (o, v) = match rng.below(4) {
                0 => (c.phnum, 0xffff),
                1 => (c.shnum, 0xffff),
                2 => (c.shnum - 2, rng.next() as u16),
                _ => (c.shnum + 2, rng.next() as u16),
            };
            put16(&mut b, o, v);
            what = format!("header u16 at {o} = {v:#x}");
        }
        7 => {
            // Words inside a table (hash nbucket/nchain, gnu hash symoffset/bloom, verneed
            // cnt/next, relocation info) made nasty.
            if l.regions.is_empty() {
                return (b, "no sections".into());
            }
            let (off, size) = l.regions[rng.below(l.regions.len())];
            let o = off + (rng.below(size.max(4)) & !3);
            let v = rng.nasty(len) as u32;
            put32(&mut b, o, v);
            what = format!("u32 at {o} = {v:#x}");
        }
        8 => {
            // PT_DYNAMIC pointing into itself: at the program headers, the ELF header, or its
            // own entries shifted.
            let Some(ph) = (0..l.phnum)
                .map(|i| l.phoff + i * c.phsize)
                .find(|&ph| u32le(orig, ph) == 2)
            else {
                return (b, "no PT_DYNAMIC".into());
            };
            let target = match rng.below(3) {
                0 => l.phoff,
                1 => 0,
                _ => l.dynamic.map_or(0, |d| d.0 + c.w),
            };
            put_word(&mut b, c, ph + c.ph_fields[0], target as u64);
            put_word(&mut b, c, ph + c.ph_fields[1], target as u64);
            if rng.below(2) == 0 {
                let v = rng.nasty(len);
                put_word(&mut b, c, ph + c.ph_fields[3], v);
            }
            what = format!("PT_DYNAMIC moved to {target}");
        }
        9 => {
            // DT_STRTAB / DT_SYMTAB / DT_VERNEED pointing at the dynamic section itself, and
            // DT_NEEDED and other strings pointing past the string table.
            let Some((doff, _)) = l.dynamic else {
                return (b, "no dynamic section".into());
            };
            let mut n = 0;
            for &(o, tag) in &l.dyn_entries {
                let v = match tag {
                    1 | 14 | 15 | 29 => Some(rng.nasty(0x7fff_fff0)),
                    5 | 6 | 0x6fff_fffe | 0x6fff_fffc | 0x6fff_fff0 if rng.below(3) == 0 => {
                        Some(doff as u64)
                    }
                    _ => None,
                };
                if let Some(v) = v {
                    put_word(&mut b, c, o, v);
                    n += 1;
                }
            }
            what = format!("{n} dynamic values aimed at the dynamic section or outside");
        }
        10 => {
            // Sections overlapping: section headers pointed at one place.
            let target = rng.below(b.len()) as u64;
            for i in 0..l.shnum {
                let sh = l.shoff + i * c.shsize;
                if rng.below(2) == 0 {
                    put_word(&mut b, c, sh + c.sh_fields[1], target);
                    let v = rng.nasty(len);
                    put_word(&mut b, c, sh + c.sh_fields[2], v);
                }
            }
            what = format!("sections aimed at {target}");
        }
        _ => {
            // Many random flips anywhere.
            let n = 1 + rng.below(64);
            for _ in 0..n {
                let o = rng.below(b.len());
                b[o] ^= rng.next() as u8;
            }
            what = format!("{n} random flips");
        }
    }
    (b, what)
}

/// Where the last panic happened (set by the hook installed by the test).
static LAST_PANIC: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

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
        let at = LAST_PANIC.lock().unwrap().clone();
        if !panics.iter().any(|p| p.starts_with(&at)) {
            panics.push(format!("{at} <- {name} ({what})"));
        }
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
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        *LAST_PANIC.lock().unwrap() = format!("{at}: {}", info.payload_as_str().unwrap_or(""));
    }));
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
