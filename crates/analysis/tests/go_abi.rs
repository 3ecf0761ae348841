//! Go's calling conventions in the data flow, on small functions assembled here (GNU as through
//! gcc) into an object that carries a Go function table (`.gopclntab`, Go 1.20 layout, written
//! by the assembler), so that the analysis treats them as Go functions: ABIInternal numbers in
//! AX, ABI0 numbers on the stack, spills into the function's own frame around calls, and the
//! argument area a callee may write (its declared `args` size).

mod support;

use dockergate_analysis::{analyze_object, Atom, CallTarget, FnAbi, FnOrigin, Loc, ObjectSummary};

/// (name, args) of the Go functions below, in address order.
const GO_FUNCS: &[(&str, i32)] = &[
    ("runtime.entersyscall", 0),
    ("runtime.bigargs", 0x48),
    ("syscall.Syscall6", 0),
    ("syscall.spill_local", 0x20),
    ("syscall.spill_overwritten", 0x20),
    ("syscall.spill_indirect", 0x20),
    ("syscall.spill_escapes", 0x20),
    ("syscall.in_rbx", 0x20),
    ("syscall.abi0", 0x20),
    ("main.caller", 0),
    ("main.caller_abi0", 0),
];

const CODE: &str = r#"
text_start:
runtime.entersyscall:
    ret
    int3
runtime.bigargs:
    ret
    int3
syscall.Syscall6:
    syscall
    ret
# Go 1.19's syscall.Syscall: the number spilled into the function's own frame around a call to a
# function that writes none of it (args 0).
syscall.spill_local:
    sub rsp, 0x68
    mov [rsp+0x40], rax
    call runtime.entersyscall
    mov rax, [rsp+0x40]
    call syscall.Syscall6
    add rsp, 0x68
    ret
# The callee's argument area (0x48 bytes above the stack pointer) covers the spill slot.
syscall.spill_overwritten:
    sub rsp, 0x68
    mov [rsp+0x40], rax
    call runtime.bigargs
    mov rax, [rsp+0x40]
    call syscall.Syscall6
    add rsp, 0x68
    ret
# An unknown callee may write the whole frame.
syscall.spill_indirect:
    sub rsp, 0x68
    mov [rsp+0x40], rax
    call rdx
    mov rax, [rsp+0x40]
    call syscall.Syscall6
    add rsp, 0x68
    ret
# The slot's address is passed on: the callee may write it.
syscall.spill_escapes:
    sub rsp, 0x68
    mov [rsp+0x40], rax
    lea rbx, [rsp+0x40]
    call runtime.entersyscall
    mov rax, [rsp+0x40]
    call syscall.Syscall6
    add rsp, 0x68
    ret
# Go keeps nothing in registers across a call (rbx is callee-saved only in System V).
syscall.in_rbx:
    sub rsp, 0x18
    mov rbx, rax
    call runtime.entersyscall
    mov rax, rbx
    call syscall.Syscall6
    add rsp, 0x18
    ret
# ABI0 (assembly, Go before 1.17): the number on the stack above the return address.
syscall.abi0:
    mov rax, [rsp+8]
    syscall
    ret
main.caller:
    sub rsp, 0x28
    mov eax, 263
    call syscall.spill_local
    mov eax, 39
    call syscall.spill_overwritten
    add rsp, 0x28
    ret
main.caller_abi0:
    sub rsp, 0x28
    mov qword ptr [rsp], 121
    call syscall.abi0
    add rsp, 0x28
    ret
text_end:
"#;

/// The `.gopclntab` section for `GO_FUNCS`, as assembler directives.
fn pclntab() -> String {
    let mut s = String::from(".section .gopclntab,\"a\"\n.balign 8\npcln_start:\n");
    s += ".long 0xfffffff1\n.byte 0, 0, 1, 8\n";
    s += &format!(".quad {}\n.quad 0\n.quad text_start\n", GO_FUNCS.len());
    s += ".quad names - pcln_start\n.quad 0\n.quad 0\n.quad 0\n.quad functab - pcln_start\n";
    s += "names:\n";
    for (i, (n, _)) in GO_FUNCS.iter().enumerate() {
        s += &format!("name{i}: .asciz \"{n}\"\n");
    }
    s += ".balign 4\nfunctab:\n";
    for (i, (n, _)) in GO_FUNCS.iter().enumerate() {
        s += &format!(".long {n} - text_start\n.long func{i} - functab\n");
    }
    s += ".long text_end - text_start\n";
    for (i, (_, args)) in GO_FUNCS.iter().enumerate() {
        let n = GO_FUNCS[i].0;
        s += &format!(
            "func{i}: .long {n} - text_start\n.long name{i} - names\n.long {args}\n.long 0, 0, 0, 0, 0, 0, 0, 0\n"
        );
    }
    s
}

