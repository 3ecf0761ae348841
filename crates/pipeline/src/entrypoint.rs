//! `--scope entrypoint`: the programs and plugins the container can run, found from the image
//! config's Entrypoint + Cmd and followed through the code, to a fixed point.
//!
//! - A command line is resolved as the runtime and `execvp` do (PATH of the config, WorkingDir).
//!   An ELF program becomes a unit (analysed once, by the pipeline's own machinery); a script is
//!   run by the interpreter of its `#!` line; a file without one is run by `/bin/sh` (as shells
//!   and `execvp` do).
//! - Shells read their script (`sh -c`, a file, login profiles) with `dockergate-scripts`: every
//!   command it names is run; wrappers (`env`, `su`, `setpriv`, `timeout`…) run the command
//!   line in their arguments; a command that cannot be told makes every program reachable.
//! - An ELF program runs what its reachable exec-family calls name (constant strings, resolved
//!   against PATH for the `p` variants), `system`/`popen` strings through `/bin/sh -c`, and loads
//!   what its `dlopen` calls name. A call whose path is computed at run time makes every program
//!   (or every plugin) of the image reachable, with a warning naming the call, unless
//!   it is explained: the program is a shell or wrapper whose every invocation was read, an
//!   interpreter loading its extension modules, a library whose plugins are known by rule
//!   (PAM modules from /etc/pam.d, OpenSSL's engine and provider directories), or the C
//!   library itself (whose exec and dlopen implementations take the path from their callers,
//!   which are analysed where they call).
//! - glibc loads NSS modules (named by /etc/nsswitch.conf), gconv modules, libgcc_s and libidn2
//!   by itself: they are plugins of every glibc program.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use dockergate_analysis::{Atom, CallSite, CallTarget, FnOrigin, Loc, ObjectSummary};
use dockergate_callgraph::{ProgramKind, ProgramSyscalls};
use dockergate_fs::NodeId;
use dockergate_loader::{Flavor, LoadedProgram};
use dockergate_scripts::{self as scripts, argv_display, Arg, Field, Runs};
use serde::Serialize;

use crate::{analyse_units, Analysed, Ctx, PipelineError, Unit};

/// Which programs of the image may run.
#[derive(Clone, Debug, Default)]
pub enum Scope {
    /// Every program of the image; every shared object but the C library and the loader as a
    /// plugin.
    #[default]
    Image,
    /// What the config's Entrypoint + Cmd can start, transitively.
    Entrypoint(EntrypointSpec),
}

/// What the entrypoint scope starts from (the image config).
#[derive(Clone, Debug, Default)]
pub struct EntrypointSpec {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// The config's `User` (for `HOME` and `su` without a user).
    pub user: String,
    /// Health check command lines the container engine runs inside the container (Docker's
    /// `Healthcheck`; see `ImageConfig::health_commands`): started like the entrypoint.
    pub healthcheck: Vec<Vec<String>>,
    /// Other command lines run in the container (`podman exec`, exec probes), named by the user.
    pub also_run: Vec<Vec<String>>,
    /// Assume that paths and library names computed at run time name only code the analysis
    /// already reaches (each such call is listed under `assumptions`), instead of making every
    /// program or plugin of the image reachable.
    pub trust_dynamic: bool,
}

/// One reachable file and why.
#[derive(Clone, Debug, Serialize)]
pub struct ReachedEvidence {
    pub path: String,
    /// `program`, `script` or `plugin`.
    pub kind: &'static str,
    /// From the entrypoint to this file, one step per line: what runs or loads the next.
    pub chain: Vec<String>,
    /// Other ways it is reached (after the first).
    #[serde(skip_serializing_if = "is_zero")]
    pub other_reasons: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What the entrypoint scope found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EntrypointEvidence {
    /// Entrypoint + Cmd.
    pub command: Vec<String>,
    /// The health check's command lines, if the image has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub healthcheck: Vec<Vec<String>>,
    /// The other command lines the user named (`--also-run`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_run: Vec<Vec<String>>,
    pub reached: Vec<ReachedEvidence>,
    /// Why every program (or every plugin) of the image became reachable, if it did: each
    /// call or command that could not be told.
    pub fallbacks: Vec<String>,
    /// Calls whose targets are computed at run time, taken on trust (`--trust-dynamic`).
    pub assumptions: Vec<String>,
    /// Calls computed at run time that are explained (shell and wrapper invocations read,
    /// interpreter extension modules, plugin rules, the C library's own implementations).
    pub explained: Vec<String>,
}

/// The PATH runc gives a container whose config sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Invocations followed at most (a script that keeps producing new command lines).
const MAX_INVOCATIONS: usize = 20_000;
/// Distinct argument vectors followed for one command; more (a script that runs itself with one
/// more argument each time) and the command is followed once more with its arguments unknown.
const MAX_ARGV_VARIANTS: usize = 64;
/// Arguments (and bytes of them) a followed command line keeps; a longer one (a script that
/// runs itself with its arguments twice) is followed with its arguments unknown.
const MAX_ARGS: usize = 1024;
const MAX_ARGV_BYTES: usize = 256 << 10;

pub(crate) const SYS_EXECVE: u64 = 59;
pub(crate) const SYS_EXECVEAT: u64 = 322;
pub(crate) const SYS32_EXECVE: u64 = 11;
pub(crate) const SYS32_EXECVEAT: u64 = 358;

/// Calls that start a program, and where their path is: (name, path register, PATH search).
const EXEC_CALLS: &[(&str, u8, bool)] = &[
    ("execve", 7, false),
    ("execv", 7, false),
    ("execvp", 7, true),
    ("execvpe", 7, true),
    ("execl", 7, false),
    ("execlp", 7, true),
    ("execle", 7, false),
    ("execveat", 6, false),
    ("fexecve", 7, false),
    ("posix_spawn", 6, false),
    ("posix_spawnp", 6, true),
];

const RDI: u8 = 7;
const RSI: u8 = 6;
/// SysV argument registers in order.
const ARG_REGS: [u8; 6] = [7, 6, 2, 1, 8, 9];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Program,
    Script,
    Plugin,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Program => "program",
            Kind::Script => "script",
            Kind::Plugin => "plugin",
        }
    }
}

struct Node {
    path: String,
    kind: Kind,
    /// The first way it was reached: the node that runs or loads it, and how.
    parent: Option<usize>,
    why: String,
    other_reasons: usize,
    unit: Option<usize>,
    /// Every invocation so far was read (shell, wrapper, applet that runs nothing); else why not.
    unexplained: Option<String>,
    /// Calls computed at run time found in its code (exec): they need every invocation read.
    dynamic_exec: Vec<String>,
    /// Its dynamic exec calls were handled (fallback or assumption).
    dynamic_done: bool,
    /// Interpreter extension modules added.
    extensions_done: bool,
}

/// `#!` lines the kernel follows from one exec (fs/exec.c: binfmt rewrites beyond this depth fail
/// with ELOOP; counted generously).
const MAX_INTERPRETERS: u8 = 5;

/// A command line to run.
#[derive(Clone, Debug)]
struct Invocation {
    target: Field,
    /// The whole argument vector (argv[0] first), when known.
    argv: Option<Vec<Arg>>,
    /// PATH values for a name without a slash; empty: no PATH search (execve).
    path: Vec<Field>,
    cwd: Vec<Field>,
    /// A file that is not ELF and has no `#!` line is run by `/bin/sh` (shells, execvp).
    sh_fallback: bool,
    /// How many `#!` interpreters the kernel has already put in front of the file asked for.
    interp_depth: u8,
    parent: Option<usize>,
    why: String,
}

impl Invocation {
    /// An exec of a path as given: no PATH search, no `/bin/sh` for a file without `#!`, no
    /// interpreter in front of it yet.
    fn direct(
        target: Field,
        argv: Option<Vec<Arg>>,
        cwd: Vec<Field>,
        parent: Option<usize>,
        why: String,
    ) -> Self {
        Invocation {
            target,
            argv,
            path: Vec::new(),
            cwd,
            sh_fallback: false,
            interp_depth: 0,
            parent,
            why,
        }
    }

    /// `/bin/sh` run by the command of discovery node `parent` (`system`, `popen`, `sh -c`, a
    /// script without `#!`).
    fn shell(argv: Option<Vec<Arg>>, cwd: Vec<Field>, parent: usize, why: String) -> Self {
        Self::direct(Field::lit("/bin/sh"), argv, cwd, Some(parent), why)
    }
}

struct Discovery<'a, 'c> {
    cx: &'a Ctx<'c>,
    spec: &'a EntrypointSpec,
    candidates: &'a [(String, ProgramKind)],
    /// Reached files that cannot be analysed (an error, as in image scope).
    unanalysable: Vec<String>,
    env: Vec<(String, String)>,
    path: Field,
    cwd: Field,
    nodes: Vec<Node>,
    by_key: HashMap<(NodeId, Kind), usize>,
    /// Nodes whose unit is still to be analysed.
    pending: Vec<(usize, ProgramKind)>,
    queue: VecDeque<Invocation>,
    seen_invocations: HashSet<String>,
    /// Distinct argument vectors followed per command (target, PATH, directory).
    argv_variants: HashMap<String, usize>,
    invocations: usize,
    evidence: EntrypointEvidence,
    all_programs: bool,
    all_plugins: bool,
    glibc_done: bool,
    /// Every path of the image that resolves to an executable regular file: (path, node).
    executables: Option<Vec<(String, NodeId)>>,
    /// Every path of the image (for globs).
    all_paths: Option<Vec<String>>,
    passwd: Vec<(String, String, String)>,
}

