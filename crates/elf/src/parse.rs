//! The parser behind [`parse_elf`]: headers through `object`, the dynamic section read the way
//! ld.so reads it.

use std::collections::HashMap;

use object::read::elf::{Dyn, FileHeader, ProgramHeader, Rel, Rela, SectionHeader, Sym};
use object::{elf, Endianness};

use crate::{
    machine, Bind, DynSymbol, ElfError, ElfKind, ElfObject, LocalSymbol, Reloc, RelocKind, Section,
    Segment, SymKind, DF_1_PIE,
};

/// Bounds on counts taken from the file, so that a hostile header cannot make us loop or allocate
/// without end.
const MAX_SYMBOLS: usize = 4_000_000;
const MAX_VERSION_ENTRIES: usize = 65_536;
const MAX_ARRAY_ENTRIES: usize = 1_000_000;
const MAX_NAME: usize = 16_384;
/// Program headers read. Linux runs no executable with more than a page of them (73 on
/// x86-64), real files have about 15; a hostile count would multiply every address lookup.
const MAX_SEGMENTS: usize = 256;
/// Sections read. Linked programs and libraries have fewer than 100; a hostile table of tens of
/// thousands would multiply every walk over them (sections only guide the analysis: the kernel
/// and ld.so load segments).
const MAX_SECTIONS: usize = 256;

/// Parses an ELF file from its bytes.
pub fn parse_elf(data: &[u8]) -> Result<ElfObject, ElfError> {
    if !crate::is_elf(data) {
        return Err(ElfError::NotElf);
    }
    match data.get(4) {
        Some(1) => parse_generic::<elf::FileHeader32<Endianness>>(data),
        Some(2) => parse_generic::<elf::FileHeader64<Endianness>>(data),
        _ => Err(ElfError::Malformed("unknown ELF class".into())),
    }
}

fn bad(what: impl std::fmt::Display) -> ElfError {
    ElfError::Malformed(what.to_string())
}

/// The dynamic tags we use, read from `PT_DYNAMIC`.
#[derive(Default)]
struct DynTags {
    needed: Vec<u64>,
    soname: Option<u64>,
    rpath: Option<u64>,
    runpath: Option<u64>,
    strtab: Option<u64>,
    strsz: Option<u64>,
    symtab: Option<u64>,
    hash: Option<u64>,
    gnu_hash: Option<u64>,
    versym: Option<u64>,
    verdef: Option<u64>,
    verdefnum: Option<u64>,
    verneed: Option<u64>,
    verneednum: Option<u64>,
    rela: Option<u64>,
    relasz: Option<u64>,
    rel: Option<u64>,
    relsz: Option<u64>,
    jmprel: Option<u64>,
    pltrelsz: Option<u64>,
    pltrel: Option<u64>,
    relr: Option<u64>,
    relrsz: Option<u64>,
    flags: u64,
    flags_1: u64,
    symbolic: bool,
    init: Option<u64>,
    fini: Option<u64>,
    init_array: Option<(u64, u64)>,
    fini_array: Option<(u64, u64)>,
    preinit_array: Option<(u64, u64)>,
}

struct Ctx<'d> {
    data: &'d [u8],
    little: bool,
    is64: bool,
    segments: Vec<Segment>,
    /// Bytes of strings we may still copy out of the file: names can share bytes (many symbols
    /// naming one long string), so without a budget a small file could make us allocate
    /// gigabytes.
    budget: std::cell::Cell<usize>,
}

impl<'d> Ctx<'d> {
    /// An owned copy of `bytes` charged to the string budget (empty once it is spent).
    fn string(&self, bytes: &[u8]) -> String {
        let left = self.budget.get();
        if bytes.len() > left {
            self.budget.set(0);
            return String::new();
        }
        self.budget.set(left - bytes.len());
        String::from_utf8_lossy(bytes).into_owned()
    }
    /// The NUL-terminated string at `idx` of a string table.
    fn c_str(&self, table: &[u8], idx: u64) -> Option<String> {
        let rest = table.get(usize::try_from(idx).ok()?..)?;
        let end = rest.iter().take(MAX_NAME).position(|&b| b == 0)?;
        Some(self.string(&rest[..end]))
    }

