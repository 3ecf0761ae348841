//! `dockergate-pipeline`: the whole analysis of an image, from its filesystem and ELF catalog to
//! a [`Profile`] and its [`Evidence`].
//!
//! Image scope: every executable ELF of the image is a program that may run, and every shared
//! object but the C library and the loader is a plugin some program may `dlopen` (NSS modules,
//! Python extensions, server modules, JNI libraries), its exported functions roots. Each distinct
//! object is analysed once (in parallel); each program and plugin gets its own reachability,
//! and the profile is the union of what they can call plus the container runtime's needs.

mod entrypoint;
mod evidence;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use dockergate_analysis::{analyze_object, complete_functions, AnalysisError, ObjectSummary};
use dockergate_callgraph::{
    ProgramGraph, ProgramKind, ProgramSyscalls, SyscallNames, UnresolvedSite, Witness,
};
use dockergate_elf::ElfKind;
use dockergate_fs::{ImageFs, NodeId};
use dockergate_loader::{
    bind_symbols_cached, BindCache, Bindings, ElfCatalog, ImageLoader, LoadedProgram,
};
use dockergate_profile::{AllowReason, Profile, Runtime, SyscallTable};
use dockergate_scripts::{self as scripts, RawSyscallNumber};
use rayon::prelude::*;

pub use entrypoint::{EntrypointEvidence, EntrypointSpec, ReachedEvidence, Scope};
pub use evidence::{Evidence, ProgramEvidence, SyscallEvidence};

/// What to do with reachable syscall sites whose number is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnresolvedPolicy {
    /// Refuse to write a profile; list the sites.
    Fail,
    /// Allow every syscall of the table (the profile then only blocks other architectures).
    AllowAll,
    /// Write the profile without them (the user accepts the risk).
    Ignore,
}

/// Interpreter builtins that pass a script's number to `syscall()`, and their language.
const SCRIPT_SYSCALL_BUILTINS: &[(&str, &str)] =
    &[("Perl_pp_syscall", "perl"), ("rb_f_syscall", "ruby")];

/// What the scripts of one language hand to the interpreter's raw-syscall builtin.
#[derive(Clone, Debug, Default)]
struct ScriptRawSyscalls {
    /// Native numbers the scripts name (literals, or `syscall.ph` names the table has), each
    /// with the first script line (by path) that names it.
    numbers: BTreeMap<u64, String>,
    /// The first call (by path) whose number cannot be read: a variable or an expression.
    unknown: Option<String>,
}

/// Every script of the image in `lang` (by extension or `#!` line) read for calls to the
/// raw-syscall builtin ([`scripts::raw_syscall_calls`]). The interpreter can run any script of
/// the image, so all are read.
fn script_raw_syscalls(fs: &ImageFs, lang: &str) -> ScriptRawSyscalls {
    let exts: &[&str] = match lang {
        "perl" => &[".pl", ".pm", ".ph", ".t", ".cgi"],
        _ => &[".rb"],
    };
    let mut found = ScriptRawSyscalls::default();
    for (path, id) in fs.walk() {
        let node = fs.node(id);
        if !node.is_file() || node.size() > (4 << 20) {
            continue;
        }
        let by_name = exts.iter().any(|e| path.ends_with(e));
        let Ok(head) = fs.read_prefix(id, 128, &path) else {
            continue;
        };
        let by_shebang = head.starts_with(b"#!")
            && head
                .split(|b| *b == b'\n')
                .next()
                .is_some_and(|l| l.windows(lang.len()).any(|w| w == lang.as_bytes()));
        if !by_name && !by_shebang {
            continue;
        }
        let Ok(text) = fs.read(id, &path) else {
            continue;
        };
        for call in scripts::raw_syscall_calls(&text) {
            let at = format!("{path}:{}", call.line);
            match call.number {
                RawSyscallNumber::Number(nr) => {
                    found
                        .numbers
                        .entry(nr)
                        .or_insert_with(|| format!("{at}: syscall({nr}, …)"));
                }
                RawSyscallNumber::Name(name) => {
                    // A name the table lacks is not defined by this architecture's syscall.ph:
                    // the call dies before any syscall is made.
                    if let Some(nr) = SyscallTable::X86_64.number(&name) {
                        found
                            .numbers
                            .entry(nr)
                            .or_insert_with(|| format!("{at}: syscall(&SYS_{name}, …)"));
                    }
                }
                RawSyscallNumber::Unknown(arg) => {
                    found
                        .unknown
                        .get_or_insert_with(|| format!("{at}: syscall({arg}, …)"));
                }
            }
        }
    }
    found
}

/// The C library and the dynamic loader are in every process already: loading them again
/// loads nothing, and their exports are not plugin entry points (the plugin assumption;
/// `--dlsym=all` lifts it). Known by soname or file name (glibc, musl).
pub(crate) fn in_every_process(elf: &dockergate_elf::ElfObject, path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    elf.soname.as_deref().is_some_and(|s| {
        s == "libc.so.6"
            || s.starts_with("ld-linux")
            || s.starts_with("libc.musl")
            || s.starts_with("ld-musl")
    }) || base.starts_with("ld-linux")
        || base.starts_with("ld-musl")
        || base.starts_with("libc.musl-")
        || base == "libc.so.6"
        || base.starts_with("libc-2.")
}

