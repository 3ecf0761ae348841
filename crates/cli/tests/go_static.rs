//! Static, stripped Go binaries (`CGO_ENABLED=0`, `-trimpath -ldflags=-s -w`), built at test
//! time with Debian's Go 1.19 and with the newest Go of bookworm-backports (another function
//! table layout and `moduledata`): the fixture HTTP server of tests/fixtures/go/server.
//!
//! - `ls` recognises them (version, main package, no cgo, table layout);
//! - the function table parser agrees with the symbol table of the same build unstripped;
//! - the syscall numbers resolve through every wrapper layer of the `syscall` package, on both
//!   versions (register ABI, spills around `runtime.entersyscall`);
//! - the profile holds what the program's code does: os.Remove's unlinkat, net.Listen's socket,
//!   setsockopt, bind and listen, the runtime's clone, futex, mmap, rt_sigaction, sigaltstack and
//!   epoll calls, the vDSO fallback of clock_gettime, the constants passed to syscall.Syscall and
//!   syscall.RawSyscall; nothing unresolved.
//!
//! Skipped with a message when the Go toolchains are missing.

mod go;

use std::path::Path;
use std::process::Command;

use dockergate_analysis::{analyze_object, Atom, CallTarget, Loc, ObjectSummary};

const VERSIONS: [&str; 2] = ["server-go119", "server-gonew"];

fn summary(path: &Path) -> (ObjectSummary, dockergate_elf::ElfObject, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let elf = dockergate_elf::parse_elf(&bytes).unwrap();
    let s = analyze_object(&bytes, &elf).unwrap();
    (s, elf, bytes)
}

fn index(s: &ObjectSummary, name: &str) -> Option<u32> {
    s.functions
        .iter()
        .position(|f| f.name.as_deref() == Some(name))
        .map(|i| i as u32)
}

#[test]
fn ls_recognises_go_binaries() {
    let Some(dir) = go::fixtures("static") else {
        return;
    };
    for (bin, layouts) in [
        ("server-go119", &["1.18"][..]),
        ("server-gonew", &["1.20"][..]),
    ] {
        let t = go::scratch_tree(&dir.join(bin));
        let out = Command::new(go::BIN)
            .args(["ls", "--json"])
            .arg(format!("dir:{}", t.path().display()))
            .output()
            .unwrap();
        assert!(out.status.success());
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"] == "/server")
            .expect("/server listed");
        let g = &row["go"];
        let version = g["version"].as_str().unwrap_or("");
        assert!(version.starts_with("go1."), "{bin}: {g}");
        if bin == "server-go119" {
            assert!(version.starts_with("go1.19"), "{bin}: {version}");
        } else {
            let minor: u32 = version[4..].split('.').next().unwrap().parse().unwrap();
            assert!(minor >= 21, "{bin}: {version}");
        }
        assert_eq!(g["path"], "dockergate.test/goserver", "{bin}");
        assert_eq!(g["cgo"], false, "{bin}");
        assert!(
            layouts.contains(&g["pclntab"].as_str().unwrap_or("")),
            "{bin}: {g}"
        );
        assert_eq!(row["linkage"], "static");
        // The text listing carries the same facts.
        let out = Command::new(go::BIN)
            .arg("ls")
            .arg(format!("dir:{}", t.path().display()))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("go {version} dockergate.test/goserver no-cgo")),
            "{text}"
        );
    }
}

