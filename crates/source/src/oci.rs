//! The archive and layout transports: docker-archive, OCI archive, OCI layout directory. Each
//! becomes a plan (config + layer byte ranges of host files); the layers are then read in order.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::blob::{HostFileBlob, SpillFile};
use crate::layer::{read_layer, Compression, LayerInput, Placement};
use crate::tarindex::TarIndex;
use crate::{ImageConfig, ImageRef, LayerSink, ReadOptions, SourceError, Transport};

/// JSON documents (manifests, configs, indexes) larger than this are refused.
const MAX_DOCUMENT: u64 = 16 << 20;

/// One layer to read: a byte range of a host file, with the digests we can check.
struct LayerPlan {
    name: String,
    blob: Arc<HostFileBlob>,
    offset: u64,
    size: u64,
    stored_digest: Option<String>,
    diff_id: Option<String>,
}

struct Plan {
    config: ImageConfig,
    layers: Vec<LayerPlan>,
    location: String,
    warnings: Vec<String>,
}

pub(crate) fn read_docker_archive(
    path: &Path,
    opts: &ReadOptions,
    sink: &mut LayerSink,
) -> Result<ImageConfig, SourceError> {
    let plan = docker_archive_plan(path)?;
    run_plan(plan, opts, sink)
}

pub(crate) fn read_oci_archive(
    path: &Path,
    tag: Option<&str>,
    opts: &ReadOptions,
    sink: &mut LayerSink,
) -> Result<ImageConfig, SourceError> {
    let store = BlobStore::archive(path)?;
    run_plan(oci_plan(&store, tag, opts)?, opts, sink)
}

pub(crate) fn read_oci_dir(
    path: &Path,
    tag: Option<&str>,
    opts: &ReadOptions,
    sink: &mut LayerSink,
) -> Result<ImageConfig, SourceError> {
    let store = BlobStore::Dir {
        root: path.to_path_buf(),
        location: format!("oci:{}", path.display()),
    };
    run_plan(oci_plan(&store, tag, opts)?, opts, sink)
}

/// Reads and decompresses every layer, discarding the bytes: the read floor.
pub(crate) fn read_layers_raw(
    reference: &ImageRef,
    opts: &ReadOptions,
    verify: bool,
) -> Result<(u64, u64), SourceError> {
    let plan = match reference.transport {
        Transport::DockerArchive => docker_archive_plan(&reference.path)?,
        Transport::OciArchive => oci_plan(
            &BlobStore::archive(&reference.path)?,
            reference.tag.as_deref(),
            opts,
        )?,
        Transport::OciDir => oci_plan(
            &BlobStore::Dir {
                root: reference.path.clone(),
                location: reference.to_string(),
            },
            reference.tag.as_deref(),
            opts,
        )?,
        Transport::Dir => return Ok((0, 0)),
    };
    let (mut stored, mut expanded) = (0, 0);
    let mut buf = vec![0u8; 1 << 20];
    for l in &plan.layers {
        let err = |e: std::io::Error| SourceError::Layer {
            layer: l.name.clone(),
            location: plan.location.clone(),
            why: e.to_string(),
        };
        let mut head = [0u8; 6];
        let n = (l.size as usize).min(6);
        l.blob
            .read_exact_at(&mut head[..n], l.offset)
            .map_err(err)?;
        let compression = Compression::sniff(&head[..n]).unwrap_or(Compression::None);
        let mut stored_hash = Sha256::new();
        let raw = HashIf {
            inner: l.blob.range(l.offset, l.size),
            hasher: (verify && compression != Compression::None).then_some(&mut stored_hash),
        };
        let raw = std::io::BufReader::with_capacity(256 << 10, raw);
        let mut decoded: Box<dyn Read> = match compression {
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
            Compression::Zstd => {
                Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(err)?)
            }
            Compression::None => Box::new(raw),
        };
        let mut expanded_hash = Sha256::new();
        loop {
            let k = decoded.read(&mut buf).map_err(err)?;
            if k == 0 {
                break;
            }
            if verify {
                expanded_hash.update(&buf[..k]);
            }
            expanded += k as u64;
        }
        drop(decoded);
        std::hint::black_box((stored_hash.finalize(), expanded_hash.finalize()));
        stored += l.size;
    }
    Ok((stored, expanded))
}

