//! Shared by the Go integration tests: the fixture binaries (built from tests/fixtures/go/ by
//! tests/fixtures/go-images.sh with Debian's Go toolchains), image trees holding them, and the
//! CLI's answers about them. Each test binary uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_dockergate");

/// The directory of the fixture binaries (`server-go119`, `server-gonew`, `cgoserver`, and the
/// unstripped `*-symbols`), built once per test binary; `None` (with a message) when no Go
/// toolchain is installed (`scripts/setup.sh --tests` installs them).
pub fn fixtures(test: &str) -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let script = root.join("tests/fixtures/go-images.sh");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("go-fixtures-{test}"));
        let status = Command::new("bash")
            .arg("-c")
            .arg("register_image() { :; }; source \"$1\" && go_fixture_binaries")
            .arg("bash")
            .arg(&script)
            .env("GO_FIXTURE_OUT", &out)
            .env(
                "GO_FIXTURE_CACHE",
                Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-cache"),
            )
            .status();
        match status {
            Ok(s) if s.success() => Some(out),
            _ => {
                eprintln!(
                    "skipped: the Go fixtures cannot be built here (install golang-go and golang-1.2x-go: scripts/setup.sh --tests)"
                );
                None
            }
        }
    })
    .as_deref()
}

/// A scratch image tree: the binary as /server and an /etc/passwd.
pub fn scratch_tree(binary: &Path) -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(t.path().join("etc")).unwrap();
    std::fs::copy(binary, t.path().join("server")).unwrap();
    std::fs::write(
        t.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\n",
    )
    .unwrap();
    t
}

/// `dockergate profile dir:TREE`: (exit status ok, profile, evidence, stderr).
pub fn profile(tree: &Path) -> (bool, serde_json::Value, serde_json::Value, String) {
    let p = tree.with_extension("profile.json");
    let e = tree.with_extension("evidence.json");
    let out = Command::new(BIN)
        .args(["profile", "--no-cache", "--scope", "image"])
        .arg(format!("dir:{}", tree.display()))
        .arg("-o")
        .arg(&p)
        .arg("--evidence")
        .arg(&e)
        .output()
        .expect("dockergate runs");
    let read = |f: &Path| {
        std::fs::read(f)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let r = (
        out.status.success(),
        read(&p),
        read(&e),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    let _ = std::fs::remove_file(&p);
    let _ = std::fs::remove_file(&e);
    r
}

/// The syscalls a profile allows without argument conditions.
pub fn allowed(profile: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none_or(|a| a.is_null()))
        .flat_map(|r| r["names"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The witness chain (function names) of an allowed syscall.
pub fn chain(evidence: &serde_json::Value, syscall: &str) -> Vec<String> {
    evidence["syscalls"][syscall]["witness"]["chain"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["function"].as_str().map(str::to_string))
        .collect()
}
