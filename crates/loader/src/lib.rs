//! `dockergate-loader`: a model of the dynamic loader that runs a program in the image — glibc's
//! ld.so or musl's — to tell which objects a program loads, in which order, and which object
//! provides each symbol it imports.
//!
//! glibc (2.36, `elf/dl-load.c` `_dl_map_object`, `elf/dl-deps.c`, `elf/rtld.c`): DT_NEEDED names
//! have their dynamic string tokens (`$ORIGIN`, `$LIB`, `$PLATFORM`) expanded first. A name with
//! a slash is opened as is; otherwise an object already loaded under that name, path or soname is
//! reused; else the directories are tried in this order — DT_RPATH of the requesting object and
//! of the objects that loaded it, then of the executable (all only when the requesting object has
//! no DT_RUNPATH; an object with both has no DT_RPATH), LD_LIBRARY_PATH, the requesting object's
//! own DT_RUNPATH, /etc/ld.so.cache, the default directories (the cache entries in them and the
//! directories themselves are skipped under `DF_1_NODEFLIB`). Each directory is tried with its
//! glibc-hwcaps and legacy hwcaps subdirectories first. `/etc/ld.so.conf` is never read by
//! ld.so: only through the cache ldconfig made from it. Files of another class or machine are
//! skipped; other unusable files (not ELF, wrong type, a directory) stop the load with an error; a
//! file already loaded (same inode) is reused. A dependency that is not found is reported where it
//! would have been loaded and searched again by the next object that needs it. LD_PRELOAD (split
//! at spaces and colons) then /etc/ld.so.preload (whitespace, colons, `#` comments) come right
//! after the program; a preload that cannot be loaded is ignored. Dependencies are loaded breadth
//! first; the global scope is that order, with ld.so where a DT_NEEDED first names it.
//!
//! musl (`ldso/dynlink.c`, `load_library`): `libc`, `libpthread`, `librt`, `libm`, `libdl`,
//! `libutil`, `libxnet` (`lib` + that + `.`) name the loader itself, and so does its PT_INTERP
//! path; otherwise a name with a slash is opened as is, and a name without one is the object
//! already loaded under that short name, or the first file found in LD_LIBRARY_PATH, then in the
//! RPATH (or RUNPATH, which wins when both exist) of the requesting object and of every object up
//! its `needed_by` chain (a path holding a `$` other than `$ORIGIN`/`${ORIGIN}` is ignored), then
//! `PREFIX/etc/ld-musl-ARCH.path` (PREFIX: the loader's path minus its last two components) or
//! `/lib:/usr/local/lib:/usr/lib`. The first file that exists is used: when it cannot be mapped
//! the dependency fails. A file already loaded (same inode) is reused; a library that looks like
//! a libc (defines `__libc_start_main` and `stdin`) is replaced by the loader. LD_PRELOAD is split
//! at whitespace and colons, /etc/ld.so.preload is not read, and a preload that is not found is
//! silently skipped. musl's `ldd` prints each reserved family once, when it is first requested.
//!
//! The program's `$ORIGIN` is the directory of its resolved path (what /proc/self/exe shows at
//! run time); a library's is the directory of the path it was opened by. (`ldd PATH` with a PATH
//! that is itself a symlink would use PATH's directory instead.)
//!
//! Symbol binding follows `_dl_lookup_symbol_x`: the object itself first under DT_SYMBOLIC, then
//! the global scope in order; the first visible definition whose version matches wins.

mod bind;
mod catalog;
mod ldcache;
mod run;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dockergate_elf::{ElfKind, ElfObject};
use dockergate_fs::{ImageFs, NodeId};

pub use bind::{bind_symbols, bind_symbols_cached, BindCache, Binding, Bindings, SymbolRef};
pub use catalog::{CatalogEntry, ElfCatalog, ScanWarning};
pub use ldcache::{CacheEntry, LdSoCache};

use run::Run;

/// Which dynamic loader runs a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Glibc,
    Musl,
    /// A static executable: no loader at all.
    Static,
}

/// Why a program cannot be modelled.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    #[error("{path} not found in the image: {why}")]
    NotFound { path: String, why: String },
    #[error("{path} is not an ELF file the loader can run: {why}")]
    NotElf { path: String, why: String },
    #[error("interpreter {interp} of {path} is missing from the image")]
    MissingInterpreter { path: String, interp: String },
}

