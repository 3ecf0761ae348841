//! Reading one layer blob: compression detected by magic bytes, digests verified while streaming,
//! expansion bounded, entries turned into [`LayerEntry`] values whose contents stay where they are.

use std::io::{self, Read};
use std::sync::{mpsc, Arc, Mutex};

use dockergate_fs::{BlobId, Content, EntryKind, LayerEntry};
use sha2::{Digest, Sha256};

use crate::blob::{HostFileBlob, SpillFile, WindowReader};
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

/// Where a layer's stored bytes are: `size` bytes at `offset` of a host file.
pub struct LayerInput<'a> {
    pub blob: &'a Arc<HostFileBlob>,
    pub offset: u64,
    pub size: u64,
}

/// What a layer is called in messages.
struct Names<'a> {
    layer: &'a str,
    location: &'a str,
}

impl Names<'_> {
    fn error(&self, why: String) -> SourceError {
        SourceError::Layer {
            layer: self.layer.to_string(),
            location: self.location.to_string(),
            why,
        }
    }

    /// An I/O error met while reading the layer, as one line that says what it means.
    fn io(&self, e: io::Error) -> SourceError {
        if let Some(l) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<LimitHit>())
        {
            return SourceError::LimitExceeded {
                layer: self.layer.to_string(),
                location: self.location.to_string(),
                limit: l.flag_value,
                which: if l.per_layer {
                    "--max-layer-bytes"
                } else {
                    "--max-image-bytes"
                },
            };
        }
        self.error(describe_io(&e))
    }
}

/// Says what an error of the tar reader or a decompressor means: most often a truncated file.
fn describe_io(e: &io::Error) -> String {
    let msg = e.to_string();
    let truncated = e.kind() == io::ErrorKind::UnexpectedEof
        || msg.contains("unexpected EOF")
        || msg.contains("unexpected end of file")
        || msg.contains("failed to read entire block")
        || msg.contains("incomplete frame")
        || msg.contains("ends before");
    if truncated && !msg.contains("truncated") {
        format!("truncated: the data ends early ({msg})")
    } else {
        msg
    }
}

/// Reads a whole layer. `stored_digest` is checked against the bytes as stored and
/// `diff_id` against the uncompressed tar; both are `sha256:HEX` strings when known.
///
/// The digests are computed on a second thread while this one decompresses and walks the tar.
/// A layer stored uncompressed and read in place is not even read here beyond its tar headers:
/// the hashing thread reads it, once, and its file contents are left where they are.
#[allow(clippy::too_many_arguments)]
pub fn read_layer(
    input: LayerInput<'_>,
    placement: Placement<'_>,
    name: &str,
    location: &str,
    stored_digest: Option<&str>,
    diff_id: Option<&str>,
    limits: ExpansionLimits,
    image_expanded_so_far: u64,
) -> Result<(Vec<LayerEntry>, LayerInfo), SourceError> {
    let names = Names {
        layer: name,
        location,
    };
    let mut head = [0u8; 6];
    let head_len = input.size.min(head.len() as u64) as usize;
    input
        .blob
        .read_exact_at(&mut head[..head_len], input.offset)
        .map_err(|e| names.io(e))?;
    let compression = Compression::sniff(&head[..head_len]).map_err(|w| names.error(w.into()))?;
    let limit = limits
        .per_layer
        .min(limits.per_image.saturating_sub(image_expanded_so_far));
    let per_layer = limit == limits.per_layer;
    let limit_hit = LimitHit {
        limit,
        per_layer,
        flag_value: if per_layer {
            limits.per_layer
        } else {
            limits.per_image
        },
    };
    let read = match placement {
        Placement::InPlace { blob, base } if compression == Compression::None => {
            if input.size > limit {
                return Err(names.io(io::Error::other(limit_hit)));
            }
            read_in_place(&input, blob, base, &names)
        }
        Placement::InPlace { .. } => {
            return Err(
                names.error("a compressed layer cannot be read in place (internal error)".into())
            )
        }
        Placement::Spill { blob, spill } => read_streaming(
            &input,
            compression,
            blob,
            spill,
            limit_hit,
            stored_digest.is_some(),
            &names,
        ),
    };
    let actual_stored = format!("sha256:{}", hex::encode(read.stored_sha));
    let actual_diff = format!("sha256:{}", hex::encode(read.expanded_sha));
    let mismatch = |want: Option<&str>, actual: &str, what: &str| {
        want.filter(|w| !w.eq_ignore_ascii_case(actual))
            .map(|w| SourceError::DigestMismatch {
                name: format!("layer {name} ({what})"),
                location: location.to_string(),
                expected: w.to_string(),
                actual: actual.to_string(),
            })
    };
    let entries = match read.entries {
        Ok(entries) => entries,
        // A blob that is not what its digest says is the first thing to report: whatever else
        // went wrong reading it follows from that.
        Err(e) => {
            if read.stored_complete {
                if let Some(m) = mismatch(stored_digest, &actual_stored, "blob") {
                    return Err(m);
                }
            }
            return Err(e);
        }
    };
    if let Some(m) = mismatch(stored_digest, &actual_stored, "blob") {
        return Err(m);
    }
    if let Some(m) = mismatch(diff_id, &actual_diff, "uncompressed tar") {
        return Err(m);
    }
    let info = LayerInfo {
        name: name.to_string(),
        compression,
        stored_bytes: read.stored_bytes,
        expanded_bytes: read.expanded_bytes,
        diff_id: actual_diff,
        entries: entries.len(),
    };
    Ok((entries, info))
}

