//! Reading one layer blob: compression detected by magic bytes, digests verified while streaming,
//! expansion bounded, entries turned into [`LayerEntry`] values whose contents stay where they are.

use std::io::{self, Read};

use dockergate_fs::{BlobId, Content, EntryKind, LayerEntry};
use sha2::{Digest, Sha256};

use crate::blob::SpillFile;
use crate::SourceError;

/// How a layer blob is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detects the compression from the first bytes of a blob.
    pub fn sniff(head: &[u8]) -> Result<Compression, &'static str> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Ok(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Ok(Compression::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Err("xz-compressed layers are not supported")
        } else if head.starts_with(b"BZh") {
            Err("bzip2-compressed layers are not supported")
        } else {
            Ok(Compression::None)
        }
    }
}

/// Bounds on expanded (uncompressed) bytes: per layer and for the whole image.
#[derive(Clone, Copy, Debug)]
pub struct ExpansionLimits {
    pub per_layer: u64,
    pub per_image: u64,
}

impl Default for ExpansionLimits {
    fn default() -> Self {
        ExpansionLimits {
            per_layer: 8 << 30,
            per_image: 32 << 30,
        }
    }
}

/// Where the contents of a layer's files are to be found afterwards.
pub enum Placement<'a> {
    /// The layer is stored uncompressed in a seekable blob at `base`: contents are not copied.
    InPlace { blob: BlobId, base: u64 },
    /// Contents worth keeping are copied to the spill file.
    Spill { blob: BlobId, spill: &'a SpillFile },
}

/// What the rest of the system learns about a layer once read.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerInfo {
    /// How the layer is named in its image (a blob digest or a file name in the archive).
    pub name: String,
    pub compression: Compression,
    pub stored_bytes: u64,
    pub expanded_bytes: u64,
    /// sha256 of the uncompressed tar stream.
    pub diff_id: String,
    pub entries: usize,
}

/// Files larger than this are kept only when they can matter to the analysis (ELF, `#!` scripts).
pub const RETAIN_ANY_BELOW: u64 = 1 << 20;

/// Reads a whole layer. `stored_digest` is checked against the bytes as stored and
/// `diff_id` against the uncompressed tar; both are `sha256:HEX` strings when known.
#[allow(clippy::too_many_arguments)]
pub fn read_layer(
    raw: impl Read,
    placement: Placement<'_>,
    name: &str,
    location: &str,
    stored_digest: Option<&str>,
    diff_id: Option<&str>,
    limits: ExpansionLimits,
    image_expanded_so_far: u64,
) -> Result<(Vec<LayerEntry>, LayerInfo), SourceError> {
    let layer_err = |why: String| SourceError::Layer {
        layer: name.to_string(),
        location: location.to_string(),
        why,
    };
    let mut stored = HashingReader::new(raw);
    let mut head = [0u8; 6];
    let head_len = read_up_to(&mut stored, &mut head).map_err(|e| layer_err(e.to_string()))?;
    let compression =
        Compression::sniff(&head[..head_len]).map_err(|w| layer_err(w.to_string()))?;
    let limit = limits
        .per_layer
        .min(limits.per_image.saturating_sub(image_expanded_so_far));
    let per_layer = limit == limits.per_layer;
    let mut entries = Vec::new();
    let (expanded_bytes, actual_diff) = {
        // The head was hashed when read; chain it back in front of the rest for the decoder.
        let stream = io::Read::chain(&head[..head_len], &mut stored);
        let decoded: Box<dyn Read + '_> = match compression {
            Compression::None => Box::new(stream),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::new(stream).map_err(|e| layer_err(e.to_string()))?,
            ),
        };
        let mut expanded = HashingReader::new(LimitedReader {
            inner: decoded,
            left: limit,
            limit,
            per_layer,
        });
        {
            let mut archive = tar::Archive::new(&mut expanded);
            let iter = archive
                .entries()
                .map_err(|e| limit_or(e, name, location, &layer_err))?;
            for entry in iter {
                let mut entry = entry.map_err(|e| limit_or(e, name, location, &layer_err))?;
                let le = to_layer_entry(&mut entry, &placement)
                    .map_err(|e| limit_or(e, name, location, &layer_err))?;
                if let Some(le) = le {
                    entries.push(le);
                }
            }
        }
        // Drain what follows the tar's end blocks so that the decompressor checks its trailer and
        // the digests cover every byte.
        io::copy(&mut expanded, &mut io::sink())
            .map_err(|e| limit_or(e, name, location, &layer_err))?;
        (
            expanded.count,
            format!("sha256:{}", hex::encode(expanded.hasher.finalize())),
        )
    };
    let stored_bytes = stored.count;
    let actual_stored = format!("sha256:{}", hex::encode(stored.hasher.finalize()));
    for (want, actual, what) in [
        (stored_digest, &actual_stored, "blob"),
        (diff_id, &actual_diff, "uncompressed tar"),
    ] {
        if let Some(want) = want {
            if !want.eq_ignore_ascii_case(actual) {
                return Err(SourceError::DigestMismatch {
                    name: format!("layer {name} ({what})"),
                    location: location.to_string(),
                    expected: want.to_string(),
                    actual: actual.clone(),
                });
            }
        }
    }
    let info = LayerInfo {
        name: name.to_string(),
        compression,
        stored_bytes,
        expanded_bytes,
        diff_id: actual_diff,
        entries: entries.len(),
    };
    Ok((entries, info))
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn limit_or(
    e: io::Error,
    name: &str,
    location: &str,
    layer_err: &dyn Fn(String) -> SourceError,
) -> SourceError {
    if let Some(l) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<LimitHit>())
    {
        return SourceError::LimitExceeded {
            layer: name.to_string(),
            location: location.to_string(),
            limit: l.limit,
            which: if l.per_layer {
                "--max-layer-bytes"
            } else {
                "--max-image-bytes"
            },
        };
    }
    layer_err(e.to_string())
}

