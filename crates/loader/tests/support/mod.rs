//! Test support shared by the loader's tests and the CLI's `loader_*` tests: small root
//! filesystems made of ELF objects compiled with the system's gcc at test time, read into an
//! in-memory [`ImageFs`] for the model, and run for real (chroot + the host's glibc) as the oracle.
//!
//! Every tree holds the host's `ld-linux-x86-64.so.2` and `libc.so.6` in `/lib/x86_64-linux-gnu`
//! (Debian's layout, `/lib64/ld-linux-x86-64.so.2` a link to it). Objects are described by
//! [`Obj`]: the exact DT_NEEDED strings, DT_RPATH and/or DT_RUNPATH, DF_1_NODEFLIB, 32-bit.
//! Without gcc the tests print a message and pass; without root (chroot) they check the model
//! against the expected lines only.

#![allow(dead_code)]

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dockergate_fs::{Content, EntryKind, ImageFs, ImageFsBuilder, LayerEntry};
use dockergate_loader::{ElfCatalog, ImageLoader, LoadedProgram};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// True when gcc can build 64-bit shared objects here; prints why not otherwise.
pub fn have_gcc() -> bool {
    let ok = Command::new("gcc")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIP: gcc is not available; the loader fixtures are compiled at test time");
    }
    ok
}

