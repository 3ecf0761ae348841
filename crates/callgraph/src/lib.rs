//! `dockergate-callgraph`: which code of a program can run, and which syscalls it can make.
//!
//! Input: a program as the loader model sets it up ([`LoadedProgram`] and its [`Bindings`]) and
//! the per-object [`ObjectSummary`] of each of its objects. Reachability starts at the roots —
//! the program's entry, the interpreter's entry, every object's init/fini functions, and for a
//! plugin its exported functions — and follows:
//! - direct calls and tail jumps inside an object;
//! - calls through the PLT/GOT, to the function that the loader model binds the symbol to
//!   (an IFUNC binding reaches its resolver, and the candidates it returns via the indirect rule);
//! - indirect calls: once any reachable code makes one, every *live* address-taken function is
//!   reachable. A function is live when its address is stored in the data of a loaded object,
//!   or taken by code that is itself reachable (a `lea` in a function nobody runs takes nothing).
//!
//! Being exported is not being called: a library's exports are reached only through bindings,
//! address-taking, or as plugin roots.
//!
//! Syscall numbers that come from a caller (`syscall(SYS_x)`, internal wrappers) are resolved
//! through the reachable call sites, transitively; a site whose number stays unknown is reported
//! as unresolved with a witness chain.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

// A fast hasher: the traversal looks functions up by id millions of times per image.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::sync::Arc;

use dockergate_analysis::{Atom, CallTarget, Loc, ObjectSummary, SyscallAbi, ValueSet};
use dockergate_elf::SymKind;
use dockergate_loader::{Binding, Bindings, LoadedProgram};
use serde::{Deserialize, Serialize};

/// A region shorter than this also makes the next one live (see `make_region_live`).
const SHORT_REGION: u64 = 64;

/// What the roots of a program are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramKind {
    /// An executable: its entry point and the interpreter's.
    Executable,
    /// A shared object loaded by `dlopen`: its exported functions are callable by the host.
    Plugin,
    /// Only the exported functions named in [`ProgramGraph::analyze_exports`] (no entry point,
    /// no init/fini): what calling those functions can reach. For tests and `explain`.
    Exports,
}

/// A function of one object of the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FnId {
    pub obj: u32,
    pub func: u32,
}

/// `ProgramGraph::reason_at` of a function not reached.
const NOT_REACHED: u32 = u32::MAX;

/// Why a function is reachable: the first way the traversal found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    Entry,
    Interpreter,
    InitFini,
    Export,
    Call {
        from: FnId,
        site: u64,
    },
    Indirect {
        from: FnId,
        site: u64,
        taken_by: Option<FnId>,
    },
}

/// One step of a witness chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub object: String,
    pub function: String,
    pub address: String,
    /// How this function was reached from the previous step.
    pub via: String,
}

/// Why a syscall is allowed: a chain from a root to the syscall instruction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    pub chain: Vec<Step>,
    /// The syscall instruction: object and address.
    pub site: String,
    /// When the number comes from a caller: the call site that passes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_from: Option<String>,
    /// The witness as the traversal found it, not made into text yet (`chain` and `site` are
    /// empty meanwhile): see [`ProgramGraph::analyze_unit`] and [`Witness::rendered`].
    #[serde(skip)]
    pub pending: Option<Box<WitnessPath>>,
}

/// A witness chain as the traversal found it: each function from the root to the one with the
/// site (or to the caller passing the number) and how it was reached, the site, and the call
/// that passes the number. A few words per step, where the text takes a few strings; most
/// programs' witnesses are never printed (the first program in path order making a syscall
/// gives its witness), so the text is made only for those that are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessPath {
    steps: Vec<(FnId, Option<Reason>)>,
    /// Object and address of the syscall instruction.
    site: (u32, u64),
    /// The function whose call passes the number, and the call's address.
    number_from: Option<(FnId, u64)>,
}

impl Witness {
    fn pending(path: WitnessPath) -> Witness {
        Witness {
            chain: Vec::new(),
            site: String::new(),
            number_from: None,
            pending: Some(Box::new(path)),
        }
    }

    /// The witness with its text made, from the program and the summaries (in load order) the
    /// analysis that found it read.
    pub fn rendered(&self, program: &LoadedProgram, summaries: &[Arc<ObjectSummary>]) -> Witness {
        let Some(p) = &self.pending else {
            return self.clone();
        };
        let path = |obj: u32| object_path(program, obj).to_string();
        Witness {
            chain: render_chain(&p.steps, program, summaries),
            site: format!("{} {:#x}", path(p.site.0), p.site.1),
            number_from: p
                .number_from
                .map(|(caller, addr)| format!("{} passes it at {addr:#x}", path(caller.obj))),
            pending: None,
        }
    }
}

/// The object's canonical path in the image (one name per file, whatever path loaded it).
fn object_path(program: &LoadedProgram, obj: u32) -> &str {
    program
        .objects
        .get(obj as usize)
        .map_or("?", |o| o.real_path.as_str())
}

/// The text of a chain of (function, how it was reached) steps.
fn render_chain(
    steps: &[(FnId, Option<Reason>)],
    program: &LoadedProgram,
    summaries: &[Arc<ObjectSummary>],
) -> Vec<Step> {
    let name = |f: FnId| {
        summaries
            .get(f.obj as usize)
            .map_or_else(|| "?".to_string(), |s| s.function_name(f.func))
    };
    steps
        .iter()
        .map(|&(f, reason)| {
            let via = match reason {
                Some(Reason::Entry) => "program entry point".to_string(),
                Some(Reason::Interpreter) => "dynamic loader entry point".to_string(),
                Some(Reason::InitFini) => "init/fini function of its object".to_string(),
                Some(Reason::Export) => "exported by a plugin (callable by its host)".to_string(),
                Some(Reason::Call { site, .. }) => format!("called at {site:#x}"),
                Some(Reason::Indirect { site, taken_by, .. }) => match taken_by {
                    Some(t) => format!(
                        "indirect call at {site:#x} (address taken in {} of {})",
                        name(t),
                        object_path(program, t.obj)
                    ),
                    None => format!("indirect call at {site:#x} (address stored in data)"),
                },
                None => "?".to_string(),
            };
            let entry = summaries
                .get(f.obj as usize)
                .and_then(|s| s.functions.get(f.func as usize))
                .map_or(0, |func| func.entry);
            Step {
                object: object_path(program, f.obj).to_string(),
                function: name(f),
                address: format!("{entry:#x}"),
                via,
            }
        })
        .collect()
}

/// A reachable call to a function whose string arguments matter (exec, dlopen…).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCall {
    /// The callee's name (`execve`, `dlopen`…).
    pub callee: String,
    pub object: String,
    pub function: String,
    pub address: String,
    /// Constant strings passed, by argument location.
    pub strings: Vec<(Loc, String)>,
    /// The argument locations that hold non-constant values (a path computed at run time).
    pub unknown_args: Vec<Loc>,
    /// False when the call site's values are not known (the analysis did not complete it).
    pub args_known: bool,
}