/// What reading a layer gave: the entries (or why not), and what was hashed.
struct LayerRead {
    entries: Result<Vec<LayerEntry>, SourceError>,
    stored_sha: [u8; 32],
    expanded_sha: [u8; 32],
    stored_bytes: u64,
    expanded_bytes: u64,
    /// Every stored byte was hashed (so the stored digest can be compared even after an error).
    stored_complete: bool,
}

/// An uncompressed layer in a host file: tar headers walked by seeking, contents left in place,
/// while another thread hashes the whole range.
fn read_in_place(input: &LayerInput<'_>, blob: BlobId, base: u64, names: &Names<'_>) -> LayerRead {
    let hash = || hash_range(input.blob, input.offset, input.size);
    let parse = || -> Result<Vec<LayerEntry>, SourceError> {
        let reader = WindowReader::new(input.blob.clone(), input.offset, input.size, 64 << 10);
        let mut archive = tar::Archive::new(reader);
        let mut entries = Vec::new();
        let iter = archive.entries_with_seek().map_err(|e| names.io(e))?;
        for entry in iter {
            let mut entry = entry.map_err(|e| names.io(e))?;
            // Seeking past the end reads as the end of the archive: check every member instead.
            let end = entry.raw_file_position().checked_add(entry.size());
            if end.is_none_or(|end| end > input.size) {
                return Err(names.error(format!(
                    "truncated: entry {:?} says it holds {} bytes, past the end of the layer",
                    String::from_utf8_lossy(&entry.path_bytes()),
                    entry.size()
                )));
            }
            let placement = Placement::InPlace { blob, base };
            if let Some(le) = to_layer_entry(&mut entry, &placement).map_err(|e| names.io(e))? {
                entries.push(le);
            }
        }
        Ok(entries)
    };
    let (entries, hashed) = std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("layer-hash".into())
            .spawn_scoped(s, hash)
        {
            Ok(handle) => {
                let entries = parse();
                let hashed = handle
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("the hashing thread failed")));
                (entries, hashed)
            }
            // No thread to be had: do both here, one after the other.
            Err(_) => (parse(), hash()),
        }
    });
    match hashed {
        Ok((sha, count)) => LayerRead {
            entries,
            stored_sha: sha,
            expanded_sha: sha,
            stored_bytes: count,
            expanded_bytes: count,
            stored_complete: true,
        },
        Err(e) => LayerRead {
            // The parse may have succeeded on what was there; the blob is still short.
            entries: Err(entries.err().unwrap_or_else(|| names.io(e))),
            stored_sha: [0; 32],
            expanded_sha: [0; 32],
            stored_bytes: 0,
            expanded_bytes: 0,
            stored_complete: false,
        },
    }
}

/// Reads of the hashing thread, and chunks handed to it.
const HASH_READ: usize = 1 << 20;
const HASH_CHUNK: usize = 256 << 10;