/// True when we can run the real loader in a chroot (root, chroot, unshare, the host's glibc).
pub fn have_oracle() -> bool {
    if std::env::var_os("DOCKERGATE_NO_ORACLE").is_some() {
        return false;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let tools = ["chroot", "unshare", "mount"].iter().all(|t| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    let glibc = Path::new(HOST_LIBC).exists() && Path::new(HOST_RTLD).exists();
    root && tools && glibc
}

pub const HOST_RTLD: &str = "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";
pub const HOST_LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";
pub const HOST_MUSL: &str = "/usr/lib/x86_64-linux-musl/libc.so";

/// True when musl-gcc and Debian's musl are installed; prints why not otherwise.
pub fn have_musl() -> bool {
    let ok = Path::new(HOST_MUSL).exists()
        && Command::new("musl-gcc")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP: musl-gcc or {HOST_MUSL} is missing (apt-get install musl-tools)");
    }
    ok
}

/// An ELF object to build.
#[derive(Clone, Debug, Default)]
pub struct Obj {
    pub soname: Option<String>,
    /// DT_NEEDED strings, in order (libc.so.6 comes last unless `nolibc`).
    pub needed: Vec<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    pub nodeflib: bool,
    pub m32: bool,
    /// No libc.so.6 (and no C runtime: only for libraries).
    pub nolibc: bool,
    /// C source; a function named after the file by default.
    pub code: Option<String>,
    /// Extra arguments for gcc (real libraries to link with, for the bindings tests).
    pub args: Vec<String>,
}

impl Obj {
    pub fn new() -> Obj {
        Obj::default()
    }
    pub fn soname(mut self, s: &str) -> Obj {
        self.soname = Some(s.into());
        self
    }
    pub fn needs(mut self, names: &[&str]) -> Obj {
        self.needed.extend(names.iter().map(|s| s.to_string()));
        self
    }
    pub fn rpath(mut self, s: &str) -> Obj {
        self.rpath = Some(s.into());
        self
    }
    pub fn runpath(mut self, s: &str) -> Obj {
        self.runpath = Some(s.into());
        self
    }
    pub fn nodeflib(mut self) -> Obj {
        self.nodeflib = true;
        self
    }
    pub fn m32(mut self) -> Obj {
        self.m32 = true;
        self.nolibc = true;
        self
    }
    pub fn nolibc(mut self) -> Obj {
        self.nolibc = true;
        self
    }
    pub fn code(mut self, c: &str) -> Obj {
        self.code = Some(c.into());
        self
    }
    pub fn args(mut self, a: &[&str]) -> Obj {
        self.args.extend(a.iter().map(|s| s.to_string()));
        self
    }
}

/// A root filesystem under construction in a temporary directory (removed on drop).
pub struct Tree {
    pub root: PathBuf,
    build: PathBuf,
    /// The compiler for programs and libraries: gcc, or musl-gcc for a musl tree.
    cc: &'static str,
    stubs: HashMap<(String, bool), PathBuf>,
    pub env: Vec<String>,
}

impl Drop for Tree {
    fn drop(&mut self) {
        if std::env::var_os("DOCKERGATE_KEEP_TREES").is_none() {
            let _ = std::fs::remove_dir_all(self.root.parent().unwrap());
        }
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Tree {
    /// An empty tree with the host's glibc loader and libc.
    pub fn glibc(name: &str) -> Tree {
        let t = Tree::empty(name, "gcc");
        t.copy_host(HOST_RTLD, "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        t.copy_host(HOST_LIBC, "/lib/x86_64-linux-gnu/libc.so.6");
        t.symlink(
            "/lib64/ld-linux-x86-64.so.2",
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        );
        t
    }

    /// An empty tree with musl's loader (Debian's musl, Alpine's layout: the loader is
    /// /lib/ld-musl-x86_64.so.1); programs are built with musl-gcc.
    pub fn musl(name: &str) -> Tree {
        let t = Tree::empty(name, "musl-gcc");
        t.copy_host(HOST_MUSL, "/lib/ld-musl-x86_64.so.1");
        t
    }

    fn empty(name: &str, cc: &'static str) -> Tree {
        let base = std::env::temp_dir().join(format!(
            "dockergate-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        let build = base.join("build");
        for d in [
            "lib/x86_64-linux-gnu",
            "usr/lib/x86_64-linux-gnu",
            "lib64",
            "etc",
            "proc",
            "usr/bin",
            "tmp",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::create_dir_all(&build).unwrap();
        Tree {
            root,
            build,
            cc,
            stubs: HashMap::new(),
            env: Vec::new(),
        }
    }

    /// The host path of an image path.
    pub fn host(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn parent(&self, path: &str) {
        if let Some(p) = self.host(path).parent() {
            std::fs::create_dir_all(p).unwrap();
        }
    }

    pub fn copy_host(&self, host: &str, path: &str) {
        self.parent(path);
        std::fs::copy(host, self.host(path)).unwrap();
    }

    pub fn write(&self, path: &str, bytes: &[u8]) {
        self.parent(path);
        std::fs::write(self.host(path), bytes).unwrap();
    }

    pub fn mkdir(&self, path: &str) {
        std::fs::create_dir_all(self.host(path)).unwrap();
    }

    pub fn symlink(&self, path: &str, target: &str) {
        self.parent(path);
        std::os::unix::fs::symlink(target, self.host(path)).unwrap();
    }

    pub fn hardlink(&self, path: &str, existing: &str) {
        self.parent(path);
        std::fs::hard_link(self.host(existing), self.host(path)).unwrap();
    }

    pub fn read(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.host(path)).unwrap()
    }

    /// A stub shared object whose soname is `name`: linking with it records DT_NEEDED `name`.
    fn stub(&mut self, name: &str, m32: bool) -> PathBuf {
        if let Some(p) = self.stubs.get(&(name.to_string(), m32)) {
            return p.clone();
        }
        let n = self.stubs.len();
        let src = self.build.join("stub.c");
        std::fs::write(&src, "void dockergate_stub(void) {}\n").unwrap();
        let out = self.build.join(format!("stub{n}.so"));
        let mut c = Command::new("gcc");
        if m32 {
            c.arg("-m32");
        }
        run(c
            .args(["-shared", "-fPIC", "-nostdlib", "-o"])
            .arg(&out)
            .arg(&src)
            .arg(format!("-Wl,-soname,{name}")));
        self.stubs.insert((name.to_string(), m32), out.clone());
        out
    }

    fn compile(&mut self, path: &str, o: &Obj, shared: bool) {
        self.parent(path);
        let ident: String = path
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let code = o.code.clone().unwrap_or_else(|| {
            if shared {
                format!("int fn{ident}(void) {{ return 1; }}\n")
            } else {
                "int main(void) { return 0; }\n".to_string()
            }
        });
        let src = self.build.join(format!("{ident}.c"));
        std::fs::write(&src, code).unwrap();
        // Placeholder DT_NEEDED strings turned into DT_RUNPATH afterwards (for objects that
        // carry both DT_RPATH and DT_RUNPATH, which ld does not write itself).
        let runpath_marker = match (&o.rpath, &o.runpath) {
            (Some(_), Some(rp)) => Some(rp.clone()),
            _ => None,
        };
        let mut c = Command::new(self.cc);
        if o.m32 {
            c.arg("-m32");
        }
        if shared {
            c.args(["-shared", "-fPIC"]);
        }
        if o.nolibc {
            c.arg("-nostdlib");
        }
        c.arg("-o").arg(self.host(path)).arg(&src);
        if let Some(s) = &o.soname {
            c.arg(format!("-Wl,-soname,{s}"));
        }
        c.arg("-Wl,--no-as-needed");
        let mut needed = o.needed.clone();
        if let Some(m) = &runpath_marker {
            needed.push(m.clone());
        }
        for n in &needed {
            let stub = self.stub(n, o.m32);
            c.arg(stub);
        }
        match (&o.rpath, &o.runpath) {
            (Some(r), _) => {
                c.arg(format!("-Wl,--disable-new-dtags,-rpath,{r}"));
            }
            (None, Some(r)) => {
                c.arg(format!("-Wl,--enable-new-dtags,-rpath,{r}"));
            }
            _ => {}
        }
        if o.nodeflib {
            c.arg("-Wl,-z,nodefaultlib");
        }
        c.args(&o.args);
        run(&mut c);
        if let Some(m) = runpath_marker {
            let mut bytes = self.read(path);
            assert!(
                retag_needed(&mut bytes, &m, 29),
                "cannot turn DT_NEEDED {m} into DT_RUNPATH in {path}"
            );
            std::fs::write(self.host(path), bytes).unwrap();
        }
    }

    /// Builds a shared library at `path`.
    pub fn lib(&mut self, path: &str, o: Obj) -> &mut Self {
        self.compile(path, &o, true);
        self
    }

    /// Builds a program at `path` (PIE, interpreter /lib64/ld-linux-x86-64.so.2).
    pub fn prog(&mut self, path: &str, o: Obj) -> &mut Self {
        self.compile(path, &o, false);
        self
    }

    /// Writes /etc/ld.so.cache from the tree's /etc/ld.so.conf with the host's ldconfig.
    pub fn ldconfig(&self) {
        run(Command::new("ldconfig").arg("-X").arg("-r").arg(&self.root));
    }

    /// The tree as an in-memory image filesystem (one layer, contents inline, hard links kept).
    pub fn image_fs(&self) -> ImageFs {
        let mut entries = Vec::new();
        let mut inodes: HashMap<(u64, u64), String> = HashMap::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let mut list: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            list.sort();
            for p in list {
                let rel = p
                    .strip_prefix(&self.root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let m = std::fs::symlink_metadata(&p).unwrap();
                let kind = if m.file_type().is_symlink() {
                    EntryKind::Symlink {
                        target: std::fs::read_link(&p)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned(),
                    }
                } else if m.is_dir() {
                    stack.push(p.clone());
                    EntryKind::Dir
                } else if let Some(first) = inodes.get(&(m.dev(), m.ino())) {
                    EntryKind::HardLink {
                        target: first.clone(),
                    }
                } else {
                    inodes.insert((m.dev(), m.ino()), rel.clone());
                    let bytes = std::fs::read(&p).unwrap();
                    EntryKind::File {
                        size: bytes.len() as u64,
                        content: Content::Inline(Arc::from(bytes)),
                    }
                };
                entries.push(LayerEntry {
                    path: rel,
                    kind,
                    mode: m.mode() & 0o7777,
                    uid: 0,
                    gid: 0,
                });
            }
        }
        let mut b = ImageFsBuilder::new();
        let warnings = b.apply_layer(entries).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        b.finish()
    }

    /// The model's view of running `prog` with the tree's environment.
    pub fn model(&self, prog: &str) -> LoadedProgram {
        let fs = self.image_fs();
        let cat = ElfCatalog::scan(&fs);
        let loader = ImageLoader::new(&fs, &cat, &self.env, "/");
        loader
            .load_program(prog)
            .expect("the model loads the program")
    }

    /// The model's ldd lines, tabs removed; a fatal error as one `ERROR` line.
    pub fn model_ldd(&self, prog: &str) -> Vec<String> {
        let p = self.model(prog);
        if p.fatal.is_some() {
            return vec!["ERROR".to_string()];
        }
        p.ldd_lines()
            .iter()
            .map(|l| l.trim_start().to_string())
            .collect()
    }

    /// Runs `prog` in the tree (chroot, /proc mounted in a private mount namespace) with the
    /// tree's environment plus `extra_env`, and nothing else; returns (status, stdout, stderr).
    /// A small launcher does the chroot and the exec, so that only `prog` sees the variables.
    pub fn run_real(&self, prog: &str, extra_env: &[(&str, &str)]) -> (i32, String, String) {
        self.run_real_args(prog, &[], extra_env)
    }

    /// [`Tree::run_real`] with arguments after the program's name.
    pub fn run_real_args(
        &self,
        prog: &str,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> (i32, String, String) {
        let launcher = self.build.join("launcher");
        if !launcher.exists() {
            let src = self.build.join("launcher.c");
            std::fs::write(&src, LAUNCHER_C).unwrap();
            run(Command::new("gcc").arg("-o").arg(&launcher).arg(&src));
        }
        let mut script = format!(
            "mount --bind /proc '{0}/proc' && exec '{1}' '{0}' '{2}'",
            self.root.display(),
            launcher.display(),
            prog
        );
        for a in args {
            script.push_str(&format!(" '{}'", a.replace('\'', "'\\''")));
        }
        script.push_str(" --");
        let mut vars: Vec<String> = self.env.clone();
        vars.extend(extra_env.iter().map(|(k, v)| format!("{k}={v}")));
        for kv in &vars {
            script.push_str(&format!(" '{}'", kv.replace('\'', "'\\''")));
        }
        let mut c = Command::new("unshare");
        c.args(["--mount", "--fork", "--", "sh", "-c", &script]);
        c.env_clear();
        c.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        let out = c.output().expect("unshare runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// What the real loader lists for `prog` (LD_TRACE_LOADED_OBJECTS, as ldd does), in the
    /// form of [`Tree::model_ldd`]: no vDSO, no addresses, `ERROR` when it gives up.
    pub fn real_ldd(&self, prog: &str) -> Vec<String> {
        let (status, out, err) = self.run_real(prog, &[("LD_TRACE_LOADED_OBJECTS", "1")]);
        let lines: Vec<String> = out
            .lines()
            .map(|l| l.trim_start())
            .filter(|l| !l.starts_with("linux-vdso.so"))
            .map(|l| match l.rfind(" (0x") {
                Some(i) if l.ends_with(')') => l[..i].to_string(),
                _ => l.to_string(),
            })
            .collect();
        if status != 0 && lines.is_empty() {
            assert!(
                err.contains("error while loading shared libraries"),
                "unexpected failure of {prog}: status {status}: {err}"
            );
            return vec!["ERROR".to_string()];
        }
        lines
    }
}

/// chroot(ROOT), chdir("/"), exec PROG with its arguments and exactly the given environment.
const LAUNCHER_C: &str = r#"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    /* argv: ROOT PROG [ARG...] -- [NAME=VALUE...] */
    if (argc < 3) return 2;
    int sep = 3;
    while (sep < argc && strcmp(argv[sep], "--") != 0) sep++;
    char **env = sep < argc ? argv + sep + 1 : argv + argc;
    argv[sep] = 0;
    if (chroot(argv[1]) != 0 || chdir("/") != 0) { perror("chroot"); return 2; }
    execve(argv[2], argv + 2, env);
    perror("execve");
    return 2;
}
"#;

impl Tree {
    /// musl's ldd (the loader with --list) on `prog`: its " => " lines, tabs and addresses
    /// removed.
    pub fn real_musl_ldd(&self, prog: &str) -> Vec<String> {
        let (_, out, _) = self.run_real_args("/lib/ld-musl-x86_64.so.1", &["--list", prog], &[]);
        out.lines()
            .filter(|l| l.contains(" => "))
            .map(|l| {
                let l = l.trim_start();
                l.rsplit_once(" (0x").map_or(l, |x| x.0).to_string()
            })
            .collect()
    }

    /// The model's musl ldd lines with " => " (what musl's ldd prints on stdout).
    pub fn model_musl_ldd(&self, prog: &str) -> Vec<String> {
        self.model(prog)
            .ldd_lines()
            .iter()
            .filter(|l| l.contains(" => "))
            .map(|l| l.trim_start().to_string())
            .collect()
    }
}

/// Like [`check`], for a musl tree.
pub fn check_musl(tree: &Tree, prog: &str, expected: &[&str], oracle: bool) {
    let model = tree.model_musl_ldd(prog);
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    if oracle {
        assert_eq!(
            tree.real_musl_ldd(prog),
            expected,
            "musl's ldd disagrees with the expected lines for {prog} (tree {})",
            tree.root.display()
        );
    }
    assert_eq!(
        model,
        expected,
        "the model disagrees for {prog} (tree {})",
        tree.root.display()
    );
}

/// Changes the tag of the DT_NEEDED entry naming `name` to `tag` (64-bit little-endian files).
pub fn retag_needed(bytes: &mut [u8], name: &str, tag: u64) -> bool {
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let phoff = u64_at(bytes, 32) as usize;
    let (phentsize, phnum) = (u16_at(bytes, 54), u16_at(bytes, 56));
    let mut loads = Vec::new();
    let mut dynamic = None;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let ty = u32::from_le_bytes(bytes[ph..ph + 4].try_into().unwrap());
        let (off, vaddr, filesz) = (
            u64_at(bytes, ph + 8),
            u64_at(bytes, ph + 16),
            u64_at(bytes, ph + 32),
        );
        match ty {
            1 => loads.push((vaddr, off, filesz)),
            2 => dynamic = Some((off as usize, filesz as usize)),
            _ => {}
        }
    }
    let Some((doff, dsize)) = dynamic else {
        return false;
    };
    let to_off = |v: u64| {
        loads
            .iter()
            .find(|(va, _, sz)| v >= *va && v < va + sz)
            .map(|(va, off, _)| (off + (v - va)) as usize)
    };
    let mut strtab = None;
    for e in (doff..doff + dsize).step_by(16) {
        if u64_at(bytes, e) == 5 {
            strtab = to_off(u64_at(bytes, e + 8));
        }
    }
    let Some(strtab) = strtab else { return false };
    for e in (doff..doff + dsize).step_by(16) {
        if u64_at(bytes, e) == 1 {
            let s = strtab + u64_at(bytes, e + 8) as usize;
            let end = s + bytes[s..].iter().position(|&b| b == 0).unwrap();
            if &bytes[s..end] == name.as_bytes() {
                bytes[e..e + 8].copy_from_slice(&tag.to_le_bytes());
                return true;
            }
        }
    }
    false
}

/// For a program the loader gives up on: the model's error line and, when the real loader can
/// run, its stderr line must be the same.
pub fn check_error(tree: &Tree, prog: &str, oracle: bool) {
    let model = tree.model(prog).ldd_lines();
    assert_eq!(model.len(), 1, "{model:?}");
    assert!(model[0].contains(": error while loading shared libraries: "));
    if oracle {
        let (_, _, err) = tree.run_real(prog, &[("LD_TRACE_LOADED_OBJECTS", "1")]);
        let line = err
            .lines()
            .find(|l| l.contains("error while loading shared libraries"))
            .unwrap_or("")
            .to_string();
        assert_eq!(model[0], line, "tree {}", tree.root.display());
    }
}

/// Compares the model with the expected lines, and the real loader with them when it can run.
pub fn check(tree: &Tree, prog: &str, expected: &[&str], oracle: bool) {
    let model = tree.model_ldd(prog);
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    if oracle {
        let real = tree.real_ldd(prog);
        assert_eq!(
            real,
            expected,
            "the real loader disagrees with the expected lines for {prog} (tree {})",
            tree.root.display()
        );
    }
    assert_eq!(
        model,
        expected,
        "the model disagrees for {prog} (tree {})",
        tree.root.display()
    );
}
