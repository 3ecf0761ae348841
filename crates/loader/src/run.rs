//! One program's loading, step by step: glibc's `_dl_map_object` / `_dl_map_object_deps` and
//! musl's `load_library` / `load_deps`.

use std::collections::HashSet;

use dockergate_elf::{machine, DF_1_NODEFLIB, DF_1_PIE};
use dockergate_fs::{FsError, NodeId, NodeKind};

use crate::{
    basename, dirname, ldcache, Flavor, ImageLoader, LoadedObject, LoadedProgram, Missing,
    TraceEntry,
};

/// glibc-hwcaps subdirectories for x86-64, best first (a CPU that supports them all).
const X86_64_HWCAPS: [&str; 3] = ["x86-64-v4", "x86-64-v3", "x86-64-v2"];

/// musl's `NAME_MAX` and its search buffer (`char buf[2*NAME_MAX+2]`).
const MUSL_NAME_MAX: usize = 255;
const MUSL_PATH_BUF: usize = 2 * MUSL_NAME_MAX + 2;

/// What trying one candidate file gave.
enum Open {
    /// A usable object.
    Ok(NodeId),
    /// Nothing there (ENOENT, ENOTDIR), or glibc skipped it (another class or machine).
    Skip,
    /// The lookup itself failed otherwise (ELOOP): glibc gives up this search list, musl the
    /// whole search.
    Stop,
    /// Something is there that cannot be loaded: glibc fails the whole program, musl this
    /// dependency.
    Bad(String),
}

/// The result of a whole search.
enum Found {
    Yes {
        path: String,
        node: NodeId,
        alternatives: Vec<(String, NodeId)>,
    },
    No,
    Fatal(String),
}

/// The state of one program's loading.
pub(crate) struct Run<'l, 'a> {
    loader: &'l ImageLoader<'a>,
    flavor: Flavor,
    objects: Vec<LoadedObject>,
    /// glibc: the names each object answers to besides its path and soname (`l_libname`).
    names: Vec<Vec<String>>,
    /// musl: the short name of each object (the name a search found it under), and the object
    /// whose request loaded it (`needed_by`; `None` for preloads and the program).
    shortnames: Vec<Option<String>>,
    chain: Vec<Option<usize>>,
    /// The interpreter until something names it.
    rtld: Option<LoadedObject>,
    missing: Vec<Missing>,
    warnings: Vec<String>,
    trace: Vec<TraceEntry>,
    fatal: Option<String>,
    /// musl: reserved families already printed by ldd.
    reported: u32,
    class: u8,
    little_endian: bool,
    machine: u16,
    system_dirs: Vec<String>,
    /// What `$LIB` expands to.
    lib_dst: String,
    /// Subdirectories glibc tries in each search directory, best first, ending with "".
    subdirs: Vec<String>,
    /// musl: the system path, read once.
    musl_sys_path: Option<String>,
}

impl<'l, 'a> Run<'l, 'a> {
    pub(crate) fn new(
        loader: &'l ImageLoader<'a>,
        flavor: Flavor,
        main: LoadedObject,
        rtld: Option<LoadedObject>,
    ) -> Self {
        let (class, machine, little_endian) =
            (main.elf.class, main.elf.machine, main.elf.little_endian);
        let system_dirs = match &rtld {
            Some(r) if flavor == Flavor::Glibc => system_dirs(loader, r, machine),
            _ => Vec::new(),
        };
        let lib_dst = if system_dirs.first().is_some_and(|d| d.contains("-linux-")) {
            system_dirs[0].trim_start_matches('/').to_string()
        } else if class == 64 && machine != machine::X86 {
            "lib64".to_string()
        } else {
            "lib".to_string()
        };
        let subdirs = if flavor == Flavor::Glibc {
            glibc_subdirs(machine)
        } else {
            vec![String::new()]
        };
        Run {
            loader,
            flavor,
            names: vec![Vec::new()],
            shortnames: vec![None],
            chain: vec![None],
            objects: vec![main],
            rtld,
            missing: Vec::new(),
            warnings: Vec::new(),
            trace: Vec::new(),
            fatal: None,
            reported: 0,
            class,
            little_endian,
            machine,
            system_dirs,
            lib_dst,
            subdirs,
            musl_sys_path: None,
        }
    }

    pub(crate) fn finish(mut self) -> LoadedProgram {
        if let Some(rtld) = self.rtld.take() {
            // Not named by any DT_NEEDED: ld.so is still mapped, after everything else, but it
            // is not in the global scope and ldd does not list it.
            self.objects.push(rtld);
        }
        LoadedProgram {
            flavor: self.flavor,
            objects: self.objects,
            missing: self.missing,
            warnings: self.warnings,
            trace: self.trace,
            fatal: self.fatal,
        }
    }