/// One object of a program's link map.
#[derive(Clone, Debug)]
pub struct LoadedObject {
    /// The name it was first requested under (a DT_NEEDED string after DST expansion, or the path
    /// for the program and the interpreter): glibc's `l_libname`.
    pub name: String,
    /// The path the loader opened (not canonicalised): glibc's `l_name`.
    pub path: String,
    /// The canonical path inside the image (symlinks resolved).
    pub real_path: String,
    pub node: NodeId,
    pub elf: Arc<ElfObject>,
    /// Index of the object whose DT_NEEDED brought it in (`None` for the program itself).
    pub needed_by: Option<usize>,
    pub is_interpreter: bool,
    /// Other files the same request could load on another CPU (glibc-hwcaps variants). The
    /// analysis treats them as possible too.
    pub alternatives: Vec<(String, NodeId)>,
}

/// A dependency the loader would not find (one per failed request: glibc searches again for the
/// next object that needs the same name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub name: String,
    pub needed_by: usize,
}

/// One line of the loader's trace (what `ldd` prints), in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEntry {
    /// `objects[i]` (never the program itself).
    Object(usize),
    /// A dependency that was not found, where the loader reports it.
    NotFound {
        name: String,
        needed_by: Option<usize>,
    },
    /// musl: a reserved name (`libc.so`, `libpthread.so.0`, …) answered by the loader itself,
    /// printed the first time its family is requested.
    Reserved { name: String },
}

/// A program as the loader would set it up: the link map in global-scope order.
#[derive(Clone, Debug)]
pub struct LoadedProgram {
    pub flavor: Flavor,
    /// `objects[0]` is the program; the rest in global-scope order (breadth first for glibc,
    /// load order for musl), the interpreter where it is first needed, or last when nothing
    /// names it.
    pub objects: Vec<LoadedObject>,
    pub missing: Vec<Missing>,
    pub warnings: Vec<String>,
    /// What the loader prints in trace mode (`ldd`), in order.
    pub trace: Vec<TraceEntry>,
    /// An error that makes the real loader give up on the whole program (glibc: a file in the
    /// search path that is not a loadable ELF object, a DT_NEEDED naming an executable, …).
    pub fatal: Option<String>,
}

impl LoadedProgram {
    /// The lines glibc's `ldd` (or musl's) prints, without load addresses and without the vDSO
    /// (and without musl's first line, the loader's own path).
    pub fn ldd_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match self.flavor {
            // glibc's ldd: ld.so --verify refuses an ET_EXEC without PT_INTERP, and says a
            // static PIE is statically linked.
            Flavor::Static if self.objects[0].elf.kind == ElfKind::StaticPie => {
                lines.push("\tstatically linked".to_string())
            }
            Flavor::Static => lines.push("\tnot a dynamic executable".to_string()),
            // ld.so gives up before it prints anything.
            Flavor::Glibc if self.fatal.is_some() => {}
            Flavor::Glibc => {
                for t in &self.trace {
                    match t {
                        TraceEntry::Object(i) => {
                            let o = &self.objects[*i];
                            if o.name == o.path {
                                lines.push(format!("\t{}", o.name));
                            } else {
                                lines.push(format!("\t{} => {}", o.name, o.path));
                            }
                        }
                        TraceEntry::NotFound { name, .. } => {
                            lines.push(format!("\t{name} => not found"))
                        }
                        TraceEntry::Reserved { name } => lines.push(format!("\t{name}")),
                    }
                }
            }
            Flavor::Musl => {
                let rtld = self
                    .interpreter()
                    .map(|i| self.objects[i].path.clone())
                    .unwrap_or_default();
                for t in &self.trace {
                    match t {
                        TraceEntry::Object(i) => {
                            let o = &self.objects[*i];
                            lines.push(format!("\t{} => {}", o.name, o.path));
                        }
                        TraceEntry::Reserved { name } => {
                            lines.push(format!("\t{name} => {rtld}"));
                        }
                        TraceEntry::NotFound { name, needed_by } => {
                            if let Some(by) = needed_by {
                                lines.push(format!(
                                    "Error loading shared library {name}: No such file or directory (needed by {})",
                                    self.objects[*by].path
                                ));
                            }
                        }
                    }
                }
            }
        }
        if let Some(f) = &self.fatal {
            lines.push(format!(
                "{}: error while loading shared libraries: {f}",
                self.objects[0].path
            ));
        }
        lines
    }

    /// Index of the interpreter in `objects`.
    pub fn interpreter(&self) -> Option<usize> {
        self.objects.iter().position(|o| o.is_interpreter)
    }
}

