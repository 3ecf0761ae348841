//! Lazy PLT entries (`jmp *slot(%rip); push $n; jmp plt0`) get the facts their data flow would
//! give without running it: the summary must be the one the whole data flow gives, and a call
//! through a stub must still carry the caller's arguments to the library's function.

mod support;

use dockergate_analysis::{analyze_object, analyze_object_without_plt_shortcut, CallTarget, Loc};

/// A shared object whose calls to other libraries go through lazy PLT entries (assembled here,
/// GNU as through gcc), or None when gcc cannot build it.
fn lazy_plt_object() -> Option<Vec<u8>> {
    let source = r#"
.intel_syntax noprefix
.text
.globl kill_it
kill_it:
    mov edi, 62
    mov esi, 9
    jmp syscall@PLT
.globl both
both:
    sub rsp, 8
    call getpid@PLT
    mov edi, eax
    call kill_it
    add rsp, 8
    jmp abort@PLT
"#;
    support::shared_object(source, &["-Wl,-z,lazy"])
}

fn same_summary_both_ways(bytes: &[u8], what: &str) -> dockergate_analysis::ObjectSummary {
    let elf = dockergate_elf::parse_elf(bytes).expect("parses");
    let shortcut = analyze_object(bytes, &elf).expect("analysed");
    let whole = analyze_object_without_plt_shortcut(bytes, &elf).expect("analysed");
    assert!(
        shortcut == whole,
        "{what}: the PLT shortcut changes the summary"
    );
    shortcut
}

#[test]
fn a_lazy_plt_entry_passes_every_argument_to_the_function_it_binds_to() {
    let Some(bytes) = lazy_plt_object() else {
        return;
    };
    let summary = same_summary_both_ways(&bytes, "assembled object");
    let elf = dockergate_elf::parse_elf(&bytes).expect("parses");
    // The stub named after `syscall` jumps to that symbol, passing rdi and rsi through, so that
    // the caller's number (62, kill) reaches the C library's wrapper.
    let stub = summary
        .functions
        .iter()
        .find(|f| {
            f.calls.iter().any(|c| {
                matches!(c.target, CallTarget::Symbol(s)
                    if elf.dynsym.get(s as usize).is_some_and(|d| d.name == "syscall"))
            })
        })
        .expect("a stub that jumps to syscall");
    let call = &stub.calls[0];
    assert!(call.tail && call.args_known, "{call:?}");
    for loc in [Loc::Reg(7), Loc::Reg(6), Loc::Stack(8)] {
        let v = call.arg(loc);
        assert!(
            !v.unknown && v.atoms.len() == 1,
            "{loc:?} is not passed through: {call:?}"
        );
    }
}

#[test]
fn the_plt_shortcut_gives_the_same_summary_on_real_libraries() {
    // Debian's libraries with lazy PLT entries (libcrypto has thousands), where present.
    let mut seen = 0;
    for path in [
        "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/bin/bash",
    ] {
        if let Ok(bytes) = std::fs::read(path) {
            same_summary_both_ways(&bytes, path);
            seen += 1;
        }
    }
    if seen == 0 {
        eprintln!("skipped: none of the libraries is here");
    }
}
