//! `dockergate-source`: reads a container image, in the forms people have it, into an
//! [`ImageFs`] and an [`ImageConfig`], without a daemon and without extracting anything.
//!
//! Transports are named as skopeo and podman name them: `docker-archive:PATH`,
//! `oci-archive:PATH`, `oci:DIR[:TAG]`, `dir:PATH`; a bare path is recognised by its content.
//! Layer blobs may be uncompressed, gzip or zstd (detected by magic bytes). Every blob whose
//! digest is known is verified while it streams; expansion is bounded per layer and per image.
//!
//! This crate and the cache are the only stages that touch the host filesystem.

mod blob;
mod config;
mod layer;
mod oci;
mod rootfs;
mod targuard;
mod tarindex;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dockergate_fs::{ImageFs, ImageFsBuilder};

pub use blob::{HostFileBlob, SpillFile};
pub use config::{ImageConfig, DEFAULT_PATH};
pub use layer::{Compression, ExpansionLimits, LayerInfo};

/// Errors reading an image. Each renders as one line, `<what> in <where>: <why>` (control
/// characters of hostile names are escaped, so a name cannot start a line of its own).
#[derive(Debug)]
pub enum SourceError {
    Open {
        path: String,
        source: std::io::Error,
    },
    UnknownTransport(String),
    RegistryUnsupported(String),
    Unrecognized {
        path: String,
        why: String,
    },
    Malformed {
        what: String,
        location: String,
        why: String,
    },
    MissingBlob {
        name: String,
        location: String,
        why: String,
    },
    DigestMismatch {
        name: String,
        location: String,
        expected: String,
        actual: String,
    },
    Layer {
        layer: String,
        location: String,
        why: String,
    },
    LimitExceeded {
        layer: String,
        location: String,
        limit: u64,
        which: &'static str,
    },
    Platform {
        location: String,
        wanted: String,
        available: String,
    },
    TooManyEntries {
        location: String,
        why: String,
    },
    Spill {
        dir: String,
        source: std::io::Error,
    },
}

impl SourceError {
    fn render(&self) -> String {
        match self {
            SourceError::Open { path, source } => format!("cannot open {path}: {source}"),
            SourceError::UnknownTransport(t) => format!(
                "unknown transport {t:?} in the image reference: use docker-archive:, oci-archive:, oci: or dir:"
            ),
            SourceError::RegistryUnsupported(r) => format!(
                "the registry transport is not supported yet in {r}: save the image first (skopeo copy docker://… oci-archive:FILE)"
            ),
            SourceError::Unrecognized { path, why } => {
                format!("cannot recognise the image format of {path}: {why}")
            }
            SourceError::Malformed {
                what,
                location,
                why,
            } => format!("bad {what} in {location}: {why}"),
            SourceError::MissingBlob {
                name,
                location,
                why,
            } => format!("missing blob {name} in {location}: {why}"),
            SourceError::DigestMismatch {
                name,
                location,
                expected,
                actual,
            } => format!(
                "digest mismatch for {name} in {location}: expected {expected}, got {actual}"
            ),
            SourceError::Layer {
                layer,
                location,
                why,
            } => format!("cannot read layer {layer} in {location}: {why}"),
            SourceError::LimitExceeded {
                layer,
                location,
                limit,
                which,
            } => {
                let what = if *which == "--max-image-bytes" {
                    "with the layers below it, it expands to"
                } else {
                    "it expands to"
                };
                format!(
                    "cannot read layer {layer} in {location}: {what} more than {limit} bytes (raise the limit with {which})"
                )
            }
            SourceError::Platform {
                location,
                wanted,
                available,
            } => format!(
                "no manifest for platform {wanted} in {location}: the image has {available}"
            ),
            SourceError::TooManyEntries { location, why } => {
                format!("too many filesystem entries in {location}: {why}")
            }
            SourceError::Spill { dir, source } => {
                format!("cannot create the spill file in {dir}: {source}")
            }
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&one_line(&self.render()))
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SourceError::Open { source, .. } | SourceError::Spill { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A long name cut to its first 200 characters for messages.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}… ({} bytes)", &s[..i], s.len()),
        None => s.to_string(),
    }
}

