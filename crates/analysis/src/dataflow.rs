//! The abstract values the per-function data flow tracks, shared by every architecture: each
//! register and stack slot holds a constant, what a caller passed (a [`Loc`] at entry), a
//! stack address, a small set of these, or "unknown" (Top).

use std::rc::Rc;

use crate::summary::{Atom, Atoms, Loc, ValueSet};

/// Joins of more alternatives than this give up (become Top).
pub const MAX_ATOMS: usize = 24;

/// An abstract value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    /// Unknown.
    Top,
    Const(u64),
    Param(Loc),
    /// `frame base + off`: a stack address. Base 0 is the stack pointer at entry; other bases
    /// are anonymous (after `and rsp, -16`, `alloca`…), valid only within the function.
    Sp {
        base: u32,
        off: i64,
    },
    /// A set of constants and parameters (sorted, no duplicates, at least two).
    Multi(Rc<[Atom]>),
}

impl Val {
    /// The constants and parameters the value stands for (None for Top and stack addresses).
    pub fn atoms(&self) -> Option<Atoms> {
        match self {
            Val::Const(c) => Some(smallvec::smallvec![Atom::Const(*c)]),
            Val::Param(l) => Some(smallvec::smallvec![Atom::Param(*l)]),
            Val::Multi(a) => Some(Atoms::from_slice(a)),
            _ => None,
        }
    }

    /// Whether the value is a constant, a parameter or a set of them (what [`Val::atoms`]
    /// would give), without building the set.
    pub fn has_atoms(&self) -> bool {
        matches!(self, Val::Const(_) | Val::Param(_) | Val::Multi(_))
    }

    /// Whether every alternative of `self` is one of the set `set` stands for (only a set of
    /// several holds another value's alternatives without being equal to it).
    fn within(&self, set: &Val) -> bool {
        let Val::Multi(set) = set else {
            return false;
        };
        match self {
            Val::Const(c) => set.binary_search(&Atom::Const(*c)).is_ok(),
            Val::Param(l) => set.binary_search(&Atom::Param(*l)).is_ok(),
            Val::Multi(mine) => {
                // Both sorted: walk them together.
                let mut rest = set.iter();
                mine.iter().all(|a| rest.any(|b| b == a))
            }
            _ => false,
        }
    }

    fn from_atoms(mut atoms: Vec<Atom>) -> Val {
        atoms.sort_unstable();
        atoms.dedup();
        match atoms.len() {
            0 => Val::Top,
            1 => match atoms[0] {
                Atom::Const(c) => Val::Const(c),
                Atom::Param(l) => Val::Param(l),
            },
            n if n > MAX_ATOMS => Val::Top,
            _ => Val::Multi(atoms.into()),
        }
    }