    pub(crate) fn load_all(&mut self) {
        for p in self.preloads() {
            match self.flavor {
                Flavor::Musl => {
                    self.request_musl(&p, None);
                }
                _ => self.request_glibc(&p, 0, true),
            }
        }
        let mut i = 0;
        while i < self.objects.len() && self.fatal.is_none() {
            let needed = self.objects[i].elf.needed.clone();
            for n in needed {
                match self.flavor {
                    Flavor::Musl => {
                        self.request_musl(&n, Some(i));
                    }
                    _ => self.request_glibc(&n, i, false),
                }
                if self.fatal.is_some() {
                    break;
                }
            }
            i += 1;
        }
    }

    /// The preload names, in order.
    fn preloads(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.flavor {
            Flavor::Musl => {
                // load_preload: separated by whitespace and ':'.
                if let Some(v) = &self.loader.ld_preload {
                    out.extend(
                        v.split(|c: char| c.is_ascii_whitespace() || c == ':')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                    );
                }
            }
            _ => {
                // handle_preload_list: separated by ' ' and ':' only.
                if let Some(v) = &self.loader.ld_preload {
                    out.extend(
                        v.split([' ', ':'])
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                    );
                }
                // /etc/ld.so.preload: '#' comments to the end of the line, then ": \t\n".
                if let Some(bytes) = &self.loader.preload_file {
                    let text = String::from_utf8_lossy(bytes);
                    for line in text.split('\n') {
                        let line = line.split('#').next().unwrap_or("");
                        out.extend(
                            line.split([':', ' ', '\t'])
                                .filter(|s| !s.is_empty())
                                .map(str::to_string),
                        );
                    }
                }
            }
        }
        out
    }

    // ----- glibc -----

    /// `_dl_map_object` for a DT_NEEDED name of object `by` (or a preload of the program).
    fn request_glibc(&mut self, raw: &str, by: usize, preload: bool) {
        // dl-deps.c expands the dynamic string tokens of DT_NEEDED names before anything else;
        // _dl_map_object does it again for names with a slash (preloads only get that one).
        let name = if !preload || raw.contains('/') {
            match self.dst_substitute(raw, by) {
                Some(n) if !n.is_empty() => n,
                _ => {
                    let msg = format!("{raw}: empty dynamic string token substitution");
                    if preload {
                        self.warnings.push(format!("preload {raw} ignored: {msg}"));
                    } else {
                        self.fail(msg, raw, by);
                    }
                    return;
                }
            }
        } else {
            raw.to_string()
        };
        if self.find_loaded_glibc(&name) {
            return;
        }
        let found = if name.contains('/') {
            match self.open_glibc(&name) {
                Open::Ok(node) => Found::Yes {
                    path: name.clone(),
                    node,
                    alternatives: Vec::new(),
                },
                Open::Skip | Open::Stop => Found::No,
                Open::Bad(e) => Found::Fatal(e),
            }
        } else {
            self.search_glibc(&name, by)
        };
        match found {
            Found::Yes {
                path,
                node,
                alternatives,
            } => {
                if let Err(e) = self.add_glibc(&name, path, node, by, alternatives) {
                    if preload {
                        self.warnings.push(format!("preload {name} ignored: {e}"));
                    } else {
                        self.fail(e, &name, by);
                    }
                }
            }
            Found::No => {
                if preload {
                    // rtld.c do_preload: "cannot be preloaded (cannot open shared object
                    // file): ignored."
                    self.warnings.push(format!(
                        "object '{name}' from LD_PRELOAD or /etc/ld.so.preload cannot be preloaded: ignored"
                    ));
                } else {
                    // Tracing: a faked object where the library would be, searched again by the
                    // next object that needs it.
                    self.trace.push(TraceEntry::NotFound {
                        name: name.clone(),
                        needed_by: Some(by),
                    });
                    self.missing.push(Missing {
                        name,
                        needed_by: by,
                    });
                }
            }
            Found::Fatal(e) => {
                if preload {
                    self.warnings.push(format!("preload {name} ignored: {e}"));
                } else {
                    self.fail(e, &name, by);
                }
            }
        }
    }

    fn fail(&mut self, msg: String, name: &str, by: usize) {
        self.missing.push(Missing {
            name: name.to_string(),
            needed_by: by,
        });
        if self.fatal.is_none() {
            self.fatal = Some(msg);
        }
    }

