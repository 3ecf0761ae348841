//! `dockergate ls`: every ELF file of the image.

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use dockergate_elf::machine;
use serde::Serialize;

use crate::common::{open, CliError, ImageArgs};

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
    error: Option<String>,
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
            let extra = r
                .error
                .as_deref()
                .map(|e| format!("\t{e}"))
                .unwrap_or_default();
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}{}",
                r.path, r.kind, r.machine, r.size, linkage, extra
            )
        })
    };
    if let Err(e) = written.and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(CliError::Message(format!("cannot write output: {e}")));
        }
    }
    Ok(ExitCode::SUCCESS)
}