    /// Least upper bound.
    pub fn join(&self, other: &Val) -> Val {
        if self == other {
            return self.clone();
        }
        // One side already holds every alternative of the other (a loop adding nothing new):
        // the union is that side, shared rather than built again.
        if other.within(self) {
            return self.clone();
        }
        if self.within(other) {
            return other.clone();
        }
        match (self.atoms(), other.atoms()) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Val::from_atoms(a.into_vec())
            }
            _ => Val::Top,
        }
    }

    /// The value as a summary set (Top and stack addresses are unknown).
    pub fn to_set(&self) -> ValueSet {
        match self.atoms() {
            Some(atoms) => ValueSet {
                atoms,
                unknown: false,
            },
            None => ValueSet::unknown(),
        }
    }

    /// Applies `f` to every constant; parameters make the result unknown.
    pub fn map_const(&self, f: impl Fn(u64) -> u64) -> Val {
        match self {
            Val::Const(c) => Val::Const(f(*c)),
            Val::Multi(atoms) => {
                let mut out = Vec::with_capacity(atoms.len());
                for a in atoms.iter() {
                    match a {
                        Atom::Const(c) => out.push(Atom::Const(f(*c))),
                        Atom::Param(_) => return Val::Top,
                    }
                }
                Val::from_atoms(out)
            }
            _ => Val::Top,
        }
    }

    /// Truncates constants to the low `bytes` bytes (parameters are kept: a narrower read of a
    /// caller's value is still that value for the small numbers syscalls use).
    pub fn truncate(&self, bytes: u32) -> Val {
        if bytes >= 8 {
            return self.clone();
        }
        let mask = (1u64 << (bytes * 8)) - 1;
        match self {
            Val::Const(c) => Val::Const(c & mask),
            Val::Multi(atoms) => Val::from_atoms(
                atoms
                    .iter()
                    .map(|a| match a {
                        Atom::Const(c) => Atom::Const(c & mask),
                        p => *p,
                    })
                    .collect(),
            ),
            Val::Sp { .. } => Val::Top,
            v => v.clone(),
        }
    }

    /// Sign-extends constants from `bytes` bytes to 64 bits.
    pub fn sign_extend(&self, bytes: u32) -> Val {
        if bytes >= 8 {
            return self.clone();
        }
        let bits = bytes * 8;
        self.truncate(bytes)
            .map_const_keep_params(|c| (((c << (64 - bits)) as i64) >> (64 - bits)) as u64)
    }

    fn map_const_keep_params(&self, f: impl Fn(u64) -> u64) -> Val {
        match self {
            Val::Const(c) => Val::Const(f(*c)),
            Val::Multi(atoms) => Val::from_atoms(
                atoms
                    .iter()
                    .map(|a| match a {
                        Atom::Const(c) => Atom::Const(f(*c)),
                        p => *p,
                    })
                    .collect(),
            ),
            v => v.clone(),
        }
    }

    /// Binary arithmetic on constants (and stack addresses plus/minus constants).
    pub fn arith(&self, other: &Val, op: fn(u64, u64) -> Option<u64>) -> Val {
        match (self, other) {
            (Val::Const(a), Val::Const(b)) => op(*a, *b).map_or(Val::Top, Val::Const),
            (Val::Multi(_), Val::Const(b)) => {
                let b = *b;
                match self.atoms() {
                    Some(atoms) if atoms.iter().all(|a| matches!(a, Atom::Const(_))) => {
                        let mut out = Vec::new();
                        for a in atoms {
                            if let Atom::Const(c) = a {
                                match op(c, b) {
                                    Some(v) => out.push(Atom::Const(v)),
                                    None => return Val::Top,
                                }
                            }
                        }
                        Val::from_atoms(out)
                    }
                    _ => Val::Top,
                }
            }
            _ => Val::Top,
        }
    }
}

/// A stack slot key: frame base, offset, width in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub base: u32,
    pub off: i64,
    pub size: u8,
}

/// Bound on tracked slots per state; past it, untracked slots read as unknown.
const MAX_SLOTS: usize = 48;

/// The abstract machine state at a program point.
#[derive(Debug)]
pub struct State<const N: usize> {
    pub regs: [Val; N],
    /// Written slots, sorted by (base, off). (Only ever removed from outside this module.)
    pub slots: Vec<(Slot, Val)>,
    /// Some slot writes were not tracked: absent slots are unknown, not "as at entry".
    pub slots_lost: bool,
    /// At least the size of the widest slot in `slots`: a slot that overlaps an offset starts
    /// less than this far below it, so reads and writes look no further down. (Slots are at
    /// most 255 bytes wide, most 8: a large function's states hold hundreds of slots.)
    widest: u8,
}

impl<const N: usize> Clone for State<N> {
    fn clone(&self) -> Self {
        State {
            regs: self.regs.clone(),
            slots: self.slots.clone(),
            slots_lost: self.slots_lost,
            widest: self.widest,
        }
    }

    /// Reuses `self`'s slot vector (the data flow copies a block's input into one state per
    /// function, many times).
    fn clone_from(&mut self, other: &Self) {
        self.regs.clone_from(&other.regs);
        self.slots.clone_from(&other.slots);
        self.slots_lost = other.slots_lost;
        self.widest = other.widest;
    }
}

/// States are equal when they hold the same values (`widest` is only a search bound).
impl<const N: usize> PartialEq for State<N> {
    fn eq(&self, other: &Self) -> bool {
        self.regs == other.regs && self.slots == other.slots && self.slots_lost == other.slots_lost
    }
}

impl<const N: usize> Eq for State<N> {}

impl<const N: usize> State<N> {
    /// The state at a function's entry: every register holds what the caller passed, the stack
    /// pointer is the entry frame base.
    pub fn entry(sp_reg: usize) -> Self {
        let mut regs: [Val; N] = std::array::from_fn(|r| Val::Param(Loc::Reg(r as u8)));
        regs[sp_reg] = Val::Sp { base: 0, off: 0 };
        State {
            regs,
            slots: Vec::new(),
            slots_lost: false,
            widest: 0,
        }
    }

