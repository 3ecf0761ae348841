//! The architecture boundary: everything that knows an instruction set lives behind [`Arch`].
//! Function discovery, the summary model and the call graph are architecture-neutral.

pub mod x86_64;

use foldhash::{HashMap, HashSet};

use dockergate_elf::{ElfObject, Reloc, RelocKind};

use crate::summary::{FnAbi, Loc, SyscallSite, ValueSet};

/// What one instruction references, for function discovery.
#[derive(Clone, Debug, Default)]
pub struct InsnRefs {
    /// A direct branch: target and whether it is a call.
    pub branch: Option<(u64, BranchKind)>,
    /// Code addresses the instruction materialises (address taken).
    pub code_addrs: Vec<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchKind {
    Call,
    Jump,
    CondJump,
}

/// A call target before functions are numbered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawTarget {
    Addr(u64),
    Symbol(u32),
    Indirect,
}

/// A call site before functions are numbered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawCall {
    pub addr: u64,
    pub target: RawTarget,
    pub tail: bool,
    pub args: Vec<(Loc, ValueSet)>,
    /// False when only the state-free pass ran: `args` is empty, not "all unknown".
    pub args_known: bool,
    /// Constant identifier strings passed (a name a lookup function may resolve).
    pub strings: Vec<(Loc, String)>,
}

/// What the data flow of one function finds.
#[derive(Clone, Debug, Default)]
pub struct FunctionFacts {
    pub syscalls: Vec<SyscallSite>,
    pub calls: Vec<RawCall>,
    pub addr_taken: Vec<u64>,
    /// Data addresses the code refers to.
    pub data_refs: Vec<u64>,
    /// Data addresses materialised as pointers (`lea`, immediates): their content may be
    /// written by other code.
    pub escaped_data: Vec<u64>,
    /// Stores into fixed data addresses.
    pub global_stores: Vec<crate::summary::GlobalStore>,
    /// Fields written through a global pointer: (global, offset; `i32::MIN` for any).
    pub global_deref_writes: Vec<(u64, i32)>,
    /// Global loads: (address, width) read as `Loc::Global`.
    pub global_loads: Vec<(u64, u8)>,
    pub symbols_taken: Vec<u32>,
    pub falls_through: bool,
    pub instructions: u64,
}

/// How control leaves a function.
#[derive(Clone, Debug, Default)]
pub struct FnExits {
    pub returns: bool,
    pub tail_targets: Vec<RawTarget>,
}

/// A function to analyse: its range and what else is known of it.
#[derive(Clone, Debug)]
pub struct FnPlan {
    pub entry: u64,
    pub end: u64,
    pub abi: FnAbi,
    /// Addresses inside the range that other functions branch to: control arrives there from
    /// unknown states.
    pub interior_entries: Vec<u64>,
}

/// What a pointer-sized slot in memory holds once relocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotTarget {
    Symbol(u32),
    Code(u64),
    /// An IFUNC resolver's address: the slot will hold whatever it returns.
    IfuncResolver(u64),
    Unknown,
}

/// The object-level facts every architecture's analysis reads.
pub struct CodeContext<'a> {
    pub elf: &'a ElfObject,
    pub data: &'a [u8],
    /// Executable ranges `[start, end)` backed by file bytes, sorted.
    pub code_ranges: Vec<(u64, u64)>,
    pub relocs: HashMap<u64, Reloc>,
    /// The object is position-dependent (`ET_EXEC`): immediates may be absolute addresses.
    pub absolute: bool,
    /// Entries of this object's functions that never return (no `ret`, no tail call to a
    /// function that returns): control does not continue after a call to them.
    pub noreturn: HashSet<u64>,
    /// Dynamic symbols (by index) of functions known never to return (`abort`, `exit`…).
    pub noreturn_symbols: HashSet<u32>,
    /// Go functions (entry → declared argument-area size, see [`crate::go`]): how much of its
    /// caller's frame a call may write.
    pub go_args: HashMap<u64, i32>,
    /// Lazy PLT entries get their data flow's facts without running it (see
    /// `x86_64::Flow::record_lazy_plt_entry`); off only to test that both agree.
    pub plt_shortcut: bool,
}

/// Library functions that never return, by name (C library, C++ runtime, unwinder).
pub const NORETURN_NAMES: &[&str] = &[
    "abort",
    "exit",
    "_exit",
    "_Exit",
    "quick_exit",
    "__libc_fatal",
    "__stack_chk_fail",
    "__stack_chk_fail_local",
    "__assert_fail",
    "__assert_perror_fail",
    "__fortify_fail",
    "__chk_fail",
    "pthread_exit",
    "longjmp",
    "_longjmp",
    "siglongjmp",
    "__longjmp_chk",
    "err",
    "errx",
    "verr",
    "verrx",
    "__cxa_throw",
    "__cxa_rethrow",
    "__cxa_bad_cast",
    "__cxa_bad_typeid",
    "__cxa_throw_bad_array_new_length",
    "_Unwind_Resume",
    "__cxa_call_unexpected",
    "_ZSt9terminatev",
    "__cxa_pure_virtual",
    "__libc_start_main",
    "thrd_exit",
    "__go_panic",
];

impl CodeContext<'_> {
    /// Does a call to `target` never come back?
    pub fn call_never_returns(&self, target: RawTarget) -> bool {
        match target {
            RawTarget::Addr(a) => self.noreturn.contains(&a),
            RawTarget::Symbol(s) => self.noreturn_symbols.contains(&s),
            RawTarget::Indirect => false,
        }
    }
}