/// A reachable syscall site whose number could not be determined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnresolvedSite {
    /// The program or plugin in which the site is reachable (the first one, in path order).
    pub program: String,
    pub object: String,
    pub function: String,
    pub address: String,
    pub abi: String,
    pub chain: Vec<Step>,
}

/// What the analysis of one program finds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProgramSyscalls {
    /// Native syscall numbers with one witness each.
    pub native: BTreeMap<u64, Witness>,
    /// 32-bit compat (`int 0x80`) syscall numbers.
    pub compat32: BTreeMap<u64, Witness>,
    pub unresolved: Vec<UnresolvedSite>,
    pub reachable_functions: usize,
    pub total_functions: usize,
    /// Reachable functions per object of the program (in load order), e.g. of a Go binary.
    pub reachable_by_object: Vec<usize>,
    pub makes_indirect_calls: bool,
    /// Reachable calls to exec-, spawn-, shell- and dlopen-like functions (by the callee's
    /// name, see `dockergate_analysis::STRING_ARG_IMPORTS`), with the strings they pass.
    pub named_calls: Vec<NamedCall>,
    /// Plugin exports whose parameters would be syscall numbers: "object function".
    pub plugin_export_params: Vec<String>,
    /// Call sites whose argument values were needed but not computed (only skimmed): the
    /// functions (object index in the program, function index) to complete and re-analyse.
    pub args_needed: Vec<(u32, u32)>,
    /// The witnesses were left out (see [`ProgramSyscalls::without_witnesses`]): every other
    /// field is whole; a witness, when needed, comes from analysing the program again.
    #[serde(default)]
    pub witnesses_left_out: bool,
}

impl ProgramSyscalls {
    /// The result without its witness chains (the bulk of it), except for the syscalls `keep`
    /// names: what is worth keeping for a program met again in another image.
    pub fn without_witnesses(&self, keep: impl Fn(SyscallAbi, u64) -> bool) -> ProgramSyscalls {
        let strip = |abi: SyscallAbi, m: &BTreeMap<u64, Witness>| -> BTreeMap<u64, Witness> {
            m.iter()
                .map(|(nr, w)| {
                    let w = if keep(abi, *nr) {
                        w.clone()
                    } else {
                        Witness {
                            chain: Vec::new(),
                            site: String::new(),
                            number_from: None,
                            pending: None,
                        }
                    };
                    (*nr, w)
                })
                .collect()
        };
        ProgramSyscalls {
            native: strip(SyscallAbi::Native, &self.native),
            compat32: strip(SyscallAbi::I386, &self.compat32),
            witnesses_left_out: true,
            ..self.clone()
        }
    }

    /// Makes the text of the pending witnesses of the syscalls `which` names, from the program
    /// and summaries the analysis read.
    pub fn render_witnesses(
        &mut self,
        program: &LoadedProgram,
        summaries: &[Arc<ObjectSummary>],
        which: impl Fn(SyscallAbi, u64) -> bool,
    ) {
        for (abi, map) in [
            (SyscallAbi::Native, &mut self.native),
            (SyscallAbi::I386, &mut self.compat32),
        ] {
            for (nr, w) in map.iter_mut() {
                if w.pending.is_some() && which(abi, *nr) {
                    *w = w.rendered(program, summaries);
                }
            }
        }
    }
}

/// What the call graph needs of the kernel's syscall tables.
pub trait SyscallNames: Sync {
    /// The number of the syscall named `name` in the native table.
    fn number(&self, name: &str) -> Option<u64>;
    /// Whether any table names `nr`. A value no table names fails with ENOSYS whatever the
    /// profile says: parameter resolution drops such values as it goes (the data flow of a
    /// function-pointer table can carry hundreds of them).
    fn names(&self, nr: u64) -> bool;
}

/// The analysis of one program.
pub struct ProgramGraph<'a> {
    program: &'a LoadedProgram,
    bindings: &'a Bindings,
    summaries: &'a [Arc<ObjectSummary>],
    /// First global index of each object's functions.
    base: Vec<usize>,
    /// Where each function is in `reached` (`NOT_REACHED` when it is not): four bytes per
    /// function of the program, where its reason takes forty: the traversal tests it at every
    /// edge.
    reason_at: Vec<u32>,
    /// Call edges into reached functions from other objects (through bindings): (callee,
    /// caller, call index), in the order the traversal met them, then (once it ends) grouped by
    /// callee in that order. Callers in the same object come from the summary's `callers`.
    incoming: Vec<(FnId, FnId, u32)>,
    live: Vec<bool>,
    /// First global index of each object's data regions, and which regions are live.
    region_base: Vec<usize>,
    region_live: Vec<bool>,
    /// The regions still to make live (kept between uses: most programs make thousands live).
    region_stack: Vec<u32>,
    /// Reached from a root, an indirect call or a fall-through (not only by direct calls): its
    /// parameters are unknown.
    unknown_entry: Vec<bool>,
    /// Reached through an indirect call.
    indirect_entry: Vec<bool>,
    /// An exported function of a plugin: its host calls it.
    export_entry: Vec<bool>,
    /// Plugin exports whose parameter feeds a syscall number (see `compute_param`).
    export_params: std::cell::RefCell<BTreeSet<FnId>>,
    /// Objects whose code or data holds each live function's address.
    takers: Vec<(FnId, u32)>,
    /// Reachable indirect call sites: (function, call index).
    indirect_sites: Vec<(FnId, usize)>,
    taken_by: HashMap<FnId, FnId>,
    indirect_from: Option<(FnId, u64)>,
    queue: VecDeque<FnId>,
    /// Every reached function, in the order reached, with why it is reachable (the first way
    /// the traversal found).
    reached: Vec<(FnId, Reason)>,
    /// The kernel's syscall tables: numbers by name (values returned by name lookups), and
    /// which numbers name a syscall at all.
    syscall_names: &'a dyn SyscallNames,
    args_needed: std::cell::RefCell<BTreeSet<FnId>>,
    /// The exported functions of the loaded objects by name (built at the first `dlsym`).
    exports_by_name: Option<HashMap<&'a str, Vec<(FnId, bool)>>>,
    /// Per object: the callees whose string arguments the analysis follows.
    named_callees: Vec<NamedCallees<'a>>,
}

/// The callees of one object whose string arguments the analysis follows
/// (`dockergate_analysis::STRING_ARG_IMPORTS`: imports, and PLT stubs of them), by name.
struct NamedCallees<'a> {
    /// Sorted by target; a few per object at most.
    list: Vec<(CallTarget, &'a str)>,
    /// Bitsets of the symbol and of the function indexes in `list`: most calls are to other
    /// callees, and one bit test tells.
    bits: [Vec<u64>; 2],
    /// Whether one is `dlsym` or `dlvsym`.
    looks_up: bool,
}

