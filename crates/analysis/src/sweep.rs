//! The linear sweep of an object's code: every instruction in address order, decoded once.
//!
//! A decoded instruction takes 40 bytes (iced-x86), about eleven times its encoding: a 50 MB
//! `.text` (libLLVM) would hold 560 MB of instructions at once. Above [`COMPACT_ABOVE`] bytes of
//! code the sweep keeps only each instruction's address (as a 32-bit offset from the lowest code
//! address) and length, 5 bytes, and decodes the instructions of a function again when they are
//! asked for. Decoding from an instruction
//! boundary of the sweep over the same bytes gives the same instructions, so both forms give
//! the same analysis.

use crate::arch::{Arch, CodeContext};

/// Code sizes above this are swept compactly.
pub(crate) const COMPACT_ABOVE: u64 = 4 << 20;

/// Bytes decoded at a time while sweeping compactly.
const WINDOW: usize = 1 << 20;

/// Longest x86-64 instruction: a window keeps only instructions that end this far before its
/// end, so that none is cut (the next window starts where the last kept one ends).
const MAX_INSN: usize = 15;

pub(crate) struct Sweep<I> {
    /// Every instruction, when the code is small enough.
    insns: Option<Vec<I>>,
    /// Otherwise each instruction's address (offset from `base`) and length.
    base: u64,
    offsets: Vec<u32>,
    lens: Vec<u8>,
}

impl<I: Clone> Sweep<I> {
    /// Decodes `ranges` linearly, showing each stretch of instructions to `visit` once, in
    /// address order.
    pub(crate) fn build<A: Arch<Insn = I>>(
        arch: &A,
        ctx: &CodeContext<'_>,
        ranges: &[(u64, u64)],
        compact_above: u64,
        mut visit: impl FnMut(&[I]),
    ) -> Self {
        let code: u64 = ranges.iter().map(|(s, e)| e - s).sum();
        let base = ranges.iter().map(|r| r.0).min().unwrap_or(0);
        // Code spread over more than 4 GB of addresses (no real object) is kept whole.
        let offsets_fit = ranges.iter().all(|r| r.1 - base <= u64::from(u32::MAX));
        if code <= compact_above || !offsets_fit {
            let mut insns = arch.insn_buffer();
            for &(s, e) in ranges {
                if let Some(bytes) = ctx.code_bytes(s, e) {
                    arch.decode(bytes, s, &mut insns);
                }
            }
            visit(&insns);
            return Sweep {
                insns: Some(insns),
                base: 0,
                offsets: Vec::new(),
                lens: Vec::new(),
            };
        }
        let mut sweep = Sweep {
            insns: None,
            base,
            offsets: Vec::with_capacity((code / 3) as usize),
            lens: Vec::with_capacity((code / 3) as usize),
        };
        let mut buf: Vec<I> = Vec::new();
        for &(s, e) in ranges {
            let Some(bytes) = ctx.code_bytes(s, e) else {
                continue;
            };
            let mut pos = 0usize;
            while pos < bytes.len() {
                let end = (pos + WINDOW).min(bytes.len());
                let last = end == bytes.len();
                buf.clear();
                arch.decode(&bytes[pos..end], s + pos as u64, &mut buf);
                let keep_below = if last {
                    u64::MAX
                } else {
                    s + (end - MAX_INSN) as u64
                };
                let kept = buf
                    .iter()
                    .take_while(|i| last || arch.insn_end(i) <= keep_below)
                    .count()
                    // A window always moves on, whatever it decoded.
                    .max(1)
                    .min(buf.len());
                if kept == 0 {
                    break;
                }
                for i in &buf[..kept] {
                    let a = arch.insn_addr(i);
                    // Within the ranges, so within 4 GB of `base`.
                    sweep.offsets.push((a - base) as u32);
                    sweep
                        .lens
                        .push(u8::try_from(arch.insn_end(i) - a).unwrap_or(u8::MAX));
                }
                visit(&buf[..kept]);
                pos = (arch.insn_end(&buf[kept - 1]) - s) as usize;
            }
        }
        sweep
    }

