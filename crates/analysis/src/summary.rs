//! The result of analysing one object: everything that depends only on the file's bytes. It is
//! what the cache stores and what the call graph consumes; nothing here knows about other
//! objects, so cross-object edges are named by dynamic symbol index and bound later.

use serde::{Deserialize, Serialize};

/// Where a value is at a function's entry: a register (architecture numbering, see
/// [`crate::arch::Arch::reg_name`]) or a stack slot at `entry_sp + offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Loc {
    Reg(u8),
    Stack(i32),
    /// The memory at `[entry value of register + offset]`: a field of a structure the caller
    /// passed by pointer (e.g. glibc's `struct xid_command` for the setxid broadcast).
    RegDeref(u8, i32),
    /// The value returned by the call at this address (in the same function): known when the
    /// call names a syscall with a constant string (libseccomp resolves "seccomp" by name).
    Ret(u64),
    /// The content of a global variable of this object (address, width in bytes): whatever
    /// reachable code of the object stores there, or its initial value.
    Global(u64, u8),
    /// The memory at `[content of global + offset]`: a structure published through a global
    /// pointer (e.g. glibc's `__xidcmd`, read by the SIGSETXID handler).
    GlobalDeref(u64, i32),
}

/// One possible value: a constant, or whatever the caller put in a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Atom {
    Const(u64),
    Param(Loc),
}

/// The values a location may hold at a point: a finite set of atoms, plus `unknown` when some
/// path gives a value data flow cannot tell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ValueSet {
    pub atoms: Atoms,
    pub unknown: bool,
}

/// The atoms of a value set: most hold one (a constant, or what the caller passed), kept inline
/// rather than in an allocation of its own (a PLT stub passes eighteen such values on). Encoded
/// as a sequence, as a `Vec` is.
pub type Atoms = smallvec::SmallVec<[Atom; 1]>;

impl ValueSet {
    pub fn unknown() -> Self {
        ValueSet {
            atoms: Atoms::new(),
            unknown: true,
        }
    }
    pub fn is_resolved(&self) -> bool {
        !self.unknown
    }
}

/// Which kernel entry a syscall instruction uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SyscallAbi {
    /// The architecture's native 64-bit entry (`syscall` on x86-64, `svc #0` on aarch64).
    Native,
    /// The 32-bit compat entry of x86-64 (`int 0x80`, `sysenter`): numbers from the i386 table.
    I386,
}

/// A syscall instruction and the numbers it may issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallSite {
    pub addr: u64,
    pub abi: SyscallAbi,
    pub number: ValueSet,
}

/// Where a call goes, as far as this object alone can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CallTarget {
    /// A function of this object (index into [`ObjectSummary::functions`]).
    Local(u32),
    /// Through the PLT or GOT: the dynamic symbol with this index, bound by the loader model.
    Symbol(u32),
    /// Through a register or memory we cannot resolve: any address-taken function.
    Indirect,
}

/// A call or tail jump, with the values it passes in argument locations (relative to the
/// callee's entry; locations whose value is unknown are left out).
///
/// Most calls pass nothing data flow could tell (libLLVM: 1 in 800), so what they pass is kept
/// behind one pointer: a call takes 32 bytes instead of 72, which matters for objects with a
/// million calls and for the reachability walk, which reads every call of every reached function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSite {
    pub addr: u64,
    pub target: CallTarget,
    pub tail: bool,
    /// Whether data flow computed what the call passes. When false, the values passed are not
    /// known yet (the function was only skimmed); [`crate::complete_functions`] computes them.
    pub args_known: bool,
    passed: Option<Box<Passed>>,
    /// The call passes every argument location on as the function received it, and nothing
    /// else: what it passes is [`pass_through_args`], not kept per call. (A PLT stub's jump
    /// does: half the calls whose values are known, a tenth of a summary's bytes.)
    through: bool,
}

/// What a tail jump made at a function's entry passes: each argument register and stack
/// argument as the function received it (the registers and stack slots a callee may read its
/// arguments from, in the order data flow lists them).
pub fn pass_through_args() -> &'static [(Loc, ValueSet)] {
    static ARGS: std::sync::LazyLock<Vec<(Loc, ValueSet)>> = std::sync::LazyLock::new(|| {
        let regs = [0u8, 1, 2, 3, 6, 7, 8, 9, 10, 11].map(Loc::Reg);
        let stack = (1..=8).map(|k| Loc::Stack(8 * k));
        regs.into_iter()
            .chain(stack)
            .map(|l| {
                (
                    l,
                    ValueSet {
                        atoms: smallvec::smallvec![Atom::Param(l)],
                        unknown: false,
                    },
                )
            })
            .collect()
    });
    &ARGS
}