/// Hashes what passes through when given a hasher.
struct HashIf<'h, R> {
    inner: R,
    hasher: Option<&'h mut Sha256>,
}

impl<R: Read> Read for HashIf<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

fn run_plan(
    plan: Plan,
    opts: &ReadOptions,
    sink: &mut LayerSink,
) -> Result<ImageConfig, SourceError> {
    sink.warnings.extend(plan.warnings);
    if !plan.config.diff_ids.is_empty() && plan.config.diff_ids.len() != plan.layers.len() {
        return Err(SourceError::Malformed {
            what: "image config".into(),
            location: plan.location.clone(),
            why: format!(
                "{} diff_ids for {} layers",
                plan.config.diff_ids.len(),
                plan.layers.len()
            ),
        });
    }
    let mut spill: Option<(Arc<SpillFile>, dockergate_fs::BlobId)> = None;
    let mut registered: HashMap<*const HostFileBlob, dockergate_fs::BlobId> = HashMap::new();
    for l in &plan.layers {
        let mut head = [0u8; 6];
        let n = (l.size as usize).min(6);
        l.blob
            .read_exact_at(&mut head[..n], l.offset)
            .map_err(|e| SourceError::Layer {
                layer: l.name.clone(),
                location: plan.location.clone(),
                why: e.to_string(),
            })?;
        let compressed = !matches!(Compression::sniff(&head[..n]), Ok(Compression::None));
        let placement = if compressed {
            if spill.is_none() {
                let file = SpillFile::create(opts.spill_dir.as_deref()).map_err(|source| {
                    SourceError::Spill {
                        dir: opts.spill_dir.as_ref().map_or_else(
                            || std::env::temp_dir().display().to_string(),
                            |d| d.display().to_string(),
                        ),
                        source,
                    }
                })?;
                let file = Arc::new(file);
                let id = sink.builder.add_blob(file.clone());
                spill = Some((file, id));
            }
            let (file, id) = spill
                .as_ref()
                .map(|(f, i)| (f.as_ref(), *i))
                .expect("spill created above");
            Placement::Spill {
                blob: id,
                spill: file,
            }
        } else {
            let key = Arc::as_ptr(&l.blob);
            let id = *registered
                .entry(key)
                .or_insert_with(|| sink.builder.add_blob(l.blob.clone()));
            Placement::InPlace {
                blob: id,
                base: l.offset,
            }
        };
        // Checks of layers read in place go on while the next layers are read (and, with
        // `defer_digest_checks`, while the caller works), a few at a time.
        sink.make_room_for_check()?;
        let read = read_layer(
            LayerInput {
                blob: &l.blob,
                offset: l.offset,
                size: l.size,
            },
            placement,
            &l.name,
            &plan.location,
            l.stored_digest.as_deref(),
            l.diff_id.as_deref(),
            opts.limits,
            sink.expanded_so_far(),
            opts.max_entries.unwrap_or(dockergate_fs::DEFAULT_MAX_NODES),
        );
        let (entries, info, check) = read.map_err(|e| sink.first_error(e))?;
        if let Some(c) = check {
            // The index `apply` gives the layer.
            sink.checks.push((sink.layers.len(), c));
        }
        if let Some((file, _)) = &spill {
            if let Err(e) = file.flush() {
                let e = SourceError::Layer {
                    layer: l.name.clone(),
                    location: plan.location.clone(),
                    why: e.to_string(),
                };
                return Err(sink.first_error(e));
            }
        }
        if let Err(e) = sink.apply(entries, Some(info)) {
            return Err(sink.first_error(e));
        }
    }
    Ok(plan.config)
}

#[derive(Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

