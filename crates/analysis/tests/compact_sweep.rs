//! Very large objects are swept compactly (addresses only, each function decoded again when
//! needed): the summary must be the one the full sweep gives, on real code.

use dockergate_analysis::{analyze_object, analyze_object_compact_sweep};

fn same_summary_both_ways(path: &str) {
    let Ok(bytes) = std::fs::read(path) else {
        eprintln!("skipped: no {path} here");
        return;
    };
    let elf = dockergate_elf::parse_elf(&bytes).expect("parses");
    let full = analyze_object(&bytes, &elf).expect("full sweep");
    let compact = analyze_object_compact_sweep(&bytes, &elf).expect("compact sweep");
    assert!(
        full.functions.len() > 100,
        "{path}: {}",
        full.functions.len()
    );
    assert!(full == compact, "{path}: the two sweeps disagree");
}

#[test]
fn the_compact_sweep_gives_the_same_summary_on_libc() {
    same_summary_both_ways("/usr/lib/x86_64-linux-gnu/libc.so.6");
}

#[test]
fn the_compact_sweep_gives_the_same_summary_on_a_large_program() {
    // This test's own binary: Rust code with many functions, jump tables, unwinding.
    let me = std::env::current_exe().expect("current exe");
    same_summary_both_ways(me.to_str().expect("utf-8 path"));
}
