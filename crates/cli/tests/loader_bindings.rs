//! `dockergate ldd --bindings dir:ROOT PATH` against the real loader's `LD_DEBUG=bindings`.
//!
//! Small programs and libraries compiled with gcc at test time exercise versioned symbols
//! (a hidden non-default version, a default `@@` version, a versioned reference to an
//! unversioned definition), weak definitions, DT_SYMBOLIC, interposition of libc's own PLT
//! references by the executable, copy relocations, a non-PIE executable's canonical PLT entry
//! and an unresolved symbol. Each program is run
//! for real in a chroot of its tree (root only) with `LD_BIND_NOW=1 LD_DEBUG=bindings`, and every
//! binding the real loader reports must be reported identically by the CLI; the expected
//! bindings of the interesting symbols are also checked without the oracle.

#[path = "../../loader/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::Command;

use support::{have_gcc, have_oracle, Obj, Tree};

/// (referencing object, symbol, version) -> providing object, or "(undefined)" /
/// "(weak, undefined)".
type BindMap = BTreeMap<(String, String, String), String>;

fn cli_bindings(t: &Tree, prog: &str) -> BindMap {
    let out = Command::new(env!("CARGO_BIN_EXE_dockergate"))
        .args(["ldd", "--bindings"])
        .arg(format!("dir:{}", t.root.display()))
        .arg(prog)
        .output()
        .expect("dockergate runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut m = BindMap::new();
    for line in text.lines().filter(|l| !l.starts_with('\t')) {
        // "NAME[@VERSION] (OBJECT) => TARGET"
        let (left, target) = line.split_once(" => ").expect("a bindings line");
        let (sym, obj) = left.split_once(" (").expect("a bindings line");
        let obj = obj.trim_end_matches(')');
        let (name, version) = match sym.split_once('@') {
            Some((n, v)) => (n, v),
            None => (sym, ""),
        };
        m.insert((obj.into(), name.into(), version.into()), target.into());
    }
    m
}

/// The bindings the real loader reports, and its stderr.
fn real_bindings(t: &Tree, prog: &str) -> (BindMap, String) {
    let (_, _, err) = t.run_real(prog, &[("LD_BIND_NOW", "1"), ("LD_DEBUG", "bindings")]);
    let mut m = BindMap::new();
    for line in err.lines() {
        // "   1234:\tbinding file A [0] to B [0]: normal symbol `sym' [VERSION]"
        let Some(rest) = line.split_once("binding file ").map(|x| x.1) else {
            continue;
        };
        let (from, rest) = rest.split_once(" [").unwrap();
        let rest = rest.split_once("] to ").unwrap().1;
        let (to, rest) = rest.split_once(" [").unwrap();
        let rest = rest.split_once("symbol `").unwrap().1;
        let (sym, rest) = rest.split_once('\'').unwrap();
        let version = rest
            .trim()
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or("");
        m.insert((from.into(), sym.into(), version.into()), to.into());
    }
    (m, err)
}

/// Every binding of the real loader must be the model's; returns (agreeing, total).
fn compare(t: &Tree, prog: &str, model: &BindMap) -> (usize, usize) {
    let (real, err) = real_bindings(t, prog);
    assert!(!real.is_empty(), "no LD_DEBUG output for {prog}: {err}");
    let mut bad = Vec::new();
    let mut skipped = 0;
    for (k, v) in &real {
        // Lookups ld.so makes for itself, not for a relocation: the vDSO's symbols, and
        // malloc & co. in the program's scope (__rtld_malloc_init_real).
        let rtld_own = k.0 == "linux-vdso.so.1"
            || (k.0 == prog
                && ["malloc", "calloc", "realloc", "free"].contains(&k.1.as_str())
                && !model.contains_key(k));
        if rtld_own {
            skipped += 1;
            continue;
        }
        match model.get(k) {
            Some(m) if m == v => {}
            other => bad.push(format!("{k:?}: real {v}, model {other:?}")),
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} bindings of {prog} differ (tree {}):\n{}",
        bad.len(),
        real.len(),
        t.root.display(),
        bad.join("\n")
    );
    let n = real.len() - skipped;
    eprintln!("bindings of {prog}: {n}/{n} agree ({skipped} lookups of ld.so's own left out)");
    (n, n)
}

fn get<'m>(m: &'m BindMap, obj: &str, sym: &str, ver: &str) -> &'m str {
    m.get(&(obj.to_string(), sym.to_string(), ver.to_string()))
        .unwrap_or_else(|| panic!("no binding for {sym}@{ver} of {obj} in {m:#?}"))
}

const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