fn docker_archive_plan(path: &Path) -> Result<Plan, SourceError> {
    let location = format!("docker-archive:{}", path.display());
    let blob = Arc::new(
        HostFileBlob::open(path).map_err(|source| SourceError::Open {
            path: path.display().to_string(),
            source,
        })?,
    );
    let index = TarIndex::scan(&blob, &location)?;
    let manifest_bytes = index.read_small("manifest.json", MAX_DOCUMENT)?;
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&manifest_bytes).map_err(|e| SourceError::Malformed {
            what: "manifest.json".into(),
            location: location.clone(),
            why: e.to_string(),
        })?;
    let mut warnings = Vec::new();
    let Some(entry) = entries.first() else {
        return Err(SourceError::Malformed {
            what: "manifest.json".into(),
            location,
            why: "it lists no image".into(),
        });
    };
    if entries.len() > 1 {
        warnings.push(format!(
            "{location} holds {} images; reading the first",
            entries.len()
        ));
    }
    let config_bytes = index.read_small(&entry.config, MAX_DOCUMENT)?;
    if let Some(want) = digest_in_name(&entry.config) {
        check_digest(
            &config_bytes,
            &want,
            &format!("config {}", entry.config),
            &location,
        )?;
    }
    let config = parse_config(&config_bytes, &location)?;
    let mut layers = Vec::new();
    for (i, name) in entry.layers.iter().enumerate() {
        let (offset, size) = index.get(name).ok_or_else(|| SourceError::MissingBlob {
            name: name.clone(),
            location: location.clone(),
            why: "manifest.json names it as a layer but the archive does not hold it".into(),
        })?;
        layers.push(LayerPlan {
            name: name.clone(),
            blob: blob.clone(),
            offset,
            size,
            stored_digest: digest_in_name(name),
            diff_id: config.diff_ids.get(i).cloned(),
        });
    }
    Ok(Plan {
        config,
        layers,
        location,
        warnings,
    })
}

/// A digest carried by a member name: `HEX.tar`, `HEX.json`, `blobs/sha256/HEX`, `sha256:HEX`.
fn digest_in_name(name: &str) -> Option<String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let hex = base
        .strip_suffix(".tar")
        .or_else(|| base.strip_suffix(".json"))
        .unwrap_or(base);
    let hex = hex.strip_prefix("sha256:").unwrap_or(hex);
    let is_hex = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let under_blobs = name.contains("sha256/")
        || base.ends_with(".tar")
        || base.ends_with(".json")
        || base.starts_with("sha256:");
    (is_hex && under_blobs).then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

fn check_digest(bytes: &[u8], want: &str, what: &str, location: &str) -> Result<(), SourceError> {
    let Some(hex_want) = want.strip_prefix("sha256:") else {
        return Ok(()); // another algorithm: not verified (none in use today)
    };
    let actual = hex::encode(Sha256::digest(bytes));
    if !actual.eq_ignore_ascii_case(hex_want) {
        return Err(SourceError::DigestMismatch {
            name: what.to_string(),
            location: location.to_string(),
            expected: want.to_string(),
            actual: format!("sha256:{actual}"),
        });
    }
    Ok(())
}

fn parse_config(bytes: &[u8], location: &str) -> Result<ImageConfig, SourceError> {
    ImageConfig::parse(bytes).map_err(|e| SourceError::Malformed {
        what: "image config".into(),
        location: location.into(),
        why: e.to_string(),
    })
}

/// Where the blobs of an OCI layout are: a directory or members of an archive.
enum BlobStore {
    Dir {
        root: std::path::PathBuf,
        location: String,
    },
    Archive {
        index: TarIndex,
        location: String,
    },
}

impl BlobStore {
    fn archive(path: &Path) -> Result<BlobStore, SourceError> {
        let location = format!("oci-archive:{}", path.display());
        let blob = Arc::new(
            HostFileBlob::open(path).map_err(|source| SourceError::Open {
                path: path.display().to_string(),
                source,
            })?,
        );
        let index = TarIndex::scan(&blob, &location)?;
        Ok(BlobStore::Archive { index, location })
    }

    fn location(&self) -> &str {
        match self {
            BlobStore::Dir { location, .. } | BlobStore::Archive { location, .. } => location,
        }
    }