/// Rounds of "complete the skimmed functions a program needs, analyse it again".
const MAX_COMPLETION_ROUNDS: usize = 8;

/// Options of [`analyze_image`].
#[derive(Clone, Debug)]
pub struct Options {
    pub runtime: Runtime,
    pub unresolved: UnresolvedPolicy,
    /// Image paths left out of the analysis on purpose.
    pub exclude: Vec<String>,
    /// Name of the image for reports.
    pub image_name: String,
    /// Which programs may run: every program of the image, or what the entrypoint can start.
    pub scope: Scope,
    /// `--dlsym=all`: every export of every loaded library is a root called with unknown
    /// arguments (code such as Python's ctypes calls any export by name).
    pub dlsym_all: bool,
    /// The build of the tool (a digest of all of its code and dependencies). When given, each
    /// program's result is kept in the [`SummarySource`] under its loaded objects' contents, and
    /// a program met again (in this or another image) is not analysed again.
    pub build: Option<u64>,
    /// The process ends after this analysis (a command-line run): what the analysis holds is
    /// left for the exit to release at once, not freed allocation by allocation (hundreds of
    /// thousands of them on a large image; freeing them took about 5% of a cold run's CPU).
    pub leave_to_exit: bool,
}

/// Where per-object analysis results come from (the cache plugs in here).
pub trait SummarySource: Sync {
    /// The summary of an object, given its bytes and parsed headers, and the digest this
    /// source keys the bytes by when it keeps results (hashed once, for the lookup and for
    /// the keys of results built on the summary).
    fn summary_and_key(
        &self,
        bytes: &[u8],
        elf: &dockergate_elf::ElfObject,
    ) -> Result<(Arc<ObjectSummary>, Option<[u8; 32]>), AnalysisError>;

    /// [`SummarySource::summary_and_key`] without the key.
    fn summary(
        &self,
        bytes: &[u8],
        elf: &dockergate_elf::ElfObject,
    ) -> Result<Arc<ObjectSummary>, AnalysisError> {
        self.summary_and_key(bytes, elf).map(|(s, _)| s)
    }

    /// `summary` completed for the functions `funcs` ([`complete_functions`]): also a pure
    /// function of the object's bytes (and of what is asked), so a cache may keep it.
    fn complete(
        &self,
        bytes: &[u8],
        elf: &dockergate_elf::ElfObject,
        summary: &ObjectSummary,
        funcs: &[u32],
    ) -> Result<Arc<ObjectSummary>, AnalysisError> {
        complete_functions(bytes, elf, summary, funcs).map(Arc::new)
    }

    /// The program results kept under `keys` by [`SummarySource::put_program_result`] (one
    /// answer per key, in order).
    fn program_results(&self, keys: &[[u8; 32]]) -> Vec<Option<Vec<u8>>> {
        vec![None; keys.len()]
    }

    /// Keeps a program's result (its witnesses left out) under `key`, a digest of everything
    /// it depends on.
    fn put_program_result(&self, _key: [u8; 32], _value: Vec<u8>) {}
}

/// Analyses every object afresh.
pub struct Uncached;

impl SummarySource for Uncached {
    fn summary_and_key(
        &self,
        bytes: &[u8],
        elf: &dockergate_elf::ElfObject,
    ) -> Result<(Arc<ObjectSummary>, Option<[u8; 32]>), AnalysisError> {
        Ok((Arc::new(analyze_object(bytes, elf)?), None))
    }
}

/// Why the image could not be profiled.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{count} file(s) in {image} cannot be analysed (exclude them on purpose with --exclude PATH): {list}")]
    Unanalysable {
        image: String,
        count: usize,
        list: String,
    },
    #[error("{0}")]
    Scope(String),
    #[error("{count} reachable syscall site(s) in {image} have an unknown number (choose with --unresolved=allow-all|ignore): {list}")]
    Unresolved {
        image: String,
        count: usize,
        list: String,
        report: Box<ImageReport>,
    },
}

impl PipelineError {
    /// The files of the image that cannot be analysed, each named once, sorted.
    fn unanalysable(opts: &Options, mut list: Vec<String>) -> Self {
        list.sort();
        list.dedup();
        PipelineError::Unanalysable {
            image: opts.image_name.clone(),
            count: list.len(),
            list: list.join("; "),
        }
    }
}

/// Everything the analysis of an image produced.
#[derive(Debug)]
pub struct ImageReport {
    pub profile: Profile,
    pub evidence: Evidence,
    pub unresolved: Vec<UnresolvedSite>,
    pub warnings: Vec<String>,
}

/// A program or plugin to analyse.
struct Unit {
    path: String,
    kind: ProgramKind,
    loaded: LoadedProgram,
}