impl<'a> NamedCallees<'a> {
    fn of(program: &'a LoadedProgram, sm: &'a ObjectSummary, obj: usize) -> NamedCallees<'a> {
        let dynsym = &program.objects[obj].elf.dynsym;
        let mut list: Vec<(CallTarget, &'a str)> = sm
            .named_symbols
            .iter()
            .filter_map(|&s| Some((CallTarget::Symbol(s), dynsym.get(s as usize)?.name.as_str())))
            .chain(sm.named_functions.iter().filter_map(|&t| {
                let n = sm.functions.get(t as usize)?.name.as_deref()?;
                Some((CallTarget::Local(t), n.strip_suffix("@plt").unwrap_or(n)))
            }))
            .collect();
        list.sort_unstable();
        let mut bits: [Vec<u64>; 2] = Default::default();
        for (k, i) in list.iter().filter_map(|(t, _)| Self::bit(*t)) {
            if bits[k].len() <= i / 64 {
                bits[k].resize(i / 64 + 1, 0);
            }
            bits[k][i / 64] |= 1 << (i % 64);
        }
        let looks_up = list.iter().any(|(_, n)| *n == "dlsym" || *n == "dlvsym");
        NamedCallees {
            list,
            bits,
            looks_up,
        }
    }

    /// Which bitset and bit stand for a call target.
    fn bit(t: CallTarget) -> Option<(usize, usize)> {
        match t {
            CallTarget::Symbol(s) => Some((0, s as usize)),
            CallTarget::Local(f) => Some((1, f as usize)),
            CallTarget::Indirect => None,
        }
    }

    fn name(&self, target: CallTarget) -> Option<&'a str> {
        let (k, i) = Self::bit(target)?;
        if self.bits[k]
            .get(i / 64)
            .is_none_or(|w| w & (1 << (i % 64)) == 0)
        {
            return None;
        }
        let at = self.list.binary_search_by_key(&target, |e| e.0).ok()?;
        Some(self.list[at].1)
    }
}

impl<'a> ProgramGraph<'a> {
    /// Builds the graph and runs reachability.
    pub fn analyze(
        program: &'a LoadedProgram,
        bindings: &'a Bindings,
        summaries: &'a [Arc<ObjectSummary>],
        kind: ProgramKind,
        syscall_names: &'a dyn SyscallNames,
    ) -> ProgramSyscalls {
        let mut r = Self::analyze_unit(program, bindings, summaries, kind, syscall_names, false);
        r.render_witnesses(program, summaries, |_, _| true);
        r
    }

    /// [`ProgramGraph::analyze`] with the witnesses left pending: [`ProgramSyscalls::render_witnesses`]
    /// or [`Witness::rendered`] make the text of those that are printed. With `all_exports`, every
    /// exported function of every loaded object is a root called with unknown arguments
    /// (`--dlsym=all`: code that calls any export through `dlsym`, as ctypes does).
    pub fn analyze_unit(
        program: &'a LoadedProgram,
        bindings: &'a Bindings,
        summaries: &'a [Arc<ObjectSummary>],
        kind: ProgramKind,
        syscall_names: &'a dyn SyscallNames,
        all_exports: bool,
    ) -> ProgramSyscalls {
        Self::analyze_roots(
            program,
            bindings,
            summaries,
            kind,
            &[],
            syscall_names,
            all_exports,
        )
    }

    fn analyze_roots(
        program: &'a LoadedProgram,
        bindings: &'a Bindings,
        summaries: &'a [Arc<ObjectSummary>],
        kind: ProgramKind,
        root_exports: &[&str],
        syscall_names: &'a dyn SyscallNames,
        all_exports: bool,
    ) -> ProgramSyscalls {
        let mut base = Vec::with_capacity(summaries.len());
        let mut total = 0;
        for s in summaries {
            base.push(total);
            total += s.functions.len();
        }
        let mut g = ProgramGraph {
            program,
            bindings,
            summaries,
            base,
            reason_at: vec![NOT_REACHED; total],
            incoming: Vec::new(),
            live: vec![false; total],
            region_base: Vec::new(),
            region_live: Vec::new(),
            region_stack: Vec::new(),
            unknown_entry: vec![false; total],
            indirect_entry: vec![false; total],
            export_entry: vec![false; total],
            export_params: Default::default(),
            takers: Vec::new(),
            indirect_sites: Vec::new(),
            taken_by: HashMap::new(),
            indirect_from: None,
            queue: VecDeque::new(),
            reached: Vec::new(),
            syscall_names,
            args_needed: Default::default(),
            exports_by_name: None,
            named_callees: (0..summaries.len())
                .map(|obj| NamedCallees::of(program, &summaries[obj], obj))
                .collect(),
        };
        let mut rtotal = 0;
        for s in summaries {
            g.region_base.push(rtotal);
            rtotal += s.regions.len();
        }
        g.region_live = vec![false; rtotal];
        g.seed(kind);
        if all_exports {
            for (oi, s) in summaries.iter().enumerate() {
                for &(_, func) in &s.exports {
                    // Called by code we do not see, with arguments we do not know.
                    g.reach(
                        FnId {
                            obj: oi as u32,
                            func,
                        },
                        Reason::InitFini,
                    );
                }
            }
        }
        for name in root_exports {
            let s = &summaries[0];
            let elf = &program.objects[0].elf;
            for &(sym, func) in &s.exports {
                if elf
                    .dynsym
                    .get(sym as usize)
                    .is_some_and(|d| d.name == *name)
                {
                    g.reach(FnId { obj: 0, func }, Reason::Export);
                }
            }
        }
        g.run();
        // Grouped by callee for parameter resolution (a stable sort: each callee's callers stay
        // in the order they were reached).
        g.incoming.sort_by_key(|e| e.0);
        g.collect(total)
    }

    /// What calling the named exported functions of `program.objects[0]` can reach.
    pub fn analyze_exports(
        program: &'a LoadedProgram,
        bindings: &'a Bindings,
        summaries: &'a [Arc<ObjectSummary>],
        exports: &[&str],
        syscall_names: &'a dyn SyscallNames,
    ) -> ProgramSyscalls {
        let mut r = Self::analyze_roots(
            program,
            bindings,
            summaries,
            ProgramKind::Exports,
            exports,
            syscall_names,
            false,
        );
        r.render_witnesses(program, summaries, |_, _| true);
        r
    }

    fn gid(&self, f: FnId) -> usize {
        self.base[f.obj as usize] + f.func as usize
    }

    fn summary(&self, obj: u32) -> &ObjectSummary {
        &self.summaries[obj as usize]
    }

    fn reach(&mut self, f: FnId, why: Reason) {
        let g = self.gid(f);
        match why {
            Reason::Call { .. } => {}
            Reason::Indirect { .. } => self.indirect_entry[g] = true,
            Reason::Export => self.export_entry[g] = true,
            _ => self.unknown_entry[g] = true,
        }
        if self.reason_at[g] == NOT_REACHED {
            self.reason_at[g] = self.reached.len() as u32;
            self.reached.push((f, why));
            self.queue.push_back(f);
        }
    }

    /// Why `f` is reachable (None when it is not).
    fn reason(&self, f: FnId) -> Option<Reason> {
        self.reached
            .get(self.reason_at[self.gid(f)] as usize)
            .map(|&(_, why)| why)
    }

