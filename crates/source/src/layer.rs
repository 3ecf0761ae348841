//! Reading one layer blob: compression detected by magic bytes, digests verified while streaming,
//! expansion bounded, entries turned into [`LayerEntry`] values whose contents stay where they are.

use std::cell::RefCell;
use std::io::{self, Read};
use std::sync::{mpsc, Arc, Mutex};

use dockergate_fs::{BlobId, Content, EntryKind, LayerEntry};
use sha2::{Digest, Sha256};

use crate::blob::{HostFileBlob, SpillFile, WindowReader};
use crate::targuard::TarGuard;
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

/// What a layer is called in messages, and the bound on its entries.
struct Names<'a> {
    layer: &'a str,
    location: &'a str,
    max_entries: usize,
}

impl Names<'_> {
    /// Keeps an entry, within the bound on entries (a bound on memory for hostile layers).
    fn keep(&self, entries: &mut Vec<LayerEntry>, e: LayerEntry) -> Result<(), SourceError> {
        if entries.len() >= self.max_entries {
            return Err(SourceError::TooManyEntries {
                location: self.location.to_string(),
                why: format!(
                    "layer {} holds more than {} entries",
                    self.layer, self.max_entries
                ),
            });
        }
        entries.push(e);
        Ok(())
    }

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
///
/// A layer read in place is returned before its digests are checked: the check goes on on its
/// own thread, and the caller finishes it with [`DigestCheck::finish`] before it trusts the
/// layer (`LayerInfo::diff_id` is empty meanwhile). Layers that are decompressed are checked
/// before this returns.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_layer(
    input: LayerInput<'_>,
    placement: Placement<'_>,
    name: &str,
    location: &str,
    stored_digest: Option<&str>,
    diff_id: Option<&str>,
    limits: ExpansionLimits,
    image_expanded_so_far: u64,
    max_entries: usize,
) -> Result<(Vec<LayerEntry>, LayerInfo, Option<DigestCheck>), SourceError> {
    let names = Names {
        layer: name,
        location,
        max_entries,
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
            if let Some((entries, hashing)) = read_in_place_deferred(&input, blob, base, &names) {
                let info = LayerInfo {
                    name: name.to_string(),
                    compression,
                    stored_bytes: input.size,
                    expanded_bytes: input.size,
                    diff_id: String::new(),
                    entries: entries.len(),
                };
                let check = DigestCheck {
                    hashing,
                    name: name.to_string(),
                    location: location.to_string(),
                    stored_digest: stored_digest.map(str::to_string),
                    diff_id: diff_id.map(str::to_string),
                };
                return Ok((entries, info, Some(check)));
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
        digest_mismatch(name, location, want, actual, what)
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
    Ok((entries, info, None))
}

/// The error for a digest `want` that is not `actual` (None when it is, or is not known).
fn digest_mismatch(
    name: &str,
    location: &str,
    want: Option<&str>,
    actual: &str,
    what: &str,
) -> Option<SourceError> {
    want.filter(|w| !w.eq_ignore_ascii_case(actual))
        .map(|w| SourceError::DigestMismatch {
            name: format!("layer {name} ({what})"),
            location: location.to_string(),
            expected: w.to_string(),
            actual: actual.to_string(),
        })
}

/// The digest check of a layer read in place, going on on its own thread (see
/// [`read_layer`]).
pub(crate) struct DigestCheck {
    hashing: std::thread::JoinHandle<io::Result<([u8; 32], u64)>>,
    name: String,
    location: String,
    stored_digest: Option<String>,
    diff_id: Option<String>,
}

impl DigestCheck {
    /// Waits for the hash and checks it: the layer's digest (`sha256:HEX`), or the error
    /// reading it the first time would have given (a short file, a digest mismatch).
    pub(crate) fn finish(self) -> Result<String, SourceError> {
        let names = Names {
            layer: &self.name,
            location: &self.location,
            max_entries: usize::MAX,
        };
        let (sha, _) = self
            .hashing
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the hashing thread failed")))
            .map_err(|e| names.io(e))?;
        let actual = format!("sha256:{}", hex::encode(sha));
        let mismatch = |want: &Option<String>, what| {
            digest_mismatch(&self.name, &self.location, want.as_deref(), &actual, what)
        };
        if let Some(m) = mismatch(&self.stored_digest, "blob") {
            return Err(m);
        }
        if let Some(m) = mismatch(&self.diff_id, "uncompressed tar") {
            return Err(m);
        }
        Ok(actual)
    }
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
    let parse = || parse_in_place(input, blob, base, names);
    let (entries, hashed) = std::thread::scope(|s| {
        match spawn_helper(s, "layer-hash", hash) {
            Some(handle) => {
                let entries = parse();
                let hashed = handle
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("the hashing thread failed")));
                (entries, hashed)
            }
            // No thread to be had: do both here, one after the other.
            None => (parse(), hash()),
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

/// The entries of an uncompressed layer in a host file, its tar headers walked by seeking.
fn parse_in_place(
    input: &LayerInput<'_>,
    blob: BlobId,
    base: u64,
    names: &Names<'_>,
) -> Result<Vec<LayerEntry>, SourceError> {
    let reader = WindowReader::new(input.blob.clone(), input.offset, input.size, 64 << 10);
    let mut archive = tar::Archive::new(TarGuard::new(reader));
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
        let mut target = Target::InPlace { blob, base };
        if let Some(le) = to_layer_entry(&mut entry, &mut target).map_err(|e| names.io(e))? {
            names.keep(&mut entries, le)?;
        }
    }
    Ok(entries)
}

/// [`read_in_place`] with the hash left running on a thread of its own when the tar walk
/// succeeds. None when no thread can be started, or when the walk fails (the caller reads the
/// layer again the usual way: a digest mismatch explains such an error best, see
/// [`read_layer`]).
fn read_in_place_deferred(
    input: &LayerInput<'_>,
    blob: BlobId,
    base: u64,
    names: &Names<'_>,
) -> Option<(
    Vec<LayerEntry>,
    std::thread::JoinHandle<io::Result<([u8; 32], u64)>>,
)> {
    #[cfg(test)]
    if tests::NO_THREADS.with(|n| n.get()) {
        return None;
    }
    let (file, offset, size) = (input.blob.clone(), input.offset, input.size);
    let hashing = std::thread::Builder::new()
        .name("layer-hash".into())
        .spawn(move || hash_range(&file, offset, size))
        .ok()?;
    match parse_in_place(input, blob, base, names) {
        Ok(entries) => Some((entries, hashing)),
        Err(_) => {
            // Read it again the usual way, for the error it gives first.
            let _ = hashing.join();
            None
        }
    }
}

/// Starts a helper thread; `None` when the system has none to give (the work is then done on the
/// calling thread).
fn spawn_helper<'scope, 'env, T: Send + 'scope>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> Option<std::thread::ScopedJoinHandle<'scope, T>> {
    #[cfg(test)]
    if tests::NO_THREADS.with(|n| n.get()) {
        return None;
    }
    std::thread::Builder::new()
        .name(name.into())
        .spawn_scoped(s, f)
        .ok()
}

/// Reads of the hashing thread, and chunks handed to it.
const HASH_READ: usize = 1 << 20;
const HASH_CHUNK: usize = 256 << 10;

/// Hashes `size` bytes at `offset`; fails when the file is shorter.
fn hash_range(blob: &HostFileBlob, offset: u64, size: u64) -> io::Result<([u8; 32], u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_READ.min(size as usize)];
    dockergate_fs::read_in_pieces(blob, offset, size, &mut buf, |piece| hasher.update(piece))
        .map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(e.kind(), "the file ends before the blob does (truncated?)")
            } else {
                e
            }
        })?;
    Ok((hasher.finalize().into(), size))
}