/// What every step of one image's analysis shares.
struct Ctx<'a> {
    fs: &'a ImageFs,
    catalog: &'a ElfCatalog,
    env: &'a [String],
    working_dir: &'a str,
    loader: ImageLoader<'a>,
    source: &'a dyn SummarySource,
    excluded: HashSet<NodeId>,
    opts: &'a Options,
    timing: bool,
    t0: std::time::Instant,
}

impl Ctx<'_> {
    fn lap(&self, what: &str) {
        if self.timing {
            // Resident memory now and at its peak (Linux).
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let field = |k: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map_or(String::new(), |v| v.trim().to_string())
            };
            // CPU time of the process so far (user + system, in clock ticks of 10 ms).
            let cpu = std::fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|st| {
                    let rest = st.rsplit_once(')')?.1;
                    let f: Vec<&str> = rest.split_whitespace().collect();
                    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
                })
                .map_or(String::new(), |t| format!(", cpu {:.2}s", t as f64 / 100.0));
            eprintln!(
                "[timing] {what}: {:?} (rss {}, peak {}{cpu})",
                self.t0.elapsed(),
                field("VmRSS:"),
                field("VmHWM:")
            );
        }
    }
}

/// The units analysed so far: their bindings, reachability, and their objects' summaries
/// (analysed once, completed as programs ask), kept so that units can be added in waves.
#[derive(Default)]
struct Analysed {
    units: Vec<Unit>,
    bindings: Vec<Bindings>,
    results: Vec<Option<ProgramSyscalls>>,
    summaries: HashMap<NodeId, Arc<ObjectSummary>>,
    bind_cache: BindCache,
    /// Each object's content key in the summary source (when it keeps results).
    content_keys: HashMap<NodeId, [u8; 32]>,
    warnings: Vec<String>,
    unanalysable: Vec<String>,
}

/// Runs the whole analysis of an image.
pub fn analyze_image(
    fs: &ImageFs,
    catalog: &ElfCatalog,
    env: &[String],
    working_dir: &str,
    source: &dyn SummarySource,
    opts: &Options,
) -> Result<ImageReport, PipelineError> {
    let timing = std::env::var_os("DG_TIMING").is_some();
    let t0 = std::time::Instant::now();
    let loader = ImageLoader::new(fs, catalog, env, working_dir);
    let excluded: HashSet<NodeId> = opts
        .exclude
        .iter()
        .filter_map(|p| fs.resolve(p, true).ok().map(|r| r.node))
        .collect();
    let mut warnings = Vec::new();

    // Programs and plugins of the image.
    let interpreters: HashSet<NodeId> = catalog
        .entries()
        .iter()
        .filter_map(|e| e.elf.as_ref().ok()?.interpreter.as_deref())
        .filter_map(|i| fs.resolve(i, true).ok().map(|r| r.node))
        .collect();
    // A library loads only into a process of its own class and machine: one no program of the
    // image shares (i386 multilib files beside amd64 programs) is never code that runs. (An
    // image without programs runs one from elsewhere: every library stays a plugin.)
    let program_machines: HashSet<(u8, u16)> = catalog
        .entries()
        .iter()
        .filter(|e| !excluded.contains(&e.node))
        .filter_map(|e| e.elf.as_ref().ok())
        .filter(|elf| elf.kind.is_program())
        .map(|elf| (elf.class, elf.machine))
        .collect();
    let mut foreign: Vec<String> = Vec::new();
    let mut unanalysable: Vec<String> = Vec::new();
    let mut candidates: Vec<(String, ProgramKind)> = Vec::new();
    for e in catalog.entries() {
        let path = e.paths[0].clone();
        if excluded.contains(&e.node) {
            continue;
        }
        let elf = match &e.elf {
            Ok(elf) => elf,
            Err(err) => {
                unanalysable.push(format!("{path} ({err})"));
                continue;
            }
        };
        if elf.kind.is_program() {
            candidates.push((path, ProgramKind::Executable));
        } else if elf.kind == ElfKind::SharedObject
            && !program_machines.is_empty()
            && !program_machines.contains(&(elf.class, elf.machine))
        {
            foreign.push(path);
        } else if elf.kind == ElfKind::SharedObject
            && !interpreters.contains(&e.node)
            && !in_every_process(elf, &path)
        {
            // Needed by name or not: a program that computes a library's name at run time can
            // load any of them and find any export by name (JNI natives of libnio, which
            // libsctp needs, are found by the JVM with dlsym).
            candidates.push((path, ProgramKind::Plugin));
        }
    }
    if !foreign.is_empty() {
        warnings.push(format!(
            "{} shared object(s) of an architecture no program of the image has are not analysed (no process can load them), e.g. {}",
            foreign.len(),
            foreign[0]
        ));
    }
    let cx = Ctx {
        fs,
        catalog,
        env,
        working_dir,
        loader,
        source,
        excluded,
        opts,
        timing,
        t0,
    };
    let mut st = Analysed {
        warnings,
        unanalysable,
        ..Default::default()
    };
    let scope = match &opts.scope {
        Scope::Image => {
            let units = load_units(&cx, candidates, &mut st.warnings);
            analyse_units(&cx, &mut st, units)?;
            None
        }
        Scope::Entrypoint(spec) => Some(entrypoint::discover(&cx, &mut st, spec, &candidates)?),
    };
    let report = finish(&cx, &mut st, scope);
    if opts.leave_to_exit {
        std::mem::forget(st);
    } else {
        free_later(st);
    }
    report
}

