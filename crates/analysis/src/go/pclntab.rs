//! The Go function table (`runtime.pcHeader` and what follows it): entry, end, name and
//! argument-area size of every function, for each layout Go has used since 1.2 (the headers of
//! 1.2, 1.16, 1.18 and 1.20; see `dockergate_elf::go::PclntabLayout`). It is what the runtime
//! needs for stack traces and garbage collection, so stripping never removes it.
//!
//! Every count, offset and string is checked against the table's bytes: a damaged table gives
//! an error or fewer functions, never a panic or an unbounded allocation.

use dockergate_elf::go::{read_word, PclntabLayout};

/// Longest function name read.
const MAX_NAME: usize = 4096;
/// `abi.ArgsSizeUnknown`: an assembly function that did not declare its frame.
pub const ARGS_SIZE_UNKNOWN: i32 = i32::MIN;

/// One function of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoFunc {
    pub entry: u64,
    /// The next function's entry (the table's end for the last one).
    pub end: u64,
    pub name: String,
    /// Bytes of arguments, results and register-argument spill slots above the return address
    /// (`_func.args`); [`ARGS_SIZE_UNKNOWN`] when not declared.
    pub args: i32,
}

/// The parsed table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pclntab {
    pub layout: PclntabLayout,
    pub ptr_size: u8,
    /// Base of the 32-bit entry offsets (Go 1.18+), or the first entry.
    pub text_start: u64,
    /// Sorted by entry.
    pub funcs: Vec<GoFunc>,
    /// Offset of the function-name table in the table (Go 1.16+), 0 before.
    pub funcname_offset: u64,
}

struct Reader<'a> {
    b: &'a [u8],
    little: bool,
    ptr: u8,
}

impl Reader<'_> {
    fn u32(&self, at: u64) -> Result<u32, String> {
        let at = usize::try_from(at).map_err(|_| "offset out of range")?;
        read_word(self.b, at, 4, self.little)
            .map(|v| v as u32)
            .ok_or_else(|| format!("read past the end of the table at {at:#x}"))
    }
    fn word(&self, at: u64) -> Result<u64, String> {
        let at = usize::try_from(at).map_err(|_| "offset out of range")?;
        read_word(self.b, at, self.ptr, self.little)
            .ok_or_else(|| format!("read past the end of the table at {at:#x}"))
    }
    /// A header field that is an offset into the table.
    fn offset(&self, at: u64) -> Result<u64, String> {
        let v = self.word(at)?;
        if v >= self.b.len() as u64 {
            return Err(format!("header offset {v:#x} beyond the table"));
        }
        Ok(v)
    }
    fn c_string(&self, at: u64) -> Option<String> {
        let at = usize::try_from(at).ok()?;
        let rest = self.b.get(at..)?;
        let n = rest.iter().take(MAX_NAME).position(|&c| c == 0)?;
        Some(String::from_utf8_lossy(&rest[..n]).into_owned())
    }
}

