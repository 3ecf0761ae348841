//! The analysis cache on the command line: `--cache`, `--no-cache`, `-q`, `-v`, `-j` of
//! `dockergate profile`, the progress bar, and `dockergate cache stats|clear`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use dockergate_analysis::{AnalysisError, ObjectSummary, ANALYSIS_VERSION};
use dockergate_cache::{Cache, Location, Stats};
use dockergate_elf::ElfObject;
use dockergate_pipeline::{SummarySource, Uncached};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::common::{print_out, CliError, OpenedImage};

/// Where analysis results are cached.
#[derive(Args, Clone, Debug, Default)]
pub struct CacheArgs {
    /// The analysis cache: a SQLite file, or postgres://USER@HOST[:PORT]/DB for a cache shared
    /// by many machines (default: $XDG_CACHE_HOME/dockergate/cache.db).
    #[arg(long, value_name = "PATH|URL", conflicts_with = "no_cache")]
    pub cache: Option<String>,
    /// Analyse every object afresh; neither read nor write the cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// How much is said on stderr, and how many threads work.
#[derive(Args, Clone, Debug, Default)]
pub struct RunArgs {
    /// Say nothing but warnings and errors (no progress bar, no summary line).
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more: cache hits and misses, where the time went.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Threads for the analysis (default: one per core).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

#[derive(Subcommand, Clone, Debug)]
pub enum CacheCommand {
    /// What the cache holds: entries, size, hit rate of the last run.
    Stats {
        #[arg(long, value_name = "PATH|URL")]
        cache: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove the cached results.
    Clear {
        #[arg(long, value_name = "PATH|URL")]
        cache: Option<String>,
        /// Only those of other analyser versions (which this build cannot use).
        #[arg(long)]
        stale: bool,
    },
}

fn location(spec: Option<&str>) -> Result<Location, String> {
    match spec {
        Some(s) => Ok(Location::parse(s)),
        None => Location::default_location().ok_or_else(|| {
            "no cache location: set XDG_CACHE_HOME or HOME, or give --cache PATH".to_string()
        }),
    }
}

pub fn run(cmd: &CacheCommand) -> Result<ExitCode, CliError> {
    let (spec, json) = match cmd {
        CacheCommand::Stats { cache, json } => (cache.as_deref(), *json),
        CacheCommand::Clear { cache, .. } => (cache.as_deref(), false),
    };
    let loc = location(spec).map_err(CliError::Message)?;
    let sink: dockergate_cache::WarningSink = Arc::new(|w: &str| eprintln!("warning: {w}"));
    let cache = Cache::open(&loc, Some(sink)).map_err(CliError::Message)?;
    match cmd {
        CacheCommand::Stats { .. } => {
            let info = cache.info().map_err(CliError::Message)?;
            if json {
                print_out(&format!("{}\n", stats_json(&info)))?;
            } else {
                print_out(&stats_text(&info))?;
            }
        }
        CacheCommand::Clear { stale, .. } => {
            let n = cache.clear(*stale).map_err(CliError::Message)?;
            print_out(&format!(
                "removed {n} {}entr{} from {}\n",
                if *stale { "stale " } else { "" },
                if n == 1 { "y" } else { "ies" },
                loc.describe()
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn stats_json(info: &dockergate_cache::Info) -> String {
    let last = info.last_run.as_ref().map(|r| {
        serde_json::json!({
            "at": r.at,
            "image": r.image,
            "objects": r.objects,
            "hits": r.hits,
            "misses": r.misses,
            "corrupt": r.corrupt,
            "written": r.written,
            "seconds": r.seconds,
            "hit_rate": r.hit_rate(),
        })
    });
    serde_json::to_string_pretty(&serde_json::json!({
        "location": info.location,
        "entries": info.entries,
        "current_entries": info.current_entries,
        "analysis_version": ANALYSIS_VERSION,
        "value_bytes": info.value_bytes,
        "disk_bytes": info.disk_bytes,
        "last_run": last,
    }))
    .expect("JSON")
}

fn stats_text(info: &dockergate_cache::Info) -> String {
    let mut s = format!("location:  {}\n", info.location);
    s += &format!(
        "entries:   {} ({} usable by this build, analyser version {ANALYSIS_VERSION:#010x})\n",
        info.entries, info.current_entries
    );
    s += &format!(
        "size:      {} on disk, {} of summaries\n",
        mib(info.disk_bytes),
        mib(info.value_bytes)
    );
    match &info.last_run {
        Some(r) => {
            s += &format!(
                "last run:  {} {}\n           {} objects: {} from cache, {} analysed (hit rate {:.1}%), {} damaged, {} written, {:.2} s\n",
                utc(r.at),
                r.image,
                r.objects,
                r.hits,
                r.misses,
                r.hit_rate() * 100.0,
                r.corrupt,
                r.written,
                r.seconds
            );
        }
        None => s += "last run:  none\n",
    }
    s
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

/// `YYYY-MM-DD HH:MM:SS UTC` of seconds since the epoch.
fn utc(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86400), t.rem_euclid(86400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// One `dockergate profile` run: its progress bar, its verbosity and its cache.
pub struct Session {
    bar: ProgressBar,
    quiet: bool,
    verbose: u8,
    cache_args: CacheArgs,
    started: Instant,
    phase_started: Instant,
    /// The cache once opened: `Some(None)` when it cannot be used (or `--no-cache`).
    cache: Option<Option<Cache>>,
}

impl Session {
    /// Sets the number of threads and shows the progress bar (only on a terminal).
    pub fn start(cache: &CacheArgs, run: &RunArgs) -> Session {
        if let Some(n) = run.jobs.filter(|&n| n > 0) {
            // Fails only when the pool already exists; the default then stays.
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global();
        }
        let bar = if run.quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("template"),
            );
            b.enable_steady_tick(Duration::from_millis(100));
            b
        };
        Session {
            bar,
            quiet: run.quiet,
            verbose: run.verbose,
            cache_args: cache.clone(),
            started: Instant::now(),
            phase_started: Instant::now(),
            cache: None,
        }
    }

    /// Whether the summary line is wanted.
    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Names what is being done now.
    pub fn phase(&mut self, what: &str) {
        self.bar.set_message(what.to_string());
        self.phase_started = Instant::now();
    }

    /// Prints a line without tearing the progress bar.
    pub fn say(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Runs the analysis with the cache (or without it, with a warning, when it cannot be
    /// used): the cache hashes the image's objects and fetches what it has while the pipeline
    /// loads the programs; then the new results are stored and the run recorded.
    pub fn analyze<T>(
        &mut self,
        image: &OpenedImage,
        image_name: &str,
        f: impl FnOnce(&dyn SummarySource) -> T,
    ) -> T {
        let read_time = self.phase_started.elapsed();
        self.ensure_cache();
        let cache = self.cache.take().flatten();
        let expected = image
            .catalog
            .entries()
            .iter()
            .filter(|e| e.elf.is_ok())
            .count() as u64;
        self.phase("loading programs");
        let t0 = Instant::now();
        let progress = Progress {
            inner: match &cache {
                Some(c) => c,
                None => &Uncached,
            },
            bar: &self.bar,
            done: AtomicU64::new(0),
            expected,
        };
        let result = match &cache {
            Some(c) => {
                c.begin_prefetch();
                c.begin_write_behind();
                std::thread::scope(|s| {
                    std::thread::Builder::new()
                        .name("cache-prefetch".into())
                        .spawn_scoped(s, || c.prefetch(&image.image.fs, &image.catalog))
                        .map(|_| ())
                        .unwrap_or_else(|_| c.prefetch(&image.image.fs, &image.catalog));
                    // Without a writer thread, results are written as the queue fills up.
                    let _ = std::thread::Builder::new()
                        .name("cache-writer".into())
                        .spawn_scoped(s, || c.write_behind());
                    let result = f(&progress);
                    c.stop_writing();
                    result
                })
            }
            None => f(&progress),
        };
        let analysis_time = t0.elapsed();
        if let Some(c) = &cache {
            self.bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("template"),
            );
            self.phase("storing results in the cache");
            let stats = c.finish(image_name);
            if self.verbose > 0 {
                self.report(c, &stats);
            }
        }
        self.cache = Some(cache);
        self.bar.finish_and_clear();
        if self.verbose > 0 {
            eprintln!(
                "time: reading the image {:.3} s, analysis {:.3} s, total {:.3} s",
                read_time.as_secs_f64(),
                analysis_time.as_secs_f64(),
                self.started.elapsed().as_secs_f64()
            );
        }
        result
    }

    /// Opens the cache once (with a warning when it cannot be used).
    fn ensure_cache(&mut self) {
        if self.cache.is_none() {
            let c = self.open_cache();
            self.cache = Some(c);
        }
    }

    fn open_cache(&self) -> Option<Cache> {
        if self.cache_args.no_cache {
            None
        } else {
            match location(self.cache_args.cache.as_deref()) {
                Ok(loc) => {
                    let bar = self.bar.clone();
                    let sink: dockergate_cache::WarningSink =
                        Arc::new(move |w: &str| bar.suspend(|| eprintln!("warning: {w}")));
                    match Cache::open(&loc, Some(sink)) {
                        Ok(c) => {
                            c.set_threads(rayon::current_num_threads());
                            Some(c)
                        }
                        Err(e) => {
                            self.say(&format!("warning: {e}; going on without the cache"));
                            None
                        }
                    }
                }
                Err(e) => {
                    self.say(&format!("warning: {e}; going on without the cache"));
                    None
                }
            }
        }
    }

    /// A whole image report kept in the cache under `key` (see `cmd_profile::report_key`).
    pub fn cached_report(&mut self, key: [u8; 32]) -> Option<Vec<u8>> {
        self.ensure_cache();
        let c = self.cache.as_ref()?.as_ref()?;
        let r = c.get_report(key);
        if r.is_some() && self.verbose > 0 {
            self.say(&format!(
                "cache: {} the whole report of this image (same bytes, same options, same build)",
                c.location().describe()
            ));
        }
        r
    }

    /// Ends the session of a command that exits next: the cache's pending results written and
    /// its store closed, the summaries it handed out left to the exit
    /// ([`crate::common::leave_to_exit`]); the progress bar is cleared as on every drop.
    pub fn close_for_exit(mut self) {
        if let Some(Some(cache)) = self.cache.take() {
            cache.close_for_exit();
        }
    }

    /// Keeps a whole image report in the cache under `key`.
    pub fn store_report(&mut self, key: [u8; 32], payload: &[u8]) {
        self.ensure_cache();
        if let Some(Some(c)) = &self.cache {
            c.put_report(key, payload);
        }
    }

    fn report(&self, cache: &Cache, s: &Stats) {
        let rate = if s.objects() == 0 {
            100.0
        } else {
            s.hits as f64 * 100.0 / s.objects() as f64
        };
        self.say(&format!(
            "cache: {} {}",
            match cache.location() {
                Location::Sqlite(_) => "sqlite",
                Location::Postgres(_) => "postgres",
            },
            cache.location().describe()
        ));
        self.say(&format!(
            "cache: {} objects: {} from cache, {} analysed (hit rate {rate:.1}%), {} damaged, {} written, {} not written",
            s.objects(),
            s.hits,
            s.misses,
            s.corrupt,
            s.written,
            s.not_written
        ));
        for (what, hits, misses, done) in [
            (
                "completed summaries",
                s.completion_hits,
                s.completion_misses,
                "computed",
            ),
            ("programs", s.program_hits, s.program_misses, "analysed"),
        ] {
            if hits + misses > 0 {
                self.say(&format!(
                    "cache: {} {what}: {hits} from cache, {misses} {done}",
                    hits + misses
                ));
            }
        }
        if self.verbose > 1 || s.hashed_files > 0 {
            self.say(&format!(
                "cache: hashed {} files ({}) in {:.3} s, fetched {} entries ({}) in {:.3} s, decoded in {:.3} s{}",
                s.hashed_files,
                mib(s.hashed_bytes),
                s.hash_time.as_secs_f64(),
                s.fetched,
                mib(s.fetched_bytes),
                s.fetch_time.as_secs_f64(),
                s.decode_time.as_secs_f64(),
                if s.unprefetched > 0 {
                    format!(", {} looked up one by one", s.unprefetched)
                } else {
                    String::new()
                }
            ));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Counts objects on the progress bar as the pipeline asks for them.
struct Progress<'a> {
    inner: &'a dyn SummarySource,
    bar: &'a ProgressBar,
    done: AtomicU64,
    expected: u64,
}

impl SummarySource for Progress<'_> {
    fn summary_and_key(
        &self,
        bytes: &[u8],
        elf: &ElfObject,
    ) -> Result<(Arc<ObjectSummary>, Option<[u8; 32]>), AnalysisError> {
        let n = self.done.fetch_add(1, Relaxed);
        if n == 0 && !self.bar.is_hidden() {
            self.bar.set_length(self.expected);
            self.bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {pos}/{len} objects {elapsed}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            self.bar.set_message("analysing");
        }
        let r = self.inner.summary_and_key(bytes, elf);
        self.bar.inc(1);
        if n + 1 == self.expected {
            self.bar.set_message("computing reachability");
        }
        r
    }

    fn complete(
        &self,
        bytes: &[u8],
        elf: &ElfObject,
        summary: &ObjectSummary,
        funcs: &[u32],
    ) -> Result<Arc<ObjectSummary>, AnalysisError> {
        self.inner.complete(bytes, elf, summary, funcs)
    }

    fn program_results(&self, keys: &[[u8; 32]]) -> Vec<Option<Vec<u8>>> {
        self.inner.program_results(keys)
    }

    fn put_program_result(&self, key: [u8; 32], value: Vec<u8>) {
        self.inner.put_program_result(key, value)
    }
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
