//! x86-64: decoding with iced-x86, and the data flow that finds syscall numbers and the values
//! passed to calls.
//!
//! The data flow is a forward analysis over the basic blocks of one function. Registers and
//! stack slots (tracked relative to the stack pointer at entry, or to an anonymous base after
//! the stack is realigned) hold [`Val`]s. A `syscall` records the value of `rax`; a call records
//! the values of every register and of the outgoing stack area, expressed as locations at the
//! callee's entry, so that a callee whose syscall number comes from a location (`rdi` for glibc's
//! `syscall()`, `rax` or `8(SP)` for Go's wrappers) is resolved at each call site later.
//!
//! Soundness rules: a block reached from an unknown place (a jump table, another function's
//! branch into the middle) starts from the unknown state; a join of too many values is unknown;
//! after a call the registers the convention lets the callee clobber are unknown (System V:
//! rax, rcx, rdx, rsi, rdi, r8–r11; Go: all but rsp) and, for Go, the caller's own frame slots
//! too; a write through a stack address with an unknown index forgets that frame.

use std::collections::BTreeSet;

use foldhash::HashMap;

use iced_x86::{
    Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, OpAccess,
    OpKind, Register,
};

use super::{
    Arch, BranchKind, CodeContext, FnExits, FnPlan, FunctionFacts, InsnRefs, RawCall, RawTarget,
    SlotTarget,
};
use crate::dataflow::{Slot, State, Val};
use crate::summary::{FnAbi, Loc, SyscallAbi, SyscallSite, ValueSet};

pub struct X86_64;

const NREGS: usize = 16;
const RAX: usize = 0;
const RCX: usize = 1;
const RDX: usize = 2;
const RSP: usize = 4;
const RBP: usize = 5;
const RSI: usize = 6;
const RDI: usize = 7;
const R8: usize = 8;
const R9: usize = 9;
const R10: usize = 10;
const R11: usize = 11;
/// The return address occupies `[entry_sp, entry_sp + 8)`.
const RET: i64 = 8;
/// Outgoing stack arguments recorded at a call: this many bytes above the stack pointer.
const OUTGOING: i64 = 256;
/// Bytes of a stack structure passed by pointer whose fields are recorded at a call.
const DEREF_FIELDS: i64 = 128;
/// Visits of one block before its input is widened to the unknown state.
const MAX_VISITS: u32 = 12;

const REG_NAMES: [&str; NREGS] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

/// The 64-bit register index of a general-purpose register and its width in bytes.
fn gpr(r: Register) -> Option<(usize, u32)> {
    if !r.is_gpr() {
        return None;
    }
    let full = r.full_register();
    let idx = (full as u32).checked_sub(Register::RAX as u32)? as usize;
    (idx < NREGS).then(|| (idx, r.size() as u32))
}

thread_local! {
    /// The decode buffer of the last object analysed on this thread (its memory is reused, so
    /// that each object does not fault in fresh pages for its instructions).
    static INSN_BUFFER: std::cell::RefCell<Vec<Instruction>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The largest decode buffer kept between objects (16 MiB of instructions: a C library's worth).
const MAX_KEPT_INSNS: usize = (16 << 20) / std::mem::size_of::<Instruction>();

impl Arch for X86_64 {
    type Insn = Instruction;

    fn name(&self) -> &'static str {
        "x86_64"
    }

    fn reg_name(&self, r: u8) -> &'static str {
        REG_NAMES.get(r as usize).copied().unwrap_or("?")
    }

    fn decode(&self, code: &[u8], addr: u64, out: &mut Vec<Instruction>) {
        let mut d = Decoder::with_ip(64, code, addr, DecoderOptions::NONE);
        // About one instruction per 3.5 bytes in compiled code: reserve once, not grow twice.
        out.reserve(code.len() / 3);
        let mut ins = Instruction::default();
        while d.can_decode() {
            d.decode_out(&mut ins);
            out.push(ins);
        }
    }

    fn first_arg(&self) -> Loc {
        Loc::Reg(RDI as u8)
    }

    fn insn_buffer(&self) -> Vec<Instruction> {
        INSN_BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()))
    }

    fn recycle_insn_buffer(&self, mut buf: Vec<Instruction>) {
        // Kept up to a bound: one library's worth of instructions, not the largest ever seen.
        if buf.capacity() <= MAX_KEPT_INSNS {
            buf.clear();
            INSN_BUFFER.with(|b| {
                let mut b = b.borrow_mut();
                if b.capacity() < buf.capacity() {
                    *b = buf;
                }
            });
        }
    }

    fn insn_addr(&self, i: &Instruction) -> u64 {
        i.ip()
    }

    fn insn_end(&self, i: &Instruction) -> u64 {
        i.next_ip()
    }

    fn plausible_code(&self, insns: &[Instruction]) -> bool {
        use Mnemonic as M;
        for i in insns.iter().take(64) {
            if i.is_invalid() {
                return false;
            }
            let bad = matches!(
                i.mnemonic(),
                M::In
                    | M::Out
                    | M::Insb
                    | M::Insw
                    | M::Insd
                    | M::Outsb
                    | M::Outsw
                    | M::Outsd
                    | M::Cli
                    | M::Sti
                    | M::Int1
                    | M::Into
                    | M::Iret
                    | M::Iretd
                    | M::Iretq
                    | M::Hlt
                    | M::Lgdt
                    | M::Lidt
                    | M::Lldt
                    | M::Ltr
                    | M::Rdmsr
                    | M::Wrmsr
                    | M::Sysexit
                    | M::Sysexitq
                    | M::Sysret
                    | M::Sysretq
                    | M::Retf
                    | M::Clts
                    | M::Invd
                    | M::Wbinvd
                    | M::Lmsw
                    | M::Smsw
                    | M::Arpl
                    | M::Xlatb
            ) || (i.mnemonic() == M::Int && !matches!(i.immediate8(), 3 | 0x80))
                || matches!(i.op0_kind(), OpKind::FarBranch16 | OpKind::FarBranch32)
                || (i.mnemonic() == M::Mov
                    && (i.op0_register().is_cr()
                        || i.op0_register().is_dr()
                        || i.op1_register().is_cr()
                        || i.op1_register().is_dr()));
            if bad {
                return false;
            }
            if matches!(
                i.flow_control(),
                FlowControl::Return
                    | FlowControl::UnconditionalBranch
                    | FlowControl::IndirectBranch
            ) {
                return true;
            }
        }
        true
    }

    fn is_padding(&self, i: &Instruction) -> bool {
        matches!(i.mnemonic(), Mnemonic::Nop | Mnemonic::Int3 | Mnemonic::Ud2)
            || (i.mnemonic() == Mnemonic::Xchg
                && i.op_count() == 2
                && i.op0_kind() == OpKind::Register
                && i.op1_kind() == OpKind::Register
                && i.op0_register() == i.op1_register())
            || (i.code() == iced_x86::Code::Add_rm8_r8
                && i.op0_kind() == OpKind::Memory
                && i.memory_base() == Register::RAX
                && i.op1_register() == Register::AL
                && i.len() == 2)
    }

    #[inline]
    fn insn_refs(&self, ctx: &CodeContext<'_>, i: &Instruction) -> InsnRefs {
        let mut r = InsnRefs::default();
        match i.flow_control() {
            FlowControl::Call if is_near_branch(i) => {
                r.branch = Some((i.near_branch_target(), BranchKind::Call))
            }
            FlowControl::UnconditionalBranch if is_near_branch(i) => {
                r.branch = Some((i.near_branch_target(), BranchKind::Jump))
            }
            FlowControl::ConditionalBranch if is_near_branch(i) => {
                r.branch = Some((i.near_branch_target(), BranchKind::CondJump))
            }
            _ => {}
        }
        collect_code_addrs(ctx, i, &mut r.code_addrs);
        r
    }

    fn exits(&self, ctx: &CodeContext<'_>, insns: &[Instruction], entry: u64, end: u64) -> FnExits {
        let mut e = FnExits::default();
        for i in insns {
            match i.flow_control() {
                FlowControl::Return => e.returns = true,
                FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
                    if is_near_branch(i) =>
                {
                    let t = i.near_branch_target();
                    if t < entry || t >= end {
                        e.tail_targets.push(RawTarget::Addr(t));
                    }
                }
                FlowControl::IndirectBranch => {
                    let t = if i.op0_kind() == OpKind::Memory && i.is_ip_rel_memory_operand() {
                        let a = i.ip_rel_memory_address();
                        let t = match ctx.slot_target(a) {
                            SlotTarget::Symbol(s) => RawTarget::Symbol(s),
                            SlotTarget::Code(c) => RawTarget::Addr(c),
                            _ => RawTarget::Indirect,
                        };
                        if t != RawTarget::Indirect && !ctx.slot_is_fixed(a) {
                            e.tail_targets.push(RawTarget::Indirect);
                        }
                        t
                    } else {
                        RawTarget::Indirect
                    };
                    e.tail_targets.push(t);
                }
                _ => {}
            }
        }
        e
    }

    fn skeleton_function(
        &self,
        ctx: &CodeContext<'_>,
        insns: &[Instruction],
        plan: &FnPlan,
    ) -> FunctionFacts {
        Flow::new(ctx, insns, plan).skeleton()
    }

    fn analyze_function(
        &self,
        ctx: &CodeContext<'_>,
        insns: &[Instruction],
        plan: &FnPlan,
    ) -> FunctionFacts {
        Flow::new(ctx, insns, plan).run()
    }
}

