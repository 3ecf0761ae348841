//! A real, throw-away PostgreSQL server for tests: Debian's binaries (`postgresql` package,
//! installed by `scripts/test-setup.sh`), a fresh data directory, a free port on 127.0.0.1,
//! trust authentication. As root the server runs as the `postgres` user (it refuses root).
//! Stopped and removed on drop.

use std::path::PathBuf;
use std::process::Command;

pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

/// The directory of `initdb`, `pg_ctl` and `postgres`: `$DOCKERGATE_PG_BIN`, or the newest
/// `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKERGATE_PG_BIN") {
        return Some(PathBuf::from(d));
    }
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgServer {
    /// Starts a server, or says why not (the caller skips the test with that message).
    pub fn start() -> Result<PgServer, String> {
        let bin = bin_dir().ok_or(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): run scripts/test-setup.sh",
        )?;
        let as_postgres = is_root();
        if as_postgres
            && Command::new("id")
                .arg("postgres")
                .output()
                .map(|o| !o.status.success())
                .unwrap_or(true)
        {
            return Err(
                "running as root and there is no postgres user to run the server as".into(),
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("dockergate-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        let sock = dir.path().join("sock");
        std::fs::create_dir(&sock).map_err(|e| e.to_string())?;
        if as_postgres {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| e.to_string())?;
            if !st.success() {
                return Err("cannot chown the data directory to postgres".into());
            }
        }
        let mut server = PgServer {
            dir,
            bin,
            as_postgres,
            port: 0,
        };
        let out = server
            .cmd("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // A free port can be taken between the check and the start: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let opts = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
                sock.display()
            );
            let out = server
                .cmd("pg_ctl")
                .args(["-w", "-t", "60", "-D"])
                .arg(&data)
                .args(["-l"])
                .arg(server.dir.path().join("log"))
                .args(["-o", &opts, "start"])
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                server.port = port;
                return Ok(server);
            }
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(server.dir.path().join("log")).unwrap_or_default()
            );
        }
        Err(format!("the server did not start: {last}"))
    }

    fn cmd(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c.current_dir("/");
            c
        } else {
            Command::new(path)
        }
    }

    /// The URL of a database (created when missing).
    pub fn url(&self, db: &str) -> String {
        let base = format!("postgres://postgres@127.0.0.1:{}/", self.port);
        if db != "postgres" {
            let mut c = postgres::Client::connect(&format!("{base}postgres"), postgres::NoTls)
                .expect("connect to the test server");
            let exists = c
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
                .unwrap()
                .is_some();
            if !exists {
                c.batch_execute(&format!("CREATE DATABASE \"{db}\""))
                    .unwrap();
            }
        }
        format!("{base}{db}")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .args(["-D"])
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// Starts a server or prints why the test is skipped; `None` then.
pub fn server_or_skip(test: &str) -> Option<PgServer> {
    match PgServer::start() {
        Ok(s) => Some(s),
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}");
            None
        }
    }
}