#[test]
fn function_table_matches_the_symbol_table() {
    let Some(dir) = go::fixtures("static") else {
        return;
    };
    for bin in VERSIONS {
        let bytes = std::fs::read(dir.join(format!("{bin}-symbols"))).unwrap();
        let elf = dockergate_elf::parse_elf(&bytes).unwrap();
        let mut w = Vec::new();
        let g =
            dockergate_analysis::go::GoObject::from_elf(&elf, &bytes, &mut w).expect("a Go object");
        assert!(w.is_empty(), "{bin}: {w:?}");
        assert!(g.moduledata.is_some(), "{bin}: moduledata found");
        // Every function of the table is a function symbol at the same address, same name.
        let syms: std::collections::HashMap<u64, Vec<&str>> =
            elf.symtab_functions
                .iter()
                .fold(Default::default(), |mut m, s| {
                    m.entry(s.value).or_default().push(s.name.as_str());
                    m
                });
        assert!(g.funcs.len() > 3000, "{bin}: {} functions", g.funcs.len());
        for f in &g.funcs {
            // The symbol table marks assembly (ABI0) functions with a `.abi0` suffix.
            let names = syms.get(&f.entry).cloned().unwrap_or_default();
            // The table abbreviates type arguments and array lengths as `[...]`, and writes
            // the middle dot the symbol table spells `.`.
            let name = f.name.replace('·', ".");
            let abi0 = format!("{name}.abi0");
            let parts: Vec<&str> = name.split("[...]").collect();
            let abbreviated = |n: &&str| {
                parts.len() > 1
                    && n.starts_with(parts[0])
                    && n.trim_end_matches(".abi0")
                        .ends_with(parts[parts.len() - 1])
            };
            assert!(
                names.contains(&name.as_str())
                    || names.contains(&abi0.as_str())
                    || names.iter().any(abbreviated),
                "{bin}: {} at {:#x} not in the symbol table ({names:?})",
                f.name,
                f.entry
            );
        }
        // Every Go text symbol is in the table (the markers runtime.text/etext aside).
        let entries: std::collections::HashSet<u64> = g.funcs.iter().map(|f| f.entry).collect();
        let missing: Vec<&str> = elf
            .symtab_functions
            .iter()
            .filter(|s| s.kind == dockergate_elf::SymKind::Func)
            .filter(|s| !matches!(s.name.as_str(), "runtime.text" | "runtime.etext"))
            .filter(|s| !entries.contains(&s.value))
            .map(|s| s.name.as_str())
            .collect();
        assert!(missing.is_empty(), "{bin}: not in the table: {missing:?}");
        // The stripped build has the same table.
        let stripped = std::fs::read(dir.join(bin)).unwrap();
        let selv = dockergate_elf::parse_elf(&stripped).unwrap();
        assert!(selv.symtab_functions.is_empty(), "{bin} is stripped");
        let gs = dockergate_analysis::go::GoObject::from_elf(&selv, &stripped, &mut w).expect("Go");
        assert_eq!(
            gs.funcs.iter().map(|f| &f.name).collect::<Vec<_>>(),
            g.funcs.iter().map(|f| &f.name).collect::<Vec<_>>(),
            "{bin}"
        );
    }
}

#[test]
fn syscall_numbers_through_every_wrapper_layer() {
    let Some(dir) = go::fixtures("static") else {
        return;
    };
    let rax = Loc::Reg(0);
    for bin in VERSIONS {
        let (s, _, _) = summary(&dir.join(bin));
        let passes = |from: u32, to: &str, loc: Loc| -> Vec<(Vec<Atom>, bool)> {
            let to = index(&s, to).unwrap_or_else(|| panic!("{bin}: no {to}"));
            s.functions[from as usize]
                .calls
                .iter()
                .filter(|c| c.target == CallTarget::Local(to))
                .map(|c| {
                    assert!(c.args_known, "{bin}: call at {:#x} not completed", c.addr);
                    let v = c.arg(loc);
                    (v.atoms.to_vec(), v.unknown)
                })
                .collect()
        };
        let named = |n: &str| index(&s, n).unwrap_or_else(|| panic!("{bin}: no {n}"));
        // The assembly at the bottom: the number is AX at entry.
        let asm = [
            "runtime/internal/syscall.Syscall6",
            "internal/runtime/syscall.Syscall6",
        ]
        .iter()
        .find_map(|n| index(&s, n))
        .unwrap_or_else(|| panic!("{bin}: no Syscall6"));
        let sites = &s.functions[asm as usize].syscalls;
        assert_eq!(sites.len(), 1, "{bin}");
        assert_eq!(sites[0].number.atoms[..], [Atom::Param(rax)], "{bin}");
        assert!(!sites[0].number.unknown, "{bin}");
        let asm_name = s.function_name(asm);
        // Each layer passes its own AX on: RawSyscall6 → Syscall6, Syscall (around
        // runtime.entersyscall, spilled in its frame) → RawSyscall6, RawSyscall → RawSyscall6.
        let param = vec![(vec![Atom::Param(rax)], false)];
        assert_eq!(
            passes(named("syscall.RawSyscall6"), &asm_name, rax),
            param,
            "{bin}"
        );
        assert_eq!(
            passes(named("syscall.Syscall"), "syscall.RawSyscall6", rax),
            param,
            "{bin}"
        );
        assert_eq!(
            passes(named("syscall.RawSyscall"), "syscall.RawSyscall6", rax),
            param,
            "{bin}"
        );
        // The generated wrappers pass constants: unlinkat(2) is 263.
        assert_eq!(
            passes(named("syscall.unlinkat"), "syscall.Syscall", rax),
            vec![(vec![Atom::Const(263)], false)],
            "{bin}"
        );
        // The program's own raw syscalls (the /syscall handler, a closure of main.main):
        // syscall.Syscall(SYS_GETPGID) and syscall.RawSyscall(SYS_GETSID).
        let mains: Vec<u32> = (0..s.functions.len() as u32)
            .filter(|&i| s.function_name(i).starts_with("main.main.func"))
            .collect();
        let through = |to: &str| -> Vec<(Vec<Atom>, bool)> {
            mains.iter().flat_map(|&m| passes(m, to, rax)).collect()
        };
        assert_eq!(
            through("syscall.Syscall"),
            vec![(vec![Atom::Const(121)], false)],
            "{bin}"
        );
        assert_eq!(
            through("syscall.RawSyscall"),
            vec![(vec![Atom::Const(124)], false)],
            "{bin}"
        );
    }
}

