//! `dockergate-cache`: a content-addressed cache of per-object analysis results.
//!
//! What the analysis learns from one ELF object ([`ObjectSummary`]) depends only on the file's
//! bytes, so it is stored under the sha256 of those bytes, the analyser's version
//! ([`ANALYSIS_VERSION`]), the serde layout of the summary in this build
//! ([`entry::layout_fingerprint`]) and the object's architecture. What depends on the image
//! (symbol bindings, reachability) is recomputed from the summaries on every run.
//!
//! [`Cache`] implements the pipeline's [`SummarySource`]. Two backends:
//! - SQLite (the default, `$XDG_CACHE_HOME/dockergate/cache.db`): one file in WAL mode that every
//!   process of the machine shares; see [`sqlite`].
//! - PostgreSQL (`postgres://…`): one server that a fleet shares; see [`pg`].
//!
//! The warm path is built to be quick: [`Cache::prefetch`] hashes every ELF file of the image
//! on its own threads (while the pipeline is still loading programs) and fetches all the
//! summaries the cache has for them in one batch; [`SummarySource::summary`] then only decodes
//! (postcard) and checks a CRC. Results computed on a miss are written in batches, each an
//! idempotent insert in one short transaction.
//!
//! The cache never makes a run fail and never gives a wrong result: a value is used only when
//! its checksum (over key and payload) holds and it decodes to exactly one summary; a damaged
//! value is reported, analysed afresh and replaced; a damaged file is rebuilt; a read-only or
//! full cache is used for lookups only; an unusable one is left alone, with a warning.

pub mod entry;
pub mod pg;
pub mod shape;
pub mod sqlite;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dockergate_analysis::{
    analyze_object, complete_functions, AnalysisError, ObjectSummary, ANALYSIS_VERSION,
};
use dockergate_elf::ElfObject;
use dockergate_fs::ImageFs;
use dockergate_loader::ElfCatalog;
use dockergate_pipeline::SummarySource;

pub use entry::{content_hash, Key};
pub use store::{ClearWhat, Info, RunRecord, Store, StoreError};

/// Where the cache is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Location {
    /// `postgres://…` / `postgresql://…` is a server; anything else a file path.
    pub fn parse(s: &str) -> Location {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.to_string())
        } else {
            Location::Sqlite(PathBuf::from(s))
        }
    }

    /// `$XDG_CACHE_HOME/dockergate/cache.db`, or `$HOME/.cache/dockergate/cache.db`.
    pub fn default_location() -> Option<Location> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .map(|h| h.join(".cache"))
            })?;
        Some(Location::Sqlite(base.join("dockergate").join("cache.db")))
    }

    /// For messages (a server URL without its password).
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(u) => pg::redact(u),
        }
    }
}

/// Hits and misses of one [`Cache`] so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Summaries taken from the cache.
    pub hits: u64,
    /// Objects analysed (not in the cache, damaged there, or the cache unusable).
    pub misses: u64,
    /// Stored values found damaged (each also counts as a miss, and is replaced).
    pub corrupt: u64,
    /// Entries written.
    pub written: u64,
    /// Results that could not be written (read-only or full cache, lost server).
    pub not_written: u64,
    /// Files hashed by [`Cache::prefetch`], and their bytes.
    pub hashed_files: u64,
    pub hashed_bytes: u64,
    /// Entries fetched by [`Cache::prefetch`], and their bytes.
    pub fetched: u64,
    pub fetched_bytes: u64,
    pub hash_time: Duration,
    pub fetch_time: Duration,
    pub decode_time: Duration,
    /// Objects whose key the prefetch did not know (hashed again, looked up one by one).
    pub unprefetched: u64,
    /// Completed summaries ([`SummarySource::complete`]) from the cache, and computed.
    pub completion_hits: u64,
    pub completion_misses: u64,
    /// Programs whose result came from the cache (met before with the same objects), and
    /// programs analysed.
    pub program_hits: u64,
    pub program_misses: u64,
    /// Objects found only under another analyser version or summary layout.
    pub other_versions: u64,
}

impl Stats {
    pub fn objects(&self) -> u64 {
        self.hits + self.misses
    }
}

/// Receives warnings as they happen (the CLI prints them above its progress bar).
pub type WarningSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Results waiting to be written.
#[derive(Default)]
struct Pending {
    rows: Vec<(Key, Vec<u8>)>,
    /// Keys whose stored value was damaged: overwritten, not kept.
    replace: Vec<(Key, Vec<u8>)>,
    bytes: usize,
    /// A writer thread ([`Cache::write_behind`]) takes queued results as they come.
    writer: bool,
    /// The writer is asked to write what is left and stop.
    closing: bool,
}

