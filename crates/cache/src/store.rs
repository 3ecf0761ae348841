//! What a storage backend does: batched lookups, idempotent batched inserts, a log of runs.

use crate::entry::Key;

/// A failure of the backend, sorted by what the cache does about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The file is damaged (or not a database): rebuild it.
    Corrupt(String),
    /// Nothing can be written (read-only file or directory, full disk): go on without writing.
    NoWrite(String),
    /// Anything else (the server went away, an I/O error): go on uncached.
    Other(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Corrupt(s) | StoreError::NoWrite(s) | StoreError::Other(s) => {
                f.write_str(s)
            }
        }
    }
}

impl std::error::Error for StoreError {}

/// One run of `dockergate profile` against the cache, for `dockergate cache stats`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunRecord {
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub image: String,
    /// Objects asked for.
    pub objects: u64,
    pub hits: u64,
    /// Objects analysed because the cache did not have them (or had them damaged).
    pub misses: u64,
    /// Stored values found damaged (and rebuilt).
    pub corrupt: u64,
    /// Entries this run added.
    pub written: u64,
    /// Wall time of the run.
    pub seconds: f64,
}

impl RunRecord {
    /// Hits over objects (1 when there were none).
    pub fn hit_rate(&self) -> f64 {
        if self.objects == 0 {
            1.0
        } else {
            self.hits as f64 / self.objects as f64
        }
    }
}

/// What `dockergate cache stats` shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Info {
    /// `sqlite PATH` or `postgres URL` (without password).
    pub location: String,
    pub entries: u64,
    /// Entries this build can use (its analyser version and summary layout).
    pub current_entries: u64,
    /// Bytes of stored values.
    pub value_bytes: u64,
    /// Bytes on disk (file, WAL and all; the tables' size on a server).
    pub disk_bytes: u64,
    pub last_run: Option<RunRecord>,
}

/// Which entries `clear` removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClearWhat {
    All,
    /// Entries of other analyser versions or summary layouts.
    Stale {
        version: u32,
        layout: u64,
    },
}

/// A backend. Every method is one short transaction, so that many processes can share it.
pub trait Store: Send {
    /// The stored values of those of `keys` that are present (any order, each at most once).
    fn fetch(&mut self, keys: &[Key]) -> Result<Vec<(Key, Vec<u8>)>, StoreError>;
    /// How many of `keys` have entries of another analyser version or summary layout only
    /// (for a warning: those objects are analysed again).
    fn count_other_versions(&mut self, keys: &[Key]) -> Result<u64, StoreError>;
    /// Whether the store holds no entry at all (a first run: nothing worth looking up).
    fn is_empty(&mut self) -> Result<bool, StoreError>;
    /// Stores values. An existing entry is kept as it is (inserts are idempotent: results are
    /// a function of the key), unless `replace` (the stored value was found damaged). Returns
    /// how many entries were written.
    fn insert(&mut self, rows: &[(Key, Vec<u8>)], replace: bool) -> Result<u64, StoreError>;
    fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError>;
    fn info(&mut self, version: u32, layout: u64) -> Result<Info, StoreError>;
    /// Removes entries; returns how many.
    fn clear(&mut self, what: ClearWhat) -> Result<u64, StoreError>;
    /// Replaces a damaged store with an empty one (only files can be rebuilt).
    fn rebuild(&mut self) -> Result<(), StoreError>;
    /// `sqlite PATH` or `postgres URL`.
    fn describe(&self) -> String;
}

/// Inserts are sent in chunks of about this many bytes.
pub const INSERT_CHUNK_BYTES: usize = 8 << 20;

/// Splits rows into chunks of at most [`INSERT_CHUNK_BYTES`] (at least one row each).
pub fn chunks(rows: &[(Key, Vec<u8>)]) -> Vec<&[(Key, Vec<u8>)]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, (_, v)) in rows.iter().enumerate() {
        if i > start && bytes + v.len() > INSERT_CHUNK_BYTES {
            out.push(&rows[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += v.len();
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// How many runs the log keeps.
pub const RUNS_KEPT: i64 = 200;