fn is_near_branch(i: &Instruction) -> bool {
    matches!(
        i.op0_kind(),
        OpKind::NearBranch64 | OpKind::NearBranch32 | OpKind::NearBranch16
    )
}

/// Code addresses an instruction takes: rip-relative `lea`, and in position-dependent code,
/// immediates and absolute displacements that point into code. Branch targets are not included.
/// (Inlined: it is asked of every instruction, twice, and most answer at the first test.)
#[inline]
fn collect_code_addrs(ctx: &CodeContext<'_>, i: &Instruction, out: &mut Vec<u64>) {
    // Position-independent code takes code addresses only with a rip-relative `lea` (the
    // common case, first: most instructions end here).
    if !ctx.absolute {
        if i.mnemonic() == Mnemonic::Lea && i.is_ip_rel_memory_operand() {
            let a = i.ip_rel_memory_address();
            if ctx.is_code(a) {
                out.push(a);
            }
        }
        return;
    }
    collect_absolute_code_addrs(ctx, i, out);
}

/// [`collect_code_addrs`] for position-dependent code.
#[inline(never)]
fn collect_absolute_code_addrs(ctx: &CodeContext<'_>, i: &Instruction, out: &mut Vec<u64>) {
    if matches!(
        i.flow_control(),
        FlowControl::Call | FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
    ) && is_near_branch(i)
    {
        return;
    }
    for n in 0..i.op_count() {
        match i.op_kind(n) {
            OpKind::Memory => {
                if i.mnemonic() == Mnemonic::Lea {
                    let a = if i.is_ip_rel_memory_operand() {
                        Some(i.ip_rel_memory_address())
                    } else if ctx.absolute
                        && i.memory_base() == Register::None
                        && i.memory_index() == Register::None
                    {
                        Some(i.memory_displacement64())
                    } else {
                        None
                    };
                    if let Some(a) = a.filter(|a| ctx.is_code(*a)) {
                        out.push(a);
                    }
                }
            }
            OpKind::Immediate32 | OpKind::Immediate64 | OpKind::Immediate32to64 if ctx.absolute => {
                let v = i.immediate(n);
                if ctx.is_code(v) {
                    out.push(v);
                }
            }
            _ => {}
        }
    }
}

/// Data addresses an instruction refers to: rip-relative memory operands (and, in
/// position-dependent code, absolute ones and immediates) outside code; through a GOT slot that
/// holds a data address, that address too. They decide which data tables are live.
#[inline]
fn collect_data_refs(
    ctx: &CodeContext<'_>,
    i: &Instruction,
    out: &mut Vec<u64>,
    escaped: &mut Vec<u64>,
) {
    // Position-independent code refers to data only rip-relatively (most instructions do not).
    if !ctx.absolute && !i.is_ip_rel_memory_operand() {
        return;
    }
    collect_data_refs_of_operands(ctx, i, out, escaped);
}

/// [`collect_data_refs`] of an instruction that may refer to data.
#[inline(never)]
fn collect_data_refs_of_operands(
    ctx: &CodeContext<'_>,
    i: &Instruction,
    out: &mut Vec<u64>,
    escaped: &mut Vec<u64>,
) {
    let in_image = |a: u64| {
        ctx.elf
            .segments
            .iter()
            .any(|s| a >= s.vaddr && a - s.vaddr < s.memsz)
    };
    for n in 0..i.op_count() {
        let a = match i.op_kind(n) {
            OpKind::Memory if i.is_ip_rel_memory_operand() => Some(i.ip_rel_memory_address()),
            OpKind::Memory
                if ctx.absolute
                    && i.memory_base() == Register::None
                    && i.memory_index() == Register::None =>
            {
                Some(i.memory_displacement64())
            }
            OpKind::Immediate32 | OpKind::Immediate64 | OpKind::Immediate32to64 if ctx.absolute => {
                Some(i.immediate(n))
            }
            _ => None,
        };
        let Some(a) = a.filter(|a| !ctx.is_code(*a) && in_image(*a)) else {
            continue;
        };
        out.push(a);
        if i.mnemonic() == Mnemonic::Lea || i.op_kind(n) != OpKind::Memory {
            escaped.push(a);
        }
        if let Some(r) = ctx.relocs.get(&a) {
            let t = r.addend as u64;
            if matches!(r.kind, dockergate_elf::RelocKind::Relative)
                && !ctx.is_code(t)
                && in_image(t)
            {
                out.push(t);
            }
        }
    }
}

/// `DG_TRACE=ADDR` (hex): the function holding ADDR prints its data flow (read once: blocks are
/// run millions of times).
fn trace_address() -> Option<u64> {
    static TRACE: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| {
        std::env::var("DG_TRACE")
            .ok()
            .and_then(|v| u64::from_str_radix(&v, 16).ok())
    })
}

/// One function's data flow.
struct Flow<'c, 'a> {
    ctx: &'c CodeContext<'a>,
    insns: &'c [Instruction],
    plan: &'c FnPlan,
    /// Block starts (indexes into `insns`), sorted.
    leaders: Vec<usize>,
    /// Instruction index → block number, for leaders only.
    block_of: HashMap<usize, usize>,
    preds: Vec<Vec<usize>>,
    succs: Vec<Vec<usize>>,
    /// Blocks entered from unknown places.
    unknown_entry: Vec<bool>,
    /// Created on first use: most functions never need it.
    info: Option<Box<InstructionInfoFactory>>,
    /// The frame base a stack-pointer change at the current instruction starts.
    cur_base: u32,
    facts: FunctionFacts,
    recording: bool,
    /// Fields written through parameter pointers: (register, offset), `i32::MIN` for any.
    deref_writes: std::collections::BTreeSet<(u8, i32)>,
}

impl<'c, 'a> Flow<'c, 'a> {
    fn new(ctx: &'c CodeContext<'a>, insns: &'c [Instruction], plan: &'c FnPlan) -> Self {
        Flow {
            ctx,
            insns,
            plan,
            leaders: Vec::new(),
            block_of: HashMap::default(),
            preds: Vec::new(),
            succs: Vec::new(),
            unknown_entry: Vec::new(),
            info: None,
            cur_base: 1,
            facts: FunctionFacts::default(),
            recording: false,
            deref_writes: Default::default(),
        }
    }

