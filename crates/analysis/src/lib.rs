//! `dockergate-analysis`: machine-code analysis of one ELF object, from its bytes alone.
//!
//! [`analyze_object`] finds the functions of an object (symbols, `.eh_frame` FDEs, PLT stubs,
//! the entry point, init/fini arrays, direct call targets, addresses taken; code covered by none
//! of them is still scanned), runs the architecture's data flow on each, and returns an
//! [`ObjectSummary`]: syscall sites with the numbers they may use (constants, or "what the caller
//! passed in location L"), call sites with the values they pass, and every way a function's
//! address escapes (code, data relocations, pointer words). Nothing here depends on other
//! objects: the summary is a pure function of the file's bytes, which is what makes it cacheable.
//!
//! The architecture is behind one trait, [`arch::Arch`]; x86-64 is implemented.

pub mod arch;
mod dataflow;
mod discover;
pub mod go;
pub mod summary;
mod sweep;

use dockergate_elf::{machine, ElfObject};

pub use summary::*;

include!(concat!(env!("OUT_DIR"), "/version.rs"));

/// Imports whose callers get data flow up front: the C libraries' generic syscall wrappers
/// (glibc's and musl's `syscall`). A performance hint only: the pipeline completes any other
/// function whose argument values turn out to be needed.
pub const SYSCALL_WRAPPER_NAMES: &[&str] = &["syscall"];

/// Imports whose constant string arguments matter to the image-level analysis (programs an
/// exec runs, libraries a dlopen loads, symbols a dlsym looks up): their callers get data flow
/// up front so that the strings are recorded.
pub const STRING_ARG_IMPORTS: &[&str] = &[
    "execve",
    "execv",
    "execvp",
    "execvpe",
    "execl",
    "execlp",
    "execle",
    "execveat",
    "fexecve",
    "posix_spawn",
    "posix_spawnp",
    "system",
    "popen",
    "dlopen",
    "dlmopen",
    "dlsym",
    "dlvsym",
];

/// Why an object could not be analysed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalysisError {
    UnsupportedMachine(String),
    Malformed(String),
}

impl std::fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnalysisError::UnsupportedMachine(m) => {
                write!(f, "code analysis does not support {m} yet")
            }
            AnalysisError::Malformed(why) => write!(f, "cannot analyse the code: {why}"),
        }
    }
}

impl std::error::Error for AnalysisError {}

/// Analyses one object's code.
pub fn analyze_object(data: &[u8], elf: &ElfObject) -> Result<ObjectSummary, AnalysisError> {
    analyze_with_full(data, elf, &Default::default(), Method::default())
}

/// How an object is analysed: settings that change the work done, never the summary (tests
/// check both ways give the same).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Method {
    /// Code sizes above this are swept compactly ([`sweep::COMPACT_ABOVE`]).
    pub compact_above: u64,
    /// Lazy PLT entries get their data flow's facts without running it.
    pub plt_shortcut: bool,
}

impl Default for Method {
    fn default() -> Self {
        Method {
            compact_above: sweep::COMPACT_ABOVE,
            plt_shortcut: true,
        }
    }
}

/// [`analyze_object`] with the compact sweep whatever the code's size (what very large objects
/// get): for tests that both forms give the same summary.
#[doc(hidden)]
pub fn analyze_object_compact_sweep(
    data: &[u8],
    elf: &ElfObject,
) -> Result<ObjectSummary, AnalysisError> {
    let method = Method {
        compact_above: 0,
        ..Method::default()
    };
    analyze_with_full(data, elf, &Default::default(), method)
}

/// [`analyze_object`] with the whole data flow of every lazy PLT entry (not its shortcut): for
/// tests that both give the same summary.
#[doc(hidden)]
pub fn analyze_object_without_plt_shortcut(
    data: &[u8],
    elf: &ElfObject,
) -> Result<ObjectSummary, AnalysisError> {
    let method = Method {
        plt_shortcut: false,
        ..Method::default()
    };
    analyze_with_full(data, elf, &Default::default(), method)
}

/// Completes a summary: runs the data flow of the functions `funcs` (indexes into
/// `summary.functions`) so that their call sites carry argument values. The result is the
/// summary [`analyze_object`] would give if those functions had needed data flow from the start;
/// functions already complete stay complete.
pub fn complete_functions(
    data: &[u8],
    elf: &ElfObject,
    summary: &ObjectSummary,
    funcs: &[u32],
) -> Result<ObjectSummary, AnalysisError> {
    let mut force: std::collections::HashSet<u64> = summary
        .functions
        .iter()
        .filter(|f| f.calls.iter().any(|c| c.args_known) || f.global_stores.iter().any(|s| s.known))
        .map(|f| f.entry)
        .collect();
    force.extend(
        funcs
            .iter()
            .filter_map(|&i| summary.functions.get(i as usize))
            .map(|f| f.entry),
    );
    analyze_with_full(data, elf, &force, Method::default())
}

fn analyze_with_full(
    data: &[u8],
    elf: &ElfObject,
    force_full: &std::collections::HashSet<u64>,
    method: Method,
) -> Result<ObjectSummary, AnalysisError> {
    match (elf.machine, elf.class) {
        (machine::X86_64, 64) => {
            discover::analyze_with(&arch::x86_64::X86_64, data, elf, force_full, method)
        }
        (m, c) => Err(AnalysisError::UnsupportedMachine(format!(
            "{} ({c}-bit)",
            machine::name(m)
        ))),
    }
}
