//! The vDSO fallbacks: where a program can use the vDSO, the syscall it falls back to when the
//! vDSO is absent is allowed too. Go's runtime does it for clock_gettime (checked on the Go
//! fixtures in go_static.rs); glibc for clock_gettime, gettimeofday, time and getcpu (through
//! IFUNC resolvers that pick the vDSO function or a syscall, or a test inside the function).
//! Checked here on a C program built with gcc against this machine's glibc. Skipped with a
//! message when gcc or glibc is missing.

mod go;

use std::path::Path;
use std::process::Command;

#[test]
fn glibc_vdso_functions_keep_their_syscall_fallback() {
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    let ld = Path::new("/lib64/ld-linux-x86-64.so.2");
    if !libc.exists() || !ld.exists() {
        eprintln!("skipped: no glibc at the Debian paths");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("vdso.c");
    std::fs::write(
        &src,
        r#"#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
int main(void) {
    struct timespec ts; struct timeval tv;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    gettimeofday(&tv, 0);
    printf("%ld %ld %ld %d\n", (long)ts.tv_sec, (long)tv.tv_sec, (long)time(0), sched_getcpu());
    return 0;
}
"#,
    )
    .unwrap();
    let root = t.path().join("root");
    let bin = root.join("usr/bin/vdso");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    let ok = Command::new("gcc")
        .arg("-O1")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: gcc cannot build here");
        return;
    }
    for (src, dst) in [
        (libc, "lib/x86_64-linux-gnu/libc.so.6"),
        (ld, "lib64/ld-linux-x86-64.so.2"),
    ] {
        let d = root.join(dst);
        std::fs::create_dir_all(d.parent().unwrap()).unwrap();
        std::fs::copy(std::fs::canonicalize(src).unwrap(), &d).unwrap();
    }
    let (ok, profile, evidence, err) = go::profile(&root);
    assert!(ok, "{err}");
    assert_eq!(evidence["unresolved"].as_array().map(Vec::len), Some(0));
    let allowed = go::allowed(&profile);
    for s in ["clock_gettime", "gettimeofday", "time", "getcpu"] {
        assert!(allowed.iter().any(|a| a == s), "missing {s}: {allowed:?}");
    }
}
