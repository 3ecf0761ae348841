//! Go type descriptors (`abi.Type`, formerly `runtime._type`): the references they make by
//! 32-bit offset rather than by pointer, which the generic pointer scan cannot see.
//!
//! - Method tables (`uncommontype` + `[]method`): `ifn`/`tfn` are offsets from the start of the
//!   text (`textOff`). The runtime fills interface tables from them when a type assertion or
//!   conversion builds an itab at run time, and `reflect` calls methods through them.
//! - `ptrToThis`, a method's `mtyp` and an interface method's `ityp` are offsets from the start of
//!   the type data (`typeOff`): `reflect.PointerTo`, `reflect.New` and method values reach those
//!   types (and so their methods) from this one.
//!
//! The walk starts from the addresses something already refers to (code, pointers in data) that
//! decode as a valid type descriptor, and follows the type offsets. It returns `(slot, target)`
//! pairs that the summary treats like pointers stored in data: a method becomes a possible
//! indirect-call target when its type's data region is live. Layouts are those of Go 1.7 to
//! 1.24 on 64-bit targets (the descriptor header has not changed since Go 1.7; maps changed size
//! in Go 1.24); anything that does not check out is skipped.

use std::collections::BTreeSet;

use dockergate_elf::ElfObject;

use super::GoObject;

const HEADER: u64 = 48;
/// Bounds on counts read from the file.
const MAX_METHODS: u64 = 1 << 14;

const KIND_ARRAY: u8 = 17;
const KIND_CHAN: u8 = 18;
const KIND_FUNC: u8 = 19;
const KIND_INTERFACE: u8 = 20;
const KIND_MAP: u8 = 21;
const KIND_PTR: u8 = 22;
const KIND_SLICE: u8 = 23;
const KIND_STRUCT: u8 = 25;

struct Mem<'a> {
    elf: &'a ElfObject,
    data: &'a [u8],
}