/// Escapes control characters (newlines above all), so that a message stays on one line.
pub fn one_line(s: &str) -> String {
    dockergate_fs::one_line(s).into_owned()
}

/// How the image is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    DockerArchive,
    OciArchive,
    OciDir,
    Dir,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::DockerArchive => "docker-archive",
            Transport::OciArchive => "oci-archive",
            Transport::OciDir => "oci",
            Transport::Dir => "dir",
        })
    }
}

/// An image reference as the user wrote it, split into transport and location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub transport: Transport,
    pub path: PathBuf,
    /// `oci:DIR:TAG` selects a tag (the `org.opencontainers.image.ref.name` annotation).
    pub tag: Option<String>,
}

impl ImageRef {
    /// Parses `TRANSPORT:PATH` or a bare path (recognised by its content).
    pub fn parse(spec: &str) -> Result<ImageRef, SourceError> {
        if spec.starts_with("docker://") {
            return Err(SourceError::RegistryUnsupported(spec.to_string()));
        }
        let known = [
            ("docker-archive:", Transport::DockerArchive),
            ("oci-archive:", Transport::OciArchive),
            ("oci:", Transport::OciDir),
            ("dir:", Transport::Dir),
        ];
        for (prefix, transport) in known {
            if let Some(rest) = spec.strip_prefix(prefix) {
                let (path, tag) = if transport == Transport::OciDir {
                    split_tag(rest)
                } else {
                    (rest.to_string(), None)
                };
                return Ok(ImageRef {
                    transport,
                    path: PathBuf::from(path),
                    tag,
                });
            }
        }
        if let Some((scheme, _)) = spec.split_once(':') {
            if !scheme.contains('/') && !Path::new(spec).exists() && scheme.len() > 1 {
                return Err(SourceError::UnknownTransport(scheme.to_string()));
            }
        }
        let path = PathBuf::from(spec);
        let transport = sniff_transport(&path)?;
        Ok(ImageRef {
            transport,
            path,
            tag: None,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.path.display())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        Ok(())
    }
}

/// `DIR:TAG` → (DIR, TAG) when the part after the last ':' looks like a tag, not a path.
fn split_tag(rest: &str) -> (String, Option<String>) {
    if let Some((dir, tag)) = rest.rsplit_once(':') {
        if !tag.is_empty() && !tag.contains('/') && !Path::new(rest).exists() {
            return (dir.to_string(), Some(tag.to_string()));
        }
    }
    (rest.to_string(), None)
}

/// Recognises a bare path: an OCI layout directory, a rootfs directory, or an archive holding
/// `manifest.json` (docker-archive) or `oci-layout`/`index.json` (OCI archive).
fn sniff_transport(path: &Path) -> Result<Transport, SourceError> {
    let meta = std::fs::metadata(path).map_err(|source| SourceError::Open {
        path: path.display().to_string(),
        source,
    })?;
    if meta.is_dir() {
        if path.join("oci-layout").is_file()
            || (path.join("index.json").is_file() && path.join("blobs").is_dir())
        {
            return Ok(Transport::OciDir);
        }
        return Ok(Transport::Dir);
    }
    let blob = Arc::new(
        HostFileBlob::open(path).map_err(|source| SourceError::Open {
            path: path.display().to_string(),
            source,
        })?,
    );
    let index =
        tarindex::TarIndex::scan(&blob, &path.display().to_string()).map_err(|e| match e {
            SourceError::Malformed { why, .. } => SourceError::Unrecognized {
                path: path.display().to_string(),
                why: format!("not a tar archive nor a directory ({why})"),
            },
            other => other,
        })?;
    if index.get("manifest.json").is_some() {
        Ok(Transport::DockerArchive)
    } else if index.get("oci-layout").is_some() || index.get("index.json").is_some() {
        Ok(Transport::OciArchive)
    } else {
        Err(SourceError::Unrecognized {
            path: path.display().to_string(),
            why: "a tar archive without manifest.json (docker-archive) or index.json (OCI)"
                .to_string(),
        })
    }
}

/// Options of [`open_image`].
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// `os/arch[/variant]` to select from a multi-platform index; `linux/amd64` when unset.
    pub platform: Option<String>,
    pub limits: ExpansionLimits,
    /// Where the spill file goes (the system temporary directory when unset).
    pub spill_dir: Option<PathBuf>,
    /// Bound on filesystem entries of the whole image.
    pub max_entries: Option<usize>,
    /// Return before the digests of layers read in place (uncompressed, in the archive or
    /// layout) are checked: the checks go on on their own threads while the caller works on
    /// the image, and [`Image::check_digests`] waits for them. The caller must call it before
    /// it trusts or reports anything read from the image.
    pub defer_digest_checks: bool,
}