/// Pending results are written by the caller once they reach this size (and at
/// [`Cache::finish`]): the bound on what waits in memory when no writer keeps up.
const FLUSH_BYTES: usize = 32 << 20;
/// The writer thread wakes up once this much is queued.
const WRITE_BEHIND_BYTES: usize = 1 << 20;
/// Damaged entries reported one by one; beyond that only counted.
const CORRUPT_REPORTED: u64 = 3;

enum PrefetchState {
    Idle,
    Running,
    Done(Prefetched),
}

/// A stored value, decoded, or why it could not be.
type Decoded = Result<Arc<ObjectSummary>, entry::BadValue>;

#[derive(Default)]
struct Prefetched {
    /// The catalog's parsed objects (kept alive, so their addresses stay theirs) → key, size.
    by_elf: HashMap<usize, (Arc<ElfObject>, Key, usize)>,
    /// Values fetched, decoded (or found damaged) on the prefetch's threads; taken when used.
    values: HashMap<Key, Decoded>,
    /// Every key asked for: absent from `values` means absent from the cache.
    asked: HashSet<Key>,
    /// The cache held nothing when the prefetch began (a first run): no file was hashed
    /// ahead, and every lookup is a miss.
    nothing_stored: bool,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    corrupt: AtomicU64,
    written: AtomicU64,
    not_written: AtomicU64,
    unprefetched: AtomicU64,
    completion_hits: AtomicU64,
    completion_misses: AtomicU64,
    program_hits: AtomicU64,
    program_misses: AtomicU64,
}

/// The cache, for one process. Shared by reference between the pipeline's threads.
pub struct Cache {
    location: Location,
    layout: u64,
    store: Mutex<Option<Box<dyn Store>>>,
    /// Lookups possible (false once the cache is found unusable).
    enabled: AtomicBool,
    /// Writes possible.
    writable: AtomicBool,
    prefetch: Mutex<PrefetchState>,
    prefetch_done: Condvar,
    /// Summaries handed out in this run, by key (an image may hold the same bytes twice).
    served: Mutex<HashMap<Key, Arc<ObjectSummary>>>,
    /// Program results found damaged in this run: written again in their place.
    damaged_programs: Mutex<HashSet<Key>>,
    pending: Mutex<Pending>,
    /// Signalled when the writer thread has something to do.
    pending_ready: Condvar,
    counters: Counters,
    prefetch_stats: Mutex<Stats>,
    warnings: Mutex<Vec<String>>,
    sink: Option<WarningSink>,
    started: Instant,
    /// Threads of the prefetch (0: one per core).
    threads: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cache {
    /// Opens the cache (creating a missing SQLite file; rebuilding a damaged one, with a
    /// warning). Fails when it cannot be used at all: the caller goes on without it.
    pub fn open(location: &Location, sink: Option<WarningSink>) -> Result<Cache, String> {
        let layout = entry::layout_fingerprint().ok_or_else(|| {
            format!(
                "the cache is off: the layout of analysis summaries cannot be traced ({})",
                entry::layout_description().err().unwrap_or_default()
            )
        })?;
        let early: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let warn = |w: String| {
            if let Some(s) = &sink {
                s(&w);
            }
            lock(&early).push(w);
        };
        let (store, writable): (Box<dyn Store>, bool) = match location {
            Location::Sqlite(path) => {
                let s = sqlite::SqliteStore::open(path, &warn)
                    .map_err(|e| format!("cannot use the cache {}: {e}", path.display()))?;
                let w = !s.is_read_only();
                if !w {
                    warn(format!(
                        "the cache {} is read-only: it is used for lookups, new results are not stored",
                        path.display()
                    ));
                }
                (Box::new(s), w)
            }
            Location::Postgres(url) => (
                Box::new(pg::PgStore::open(url).map_err(|e| e.to_string())?),
                true,
            ),
        };
        let warnings = early.into_inner().unwrap_or_default();
        Ok(Cache {
            location: location.clone(),
            layout,
            store: Mutex::new(Some(store)),
            enabled: AtomicBool::new(true),
            writable: AtomicBool::new(writable),
            prefetch: Mutex::new(PrefetchState::Idle),
            prefetch_done: Condvar::new(),
            served: Mutex::new(HashMap::new()),
            damaged_programs: Mutex::new(HashSet::new()),
            pending: Mutex::new(Pending::default()),
            pending_ready: Condvar::new(),
            counters: Counters::default(),
            prefetch_stats: Mutex::new(Stats::default()),
            warnings: Mutex::new(warnings),
            sink,
            started: Instant::now(),
            threads: AtomicU64::new(0),
        })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Every warning so far.
    pub fn warnings(&self) -> Vec<String> {
        lock(&self.warnings).clone()
    }

    fn warn(&self, w: String) {
        if let Some(s) = &self.sink {
            s(&w);
        }
        lock(&self.warnings).push(w);
    }

    /// Whether the cache is still in use (not given up after an error).
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Relaxed)
    }