/// Hashes `size` bytes at `offset`; fails when the file is shorter.
fn hash_range(blob: &HostFileBlob, offset: u64, size: u64) -> io::Result<([u8; 32], u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_READ.min(size as usize)];
    let mut done = 0u64;
    while done < size {
        let want = (size - done).min(buf.len() as u64) as usize;
        let at = offset
            .checked_add(done)
            .ok_or_else(|| io::Error::other("offset overflow"))?;
        blob.read_exact_at(&mut buf[..want], at).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(e.kind(), "the file ends before the blob does (truncated?)")
            } else {
                e
            }
        })?;
        hasher.update(&buf[..want]);
        done += want as u64;
    }
    Ok((hasher.finalize().into(), done))
}

/// A compressed (or not seekable) layer: decompressed and walked as a stream on this thread,
/// retained contents copied to the spill file, both streams hashed on another thread.
fn read_streaming(
    input: &LayerInput<'_>,
    compression: Compression,
    blob: BlobId,
    spill: &SpillFile,
    limit: LimitHit,
    drain_on_error: bool,
    names: &Names<'_>,
) -> LayerRead {
    let pool = Mutex::new(Vec::new());
    let (tx, rx) = mpsc::sync_channel::<(usize, Vec<u8>)>(16);
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("layer-hash".into())
            .spawn_scoped(s, || hash_worker(rx, &pool))
            .ok();
        // Without a thread, hash here.
        let sink = |which| match worker {
            Some(_) => HashSink::Worker {
                tx: tx.clone(),
                pool: &pool,
                which,
            },
            None => HashSink::Inline(Sha256::new()),
        };
        let mut stored = TeeState::new(sink(0));
        let mut expanded = TeeState::new(sink(1));
        drop(tx);
        let same_stream = compression == Compression::None;
        let entries = stream_entries(
            input,
            compression,
            &mut stored,
            (!same_stream).then_some(&mut expanded),
            blob,
            spill,
            limit,
            names,
        );
        let mut stored_complete = stored.count == input.size;
        if entries.is_err() && drain_on_error && !stored_complete {
            // Hash the rest of the stored bytes: a digest mismatch explains the error best.
            let mut rest = Tee {
                inner: input.blob.range(
                    input.offset.saturating_add(stored.count),
                    input.size.saturating_sub(stored.count),
                ),
                state: &mut stored,
            };
            stored_complete = io::copy(&mut rest, &mut io::sink()).is_ok();
        }
        let mut stored_sha = stored.finish();
        let mut expanded_sha = expanded.finish();
        let (stored_bytes, expanded_bytes) = (stored.count, expanded.count);
        if let Some(w) = worker {
            drop((stored, expanded));
            match w.join() {
                Ok([s, e]) => {
                    stored_sha = s;
                    expanded_sha = e;
                }
                Err(_) => {
                    return LayerRead {
                        entries: Err(names.error("the hashing thread failed".into())),
                        stored_sha,
                        expanded_sha,
                        stored_bytes,
                        expanded_bytes,
                        stored_complete: false,
                    }
                }
            }
        }
        if same_stream {
            expanded_sha = stored_sha;
        }
        LayerRead {
            entries,
            stored_sha,
            expanded_sha,
            stored_bytes,
            expanded_bytes: if same_stream {
                stored_bytes
            } else {
                expanded_bytes
            },
            stored_complete,
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn stream_entries(
    input: &LayerInput<'_>,
    compression: Compression,
    stored: &mut TeeState<'_>,
    expanded: Option<&mut TeeState<'_>>,
    blob: BlobId,
    spill: &SpillFile,
    limit: LimitHit,
    names: &Names<'_>,
) -> Result<Vec<LayerEntry>, SourceError> {
    let raw = io::BufReader::with_capacity(
        HASH_CHUNK,
        Tee {
            inner: input.blob.range(input.offset, input.size),
            state: stored,
        },
    );
    let decoded: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| names.io(e))?)
        }
    };
    let limited = LimitedReader {
        inner: decoded,
        left: limit.limit,
        hit: limit,
    };
    let mut reader: Box<dyn Read + '_> = match expanded {
        Some(state) => Box::new(io::BufReader::with_capacity(
            HASH_CHUNK,
            Tee {
                inner: limited,
                state,
            },
        )),
        None => Box::new(io::BufReader::with_capacity(HASH_CHUNK, limited)),
    };
    let mut entries = Vec::new();
    {
        let mut archive = tar::Archive::new(&mut reader);
        let placement = Placement::Spill { blob, spill };
        for entry in archive.entries().map_err(|e| names.io(e))? {
            let mut entry = entry.map_err(|e| names.io(e))?;
            if let Some(le) = to_layer_entry(&mut entry, &placement).map_err(|e| names.io(e))? {
                entries.push(le);
            }
        }
    }
    // Drain what follows the tar's end blocks so that the decompressor checks its trailer and
    // the digests cover every byte.
    io::copy(&mut reader, &mut io::sink()).map_err(|e| names.io(e))?;
    Ok(entries)
}

