//! Go binaries: what identifies them and what `dockergate ls` shows of them (toolchain version,
//! main package and module, whether C code is linked in through cgo), read from the two things
//! the Go linker always leaves and stripping never removes: the build-info blob (`.go.buildinfo`,
//! or found by its magic in the first writable segment) and the function table (`.gopclntab`,
//! or found by its header in a read-only segment).
//!
//! Everything here is bounded and checked: a damaged blob gives `None` fields, never a panic.

use serde::{Deserialize, Serialize};

use crate::{Section, Segment};

/// The magic that starts the build-info blob (16-byte aligned).
pub const BUILDINFO_MAGIC: &[u8; 14] = b"\xff Go buildinf:";
/// Longest string read out of the build info (Go's own reader stops at 1 MiB too).
const MAX_STRING: u64 = 1 << 20;
/// How far into a writable segment the build info is looked for when there is no section.
const BUILDINFO_SCAN: usize = 1 << 20;

/// The pclntab header magics, newest first: Go 1.20+, 1.18–1.19, 1.16–1.17, 1.2–1.15.
pub const PCLNTAB_MAGICS: [(u32, PclntabLayout); 4] = [
    (0xffff_fff1, PclntabLayout::Go120),
    (0xffff_fff0, PclntabLayout::Go118),
    (0xffff_fffa, PclntabLayout::Go116),
    (0xffff_fffb, PclntabLayout::Go12),
];

/// The layouts of the function table (`runtime.pcHeader`) Go has used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PclntabLayout {
    /// Go 1.2 to 1.15: absolute entries, names relative to the table.
    Go12,
    /// Go 1.16 and 1.17: sub-tables at offsets in the header, absolute entries.
    Go116,
    /// Go 1.18 and 1.19: entries as 32-bit offsets from `textStart`.
    Go118,
    /// Go 1.20 and later: as 1.18 (new magic; `moduledata` gained fields).
    Go120,
}

impl PclntabLayout {
    pub fn as_str(self) -> &'static str {
        match self {
            PclntabLayout::Go12 => "1.2",
            PclntabLayout::Go116 => "1.16",
            PclntabLayout::Go118 => "1.18",
            PclntabLayout::Go120 => "1.20",
        }
    }
}

/// Where the function table is: its virtual address, and its bytes' range in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PclntabLocation {
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    pub layout: PclntabLayout,
    pub ptr_size: u8,
}

/// What identifies a Go binary and how it was built.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoInfo {
    /// The toolchain, `go1.21.5` (from the build info; absent before Go 1.13 or when damaged).
    pub version: Option<String>,
    /// The main package's import path (`path` line of the module info).
    pub path: Option<String>,
    /// The main module: path and version (`example.com/m (devel)`).
    pub module: Option<String>,
    /// Build settings (Go 1.18+): `CGO_ENABLED`, `GOOS`, `-ldflags`, …, in file order.
    pub settings: Vec<(String, String)>,
    /// C code is linked in through cgo (the `runtime/cgo` package is part of the binary).
    pub cgo: bool,
    /// The function table, when found.
    pub pclntab: Option<PclntabLocation>,
}

impl GoInfo {
    /// A build setting's value.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The view of the file the detection needs (filled by the ELF parser).
pub(crate) struct FileView<'a> {
    pub data: &'a [u8],
    pub little: bool,
    pub sections: &'a [Section],
    pub segments: &'a [Segment],
}

impl FileView<'_> {
    fn bytes_at(&self, vaddr: u64, len: u64) -> Option<&[u8]> {
        let seg = self
            .segments
            .iter()
            .find(|s| vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz)?;
        let within = vaddr - seg.vaddr;
        if len > seg.filesz - within {
            return None;
        }
        let off = usize::try_from(seg.offset.checked_add(within)?).ok()?;
        self.data
            .get(off..off.checked_add(usize::try_from(len).ok()?)?)
    }

    fn section_bytes(&self, s: &Section) -> Option<&[u8]> {
        if s.nobits {
            return None;
        }
        let off = usize::try_from(s.offset).ok()?;
        self.data
            .get(off..off.checked_add(usize::try_from(s.size).ok()?)?)
    }
}

/// Reads an unsigned word of `ptr_size` bytes at `at`.
pub fn read_word(b: &[u8], at: usize, ptr_size: u8, little: bool) -> Option<u64> {
    match ptr_size {
        4 => {
            let w: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
            Some(if little {
                u32::from_le_bytes(w)
            } else {
                u32::from_be_bytes(w)
            } as u64)
        }
        8 => {
            let w: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
            Some(if little {
                u64::from_le_bytes(w)
            } else {
                u64::from_be_bytes(w)
            })
        }
        _ => None,
    }
}