/// The loader model of one image: its configuration (environment, cache, paths) and its files.
pub struct ImageLoader<'a> {
    fs: &'a ImageFs,
    catalog: &'a ElfCatalog,
    /// `LD_LIBRARY_PATH` as set in the image's environment (split by each flavor's rules).
    ld_library_path: Option<String>,
    /// `LD_PRELOAD` as set in the image's environment.
    ld_preload: Option<String>,
    /// The contents of /etc/ld.so.preload (glibc only).
    preload_file: Option<Vec<u8>>,
    working_dir: String,
    cache: Option<LdSoCache>,
    /// glibc's default directories, by interpreter file and machine (`run::system_dirs` reads
    /// the whole interpreter: once per image, not once per program).
    system_dirs: Mutex<HashMap<(NodeId, u16), Vec<String>>>,
    /// [`ImageLoader::default_interpreter`] by machine and class (it looks at every ELF file).
    default_interp: Mutex<HashMap<(u16, u8), Option<(String, NodeId)>>>,
    /// [`ImageLoader::ld_so_conf_dirs`], read once.
    conf_dirs: std::sync::OnceLock<Vec<String>>,
}

impl<'a> ImageLoader<'a> {
    /// Sets up the model from the image's files and its config `Env` (`NAME=value` strings).
    pub fn new(
        fs: &'a ImageFs,
        catalog: &'a ElfCatalog,
        env: &[String],
        working_dir: &str,
    ) -> Self {
        // The last definition wins, as in a process environment built from the config.
        let var = |name: &str| {
            env.iter()
                .rev()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
        };
        let cache = fs
            .read_path("/etc/ld.so.cache")
            .ok()
            .and_then(|b| LdSoCache::parse(&b));
        ImageLoader {
            fs,
            catalog,
            ld_library_path: var("LD_LIBRARY_PATH"),
            ld_preload: var("LD_PRELOAD"),
            preload_file: fs.read_path("/etc/ld.so.preload").ok().map(|b| b.to_vec()),
            working_dir: if working_dir.is_empty() {
                "/".into()
            } else {
                working_dir.to_string()
            },
            cache,
            conf_dirs: std::sync::OnceLock::new(),
            system_dirs: Mutex::new(HashMap::new()),
            default_interp: Mutex::new(HashMap::new()),
        }
    }

    pub fn catalog(&self) -> &ElfCatalog {
        self.catalog
    }

    pub fn fs(&self) -> &ImageFs {
        self.fs
    }

    /// The directories `/etc/ld.so.conf` lists (with its `include` files, globs expanded), in
    /// order: what ldconfig would put in the cache. ld.so itself never reads the file.
    pub fn ld_so_conf_dirs(&self) -> &[String] {
        self.conf_dirs.get_or_init(|| read_ld_so_conf(self.fs))
    }

    /// The image's /etc/ld.so.cache, when it has one that parses.
    pub fn ld_so_cache(&self) -> Option<&LdSoCache> {
        self.cache.as_ref()
    }