    /// Whether results are still being stored.
    pub fn is_writable(&self) -> bool {
        self.writable.load(Relaxed) && self.is_enabled()
    }

    pub fn stats(&self) -> Stats {
        let mut s = lock(&self.prefetch_stats).clone();
        s.hits = self.counters.hits.load(Relaxed);
        s.misses = self.counters.misses.load(Relaxed);
        s.corrupt = self.counters.corrupt.load(Relaxed);
        s.written = self.counters.written.load(Relaxed);
        s.not_written = self.counters.not_written.load(Relaxed);
        s.unprefetched = self.counters.unprefetched.load(Relaxed);
        s.completion_hits = self.counters.completion_hits.load(Relaxed);
        s.completion_misses = self.counters.completion_misses.load(Relaxed);
        s.program_hits = self.counters.program_hits.load(Relaxed);
        s.program_misses = self.counters.program_misses.load(Relaxed);
        s
    }

    /// Runs `f` on the backend, handling its failures: a damaged file is rebuilt and `f` tried
    /// again; a read-only or full one stops writes (or, when `reading`, all use); anything else
    /// stops all use. `None` when it did not succeed.
    fn with_store<T>(
        &self,
        reading: bool,
        mut f: impl FnMut(&mut dyn Store) -> Result<T, StoreError>,
    ) -> Option<T> {
        if !self.is_enabled() {
            return None;
        }
        let mut guard = lock(&self.store);
        let store = guard.as_mut()?;
        let err = match f(store.as_mut()) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let err = match err {
            StoreError::Corrupt(why) => {
                self.warn(format!(
                    "the cache {} is damaged ({why}); rebuilding it",
                    self.location.describe()
                ));
                match store.rebuild() {
                    Ok(()) => match f(store.as_mut()) {
                        Ok(v) => return Some(v),
                        Err(e) => e,
                    },
                    Err(e) => e,
                }
            }
            e => e,
        };
        match err {
            StoreError::NoWrite(why) if !reading => {
                if self.writable.swap(false, Relaxed) {
                    self.warn(format!(
                        "{why}; going on without storing new results in the cache"
                    ));
                }
            }
            StoreError::NoWrite(why) | StoreError::Other(why) | StoreError::Corrupt(why) => {
                *guard = None;
                if self.enabled.swap(false, Relaxed) {
                    self.warn(format!("{why}; going on without the cache"));
                }
            }
        }
        None
    }

    /// How many threads [`Cache::prefetch`] hashes with (0, the default: one per core).
    pub fn set_threads(&self, n: usize) {
        self.threads.store(n as u64, Relaxed);
    }

    /// Marks a prefetch as under way: [`SummarySource::summary`] calls wait for it from now
    /// on. Call before starting [`Cache::prefetch`] on another thread.
    pub fn begin_prefetch(&self) {
        let mut st = lock(&self.prefetch);
        if matches!(*st, PrefetchState::Idle) {
            *st = PrefetchState::Running;
        }
    }