/// Drops `v` on a thread of its own: the analysis holds hundreds of thousands of small
/// allocations, and freeing them takes a tenth of a second that the caller need not wait for.
fn free_later<T: Send + 'static>(v: T) {
    // If no thread can be started, the closure (and `v` with it) is dropped here.
    let _ = std::thread::Builder::new()
        .name("free-analysis".into())
        .spawn(move || drop(v));
}

/// Models loading each program or plugin; those that cannot run are left out with a warning.
fn load_units(cx: &Ctx, list: Vec<(String, ProgramKind)>, warnings: &mut Vec<String>) -> Vec<Unit> {
    let loader = &cx.loader;
    // Loaded in parallel, kept in order.
    let loaded: Vec<_> = list
        .into_par_iter()
        .map(|(path, kind)| {
            let loaded = match kind {
                ProgramKind::Executable => loader.load_program(&path),
                ProgramKind::Plugin | ProgramKind::Exports => loader.load_plugin(&path),
            };
            (path, kind, loaded)
        })
        .collect();
    loaded
        .into_iter()
        .filter_map(|(path, kind, loaded)| match loaded {
            Ok(loaded) => Some(Unit { path, kind, loaded }),
            Err(e) => {
                warnings.push(format!(
                    "{path} cannot run in this image and is left out: {e}"
                ));
                None
            }
        })
        .collect()
}

