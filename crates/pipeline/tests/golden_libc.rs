//! Golden tests on real libraries: what calling one exported function can reach, computed by
//! the real analysis on this machine's glibc (Debian bookworm, as in the corpus images), and on
//! a small library compiled here.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use dockergate_analysis::ObjectSummary;
use dockergate_analysis::{analyze_object, complete_functions};
use dockergate_callgraph::ProgramGraph;
use dockergate_loader::{bind_symbols, Bindings, ElfCatalog, ImageLoader, LoadedProgram};
use dockergate_pipeline::KernelTables;
use dockergate_profile::SyscallTable;
use dockergate_source::{open_image, Image, ImageRef, ReadOptions};

const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";
const LDSO: &str = "/lib64/ld-linux-x86-64.so.2";

/// A rootfs with the host's libc and loader, plus extra files.
fn rootfs(extra: &[(&str, &Path)]) -> Option<tempfile::TempDir> {
    if !Path::new(LIBC).exists() || !Path::new(LDSO).exists() {
        eprintln!("skipped: no host glibc at {LIBC}");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (dst, src) in [(LIBC, Path::new(LIBC)), (LDSO, Path::new(LDSO))]
        .into_iter()
        .chain(extra.iter().copied())
    {
        let to = dir.path().join(dst.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(src, &to).expect("copy");
    }
    Some(dir)
}

/// A rootfs as [`rootfs`] gives, with `/usr/lib/lib{name}.so` compiled from the C text `src`
/// (None, said, without gcc).
fn rootfs_with_library(name: &str, src: &str) -> Option<tempfile::TempDir> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let c = tmp.path().join(format!("{name}.c"));
    std::fs::write(&c, src).expect("write");
    let so = tmp.path().join(format!("lib{name}.so"));
    let ok = std::process::Command::new("gcc")
        .args(["-O2", "-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&c)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: gcc is not available");
        return None;
    }
    rootfs(&[(&format!("/usr/lib/lib{name}.so"), &so)])
}

/// `f` given the image of rootfs `root`, the library at `lib` (an image path) loaded as a
/// plugin, its bindings and its objects' summaries.
fn with_plugin<T>(
    root: &Path,
    lib: &str,
    f: impl FnOnce(&Image, &LoadedProgram, &Bindings, Vec<Arc<ObjectSummary>>) -> T,
) -> T {
    let image = open_image(
        &ImageRef::parse(&format!("dir:{}", root.display())).expect("ref"),
        &ReadOptions::default(),
    )
    .expect("image");
    let catalog = ElfCatalog::scan(&image.fs);
    let loader = ImageLoader::new(&image.fs, &catalog, &[], "/");
    let prog = loader.load_plugin(lib).expect("loads");
    let bindings = bind_symbols(&prog);
    let summaries: Vec<Arc<_>> = prog
        .objects
        .iter()
        .map(|o| {
            let bytes = image.fs.read(o.node, &o.path).expect("read");
            Arc::new(analyze_object(&bytes, &o.elf).expect("analysis"))
        })
        .collect();
    f(&image, &prog, &bindings, summaries)
}

/// Syscall names reachable from calling `exports` of the library at `lib` (an image path).
fn reach(
    root: &Path,
    lib: &str,
    exports: &[&str],
) -> (BTreeSet<String>, dockergate_callgraph::ProgramSyscalls) {
    with_plugin(root, lib, |image, prog, bindings, summaries| {
        reach_exports(image, prog, bindings, summaries, exports)
    })
}

fn reach_exports(
    image: &Image,
    prog: &LoadedProgram,
    bindings: &Bindings,
    mut summaries: Vec<Arc<ObjectSummary>>,
    exports: &[&str],
) -> (BTreeSet<String>, dockergate_callgraph::ProgramSyscalls) {
    // As the pipeline does: complete the skimmed functions whose arguments are needed.
    let mut r = ProgramGraph::analyze_exports(prog, bindings, &summaries, exports, &KernelTables);
    for _ in 0..8 {
        if r.args_needed.is_empty() {
            break;
        }
        for &(obj, func) in &r.args_needed {
            let o = &prog.objects[obj as usize];
            let bytes = image.fs.read(o.node, &o.path).expect("read");
            summaries[obj as usize] = Arc::new(
                complete_functions(&bytes, &o.elf, &summaries[obj as usize], &[func])
                    .expect("complete"),
            );
        }
        r = ProgramGraph::analyze_exports(prog, bindings, &summaries, exports, &KernelTables);
    }
    let names = r
        .native
        .keys()
        .filter_map(|n| SyscallTable::X86_64.name(*n))
        .map(str::to_string)
        .collect();
    (names, r)
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn libc_getpid_reaches_exactly_getpid() {
    let Some(root) = rootfs(&[]) else { return };
    let (names, r) = reach(root.path(), LIBC, &["getpid"]);
    assert_eq!(names, set(&["getpid"]));
    assert!(r.unresolved.is_empty());
}

#[test]
fn libc_unlink_and_rmdir_reach_their_own_syscall_only() {
    let Some(root) = rootfs(&[]) else { return };
    assert_eq!(reach(root.path(), LIBC, &["unlink"]).0, set(&["unlink"]));
    assert_eq!(reach(root.path(), LIBC, &["rmdir"]).0, set(&["rmdir"]));
    assert_eq!(
        reach(root.path(), LIBC, &["unlinkat"]).0,
        set(&["unlinkat"])
    );
}

#[test]
fn wrappers_passing_constants_to_syscall_resolve_to_them() {
    let src = r#"
        #include <unistd.h>
        #include <sys/syscall.h>
        long my_tid(void) { return syscall(SYS_gettid); }
        __attribute__((noinline)) long my_wrap(long n) { return syscall(n); }
        long use_wrap(void) { return my_wrap(SYS_getppid) + my_wrap(SYS_getuid); }
        struct req { long pad; long nr; };
        __attribute__((noinline)) long by_struct(const struct req *r) { return syscall(r->nr); }
        long use_struct(void) { struct req q = { (long)&q, SYS_geteuid }; return by_struct(&q); }
    "#;
    let Some(root) = rootfs_with_library("w", src) else {
        return;
    };
    assert_eq!(
        reach(root.path(), "/usr/lib/libw.so", &["my_tid"]).0,
        set(&["gettid"])
    );
    assert_eq!(
        reach(root.path(), "/usr/lib/libw.so", &["use_wrap"]).0,
        set(&["getppid", "getuid"])
    );
    assert_eq!(
        reach(root.path(), "/usr/lib/libw.so", &["use_struct"]).0,
        set(&["geteuid"])
    );
    // Called from outside with an unknown number: not guessed, reported.
    let (names, r) = reach(root.path(), "/usr/lib/libw.so", &["my_wrap"]);
    assert!(names.is_empty(), "{names:?}");
    assert!(
        r.plugin_export_params.iter().any(|p| p.contains("my_wrap")),
        "{:?}",
        r.plugin_export_params
    );
}

#[test]
fn a_function_looked_up_by_constant_name_is_reachable() {
    // V8 (libnode) finds pkey_alloc this way; nothing imports it.
    let src = r#"
        #define _GNU_SOURCE
        #include <dlfcn.h>
        typedef int (*pkey_alloc_t)(unsigned, unsigned);
        int protect(void) {
            pkey_alloc_t f = (pkey_alloc_t)dlsym(RTLD_DEFAULT, "pkey_alloc");
            return f ? f(0, 0) : -1;
        }
        int nothing(void) { return 0; }
    "#;
    let Some(root) = rootfs_with_library("k", src) else {
        return;
    };
    let (names, _) = reach(root.path(), "/usr/lib/libk.so", &["protect"]);
    assert!(names.contains("pkey_alloc"), "{names:?}");
    let (names, _) = reach(root.path(), "/usr/lib/libk.so", &["nothing"]);
    assert!(!names.contains("pkey_alloc"), "{names:?}");
}

#[test]
fn a_number_passed_around_a_cycle_of_calls_resolves_to_what_enters_it() {
    // Parameter resolution is a fixed point over call cycles (and over function-pointer
    // tables, where it meets hundreds of values); a value no kernel table names (a pointer, a
    // size) is no syscall and is not carried.
    let src = r#"
        #include <unistd.h>
        #include <sys/syscall.h>
        __attribute__((noinline)) long ping(long n, int d);
        __attribute__((noinline)) long pong(long n, int d) { return d ? ping(n, d - 1) : syscall(n); }
        __attribute__((noinline)) long ping(long n, int d) { return d ? pong(n, d - 1) : syscall(n) + 1; }
        long ring_one(int d) { return ping(SYS_getppid, d); }
        long ring_two(int d) { return pong(SYS_getpgrp, d) + ping(0x7fff1234, d); }
    "#;
    let Some(root) = rootfs_with_library("ring", src) else {
        return;
    };
    let (names, r) = reach(root.path(), "/usr/lib/libring.so", &["ring_one"]);
    assert_eq!(names, set(&["getppid"]));
    assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
    let (names, r) = reach(root.path(), "/usr/lib/libring.so", &["ring_two"]);
    assert_eq!(names, set(&["getpgrp"]));
    assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
    assert!(
        r.native
            .keys()
            .all(|nr| SyscallTable::X86_64.name(*nr).is_some()),
        "{:?}",
        r.native.keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_function_called_through_a_pointer_takes_what_the_indirect_calls_pass() {
    // `op_raw` is only ever called through the table: its parameter takes the values that the
    // reachable indirect call sites of the library holding its address pass (the one
    // documented assumption of parameter resolution), solved once per library for all of the
    // functions they may call.
    let src = r#"
        #include <unistd.h>
        #include <sys/syscall.h>
        typedef long (*op_t)(long);
        __attribute__((noinline)) static long op_raw(long n) { return syscall(n); }
        __attribute__((noinline)) static long op_raw_too(long n) { return syscall(n) - 1; }
        __attribute__((noinline)) static long op_plain(long n) { return n + 1; }
        op_t table[3] = { op_raw, op_plain, op_raw_too };
        long run_ops(int i) {
            return table[i % 3](SYS_getppid) + table[(i + 1) % 3](SYS_getpgrp);
        }
        long run_nothing(int i) { return i; }
    "#;
    let Some(root) = rootfs_with_library("table", src) else {
        return;
    };
    // (An indirect call reaches every function whose address is live, libc's included.)
    let (names, r) = reach(root.path(), "/usr/lib/libtable.so", &["run_ops"]);
    assert!(
        names.is_superset(&set(&["getpgrp", "getppid"])),
        "{names:?}"
    );
    assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
    let (names, r) = reach(root.path(), "/usr/lib/libtable.so", &["run_nothing"]);
    assert!(names.is_empty(), "{names:?}");
    assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
}

#[test]
fn witnesses_made_into_text_later_are_the_witnesses_made_at_once() {
    let Some(root) = rootfs(&[]) else { return };
    // The loader as a plugin: its exports are roots, its witnesses have chains of every kind.
    with_plugin(root.path(), LDSO, |_, prog, bindings, summaries| {
        let kind = dockergate_callgraph::ProgramKind::Plugin;
        let at_once = ProgramGraph::analyze(prog, bindings, &summaries, kind, &KernelTables);
        let mut later =
            ProgramGraph::analyze_unit(prog, bindings, &summaries, kind, &KernelTables, false);
        assert!(!at_once.native.is_empty());
        assert!(later
            .native
            .values()
            .all(|w| w.pending.is_some() && w.chain.is_empty()));
        later.render_witnesses(prog, &summaries, |_, _| true);
        assert_eq!(later.native, at_once.native);
        // Each chain starts at a root and goes on by calls, to the function holding the site.
        for w in at_once.native.values() {
            assert!(w.pending.is_none() && w.site.starts_with(LDSO), "{w:?}");
            let (first, rest) = w.chain.split_first().expect("a chain");
            assert!(
                [
                    "exported by a plugin",
                    "init/fini function",
                    "dynamic loader entry point"
                ]
                .iter()
                .any(|r| first.via.starts_with(r)),
                "{w:?}"
            );
            assert!(
                rest.iter().all(
                    |s| s.via.starts_with("called at") || s.via.starts_with("indirect call at")
                ),
                "{w:?}"
            );
        }
        // What is kept in a cache never holds a pending witness.
        let kept: dockergate_callgraph::ProgramSyscalls =
            serde_json::from_slice(&serde_json::to_vec(&later).expect("json")).expect("json");
        assert!(kept.native.values().all(|w| w.pending.is_none()));
    });
}