    /// An object already loaded under `name` (a name it was requested by, its path, or its
    /// soname); the interpreter answers too, and takes its place in the list then.
    ///
    /// The order is glibc's namespace list while it loads: the program, ld.so (linked right
    /// after it at start-up), then the other objects in load order.
    fn find_loaded_glibc(&mut self, name: &str) -> bool {
        let matches = |i: usize, o: &LoadedObject| {
            self.names[i].iter().any(|n| n == name)
                || (i > 0 && o.path == name)
                || o.elf.soname.as_deref() == Some(name)
        };
        if matches(0, &self.objects[0]) {
            return true;
        }
        let rtld_matches = |r: &LoadedObject| {
            r.name == name || r.path == name || r.elf.soname.as_deref() == Some(name)
        };
        if self.rtld.as_ref().is_some_and(rtld_matches) {
            self.place_rtld();
            return true;
        }
        let placed = self.objects.iter().position(|o| o.is_interpreter);
        if let Some(i) = placed {
            if matches(i, &self.objects[i]) {
                return true;
            }
        }
        (1..self.objects.len())
            .filter(|&i| Some(i) != placed)
            .any(|i| matches(i, &self.objects[i]))
    }

    /// Puts the interpreter into the list (global scope) at the current position; glibc's ldd
    /// lists it right after the object before it in that scope.
    fn place_rtld(&mut self) -> Option<usize> {
        let rtld = self.rtld.take()?;
        let names = vec![rtld.name.clone()];
        self.objects.push(rtld);
        self.names.push(names);
        self.shortnames.push(None);
        self.chain.push(None);
        let i = self.objects.len() - 1;
        match self.flavor {
            Flavor::Musl => {}
            _ => {
                let pos = if i == 1 {
                    0
                } else {
                    self.trace
                        .iter()
                        .position(|t| *t == TraceEntry::Object(i - 1))
                        .map_or(self.trace.len(), |p| p + 1)
                };
                self.trace.insert(pos, TraceEntry::Object(i));
            }
        }
        Some(i)
    }

    fn add_glibc(
        &mut self,
        name: &str,
        path: String,
        node: NodeId,
        by: usize,
        alternatives: Vec<(String, NodeId)>,
    ) -> Result<(), String> {
        // The same file already loaded under another name (glibc compares dev/inode; it does
        // not know ld.so's own, which a path other than PT_INTERP maps a second time).
        if let Some(i) = self
            .objects
            .iter()
            .position(|o| o.node == node && !o.is_interpreter)
        {
            self.names[i].push(name.to_string());
            return Ok(());
        }
        let elf = self
            .loader
            .catalog
            .elf(node)
            .cloned()
            .ok_or_else(|| format!("{path}: cannot parse the ELF file"))?;
        // _dl_map_object_from_fd refuses executables.
        if elf.etype == 2 {
            return Err(format!("{path}: cannot dynamically load executable"));
        }
        if elf.flags_1 & DF_1_PIE != 0 {
            return Err(format!(
                "{path}: cannot dynamically load position-independent executable"
            ));
        }
        let real_path = self.real_path(&path);
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
        self.names.push(vec![name.to_string()]);
        self.shortnames.push(None);
        self.chain.push(Some(by));
        self.trace.push(TraceEntry::Object(self.objects.len() - 1));
        Ok(())
    }

    fn real_path(&self, path: &str) -> String {
        self.loader
            .fs
            .resolve_at(&self.loader.working_dir, path, true)
            .map(|r| r.path)
            .unwrap_or_else(|_| path.to_string())
    }