/// Analyses units and adds them to `st`: their objects not analysed yet (in parallel), their
/// bindings, their reachability with completion rounds.
fn analyse_units(cx: &Ctx, st: &mut Analysed, new: Vec<Unit>) -> Result<(), PipelineError> {
    let (fs, catalog, source, excluded, opts, timing) = (
        cx.fs,
        cx.catalog,
        cx.source,
        &cx.excluded,
        cx.opts,
        cx.timing,
    );
    let lap = |what: &str| cx.lap(what);
    let first = st.units.len();
    st.units.extend(new);
    let Analysed {
        units,
        bindings: all_bindings,
        results: all_results,
        summaries,
        bind_cache,
        content_keys,
        warnings,
        unanalysable,
    } = st;
    lap("programs loaded");
    // Every distinct object once.
    let mut objects: BTreeMap<NodeId, String> = BTreeMap::new();
    for u in &units[first..] {
        for o in &u.loaded.objects {
            if !summaries.contains_key(&o.node) {
                objects.entry(o.node).or_insert_with(|| o.real_path.clone());
            }
        }
    }
    // Largest first, one task each, so that a big library does not start last and run alone
    // (results are put back in node order).
    let mut objects: Vec<(NodeId, String)> = objects.into_iter().collect();
    objects.sort_by_key(|(node, _)| std::cmp::Reverse(catalog.entry(*node).map_or(0, |e| e.size)));
    // Each object's summary, and its content key in the source.
    type Summarised = (Arc<ObjectSummary>, Option<[u8; 32]>);
    let mut results: Vec<(NodeId, String, Result<Summarised, String>)> = objects
        .into_par_iter()
        .with_max_len(1)
        .map(|(node, path)| {
            let r = (|| {
                let elf = catalog
                    .elf(node)
                    .ok_or_else(|| "not a parsable ELF file".to_string())?;
                let bytes = fs.read(node, &path).map_err(|e| e.to_string())?;
                // A bug of the analyser on some input must not take the run down with a
                // panic: the object becomes one that cannot be analysed (an error, never a
                // silently missing object).
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    source.summary_and_key(&bytes, elf)
                }))
                .map_err(|p| format!("internal error of the analyser: {}", panic_message(&p)))?
                .map_err(|e| e.to_string())
            })();
            (node, path, r)
        })
        .collect();
    results.sort_by_key(|(node, _, _)| *node);
    lap("objects analysed");
    for (node, path, r) in results {
        match r {
            Ok((s, key)) => {
                summaries.insert(node, s);
                if let Some(k) = key {
                    content_keys.insert(node, k);
                }
            }
            Err(why) if excluded.contains(&node) => {
                warnings.push(format!("{path} excluded: {why}"))
            }
            Err(why) => unanalysable.push(format!("{path} ({why})")),
        }
    }
    if !unanalysable.is_empty() {
        return Err(PipelineError::unanalysable(
            opts,
            std::mem::take(unanalysable),
        ));
    }

    // Reachability per program, in parallel. A program whose syscall numbers depend on call
    // sites that were only skimmed asks for those functions to be completed (data flow run);
    // it is analysed again with the completed summaries, until nothing more is needed.
    let new_bindings: Vec<Bindings> = units[first..]
        .par_iter()
        .map(|u| bind_symbols_cached(&u.loaded, bind_cache))
        .collect();
    all_bindings.extend(new_bindings);
    let bindings = &*all_bindings;
    lap("bindings");
    let failed: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let analyse =
        |i: usize, summaries: &HashMap<NodeId, Arc<ObjectSummary>>| -> Option<ProgramSyscalls> {
            match reachability(&units[i], &bindings[i], summaries, opts)? {
                Ok(r) => Some(r),
                Err(p) => {
                    failed
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(format!(
                            "{} (internal error of the analyser: {p})",
                            units[i].path
                        ));
                    None
                }
            }
        };
    // Programs met before (same objects, same contents, same build and options): their kept
    // results, witnesses left out.
    let keys: Vec<Option<[u8; 32]>> = units[first..]
        .iter()
        .map(|u| {
            opts.build
                .and_then(|b| program_key(b, opts, u, content_keys))
        })
        .collect();
    let asked: Vec<[u8; 32]> = keys.iter().flatten().copied().collect();
    let mut answers = source.program_results(&asked).into_iter();
    let found: Vec<Option<Vec<u8>>> = keys
        .iter()
        .map(|k| k.and_then(|_| answers.next().flatten()))
        .collect();
    let kept: Vec<Option<ProgramSyscalls>> = found
        .into_par_iter()
        .map(|v| serde_json::from_slice::<ProgramSyscalls>(&v?).ok())
        .collect();
    // Biggest programs first, one task each (balanced over the cores), then back in order.
    let mut order: Vec<usize> = (first..units.len())
        .filter(|&i| kept[i - first].is_none())
        .collect();
    order.sort_by_key(|&i| {
        std::cmp::Reverse(
            units[i]
                .loaded
                .objects
                .iter()
                .map(|o| summaries.get(&o.node).map_or(0, |s| s.functions.len()))
                .sum::<usize>(),
        )
    });
    let done: Vec<(usize, Option<ProgramSyscalls>)> = order
        .into_par_iter()
        .with_max_len(1)
        .map(|i| (i, analyse(i, &summaries)))
        .collect();
    let mut results: Vec<Option<ProgramSyscalls>> = kept;
    for (i, r) in done {
        results[i - first] = r;
    }
    lap("first reachability");
    for _round in 0..MAX_COMPLETION_ROUNDS {
        let mut requests: BTreeMap<NodeId, BTreeSet<u32>> = BTreeMap::new();
        let mut again: Vec<usize> = Vec::new();
        for (i, r) in results.iter().enumerate().map(|(k, r)| (first + k, r)) {
            let Some(r) = r else { continue };
            let mut asked = false;
            for &(obj, func) in &r.args_needed {
                let node = units[i].loaded.objects[obj as usize].node;
                if !is_completed(summaries, node, func) {
                    if timing && std::env::var_os("DG_REQUESTS").is_some() {
                        let sm = &summaries[&node];
                        eprintln!(
                            "[request] {} asks {} {}",
                            units[i].path,
                            units[i].loaded.objects[obj as usize].path,
                            sm.function_name(func)
                        );
                    }
                    requests.entry(node).or_default().insert(func);
                    asked = true;
                }
            }
            if asked {
                again.push(i);
            }
        }
        if timing {
            eprintln!(
                "[timing] completion round: {} programs ask for {} functions in {} objects",
                again.len(),
                requests.values().map(|v| v.len()).sum::<usize>(),
                requests.len()
            );
        }
        if requests.is_empty() {
            break;
        }
        let completed: Vec<(NodeId, Result<Arc<ObjectSummary>, String>)> = requests
            .into_par_iter()
            .map(|(node, funcs)| {
                let r = (|| {
                    let elf = catalog
                        .elf(node)
                        .ok_or_else(|| "not a parsable ELF file".to_string())?;
                    let path = catalog
                        .entry(node)
                        .map(|e| e.paths[0].clone())
                        .unwrap_or_default();
                    let bytes = fs.read(node, &path).map_err(|e| e.to_string())?;
                    let funcs: Vec<u32> = funcs.into_iter().collect();
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        source.complete(&bytes, elf, &summaries[&node], &funcs)
                    }))
                    .map_err(|p| format!("internal error of the analyser: {}", panic_message(&p)))?
                    .map_err(|e| e.to_string())
                })();
                (node, r)
            })
            .collect();
        lap("  completed");
        for (node, r) in completed {
            match r {
                Ok(s) => {
                    summaries.insert(node, s);
                }
                Err(why) => {
                    warnings.push(format!("cannot complete the analysis of an object: {why}"))
                }
            }
        }
        let redone: Vec<(usize, Option<ProgramSyscalls>)> = again
            .into_par_iter()
            .map(|i| (i, analyse(i, &summaries)))
            .collect();
        for (i, r) in redone {
            results[i - first] = r;
        }
    }
    // Keep what was computed, once nothing more is asked for it.
    for (k, r) in results.iter().enumerate() {
        let i = first + k;
        let (Some(key), Some(r)) = (keys[k], r) else {
            continue;
        };
        let settled = r.args_needed.iter().all(|&(obj, func)| {
            is_completed(summaries, units[i].loaded.objects[obj as usize].node, func)
        });
        if settled && !r.witnesses_left_out {
            if let Ok(v) = serde_json::to_vec(&r.without_witnesses(is_exec_syscall)) {
                source.put_program_result(key, v);
            }
        }
    }
    let failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    if !failed.is_empty() {
        // Leaving the program out would drop syscalls it can make: the run fails instead.
        return Err(PipelineError::unanalysable(opts, failed));
    }
    all_results.extend(results);
    Ok(())
}

