//! The evidence file: for every allowed syscall, why; for every program, what was analysed.

use std::collections::BTreeMap;

use dockergate_callgraph::{UnresolvedSite, Witness};
use dockergate_profile::{Runtime, SyscallTable};
use serde::Serialize;

/// Why one syscall is allowed.
#[derive(Clone, Debug, Serialize)]
pub struct SyscallEvidence {
    /// `x86-64` or `i386`.
    pub table: SyscallTable,
    /// How many programs and plugins of the image can make it.
    pub programs: usize,
    /// One chain from a root of `program` to a syscall instruction that makes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<Witness>,
    /// Set when the container runtime needs it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<&'static str>,
    /// Set when the kernel makes it for an allowed call (`restart_syscall` resumes an
    /// interrupted `nanosleep`, `futex`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
}

/// What was analysed for one program or plugin.
#[derive(Clone, Debug, Serialize)]
pub struct ProgramEvidence {
    pub path: String,
    pub kind: &'static str,
    pub objects: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_libraries: Vec<String>,
    pub syscalls: usize,
    pub reachable_functions: usize,
    pub total_functions: usize,
    pub unresolved_sites: usize,
    /// dlsym calls with a non-constant name: the program relies on the plugin assumption
    /// (such a lookup reaches plugin exports, not every library export; `--dlsym=all` lifts it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dlsym_nonconstant: Vec<String>,
}

/// The whole evidence document.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub image: String,
    pub scope: &'static str,
    pub runtime: Runtime,
    pub analysis_version: u32,
    pub syscalls: BTreeMap<String, SyscallEvidence>,
    pub programs: Vec<ProgramEvidence>,
    pub unresolved: Vec<UnresolvedSite>,
    /// Sites with unknown numbers that only plugins reach (not fatal; see the README).
    pub plugin_only_unresolved: Vec<UnresolvedSite>,
    /// Plugin exports whose parameters would be syscall numbers: not counted (the plugin
    /// assumption: hosts do not hand plugins syscall numbers).
    pub plugin_export_params: Vec<String>,
    /// Interpreter raw-syscall builtins whose numbers come from scripts: what the scripts name.
    pub script_syscalls: Vec<String>,
    /// `--scope entrypoint`: the programs and plugins reached from the entrypoint, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<crate::EntrypointEvidence>,
}

impl Evidence {
    pub fn new(image: &str, runtime: Runtime) -> Self {
        Evidence {
            image: image.to_string(),
            scope: "image",
            runtime,
            analysis_version: dockergate_analysis::ANALYSIS_VERSION,
            syscalls: BTreeMap::new(),
            programs: Vec::new(),
            unresolved: Vec::new(),
            plugin_only_unresolved: Vec::new(),
            plugin_export_params: Vec::new(),
            script_syscalls: Vec::new(),
            entrypoint: None,
        }
    }

    fn key(table: SyscallTable, name: &str) -> String {
        match table {
            SyscallTable::X86_64 => name.to_string(),
            SyscallTable::I386 => format!("i386:{name}"),
        }
    }

    /// The entry of one syscall, empty until a reason is added.
    fn entry(&mut self, table: SyscallTable, name: &str) -> &mut SyscallEvidence {
        self.syscalls
            .entry(Self::key(table, name))
            .or_insert(SyscallEvidence {
                table,
                programs: 0,
                program: None,
                witness: None,
                runtime: None,
                kernel: None,
            })
    }

    pub fn add_code(
        &mut self,
        table: SyscallTable,
        name: &str,
        programs: usize,
        program: &str,
        witness: Witness,
    ) {
        let e = self.entry(table, name);
        e.programs = programs;
        e.program = Some(program.to_string());
        e.witness = Some(witness);
    }

    pub fn add_runtime(&mut self, name: &str, source: &'static str) {
        self.entry(SyscallTable::X86_64, name).runtime = Some(source);
    }

    pub fn add_kernel(&mut self, table: SyscallTable, name: &str, implied_by: &str) {
        self.entry(table, name).kernel = Some(format!(
            "the kernel makes it to resume a {} that a signal handler interrupted ({implied_by} is allowed)",
            dockergate_profile::RESTARTED_BY_RESTART_SYSCALL.join(", ")
        ));
    }

    /// The evidence as pretty JSON.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("evidence serialises");
        s.push('\n');
        s
    }
}