/// What a call passes that data flow could tell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Passed {
    args: Vec<(Loc, ValueSet)>,
    /// Constant identifier strings the call passes (e.g. a syscall name given to a lookup).
    strings: Vec<(Loc, String)>,
}

impl CallSite {
    pub fn new(
        addr: u64,
        target: CallTarget,
        tail: bool,
        args_known: bool,
        args: Vec<(Loc, ValueSet)>,
        strings: Vec<(Loc, String)>,
    ) -> CallSite {
        let through = strings.is_empty() && args == pass_through_args();
        let passed = (!through && (!args.is_empty() || !strings.is_empty()))
            .then(|| Box::new(Passed { args, strings }));
        CallSite {
            addr,
            target,
            tail,
            args_known,
            passed,
            through,
        }
    }

    /// The values passed in argument locations (locations whose value is unknown are left out).
    pub fn args(&self) -> &[(Loc, ValueSet)] {
        if self.through {
            return pass_through_args();
        }
        self.passed.as_ref().map_or(&[], |p| &p.args)
    }

    /// Constant identifier strings the call passes (e.g. a syscall name given to a lookup).
    pub fn strings(&self) -> &[(Loc, String)] {
        self.passed.as_ref().map_or(&[], |p| &p.strings)
    }

    /// The values passed in `loc`, when the call site recorded them.
    pub fn arg_opt(&self, loc: Loc) -> Option<&ValueSet> {
        self.args().iter().find(|(l, _)| *l == loc).map(|(_, v)| v)
    }

    /// The values passed in `loc` (unknown when not recorded).
    pub fn arg(&self, loc: Loc) -> ValueSet {
        self.arg_opt(loc).cloned().unwrap_or_else(ValueSet::unknown)
    }

    /// Gives back spare capacity.
    fn shrink_to_fit(&mut self) {
        if let Some(p) = &mut self.passed {
            for (_, v) in &mut p.args {
                v.atoms.shrink_to_fit();
            }
            p.args.shrink_to_fit();
            p.strings.shrink_to_fit();
        }
    }
}

/// The calling convention of a function, which decides what a call clobbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FnAbi {
    /// System V (C, C++, Rust): callee-saved registers survive calls.
    SysV,
    /// Go (ABIInternal/ABI0): nothing survives a call but the stack pointer.
    Go,
}

/// How a function was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FnOrigin {
    Symbol,
    EhFrame,
    GoPclntab,
    Plt,
    Entry,
    InitFini,
    CallTarget,
    AddressTaken,
    /// Code between known functions, scanned so that nothing is missed.
    Gap,
}

/// One function of the object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    pub entry: u64,
    pub end: u64,
    pub name: Option<String>,
    pub origin: FnOrigin,
    pub abi: FnAbi,
    pub syscalls: Vec<SyscallSite>,
    pub calls: Vec<CallSite>,
    /// Functions of this object whose address this function's code takes.
    pub addr_taken: Vec<u32>,
    /// Dynamic symbols whose address this function's code loads (not to call them directly).
    pub symbols_taken: Vec<u32>,
    /// Stores into global variables (only in functions whose data flow ran).
    pub global_stores: Vec<GlobalStore>,
    /// Data regions (indexes into [`ObjectSummary::regions`]) this function's code refers to.
    pub data_refs: Vec<u32>,
    /// Control may run off the end into the next function (no terminator, extent not known).
    pub falls_through: bool,
}

/// A stretch of the object's data between two addresses something refers to: the unit in which
/// function pointers stored in data become live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRegion {
    pub start: u64,
    pub end: u64,
    /// Functions whose address is stored in this region.
    pub functions: Vec<u32>,
    /// Other regions this region points to.
    pub regions: Vec<u32>,
    /// Live whenever the object is loaded (exported data other objects may reach, init arrays).
    pub always_live: bool,
    /// The next region follows it in the same section (it ends at a label, not a section end).
    pub continues: bool,
}

/// A store into a global variable of the object, as the data flow saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalStore {
    pub addr: u64,
    pub size: u8,
    pub value: ValueSet,
    /// False when the function was only skimmed: the value is not known yet.
    pub known: bool,
}

/// Counters for reports and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalysisStats {
    pub code_bytes: u64,
    pub instructions: u64,
    pub functions: u64,
    pub syscall_sites: u64,
    /// Referenced code-section ranges that do not decode as code (tables), left unanalysed.
    pub data_in_code: u64,
    /// Functions whose data flow ran (the others were only skimmed).
    pub full_dataflow: u64,
}