    /// A state about which nothing is known (a block reached from unknown places).
    pub fn unknown() -> Self {
        State {
            regs: std::array::from_fn(|_| Val::Top),
            slots: Vec::new(),
            slots_lost: true,
            widest: 0,
        }
    }

    /// The value of a slot that was never written on this path: at base 0 above the return
    /// address it is what the caller passed (`Param(Stack(off))`), else unknown.
    fn implicit(&self, slot: Slot, ret_addr_size: i64) -> Val {
        if self.slots_lost || slot.base != 0 || slot.off < ret_addr_size {
            Val::Top
        } else {
            Val::Param(Loc::Stack(slot.off as i32)).truncate(slot.size as u32)
        }
    }

    pub fn read_slot(&self, slot: Slot, ret_addr_size: i64) -> Val {
        // Slots are sorted by (base, off) and at most `widest` bytes wide: only neighbours can
        // overlap.
        let lo = self
            .slots
            .partition_point(|(s, _)| (s.base, s.off) < self.window_start(slot));
        self.read_slot_from(lo, slot, ret_addr_size)
    }

    /// Where the slots that may overlap `slot` begin: (base, lowest offset).
    fn window_start(&self, slot: Slot) -> (u32, i64) {
        (slot.base, slot.off.saturating_sub(self.widest.into()))
    }

    /// [`State::read_slot`] for a walk over slots in ascending order: `hint` is where the
    /// previous read's window began (or any index at or below this one's), so that finding
    /// the window takes a few steps instead of a binary search.
    fn read_slot_after(&self, hint: &mut usize, slot: Slot, ret_addr_size: i64) -> Val {
        let start = self.window_start(slot);
        let mut lo = (*hint).min(self.slots.len());
        while lo > 0 && (self.slots[lo - 1].0.base, self.slots[lo - 1].0.off) >= start {
            lo -= 1;
        }
        while lo < self.slots.len() && (self.slots[lo].0.base, self.slots[lo].0.off) < start {
            lo += 1;
        }
        *hint = lo;
        self.read_slot_from(lo, slot, ret_addr_size)
    }

    /// [`State::read_slot`] given the start of its window.
    fn read_slot_from(&self, lo: usize, slot: Slot, ret_addr_size: i64) -> Val {
        for (s, v) in &self.slots[lo..] {
            if s.base != slot.base || s.off >= slot.off + slot.size as i64 {
                break;
            }
            if s.off == slot.off {
                return if slot.size <= s.size {
                    v.truncate(slot.size as u32)
                } else {
                    Val::Top
                };
            }
            if overlaps(s, &slot) {
                return Val::Top;
            }
        }
        self.implicit(slot, ret_addr_size)
    }

    pub fn write_slot(&mut self, slot: Slot, v: Val) {
        let start = self.window_start(slot);
        let lo = self.slots.partition_point(|(s, _)| (s.base, s.off) < start);
        let mut hi = lo;
        while hi < self.slots.len() {
            let s = &self.slots[hi].0;
            if s.base != slot.base || s.off >= slot.off + slot.size as i64 {
                break;
            }
            hi += 1;
        }
        // Remove the overlapping slots among the neighbours.
        let mut k = lo;
        while k < hi {
            if overlaps(&self.slots[k].0, &slot) {
                self.slots.remove(k);
                hi -= 1;
            } else {
                k += 1;
            }
        }
        if self.slots.len() >= MAX_SLOTS {
            // Forget the slot farthest from this write (another frame base first): writes come
            // in clusters (outgoing arguments just below the stack pointer, a spill area), and
            // the nearest slots are the ones the next call or load reads.
            self.slots_lost = true;
            let far = self
                .slots
                .iter()
                .enumerate()
                .max_by_key(|(_, (s, _))| {
                    if s.base != slot.base {
                        u64::MAX
                    } else {
                        s.off.abs_diff(slot.off)
                    }
                })
                .map_or(0, |(k, _)| k);
            self.slots.remove(far);
        }
        let pos = self
            .slots
            .partition_point(|(s, _)| (s.base, s.off) < (slot.base, slot.off));
        self.slots.insert(pos, (slot, v));
        self.widest = self.widest.max(slot.size);
    }

