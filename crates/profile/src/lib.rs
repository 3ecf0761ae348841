//! `dockergate-profile`: the profile as data — which syscalls are allowed and why — and the
//! writers that turn it into what runtimes read (Docker/OCI seccomp JSON).
//!
//! Syscall names come from the kernel's tables as packaged by the `syscalls` crate (generated
//! from the kernel sources), never typed by hand. The container runtime's own syscalls (what it
//! calls after installing the filter and before exec) are versioned, documented sets.

use std::collections::BTreeMap;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompBuilder, LinuxSyscallBuilder,
};
use serde::Serialize;

/// The syscall tables an image's code uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyscallTable {
    X86_64,
    /// The i386 table, entered from 64-bit code with `int 0x80`.
    I386,
}

impl SyscallTable {
    /// The name of a syscall number, when the kernel's table has one.
    pub fn name(self, nr: u64) -> Option<&'static str> {
        let nr = usize::try_from(nr).ok()?;
        match self {
            SyscallTable::X86_64 => syscalls::x86_64::Sysno::new(nr).map(|s| s.name()),
            SyscallTable::I386 => syscalls::x86::Sysno::new(nr).map(|s| s.name()),
        }
    }

    /// The number of a syscall name in this table.
    pub fn number(self, name: &str) -> Option<u64> {
        match self {
            SyscallTable::X86_64 => name
                .parse::<syscalls::x86_64::Sysno>()
                .ok()
                .map(|s| s.id() as u64),
            SyscallTable::I386 => name
                .parse::<syscalls::x86::Sysno>()
                .ok()
                .map(|s| s.id() as u64),
        }
    }

    /// Every name of the table, in number order.
    pub fn all_names(self) -> Vec<&'static str> {
        match self {
            SyscallTable::X86_64 => syscalls::x86_64::Sysno::iter().map(|s| s.name()).collect(),
            SyscallTable::I386 => syscalls::x86::Sysno::iter().map(|s| s.name()).collect(),
        }
    }

    fn scmp_arch(self) -> Arch {
        match self {
            SyscallTable::X86_64 => Arch::ScmpArchX86_64,
            SyscallTable::I386 => Arch::ScmpArchX86,
        }
    }
}

/// The container runtimes whose post-filter syscalls we know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Runc,
    Crun,
}

/// runc 1.1.5 as driven by podman 4.3, measured with an empty allow list in log mode (see the
/// file's header for the method).
const RUNC_1_1_5: &str = include_str!("runtime-runc-1.1.5.txt");

impl Runtime {
    /// The runtime's own syscalls between installing the filter and the container's first
    /// instruction, and where the list comes from.
    pub fn syscalls(self) -> (Vec<&'static str>, &'static str) {
        let names: Vec<&'static str> = RUNC_1_1_5
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.split_whitespace())
            .collect();
        match self {
            Runtime::Runc => (
                names,
                "runc 1.1.5 (podman 4.3 defaults), measured in log mode",
            ),
            // crun installs the filter right before execve; it could not be measured here (crun
            // fails on this machine's cgroups), so runc's larger set stands in for it.
            Runtime::Crun => (
                names,
                "crun: not measured; runc 1.1.5's set used as a superset",
            ),
        }
    }
}

/// Why one syscall is allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum AllowReason {
    /// Code of the image can make it; `witness` names the evidence entry.
    Code { programs: usize },
    /// The container runtime makes it after installing the filter.
    Runtime { source: &'static str },
    /// The user asked to allow everything unresolved (`--unresolved=allow-all`).
    AllowAll,
    /// The kernel makes it on the program's behalf: `restart_syscall` resumes an allowed call
    /// that a signal handler interrupted (`implied_by`).
    Kernel { implied_by: &'static str },
}

/// Calls the kernel resumes with `restart_syscall` after a signal handler interrupted them
/// (they return `-ERESTART_RESTARTBLOCK`: kernel/time/hrtimer.c, kernel/futex/waitwake.c,
/// fs/select.c). Seccomp sees the resumption as a call of its own.
pub const RESTARTED_BY_RESTART_SYSCALL: &[&str] =
    &["nanosleep", "clock_nanosleep", "futex", "poll"];

impl Profile {
    /// Allows what the kernel itself calls for allowed syscalls: `restart_syscall` in a table
    /// that allows one of [`RESTARTED_BY_RESTART_SYSCALL`]. Returns (table, name, implied_by) for
    /// each one added.
    pub fn allow_kernel_implied(&mut self) -> Vec<(SyscallTable, &'static str, &'static str)> {
        let mut added = Vec::new();
        for (table, names) in self.tables.iter_mut() {
            let Some(by) = RESTARTED_BY_RESTART_SYSCALL
                .iter()
                .find(|n| names.contains_key(*n))
            else {
                continue;
            };
            let Some(restart) = table
                .number("restart_syscall")
                .and_then(|nr| table.name(nr))
            else {
                continue;
            };
            if !names.contains_key(restart) {
                names.insert(restart, vec![AllowReason::Kernel { implied_by: by }]);
                added.push((*table, restart, *by));
            }
        }
        added
    }
}

/// The model every writer reads: allowed syscalls per table, each with its reasons.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Profile {
    pub tables: BTreeMap<SyscallTable, BTreeMap<&'static str, Vec<AllowReason>>>,
}

