//! `dockergate profile`: the seccomp profile of an image, and its evidence.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use dockergate_pipeline::{
    analyze_image, EntrypointSpec, ImageReport, Options, PipelineError, Scope, UnresolvedPolicy,
};
use dockergate_profile::Runtime;
use serde::{Deserialize, Serialize};

use crate::cmd_cache::{CacheArgs, RunArgs, Session};
use crate::common::{leave_to_exit, open_with, print_out, CliError, ImageArgs, OpenedImage};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScopeArg {
    /// Every program of the image may run, every shared object (but the C library) may be dlopen'ed.
    Image,
    /// What the config's Entrypoint + Cmd (and Healthcheck, and --also-run) can start: followed
    /// through scripts, interpreters, exec and dlopen calls (see `dockergate programs`).
    Entrypoint,
}

/// The pipeline's scope for a `--scope` value, the image config and the command-line
/// overrides (as `podman run --entrypoint E IMAGE CMD…` applies them: a new entrypoint clears the
/// config's Cmd).
pub fn scope_of(
    scope: ScopeArg,
    args: &ProfileArgs,
    config: &dockergate_source::ImageConfig,
) -> Scope {
    match scope {
        ScopeArg::Image => Scope::Image,
        ScopeArg::Entrypoint => {
            let (mut entrypoint, mut cmd) = (config.entrypoint.clone(), config.cmd.clone());
            if let Some(e) = &args.entrypoint {
                entrypoint = if e.is_empty() {
                    Vec::new()
                } else {
                    vec![e.clone()]
                };
                cmd = Vec::new();
            }
            if !args.cmd.is_empty() {
                cmd = args.cmd.clone();
            }
            Scope::Entrypoint(EntrypointSpec {
                entrypoint,
                cmd,
                user: config.user.clone(),
                healthcheck: config.health_commands(),
                also_run: args.also_run.iter().map(|c| command_line(c)).collect(),
                trust_dynamic: args.trust_dynamic,
            })
        }
    }
}

