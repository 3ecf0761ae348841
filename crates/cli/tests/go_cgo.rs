//! A cgo binary (tests/fixtures/go/cgoserver: net with the cgo resolver, os/user through
//! getpwuid_r), built at test time with Debian's Go 1.19, in an image tree with this machine's
//! glibc: the C functions Go reaches through the cgo trampolines (`_cgo_*` and `x_cgo_*`, called
//! through function-pointer variables) are reached, and glibc is analysed as for C programs.
//! Skipped with a message when the Go toolchain or glibc is missing.

mod go;

use std::path::Path;
use std::process::Command;

/// An image tree: the cgo server, the host's glibc and loader.
fn tree(bin: &Path) -> Option<tempfile::TempDir> {
    let t = tempfile::tempdir().unwrap();
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    let ld = Path::new("/lib64/ld-linux-x86-64.so.2");
    if !libc.exists() || !ld.exists() {
        eprintln!("skipped: no glibc at the Debian paths");
        return None;
    }
    for (src, dst) in [
        (libc, "lib/x86_64-linux-gnu/libc.so.6"),
        (ld, "lib64/ld-linux-x86-64.so.2"),
        (bin, "usr/local/bin/cgoserver"),
    ] {
        let d = t.path().join(dst);
        std::fs::create_dir_all(d.parent().unwrap()).unwrap();
        std::fs::copy(std::fs::canonicalize(src).unwrap(), &d).unwrap();
    }
    std::fs::create_dir_all(t.path().join("etc")).unwrap();
    std::fs::write(
        t.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n",
    )
    .unwrap();
    Some(t)
}

#[test]
fn cgo_binary_reaches_c_through_the_trampolines() {
    let Some(dir) = go::fixtures("cgo") else {
        return;
    };
    let Some(t) = tree(&dir.join("cgoserver")) else {
        return;
    };
    // ls: a Go binary with cgo, dynamically linked.
    let out = Command::new(go::BIN)
        .args(["ls", "--json"])
        .arg(format!("dir:{}", t.path().display()))
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/usr/local/bin/cgoserver")
        .expect("listed");
    assert_eq!(row["go"]["cgo"], true, "{row}");
    assert_eq!(row["go"]["path"], "dockergate.test/cgoserver");
    assert_eq!(row["linkage"], "dynamic");

    let (ok, profile, evidence, err) = go::profile(t.path());
    assert!(ok, "{err}");
    assert_eq!(evidence["unresolved"].as_array().map(Vec::len), Some(0));
    let allowed = go::allowed(&profile);
    let p = evidence["programs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "/usr/local/bin/cgoserver")
        .expect("the program");
    assert_eq!(p["unresolved_sites"], 0);
    // The Go runtime's own syscalls are there...
    for s in [
        "clone",
        "futex",
        "epoll_pwait",
        "socket",
        "bind",
        "listen",
        "accept4",
    ] {
        assert!(allowed.iter().any(|a| a == s), "missing {s}");
    }
    // ...and what only glibc does for the C side: pthread_create's clone3 (x_cgo_init and
    // _cgo_thread_start create threads through it), getaddrinfo's DNS exchange.
    for s in ["clone3", "rseq", "sendmmsg"] {
        assert!(allowed.iter().any(|a| a == s), "missing {s}: {allowed:?}");
    }
    let c = go::chain(&evidence, "clone3");
    assert!(
        c.iter().any(|f| f.contains("cgo")) && c.iter().any(|f| f.starts_with("pthread_create")),
        "clone3 through the cgo thread start: {c:?}"
    );
    // Some witness goes from the Go object through a cgo trampoline into glibc.
    let through_cgo = evidence["syscalls"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v["witness"]["chain"].as_array())
        .any(|ch| {
            let names: Vec<(&str, &str)> = ch
                .iter()
                .map(|s| {
                    (
                        s["object"].as_str().unwrap_or(""),
                        s["function"].as_str().unwrap_or(""),
                    )
                })
                .collect();
            names.iter().any(|(o, f)| {
                o.ends_with("cgoserver") && (f.starts_with("_cgo_") || f.starts_with("x_cgo_"))
            }) && names.iter().any(|(o, _)| o.contains("libc.so"))
        });
    assert!(
        through_cgo,
        "no witness through a cgo trampoline into glibc"
    );
}