    /// Forgets every slot of a frame base (a write through an unknown index into that frame).
    pub fn forget_base(&mut self, base: u32) {
        self.slots.retain(|(s, _)| s.base != base);
        self.slots_lost = true;
    }

    /// Forgets slots of base 0 below `limit` (the callee's frame area after a call).
    pub fn forget_below(&mut self, base: u32, limit: i64) {
        self.slots
            .retain(|(s, _)| !(s.base == base && s.off < limit));
    }

    /// Least upper bound of two states.
    pub fn join(&self, other: &Self, ret_addr_size: i64) -> Self {
        State {
            regs: std::array::from_fn(|i| self.regs[i].join(&other.regs[i])),
            slots: self.join_slots(other, ret_addr_size),
            slots_lost: self.slots_lost || other.slots_lost,
            widest: self.widest.max(other.widest),
        }
    }

    /// The slots of [`State::join`]: the union of the written slots (both sorted), each joined
    /// with the other side's value.
    fn join_slots(&self, other: &Self, ret_addr_size: i64) -> Vec<(Slot, Val)> {
        let mut slots: Vec<(Slot, Val)> =
            Vec::with_capacity(self.slots.len().max(other.slots.len()));
        let (mut i, mut j) = (0, 0);
        // Reads of slots one side lacks walk both sides in order, as the merge does.
        let (mut hint_self, mut hint_other) = (0, 0);
        while i < self.slots.len() || j < other.slots.len() {
            let k = match (self.slots.get(i), other.slots.get(j)) {
                (Some(a), Some(b)) if (a.0.base, a.0.off) == (b.0.base, b.0.off) => {
                    i += 1;
                    j += 1;
                    if a.0.size == b.0.size {
                        slots.push((a.0, a.1.join(&b.1)));
                    } else {
                        slots.push((
                            Slot {
                                size: a.0.size.max(b.0.size),
                                ..a.0
                            },
                            Val::Top,
                        ));
                    }
                    continue;
                }
                (Some(a), Some(b)) if (a.0.base, a.0.off) < (b.0.base, b.0.off) => {
                    i += 1;
                    a.0
                }
                (Some(_), Some(b)) => {
                    j += 1;
                    b.0
                }
                (Some(a), None) => {
                    i += 1;
                    a.0
                }
                (None, Some(b)) => {
                    j += 1;
                    b.0
                }
                (None, None) => break,
            };
            let v = self
                .read_slot_after(&mut hint_self, k, ret_addr_size)
                .join(&other.read_slot_after(&mut hint_other, k, ret_addr_size));
            slots.push((k, v));
        }
        slots
    }

    /// Joins `other` into `self`, but every register or slot the join would change becomes
    /// unknown at once (widening: loops that count converge); true when `self` changed.
    pub fn widen_in(&mut self, other: &Self, ret_addr_size: i64) -> bool {
        let j = self.join(other, ret_addr_size);
        if j == *self {
            return false;
        }
        let mut w = j;
        for (r, v) in w.regs.iter_mut().enumerate() {
            if *v != self.regs[r] {
                *v = Val::Top;
            }
        }
        let mut hint = 0;
        for (slot, v) in w.slots.iter_mut() {
            if *v != self.read_slot_after(&mut hint, *slot, ret_addr_size) {
                *v = Val::Top;
            }
        }
        *self = w;
        true
    }

    /// Joins `other` into `self`; true when `self` changed. (What `*self = self.join(other)`
    /// gives, changing in place only what the join changes: at a loop's head most of the
    /// state, often all of it, is already what it joins to.)
    pub fn join_in(&mut self, other: &Self, ret_addr_size: i64) -> bool {
        // The slots first: reading a slot one side lacks depends on `slots_lost` before the join.
        let slots = (self.slots != other.slots).then(|| self.join_slots(other, ret_addr_size));
        let mut changed = false;
        if let Some(slots) = slots {
            if slots != self.slots {
                self.slots = slots;
                changed = true;
            }
        }
        for (mine, theirs) in self.regs.iter_mut().zip(&other.regs) {
            if mine != theirs {
                let j = mine.join(theirs);
                if j != *mine {
                    *mine = j;
                    changed = true;
                }
            }
        }
        if other.slots_lost && !self.slots_lost {
            self.slots_lost = true;
            changed = true;
        }
        if changed {
            self.widest = self.widest.max(other.widest);
        }
        changed
    }
}

