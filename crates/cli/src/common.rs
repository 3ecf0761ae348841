//! What every subcommand shares: the image arguments and opening an image.

use std::path::PathBuf;

use clap::Args;
use dockergate_loader::ElfCatalog;
use dockergate_source::{open_image, ExpansionLimits, Image, ImageRef, ReadOptions};

/// How to find and read the image.
#[derive(Args, Clone, Debug)]
pub struct ImageArgs {
    /// The image: docker-archive:PATH, oci-archive:PATH, oci:DIR[:TAG], dir:PATH, or a bare path.
    pub image: String,
    /// Platform to pick from a multi-platform image (os/arch[/variant]).
    #[arg(long, default_value = "linux/amd64")]
    pub platform: String,
    /// Refuse a layer that expands to more than this many bytes (decompression bombs).
    #[arg(long, value_name = "BYTES", default_value_t = ExpansionLimits::default().per_layer)]
    pub max_layer_bytes: u64,
    /// Refuse an image whose layers expand to more than this many bytes in all.
    #[arg(long, value_name = "BYTES", default_value_t = ExpansionLimits::default().per_image)]
    pub max_image_bytes: u64,
    /// Directory for the temporary spill file of compressed layers (default: the system's).
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
}

/// Any failure of a subcommand, printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Source(#[from] dockergate_source::SourceError),
    #[error("{0}")]
    Message(String),
}

/// Writes `text` to standard output (see [`output_written`]).
pub fn print_out(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    output_written(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

/// The outcome of writing standard output: a reader that went away (`dockergate programs IMAGE
/// | head`) is not an error, as for any Unix tool; another write error is.
pub fn output_written(r: std::io::Result<()>) -> Result<(), CliError> {
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Message(format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Leaves `v` to the process's exit, which releases all memory at once: for what a command
/// holds when it is done (an image's index and parsed objects, the analysis's results:
/// hundreds of thousands of allocations). Only for values whose drop does nothing else: the
/// spill file is unnamed (the system removes it when the process ends), nothing is buffered.
pub fn leave_to_exit<T>(v: T) {
    std::mem::forget(v);
}

/// An image read and its ELF files scanned.
pub struct OpenedImage {
    pub image: Image,
    pub catalog: ElfCatalog,
    /// The warnings printed while reading it (without the `warning: ` prefix).
    pub warnings: Vec<String>,
}

pub fn open(args: &ImageArgs) -> Result<OpenedImage, CliError> {
    open_with(args, false)
}

/// [`open`]; with `defer_digest_checks`, the digests of layers read in place are still being
/// checked when it returns: `opened.image.check_digests()` must come before anything read
/// from the image is trusted or reported (see `ReadOptions::defer_digest_checks`).
pub fn open_with(args: &ImageArgs, defer_digest_checks: bool) -> Result<OpenedImage, CliError> {
    let reference = ImageRef::parse(&args.image)?;
    let opts = ReadOptions {
        platform: Some(args.platform.clone()),
        limits: ExpansionLimits {
            per_layer: args.max_layer_bytes,
            per_image: args.max_image_bytes,
        },
        spill_dir: args.temp_dir.clone(),
        max_entries: None,
        defer_digest_checks,
    };
    let image = open_image(&reference, &opts)?;
    let mut warnings = image.warnings.clone();
    let catalog = ElfCatalog::scan(&image.fs);
    for w in &catalog.warnings {
        warnings.push(format!("{} in {}: {}", w.path, image.reference, w.message));
    }
    let opened = OpenedImage {
        image,
        catalog,
        warnings,
    };
    if !defer_digest_checks {
        opened.print_warnings();
    }
    Ok(opened)
}

impl OpenedImage {
    fn print_warnings(&self) {
        for w in &self.warnings {
            eprintln!("warning: {w}");
        }
    }

    /// Waits for the digest checks [`open_with`] left going on, then prints the warnings of
    /// reading the image (held back until the image is known to be what its digests say).
    pub fn check_digests(&mut self) -> Result<(), CliError> {
        self.image.check_digests()?;
        self.print_warnings();
        Ok(())
    }
}