fn to_layer_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    placement: &Placement<'_>,
) -> io::Result<Option<LayerEntry>> {
    let header = entry.header();
    let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let mode = header.mode().unwrap_or(0o644);
    let uid = header.uid().unwrap_or(0);
    let gid = header.gid().unwrap_or(0);
    let link = entry
        .link_name_bytes()
        .map(|l| String::from_utf8_lossy(&l).into_owned());
    let kind = match header.entry_type() {
        tar::EntryType::Directory => EntryKind::Dir,
        tar::EntryType::Symlink => EntryKind::Symlink {
            target: link.unwrap_or_default(),
        },
        tar::EntryType::Link => EntryKind::HardLink {
            target: link.unwrap_or_default(),
        },
        tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => EntryKind::Special,
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            let size = entry.size();
            let sparse = header.entry_type() == tar::EntryType::GNUSparse;
            let content = match placement {
                Placement::InPlace { blob, base } if !sparse => Content::Blob {
                    blob: *blob,
                    offset: base + entry.raw_file_position(),
                },
                Placement::InPlace { .. } => Content::NotRetained,
                Placement::Spill { blob, spill } => {
                    let mut head = [0u8; 4];
                    let n = read_up_to(entry, &mut head)?;
                    let keep = size < RETAIN_ANY_BELOW
                        || head[..n].starts_with(b"\x7fELF")
                        || head[..n].starts_with(b"#!");
                    if keep {
                        let offset = spill.append(&head[..n], entry)?;
                        Content::Blob {
                            blob: *blob,
                            offset,
                        }
                    } else {
                        Content::NotRetained
                    }
                }
            };
            EntryKind::File { size, content }
        }
        // pax/GNU extension headers are consumed by the tar crate; anything else carries no file.
        _ => return Ok(None),
    };
    Ok(Some(LayerEntry {
        path,
        kind,
        mode,
        uid,
        gid,
    }))
}

/// Counts and hashes the bytes that pass through.
pub struct HashingReader<R> {
    pub inner: R,
    pub hasher: Sha256,
    pub count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[derive(Debug)]
struct LimitHit {
    limit: u64,
    per_layer: bool,
}
impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expanded size exceeds {} bytes", self.limit)
    }
}
impl std::error::Error for LimitHit {}

/// Fails once more than `limit` bytes have been read: the decompression-bomb guard.
struct LimitedReader<R> {
    inner: R,
    left: u64,
    limit: u64,
    per_layer: bool,
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // Allow reading the clean end of the stream; a single further byte is a violation.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(LimitHit {
                    limit: self.limit,
                    per_layer: self.per_layer,
                })),
            };
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}
