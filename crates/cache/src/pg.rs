//! The shared backend: a PostgreSQL server many machines use at once.
//!
//! The same idea as the SQLite file: one row per key, the value checked on every read. Lookups
//! are one query for the whole batch (`content = ANY($keys)`); inserts are one statement per
//! chunk (`UNNEST` of arrays) with `ON CONFLICT DO NOTHING`, so any number of writers may store
//! the same results at once and every one of them succeeds. The tables are created under a
//! transaction-scoped advisory lock, so that first runs racing each other do not collide.

use std::str::FromStr;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Config, NoTls};

use crate::entry::Key;
use crate::store::{chunks, now, ClearWhat, Info, RunRecord, Store, StoreError, RUNS_KEPT};

/// The key of the advisory lock held while the tables are created ("DGC1").
const SCHEMA_LOCK: i64 = 0x4447_4331;
pub const SCHEMA: i32 = 1;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS dockergate_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dockergate_summaries (
    content BYTEA NOT NULL,
    version INTEGER NOT NULL,
    layout BIGINT NOT NULL,
    arch BIGINT NOT NULL,
    created BIGINT NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (content, version, layout, arch)
);
-- Summaries are read far more often than written, and do not shrink much: keep them
-- uncompressed, out of line.
ALTER TABLE dockergate_summaries ALTER COLUMN value SET STORAGE EXTERNAL;
CREATE TABLE IF NOT EXISTS dockergate_runs (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    image TEXT NOT NULL,
    objects BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    misses BIGINT NOT NULL,
    corrupt BIGINT NOT NULL,
    written BIGINT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL
);
";

pub struct PgStore {
    url: String,
    client: Client,
}

/// A URL for messages: the password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn classify(e: postgres::Error, what: &str) -> StoreError {
    let msg = format!("{what}: {e}");
    match e.code() {
        Some(c)
            if *c == SqlState::READ_ONLY_SQL_TRANSACTION
                || *c == SqlState::INSUFFICIENT_PRIVILEGE
                || *c == SqlState::DISK_FULL
                || *c == SqlState::OUT_OF_MEMORY
                || *c == SqlState::PROGRAM_LIMIT_EXCEEDED =>
        {
            StoreError::NoWrite(msg)
        }
        _ => StoreError::Other(msg),
    }
}

impl PgStore {
    /// Connects (10 s timeout unless the URL says otherwise) and creates the tables if needed.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let shown = redact(url);
        let mut config = Config::from_str(url)
            .map_err(|e| StoreError::Other(format!("bad PostgreSQL URL {shown}: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("dockergate");
        }
        let mut client = config
            .connect(NoTls)
            .map_err(|e| StoreError::Other(format!("cannot connect to {shown}: {e}")))?;
        let what = format!("cannot set up the cache in {shown}");
        const EXISTS: &str = "SELECT to_regclass('dockergate_meta') IS NOT NULL
            AND to_regclass('dockergate_summaries') IS NOT NULL
            AND to_regclass('dockergate_runs') IS NOT NULL";
        let exists: bool = client
            .query_one(EXISTS, &[])
            .map_err(|e| classify(e, &what))?
            .get(0);
        if !exists {
            // First use of this database: one process creates the tables, the others wait.
            let mut tx = client.transaction().map_err(|e| classify(e, &what))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
                .map_err(|e| classify(e, &what))?;
            let exists: bool = tx
                .query_one(EXISTS, &[])
                .map_err(|e| classify(e, &what))?
                .get(0);
            if !exists {
                tx.batch_execute(TABLES).map_err(|e| classify(e, &what))?;
                tx.execute(
                    "INSERT INTO dockergate_meta (name, value) VALUES ('schema', $1) ON CONFLICT (name) DO NOTHING",
                    &[&SCHEMA.to_string()],
                )
                .map_err(|e| classify(e, &what))?;
            }
            tx.commit().map_err(|e| classify(e, &what))?;
        }
        let schema: String = client
            .query_opt(
                "SELECT value FROM dockergate_meta WHERE name = 'schema'",
                &[],
            )
            .map_err(|e| classify(e, &what))?
            .map(|r| r.get(0))
            .unwrap_or_default();
        if schema != SCHEMA.to_string() {
            return Err(StoreError::Other(format!(
                "the cache in {shown} has schema {schema}; this dockergate knows {SCHEMA}"
            )));
        }
        Ok(PgStore {
            url: url.to_string(),
            client,
        })
    }
}

impl Store for PgStore {
    fn fetch(&mut self, keys: &[Key]) -> Result<Vec<(Key, Vec<u8>)>, StoreError> {
        let what = format!("cannot read the cache in {}", redact(&self.url));
        // Keys of one run share version and layout; group by them anyway.
        let mut groups: std::collections::BTreeMap<(u32, u64), Vec<&Key>> = Default::default();
        for k in keys {
            groups.entry((k.version, k.layout)).or_default().push(k);
        }
        let mut out = Vec::new();
        for ((version, layout), ks) in groups {
            let wanted: std::collections::HashSet<&Key> = ks.iter().copied().collect();
            let contents: Vec<&[u8]> = ks.iter().map(|k| &k.content[..]).collect();
            let rows = self
                .client
                .query(
                    "SELECT content, arch, value FROM dockergate_summaries
                     WHERE version = $1 AND layout = $2 AND content = ANY($3)",
                    &[&(version as i32), &(layout as i64), &contents],
                )
                .map_err(|e| classify(e, &what))?;
            for row in rows {
                let content: &[u8] = row.get(0);
                let arch: i64 = row.get(1);
                let Ok(content) = <[u8; 32]>::try_from(content) else {
                    continue;
                };
                let key = Key {
                    content,
                    version,
                    layout,
                    arch: arch as u32,
                };
                if wanted.contains(&key) {
                    out.push((key, row.get::<_, Vec<u8>>(2)));
                }
            }
        }
        Ok(out)
    }