    /// The glibc search for a name without a slash.
    fn search_glibc(&mut self, name: &str, by: usize) -> Found {
        if self.objects[by].elf.runpath.is_none() {
            // DT_RPATH of the requester and its loaders, up to the program (an object with
            // DT_RUNPATH has no DT_RPATH for glibc).
            let mut cur = Some(by);
            let mut did_main = false;
            let mut seen = HashSet::new();
            while let Some(i) = cur {
                if !seen.insert(i) {
                    break;
                }
                let o = &self.objects[i];
                if let (Some(rpath), None) = (o.elf.rpath.clone(), &o.elf.runpath) {
                    let dirs = self.expand_path_list(&rpath, i, &[':']);
                    match self.open_path_glibc(name, &dirs) {
                        Found::No => {}
                        f => return f,
                    }
                    did_main |= i == 0;
                }
                cur = self.objects[i].needed_by.filter(|&p| p != i);
            }
            let main = &self.objects[0].elf;
            if !did_main && main.runpath.is_none() {
                if let Some(rpath) = main.rpath.clone() {
                    let dirs = self.expand_path_list(&rpath, 0, &[':']);
                    match self.open_path_glibc(name, &dirs) {
                        Found::No => {}
                        f => return f,
                    }
                }
            }
        }
        if let Some(llp) = self.loader.ld_library_path.clone() {
            let dirs = self.expand_path_list(&llp, 0, &[':', ';']);
            match self.open_path_glibc(name, &dirs) {
                Found::No => {}
                f => return f,
            }
        }
        if let Some(runpath) = self.objects[by].elf.runpath.clone() {
            let dirs = self.expand_path_list(&runpath, by, &[':']);
            match self.open_path_glibc(name, &dirs) {
                Found::No => {}
                f => return f,
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
                // Under DF_1_NODEFLIB, entries under a default directory are not used.
                let in_system = self
                    .system_dirs
                    .iter()
                    .any(|d| e.path.starts_with(&format!("{}/", d.trim_end_matches('/'))));
                if !(nodeflib && in_system) {
                    match self.open_glibc(&e.path) {
                        Open::Ok(node) => {
                            let alternatives = cache
                                .all_for(name, arch)
                                .filter(|a| a.path != e.path)
                                .filter_map(|a| match self.open_glibc(&a.path) {
                                    Open::Ok(n) => Some((a.path.clone(), n)),
                                    _ => None,
                                })
                                .collect();
                            return Found::Yes {
                                path: e.path.clone(),
                                node,
                                alternatives,
                            };
                        }
                        Open::Bad(err) => return Found::Fatal(err),
                        Open::Skip | Open::Stop => {}
                    }
                }
            }
        }
        if !nodeflib {
            let dirs = self.system_dirs.clone();
            return self.open_path_glibc(name, &dirs);
        }
        Found::No
    }

    /// `open_path`: each directory with its hwcaps subdirectories first. `""` is the working
    /// directory.
    fn open_path_glibc(&self, name: &str, dirs: &[String]) -> Found {
        for d in dirs {
            let mut first: Option<(String, NodeId)> = None;
            let mut alternatives = Vec::new();
            let mut last_stop = false;
            for sub in &self.subdirs {
                let mut p = d.clone();
                if !p.is_empty() && !p.ends_with('/') {
                    p.push('/');
                }
                if !sub.is_empty() {
                    p.push_str(sub);
                    p.push('/');
                }
                p.push_str(name);
                match self.open_glibc(&p) {
                    Open::Ok(n) => {
                        if first.is_none() {
                            first = Some((p, n));
                        } else {
                            alternatives.push((p, n));
                        }
                        last_stop = false;
                    }
                    // Only what comes before the chosen file matters.
                    Open::Bad(e) if first.is_none() => return Found::Fatal(e),
                    Open::Bad(_) => {}
                    Open::Stop => last_stop = first.is_none(),
                    Open::Skip => last_stop = false,
                }
            }
            if let Some((path, node)) = first {
                return Found::Yes {
                    path,
                    node,
                    alternatives,
                };
            }
            if last_stop {
                // "The file exists and is readable, but something went wrong": this list ends.
                return Found::No;
            }
        }
        Found::No
    }