    /// A data region becomes live: the functions whose addresses it stores become live, and so
    /// do the regions it points to. A very short region (a label a few bytes before the next,
    /// as when code addresses `table - 8`) also makes the next region live.
    #[inline]
    fn make_region_live(&mut self, obj: u32, region: u32, by: Option<FnId>) {
        // Most references are to regions already live: tested where the reference is met.
        if self
            .region_live
            .get(self.region_base[obj as usize] + region as usize)
            .is_none_or(|&live| live)
        {
            return;
        }
        self.make_regions_live_from(obj, region, by);
    }

    #[inline(never)]
    fn make_regions_live_from(&mut self, obj: u32, region: u32, by: Option<FnId>) {
        let summaries = self.summaries;
        let regions = &summaries[obj as usize].regions;
        let mut stack = std::mem::take(&mut self.region_stack);
        stack.clear();
        stack.push(region);
        while let Some(r) = stack.pop() {
            let g = self.region_base[obj as usize] + r as usize;
            if r as usize >= regions.len() || self.region_live[g] {
                continue;
            }
            self.region_live[g] = true;
            let reg = &regions[r as usize];
            for &f in &reg.functions {
                self.make_live(FnId { obj, func: f }, by, obj);
            }
            stack.extend(reg.regions.iter().copied());
            if reg.continues && reg.end - reg.start < SHORT_REGION {
                stack.push(r + 1);
            }
        }
        self.region_stack = stack;
    }

    fn make_live(&mut self, f: FnId, by: Option<FnId>, taker: u32) {
        let g = self.gid(f);
        if self.takers.last() != Some(&(f, taker)) {
            self.takers.push((f, taker));
        }
        if !self.live[g] {
            self.live[g] = true;
            if let Some(b) = by {
                self.taken_by.insert(f, b);
            }
            if let Some((from, site)) = self.indirect_from {
                self.reach(
                    f,
                    Reason::Indirect {
                        from,
                        site,
                        taken_by: by,
                    },
                );
            }
        }
    }

    /// The function a symbol reference of object `obj` binds to, and whether it is an IFUNC.
    fn bound_function(&self, obj: u32, sym: u32) -> Option<(FnId, bool)> {
        let Binding::Bound(r) = self.bindings.get(obj as usize, sym as usize)? else {
            return None;
        };
        let provider = &self.summaries[r.object];
        let i = provider
            .exports
            .binary_search_by_key(&(r.symbol as u32), |e| e.0)
            .ok()?;
        let ifunc = self.program.objects[r.object]
            .elf
            .dynsym
            .get(r.symbol)
            .is_some_and(|s| s.kind == SymKind::IFunc);
        Some((
            FnId {
                obj: r.object as u32,
                func: provider.exports[i].1,
            },
            ifunc,
        ))
    }

    fn seed(&mut self, kind: ProgramKind) {
        let program = self.program;
        let summaries = self.summaries;
        for (oi, o) in program.objects.iter().enumerate() {
            let oi = oi as u32;
            let s: &ObjectSummary = &summaries[oi as usize];
            let entry = s.entry;
            let init: Vec<u32> = s.init_fini.clone();
            let data_taken: Vec<u32> = s.data_addr_taken.clone();
            let data_syms: Vec<u32> = s.data_symbols_taken.clone();
            if oi == 0 && kind == ProgramKind::Executable {
                if let Some(e) = entry {
                    self.reach(FnId { obj: 0, func: e }, Reason::Entry);
                }
            }
            if o.is_interpreter && kind != ProgramKind::Exports {
                if let Some(e) = entry {
                    self.reach(FnId { obj: oi, func: e }, Reason::Interpreter);
                }
            }
            if oi == 0 && kind == ProgramKind::Plugin {
                let exports: Vec<u32> = s.exports.iter().map(|e| e.1).collect();
                for f in exports {
                    self.reach(FnId { obj: 0, func: f }, Reason::Export);
                }
            }
            if kind != ProgramKind::Exports {
                for f in init {
                    self.reach(FnId { obj: oi, func: f }, Reason::InitFini);
                }
            }
            for f in data_taken {
                self.make_live(FnId { obj: oi, func: f }, None, oi);
            }
            for (r, region) in s.regions.iter().enumerate() {
                if region.always_live {
                    self.make_region_live(oi, r as u32, None);
                }
            }
            for sym in data_syms {
                if let Some((f, _)) = self.bound_function(oi, sym) {
                    self.make_live(f, None, oi);
                }
            }
        }
    }

    fn run(&mut self) {
        while let Some(f) = self.queue.pop_front() {
            let summaries = self.summaries;
            let func = &summaries[f.obj as usize].functions[f.func as usize];
            for (ci, c) in func.calls.iter().enumerate() {
                match c.target {
                    CallTarget::Local(t) => {
                        let t = FnId {
                            obj: f.obj,
                            func: t,
                        };
                        self.reach(
                            t,
                            Reason::Call {
                                from: f,
                                site: c.addr,
                            },
                        );
                    }
                    CallTarget::Symbol(s) => {
                        if let Some((t, ifunc)) = self.bound_function(f.obj, s) {
                            self.incoming.push((t, f, ci as u32));
                            self.reach(
                                t,
                                Reason::Call {
                                    from: f,
                                    site: c.addr,
                                },
                            );
                            if ifunc {
                                self.indirect_call(f, c.addr);
                            }
                        }
                    }
                    CallTarget::Indirect => {
                        self.indirect_sites.push((f, ci));
                        self.indirect_call(f, c.addr)
                    }
                }
                if self.named_callees[f.obj as usize].looks_up
                    && self
                        .callee_name(f.obj, c.target)
                        .is_some_and(|n| n == "dlsym" || n == "dlvsym")
                {
                    self.looked_up(f, ci);
                }
            }
            for &r in &func.data_refs {
                self.make_region_live(f.obj, r, Some(f));
            }
            for &t in &func.addr_taken {
                self.make_live(
                    FnId {
                        obj: f.obj,
                        func: t,
                    },
                    Some(f),
                    f.obj,
                );
            }
            for &s in &func.symbols_taken {
                if let Some((t, _)) = self.bound_function(f.obj, s) {
                    self.make_live(t, Some(f), f.obj);
                }
            }
            // Falling off the end is recorded by the analysis as a tail call to the next address.
        }
    }