/// Recognises a Go binary: `None` when none of its marks (build info, function table,
/// `.note.go.buildid`) is there.
pub(crate) fn detect(f: &FileView<'_>) -> Option<GoInfo> {
    let note = f.sections.iter().any(|s| s.name == ".note.go.buildid");
    let blob = buildinfo_blob(f);
    let pclntab = locate_pclntab(f);
    if blob.is_none() && pclntab.is_none() && !note {
        return None;
    }
    let mut info = GoInfo {
        pclntab,
        ..Default::default()
    };
    if let Some(b) = blob {
        if let Some((version, modinfo)) = read_buildinfo(f, b) {
            info.version = Some(version).filter(|v| !v.is_empty());
            parse_modinfo(&modinfo, &mut info);
        }
    }
    // The files of the runtime/cgo package are in the table only when it is linked in.
    if let Some(p) = pclntab {
        if let Some(bytes) = usize::try_from(p.offset)
            .ok()
            .and_then(|o| f.data.get(o..o.checked_add(usize::try_from(p.size).ok()?)?))
        {
            info.cgo = memmem(bytes, b"runtime/cgo/");
        }
    }
    Some(info)
}

fn memmem(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() || hay.len() < needle.len() {
        return needle.is_empty();
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|&b| b == first)
        {
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return true;
                }
                i += 1;
            }
            None => return false,
        }
    }
    false
}

/// The bytes from the build-info magic to the end of its section (or segment).
fn buildinfo_blob<'a>(f: &'a FileView<'a>) -> Option<&'a [u8]> {
    if let Some(s) = f.sections.iter().find(|s| s.name == ".go.buildinfo") {
        let b = f.section_bytes(s)?;
        return b.starts_with(BUILDINFO_MAGIC).then_some(b);
    }
    // No section headers: Go's reader looks at the start of the first writable segment.
    for seg in f.segments.iter().filter(|s| s.writable && s.filesz > 0) {
        let off = usize::try_from(seg.offset).ok()?;
        let len = usize::try_from(seg.filesz).ok()?.min(BUILDINFO_SCAN);
        let Some(b) = f.data.get(off..off.checked_add(len)?) else {
            continue;
        };
        // The blob is 16-byte aligned in memory.
        let skew = ((16 - (seg.vaddr % 16)) % 16) as usize;
        let mut k = skew;
        while k + 32 <= b.len() {
            if b[k..].starts_with(BUILDINFO_MAGIC) {
                return f.data.get(off + k..off + usize::try_from(seg.filesz).ok()?);
            }
            k += 16;
        }
    }
    None
}

/// The version string and the module info (framing removed) of the blob.
fn read_buildinfo(f: &FileView<'_>, b: &[u8]) -> Option<(String, String)> {
    if b.len() < 32 {
        return None;
    }
    let ptr_size = b[14];
    let flags = b[15];
    let (vers, modinfo) = if flags & 2 != 0 {
        // Go 1.18+: both strings inline after the 32-byte header, length-prefixed (uvarint).
        let (v, rest) = decode_string(&b[32..])?;
        let (m, _) = decode_string(rest).unwrap_or((&[], &[]));
        (v.to_vec(), m.to_vec())
    } else {
        // Older: pointers to Go string headers (data pointer, length).
        let little = flags & 1 == 0;
        let v_hdr = read_word(b, 16, ptr_size, little)?;
        let m_hdr = read_word(b, 16 + ptr_size as usize, ptr_size, little)?;
        let read = |hdr: u64| -> Option<Vec<u8>> {
            let h = f.bytes_at(hdr, 2 * ptr_size as u64)?;
            let addr = read_word(h, 0, ptr_size, little)?;
            let len = read_word(h, ptr_size as usize, ptr_size, little)?;
            if len > MAX_STRING {
                return None;
            }
            f.bytes_at(addr, len).map(<[u8]>::to_vec)
        };
        (read(v_hdr)?, read(m_hdr).unwrap_or_default())
    };
    let vers = String::from_utf8_lossy(&vers).into_owned();
    // The module info is framed by two 16-byte sentinels (not UTF-8).
    let m = &modinfo;
    let modinfo = if m.len() >= 33 && m[m.len() - 17] == b'\n' {
        String::from_utf8_lossy(&m[16..m.len() - 16]).into_owned()
    } else {
        String::new()
    };
    Some((vers, modinfo))
}