fn overlaps(a: &Slot, b: &Slot) -> bool {
    a.off < b.off + b.size as i64 && b.off < a.off + a.size as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator: `next(n)` is a number below `n`.
    fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        }
    }

    /// What a read finds with no bound but the widest a slot can be: the same scan from 255
    /// bytes below (the width of `u8`), as reads looked before they knew the widest slot.
    fn reference_read(st: &State<16>, slot: Slot) -> Val {
        let lo = st
            .slots
            .partition_point(|(s, _)| (s.base, s.off) < (slot.base, slot.off - 255));
        st.read_slot_from(lo, slot, 8)
    }

    #[test]
    fn a_join_is_the_union_of_the_alternatives() {
        // Val::join shares a side that already holds the other's alternatives: the result must
        // be the union built from scratch, on values that are often subsets of each other.
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let val = |next: &mut dyn FnMut(u64) -> u64| -> Val {
            match next(6) {
                0 => Val::Top,
                1 => Val::Sp { base: 0, off: 8 },
                2 => Val::Const(next(5)),
                3 => Val::Param(Loc::Reg(next(3) as u8)),
                _ => Val::from_atoms(
                    (0..next(6))
                        .map(|_| {
                            if next(3) == 0 {
                                Atom::Param(Loc::Reg(next(3) as u8))
                            } else {
                                Atom::Const(next(5))
                            }
                        })
                        .collect(),
                ),
            }
        };
        for _ in 0..5000 {
            let (a, b) = (val(&mut next), val(&mut next));
            let want = match (a.atoms(), b.atoms()) {
                (Some(x), Some(y)) => Val::from_atoms(x.into_iter().chain(y).collect()),
                _ if a == b => a.clone(),
                _ => Val::Top,
            };
            assert_eq!(a.join(&b), want, "{a:?} {b:?}");
            assert_eq!(b.join(&a), want, "{b:?} {a:?}");
        }
    }

    #[test]
    fn joining_in_place_gives_the_join() {
        // join_in must leave exactly `join`'s state, and say whether it changed, on states that
        // share some registers and slots and differ in others (loop heads: mostly the same).
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let mut changed = 0;
        for round in 0..400 {
            let mut a: State<16> = if round % 5 == 0 {
                State::unknown()
            } else {
                State::entry(4)
            };
            for _ in 0..next(12) {
                let size = [1u8, 4, 8, 8, 16][next(5) as usize];
                let slot = Slot {
                    base: next(2) as u32,
                    off: next(64) as i64 - 32,
                    size,
                };
                a.write_slot(slot, Val::Const(next(4)));
            }
            let mut b = a.clone();
            for _ in 0..next(4) {
                let r = next(16) as usize;
                b.regs[r] = match next(4) {
                    0 => Val::Top,
                    1 => Val::Const(next(3)),
                    2 => Val::from_atoms(vec![Atom::Const(next(3)), Atom::Const(7)]),
                    _ => a.regs[r].clone(),
                };
            }
            for _ in 0..next(3) {
                let slot = Slot {
                    base: next(2) as u32,
                    off: next(64) as i64 - 32,
                    size: [4u8, 8][next(2) as usize],
                };
                b.write_slot(slot, Val::Const(next(4)));
            }
            if next(7) == 0 {
                b.slots_lost = true;
            }
            for (x, y) in [(&a, &b), (&b, &a), (&a, &a)] {
                let want = x.join(y, 8);
                let mut got = x.clone();
                let did = got.join_in(y, 8);
                assert_eq!(got, want);
                assert_eq!(did, want != *x);
                changed += usize::from(did);
            }
        }
        assert!(changed > 100, "{changed}");
    }

    #[test]
    fn walking_reads_agree_with_searching_reads() {
        // read_slot_after (used by join and widening) must read exactly what read_slot reads,
        // on states with slots of many widths, overlapping ones made by joins included.
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..200 {
            let mut states: Vec<State<16>> = Vec::new();
            for _ in 0..2 {
                let mut st: State<16> = State::entry(4);
                for _ in 0..next(60) {
                    let size = [1u8, 2, 4, 8, 8, 8, 16, 32, 255][next(9) as usize];
                    let slot = Slot {
                        base: next(2) as u32,
                        off: next(400) as i64 - 200,
                        size,
                    };
                    st.write_slot(slot, Val::Const(next(5)));
                }
                states.push(st);
            }
            let joined = states[0].join(&states[1], 8);
            for st in states.iter().chain([&joined]) {
                let mut queries: Vec<Slot> = (0..80)
                    .map(|_| Slot {
                        base: next(2) as u32,
                        off: next(500) as i64 - 250,
                        size: [1u8, 4, 8, 16][next(4) as usize],
                    })
                    .collect();
                queries.sort_by_key(|q| (q.base, q.off));
                let mut hint = next(st.slots.len() as u64 + 1) as usize;
                for q in queries {
                    let want = reference_read(st, q);
                    assert_eq!(st.read_slot(q, 8), want, "{q:?}");
                    assert_eq!(st.read_slot_after(&mut hint, q, 8), want, "{q:?}");
                }
            }
        }
    }

    #[test]
    fn join_collects_constants_and_params() {
        let a = Val::Const(39);
        let b = Val::Param(Loc::Reg(7));
        let j = a.join(&b);
        assert_eq!(
            j.to_set().atoms[..],
            [Atom::Const(39), Atom::Param(Loc::Reg(7))]
        );
        assert_eq!(j.join(&Val::Top), Val::Top);
        assert_eq!(Val::Const(1).join(&Val::Const(1)), Val::Const(1));
    }

    #[test]
    fn too_many_alternatives_give_up() {
        let mut v = Val::Const(0);
        for i in 1..=MAX_ATOMS as u64 {
            v = v.join(&Val::Const(i));
        }
        assert_eq!(v, Val::Top);
    }

    #[test]
    fn a_full_frame_keeps_the_outgoing_arguments_just_written() {
        // Go's forkAndExecInChild1 (a large frame of spills) then `movq $0x6e,(%rsp)`,
        // `movups %xmm15,0x8(%rsp)`, `movq $0,0x18(%rsp)`, `call rawSyscallNoError`: the
        // syscall number at (%rsp) must survive the two writes after it.
        let mut s: State<16> = State::entry(4);
        let at = |off: i64, size: u8| Slot { base: 0, off, size };
        for k in 0..MAX_SLOTS as i64 {
            s.write_slot(at(-0x100 + 8 * k, 8), Val::Const(k as u64));
        }
        let rsp = -0x400;
        s.write_slot(at(rsp, 8), Val::Const(0x6e));
        s.write_slot(at(rsp + 8, 16), Val::Const(0));
        s.write_slot(at(rsp + 0x18, 8), Val::Const(0));
        assert_eq!(s.read_slot(at(rsp, 8), 8), Val::Const(0x6e));
        assert_eq!(s.read_slot(at(rsp + 0x18, 8), 8), Val::Const(0));
        assert!(s.slots.len() <= MAX_SLOTS);
        // What was forgotten reads as unknown, never as the value at entry.
        assert_eq!(
            s.read_slot(at(-0x100 + 8 * (MAX_SLOTS as i64 - 1), 8), 8),
            Val::Top
        );
    }

    #[test]
    fn slots_read_back_and_fall_back_to_entry_values() {
        let mut s: State<16> = State::entry(4);
        let slot = Slot {
            base: 0,
            off: 8,
            size: 8,
        };
        assert_eq!(s.read_slot(slot, 8), Val::Param(Loc::Stack(8)));
        assert_eq!(
            s.read_slot(
                Slot {
                    base: 0,
                    off: -16,
                    size: 8
                },
                8
            ),
            Val::Top
        );
        s.write_slot(
            Slot {
                base: 0,
                off: -16,
                size: 4,
            },
            Val::Const(231),
        );
        assert_eq!(
            s.read_slot(
                Slot {
                    base: 0,
                    off: -16,
                    size: 4
                },
                8
            ),
            Val::Const(231)
        );
        assert_eq!(
            s.read_slot(
                Slot {
                    base: 0,
                    off: -16,
                    size: 8
                },
                8
            ),
            Val::Top
        );
        // A join where one side overwrote the caller's slot must not report the entry value.
        let mut t = s.clone();
        t.write_slot(slot, Val::Top);
        let j = s.join(&t, 8);
        assert_eq!(j.read_slot(slot, 8), Val::Top);
    }
}