/// Where a tee sends the bytes it sees.
enum HashSink<'p> {
    Worker {
        tx: mpsc::SyncSender<(usize, Vec<u8>)>,
        pool: &'p Mutex<Vec<Vec<u8>>>,
        which: usize,
    },
    Inline(Sha256),
}

/// One stream being hashed: bytes gathered into chunks for the hashing thread.
struct TeeState<'p> {
    sink: HashSink<'p>,
    pending: Vec<u8>,
    count: u64,
}

impl<'p> TeeState<'p> {
    fn new(sink: HashSink<'p>) -> Self {
        TeeState {
            sink,
            pending: Vec::new(),
            count: 0,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.count += bytes.len() as u64;
        match &mut self.sink {
            HashSink::Inline(h) => h.update(bytes),
            HashSink::Worker { .. } => {
                if self.pending.capacity() == 0 {
                    self.pending = self.fresh_buffer();
                }
                self.pending.extend_from_slice(bytes);
                if self.pending.len() >= HASH_CHUNK {
                    self.send();
                }
            }
        }
    }

    fn fresh_buffer(&self) -> Vec<u8> {
        if let HashSink::Worker { pool, .. } = &self.sink {
            if let Some(b) = pool.lock().ok().and_then(|mut p| p.pop()) {
                return b;
            }
        }
        Vec::with_capacity(HASH_CHUNK * 2)
    }

    fn send(&mut self) {
        if let HashSink::Worker { tx, which, .. } = &self.sink {
            let chunk = std::mem::take(&mut self.pending);
            // A closed channel means the worker died; joining it reports that.
            let _ = tx.send((*which, chunk));
        }
    }

    /// Sends what is pending; for an inline hasher, returns the digest.
    fn finish(&mut self) -> [u8; 32] {
        match &mut self.sink {
            HashSink::Inline(h) => std::mem::take(h).finalize().into(),
            HashSink::Worker { .. } => {
                if !self.pending.is_empty() {
                    self.send();
                }
                [0; 32]
            }
        }
    }
}

/// The hashing thread: two streams (stored, expanded), chunks given back for reuse.
fn hash_worker(rx: mpsc::Receiver<(usize, Vec<u8>)>, pool: &Mutex<Vec<Vec<u8>>>) -> [[u8; 32]; 2] {
    let mut hashers = [Sha256::new(), Sha256::new()];
    for (which, mut chunk) in rx {
        if let Some(h) = hashers.get_mut(which) {
            h.update(&chunk);
        }
        chunk.clear();
        if let Ok(mut p) = pool.lock() {
            if p.len() < 8 {
                p.push(chunk);
            }
        }
    }
    let [s, e] = hashers;
    [s.finalize().into(), e.finalize().into()]
}

/// Passes reads through, showing every byte to a [`TeeState`].
struct Tee<'s, 'p, R> {
    inner: R,
    state: &'s mut TeeState<'p>,
}

impl<R: Read> Read for Tee<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.state.feed(&buf[..n]);
        Ok(n)
    }
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
                    offset: base.saturating_add(entry.raw_file_position()),
                },
                Placement::InPlace { .. } => Content::NotRetained,
                Placement::Spill { blob, spill } => {
                    let mut head = [0u8; 4];
                    let n = read_up_to(entry, &mut head)?;
                    let keep = size < RETAIN_ANY_BELOW
                        || head[..n].starts_with(b"\x7fELF")
                        || head[..n].starts_with(b"#!");
                    if keep {
                        let (offset, appended) = spill.append(&head[..n], entry)?;
                        if appended != size {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!("entry {path:?} holds {appended} of its {size} bytes"),
                            ));
                        }
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

/// The expansion limit that stops a layer: `limit` bytes are left for it, under the flag's value.
#[derive(Debug, Clone, Copy)]
struct LimitHit {
    limit: u64,
    per_layer: bool,
    flag_value: u64,
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
    hit: LimitHit,
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // Allow reading the clean end of the stream; a single further byte is a violation.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(self.hit)),
            };
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}