    fn off(&self, vaddr: u64) -> Option<usize> {
        self.segments
            .iter()
            .find_map(|s| {
                (vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz)
                    .then(|| s.offset.checked_add(vaddr - s.vaddr))
                    .flatten()
            })
            .and_then(|o| usize::try_from(o).ok())
            .filter(|o| *o < self.data.len())
    }
    fn bytes_at(&self, vaddr: u64, len: u64) -> Option<&'d [u8]> {
        let o = self.off(vaddr)?;
        let end = o.checked_add(usize::try_from(len).ok()?)?;
        self.data.get(o..end)
    }
    fn u16(&self, b: &[u8], at: usize) -> Option<u16> {
        let a: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }
    fn u32(&self, b: &[u8], at: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }
    fn word(&self, b: &[u8], at: usize) -> Option<u64> {
        if self.is64 {
            let a: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
            Some(if self.little {
                u64::from_le_bytes(a)
            } else {
                u64::from_be_bytes(a)
            })
        } else {
            self.u32(b, at).map(u64::from)
        }
    }
    fn word_at_vaddr(&self, vaddr: u64) -> Option<u64> {
        let o = self.off(vaddr)?;
        self.word(self.data, o)
    }
    fn word_size(&self) -> u64 {
        if self.is64 {
            8
        } else {
            4
        }
    }
}