    /// Models running the program at `path` (an image path).
    pub fn load_program(&self, path: &str) -> Result<LoadedProgram, LoadError> {
        let resolved = self
            .fs
            .resolve_at(&self.working_dir, path, true)
            .map_err(|e| LoadError::NotFound {
                path: path.to_string(),
                why: e.to_string(),
            })?;
        let entry = self
            .catalog
            .entry(resolved.node)
            .ok_or_else(|| LoadError::NotElf {
                path: path.to_string(),
                why: "not an ELF file".into(),
            })?;
        let elf = entry
            .elf
            .as_ref()
            .map_err(|e| LoadError::NotElf {
                path: path.to_string(),
                why: e.to_string(),
            })?
            .clone();
        let main = LoadedObject {
            name: path.to_string(),
            path: path.to_string(),
            real_path: resolved.path.clone(),
            node: resolved.node,
            elf: elf.clone(),
            needed_by: None,
            is_interpreter: false,
            alternatives: Vec::new(),
        };
        let interp = match elf.interpreter.clone() {
            Some(i) => Some(i),
            // A shared library: `ldd` runs it through the loader (`ld.so FILE`), which loads
            // its dependencies as for a program.
            None if elf.kind == ElfKind::SharedObject && elf.has_dynamic => {
                self.default_interpreter(&elf).map(|(i, _)| i)
            }
            None => None,
        };
        let Some(interp) = interp else {
            return Ok(LoadedProgram {
                flavor: Flavor::Static,
                objects: vec![main],
                missing: Vec::new(),
                warnings: Vec::new(),
                trace: Vec::new(),
                fatal: None,
            });
        };
        let interp_res =
            self.fs
                .resolve(&interp, true)
                .map_err(|_| LoadError::MissingInterpreter {
                    path: path.to_string(),
                    interp: interp.clone(),
                })?;
        let interp_elf = self
            .catalog
            .elf(interp_res.node)
            .ok_or_else(|| LoadError::MissingInterpreter {
                path: path.to_string(),
                interp: interp.clone(),
            })?
            .clone();
        let rtld = LoadedObject {
            name: interp.clone(),
            path: interp.clone(),
            real_path: interp_res.path.clone(),
            node: interp_res.node,
            elf: interp_elf,
            needed_by: Some(0),
            is_interpreter: true,
            alternatives: Vec::new(),
        };
        let flavor = flavor_of_interpreter(&interp);
        let mut run = Run::new(self, flavor, main, Some(rtld));
        run.load_all();
        Ok(run.finish())
    }

    /// Models loading a shared object with `dlopen` into a process of this image: the object and
    /// its dependencies, found with the object's own paths and the image's configuration.
    pub fn load_plugin(&self, path: &str) -> Result<LoadedProgram, LoadError> {
        let resolved = self
            .fs
            .resolve(path, true)
            .map_err(|e| LoadError::NotFound {
                path: path.to_string(),
                why: e.to_string(),
            })?;
        let elf = self
            .catalog
            .elf(resolved.node)
            .ok_or_else(|| LoadError::NotElf {
                path: path.to_string(),
                why: "not an ELF file".into(),
            })?
            .clone();
        let main = LoadedObject {
            name: path.to_string(),
            path: path.to_string(),
            real_path: resolved.path.clone(),
            node: resolved.node,
            elf: elf.clone(),
            needed_by: None,
            is_interpreter: false,
            alternatives: Vec::new(),
        };
        // The loader a host process of this image would have.
        let interp = self.default_interpreter(&elf);
        let Some((interp, node)) = interp else {
            let mut run = Run::new(self, Flavor::Glibc, main, None);
            run.load_all();
            return Ok(run.finish());
        };
        let interp_elf =
            self.catalog
                .elf(node)
                .cloned()
                .ok_or_else(|| LoadError::MissingInterpreter {
                    path: path.to_string(),
                    interp: interp.clone(),
                })?;
        let rtld = LoadedObject {
            name: interp.clone(),
            path: interp.clone(),
            real_path: self
                .fs
                .resolve(&interp, true)
                .map(|r| r.path)
                .unwrap_or_else(|_| interp.clone()),
            node,
            elf: interp_elf,
            needed_by: Some(0),
            is_interpreter: true,
            alternatives: Vec::new(),
        };
        let flavor = flavor_of_interpreter(&interp);
        let mut run = Run::new(self, flavor, main, Some(rtld));
        run.load_all();
        Ok(run.finish())
    }

    /// The interpreter a process loading `elf` would run under: the one most programs of the
    /// image of the same machine name.
    fn default_interpreter(&self, elf: &ElfObject) -> Option<(String, NodeId)> {
        let key = (elf.machine, elf.class);
        if let Some(r) = lock(&self.default_interp).get(&key) {
            return r.clone();
        }
        let r = self.default_interpreter_uncached(elf);
        lock(&self.default_interp).insert(key, r.clone());
        r
    }

