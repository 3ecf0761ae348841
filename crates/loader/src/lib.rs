//! `dockergate-loader`: a model of the dynamic loader that runs a program in the image — glibc's
//! ld.so or musl's — to tell which objects a program loads, in which order, and which object
//! provides each symbol it imports.
//!
//! glibc (`elf/dl-load.c`, `_dl_map_object`): a name with a slash is used as is; otherwise an
//! object already loaded under that name or soname is reused; else the directories are tried in
//! this order — DT_RPATH of the requesting object and of the objects that loaded it, then of the
//! executable (all only when the requesting object has no DT_RUNPATH), LD_LIBRARY_PATH, the
//! requesting object's DT_RUNPATH, /etc/ld.so.cache, the default directories (skipped with
//! `DF_1_NODEFLIB`). Each directory is tried with its glibc-hwcaps subdirectories first. Files of
//! another class or machine are skipped; a file already loaded (same inode) is reused.
//! Dependencies are loaded breadth first; the global scope is that order.
//!
//! musl (`ldso/dynlink.c`, `load_library`): `libc`, `libpthread`, `librt`, `libm`, `libdl`,
//! `libutil`, `libxnet` name the loader itself; otherwise LD_LIBRARY_PATH, then the RPATH (or
//! RUNPATH) of the requesting object and of every object up its `needed_by` chain, then
//! `/etc/ld-musl-ARCH.path` or `/lib:/usr/local/lib:/usr/lib`.
//!
//! Symbol binding follows `_dl_lookup_symbol_x`: the object itself first under DT_SYMBOLIC, then
//! the global scope in order; the first visible definition whose version matches wins.

mod bind;
mod catalog;
mod ldcache;

use std::collections::HashMap;
use std::sync::Arc;

use dockergate_elf::{machine, ElfKind, ElfObject, DF_1_NODEFLIB};
use dockergate_fs::{ImageFs, NodeId};

pub use bind::{bind_symbols, Binding, Bindings, SymbolRef};
pub use catalog::{CatalogEntry, ElfCatalog, ScanWarning};
pub use ldcache::{CacheEntry, LdSoCache};

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
    /// The name it was first requested under (a DT_NEEDED string, or the path for the program
    /// and the interpreter): glibc's `l_libname`.
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

/// A dependency the loader would not find.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub name: String,
    pub needed_by: usize,
}

/// A program as the loader would set it up: the link map in global-scope order.
#[derive(Clone, Debug)]
pub struct LoadedProgram {
    pub flavor: Flavor,
    /// `objects[0]` is the program; the rest in load (breadth-first) order, the interpreter
    /// where it is first needed or last.
    pub objects: Vec<LoadedObject>,
    pub missing: Vec<Missing>,
    pub warnings: Vec<String>,
}