impl Mem<'_> {
    fn bytes(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let off = usize::try_from(self.elf.vaddr_to_offset(addr)?).ok()?;
        let end = off.checked_add(usize::try_from(len).ok()?)?;
        // The whole range must be backed by the same segment's file bytes.
        self.elf
            .vaddr_to_offset(addr.checked_add(len.checked_sub(1)?)?)?;
        self.data.get(off..end)
    }
    fn u8(&self, addr: u64) -> Option<u8> {
        self.bytes(addr, 1).map(|b| b[0])
    }
    fn u16(&self, addr: u64) -> Option<u16> {
        self.bytes(addr, 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn i32(&self, addr: u64) -> Option<i32> {
        self.bytes(addr, 4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&self, addr: u64) -> Option<u64> {
        match self.elf.relocs.binary_search_by_key(&addr, |r| r.offset) {
            Ok(i) if self.elf.relocs[i].sym == 0 => Some(self.elf.relocs[i].addend as u64),
            _ => self.elf.u64_at(self.data, addr),
        }
    }
}

/// The offset-based references of the type descriptors reachable from `candidates`.
pub fn type_refs(
    go: &GoObject,
    elf: &ElfObject,
    data: &[u8],
    candidates: impl IntoIterator<Item = u64>,
) -> Vec<(u64, u64)> {
    let Some(md) = go.moduledata else {
        return Vec::new();
    };
    if !elf.little_endian || elf.class != 64 {
        return Vec::new();
    }
    let mem = Mem { elf, data };
    let span = md.etypes - md.types;
    let in_types = |a: u64| a >= md.types && a < md.etypes;
    let type_off =
        |v: i32| -> Option<u64> { (v > 0 && (v as u64) < span).then(|| md.types + v as u64) };
    let method_fn = |v: i32| -> Option<Option<u64>> {
        if v == -1 {
            return Some(None);
        }
        let a = md.text.checked_add(u64::try_from(v).ok()?)?;
        go.func_at_entry(a).map(|_| Some(a))
    };
    let minor = go
        .version
        .as_deref()
        .and_then(|v| v.strip_prefix("go1."))
        .and_then(|v| {
            v.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u32>()
                .ok()
        });
    // The size of each kind's descriptor, after which the uncommon part follows.
    let kind_sizes = |kind: u8| -> Vec<u64> {
        match kind {
            KIND_ARRAY => vec![72],
            KIND_CHAN => vec![64],
            KIND_FUNC | KIND_PTR | KIND_SLICE => vec![56],
            KIND_INTERFACE | KIND_STRUCT => vec![80],
            // Go 1.24 replaced the map descriptor (swiss tables); unknown versions try both.
            KIND_MAP => match minor {
                Some(m) if m >= 24 => vec![112, 88],
                Some(_) => vec![88],
                None => vec![88, 112],
            },
            _ => vec![HEADER],
        }
    };
    let valid_header = |t: u64| -> Option<(u8, u8, i32)> {
        if t % 8 != 0 || !in_types(t) || t + HEADER > md.etypes {
            return None;
        }
        let size = mem.u64(t)?;
        let ptrdata = mem.u64(t + 8)?;
        let tflag = mem.u8(t + 20)?;
        let align = mem.u8(t + 21)?;
        let field_align = mem.u8(t + 22)?;
        let kind = mem.u8(t + 23)? & 0x1f;
        let name = mem.i32(t + 40)?;
        let ptr_to_this = mem.i32(t + 44)?;
        let ok = ptrdata <= size
            && tflag < 0x20
            && align.is_power_of_two()
            && align <= 64
            && field_align.is_power_of_two()
            && field_align <= 64
            && (1..=26).contains(&kind)
            && name > 0
            && (name as u64) < span
            && ptr_to_this >= 0
            && (ptr_to_this as u64) < span;
        ok.then_some((kind, tflag, ptr_to_this))
    };
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut seen: foldhash::HashSet<u64> = Default::default();
    let mut work: BTreeSet<u64> = candidates.into_iter().filter(|a| in_types(*a)).collect();
    let follow = |slot: u64, v: i32, out: &mut Vec<(u64, u64)>, work: &mut BTreeSet<u64>| {
        if let Some(target) = type_off(v) {
            if valid_header(target).is_some() {
                out.push((slot, target));
                work.insert(target);
            }
        }
    };
    while let Some(t) = work.pop_first() {
        if !seen.insert(t) {
            continue;
        }
        let Some((kind, tflag, ptr_to_this)) = valid_header(t) else {
            continue;
        };
        follow(t + 44, ptr_to_this, &mut out, &mut work);
        if kind == KIND_INTERFACE {
            // imethods: {name nameOff, ityp typeOff}, through the methods slice.
            if let (Some(p), Some(n)) = (mem.u64(t + 56), mem.u64(t + 64)) {
                if in_types(p) && n <= MAX_METHODS {
                    for i in 0..n {
                        if let Some(ityp) = mem.i32(p + 8 * i + 4) {
                            follow(p + 8 * i + 4, ityp, &mut out, &mut work);
                        }
                    }
                }
            }
        }
        if tflag & 1 == 0 {
            continue;
        }
        // The uncommon part: {pkgpath nameOff, mcount u16, xcount u16, moff u32, _ u32}.
        for size in kind_sizes(kind) {
            let u = t + size;
            let (Some(pkg), Some(mcount), Some(xcount), Some(moff)) = (
                mem.i32(u),
                mem.u16(u + 4),
                mem.u16(u + 6),
                mem.i32(u + 8).map(|v| v as u32 as u64),
            ) else {
                continue;
            };
            let methods = u + moff;
            let header_ok = pkg >= 0
                && (pkg as u64) < span
                && xcount <= mcount
                && moff >= 16
                && moff % 4 == 0
                && methods + 16 * mcount as u64 <= md.etypes;
            if !header_ok {
                continue;
            }
            let mut found = Vec::new();
            let mut ok = true;
            for i in 0..mcount as u64 {
                let m = methods + 16 * i;
                let (Some(name), Some(mtyp), Some(ifn), Some(tfn)) =
                    (mem.i32(m), mem.i32(m + 4), mem.i32(m + 8), mem.i32(m + 12))
                else {
                    ok = false;
                    break;
                };
                let (Some(ifn_a), Some(tfn_a)) = (method_fn(ifn), method_fn(tfn)) else {
                    ok = false;
                    break;
                };
                if name < 0 || name as u64 >= span {
                    ok = false;
                    break;
                }
                found.push((m + 4, mtyp, m + 8, ifn_a, m + 12, tfn_a));
            }
            if !ok {
                continue;
            }
            for (mslot, mtyp, islot, ifn, tslot, tfn) in found {
                follow(mslot, mtyp, &mut out, &mut work);
                if let Some(a) = ifn {
                    out.push((islot, a));
                }
                if let Some(a) = tfn {
                    out.push((tslot, a));
                }
            }
            break;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}