    pub(crate) fn len(&self) -> usize {
        match &self.insns {
            Some(v) => v.len(),
            None => self.offsets.len(),
        }
    }

    /// The address of compactly swept instruction `k`.
    fn compact_addr(&self, k: usize) -> u64 {
        self.base + u64::from(self.offsets[k])
    }

    /// The first compactly swept instruction whose address is not below `a` (`at_or_after`) or
    /// is above it.
    fn compact_search(&self, a: u64, at_or_after: bool) -> usize {
        let Some(off) = a.checked_sub(self.base) else {
            return 0;
        };
        let Ok(off) = u32::try_from(off) else {
            return self.offsets.len();
        };
        if at_or_after {
            self.offsets.partition_point(|&x| x < off)
        } else {
            self.offsets.partition_point(|&x| x <= off)
        }
    }

    pub(crate) fn addr<A: Arch<Insn = I>>(&self, arch: &A, k: usize) -> u64 {
        match &self.insns {
            Some(v) => arch.insn_addr(&v[k]),
            None => self.compact_addr(k),
        }
    }

    pub(crate) fn end<A: Arch<Insn = I>>(&self, arch: &A, k: usize) -> u64 {
        match &self.insns {
            Some(v) => arch.insn_end(&v[k]),
            None => self.compact_addr(k) + self.lens[k] as u64,
        }
    }

    /// The first instruction at or after `a`.
    pub(crate) fn first_from<A: Arch<Insn = I>>(&self, arch: &A, a: u64) -> usize {
        match &self.insns {
            Some(v) => v.partition_point(|i| arch.insn_addr(i) < a),
            None => self.compact_search(a, true),
        }
    }

    /// The first instruction after `a`.
    pub(crate) fn first_after<A: Arch<Insn = I>>(&self, arch: &A, a: u64) -> usize {
        match &self.insns {
            Some(v) => v.partition_point(|i| arch.insn_addr(i) <= a),
            None => self.compact_search(a, false),
        }
    }

    /// Instructions `lo..hi`: borrowed from the sweep, or decoded again into `buf`.
    pub(crate) fn slice<'s, A: Arch<Insn = I>>(
        &'s self,
        arch: &A,
        ctx: &CodeContext<'_>,
        lo: usize,
        hi: usize,
        buf: &'s mut Vec<I>,
    ) -> &'s [I] {
        let hi = hi.min(self.len());
        let lo = lo.min(hi);
        if let Some(v) = &self.insns {
            return &v[lo..hi];
        }
        buf.clear();
        // Contiguous runs (a slice does not cross code ranges, but stay exact if it does).
        let mut k = lo;
        while k < hi {
            let mut j = k + 1;
            while j < hi && self.end(arch, j - 1) == self.compact_addr(j) {
                j += 1;
            }
            let (s, e) = (self.compact_addr(k), self.end(arch, j - 1));
            if let Some(bytes) = ctx.code_bytes(s, e) {
                arch.decode(bytes, s, buf);
            }
            k = j;
        }
        buf
    }

    /// The sweep's instructions in [`start`, `end`) (borrowed, or decoded again into `buf`),
    /// and whether the first of them begins at `start` (a function entry on an instruction
    /// boundary of the sweep).
    pub(crate) fn span<'s, A: Arch<Insn = I>>(
        &'s self,
        arch: &A,
        ctx: &CodeContext<'_>,
        start: u64,
        end: u64,
        buf: &'s mut Vec<I>,
    ) -> (bool, &'s [I]) {
        let lo = self.first_from(arch, start);
        let hi = self.first_from(arch, end);
        let aligned = lo < self.len() && self.addr(arch, lo) == start;
        (aligned, self.slice(arch, ctx, lo, hi, buf))
    }

    /// Gives the instruction buffer back for the next object.
    pub(crate) fn recycle<A: Arch<Insn = I>>(self, arch: &A) {
        if let Some(v) = self.insns {
            arch.recycle_insn_buffer(v);
        }
    }
}