    fn index_of(&self, addr: u64) -> Option<usize> {
        let i = self.insns.partition_point(|x| x.ip() < addr);
        (i < self.insns.len() && self.insns[i].ip() == addr).then_some(i)
    }

    fn in_range(&self, addr: u64) -> bool {
        addr >= self.plan.entry && addr < self.plan.end
    }

    /// A call to a function that never returns: control does not continue after it.
    fn noreturn_call(&self, ins: &Instruction) -> bool {
        if ins.flow_control() != FlowControl::Call
            && ins.flow_control() != FlowControl::IndirectCall
        {
            return false;
        }
        let target = if is_near_branch(ins) {
            RawTarget::Addr(ins.near_branch_target())
        } else if ins.op0_kind() == OpKind::Memory
            && ins.is_ip_rel_memory_operand()
            && self.ctx.slot_is_fixed(ins.ip_rel_memory_address())
        {
            match self.ctx.slot_target(ins.ip_rel_memory_address()) {
                SlotTarget::Symbol(s) => RawTarget::Symbol(s),
                SlotTarget::Code(c) => RawTarget::Addr(c),
                _ => RawTarget::Indirect,
            }
        } else {
            RawTarget::Indirect
        };
        self.ctx.call_never_returns(target)
    }

    /// Splits the function into basic blocks and links them.
    fn build_blocks(&mut self) {
        let n = self.insns.len();
        let mut leaders: BTreeSet<usize> = BTreeSet::new();
        leaders.insert(0);
        let mut unknown: BTreeSet<usize> = BTreeSet::new();
        for &a in &self.plan.interior_entries {
            if let Some(i) = self.index_of(a) {
                leaders.insert(i);
                unknown.insert(i);
            }
        }
        for (k, ins) in self.insns.iter().enumerate() {
            let fc = ins.flow_control();
            let ends = !matches!(
                fc,
                FlowControl::Next | FlowControl::Call | FlowControl::IndirectCall
            ) || self.noreturn_call(ins);
            if ends && k + 1 < n {
                leaders.insert(k + 1);
            }
            if matches!(
                fc,
                FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
            ) && is_near_branch(ins)
            {
                let t = ins.near_branch_target();
                if self.in_range(t) {
                    match self.index_of(t) {
                        Some(i) => {
                            leaders.insert(i);
                        }
                        None => {
                            // A branch into the middle of an instruction of our sweep: code we
                            // did not decode this way. The function is marked as reaching
                            // unknown code (it falls through to anything); data flow ignores it.
                            self.facts.falls_through = true;
                        }
                    }
                }
            }
        }
        self.leaders = leaders.into_iter().collect();
        self.block_of = self
            .leaders
            .iter()
            .enumerate()
            .map(|(b, &i)| (i, b))
            .collect();
        let nb = self.leaders.len();
        self.preds = vec![Vec::new(); nb];
        self.succs = vec![Vec::new(); nb];
        self.unknown_entry = self.leaders.iter().map(|i| unknown.contains(i)).collect();
        for b in 0..nb {
            let last = self.block_end(b) - 1;
            let ins = &self.insns[last];
            let fc = ins.flow_control();
            let mut succ = Vec::new();
            match fc {
                FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
                    if is_near_branch(ins) =>
                {
                    let t = ins.near_branch_target();
                    if self.in_range(t) {
                        if let Some(tb) = self.index_of(t).and_then(|i| self.block_of.get(&i)) {
                            succ.push(*tb);
                        }
                    }
                    if fc == FlowControl::ConditionalBranch && b + 1 < nb {
                        succ.push(b + 1);
                    }
                }
                FlowControl::Call | FlowControl::IndirectCall if self.noreturn_call(ins) => {}
                FlowControl::Next
                | FlowControl::Call
                | FlowControl::IndirectCall
                | FlowControl::Interrupt
                | FlowControl::XbeginXabortXend => {
                    if b + 1 < nb {
                        succ.push(b + 1);
                    }
                }
                _ => {}
            }
            for s in succ {
                self.preds[s].push(b);
                self.succs[b].push(s);
            }
        }
        // A block nothing known branches to may be a jump-table target: it starts unknown.
        // Alignment padding after a return is dead code, not such a target.
        for b in 1..nb {
            if self.preds[b].is_empty()
                && !(self.leaders[b]..self.block_end(b)).all(|k| X86_64.is_padding(&self.insns[k]))
            {
                self.unknown_entry[b] = true;
            }
        }
    }

    /// What a conditional branch tells on one edge: after `test r, r` or `cmp r, imm`, the
    /// "equal" edge of `je`/`jne` knows the register's value (compilers select a syscall number
    /// by branching on it, e.g. musl picks `read` when a length tested zero).
    fn refine_edge(&self, b: usize, s: usize, out: &State<NREGS>) -> Option<State<NREGS>> {
        let end = self.block_end(b);
        if end < 2 {
            return None;
        }
        let jcc = &self.insns[end - 1];
        let eq_edge = match jcc.mnemonic() {
            Mnemonic::Je => self
                .index_of(jcc.near_branch_target())
                .and_then(|i| self.block_of.get(&i))
                .copied(),
            Mnemonic::Jne => Some(b + 1),
            _ => return None,
        };
        if eq_edge != Some(s)
            || (jcc.mnemonic() == Mnemonic::Je
                && s == b + 1
                && self.leaders.get(b + 1) == self.index_of(jcc.near_branch_target()).as_ref())
        {
            return None;
        }
        let flags = &self.insns[end - 2];
        if flags.op_count() != 2 || flags.op0_kind() != OpKind::Register {
            return None;
        }
        let reg = flags.op0_register();
        let (idx, width) = gpr(reg)?;
        if is_high_byte(reg) || width < 4 {
            return None;
        }
        let value = match (flags.mnemonic(), flags.op1_kind()) {
            (Mnemonic::Test, OpKind::Register) if flags.op1_register() == reg => 0,
            (
                Mnemonic::Cmp,
                OpKind::Immediate8to32
                | OpKind::Immediate8to64
                | OpKind::Immediate32
                | OpKind::Immediate32to64
                | OpKind::Immediate8,
            ) => flags.immediate(1),
            _ => return None,
        };
        let mut st = out.clone();
        st.regs[idx] = Val::Const(if width == 4 {
            value & 0xffff_ffff
        } else {
            value
        });
        Some(st)
    }

    fn block_end(&self, b: usize) -> usize {
        self.leaders.get(b + 1).copied().unwrap_or(self.insns.len())
    }