/// A read image: its configuration and its squashed filesystem.
pub struct Image {
    pub reference: ImageRef,
    pub config: ImageConfig,
    pub fs: ImageFs,
    pub layers: Vec<LayerInfo>,
    /// Odd things handled without failing (absolute or escaping tar paths, broken hard links…).
    pub warnings: Vec<String>,
    /// Digest checks still going on (`ReadOptions::defer_digest_checks`), by layer index.
    checks: Vec<(usize, layer::DigestCheck)>,
}

impl Image {
    /// Waits for the digest checks still going on (see `ReadOptions::defer_digest_checks`):
    /// the error the image's reading would have given (a digest mismatch, a short file), or
    /// Ok once every layer is what its digests say. Each layer's `diff_id` is known after it.
    pub fn check_digests(&mut self) -> Result<(), SourceError> {
        finish_checks(std::mem::take(&mut self.checks), &mut self.layers)
    }

    /// Bytes read from disk for the layers, and bytes after decompression.
    pub fn layer_bytes(&self) -> (u64, u64) {
        self.layers.iter().fold((0, 0), |(s, e), l| {
            (s + l.stored_bytes, e + l.expanded_bytes)
        })
    }
}

/// Reads an image.
pub fn open_image(reference: &ImageRef, opts: &ReadOptions) -> Result<Image, SourceError> {
    let location = reference.to_string();
    let mut builder = ImageFsBuilder::new();
    if let Some(n) = opts.max_entries {
        builder = builder.max_nodes(n);
    }
    let mut sink = LayerSink {
        builder,
        warnings: Vec::new(),
        layers: Vec::new(),
        location: location.clone(),
        checks: Vec::new(),
    };
    let config = match reference.transport {
        Transport::DockerArchive => oci::read_docker_archive(&reference.path, opts, &mut sink)?,
        Transport::OciArchive => {
            oci::read_oci_archive(&reference.path, reference.tag.as_deref(), opts, &mut sink)?
        }
        Transport::OciDir => {
            oci::read_oci_dir(&reference.path, reference.tag.as_deref(), opts, &mut sink)?
        }
        Transport::Dir => rootfs::read_rootfs(&reference.path, &mut sink)?,
    };
    let mut image = Image {
        reference: reference.clone(),
        config,
        fs: sink.builder.finish(),
        layers: sink.layers,
        warnings: sink.warnings,
        checks: sink.checks,
    };
    if !opts.defer_digest_checks {
        image.check_digests()?;
    }
    Ok(image)
}

/// Collects layers as the transports read them.
pub(crate) struct LayerSink {
    pub builder: ImageFsBuilder,
    pub warnings: Vec<String>,
    pub layers: Vec<LayerInfo>,
    pub location: String,
    /// Digest checks going on, by layer index.
    pub checks: Vec<(usize, layer::DigestCheck)>,
}

