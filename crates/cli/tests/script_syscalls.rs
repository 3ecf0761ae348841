//! Perl's `syscall` builtin end to end: perl's code hands a script's number to libc's
//! `syscall()`, so the image's perl scripts say which calls it makes
//! (crates/scripts/src/raw_syscall.rs). The host's perl and its libraries in a docker-archive.

#[path = "support/host_image.rs"]
mod host_image;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use host_image::{allowed_names, copy_with_libraries, docker_archive};

const BIN: &str = env!("CARGO_BIN_EXE_dockergate");
const PERL: &str = "/usr/bin/perl";

/// An image with perl and `scripts` (image path, text).
fn image(d: &Path, name: &str, scripts: &[(&str, &str)]) -> PathBuf {
    let root = d.join(name);
    copy_with_libraries(&root, &[PERL]);
    for (path, text) in scripts {
        let dest = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, text).unwrap();
    }
    let out = d.join(format!("{name}.tar"));
    docker_archive(&root, &["perl", "/app/main.pl"], &out);
    out
}

fn profile(image: &Path) -> (Output, Vec<String>, serde_json::Value) {
    let p = image.with_extension("json");
    let e = image.with_extension("evidence.json");
    let out = Command::new(BIN)
        .args(["profile", "--no-cache", "--scope", "image"])
        .arg(format!("docker-archive:{}", image.display()))
        .arg("-o")
        .arg(&p)
        .arg("--evidence")
        .arg(&e)
        .output()
        .unwrap();
    if !out.status.success() {
        return (out, Vec::new(), serde_json::Value::Null);
    }
    let allowed = allowed_names(&p);
    let evidence = serde_json::from_slice(&std::fs::read(&e).unwrap()).unwrap();
    (out, allowed, evidence)
}

fn have_perl() -> bool {
    let ok = Path::new(PERL).exists();
    if !ok {
        eprintln!("skipped: no {PERL} on this machine");
    }
    ok
}

/// A script's `syscall(&SYS_kcmp, …)` allows kcmp (which perl's own code never makes); a
/// `syscall.ph` name this architecture lacks (perl's own Sys/Hostname.pm asks for
/// `SYS_gethostname`) allows nothing and leaves nothing unresolved.
#[test]
fn numbers_named_by_scripts_are_allowed() {
    if !have_perl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let hostname = "eval { require \"syscall.ph\"; syscall(&SYS_gethostname, $host, 65) == 0; }\n";
    let plain = image(
        d.path(),
        "plain",
        &[
            ("/app/main.pl", "print \"hello\\n\";\n"),
            ("/usr/lib/perl/Sys/Hostname.pm", hostname),
        ],
    );
    let (out, allowed, _) = profile(&plain);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!allowed.iter().any(|n| n == "kcmp"), "{allowed:?}");

    let named = image(
        d.path(),
        "named",
        &[
            ("/app/main.pl", "print \"hello\\n\";\n"),
            ("/usr/lib/perl/Sys/Hostname.pm", hostname),
            (
                "/usr/share/perl5/My/Same.pm",
                "package My::Same;\nrequire 'syscall.ph';\n\nsub same { syscall(&SYS_kcmp, $$, $$, 0, 1, 1) == 0 }\n1;\n",
            ),
        ],
    );
    let (out, allowed, evidence) = profile(&named);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(allowed.iter().any(|n| n == "kcmp"), "{allowed:?}");
    let from = evidence["syscalls"]["kcmp"]["witness"]["number_from"]
        .as_str()
        .unwrap_or_default();
    assert!(from.contains("/usr/share/perl5/My/Same.pm:4"), "{from}");
    assert!(evidence["unresolved"].as_array().unwrap().is_empty());
}

/// `syscall($nr, …)`: the number is computed at run time; the profile is refused (the default
/// for unresolved sites) and the warning names the script line.
#[test]
fn a_number_computed_at_run_time_stays_unresolved() {
    if !have_perl() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = image(
        d.path(),
        "computed",
        &[("/app/main.pl", "my $nr = shift;\nsyscall($nr, 0);\n")],
    );
    let (out, _, _) = profile(&img);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("/app/main.pl:2"), "{stderr}");
    assert!(stderr.contains("unknown number"), "{stderr}");
}