    /// The state-free pass: calls and their targets, addresses taken and loaded, syscall sites
    /// (numbers unknown), falling off the end. Enough for reachability; the data flow runs only
    /// where numbers or argument values are needed.
    fn skeleton(mut self) -> FunctionFacts {
        self.facts.instructions = self.insns.len() as u64;
        self.recording = true;
        self.compute_falls_through();
        let unknown = State::<NREGS>::unknown();
        let insns = self.insns;
        for ins in insns {
            let (mnemonic, flow) = (ins.mnemonic(), ins.flow_control());
            self.record_code_addrs(ins);
            // Without register values, only a rip-relative or absolute operand has a fixed
            // address (`mem_addr`): most instructions' operands need no look.
            let fixed_address = ins.is_ip_rel_memory_operand()
                || (ins.memory_base() == Register::None && ins.memory_index() == Register::None);
            if fixed_address
                && mnemonic != Mnemonic::Lea
                && !matches!(
                    flow,
                    FlowControl::Call
                        | FlowControl::IndirectCall
                        | FlowControl::IndirectBranch
                        | FlowControl::UnconditionalBranch
                )
            {
                for n in 0..ins.op_count() {
                    if ins.op_kind(n) == OpKind::Memory {
                        if let MemAddr::Abs(a) = self.mem_addr(&unknown, ins) {
                            self.note_load(a);
                        }
                    }
                }
            }
            // Stores to fixed addresses (globals), values unknown until data flow runs.
            if fixed_address
                && ins.op_count() > 0
                && ins.op0_kind() == OpKind::Memory
                && !matches!(
                    mnemonic,
                    Mnemonic::Cmp | Mnemonic::Test | Mnemonic::Push | Mnemonic::Bt
                )
                && flow == FlowControl::Next
            {
                if let MemAddr::Abs(a) = self.mem_addr(&unknown, ins) {
                    if !self.ctx.is_code(a) {
                        self.facts.global_stores.push(crate::summary::GlobalStore {
                            addr: a,
                            size: ins.memory_size().size().min(255) as u8,
                            value: ValueSet::unknown(),
                            known: false,
                        });
                    }
                }
            }
            match flow {
                FlowControl::Call | FlowControl::IndirectCall => {
                    let (target, also_indirect) = self.branch_target(&unknown, ins);
                    self.record_skimmed_call(ins.ip(), target, false, also_indirect);
                }
                FlowControl::UnconditionalBranch | FlowControl::IndirectBranch => {
                    if is_near_branch(ins) && self.in_range(ins.near_branch_target()) {
                        continue;
                    }
                    let (target, also_indirect) = self.branch_target(&unknown, ins);
                    self.record_skimmed_call(ins.ip(), target, true, also_indirect);
                }
                FlowControl::ConditionalBranch
                    if is_near_branch(ins) && !self.in_range(ins.near_branch_target()) =>
                {
                    let target = RawTarget::Addr(ins.near_branch_target());
                    self.record_skimmed_call(ins.ip(), target, true, false);
                }
                _ => {}
            }
            match mnemonic {
                Mnemonic::Syscall => self.facts.syscalls.push(SyscallSite {
                    addr: ins.ip(),
                    abi: SyscallAbi::Native,
                    number: ValueSet::unknown(),
                }),
                Mnemonic::Sysenter => self.facts.syscalls.push(SyscallSite {
                    addr: ins.ip(),
                    abi: SyscallAbi::I386,
                    number: ValueSet::unknown(),
                }),
                Mnemonic::Int if ins.immediate8() == 0x80 => {
                    self.facts.syscalls.push(SyscallSite {
                        addr: ins.ip(),
                        abi: SyscallAbi::I386,
                        number: ValueSet::unknown(),
                    })
                }
                _ => {}
            }
        }
        if self.facts.falls_through {
            if let Some(last) = self.insns.last() {
                self.facts.calls.push(RawCall {
                    addr: last.ip(),
                    target: RawTarget::Addr(last.next_ip()),
                    tail: true,
                    args: Vec::new(),
                    args_known: false,
                    strings: Vec::new(),
                });
            }
        }
        self.facts.addr_taken.sort_unstable();
        self.facts.addr_taken.dedup();
        self.facts.symbols_taken.sort_unstable();
        self.facts.symbols_taken.dedup();
        self.facts.data_refs.sort_unstable();
        self.facts.data_refs.dedup();
        self.facts
    }

    fn compute_falls_through(&mut self) {
        // Alignment padding at the end is not where control leaves.
        let last = self
            .insns
            .iter()
            .rev()
            .find(|i| !X86_64.is_padding(i))
            .or(self.insns.last());
        if let Some(last) = last {
            let terminated = matches!(
                last.flow_control(),
                FlowControl::Return
                    | FlowControl::UnconditionalBranch
                    | FlowControl::IndirectBranch
                    | FlowControl::Exception
            ) || matches!(
                last.mnemonic(),
                Mnemonic::Hlt | Mnemonic::Ud2 | Mnemonic::Int3
            ) || self.noreturn_call(last);
            if !terminated {
                self.facts.falls_through = true;
            }
        }
    }

    fn run(mut self) -> FunctionFacts {
        self.facts.instructions = self.insns.len() as u64;
        if self.insns.is_empty() {
            return self.facts;
        }
        self.compute_falls_through();
        if self.ctx.plt_shortcut && self.is_lazy_plt_entry() {
            return self.record_lazy_plt_entry();
        }
        self.build_blocks();
        let nb = self.leaders.len();
        // Block inputs grow monotonically: each changed output is joined into its successors'
        // inputs. A block visited too often is widened to the unknown state.
        let mut inputs: Vec<Option<State<NREGS>>> = vec![None; nb];
        for (b, input) in inputs.iter_mut().enumerate() {
            if self.unknown_entry[b] {
                *input = Some(State::unknown());
            }
        }
        let entry_state = State::entry(RSP);
        inputs[0] = Some(match inputs[0].take() {
            Some(u) => u.join(&entry_state, RET),
            None => entry_state,
        });
        let mut visits = vec![0u32; nb];
        let mut work: BTreeSet<usize> = (0..nb).filter(|&b| inputs[b].is_some()).collect();
        // The state a block runs on: copied from its input into the same buffers every time.
        let mut scratch = State::unknown();
        while let Some(b) = work.pop_first() {
            visits[b] = visits[b].saturating_add(1);
            let Some(input) = &inputs[b] else {
                continue;
            };
            scratch.clone_from(input);
            let out = self.run_block(b, scratch);
            for k in 0..self.succs[b].len() {
                let s = self.succs[b][k];
                let refined = self.refine_edge(b, s, &out);
                let out = refined.as_ref().unwrap_or(&out);
                let changed = match &mut inputs[s] {
                    Some(i) if visits[s] >= MAX_VISITS => i.widen_in(out, RET),
                    Some(i) => i.join_in(out, RET),
                    slot @ None => {
                        *slot = Some(out.clone());
                        true
                    }
                };
                if changed {
                    work.insert(s);
                }
            }
            scratch = out;
        }
        // Final pass with the fixed point: record sites and calls once.
        self.recording = true;
        let falls_off = self.facts.falls_through;
        for (b, input) in inputs.into_iter().enumerate() {
            let input = input.unwrap_or_else(|| State::unknown());
            let out = self.run_block(b, input);
            if b + 1 == nb && falls_off {
                // Control runs off the end into whatever follows (hand-written assembly whose
                // unwind info ends early, functions without known extent): a tail call to the
                // next address, passing the state along.
                if let Some(last) = self.insns.last() {
                    let args = self.call_args(&out, true);
                    self.facts.calls.push(RawCall {
                        addr: last.ip(),
                        target: RawTarget::Addr(last.next_ip()),
                        tail: true,
                        args,
                        args_known: true,
                        strings: Vec::new(),
                    });
                }
            }
        }
        self.finish()
    }

    /// A lazy-binding PLT entry: `jmp *slot(%rip)`, then `push $index; jmp plt0`, which only
    /// the slot's initial value reaches (nearly every stub: 49 000 in a Debian image, each a
    /// whole data flow for three instructions).
    fn is_lazy_plt_entry(&self) -> bool {
        let [jump, push, to_plt0] = self.insns else {
            return false;
        };
        jump.ip() == self.plan.entry
            && self.plan.interior_entries.is_empty()
            && !self.facts.falls_through
            && jump.mnemonic() == Mnemonic::Jmp
            && jump.op0_kind() == OpKind::Memory
            && jump.is_ip_rel_memory_operand()
            && push.mnemonic() == Mnemonic::Push
            && push.op0_kind() == OpKind::Immediate32to64
            && to_plt0.mnemonic() == Mnemonic::Jmp
            && is_near_branch(to_plt0)
            && !self.in_range(to_plt0.near_branch_target())
    }

    /// [`Flow::run`] for a lazy PLT entry: its blocks, the jump and the push with the jump to
    /// PLT0, have no edges, so the fixed point is their inputs (the entry state; the unknown
    /// state of a block nothing branches to) and only the recording pass is left to run.
    fn record_lazy_plt_entry(mut self) -> FunctionFacts {
        self.recording = true;
        let insns = self.insns;
        let mut st = State::entry(RSP);
        for (k, ins) in insns.iter().enumerate() {
            if k == 1 {
                st = State::unknown();
            }
            self.cur_base = k as u32 + 1;
            self.step(&mut st, ins);
        }
        self.finish()
    }