/// A compressed (or not seekable) layer: decompressed and walked as a stream on this thread;
/// another thread hashes both streams and writes the retained contents to the spill file.
fn read_streaming(
    input: &LayerInput<'_>,
    compression: Compression,
    blob: BlobId,
    spill: &SpillFile,
    limit: LimitHit,
    drain_on_error: bool,
    names: &Names<'_>,
) -> LayerRead {
    let pool = Pool::default();
    let inline = RefCell::new(Inline::default());
    let (tx, rx) = mpsc::sync_channel::<Job>(16);
    std::thread::scope(|s| {
        let worker = spawn_helper(s, "layer-io", || io_worker(rx, &pool, spill));
        // Without a thread, everything happens here.
        let sink = match worker {
            Some(_) => Sink::Thread {
                tx: tx.clone(),
                pool: &pool,
            },
            None => Sink::Inline {
                state: &inline,
                spill,
            },
        };
        drop(tx);
        let mut stored = HashStream::new(sink.clone(), 0);
        let mut expanded = HashStream::new(sink.clone(), 1);
        let mut spill_writer = SpillWriter::new(sink.clone(), spill);
        drop(sink);
        let same_stream = compression == Compression::None;
        let mut entries = stream_entries(
            input,
            compression,
            &mut stored,
            (!same_stream).then_some(&mut expanded),
            &mut Target::Spill {
                blob,
                writer: &mut spill_writer,
            },
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
        stored.finish();
        expanded.finish();
        spill_writer.flush();
        let (stored_bytes, expanded_bytes) = (stored.count, expanded.count);
        let local_error = spill_writer.error.take();
        drop((stored, expanded, spill_writer));
        let (digests, write_error) = match worker {
            Some(w) => match w.join() {
                Ok(r) => r,
                Err(_) => (
                    [[0; 32]; 2],
                    Some(io::Error::other("the I/O thread of the layer failed")),
                ),
            },
            None => {
                let Inline { hashers, error } = std::mem::take(&mut *inline.borrow_mut());
                let [s, e] = hashers;
                ([s.finalize().into(), e.finalize().into()], error)
            }
        };
        if let Some(e) = local_error.or(write_error) {
            if entries.is_ok() {
                entries = Err(names.error(format!("cannot write the spill file: {e}")));
            }
            stored_complete = false;
        }
        let [stored_sha, mut expanded_sha] = digests;
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

fn stream_entries(
    input: &LayerInput<'_>,
    compression: Compression,
    stored: &mut HashStream<'_>,
    expanded: Option<&mut HashStream<'_>>,
    target: &mut Target<'_, '_>,
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
        let mut archive = tar::Archive::new(TarGuard::new(&mut reader));
        for entry in archive.entries().map_err(|e| names.io(e))? {
            let mut entry = entry.map_err(|e| names.io(e))?;
            if let Some(le) = to_layer_entry(&mut entry, target).map_err(|e| names.io(e))? {
                names.keep(&mut entries, le)?;
            }
        }
    }
    // Drain what follows the tar's end blocks so that the decompressor checks its trailer and
    // the digests cover every byte.
    io::copy(&mut reader, &mut io::sink()).map_err(|e| names.io(e))?;
    Ok(entries)
}

/// What the I/O thread of a streamed layer is handed.
enum Job {
    /// Bytes of stream 0 (stored) or 1 (expanded), to hash.
    Hash(usize, Vec<u8>),
    /// The first `used` bytes are to be written at an offset of the spill file (the buffer keeps
    /// its length, so that it is reused without being zeroed again).
    Spill(u64, Vec<u8>, usize),
}

/// Buffers the I/O thread hands back.
#[derive(Default)]
struct Pool {
    hash: Mutex<Vec<Vec<u8>>>,
    spill: Mutex<Vec<Vec<u8>>>,
}

fn pool_put(pool: &Mutex<Vec<Vec<u8>>>, buf: Vec<u8>) {
    if let Ok(mut p) = pool.lock() {
        if p.len() < 8 {
            p.push(buf);
        }
    }
}

fn pool_take(pool: &Mutex<Vec<Vec<u8>>>) -> Option<Vec<u8>> {
    pool.lock().ok().and_then(|mut p| p.pop())
}

/// The work done here when no thread could be started.
#[derive(Default)]
struct Inline {
    hashers: [Sha256; 2],
    error: Option<io::Error>,
}

/// Where hashing and spilling go: to the I/O thread, or done on the spot.
#[derive(Clone)]
enum Sink<'p> {
    Thread {
        tx: mpsc::SyncSender<Job>,
        pool: &'p Pool,
    },
    Inline {
        state: &'p RefCell<Inline>,
        spill: &'p SpillFile,
    },
}

impl Sink<'_> {
    /// Hands a job over; gives the buffer back when the job was done here.
    fn submit(&self, job: Job) -> Option<Vec<u8>> {
        match self {
            Sink::Thread { tx, .. } => {
                // A closed channel means the thread died; joining it reports that.
                let _ = tx.send(job);
                None
            }
            Sink::Inline { state, spill } => {
                let mut inline = state.borrow_mut();
                match job {
                    Job::Hash(which, buf) => {
                        if let Some(h) = inline.hashers.get_mut(which) {
                            h.update(&buf);
                        }
                        Some(buf)
                    }
                    Job::Spill(at, buf, used) => {
                        if inline.error.is_none() {
                            if let Err(e) = spill.write_at(at, &buf[..used.min(buf.len())]) {
                                inline.error = Some(e);
                            }
                        }
                        Some(buf)
                    }
                }
            }
        }
    }

    /// Hands a spill job to the thread if it has room for it; gives the job back otherwise (the
    /// caller then writes it itself: the ranges are positional, so order does not matter).
    fn offer(&self, job: Job) -> Result<(), Job> {
        match self {
            Sink::Thread { tx, .. } => tx.try_send(job).map_err(|e| match e {
                mpsc::TrySendError::Full(j) | mpsc::TrySendError::Disconnected(j) => j,
            }),
            Sink::Inline { .. } => Err(job),
        }
    }

    fn hash_buffer(&self) -> Vec<u8> {
        match self {
            Sink::Thread { pool, .. } => pool_take(&pool.hash),
            Sink::Inline { .. } => None,
        }
        .unwrap_or_else(|| Vec::with_capacity(HASH_CHUNK * 2))
    }

    fn spill_buffer(&self) -> Vec<u8> {
        match self {
            Sink::Thread { pool, .. } => pool_take(&pool.spill),
            Sink::Inline { .. } => None,
        }
        .unwrap_or_else(|| vec![0; SPILL_CHUNK])
    }
}

/// The I/O thread: hashes the two streams, appends to the spill file in the order given, hands
/// buffers back. Returns the digests and the first write error.
fn io_worker(
    rx: mpsc::Receiver<Job>,
    pool: &Pool,
    spill: &SpillFile,
) -> ([[u8; 32]; 2], Option<io::Error>) {
    let mut hashers = [Sha256::new(), Sha256::new()];
    let mut error = None;
    for job in rx {
        match job {
            Job::Hash(which, mut chunk) => {
                if let Some(h) = hashers.get_mut(which) {
                    h.update(&chunk);
                }
                chunk.clear();
                pool_put(&pool.hash, chunk);
            }
            Job::Spill(at, buf, used) => {
                if error.is_none() {
                    if let Err(e) = spill.write_at(at, &buf[..used.min(buf.len())]) {
                        error = Some(e);
                    }
                }
                pool_put(&pool.spill, buf);
            }
        }
    }
    let [s, e] = hashers;
    ([s.finalize().into(), e.finalize().into()], error)
}

/// Chunks of retained contents handed to the I/O thread.
const SPILL_CHUNK: usize = 1 << 20;

/// One stream being hashed: bytes gathered into chunks for the I/O thread.
struct HashStream<'p> {
    sink: Sink<'p>,
    which: usize,
    pending: Vec<u8>,
    count: u64,
}

