//! Function discovery and the assembly of an [`ObjectSummary`], independent of the architecture.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use dockergate_elf::{ElfObject, RelocKind, SymKind};

use crate::arch::{in_ranges, Arch, BranchKind, CodeContext, FnExits, FnPlan, RawTarget};
use crate::summary::{
    AnalysisStats, CallSite, CallTarget, FnAbi, FnOrigin, Function, Loc, ObjectSummary,
};
use crate::sweep::Sweep;
use crate::AnalysisError;

/// Rounds of "new function starts found → re-plan" before we stop looking.
const MAX_ROUNDS: usize = 8;
/// A bound on FDEs read from `.eh_frame` (hostile files).
const MAX_FDES: usize = 4_000_000;

/// Objects with at least this many bytes of code have their functions skimmed (and data flow
/// run where it is needed in bulk) in parallel.
const PARALLEL_SKIM_ABOVE: u64 = 512 << 10;

#[derive(Clone, Debug)]
struct Start {
    /// End of the extent given by a symbol size or an FDE, when known.
    extent_end: Option<u64>,
    origin: FnOrigin,
    name: Option<String>,
}

/// Executable ranges backed by file bytes: sections when present, else segments.
fn code_ranges(elf: &ElfObject, data_len: u64) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = elf
        .sections
        .iter()
        .filter(|s| {
            s.executable
                && s.alloc
                && !s.nobits
                && s.size > 0
                && s.offset.saturating_add(s.size) <= data_len
        })
        .map(|s| (s.addr, s.addr + s.size))
        .collect();
    if v.is_empty() {
        v = elf
            .segments
            .iter()
            .filter(|s| {
                s.executable && s.filesz > 0 && s.offset.saturating_add(s.filesz) <= data_len
            })
            .map(|s| (s.vaddr, s.vaddr.saturating_add(s.filesz)))
            .collect();
    }
    // Merged, so that every address is decoded once.
    merged(v)
}