    /// `open_verify`: the checks glibc makes on a file's ELF header before it maps it.
    fn open_glibc(&self, path: &str) -> Open {
        let fs = self.loader.fs;
        let r = match fs.resolve_at(&self.loader.working_dir, path, true) {
            Ok(r) => r,
            Err(FsError::SymlinkLoop { .. }) => return Open::Stop,
            Err(_) => return Open::Skip,
        };
        match &fs.node(r.node).kind {
            NodeKind::File { .. } => {}
            NodeKind::Dir { .. } => {
                // ld.so's own strerror knows no messages: "Error 21" is EISDIR.
                return Open::Bad(format!("{path}: cannot read file data: Error 21"));
            }
            _ => return Open::Bad(format!("{path}: cannot read file data")),
        }
        let head = match fs.read_prefix(r.node, 64, path) {
            Ok(h) => h,
            Err(FsError::NotRetained { .. }) => {
                return Open::Bad(format!("{path}: invalid ELF header"))
            }
            Err(e) => return Open::Bad(format!("{path}: cannot read file data: {e}")),
        };
        // ld.so reads a whole ElfW(Ehdr) of its own class first.
        let ehdr_size = if self.class == 64 { 64 } else { 52 };
        if head.len() < ehdr_size {
            return Open::Bad(format!("{path}: file too short"));
        }
        if !head.starts_with(b"\x7fELF") {
            return Open::Bad(format!("{path}: invalid ELF header"));
        }
        let want_class = if self.class == 64 { 2 } else { 1 };
        if head[4] != want_class {
            // Another class: skipped (found_other_class), the search goes on.
            return Open::Skip;
        }
        let want_data = if self.little_endian { 1 } else { 2 };
        if head[5] != want_data {
            return Open::Bad(format!("{path}: ELF file data encoding wrong"));
        }
        if head[6] != 1 {
            return Open::Bad(format!(
                "{path}: ELF file version ident does not match current one"
            ));
        }
        // ELFOSABI_SYSV or ELFOSABI_GNU; ABI version 0 (GNU: below LIBC_ABI_MAX).
        let (osabi, abiver) = (head[7], head[8]);
        if osabi != 0 && osabi != 3 {
            return Open::Bad(format!("{path}: ELF file OS ABI invalid"));
        }
        if abiver != 0 && !(osabi == 3 && abiver < 4) {
            return Open::Bad(format!("{path}: ELF file ABI version invalid"));
        }
        if head[9..16].iter().any(|&b| b != 0) {
            return Open::Bad(format!("{path}: nonzero padding in e_ident"));
        }
        let u16_at = |o: usize| {
            let b = [head[o], head[o + 1]];
            if self.little_endian {
                u16::from_le_bytes(b)
            } else {
                u16::from_be_bytes(b)
            }
        };
        let u32_at = |o: usize| {
            let b = [head[o], head[o + 1], head[o + 2], head[o + 3]];
            if self.little_endian {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        };
        if u32_at(20) != 1 {
            return Open::Bad(format!(
                "{path}: ELF file version does not match current one"
            ));
        }
        if u16_at(18) != self.machine {
            return Open::Skip;
        }
        let etype = u16_at(16);
        if etype != 2 && etype != 3 {
            return Open::Bad(format!("{path}: only ET_DYN and ET_EXEC can be loaded"));
        }
        let phentsize_at = if self.class == 64 { 54 } else { 42 };
        let want_phent = if self.class == 64 { 56 } else { 32 };
        if u16_at(phentsize_at) != want_phent {
            return Open::Bad(format!(
                "{path}: ELF file's phentsize not the expected size"
            ));
        }
        Open::Ok(r.node)
    }

    /// Splits a path list and expands its dynamic string tokens for object `obj`; components
    /// whose expansion fails are dropped, an empty component is the working directory.
    fn expand_path_list(&self, list: &str, obj: usize, seps: &[char]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in list.split(seps) {
            let d = if c.is_empty() {
                String::new()
            } else {
                let Some(mut d) = self.dst_substitute(c, obj) else {
                    continue;
                };
                if d.is_empty() {
                    continue;
                }
                while d.len() > 1 && d.ends_with('/') {
                    d.pop();
                }
                d
            };
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    /// `$ORIGIN` of an object: the program's is the directory of its resolved path, a library's
    /// the directory of the path it was opened by (made absolute).
    fn origin(&self, obj: usize) -> String {
        let o = &self.objects[obj];
        if obj == 0 {
            return dirname(&o.real_path).to_string();
        }
        let p = if o.path.starts_with('/') {
            o.path.clone()
        } else {
            format!(
                "{}/{}",
                self.loader.working_dir.trim_end_matches('/'),
                o.path
            )
        };
        dirname(&p).to_string()
    }

    /// glibc's `_dl_dst_substitute`: `None` when a known token has no value.
    fn dst_substitute(&self, s: &str, obj: usize) -> Option<String> {
        if !s.contains('$') {
            return Some(s.to_string());
        }
        // AT_PLATFORM, or what glibc's cpu-features put there: "haswell" on the x86-64 CPUs
        // the hwcaps subdirectories above assume (it is "x86_64" on others).
        let platform = match self.machine {
            machine::AARCH64 => "aarch64",
            machine::X86 => "i686",
            _ => "haswell",
        };
        let mut out = String::new();
        let mut rest = s;
        while let Some(p) = rest.find('$') {
            out.push_str(&rest[..p]);
            let after = &rest[p + 1..];
            if let Some(len) = is_dst(after, "ORIGIN") {
                out.push_str(&self.origin(obj));
                rest = &after[len..];
            } else if let Some(len) = is_dst(after, "PLATFORM") {
                out.push_str(platform);
                rest = &after[len..];
            } else if let Some(len) = is_dst(after, "LIB") {
                out.push_str(&self.lib_dst);
                rest = &after[len..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        Some(out)
    }

    // ----- musl -----

    /// `load_library(name, needed_by)`; the index of the object it gives.
    fn request_musl(&mut self, name: &str, by: Option<usize>) -> Option<usize> {
        let r = self.load_library_musl(name, by);
        if r.is_none() {
            if let Some(b) = by {
                // load_direct_deps: "Error loading shared library %s: %m (needed by %s)".
                self.trace.push(TraceEntry::NotFound {
                    name: name.to_string(),
                    needed_by: Some(b),
                });
                self.missing.push(Missing {
                    name: name.to_string(),
                    needed_by: b,
                });
            } else {
                // load_preload ignores what it cannot load.
                self.warnings
                    .push(format!("preload {name} not loaded (musl ignores it)"));
            }
        }
        r
    }

    fn load_library_musl(&mut self, name: &str, by: Option<usize>) -> Option<usize> {
        if name.is_empty() {
            return None;
        }
        // Reserved names: the implementation itself.
        if let Some(family) = musl_reserved(name) {
            if self.reported & (1 << family) == 0 {
                self.reported |= 1 << family;
                self.trace.push(TraceEntry::Reserved {
                    name: name.to_string(),
                });
            }
            return self.musl_self();
        }
        if self.rtld_path().as_deref() == Some(name) {
            return self.musl_self();
        }
        let searched = !name.contains('/');
        let (path, opened) = if !searched {
            (name.to_string(), self.open_musl(name))
        } else {
            if let Some(i) =
                (1..self.objects.len()).find(|&i| self.shortnames[i].as_deref() == Some(name))
            {
                return Some(i);
            }
            if name.len() > MUSL_NAME_MAX {
                return None;
            }
            self.search_musl(name, by)?
        };
        let node = match opened {
            Open::Ok(n) => n,
            _ => return None,
        };
        // Same file already loaded (dev/inode), not counting the program itself.
        if let Some(i) = (1..self.objects.len()).find(|&i| self.objects[i].node == node) {
            if self.shortnames[i].is_none() && searched && !self.objects[i].is_interpreter {
                self.shortnames[i] = Some(basename(&path).to_string());
            }
            return Some(i);
        }
        // map_library: an ELF object of our class, ET_DYN or ET_EXEC.
        let elf = self.loader.catalog.elf(node).cloned()?;
        if elf.class != self.class || !matches!(elf.etype, 2 | 3) {
            return None;
        }
        // A libc reached by path is replaced by the loader itself.
        let defines = |s: &str| elf.exports().any(|(_, d)| d.name == s);
        if defines("__libc_start_main") && defines("stdin") {
            return self.load_library_musl("libc.so", by);
        }
        let real_path = self.real_path(&path);
        self.objects.push(LoadedObject {
            name: name.to_string(),
            path: path.clone(),
            real_path,
            node,
            elf,
            needed_by: Some(by.unwrap_or(0)),
            is_interpreter: false,
            alternatives: Vec::new(),
        });
        self.names.push(vec![name.to_string()]);
        self.shortnames
            .push(searched.then(|| basename(&path).to_string()));
        self.chain.push(by);
        let i = self.objects.len() - 1;
        self.trace.push(TraceEntry::Object(i));
        Some(i)
    }

    /// The loader (musl's libc), added to the list when first named.
    fn musl_self(&mut self) -> Option<usize> {
        if let Some(i) = self.objects.iter().position(|o| o.is_interpreter) {
            return Some(i);
        }
        self.place_rtld()
    }

    /// The loader's name as musl knows it: the program's PT_INTERP.
    fn rtld_path(&self) -> Option<String> {
        self.rtld.as_ref().map(|r| r.path.clone()).or_else(|| {
            self.objects
                .iter()
                .find(|o| o.is_interpreter)
                .map(|o| o.path.clone())
        })
    }

    /// `open()` as musl's search sees it: anything that exists is taken.
    fn open_musl(&self, path: &str) -> Open {
        match self
            .loader
            .fs
            .resolve_at(&self.loader.working_dir, path, true)
        {
            Ok(r) => Open::Ok(r.node),
            Err(FsError::NotFound { .. }) | Err(FsError::NotADirectory { .. }) => Open::Skip,
            Err(_) => Open::Stop,
        }
    }

    /// LD_LIBRARY_PATH, the RPATH/RUNPATH chain, the system path: `(path, what open gave)`, or
    /// `None` when nothing was found or the search was cut short.
    fn search_musl(&mut self, name: &str, by: Option<usize>) -> Option<(String, Open)> {
        if let Some(llp) = self.loader.ld_library_path.clone() {
            match self.path_open_musl(name, &llp) {
                Some(Ok(f)) => return Some(f),
                Some(Err(())) => return None,
                None => {}
            }
        }
        let mut cur = by;
        let mut seen = HashSet::new();
        while let Some(i) = cur {
            if !seen.insert(i) {
                break;
            }
            if let Some(rpath) = self.musl_rpath(i) {
                match self.path_open_musl(name, &rpath) {
                    Some(Ok(f)) => return Some(f),
                    Some(Err(())) => return None,
                    None => {}
                }
            }
            cur = self.chain[i];
        }
        let sys = self.musl_sys_path();
        match self.path_open_musl(name, &sys) {
            Some(Ok(f)) => Some(f),
            _ => None,
        }
    }

    /// `path_open`: `Some(Ok)` for the first entry that exists, `Some(Err)` when the search must
    /// stop, `None` when nothing is there.
    fn path_open_musl(&self, name: &str, list: &str) -> Option<Result<(String, Open), ()>> {
        for d in list.split([':', '\n']).filter(|d| !d.is_empty()) {
            let p = format!("{d}/{name}");
            if p.len() >= MUSL_PATH_BUF {
                continue;
            }
            match self.open_musl(&p) {
                Open::Skip => continue,
                Open::Ok(n) => return Some(Ok((p, Open::Ok(n)))),
                _ => return Some(Err(())),
            }
        }
        None
    }

    /// `fixup_rpath`: the object's RUNPATH (or RPATH) with `$ORIGIN` replaced, or `None` when it
    /// has none or holds another `$` token.
    fn musl_rpath(&self, obj: usize) -> Option<String> {
        let e = &self.objects[obj].elf;
        let orig = e.runpath.as_ref().or(e.rpath.as_ref())?;
        if !orig.contains('$') {
            return Some(orig.clone());
        }
        let mut rest = orig.as_str();
        while let Some(p) = rest.find('$') {
            let t = &rest[p..];
            if !t.starts_with("$ORIGIN") && !t.starts_with("${ORIGIN}") {
                return None;
            }
            rest = &t[1..];
        }
        let origin = if obj == 0 {
            dirname(&self.objects[0].real_path).to_string()
        } else {
            let p = &self.objects[obj].path;
            match p.rfind('/') {
                Some(i) => p[..i].to_string(),
                None => ".".to_string(),
            }
        };
        let mut out = String::new();
        let mut rest = orig.as_str();
        while let Some(p) = rest.find('$') {
            out.push_str(&rest[..p]);
            out.push_str(&origin);
            let skip = if rest[p..].starts_with("${") { 9 } else { 7 };
            rest = &rest[p + skip..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// `PREFIX/etc/ld-musl-ARCH.path`, PREFIX being the loader's path up to its second-to-last
    /// slash; `/lib:/usr/local/lib:/usr/lib` when the file does not exist.
    fn musl_sys_path(&mut self) -> String {
        if let Some(s) = &self.musl_sys_path {
            return s.clone();
        }
        let ldso = self.rtld_path().unwrap_or_default();
        let prefix = if ldso.starts_with('/') {
            let slashes: Vec<usize> = ldso.match_indices('/').map(|(i, _)| i).collect();
            let z = if slashes.len() >= 2 {
                slashes[slashes.len() - 2]
            } else {
                0
            };
            ldso[..z].to_string()
        } else {
            String::new()
        };
        let arch = match self.machine {
            machine::AARCH64 => "aarch64",
            machine::X86 => "i386",
            machine::ARM => "armhf",
            machine::RISCV => "riscv64",
            machine::PPC64 => "powerpc64le",
            machine::S390 => "s390x",
            _ => "x86_64",
        };
        let conf = format!("{prefix}/etc/ld-musl-{arch}.path");
        let fs = self.loader.fs;
        let sys = match fs.resolve(&conf, true) {
            Ok(r) => match fs.read(r.node, &conf) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                // It exists but cannot be read (a directory): an empty path.
                Err(_) => String::new(),
            },
            Err(FsError::NotFound { .. }) => "/lib:/usr/local/lib:/usr/lib".to_string(),
            Err(_) => String::new(),
        };
        self.musl_sys_path = Some(sys.clone());
        sys
    }
}

/// The family index of a reserved musl name: `lib` followed by one of `c.`, `pthread.`, `rt.`,
/// `m.`, `dl.`, `util.`, `xnet.`.
fn musl_reserved(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("lib")?;
    // musl's mask is 1 << (offset in "c.pthread.rt.m.dl.util.xnet."); any distinct bit will do.
    ["c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."]
        .iter()
        .position(|r| rest.starts_with(r))
        .map(|p| p as u32)
}

/// glibc's `is_dst`: the length of `NAME` or `{NAME}` at the start of `input` (after the `$`),
/// when it is not followed by more identifier characters.
fn is_dst(input: &str, name: &str) -> Option<usize> {
    let (curly, body) = match input.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, input),
    };
    let rest = body.strip_prefix(name)?;
    if curly {
        rest.starts_with('}').then_some(name.len() + 2)
    } else {
        let next = rest.as_bytes().first().copied().unwrap_or(0);
        (!(next.is_ascii_alphanumeric() || next == b'_')).then_some(name.len())
    }
}

/// The subdirectories glibc 2.36 tries in every search directory, best first, ending with the
/// directory itself: glibc-hwcaps, then the legacy hwcaps combinations (`tls`, the platform,
/// `avx512_1`, `x86_64`), for a CPU that has them all.
fn glibc_subdirs(machine_id: u16) -> Vec<String> {
    let mut out = Vec::new();
    if machine_id == machine::X86_64 {
        out.extend(X86_64_HWCAPS.iter().map(|h| format!("glibc-hwcaps/{h}")));
        let parts = ["tls", "haswell", "avx512_1", "x86_64"];
        for mask in (1u32..16).rev() {
            let v: Vec<&str> = (0..4)
                .filter(|b| mask & (8 >> b) != 0)
                .map(|b| parts[b])
                .collect();
            out.push(v.join("/"));
        }
    } else {
        out.push("tls".to_string());
    }
    out.push(String::new());
    out
}

/// The default directories of a glibc ld.so, read from its own bytes (the `SYSTEM_DIRS` string
/// differs between multiarch distributions and lib64 ones).
fn system_dirs(loader: &ImageLoader<'_>, rtld: &LoadedObject, machine_id: u16) -> Vec<String> {
    let key = (rtld.node, machine_id);
    if let Some(d) = crate::lock(&loader.system_dirs).get(&key) {
        return d.clone();
    }
    let d = system_dirs_uncached(loader, rtld, machine_id);
    crate::lock(&loader.system_dirs).insert(key, d.clone());
    d
}

fn system_dirs_uncached(
    loader: &ImageLoader<'_>,
    rtld: &LoadedObject,
    machine_id: u16,
) -> Vec<String> {
    let triplet = match machine_id {
        machine::AARCH64 => "aarch64-linux-gnu",
        machine::X86 => "i386-linux-gnu",
        _ => "x86_64-linux-gnu",
    };
    let bytes = loader.fs.read(rtld.node, &rtld.path).ok();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dst_tokens_are_whole_identifiers() {
        assert_eq!(is_dst("ORIGIN/x", "ORIGIN"), Some(6));
        assert_eq!(is_dst("{ORIGIN}x", "ORIGIN"), Some(8));
        assert_eq!(is_dst("ORIGINAL", "ORIGIN"), None);
        assert_eq!(is_dst("ORIGIN_", "ORIGIN"), None);
        assert_eq!(is_dst("{ORIGIN", "ORIGIN"), None);
        assert_eq!(is_dst("LIB", "LIB"), Some(3));
        assert_eq!(is_dst("LIBX", "LIB"), None);
    }

    #[test]
    fn musl_reserved_families() {
        assert_eq!(musl_reserved("libc.so"), Some(0));
        assert_eq!(musl_reserved("libc.musl-x86_64.so.1"), Some(0));
        assert_eq!(musl_reserved("libpthread.so.0"), Some(1));
        assert_eq!(musl_reserved("libm.so.6"), Some(3));
        assert_eq!(musl_reserved("libcrypto.so.3"), None);
        assert_eq!(musl_reserved("libmagic.so.1"), None);
        assert_eq!(musl_reserved("libc"), None);
    }

    #[test]
    fn legacy_hwcaps_order_matches_glibc_2_36() {
        let s = glibc_subdirs(machine::X86_64);
        assert_eq!(s[0], "glibc-hwcaps/x86-64-v4");
        assert_eq!(s[3], "tls/haswell/avx512_1/x86_64");
        assert_eq!(s[4], "tls/haswell/avx512_1");
        assert_eq!(s[10], "tls");
        assert_eq!(s[17], "x86_64");
        assert_eq!(s.last().unwrap(), "");
        assert_eq!(s.len(), 3 + 15 + 1);
    }
}