/// A uvarint-length-prefixed string, and what follows it.
fn decode_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut n = 0;
    loop {
        let byte = *b.get(n)?;
        n += 1;
        if shift >= 64 {
            return None;
        }
        len |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    if len > MAX_STRING || len > (b.len() - n) as u64 {
        return None;
    }
    let end = n + len as usize;
    Some((&b[n..end], &b[end..]))
}

/// Reads `path`, `mod` and `build` lines (the format of `runtime/debug.BuildInfo`).
fn parse_modinfo(text: &str, info: &mut GoInfo) {
    for line in text.lines() {
        let mut parts = line.split('\t');
        match parts.next() {
            Some("path") => info.path = parts.next().map(str::to_string),
            Some("mod") => {
                let path = parts.next().unwrap_or("");
                let version = parts.next().unwrap_or("");
                info.module = Some(if version.is_empty() {
                    path.to_string()
                } else {
                    format!("{path} {version}")
                });
            }
            Some("build") => {
                let kv = parts.collect::<Vec<_>>().join("\t");
                if let Some((k, v)) = kv.split_once('=') {
                    // Values with spaces or tabs are quoted (strconv.Quote).
                    let v = v
                        .strip_prefix('"')
                        .and_then(|x| x.strip_suffix('"'))
                        .unwrap_or(v);
                    info.settings.push((k.to_string(), v.to_string()));
                }
            }
            _ => {}
        }
    }
}

/// Does `b` start with a plausible pclntab header?
pub fn pclntab_header(b: &[u8], little: bool) -> Option<(PclntabLayout, u8)> {
    let m: [u8; 4] = b.get(0..4)?.try_into().ok()?;
    let magic = if little {
        u32::from_le_bytes(m)
    } else {
        u32::from_be_bytes(m)
    };
    let layout = PCLNTAB_MAGICS.iter().find(|(v, _)| *v == magic)?.1;
    let (pad1, pad2, quantum, ptr_size) = (*b.get(4)?, *b.get(5)?, *b.get(6)?, *b.get(7)?);
    (pad1 == 0 && pad2 == 0 && matches!(quantum, 1 | 2 | 4) && matches!(ptr_size, 4 | 8))
        .then_some((layout, ptr_size))
}

