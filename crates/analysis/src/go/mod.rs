//! Go binaries: what the generic analysis needs to know of them, from the runtime's own
//! metadata (which stripping never removes).
//!
//! - **Functions**: every function of the function table ([`pclntab`]), with its extent and
//!   name; they follow Go's conventions ([`crate::FnAbi::Go`]: ABIInternal passes integers in
//!   AX, BX, CX, DI, SI, R8–R11, ABI0 on the stack above the return address; nothing survives a
//!   call but the stack pointer). C functions of cgo binaries are not in the table and stay
//!   System V.
//! - **Argument areas**: each function's `args` size says how much of its caller's frame a
//!   call may write (arguments, results, register spill slots); the caller's other slots (its
//!   locals, spills around calls) survive the call.
//! - **Method tables** ([`types`]): methods reachable through interfaces and reflection are named
//!   by 32-bit offsets from the start of the text in the type descriptors, not by pointers; the
//!   type walk turns them into references of the data region of their type, so a method is a
//!   possible indirect target exactly when its type's descriptor is live.
//! - **Jump tables**: absolute code addresses inside a Go function stored in read-only data are
//!   the targets of its own `switch` jump tables, never function pointers (Go takes the address
//!   of functions only): they do not make the function an indirect-call target.

pub mod pclntab;
pub mod types;

use dockergate_elf::go::PclntabLayout;
use dockergate_elf::{ElfObject, RelocKind};

pub use pclntab::{GoFunc, ARGS_SIZE_UNKNOWN};

/// The runtime's `moduledata` fields the analysis uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleData {
    pub addr: u64,
    /// `text`: the base of method-table offsets (`textOff`).
    pub text: u64,
    /// `[types, etypes)`: type descriptors and names; the base of `typeOff` and `nameOff`.
    pub types: u64,
    pub etypes: u64,
    /// `itablinks`: the pointers to every static itab, `[start, end)`.
    pub itablinks: Option<(u64, u64)>,
}

/// What the analysis knows of a Go binary.
#[derive(Clone, Debug)]
pub struct GoObject {
    pub layout: PclntabLayout,
    /// Sorted by entry, non-overlapping.
    pub funcs: Vec<GoFunc>,
    pub moduledata: Option<ModuleData>,
    /// The toolchain version, when the build info names it (`go1.21.5`).
    pub version: Option<String>,
}

impl GoObject {
    /// Reads the Go metadata of an object; `None` when it is not a Go binary. Problems that make
    /// a part unusable are reported in `warnings` (the analysis then falls back to its generic
    /// rules for that part).
    pub fn from_elf(elf: &ElfObject, data: &[u8], warnings: &mut Vec<String>) -> Option<Self> {
        let info = elf.go.as_ref()?;
        let loc = info.pclntab?;
        let bytes = usize::try_from(loc.offset)
            .ok()
            .and_then(|o| data.get(o..o.checked_add(usize::try_from(loc.size).ok()?)?))?;
        let reloc_word = |addr: u64| -> Option<u64> {
            elf.relocs
                .binary_search_by_key(&addr, |r| r.offset)
                .ok()
                .map(|i| &elf.relocs[i])
                .filter(|r| matches!(r.kind, RelocKind::Relative) || r.sym == 0)
                .map(|r| r.addend as u64)
        };
        let text_start_slot = loc.addr + 8 + 2 * loc.ptr_size as u64;
        let table = match pclntab::parse(
            bytes,
            elf.little_endian,
            reloc_word(text_start_slot),
            elf.section(".text").map(|s| s.addr),
        ) {
            Ok(t) => t,
            Err(e) => {
                warnings.push(format!("Go function table unreadable ({e}): analysed as C"));
                return None;
            }
        };
        let mut funcs = table.funcs;
        // Only functions whose code is in the file count.
        funcs.retain(|f| elf.is_code_address(f.entry));
        let moduledata = find_moduledata(elf, data, loc.addr, table.layout, loc.ptr_size);
        if moduledata.is_none() {
            warnings.push(
                "Go moduledata not found: method tables not read, every Go function is a possible indirect-call target"
                    .into(),
            );
        }
        Some(GoObject {
            layout: table.layout,
            funcs,
            moduledata,
            version: info.version.clone(),
        })
    }

    /// The function whose entry is `addr`.
    pub fn func_at_entry(&self, addr: u64) -> Option<&GoFunc> {
        self.funcs
            .binary_search_by_key(&addr, |f| f.entry)
            .ok()
            .map(|i| &self.funcs[i])
    }

    /// The function whose extent holds `addr`.
    pub fn func_containing(&self, addr: u64) -> Option<&GoFunc> {
        let i = self.funcs.partition_point(|f| f.entry <= addr);
        (i > 0 && addr < self.funcs[i - 1].end).then(|| &self.funcs[i - 1])
    }