    fn default_interpreter_uncached(&self, elf: &ElfObject) -> Option<(String, NodeId)> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for e in self.catalog.entries() {
            if let Ok(o) = &e.elf {
                if o.machine == elf.machine && o.class == elf.class && o.kind != ElfKind::Other {
                    if let Some(i) = &o.interpreter {
                        *counts.entry(i.as_str()).or_default() += 1;
                    }
                }
            }
        }
        let mut best: Vec<(&str, usize)> = counts.into_iter().collect();
        best.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        best.into_iter().find_map(|(i, _)| {
            self.fs
                .resolve(i, true)
                .ok()
                .map(|r| (i.to_string(), r.node))
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn flavor_of_interpreter(interp: &str) -> Flavor {
    if basename(interp).starts_with("ld-musl") {
        Flavor::Musl
    } else {
        Flavor::Glibc
    }
}

/// Directories listed by /etc/ld.so.conf and its `include` files (globs supported for `*`), as
/// ldconfig reads them.
fn read_ld_so_conf(fs: &ImageFs) -> Vec<String> {
    let mut out = ConfDirs::default();
    read_conf_file(fs, "/etc/ld.so.conf", &mut out);
    out.list
}

/// Directories read from ld.so.conf files, in order, each once. At most [`MAX_CONF_DIRS`]: real
/// files list a handful, and every library lookup walks them.
#[derive(Default)]
struct ConfDirs {
    list: Vec<String>,
    seen: std::collections::HashSet<String>,
    /// The files read (each once: `include` loops).
    files: std::collections::HashSet<String>,
}

const MAX_CONF_DIRS: usize = 4096;

fn read_conf_file(fs: &ImageFs, file: &str, out: &mut ConfDirs) {
    if !out.files.insert(file.to_string())
        || out.files.len() > 256
        || out.list.len() >= MAX_CONF_DIRS
    {
        return;
    }
    let Ok(bytes) = fs.read_path(file) else {
        return;
    };
    let text = String::from_utf8_lossy(&bytes);
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(pat) = line
            .strip_prefix("include")
            .filter(|r| r.starts_with([' ', '\t']))
        {
            // Relative patterns are relative to the including file's directory.
            for p in pat.split_whitespace() {
                let p = if p.starts_with('/') {
                    p.to_string()
                } else {
                    format!("{}/{p}", dirname(file).trim_end_matches('/'))
                };
                for f in expand_glob(fs, &p) {
                    read_conf_file(fs, &f, out);
                }
            }
        } else if line.starts_with("hwcap") {
            // Obsolete `hwcap` lines are ignored by ldconfig 2.36.
        } else {
            for d in line.split([':', ',', ' ', '\t']).filter(|d| !d.is_empty()) {
                // ldconfig accepts a trailing "=TYPE" on a directory.
                let d = d.split('=').next().unwrap_or(d);
                let d = d.trim_end_matches('/');
                let d = if d.is_empty() { "/" } else { d };
                if out.list.len() < MAX_CONF_DIRS && out.seen.insert(d.to_string()) {
                    out.list.push(d.to_string());
                }
            }
        }
    }
}

/// Expands a `dir/prefix*suffix` pattern against the image (only the last component may glob),
/// sorted as glob(3) sorts.
fn expand_glob(fs: &ImageFs, pattern: &str) -> Vec<String> {
    let Some((dir, pat)) = pattern.rsplit_once('/') else {
        return vec![];
    };
    if !pat.contains(['*', '?']) {
        return vec![pattern.to_string()];
    }
    let Ok(d) = fs.resolve(if dir.is_empty() { "/" } else { dir }, true) else {
        return vec![];
    };
    let mut v: Vec<String> = fs
        .children(d.node)
        .filter(|(n, _)| !n.starts_with('.') && glob_match(pat.as_bytes(), n.as_bytes()))
        .map(|(n, _)| format!("{dir}/{n}"))
        .collect();
    v.sort();
    v
}

/// `*` and `?` matching of one path component.
fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob_match(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && glob_match(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && glob_match(rest, &name[1..]),
    }
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