    fn read_document(&self, name: &str) -> Result<Vec<u8>, SourceError> {
        match self {
            BlobStore::Archive { index, .. } => index.read_small(name, MAX_DOCUMENT),
            BlobStore::Dir { root, location } => {
                let p = root.join(name);
                let blob = open_in_layout(&p, name, location, "the layout does not hold it")?;
                let len = blob.len().map_err(|source| SourceError::Open {
                    path: p.display().to_string(),
                    source,
                })?;
                if len > MAX_DOCUMENT {
                    return Err(SourceError::Malformed {
                        what: name.into(),
                        location: location.clone(),
                        why: format!(
                            "{len} bytes, more than the {MAX_DOCUMENT} accepted for a document"
                        ),
                    });
                }
                let mut buf = vec![0u8; len as usize];
                blob.read_exact_at(&mut buf, 0)
                    .map_err(|source| SourceError::Open {
                        path: p.display().to_string(),
                        source,
                    })?;
                Ok(buf)
            }
        }
    }

    fn blob_name(digest: &str) -> Result<String, String> {
        let (alg, hex) = digest
            .split_once(':')
            .ok_or_else(|| format!("malformed digest {digest:?}"))?;
        if alg.is_empty()
            || hex.is_empty()
            || !alg.bytes().all(|b| b.is_ascii_alphanumeric())
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(format!("malformed digest {digest:?}"));
        }
        Ok(format!("blobs/{alg}/{hex}"))
    }

    fn read_blob_document(&self, d: &Descriptor) -> Result<Vec<u8>, SourceError> {
        let digest = d.digest().to_string();
        let name = Self::blob_name(&digest).map_err(|why| SourceError::Malformed {
            what: "descriptor".into(),
            location: self.location().into(),
            why,
        })?;
        let bytes = self.read_document(&name).map_err(|e| match e {
            SourceError::MissingBlob { location, why, .. } => SourceError::MissingBlob {
                name: digest.clone(),
                location,
                why,
            },
            other => other,
        })?;
        check_digest(&bytes, &digest, &format!("blob {digest}"), self.location())?;
        Ok(bytes)
    }

    fn layer(&self, d: &Descriptor) -> Result<(Arc<HostFileBlob>, u64, u64, String), SourceError> {
        let digest = d.digest().to_string();
        let name = Self::blob_name(&digest).map_err(|why| SourceError::Malformed {
            what: "layer descriptor".into(),
            location: self.location().into(),
            why,
        })?;
        match self {
            BlobStore::Archive { index, location } => {
                let (off, size) = index.get(&name).ok_or_else(|| SourceError::MissingBlob {
                    name: digest.clone(),
                    location: location.clone(),
                    why: format!(
                        "the manifest names it as a layer but the archive holds no {name}"
                    ),
                })?;
                Ok((index.blob().clone(), off, size, digest))
            }
            BlobStore::Dir { root, location } => {
                let p = root.join(&name);
                let blob = open_in_layout(
                    &p,
                    &digest,
                    location,
                    &format!("the manifest names it as a layer but the layout holds no {name}"),
                )?;
                let size = blob.len().map_err(|source| SourceError::Open {
                    path: p.display().to_string(),
                    source,
                })?;
                Ok((Arc::new(blob), 0, size, digest))
            }
        }
    }
}

/// Opens a file of an OCI layout directory: missing is a missing blob; a FIFO, a device or a
/// directory is a bad one.
fn open_in_layout(
    p: &Path,
    name: &str,
    location: &str,
    missing: &str,
) -> Result<HostFileBlob, SourceError> {
    HostFileBlob::open(p).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SourceError::MissingBlob {
                name: name.into(),
                location: location.into(),
                why: missing.into(),
            }
        } else {
            SourceError::Malformed {
                what: format!("blob {name}"),
                location: location.into(),
                why: format!("{}: {e}", p.display()),
            }
        }
    })
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn oci_plan(store: &BlobStore, tag: Option<&str>, opts: &ReadOptions) -> Result<Plan, SourceError> {
    let location = store.location().to_string();
    let index_bytes = store.read_document("index.json")?;
    let index = parse_index(&index_bytes, &location)?;
    let mut candidates: Vec<Descriptor> = index.manifests().clone();
    if let Some(tag) = tag {
        candidates.retain(|d| {
            d.annotations()
                .as_ref()
                .and_then(|a| a.get(REF_NAME))
                .is_some_and(|n| n == tag)
        });
        if candidates.is_empty() {
            return Err(SourceError::Malformed {
                what: "index.json".into(),
                location,
                why: format!("no image tagged {tag:?}"),
            });
        }
    }
    let mut warnings = Vec::new();
    let manifest = select_manifest(store, candidates, opts, &mut warnings, 0)?;
    let config_bytes = store.read_blob_document(manifest.config())?;
    let config = parse_config(&config_bytes, &location)?;
    let mut layers = Vec::new();
    for (i, d) in manifest.layers().iter().enumerate() {
        let (blob, offset, size, digest) = store.layer(d)?;
        layers.push(LayerPlan {
            name: digest.clone(),
            blob,
            offset,
            size,
            stored_digest: Some(digest),
            diff_id: config.diff_ids.get(i).cloned(),
        });
    }
    Ok(Plan {
        config,
        layers,
        location,
        warnings,
    })
}

