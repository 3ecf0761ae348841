//! The embedded backend: one SQLite file in WAL mode, shared by every process of the machine.
//!
//! Many processes read while one writes (WAL); writers take turns (`BEGIN IMMEDIATE` with a busy
//! timeout), each batch in one short transaction. A damaged file is rebuilt under an exclusive
//! `flock` on `PATH.lock`, and only when the file is recognisably a dockergate cache (its header,
//! or our lock file beside it): a path given by mistake to some other file is never deleted.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::entry::Key;
use crate::store::{chunks, now, ClearWhat, Info, RunRecord, Store, StoreError, RUNS_KEPT};

/// `PRAGMA application_id` of a dockergate cache ("DGC1").
pub const APPLICATION_ID: i32 = 0x4447_4331;
/// `PRAGMA user_version`: the layout of the tables.
pub const SCHEMA: i32 = 1;
/// What the lock file beside a cache holds.
const LOCK_MARKER: &[u8] = b"dockergate cache lock\n";
/// How long a writer waits for another.
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS summaries (
    content BLOB NOT NULL,
    version INTEGER NOT NULL,
    layout INTEGER NOT NULL,
    arch INTEGER NOT NULL,
    created INTEGER NOT NULL,
    value BLOB NOT NULL,
    UNIQUE (content, version, layout, arch)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    image TEXT NOT NULL,
    objects INTEGER NOT NULL,
    hits INTEGER NOT NULL,
    misses INTEGER NOT NULL,
    corrupt INTEGER NOT NULL,
    written INTEGER NOT NULL,
    seconds REAL NOT NULL
);
";

pub struct SqliteStore {
    path: PathBuf,
    conn: Option<Connection>,
    /// (device, inode) of the file `conn` has open, to tell whether another process rebuilt it.
    identity: Option<(u64, u64)>,
    read_only: bool,
}

/// Sorts a SQLite error into what the cache does about it.
fn classify(e: rusqlite::Error, what: &str) -> StoreError {
    let msg = format!("{what}: {e}");
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StoreError::Corrupt(msg),
            ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::PermissionDenied
            | ErrorCode::CannotOpen => StoreError::NoWrite(msg),
            _ => StoreError::Other(msg),
        },
        // A column of the wrong type, a row that should be there and is not: damage.
        rusqlite::Error::InvalidColumnType(..) | rusqlite::Error::FromSqlConversionFailure(..) => {
            StoreError::Corrupt(msg)
        }
        _ => StoreError::Other(msg),
    }
}

