//! `dockergate-elf`: what the loader model and the code analysis need to know of one ELF file,
//! parsed from its bytes into owned, serialisable data ([`ElfObject`]).
//!
//! The dynamic section is read the way ld.so reads it: through `PT_DYNAMIC` and the addresses it
//! holds, mapped through the `PT_LOAD` segments; section headers are used for what only they give
//! (the symbol version tables, the static symbol table, relocations of static binaries).
//! Malformed input never panics: every offset, size and count is checked against the data.
//!
//! This crate does no I/O.

pub mod go;
mod parse;

use serde::{Deserialize, Serialize};

pub use parse::parse_elf;

/// Why a file could not be parsed as ELF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file")]
    NotElf,
    #[error("malformed ELF: {0}")]
    Malformed(String),
}

/// Machine (`e_machine`) values we name.
pub mod machine {
    pub const X86: u16 = 3;
    pub const X86_64: u16 = 62;
    pub const ARM: u16 = 40;
    pub const AARCH64: u16 = 183;
    pub const RISCV: u16 = 243;
    pub const PPC64: u16 = 21;
    pub const S390: u16 = 22;

    /// A short name for a machine, as `file` and `readelf` say it.
    pub fn name(m: u16) -> String {
        match m {
            X86 => "i386".into(),
            X86_64 => "x86-64".into(),
            ARM => "arm".into(),
            AARCH64 => "aarch64".into(),
            RISCV => "riscv".into(),
            PPC64 => "ppc64".into(),
            S390 => "s390".into(),
            other => format!("machine-{other}"),
        }
    }
}

/// What a file is, from its headers alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElfKind {
    /// `ET_EXEC` with an interpreter.
    Executable,
    /// `ET_EXEC` without an interpreter.
    StaticExecutable,
    /// `ET_DYN` marked PIE (or with an interpreter and no soname).
    PieExecutable,
    /// `ET_DYN` marked PIE without an interpreter.
    StaticPie,
    /// A shared object (a library, a plugin, or a dynamic loader).
    SharedObject,
    /// `ET_REL`: an object file, not loadable.
    Relocatable,
    /// Core dumps and anything else.
    Other,
}

impl ElfKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ElfKind::Executable => "executable",
            ElfKind::StaticExecutable => "static-executable",
            ElfKind::PieExecutable => "pie-executable",
            ElfKind::StaticPie => "static-pie",
            ElfKind::SharedObject => "shared-object",
            ElfKind::Relocatable => "relocatable",
            ElfKind::Other => "other",
        }
    }
    /// Can be run as a program (exec'ed).
    pub fn is_program(self) -> bool {
        matches!(
            self,
            ElfKind::Executable
                | ElfKind::StaticExecutable
                | ElfKind::PieExecutable
                | ElfKind::StaticPie
        )
    }
}

/// Symbol binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bind {
    Local,
    Global,
    Weak,
    Unique,
    Other,
}

/// Symbol type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SymKind {
    NoType,
    Object,
    Func,
    IFunc,
    Tls,
    Other,
}

/// One dynamic symbol (`.dynsym` entry), with its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynSymbol {
    pub name: String,
    /// The version: defined (`VERDEF`) for a definition, needed (`VERNEED`) for a reference.
    pub version: Option<String>,
    /// The symbol's `DT_VERSYM` index without the hidden bit (0: local or no version table;
    /// 1: global, no version; 2: the oldest version the object defines, …).
    #[serde(default)]
    pub version_index: u16,
    /// For a versioned reference, the file named by its `VERNEED` entry (`libc.so.6`).
    pub version_file: Option<String>,
    /// `VERSYM_HIDDEN`: not the default version; only an exact versioned reference binds to it.
    pub hidden: bool,
    pub defined: bool,
    pub bind: Bind,
    pub kind: SymKind,
    /// Exported: global/weak/unique binding and default or protected visibility.
    pub visible: bool,
    pub value: u64,
    pub size: u64,
}

/// A static (`.symtab`) function symbol: name and extent, for function discovery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalSymbol {
    pub name: String,
    pub value: u64,
    pub size: u64,
    pub kind: SymKind,
}

/// A loadable segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
}

/// A section, when section headers exist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub name: String,
    pub addr: u64,
    pub size: u64,
    pub offset: u64,
    /// `SHT_NOBITS` (.bss): no bytes in the file.
    pub nobits: bool,
    pub alloc: bool,
    pub writable: bool,
    pub executable: bool,
    /// `SHF_TLS`: a template for thread-local storage, its addresses are not run-time ones.
    pub tls: bool,
}