impl<'p> HashStream<'p> {
    fn new(sink: Sink<'p>, which: usize) -> Self {
        HashStream {
            sink,
            which,
            pending: Vec::new(),
            count: 0,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.count += bytes.len() as u64;
        if self.pending.capacity() == 0 {
            self.pending = self.sink.hash_buffer();
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= HASH_CHUNK {
            self.send();
        }
    }

    fn send(&mut self) {
        let chunk = std::mem::take(&mut self.pending);
        if let Some(mut back) = self.sink.submit(Job::Hash(self.which, chunk)) {
            back.clear();
            self.pending = back;
        }
    }

    /// Hands over what is pending.
    fn finish(&mut self) {
        if !self.pending.is_empty() {
            self.send();
        }
    }
}

/// Passes reads through, showing every byte to a [`HashStream`].
struct Tee<'s, 'p, R> {
    inner: R,
    state: &'s mut HashStream<'p>,
}

impl<R: Read> Read for Tee<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.state.feed(&buf[..n]);
        Ok(n)
    }
}

/// Appends retained contents to the spill file in big chunks, written by the I/O thread when it
/// has room for them and here when it is behind (the work is shared when decompressing is fast,
/// as zstd is). Offsets are known here before anything is written.
struct SpillWriter<'p> {
    sink: Sink<'p>,
    spill: &'p SpillFile,
    buf: Vec<u8>,
    used: usize,
    /// The spill offset of `buf[0]`.
    buf_start: u64,
    error: Option<io::Error>,
}