impl Profile {
    pub fn allow(&mut self, table: SyscallTable, name: &'static str, why: AllowReason) {
        let reasons = self
            .tables
            .entry(table)
            .or_default()
            .entry(name)
            .or_default();
        if !reasons.contains(&why) {
            reasons.push(why);
        }
    }

    /// Allowed names of a table, sorted.
    pub fn names(&self, table: SyscallTable) -> Vec<&'static str> {
        self.tables
            .get(&table)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The Docker/OCI seccomp profile: deny with EPERM by default, one sorted allow rule for the
    /// names of all tables in use (libseccomp resolves each name per architecture).
    pub fn to_oci(&self) -> LinuxSeccomp {
        let mut names: Vec<String> = self
            .tables
            .values()
            .flat_map(|m| m.keys().map(|s| s.to_string()))
            .collect();
        names.sort();
        names.dedup();
        let mut arches: Vec<Arch> = self.tables.keys().map(|t| t.scmp_arch()).collect();
        if arches.is_empty() {
            arches.push(Arch::ScmpArchX86_64);
        }
        let rule = LinuxSyscallBuilder::default()
            .names(names)
            .action(LinuxSeccompAction::ScmpActAllow)
            .build()
            .expect("all required fields set");
        LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActErrno)
            .default_errno_ret(1u32)
            .architectures(arches)
            .syscalls(vec![rule])
            .build()
            .expect("all required fields set")
    }

    /// The Docker/OCI JSON text (pretty, deterministic, newline-terminated).
    pub fn to_oci_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.to_oci()).expect("seccomp types serialise");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_syscall_comes_with_the_calls_the_kernel_restarts() {
        let mut p = Profile::default();
        p.allow(SyscallTable::X86_64, "read", AllowReason::AllowAll);
        assert!(p.allow_kernel_implied().is_empty());
        assert!(!p.names(SyscallTable::X86_64).contains(&"restart_syscall"));
        p.allow(SyscallTable::X86_64, "futex", AllowReason::AllowAll);
        assert_eq!(
            p.allow_kernel_implied(),
            vec![(SyscallTable::X86_64, "restart_syscall", "futex")]
        );
        assert!(p.names(SyscallTable::X86_64).contains(&"restart_syscall"));
        // i386 code that sleeps: the i386 table's restart_syscall too.
        p.allow(SyscallTable::I386, "nanosleep", AllowReason::AllowAll);
        assert_eq!(
            p.allow_kernel_implied(),
            vec![(SyscallTable::I386, "restart_syscall", "nanosleep")]
        );
    }

    #[test]
    fn names_come_from_the_kernel_tables() {
        assert_eq!(SyscallTable::X86_64.name(39), Some("getpid"));
        assert_eq!(SyscallTable::X86_64.name(231), Some("exit_group"));
        assert_eq!(SyscallTable::I386.name(20), Some("getpid"));
        assert_eq!(SyscallTable::X86_64.number("openat"), Some(257));
        assert_eq!(SyscallTable::X86_64.name(100_000), None);
    }

    #[test]
    fn runtime_set_is_the_measured_one() {
        let (names, _) = Runtime::Runc.syscalls();
        for n in ["execve", "capset", "setgroups", "faccessat2", "futex"] {
            assert!(names.contains(&n), "{n}");
        }
        for n in &names {
            assert!(
                SyscallTable::X86_64.number(n).is_some(),
                "{n} is not an x86-64 syscall"
            );
        }
    }

    #[test]
    fn oci_json_is_sorted_and_denies_by_default() {
        let mut p = Profile::default();
        p.allow(
            SyscallTable::X86_64,
            "write",
            AllowReason::Code { programs: 1 },
        );
        p.allow(
            SyscallTable::X86_64,
            "read",
            AllowReason::Code { programs: 1 },
        );
        let json: serde_json::Value = serde_json::from_str(&p.to_oci_json()).unwrap();
        assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(json["defaultErrnoRet"], 1);
        assert_eq!(json["architectures"][0], "SCMP_ARCH_X86_64");
        assert_eq!(
            json["syscalls"][0]["names"],
            serde_json::json!(["read", "write"])
        );
        assert_eq!(json["syscalls"][0]["action"], "SCMP_ACT_ALLOW");
    }
}
