//! `dockergate ls`: every ELF file of the image.

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use dockergate_elf::machine;
use serde::Serialize;

use crate::common::{open, output_written, CliError, ImageArgs};

#[derive(Serialize)]
struct Row<'a> {
    path: &'a str,
    kind: &'a str,
    machine: String,
    class: u8,
    size: u64,
    linkage: &'a str,
    interpreter: Option<&'a str>,
    soname: Option<&'a str>,
    /// Go binaries: toolchain, main module, cgo (see `dockergate_elf::go`).
    #[serde(skip_serializing_if = "Option::is_none")]
    go: Option<GoRow<'a>>,
    error: Option<String>,
}

#[derive(Serialize)]
struct GoRow<'a> {
    version: Option<&'a str>,
    path: Option<&'a str>,
    module: Option<&'a str>,
    cgo: bool,
    pclntab: Option<&'static str>,
}

impl GoRow<'_> {
    /// `go go1.21.5 example.com/srv cgo` for the text listing.
    fn text(&self) -> String {
        let mut s = format!("go {}", self.version.unwrap_or("(unknown version)"));
        if let Some(m) = self.path.or(self.module) {
            s.push(' ');
            s.push_str(m);
        }
        s.push_str(if self.cgo { " cgo" } else { " no-cgo" });
        s
    }
}

pub fn run(args: &ImageArgs, json: bool) -> Result<ExitCode, CliError> {
    let opened = open(args)?;
    let fs = &opened.image.fs;
    // Files some program names as its PT_INTERP are interpreters, whatever their own headers say.
    let interpreters: HashSet<_> = opened
        .catalog
        .entries()
        .iter()
        .filter_map(|e| e.elf.as_ref().ok()?.interpreter.as_deref())
        .filter_map(|i| fs.resolve(i, true).ok().map(|r| r.node))
        .collect();
    let mut rows = Vec::new();
    for (path, e) in opened.catalog.paths() {
        let row = match &e.elf {
            Ok(elf) => Row {
                path,
                kind: if interpreters.contains(&e.node) {
                    "interpreter"
                } else {
                    elf.kind.as_str()
                },
                machine: machine::name(elf.machine),
                class: elf.class,
                size: e.size,
                linkage: if elf.interpreter.is_some() || (elf.has_dynamic && !elf.kind.is_program())
                {
                    "dynamic"
                } else {
                    "static"
                },
                interpreter: elf.interpreter.as_deref(),
                soname: elf.soname.as_deref(),
                go: elf.go.as_ref().map(|g| GoRow {
                    version: g.version.as_deref(),
                    path: g.path.as_deref(),
                    module: g.module.as_deref(),
                    cgo: g.cgo,
                    pclntab: g.pclntab.map(|p| p.layout.as_str()),
                }),
                error: None,
            },
            Err(err) => Row {
                path,
                kind: "malformed",
                machine: String::new(),
                class: 0,
                size: e.size,
                linkage: "-",
                interpreter: None,
                soname: None,
                go: None,
                error: Some(err.to_string()),
            },
        };
        rows.push(row);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = if json {
        serde_json::to_writer_pretty(&mut out, &rows)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out))
    } else {
        rows.iter().try_for_each(|r| {
            let linkage = match r.interpreter {
                Some(i) => format!("{} {i}", r.linkage),
                None => r.linkage.to_string(),
            };
            let mut extra = r
                .error
                .as_deref()
                .map(|e| format!("\t{e}"))
                .unwrap_or_default();
            if let Some(g) = &r.go {
                extra.push('\t');
                extra.push_str(&g.text());
            }
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}{}",
                r.path, r.kind, r.machine, r.size, linkage, extra
            )
        })
    };
    output_written(written.and_then(|_| out.flush()))?;
    Ok(ExitCode::SUCCESS)
}