    /// The name of a call's callee when the analysis follows its string arguments.
    fn callee_name(&self, obj: u32, target: CallTarget) -> Option<&'a str> {
        self.named_callees[obj as usize].name(target)
    }

    /// A reachable `dlsym`/`dlvsym` call (call `ci` of `f`) with constant names: what it returns
    /// is the address of every loaded export of that name (whatever the handle), so each
    /// becomes address-taken by `f`, as `&name` would (an IFUNC: its resolver runs, and every
    /// candidate it may return is reachable). A name computed at run time is the plugin
    /// assumption (plugin exports are roots of their own units; `--dlsym=all`).
    fn looked_up(&mut self, f: FnId, ci: usize) {
        let summaries = self.summaries;
        let call = &summaries[f.obj as usize].functions[f.func as usize].calls[ci];
        if !call.args_known {
            self.args_needed.borrow_mut().insert(f);
            return;
        }
        let names: Vec<&'a str> = call
            .strings()
            .iter()
            .filter(|(loc, _)| *loc == Loc::Reg(6))
            .map(|(_, name)| name.as_str())
            .collect();
        if names.is_empty() {
            return;
        }
        if self.exports_by_name.is_none() {
            let mut by_name: HashMap<&'a str, Vec<(FnId, bool)>> = HashMap::new();
            for (oi, (o, sm)) in self.program.objects.iter().zip(summaries).enumerate() {
                for &(sym, func) in &sm.exports {
                    if let Some(d) = o.elf.dynsym.get(sym as usize) {
                        let fid = FnId {
                            obj: oi as u32,
                            func,
                        };
                        by_name
                            .entry(d.name.as_str())
                            .or_default()
                            .push((fid, d.kind == SymKind::IFunc));
                    }
                }
            }
            self.exports_by_name = Some(by_name);
        }
        let mut found: Vec<(FnId, bool)> = Vec::new();
        if let Some(by_name) = &self.exports_by_name {
            for name in names {
                found.extend(by_name.get(name).into_iter().flatten().copied());
            }
        }
        for (t, ifunc) in found {
            if ifunc {
                self.reach(
                    t,
                    Reason::Call {
                        from: f,
                        site: call.addr,
                    },
                );
                self.indirect_call(f, call.addr);
            } else {
                self.make_live(t, Some(f), f.obj);
            }
        }
    }

    fn indirect_call(&mut self, from: FnId, site: u64) {
        if self.indirect_from.is_some() {
            return;
        }
        self.indirect_from = Some((from, site));
        for obj in 0..self.summaries.len() as u32 {
            for func in 0..self.summaries[obj as usize].functions.len() as u32 {
                let f = FnId { obj, func };
                if self.live[self.gid(f)] {
                    let by = self.taken_by.get(&f).copied();
                    self.reach(
                        f,
                        Reason::Indirect {
                            from,
                            site,
                            taken_by: by,
                        },
                    );
                }
            }
        }
    }

    /// The object's canonical path in the image (one name per file, whatever path loaded it).
    fn object_path(&self, obj: u32) -> &str {
        object_path(self.program, obj)
    }

    /// The functions from a root to `f`, each with how it was reached.
    fn path_to(&self, f: FnId) -> Vec<(FnId, Option<Reason>)> {
        let mut out = Vec::new();
        let mut cur = Some(f);
        while let Some(c) = cur {
            if out.len() >= 10_000 {
                break;
            }
            let reason = self.reason(c);
            out.push((c, reason));
            cur = match reason {
                Some(Reason::Call { from, .. } | Reason::Indirect { from, .. }) => Some(from),
                _ => None,
            };
        }
        out.reverse();
        out
    }

    /// The chain of functions from a root to `f`, as text.
    fn chain(&self, f: FnId) -> Vec<Step> {
        render_chain(&self.path_to(f), self.program, self.summaries)
    }

    /// The values location `loc` holds at the entry of `f` over every reachable call site,
    /// solved with the (function, location) pairs it depends on: a worklist over the dependency
    /// graph, to the least fixed point (values only grow, `unknown` only turns on, so it ends).
    /// Pairs solved by an earlier call are final (`settled`) and only read.
    fn resolve_param(&self, params: &mut ParamState<'a>, f: FnId, loc: Loc) -> Resolved {
        let root = Self::key(f, loc);
        if params.settled.contains(&root) {
            return params
                .memo
                .get(&root)
                .cloned()
                .unwrap_or_else(Resolved::unknown);
        }
        let ParamState {
            memo,
            settled,
            index,
        } = params;
        let index = &*index.get_or_insert_with(|| self.param_index());
        // Who reads each pair: recomputed when it changes.
        let mut readers: HashMap<(FnId, Loc), BTreeSet<(FnId, Loc)>> = HashMap::new();
        let mut solving: BTreeSet<(FnId, Loc)> = BTreeSet::from([root]);
        let mut work: VecDeque<(FnId, Loc)> = VecDeque::from([root]);
        let mut queued: HashSet<(FnId, Loc)> = HashSet::new();
        queued.insert(root);
        while let Some(k) = work.pop_front() {
            queued.remove(&k);
            let mut reads = BTreeSet::new();
            let mut r = self.compute_param(index, memo, &mut reads, k.0, k.1);
            r.values.retain(|&v| self.syscall_names.names(v));
            r.origin.retain(|v, _| r.values.contains(v));
            r.site_order.retain(|v, _| r.values.contains(v));
            for d in reads {
                readers.entry(d).or_default().insert(k);
                if !settled.contains(&d) && solving.insert(d) && queued.insert(d) {
                    work.push_back(d);
                }
            }
            let changed = memo.get(&k).is_none_or(|old| !old.same_values(&r));
            if changed {
                memo.insert(k, r);
                for &reader in readers.get(&k).into_iter().flatten() {
                    if queued.insert(reader) {
                        work.push_back(reader);
                    }
                }
            }
        }
        if std::env::var_os("DG_DEBUG_PARAM").is_some() {
            for k in &solving {
                if let Some(v) = memo.get(k) {
                    eprintln!(
                        "  resolved {:?} {:?}: values {:?} unknown {}",
                        k.0, k.1, v.values, v.unknown
                    );
                }
            }
        }
        settled.extend(solving);
        memo.get(&root).cloned().unwrap_or_else(Resolved::unknown)
    }

    /// The lookups parameter resolution repeats, built once per program.
    fn param_index(&self) -> ParamIndex<'a> {
        let summaries = self.summaries;
        let mut takers: HashMap<FnId, BTreeSet<u32>> = HashMap::new();
        for &(f, o) in &self.takers {
            takers.entry(f).or_default().insert(o);
        }
        let mut indirect_by_obj: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, (g, _)) in self.indirect_sites.iter().enumerate() {
            indirect_by_obj.entry(g.obj).or_default().push(i);
        }
        let mut stores: Vec<Vec<StoreRef<'a>>> = vec![Vec::new(); summaries.len()];
        for &(f, _) in &self.reached {
            let func = &summaries[f.obj as usize].functions[f.func as usize];
            for (i, st) in func.global_stores.iter().enumerate() {
                stores[f.obj as usize].push(StoreRef {
                    f,
                    index: i,
                    store: st,
                });
            }
        }
        for v in &mut stores {
            v.sort_unstable_by_key(|s| (s.store.addr, s.f, s.index));
        }
        ParamIndex {
            takers,
            indirect_by_obj,
            stores,
        }
    }

    /// The memo key of a location: globals belong to the object, not to a function.
    fn key(f: FnId, loc: Loc) -> (FnId, Loc) {
        match loc {
            Loc::Global(..) | Loc::GlobalDeref(..) => (
                FnId {
                    obj: f.obj,
                    func: u32::MAX,
                },
                loc,
            ),
            _ => (f, loc),
        }
    }

    /// Adds the values of a dependency (`sub` resolved at `(f, loc)`) to `r`.
    fn absorb(
        memo: &HashMap<(FnId, Loc), Resolved>,
        reads: &mut BTreeSet<(FnId, Loc)>,
        r: &mut Resolved,
        f: FnId,
        loc: Loc,
        site: (FnId, u64),
    ) {
        let k = Self::key(f, loc);
        reads.insert(k);
        if let Some(sub) = memo.get(&k) {
            r.unknown |= sub.unknown;
            for &c in &sub.values {
                if r.values.insert(c) {
                    r.origin
                        .insert(c, sub.origin.get(&c).copied().unwrap_or(site));
                }
            }
        }
    }

    fn compute_param(
        &self,
        index: &ParamIndex<'a>,
        memo: &HashMap<(FnId, Loc), Resolved>,
        reads: &mut BTreeSet<(FnId, Loc)>,
        f: FnId,
        loc: Loc,
    ) -> Resolved {
        if f.func == INDIRECT_ARGS {
            return self.compute_indirect_args(index, memo, reads, f.obj, loc);
        }
        match loc {
            Loc::Ret(at) => {
                // A value returned by a call that names a syscall: the lookup's answer.
                let call = self.summary(f.obj).functions[f.func as usize]
                    .calls
                    .iter()
                    .find(|c| c.addr == at);
                let mut r = Resolved::default();
                match call {
                    Some(c) if !c.args_known => {
                        self.args_needed.borrow_mut().insert(f);
                        r.unknown = true;
                    }
                    Some(c) => {
                        let named: Vec<u64> = c
                            .strings()
                            .iter()
                            .filter_map(|(_, s)| self.syscall_names.number(s))
                            .collect();
                        if named.is_empty() {
                            r.unknown = true;
                        }
                        for n in named {
                            if r.values.insert(n) {
                                r.origin.insert(n, (f, at));
                            }
                        }
                    }
                    None => r.unknown = true,
                }
                return r;
            }
            Loc::Global(g, size) => return self.compute_global(index, memo, reads, f.obj, g, size),
            Loc::GlobalDeref(g, k) => {
                return self.compute_global_deref(index, memo, reads, f.obj, g, k)
            }
            _ => {}
        }
        let mut r = Resolved::default();
        // Entered from a root: the caller is unknown.
        if self.unknown_entry[self.gid(f)] {
            r.unknown = true;
        }
        // An exported function of a plugin, called by a host that found it with dlsym: per the
        // plugin assumption (hosts load plugins and call their entry points, they do not hand
        // them syscall numbers), its parameters add no syscall. Reported in the evidence.
        if self.export_entry[self.gid(f)] && !self.unknown_entry[self.gid(f)] {
            self.export_params.borrow_mut().insert(f);
        }
        // Entered through function pointers: the values come from the reachable indirect call
        // sites of the objects that hold its address (a table of function pointers is called by
        // the code that owns it). Only constants and values the data flow can follow count;
        // an unknown argument at such a site is taken not to be meant for this function. This
        // is the one assumption made here; the evidence records it.
        if self.live[self.gid(f)]
            && self.indirect_from.is_some()
            && !self.unknown_entry[self.gid(f)]
        {
            let no_takers = BTreeSet::new();
            let takers = index.takers.get(&f).unwrap_or(&no_takers);
            // What the reachable indirect call sites of those objects pass (solved once per
            // object and location, not once per function they may call). A value's witness is
            // the first of those sites, in the order reached, that passes it.
            let mut first: BTreeMap<u64, (usize, (FnId, u64))> = BTreeMap::new();
            let mut found = false;
            // An object's sites not solved yet: this is computed again once they are (it reads
            // them), so their absence is no evidence of missing sites.
            let mut pending = false;
            for &o in takers {
                let k = Self::key(Self::indirect_args(o), loc);
                reads.insert(k);
                let Some(sub) = memo.get(&k) else {
                    pending = true;
                    continue;
                };
                found |= sub.sites_known;
                r.unknown |= sub.unknown;
                for &c in &sub.values {
                    let at = sub.site_order.get(&c).copied().unwrap_or(usize::MAX);
                    let origin = sub.origin.get(&c).copied();
                    match first.get(&c) {
                        Some(&(prev, _)) if prev <= at => {}
                        _ => {
                            if let Some(origin) = origin {
                                first.insert(c, (at, origin));
                            }
                        }
                    }
                }
            }
            for (c, (_, origin)) in first {
                r.values.insert(c);
                r.origin.insert(c, origin);
            }
            // No reachable indirect call in the objects holding the address: it was handed to
            // other code, whose arguments we cannot attribute.
            if !found && !pending {
                r.unknown = true;
            }
            if std::env::var_os("DG_DEBUG_PARAM").is_some() {
                eprintln!(
                    "  indirect {f:?} {loc:?}: takers {takers:?}, values {:?} unknown {}",
                    r.values, r.unknown
                );
            }
            r.assumed = true;
        }
        if std::env::var_os("DG_DEBUG_PARAM").is_some() {
            eprintln!(
                "param {f:?} {loc:?}: unknown_entry={} live={} incoming={:?}",
                self.unknown_entry[self.gid(f)],
                self.live[self.gid(f)],
                self.incoming_of(f)
                    .iter()
                    .map(|(c, i)| (
                        c.func,
                        *i,
                        self.summary(c.obj).functions[c.func as usize].calls[*i]
                            .arg_opt(loc)
                            .cloned()
                    ))
                    .collect::<Vec<_>>()
            );
        }
        for (caller, ci) in self.incoming_of(f) {
            let call = &self.summary(caller.obj).functions[caller.func as usize].calls[ci];
            if !call.args_known {
                self.args_needed.borrow_mut().insert(caller);
                r.unknown = true;
                continue;
            }
            let site = (caller, call.addr);
            let v: ValueSet = match (loc, call.arg_opt(loc)) {
                (_, Some(v)) => v.clone(),
                // A field behind a pointer the caller passed on from its own parameter or from a
                // global: the same field there.
                (Loc::RegDeref(reg, k), None) => {
                    let p = call.arg(Loc::Reg(reg));
                    if p.unknown {
                        r.unknown = true;
                    }
                    for a in p.atoms {
                        match a {
                            Atom::Param(Loc::Reg(r2)) => Self::absorb(
                                memo,
                                reads,
                                &mut r,
                                caller,
                                Loc::RegDeref(r2, k),
                                site,
                            ),
                            Atom::Param(Loc::Global(g, 8)) => Self::absorb(
                                memo,
                                reads,
                                &mut r,
                                caller,
                                Loc::GlobalDeref(g, k),
                                site,
                            ),
                            _ => r.unknown = true,
                        }
                    }
                    continue;
                }
                (_, None) => ValueSet::unknown(),
            };
            if v.unknown {
                r.unknown = true;
            }
            for a in v.atoms {
                match a {
                    Atom::Const(c) => {
                        if r.values.insert(c) {
                            r.origin.entry(c).or_insert(site);
                        }
                    }
                    Atom::Param(l2) => Self::absorb(memo, reads, &mut r, caller, l2, site),
                }
            }
        }
        r
    }

    /// Reachable call edges into `f`: local callers (from the summary) and callers in other
    /// objects (recorded during the traversal).
    fn incoming_of(&self, f: FnId) -> Vec<(FnId, usize)> {
        let mut v: Vec<(FnId, usize)> =
            self.summary(f.obj)
                .callers
                .get(f.func as usize)
                .map_or(Vec::new(), |cs| {
                    cs.iter()
                        .map(|&(g, ci)| {
                            (
                                FnId {
                                    obj: f.obj,
                                    func: g,
                                },
                                ci as usize,
                            )
                        })
                        .filter(|(g, _)| self.reason(*g).is_some())
                        .collect()
                });
        let from = self.incoming.partition_point(|e| e.0 < f);
        v.extend(
            self.incoming[from..]
                .iter()
                .take_while(|e| e.0 == f)
                .map(|&(_, caller, ci)| (caller, ci as usize)),
        );
        v
    }

    /// Stores into the global `g` of object `obj` by reachable functions, in function order.
    fn stores_to(
        index: &ParamIndex<'a>,
        obj: u32,
        g: u64,
        width: u8,
    ) -> Vec<(FnId, &'a dockergate_analysis::GlobalStore)> {
        let Some(stores) = index.stores.get(obj as usize) else {
            return Vec::new();
        };
        // A store overlaps [g, g + width) when it starts below the end and ends above g; stores
        // are at most 255 bytes wide.
        let from = stores.partition_point(|s| s.store.addr + (u8::MAX as u64) <= g);
        let mut out: Vec<&StoreRef<'a>> = stores[from..]
            .iter()
            .take_while(|s| s.store.addr < g + width as u64)
            .filter(|s| s.store.addr + s.store.size as u64 > g)
            .collect();
        out.sort_unstable_by_key(|s| (s.f, s.index));
        out.into_iter().map(|s| (s.f, s.store)).collect()
    }

    /// The pseudo-function standing for the reachable indirect call sites of object `obj`.
    fn indirect_args(obj: u32) -> FnId {
        FnId {
            obj,
            func: INDIRECT_ARGS,
        }
    }

    /// What the reachable indirect call sites of object `obj` pass in `loc`: constants, and the
    /// values (not the unknowns: an unknown there is not meant for any one function) of the
    /// callers' own parameters passed on. `unknown` when a site's arguments were not computed.
    fn compute_indirect_args(
        &self,
        index: &ParamIndex<'a>,
        memo: &HashMap<(FnId, Loc), Resolved>,
        reads: &mut BTreeSet<(FnId, Loc)>,
        obj: u32,
        loc: Loc,
    ) -> Resolved {
        let mut r = Resolved::default();
        // In the order reached (positions in `indirect_sites` ascend).
        for &i in index.indirect_by_obj.get(&obj).into_iter().flatten() {
            let (g, ci) = self.indirect_sites[i];
            let call = &self.summary(g.obj).functions[g.func as usize].calls[ci];
            if !call.args_known {
                self.args_needed.borrow_mut().insert(g);
                r.unknown = true;
                continue;
            }
            let site = (g, call.addr);
            r.sites_known = true;
            for a in call.arg(loc).atoms {
                let mut add = |c: u64, origin: (FnId, u64)| {
                    if r.values.insert(c) {
                        r.origin.insert(c, origin);
                        r.site_order.insert(c, i);
                    }
                };
                match a {
                    Atom::Const(c) => add(c, site),
                    Atom::Param(l2) => {
                        let mut sub = Resolved::default();
                        Self::absorb(memo, reads, &mut sub, g, l2, site);
                        for c in sub.values {
                            add(c, sub.origin.get(&c).copied().unwrap_or(site));
                        }
                    }
                }
            }
        }
        r
    }

    /// The values a global may hold: its initial value and what reachable code stores there.
    fn compute_global(
        &self,
        index: &ParamIndex<'a>,
        memo: &HashMap<(FnId, Loc), Resolved>,
        reads: &mut BTreeSet<(FnId, Loc)>,
        obj: u32,
        g: u64,
        size: u8,
    ) -> Resolved {
        let mut r = Resolved::default();
        let Some(&(_, _, init)) = self
            .summary(obj)
            .globals
            .iter()
            .find(|(a, s, _)| *a == g && *s == size)
        else {
            return Resolved::unknown();
        };
        if std::env::var_os("DG_DEBUG_PARAM").is_some() {
            eprintln!(
                "global {g:#x}: stores {:?}",
                Self::stores_to(index, obj, g, 8)
                    .iter()
                    .map(|(f, s)| (f.func, (*s).clone()))
                    .collect::<Vec<_>>()
            );
        }
        r.values.insert(init);
        for (f, st) in Self::stores_to(index, obj, g, size) {
            if !st.known {
                self.args_needed.borrow_mut().insert(f);
                r.unknown = true;
                continue;
            }
            if st.addr != g || st.size != size {
                r.unknown = true;
                continue;
            }
            r.unknown |= st.value.unknown;
            for a in &st.value.atoms {
                match *a {
                    Atom::Const(c) => {
                        r.values.insert(c);
                    }
                    Atom::Param(l) => Self::absorb(memo, reads, &mut r, f, l, (f, 0)),
                }
            }
        }
        r
    }

    /// The values of field `k` of the structure a global pointer points to: the same field
    /// behind every pointer reachable code stores into the global.
    fn compute_global_deref(
        &self,
        index: &ParamIndex<'a>,
        memo: &HashMap<(FnId, Loc), Resolved>,
        reads: &mut BTreeSet<(FnId, Loc)>,
        obj: u32,
        g: u64,
        k: i32,
    ) -> Resolved {
        let mut r = Resolved::default();
        if std::env::var_os("DG_DEBUG_PARAM").is_some() {
            eprintln!(
                "global deref {g:#x}+{k}: in globals {:?}, stores {:?}",
                self.summary(obj).globals.iter().find(|(a, _, _)| *a == g),
                Self::stores_to(index, obj, g, 8)
                    .iter()
                    .map(|(f, s)| (f.func, (*s).clone()))
                    .collect::<Vec<_>>()
            );
        }
        let Some(&(_, _, init)) = self
            .summary(obj)
            .globals
            .iter()
            .find(|(a, s, _)| *a == g && *s == 8)
        else {
            return Resolved::unknown();
        };
        let written = self
            .summary(obj)
            .global_deref_writes
            .iter()
            .any(|&(wg, wk)| wg == g && (wk == k || wk == i32::MIN));
        if init != 0 || written {
            r.unknown = true;
        }
        for (f, st) in Self::stores_to(index, obj, g, 8) {
            if !st.known {
                self.args_needed.borrow_mut().insert(f);
                r.unknown = true;
                continue;
            }
            if st.addr != g || st.size != 8 {
                r.unknown = true;
                continue;
            }
            r.unknown |= st.value.unknown;
            for a in &st.value.atoms {
                match *a {
                    Atom::Const(0) => {}
                    Atom::Param(Loc::Reg(reg)) => {
                        Self::absorb(memo, reads, &mut r, f, Loc::RegDeref(reg, k), (f, 0))
                    }
                    Atom::Param(Loc::Global(g2, 8)) => {
                        Self::absorb(memo, reads, &mut r, f, Loc::GlobalDeref(g2, k), (f, 0))
                    }
                    _ => r.unknown = true,
                }
            }
        }
        r
    }

    fn collect(&self, total: usize) -> ProgramSyscalls {
        let mut out = ProgramSyscalls {
            total_functions: total,
            reachable_functions: self.reached.len(),
            reachable_by_object: {
                let mut n = vec![0; self.summaries.len()];
                for (f, _) in &self.reached {
                    n[f.obj as usize] += 1;
                }
                n
            },
            makes_indirect_calls: self.indirect_from.is_some(),
            ..Default::default()
        };
        let mut params = ParamState::default();
        // Reached functions in (object, function) order: the order witnesses are chosen in.
        // (Global indexes ascend in that order: a scan of the reached marks, not a sort.)
        let mut reached: Vec<FnId> = Vec::with_capacity(self.reached.len());
        for (obj, s) in self.summaries.iter().enumerate() {
            let base = self.base[obj];
            reached.extend(
                self.reason_at[base..base + s.functions.len()]
                    .iter()
                    .enumerate()
                    .filter(|(_, &at)| at != NOT_REACHED)
                    .map(|(func, _)| FnId {
                        obj: obj as u32,
                        func: func as u32,
                    }),
            );
        }
        for &f in &reached {
            let obj = f.obj;
            let func = &self.summary(obj).functions[f.func as usize];
            for site in &func.syscalls {
                let mut numbers: Vec<(u64, Option<(FnId, u64)>)> = Vec::new();
                let mut unknown = site.number.unknown;
                for a in &site.number.atoms {
                    match a {
                        Atom::Const(c) => numbers.push((*c, None)),
                        Atom::Param(l) => {
                            let r = self.resolve_param(&mut params, f, *l);
                            unknown |= r.unknown;
                            for c in r.values {
                                numbers.push((c, r.origin.get(&c).copied()));
                            }
                        }
                    }
                }
                let table = match site.abi {
                    SyscallAbi::Native => &mut out.native,
                    SyscallAbi::I386 => &mut out.compat32,
                };
                for (n, origin) in numbers {
                    table.entry(n).or_insert_with(|| {
                        Witness::pending(WitnessPath {
                            steps: self.path_to(origin.map_or(f, |(caller, _)| caller)),
                            site: (obj, site.addr),
                            number_from: origin,
                        })
                    });
                }
                if unknown {
                    out.unresolved.push(UnresolvedSite {
                        program: self.object_path(0).to_string(),
                        object: self.object_path(obj).to_string(),
                        function: self.summary(obj).function_name(f.func),
                        address: format!("{:#x}", site.addr),
                        abi: match site.abi {
                            SyscallAbi::Native => "native".into(),
                            SyscallAbi::I386 => "int 0x80 (i386)".into(),
                        },
                        chain: self.chain(f),
                    });
                }
            }
        }
        // Calls whose string arguments the image-level analysis follows.
        for &f in &reached {
            let obj = f.obj;
            let sm = self.summary(obj);
            if self.named_callees[obj as usize].list.is_empty() {
                continue;
            }
            let func = &sm.functions[f.func as usize];
            for c in &func.calls {
                let Some(callee) = self
                    .callee_name(obj, c.target)
                    .filter(|n| dockergate_analysis::STRING_ARG_IMPORTS.contains(n))
                else {
                    continue;
                };
                if !c.args_known {
                    self.args_needed.borrow_mut().insert(f);
                }
                out.named_calls.push(NamedCall {
                    callee: callee.to_string(),
                    object: self.object_path(obj).to_string(),
                    function: sm.function_name(f.func),
                    address: format!("{:#x}", c.addr),
                    strings: c.strings().to_vec(),
                    unknown_args: [0u8, 6, 7, 2, 1, 8]
                        .iter()
                        .map(|&r| Loc::Reg(r))
                        .filter(|l| c.arg_opt(*l).is_none_or(|v| v.unknown))
                        .collect(),
                    args_known: c.args_known,
                });
            }
        }
        out.plugin_export_params = self
            .export_params
            .borrow()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    self.object_path(f.obj),
                    self.summary(f.obj).function_name(f.func)
                )
            })
            .collect();
        out.args_needed = self
            .args_needed
            .borrow()
            .iter()
            .map(|f| (f.obj, f.func))
            .collect();
        out
    }
}

