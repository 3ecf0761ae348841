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
mod tarindex;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dockergate_fs::{ImageFs, ImageFsBuilder};

pub use blob::{HostFileBlob, SpillFile};
pub use config::{ImageConfig, DEFAULT_PATH};
pub use layer::{Compression, ExpansionLimits, LayerInfo};

/// Errors reading an image. Each renders as one line: what went wrong, where, and why.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown transport {0:?} (use docker-archive:, oci-archive:, oci: or dir:)")]
    UnknownTransport(String),
    #[error("the registry transport is not supported yet in {0}: save the image first (skopeo copy docker://… oci-archive:FILE)")]
    RegistryUnsupported(String),
    #[error("cannot recognise the image format of {path}: {why}")]
    Unrecognized { path: String, why: String },
    #[error("bad {what} in {location}: {why}")]
    Malformed {
        what: String,
        location: String,
        why: String,
    },
    #[error("missing blob {name} in {location}")]
    MissingBlob { name: String, location: String },
    #[error("digest mismatch for {name} in {location}: expected {expected}, got {actual}")]
    DigestMismatch {
        name: String,
        location: String,
        expected: String,
        actual: String,
    },
    #[error("cannot read layer {layer} in {location}: {why}")]
    Layer {
        layer: String,
        location: String,
        why: String,
    },
    #[error("layer {layer} in {location} expands past the limit of {limit} bytes (raise it with {which})")]
    LimitExceeded {
        layer: String,
        location: String,
        limit: u64,
        which: &'static str,
    },
    #[error("no manifest for platform {wanted} in {location} (available: {available})")]
    Platform {
        location: String,
        wanted: String,
        available: String,
    },
    #[error("too many filesystem entries in {location}: {why}")]
    TooManyEntries { location: String, why: String },
    #[error("cannot create the spill file in {dir}: {source}")]
    Spill {
        dir: String,
        #[source]
        source: std::io::Error,
    },
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
}

/// A read image: its configuration and its squashed filesystem.
pub struct Image {
    pub reference: ImageRef,
    pub config: ImageConfig,
    pub fs: ImageFs,
    pub layers: Vec<LayerInfo>,
    /// Odd things handled without failing (absolute or escaping tar paths, broken hard links…).
    pub warnings: Vec<String>,
}

impl Image {
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
    Ok(Image {
        reference: reference.clone(),
        config,
        fs: sink.builder.finish(),
        layers: sink.layers,
        warnings: sink.warnings,
    })
}

/// Collects layers as the transports read them.
pub(crate) struct LayerSink {
    pub builder: ImageFsBuilder,
    pub warnings: Vec<String>,
    pub layers: Vec<LayerInfo>,
    pub location: String,
}

impl LayerSink {
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
            self.warnings.push(format!(
                "layer {layer_name}: entry {:?}: {}",
                w.entry, w.message
            ));
        }
        if let Some(info) = info {
            self.layers.push(info);
        }
        Ok(())
    }
}

/// The read floor: the time to read and decompress every layer of an image, doing nothing else
/// (no tar parsing, no hashing). Benchmarks compare the real work with it.
pub fn read_floor(
    reference: &ImageRef,
    opts: &ReadOptions,
) -> Result<(u64, u64, Duration), SourceError> {
    let t0 = Instant::now();
    let (stored, expanded) = oci::read_layers_raw(reference, opts)?;
    Ok((stored, expanded, t0.elapsed()))
}