#[test]
fn bindings_match_the_real_loader() {
    if !have_gcc() {
        return;
    }
    let oracle = have_oracle();
    let mut t = Tree::glibc("bindings");
    let build = t.root.parent().unwrap().join("build");
    let script = build.join("v.map");
    std::fs::write(
        &script,
        "VERS_1 { global: foo; local: *; };\nVERS_2 { global: foo; bar; wdef; } VERS_1;\n",
    )
    .unwrap();
    // foo@VERS_1 (hidden, not default) and foo@@VERS_2 (default).
    t.lib(
        "/usr/lib/libv.so",
        Obj::new()
            .soname("libv.so")
            .code(
                "int foo_v1(void) { return 1; }\n\
                 int foo_v2(void) { return 2; }\n\
                 __asm__(\".symver foo_v1, foo@VERS_1\");\n\
                 __asm__(\".symver foo_v2, foo@@VERS_2\");\n\
                 int bar(void) { return 3; }\n\
                 __attribute__((weak)) int wdef(void) { return 4; }\n",
            )
            .args(&[&format!("-Wl,--version-script={}", script.display())]),
    );
    // An unversioned library: versioned references to it are accepted.
    t.lib(
        "/usr/lib/libu.so",
        Obj::new().soname("libu.so").code(
            "int ufn(void) { return 5; }\n__attribute__((weak)) int wsym(void) { return 6; }\n\
             void *ufn_addr(void) { return (void *)&ufn; }\n",
        ),
    );
    // A second definition of wsym, global, later in the scope: the first (weak) one wins.
    t.lib(
        "/usr/lib/libw2.so",
        Obj::new()
            .soname("libw2.so")
            .code("int wsym(void) { return 7; }\nint wonly(void) { return 8; }\n"),
    );
    // libs calls symfn through its PLT; with DT_SYMBOLIC it binds to its own.
    let symcode = "int symfn(void) { return 9; }\nint callsym(void) { return symfn(); }\n";
    t.lib(
        "/usr/lib/libnosym.so",
        Obj::new().soname("libnosym.so").code(symcode),
    );
    t.lib(
        "/usr/lib/libsym.so",
        Obj::new()
            .soname("libsym.so")
            .code(&symcode.replace("callsym", "callsym2"))
            .needs(&["SYMBOLIC-MARKER"]),
    );
    let mut b = t.read("/usr/lib/libsym.so");
    assert!(support::retag_needed(&mut b, "SYMBOLIC-MARKER", 16));
    t.write("/usr/lib/libsym.so", &b);
    // A data object copied into the executable.
    t.lib(
        "/usr/lib/libdata.so",
        Obj::new()
            .soname("libdata.so")
            .code("int dataval = 42;\nint getdata(void) { return dataval; }\n"),
    );
    let root = t.root.clone();
    let lib = |n: &str| format!("{}/usr/lib/lib{n}.so", root.display());
    let libs = [
        lib("v"),
        lib("u"),
        lib("w2"),
        lib("nosym"),
        lib("sym"),
        lib("data"),
    ];
    let mut args: Vec<&str> = libs.iter().map(String::as_str).collect();
    args.extend(["-rdynamic", "-fno-pie", "-no-pie"]);
    t.prog(
        "/usr/bin/p",
        Obj::new()
            .code(
                "#include <stddef.h>\n#include <string.h>\n\
                 __asm__(\".symver foo, foo@VERS_1\");\n\
                 int foo(void); int bar(void); int wdef(void); int ufn(void); int wsym(void);\n\
                 int wonly(void); int callsym(void); int callsym2(void); int getdata(void);\n\
                 extern int dataval; void *ufn_addr(void);\n\
                 __attribute__((noinline)) void *get_ufn(void) { return (void *)&ufn; }\n\
                 int symfn(void) { return 100; }\n\
                 static char arena[1 << 20]; static size_t used;\n\
                 void *calloc(size_t n, size_t s) { size_t k = (n * s + 15) & ~(size_t)15;\n\
                   if (used + k > sizeof arena) return 0; void *p = arena + used; used += k;\n\
                   memset(p, 0, k); return p; }\n\
                 int main(void) {\n\
                   int ok = foo() == 1 && bar() == 3 && wdef() == 4 && ufn() == 5;\n\
                   ok = ok && wsym() == 6 && wonly() == 8 && dataval == 42 && getdata() == 42;\n\
                   ok = ok && callsym() == 100 && callsym2() == 9;\n\
                   ok = ok && get_ufn() == ufn_addr();\n\
                   return ok ? 0 : 1; }\n",
            )
            .args(&args),
    );
    // The same program referencing foo without a version: the default, VERS_2.
    t.prog(
        "/usr/bin/q",
        Obj::new()
            .code(
                "int foo(void);\n__attribute__((weak)) int nothere(void);\n\
                 int main(void) { return foo() == 2 && nothere == 0 ? 0 : 1; }\n",
            )
            .args(&[&lib("v")]),
    );
    // A program linked against an unversioned libv.so: its reference to foo has no version
    // and takes the oldest one (index 2, foo@VERS_1, even though it is hidden).
    let unv = build.join("unversioned");
    std::fs::create_dir_all(&unv).unwrap();
    let unv_src = unv.join("v.c");
    std::fs::write(
        &unv_src,
        "int foo(void) { return 0; }\nint bar(void) { return 0; }\n",
    )
    .unwrap();
    let unv_lib = unv.join("libv.so");
    assert!(Command::new("gcc")
        .args(["-shared", "-fPIC", "-Wl,-soname,libv.so", "-o"])
        .arg(&unv_lib)
        .arg(&unv_src)
        .status()
        .unwrap()
        .success());
    t.prog(
        "/usr/bin/r",
        Obj::new()
            .code("int foo(void); int bar(void);\nint main(void) { return foo() == 1 && bar() == 3 ? 0 : 1; }\n")
            .args(&[unv_lib.to_str().unwrap()]),
    );
    let r = cli_bindings(&t, "/usr/bin/r");
    assert_eq!(get(&r, "/usr/bin/r", "foo", ""), "/usr/lib/libv.so");
    let p = cli_bindings(&t, "/usr/bin/p");
    assert_eq!(get(&p, "/usr/bin/p", "foo", "VERS_1"), "/usr/lib/libv.so");
    assert_eq!(get(&p, "/usr/bin/p", "bar", "VERS_2"), "/usr/lib/libv.so");
    assert_eq!(get(&p, "/usr/bin/p", "wsym", ""), "/usr/lib/libu.so");
    assert_eq!(get(&p, "/usr/lib/libnosym.so", "symfn", ""), "/usr/bin/p");
    assert_eq!(
        get(&p, "/usr/lib/libsym.so", "symfn", ""),
        "/usr/lib/libsym.so"
    );
    assert_eq!(get(&p, LIBC, "calloc", "GLIBC_2.2.5"), "/usr/bin/p");
    assert_eq!(get(&p, "/usr/lib/libdata.so", "dataval", ""), "/usr/bin/p");
    // -no-pie and the address of ufn taken: libu's own GOT entry for ufn is the executable's
    // canonical PLT entry.
    assert_eq!(get(&p, "/usr/lib/libu.so", "ufn", ""), "/usr/bin/p");
    let q = cli_bindings(&t, "/usr/bin/q");
    assert_eq!(get(&q, "/usr/bin/q", "foo", "VERS_2"), "/usr/lib/libv.so");
    assert_eq!(get(&q, "/usr/bin/q", "nothere", ""), "(weak, undefined)");
    if oracle {
        for prog in ["/usr/bin/p", "/usr/bin/q", "/usr/bin/r"] {
            let (status, out, err) = t.run_real(prog, &[]);
            assert_eq!(status, 0, "{prog} failed: {out}{err}");
        }
        let mut agree = 0;
        let mut total = 0;
        for prog in ["/usr/bin/p", "/usr/bin/q", "/usr/bin/r"] {
            let m = cli_bindings(&t, prog);
            let (a, n) = compare(&t, prog, &m);
            agree += a;
            total += n;
        }
        eprintln!("bindings agreement: {agree}/{total}");
    }
}