impl SqliteStore {
    /// Opens (creating it when missing) the cache file at `path`. A damaged file is rebuilt
    /// when it is recognisably ours; `warn` hears about it.
    pub fn open(path: &Path, warn: &dyn Fn(String)) -> Result<SqliteStore, StoreError> {
        let mut s = SqliteStore {
            path: path.to_path_buf(),
            conn: None,
            identity: None,
            read_only: false,
        };
        match s.connect() {
            Ok(()) => Ok(s),
            Err(StoreError::Corrupt(why)) => {
                warn(format!(
                    "the cache {} is damaged ({why}); rebuilding it",
                    path.display()
                ));
                s.rebuild()?;
                Ok(s)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether only lookups are possible (the file or its directory is read-only).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    fn sidecars(&self) -> [PathBuf; 2] {
        ["-wal", "-shm"].map(|s| {
            let mut p = self.path.clone().into_os_string();
            p.push(s);
            PathBuf::from(p)
        })
    }

    /// Opens the file read-write (read-only when that is all that is allowed) and checks or
    /// creates its tables.
    fn connect(&mut self) -> Result<(), StoreError> {
        self.conn = None;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Err(e) = std::fs::create_dir_all(dir) {
                if !dir.is_dir() {
                    return Err(StoreError::Other(format!(
                        "cannot create {}: {e}",
                        dir.display()
                    )));
                }
            }
        }
        let rw = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match Connection::open_with_flags(&self.path, rw).and_then(|c| {
            c.busy_timeout(BUSY_TIMEOUT)?;
            Ok(c)
        }) {
            Ok(c) => c,
            Err(e) => {
                let first = classify(e, &format!("cannot open {}", self.path.display()));
                if !matches!(first, StoreError::NoWrite(_)) || !self.path.is_file() {
                    return Err(first);
                }
                return self.connect_read_only(first);
            }
        };
        match self.init(&conn) {
            Ok(()) => {}
            Err(StoreError::NoWrite(why)) => {
                drop(conn);
                return self.connect_read_only(StoreError::NoWrite(why));
            }
            Err(e) => return Err(e),
        }
        // The file is a dockergate cache now: mark the place as ours, so that it can be
        // rebuilt even when damage reaches its header.
        let _ = self.lock_file();
        self.identity = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        self.conn = Some(conn);
        self.read_only = false;
        Ok(())
    }

    fn connect_read_only(&mut self, why: StoreError) -> Result<(), StoreError> {
        // Read-only, with the usual locking; failing that (a WAL file in a directory where
        // no -shm file can be made), as an immutable file.
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let uri = file_uri(&self.path);
        let usable = |conn: &Connection| -> bool {
            // Only a file already set up by dockergate is used as it is.
            conn.busy_timeout(BUSY_TIMEOUT).is_ok()
                && header_ids(conn).is_ok_and(|ids| ids == (APPLICATION_ID, SCHEMA))
                && conn
                    .query_row("SELECT count(*) FROM runs", [], |r| r.get::<_, i64>(0))
                    .is_ok()
        };
        let conn = [format!("{uri}?mode=ro"), format!("{uri}?immutable=1")]
            .into_iter()
            .filter_map(|u| Connection::open_with_flags(u, flags).ok())
            .find(usable)
            .ok_or(why)?;
        self.identity = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        self.conn = Some(conn);
        self.read_only = true;
        Ok(())
    }

    /// WAL mode, and the tables; refuses files that are some other program's database.
    fn init(&self, conn: &Connection) -> Result<(), StoreError> {
        let what = format!("cannot set up {}", self.path.display());
        // One statement, one snapshot: another process may be creating the tables right now.
        let (app, schema, tables): (i32, i32, i64) = conn
            .query_row(
                "SELECT (SELECT application_id FROM pragma_application_id()),
                        (SELECT user_version FROM pragma_user_version()),
                        (SELECT count(*) FROM sqlite_master)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| classify(e, &what))?;
        let fresh = app == 0 && schema == 0 && tables == 0;
        if !fresh {
            if app != APPLICATION_ID {
                return Err(StoreError::Other(format!(
                    "{} is not a dockergate cache (a database of another program); leaving it alone",
                    self.path.display()
                )));
            }
            if schema > SCHEMA {
                return Err(StoreError::Other(format!(
                    "{} was written by a newer dockergate (cache schema {schema}, this one knows {SCHEMA})",
                    self.path.display()
                )));
            }
            if schema < SCHEMA {
                return Err(StoreError::Corrupt(format!(
                    "cache schema {schema} of an older dockergate"
                )));
            }
        } else {
            // Larger pages read summaries (tens of KiB each) in fewer steps. Only takes effect
            // on an empty file, before WAL mode.
            conn.execute_batch("PRAGMA page_size = 16384")
                .map_err(|e| classify(e, &what))?;
        }
        // Switching to WAL needs a moment alone with the file; another process may be doing
        // the same.
        let mut tries = 0;
        loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
                Ok(mode) if mode.eq_ignore_ascii_case("wal") => break,
                Ok(mode) => {
                    return Err(StoreError::NoWrite(format!(
                        "{what}: journal mode stays {mode}"
                    )))
                }
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                        && tries < 600 =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(classify(e, &what)),
            }
        }
        // No fsync: a cache is not a record. The checkpoint that folds the WAL into the file
        // when the last connection closes waited for the disk (70 ms after nginx's first run,
        // every run that wrote). A file a power loss leaves damaged is reported and rebuilt
        // like any damaged file, and an entry whose CRC fails is analysed again, so a torn write
        // never becomes a result.
        conn.execute_batch("PRAGMA synchronous = OFF")
            .map_err(|e| classify(e, &what))?;
        if fresh || schema != SCHEMA || app != APPLICATION_ID {
            let tx = conn
                .unchecked_transaction_immediate()
                .map_err(|e| classify(e, &what))?;
            let (app2, schema2) = header_ids(&tx).map_err(|e| classify(e, &what))?;
            if app2 == 0 && schema2 == 0 {
                tx.execute_batch(&format!(
                    "{TABLES} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA};"
                ))
                .map_err(|e| classify(e, &what))?;
            } else if app2 != APPLICATION_ID || schema2 != SCHEMA {
                return Err(StoreError::Other(format!(
                    "{what}: another program set it up at the same time"
                )));
            }
            tx.commit().map_err(|e| classify(e, &what))?;
        }
        Ok(())
    }