/// Whether the data flow of a function has run (its call arguments and global stores are known),
/// so that a program asking for it needs nothing more.
fn is_completed(summaries: &HashMap<NodeId, Arc<ObjectSummary>>, node: NodeId, func: u32) -> bool {
    summaries
        .get(&node)
        .and_then(|s| s.functions.get(func as usize))
        .is_none_or(|f| {
            f.calls.iter().all(|c| c.args_known) && f.global_stores.iter().all(|s| s.known)
        })
}

/// The kernel's syscall tables as the call graph reads them.
pub struct KernelTables;

impl SyscallNames for KernelTables {
    fn number(&self, name: &str) -> Option<u64> {
        SyscallTable::X86_64.number(name)
    }

    fn names(&self, nr: u64) -> bool {
        SyscallTable::X86_64.name(nr).is_some() || SyscallTable::I386.name(nr).is_some()
    }
}

/// The reachability of one unit (None when one of its objects has no summary; Err with the
/// message of a panic of the analyser).
fn reachability(
    u: &Unit,
    bindings: &Bindings,
    summaries: &HashMap<NodeId, Arc<ObjectSummary>>,
    opts: &Options,
) -> Option<Result<ProgramSyscalls, String>> {
    let sums = unit_summaries(u, summaries)?;
    Some(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut r = ProgramGraph::analyze_unit(
                &u.loaded,
                bindings,
                &sums,
                u.kind,
                &KernelTables,
                opts.dlsym_all,
            );
            // The entrypoint scope reads where programs are started; the other witnesses are
            // made into text only for the program that gives one (`finish`).
            r.render_witnesses(&u.loaded, &sums, is_exec_syscall);
            r
        }))
        .map_err(|p| panic_message(&p)),
    )
}

/// A unit's summaries in load order (what its reachability read).
fn unit_summaries(
    u: &Unit,
    summaries: &HashMap<NodeId, Arc<ObjectSummary>>,
) -> Option<Vec<Arc<ObjectSummary>>> {
    u.loaded
        .objects
        .iter()
        .map(|o| summaries.get(&o.node).cloned())
        .collect()
}

/// The syscalls that start programs: their witnesses stay in a kept program result (the
/// entrypoint scope reads where the call is made).
fn is_exec_syscall(abi: dockergate_analysis::SyscallAbi, nr: u64) -> bool {
    use dockergate_analysis::SyscallAbi;
    match abi {
        SyscallAbi::Native => nr == entrypoint::SYS_EXECVE || nr == entrypoint::SYS_EXECVEAT,
        SyscallAbi::I386 => nr == entrypoint::SYS32_EXECVE || nr == entrypoint::SYS32_EXECVEAT,
    }
}

/// The key of a program's result: everything the reachability of a program depends on. The
/// build of the tool, the options that change it, the unit's kind, and what the loader
/// model made of the program: its flavour, every object in order (names, paths, which object
/// needed it, the interpreter) with its content key, and the libraries it could not find.
/// Bindings follow from these; summaries from the contents. None when an object has no key.
fn program_key(
    build: u64,
    opts: &Options,
    u: &Unit,
    content_keys: &HashMap<NodeId, [u8; 32]>,
) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let text = |h: &mut Sha256, t: &str| {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    };
    h.update(b"dockergate program result 1\0");
    h.update(build.to_le_bytes());
    text(
        &mut h,
        &format!("{:?} {} {:?}", u.kind, opts.dlsym_all, u.loaded.flavor),
    );
    text(&mut h, &u.path);
    h.update((u.loaded.objects.len() as u64).to_le_bytes());
    for o in &u.loaded.objects {
        text(&mut h, &o.name);
        text(&mut h, &o.path);
        text(&mut h, &o.real_path);
        text(&mut h, &format!("{:?} {}", o.needed_by, o.is_interpreter));
        h.update(content_keys.get(&o.node)?);
    }
    h.update((u.loaded.missing.len() as u64).to_le_bytes());
    for m in &u.loaded.missing {
        text(&mut h, &format!("{} {}", m.name, m.needed_by));
    }
    Some(h.finalize().into())
}

/// The message of a caught panic.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