/// Finds what the entrypoint can run, analysing each program and plugin as it is found, and
/// leaves them in `st` for the union.
pub(crate) fn discover(
    cx: &Ctx,
    st: &mut Analysed,
    spec: &EntrypointSpec,
    candidates: &[(String, ProgramKind)],
) -> Result<EntrypointEvidence, PipelineError> {
    // Files that cannot be parsed matter only when something reaches them.
    st.unanalysable.clear();
    // The last definition of each name wins, in the order of those last definitions (a set,
    // not a search: a config may hold hundreds of thousands).
    let mut named = HashSet::new();
    let mut env: Vec<(String, String)> = cx
        .env
        .iter()
        .rev()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| named.insert(*k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.reverse();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    let passwd = read_passwd(cx);
    if !env.iter().any(|(k, _)| k == "HOME") {
        let user = if spec.user.is_empty() {
            "root"
        } else {
            spec.user.split(':').next().unwrap_or("root")
        };
        let home = passwd
            .iter()
            .find(|(u, _, _)| u == user || spec.user.split(':').next() == Some(u.as_str()))
            .map(|(_, h, _)| h.clone())
            .unwrap_or_else(|| "/root".into());
        env.push(("HOME".into(), home));
    }
    let path = Field::lit(
        &env.iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
    );
    let mut d = Discovery {
        cx,
        spec,
        candidates,
        unanalysable: Vec::new(),
        env,
        path,
        cwd: Field::lit(if cx.working_dir.is_empty() {
            "/"
        } else {
            cx.working_dir
        }),
        nodes: Vec::new(),
        by_key: HashMap::new(),
        pending: Vec::new(),
        queue: VecDeque::new(),
        seen_invocations: HashSet::new(),
        argv_variants: HashMap::new(),
        invocations: 0,
        evidence: EntrypointEvidence::default(),
        all_programs: false,
        all_plugins: false,
        glibc_done: false,
        executables: None,
        all_paths: None,
        passwd,
    };
    let mut argv: Vec<String> = spec.entrypoint.clone();
    argv.extend(spec.cmd.iter().cloned());
    d.evidence.command = argv.clone();
    if argv.is_empty() {
        return Err(PipelineError::Scope(format!(
            "{}: the image config has neither Entrypoint nor Cmd, so nothing runs; profile it with --scope image",
            cx.opts.image_name
        )));
    }
    let origin = match (spec.entrypoint.is_empty(), spec.cmd.is_empty()) {
        (false, false) => "Entrypoint + Cmd",
        (false, true) => "Entrypoint",
        _ => "Cmd",
    };
    // The engine runs the health check in the container, under the same profile; so do the
    // commands the user names.
    d.evidence.healthcheck = spec.healthcheck.clone();
    d.evidence.also_run = spec.also_run.clone();
    let starts = std::iter::once((origin, &argv))
        .chain(spec.healthcheck.iter().map(|c| ("Healthcheck", c)))
        .chain(spec.also_run.iter().map(|c| ("--also-run", c)));
    for (origin, command) in starts.filter(|(_, c)| !c.is_empty()) {
        d.queue.push_back(Invocation {
            target: Field::lit(&command[0]),
            argv: Some(command.iter().map(|a| Arg::lit(a)).collect()),
            path: vec![d.path.clone()],
            cwd: vec![d.cwd.clone()],
            sh_fallback: false,
            interp_depth: 0,
            parent: None,
            why: format!(
                "{origin} {}",
                serde_json::to_string(command).unwrap_or_default()
            ),
        });
    }
    loop {
        d.drain();
        if d.pending.is_empty() {
            break;
        }
        let pending = std::mem::take(&mut d.pending);
        let mut units = Vec::new();
        let mut owners = Vec::new();
        for (n, kind) in pending {
            let path = d.nodes[n].path.clone();
            let loaded = match kind {
                ProgramKind::Executable => cx.loader.load_program(&path),
                _ => cx.loader.load_plugin(&path),
            };
            match loaded {
                Ok(loaded) => {
                    units.push(Unit { path, kind, loaded });
                    owners.push(n);
                }
                Err(e) => st.warnings.push(format!(
                    "{path} cannot run in this image and is left out: {e}"
                )),
            }
        }
        let first = st.units.len();
        analyse_units(cx, st, units)?;
        for (k, n) in owners.into_iter().enumerate() {
            d.nodes[n].unit = Some(first + k);
            d.absorb(st, n);
        }
    }
    if !d.unanalysable.is_empty() {
        return Err(PipelineError::unanalysable(
            cx.opts,
            std::mem::take(&mut d.unanalysable),
        ));
    }
    if !d.evidence.fallbacks.is_empty() {
        let what = match (d.all_programs, d.all_plugins) {
            (true, true) => "every program and plugin",
            (true, false) => "every program",
            _ => "every plugin",
        };
        let n = d.evidence.fallbacks.len();
        st.warnings.push(format!(
            "{what} of the image is reachable from the entrypoint: {}{} (see `fallbacks` in the evidence, or `dockergate programs`)",
            d.evidence.fallbacks[0],
            if n > 1 { format!(" (and {} more reason(s))", n - 1) } else { String::new() }
        ));
    }
    if !d.evidence.assumptions.is_empty() {
        st.warnings.push(format!(
            "--trust-dynamic: {} call(s) with run-time paths or names assumed to reach nothing new, e.g. {} (see `assumptions` in the evidence)",
            d.evidence.assumptions.len(),
            d.evidence.assumptions[0]
        ));
    }
    d.finish_evidence();
    Ok(d.evidence)
}

impl<'a, 'c> Discovery<'a, 'c> {
    // ---- reasons and evidence ----

    fn chain(&self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = Some(n);
        let mut guard = 0;
        while let Some(i) = cur {
            out.push(format!("{}: {}", self.nodes[i].path, self.nodes[i].why));
            cur = self.nodes[i].parent;
            guard += 1;
            if guard > 64 {
                break;
            }
        }
        out.reverse();
        out
    }

    fn finish_evidence(&mut self) {
        let mut reached: Vec<ReachedEvidence> = (0..self.nodes.len())
            .map(|i| ReachedEvidence {
                path: self.nodes[i].path.clone(),
                kind: self.nodes[i].kind.name(),
                chain: self.chain(i),
                other_reasons: self.nodes[i].other_reasons,
            })
            .collect();
        reached.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
        self.evidence.reached = reached;
        for v in [
            &mut self.evidence.fallbacks,
            &mut self.evidence.assumptions,
            &mut self.evidence.explained,
        ] {
            let mut seen = HashSet::new();
            v.retain(|x| seen.insert(x.clone()));
        }
    }

    fn fallback_programs(&mut self, why: String) {
        if !self.evidence.fallbacks.contains(&why) {
            self.evidence.fallbacks.push(why.clone());
        }
        if self.all_programs || ignored_fallback("programs") {
            return;
        }
        self.all_programs = true;
        let reason = format!("every program may run ({why})");
        let list: Vec<String> = self
            .candidates
            .iter()
            .filter(|(_, k)| *k == ProgramKind::Executable)
            .map(|(p, _)| p.clone())
            .collect();
        for p in list {
            self.queue.push_back(Invocation::direct(
                Field::lit(&p),
                None,
                vec![Field::lit("/")],
                None,
                reason.clone(),
            ));
        }
    }

    fn fallback_plugins(&mut self, why: String) {
        if !self.evidence.fallbacks.contains(&why) {
            self.evidence.fallbacks.push(why.clone());
        }
        if self.all_plugins || ignored_fallback("plugins") {
            return;
        }
        self.all_plugins = true;
        let reason = format!("every plugin may be loaded ({why})");
        let list: Vec<String> = self
            .candidates
            .iter()
            .filter(|(_, k)| *k != ProgramKind::Executable)
            .map(|(p, _)| p.clone())
            .collect();
        for p in list {
            self.add_plugin(&p, None, reason.clone());
        }
    }

    // ---- nodes ----

    fn node_for(
        &mut self,
        path: &str,
        node: NodeId,
        kind: Kind,
        parent: Option<usize>,
        why: String,
    ) -> (usize, bool) {
        if let Some(&i) = self.by_key.get(&(node, kind)) {
            if parent != Some(i) {
                self.nodes[i].other_reasons += 1;
            }
            return (i, false);
        }
        let i = self.nodes.len();
        self.nodes.push(Node {
            path: path.to_string(),
            kind,
            parent,
            why,
            other_reasons: 0,
            unit: None,
            unexplained: None,
            dynamic_exec: Vec::new(),
            dynamic_done: false,
            extensions_done: false,
        });
        self.by_key.insert((node, kind), i);
        (i, true)
    }

    /// A shared object as a plugin (its exports are roots).
    fn add_plugin(&mut self, path: &str, parent: Option<usize>, why: String) {
        if std::env::var_os("DG_DEBUG_NO_PLUGINS")
            .is_some_and(|v| why.contains(v.to_str().unwrap_or("-")))
        {
            return;
        }
        let fs = self.cx.fs;
        let Ok(r) = fs.resolve(path, true) else {
            return;
        };
        if self.cx.excluded.contains(&r.node) {
            return;
        }
        let Some(elf) = self.cx.catalog.elf(r.node) else {
            return;
        };
        if elf.kind != dockergate_elf::ElfKind::SharedObject || elf.interpreter.is_some() {
            return;
        }
        if crate::in_every_process(elf, &r.path) {
            return;
        }
        let (n, new) = self.node_for(&r.path, r.node, Kind::Plugin, parent, why);
        if new {
            self.pending.push((n, ProgramKind::Plugin));
        }
    }

    // ---- invocations ----

    fn drain(&mut self) {
        while let Some(inv) = self.queue.pop_front() {
            self.invocations += 1;
            if self.invocations > MAX_INVOCATIONS {
                self.fallback_programs("too many command lines to follow".into());
                continue;
            }
            self.run(inv);
        }
    }

    fn executables(&mut self) -> &Vec<(String, NodeId)> {
        if self.executables.is_none() {
            let fs = self.cx.fs;
            let mut v = Vec::new();
            for (p, _) in fs.walk() {
                if let Ok(r) = fs.resolve(&p, true) {
                    let n = fs.node(r.node);
                    if n.is_file() && n.is_executable() {
                        v.push((p, r.node));
                    }
                }
            }
            self.executables = Some(v);
        }
        self.executables.as_ref().expect("set")
    }

    fn all_paths(&mut self) -> &Vec<String> {
        if self.all_paths.is_none() {
            self.all_paths = Some(self.cx.fs.walk().into_iter().map(|(p, _)| p).collect());
        }
        self.all_paths.as_ref().expect("set")
    }

    /// The files a command name or path can run: (path as called, node).
    fn resolve_target(&mut self, inv: &Invocation) -> Vec<(String, NodeId)> {
        let fs = self.cx.fs;
        let t = &inv.target;
        let mut out: Vec<(String, NodeId)> = Vec::new();
        let push_path = |p: String, out: &mut Vec<(String, NodeId)>| {
            if let Ok(r) = fs.resolve(&p, true) {
                let n = fs.node(r.node);
                if n.is_file() && n.is_executable() && !out.iter().any(|(_, x)| *x == r.node) {
                    out.push((p, r.node));
                }
            }
        };
        if let Some(name) = t.as_lit() {
            if name.is_empty() {
                return out;
            }
            if name.contains('/') || inv.path.is_empty() {
                if name.starts_with('/') {
                    push_path(name.to_string(), &mut out);
                } else {
                    for c in &inv.cwd {
                        match c.as_lit() {
                            Some(c) => push_path(join(c, name), &mut out),
                            None => {
                                let mut pat = c.clone();
                                pat.push_lit("/");
                                pat.push_lit(name);
                                let m: Vec<(String, NodeId)> = self
                                    .executables()
                                    .iter()
                                    .filter(|(p, _)| pat.matches(p))
                                    .cloned()
                                    .collect();
                                out.extend(m);
                            }
                        }
                    }
                }
                return out;
            }
            for pv in &inv.path {
                for dir in pv.split(':') {
                    match dir.as_lit() {
                        Some(d) => {
                            let d = if d.is_empty() { "." } else { d };
                            if d.starts_with('/') {
                                push_path(join(d, name), &mut out);
                            } else {
                                for c in &inv.cwd {
                                    if let Some(c) = c.as_lit() {
                                        push_path(join(&join(c, d), name), &mut out);
                                    }
                                }
                            }
                        }
                        None => {
                            let mut pat = dir.clone();
                            pat.push_lit("/");
                            pat.push_lit(name);
                            let m: Vec<(String, NodeId)> = self
                                .executables()
                                .iter()
                                .filter(|(p, _)| pat.matches(p))
                                .cloned()
                                .collect();
                            for x in m {
                                if !out.iter().any(|(_, n)| *n == x.1) {
                                    out.push(x);
                                }
                            }
                        }
                    }
                }
            }
            return out;
        }
        // A name with unknown characters: every executable whose path it can be.
        let pat = if t.literal_prefix().starts_with('/') {
            t.clone()
        } else {
            let mut p = Field::any();
            p.push_lit("/");
            p.append(t);
            p
        };
        let m: Vec<(String, NodeId)> = self
            .executables()
            .iter()
            .filter(|(p, _)| pat.matches(p))
            .cloned()
            .collect();
        m
    }

    fn run(&mut self, mut inv: Invocation) {
        if inv.target.is_any() {
            self.fallback_programs(format!("{}: runs a command that is not known", inv.why));
            return;
        }
        let command = format!(
            "{:?}|{:?}|{:?}|{}",
            inv.target, inv.path, inv.cwd, inv.sh_fallback
        );
        // Widening: a command line too long, or one more argument vector for a command already
        // followed with many, is followed with its arguments unknown (sound: what the program
        // does with arguments it cannot see is what it may do with any), once.
        let too_long = inv.argv.as_ref().is_some_and(|a| {
            a.len() > MAX_ARGS
                || a.iter().map(|x| x.to_string().len()).sum::<usize>() > MAX_ARGV_BYTES
        });
        // (An interpreter run for a `#!` line has one command line per script command line:
        // the script's are the ones counted.)
        let counted = inv.interp_depth == 0;
        if too_long
            || (counted
                && self.argv_variants.get(&command).copied().unwrap_or(0) >= MAX_ARGV_VARIANTS)
        {
            inv.argv = None;
        }
        let key = format!("{command}|{:?}", inv.argv);
        if !self.seen_invocations.insert(key) {
            return;
        }
        if counted && inv.argv.is_some() {
            *self.argv_variants.entry(command).or_insert(0) += 1;
        }
        let files = self.resolve_target(&inv);
        if files.len() > 256 && !self.all_programs {
            self.fallback_programs(format!(
                "{}: `{}` can be any of {} files",
                inv.why,
                inv.target,
                files.len()
            ));
            return;
        }
        for (called, node) in files {
            self.run_file(&inv, &called, node);
        }
    }

    fn run_file(&mut self, inv: &Invocation, called: &str, node: NodeId) {
        let cx = self.cx;
        if cx.excluded.contains(&node) {
            return;
        }
        let real = cx
            .fs
            .resolve(called, true)
            .map(|r| r.path)
            .unwrap_or_else(|_| called.to_string());
        let why = inv.why.clone();
        if let Some(entry) = cx.catalog.entry(node) {
            let elf = match &entry.elf {
                Ok(e) => e.clone(),
                Err(e) => {
                    // Reached but cannot be analysed: an error, as in image scope.
                    self.unanalysable.push(format!("{real} ({e})"));
                    return;
                }
            };
            if !elf.kind.is_program() {
                // A shared object with an execute bit: the kernel runs it only when it has an
                // interpreter; otherwise it crashes at once. Analyse it as a program anyway.
                if elf.interpreter.is_none() {
                    return;
                }
            }
            let (n, new) = self.node_for(&real, node, Kind::Program, inv.parent, why);
            if new {
                self.pending.push((n, ProgramKind::Executable));
            }
            self.apply_semantics(n, inv, called);
            return;
        }
        // Not ELF: a script.
        let head = cx
            .fs
            .read_prefix(node, 256, &real)
            .map(|h| h.to_vec())
            .unwrap_or_default();
        let (n, _) = self.node_for(&real, node, Kind::Script, inv.parent, why);
        let rest_args: Vec<Arg> = inv
            .argv
            .as_ref()
            .map(|a| a.iter().skip(1).cloned().collect())
            .unwrap_or_default();
        match scripts::parse_shebang(&head) {
            // Linux follows at most MAX_INTERPRETERS `#!` lines from one exec, then fails it
            // with ELOOP: a longer chain (or a loop) runs nothing more.
            Some(_) if inv.interp_depth >= MAX_INTERPRETERS => {}
            Some((interp, arg)) => {
                let mut argv = vec![Arg::lit(&interp)];
                if let Some(a) = &arg {
                    argv.push(Arg::lit(a));
                }
                argv.push(Arg::lit(called));
                let argv = inv.argv.as_ref().map(|_| {
                    let mut v = argv.clone();
                    v.extend(rest_args.iter().cloned());
                    v
                });
                // Without known arguments the script still runs with its own text.
                let argv = argv.or_else(|| {
                    let mut v = vec![Arg::lit(&interp)];
                    if let Some(a) = &arg {
                        v.push(Arg::lit(a));
                    }
                    v.push(Arg::lit(called));
                    v.push(Arg::Splat);
                    Some(v)
                });
                self.queue.push_back(Invocation {
                    target: Field::lit(&interp),
                    argv,
                    path: Vec::new(),
                    cwd: inv.cwd.clone(),
                    sh_fallback: false,
                    interp_depth: inv.interp_depth + 1,
                    parent: Some(n),
                    why: format!(
                        "the interpreter of {real} (#!{interp}{})",
                        arg.map(|a| format!(" {a}")).unwrap_or_default()
                    ),
                });
            }
            None if inv.sh_fallback || inv.argv.is_none() => {
                let mut argv = vec![Arg::lit("sh"), Arg::lit(called)];
                if inv.argv.is_some() {
                    argv.extend(rest_args);
                } else {
                    argv.push(Arg::Splat);
                }
                self.queue.push_back(Invocation::shell(
                    Some(argv),
                    inv.cwd.clone(),
                    n,
                    format!("runs {real}, which has no #! line"),
                ));
            }
            None => {}
        }
    }

    /// What a program does with its arguments: shells read their script, wrappers run the
    /// command line they are given; anything else must be explained by its code.
    fn apply_semantics(&mut self, n: usize, inv: &Invocation, called: &str) {
        let real_base = basename(&self.nodes[n].path).to_string();
        let argv0_base = inv
            .argv
            .as_ref()
            .and_then(|a| a.first())
            .and_then(|a| a.as_lit())
            .map(|s| basename(s).trim_start_matches('-').to_string())
            .unwrap_or_else(|| basename(called).to_string());
        let is_busybox = real_base.starts_with("busybox");
        // The name that decides the behaviour: busybox applets by argv[0] (or the first
        // argument of `busybox APPLET`), other programs by their file's name.
        let (name, args): (String, Option<Vec<Arg>>) = match &inv.argv {
            Some(argv) if is_busybox => {
                if argv0_base.starts_with("busybox") {
                    match argv.get(1) {
                        Some(a) => match a.as_lit() {
                            Some(app) => (basename(app).to_string(), Some(argv[1..].to_vec())),
                            None => ("".into(), None),
                        },
                        None => ("busybox".into(), Some(vec![])),
                    }
                } else {
                    (argv0_base.clone(), Some(argv.clone()))
                }
            }
            Some(argv) => (real_base.clone(), Some(argv.clone())),
            None => (real_base.clone(), None),
        };
        self.interpreter_rules(n, &real_base);
        let Some(argv) = args else {
            self.unexplain(
                n,
                format!(
                    "run by {} with arguments that are not known",
                    self.run_by(inv)
                ),
            );
            return;
        };
        if name == "busybox" && argv.len() <= 1 {
            return;
        }
        let arg0 = match argv.first() {
            Some(Arg::Field(f)) => f.clone(),
            _ => Field::lit(&name),
        };
        let rest: Vec<Arg> = argv.iter().skip(1).cloned().collect();
        if let Some(dialect) = scripts::shell_dialect(&name) {
            let runs = scripts::shell_runs(&arg0, &rest);
            self.shell(n, inv, runs, dialect);
            return;
        }
        if scripts::WRAPPERS.contains(&name.as_str()) {
            match scripts::wrapper_runs(&name, &rest) {
                Some(runs) => {
                    for r in runs {
                        self.runs(n, inv, r, &name);
                    }
                }
                None => self.unexplain(n, format!("{name} runs what its arguments name")),
            }
            return;
        }
        if is_busybox && scripts::never_runs(&name) {
            return;
        }
        self.unexplain(
            n,
            format!(
                "{} is not a shell or a wrapper whose command line can be read",
                self.nodes[n].path
            ),
        );
    }

    fn run_by(&self, inv: &Invocation) -> String {
        match inv.parent {
            Some(p) => self.nodes[p].path.clone(),
            None => inv.why.clone(),
        }
    }

    /// An invocation of node `n` was not read: its computed exec calls are not explained.
    fn unexplain(&mut self, n: usize, why: String) {
        if self.nodes[n].unexplained.is_none() {
            self.nodes[n].unexplained = Some(why);
        }
        self.check_dynamic(n);
    }

    fn check_dynamic(&mut self, n: usize) {
        let node = &self.nodes[n];
        if node.dynamic_done || node.dynamic_exec.is_empty() {
            return;
        }
        let Some(why) = node.unexplained.clone() else {
            return;
        };
        self.nodes[n].dynamic_done = true;
        let sites = self.nodes[n].dynamic_exec.clone();
        let path = self.nodes[n].path.clone();
        for s in sites {
            let msg = format!("{path}: {s} ({why})");
            if self.spec.trust_dynamic {
                self.evidence.assumptions.push(format!(
                    "{msg}: assumed to run only programs already reached"
                ));
            } else {
                self.fallback_programs(msg);
            }
        }
    }

    fn shell(&mut self, n: usize, inv: &Invocation, runs: Runs, dialect: scripts::Dialect) {
        let shell_path = self.nodes[n].path.clone();
        match runs {
            Runs::ShellText {
                text,
                arg0,
                args,
                login,
            } => {
                let Some(t) = text.as_lit() else {
                    self.unexplain(n, "the -c command string is not known".into());
                    self.fallback_programs(format!(
                        "{}: {shell_path} -c with a command string that is not known",
                        inv.why
                    ));
                    return;
                };
                let name = format!("{shell_path} -c");
                self.read_script(n, inv, t.to_string(), &name, arg0, args, login, dialect);
            }
            Runs::ShellFile { file, args, login } => {
                let Some(f) = file.as_lit().map(str::to_string) else {
                    self.unexplain(n, "the script file is not known".into());
                    self.fallback_programs(format!(
                        "{}: {shell_path} runs a script file that is not known",
                        inv.why
                    ));
                    return;
                };
                let mut found = Vec::new();
                let fs = self.cx.fs;
                let candidates: Vec<String> = if f.starts_with('/') {
                    vec![f.clone()]
                } else {
                    let mut v: Vec<String> = inv
                        .cwd
                        .iter()
                        .filter_map(|c| c.as_lit().map(|c| join(c, &f)))
                        .collect();
                    if !f.contains('/') {
                        for d in self.path.split(':') {
                            if let Some(d) = d.as_lit() {
                                v.push(join(d, &f));
                            }
                        }
                    }
                    v
                };
                for c in candidates {
                    if let Ok(r) = fs.resolve(&c, true) {
                        if fs.node(r.node).is_file() {
                            found.push((c, r));
                        }
                    }
                }
                for (called, r) in found {
                    let text = match fs.read(r.node, &r.path) {
                        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                        Err(_) => continue,
                    };
                    let (sn, _) = self.node_for(
                        &r.path,
                        r.node,
                        Kind::Script,
                        Some(n),
                        format!("read by {shell_path}"),
                    );
                    self.read_script(
                        sn,
                        inv,
                        text,
                        &r.path,
                        Field::lit(&called),
                        args.clone(),
                        login,
                        dialect,
                    );
                }
            }
            Runs::ShellInput { .. } => {
                self.unexplain(n, "reads commands from its input".into());
                self.fallback_programs(format!(
                    "{}: {shell_path} reads its commands from its input or a terminal",
                    inv.why
                ));
            }
            Runs::Unknown(why) => {
                self.unexplain(n, why.clone());
                self.fallback_programs(format!("{}: {shell_path}: {why}", inv.why));
            }
            other => self.runs(n, inv, other, "sh"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn read_script(
        &mut self,
        n: usize,
        inv: &Invocation,
        text: String,
        name: &str,
        arg0: Field,
        args: Vec<Arg>,
        login: bool,
        dialect: scripts::Dialect,
    ) {
        let mut prelude = String::new();
        if login {
            let home = self
                .env
                .iter()
                .find(|(k, _)| k == "HOME")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let mut files = vec!["/etc/profile".to_string()];
            if dialect == scripts::Dialect::Bash {
                for f in [".bash_profile", ".bash_login", ".profile"] {
                    let p = join(&home, f);
                    if self.cx.fs.exists(&p) {
                        files.push(p);
                        break;
                    }
                }
            } else {
                files.push(join(&home, ".profile"));
            }
            for f in files {
                if self.cx.fs.exists(&f) {
                    prelude.push_str(&format!(". '{f}'\n"));
                }
            }
        } else if dialect == scripts::Dialect::Bash && self.env.iter().any(|(k, _)| k == "BASH_ENV")
        {
            prelude.push_str(". \"$BASH_ENV\"\n");
        }
        let start = scripts::Start {
            name: name.to_string(),
            arg0,
            args,
            env: self.env.clone(),
            cwd: inv.cwd.first().cloned().unwrap_or_else(|| self.cwd.clone()),
            dialect,
        };
        self.all_paths();
        let host = ImageHost { d: self };
        let full = if prelude.is_empty() {
            text
        } else {
            format!("{prelude}{text}")
        };
        let report = scripts::analyse(&full, &start, &host);
        let shell_path = self.nodes[n].path.clone();
        for u in &report.unknown {
            self.fallback_programs(format!("{shell_path}: {u}"));
        }
        for f in &report.loads {
            match f.as_lit() {
                Some(p) => {
                    self.add_plugin(p, Some(n), format!("loaded with `enable -f` by {name}"))
                }
                None => self
                    .fallback_plugins(format!("{name}: enable -f with a file that is not known")),
            }
        }
        for u in report.uses {
            let Some(first) = u.argv.first() else {
                continue;
            };
            let target = match first {
                Arg::Field(f) => f.clone(),
                Arg::Splat => Field::any(),
            };
            self.queue.push_back(Invocation {
                target,
                argv: Some(u.argv.clone()),
                path: if u.path.is_empty() {
                    vec![self.path.clone()]
                } else {
                    u.path.clone()
                },
                cwd: u.cwd.clone(),
                sh_fallback: true,
                interp_depth: 0,
                parent: Some(n),
                why: format!("`{}` at {}", shorten(&u.text), u.at),
            });
        }
    }

    /// Something a wrapper (or a shell's options) runs.
    fn runs(&mut self, n: usize, inv: &Invocation, r: Runs, who: &str) {
        let me = self.nodes[n].path.clone();
        match r {
            Runs::Command { argv, path } => {
                let Some(first) = argv.first() else { return };
                let target = match first {
                    Arg::Field(f) => f.clone(),
                    Arg::Splat => Field::any(),
                };
                if target.is_any() {
                    self.unexplain(n, format!("{who} runs a command that is not known"));
                }
                let why = format!("{who} runs `{}`", shorten(&argv_display(&argv)));
                self.queue.push_back(Invocation {
                    target,
                    argv: Some(argv),
                    path: match path {
                        Some(p) => vec![p],
                        None => inv
                            .path
                            .clone()
                            .into_iter()
                            .chain(std::iter::once(self.path.clone()))
                            .take(1)
                            .collect(),
                    },
                    cwd: inv.cwd.clone(),
                    sh_fallback: true,
                    interp_depth: 0,
                    parent: Some(n),
                    why,
                });
            }
            Runs::ShellText {
                text,
                arg0,
                args,
                login,
            } => {
                let mut argv = vec![
                    Arg::lit(if login { "-sh" } else { "sh" }),
                    Arg::lit("-c"),
                    Arg::Field(text.clone()),
                ];
                argv.push(Arg::Field(arg0));
                argv.extend(args);
                self.queue.push_back(Invocation::shell(
                    Some(argv),
                    inv.cwd.clone(),
                    n,
                    format!(
                        "{who} runs `{}` with /bin/sh -c",
                        shorten(&text.to_string())
                    ),
                ));
            }
            Runs::ShellFile { file, args, login } => {
                let mut argv = vec![Arg::lit(if login { "-sh" } else { "sh" }), Arg::Field(file)];
                argv.extend(args);
                self.queue.push_back(Invocation::shell(
                    Some(argv),
                    inv.cwd.clone(),
                    n,
                    format!("{who} runs a script with /bin/sh"),
                ));
            }
            Runs::ShellInput { .. } => {
                self.unexplain(n, format!("{who} starts a shell that reads its input"));
                self.fallback_programs(format!(
                    "{}: {me} starts a shell that reads its commands from its input",
                    inv.why
                ));
            }
            Runs::UserShell {
                user,
                shell,
                login,
                command,
                args,
            } => {
                let shells: Vec<String> = match shell.as_ref().map(|s| s.as_lit()) {
                    Some(Some(s)) => vec![s.to_string()],
                    Some(None) => {
                        self.unexplain(n, format!("{who} runs a shell that is not known"));
                        self.fallback_programs(format!(
                            "{}: {me} runs a shell that is not known",
                            inv.why
                        ));
                        return;
                    }
                    None => {
                        let mut v: Vec<String> = self
                            .passwd
                            .iter()
                            .filter(|(u, _, _)| user.matches(u))
                            .map(|(_, _, s)| {
                                if s.is_empty() {
                                    "/bin/sh".to_string()
                                } else {
                                    s.clone()
                                }
                            })
                            .collect();
                        v.sort();
                        v.dedup();
                        if v.is_empty() {
                            // su fails for a user the password file does not have.
                            return;
                        }
                        v
                    }
                };
                for sh in shells {
                    let base = basename(&sh).to_string();
                    let mut argv = vec![Arg::lit(&if login { format!("-{base}") } else { base })];
                    match &command {
                        Some(c) => {
                            argv.push(Arg::lit("-c"));
                            argv.push(Arg::Field(c.clone()));
                            argv.extend(args.iter().cloned());
                        }
                        None => {
                            if !args.is_empty() {
                                argv.extend(args.iter().cloned());
                            }
                        }
                    }
                    self.queue.push_back(Invocation::direct(
                        Field::lit(&sh),
                        Some(argv),
                        inv.cwd.clone(),
                        Some(n),
                        format!(
                            "{who} starts the shell of user {user}{}",
                            command
                                .as_ref()
                                .map(|c| format!(" with `{}`", shorten(&c.to_string())))
                                .unwrap_or_default()
                        ),
                    ));
                }
            }
            Runs::Directory(d) => {
                let Some(dir) = d.as_lit().map(str::to_string) else {
                    self.unexplain(
                        n,
                        format!("{who} runs the files of a directory that is not known"),
                    );
                    self.fallback_programs(format!(
                        "{}: {me} runs the files of a directory that is not known",
                        inv.why
                    ));
                    return;
                };
                let prefix = format!("{}/", dir.trim_end_matches('/'));
                let files: Vec<String> = self
                    .executables()
                    .iter()
                    .filter(|(p, _)| p.strip_prefix(&prefix).is_some_and(|r| !r.contains('/')))
                    .map(|(p, _)| p.clone())
                    .collect();
                for f in files {
                    self.queue.push_back(Invocation::direct(
                        Field::lit(&f),
                        Some(vec![Arg::lit(&f)]),
                        inv.cwd.clone(),
                        Some(n),
                        format!("{who} runs every file of {dir}"),
                    ));
                }
            }
            Runs::Unknown(why) => {
                self.unexplain(n, why.clone());
                self.fallback_programs(format!("{}: {me}: {why}", inv.why));
            }
        }
    }

    // ---- interpreters and libraries loaded by rule ----

    fn interpreter_rules(&mut self, n: usize, real_base: &str) {
        if self.nodes[n].extensions_done {
            return;
        }
        let rule: Option<(&str, Box<dyn Fn(&str, &dockergate_elf::ElfObject) -> bool>)> =
            if is_versioned(real_base, "python") {
                Some((
                    "Python extension modules (PyInit_* exports)",
                    Box::new(|_, e| exports_prefix(e, "PyInit_")),
                ))
            } else if is_versioned(real_base, "perl") {
                Some((
                    "Perl XS modules (boot_* exports)",
                    Box::new(|_, e| exports_prefix(e, "boot_")),
                ))
            } else if is_versioned(real_base, "ruby") {
                Some((
                    "Ruby extensions (Init_* exports)",
                    Box::new(|_, e| exports_prefix(e, "Init_")),
                ))
            } else if real_base == "node" || real_base == "nodejs" {
                Some((
                    "Node.js native addons (*.node, napi_register_module_v1)",
                    Box::new(|p, e| {
                        p.ends_with(".node")
                            || exports_prefix(e, "napi_register_module")
                            || exports_prefix(e, "node_register_module")
                    }),
                ))
            } else if real_base.starts_with("php") {
                Some((
                    "PHP extensions (get_module exports)",
                    Box::new(|_, e| {
                        exports_prefix(e, "get_module") || exports_prefix(e, "zend_extension_entry")
                    }),
                ))
            } else if real_base == "java" || real_base == "javaw" {
                Some((
                    "Java native libraries (JNI_OnLoad, Java_* exports, the JDK's own)",
                    Box::new(|p, e| {
                        p.contains("/jvm/")
                            || p.contains("/jdk")
                            || p.contains("/jre")
                            || exports_prefix(e, "JNI_OnLoad")
                            || exports_prefix(e, "Java_")
                    }),
                ))
            } else if real_base == "bash" {
                Some((
                    "bash loadable builtins (/usr/lib/bash)",
                    Box::new(|p, _| {
                        p.starts_with("/usr/lib/bash/") || p.starts_with("/usr/local/lib/bash/")
                    }),
                ))
            } else {
                None
            };
        let Some((what, pred)) = rule else { return };
        self.nodes[n].extensions_done = true;
        let mut list = Vec::new();
        for e in self.cx.catalog.entries() {
            let Ok(elf) = &e.elf else { continue };
            if elf.kind != dockergate_elf::ElfKind::SharedObject {
                continue;
            }
            if e.paths.iter().any(|p| pred(p, elf)) {
                list.push(e.paths[0].clone());
            }
        }
        let me = self.nodes[n].path.clone();
        self.load_by_rule(
            n,
            format!(
                "{me} may load any of its {what}: {} shared objects",
                list.len()
            ),
            list,
            format!("{what} that {me} may import"),
        );
    }

    /// A run-time load explained by a rule: recorded, and every file the rule names becomes a
    /// plugin of node `n`.
    fn load_by_rule(&mut self, n: usize, explained: String, paths: Vec<String>, why: String) {
        self.evidence.explained.push(explained);
        for p in paths {
            self.add_plugin(&p, Some(n), why.clone());
        }
    }

    fn glibc_rules(&mut self, n: usize) {
        if self.glibc_done {
            return;
        }
        self.glibc_done = true;
        let me = self.nodes[n].path.clone();
        // NSS modules named by /etc/nsswitch.conf (files and dns are the defaults).
        let mut services: BTreeSet<String> =
            BTreeSet::from(["files".to_string(), "dns".to_string()]);
        if let Ok(b) = self.cx.fs.read_path("/etc/nsswitch.conf") {
            for line in String::from_utf8_lossy(&b).lines() {
                let line = line.split('#').next().unwrap_or("");
                let Some((_, rest)) = line.split_once(':') else {
                    continue;
                };
                let mut in_action = false;
                for w in rest.split_whitespace() {
                    if w.starts_with('[') {
                        in_action = !w.ends_with(']');
                        continue;
                    }
                    if in_action {
                        if w.ends_with(']') {
                            in_action = false;
                        }
                        continue;
                    }
                    services.insert(w.to_string());
                }
            }
        }
        for s in services {
            let name = format!("libnss_{s}.so.2");
            for p in self.find_library(&name, None) {
                self.add_plugin(
                    &p,
                    Some(n),
                    format!("NSS module `{s}` (/etc/nsswitch.conf) glibc loads for {me}"),
                );
            }
        }
        // gconv modules (iconv and charset conversions).
        let mut dirs = vec![
            "/usr/lib/x86_64-linux-gnu/gconv/".to_string(),
            "/usr/lib64/gconv/".to_string(),
            "/usr/lib/gconv/".to_string(),
            "/lib/x86_64-linux-gnu/gconv/".to_string(),
        ];
        if let Some((_, v)) = self.env.iter().find(|(k, _)| k == "GCONV_PATH") {
            for d in v.split(':').filter(|d| !d.is_empty()) {
                dirs.push(format!("{}/", d.trim_end_matches('/')));
            }
        }
        let mut gconv = Vec::new();
        for e in self.cx.catalog.entries() {
            if e.paths
                .iter()
                .any(|p| dirs.iter().any(|d| p.starts_with(d.as_str())))
            {
                gconv.push(e.paths[0].clone());
            }
        }
        for p in gconv {
            self.add_plugin(
                &p,
                Some(n),
                format!("gconv module glibc's iconv may load for {me}"),
            );
        }
        for lib in ["libgcc_s.so.1", "libidn2.so.0"] {
            for p in self.find_library(lib, None) {
                self.add_plugin(
                    &p,
                    Some(n),
                    format!(
                        "{lib}, which glibc loads itself (thread cancellation, backtraces / IDN)"
                    ),
                );
            }
        }
    }

    /// PAM modules named in /etc/pam.d and /etc/pam.conf.
    fn pam_modules(&mut self) -> Vec<String> {
        let fs = self.cx.fs;
        let mut files: Vec<String> = Vec::new();
        if let Ok(d) = fs.resolve("/etc/pam.d", true) {
            for (name, _) in fs.children(d.node) {
                files.push(format!("/etc/pam.d/{name}"));
            }
        }
        files.push("/etc/pam.conf".into());
        let mut mods = BTreeSet::new();
        for f in files {
            let Ok(b) = fs.read_path(&f) else { continue };
            for line in String::from_utf8_lossy(&b).lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                if line.is_empty() || line.starts_with('@') {
                    continue;
                }
                for w in line.split_whitespace() {
                    if w.ends_with(".so") || w.contains(".so.") {
                        mods.insert(w.trim_start_matches('-').to_string());
                        break;
                    }
                }
            }
        }
        let mut out = Vec::new();
        for m in mods {
            if m.starts_with('/') {
                out.push(m);
            } else {
                for d in [
                    "/lib/x86_64-linux-gnu/security",
                    "/usr/lib/x86_64-linux-gnu/security",
                    "/lib/security",
                    "/usr/lib/security",
                    "/lib64/security",
                    "/usr/lib64/security",
                ] {
                    let p = format!("{d}/{m}");
                    if fs.exists(&p) {
                        out.push(p);
                    }
                }
            }
        }
        out
    }

    /// OpenSSL engines and providers: their directories, and paths named in openssl.cnf.
    fn openssl_modules(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut dirs: Vec<String> = Vec::new();
        for (k, v) in &self.env {
            if k == "OPENSSL_MODULES" || k == "OPENSSL_ENGINES" {
                dirs.push(format!("{}/", v.trim_end_matches('/')));
            }
        }
        for e in self.cx.catalog.entries() {
            for p in &e.paths {
                let in_dir = p
                    .split('/')
                    .any(|c| c.starts_with("engines-") || c == "ossl-modules" || c == "engines")
                    || dirs.iter().any(|d| p.starts_with(d.as_str()));
                if in_dir {
                    out.push(e.paths[0].clone());
                    break;
                }
            }
        }
        let mut confs = vec![
            "/usr/lib/ssl/openssl.cnf".to_string(),
            "/etc/ssl/openssl.cnf".to_string(),
        ];
        if let Some((_, v)) = self.env.iter().find(|(k, _)| k == "OPENSSL_CONF") {
            confs.push(v.clone());
        }
        for c in confs {
            let Ok(b) = self.cx.fs.read_path(&c) else {
                continue;
            };
            for w in String::from_utf8_lossy(&b)
                .split(|ch: char| ch.is_whitespace() || ch == '=' || ch == '"')
            {
                if w.starts_with('/') && (w.ends_with(".so") || w.contains(".so.")) {
                    out.push(w.to_string());
                }
            }
        }
        out
    }

    /// Where the loader finds a library name given to dlopen.
    fn find_library(&mut self, name: &str, program: Option<&LoadedProgram>) -> Vec<String> {
        let fs = self.cx.fs;
        if name.contains('/') {
            let p = if name.starts_with('/') {
                name.to_string()
            } else {
                join(self.cwd.as_lit().unwrap_or("/"), name)
            };
            return if fs.exists(&p) { vec![p] } else { vec![] };
        }
        let mut dirs: Vec<String> = Vec::new();
        if let Some(prog) = program {
            for o in &prog.objects {
                let origin = dirname(&o.real_path);
                for rp in [&o.elf.rpath, &o.elf.runpath].into_iter().flatten() {
                    for d in rp.split(':') {
                        dirs.push(d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin));
                    }
                }
            }
        }
        if let Some((_, v)) = self.env.iter().find(|(k, _)| k == "LD_LIBRARY_PATH") {
            dirs.extend(v.split([':', ';']).map(str::to_string));
        }
        if let Some(c) = self.cx.loader.ld_so_cache() {
            for e in c.entries.iter().filter(|e| e.soname == name) {
                if let Some(d) = e.path.rsplit_once('/') {
                    dirs.push(d.0.to_string());
                }
            }
        }
        dirs.extend(self.cx.loader.ld_so_conf_dirs().iter().cloned());
        for d in [
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/lib64",
            "/usr/lib64",
            "/lib",
            "/usr/lib",
            "/usr/local/lib",
        ] {
            dirs.push(d.to_string());
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for d in dirs {
            if d.is_empty() || !d.starts_with('/') {
                continue;
            }
            let p = join(&d, name);
            if let Ok(r) = fs.resolve(&p, true) {
                if seen.insert(r.node) && self.cx.catalog.elf(r.node).is_some() {
                    out.push(p);
                }
            }
        }
        out
    }

    // ---- what a program's code runs and loads ----

    fn absorb(&mut self, st: &mut Analysed, n: usize) {
        let Some(u) = self.nodes[n].unit else { return };
        let Some(result) = st.results[u].clone() else {
            return;
        };
        let unit_kind = st.units[u].kind;
        let loaded = st.units[u].loaded.clone();
        let me = self.nodes[n].path.clone();
        if loaded.flavor == Flavor::Glibc
            && loaded
                .objects
                .iter()
                .any(|o| o.elf.soname.as_deref() == Some("libc.so.6"))
        {
            self.glibc_rules(n);
        }
        let sites = self.call_sites(st, u, &result);
        let real_base = basename(&me).to_string();
        let interpreter = self.nodes[n].extensions_done;
        let mut dynamic_exec: Vec<String> = Vec::new();
        for s in &sites {
            let obj = &loaded.objects[s.object];
            let where_ = format!(
                "{} `{}` {} in {} at {:#x}",
                s.callee, s.function, "call", obj.real_path, s.addr
            );
            let in_libc = is_c_library(obj);
            if let Some(&(_, reg, search)) = EXEC_CALLS.iter().find(|(c, _, _)| *c == s.callee) {
                let path = arg_strings(&s.call, reg);
                // execveat with a directory descriptor other than AT_FDCWD is relative to it.
                let path =
                    if s.callee == "execveat" && !arg_is_const(&s.call, RDI, (-100i64) as u64) {
                        match path {
                            Some(v) if v.iter().all(|p| p.starts_with('/')) => Some(v),
                            _ => None,
                        }
                    } else if s.callee == "fexecve" {
                        None
                    } else {
                        path
                    };
                match path {
                    Some(paths) => {
                        let argv = if s.callee.starts_with("execl") {
                            execl_argv(&s.call)
                        } else {
                            None
                        };
                        for p in paths {
                            if in_libc && p == "/bin/sh" {
                                // glibc's system/popen/wordexp and execvp's fallback for scripts
                                // without #!: handled where they are called.
                                self.evidence.explained.push(format!("{me}: {where_} runs /bin/sh for the C library's system, popen and execvp (read at their callers)"));
                                continue;
                            }
                            self.queue.push_back(Invocation {
                                target: Field::lit(&p),
                                argv: argv.clone().map(|mut a| {
                                    if a.is_empty() {
                                        a.push(Arg::lit(&p));
                                    }
                                    a
                                }),
                                path: if search {
                                    vec![self.path.clone()]
                                } else {
                                    Vec::new()
                                },
                                cwd: vec![self.cwd.clone()],
                                sh_fallback: search,
                                interp_depth: 0,
                                parent: Some(n),
                                why: format!(
                                    "{} \"{p}\" ({} at {:#x} in {})",
                                    s.callee, s.function, s.addr, obj.real_path
                                ),
                            });
                        }
                    }
                    None if in_libc => {
                        self.evidence.explained.push(format!("{me}: {where_}: the C library's implementation, whose path comes from its caller"));
                    }
                    None => dynamic_exec.push(format!("{where_} runs a path computed at run time")),
                }
                continue;
            }
            match s.callee.as_str() {
                "system" | "popen" => {
                    if in_libc {
                        continue;
                    }
                    let cmd = arg_strings(&s.call, RDI);
                    let argv = match &cmd {
                        Some(v) if v.len() == 1 => {
                            Some(vec![Arg::lit("sh"), Arg::lit("-c"), Arg::lit(&v[0])])
                        }
                        _ => None,
                    };
                    match (cmd, argv) {
                        (Some(cmds), _) if cmds.len() > 1 => {
                            for c in cmds {
                                self.shell_command(n, &c, s, obj);
                            }
                        }
                        (_, Some(argv)) => {
                            let c = argv[2].as_lit().unwrap_or("").to_string();
                            let _ = argv;
                            self.shell_command(n, &c, s, obj);
                        }
                        _ => {
                            // The shell runs a command computed at run time.
                            self.queue.push_back(Invocation::shell(
                                None,
                                vec![self.cwd.clone()],
                                n,
                                format!(
                                    "{} of a command computed at run time ({} at {:#x} in {})",
                                    s.callee, s.function, s.addr, obj.real_path
                                ),
                            ));
                            dynamic_exec.push(format!(
                                "{where_} runs a shell command computed at run time"
                            ));
                        }
                    }
                }
                "dlopen" | "dlmopen" => {
                    let reg = if s.callee == "dlopen" { RDI } else { RSI };
                    if arg_is_const(&s.call, reg, 0)
                        && s.call
                            .arg_opt(Loc::Reg(reg))
                            .is_some_and(|v| v.atoms.len() == 1)
                    {
                        continue; // dlopen(NULL): the program itself
                    }
                    match arg_strings(&s.call, reg) {
                        Some(names) => {
                            for name in names {
                                let found = self.find_library(&name, Some(&loaded));
                                for p in found {
                                    self.add_plugin(
                                        &p,
                                        Some(n),
                                        format!(
                                            "dlopen(\"{name}\") ({} at {:#x} in {})",
                                            s.function, s.addr, obj.real_path
                                        ),
                                    );
                                }
                            }
                        }
                        None => {
                            self.dynamic_dlopen(n, &where_, obj, in_libc, interpreter, unit_kind)
                        }
                    }
                }
                "dlsym" | "dlvsym" => {
                    if let Some(names) = arg_strings(&s.call, RSI) {
                        for name in names {
                            if EXEC_CALLS.iter().any(|(c, _, _)| *c == name)
                                || name == "system"
                                || name == "popen"
                            {
                                dynamic_exec.push(format!(
                                    "{where_} looks up {name} to call it through a pointer"
                                ));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        // Exec functions called through pointers, wordexp, raw execve outside the C library.
        for (oi, o) in loaded.objects.iter().enumerate() {
            if is_c_library(o) {
                continue;
            }
            let Some(sm) = st.summaries.get(&o.node) else {
                continue;
            };
            let exec_names = |i: u32| -> Option<&str> {
                o.elf
                    .dynsym
                    .get(i as usize)
                    .map(|d| d.name.as_str())
                    .filter(|nm| {
                        EXEC_CALLS.iter().any(|(c, _, _)| c == nm)
                            || matches!(*nm, "system" | "popen")
                    })
            };
            let mut taken: BTreeSet<String> = sm
                .data_symbols_taken
                .iter()
                .filter_map(|&i| exec_names(i))
                .map(str::to_string)
                .collect();
            for f in &sm.functions {
                for &i in &f.symbols_taken {
                    if let Some(nm) = exec_names(i) {
                        taken.insert(nm.to_string());
                    }
                }
            }
            for nm in taken {
                dynamic_exec.push(format!(
                    "{} takes the address of {nm} (called through a pointer with any path)",
                    o.real_path
                ));
            }
            if o.elf
                .dynsym
                .iter()
                .any(|d| !d.defined && d.name == "wordexp")
            {
                self.queue.push_back(Invocation::shell(
                    None,
                    vec![self.cwd.clone()],
                    n,
                    format!(
                        "wordexp, imported by {}, runs command substitutions with /bin/sh",
                        o.real_path
                    ),
                ));
            }
            let raw = sm.functions.iter().any(|f| {
                f.syscalls.iter().any(|s| {
                    s.number.atoms.iter().any(|a| match (a, s.abi) {
                        (Atom::Const(c), dockergate_analysis::SyscallAbi::Native) => {
                            *c == SYS_EXECVE || *c == SYS_EXECVEAT
                        }
                        (Atom::Const(c), dockergate_analysis::SyscallAbi::I386) => {
                            *c == SYS32_EXECVE || *c == SYS32_EXECVEAT
                        }
                        _ => false,
                    })
                })
            });
            let _ = oi;
            if raw {
                dynamic_exec.push(format!(
                    "{} makes the execve system call itself",
                    o.real_path
                ));
            }
        }
        // A reachable execve whose witness is outside the C library (static programs, raw
        // syscalls with numbers from callers).
        for (nr, w) in result
            .native
            .iter()
            .filter(|(nr, _)| **nr == SYS_EXECVE || **nr == SYS_EXECVEAT)
            .chain(
                result
                    .compat32
                    .iter()
                    .filter(|(nr, _)| **nr == SYS32_EXECVE || **nr == SYS32_EXECVEAT),
            )
        {
            let site_obj = w.site.rsplit_once(' ').map(|x| x.0).unwrap_or(&w.site);
            let libc = loaded
                .objects
                .iter()
                .any(|o| o.real_path == site_obj && is_c_library(o));
            if !libc {
                let _ = nr;
                dynamic_exec.push(format!(
                    "execve at {} (its callers cannot be told apart)",
                    w.site
                ));
            }
        }
        dynamic_exec.sort();
        dynamic_exec.dedup();
        let _ = real_base;
        if !dynamic_exec.is_empty() {
            let node = &mut self.nodes[n];
            node.dynamic_exec = dynamic_exec.clone();
            if node.unexplained.is_none() && node.kind == Kind::Program {
                for d in &dynamic_exec {
                    self.evidence.explained.push(format!(
                        "{me}: {d}: every invocation of it was read (shell or wrapper)"
                    ));
                }
            }
            if self.nodes[n].kind == Kind::Plugin || unit_kind != ProgramKind::Executable {
                self.nodes[n]
                    .unexplained
                    .get_or_insert_with(|| "a plugin, run by any host".into());
            }
            self.check_dynamic(n);
        }
    }

    fn shell_command(
        &mut self,
        n: usize,
        cmd: &str,
        s: &CallFact,
        obj: &dockergate_loader::LoadedObject,
    ) {
        self.queue.push_back(Invocation::shell(
            Some(vec![Arg::lit("sh"), Arg::lit("-c"), Arg::lit(cmd)]),
            vec![self.cwd.clone()],
            n,
            format!(
                "{}(\"{}\") ({} at {:#x} in {})",
                s.callee,
                shorten(cmd),
                s.function,
                s.addr,
                obj.real_path
            ),
        ));
    }

    #[allow(clippy::too_many_arguments)]
    fn dynamic_dlopen(
        &mut self,
        n: usize,
        where_: &str,
        obj: &dockergate_loader::LoadedObject,
        in_libc: bool,
        interpreter: bool,
        unit_kind: ProgramKind,
    ) {
        let me = self.nodes[n].path.clone();
        let base = basename(&obj.real_path).to_string();
        if in_libc || base.starts_with("libdl.so") {
            self.evidence.explained.push(format!(
                "{me}: {where_}: the C library's dlopen, whose name comes from its caller"
            ));
            return;
        }
        if base.starts_with("libpam.so") {
            let mods = self.pam_modules();
            self.load_by_rule(
                n,
                format!(
                    "{me}: {where_}: PAM modules named in /etc/pam.d ({})",
                    mods.len()
                ),
                mods,
                format!("PAM module (/etc/pam.d) libpam loads for {me}"),
            );
            return;
        }
        if base.starts_with("libcrypto.so") {
            let mods = self.openssl_modules();
            self.load_by_rule(
                n,
                format!(
                    "{me}: {where_}: OpenSSL engines and providers ({})",
                    mods.len()
                ),
                mods,
                format!("OpenSSL engine or provider libcrypto may load for {me}"),
            );
            return;
        }
        if interpreter && unit_kind == ProgramKind::Executable {
            self.evidence.explained.push(format!(
                "{me}: {where_}: loads the interpreter's extension modules"
            ));
            return;
        }
        if self.spec.trust_dynamic {
            self.evidence.assumptions.push(format!("{me}: {where_} loads a library named at run time: assumed to load only plugins already reached"));
            return;
        }
        self.fallback_plugins(format!("{me}: {where_} loads a library named at run time"));
    }

    /// The reachable calls to exec-, shell- and dlopen-like functions of a unit, with their
    /// argument values (calls through PLT stubs are found at the stub's callers).
    fn call_sites(
        &mut self,
        st: &mut Analysed,
        u: usize,
        result: &ProgramSyscalls,
    ) -> Vec<CallFact> {
        let loaded = st.units[u].loaded.clone();
        // (object index, function, call index, callee)
        let mut wanted: BTreeSet<(usize, u32, usize, String)> = BTreeSet::new();
        for nc in &result.named_calls {
            let Some(oi) = loaded.objects.iter().position(|o| o.real_path == nc.object) else {
                continue;
            };
            let Some(sm) = st.summaries.get(&loaded.objects[oi].node) else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(nc.address.trim_start_matches("0x"), 16) else {
                continue;
            };
            let Some(fi) = sm.function_at(addr) else {
                continue;
            };
            let f = &sm.functions[fi as usize];
            let Some(ci) = f.calls.iter().position(|c| c.addr == addr) else {
                continue;
            };
            let stub =
                f.origin == FnOrigin::Plt || f.name.as_deref().is_some_and(|n| n.ends_with("@plt"));
            if stub {
                // Every caller of the stub in this object (reachable or not: an over-approximation).
                for &(g, gc) in sm
                    .callers
                    .get(fi as usize)
                    .map(|v| v.as_slice())
                    .unwrap_or(&[])
                {
                    wanted.insert((oi, g, gc as usize, nc.callee.clone()));
                }
            } else {
                wanted.insert((oi, fi, ci, nc.callee.clone()));
            }
        }
        // Complete the functions whose argument values were not computed.
        let mut requests: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
        for (oi, fi, ci, _) in &wanted {
            let sm = &st.summaries[&loaded.objects[*oi].node];
            if let Some(c) = sm
                .functions
                .get(*fi as usize)
                .and_then(|f| f.calls.get(*ci))
            {
                if !c.args_known {
                    requests.entry(*oi).or_default().insert(*fi);
                }
            }
        }
        for (oi, funcs) in requests {
            let o = &loaded.objects[oi];
            let Some(elf) = self.cx.catalog.elf(o.node) else {
                continue;
            };
            let Ok(bytes) = self.cx.fs.read(o.node, &o.real_path) else {
                continue;
            };
            let funcs: Vec<u32> = funcs.into_iter().collect();
            match self
                .cx
                .source
                .complete(&bytes, elf, &st.summaries[&o.node], &funcs)
            {
                Ok(s) => {
                    st.summaries.insert(o.node, s);
                }
                Err(e) => st.warnings.push(format!(
                    "cannot complete the analysis of {}: {e}",
                    o.real_path
                )),
            }
        }
        let mut out = Vec::new();
        for (oi, fi, ci, callee) in wanted {
            let sm: &ObjectSummary = &st.summaries[&loaded.objects[oi].node];
            let Some(f) = sm.functions.get(fi as usize) else {
                continue;
            };
            let Some(c) = f.calls.get(ci) else { continue };
            // A stub's caller that goes through another target (same index after completion).
            if let CallTarget::Indirect = c.target {
                continue;
            }
            out.push(CallFact {
                object: oi,
                function: sm.function_name(fi),
                addr: c.addr,
                callee,
                call: c.clone(),
            });
        }
        out
    }
}

/// One call to an exec-, shell- or dlopen-like function.
struct CallFact {
    object: usize,
    function: String,
    addr: u64,
    callee: String,
    call: CallSite,
}

/// The constant strings an argument register holds, when every value it may hold is one
/// (NULL values are left out). `None` when some value is computed at run time.
fn arg_strings(c: &CallSite, reg: u8) -> Option<Vec<String>> {
    if !c.args_known {
        return None;
    }
    let v = c.arg_opt(Loc::Reg(reg))?;
    if v.unknown {
        return None;
    }
    let mut consts = 0;
    for a in &v.atoms {
        match a {
            Atom::Const(0) => {}
            Atom::Const(_) => consts += 1,
            Atom::Param(_) => return None,
        }
    }
    let strings: Vec<String> = c
        .strings()
        .iter()
        .filter(|(l, _)| *l == Loc::Reg(reg))
        .map(|(_, s)| s.clone())
        .collect();
    if strings.len() != consts {
        return None;
    }
    Some(strings)
}

fn arg_is_const(c: &CallSite, reg: u8, value: u64) -> bool {
    c.arg_opt(Loc::Reg(reg)).is_some_and(|v| {
        !v.unknown && !v.atoms.is_empty() && v.atoms.iter().all(|a| *a == Atom::Const(value))
    })
}

/// `execl(path, arg0, arg1, …, NULL)` with constant strings in registers: the argument vector.
fn execl_argv(c: &CallSite) -> Option<Vec<Arg>> {
    let mut argv = Vec::new();
    for &r in &ARG_REGS[1..] {
        if arg_is_const(c, r, 0) {
            return Some(argv);
        }
        let s = arg_strings(c, r)?;
        if s.len() != 1 {
            return None;
        }
        argv.push(Arg::lit(&s[0]));
    }
    None
}

/// The C library or the dynamic loader: their exec and dlopen code takes its path from
/// callers, which are analysed where they call.
fn is_c_library(o: &dockergate_loader::LoadedObject) -> bool {
    o.is_interpreter || crate::in_every_process(&o.elf, &o.real_path)
}

fn exports_prefix(e: &dockergate_elf::ElfObject, prefix: &str) -> bool {
    e.dynsym
        .iter()
        .any(|d| d.defined && d.visible && d.name.starts_with(prefix))
}

/// `python`, `python3`, `python3.11`, `python3.11d`…
fn is_versioned(base: &str, name: &str) -> bool {
    base.strip_prefix(name).is_some_and(|r| {
        r.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == 'd' || c == 'm')
    })
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) => "/",
        Some(i) => &p[..i],
        None => ".",
    }
}

fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') {
        return name.to_string();
    }
    let name = name.strip_prefix("./").unwrap_or(name);
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn shorten(s: &str) -> String {
    let one = s.replace('\n', "; ");
    if one.chars().count() > 100 {
        format!("{}…", one.chars().take(100).collect::<String>())
    } else {
        one
    }
}

fn read_passwd(cx: &Ctx) -> Vec<(String, String, String)> {
    let Ok(b) = cx.fs.read_path("/etc/passwd") else {
        return Vec::new();
    };
    String::from_utf8_lossy(&b)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 7).then(|| (f[0].to_string(), f[5].to_string(), f[6].to_string()))
        })
        .collect()
}

/// The image as the shell reader sees it.
struct ImageHost<'d, 'a, 'c> {
    d: &'d Discovery<'a, 'c>,
}

impl scripts::Host for ImageHost<'_, '_, '_> {
    fn read(&self, path: &str) -> Option<String> {
        let fs = self.d.cx.fs;
        let r = fs.resolve(path, true).ok()?;
        let node = fs.node(r.node);
        if !node.is_file() || node.size() > (4 << 20) {
            return None;
        }
        fs.read(r.node, &r.path)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    fn glob(&self, pattern: &str) -> Vec<String> {
        let comps: Vec<&str> = pattern.split('/').collect();
        let paths = self.d.all_paths.as_ref();
        let Some(paths) = paths else {
            return Vec::new();
        };
        paths
            .iter()
            .filter(|p| {
                let pc: Vec<&str> = p.split('/').collect();
                pc.len() == comps.len()
                    && pc.iter().zip(&comps).all(|(a, b)| {
                        scripts::glob_match(b, a) && !(a.starts_with('.') && !b.starts_with('.'))
                    })
            })
            .cloned()
            .collect()
    }

    fn files_matching(&self, f: &Field) -> Vec<String> {
        let fs = self.d.cx.fs;
        let Some(paths) = self.d.all_paths.as_ref() else {
            return Vec::new();
        };
        paths
            .iter()
            .filter(|p| f.matches(p))
            .filter(|p| fs.resolve(p, true).is_ok_and(|r| fs.node(r.node).is_file()))
            .cloned()
            .collect()
    }
}

/// Debugging only, and unsound on purpose: `DG_DEBUG_NO_FALLBACK=programs|plugins|all` records
/// a fallback's reason but reaches nothing through it, to measure what the fallbacks cost
/// (what an analysis that could name every computed exec or dlopen target would at best allow).
/// Like every `DG_*` variable, it keeps results out of the cache.
fn ignored_fallback(kind: &str) -> bool {
    std::env::var("DG_DEBUG_NO_FALLBACK").is_ok_and(|v| v == kind || v == "all")
}
