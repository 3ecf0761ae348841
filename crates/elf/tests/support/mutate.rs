#![allow(dead_code)]
//! Mutations of ELF files for the hostile-input tests: a deterministic generator, where the
//! structures ld.so reads lie in a file, and one mutation at a time of those structures
//! (truncation aside); and a record of where panics happen. Shared by the ELF parser's test and
//! the code analysis's test (`crates/analysis/tests/hostile.rs` includes this file).

/// Where the last panic happened, `file:line: message` (set by the hook of [`record_panics`]).
static LAST_PANIC: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Replaces the panic hook by one that only records where each panic happens (the tests catch
/// thousands; `std::panic::take_hook` restores the default).
pub fn record_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut p) = LAST_PANIC.lock() {
            *p = format!("{at}: {}", info.payload_as_str().unwrap_or(""));
        }
    }));
}

/// Adds the last panic to `failures`, with the input that caused it (`name`, `what`), unless a
/// panic at the same place is already there.
pub fn note_panic(failures: &mut Vec<String>, name: &str, what: &str) {
    let at = LAST_PANIC.lock().map(|p| p.clone()).unwrap_or_default();
    if !failures.iter().any(|f| f.starts_with(&at)) {
        failures.push(format!("{at} <- {name} ({what})"));
    }
}

/// splitmix64: a tiny deterministic generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    /// A value that is often an edge: 0, 1, all ones, a power of two, near a size, or random.
    pub fn nasty(&mut self, near: u64) -> u64 {
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
pub struct Class {
    pub w: usize,
    pub phoff: usize,
    pub shoff: usize,
    pub phnum: usize,
    pub shnum: usize,
    pub phsize: usize,
    pub shsize: usize,
    /// p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
    pub ph_fields: [usize; 6],
    /// sh_type, sh_offset, sh_size
    pub sh_fields: [usize; 3],
}

pub const C64: Class = Class {
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
pub const C32: Class = Class {
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
pub struct FileLayout {
    pub c: Class,
    pub phoff: usize,
    pub phnum: usize,
    pub shoff: usize,
    pub shnum: usize,
    /// File range of PT_DYNAMIC.
    pub dynamic: Option<(usize, usize)>,
    /// File ranges of the sections worth hitting.
    pub regions: Vec<(usize, usize)>,
    /// (file offset of the d_val, tag) of each dynamic entry.
    pub dyn_entries: Vec<(usize, u64)>,
}

pub fn u16le(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes([b[o], b[o + 1]]) as usize
}
pub fn u32le(b: &[u8], o: usize) -> usize {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize
}
pub fn word(b: &[u8], c: Class, o: usize) -> u64 {
    if c.w == 8 {
        u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
    } else {
        u32le(b, o) as u64
    }
}
pub fn put_word(b: &mut [u8], c: Class, o: usize, v: u64) {
    if c.w == 8 {
        put64(b, o, v)
    } else {
        put32(b, o, v as u32)
    }
}
pub fn put64(b: &mut [u8], o: usize, v: u64) {
    if o + 8 <= b.len() {
        b[o..o + 8].copy_from_slice(&v.to_le_bytes());
    }
}
pub fn put32(b: &mut [u8], o: usize, v: u32) {
    if o + 4 <= b.len() {
        b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }
}
pub fn put16(b: &mut [u8], o: usize, v: u16) {
    if o + 2 <= b.len() {
        b[o..o + 2].copy_from_slice(&v.to_le_bytes());
    }
}

pub fn layout(b: &[u8]) -> FileLayout {
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
pub fn mutate(orig: &[u8], l: &FileLayout, rng: &mut Rng) -> (Vec<u8>, String) {
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