fn parse_generic<E: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<ElfObject, ElfError> {
    let header = E::parse(data).map_err(bad)?;
    let endian = header.endian().map_err(bad)?;
    let little = endian == Endianness::Little;
    let is64 = header.is_type_64();
    let mut warnings = Vec::new();
    let phdrs = header
        .program_headers(endian, data)
        .map_err(|e| bad(format!("program headers: {e}")))?;
    let mut segments = Vec::new();
    let mut interpreter = None;
    let mut dynamic: Option<&[E::Dyn]> = None;
    if phdrs.len() > MAX_SEGMENTS {
        warnings.push(format!(
            "{} program headers; only the first {MAX_SEGMENTS} are read",
            phdrs.len()
        ));
    }
    for ph in phdrs.iter().take(MAX_SEGMENTS) {
        match ph.p_type(endian).0 {
            1 => {
                let flags = ph.p_flags(endian).0;
                let vaddr: u64 = ph.p_vaddr(endian).into();
                let memsz: u64 = ph.p_memsz(endian).into();
                let filesz: u64 = ph.p_filesz(endian).into();
                // The kernel refuses a segment that wraps around the address space; cut here,
                // so that `vaddr + size` holds everywhere.
                let room = u64::MAX - vaddr;
                if memsz > room || filesz > room {
                    warnings.push(format!(
                        "a segment at {vaddr:#x} runs past the end of the address space; cut"
                    ));
                }
                segments.push(Segment {
                    vaddr,
                    memsz: memsz.min(room),
                    offset: ph.p_offset(endian).into(),
                    filesz: filesz.min(room),
                    readable: flags & 4 != 0,
                    writable: flags & 2 != 0,
                    executable: flags & 1 != 0,
                });
            }
            // The kernel takes the first PT_INTERP, and no longer than PATH_MAX.
            3 if interpreter.is_none() => match ph.interpreter(endian, data) {
                Ok(Some(bytes)) if bytes.len() < 4096 => {
                    interpreter = Some(String::from_utf8_lossy(bytes).into_owned())
                }
                Ok(Some(_)) => warnings.push("PT_INTERP is longer than PATH_MAX".to_string()),
                _ => warnings.push("PT_INTERP points outside the file".to_string()),
            },
            3 => {}
            2 => match ph.dynamic(endian, data) {
                Ok(Some(d)) => dynamic = Some(d),
                _ => warnings.push("PT_DYNAMIC points outside the file".to_string()),
            },
            _ => {}
        }
    }
    let ctx = Ctx {
        data,
        little,
        is64,
        segments,
        budget: std::cell::Cell::new(data.len().saturating_mul(4).saturating_add(1 << 20)),
    };

    let mut t = DynTags::default();
    if let Some(dyns) = dynamic {
        for d in dyns {
            let tag = d.d_tag(endian).0;
            let val: u64 = d.val(endian);
            match tag {
                0 => break,
                1 => t.needed.push(val),
                14 => t.soname = Some(val),
                15 => t.rpath = Some(val),
                29 => t.runpath = Some(val),
                5 => t.strtab = Some(val),
                10 => t.strsz = Some(val),
                6 => t.symtab = Some(val),
                4 => t.hash = Some(val),
                0x6fff_fef5 => t.gnu_hash = Some(val),
                0x6fff_fff0 => t.versym = Some(val),
                0x6fff_fffc => t.verdef = Some(val),
                0x6fff_fffd => t.verdefnum = Some(val),
                0x6fff_fffe => t.verneed = Some(val),
                0x6fff_ffff => t.verneednum = Some(val),
                7 => t.rela = Some(val),
                8 => t.relasz = Some(val),
                17 => t.rel = Some(val),
                18 => t.relsz = Some(val),
                23 => t.jmprel = Some(val),
                2 => t.pltrelsz = Some(val),
                20 => t.pltrel = Some(val),
                36 => t.relr = Some(val),
                35 => t.relrsz = Some(val),
                30 => {
                    t.flags = val;
                    t.symbolic |= val & 2 != 0;
                }
                0x6fff_fffb => t.flags_1 = val,
                16 => t.symbolic = true,
                12 => t.init = Some(val),
                13 => t.fini = Some(val),
                25 => t.init_array = Some((val, t.init_array.map_or(0, |a| a.1))),
                27 => t.init_array = Some((t.init_array.map_or(0, |a| a.0), val)),
                26 => t.fini_array = Some((val, t.fini_array.map_or(0, |a| a.1))),
                28 => t.fini_array = Some((t.fini_array.map_or(0, |a| a.0), val)),
                32 => t.preinit_array = Some((val, t.preinit_array.map_or(0, |a| a.1))),
                33 => t.preinit_array = Some((t.preinit_array.map_or(0, |a| a.0), val)),
                _ => {}
            }
        }
    }
    let strtab: &[u8] = match (t.strtab, t.strsz) {
        (Some(a), Some(sz)) => ctx.bytes_at(a, sz).unwrap_or_else(|| {
            warnings.push("DT_STRTAB points outside the file".into());
            &[]
        }),
        _ => &[],
    };
    let dstr = |v: Option<u64>| v.and_then(|i| ctx.c_str(strtab, i));
    let needed: Vec<String> = t
        .needed
        .iter()
        .filter_map(|&i| ctx.c_str(strtab, i))
        .collect();
    if needed.len() != t.needed.len() {
        warnings.push("a DT_NEEDED name lies outside the string table".into());
    }

    // Sections (optional: a file may have none, or garbage ones).
    let mut sections = Vec::new();
    let mut symtab_functions = Vec::new();
    let mut dynsym_section: Option<(u64, u64)> = None; // (offset, size) of SHT_DYNSYM
    let mut static_relas: Vec<(usize, usize, u32)> = Vec::new(); // allocated SHT_RELA in files without PT_DYNAMIC
    match header.sections(endian, data) {
        Ok(table) => {
            if table.len() > MAX_SECTIONS {
                warnings.push(format!(
                    "{} section headers; only the first {MAX_SECTIONS} are read",
                    table.len()
                ));
            }
            for sh in table.iter().take(MAX_SECTIONS) {
                let name = table
                    .section_name(endian, sh)
                    .map(|n| ctx.string(n))
                    .unwrap_or_default();
                let flags: u64 = sh.sh_flags(endian).0;
                let ty = sh.sh_type(endian).0;
                let addr: u64 = sh.sh_addr(endian).into();
                let offset: u64 = sh.sh_offset(endian).into();
                let mut size: u64 = sh.sh_size(endian).into();
                // A section is only what the file and the address space can hold: a hostile
                // size would make every walk over it (PLT stubs, init arrays) run for ever.
                let room = if ty == 8 {
                    u64::MAX - addr
                } else {
                    (u64::MAX - addr).min((data.len() as u64).saturating_sub(offset))
                };
                if size > room {
                    warnings.push(format!(
                        "section {name} is larger than {}; cut to {room} bytes",
                        if ty == 8 {
                            "the address space"
                        } else {
                            "the file"
                        }
                    ));
                    size = room;
                }
                sections.push(Section {
                    name,
                    addr,
                    size,
                    offset,
                    nobits: ty == 8,
                    alloc: flags & 2 != 0,
                    writable: flags & 1 != 0,
                    executable: flags & 4 != 0,
                    tls: flags & 0x400 != 0,
                });
                if ty == 11 {
                    dynsym_section = Some((sh.sh_offset(endian).into(), sh.sh_size(endian).into()));
                }
                if ty == 4 && flags & 2 != 0 && dynamic.is_none() {
                    let off: u64 = sh.sh_offset(endian).into();
                    let size: u64 = sh.sh_size(endian).into();
                    if let (Ok(o), Ok(s)) = (usize::try_from(off), usize::try_from(size)) {
                        static_relas.push((o, s, sh.sh_link(endian)));
                    }
                }
            }
            if let Ok(symtab) = table.symbols(endian, data, elf::SHT_SYMTAB) {
                let strings = symtab.strings();
                for sym in symtab.iter().take(MAX_SYMBOLS) {
                    let kind = sym_kind(sym.st_type().0);
                    // Untyped symbols too: hand-written assembly often omits `.type`.
                    if !matches!(kind, SymKind::Func | SymKind::IFunc | SymKind::NoType)
                        || sym.st_shndx(endian).0 == 0
                    {
                        continue;
                    }
                    let name = sym
                        .name(endian, strings)
                        .map(|n| ctx.string(n))
                        .unwrap_or_default();
                    symtab_functions.push(LocalSymbol {
                        name,
                        value: sym.st_value(endian).into(),
                        size: sym.st_size(endian).into(),
                        kind,
                    });
                }
            }
        }
        Err(e) => warnings.push(format!(
            "section headers unreadable ({e}); using program headers only"
        )),
    }

    // Dynamic symbols, read from DT_SYMTAB as ld.so does; the count comes from the hash tables.
    let sym_size: u64 = if is64 { 24 } else { 16 };
    let mut nsyms: u64 = 0;
    if let Some(h) = t.hash {
        if let Some(b) = ctx.bytes_at(h, 8) {
            nsyms = ctx.u32(b, 4).unwrap_or(0) as u64;
        }
    } else if let Some(g) = t.gnu_hash {
        nsyms = gnu_hash_count(&ctx, g).unwrap_or(0);
    }
    if nsyms == 0 {
        if let Some((_, size)) = dynsym_section {
            nsyms = size / sym_size;
        }
    }
    let nsyms = (nsyms as usize).min(MAX_SYMBOLS);
    let mut dynsym = Vec::new();
    if let (Some(symaddr), true) = (t.symtab, nsyms > 0) {
        match ctx.off(symaddr).and_then(|o| data.get(o..)) {
            Some(bytes) => {
                let count = nsyms.min(bytes.len() / sym_size as usize);
                if count < nsyms {
                    warnings.push("dynamic symbol table is truncated".into());
                }
                let syms: &[E::Sym] = object::pod::slice_from_bytes(bytes, count)
                    .map(|(s, _)| s)
                    .unwrap_or(&[]);
                let versions = Versions::read(&ctx, &t, strtab, count);
                for (i, s) in syms.iter().enumerate() {
                    let name = ctx
                        .c_str(strtab, s.st_name(endian) as u64)
                        .unwrap_or_default();
                    let bind = match s.st_bind().0 {
                        0 => Bind::Local,
                        1 => Bind::Global,
                        2 => Bind::Weak,
                        10 => Bind::Unique,
                        _ => Bind::Other,
                    };
                    let vis = s.st_other().0 & 3;
                    let defined = s.st_shndx(endian).0 != 0;
                    let (version, version_file, hidden, version_index) =
                        versions.of(&ctx, i, defined);
                    dynsym.push(DynSymbol {
                        name,
                        version,
                        version_file,
                        version_index,
                        hidden,
                        defined,
                        bind,
                        kind: sym_kind(s.st_type().0),
                        visible: !matches!(bind, Bind::Local | Bind::Other)
                            && (vis == 0 || vis == 3),
                        value: s.st_value(endian).into(),
                        size: s.st_size(endian).into(),
                    });
                }
            }
            None => warnings.push("DT_SYMTAB points outside the file".into()),
        }
    }

    // Relocations. Tables of a well-formed file do not overlap and RELR entries name distinct
    // words, so there are fewer relocations than words in the file: that bounds hostile ones.
    let m = header.e_machine(endian).0;
    let mut relocs = Vec::new();
    let max_relocs = data.len() / 8 + 4096;
    let rela_size: usize = if is64 { 24 } else { 12 };
    let rel_size: usize = if is64 { 16 } else { 8 };
    let read_rela = |start: Option<u64>,
                     size: Option<u64>,
                     relocs: &mut Vec<Reloc>,
                     warnings: &mut Vec<String>| {
        let (Some(a), Some(sz)) = (start, size) else {
            return;
        };
        let Some(bytes) = ctx.bytes_at(a, sz) else {
            warnings.push("a relocation table points outside the file".into());
            return;
        };
        let n = (bytes.len() / rela_size).min(max_relocs.saturating_sub(relocs.len()));
        if let Ok((rs, _)) = object::pod::slice_from_bytes::<E::Rela>(bytes, n) {
            for r in rs {
                relocs.push(Reloc {
                    offset: r.r_offset(endian).into(),
                    kind: reloc_kind(m, r.r_type(endian, false).0),
                    sym: r.r_sym(endian, false),
                    addend: r.r_addend(endian).into(),
                });
            }
        }
    };
    read_rela(t.rela, t.relasz, &mut relocs, &mut warnings);
    if t.pltrel == Some(7) || (t.pltrel.is_none() && is64) {
        read_rela(t.jmprel, t.pltrelsz, &mut relocs, &mut warnings);
    }
    let read_rel = |start: Option<u64>,
                    size: Option<u64>,
                    relocs: &mut Vec<Reloc>,
                    warnings: &mut Vec<String>| {
        let (Some(a), Some(sz)) = (start, size) else {
            return;
        };
        let Some(bytes) = ctx.bytes_at(a, sz) else {
            warnings.push("a relocation table points outside the file".into());
            return;
        };
        let n = (bytes.len() / rel_size).min(max_relocs.saturating_sub(relocs.len()));
        if let Ok((rs, _)) = object::pod::slice_from_bytes::<E::Rel>(bytes, n) {
            for r in rs {
                let offset: u64 = r.r_offset(endian).into();
                relocs.push(Reloc {
                    offset,
                    kind: reloc_kind(m, r.r_type(endian).0),
                    sym: r.r_sym(endian),
                    addend: ctx.word_at_vaddr(offset).unwrap_or(0) as i64,
                });
            }
        }
    };
    read_rel(t.rel, t.relsz, &mut relocs, &mut warnings);
    if t.pltrel == Some(17) {
        read_rel(t.jmprel, t.pltrelsz, &mut relocs, &mut warnings);
    }
    if let (Some(a), Some(sz)) = (t.relr, t.relrsz) {
        match ctx.bytes_at(a, sz) {
            Some(bytes) => decode_relr(&ctx, bytes, &mut relocs, max_relocs),
            None => warnings.push("DT_RELR points outside the file".into()),
        }
    }
    for (off, size, _) in static_relas {
        let Some(bytes) = off.checked_add(size).and_then(|end| data.get(off..end)) else {
            continue;
        };
        let n = (bytes.len() / rela_size).min(max_relocs.saturating_sub(relocs.len()));
        if let Ok((rs, _)) = object::pod::slice_from_bytes::<E::Rela>(bytes, n) {
            for r in rs {
                relocs.push(Reloc {
                    offset: r.r_offset(endian).into(),
                    kind: reloc_kind(m, r.r_type(endian, false).0),
                    sym: 0,
                    addend: r.r_addend(endian).into(),
                });
            }
        }
    }
    relocs.sort_by_key(|r| r.offset);

    // Init/fini arrays, with their relocations applied.
    let by_offset: HashMap<u64, &Reloc> = relocs.iter().map(|r| (r.offset, r)).collect();
    let read_array = |arr: Option<(u64, u64)>, warnings: &mut Vec<String>| -> Vec<u64> {
        let Some((addr, size)) = arr else {
            return Vec::new();
        };
        let n = (size / ctx.word_size()) as usize;
        // The arrays are in the file: one longer than the file is garbage.
        if n > MAX_ARRAY_ENTRIES || size > data.len() as u64 {
            warnings.push("init/fini array too large; ignored".into());
            return Vec::new();
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n as u64 {
            let slot = addr.wrapping_add(i * ctx.word_size());
            let v = match by_offset.get(&slot) {
                Some(r) if matches!(r.kind, RelocKind::Relative | RelocKind::IRelative) => {
                    r.addend as u64
                }
                Some(r) if r.kind == RelocKind::Absolute => dynsym
                    .get(r.sym as usize)
                    .map_or(0, |s| s.value)
                    .wrapping_add(r.addend as u64),
                _ => ctx.word_at_vaddr(slot).unwrap_or(0),
            };
            // 0 and -1 are terminators/placeholders in some toolchains' arrays.
            if v != 0 && v != u64::MAX && (is64 || v != u32::MAX as u64) {
                out.push(v);
            }
        }
        out
    };
    let preinit_array = read_array(t.preinit_array, &mut warnings);
    let init_array = read_array(t.init_array, &mut warnings);
    let fini_array = read_array(t.fini_array, &mut warnings);

    let etype = header.e_type(endian).0;
    let soname = dstr(t.soname);
    let kind = match etype {
        1 => ElfKind::Relocatable,
        2 if interpreter.is_some() => ElfKind::Executable,
        2 => ElfKind::StaticExecutable,
        3 if t.flags_1 & DF_1_PIE != 0 => {
            if interpreter.is_some() {
                ElfKind::PieExecutable
            } else {
                ElfKind::StaticPie
            }
        }
        3 if interpreter.is_some() && soname.is_none() => ElfKind::PieExecutable,
        3 => ElfKind::SharedObject,
        _ => ElfKind::Other,
    };
    let _ = machine::name;
    let go = crate::go::detect(&crate::go::FileView {
        data,
        little,
        sections: &sections,
        segments: &ctx.segments,
    });
    Ok(ElfObject {
        class: if is64 { 64 } else { 32 },
        little_endian: little,
        machine: m,
        etype,
        kind,
        entry: header.e_entry(endian).into(),
        interpreter,
        has_dynamic: dynamic.is_some(),
        needed,
        soname,
        rpath: dstr(t.rpath),
        runpath: dstr(t.runpath),
        flags: t.flags,
        flags_1: t.flags_1,
        symbolic: t.symbolic,
        init: t.init.filter(|v| *v != 0),
        fini: t.fini.filter(|v| *v != 0),
        preinit_array,
        init_array,
        fini_array,
        segments: ctx.segments,
        sections,
        dynsym,
        symtab_functions,
        relocs,
        go,
        warnings,
    })
}

fn sym_kind(t: u8) -> SymKind {
    match t {
        0 => SymKind::NoType,
        1 => SymKind::Object,
        2 => SymKind::Func,
        6 => SymKind::Tls,
        10 => SymKind::IFunc,
        _ => SymKind::Other,
    }
}

fn reloc_kind(machine: u16, t: u32) -> RelocKind {
    use RelocKind::*;
    match (machine, t) {
        (machine::X86_64, 8) | (machine::X86, 8) | (machine::AARCH64, 1027) => Relative,
        (machine::X86_64, 1) | (machine::X86, 1) | (machine::AARCH64, 257) => Absolute,
        (machine::X86_64, 6) | (machine::X86, 6) | (machine::AARCH64, 1025) => GlobDat,
        (machine::X86_64, 7) | (machine::X86, 7) | (machine::AARCH64, 1026) => JumpSlot,
        (machine::X86_64, 37) | (machine::X86, 42) | (machine::AARCH64, 1032) => IRelative,
        (machine::X86_64, 5) | (machine::X86, 5) | (machine::AARCH64, 1024) => Copy,
        _ => Other,
    }
}

/// Number of dynamic symbols from a `DT_GNU_HASH` table: one past the last symbol of the longest
/// chain (the table does not store the count).
fn gnu_hash_count(ctx: &Ctx<'_>, addr: u64) -> Option<u64> {
    let head = ctx.bytes_at(addr, 16)?;
    let nbuckets = ctx.u32(head, 0)? as u64;
    let symoffset = ctx.u32(head, 4)? as u64;
    let bloom_size = ctx.u32(head, 8)? as u64;
    let buckets_addr = addr
        .checked_add(16)?
        .checked_add(bloom_size * ctx.word_size())?;
    if nbuckets > MAX_SYMBOLS as u64 {
        return None;
    }
    let buckets = ctx.bytes_at(buckets_addr, nbuckets * 4)?;
    let mut max = 0u64;
    for i in 0..nbuckets as usize {
        max = max.max(ctx.u32(buckets, i * 4)? as u64);
    }
    if max < symoffset {
        return Some(symoffset);
    }
    let chains_addr = buckets_addr.checked_add(nbuckets * 4)?;
    let mut idx = max;
    for _ in 0..MAX_SYMBOLS {
        let b = ctx.bytes_at(chains_addr.checked_add((idx - symoffset) * 4)?, 4)?;
        if ctx.u32(b, 0)? & 1 != 0 {
            return Some(idx + 1);
        }
        idx += 1;
    }
    None
}

fn decode_relr(ctx: &Ctx<'_>, bytes: &[u8], relocs: &mut Vec<Reloc>, max: usize) {
    let ws = ctx.word_size();
    let mut base = 0u64;
    let mut i = 0usize;
    while i + ws as usize <= bytes.len() && relocs.len() < max {
        let Some(entry) = ctx.word(bytes, i) else {
            break;
        };
        i += ws as usize;
        let mut push = |off: u64| {
            if relocs.len() >= max {
                return;
            }
            let addend = ctx.word_at_vaddr(off).unwrap_or(0) as i64;
            relocs.push(Reloc {
                offset: off,
                kind: RelocKind::Relative,
                sym: 0,
                addend,
            });
        };
        if entry & 1 == 0 {
            push(entry);
            base = entry.wrapping_add(ws);
        } else {
            let mut bits = entry >> 1;
            let mut off = base;
            while bits != 0 {
                if bits & 1 != 0 {
                    push(off);
                }
                bits >>= 1;
                off = off.wrapping_add(ws);
            }
            base = base.wrapping_add((ws * 8 - 1) * ws);
        }
    }
}

/// Symbol versions from `DT_VERSYM`, `DT_VERDEF` and `DT_VERNEED`.
struct Versions {
    versym: Vec<u16>,
    /// version index → (name, file for needs)
    names: HashMap<u16, (String, Option<String>)>,
}

impl Versions {
    fn read(ctx: &Ctx<'_>, t: &DynTags, strtab: &[u8], nsyms: usize) -> Versions {
        let mut v = Versions {
            versym: Vec::new(),
            names: HashMap::new(),
        };
        let Some(addr) = t.versym else { return v };
        if let Some(b) = ctx.bytes_at(addr, nsyms as u64 * 2) {
            v.versym = (0..nsyms).filter_map(|i| ctx.u16(b, i * 2)).collect();
        }
        if let Some(mut a) = t.verdef {
            let n = t.verdefnum.unwrap_or(0).min(MAX_VERSION_ENTRIES as u64);
            for _ in 0..n {
                let Some(b) = ctx.bytes_at(a, 20) else { break };
                let (flags, ndx, aux, next) = (
                    ctx.u16(b, 2).unwrap_or(0),
                    ctx.u16(b, 4).unwrap_or(0),
                    ctx.u32(b, 12).unwrap_or(0),
                    ctx.u32(b, 16).unwrap_or(0),
                );
                // The base version (VER_FLG_BASE, the object's own name) is not a version a
                // symbol can be matched against: ld.so leaves it out of l_versions.
                if flags & 1 == 0 {
                    if let Some(name) = ctx
                        .bytes_at(a.wrapping_add(aux as u64), 8)
                        .and_then(|ab| ctx.u32(ab, 0))
                        .and_then(|n| ctx.c_str(strtab, n as u64))
                    {
                        v.names.insert(ndx & 0x7fff, (name, None));
                    }
                }
                if next == 0 {
                    break;
                }
                a = a.wrapping_add(next as u64);
            }
        }
        if let Some(mut a) = t.verneed {
            let n = t.verneednum.unwrap_or(0).min(MAX_VERSION_ENTRIES as u64);
            for _ in 0..n {
                let Some(b) = ctx.bytes_at(a, 16) else { break };
                let (cnt, file, aux, next) = (
                    ctx.u16(b, 2).unwrap_or(0),
                    ctx.u32(b, 4).unwrap_or(0),
                    ctx.u32(b, 8).unwrap_or(0),
                    ctx.u32(b, 12).unwrap_or(0),
                );
                let file = ctx.c_str(strtab, file as u64);
                let mut x = a.wrapping_add(aux as u64);
                for _ in 0..cnt {
                    let Some(xb) = ctx.bytes_at(x, 16) else { break };
                    let (other, name, xnext) = (
                        ctx.u16(xb, 6).unwrap_or(0),
                        ctx.u32(xb, 8).unwrap_or(0),
                        ctx.u32(xb, 12).unwrap_or(0),
                    );
                    if let Some(name) = ctx.c_str(strtab, name as u64) {
                        v.names.insert(other & 0x7fff, (name, file.clone()));
                    }
                    if xnext == 0 {
                        break;
                    }
                    x = x.wrapping_add(xnext as u64);
                }
                if next == 0 {
                    break;
                }
                a = a.wrapping_add(next as u64);
            }
        }
        v
    }

    /// (version, file, hidden, index) of symbol `i`.
    fn of(
        &self,
        ctx: &Ctx<'_>,
        i: usize,
        defined: bool,
    ) -> (Option<String>, Option<String>, bool, u16) {
        let Some(&raw) = self.versym.get(i) else {
            return (None, None, false, 0);
        };
        let idx = raw & 0x7fff;
        let hidden = raw & 0x8000 != 0;
        if idx < 1 {
            return (None, None, hidden, idx);
        }
        match self.names.get(&idx) {
            Some((name, file)) => (
                Some(ctx.string(name.as_bytes())),
                if defined {
                    None
                } else {
                    file.as_ref().map(|f| ctx.string(f.as_bytes()))
                },
                hidden,
                idx,
            ),
            None => (None, None, hidden, idx),
        }
    }
}