/// Digest checks that may go on at once (one thread each).
const MAX_PENDING_CHECKS: usize = 4;

/// Finishes digest checks (layer index, check) in order, each layer's `diff_id` taking the
/// digest found; the first check's error stops it.
fn finish_checks(
    checks: impl IntoIterator<Item = (usize, layer::DigestCheck)>,
    layers: &mut [LayerInfo],
) -> Result<(), SourceError> {
    for (i, c) in checks {
        let digest = c.finish()?;
        if let Some(l) = layers.get_mut(i) {
            l.diff_id = digest;
        }
    }
    Ok(())
}

impl LayerSink {
    /// Finishes the oldest digest check when as many as may go on at once are going on (an
    /// image of thousands of layers must not start thousands of threads).
    pub fn make_room_for_check(&mut self) -> Result<(), SourceError> {
        if self.checks.len() >= MAX_PENDING_CHECKS {
            let oldest = self.checks.remove(0);
            finish_checks([oldest], &mut self.layers)?;
        }
        Ok(())
    }

    /// `e`, unless an earlier layer is not what its digest says: that explains it best (and is
    /// what reading the layers one check after the other reported).
    pub fn first_error(&mut self, e: SourceError) -> SourceError {
        finish_checks(std::mem::take(&mut self.checks), &mut self.layers)
            .err()
            .unwrap_or(e)
    }

    pub fn expanded_so_far(&self) -> u64 {
        self.layers.iter().map(|l| l.expanded_bytes).sum()
    }
    pub fn apply(
        &mut self,
        entries: Vec<dockergate_fs::LayerEntry>,
        info: Option<LayerInfo>,
    ) -> Result<(), SourceError> {
        let warnings =
            self.builder
                .apply_layer(entries)
                .map_err(|e| SourceError::TooManyEntries {
                    location: self.location.clone(),
                    why: e.to_string(),
                })?;
        let layer_name = info
            .as_ref()
            .map(|i| i.name.clone())
            .unwrap_or_else(|| "rootfs".to_string());
        for w in warnings {
            self.warnings.push(one_line(&format!(
                "entry {} in layer {layer_name} of {}: {}",
                shorten(&format!("{:?}", w.entry)),
                self.location,
                w.message
            )));
        }
        if let Some(info) = info {
            self.layers.push(info);
        }
        Ok(())
    }
}

/// The read floor: the time to read and decompress every layer of an image, doing nothing else
/// (no tar parsing, no hashing), in 1 MiB reads. Benchmarks compare the real work with it.
pub fn read_floor(
    reference: &ImageRef,
    opts: &ReadOptions,
) -> Result<(u64, u64, Duration), SourceError> {
    let t0 = Instant::now();
    let (stored, expanded) = oci::read_layers_raw(reference, opts, false)?;
    Ok((stored, expanded, t0.elapsed()))
}

/// The floor of a reader that verifies digests: [`read_floor`] plus sha256 of the stored and
/// of the expanded bytes (once when they are the same), all on one thread.
pub fn read_floor_verified(
    reference: &ImageRef,
    opts: &ReadOptions,
) -> Result<(u64, u64, Duration), SourceError> {
    let t0 = Instant::now();
    let (stored, expanded) = oci::read_layers_raw(reference, opts, true)?;
    Ok((stored, expanded, t0.elapsed()))
}