/// The values a parameter location takes over all reachable callers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Resolved {
    values: BTreeSet<u64>,
    unknown: bool,
    /// Resolved through the indirect-call assumption.
    assumed: bool,
    /// For each value, the call site that passes it.
    origin: BTreeMap<u64, (FnId, u64)>,
    /// For the arguments of an object's indirect calls ([`INDIRECT_ARGS`]): the position in
    /// the reached indirect call sites of the first site passing each value.
    site_order: BTreeMap<u64, usize>,
    /// For the arguments of an object's indirect calls: whether any site's are known.
    sites_known: bool,
}

/// The function index of the pseudo-function whose parameters are what an object's reachable
/// indirect call sites pass (`func: u32::MAX` keys an object's globals).
const INDIRECT_ARGS: u32 = u32::MAX - 1;

impl Resolved {
    fn unknown() -> Self {
        Resolved {
            unknown: true,
            ..Default::default()
        }
    }

    /// Equal but for the witnesses (`origin`): what the fixed point compares. The first origin
    /// found for a value stays a valid witness as the sets grow.
    fn same_values(&self, other: &Resolved) -> bool {
        self.values == other.values
            && self.unknown == other.unknown
            && self.assumed == other.assumed
            && self.sites_known == other.sites_known
    }
}

/// Parameter resolution's state over one program's `collect`.
#[derive(Default)]
struct ParamState<'a> {
    memo: HashMap<(FnId, Loc), Resolved>,
    /// Pairs whose fixed point is complete.
    settled: HashSet<(FnId, Loc)>,
    index: Option<ParamIndex<'a>>,
}

/// Indexes over one program's reachable code for parameter resolution.
struct ParamIndex<'a> {
    /// The objects holding each live function's address.
    takers: HashMap<FnId, BTreeSet<u32>>,
    /// Positions in `indirect_sites` by the calling function's object.
    indirect_by_obj: HashMap<u32, Vec<usize>>,
    /// The global stores of reachable functions, per object, by address.
    stores: Vec<Vec<StoreRef<'a>>>,
}

#[derive(Clone, Copy)]
struct StoreRef<'a> {
    f: FnId,
    index: usize,
    store: &'a dockergate_analysis::GlobalStore,
}