fn assemble() -> Option<(ObjectSummary, dockergate_elf::ElfObject)> {
    let bytes = support::shared_object(
        &format!(".intel_syntax noprefix\n.text\n{CODE}\n{}\n", pclntab()),
        &["-Wl,-z,norelro"],
    )?;
    let elf = dockergate_elf::parse_elf(&bytes).ok()?;
    std::env::set_var("DG_FULL_DATAFLOW", "1");
    let s = analyze_object(&bytes, &elf).ok()?;
    Some((s, elf))
}

fn func<'a>(s: &'a ObjectSummary, name: &str) -> (u32, &'a dockergate_analysis::Function) {
    s.functions
        .iter()
        .enumerate()
        .find(|(_, f)| f.name.as_deref() == Some(name))
        .map(|(i, f)| (i as u32, f))
        .unwrap_or_else(|| panic!("no function {name}"))
}

/// What `name` passes in `loc` to its call of `callee`.
fn passes(s: &ObjectSummary, name: &str, callee: &str, loc: Loc) -> (Vec<Atom>, bool) {
    let (target, _) = func(s, callee);
    let (_, f) = func(s, name);
    let c = f
        .calls
        .iter()
        .find(|c| c.target == CallTarget::Local(target))
        .unwrap_or_else(|| panic!("{name} does not call {callee}"));
    let v = c.arg(loc);
    (v.atoms.to_vec(), v.unknown)
}

#[test]
fn go_functions_come_from_the_table_with_their_abi() {
    let Some((s, elf)) = assemble() else { return };
    let go = elf.go.as_ref().expect("recognised as Go");
    assert_eq!(go.pclntab.map(|p| p.layout.as_str()), Some("1.20"));
    for (n, _) in GO_FUNCS {
        let (_, f) = func(&s, n);
        assert_eq!(f.abi, FnAbi::Go, "{n}");
        assert!(
            matches!(f.origin, FnOrigin::GoPclntab | FnOrigin::Symbol),
            "{n}: {:?}",
            f.origin
        );
    }
}

#[test]
fn numbers_through_go_conventions() {
    let Some((s, _)) = assemble() else { return };
    let rax = Loc::Reg(0);
    // The syscall instruction takes the number from AX at entry.
    let (_, f) = func(&s, "syscall.Syscall6");
    assert_eq!(f.syscalls[0].number.atoms[..], [Atom::Param(rax)]);
    // A spill into the own frame survives a call whose argument area does not cover it.
    assert_eq!(
        passes(&s, "syscall.spill_local", "syscall.Syscall6", rax),
        (vec![Atom::Param(rax)], false)
    );
    // Not when the callee's declared argument area covers the slot, the callee is unknown, or
    // the slot's address escapes to the callee.
    for f in [
        "syscall.spill_overwritten",
        "syscall.spill_indirect",
        "syscall.spill_escapes",
        "syscall.in_rbx",
    ] {
        let (atoms, unknown) = passes(&s, f, "syscall.Syscall6", rax);
        assert!(unknown && atoms.is_empty(), "{f}: {atoms:?}");
    }
    // Constants at the call sites.
    assert_eq!(
        passes(&s, "main.caller", "syscall.spill_local", rax),
        (vec![Atom::Const(263)], false)
    );
    // ABI0: the number is the stack slot above the return address, and the caller's outgoing
    // area supplies it.
    let (_, f) = func(&s, "syscall.abi0");
    assert_eq!(f.syscalls[0].number.atoms[..], [Atom::Param(Loc::Stack(8))]);
    assert_eq!(
        passes(&s, "main.caller_abi0", "syscall.abi0", Loc::Stack(8)),
        (vec![Atom::Const(121)], false)
    );
}