/// A digest of every byte an image is read from, when the image is one file or an OCI layout
/// (not a root filesystem directory): the archive file itself, or every regular file of the
/// layout in path order (other entries by name and kind). Two images with the same identity read to the same configuration and filesystem,
/// so a whole result computed from one holds for the other (the transport, tag and platform are
/// not part of it: callers add what they select with). Only hashing: no parsing, no
/// decompression, nothing trusted from the image's own digests.
pub fn content_identity(reference: &ImageRef) -> Result<Option<[u8; 32]>, SourceError> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let open_err = |p: &Path, e: std::io::Error| SourceError::Open {
        path: p.display().to_string(),
        source: e,
    };
    let hash_file = |h: &mut Sha256, p: &Path| -> Result<(), SourceError> {
        h.update(chunked_blake3(p).map_err(|e| open_err(p, e))?);
        Ok(())
    };
    match reference.transport {
        Transport::Dir => return Ok(None),
        Transport::DockerArchive | Transport::OciArchive => {
            hash_file(&mut h, &reference.path)?;
        }
        Transport::OciDir => {
            // Every entry under the layout, sorted, with its kind and name: regular files by
            // content, symlinks by target, anything else (a FIFO would block a read) by name.
            let mut stack = vec![reference.path.clone()];
            let mut files = Vec::new();
            while let Some(dir) = stack.pop() {
                for e in std::fs::read_dir(&dir).map_err(|e| open_err(&dir, e))? {
                    let e = e.map_err(|e| open_err(&dir, e))?;
                    let p = e.path();
                    let t = e.file_type().map_err(|e| open_err(&p, e))?;
                    let kind = match () {
                        _ if t.is_dir() => {
                            stack.push(p);
                            continue;
                        }
                        _ if t.is_file() => 0u8,
                        _ if t.is_symlink() => 1,
                        _ => 2,
                    };
                    files.push((p, kind));
                }
            }
            files.sort();
            for (p, kind) in files {
                let rel = p.strip_prefix(&reference.path).unwrap_or(&p);
                h.update(rel.to_string_lossy().as_bytes());
                h.update([0, kind]);
                match kind {
                    0 => hash_file(&mut h, &p)?,
                    1 => {
                        let t = std::fs::read_link(&p).map_err(|e| open_err(&p, e))?;
                        h.update(t.to_string_lossy().as_bytes());
                    }
                    _ => {}
                }
                h.update([0xff]);
            }
        }
    }
    Ok(Some(h.finalize().into()))
}

/// Bytes per chunk of [`chunked_blake3`].
const IDENTITY_CHUNK: u64 = 8 << 20;

/// sha256 of a file's length and of the BLAKE3 hash of each of its 8 MiB chunks in order (a
/// two-level hash tree, the chunks hashed on every core). BLAKE3, not sha256, for the chunks:
/// the identity is this tool's own key, not a digest an image format defines, and BLAKE3 hashes
/// four times as fast (the identity is computed before anything else, on every run).
fn chunked_blake3(path: &Path) -> std::io::Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    // Opened as the image will be: a FIFO or a device is refused, not waited on.
    let file = blob::HostFileBlob::open(path)?;
    let len = file.len()?;
    let chunks = len.div_ceil(IDENTITY_CHUNK).max(1) as usize;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks);
    let mut digests = vec![[0u8; 32]; chunks];
    let results: Vec<std::io::Result<Vec<(usize, [u8; 32])>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let file = &file;
                scope.spawn(move || -> std::io::Result<Vec<(usize, [u8; 32])>> {
                    let mut buf = vec![0u8; dockergate_fs::READ_PIECE];
                    let mut out = Vec::new();
                    for i in (t..chunks).step_by(threads) {
                        let off = i as u64 * IDENTITY_CHUNK;
                        let n = (len - off.min(len)).min(IDENTITY_CHUNK);
                        let mut hasher = blake3::Hasher::new();
                        dockergate_fs::read_in_pieces(file, off, n, &mut buf, |piece| {
                            hasher.update(piece);
                        })?;
                        out.push((i, *hasher.finalize().as_bytes()));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a hashing thread panicked")))
            })
            .collect()
    });
    for r in results {
        for (i, d) in r? {
            digests[i] = d;
        }
    }
    let mut h = Sha256::new();
    h.update(b"dockergate chunked blake3 8MiB\0");
    h.update(len.to_le_bytes());
    for d in &digests {
        h.update(d);
    }
    Ok(h.finalize().into())
}