/// The function table: the `.gopclntab` section (`.data.rel.ro.gopclntab` in PIE builds), or,
/// without section headers, a valid header found in a read-only segment.
pub(crate) fn locate_pclntab(f: &FileView<'_>) -> Option<PclntabLocation> {
    for name in [".gopclntab", ".data.rel.ro.gopclntab"] {
        if let Some(s) = f.sections.iter().find(|s| s.name == name) {
            let b = f.section_bytes(s)?;
            let (layout, ptr_size) = pclntab_header(b, f.little)?;
            return Some(PclntabLocation {
                addr: s.addr,
                offset: s.offset,
                size: s.size,
                layout,
                ptr_size,
            });
        }
    }
    if !f.sections.is_empty() {
        return None;
    }
    for seg in f.segments.iter().filter(|s| !s.executable && s.filesz > 0) {
        let off = usize::try_from(seg.offset).ok()?;
        let Some(b) = f
            .data
            .get(off..off.checked_add(usize::try_from(seg.filesz).ok()?)?)
        else {
            continue;
        };
        let skew = ((8 - (seg.vaddr % 8)) % 8) as usize;
        let mut k = skew;
        while k + 64 <= b.len() {
            if b[k + 4] == 0 && b[k + 5] == 0 {
                if let Some((layout, ptr_size)) = pclntab_header(&b[k..], f.little) {
                    // A function count that fits the segment confirms it.
                    let nfunc = read_word(b, k + 8, ptr_size, f.little).unwrap_or(u64::MAX);
                    if nfunc > 0 && nfunc < (b.len() - k) as u64 / 8 {
                        return Some(PclntabLocation {
                            addr: seg.vaddr + k as u64,
                            offset: seg.offset + k as u64,
                            size: (b.len() - k) as u64,
                            layout,
                            ptr_size,
                        });
                    }
                }
            }
            k += 8;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob_inline(version: &str, modinfo: &[u8]) -> Vec<u8> {
        let mut b = BUILDINFO_MAGIC.to_vec();
        b.push(8);
        b.push(2);
        b.resize(32, 0);
        for s in [version.as_bytes(), modinfo] {
            let mut n = s.len() as u64;
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    b.push(byte);
                    break;
                }
                b.push(byte | 0x80);
            }
            b.extend_from_slice(s);
        }
        b
    }

    /// Module info between Go's sentinels (cmd/go's infoStart and infoEnd, not UTF-8).
    fn framed(m: &str) -> Vec<u8> {
        let mut v = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6".to_vec();
        v.extend_from_slice(m.as_bytes());
        v.push(b'\n');
        v.extend_from_slice(b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2");
        v
    }

    fn view<'a>(data: &'a [u8], sections: &'a [Section]) -> FileView<'a> {
        FileView {
            data,
            little: true,
            sections,
            segments: &[],
        }
    }

    fn section(name: &str, offset: u64, size: u64) -> Section {
        Section {
            name: name.into(),
            addr: 0x1000 + offset,
            size,
            offset,
            nobits: false,
            alloc: true,
            writable: true,
            executable: false,
            tls: false,
        }
    }

    #[test]
    fn inline_build_info() {
        let m = framed("path\texample.com/srv\nmod\texample.com/srv\t(devel)\t\nbuild\tCGO_ENABLED=0\nbuild\t-ldflags=\"-s -w\"");
        let b = blob_inline("go1.21.5", &m);
        let secs = [section(".go.buildinfo", 0, b.len() as u64)];
        let g = detect(&view(&b, &secs)).expect("go");
        assert_eq!(g.version.as_deref(), Some("go1.21.5"));
        assert_eq!(g.path.as_deref(), Some("example.com/srv"));
        assert_eq!(g.module.as_deref(), Some("example.com/srv (devel)"));
        assert_eq!(g.setting("CGO_ENABLED"), Some("0"));
        assert_eq!(g.setting("-ldflags"), Some("-s -w"));
        assert!(!g.cgo);
    }

    #[test]
    fn damaged_build_info_never_panics() {
        let m = framed("path\tx");
        let good = blob_inline("go1.19.8", &m);
        let secs_for = |n: usize| [section(".go.buildinfo", 0, n as u64)];
        // Every truncation, and every byte flipped.
        for n in 0..good.len() {
            let secs = secs_for(n);
            let _ = detect(&view(&good[..n], &secs));
        }
        for i in 0..good.len() {
            for v in [0u8, 0x7f, 0x80, 0xff] {
                let mut b = good.clone();
                b[i] = v;
                let secs = secs_for(b.len());
                let _ = detect(&view(&b, &secs));
            }
        }
        // A huge length prefix.
        let mut b = BUILDINFO_MAGIC.to_vec();
        b.extend_from_slice(&[8, 2]);
        b.resize(32, 0);
        b.extend_from_slice(&[0xff; 10]);
        let secs = secs_for(b.len());
        let g = detect(&view(&b, &secs)).expect("the section marks it as Go");
        assert_eq!(g.version, None);
        // Old (pointer) form with pointers to nowhere.
        let mut b = BUILDINFO_MAGIC.to_vec();
        b.extend_from_slice(&[8, 0]);
        b.extend_from_slice(&0xdead_beefu64.to_le_bytes());
        b.extend_from_slice(&0xffff_ffff_ffff_fff0u64.to_le_bytes());
        let secs = secs_for(b.len());
        assert_eq!(detect(&view(&b, &secs)).expect("go").version, None);
    }

    #[test]
    fn not_go() {
        let secs = [section(".data", 0, 64)];
        assert!(detect(&view(&[0u8; 64], &secs)).is_none());
    }

    #[test]
    fn pclntab_headers() {
        let mut h = 0xffff_fff1u32.to_le_bytes().to_vec();
        h.extend_from_slice(&[0, 0, 1, 8]);
        assert_eq!(pclntab_header(&h, true), Some((PclntabLayout::Go120, 8)));
        h[6] = 3;
        assert_eq!(pclntab_header(&h, true), None);
        assert_eq!(pclntab_header(&h[..5], true), None);
        let mut h = 0xffff_fffau32.to_be_bytes().to_vec();
        h.extend_from_slice(&[0, 0, 4, 4]);
        assert_eq!(pclntab_header(&h, false), Some((PclntabLayout::Go116, 4)));
    }

    #[test]
    fn finds_substrings() {
        assert!(memmem(b"xxruntime/cgo/a.go", b"runtime/cgo/"));
        assert!(!memmem(b"runtime/cgocall.go", b"runtime/cgo/"));
        assert!(!memmem(b"", b"x"));
    }
}