impl<'p> SpillWriter<'p> {
    fn new(sink: Sink<'p>, spill: &'p SpillFile) -> Self {
        SpillWriter {
            sink,
            spill,
            buf: Vec::new(),
            used: 0,
            buf_start: spill.len(),
            error: None,
        }
    }

    /// Appends `head` and everything `rest` yields; returns the offset and the length appended.
    fn append(&mut self, head: &[u8], rest: &mut dyn Read) -> io::Result<(u64, u64)> {
        let start = self.buf_start + self.used as u64;
        let mut head = head;
        let mut total = 0u64;
        loop {
            if self.used == self.buf.len() {
                self.flush();
                if self.buf.is_empty() {
                    self.buf = self.sink.spill_buffer();
                }
            }
            let n = if head.is_empty() {
                match rest.read(&mut self.buf[self.used..]) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            } else {
                let n = head.len().min(self.buf.len() - self.used);
                self.buf[self.used..self.used + n].copy_from_slice(&head[..n]);
                head = &head[n..];
                n
            };
            self.used += n;
            total += n as u64;
        }
        Ok((start, total))
    }

    /// Hands over (or writes) what is pending.
    fn flush(&mut self) {
        if self.used == 0 {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        let used = std::mem::replace(&mut self.used, 0);
        let at = self.buf_start;
        self.buf_start += used as u64;
        self.spill.grow_to(self.buf_start);
        if let Err(Job::Spill(at, buf, used)) = self.sink.offer(Job::Spill(at, buf, used)) {
            if self.error.is_none() {
                if let Err(e) = self.spill.write_at(at, &buf[..used]) {
                    self.error = Some(e);
                }
            }
            self.buf = buf;
        }
    }
}

/// Where the contents of a layer's files go.
enum Target<'a, 'p> {
    /// Left in the uncompressed layer, at `base` in the blob.
    InPlace { blob: BlobId, base: u64 },
    /// Copied to the spill file when worth keeping.
    Spill {
        blob: BlobId,
        writer: &'a mut SpillWriter<'p>,
    },
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
    target: &mut Target<'_, '_>,
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
            let content = match target {
                Target::InPlace { blob, base } if !sparse => Content::Blob {
                    blob: *blob,
                    offset: base.saturating_add(entry.raw_file_position()),
                },
                Target::InPlace { .. } => Content::NotRetained,
                Target::Spill { blob, writer } => {
                    let mut head = [0u8; 4];
                    let n = read_up_to(entry, &mut head)?;
                    let keep = size < RETAIN_ANY_BELOW
                        || head[..n].starts_with(b"\x7fELF")
                        || head[..n].starts_with(b"#!");
                    if keep {
                        let (offset, appended) = writer.append(&head[..n], entry)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    thread_local! {
        /// Makes [`spawn_helper`] fail, to test the single-threaded path.
        pub(super) static NO_THREADS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o755);
            h.set_cksum();
            b.append_data(&mut h, name, data.as_slice()).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn sha(b: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(b)))
    }

    struct Read1 {
        entries: Vec<LayerEntry>,
        info: LayerInfo,
        spill: Arc<SpillFile>,
    }

    fn read(
        stored: &[u8],
        digest: Option<&str>,
        diff: Option<&str>,
        limit: u64,
    ) -> Result<Read1, SourceError> {
        read_max(stored, digest, diff, limit, 1000)
    }

    fn read_max(
        stored: &[u8],
        digest: Option<&str>,
        diff: Option<&str>,
        limit: u64,
        max_entries: usize,
    ) -> Result<Read1, SourceError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(stored).unwrap();
        let blob = Arc::new(HostFileBlob::open(f.path()).unwrap());
        let spill = Arc::new(SpillFile::create(None).unwrap());
        let compressed = Compression::sniff(stored).unwrap() != Compression::None;
        let placement = if compressed {
            Placement::Spill {
                blob: BlobId(1),
                spill: &spill,
            }
        } else {
            Placement::InPlace {
                blob: BlobId(0),
                base: 0,
            }
        };
        // Checks deferred as `open_image` defers them, and finished at once.
        let (entries, info, check) = read_layer(
            LayerInput {
                blob: &blob,
                offset: 0,
                size: stored.len() as u64,
            },
            placement,
            "L",
            "here",
            digest,
            diff,
            ExpansionLimits {
                per_layer: limit,
                per_image: u64::MAX,
            },
            0,
            max_entries,
        )?;
        let info = match check {
            Some(c) => LayerInfo {
                diff_id: c.finish()?,
                ..info
            },
            None => info,
        };
        spill.flush().unwrap();
        Ok(Read1 {
            entries,
            info,
            spill,
        })
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    fn files() -> Vec<(&'static str, Vec<u8>)> {
        let mut elf = b"\x7fELF".to_vec();
        elf.extend((0..3_000_000u32).map(|i| (i % 253) as u8));
        vec![
            ("small", b"hello".to_vec()),
            ("big-elf", elf),
            ("big-data", vec![7u8; 2 << 20]),
            ("script", b"#!/bin/sh\necho hi\n".to_vec()),
        ]
    }

    fn check_both_ways(f: impl Fn()) {
        f();
        NO_THREADS.with(|n| n.set(true));
        f();
        NO_THREADS.with(|n| n.set(false));
    }

    #[test]
    fn streamed_layers_keep_what_matters_and_hash_both_streams() {
        check_both_ways(|| {
            let tar = tar_of(&files());
            let zst = zstd::encode_all(tar.as_slice(), 1).unwrap();
            for stored in [gzip(&tar), zst] {
                let r = read(&stored, Some(&sha(&stored)), Some(&sha(&tar)), u64::MAX).unwrap();
                assert_eq!(r.info.diff_id, sha(&tar));
                assert_eq!(r.info.stored_bytes, stored.len() as u64);
                assert_eq!(r.info.expanded_bytes, tar.len() as u64);
                let mut spilled = 0;
                for (e, (name, data)) in r.entries.iter().zip(files()) {
                    assert_eq!(e.path, name);
                    let EntryKind::File { size, content } = &e.kind else {
                        panic!()
                    };
                    assert_eq!(*size, data.len() as u64);
                    match content {
                        Content::Blob { offset, .. } => {
                            let mut buf = vec![0; data.len()];
                            dockergate_fs::BlobSource::read_at(r.spill.as_ref(), *offset, &mut buf)
                                .unwrap();
                            assert_eq!(buf, data, "{name}");
                            spilled += data.len() as u64;
                        }
                        Content::NotRetained => assert_eq!(name, "big-data"),
                        Content::Inline(_) => panic!(),
                    }
                }
                assert_eq!(r.spill.len(), spilled);
            }
        });
    }

    #[test]
    fn in_place_layers_hash_once_and_point_into_the_blob() {
        check_both_ways(|| {
            let tar = tar_of(&files());
            let r = read(&tar, Some(&sha(&tar)), Some(&sha(&tar)), u64::MAX).unwrap();
            assert_eq!(r.info.diff_id, sha(&tar));
            assert_eq!(
                (r.info.stored_bytes, r.info.expanded_bytes),
                (tar.len() as u64, tar.len() as u64)
            );
            for e in &r.entries {
                let EntryKind::File {
                    content: Content::Blob { offset, .. },
                    size,
                } = &e.kind
                else {
                    panic!()
                };
                assert!(offset + size <= tar.len() as u64);
            }
        });
    }

    #[test]
    fn mismatches_truncation_and_limits() {
        check_both_ways(|| {
            let tar = tar_of(&files());
            let gz = gzip(&tar);
            let other = sha(b"other");
            for stored in [&tar, &gz] {
                let e = read(stored, Some(&other), None, u64::MAX).err().unwrap();
                assert!(matches!(e, SourceError::DigestMismatch { .. }), "{e}");
                let e = read(stored, None, Some(&other), u64::MAX).err().unwrap();
                assert!(e.to_string().contains("uncompressed tar"), "{e}");
                let e = read(stored, None, None, 1_000_000).err().unwrap();
                assert!(matches!(e, SourceError::LimitExceeded { .. }), "{e}");
                let cut = &stored[..stored.len() / 2];
                let e = read(cut, None, None, u64::MAX).err().unwrap();
                assert!(e.to_string().contains("truncated"), "{e}");
                // A digest mismatch is what is reported for a cut blob whose digest is known.
                let e = read(cut, Some(&sha(stored)), None, u64::MAX).err().unwrap();
                assert!(matches!(e, SourceError::DigestMismatch { .. }), "{e}");
            }
        });
    }

    #[test]
    fn entries_are_bounded() {
        check_both_ways(|| {
            let tar = tar_of(&files());
            for stored in [tar.clone(), gzip(&tar)] {
                let e = read_max(&stored, None, None, u64::MAX, 3).err().unwrap();
                assert!(matches!(e, SourceError::TooManyEntries { .. }), "{e}");
                assert!(read_max(&stored, None, None, u64::MAX, 4).is_ok());
            }
        });
    }
}