#[test]
fn unresolved_symbols_are_reported() {
    if !have_gcc() {
        return;
    }
    let mut t = Tree::glibc("unresolved");
    // Linked against a libgone.so that had nosuchsym; the image's libgone.so does not.
    t.lib(
        "/usr/lib/libgone.so",
        Obj::new()
            .soname("libgone.so")
            .code("int nosuchsym(void) { return 0; }\n"),
    );
    let gone = format!("{}/usr/lib/libgone.so", t.root.display());
    t.prog(
        "/usr/bin/p",
        Obj::new()
            .code("int nosuchsym(void);\nint main(void) { return nosuchsym(); }\n")
            .args(&[&gone]),
    );
    t.lib(
        "/usr/lib/libgone.so",
        Obj::new()
            .soname("libgone.so")
            .code("int other(void) { return 0; }\n"),
    );
    let m = cli_bindings(&t, "/usr/bin/p");
    assert_eq!(get(&m, "/usr/bin/p", "nosuchsym", ""), "(undefined)");
    if have_oracle() {
        let (status, _, err) = t.run_real("/usr/bin/p", &[("LD_BIND_NOW", "1")]);
        assert_ne!(status, 0);
        assert!(
            err.contains("undefined symbol: nosuchsym"),
            "the real loader should fail on nosuchsym: {err}"
        );
    }
}