/// Whether `addr` lies in one of `ranges` (`[start, end)`, sorted and disjoint).
pub(crate) fn in_ranges(ranges: &[(u64, u64)], addr: u64) -> bool {
    let i = ranges.partition_point(|r| r.0 <= addr);
    i > 0 && addr < ranges[i - 1].1
}

impl<'a> CodeContext<'a> {
    pub fn is_code(&self, addr: u64) -> bool {
        in_ranges(&self.code_ranges, addr)
    }

    /// Whether the pointer-sized word at `addr` keeps the value the loader gave it: a GOT slot
    /// (GLOB_DAT, JUMP_SLOT and IRELATIVE relocations are only made for GOT entries), RELRO data
    /// (`.data.rel.ro`), a read-only section. A call through any other word (a writable
    /// function-pointer variable with an initial value) may go wherever the program stores
    /// later, not only to the initial target.
    pub fn slot_is_fixed(&self, addr: u64) -> bool {
        if let Some(r) = self.relocs.get(&addr) {
            if matches!(
                r.kind,
                RelocKind::JumpSlot | RelocKind::GlobDat | RelocKind::IRelative
            ) {
                return true;
            }
        }
        self.elf
            .sections
            .iter()
            .find(|s| s.alloc && addr >= s.addr && addr < s.addr + s.size)
            .is_some_and(|s| {
                !s.writable
                    || s.name == ".got"
                    || s.name == ".got.plt"
                    || s.name.starts_with(".data.rel.ro")
            })
    }

    /// What the pointer slot at `addr` holds at run time.
    pub fn slot_target(&self, addr: u64) -> SlotTarget {
        if let Some(r) = self.relocs.get(&addr) {
            return match r.kind {
                RelocKind::JumpSlot | RelocKind::GlobDat | RelocKind::Absolute if r.sym != 0 => {
                    SlotTarget::Symbol(r.sym)
                }
                RelocKind::Relative | RelocKind::Absolute if self.is_code(r.addend as u64) => {
                    SlotTarget::Code(r.addend as u64)
                }
                RelocKind::IRelative if self.is_code(r.addend as u64) => {
                    SlotTarget::IfuncResolver(r.addend as u64)
                }
                _ => SlotTarget::Unknown,
            };
        }
        // No relocation: the link-time value is the run-time value (position-dependent code).
        if self.absolute || !self.elf.has_dynamic {
            if let Some(v) = self.elf.u64_at(self.data, addr) {
                if self.is_code(v) {
                    return SlotTarget::Code(v);
                }
            }
        }
        SlotTarget::Unknown
    }

    /// The bytes of a code range.
    pub fn code_bytes(&self, start: u64, end: u64) -> Option<&'a [u8]> {
        let off = self.elf.vaddr_to_offset(start)? as usize;
        let len = usize::try_from(end.checked_sub(start)?).ok()?;
        self.data.get(off..off.checked_add(len)?)
    }
}

/// An instruction set: decoding, references for discovery, and per-function data flow.
pub trait Arch: Sync {
    type Insn: Clone + Send + Sync;

    fn name(&self) -> &'static str;
    /// Name of a register number used in [`Loc::Reg`].
    fn reg_name(&self, r: u8) -> &'static str;
    /// Decodes `code` (at `addr`) linearly, appending to `out`.
    fn decode(&self, code: &[u8], addr: u64, out: &mut Vec<Self::Insn>);
    /// An empty buffer for [`Arch::decode`]; an implementation may hand out the memory of the
    /// last object's buffer given back to [`Arch::recycle_insn_buffer`] on the same thread.
    fn insn_buffer(&self) -> Vec<Self::Insn> {
        Vec::new()
    }
    /// Gives a buffer back for the next object on this thread.
    fn recycle_insn_buffer(&self, _buf: Vec<Self::Insn>) {}
    /// Where a C call passes its first integer argument (the number, for `syscall()`).
    fn first_arg(&self) -> Loc;
    fn insn_addr(&self, i: &Self::Insn) -> u64;
    fn insn_end(&self, i: &Self::Insn) -> u64;
    /// Whether the straight-line start of a candidate function looks like code (no invalid or
    /// privileged instructions before the first unconditional transfer).
    fn plausible_code(&self, insns: &[Self::Insn]) -> bool;
    /// Alignment padding between functions (nops, traps, zero bytes).
    fn is_padding(&self, i: &Self::Insn) -> bool;
    /// Direct branches and code addresses an instruction holds.
    fn insn_refs(&self, ctx: &CodeContext<'_>, i: &Self::Insn) -> InsnRefs;
    /// How control leaves a function's instructions: whether it can return, and the targets
    /// of its tail jumps out of `[entry, end)` (`None` for an indirect one).
    fn exits(&self, ctx: &CodeContext<'_>, insns: &[Self::Insn], entry: u64, end: u64) -> FnExits;
    /// The state-free pass over one function: everything but syscall numbers and call arguments.
    fn skeleton_function(
        &self,
        ctx: &CodeContext<'_>,
        insns: &[Self::Insn],
        plan: &FnPlan,
    ) -> FunctionFacts;
    /// Data flow over one function's instructions (in address order).
    fn analyze_function(
        &self,
        ctx: &CodeContext<'_>,
        insns: &[Self::Insn],
        plan: &FnPlan,
    ) -> FunctionFacts;
}