    fn count_other_versions(&mut self, keys: &[Key]) -> Result<u64, StoreError> {
        let what = format!("cannot read the cache in {}", redact(&self.url));
        let mut n = 0;
        let mut groups: std::collections::BTreeMap<(u32, u64), Vec<&Key>> = Default::default();
        for k in keys {
            groups.entry((k.version, k.layout)).or_default().push(k);
        }
        for ((version, layout), ks) in groups {
            let contents: Vec<&[u8]> = ks.iter().map(|k| &k.content[..]).collect();
            let arches: Vec<i64> = ks.iter().map(|k| i64::from(k.arch)).collect();
            let row = self
                .client
                .query_one(
                    "SELECT count(*) FROM UNNEST($1::bytea[], $2::int8[]) AS k(c, a)
                     WHERE EXISTS (SELECT 1 FROM dockergate_summaries s
                                   WHERE s.content = k.c AND s.arch = k.a
                                     AND (s.version <> $3 OR s.layout <> $4))",
                    &[&contents, &arches, &(version as i32), &(layout as i64)],
                )
                .map_err(|e| classify(e, &what))?;
            n += row.get::<_, i64>(0) as u64;
        }
        Ok(n)
    }

    fn is_empty(&mut self) -> Result<bool, StoreError> {
        let what = format!("cannot read the cache in {}", redact(&self.url));
        let row = self
            .client
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM dockergate_summaries)",
                &[],
            )
            .map_err(|e| classify(e, &what))?;
        Ok(row.get(0))
    }

    fn insert(&mut self, rows: &[(Key, Vec<u8>)], replace: bool) -> Result<u64, StoreError> {
        let what = format!("cannot write to the cache in {}", redact(&self.url));
        let sql = format!(
            "INSERT INTO dockergate_summaries (content, version, layout, arch, created, value)
             SELECT c, v, l, a, $5, x FROM UNNEST($1::bytea[], $2::int4[], $3::int8[], $4::int8[], $6::bytea[]) AS t(c, v, l, a, x)
             ON CONFLICT (content, version, layout, arch) DO {}",
            if replace {
                "UPDATE SET value = EXCLUDED.value, created = EXCLUDED.created"
            } else {
                "NOTHING"
            }
        );
        let created = now();
        let mut written = 0;
        for chunk in chunks(rows) {
            let c: Vec<&[u8]> = chunk.iter().map(|(k, _)| &k.content[..]).collect();
            let v: Vec<i32> = chunk.iter().map(|(k, _)| k.version as i32).collect();
            let l: Vec<i64> = chunk.iter().map(|(k, _)| k.layout as i64).collect();
            let a: Vec<i64> = chunk.iter().map(|(k, _)| i64::from(k.arch)).collect();
            let x: Vec<&[u8]> = chunk.iter().map(|(_, v)| &v[..]).collect();
            // Each chunk commits on its own (autocommit): a chunk is idempotent, so a failure
            // half-way loses nothing that a later run would not add again.
            written += self
                .client
                .execute(&sql, &[&c, &v, &l, &a, &created, &x])
                .map_err(|e| classify(e, &what))?;
        }
        Ok(written)
    }

    fn record_run(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        let what = "cannot record the run in the cache";
        self.client
            .execute(
                "INSERT INTO dockergate_runs (at, image, objects, hits, misses, corrupt, written, seconds)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &run.at,
                    &run.image,
                    &(run.objects as i64),
                    &(run.hits as i64),
                    &(run.misses as i64),
                    &(run.corrupt as i64),
                    &(run.written as i64),
                    &run.seconds,
                ],
            )
            .map_err(|e| classify(e, what))?;
        self.client
            .execute(
                "DELETE FROM dockergate_runs WHERE id <= (SELECT max(id) FROM dockergate_runs) - $1",
                &[&RUNS_KEPT],
            )
            .map_err(|e| classify(e, what))?;
        Ok(())
    }

    fn info(&mut self, version: u32, layout: u64) -> Result<Info, StoreError> {
        let what = "cannot read the cache";
        let row = self
            .client
            .query_one(
                "SELECT count(*), coalesce(sum(length(value)), 0)::int8,
                        count(*) FILTER (WHERE version = $1 AND layout = $2),
                        pg_total_relation_size('dockergate_summaries') + pg_total_relation_size('dockergate_runs')
                 FROM dockergate_summaries",
                &[&(version as i32), &(layout as i64)],
            )
            .map_err(|e| classify(e, what))?;
        let last = self
            .client
            .query_opt(
                "SELECT at, image, objects, hits, misses, corrupt, written, seconds FROM dockergate_runs ORDER BY id DESC LIMIT 1",
                &[],
            )
            .map_err(|e| classify(e, what))?;
        Ok(Info {
            location: self.describe(),
            entries: row.get::<_, i64>(0) as u64,
            value_bytes: row.get::<_, i64>(1) as u64,
            current_entries: row.get::<_, i64>(2) as u64,
            disk_bytes: row.get::<_, i64>(3) as u64,
            last_run: last.map(|r| RunRecord {
                at: r.get(0),
                image: r.get(1),
                objects: r.get::<_, i64>(2) as u64,
                hits: r.get::<_, i64>(3) as u64,
                misses: r.get::<_, i64>(4) as u64,
                corrupt: r.get::<_, i64>(5) as u64,
                written: r.get::<_, i64>(6) as u64,
                seconds: r.get(7),
            }),
        })
    }

    fn clear(&mut self, what: ClearWhat) -> Result<u64, StoreError> {
        let msg = "cannot clear the cache";
        let n = match what {
            ClearWhat::All => {
                let mut tx = self.client.transaction().map_err(|e| classify(e, msg))?;
                let n = tx
                    .execute("DELETE FROM dockergate_summaries", &[])
                    .map_err(|e| classify(e, msg))?;
                tx.execute("DELETE FROM dockergate_runs", &[])
                    .map_err(|e| classify(e, msg))?;
                tx.commit().map_err(|e| classify(e, msg))?;
                n
            }
            ClearWhat::Stale { version, layout } => self
                .client
                .execute(
                    "DELETE FROM dockergate_summaries WHERE version <> $1 OR layout <> $2",
                    &[&(version as i32), &(layout as i64)],
                )
                .map_err(|e| classify(e, msg))?,
        };
        Ok(n)
    }

    fn rebuild(&mut self) -> Result<(), StoreError> {
        Err(StoreError::Other(
            "a PostgreSQL cache is not rebuilt by dockergate; damaged entries are replaced one by one"
                .into(),
        ))
    }

    fn describe(&self) -> String {
        format!("postgres {}", redact(&self.url))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