    /// An address inside a Go function other than its entry: a jump-table target.
    pub fn is_interior(&self, addr: u64) -> bool {
        self.func_containing(addr).is_some_and(|f| f.entry != addr)
    }

    /// A slot of `itablinks`, the list of every static itab the runtime enters into its itab
    /// table at start-up. Those pointers make no itab live: the table hands an itab out only for
    /// a type descriptor code already has, and that type's method table names the same methods.
    pub fn in_itablinks(&self, slot: u64) -> bool {
        self.moduledata
            .and_then(|m| m.itablinks)
            .is_some_and(|(s, e)| slot >= s && slot < e)
    }

    /// Entry → declared argument-area size, for the data flow of calls.
    pub fn args_by_entry(&self) -> foldhash::HashMap<u64, i32> {
        self.funcs.iter().map(|f| (f.entry, f.args)).collect()
    }
}

/// Finds `runtime.firstmoduledata`: the word in data that points to the function table, whose
/// fields check out (text inside code, types before etypes inside the file).
fn find_moduledata(
    elf: &ElfObject,
    data: &[u8],
    pclntab: u64,
    layout: PclntabLayout,
    ptr_size: u8,
) -> Option<ModuleData> {
    if ptr_size != 8 {
        return None;
    }
    let word = |addr: u64| -> Option<u64> {
        match elf.relocs.binary_search_by_key(&addr, |r| r.offset) {
            Ok(i) if elf.relocs[i].sym == 0 => Some(elf.relocs[i].addend as u64),
            _ => elf.u64_at(data, addr),
        }
    };
    // Field indexes (in words): text, types (etypes follows), itablinks (a slice).
    let (text_i, types_i, itablinks_i) = match layout {
        PclntabLayout::Go12 => (12, 25, 33),
        PclntabLayout::Go116 => (22, 35, 43),
        PclntabLayout::Go118 => (22, 35, 45),
        PclntabLayout::Go120 => (22, 37, 47),
    };
    let check = |addr: u64| -> Option<ModuleData> {
        let text = word(addr + 8 * text_i)?;
        let types = word(addr + 8 * types_i)?;
        let etypes = word(addr + 8 * (types_i + 1))?;
        (elf.is_code_address(text)
            && types < etypes
            && elf.vaddr_to_offset(types).is_some()
            && elf.vaddr_to_offset(etypes - 1).is_some())
        .then_some(ModuleData {
            addr,
            text,
            types,
            etypes,
            itablinks: None,
        })
        .map(|mut m| {
            // A slice whose length is its capacity, inside the file's read-only data.
            let (p, n, c) = (
                word(addr + 8 * itablinks_i),
                word(addr + 8 * (itablinks_i + 1)),
                word(addr + 8 * (itablinks_i + 2)),
            );
            if let (Some(p), Some(n), Some(c)) = (p, n, c) {
                let end = n.checked_mul(8).and_then(|b| p.checked_add(b));
                if let Some(end) = end.filter(|_| n == c && n > 0) {
                    if elf.vaddr_to_offset(p).is_some() && elf.vaddr_to_offset(end - 1).is_some() {
                        m.itablinks = Some((p, end));
                    }
                }
            }
            m
        })
    };
    // Relocated pointers (PIE) first, then the words of the writable data.
    for r in &elf.relocs {
        if r.sym == 0 && r.addend as u64 == pclntab {
            if let Some(m) = check(r.offset) {
                return Some(m);
            }
        }
    }
    let writable: Vec<(u64, u64)> = if elf.sections.is_empty() {
        elf.segments
            .iter()
            .filter(|s| s.writable && s.filesz > 0)
            .map(|s| (s.vaddr, s.vaddr + s.filesz))
            .collect()
    } else {
        elf.sections
            .iter()
            .filter(|s| s.alloc && s.writable && !s.nobits && !s.tls)
            .map(|s| (s.addr, s.addr + s.size))
            .collect()
    };
    let needle = if elf.little_endian {
        pclntab.to_le_bytes()
    } else {
        pclntab.to_be_bytes()
    };
    for (start, end) in writable {
        let (Some(off), true) = (elf.vaddr_to_offset(start), end > start) else {
            continue;
        };
        let len = (end - start) as usize;
        let Some(bytes) = usize::try_from(off)
            .ok()
            .and_then(|o| data.get(o..o.checked_add(len)?))
        else {
            continue;
        };
        let skew = ((8 - (start % 8)) % 8) as usize;
        let mut k = skew;
        while k + 8 <= bytes.len() {
            if bytes[k..k + 8] == needle {
                if let Some(m) = check(start + k as u64) {
                    return Some(m);
                }
            }
            k += 8;
        }
    }
    None
}