/// `ranges` (`[start, end)`) sorted, overlapping ones merged: what
/// [`crate::arch::in_ranges`] looks addresses up in.
fn merged(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The address ranges of the GOT (`.got`, `.got.plt`), merged.
fn got_ranges(elf: &ElfObject) -> Vec<(u64, u64)> {
    merged(
        elf.sections
            .iter()
            .filter(|s| s.name == ".got" || s.name == ".got.plt")
            .map(|s| (s.addr, s.addr.saturating_add(s.size)))
            .collect(),
    )
}

/// FDE ranges of `.eh_frame`: (start, end) of each function that has unwind information.
fn eh_frame_ranges(elf: &ElfObject, data: &[u8], warnings: &mut Vec<String>) -> Vec<(u64, u64)> {
    use gimli::{BaseAddresses, CieOrFde, EhFrame, UnwindSection};
    let Some(sec) = elf.section(".eh_frame").filter(|s| !s.nobits) else {
        return Vec::new();
    };
    let Some(bytes) = usize::try_from(sec.offset)
        .ok()
        .and_then(|o| data.get(o..o.checked_add(usize::try_from(sec.size).ok()?)?))
    else {
        return Vec::new();
    };
    let text = elf.section(".text").map(|s| s.addr).unwrap_or(0);
    let bases = BaseAddresses::default()
        .set_eh_frame(sec.addr)
        .set_text(text);
    let out_of_range = |e: gimli::Error| format!(".eh_frame: {e}");
    let mut out = Vec::new();
    if elf.little_endian {
        let eh = EhFrame::new(bytes, gimli::LittleEndian);
        let mut entries = eh.entries(&bases);
        loop {
            match entries.next() {
                Ok(Some(CieOrFde::Fde(partial))) => {
                    if let Ok(fde) = partial.parse(|_, b, o| eh.cie_from_offset(b, o)) {
                        let s = fde.initial_address();
                        out.push((s, s.saturating_add(fde.len())));
                    }
                }
                Ok(Some(CieOrFde::Cie(_))) => {}
                Ok(None) => break,
                Err(e) => {
                    warnings.push(out_of_range(e));
                    break;
                }
            }
            if out.len() > MAX_FDES {
                warnings.push(".eh_frame: too many FDEs; the rest ignored".into());
                break;
            }
        }
    }
    out
}

pub(crate) fn analyze_with<A: Arch>(
    arch: &A,
    data: &[u8],
    elf: &ElfObject,
    force_full: &HashSet<u64>,
    method: crate::Method,
) -> Result<ObjectSummary, AnalysisError> {
    let mut warnings: Vec<String> = Vec::new();
    let ranges = code_ranges(elf, data.len() as u64);
    let mut ctx = CodeContext {
        elf,
        data,
        code_ranges: ranges.clone(),
        relocs: elf.relocs.iter().map(|r| (r.offset, *r)).collect(),
        noreturn: Default::default(),
        noreturn_symbols: elf
            .dynsym
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.defined && crate::arch::NORETURN_NAMES.contains(&s.name.as_str()))
            .map(|(i, _)| i as u32)
            .collect(),
        absolute: elf.etype == 2,
        go_args: Default::default(),
        plt_shortcut: method.plt_shortcut,
    };
    // Go binaries: functions, argument areas and method tables from the runtime's metadata.
    let go = crate::go::GoObject::from_elf(elf, data, &mut warnings);
    if let Some(g) = &go {
        ctx.go_args = g.args_by_entry();
    }

    let phases = std::env::var_os("DG_PHASES").is_some();
    let t0 = std::time::Instant::now();
    let phase = |what: &str| {
        if phases {
            eprintln!("[phase] {what}: {:?}", t0.elapsed());
        }
    };
    // 1. Decode every code range linearly, once, noting what the code references.
    let mut branches = Branches::new(ranges.iter().map(|r| r.0).min().unwrap_or(0));
    let mut code_taken: Vec<(u64, u64)> = Vec::new(); // (instruction address, code address taken)
    let insns: Sweep<A::Insn> = Sweep::build(arch, &ctx, &ranges, method.compact_above, |window| {
        for i in window {
            let r = arch.insn_refs(&ctx, i);
            let at = arch.insn_addr(i);
            if let Some((t, k)) = r.branch {
                if ctx.is_code(t) {
                    branches.push(at, t, k);
                }
            }
            for a in r.code_addrs {
                code_taken.push((at, a));
            }
        }
    });
    let mut scratch: Vec<A::Insn> = Vec::new();

    phase("decode");
    // 2. Starts we know of before looking at the code.
    let mut starts: BTreeMap<u64, Start> = BTreeMap::new();
    let add = |starts: &mut BTreeMap<u64, Start>,
               addr: u64,
               extent: Option<u64>,
               origin: FnOrigin,
               name: Option<&str>| {
        if !ctx.is_code(addr) {
            return;
        }
        let e = starts.entry(addr).or_insert(Start {
            extent_end: None,
            origin,
            name: None,
        });
        if let Some(x) = extent.filter(|x| *x > addr) {
            e.extent_end = Some(e.extent_end.map_or(x, |old| old.max(x)));
        }
        if origin < e.origin {
            e.origin = origin;
        }
        if e.name.is_none() {
            e.name = name.map(str::to_string);
        }
    };
    // Go's function table first: its names are the functions' own (symbols such as
    // `runtime.text` share addresses with them).
    for f in go.iter().flat_map(|g| &g.funcs) {
        add(
            &mut starts,
            f.entry,
            Some(f.end),
            FnOrigin::GoPclntab,
            Some(&f.name),
        );
    }
    for s in &elf.symtab_functions {
        add(
            &mut starts,
            s.value,
            (s.size > 0).then(|| s.value.saturating_add(s.size)),
            FnOrigin::Symbol,
            Some(&s.name),
        );
    }
    for s in elf
        .dynsym
        .iter()
        .filter(|s| s.defined && matches!(s.kind, SymKind::Func | SymKind::IFunc | SymKind::NoType))
    {
        add(
            &mut starts,
            s.value,
            (s.size > 0).then(|| s.value.saturating_add(s.size)),
            FnOrigin::Symbol,
            Some(&s.name),
        );
    }
    for (s, e) in eh_frame_ranges(elf, data, &mut warnings) {
        add(&mut starts, s, Some(e), FnOrigin::EhFrame, None);
    }
    for sec in elf
        .sections
        .iter()
        .filter(|s| matches!(s.name.as_str(), ".plt" | ".plt.sec" | ".plt.got" | ".iplt"))
    {
        for a in (0..sec.size / 16).map(|k| sec.addr.wrapping_add(k * 16)) {
            add(
                &mut starts,
                a,
                Some(a.wrapping_add(16)),
                FnOrigin::Plt,
                None,
            );
        }
    }
    if ctx.is_code(elf.entry) {
        add(&mut starts, elf.entry, None, FnOrigin::Entry, None);
    }
    let mut init_fini_addrs: Vec<u64> = Vec::new();
    init_fini_addrs.extend(
        elf.preinit_array
            .iter()
            .chain(&elf.init)
            .chain(&elf.init_array),
    );
    init_fini_addrs.extend(elf.fini_array.iter().chain(&elf.fini));
    if !elf.has_dynamic {
        // Static binaries: the arrays are only sections (their words may need relocation).
        for name in [".preinit_array", ".init_array", ".fini_array"] {
            if let Some(sec) = elf.section(name).filter(|s| !s.nobits) {
                for a in (0..sec.size / 8).map(|k| sec.addr.wrapping_add(k * 8)) {
                    if let crate::arch::SlotTarget::Code(c) = ctx.slot_target(a) {
                        init_fini_addrs.push(c);
                    }
                }
            }
        }
        for name in [".init", ".fini"] {
            if let Some(sec) = elf.section(name) {
                init_fini_addrs.push(sec.addr);
            }
        }
    }
    for &a in &init_fini_addrs {
        add(&mut starts, a, None, FnOrigin::InitFini, None);
    }

    // A start inside a padding instruction of the sweep (the sigreturn trampolines' FDEs begin
    // one byte early, inside the preceding nop) moves to the end of that instruction.
    let mut k = 0;
    let misaligned: Vec<u64> = starts
        .keys()
        .copied()
        .filter(|&a| {
            // Starts ascend: one cursor to the first instruction after `a`.
            while k < insns.len() && insns.addr(arch, k) <= a {
                k += 1;
            }
            let i = k;
            i > 0
                && insns.addr(arch, i - 1) != a
                && insns.end(arch, i - 1) > a
                && insns
                    .slice(arch, &ctx, i - 1, i, &mut scratch)
                    .first()
                    .is_some_and(|x| arch.is_padding(x))
        })
        .collect();
    for a in misaligned {
        let i = insns.first_after(arch, a);
        let to = insns.end(arch, i - 1);
        if let Some(mut st) = starts.remove(&a) {
            if st.extent_end.is_some_and(|e| e <= to) {
                st.extent_end = None;
            }
            let e = starts.entry(to).or_insert(st.clone());
            if e.name.is_none() {
                e.name = st.name;
            }
        }
    }

    phase("starts");
    // 3. What the code and the data reference.
    // In address order, so that each round finds their functions in one pass.
    branches.sort();
    code_taken.sort_unstable();
    let pointers = data_pointers(&ctx, &mut warnings);
    let data_taken: Vec<u64> = {
        let mut v: Vec<u64> = pointers
            .iter()
            .map(|p| p.1)
            .filter(|t| ctx.is_code(*t))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let got = got_ranges(elf);
    let mut data_symbols_taken: Vec<u32> = elf
        .relocs
        .iter()
        .filter(|r| r.kind == RelocKind::Absolute && r.sym != 0 && !in_ranges(&got, r.offset))
        .map(|r| r.sym)
        .collect();
    data_symbols_taken.sort_unstable();
    data_symbols_taken.dedup();

    phase("refs");
    // 4. Plan functions; add starts found from references until nothing changes.
    let mut interior: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    // The plan of the round that found no new start is the final one.
    let mut settled: Option<(Vec<(u64, Option<u64>, u64)>, foldhash::HashSet<u64>)> = None;
    // The start addresses, hashed: every call and reference is looked up (the map's search
    // was a quarter of this stage's own time).
    let mut start_set: foldhash::HashSet<u64> = starts.keys().copied().collect();
    for _round in 0..MAX_ROUNDS {
        let plan = plan_functions(&starts, &ranges, arch, &ctx, &insns);
        phase("  round plan");
        let data_like = implausible_functions(arch, &ctx, &plan, &starts, &insns);
        phase("  round implausible");
        let from_code = |f: Option<usize>| f.is_none_or(|i| !data_like.contains(&plan[i].0));
        interior.clear();
        let mut new_starts: BTreeSet<u64> = BTreeSet::new();
        let classify = |target: u64,
                        from_fn: Option<usize>,
                        new_starts: &mut BTreeSet<u64>,
                        interior: &mut BTreeMap<u64, BTreeSet<u64>>| {
            if start_set.contains(&target) {
                return;
            }
            match find_fn(&plan, target) {
                Some(fi) if plan[fi].1.is_some() => {
                    if from_fn != Some(fi) {
                        interior.entry(plan[fi].0).or_default().insert(target);
                    }
                }
                Some(fi) if from_fn == Some(fi) => {}
                _ => {
                    new_starts.insert(target);
                }
            }
        };
        let mut cursor = FnCursor::new(&plan);
        for (src, t, k) in branches.iter() {
            let from = cursor.find(src);
            if !from_code(from) {
                continue;
            }
            match k {
                BranchKind::Call => classify(t, None, &mut new_starts, &mut interior),
                _ => {
                    // Functions do not overlap: a jump inside its own function's extent.
                    if from.is_some_and(|f| plan[f].0 <= t && t < plan[f].2) {
                        continue;
                    }
                    classify(t, from, &mut new_starts, &mut interior)
                }
            }
        }
        let mut cursor = FnCursor::new(&plan);
        for &(src, a) in &code_taken {
            let from = cursor.find(src);
            if !from_code(from) {
                continue;
            }
            classify(a, from, &mut new_starts, &mut interior);
        }
        for &a in &data_taken {
            classify(a, None, &mut new_starts, &mut interior);
        }
        phase("  round classify");
        if new_starts.is_empty() {
            settled = Some((plan, data_like));
            break;
        }
        for a in new_starts {
            start_set.insert(a);
            starts.insert(
                a,
                Start {
                    extent_end: None,
                    origin: FnOrigin::CallTarget,
                    name: None,
                },
            );
        }
    }
    let (plan, data_like) = match settled {
        Some(p) => p,
        None => {
            let plan = plan_functions(&starts, &ranges, arch, &ctx, &insns);
            let data_like = implausible_functions(arch, &ctx, &plan, &starts, &insns);
            (plan, data_like)
        }
    };

    // Functions that never return, so that data flow does not continue after calls to them.
    phase("plan");
    ctx.noreturn = noreturn_functions(arch, &ctx, &plan, &insns);
    phase("noreturn");

    // 5. Data flow, per function.
    let plans: Vec<FnPlan> = plan
        .iter()
        .map(|(entry, _, end)| FnPlan {
            entry: *entry,
            end: *end,
            abi: match &go {
                Some(g) if g.func_at_entry(*entry).is_some() => FnAbi::Go,
                _ => FnAbi::SysV,
            },
            interior_entries: interior
                .get(entry)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
        })
        .collect();
    let mut stats = AnalysisStats {
        code_bytes: ranges.iter().map(|(s, e)| e - s).sum(),
        ..Default::default()
    };
    let entries: Vec<u64> = plan.iter().map(|p| p.0).collect();
    // Most addresses looked up are entries (call targets): found by hash (each entry with the
    // position after it, as the search gives), the rest by search.
    let entry_index: foldhash::HashMap<u64, usize> = entries
        .iter()
        .enumerate()
        .map(|(k, &e)| (e, k + 1))
        .collect();
    let index_of = |addr: u64| -> Option<u32> {
        let i = match entry_index.get(&addr) {
            Some(&after) => after,
            None => entries.partition_point(|&e| e <= addr),
        };
        if i == 0 {
            return None;
        }
        (addr < plan[i - 1].2).then_some((i - 1) as u32)
    };
    // Each function's instructions in the sweep: [lo, hi) (functions are sorted and disjoint).
    let bounds: Vec<(usize, usize)> = {
        let mut k = 0;
        plans
            .iter()
            .map(|p| {
                while k < insns.len() && insns.addr(arch, k) < p.entry {
                    k += 1;
                }
                let lo = k;
                while k < insns.len() && insns.addr(arch, k) < p.end {
                    k += 1;
                }
                (lo, k)
            })
            .collect()
    };
    let plt_entries: foldhash::HashSet<u64> = starts
        .iter()
        .filter(|(_, s)| s.origin == FnOrigin::Plt)
        .map(|(a, _)| *a)
        .collect();
    let run_one = |fi: usize, full: bool| -> crate::arch::FunctionFacts {
        let p = &plans[fi];
        if data_like.contains(&p.entry) {
            // Bytes in a code section that do not decode as plausible code (constant tables of
            // hand-written assembly): nothing runs there.
            return crate::arch::FunctionFacts::default();
        }
        let (lo, hi) = bounds[fi];
        let own;
        let mut buf = Vec::new();
        let slice: &[A::Insn] = if lo < insns.len() && insns.addr(arch, lo) == p.entry {
            insns.slice(arch, &ctx, lo, hi, &mut buf)
        } else {
            // The entry is not an instruction boundary of the linear sweep: decode it alone.
            let mut v = Vec::new();
            if let Some(bytes) = ctx.code_bytes(p.entry, p.end) {
                arch.decode(bytes, p.entry, &mut v);
            }
            own = v;
            &own
        };
        if full {
            arch.analyze_function(&ctx, slice, p)
        } else {
            arch.skeleton_function(&ctx, slice, p)
        }
    };
    // Every function is skimmed; data flow runs where a number or an argument is needed: in
    // functions with syscall sites, and, transitively, in the local callers of functions whose
    // syscall numbers come from their caller. Callers in other objects are completed on demand
    // ([`crate::complete_functions`]).
    let full_everywhere = std::env::var_os("DG_FULL_DATAFLOW").is_some();
    // Many functions at once (the skim, bulk data flow): on every core for a large object, whose
    // analysis would otherwise be the last one running, alone (libLLVM's 96000 functions take
    // half a second of one core to skim). In the order asked.
    let parallel = stats.code_bytes >= PARALLEL_SKIM_ABOVE;
    let run_many = |fs: &[usize], full: &(dyn Fn(usize) -> bool + Sync)| {
        if parallel {
            use rayon::prelude::*;
            fs.par_iter()
                .with_min_len(16)
                .map(|&i| run_one(i, full(i)))
                .collect::<Vec<crate::arch::FunctionFacts>>()
        } else {
            fs.iter().map(|&i| run_one(i, full(i))).collect()
        }
    };
    // Data flow from the start for the functions completed on request, and for PLT stubs
    // (tiny; they pass their arguments through to another object, so whoever calls a syscall
    // wrapper through them needs their values); every other function is skimmed.
    let is_plt = |p: &FnPlan| plt_entries.contains(&p.entry);
    let mut is_full: Vec<bool> = plans
        .iter()
        .map(|p| full_everywhere || force_full.contains(&p.entry) || is_plt(p))
        .collect();
    let all: Vec<usize> = (0..plans.len()).collect();
    let mut facts: Vec<crate::arch::FunctionFacts> = run_many(&all, &|i| is_full[i]);
    phase("  skim");
    let mut callers: Vec<Vec<usize>> = vec![Vec::new(); plans.len()];
    for (i, f) in facts.iter().enumerate() {
        for c in &f.calls {
            if let RawTarget::Addr(a) = c.target {
                if let Some(j) = index_of(a) {
                    callers[j as usize].push(i);
                }
            }
        }
    }
    for v in callers.iter_mut() {
        v.sort_unstable();
        v.dedup();
    }
    // Consumers: functions some of whose parameters become syscall numbers.
    let mut needed: Vec<Option<Needs>> = vec![None; plans.len()];
    let mut queue: Vec<usize> = Vec::new();
    // A function completed on request is one whose argument values something needs: its
    // local callers that pass their own parameters on are completed in the same run.
    for (i, p) in plans.iter().enumerate() {
        if force_full.contains(&p.entry) {
            needed[i] = Some(Needs::Any);
            queue.push(i);
        }
    }
    // Calls to imports named like the C libraries' syscall wrappers (`syscall`): their argument
    // values are almost always needed, so they are computed now rather than on request. (Only a
    // shortcut: any other import that turns out to forward a syscall number is completed on
    // request by the pipeline.)
    // The name a call reaches: an import directly through the GOT, this object's PLT stub (named
    // after the symbol it jumps to, as in the summary), or a local function by its symbol name
    // (libc's own `execvp` calling its `execvpe`). Calls to the names the pipeline follows get
    // data flow now, so that completing them is never asked for.
    let import_name = |facts: &[crate::arch::FunctionFacts], t: RawTarget| -> Option<&str> {
        match t {
            RawTarget::Symbol(s) => elf
                .dynsym
                .get(s as usize)
                .filter(|d| !d.defined)
                .map(|d| d.name.as_str()),
            RawTarget::Addr(a) => {
                let j = index_of(a)? as usize;
                if let Some(n) = starts.get(&plans[j].entry).and_then(|s| s.name.as_deref()) {
                    return Some(n.strip_suffix("@plt").unwrap_or(n));
                }
                if !is_plt(&plans[j]) {
                    return None;
                }
                match facts[j].calls.first()?.target {
                    RawTarget::Symbol(s) => elf.dynsym.get(s as usize).map(|d| d.name.as_str()),
                    _ => None,
                }
            }
            RawTarget::Indirect => None,
        }
    };
    // Whether a name is one of those, decided once per symbol and per function rather than at
    // each of the object's (up to millions of) calls.
    let followed = |n: &str| {
        crate::SYSCALL_WRAPPER_NAMES.contains(&n) || crate::STRING_ARG_IMPORTS.contains(&n)
    };
    let symbol_followed: Vec<bool> = (0..elf.dynsym.len() as u32)
        .map(|s| import_name(&facts, RawTarget::Symbol(s)).is_some_and(followed))
        .collect();
    let function_followed: Vec<bool> = plans
        .iter()
        .map(|p| import_name(&facts, RawTarget::Addr(p.entry)).is_some_and(followed))
        .collect();
    let calls_wrapper_import = |f: &crate::arch::FunctionFacts| {
        f.calls.iter().any(|c| match c.target {
            RawTarget::Symbol(s) => symbol_followed.get(s as usize).copied().unwrap_or(false),
            RawTarget::Addr(a) => index_of(a).is_some_and(|j| function_followed[j as usize]),
            RawTarget::Indirect => false,
        })
    };
    for i in 0..plans.len() {
        if !facts[i].syscalls.is_empty() || calls_wrapper_import(&facts[i]) {
            if !is_full[i] {
                facts[i] = run_one(i, true);
                is_full[i] = true;
            }
            // Parameters passed on as the number of a syscall wrapper (its first argument; the
            // others are whatever the registers held, `syscall` being variadic), or used as the
            // number of a syscall site.
            let mut params: BTreeSet<Loc> = BTreeSet::new();
            for c in &facts[i].calls {
                if import_name(&facts, c.target)
                    .is_some_and(|n| crate::SYSCALL_WRAPPER_NAMES.contains(&n))
                {
                    if let Some((_, v)) = c.args.iter().find(|(l, _)| *l == arch.first_arg()) {
                        params.extend(param_locs(v));
                    }
                }
            }
            for site in &facts[i].syscalls {
                params.extend(param_locs(&site.number));
            }
            if !params.is_empty() && needed[i].is_none() {
                needed[i] = Some(Needs::These(params));
                queue.push(i);
            }
        }
    }
    phase("  wrappers");
    if phases {
        eprintln!(
            "[phase]   full after wrappers: {}, plt {}",
            is_full.iter().filter(|f| **f).count(),
            plans.iter().filter(|p| is_plt(p)).count()
        );
    }
    // The callers of a consumer run data flow; a caller passing its own parameters in the
    // locations the consumer needs becomes a consumer of those parameters. (A location the
    // caller's arguments cannot name directly, e.g. a field behind a pointer, takes every
    // parameter the call passes.) Anything this misses is completed on request by the pipeline.
    while let Some(c) = queue.pop() {
        let want = needed[c].clone();
        for &g in &callers[c] {
            if !is_full[g] {
                facts[g] = run_one(g, true);
                is_full[g] = true;
            }
            let mut got: BTreeSet<Loc> = BTreeSet::new();
            for call in &facts[g].calls {
                if !matches!(call.target, RawTarget::Addr(a) if index_of(a) == Some(c as u32)) {
                    continue;
                }
                match &want {
                    Some(Needs::These(locs))
                        if locs
                            .iter()
                            .all(|l| matches!(l, Loc::Reg(_) | Loc::Stack(_))) =>
                    {
                        for l in locs {
                            if let Some((_, v)) = call.args.iter().find(|(at, _)| at == l) {
                                got.extend(param_locs(v));
                            }
                        }
                    }
                    _ => got.extend(call.args.iter().flat_map(|(_, v)| param_locs(v))),
                }
            }
            if got.is_empty() {
                continue;
            }
            let grew = match &mut needed[g] {
                Some(Needs::Any) => false,
                Some(Needs::These(have)) => {
                    let before = have.len();
                    have.extend(got);
                    have.len() > before
                }
                slot @ None => {
                    *slot = Some(Needs::These(got));
                    true
                }
            };
            if grew {
                queue.push(g);
            }
        }
    }
    // A consumer whose address this object takes (libcap's table of syscall wrappers) gets its
    // numbers from the object's indirect calls (documented assumption 2): their data flow runs
    // now, so that the programs reaching them need no completion round.
    let taken_consumer = needed.iter().any(Option::is_some) && {
        let mut taken: Vec<u64> = code_taken.iter().map(|&(_, a)| a).collect();
        taken.sort_unstable();
        plans.iter().enumerate().any(|(i, p)| {
            needed[i].is_some()
                && (data_taken.binary_search(&p.entry).is_ok()
                    || taken.binary_search(&p.entry).is_ok())
        })
    };
    if taken_consumer {
        let todo: Vec<usize> = (0..plans.len())
            .filter(|&g| {
                !is_full[g]
                    && facts[g]
                        .calls
                        .iter()
                        .any(|c| c.target == RawTarget::Indirect)
            })
            .collect();
        // Thousands of functions in a large program (a Go binary's every indirect caller).
        let done = run_many(&todo, &|_| true);
        for (g, f) in todo.into_iter().zip(done) {
            facts[g] = f;
            is_full[g] = true;
        }
    }
    stats.full_dataflow = is_full.iter().filter(|f| **f).count() as u64;

    phase("dataflow");
    insns.recycle(arch);
    // 6. Number functions and turn addresses into indexes.
    let all_data_refs: Vec<u64> = {
        let mut v: Vec<u64> = facts
            .iter()
            .flat_map(|f| f.data_refs.iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    // Go: code addresses inside Go functions are jump-table targets, not function pointers;
    // the itablinks list makes no itab live; method tables and type offsets are references of
    // the type descriptors' regions (see crate::go).
    let mut pointers = pointers;
    if let Some(g) = &go {
        pointers.retain(|(slot, t)| !g.is_interior(*t) && !g.in_itablinks(*slot));
        let candidates: Vec<u64> = all_data_refs
            .iter()
            .copied()
            .chain(pointers.iter().map(|p| p.1))
            .collect();
        pointers.extend(crate::go::types::type_refs(g, elf, data, candidates));
        pointers.sort_unstable();
        pointers.dedup();
    }
    let regions = if elf.sections.is_empty() {
        Vec::new()
    } else {
        data_regions(&ctx, &all_data_refs, &pointers, &index_of)
    };
    let region_of = |a: u64| -> Option<u32> {
        let i = regions.partition_point(|r| r.start <= a);
        (i > 0 && a < regions[i - 1].end).then(|| (i - 1) as u32)
    };
    // Globals whose value the data flow may follow: loaded somewhere, not escaped (address taken
    // as a pointer, stored in data, written through a global pointer, exported or relocated).
    let globals: Vec<(u64, u8, u64)> = {
        let mut escaped: BTreeSet<u64> = facts
            .iter()
            .flat_map(|f| f.escaped_data.iter().copied())
            .collect();
        escaped.extend(pointers.iter().map(|p| p.1));
        let exported: Vec<(u64, u64)> = elf
            .exports()
            .filter(|(_, s)| !ctx.is_code(s.value))
            .map(|(_, s)| (s.value, s.value.saturating_add(s.size.max(1))))
            .collect();
        let mut loads: Vec<(u64, u8)> = facts
            .iter()
            .flat_map(|f| f.global_loads.iter().copied())
            .collect();
        loads.sort_unstable();
        loads.dedup();
        if let Some(w) = std::env::var("DG_GLOBAL")
            .ok()
            .and_then(|v| u64::from_str_radix(&v, 16).ok())
        {
            eprintln!(
                "global {w:#x}: loaded={:?} escaped near={:?} exported={:?}",
                loads.iter().filter(|l| l.0 == w).collect::<Vec<_>>(),
                escaped
                    .range(w.saturating_sub(64)..w + 8)
                    .collect::<Vec<_>>(),
                exported
                    .iter()
                    .filter(|(s, e)| w >= *s && w < *e)
                    .collect::<Vec<_>>()
            );
        }
        loads
            .into_iter()
            .filter(|(a, size)| {
                // An escaped address covers the data up to the next address code refers to
                // (a structure reached through a pointer ends where the next label begins).
                !escaped
                    .range(..a + *size as u64)
                    .next_back()
                    .is_some_and(|&x| {
                        let next_label = all_data_refs
                            .get(all_data_refs.partition_point(|&l| l <= x))
                            .copied()
                            .unwrap_or(u64::MAX);
                        *a < next_label.max(x + 8)
                    })
                    && !exported.iter().any(|(s, e)| a >= s && a < e)
                    && !ctx.relocs.contains_key(a)
            })
            .map(|(a, size)| {
                let init = elf
                    .vaddr_to_offset(a)
                    .and_then(|o| data.get(o as usize..o as usize + size as usize))
                    .map(|b| b.iter().rev().fold(0u64, |acc, x| (acc << 8) | *x as u64))
                    .unwrap_or(0);
                (a, size, init)
            })
            .collect()
    };
    let global_deref_writes: Vec<(u64, i32)> = {
        let mut v: Vec<(u64, i32)> = facts
            .iter()
            .flat_map(|f| f.global_deref_writes.iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let mut functions = Vec::with_capacity(plan.len());
    for ((p, f), (entry, _, end)) in plans.iter().zip(facts).zip(&plan) {
        let gap = Start {
            extent_end: None,
            origin: FnOrigin::Gap,
            name: None,
        };
        let s = starts.get(entry).unwrap_or(&gap);
        stats.instructions += f.instructions;
        stats.syscall_sites += f.syscalls.len() as u64;
        let self_idx = index_of(*entry);
        // A label of the function itself (jump tables, computed gotos) is not an escape; its
        // own entry is.
        let mut addr_taken: Vec<u32> = f
            .addr_taken
            .iter()
            .filter_map(|&a| index_of(a).filter(|&i| Some(i) != self_idx || a == *entry))
            .collect();
        addr_taken.sort_unstable();
        addr_taken.dedup();
        let calls = f
            .calls
            .into_iter()
            .map(|c| {
                CallSite::new(
                    c.addr,
                    match c.target {
                        RawTarget::Addr(a) => {
                            index_of(a).map_or(CallTarget::Indirect, CallTarget::Local)
                        }
                        RawTarget::Symbol(s) => CallTarget::Symbol(s),
                        RawTarget::Indirect => CallTarget::Indirect,
                    },
                    c.tail,
                    c.args_known,
                    c.args,
                    c.strings,
                )
            })
            .collect();
        functions.push(Function {
            entry: *entry,
            end: *end,
            name: s.name.clone(),
            origin: s.origin,
            abi: p.abi,
            syscalls: f.syscalls,
            calls,
            addr_taken,
            symbols_taken: f.symbols_taken,
            global_stores: f.global_stores,
            data_refs: {
                let mut v: Vec<u32> = f.data_refs.iter().filter_map(|&a| region_of(a)).collect();
                v.sort_unstable();
                v.dedup();
                v
            },
            falls_through: f.falls_through,
        });
    }
    stats.functions = functions.len() as u64;
    // PLT stubs are named after the symbol they jump to.
    for f in functions
        .iter_mut()
        .filter(|f| f.origin == FnOrigin::Plt && f.name.is_none())
    {
        if let Some(CallTarget::Symbol(s)) = f.calls.first().map(|c| c.target) {
            if let Some(sym) = elf.dynsym.get(s as usize) {
                f.name = Some(format!("{}@plt", sym.name));
            }
        }
    }
    // The lazy-binding trampoline (the first entry of `.plt`) jumps through a GOT slot the
    // loader fills with its resolver, which then jumps to the very symbol the calling stub
    // names: the stubs' own edges already cover it, so it is not an indirect call.
    if let Some(plt) = elf.section(".plt") {
        for f in functions.iter_mut().filter(|f| f.entry == plt.addr) {
            f.calls.retain(|c| c.target != CallTarget::Indirect);
            f.name.get_or_insert_with(|| "PLT0".to_string());
        }
    }
    let named_functions: Vec<u32> = functions
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.name.as_deref().is_some_and(|n| {
                crate::STRING_ARG_IMPORTS.contains(&n.strip_suffix("@plt").unwrap_or(n))
            })
        })
        .map(|(i, _)| i as u32)
        .collect();
    // Local callers of each function (reverse of the call edges), for parameter resolution.
    let mut callers: Vec<Vec<(u32, u32)>> = vec![Vec::new(); functions.len()];
    for (fi, f) in functions.iter().enumerate() {
        for (ci, c) in f.calls.iter().enumerate() {
            if let CallTarget::Local(t) = c.target {
                if let Some(v) = callers.get_mut(t as usize) {
                    v.push((fi as u32, ci as u32));
                }
            }
        }
    }
    stats.data_in_code = data_like.len() as u64;
    // Code pointers outside every data region (objects without section headers) are live
    // whenever the object is loaded; the others live with their region.
    let mut data_addr_taken: Vec<u32> = pointers
        .iter()
        .filter(|(slot, t)| ctx.is_code(*t) && region_of(*slot).is_none())
        .filter_map(|&(_, t)| index_of(t))
        .collect();
    data_addr_taken.sort_unstable();
    data_addr_taken.dedup();
    let mut init_fini: Vec<u32> = init_fini_addrs
        .iter()
        .filter_map(|&a| index_of(a))
        .collect();
    init_fini.sort_unstable();
    init_fini.dedup();
    let mut exports: Vec<(u32, u32)> = elf
        .exports()
        .filter(|(_, s)| {
            matches!(s.kind, SymKind::Func | SymKind::IFunc | SymKind::NoType)
                && ctx.is_code(s.value)
        })
        .filter_map(|(i, s)| index_of(s.value).map(|f| (i as u32, f)))
        .collect();
    exports.sort_unstable();
    let mut summary = ObjectSummary {
        entry: if ctx.is_code(elf.entry) {
            index_of(elf.entry)
        } else {
            None
        },
        functions,
        init_fini,
        data_addr_taken,
        data_symbols_taken,
        regions,
        globals,
        global_deref_writes,
        named_symbols: elf
            .dynsym
            .iter()
            .enumerate()
            .filter(|(_, s)| crate::STRING_ARG_IMPORTS.contains(&s.name.as_str()))
            .map(|(i, _)| i as u32)
            .collect(),
        named_functions,
        callers,
        exports,
        stats,
        warnings,
    };
    summary.shrink_to_fit();
    Ok(summary)
}

/// Pointers stored in data: `(slot, target)` for every relocation whose result is an address of
/// this object, and, in position-dependent or static objects, every pointer-sized word of data
/// that holds one. GOT slots are left out (code that loads or calls through them accounts for
/// them).
fn data_pointers(ctx: &CodeContext<'_>, warnings: &mut Vec<String>) -> Vec<(u64, u64)> {
    let elf = ctx.elf;
    // The address ranges of the segments, merged: looked up for every word of data.
    let image = merged(
        elf.segments
            .iter()
            .filter(|s| s.memsz > 0)
            .map(|s| (s.vaddr, s.vaddr.saturating_add(s.memsz)))
            .collect(),
    );
    let got = got_ranges(elf);
    let mut out = Vec::new();
    for r in &elf.relocs {
        if in_ranges(&got, r.offset) {
            continue;
        }
        match r.kind {
            RelocKind::Relative | RelocKind::IRelative => out.push((r.offset, r.addend as u64)),
            RelocKind::Absolute if r.sym == 0 => out.push((r.offset, r.addend as u64)),
            _ => {}
        }
    }
    if ctx.absolute || !elf.has_dynamic {
        let skip = |n: &str| {
            n.starts_with(".rela")
                || n.starts_with(".rel.")
                || n.starts_with(".eh_frame")
                || n.starts_with(".gcc_except")
                || matches!(
                    n,
                    ".dynsym"
                        | ".symtab"
                        | ".got"
                        | ".got.plt"
                        | ".dynamic"
                        | ".gnu.hash"
                        | ".hash"
                        | ".dynstr"
                        | ".gopclntab"
                )
                || n.starts_with(".note")
                || n.starts_with(".gnu.version")
        };
        // Sections of a real file do not overlap: all of them together are at most the file.
        // Those of a hostile one may each cover the whole file, many times over.
        let mut budget = ctx.data.len();
        let mut scanned: foldhash::HashSet<(u64, u64, u64)> = Default::default();
        for s in elf
            .sections
            .iter()
            .filter(|s| s.alloc && !s.executable && !s.nobits && !skip(&s.name))
        {
            if !scanned.insert((s.offset, s.size, s.addr)) {
                continue;
            }
            if usize::try_from(s.size).map_or(true, |n| n > budget) {
                warnings.push(format!(
                    "data sections overlap (more bytes than the file holds); {} and those after it are not scanned for code pointers",
                    s.name
                ));
                break;
            }
            budget -= s.size as usize;
            let Some(bytes) = usize::try_from(s.offset).ok().and_then(|o| {
                ctx.data
                    .get(o..o.checked_add(usize::try_from(s.size).ok()?)?)
            }) else {
                continue;
            };
            let start = (8 - (s.addr % 8) as usize) % 8;
            let mut k = start;
            while k + 8 <= bytes.len() {
                let w = u64::from_le_bytes(bytes[k..k + 8].try_into().expect("8 bytes"));
                if ctx.is_code(w) || (w != 0 && in_ranges(&image, w)) {
                    out.push((s.addr.wrapping_add(k as u64), w));
                }
                k += 8;
            }
        }
    }
    out.retain(|(_, t)| ctx.is_code(*t) || in_ranges(&image, *t));
    out.sort_unstable();
    out.dedup();
    out
}

/// Splits the object's data into regions at every address something refers to (code, data
/// pointers, exported symbols, section starts): a table is reached through its start, so a
/// region runs from one such label to the next. Returns the regions, sorted by start.
fn data_regions(
    ctx: &CodeContext<'_>,
    code_data_refs: &[u64],
    pointers: &[(u64, u64)],
    index_of: &dyn Fn(u64) -> Option<u32>,
) -> Vec<crate::summary::DataRegion> {
    let elf = ctx.elf;
    let sections: Vec<&dockergate_elf::Section> = elf
        .sections
        .iter()
        .filter(|s| s.alloc && !s.executable && !s.tls && s.size > 0)
        .collect();
    let section_of = |a: u64| {
        sections
            .iter()
            .find(|s| a >= s.addr && a < s.addr + s.size)
            .map(|s| (s.addr, s.addr + s.size))
    };
    let mut labels: BTreeSet<u64> = BTreeSet::new();
    for s in &sections {
        labels.insert(s.addr);
    }
    for &a in code_data_refs {
        if section_of(a).is_some() {
            labels.insert(a);
        }
    }
    for &(_, t) in pointers {
        if !ctx.is_code(t) && section_of(t).is_some() {
            labels.insert(t);
        }
    }
    let mut exported: BTreeSet<u64> = BTreeSet::new();
    for (_, s) in elf.exports() {
        if !ctx.is_code(s.value) && section_of(s.value).is_some() {
            labels.insert(s.value);
            exported.insert(s.value);
        }
    }
    let labels: Vec<u64> = labels.into_iter().collect();
    let mut regions: Vec<crate::summary::DataRegion> = Vec::with_capacity(labels.len());
    for (i, &l) in labels.iter().enumerate() {
        let Some((_, sec_end)) = section_of(l) else {
            continue;
        };
        let end = labels
            .get(i + 1)
            .copied()
            .filter(|n| *n < sec_end)
            .unwrap_or(sec_end);
        let sec_name = sections
            .iter()
            .find(|s| l >= s.addr && l < s.addr + s.size)
            .map(|s| s.name.as_str())
            .unwrap_or("");
        let always_live = exported.range(l..end).next().is_some()
            || matches!(
                sec_name,
                ".init_array" | ".fini_array" | ".preinit_array" | ".ctors" | ".dtors"
            );
        let continues = end < sec_end;
        regions.push(crate::summary::DataRegion {
            start: l,
            end,
            functions: Vec::new(),
            regions: Vec::new(),
            always_live,
            continues,
        });
    }
    let starts: Vec<(u64, u64)> = regions.iter().map(|r| (r.start, r.end)).collect();
    let region_of = |a: u64| -> Option<usize> {
        let i = starts.partition_point(|r| r.0 <= a);
        (i > 0 && a < starts[i - 1].1).then(|| i - 1)
    };
    for &(slot, t) in pointers {
        let Some(r) = region_of(slot) else { continue };
        if ctx.is_code(t) {
            if let Some(f) = index_of(t) {
                regions[r].functions.push(f);
            }
        } else if let Some(r2) = region_of(t) {
            if r2 != r {
                regions[r].regions.push(r2 as u32);
            }
        }
    }
    for r in regions.iter_mut() {
        r.functions.sort_unstable();
        r.functions.dedup();
        r.regions.sort_unstable();
        r.regions.dedup();
    }
    regions
}

/// Functions as (entry, known extent end, end), sorted: each known start runs to its extent or
/// to the next start; code not covered by any function and not padding becomes a gap function.
fn plan_functions<A: Arch>(
    starts: &BTreeMap<u64, Start>,
    ranges: &[(u64, u64)],
    arch: &A,
    ctx: &CodeContext<'_>,
    insns: &Sweep<A::Insn>,
) -> Vec<(u64, Option<u64>, u64)> {
    let mut scratch = Vec::new();
    let range_end = |a: u64| {
        ranges
            .iter()
            .find(|r| a >= r.0 && a < r.1)
            .map(|r| r.1)
            .unwrap_or(a + 1)
    };
    let keys: Vec<(u64, Option<u64>)> = starts.iter().map(|(a, s)| (*a, s.extent_end)).collect();
    let mut out: Vec<(u64, Option<u64>, u64)> = Vec::with_capacity(keys.len());
    for (i, &(a, ext)) in keys.iter().enumerate() {
        let next = keys.get(i + 1).map_or(u64::MAX, |k| k.0);
        let re = range_end(a);
        let end = match ext {
            Some(x) => x.min(next).min(re),
            None => next.min(re),
        };
        out.push((a, ext.map(|x| x.min(end)), end));
    }
    // Gaps: code not covered by any function.
    let mut gaps: Vec<(u64, Option<u64>, u64)> = Vec::new();
    for &(rs, re) in ranges {
        let mut cur = rs;
        let first = out.partition_point(|f| f.0 < rs);
        let mut idx = first;
        // The gaps of a range come in ascending order: one cursor over the instructions.
        let mut k = insns.first_from(arch, rs);
        while cur < re {
            let next_start = out.get(idx).map(|f| f.0).filter(|&s| s < re).unwrap_or(re);
            if next_start > cur
                && !{
                    // The first instruction at or after `cur` (searched: the functions between
                    // gaps hold most of the instructions).
                    k = k.max(insns.first_from(arch, cur));
                    let mut hi = k;
                    while hi < insns.len() && insns.addr(arch, hi) < next_start {
                        hi += 1;
                    }
                    insns
                        .slice(arch, ctx, k, hi, &mut scratch)
                        .iter()
                        .all(|i| arch.is_padding(i))
                }
            {
                gaps.push((cur, None, next_start));
            }
            match out.get(idx) {
                Some(f) if f.0 < re => {
                    cur = cur.max(f.2);
                    idx += 1;
                }
                _ => break,
            }
        }
    }
    out.extend(gaps);
    out.sort_by_key(|f| f.0);
    out
}

/// [`find_fn`] for addresses met in ascending order, in one pass over the plan.
struct FnCursor<'p> {
    plan: &'p [(u64, Option<u64>, u64)],
    next: usize,
}

impl<'p> FnCursor<'p> {
    fn new(plan: &'p [(u64, Option<u64>, u64)]) -> Self {
        FnCursor { plan, next: 0 }
    }

    /// The function holding `addr`; `addr` must not be below the previous one asked.
    fn find(&mut self, addr: u64) -> Option<usize> {
        while self.next < self.plan.len() && self.plan[self.next].0 <= addr {
            self.next += 1;
        }
        let i = self.next.checked_sub(1)?;
        (addr < self.plan[i].2).then_some(i)
    }
}

/// Which parameters of a function become syscall numbers.
#[derive(Clone)]
enum Needs {
    /// Not known which (a function completed on request): any of them.
    Any,
    These(BTreeSet<Loc>),
}

/// The parameter locations among a value's atoms.
fn param_locs(v: &crate::summary::ValueSet) -> impl Iterator<Item = Loc> + '_ {
    v.atoms.iter().filter_map(|a| match a {
        crate::summary::Atom::Param(l) => Some(*l),
        _ => None,
    })
}

fn find_fn(plan: &[(u64, Option<u64>, u64)], addr: u64) -> Option<usize> {
    let i = plan.partition_point(|f| f.0 <= addr);
    if i == 0 {
        return None;
    }
    (addr < plan[i - 1].2).then_some(i - 1)
}

/// Local functions that cannot return: no `ret`, and every tail jump goes to a function that
/// cannot return either (fixed point from "all candidates").
fn noreturn_functions<A: Arch>(
    arch: &A,
    ctx: &CodeContext<'_>,
    plan: &[(u64, Option<u64>, u64)],
    insns: &Sweep<A::Insn>,
) -> foldhash::HashSet<u64> {
    let mut scratch = Vec::new();
    let exits: Vec<(u64, FnExits)> = plan
        .iter()
        .map(|(entry, _, end)| {
            let (aligned, code) = insns.span(arch, ctx, *entry, *end, &mut scratch);
            let mut e = arch.exits(ctx, code, *entry, *end);
            if !aligned || code.is_empty() {
                e.returns = true;
            }
            (*entry, e)
        })
        .collect();
    let mut noreturn: foldhash::HashSet<u64> = exits
        .iter()
        .filter(|(_, e)| !e.returns)
        .map(|(a, _)| *a)
        .collect();
    loop {
        let before = noreturn.len();
        for (a, e) in &exits {
            if !noreturn.contains(a) {
                continue;
            }
            let escapes = e.tail_targets.iter().any(|t| match t {
                RawTarget::Addr(x) => !noreturn.contains(x),
                RawTarget::Symbol(s) => !ctx.noreturn_symbols.contains(s),
                RawTarget::Indirect => true,
            });
            if escapes {
                noreturn.remove(a);
            }
        }
        if noreturn.len() == before {
            break;
        }
    }
    noreturn
}

/// Functions found only by a reference (no symbol, FDE or other trusted origin) whose first
/// straight-line instructions are not plausible code: data tables inside code sections.
fn implausible_functions<A: Arch>(
    arch: &A,
    ctx: &CodeContext<'_>,
    plan: &[(u64, Option<u64>, u64)],
    starts: &BTreeMap<u64, Start>,
    insns: &Sweep<A::Insn>,
) -> foldhash::HashSet<u64> {
    let mut out = foldhash::HashSet::default();
    let mut scratch = Vec::new();
    for (entry, _, end) in plan {
        let trusted = starts.get(entry).is_some_and(|s| {
            matches!(
                s.origin,
                FnOrigin::Symbol
                    | FnOrigin::EhFrame
                    | FnOrigin::GoPclntab
                    | FnOrigin::Plt
                    | FnOrigin::Entry
                    | FnOrigin::InitFini
            )
        });
        if trusted {
            continue;
        }
        let (aligned, code) = insns.span(arch, ctx, *entry, *end, &mut scratch);
        if !aligned || !arch.plausible_code(code) {
            out.insert(*entry);
        }
    }
    out
}

/// The direct branches the sweep saw: (source, target, kind), sorted by source once decoding is
/// done. 12 bytes each while both addresses lie within 4 GB above the lowest code address (every
/// real object: libLLVM has 2.3 million branches, 28 MB less than with full addresses).
enum Branches {
    Near {
        base: u64,
        list: Vec<(u32, u32, BranchKind)>,
    },
    Far(Vec<(u64, u64, BranchKind)>),
}

impl Branches {
    fn new(base: u64) -> Branches {
        Branches::Near {
            base,
            list: Vec::new(),
        }
    }

    fn push(&mut self, src: u64, target: u64, kind: BranchKind) {
        if let Branches::Near { base, list } = self {
            let near = |a: u64| a.checked_sub(*base).and_then(|d| u32::try_from(d).ok());
            if let (Some(s), Some(t)) = (near(src), near(target)) {
                list.push((s, t, kind));
                return;
            }
            let b = *base;
            let far = list
                .iter()
                .map(|&(s, t, k)| (b + u64::from(s), b + u64::from(t), k))
                .collect();
            *self = Branches::Far(far);
        }
        if let Branches::Far(v) = self {
            v.push((src, target, kind));
        }
    }

    fn sort(&mut self) {
        match self {
            Branches::Near { list, .. } => list.sort_unstable_by_key(|b| b.0),
            Branches::Far(v) => v.sort_unstable_by_key(|b| b.0),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u64, u64, BranchKind)> + '_ {
        let (near, far) = match self {
            Branches::Near { base, list } => (Some((*base, list)), None),
            Branches::Far(v) => (None, Some(v)),
        };
        near.into_iter()
            .flat_map(|(b, l)| {
                l.iter()
                    .map(move |&(s, t, k)| (b + u64::from(s), b + u64::from(t), k))
            })
            .chain(far.into_iter().flatten().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_keep_their_addresses_near_and_far() {
        let mut b = Branches::new(0x1000);
        b.push(0x2000, 0x1800, BranchKind::Call);
        b.push(0x1500, 0x1000, BranchKind::CondJump);
        assert!(matches!(b, Branches::Near { .. }));
        // A target more than 4 GB above the lowest code address (no real object has one).
        b.push(0x1600, 0x2_0000_0000, BranchKind::Jump);
        assert!(matches!(b, Branches::Far(_)));
        b.push(0x1400, 0x1100, BranchKind::Jump);
        b.sort();
        let got: Vec<_> = b.iter().collect();
        assert_eq!(
            got,
            vec![
                (0x1400, 0x1100, BranchKind::Jump),
                (0x1500, 0x1000, BranchKind::CondJump),
                (0x1600, 0x2_0000_0000, BranchKind::Jump),
                (0x2000, 0x1800, BranchKind::Call),
            ]
        );
    }
}
