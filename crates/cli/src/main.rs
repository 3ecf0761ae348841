//! The `dockergate` command line: reads an image, runs the pipeline, prints or writes the result.
//! Every failure is one line on stderr, `error: <what> in <where>: <why>`, and exit status 1;
//! usage errors exit with 2.

mod cmd_cache;
mod cmd_ldd;
mod cmd_ls;
mod cmd_profile;
mod cmd_programs;
mod common;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use common::ImageArgs;

/// The analysis allocates many small short-lived vectors on every thread; mimalloc's per-thread
/// heaps cut the time glibc's malloc spends in locks and consolidation (about a tenth of a cold
/// run).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "dockergate",
    version,
    about = "Seccomp profiles from static analysis of container images"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every ELF file of an image: path, kind, machine, size, linkage.
    Ls {
        #[command(flatten)]
        image: ImageArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print what `ldd PATH` prints inside the container (without load addresses).
    Ldd {
        #[command(flatten)]
        image: ImageArgs,
        /// The program or library, as a path inside the image.
        path: String,
        /// Also print each imported symbol with the object that provides it.
        #[arg(long)]
        bindings: bool,
    },
    /// Write the seccomp profile of an image (Docker/OCI JSON).
    Profile {
        #[command(flatten)]
        image: ImageArgs,
        #[command(flatten)]
        opts: cmd_profile::ProfileArgs,
    },
    /// The programs the entrypoint can start (scripts, interpreters, exec and dlopen calls
    /// followed), each with the chain that reaches it.
    Programs {
        #[command(flatten)]
        image: ImageArgs,
        #[command(flatten)]
        opts: cmd_programs::ProgramsArgs,
    },
    /// The analysis cache: `stats` (entries, size, hit rate of the last run), `clear`.
    Cache {
        #[command(subcommand)]
        command: cmd_cache::CacheCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ls { image, json } => cmd_ls::run(&image, json),
        Command::Ldd {
            image,
            path,
            bindings,
        } => cmd_ldd::run(&image, &path, bindings),
        Command::Profile { image, opts } => cmd_profile::run(&image, &opts),
        Command::Programs { image, opts } => cmd_programs::run(&image, &opts),
        Command::Cache { command } => cmd_cache::run(&command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