    /// Opens (creating) the lock file, marked as ours.
    fn lock_file(&self) -> std::io::Result<File> {
        let path = self.lock_path();
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut head = Vec::new();
        (&f).take(LOCK_MARKER.len() as u64).read_to_end(&mut head)?;
        if head.is_empty() {
            f.write_all(LOCK_MARKER)?;
        }
        Ok(f)
    }

    /// Whether the file at the path is recognisably a dockergate cache, damaged or not.
    fn is_ours(&self) -> bool {
        let mut head = [0u8; 72];
        let header_ok = File::open(&self.path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
            && &head[..16] == b"SQLite format 3\0"
            && i32::from_be_bytes(head[68..72].try_into().unwrap()) == APPLICATION_ID;
        let marker_ok = std::fs::read(self.lock_path())
            .map(|m| m.starts_with(LOCK_MARKER))
            .unwrap_or(false);
        header_ok || marker_ok || !self.path.exists()
    }

    fn conn(&mut self) -> Result<&mut Connection, StoreError> {
        if self.conn.is_none() {
            self.connect()?;
        }
        Ok(self.conn.as_mut().expect("connected"))
    }
}

/// `file:` URI of a path (for URI parameters), with the characters URIs reserve escaped.
fn file_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut s = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// `PRAGMA application_id` and `PRAGMA user_version`, read in one snapshot.
fn header_ids(conn: &Connection) -> rusqlite::Result<(i32, i32)> {
    conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id()),
                (SELECT user_version FROM pragma_user_version())",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

trait ImmediateTx {
    fn unchecked_transaction_immediate(&self) -> rusqlite::Result<rusqlite::Transaction<'_>>;
}

impl ImmediateTx for Connection {
    fn unchecked_transaction_immediate(&self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        // `Transaction::new_unchecked` with IMMEDIATE: the write lock is taken at BEGIN, so a
        // busy writer is waited for there (busy timeout), never half-way through.
        rusqlite::Transaction::new_unchecked(self, TransactionBehavior::Immediate)
    }
}

fn key_params(k: &Key) -> (&[u8], i64, i64, i64) {
    (
        &k.content[..],
        i64::from(k.version),
        k.layout as i64,
        i64::from(k.arch),
    )
}

impl Store for SqliteStore {
    fn fetch(&mut self, keys: &[Key]) -> Result<Vec<(Key, Vec<u8>)>, StoreError> {
        let what = "cannot read the cache";
        let conn = self.conn()?;
        // One read transaction for the whole batch: one snapshot, one lock.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| classify(e, what))?;
        let mut out = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT value FROM summaries WHERE content = ?1 AND version = ?2 AND layout = ?3 AND arch = ?4",
                )
                .map_err(|e| classify(e, what))?;
            for k in keys {
                let (c, v, l, a) = key_params(k);
                let value: Option<Vec<u8>> = stmt
                    .query_row(params![c, v, l, a], |r| r.get(0))
                    .optional()
                    .map_err(|e| classify(e, what))?;
                if let Some(value) = value {
                    out.push((*k, value));
                }
            }
        }
        tx.finish().map_err(|e| classify(e, what))?;
        Ok(out)
    }

    fn count_other_versions(&mut self, keys: &[Key]) -> Result<u64, StoreError> {
        let what = "cannot read the cache";
        let conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| classify(e, what))?;
        let mut n = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM summaries WHERE content = ?1 AND arch = ?4 AND (version <> ?2 OR layout <> ?3))",
                )
                .map_err(|e| classify(e, what))?;
            for k in keys {
                let (c, v, l, a) = key_params(k);
                let found: bool = stmt
                    .query_row(params![c, v, l, a], |r| r.get(0))
                    .map_err(|e| classify(e, what))?;
                n += u64::from(found);
            }
        }
        tx.finish().map_err(|e| classify(e, what))?;
        Ok(n)
    }

    fn is_empty(&mut self) -> Result<bool, StoreError> {
        let what = "cannot read the cache";
        self.conn()?
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM summaries)", [], |r| {
                r.get(0)
            })
            .map_err(|e| classify(e, what))
    }

    fn insert(&mut self, rows: &[(Key, Vec<u8>)], replace: bool) -> Result<u64, StoreError> {
        if self.read_only {
            return Err(StoreError::NoWrite(format!(
                "{} is read-only",
                self.path.display()
            )));
        }
        let what = format!("cannot write to the cache {}", self.path.display());
        let sql = if replace {
            "INSERT INTO summaries (content, version, layout, arch, created, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (content, version, layout, arch) DO UPDATE SET value = excluded.value, created = excluded.created"
        } else {
            "INSERT INTO summaries (content, version, layout, arch, created, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (content, version, layout, arch) DO NOTHING"
        };
        let created = now();
        let mut written = 0;
        let conn = self.conn()?;
        for chunk in chunks(rows) {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| classify(e, &what))?;
            {
                let mut stmt = tx.prepare_cached(sql).map_err(|e| classify(e, &what))?;
                for (k, value) in chunk {
                    let (c, v, l, a) = key_params(k);
                    written += stmt
                        .execute(params![c, v, l, a, created, value])
                        .map_err(|e| classify(e, &what))? as u64;
                }
            }
            tx.commit().map_err(|e| classify(e, &what))?;
        }
        Ok(written)
    }

    fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        if self.read_only {
            return Ok(());
        }
        let what = "cannot record the run in the cache";
        let conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(e, what))?;
        tx.execute(
            "INSERT INTO runs (at, image, objects, hits, misses, corrupt, written, seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run.at,
                run.image,
                run.objects as i64,
                run.hits as i64,
                run.misses as i64,
                run.corrupt as i64,
                run.written as i64,
                run.seconds
            ],
        )
        .map_err(|e| classify(e, what))?;
        tx.execute(
            "DELETE FROM runs WHERE id <= (SELECT max(id) FROM runs) - ?1",
            params![RUNS_KEPT],
        )
        .map_err(|e| classify(e, what))?;
        tx.commit().map_err(|e| classify(e, what))
    }

    fn info(&mut self, version: u32, layout: u64) -> Result<Info, StoreError> {
        let what = "cannot read the cache";
        let location = self.describe();
        let sidecars = self.sidecars();
        let path = self.path.clone();
        let conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| classify(e, what))?;
        let (entries, value_bytes): (i64, i64) = tx
            .query_row(
                "SELECT count(*), coalesce(sum(length(value)), 0) FROM summaries",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| classify(e, what))?;
        let current: i64 = tx
            .query_row(
                "SELECT count(*) FROM summaries WHERE version = ?1 AND layout = ?2",
                params![i64::from(version), layout as i64],
                |r| r.get(0),
            )
            .map_err(|e| classify(e, what))?;
        let last_run = tx
            .query_row(
                "SELECT at, image, objects, hits, misses, corrupt, written, seconds FROM runs ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(RunRecord {
                        at: r.get(0)?,
                        image: r.get(1)?,
                        objects: r.get::<_, i64>(2)? as u64,
                        hits: r.get::<_, i64>(3)? as u64,
                        misses: r.get::<_, i64>(4)? as u64,
                        corrupt: r.get::<_, i64>(5)? as u64,
                        written: r.get::<_, i64>(6)? as u64,
                        seconds: r.get(7)?,
                    })
                },
            )
            .optional()
            .map_err(|e| classify(e, what))?;
        tx.finish().map_err(|e| classify(e, what))?;
        let disk_bytes = std::iter::once(&path)
            .chain(sidecars.iter())
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        Ok(Info {
            location,
            entries: entries as u64,
            current_entries: current as u64,
            value_bytes: value_bytes as u64,
            disk_bytes,
            last_run,
        })
    }

    fn clear(&mut self, what: ClearWhat) -> Result<u64, StoreError> {
        if self.read_only {
            return Err(StoreError::NoWrite(format!(
                "{} is read-only",
                self.path.display()
            )));
        }
        let msg = "cannot clear the cache";
        let conn = self.conn()?;
        let n = match what {
            ClearWhat::All => {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(|e| classify(e, msg))?;
                let n = tx
                    .execute("DELETE FROM summaries", [])
                    .map_err(|e| classify(e, msg))?;
                tx.execute("DELETE FROM runs", [])
                    .map_err(|e| classify(e, msg))?;
                tx.commit().map_err(|e| classify(e, msg))?;
                n
            }
            ClearWhat::Stale { version, layout } => conn
                .execute(
                    "DELETE FROM summaries WHERE version <> ?1 OR layout <> ?2",
                    params![i64::from(version), layout as i64],
                )
                .map_err(|e| classify(e, msg))?,
        };
        // Give the space back: shrink the file, then fold the WAL into it.
        let _ = conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);");
        Ok(n as u64)
    }

    fn rebuild(&mut self) -> Result<(), StoreError> {
        if !self.is_ours() {
            return Err(StoreError::Other(format!(
                "{} does not look like a dockergate cache; leaving it alone (remove it, or choose another --cache)",
                self.path.display()
            )));
        }
        let lock = self.lock_file().map_err(|e| {
            StoreError::NoWrite(format!(
                "cannot lock {} to rebuild it: {e}",
                self.lock_path().display()
            ))
        })?;
        // SAFETY: flock on a file descriptor we own; released when `lock` is closed.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(StoreError::Other(format!(
                "cannot lock {}: {}",
                self.lock_path().display(),
                std::io::Error::last_os_error()
            )));
        }
        let had = self.identity;
        self.conn = None;
        let now_there = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let rebuilt_by_another = now_there.is_some() && had.is_some() && now_there != had;
        if !rebuilt_by_another {
            // Another process may have rebuilt it since we last looked, but only if the file
            // now there works; otherwise it goes.
            if had.is_some() || self.connect().is_err() {
                self.conn = None;
                for p in std::iter::once(self.path.clone()).chain(self.sidecars()) {
                    match std::fs::remove_file(&p) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(StoreError::NoWrite(format!(
                                "cannot remove the damaged cache {}: {e}",
                                p.display()
                            )))
                        }
                    }
                }
            }
        }
        let r = if self.conn.is_some() {
            Ok(())
        } else {
            self.connect()
        };
        drop(lock);
        r
    }

    fn describe(&self) -> String {
        format!("sqlite {}", self.path.display())
    }
}
