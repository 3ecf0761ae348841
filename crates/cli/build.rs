//! Derives `TOOL_VERSION`: a digest of the sources of every crate of the workspace and of
//! Cargo.lock (the dependencies, e.g. the kernel's syscall tables). A whole image report kept in
//! the cache is keyed by it: any change anywhere in the tool makes old reports unreachable.

use std::path::{Path, PathBuf};

fn visit(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            visit(&p, files);
        } else {
            files.push(p);
        }
    }
}

fn main() {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
    let crates = cli.join("..");
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&crates) {
        for e in rd.flatten() {
            let c = e.path();
            visit(&c.join("src"), &mut files);
            files.push(c.join("Cargo.toml"));
            dirs.push(c);
        }
    }
    let lock = crates.join("../Cargo.lock");
    files.push(lock.clone());
    files.sort();
    // FNV-1a (64 bits) over names and contents.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for x in b {
            h ^= *x as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    };
    for f in &files {
        let rel = f.strip_prefix(&crates).unwrap_or(f);
        eat(rel.to_string_lossy().as_bytes());
        eat(&std::fs::read(f).unwrap_or_default());
    }
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(
        Path::new(&out).join("tool_version.rs"),
        format!("/// A digest of every source of the tool: part of the key of cached image reports.\npub const TOOL_VERSION: u64 = {h:#018x};\n"),
    )
    .expect("write tool_version.rs");
    dirs.sort();
    for d in dirs {
        println!("cargo:rerun-if-changed={}", d.join("src").display());
        println!("cargo:rerun-if-changed={}", d.join("Cargo.toml").display());
    }
    println!("cargo:rerun-if-changed={}", lock.display());
}