    /// The facts of the recording pass, final: values read through parameter fields this
    /// function writes become unknown; address lists sorted.
    fn finish(mut self) -> FunctionFacts {
        // A field this function writes through a parameter pointer is not what the caller put
        // there: values read from it are unknown.
        if !self.deref_writes.is_empty() {
            let written = |r: u8, o: i32| {
                self.deref_writes.contains(&(r, o)) || self.deref_writes.contains(&(r, i32::MIN))
            };
            let taint = |v: &mut ValueSet| {
                let before = v.atoms.len();
                v.atoms.retain(|a| !matches!(a, crate::summary::Atom::Param(Loc::RegDeref(r, o)) if written(*r, *o)));
                if v.atoms.len() != before {
                    v.unknown = true;
                }
            };
            for s in &mut self.facts.syscalls {
                taint(&mut s.number);
            }
            for c in &mut self.facts.calls {
                for (_, v) in &mut c.args {
                    taint(v);
                }
            }
            for g in &mut self.facts.global_stores {
                taint(&mut g.value);
            }
        }
        self.facts.addr_taken.sort_unstable();
        self.facts.addr_taken.dedup();
        self.facts.symbols_taken.sort_unstable();
        self.facts.symbols_taken.dedup();
        self.facts.data_refs.sort_unstable();
        self.facts.data_refs.dedup();
        self.facts
    }

    fn run_block(&mut self, b: usize, mut st: State<NREGS>) -> State<NREGS> {
        let (start, end) = (self.leaders[b], self.block_end(b));
        let trace = self.recording
            && trace_address().is_some_and(|a| a >= self.plan.entry && a < self.plan.end);
        for k in start..end {
            let ins = self.insns[k];
            if trace {
                eprintln!(
                    "{:x} {:?} | rax={:?} r8={:?} rsp={:?} lost={} preds={:?} unk={}",
                    ins.ip(),
                    ins.mnemonic(),
                    st.regs[RAX],
                    st.regs[R8],
                    st.regs[RSP],
                    st.slots_lost,
                    if k == start {
                        self.preds[b].clone()
                    } else {
                        vec![]
                    },
                    self.unknown_entry[b]
                );
            }
            self.cur_base = (k as u32).wrapping_add(1);
            self.step(&mut st, &ins);
        }
        st
    }

    /// A new frame base, named after the instruction that creates it so that re-running a
    /// block gives the same state (the fixed point must converge).
    fn fresh_base(&mut self) -> Val {
        Val::Sp {
            base: self.cur_base,
            off: 0,
        }
    }

    fn read_reg(&self, st: &State<NREGS>, r: Register) -> Val {
        match gpr(r) {
            Some((i, 8)) => st.regs[i].clone(),
            Some((i, w)) if !is_high_byte(r) => st.regs[i].truncate(w),
            _ => Val::Top,
        }
    }

    fn write_reg(&self, st: &mut State<NREGS>, r: Register, v: Val) {
        if let Some((i, w)) = gpr(r) {
            st.regs[i] = match w {
                8 => v,
                4 => v.truncate(4),
                _ => Val::Top,
            };
        }
    }

    /// Where a memory operand points.
    fn mem_addr(&self, st: &State<NREGS>, ins: &Instruction) -> MemAddr {
        if matches!(ins.memory_segment(), Register::FS | Register::GS) {
            return MemAddr::Unknown;
        }
        if ins.is_ip_rel_memory_operand() {
            return MemAddr::Abs(ins.ip_rel_memory_address());
        }
        let base = ins.memory_base();
        let index = ins.memory_index();
        let disp = ins.memory_displacement64() as i64;
        if base == Register::None && index == Register::None {
            return MemAddr::Abs(disp as u64);
        }
        match gpr(base).map(|(i, _)| &st.regs[i]) {
            Some(Val::Sp { base: b, off }) => {
                if index == Register::None {
                    MemAddr::Stack(*b, off.wrapping_add(disp))
                } else {
                    MemAddr::StackIndexed(*b)
                }
            }
            Some(Val::Param(Loc::Reg(r))) => {
                if index == Register::None {
                    MemAddr::ParamDeref(*r, disp)
                } else {
                    MemAddr::ParamIndexed(*r)
                }
            }
            Some(Val::Param(Loc::Global(g, 8))) if index == Register::None => {
                MemAddr::GlobalDeref(*g, disp)
            }
            _ => MemAddr::Unknown,
        }
    }

    fn read_mem(&mut self, st: &State<NREGS>, ins: &Instruction, size: u32) -> Val {
        match self.mem_addr(st, ins) {
            MemAddr::Stack(b, off) => st.read_slot(
                Slot {
                    base: b,
                    off,
                    size: size.min(255) as u8,
                },
                RET,
            ),
            MemAddr::Abs(a) => {
                self.note_load(a);
                let size = size.min(255) as u8;
                if matches!(size, 1 | 2 | 4 | 8)
                    && !self.ctx.is_code(a)
                    && !self.ctx.relocs.contains_key(&a)
                {
                    if self.recording {
                        self.facts.global_loads.push((a, size));
                    }
                    Val::Param(Loc::Global(a, size))
                } else {
                    Val::Top
                }
            }
            MemAddr::ParamDeref(r, off) if size <= 8 && i32::try_from(off).is_ok() => {
                Val::Param(Loc::RegDeref(r, off as i32))
            }
            MemAddr::GlobalDeref(g, off) if size <= 8 && i32::try_from(off).is_ok() => {
                Val::Param(Loc::GlobalDeref(g, off as i32))
            }
            _ => Val::Top,
        }
    }

    /// A pointer-sized load from a fixed address: a GOT slot or a pointer variable.
    fn note_load(&mut self, addr: u64) {
        if !self.recording {
            return;
        }
        match self.ctx.slot_target(addr) {
            SlotTarget::Symbol(s) => self.facts.symbols_taken.push(s),
            SlotTarget::Code(c) | SlotTarget::IfuncResolver(c) => self.facts.addr_taken.push(c),
            SlotTarget::Unknown => {}
        }
    }

    /// A store outside the stack: to a global (recorded, so that loads of it can be resolved),
    /// or through a parameter pointer (loads of that field are then unknown in this function).
    fn note_store(&mut self, at: MemAddr, size: u32, v: &Val) {
        match at {
            MemAddr::Abs(a) if self.recording && !self.ctx.is_code(a) => {
                self.facts.global_stores.push(crate::summary::GlobalStore {
                    addr: a,
                    size: size.min(255) as u8,
                    value: v.to_set(),
                    known: true,
                });
            }
            MemAddr::ParamDeref(r, off) => {
                self.deref_writes
                    .insert((r, i32::try_from(off).unwrap_or(i32::MIN)));
            }
            MemAddr::ParamIndexed(r) => {
                self.deref_writes.insert((r, i32::MIN));
            }
            MemAddr::GlobalDeref(g, off) if self.recording => self
                .facts
                .global_deref_writes
                .push((g, i32::try_from(off).unwrap_or(i32::MIN))),
            _ => {}
        }
    }

    fn write_mem(&mut self, st: &mut State<NREGS>, ins: &Instruction, size: u32, v: Val) {
        match self.mem_addr(st, ins) {
            MemAddr::Stack(b, off) => st.write_slot(
                Slot {
                    base: b,
                    off,
                    size: size.min(255) as u8,
                },
                v,
            ),
            MemAddr::StackIndexed(b) => st.forget_base(b),
            other => self.note_store(other, size, &v),
        }
    }