/// Parses the table at `addr` (its bytes `b`). `text_start_reloc` gives the relocated value of
/// the header's `textStart` word when a dynamic relocation sets it (PIE builds).
pub fn parse(
    b: &[u8],
    little: bool,
    text_start_reloc: Option<u64>,
    text_section: Option<u64>,
) -> Result<Pclntab, String> {
    let (layout, ptr) =
        dockergate_elf::go::pclntab_header(b, little).ok_or("not a Go function table header")?;
    let r = Reader { b, little, ptr };
    let ps = ptr as u64;
    let nfunc = r.word(8)?;
    // Every function has at least a functab pair: a count the table cannot hold is garbage.
    if nfunc == 0 || nfunc > b.len() as u64 / 8 {
        return Err(format!("implausible function count {nfunc}"));
    }
    let mut funcs = Vec::with_capacity(nfunc as usize);
    let (text_start, funcname_offset);
    match layout {
        PclntabLayout::Go12 => {
            // functab: (entry, funcoff) words; _func: entry, nameoff (from the table start), args.
            let ft = 8 + ps;
            text_start = r.word(ft)?;
            funcname_offset = 0;
            for i in 0..nfunc {
                let entry = r.word(ft + 2 * i * ps)?;
                let funcoff = r.word(ft + (2 * i + 1) * ps)?;
                let next = r.word(ft + 2 * (i + 1) * ps)?;
                let nameoff = r.u32(funcoff.saturating_add(ps))? as u64;
                let args = r.u32(funcoff.saturating_add(ps + 4))? as i32;
                funcs.push(GoFunc {
                    entry,
                    end: next,
                    name: r.c_string(nameoff).unwrap_or_default(),
                    args,
                });
            }
        }
        PclntabLayout::Go116 => {
            funcname_offset = r.offset(8 + 2 * ps)?;
            let pcln = r.offset(8 + 6 * ps)?;
            text_start = r.word(pcln)?;
            for i in 0..nfunc {
                let entry = r.word(pcln + 2 * i * ps)?;
                let funcoff = r.word(pcln + (2 * i + 1) * ps)?;
                let next = r.word(pcln + 2 * (i + 1) * ps)?;
                let f = pcln.saturating_add(funcoff);
                let nameoff = r.u32(f.saturating_add(ps))? as u64;
                let args = r.u32(f.saturating_add(ps + 4))? as i32;
                funcs.push(GoFunc {
                    entry,
                    end: next,
                    name: r
                        .c_string(funcname_offset.saturating_add(nameoff))
                        .unwrap_or_default(),
                    args,
                });
            }
        }
        PclntabLayout::Go118 | PclntabLayout::Go120 => {
            let in_file = r.word(8 + 2 * ps)?;
            text_start = match (in_file, text_start_reloc, text_section) {
                (_, Some(v), _) => v,
                (0, None, Some(t)) => t,
                (v, _, _) => v,
            };
            funcname_offset = r.offset(8 + 3 * ps)?;
            let pcln = r.offset(8 + 7 * ps)?;
            for i in 0..nfunc {
                let entryoff = r.u32(pcln + 8 * i)? as u64;
                let funcoff = r.u32(pcln + 8 * i + 4)? as u64;
                let next = r.u32(pcln + 8 * (i + 1))? as u64;
                let f = pcln.saturating_add(funcoff);
                let nameoff = r.u32(f.saturating_add(4))? as u64;
                let args = r.u32(f.saturating_add(8))? as i32;
                funcs.push(GoFunc {
                    entry: text_start.wrapping_add(entryoff),
                    end: text_start.wrapping_add(next),
                    name: r
                        .c_string(funcname_offset.saturating_add(nameoff))
                        .unwrap_or_default(),
                    args,
                });
            }
        }
    }
    // The table is sorted by entry; a function whose extent is empty or backwards is damage.
    funcs.retain(|f| f.end > f.entry);
    funcs.sort_by_key(|f| f.entry);
    funcs.dedup_by_key(|f| f.entry);
    for i in 1..funcs.len() {
        if funcs[i - 1].end > funcs[i].entry {
            let e = funcs[i].entry;
            funcs[i - 1].end = e;
        }
    }
    Ok(Pclntab {
        layout,
        ptr_size: ptr,
        text_start,
        funcs,
        funcname_offset,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The NUL-terminated function names one after the other, and where each starts.
    fn name_table<'n>(names: impl Iterator<Item = &'n str>) -> (Vec<u8>, Vec<u32>) {
        let (mut blob, mut offs) = (Vec::new(), Vec::new());
        for n in names {
            offs.push(blob.len() as u32);
            blob.extend_from_slice(n.as_bytes());
            blob.push(0);
        }
        (blob, offs)
    }

    /// A Go 1.18/1.20 table with the given functions: (entry offset, name, args), end offset.
    pub(crate) fn table_118(
        magic: u32,
        text: u64,
        funcs: &[(u32, &str, i32)],
        end: u32,
    ) -> Vec<u8> {
        let (names, nameoffs) = name_table(funcs.iter().map(|f| f.1));
        let header_len = 8 + 8 * 8;
        let funcname_off = header_len as u64;
        let pcln_off = funcname_off + names.len() as u64;
        let functab_len = 8 * funcs.len() as u64 + 4;
        let mut b = magic.to_le_bytes().to_vec();
        b.extend_from_slice(&[0, 0, 1, 8]);
        for w in [funcs.len() as u64, 1, text, funcname_off, 0, 0, 0, pcln_off] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&names);
        let mut fstructs = Vec::new();
        for (i, (e, _, args)) in funcs.iter().enumerate() {
            b.extend_from_slice(&e.to_le_bytes());
            let off = functab_len + fstructs.len() as u64;
            b.extend_from_slice(&(off as u32).to_le_bytes());
            fstructs.extend_from_slice(&e.to_le_bytes());
            fstructs.extend_from_slice(&nameoffs[i].to_le_bytes());
            fstructs.extend_from_slice(&args.to_le_bytes());
            fstructs.extend_from_slice(&[0u8; 32]);
        }
        b.extend_from_slice(&end.to_le_bytes());
        b.extend_from_slice(&fstructs);
        b
    }

    /// A Go 1.16 table (absolute entries).
    fn table_116(funcs: &[(u64, &str, i32)], end: u64) -> Vec<u8> {
        let (names, nameoffs) = name_table(funcs.iter().map(|f| f.1));
        let header_len = 8 + 7 * 8;
        let funcname_off = header_len as u64;
        let pcln_off = funcname_off + names.len() as u64;
        let functab_len = 16 * funcs.len() as u64 + 8;
        let mut b = 0xffff_fffau32.to_le_bytes().to_vec();
        b.extend_from_slice(&[0, 0, 1, 8]);
        for w in [funcs.len() as u64, 1, funcname_off, 0, 0, 0, pcln_off] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&names);
        let mut fstructs = Vec::new();
        for (i, (e, _, args)) in funcs.iter().enumerate() {
            b.extend_from_slice(&e.to_le_bytes());
            b.extend_from_slice(&(functab_len + fstructs.len() as u64).to_le_bytes());
            fstructs.extend_from_slice(&e.to_le_bytes());
            fstructs.extend_from_slice(&nameoffs[i].to_le_bytes());
            fstructs.extend_from_slice(&args.to_le_bytes());
            fstructs.extend_from_slice(&[0u8; 32]);
        }
        b.extend_from_slice(&end.to_le_bytes());
        b.extend_from_slice(&fstructs);
        b
    }

    /// A Go 1.2 table: names relative to the table start.
    fn table_12(funcs: &[(u64, &str, i32)], end: u64) -> Vec<u8> {
        let functab = 16 + 16 * funcs.len() + 8;
        let mut fstructs = Vec::new();
        let mut names = Vec::new();
        let structs_at = functab;
        let names_at = structs_at + funcs.len() * 24;
        let mut b = 0xffff_fffbu32.to_le_bytes().to_vec();
        b.extend_from_slice(&[0, 0, 1, 8]);
        b.extend_from_slice(&(funcs.len() as u64).to_le_bytes());
        for (e, n, args) in funcs {
            b.extend_from_slice(&e.to_le_bytes());
            b.extend_from_slice(&((structs_at + fstructs.len()) as u64).to_le_bytes());
            fstructs.extend_from_slice(&e.to_le_bytes());
            fstructs.extend_from_slice(&((names_at + names.len()) as u32).to_le_bytes());
            fstructs.extend_from_slice(&args.to_le_bytes());
            fstructs.extend_from_slice(&[0u8; 8]);
            names.extend_from_slice(n.as_bytes());
            names.push(0);
        }
        b.extend_from_slice(&end.to_le_bytes());
        b.extend_from_slice(&fstructs);
        b.extend_from_slice(&names);
        b
    }

    #[test]
    fn parses_each_layout() {
        let f = [(0u32, "main.main", 0), (0x40, "syscall.Syscall", 32)];
        for magic in [0xffff_fff0u32, 0xffff_fff1] {
            let t = parse(&table_118(magic, 0x401000, &f, 0x80), true, None, None).unwrap();
            assert_eq!(t.text_start, 0x401000);
            assert_eq!(
                t.funcs,
                vec![
                    GoFunc {
                        entry: 0x401000,
                        end: 0x401040,
                        name: "main.main".into(),
                        args: 0
                    },
                    GoFunc {
                        entry: 0x401040,
                        end: 0x401080,
                        name: "syscall.Syscall".into(),
                        args: 32
                    }
                ]
            );
        }
        // PIE: the relocated textStart wins over the file's word.
        let t = parse(
            &table_118(0xffff_fff1, 0, &f, 0x80),
            true,
            Some(0x2000),
            None,
        )
        .unwrap();
        assert_eq!(t.funcs[1].entry, 0x2040);
        let abs = [
            (0x401000u64, "a.f", 8),
            (0x401020, "a.g", ARGS_SIZE_UNKNOWN),
        ];
        for t in [table_116(&abs, 0x401060), table_12(&abs, 0x401060)] {
            let t = parse(&t, true, None, None).unwrap();
            assert_eq!(t.funcs.len(), 2);
            assert_eq!(t.funcs[0].name, "a.f");
            assert_eq!(t.funcs[1].end, 0x401060);
            assert_eq!(t.funcs[1].args, ARGS_SIZE_UNKNOWN);
        }
    }

    #[test]
    fn malformed_tables_never_panic() {
        let f = [(0u32, "main.main", 0), (0x40, "syscall.Syscall", 32)];
        let abs = [(0x401000u64, "a.f", 8), (0x401020, "a.g", 16)];
        let good = [
            table_118(0xffff_fff1, 0x401000, &f, 0x80),
            table_116(&abs, 0x401060),
            table_12(&abs, 0x401060),
        ];
        for g in &good {
            for n in 0..g.len() {
                let _ = parse(&g[..n], true, None, None);
            }
            for i in 0..g.len() {
                for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                    let mut b = g.clone();
                    b[i] = v;
                    if let Ok(t) = parse(&b, true, None, None) {
                        // Whatever survives is sorted and non-overlapping.
                        for w in t.funcs.windows(2) {
                            assert!(w[0].entry < w[1].entry && w[0].end <= w[1].entry);
                        }
                    }
                }
            }
        }
        // A huge function count is refused up front.
        let mut b = good[0].clone();
        b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse(&b, true, None, None).is_err());
        assert!(parse(b"\xf1\xff\xff\xff\x00\x00\x01\x08", true, None, None).is_err());
        assert!(parse(b"", true, None, None).is_err());
    }
}