fn parse_index(bytes: &[u8], location: &str) -> Result<ImageIndex, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| SourceError::Malformed {
        what: "image index".into(),
        location: location.into(),
        why: e.to_string(),
    })
}

fn is_index(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageIndex)
        || mt.to_string() == "application/vnd.docker.distribution.manifest.list.v2+json"
}

/// Picks one manifest among index entries: the wanted platform (linux/amd64 by default); an
/// entry without platform counts as a match only when no entry names one.
fn select_manifest(
    store: &BlobStore,
    candidates: Vec<Descriptor>,
    opts: &ReadOptions,
    warnings: &mut Vec<String>,
    depth: u32,
) -> Result<ImageManifest, SourceError> {
    let location = store.location().to_string();
    if depth > 4 {
        return Err(SourceError::Malformed {
            what: "image index".into(),
            location,
            why: "indexes nested too deep".into(),
        });
    }
    let wanted = opts
        .platform
        .clone()
        .unwrap_or_else(|| "linux/amd64".to_string());
    let mut parts = wanted.split('/');
    let (w_os, w_arch, w_variant) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next(),
    );
    let with_platform: Vec<&Descriptor> = candidates
        .iter()
        .filter(|d| d.platform().is_some())
        .collect();
    let chosen: &Descriptor = if with_platform.is_empty() {
        let Some(first) = candidates.first() else {
            return Err(SourceError::Malformed {
                what: "image index".into(),
                location,
                why: "no manifests".into(),
            });
        };
        if candidates.len() > 1 {
            warnings.push(format!(
                "{location} lists {} images without platforms; reading the first",
                candidates.len()
            ));
        }
        first
    } else {
        let found = with_platform.iter().find(|d| {
            let p = d.platform().as_ref().expect("filtered on platform");
            p.os().to_string() == w_os
                && p.architecture().to_string() == w_arch
                && w_variant.is_none_or(|v| p.variant().as_deref() == Some(v))
        });
        match found {
            Some(d) => d,
            None => {
                let mut available: Vec<String> = with_platform
                    .iter()
                    .map(|d| {
                        let p = d.platform().as_ref().expect("filtered on platform");
                        let mut s = format!("{}/{}", p.os(), p.architecture());
                        if let Some(v) = p.variant() {
                            s.push('/');
                            s.push_str(v);
                        }
                        s
                    })
                    .collect();
                available.sort();
                available.dedup();
                return Err(SourceError::Platform {
                    location,
                    wanted,
                    available: available.join(", "),
                });
            }
        }
    };
    let bytes = store.read_blob_document(chosen)?;
    if is_index(chosen.media_type()) {
        let nested = parse_index(&bytes, &location)?;
        return select_manifest(store, nested.manifests().clone(), opts, warnings, depth + 1);
    }
    serde_json::from_slice(&bytes).map_err(|e| SourceError::Malformed {
        what: "image manifest".into(),
        location,
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::digest_in_name;

    #[test]
    fn digests_in_member_names() {
        let hex = "a".repeat(64);
        assert_eq!(
            digest_in_name(&format!("{hex}.tar")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(
            digest_in_name(&format!("blobs/sha256/{hex}")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(digest_in_name(&format!("{hex}/layer.tar")), None);
        assert_eq!(digest_in_name("config.json"), None);
    }
}
