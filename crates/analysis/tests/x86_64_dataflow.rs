//! The x86-64 data flow on small functions assembled here (GNU as through gcc): where a syscall
//! number comes from at each syscall instruction.

mod support;

use dockergate_analysis::{analyze_object, Atom, Loc, ObjectSummary};

/// Assembles `body` (Intel syntax, functions as global labels) into a shared object.
fn assemble(body: &str) -> Option<ObjectSummary> {
    let bytes = support::shared_object(&format!(".intel_syntax noprefix\n.text\n{body}\n"), &[])?;
    let elf = dockergate_elf::parse_elf(&bytes).ok()?;
    // Data flow everywhere, so that every site is resolved as far as it can be.
    std::env::set_var("DG_FULL_DATAFLOW", "1");
    analyze_object(&bytes, &elf).ok()
}

/// The atoms (and unknown flag) of the syscall site(s) of function `name`.
fn numbers(s: &ObjectSummary, name: &str) -> (Vec<Atom>, bool) {
    let f = s
        .functions
        .iter()
        .find(|f| f.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no function {name}"));
    let mut atoms = Vec::new();
    let mut unknown = false;
    for site in &f.syscalls {
        atoms.extend(site.number.atoms.iter().copied());
        unknown |= site.number.unknown;
    }
    atoms.sort();
    atoms.dedup();
    (atoms, unknown)
}

const FUNCS: &str = r#"
.globl constant
constant:
    mov eax, 39
    syscall
    ret
.globl from_rdi
from_rdi:
    mov eax, edi
    syscall
    ret
.globl spill_across_call
spill_across_call:
    push rbx
    sub rsp, 16
    mov [rsp+8], edi
    call constant
    mov eax, [rsp+8]
    syscall
    add rsp, 16
    pop rbx
    ret
.globl both_arms
both_arms:
    cmp edi, 0
    je 1f
    mov eax, 62
    jmp 2f
1:  mov eax, 200
2:  syscall
    ret
.globl seventh_argument
seventh_argument:
    mov rax, [rsp+8]
    syscall
    ret
.globl through_pointer
through_pointer:
    mov eax, [rdi+8]
    syscall
    ret
.globl indexed_unknown
indexed_unknown:
    mov eax, [rdi+rsi*4]
    syscall
    ret
.globl rbp_frame
rbp_frame:
    push rbp
    mov rbp, rsp
    mov dword ptr [rbp-4], 231
    mov eax, [rbp-4]
    syscall
    leave
    ret
.globl counting_loop
counting_loop:
    xor ecx, ecx
3:  add ecx, 1
    cmp ecx, 100
    jne 3b
    mov eax, 60
    syscall
    ret
"#;

#[test]
fn syscall_numbers_by_data_flow() {
    let Some(s) = assemble(FUNCS) else { return };
    assert_eq!(numbers(&s, "constant"), (vec![Atom::Const(39)], false));
    assert_eq!(
        numbers(&s, "from_rdi"),
        (vec![Atom::Param(Loc::Reg(7))], false)
    );
    assert_eq!(
        numbers(&s, "spill_across_call"),
        (vec![Atom::Param(Loc::Reg(7))], false)
    );
    assert_eq!(
        numbers(&s, "both_arms"),
        (vec![Atom::Const(62), Atom::Const(200)], false)
    );
    assert_eq!(
        numbers(&s, "seventh_argument"),
        (vec![Atom::Param(Loc::Stack(8))], false)
    );
    assert_eq!(
        numbers(&s, "through_pointer"),
        (vec![Atom::Param(Loc::RegDeref(7, 8))], false)
    );
    assert_eq!(numbers(&s, "indexed_unknown"), (vec![], true));
    assert_eq!(numbers(&s, "rbp_frame"), (vec![Atom::Const(231)], false));
    assert_eq!(numbers(&s, "counting_loop"), (vec![Atom::Const(60)], false));
}

#[test]
fn calls_record_what_they_pass() {
    let Some(s) = assemble(
        r#"
.globl callee
callee:
    mov eax, edi
    syscall
    ret
.globl caller
caller:
    sub rsp, 8
    mov edi, 102
    call callee
    add rsp, 8
    ret
"#,
    ) else {
        return;
    };
    let caller = s
        .functions
        .iter()
        .find(|f| f.name.as_deref() == Some("caller"))
        .expect("caller");
    let call = caller
        .calls
        .iter()
        .find(|c| c.args_known)
        .expect("a call with values");
    assert_eq!(call.arg(Loc::Reg(7)).atoms[..], [Atom::Const(102)]);
}

/// A call through a writable function-pointer variable goes to its initial target or to
/// whatever the program stored there since: both a call to the initial target and an indirect
/// call. Through RELRO data (`.data.rel.ro`) only the initial target.
#[test]
fn calls_through_writable_pointers_are_also_indirect() {
    let Some(s) = assemble(
        "
.globl target_a
target_a:
    ret
.globl via_writable
via_writable:
    call [rip + hook]
    ret
.globl via_relro
via_relro:
    call [rip + fixed]
    ret
.globl tail_writable
tail_writable:
    jmp [rip + hook]
.data
hook: .quad target_a
.section .data.rel.ro,\"aw\"
fixed: .quad target_a
",
    ) else {
        return;
    };
    let calls = |name: &str| -> Vec<dockergate_analysis::CallTarget> {
        s.functions
            .iter()
            .find(|f| f.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no {name}"))
            .calls
            .iter()
            .map(|c| c.target)
            .collect()
    };
    use dockergate_analysis::CallTarget;
    let w = calls("via_writable");
    assert!(w.contains(&CallTarget::Indirect), "{w:?}");
    assert!(w.iter().any(|t| *t != CallTarget::Indirect), "{w:?}");
    let t = calls("tail_writable");
    assert!(t.contains(&CallTarget::Indirect), "{t:?}");
    let r = calls("via_relro");
    assert!(!r.contains(&CallTarget::Indirect), "{r:?}");
    assert_eq!(r.len(), 1, "{r:?}");
}