    /// The value of operand `n` (register, immediate or memory).
    fn operand(&mut self, st: &State<NREGS>, ins: &Instruction, n: u32) -> Val {
        match ins.op_kind(n) {
            OpKind::Register => self.read_reg(st, ins.op_register(n)),
            OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64 => Val::Const(ins.immediate(n)),
            OpKind::Memory => self.read_mem(st, ins, ins.memory_size().size() as u32),
            _ => Val::Top,
        }
    }

    #[inline]
    fn record_code_addrs(&mut self, ins: &Instruction) {
        if self.recording {
            collect_code_addrs(self.ctx, ins, &mut self.facts.addr_taken);
            collect_data_refs(
                self.ctx,
                ins,
                &mut self.facts.data_refs,
                &mut self.facts.escaped_data,
            );
        }
    }

    /// The transfer function of one instruction.
    fn step(&mut self, st: &mut State<NREGS>, ins: &Instruction) {
        use Mnemonic as M;
        self.record_code_addrs(ins);
        let m = ins.mnemonic();
        match m {
            M::Nop
            | M::Endbr64
            | M::Endbr32
            | M::Cmp
            | M::Test
            | M::Jmp
            | M::Ret
            | M::Retf
            | M::Int3
            | M::Ud2
            | M::Hlt
            | M::Pause
            | M::Lfence
            | M::Mfence
            | M::Sfence
            | M::Prefetchnta
            | M::Prefetcht0
            | M::Prefetcht1
            | M::Prefetcht2
            | M::Prefetchw => {
                if m == M::Jmp {
                    self.on_jump(st, ins);
                } else if matches!(m, M::Ret | M::Retf) {
                    // nothing: the block ends
                }
            }
            M::Mov => {
                if ins.op0_kind() == OpKind::Register {
                    let v = self.operand(st, ins, 1);
                    self.write_reg(st, ins.op0_register(), v);
                } else if ins.op0_kind() == OpKind::Memory {
                    let size = ins.memory_size().size() as u32;
                    let v = self.operand(st, ins, 1).truncate(size);
                    self.write_mem(st, ins, size, v);
                } else {
                    self.generic(st, ins);
                }
            }
            M::Movzx => {
                let v = self.operand(st, ins, 1);
                self.write_reg(st, ins.op0_register(), v);
            }
            M::Movsx | M::Movsxd => {
                let src_size = match ins.op1_kind() {
                    OpKind::Register => ins.op1_register().size() as u32,
                    _ => ins.memory_size().size() as u32,
                };
                let v = self.operand(st, ins, 1).sign_extend(src_size);
                self.write_reg(st, ins.op0_register(), v);
            }
            M::Cdqe => {
                let v = st.regs[RAX].truncate(4).sign_extend(4);
                st.regs[RAX] = v;
            }
            M::Lea => {
                let v = self.lea_value(st, ins);
                self.write_reg(st, ins.op0_register(), v);
            }
            M::Xor | M::Sub | M::Sbb
                if ins.op0_kind() == OpKind::Register
                    && ins.op1_kind() == OpKind::Register
                    && ins.op0_register() == ins.op1_register() =>
            {
                let v = if m == M::Sbb { Val::Top } else { Val::Const(0) };
                self.write_reg(st, ins.op0_register(), v);
            }
            M::Add | M::Sub | M::And | M::Or | M::Xor | M::Shl | M::Shr | M::Sar | M::Imul
                if ins.op0_kind() == OpKind::Register && ins.op_count() == 2 =>
            {
                let a = self.read_reg(st, ins.op0_register());
                let b = self.operand(st, ins, 1);
                let w = ins.op0_register().size() as u32;
                let v = arith(m, &a, &b, w);
                if gpr(ins.op0_register()).map(|g| g.0) == Some(RSP) && !matches!(v, Val::Sp { .. })
                {
                    st.regs[RSP] = self.fresh_base();
                } else {
                    self.write_reg(st, ins.op0_register(), v);
                }
            }
            M::Imul if ins.op_count() == 3 => {
                let a = self.operand(st, ins, 1);
                let b = self.operand(st, ins, 2);
                let w = ins.op0_register().size() as u32;
                self.write_reg(st, ins.op0_register(), arith(M::Imul, &a, &b, w));
            }
            M::Inc | M::Dec | M::Neg | M::Not if ins.op0_kind() == OpKind::Register => {
                let a = self.read_reg(st, ins.op0_register());
                let w = ins.op0_register().size() as u32;
                let v = match m {
                    M::Inc => a.map_const(|c| c.wrapping_add(1)),
                    M::Dec => a.map_const(|c| c.wrapping_sub(1)),
                    M::Neg => a.map_const(|c| c.wrapping_neg()),
                    _ => a.map_const(|c| !c),
                }
                .truncate(w);
                self.write_reg(st, ins.op0_register(), v);
            }
            M::Push => {
                let v = self.operand(st, ins, 0);
                let size = if ins.op0_kind() == OpKind::Register {
                    ins.op0_register().size() as i64
                } else {
                    8
                };
                self.adjust_sp(st, -size);
                if let Val::Sp { base, off } = st.regs[RSP] {
                    st.write_slot(
                        Slot {
                            base,
                            off,
                            size: size as u8,
                        },
                        v,
                    );
                }
            }
            M::Pop => {
                let size = if ins.op0_kind() == OpKind::Register {
                    ins.op0_register().size() as i64
                } else {
                    8
                };
                let v = match st.regs[RSP] {
                    Val::Sp { base, off } => st.read_slot(
                        Slot {
                            base,
                            off,
                            size: size as u8,
                        },
                        RET,
                    ),
                    _ => Val::Top,
                };
                self.adjust_sp(st, size);
                if ins.op0_kind() == OpKind::Register {
                    if gpr(ins.op0_register()).map(|g| g.0) == Some(RSP) {
                        st.regs[RSP] = self.fresh_base();
                    } else {
                        self.write_reg(st, ins.op0_register(), v);
                    }
                } else {
                    self.write_mem(st, ins, size as u32, v);
                }
            }
            M::Leave => {
                st.regs[RSP] = st.regs[RBP].clone();
                if !matches!(st.regs[RSP], Val::Sp { .. }) {
                    st.regs[RSP] = self.fresh_base();
                }
                let v = match st.regs[RSP] {
                    Val::Sp { base, off } => st.read_slot(Slot { base, off, size: 8 }, RET),
                    _ => Val::Top,
                };
                st.regs[RBP] = v;
                self.adjust_sp(st, 8);
            }
            M::Xchg if ins.op0_kind() == OpKind::Register && ins.op1_kind() == OpKind::Register => {
                let a = self.read_reg(st, ins.op0_register());
                let b = self.read_reg(st, ins.op1_register());
                self.write_reg(st, ins.op0_register(), b);
                self.write_reg(st, ins.op1_register(), a);
            }
            M::Cmova
            | M::Cmovae
            | M::Cmovb
            | M::Cmovbe
            | M::Cmove
            | M::Cmovg
            | M::Cmovge
            | M::Cmovl
            | M::Cmovle
            | M::Cmovne
            | M::Cmovno
            | M::Cmovnp
            | M::Cmovns
            | M::Cmovo
            | M::Cmovp
            | M::Cmovs => {
                let a = self.read_reg(st, ins.op0_register());
                let b = self.operand(st, ins, 1);
                let w = ins.op0_register().size() as u32;
                self.write_reg(st, ins.op0_register(), a.join(&b).truncate(w));
            }
            M::Call => self.on_call(st, ins),
            M::Syscall => {
                if self.recording {
                    self.facts.syscalls.push(SyscallSite {
                        addr: ins.ip(),
                        abi: SyscallAbi::Native,
                        number: st.regs[RAX].to_set(),
                    });
                }
                st.regs[RAX] = Val::Top;
                st.regs[RCX] = Val::Top;
                st.regs[R11] = Val::Top;
            }
            M::Int | M::Sysenter => {
                let is_compat = m == M::Sysenter || ins.immediate8() == 0x80;
                if is_compat && self.recording {
                    self.facts.syscalls.push(SyscallSite {
                        addr: ins.ip(),
                        abi: SyscallAbi::I386,
                        number: st.regs[RAX].truncate(4).to_set(),
                    });
                }
                st.regs[RAX] = Val::Top;
            }
            _ => {
                if ins.flow_control() == FlowControl::ConditionalBranch {
                    // A conditional branch to another function is a conditional tail call.
                    if is_near_branch(ins) && !self.in_range(ins.near_branch_target()) {
                        self.on_jump(st, ins);
                    }
                    return;
                }
                if ins.flow_control() == FlowControl::IndirectBranch {
                    self.on_jump(st, ins);
                    return;
                }
                self.generic(st, ins);
            }
        }
    }