/// An --also-run command as the argv it runs: a JSON array of strings as is, anything else
/// through `/bin/sh -c`.
fn command_line(c: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(c) {
        Ok(argv) if !argv.is_empty() => argv,
        _ => vec!["/bin/sh".into(), "-c".into(), c.to_string()],
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RuntimeArg {
    Runc,
    Crun,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DlsymArg {
    /// A dlsym with a non-constant name reaches plugin exports (the documented assumption).
    Plugins,
    /// Every export of every loaded library may be called (ctypes-style code).
    All,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum UnresolvedArg {
    /// Refuse to write a profile and list the sites (default).
    Fail,
    /// Allow every syscall.
    AllowAll,
    /// Write the profile without them.
    Ignore,
}

#[derive(Args, Clone, Debug)]
pub struct ProfileArgs {
    /// Where to write the profile (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Where to write the evidence: why each syscall is allowed (JSON).
    #[arg(long, value_name = "FILE")]
    pub evidence: Option<PathBuf>,
    /// Which programs may run: what the entrypoint can start (the configured command, its
    /// health check and --also-run commands; not `podman exec` of anything else), or every
    /// program of the image.
    #[arg(long, value_enum, default_value = "entrypoint")]
    pub scope: ScopeArg,
    /// With --scope entrypoint: assume that program paths and library names computed at run
    /// time name only code already reached, instead of making every program or plugin
    /// reachable (each such call is listed under `assumptions` in the evidence).
    #[arg(long)]
    pub trust_dynamic: bool,
    /// With --scope entrypoint: the program the container is run with instead of the config's
    /// Entrypoint (clears the config's Cmd, as `podman run --entrypoint` does; "" for none).
    #[arg(long, value_name = "PATH")]
    pub entrypoint: Option<String>,
    /// With --scope entrypoint: one argument of the command instead of the config's Cmd
    /// (repeat for each argument, as after the image in `podman run IMAGE ARG…`).
    #[arg(long = "cmd", value_name = "ARG", allow_hyphen_values = true)]
    pub cmd: Vec<String>,
    /// With --scope entrypoint: another command run in the container besides its entrypoint
    /// (`podman exec`, a Kubernetes exec probe), repeatable: a JSON array of strings is run as
    /// is (exec form), anything else with `/bin/sh -c` (shell form).
    #[arg(long = "also-run", value_name = "COMMAND", allow_hyphen_values = true)]
    pub also_run: Vec<String>,
    /// The container runtime whose own syscalls are added.
    #[arg(long, value_enum, default_value = "runc")]
    pub runtime: RuntimeArg,
    /// What to do when a reachable syscall site has an unknown number.
    #[arg(long, value_enum, default_value = "fail")]
    pub unresolved: UnresolvedArg,
    /// Leave a file of the image out of the analysis (repeatable).
    #[arg(long, value_name = "PATH")]
    pub exclude: Vec<String>,
    /// What a dlsym with a non-constant name can reach.
    #[arg(long, value_enum, default_value = "plugins")]
    pub dlsym: DlsymArg,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The pipeline's options for these arguments and image.
pub fn options(args: &ProfileArgs, opened: &OpenedImage, scope: ScopeArg) -> Options {
    let config = &opened.image.config;
    Options {
        runtime: match args.runtime {
            RuntimeArg::Runc => Runtime::Runc,
            RuntimeArg::Crun => Runtime::Crun,
        },
        unresolved: match args.unresolved {
            UnresolvedArg::Fail => UnresolvedPolicy::Fail,
            UnresolvedArg::AllowAll => UnresolvedPolicy::AllowAll,
            UnresolvedArg::Ignore => UnresolvedPolicy::Ignore,
        },
        exclude: args.exclude.clone(),
        image_name: opened.image.reference.to_string(),
        scope: scope_of(scope, args, config),
        dlsym_all: matches!(args.dlsym, DlsymArg::All),
        // Program results are kept only for this very build, and not while debugging
        // variables change what the analysis does.
        build: (!debugging()).then_some(tool_version::TOOL_VERSION),
        // Every command that analyses an image ends once it has written what it found.
        leave_to_exit: true,
    }
}

/// What a run printed and wrote, kept in the cache as a whole: a later run on the same image
/// bytes with the same options and the same build replays it without reading the layers.
#[derive(Serialize, Deserialize)]
struct Replay {
    /// Warning lines, in order (without `warning: `).
    warnings: Vec<String>,
    /// The image as the summary line names it.
    image_name: String,
    profile: String,
    evidence: String,
    allowed: usize,
    programs: usize,
    unresolved: usize,
}

/// Whether a debugging variable (`DG_*`) is set: it may change what the analysis does, so no
/// result of such a run is kept or taken from the cache as a whole.
fn debugging() -> bool {
    std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("DG_"))
}

mod tool_version {
    include!(concat!(env!("OUT_DIR"), "/tool_version.rs"));
}

/// The key of a whole report: the image's bytes (archive or OCI layout; none for a root
/// filesystem directory), what selects and bounds what is read, every option that changes
/// the result, and the build of the tool. None when no report may be cached: a rootfs
/// directory (its files may change in place), or debugging variables that change the analysis.
fn report_key(image: &ImageArgs, args: &ProfileArgs) -> Result<Option<[u8; 32]>, CliError> {
    use sha2::{Digest, Sha256};
    if debugging() {
        return Ok(None);
    }
    let reference = dockergate_source::ImageRef::parse(&image.image)?;
    let Some(identity) = dockergate_source::content_identity(&reference)? else {
        return Ok(None);
    };
    let mut h = Sha256::new();
    h.update(b"dockergate image report 1\0");
    h.update(tool_version::TOOL_VERSION.to_le_bytes());
    h.update(identity);
    let options = format!(
        "{}\0{:?}\0{}\0{}\0{}\0{:?}\0{}\0{:?}\0{:?}\0{:?}\0{:?}",
        reference,
        reference.tag,
        image.platform,
        image.max_layer_bytes,
        image.max_image_bytes,
        args.scope,
        args.trust_dynamic,
        args.runtime,
        args.unresolved,
        args.exclude,
        args.dlsym,
    );
    let options = format!(
        "{options}\0{:?}\0{:?}\0{:?}",
        args.entrypoint, args.cmd, args.also_run
    );
    h.update(options.as_bytes());
    Ok(Some(h.finalize().into()))
}

pub fn run(image: &ImageArgs, args: &ProfileArgs) -> Result<ExitCode, CliError> {
    let mut session = Session::start(&args.cache, &args.run);
    session.phase("reading the image");
    let key = if args.cache.no_cache {
        None
    } else {
        report_key(image, args)?
    };
    if let Some(k) = key {
        let replay = session
            .cached_report(k)
            .and_then(|p| serde_json::from_slice::<Replay>(&p).ok());
        if let Some(r) = replay {
            r.emit(args, session.quiet(), 0)?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    // The layers' digests are checked while the analysis runs; nothing is reported before.
    let mut opened = open_with(image, true)?;
    let config = &opened.image.config;
    let opts = options(args, &opened, args.scope);
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
    opened.check_digests()?;
    if let Err(PipelineError::Unresolved { report, .. }) = &result {
        // What the analysis noticed explains the sites (e.g. a script's computed number).
        if !session.quiet() {
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
        }
    }
    let report = match result {
        Ok(r) => r,
        Err(PipelineError::Unresolved { report, .. }) if args.evidence.is_some() => {
            // Still write the evidence so that the sites can be examined.
            write_file(args.evidence.as_ref(), &report.evidence.to_json())?;
            return Err(CliError::Message(unresolved_message(
                &report,
                &opts.image_name,
            )));
        }
        Err(PipelineError::Unresolved { report, .. }) => {
            return Err(CliError::Message(unresolved_message(
                &report,
                &opts.image_name,
            )));
        }
        Err(e) => return Err(CliError::Message(e.to_string())),
    };
    let mut warnings = opened.warnings.clone();
    warnings.extend(report.warnings.iter().cloned());
    if !report.unresolved.is_empty() {
        warnings.push(format!(
            "{} reachable syscall site(s) with unknown numbers ({:?} chosen)",
            report.unresolved.len(),
            args.unresolved
        ));
    }
    let run = Replay {
        warnings,
        image_name: opts.image_name.clone(),
        profile: report.profile.to_oci_json(),
        evidence: report.evidence.to_json(),
        allowed: report.profile.tables.values().map(|m| m.len()).sum(),
        programs: report.evidence.programs.len(),
        unresolved: report.unresolved.len(),
    };
    // The warnings of reading the image were printed as it was read.
    run.emit(args, session.quiet(), opened.warnings.len())?;
    if let Some(k) = key {
        if let Ok(payload) = serde_json::to_vec(&run) {
            session.store_report(k, &payload);
        }
    }
    session.close_for_exit();
    leave_to_exit((opened, report, run));
    Ok(ExitCode::SUCCESS)
}

impl Replay {
    /// Prints the warnings (after the first `printed`), writes the profile and the evidence,
    /// and prints the summary line unless quiet.
    fn emit(&self, args: &ProfileArgs, quiet: bool, printed: usize) -> Result<(), CliError> {
        for w in self.warnings.iter().skip(printed) {
            eprintln!("warning: {w}");
        }
        match &args.output {
            Some(_) => write_file(args.output.as_ref(), &self.profile)?,
            None => print_out(&self.profile)?,
        }
        write_file(args.evidence.as_ref(), &self.evidence)?;
        if !quiet {
            eprintln!(
                "{}: {} syscalls allowed ({} programs and plugins analysed, {} unresolved sites)",
                self.image_name, self.allowed, self.programs, self.unresolved
            );
        }
        Ok(())
    }
}

fn unresolved_message(report: &ImageReport, image: &str) -> String {
    let first: Vec<String> = report
        .unresolved
        .iter()
        .take(5)
        .map(|u| format!("{} {} in {}", u.object, u.address, u.function))
        .collect();
    format!(
        "{} reachable syscall site(s) with an unknown number in {image}: {}{} (see --evidence; choose with --unresolved=allow-all|ignore)",
        report.unresolved.len(),
        first.join("; "),
        if report.unresolved.len() > 5 { "; …" } else { "" }
    )
}

fn write_file(path: Option<&PathBuf>, text: &str) -> Result<(), CliError> {
    if let Some(p) = path {
        std::fs::write(p, text)
            .map_err(|e| CliError::Message(format!("cannot write {}: {e}", p.display())))?;
    }
    Ok(())
}
