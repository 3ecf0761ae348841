//! `dockergate programs`: what the container can run from its entrypoint, and why.

use std::process::ExitCode;

use clap::Args;
use dockergate_pipeline::{analyze_image, EntrypointEvidence, PipelineError};

use crate::cmd_cache::Session;
use crate::cmd_profile::{options, ProfileArgs, ScopeArg};
use crate::common::{open, print_out, CliError, ImageArgs};

#[derive(Args, Clone, Debug)]
pub struct ProgramsArgs {
    /// Print JSON (the `entrypoint` part of the profile's evidence).
    #[arg(long)]
    pub json: bool,
    /// Print only the paths, one per line.
    #[arg(long, conflicts_with = "json")]
    pub paths: bool,
    /// Include plugins (shared objects loaded with dlopen) in the list.
    #[arg(long)]
    pub plugins: bool,
    /// The profile options (`-o` and `--evidence` also write the entrypoint-scope profile).
    #[command(flatten)]
    pub profile: ProfileArgs,
}

pub fn run(image: &ImageArgs, args: &ProgramsArgs) -> Result<ExitCode, CliError> {
    let p = &args.profile;
    let mut session = Session::start(&p.cache, &p.run);
    session.phase("reading the image");
    let opened = open(image)?;
    let config = &opened.image.config;
    let opts = options(p, &opened, ScopeArg::Entrypoint);
    let result = session.analyze(&opened, &opts.image_name, |source| {
        analyze_image(
            &opened.image.fs,
            &opened.catalog,
            &config.env,
            config.working_dir_or_root(),
            source,
            &opts,
        )
    });
    let (report, unresolved) = match result {
        Ok(r) => (r, false),
        // Which programs run does not depend on syscall numbers: list them anyway.
        Err(PipelineError::Unresolved { report, .. }) => (*report, true),
        Err(e) => return Err(CliError::Message(e.to_string())),
    };
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    let Some(ev) = &report.evidence.entrypoint else {
        return Err(CliError::Message("no entrypoint evidence".into()));
    };
    if args.json {
        let s = serde_json::to_string_pretty(ev).expect("evidence serialises");
        print_out(&format!("{s}\n"))?;
    } else {
        print_out(&render(ev, args.plugins, args.paths))?;
    }
    if let Some(e) = &p.evidence {
        std::fs::write(e, report.evidence.to_json())
            .map_err(|err| CliError::Message(format!("cannot write {}: {err}", e.display())))?;
    }
    if let Some(o) = &p.output {
        if unresolved {
            return Err(CliError::Message(format!(
                "{} reachable syscall site(s) with an unknown number: no profile written (see dockergate profile)",
                report.unresolved.len()
            )));
        }
        std::fs::write(o, report.profile.to_oci_json())
            .map_err(|err| CliError::Message(format!("cannot write {}: {err}", o.display())))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The text listing: each program with the chain that reaches it.
pub fn render(ev: &EntrypointEvidence, plugins: bool, paths_only: bool) -> String {
    let mut out = String::new();
    let shown: Vec<_> = ev
        .reached
        .iter()
        .filter(|r| plugins || r.kind != "plugin")
        .collect();
    if paths_only {
        for r in shown {
            out.push_str(&r.path);
            out.push('\n');
        }
        return out;
    }
    let programs = ev.reached.iter().filter(|r| r.kind == "program").count();
    let scripts = ev.reached.iter().filter(|r| r.kind == "script").count();
    let plugin_count = ev.reached.iter().filter(|r| r.kind == "plugin").count();
    out.push_str(&format!(
        "# {} program(s), {} script(s), {} plugin(s) reachable from {}\n",
        programs,
        scripts,
        plugin_count,
        serde_json::to_string(&ev.command).unwrap_or_default()
    ));
    for r in shown {
        out.push_str(&format!("{} ({})", r.path, r.kind));
        if r.other_reasons > 0 {
            out.push_str(&format!(" [+{} other reason(s)]", r.other_reasons));
        }
        out.push('\n');
        for (i, step) in r.chain.iter().enumerate() {
            out.push_str(&format!("  {}{}\n", if i == 0 { "" } else { "→ " }, step));
        }
    }
    if !plugins && plugin_count > 0 {
        out.push_str(&format!(
            "# {plugin_count} plugin(s) not listed (--plugins)\n"
        ));
    }
    for f in &ev.fallbacks {
        out.push_str(&format!("fallback: {f}\n"));
    }
    for a in &ev.assumptions {
        out.push_str(&format!("assumed: {a}\n"));
    }
    out
}