    fn adjust_sp(&mut self, st: &mut State<NREGS>, delta: i64) {
        st.regs[RSP] = match &st.regs[RSP] {
            Val::Sp { base, off } => Val::Sp {
                base: *base,
                off: off.wrapping_add(delta),
            },
            _ => self.fresh_base(),
        };
    }

    fn lea_value(&self, st: &State<NREGS>, ins: &Instruction) -> Val {
        if ins.is_ip_rel_memory_operand() {
            return Val::Const(ins.ip_rel_memory_address());
        }
        let disp = ins.memory_displacement64();
        let base = ins.memory_base();
        let index = ins.memory_index();
        let scale = ins.memory_index_scale() as u64;
        let bv = if base == Register::None {
            Val::Const(0)
        } else {
            self.read_reg(st, base)
        };
        let iv = if index == Register::None {
            Val::Const(0)
        } else {
            self.read_reg(st, index)
        };
        let v = match (&bv, &iv) {
            (Val::Sp { base, off }, Val::Const(0)) => Val::Sp {
                base: *base,
                off: off.wrapping_add(disp as i64),
            },
            _ => {
                let scaled = iv.arith(&Val::Const(scale), |a, b| Some(a.wrapping_mul(b)));
                bv.arith(&scaled, |a, b| Some(a.wrapping_add(b)))
                    .arith(&Val::Const(disp), |a, b| Some(a.wrapping_add(b)))
            }
        };
        let w = ins.op0_register().size() as u32;
        v.truncate(w)
    }

    /// Registers (and, for Go, stack slots) a callee may clobber, by convention.
    fn clobber_after_call(&mut self, st: &mut State<NREGS>, target: RawTarget) {
        match self.plan.abi {
            FnAbi::SysV => {
                for r in [RAX, RCX, RDX, RSI, RDI, R8, R9, R10, R11] {
                    st.regs[r] = Val::Top;
                }
            }
            FnAbi::Go => {
                // Stack objects whose address the callee gets (in a register or an outgoing
                // slot) may be written through it, from that address up.
                let sp = st.regs[RSP].clone();
                let mut escaped: Vec<(u32, i64)> = Vec::new();
                for (r, v) in st.regs.iter().enumerate() {
                    if let (false, Val::Sp { base, off }) = (r == RSP || r == RBP, v) {
                        escaped.push((*base, *off));
                    }
                }
                if let Val::Sp { base, off } = sp {
                    for (s, v) in &st.slots {
                        if let (true, Val::Sp { base: b, off: o }) =
                            (s.base == base && s.off >= off && s.off < off + OUTGOING, v)
                        {
                            escaped.push((*b, *o));
                        }
                    }
                }
                for (r, v) in st.regs.iter_mut().enumerate() {
                    if r != RSP {
                        *v = Val::Top;
                    }
                }
                // A Go callee writes its argument area (arguments, results and register spill
                // slots: its declared `args` bytes above our stack pointer) and below; our
                // other slots survive. An unknown callee may write our whole frame.
                let area = match target {
                    RawTarget::Addr(a) => self.ctx.go_args.get(&a).copied().filter(|n| *n >= 0),
                    _ => None,
                };
                match (sp, area) {
                    (Val::Sp { base: 0, off }, Some(n)) => st.forget_below(0, off + n as i64),
                    (Val::Sp { base, .. }, _) => {
                        st.forget_below(0, 0);
                        if base != 0 {
                            st.forget_below(base, i64::MAX);
                        }
                    }
                    _ => st.forget_below(0, 0),
                }
                for (b, p) in escaped {
                    st.slots
                        .retain(|(s, _)| !(s.base == b && s.off + s.size as i64 > p));
                }
            }
        }
    }

    /// The argument locations as the callee sees them at its entry.
    fn call_args(&self, st: &State<NREGS>, tail: bool) -> Vec<(Loc, ValueSet)> {
        let mut args = Vec::new();
        for (r, v) in st.regs.iter().enumerate() {
            // Argument registers of System V and of Go's ABIInternal (and r10, the fourth
            // syscall argument); rsp, rbp and r12–r15 never carry arguments.
            if r == RSP || r == RBP || r >= 12 {
                continue;
            }
            if v.has_atoms() {
                args.push((Loc::Reg(r as u8), v.to_set()));
            }
            // A pointer to our stack: the fields the callee may read through it.
            if let Val::Sp { base, off } = v {
                for (s, sv) in &st.slots {
                    if s.base == *base
                        && s.off >= *off
                        && s.off < off + DEREF_FIELDS
                        && sv.has_atoms()
                    {
                        args.push((Loc::RegDeref(r as u8, (s.off - off) as i32), sv.to_set()));
                    }
                }
            }
        }
        if let Val::Sp { base, off } = st.regs[RSP] {
            // The callee's entry stack pointer: ours minus the pushed return address for a call.
            let callee_sp = if tail { off } else { off - 8 };
            for (s, v) in &st.slots {
                if s.base == base && s.off >= off && s.off < off + OUTGOING && v.has_atoms() {
                    args.push((Loc::Stack((s.off - callee_sp) as i32), v.to_set()));
                }
            }
            // Tail jumps pass our own incoming stack arguments through untouched.
            if tail && base == 0 && !st.slots_lost {
                for k in (8..72).step_by(8) {
                    let abs = off + k;
                    if abs >= RET && !st.slots.iter().any(|(s, _)| s.base == 0 && s.off == abs) {
                        args.push((
                            Loc::Stack(k as i32),
                            Val::Param(Loc::Stack(abs as i32)).to_set(),
                        ));
                    }
                }
            }
        }
        args
    }

    /// Where a call or jump goes, and whether it may also go anywhere (through a writable
    /// function-pointer variable: its initial target, or whatever the program stored since).
    fn branch_target(&mut self, st: &State<NREGS>, ins: &Instruction) -> (RawTarget, bool) {
        if is_near_branch(ins) {
            return (RawTarget::Addr(ins.near_branch_target()), false);
        }
        if ins.op0_kind() == OpKind::Memory {
            if let MemAddr::Abs(a) = self.mem_addr(st, ins) {
                let t = self.slot_branch_target(a);
                return (t, t != RawTarget::Indirect && !self.ctx.slot_is_fixed(a));
            }
        }
        (RawTarget::Indirect, false)
    }

    /// The target of a call through the word at `a` (an ifunc's resolver is also taken).
    fn slot_branch_target(&mut self, a: u64) -> RawTarget {
        match self.ctx.slot_target(a) {
            SlotTarget::Symbol(s) => RawTarget::Symbol(s),
            SlotTarget::Code(c) => RawTarget::Addr(c),
            SlotTarget::IfuncResolver(c) => {
                if self.recording {
                    self.facts.addr_taken.push(c);
                }
                RawTarget::Addr(c)
            }
            SlotTarget::Unknown => RawTarget::Indirect,
        }
    }

