//! `dockergate ldd`: what glibc's (or musl's) ldd prints inside the container.

use std::process::ExitCode;

use dockergate_loader::{bind_symbols, Binding, ImageLoader};

use crate::common::{open, print_out, CliError, ImageArgs};

pub fn run(args: &ImageArgs, path: &str, bindings: bool) -> Result<ExitCode, CliError> {
    let opened = open(args)?;
    let config = &opened.image.config;
    let loader = ImageLoader::new(
        &opened.image.fs,
        &opened.catalog,
        &config.env,
        config.working_dir_or_root(),
    );
    let prog = loader.load_program(path).map_err(|e| {
        CliError::Message(format!(
            "cannot model loading {path} in {}: {e}",
            opened.image.reference
        ))
    })?;
    let mut text = String::new();
    for line in prog.ldd_lines() {
        text.push_str(&line);
        text.push('\n');
    }
    if bindings {
        let b = bind_symbols(&prog);
        for (oi, o) in prog.objects.iter().enumerate() {
            for (si, binding) in b.of_object(oi) {
                let s = &o.elf.dynsym[si];
                let name = match &s.version {
                    Some(v) => format!("{}@{v}", s.name),
                    None => s.name.clone(),
                };
                let to = match binding {
                    Binding::Bound(r) => prog.objects[r.object].path.clone(),
                    Binding::WeakUndefined => "(weak, undefined)".to_string(),
                    Binding::Undefined => "(undefined)".to_string(),
                };
                text.push_str(&format!("{name} ({}) => {to}\n", o.path));
            }
        }
    }
    // A full disk is an error; a reader that went away (`| head`) is the end of output.
    print_out(&text)?;
    Ok(if prog.missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