/// Everything the analysis learns from one object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSummary {
    /// Sorted by entry address.
    pub functions: Vec<Function>,
    /// The entry point (`e_entry`) when it is code.
    pub entry: Option<u32>,
    /// `DT_PREINIT_ARRAY`, `DT_INIT`, `DT_INIT_ARRAY`, `DT_FINI_ARRAY`, `DT_FINI` functions.
    pub init_fini: Vec<u32>,
    /// Functions whose address is stored in data outside every region: live whenever loaded.
    pub data_addr_taken: Vec<u32>,
    /// The object's data, split at every address something refers to. A region is live when
    /// reachable code refers to it, another live region points to it, or it is always live; the
    /// functions whose addresses it stores are then possible targets of indirect calls.
    pub regions: Vec<DataRegion>,
    /// Global variables whose value data flow may follow: (address, width, initial value). A
    /// global is left out when its address escapes (taken by `lea`, stored in data, exported):
    /// then other code may write it.
    pub globals: Vec<(u64, u8, u64)>,
    /// Fields written through global pointers anywhere in the object: (global, offset;
    /// `i32::MIN` for any). Reading such a field through the global is not resolved.
    pub global_deref_writes: Vec<(u64, i32)>,
    /// Dynamic symbols and local functions named in [`crate::STRING_ARG_IMPORTS`] (sorted).
    pub named_symbols: Vec<u32>,
    pub named_functions: Vec<u32>,
    /// For each function, its callers in this object: (function, call index).
    pub callers: Vec<Vec<(u32, u32)>>,
    /// Dynamic symbols whose address is stored in data (`R_X86_64_64` and the like).
    pub data_symbols_taken: Vec<u32>,
    /// Exported functions: (dynamic symbol index, function index).
    pub exports: Vec<(u32, u32)>,
    pub stats: AnalysisStats,
    pub warnings: Vec<String>,
}

impl ObjectSummary {
    /// Gives back the spare capacity of every vector: summaries of a whole image stay in
    /// memory together (what a deserialised summary takes, not what building it reserved).
    pub fn shrink_to_fit(&mut self) {
        for f in &mut self.functions {
            for c in &mut f.calls {
                c.shrink_to_fit();
            }
            f.calls.shrink_to_fit();
            f.syscalls.shrink_to_fit();
            f.addr_taken.shrink_to_fit();
            f.symbols_taken.shrink_to_fit();
            f.global_stores.shrink_to_fit();
            f.data_refs.shrink_to_fit();
        }
        self.functions.shrink_to_fit();
        for r in &mut self.regions {
            r.functions.shrink_to_fit();
            r.regions.shrink_to_fit();
        }
        self.regions.shrink_to_fit();
        for c in &mut self.callers {
            c.shrink_to_fit();
        }
        self.callers.shrink_to_fit();
    }

    /// The function whose range holds `addr`.
    pub fn function_at(&self, addr: u64) -> Option<u32> {
        let i = self.functions.partition_point(|f| f.entry <= addr);
        if i == 0 {
            return None;
        }
        let f = &self.functions[i - 1];
        (addr < f.end.max(f.entry + 1)).then_some((i - 1) as u32)
    }

    /// A readable name for a function: its symbol, or `fn_ADDR`.
    pub fn function_name(&self, idx: u32) -> String {
        let f = &self.functions[idx as usize];
        f.name
            .clone()
            .unwrap_or_else(|| format!("fn_{:x}", f.entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_passing_everything_through_reads_as_the_values_it_was_given() {
        let through = CallSite::new(
            0x1000,
            CallTarget::Symbol(3),
            true,
            true,
            pass_through_args().to_vec(),
            Vec::new(),
        );
        assert!(through.through && through.passed.is_none());
        assert_eq!(through.args(), pass_through_args());
        assert_eq!(
            through.arg(Loc::Reg(7)).atoms[..],
            [Atom::Param(Loc::Reg(7))]
        );
        assert_eq!(
            through.arg(Loc::Stack(64)).atoms[..],
            [Atom::Param(Loc::Stack(64))]
        );
        assert!(through.arg(Loc::Reg(4)).unknown);
        // Anything else is kept as given: one value fewer, one more, or a string as well.
        let mut fewer = pass_through_args().to_vec();
        fewer.pop();
        let mut more = pass_through_args().to_vec();
        more.push((Loc::Stack(72), ValueSet::unknown()));
        for (args, strings) in [
            (fewer, vec![]),
            (more, vec![]),
            (
                pass_through_args().to_vec(),
                vec![(Loc::Reg(7), "x".to_string())],
            ),
        ] {
            let c = CallSite::new(
                0x1000,
                CallTarget::Local(1),
                true,
                true,
                args.clone(),
                strings,
            );
            assert!(!c.through);
            assert_eq!(c.args(), &args[..]);
        }
        let text = serde_json::to_string(&through).unwrap();
        assert_eq!(serde_json::from_str::<CallSite>(&text).unwrap(), through);
    }
}