impl LoadedProgram {
    /// The lines glibc's `ldd` (or musl's) prints, without load addresses and without the vDSO.
    pub fn ldd_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match self.flavor {
            Flavor::Static => lines.push("\tstatically linked".to_string()),
            Flavor::Glibc => {
                let mut missing = self.missing.iter().peekable();
                let mut printed_missing = std::collections::HashSet::new();
                for (i, o) in self.objects.iter().enumerate().skip(1) {
                    // glibc's tracing prints a "not found" line where the failed load would be.
                    while let Some(m) = missing.peek() {
                        if m.needed_by < i && printed_missing.insert(m.name.clone()) {
                            lines.push(format!("\t{} => not found", m.name));
                        }
                        if m.needed_by < i {
                            missing.next();
                        } else {
                            break;
                        }
                    }
                    if o.name == o.path {
                        lines.push(format!("\t{}", o.name));
                    } else {
                        lines.push(format!("\t{} => {}", o.name, o.path));
                    }
                }
                for m in missing {
                    if printed_missing.insert(m.name.clone()) {
                        lines.push(format!("\t{} => not found", m.name));
                    }
                }
            }
            Flavor::Musl => {
                for o in self.objects.iter().skip(1) {
                    if o.is_interpreter {
                        lines.push(format!("\t{} => {}", o.name, o.path));
                    } else {
                        lines.push(format!("\t{} => {}", o.name, o.path));
                    }
                }
                for m in &self.missing {
                    lines.push(format!(
                        "\tError loading shared library {}: No such file or directory",
                        m.name
                    ));
                }
            }
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
    ld_library_path: Vec<String>,
    preload: Vec<String>,
    working_dir: String,
    cache: Option<LdSoCache>,
    /// ld.so.conf directories, used only when the image has no cache.
    conf_dirs: Vec<String>,
}

/// glibc-hwcaps subdirectories for x86-64, best first.
const X86_64_HWCAPS: [&str; 3] = ["x86-64-v4", "x86-64-v3", "x86-64-v2"];

impl<'a> ImageLoader<'a> {
    /// Sets up the model from the image's files and its config `Env` (`NAME=value` strings).
    pub fn new(
        fs: &'a ImageFs,
        catalog: &'a ElfCatalog,
        env: &[String],
        working_dir: &str,
    ) -> Self {
        let var = |name: &str| {
            env.iter()
                .rev()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
        };
        let ld_library_path = var("LD_LIBRARY_PATH")
            .map(|v| {
                v.split([':', ';'])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let mut preload: Vec<String> = var("LD_PRELOAD")
            .map(|v| {
                v.split([':', ' ', '\t'])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if let Ok(bytes) = fs.read_path("/etc/ld.so.preload") {
            let text = String::from_utf8_lossy(&bytes);
            preload.extend(
                text.split([':', ' ', '\t', '\n'])
                    .filter(|s| !s.is_empty() && !s.starts_with('#'))
                    .map(str::to_string),
            );
        }
        let cache = fs
            .read_path("/etc/ld.so.cache")
            .ok()
            .and_then(|b| LdSoCache::parse(&b));
        let conf_dirs = if cache.is_none() {
            read_ld_so_conf(fs)
        } else {
            Vec::new()
        };
        ImageLoader {
            fs,
            catalog,
            ld_library_path,
            preload,
            working_dir: if working_dir.is_empty() {
                "/".into()
            } else {
                working_dir.to_string()
            },
            cache,
            conf_dirs,
        }
    }

    pub fn catalog(&self) -> &ElfCatalog {
        self.catalog
    }

    pub fn fs(&self) -> &ImageFs {
        self.fs
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
        let Some(interp) = elf.interpreter.clone() else {
            return Ok(LoadedProgram {
                flavor: Flavor::Static,
                objects: vec![main],
                missing: Vec::new(),
                warnings: Vec::new(),
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
        let flavor = if basename(&interp).starts_with("ld-musl") {
            Flavor::Musl
        } else {
            Flavor::Glibc
        };
        let mut run = Run::new(self, flavor, main, rtld);
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
            let mut run = Run::new_without_rtld(self, Flavor::Glibc, main);
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
        let flavor = if basename(&interp).starts_with("ld-musl") {
            Flavor::Musl
        } else {
            Flavor::Glibc
        };
        let mut run = Run::new(self, flavor, main, rtld);
        run.load_all();
        Ok(run.finish())
    }

    /// The interpreter a process loading `elf` would run under: the one most programs of the
    /// image of the same machine name.
    fn default_interpreter(&self, elf: &ElfObject) -> Option<(String, NodeId)> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for e in self.catalog.entries() {
            if let Ok(o) = &e.elf {
                if o.machine == elf.machine && o.class == elf.class {
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

/// Directories listed by /etc/ld.so.conf and its `include` files (globs supported for `*`).
fn read_ld_so_conf(fs: &ImageFs) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec!["/etc/ld.so.conf".to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(file) = stack.pop() {
        if !seen.insert(file.clone()) || seen.len() > 256 {
            continue;
        }
        let Ok(bytes) = fs.read_path(&file) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut includes = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if let Some(pat) = line
                .strip_prefix("include")
                .filter(|r| r.starts_with([' ', '\t']))
            {
                for p in pat.split_whitespace() {
                    let p = if p.starts_with('/') {
                        p.to_string()
                    } else {
                        format!("/etc/{p}")
                    };
                    includes.extend(expand_glob(fs, &p));
                }
            } else {
                for d in line.split([':', ',', ' ', '\t']).filter(|d| !d.is_empty()) {
                    if !out.contains(&d.to_string()) {
                        out.push(d.to_string());
                    }
                }
            }
        }
        includes.sort();
        stack.extend(includes.into_iter().rev());
    }
    out
}

/// Expands a `dir/prefix*suffix` pattern against the image (only the last component may glob).
fn expand_glob(fs: &ImageFs, pattern: &str) -> Vec<String> {
    let Some((dir, pat)) = pattern.rsplit_once('/') else {
        return vec![];
    };
    if !pat.contains('*') {
        return vec![pattern.to_string()];
    }
    let (pre, post) = pat.split_once('*').unwrap_or((pat, ""));
    let Ok(d) = fs.resolve(if dir.is_empty() { "/" } else { dir }, true) else {
        return vec![];
    };
    let mut v: Vec<String> = fs
        .children(d.node)
        .filter(|(n, _)| {
            n.starts_with(pre) && n.ends_with(post) && n.len() >= pre.len() + post.len()
        })
        .map(|(n, _)| format!("{dir}/{n}"))
        .collect();
    v.sort();
    v
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

/// The state of one program's loading.
struct Run<'l, 'a> {
    loader: &'l ImageLoader<'a>,
    flavor: Flavor,
    objects: Vec<LoadedObject>,
    /// For each loaded object, the names it answers to (glibc's `l_libname` plus soname).
    names: Vec<Vec<String>>,
    rtld: Option<LoadedObject>,
    rtld_index: Option<usize>,
    missing: Vec<Missing>,
    warnings: Vec<String>,
    class: u8,
    machine: u16,
    system_dirs: Vec<String>,
    lib_dst: String,
}

impl<'l, 'a> Run<'l, 'a> {
    fn new(
        loader: &'l ImageLoader<'a>,
        flavor: Flavor,
        main: LoadedObject,
        rtld: LoadedObject,
    ) -> Self {
        let system_dirs = system_dirs(loader.fs, &rtld, main.elf.machine);
        let mut r = Self::new_without_rtld(loader, flavor, main);
        r.lib_dst = if system_dirs.first().is_some_and(|d| d.contains("-linux-")) {
            system_dirs[0].trim_start_matches('/').to_string()
        } else {
            "lib64".to_string()
        };
        r.system_dirs = system_dirs;
        r.rtld = Some(rtld);
        r
    }

    fn new_without_rtld(loader: &'l ImageLoader<'a>, flavor: Flavor, main: LoadedObject) -> Self {
        let (class, machine) = (main.elf.class, main.elf.machine);
        let names = vec![vec![main.name.clone()]];
        Run {
            loader,
            flavor,
            objects: vec![main],
            names,
            rtld: None,
            rtld_index: None,
            missing: Vec::new(),
            warnings: Vec::new(),
            class,
            machine,
            system_dirs: Vec::new(),
            lib_dst: "lib64".into(),
        }
    }

    fn finish(mut self) -> LoadedProgram {
        if let Some(rtld) = self.rtld.take() {
            // Not needed by name: ld.so is still mapped, after everything else.
            self.objects.push(rtld);
        }
        LoadedProgram {
            flavor: self.flavor,
            objects: self.objects,
            missing: self.missing,
            warnings: self.warnings,
        }
    }

    fn load_all(&mut self) {
        // Preloads come right after the program (LD_PRELOAD, then /etc/ld.so.preload for glibc).
        for p in self.loader.preload.clone() {
            self.request(&p, 0);
        }
        let mut i = 0;
        while i < self.objects.len() {
            let needed = self.objects[i].elf.needed.clone();
            for n in needed {
                self.request(&n, i);
            }
            i += 1;
        }
    }

    /// Finds and loads `name` needed by object `by`.
    fn request(&mut self, name: &str, by: usize) {
        match self.flavor {
            Flavor::Musl => self.request_musl(name, by),
            _ => self.request_glibc(name, by),
        }
    }

    fn find_loaded_by_name(&self, name: &str) -> Option<usize> {
        self.names
            .iter()
            .position(|ns| ns.iter().any(|n| n == name))
    }

    fn take_rtld_if(&mut self, matches: impl Fn(&LoadedObject) -> bool) -> Option<usize> {
        if self.rtld.as_ref().is_some_and(&matches) {
            let rtld = self.rtld.take().expect("checked above");
            let mut names = vec![rtld.name.clone()];
            if let Some(s) = &rtld.elf.soname {
                names.push(s.clone());
            }
            self.objects.push(rtld);
            self.names.push(names);
            self.rtld_index = Some(self.objects.len() - 1);
            return Some(self.objects.len() - 1);
        }
        None
    }

    fn request_glibc(&mut self, name: &str, by: usize) {
        if self.find_loaded_by_name(name).is_some() {
            return;
        }
        // The interpreter answers to its soname and its path before it is placed in the list.
        if self
            .take_rtld_if(|r| r.name == name || r.elf.soname.as_deref() == Some(name))
            .is_some()
        {
            return;
        }
        // An already-loaded object whose soname is the name.
        if let Some(i) = self
            .objects
            .iter()
            .position(|o| o.elf.soname.as_deref() == Some(name))
        {
            self.names[i].push(name.to_string());
            return;
        }
        let found = if name.contains('/') {
            self.try_file(name, name.to_string())
        } else {
            self.search_glibc(name, by)
        };
        match found {
            Some((path, node, alternatives)) => self.add(name, path, node, by, alternatives),
            None => {
                if !self.missing.iter().any(|m| m.name == name) {
                    self.missing.push(Missing {
                        name: name.to_string(),
                        needed_by: by,
                    });
                }
            }
        }
    }

    fn add(
        &mut self,
        name: &str,
        path: String,
        node: NodeId,
        by: usize,
        alternatives: Vec<(String, NodeId)>,
    ) {
        // Same file already loaded under another name: reuse it (glibc and musl compare inodes).
        if let Some(i) = self.objects.iter().position(|o| o.node == node) {
            self.names[i].push(name.to_string());
            return;
        }
        if self.rtld.as_ref().is_some_and(|r| r.node == node) {
            self.take_rtld_if(|_| true);
            let i = self.objects.len() - 1;
            self.names[i].push(name.to_string());
            return;
        }
        let Some(elf) = self.loader.catalog.elf(node).cloned() else {
            return;
        };
        let real_path = self
            .loader
            .fs
            .resolve(&path, true)
            .map(|r| r.path)
            .unwrap_or_else(|_| path.clone());
        let mut names = vec![name.to_string()];
        if let Some(s) = &elf.soname {
            names.push(s.clone());
        }
        self.objects.push(LoadedObject {
            name: name.to_string(),
            path,
            real_path,
            node,
            elf,
            needed_by: Some(by),
            is_interpreter: false,
            alternatives,
        });
        self.names.push(names);
    }

    /// The glibc search for a name without a slash.
    fn search_glibc(
        &mut self,
        name: &str,
        by: usize,
    ) -> Option<(String, NodeId, Vec<(String, NodeId)>)> {
        let requester = &self.objects[by];
        let main_has_runpath = self.objects[0].elf.runpath.is_some();
        if requester.elf.runpath.is_none() {
            // DT_RPATH of the requester and its loaders, up to the program.
            let mut cur = Some(by);
            let mut did_main = false;
            while let Some(i) = cur {
                let o = &self.objects[i];
                if let (Some(rpath), None) = (&o.elf.rpath, &o.elf.runpath) {
                    let dirs = self.expand_path_list(rpath, i);
                    if let Some(f) = self.open_path(name, &dirs) {
                        return Some(f);
                    }
                }
                did_main |= i == 0;
                cur = self.objects[i].needed_by.filter(|&p| p != i);
            }
            if !did_main && !main_has_runpath {
                if let Some(rpath) = self.objects[0].elf.rpath.clone() {
                    let dirs = self.expand_path_list(&rpath, 0);
                    if let Some(f) = self.open_path(name, &dirs) {
                        return Some(f);
                    }
                }
            }
        }
        if !self.loader.ld_library_path.is_empty() {
            let joined = self.loader.ld_library_path.join(":");
            let dirs = self.expand_path_list(&joined, 0);
            if let Some(f) = self.open_path(name, &dirs) {
                return Some(f);
            }
        }
        if let Some(runpath) = self.objects[by].elf.runpath.clone() {
            let dirs = self.expand_path_list(&runpath, by);
            if let Some(f) = self.open_path(name, &dirs) {
                return Some(f);
            }
        }
        let nodeflib = self.objects[by].elf.flags_1 & DF_1_NODEFLIB != 0;
        if let Some(cache) = &self.loader.cache {
            let arch = match self.machine {
                machine::X86_64 => ldcache::FLAG_X8664_LIB64,
                machine::AARCH64 => ldcache::FLAG_AARCH64_LIB64,
                _ => 0,
            };
            let prio = |h: &str| {
                X86_64_HWCAPS
                    .iter()
                    .position(|x| *x == h)
                    .map_or(0, |p| (X86_64_HWCAPS.len() - p) as u32)
            };
            if let Some(e) = cache.lookup(name, arch, &prio) {
                let in_system = self
                    .system_dirs
                    .iter()
                    .any(|d| dirname(&e.path) == d.trim_end_matches('/'));
                if !(nodeflib && in_system) {
                    if let Some((path, node, _)) = self.try_file(&e.path, e.path.clone()) {
                        let alternatives = cache
                            .all_for(name, arch)
                            .filter(|a| a.path != e.path)
                            .filter_map(|a| {
                                self.try_file(&a.path, a.path.clone())
                                    .map(|(p, n, _)| (p, n))
                            })
                            .collect();
                        return Some((path, node, alternatives));
                    }
                }
            }
        } else if !self.loader.conf_dirs.is_empty() {
            // No cache in the image: take ld.so.conf's directories as ldconfig would have cached.
            let dirs = self.loader.conf_dirs.clone();
            if let Some(f) = self.open_path(name, &dirs) {
                return Some(f);
            }
        }
        if !nodeflib {
            let dirs = self.system_dirs.clone();
            if let Some(f) = self.open_path(name, &dirs) {
                return Some(f);
            }
        }
        None
    }

    /// Splits a path list and expands `$ORIGIN`, `$LIB` and `$PLATFORM` for object `obj`.
    fn expand_path_list(&self, list: &str, obj: usize) -> Vec<String> {
        let o = &self.objects[obj];
        // The program's origin is where /proc/self/exe points (resolved); a library's is the
        // directory of the path it was opened with.
        let origin = if obj == 0 {
            dirname(&o.real_path).to_string()
        } else {
            dirname(&o.path).to_string()
        };
        let platform = match self.machine {
            machine::AARCH64 => "aarch64",
            machine::X86 => "i686",
            _ => "x86_64",
        };
        list.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| {
                d.replace("${ORIGIN}", &origin)
                    .replace("$ORIGIN", &origin)
                    .replace("${LIB}", &self.lib_dst)
                    .replace("$LIB", &self.lib_dst)
                    .replace("${PLATFORM}", platform)
                    .replace("$PLATFORM", platform)
            })
            .collect()
    }

    /// Tries `dir/glibc-hwcaps/*/name` and `dir/name` for each directory in order.
    fn open_path(
        &self,
        name: &str,
        dirs: &[String],
    ) -> Option<(String, NodeId, Vec<(String, NodeId)>)> {
        for d in dirs {
            let d = d.trim_end_matches('/');
            let d = if d.is_empty() { "/" } else { d };
            let mut candidates: Vec<(String, NodeId)> = Vec::new();
            if self.flavor == Flavor::Glibc && self.machine == machine::X86_64 {
                for h in X86_64_HWCAPS {
                    let p = format!("{}/glibc-hwcaps/{h}/{name}", if d == "/" { "" } else { d });
                    if let Some((p, n, _)) = self.try_file(&p, p.clone()) {
                        candidates.push((p, n));
                    }
                }
            }
            let p = if d == "/" {
                format!("/{name}")
            } else {
                format!("{d}/{name}")
            };
            if let Some((p, n, _)) = self.try_file(&p, p.clone()) {
                candidates.push((p, n));
            }
            if !candidates.is_empty() {
                let (p, n) = candidates.remove(0);
                return Some((p, n, candidates));
            }
        }
        None
    }

    /// A candidate file: it must exist, be ELF, and match the program's class and machine.
    fn try_file(
        &self,
        lookup: &str,
        shown: String,
    ) -> Option<(String, NodeId, Vec<(String, NodeId)>)> {
        let r = self
            .loader
            .fs
            .resolve_at(&self.loader.working_dir, lookup, true)
            .ok()?;
        if !self.loader.fs.node(r.node).is_file() {
            return None;
        }
        let elf = self.loader.catalog.elf(r.node)?;
        if elf.class != self.class
            || elf.machine != self.machine
            || elf.kind == ElfKind::Relocatable
        {
            return None;
        }
        Some((shown, r.node, Vec::new()))
    }

    fn request_musl(&mut self, name: &str, by: usize) {
        // Names that mean the loader (musl's libc) itself.
        let is_self = name.starts_with("lib") && {
            let rest = &name[3..];
            ["c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."]
                .iter()
                .any(|r| rest.starts_with(r))
        } || self.rtld.as_ref().is_some_and(|r| r.name == name)
            || self
                .rtld_index
                .is_some_and(|i| self.objects[i].path == name);
        if is_self {
            if let Some(i) = self.rtld_index {
                if !self.names[i].iter().any(|n| n == name) && name.starts_with("lib") {
                    // musl reports each reserved name once; keep the first.
                }
                return;
            }
            if let Some(i) = self.take_rtld_if(|_| true) {
                self.objects[i].name = name.to_string();
                self.objects[i].needed_by = Some(by);
            }
            return;
        }
        let found = if name.contains('/') {
            self.try_file(name, name.to_string())
        } else {
            if let Some(i) = self
                .objects
                .iter()
                .skip(1)
                .position(|o| !o.name.contains('/') && basename(&o.path) == name)
            {
                let _ = i;
                return;
            }
            self.search_musl(name, by)
        };
        match found {
            Some((path, node, _)) => self.add(name, path, node, by, Vec::new()),
            None => {
                if !self.missing.iter().any(|m| m.name == name) {
                    self.missing.push(Missing {
                        name: name.to_string(),
                        needed_by: by,
                    });
                }
            }
        }
    }

    fn search_musl(
        &self,
        name: &str,
        by: usize,
    ) -> Option<(String, NodeId, Vec<(String, NodeId)>)> {
        let split = |s: &str| -> Vec<String> {
            s.split([':', '\n'])
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect()
        };
        if !self.loader.ld_library_path.is_empty() {
            if let Some(f) = self.open_path(name, &self.loader.ld_library_path) {
                return Some(f);
            }
        }
        let mut cur = Some(by);
        while let Some(i) = cur {
            let o = &self.objects[i];
            if let Some(rp) = o.elf.runpath.as_ref().or(o.elf.rpath.as_ref()) {
                let origin = if i == 0 {
                    dirname(&o.real_path)
                } else {
                    dirname(&o.path)
                };
                let rp = rp.replace("${ORIGIN}", origin).replace("$ORIGIN", origin);
                if let Some(f) = self.open_path(name, &split(&rp)) {
                    return Some(f);
                }
            }
            cur = o.needed_by.filter(|&p| p != i);
        }
        let rtld_path = self
            .rtld
            .as_ref()
            .map(|r| r.name.clone())
            .or_else(|| self.rtld_index.map(|i| self.objects[i].path.clone()));
        let arch = match self.machine {
            machine::AARCH64 => "aarch64",
            machine::X86 => "i386",
            _ => "x86_64",
        };
        // musl reads PREFIX/etc/ld-musl-ARCH.path, PREFIX being the loader's path minus /lib/NAME.
        let prefix = rtld_path
            .as_deref()
            .filter(|p| p.starts_with('/'))
            .map(|p| {
                let parts: Vec<&str> = p.rsplitn(3, '/').collect();
                if parts.len() == 3 {
                    parts[2].to_string()
                } else {
                    String::new()
                }
            })
            .unwrap_or_default();
        let conf = format!("{prefix}/etc/ld-musl-{arch}.path");
        let sys = match self.loader.fs.read_path(&conf) {
            Ok(bytes) => split(&String::from_utf8_lossy(&bytes)),
            Err(_) => split("/lib:/usr/local/lib:/usr/lib"),
        };
        self.open_path(name, &sys)
    }
}

/// The default directories of a glibc ld.so, read from its own bytes (the `SYSTEM_DIRS` string
/// differs between multiarch distributions and lib64 ones).
fn system_dirs(fs: &ImageFs, rtld: &LoadedObject, machine_id: u16) -> Vec<String> {
    let triplet = match machine_id {
        machine::AARCH64 => "aarch64-linux-gnu",
        machine::X86 => "i386-linux-gnu",
        _ => "x86_64-linux-gnu",
    };
    let bytes = fs.read(rtld.node, &rtld.path).ok();
    let has = |needle: &str| {
        bytes
            .as_ref()
            .is_some_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
    };
    let multiarch = format!("/lib/{triplet}/\0/usr/lib/{triplet}/\0");
    if has(&multiarch) {
        return vec![
            format!("/lib/{triplet}"),
            format!("/usr/lib/{triplet}"),
            "/lib".into(),
            "/usr/lib".into(),
        ];
    }
    if has("/lib64/\0/usr/lib64/\0") || (machine_id != machine::X86 && has("/lib64/\0")) {
        return vec!["/lib64".into(), "/usr/lib64".into()];
    }
    vec!["/lib".into(), "/usr/lib".into()]
}