/// A dynamic relocation, classified independently of the architecture's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelocKind {
    /// Base + addend (`R_X86_64_RELATIVE`, RELR entries).
    Relative,
    /// Symbol value + addend, absolute (`R_X86_64_64`).
    Absolute,
    /// A GOT slot for a symbol (`GLOB_DAT`).
    GlobDat,
    /// A PLT GOT slot (`JUMP_SLOT`).
    JumpSlot,
    /// The result of calling the IFUNC resolver at base + addend.
    IRelative,
    /// Copy of a shared object's data into the executable.
    Copy,
    /// TLS and everything else.
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reloc {
    /// Address of the relocated word (link-time virtual address).
    pub offset: u64,
    pub kind: RelocKind,
    /// Index into [`ElfObject::dynsym`], 0 for none.
    pub sym: u32,
    /// The addend: explicit (RELA) or the word in place (REL, RELR).
    pub addend: i64,
}

/// Everything we keep of one ELF file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElfObject {
    /// 32 or 64.
    pub class: u8,
    pub little_endian: bool,
    pub machine: u16,
    /// `e_type`.
    pub etype: u16,
    pub kind: ElfKind,
    pub entry: u64,
    /// `PT_INTERP`.
    pub interpreter: Option<String>,
    pub has_dynamic: bool,
    pub needed: Vec<String>,
    pub soname: Option<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    /// `DT_FLAGS`.
    pub flags: u64,
    /// `DT_FLAGS_1`.
    pub flags_1: u64,
    /// `DT_SYMBOLIC` or `DF_SYMBOLIC`.
    pub symbolic: bool,
    pub init: Option<u64>,
    pub fini: Option<u64>,
    /// Entries of `DT_PREINIT_ARRAY`, `DT_INIT_ARRAY` and `DT_FINI_ARRAY`, relocated.
    pub preinit_array: Vec<u64>,
    pub init_array: Vec<u64>,
    pub fini_array: Vec<u64>,
    pub segments: Vec<Segment>,
    pub sections: Vec<Section>,
    pub dynsym: Vec<DynSymbol>,
    /// Function symbols of `.symtab` when present (not stripped).
    pub symtab_functions: Vec<LocalSymbol>,
    pub relocs: Vec<Reloc>,
    /// A Go binary: its build info and function table (see [`go`]).
    #[serde(default)]
    pub go: Option<go::GoInfo>,
    /// Anything suspicious that did not stop parsing.
    pub warnings: Vec<String>,
}

/// `DF_1_NODEFLIB`: do not search the default directories for this object's dependencies.
pub const DF_1_NODEFLIB: u64 = 0x800;
/// `DF_1_PIE`.
pub const DF_1_PIE: u64 = 0x0800_0000;

impl ElfObject {
    /// Maps a link-time virtual address to a file offset, when it is backed by file bytes.
    pub fn vaddr_to_offset(&self, vaddr: u64) -> Option<u64> {
        self.segments.iter().find_map(|s| {
            (vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz)
                .then(|| s.offset.checked_add(vaddr - s.vaddr))
                .flatten()
        })
    }

    /// True when `vaddr` lies in an executable segment.
    pub fn is_code_address(&self, vaddr: u64) -> bool {
        self.segments
            .iter()
            .any(|s| s.executable && vaddr >= s.vaddr && vaddr - s.vaddr < s.memsz)
    }

    /// Exported (defined, visible) dynamic symbols.
    pub fn exports(&self) -> impl Iterator<Item = (usize, &DynSymbol)> {
        self.dynsym
            .iter()
            .enumerate()
            .filter(|(i, s)| *i > 0 && s.defined && s.visible)
    }

    /// Undefined dynamic symbols (what the object imports).
    pub fn imports(&self) -> impl Iterator<Item = (usize, &DynSymbol)> {
        self.dynsym
            .iter()
            .enumerate()
            .filter(|(i, s)| *i > 0 && !s.defined && !s.name.is_empty())
    }

    /// Reads a NUL-terminated string at a virtual address (at most `max` bytes).
    pub fn c_string_at<'a>(&self, data: &'a [u8], vaddr: u64, max: usize) -> Option<&'a [u8]> {
        let off = self.vaddr_to_offset(vaddr)? as usize;
        let rest = data.get(off..)?;
        let end = rest.iter().take(max).position(|&b| b == 0)?;
        Some(&rest[..end])
    }

    /// Reads a little/big-endian u64 at a virtual address.
    pub fn u64_at(&self, data: &[u8], vaddr: u64) -> Option<u64> {
        let off = self.vaddr_to_offset(vaddr)? as usize;
        let b: [u8; 8] = data.get(off..off.checked_add(8)?)?.try_into().ok()?;
        Some(if self.little_endian {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    /// A section by name.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

/// True when the bytes start with the ELF magic.
pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}