#[test]
fn static_server_profile() {
    let Some(dir) = go::fixtures("static") else {
        return;
    };
    for bin in VERSIONS {
        let t = go::scratch_tree(&dir.join(bin));
        let (ok, profile, evidence, err) = go::profile(t.path());
        assert!(ok, "{bin}: {err}");
        assert_eq!(
            evidence["unresolved"].as_array().map(Vec::len),
            Some(0),
            "{bin}"
        );
        let allowed = go::allowed(&profile);
        let must = [
            // os.Remove
            "unlinkat",
            // net.Listen
            "socket",
            "setsockopt",
            "bind",
            "listen",
            // the runtime
            "clone",
            "futex",
            "mmap",
            "rt_sigaction",
            "sigaltstack",
            "epoll_create1",
            "epoll_ctl",
            "epoll_pwait",
            // vDSO fallback (runtime.nanotime1, walltime)
            "clock_gettime",
            // syscall.Syscall(SYS_GETPGID), syscall.RawSyscall(SYS_GETSID)
            "getpgid",
            "getsid",
            // serving: accept, read, write, sendfile from /etc/passwd
            "accept4",
            "read",
            "write",
            "openat",
        ];
        let missing: Vec<&str> = must
            .iter()
            .copied()
            .filter(|m| !allowed.iter().any(|a| a == m))
            .collect();
        assert!(missing.is_empty(), "{bin}: missing {missing:?}");
        // One object: the evidence counts its reachable functions.
        let p = &evidence["programs"][0];
        assert_eq!(p["path"], "/server");
        let (reach, total) = (
            p["reachable_functions"].as_u64().unwrap(),
            p["total_functions"].as_u64().unwrap(),
        );
        assert!(reach > 1000 && reach <= total, "{bin}: {reach}/{total}");
        eprintln!(
            "{bin}: {} allowed, {reach}/{total} functions reachable",
            allowed.len()
        );
        // Witnesses: os.Remove leads to unlinkat, main's closure passes getpgid's number.
        let c = go::chain(&evidence, "unlinkat");
        assert!(
            c.iter()
                .any(|f| f == "syscall.unlinkat" || f == "syscall.Unlinkat"),
            "{bin}: {c:?}"
        );
        let c = go::chain(&evidence, "getpgid");
        assert!(
            c.iter().any(|f| f.starts_with("main.main.func")),
            "{bin}: {c:?}"
        );
        let c = go::chain(&evidence, "clone");
        assert!(
            c.last().is_some_and(|f| f == "runtime.clone"),
            "{bin}: {c:?}"
        );
        // Not everything: a static Go server is one object, the profile stays small.
        assert!(allowed.len() < 110, "{bin}: {} allowed", allowed.len());
    }
}

/// The rule behind leaving `itablinks` out of liveness: every method of every static itab is
/// in the method table of the itab's type (the runtime hands a static itab out only for a type
/// descriptor code already has), save the linker's `runtime.unreachableMethod` placeholders.
#[test]
fn static_itab_methods_are_in_their_types_method_tables() {
    let Some(dir) = go::fixtures("static") else {
        return;
    };
    for bin in VERSIONS {
        let data = std::fs::read(dir.join(bin)).unwrap();
        let elf = dockergate_elf::parse_elf(&data).unwrap();
        let g =
            dockergate_analysis::go::GoObject::from_elf(&elf, &data, &mut Vec::new()).expect("Go");
        let md = g.moduledata.expect("moduledata");
        let (start, end) = md.itablinks.expect("itablinks");
        let word = |a: u64| elf.u64_at(&data, a).unwrap();
        let (mut checked, mut missing) = (0, Vec::new());
        for slot in (start..end).step_by(8) {
            let itab = word(slot);
            let (inter, typ) = (word(itab), word(itab + 8));
            let methods: std::collections::HashSet<u64> =
                dockergate_analysis::go::types::type_refs(&g, &elf, &data, [typ])
                    .into_iter()
                    .map(|(_, t)| t)
                    .collect();
            for i in 0..word(inter + 64) {
                let f = word(itab + 24 + 8 * i);
                let name = g.func_at_entry(f).map(|f| f.name.as_str()).unwrap_or("?");
                if f == 0 || name == "runtime.unreachableMethod" {
                    continue;
                }
                checked += 1;
                if !methods.contains(&f) {
                    missing.push(name.to_string());
                }
            }
        }
        assert!(checked > 300, "{bin}: {checked} itab methods");
        assert!(missing.is_empty(), "{bin}: {missing:?}");
    }
}