    /// Hashes every parsable ELF file of the image (on threads of its own, never the
    /// pipeline's) and fetches, in one batch, every summary the cache has for them.
    pub fn prefetch(&self, fs: &ImageFs, catalog: &ElfCatalog) {
        self.begin_prefetch();
        let mut release = Release(self, None);
        if !self.is_enabled() {
            return;
        }
        // An empty cache has nothing to fetch: the analysis hashes each file as it reads it
        // (for the key it stores the result under), instead of every file being read twice.
        if self.with_store(true, |s| s.is_empty()) == Some(true) {
            release.1 = Some(Prefetched {
                nothing_stored: true,
                ..Default::default()
            });
            return;
        }
        let items: Vec<(&Arc<ElfObject>, &dockergate_loader::CatalogEntry)> = catalog
            .entries()
            .iter()
            .filter_map(|e| Some((e.elf.as_ref().ok()?, e)))
            .collect();
        let t0 = Instant::now();
        let threads = self.thread_count(items.len());
        let next = AtomicU64::new(0);
        let hashed: Vec<(usize, Key, usize)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut out = Vec::new();
                        // Each file hashed as it is read, a piece at a time, into one buffer.
                        let mut buf = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Relaxed) as usize;
                            let Some((elf, e)) = items.get(i) else { break };
                            let mut h = entry::ContentHasher::default();
                            let read = fs.read_pieces(e.node, &e.paths[0], &mut buf, |piece| {
                                h.update(piece)
                            });
                            // Unreadable files are left to the pipeline to report.
                            if let Ok(len) = read {
                                out.push((i, self.object_key(h.finish(), elf), len as usize));
                            }
                        }
                        out
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        let hashed: Vec<(Arc<ElfObject>, Key, usize)> = hashed
            .into_iter()
            .map(|(i, key, len)| (items[i].0.clone(), key, len))
            .collect();
        release.1 = Some(self.fetch_prefetched(hashed, t0.elapsed()));
    }

    /// Fetches, in one batch, the summaries the cache has for objects the caller has read
    /// (what [`Cache::prefetch`] does for an image); later lookups of the same bytes are served
    /// from it.
    pub fn prefetch_bytes(&self, objects: &[(&[u8], &ElfObject)]) {
        self.begin_prefetch();
        let mut release = Release(self, None);
        let t0 = Instant::now();
        let mut p = Prefetched::default();
        for (bytes, elf) in objects {
            p.asked.insert(self.hashed_key(bytes, elf));
        }
        let keys: Vec<Key> = p.asked.iter().copied().collect();
        release.1 = Some(self.fetch_keys(p, keys, t0.elapsed(), objects.len()));
    }

    /// The batch fetch of a prefetch, for objects already hashed.
    fn fetch_prefetched(
        &self,
        hashed: Vec<(Arc<ElfObject>, Key, usize)>,
        hash_time: Duration,
    ) -> Prefetched {
        let mut p = Prefetched::default();
        let mut hashed_bytes = 0;
        let n = hashed.len();
        for (elf, key, len) in hashed {
            p.asked.insert(key);
            hashed_bytes += len as u64;
            p.by_elf.insert(Arc::as_ptr(&elf) as usize, (elf, key, len));
        }
        if n == 0 {
            return p;
        }
        lock(&self.prefetch_stats).hashed_bytes = hashed_bytes;
        let keys: Vec<Key> = p.asked.iter().copied().collect();
        self.fetch_keys(p, keys, hash_time, n)
    }

    fn fetch_keys(
        &self,
        mut p: Prefetched,
        mut keys: Vec<Key>,
        hash_time: Duration,
        hashed_files: usize,
    ) -> Prefetched {
        let t1 = Instant::now();
        keys.sort();
        let fetched = self.with_store(true, |s| s.fetch(&keys));
        let fetched_ok = fetched.is_some();
        let rows = fetched.unwrap_or_default();
        let n = rows.len() as u64;
        let bytes: u64 = rows.iter().map(|(_, v)| v.len() as u64).sum();
        let fetch_time = t1.elapsed();
        // Decoding here, on the prefetch's threads, overlaps it with whatever the caller
        // does meanwhile (the pipeline loads the programs on one thread).
        let t2 = Instant::now();
        p.values.extend(self.decode_all(rows));
        let decode_time = t2.elapsed();
        let mut other_versions = 0;
        if !fetched_ok {
            // Nothing known about these keys: let lookups ask again (or not at all).
            p.asked.clear();
        } else if p.values.len() < keys.len() {
            // Misses that another analyser version (or summary layout) has entries for.
            let missing: Vec<Key> = keys
                .iter()
                .filter(|k| !p.values.contains_key(k))
                .copied()
                .collect();
            other_versions = self
                .with_store(true, |s| s.count_other_versions(&missing))
                .unwrap_or(0);
            if other_versions > 0 {
                self.warn(format!(
                    "{other_versions} object(s) are in the cache {} only from another analyser version (this one is {ANALYSIS_VERSION:#010x}, summary layout {:016x}): they are analysed again and stored for this version (`dockergate cache clear --stale` removes the old entries)",
                    self.location.describe(),
                    self.layout
                ));
            }
        }
        {
            let mut st = lock(&self.prefetch_stats);
            st.hashed_files = hashed_files as u64;
            st.fetched = n;
            st.fetched_bytes = bytes;
            st.hash_time = hash_time;
            st.fetch_time = fetch_time;
            st.decode_time = decode_time;
            st.other_versions = other_versions;
        }
        p
    }

    /// Threads for `items` pieces of work ([`Cache::set_threads`], or one per core).
    fn thread_count(&self, items: usize) -> usize {
        match self.threads.load(Relaxed) as usize {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(8),
            n => n,
        }
        .min(items)
        .max(1)
    }

    /// Checks and decodes fetched values, largest first, on [`Cache::thread_count`] threads.
    fn decode_all(&self, mut rows: Vec<(Key, Vec<u8>)>) -> Vec<(Key, Decoded)> {
        rows.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        let decode = |(k, v): &(Key, Vec<u8>)| (*k, entry::decode(k, v).map(Arc::new));
        let threads = self.thread_count(rows.len());
        if threads <= 1 {
            return rows.iter().map(decode).collect();
        }
        let next = AtomicU64::new(0);
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut out = Vec::new();
                        while let Some(row) = rows.get(next.fetch_add(1, Relaxed) as usize) {
                            out.push(decode(row));
                        }
                        out
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        })
    }

    /// The key of an object when the prefetch hashed it (found by the address of its parsed
    /// headers, which the prefetch keeps alive, and checked by size). Waits for a prefetch
    /// under way.
    fn prefetched_key(&self, bytes: &[u8], elf: &ElfObject) -> Option<Key> {
        let mut st = lock(&self.prefetch);
        while matches!(*st, PrefetchState::Running) {
            st = self
                .prefetch_done
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
        }
        let PrefetchState::Done(p) = &*st else {
            return None;
        };
        let &(_, key, len) = p.by_elf.get(&(elf as *const ElfObject as usize))?;
        (len == bytes.len()).then_some(key)
    }

    /// Whether the prefetch found the cache empty (keys are then hashed as files are read).
    fn nothing_stored(&self) -> bool {
        matches!(&*lock(&self.prefetch), PrefetchState::Done(p) if p.nothing_stored)
    }

    /// What the prefetch learnt about a key: `Ok(Some(value))`, `Err(())` when it asked (or
    /// found the cache empty) and the cache does not have it, `Ok(None)` when it did not ask.
    fn prefetched_value(&self, key: &Key) -> Result<Option<Decoded>, ()> {
        let mut st = lock(&self.prefetch);
        let PrefetchState::Done(p) = &mut *st else {
            return Ok(None);
        };
        match p.values.remove(key) {
            Some(v) => Ok(Some(v)),
            None if p.nothing_stored || p.asked.contains(key) => Err(()),
            None => Ok(None),
        }
    }

    /// An object's key, hashing its bytes now.
    fn hashed_key(&self, bytes: &[u8], elf: &ElfObject) -> Key {
        self.object_key(content_hash(bytes), elf)
    }

    /// The key of an object whose bytes hash to `content`.
    fn object_key(&self, content: [u8; 32], elf: &ElfObject) -> Key {
        Key {
            content,
            version: ANALYSIS_VERSION,
            layout: self.layout,
            arch: entry::arch_code(elf),
        }
    }

    /// The key of a completion: the object's key with, in place of the file's hash, a hash of
    /// it, the summary being completed (its encoding) and the functions asked for — everything
    /// the result depends on, so two askings share an entry only when their results are equal.
    fn completion_key(&self, base: Key, summary: &ObjectSummary, funcs: &[u32]) -> Key {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"dockergate-cache completion 1\0");
        h.update(base.content);
        h.update(postcard::to_allocvec(summary).expect("a summary always encodes"));
        h.update((funcs.len() as u64).to_le_bytes());
        for f in funcs {
            h.update(f.to_le_bytes());
        }
        Key {
            content: h.finalize().into(),
            ..base
        }
    }

    /// The summary of an object from the cache, if it has an intact one.
    fn lookup(&self, bytes: &[u8], elf: &ElfObject) -> (Key, Option<Arc<ObjectSummary>>, bool) {
        let key = self.prefetched_key(bytes, elf).unwrap_or_else(|| {
            if !self.nothing_stored() {
                self.counters.unprefetched.fetch_add(1, Relaxed);
            }
            self.hashed_key(bytes, elf)
        });
        let value = match self.prefetched_value(&key) {
            Ok(Some(decoded)) => Some(decoded),
            Err(()) => None,
            Ok(None) => self
                .with_store(true, |s| s.fetch(std::slice::from_ref(&key)))
                .and_then(|mut rows| rows.pop())
                .map(|(k, v)| entry::decode(&k, &v).map(Arc::new)),
        };
        let Some(value) = value else {
            return (key, None, false);
        };
        match value {
            Ok(s) => (key, Some(s), false),
            Err(bad) => {
                let n = self.counters.corrupt.fetch_add(1, Relaxed) + 1;
                if n <= CORRUPT_REPORTED {
                    self.warn(format!(
                        "damaged entry {} in the cache {} ({bad}): analysing the object again and replacing it{}",
                        key.describe(),
                        self.location.describe(),
                        if n == CORRUPT_REPORTED { " (further damaged entries are only counted)" } else { "" }
                    ));
                }
                (key, None, true)
            }
        }
    }

    /// Queues a result for writing; writes the queue once it is large.
    fn store_later(&self, key: Key, value: Vec<u8>, replace: bool) {
        if !self.is_writable() {
            self.counters.not_written.fetch_add(1, Relaxed);
            return;
        }
        let (full, wake) = {
            let mut p = lock(&self.pending);
            p.bytes += value.len();
            if replace {
                p.replace.push((key, value));
            } else {
                p.rows.push((key, value));
            }
            (
                p.bytes >= FLUSH_BYTES,
                p.writer && p.bytes >= WRITE_BEHIND_BYTES,
            )
        };
        if wake {
            self.pending_ready.notify_one();
        }
        if full {
            self.flush();
        }
    }

    /// Announces a writer thread: from now on results are written by [`Cache::write_behind`]
    /// as they come, until [`Cache::stop_writing`]. Call before starting it on another thread.
    pub fn begin_write_behind(&self) {
        let mut p = lock(&self.pending);
        p.writer = true;
        p.closing = false;
    }

    /// The writer thread's work: writes queued results in batches while the analysis goes on
    /// (so that writing, and the disk's flushes, overlap it), and what is left once
    /// [`Cache::stop_writing`] is called; then returns.
    pub fn write_behind(&self) {
        loop {
            let closing = {
                let mut p = lock(&self.pending);
                while !p.closing && p.bytes < WRITE_BEHIND_BYTES {
                    p = self
                        .pending_ready
                        .wait(p)
                        .unwrap_or_else(|e| e.into_inner());
                }
                p.closing
            };
            self.flush();
            if closing {
                break;
            }
        }
        lock(&self.pending).writer = false;
    }

    /// Ends the use of the cache in a process that exits next: pending results are written and
    /// the store is closed; the summaries handed out (kept to serve the same bytes twice) are
    /// not freed one by one, the exit releases them.
    pub fn close_for_exit(self) {
        self.flush();
        // Closing the store checkpoints SQLite's write-ahead log (a few ms): the next run
        // then opens a clean file instead of recovering the log.
        drop(lock(&self.store).take());
        std::mem::forget(self);
    }

    /// Asks the writer thread to write what is left and stop.
    pub fn stop_writing(&self) {
        lock(&self.pending).closing = true;
        self.pending_ready.notify_all();
    }

    /// A whole result stored under `content` (a digest of everything it depends on, made by
    /// the caller), if the cache holds an intact one. A damaged one is reported and ignored
    /// (the caller computes the result again and replaces it with [`Cache::put_report`]).
    pub fn get_report(&self, content: [u8; 32]) -> Option<Vec<u8>> {
        let key = self.report_key(content);
        let (k, v) = self
            .with_store(true, |s| s.fetch(std::slice::from_ref(&key)))?
            .pop()?;
        match entry::verify(&k, &v) {
            Ok(payload) => Some(payload.to_vec()),
            Err(bad) => {
                self.counters.corrupt.fetch_add(1, Relaxed);
                self.warn(format!(
                    "damaged entry {} (an image report) in the cache {} ({bad}): computing it again",
                    key.describe(),
                    self.location.describe()
                ));
                None
            }
        }
    }

    /// Stores a whole result under `content` (replacing a damaged or older one).
    pub fn put_report(&self, content: [u8; 32], payload: &[u8]) {
        let key = self.report_key(content);
        self.store_later(key, entry::encode_bytes(&key, payload), true);
        self.flush();
    }

    fn report_key(&self, content: [u8; 32]) -> Key {
        Key {
            content,
            version: ANALYSIS_VERSION,
            layout: self.layout,
            arch: entry::REPORT_ARCH,
        }
    }

    /// Writes the results queued so far.
    pub fn flush(&self) {
        let (mut rows, mut replace) = {
            let mut p = lock(&self.pending);
            p.bytes = 0;
            (std::mem::take(&mut p.rows), std::mem::take(&mut p.replace))
        };
        if rows.is_empty() && replace.is_empty() {
            return;
        }
        let queued = (rows.len() + replace.len()) as u64;
        if !self.is_writable() {
            self.counters.not_written.fetch_add(queued, Relaxed);
            return;
        }
        // The same order in every process: concurrent writers meet the same rows in order.
        // One row per key (the last queued: a summary completed twice in a run), as one
        // statement may not write a key twice.
        for v in [&mut rows, &mut replace] {
            v.reverse();
            v.sort_by_key(|r| r.0);
            v.dedup_by_key(|r| r.0);
        }
        let written = self.with_store(false, |s| {
            let mut n = 0;
            if !rows.is_empty() {
                n += s.insert(&rows, false)?;
            }
            if !replace.is_empty() {
                n += s.insert(&replace, true)?;
            }
            Ok(n)
        });
        match written {
            Some(n) => {
                self.counters.written.fetch_add(n, Relaxed);
            }
            None => {
                self.counters.not_written.fetch_add(queued, Relaxed);
            }
        }
    }

    /// Writes what is queued, records the run (for `dockergate cache stats`) and returns its
    /// counters.
    pub fn finish(&self, image: &str) -> Stats {
        self.flush();
        // Freeing a few hundred thousand small allocations takes a while: done on a thread of
        // its own, so that the caller can go on (and a process about to exit need not wait).
        let served = std::mem::take(&mut *lock(&self.served));
        let prefetched = {
            let mut st = lock(&self.prefetch);
            match std::mem::replace(&mut *st, PrefetchState::Idle) {
                PrefetchState::Running => {
                    *st = PrefetchState::Running;
                    None
                }
                PrefetchState::Done(p) => Some(p),
                PrefetchState::Idle => None,
            }
        };
        let _ = std::thread::Builder::new()
            .name("cache-free".into())
            .spawn(move || drop((served, prefetched)));
        let s = self.stats();
        if self.is_writable() {
            let run = RunRecord {
                at: store::now(),
                image: image.to_string(),
                objects: s.objects(),
                hits: s.hits,
                misses: s.misses,
                corrupt: s.corrupt,
                written: s.written,
                seconds: self.started.elapsed().as_secs_f64(),
            };
            self.with_store(false, |st| st.record_run(&run));
        }
        s
    }

    /// What the cache holds.
    pub fn info(&self) -> Result<Info, String> {
        let mut guard = lock(&self.store);
        let store = guard
            .as_mut()
            .ok_or_else(|| "the cache is not usable".to_string())?;
        match store.info(ANALYSIS_VERSION, self.layout) {
            Ok(i) => Ok(i),
            Err(StoreError::Corrupt(why)) => {
                self.warn(format!(
                    "the cache {} is damaged ({why}); rebuilding it",
                    self.location.describe()
                ));
                store.rebuild().map_err(|e| e.to_string())?;
                store
                    .info(ANALYSIS_VERSION, self.layout)
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Removes every entry (`stale_only`: only those this build cannot use); returns how many.
    pub fn clear(&self, stale_only: bool) -> Result<u64, String> {
        let what = if stale_only {
            ClearWhat::Stale {
                version: ANALYSIS_VERSION,
                layout: self.layout,
            }
        } else {
            ClearWhat::All
        };
        let mut guard = lock(&self.store);
        let store = guard
            .as_mut()
            .ok_or_else(|| "the cache is not usable".to_string())?;
        match store.clear(what) {
            Ok(n) => Ok(n),
            Err(StoreError::Corrupt(why)) => {
                self.warn(format!(
                    "the cache {} is damaged ({why}); rebuilding it empty",
                    self.location.describe()
                ));
                store.rebuild().map_err(|e| e.to_string())?;
                Ok(0)
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Ends a prefetch when dropped, whatever happened: the waiting threads are released (with
/// what was fetched, or nothing).
struct Release<'a>(&'a Cache, Option<Prefetched>);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.0.prefetch);
        *st = PrefetchState::Done(self.1.take().unwrap_or_default());
        self.0.prefetch_done.notify_all();
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        // Results not yet written are still worth keeping.
        self.flush();
    }
}

impl SummarySource for Cache {
    fn summary_and_key(
        &self,
        bytes: &[u8],
        elf: &ElfObject,
    ) -> Result<(Arc<ObjectSummary>, Option<[u8; 32]>), AnalysisError> {
        if !self.is_enabled() {
            self.counters.misses.fetch_add(1, Relaxed);
            return Ok((Arc::new(analyze_object(bytes, elf)?), None));
        }
        let (key, found, damaged) = self.lookup(bytes, elf);
        if found.is_none() && !damaged {
            // The same bytes twice in one image: the first answer serves both.
            if let Some(s) = lock(&self.served).get(&key) {
                self.counters.hits.fetch_add(1, Relaxed);
                return Ok((s.clone(), Some(key.content)));
            }
        }
        if let Some(s) = found {
            self.counters.hits.fetch_add(1, Relaxed);
            lock(&self.served).insert(key, s.clone());
            return Ok((s, Some(key.content)));
        }
        self.counters.misses.fetch_add(1, Relaxed);
        let s = Arc::new(analyze_object(bytes, elf)?);
        self.store_later(key, entry::encode(&key, &s), damaged);
        lock(&self.served).insert(key, s.clone());
        Ok((s, Some(key.content)))
    }

    fn complete(
        &self,
        bytes: &[u8],
        elf: &ElfObject,
        summary: &ObjectSummary,
        funcs: &[u32],
    ) -> Result<Arc<ObjectSummary>, AnalysisError> {
        if !self.is_enabled() {
            self.counters.completion_misses.fetch_add(1, Relaxed);
            return complete_functions(bytes, elf, summary, funcs).map(Arc::new);
        }
        let base = self
            .prefetched_key(bytes, elf)
            .unwrap_or_else(|| self.hashed_key(bytes, elf));
        let key = self.completion_key(base, summary, funcs);
        if let Some(s) = lock(&self.served).get(&key) {
            self.counters.completion_hits.fetch_add(1, Relaxed);
            return Ok(s.clone());
        }
        let mut damaged = false;
        let stored = self
            .with_store(true, |s| s.fetch(std::slice::from_ref(&key)))
            .and_then(|mut rows| rows.pop());
        if let Some((k, v)) = stored {
            match entry::decode(&k, &v) {
                Ok(s) => {
                    self.counters.completion_hits.fetch_add(1, Relaxed);
                    let s = Arc::new(s);
                    self.remember_completed(base, &s);
                    lock(&self.served).insert(key, s.clone());
                    return Ok(s);
                }
                Err(bad) => {
                    damaged = true;
                    self.counters.corrupt.fetch_add(1, Relaxed);
                    self.warn(format!(
                        "damaged entry {} (a completed summary) in the cache {} ({bad}): computing it again and replacing it",
                        key.describe(),
                        self.location.describe()
                    ));
                }
            }
        }
        self.counters.completion_misses.fetch_add(1, Relaxed);
        let s = Arc::new(complete_functions(bytes, elf, summary, funcs)?);
        self.store_later(key, entry::encode(&key, &s), damaged);
        self.remember_completed(base, &s);
        lock(&self.served).insert(key, s.clone());
        Ok(s)
    }

    fn program_results(&self, keys: &[[u8; 32]]) -> Vec<Option<Vec<u8>>> {
        let mut out = vec![None; keys.len()];
        if keys.is_empty() || !self.is_enabled() {
            return out;
        }
        let wanted: Vec<Key> = keys.iter().map(|k| self.program_key(*k)).collect();
        let rows = self
            .with_store(true, |s| s.fetch(&wanted))
            .unwrap_or_default();
        let mut by_key: HashMap<Key, Vec<u8>> = rows.into_iter().collect();
        for (slot, key) in out.iter_mut().zip(&wanted) {
            let Some(v) = by_key.remove(key) else {
                continue;
            };
            match entry::verify(key, &v) {
                Ok(payload) => *slot = Some(payload.to_vec()),
                Err(bad) => {
                    self.counters.corrupt.fetch_add(1, Relaxed);
                    lock(&self.damaged_programs).insert(*key);
                    self.warn(format!(
                        "damaged entry {} (a program's result) in the cache {} ({bad}): analysing the program again and replacing it",
                        key.describe(),
                        self.location.describe()
                    ));
                }
            }
        }
        let hits = out.iter().filter(|v| v.is_some()).count() as u64;
        self.counters.program_hits.fetch_add(hits, Relaxed);
        self.counters
            .program_misses
            .fetch_add(keys.len() as u64 - hits, Relaxed);
        out
    }

    fn put_program_result(&self, key: [u8; 32], value: Vec<u8>) {
        let key = self.program_key(key);
        let damaged = lock(&self.damaged_programs).contains(&key);
        self.store_later(key, entry::encode_bytes(&key, &value), damaged);
    }
}

impl Cache {
    fn program_key(&self, content: [u8; 32]) -> Key {
        Key {
            content,
            version: ANALYSIS_VERSION,
            layout: self.layout,
            arch: entry::PROGRAM_ARCH,
        }
    }

    /// A completed summary also replaces the object's own entry: it is the object's summary
    /// with more call sites worked out (a pure function of the bytes too), so the next run
    /// that meets the object starts from it and need not ask for the same functions again.
    /// Programs that never needed those call sites do not read them, so results are unchanged.
    fn remember_completed(&self, base: Key, completed: &ObjectSummary) {
        self.store_later(base, entry::encode(&base, completed), true);
    }
}