/// The union of what the analysed units can call, the runtime's needs, and the evidence.
fn finish(
    cx: &Ctx,
    st: &mut Analysed,
    scope: Option<EntrypointEvidence>,
) -> Result<ImageReport, PipelineError> {
    let (fs, opts) = (cx.fs, cx.opts);
    let mut warnings = std::mem::take(&mut st.warnings);
    let Analysed {
        units,
        results,
        bindings,
        summaries,
        ..
    } = st;
    // In path order (image scope lists them so already; entrypoint scope in discovery order).
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by(|a, b| units[*a].path.cmp(&units[*b].path));
    // Each syscall's witness comes from the first program (in path order) that makes it: a
    // program whose kept result left its witnesses out is analysed again when it is one.
    let mut seen: HashSet<(SyscallTable, u64)> = HashSet::new();
    let mut again: Vec<usize> = Vec::new();
    for &i in &order {
        let Some(r) = &results[i] else { continue };
        let mut first_for_some = false;
        for (table, map) in [
            (SyscallTable::X86_64, &r.native),
            (SyscallTable::I386, &r.compat32),
        ] {
            for nr in map.keys() {
                if table.name(*nr).is_some() && seen.insert((table, *nr)) {
                    first_for_some = true;
                }
            }
        }
        if first_for_some && r.witnesses_left_out {
            again.push(i);
        }
    }
    let redone: Vec<(usize, Option<Result<ProgramSyscalls, String>>)> = again
        .into_par_iter()
        .with_max_len(1)
        .map(|i| (i, reachability(&units[i], &bindings[i], &summaries, opts)))
        .collect();
    for (i, r) in redone {
        match r {
            Some(Ok(r)) => {
                // Only the witnesses are taken: analysed again from summaries that may know
                // fewer call sites than the ones the kept result came from (a cache that could
                // not keep a completion), the rest of the kept result stays as it was.
                if let Some(kept) = &mut results[i] {
                    for (mine, fresh) in [
                        (&mut kept.native, r.native),
                        (&mut kept.compat32, r.compat32),
                    ] {
                        for (nr, w) in fresh {
                            if let Some(slot) = mine.get_mut(&nr) {
                                *slot = w;
                            }
                        }
                    }
                    kept.witnesses_left_out = false;
                }
            }
            Some(Err(p)) => {
                return Err(PipelineError::unanalysable(
                    opts,
                    vec![format!(
                        "{} (internal error of the analyser: {p})",
                        units[i].path
                    )],
                ))
            }
            None => {}
        }
    }
    let analysed: Vec<(usize, &ProgramSyscalls)> = order
        .into_iter()
        .filter_map(|i| results[i].as_ref().map(|r| (i, r)))
        .collect();

    cx.lap("reachability");
    // The union, with one witness per syscall (from the first program in path order).
    let mut profile = Profile::default();
    let mut evidence = Evidence::new(&opts.image_name, opts.runtime);
    if let Some(e) = scope {
        evidence.scope = "entrypoint";
        evidence.entrypoint = Some(e);
    }
    let mut per_syscall: BTreeMap<(SyscallTable, &'static str), (usize, Witness, String)> =
        BTreeMap::new();
    let mut plugin_unresolved: BTreeMap<(String, String), UnresolvedSite> = BTreeMap::new();
    let mut plugin_assumptions: BTreeSet<String> = BTreeSet::new();
    let mut unresolved: BTreeMap<(String, String), UnresolvedSite> = BTreeMap::new();
    let mut invalid_numbers: BTreeSet<(String, u64)> = BTreeSet::new();
    for (i, r) in &analysed {
        let u = &units[*i];
        // Made when this unit gives its first witness.
        let mut sums: Option<Vec<Arc<ObjectSummary>>> = None;
        for (table, map) in [
            (SyscallTable::X86_64, &r.native),
            (SyscallTable::I386, &r.compat32),
        ] {
            for (nr, w) in map {
                match table.name(*nr) {
                    Some(name) => {
                        let e = per_syscall.entry((table, name)).or_insert_with(|| {
                            let w = match &w.pending {
                                None => w.clone(),
                                Some(_) => {
                                    let s = sums.get_or_insert_with(|| {
                                        unit_summaries(u, summaries).unwrap_or_default()
                                    });
                                    w.rendered(&u.loaded, s)
                                }
                            };
                            (0, w, u.path.clone())
                        });
                        e.0 += 1;
                    }
                    None => {
                        invalid_numbers.insert((u.path.clone(), *nr));
                    }
                }
            }
        }
        // A site that only plugins reach (orphan shared objects that some host might dlopen)
        // takes its number from a host that would have to pass it: reported, not fatal.
        for site in &r.unresolved {
            let map = if u.kind == ProgramKind::Plugin {
                &mut plugin_unresolved
            } else {
                &mut unresolved
            };
            map.entry((site.object.clone(), site.address.clone()))
                .or_insert_with(|| site.clone());
        }
        for e in &r.plugin_export_params {
            plugin_assumptions.insert(e.clone());
        }
        evidence.programs.push(ProgramEvidence {
            path: u.path.clone(),
            kind: match u.kind {
                ProgramKind::Executable => "program",
                ProgramKind::Plugin | ProgramKind::Exports => "plugin",
            },
            objects: u.loaded.objects.iter().map(|o| o.path.clone()).collect(),
            missing_libraries: u.loaded.missing.iter().map(|m| m.name.clone()).collect(),
            syscalls: r.native.len(),
            reachable_functions: r.reachable_functions,
            total_functions: r.total_functions,
            unresolved_sites: r.unresolved.len(),
            dlsym_nonconstant: r
                .named_calls
                .iter()
                .filter(|c| {
                    matches!(c.callee.as_str(), "dlsym" | "dlvsym")
                        && c.unknown_args.contains(&dockergate_analysis::Loc::Reg(6))
                })
                .map(|c| format!("{} {} in {}", c.object, c.address, c.function))
                .collect(),
        });
    }
    for ((table, name), (programs, witness, program)) in per_syscall {
        profile.allow(table, name, AllowReason::Code { programs });
        evidence.add_code(table, name, programs, &program, witness);
    }
    let (runtime_names, runtime_source) = opts.runtime.syscalls();
    for n in runtime_names {
        if let Some(nr) = SyscallTable::X86_64.number(n) {
            if let Some(name) = SyscallTable::X86_64.name(nr) {
                profile.allow(
                    SyscallTable::X86_64,
                    name,
                    AllowReason::Runtime {
                        source: runtime_source,
                    },
                );
                evidence.add_runtime(name, runtime_source);
            }
        }
    }
    // Numbers no kernel table names fail with ENOSYS: nothing to allow. One line per number.
    let mut by_number: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (path, nr) in invalid_numbers {
        by_number.entry(nr).or_default().push(path);
    }
    for (nr, paths) in by_number {
        warnings.push(format!(
            "syscall number {nr:#x} (no kernel table names it; it fails with ENOSYS) is not allowed; {} program(s) can issue it, e.g. {}",
            paths.len(),
            paths[0]
        ));
    }
    for k in unresolved.keys() {
        plugin_unresolved.remove(k);
    }
    // Raw syscalls of interpreted code (perl's `syscall` builtin): the number comes from a
    // script. The scripts' constant numbers are allowed (witness: the interpreter's path to the
    // builtin); a number they compute leaves the site unresolved.
    let mut script_checked: BTreeMap<&'static str, ScriptRawSyscalls> = BTreeMap::new();
    let mut script_allowed: BTreeMap<u64, (Witness, String)> = BTreeMap::new();
    unresolved.retain(|_, site| {
        let Some(&(builtin, lang)) = SCRIPT_SYSCALL_BUILTINS
            .iter()
            .find(|(b, _)| site.chain.iter().any(|s| s.function == *b))
        else {
            return true;
        };
        let found = script_checked
            .entry(lang)
            .or_insert_with(|| script_raw_syscalls(fs, lang));
        if let Some(call) = &found.unknown {
            warnings.push(format!(
                "{call} calls the {lang} syscall builtin with a number computed at run time"
            ));
            return true;
        }
        for (nr, call) in &found.numbers {
            script_allowed.entry(*nr).or_insert_with(|| {
                let witness = Witness {
                    chain: site.chain.clone(),
                    site: format!("{} {}", site.object, site.address),
                    number_from: Some(format!("{lang} script {call}")),
                    pending: None,
                };
                (witness, site.program.clone())
            });
        }
        evidence.script_syscalls.push(format!(
            "{} {}: {builtin} passes a script's number: {}",
            site.object,
            site.address,
            if found.numbers.is_empty() {
                format!("no {lang} code of the image names one the kernel has")
            } else {
                found
                    .numbers
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        ));
        false
    });
    for (nr, (witness, program)) in script_allowed {
        let Some(name) = SyscallTable::X86_64.name(nr) else {
            continue;
        };
        if !evidence.syscalls.contains_key(name) {
            evidence.add_code(SyscallTable::X86_64, name, 1, &program, witness);
            profile.allow(
                SyscallTable::X86_64,
                name,
                AllowReason::Code { programs: 1 },
            );
        }
    }
    // What the kernel calls for the allowed calls (after the scripts' numbers).
    for (table, name, implied_by) in profile.allow_kernel_implied() {
        evidence.add_kernel(table, name, implied_by);
    }
    let unresolved: Vec<UnresolvedSite> = unresolved.into_values().collect();
    evidence.unresolved = unresolved.clone();
    evidence.plugin_only_unresolved = plugin_unresolved.into_values().collect();
    evidence.plugin_export_params = plugin_assumptions.into_iter().collect();
    if !evidence.plugin_only_unresolved.is_empty() {
        warnings.push(format!(
            "{} syscall site(s) with unknown numbers are reachable only from plugins no program of the image loads by name (see plugin_only_unresolved in the evidence); not allowed",
            evidence.plugin_only_unresolved.len()
        ));
    }
    let report = ImageReport {
        profile,
        evidence,
        unresolved,
        warnings,
    };
    if !report.unresolved.is_empty() {
        match opts.unresolved {
            UnresolvedPolicy::Fail => {
                let list = report
                    .unresolved
                    .iter()
                    .map(|u| format!("{} {} in {}", u.object, u.address, u.function))
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(PipelineError::Unresolved {
                    image: opts.image_name.clone(),
                    count: report.unresolved.len(),
                    list,
                    report: Box::new(report),
                });
            }
            UnresolvedPolicy::AllowAll => {
                let mut report = report;
                for name in SyscallTable::X86_64.all_names() {
                    report
                        .profile
                        .allow(SyscallTable::X86_64, name, AllowReason::AllowAll);
                }
                return Ok(report);
            }
            UnresolvedPolicy::Ignore => {}
        }
    }
    Ok(report)
}
