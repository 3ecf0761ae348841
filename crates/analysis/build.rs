//! Derives `ANALYSIS_VERSION` from the analysis sources: any change to how summaries are
//! computed changes every cache key, so a cache can never return a result of another analyser.

use std::path::Path;

fn visit(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            visit(&p, files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    visit(&root.join("src"), &mut files);
    // The ELF model feeds the analysis too.
    visit(&root.join("../elf/src"), &mut files);
    files.sort();
    // FNV-1a over file names and contents.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for x in b {
            h ^= *x as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    };
    for f in &files {
        let rel = f.strip_prefix(root).unwrap_or(f);
        eat(rel.to_string_lossy().as_bytes());
        eat(&std::fs::read(f).unwrap_or_default());
    }
    let version = (h ^ (h >> 32)) as u32;
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(
        Path::new(&out).join("version.rs"),
        format!("/// The version of the analysis (a digest of its sources): part of every cache key.\npub const ANALYSIS_VERSION: u32 = {version:#010x};\n"),
    )
    .expect("write version.rs");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=../elf/src");
}