    /// Constant strings passed to a call (names a lookup may resolve, programs an exec runs,
    /// libraries a dlopen loads).
    fn call_strings(&self, args: &[(Loc, ValueSet)]) -> Vec<(Loc, String)> {
        let mut out = Vec::new();
        for (loc, v) in args {
            for a in &v.atoms {
                if let crate::summary::Atom::Const(p) = a {
                    if self.ctx.is_code(*p) {
                        continue;
                    }
                    if let Some(bytes) = self.ctx.elf.c_string_at(self.ctx.data, *p, 256) {
                        if !bytes.is_empty()
                            && bytes
                                .iter()
                                .all(|b| (0x20..0x7f).contains(b) || *b == b'\t')
                        {
                            out.push((*loc, String::from_utf8_lossy(bytes).into_owned()));
                        }
                    }
                }
            }
        }
        out
    }

    /// Records a call or tail jump. One through a writable function-pointer variable is
    /// recorded twice: as an indirect call, and to the pointer's initial target.
    fn record_call(&mut self, call: RawCall, also_indirect: bool) {
        if also_indirect {
            self.facts.calls.push(RawCall {
                target: RawTarget::Indirect,
                ..call.clone()
            });
        }
        self.facts.calls.push(call);
    }

    /// [`Flow::record_call`] for a skimmed function: its arguments are not known yet.
    fn record_skimmed_call(
        &mut self,
        addr: u64,
        target: RawTarget,
        tail: bool,
        also_indirect: bool,
    ) {
        self.record_call(
            RawCall {
                addr,
                target,
                tail,
                args: Vec::new(),
                args_known: false,
                strings: Vec::new(),
            },
            also_indirect,
        );
    }

    fn on_call(&mut self, st: &mut State<NREGS>, ins: &Instruction) {
        let (target, also_indirect) = self.branch_target(st, ins);
        if self.recording {
            let args = self.call_args(st, false);
            let strings = self.call_strings(&args);
            self.record_call(
                RawCall {
                    addr: ins.ip(),
                    target,
                    tail: false,
                    args,
                    args_known: true,
                    strings,
                },
                also_indirect,
            );
        }
        self.clobber_after_call(st, target);
        // What the call returns: resolvable when a call names a syscall by string.
        st.regs[RAX] = Val::Param(Loc::Ret(ins.ip()));
    }

    fn on_jump(&mut self, st: &mut State<NREGS>, ins: &Instruction) {
        if is_near_branch(ins) && self.in_range(ins.near_branch_target()) {
            return; // an ordinary branch inside the function
        }
        // `jmp reg` (a jump table inside the function or a tail call through a pointer) is
        // recorded as an indirect tail call: any address-taken function may run next.
        let (target, also_indirect) = self.branch_target(st, ins);
        if self.recording {
            let args = self.call_args(st, true);
            self.record_call(
                RawCall {
                    addr: ins.ip(),
                    target,
                    tail: true,
                    args,
                    args_known: true,
                    strings: Vec::new(),
                },
                also_indirect,
            );
        }
    }

    /// Any other instruction: every general-purpose register it writes becomes unknown; a
    /// write to the stack pointer starts a new frame base; memory writes through the stack
    /// update or forget slots.
    fn generic(&mut self, st: &mut State<NREGS>, ins: &Instruction) {
        let info = self
            .info
            .get_or_insert_with(|| Box::new(InstructionInfoFactory::new()))
            .info(ins);
        let mut sp_written = false;
        let mut written: Vec<usize> = Vec::new();
        for u in info.used_registers() {
            if matches!(
                u.access(),
                OpAccess::Write
                    | OpAccess::CondWrite
                    | OpAccess::ReadWrite
                    | OpAccess::ReadCondWrite
            ) {
                if let Some((i, _)) = gpr(u.register()) {
                    if i == RSP {
                        sp_written = true;
                    } else {
                        written.push(i);
                    }
                }
            }
        }
        let mem_writes: Vec<(Register, Register)> = info
            .used_memory()
            .iter()
            .filter(|m| {
                matches!(
                    m.access(),
                    OpAccess::Write
                        | OpAccess::CondWrite
                        | OpAccess::ReadWrite
                        | OpAccess::ReadCondWrite
                )
            })
            .map(|m| (m.base(), m.index()))
            .collect();
        for (base, _) in mem_writes {
            if matches!(base, Register::RIP | Register::EIP | Register::None) {
                if ins.op0_kind() == OpKind::Memory {
                    let at = self.mem_addr(st, ins);
                    self.note_store(at, ins.memory_size().size() as u32, &Val::Top);
                }
                continue;
            }
            if let Some((bi, _)) = gpr(base) {
                match st.regs[bi] {
                    Val::Param(Loc::Reg(r)) => {
                        // The explicit destination operand has a known field; an implicit
                        // store (string instructions) may write anywhere behind the pointer.
                        let at = if ins.op0_kind() == OpKind::Memory && ins.memory_base() == base {
                            self.mem_addr(st, ins)
                        } else {
                            MemAddr::ParamIndexed(r)
                        };
                        self.note_store(at, ins.memory_size().size() as u32, &Val::Top);
                    }
                    Val::Param(Loc::Global(g, _)) => {
                        let at = if ins.op0_kind() == OpKind::Memory && ins.memory_base() == base {
                            self.mem_addr(st, ins)
                        } else {
                            MemAddr::GlobalDeref(g, i32::MIN as i64)
                        };
                        self.note_store(at, ins.memory_size().size() as u32, &Val::Top);
                    }
                    _ => {}
                }
                if let Val::Sp { base: b, .. } = st.regs[bi] {
                    if ins.op0_kind() == OpKind::Memory {
                        let size = ins.memory_size().size() as u32;
                        match self.mem_addr(st, ins) {
                            MemAddr::Stack(fb, off) => st.write_slot(
                                Slot {
                                    base: fb,
                                    off,
                                    size: size.clamp(1, 255) as u8,
                                },
                                Val::Top,
                            ),
                            _ => st.forget_base(b),
                        }
                    } else {
                        st.forget_base(b);
                    }
                }
            }
        }
        for i in written {
            st.regs[i] = Val::Top;
        }
        if sp_written {
            st.regs[RSP] = self.fresh_base();
        }
    }
}

fn is_high_byte(r: Register) -> bool {
    matches!(r, Register::AH | Register::BH | Register::CH | Register::DH)
}

fn arith(m: Mnemonic, a: &Val, b: &Val, width: u32) -> Val {
    use Mnemonic as M;
    // Stack pointer arithmetic.
    if let (Val::Sp { base, off }, Val::Const(c)) = (a, b) {
        return match m {
            M::Add => Val::Sp {
                base: *base,
                off: off.wrapping_add(*c as i64),
            },
            M::Sub => Val::Sp {
                base: *base,
                off: off.wrapping_sub(*c as i64),
            },
            _ => Val::Top,
        };
    }
    let op: fn(u64, u64) -> Option<u64> = match m {
        M::Add => |x, y| Some(x.wrapping_add(y)),
        M::Sub => |x, y| Some(x.wrapping_sub(y)),
        M::And => |x, y| Some(x & y),
        M::Or => |x, y| Some(x | y),
        M::Xor => |x, y| Some(x ^ y),
        M::Shl => |x, y| Some(x.wrapping_shl((y & 63) as u32)),
        M::Shr => |x, y| Some(x.wrapping_shr((y & 63) as u32)),
        M::Sar => |x, y| Some(((x as i64).wrapping_shr((y & 63) as u32)) as u64),
        M::Imul => |x, y| Some(x.wrapping_mul(y)),
        _ => return Val::Top,
    };
    // Operate at the operand width: sign-extend 32-bit values for shifts, then truncate.
    a.arith(b, op).truncate(width)
}

enum MemAddr {
    Stack(u32, i64),
    StackIndexed(u32),
    Abs(u64),
    /// `[entry value of a register + off]`.
    ParamDeref(u8, i64),
    /// Through a register holding a parameter pointer, with an index.
    ParamIndexed(u8),
    /// `[content of a global + off]`.
    GlobalDeref(u64, i64),
    Unknown,
}
