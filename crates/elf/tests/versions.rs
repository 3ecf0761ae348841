//! Symbol versions read from real files of the host (skipped when they are not there).

use dockergate_elf::parse_elf;

#[test]
fn references_carry_their_needed_version_and_file() {
    let Ok(bytes) = std::fs::read("/bin/ls") else {
        eprintln!("SKIP: no /bin/ls");
        return;
    };
    let elf = parse_elf(&bytes).unwrap();
    let versioned: Vec<_> = elf
        .imports()
        .filter(|(_, s)| s.version.is_some())
        .map(|(_, s)| s)
        .collect();
    assert!(
        versioned.len() > 20,
        "most imports of ls are versioned, got {}",
        versioned.len()
    );
    for s in versioned {
        let v = s.version.as_deref().unwrap();
        let file = s.version_file.as_deref();
        if v.starts_with("GLIBC_") {
            assert_eq!(file, Some("libc.so.6"), "{}@{v}", s.name);
        } else {
            assert!(file.is_some_and(|f| f != "libc.so.6"), "{}@{v}", s.name);
        }
        assert!(s.version_index >= 2);
    }
}

#[test]
fn definitions_carry_their_version_and_hidden_bit() {
    let Ok(bytes) = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6") else {
        eprintln!("SKIP: no libc.so.6");
        return;
    };
    let elf = parse_elf(&bytes).unwrap();
    let defs: Vec<_> = elf
        .exports()
        .filter(|(_, s)| s.name == "memcpy")
        .map(|(_, s)| s)
        .collect();
    // memcpy@GLIBC_2.2.5 (old, hidden) and memcpy@@GLIBC_2.14 (default).
    assert!(defs
        .iter()
        .any(|s| s.version.as_deref() == Some("GLIBC_2.14") && !s.hidden));
    assert!(defs
        .iter()
        .any(|s| s.version.as_deref() == Some("GLIBC_2.2.5") && s.hidden));
    // Its references to ld.so's private symbols are versioned too.
    assert!(elf
        .imports()
        .any(|(_, s)| s.name == "_dl_argv" && s.version.as_deref() == Some("GLIBC_PRIVATE")));
}
