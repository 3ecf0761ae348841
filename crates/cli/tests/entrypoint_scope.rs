//! `--scope entrypoint` end to end on small real images: host programs (dash, curl, apt, sleep, a
//! C program built here) and every library they load, in a docker-archive whose config names the
//! entrypoint. What the entrypoint can start is analysed, what it cannot is not, and what cannot
//! be told statically falls back to every program, with the call named.

#[path = "support/host_image.rs"]
mod host_image;

use std::path::{Path, PathBuf};
use std::process::Command;

use host_image::{
    allowed_names, copy_in, copy_with_libraries, docker_archive, docker_archive_with,
};

const BIN: &str = env!("CARGO_BIN_EXE_dockergate");

fn write_exec(root: &Path, path: &str, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dest = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(&dest, text).unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The base of every test image: a shell at /bin/sh, sleep, curl and apt with their libraries.
fn base_rootfs(d: &Path) -> PathBuf {
    let root = d.join("rootfs");
    copy_with_libraries(
        &root,
        &[
            "/usr/bin/dash",
            "/usr/bin/sleep",
            "/usr/bin/curl",
            "/usr/bin/apt",
        ],
    );
    copy_in(&root, "/usr/bin/dash", "/bin/sh");
    root
}

struct Run {
    allowed: Vec<String>,
    evidence: serde_json::Value,
    stderr: String,
}

fn profile(image: &Path, scope: &str) -> Run {
    profile_with(image, scope, &[])
}

fn profile_with(image: &Path, scope: &str, extra: &[&str]) -> Run {
    profile_args(image, scope, &[&["--scope", scope], extra].concat())
}

/// `dockergate profile --no-cache ARGS… IMAGE`, the outputs named after `tag`.
fn profile_args(image: &Path, tag: &str, args: &[&str]) -> Run {
    let dir = image.parent().unwrap();
    let p = dir.join(format!("{tag}.json"));
    let e = dir.join(format!("{tag}.evidence.json"));
    let out = Command::new(BIN)
        .args(["profile", "--no-cache"])
        .arg(format!("docker-archive:{}", image.display()))
        .arg("-o")
        .arg(&p)
        .arg("--evidence")
        .arg(&e)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "dockergate profile failed: {stderr}");
    let allowed = allowed_names(&p);
    let evidence = serde_json::from_slice(&std::fs::read(&e).unwrap()).unwrap();
    Run {
        allowed,
        evidence,
        stderr,
    }
}

fn assert_allows(run: &Run, calls: &[&str]) {
    for call in calls {
        assert!(
            run.allowed.iter().any(|a| a == call),
            "{call} missing: {:?}",
            run.allowed
        );
    }
}

/// Every object some analysed program loads.
fn analysed_objects(ev: &serde_json::Value) -> Vec<String> {
    ev["programs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["objects"].as_array().unwrap().iter())
        .map(|o| o.as_str().unwrap().to_string())
        .collect()
}

fn reached(ev: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    ev["entrypoint"]["reached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let chain = r["chain"].as_array().unwrap();
            (
                r["path"].as_str().unwrap().to_string(),
                chain
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn reached_paths(ev: &serde_json::Value) -> Vec<String> {
    reached(ev).into_iter().map(|(p, _)| p).collect()
}

/// The chain that reaches `program` (fails when nothing does).
fn chain_of(ev: &serde_json::Value, program: &str) -> Vec<String> {
    let reached = reached(ev);
    reached
        .iter()
        .find(|(p, _)| p == program)
        .map(|(_, chain)| chain.clone())
        .unwrap_or_else(|| panic!("{program} not reached: {reached:?}"))
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("dockergate-entrypoint-")
        .tempdir()
        .unwrap()
}

/// A start script that runs curl, then `exec`s a long-running program: curl is reached through
/// the script and its network calls are allowed (the shell alone never asks a socket's options
/// or name).
#[test]
fn script_runs_curl() {
    let d = tmp();
    let root = base_rootfs(d.path());
    write_exec(
        &root,
        "/usr/local/bin/start.sh",
        "#!/bin/sh\nset -e\nif [ -n \"$CHECK\" ]; then\n  curl -fsS \"$CHECK\" > /dev/null\nfi\nexec sleep infinity\n",
    );
    let image = d.path().join("curl.tar");
    docker_archive(&root, &["start.sh"], &image);
    let run = profile(&image, "entrypoint");
    assert_allows(
        &run,
        &["socket", "connect", "getsockopt", "getsockname", "poll"],
    );
    let curl = chain_of(&run.evidence, "/usr/bin/curl");
    assert!(
        curl.iter().any(|s| s.contains("start.sh")),
        "curl's chain does not go through the script: {curl:?}"
    );
    chain_of(&run.evidence, "/usr/bin/sleep");
    let objects = analysed_objects(&run.evidence);
    assert!(objects.iter().any(|o| o.contains("libcurl")), "{objects:?}");
}

/// A Cmd whose script runs only `echo` and `sleep`: neither curl nor apt nor their libraries are
/// analysed, nothing falls back, and the image scope (which analyses them) allows strictly more.
#[test]
fn cmd_that_cannot_reach_apt() {
    let d = tmp();
    let root = base_rootfs(d.path());
    write_exec(
        &root,
        "/start.sh",
        "#!/bin/sh\necho starting\nexec sleep infinity\n",
    );
    let image = d.path().join("nocurl.tar");
    docker_archive(&root, &["/bin/sh", "-c", "/start.sh"], &image);
    let run = profile(&image, "entrypoint");
    let objects = analysed_objects(&run.evidence);
    for lib in ["libapt-pkg", "libapt-private", "/usr/bin/apt", "libcurl"] {
        assert!(
            !objects.iter().any(|o| o.contains(lib)),
            "{lib} analysed: {objects:?}"
        );
    }
    assert!(
        run.evidence["entrypoint"]["fallbacks"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{}",
        run.evidence["entrypoint"]["fallbacks"]
    );
    for call in ["getsockopt", "getsockname"] {
        assert!(
            !run.allowed.iter().any(|a| a == call),
            "{call}: {:?}",
            run.allowed
        );
    }

    let image_scope = profile(&image, "image");
    assert!(analysed_objects(&image_scope.evidence)
        .iter()
        .any(|o| o.contains("libapt-pkg")));
    for call in &run.allowed {
        assert!(
            image_scope.allowed.contains(call),
            "{call} only in the entrypoint scope"
        );
    }
    assert!(image_scope.allowed.len() > run.allowed.len());
}

/// A program that execs its first argument: a path computed at run time makes every program of
/// the image reachable, and the warning names the call.
#[test]
fn non_constant_exec_falls_back_to_every_program() {
    let d = tmp();
    let root = base_rootfs(d.path());
    let src = d.path().join("runner.c");
    std::fs::write(
        &src,
        "#include <unistd.h>\nint main(int c, char **v) { if (c > 1) execv(v[1], v + 1); return 1; }\n",
    )
    .unwrap();
    let bin = root.join("usr/local/bin/runner");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    let cc = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .status()
        .expect("cc runs (scripts/setup.sh installs gcc)");
    assert!(cc.success());
    let image = d.path().join("runner.tar");
    docker_archive(&root, &["runner", "/usr/bin/sleep", "1"], &image);
    let run = profile(&image, "entrypoint");
    assert!(
        run.stderr.contains("every program") && run.stderr.contains("/usr/local/bin/runner"),
        "{}",
        run.stderr
    );
    let fallbacks = run.evidence["entrypoint"]["fallbacks"].to_string();
    assert!(
        fallbacks.contains("execv") && fallbacks.contains("runner"),
        "{fallbacks}"
    );
    let objects = analysed_objects(&run.evidence);
    assert!(
        objects.iter().any(|o| o.contains("libapt-pkg")),
        "{objects:?}"
    );
    assert!(objects.iter().any(|o| o.contains("libcurl")), "{objects:?}");
}

/// `--cmd` replaces the config's Cmd (as `podman run IMAGE ARG…`): the image whose script runs
/// curl, run as `sleep 1`, reaches neither the script nor curl.
#[test]
fn cmd_override_replaces_the_config() {
    let d = tmp();
    let root = base_rootfs(d.path());
    write_exec(
        &root,
        "/usr/local/bin/start.sh",
        "#!/bin/sh\ncurl -fsS http://127.0.0.1/\n",
    );
    let image = d.path().join("override.tar");
    docker_archive(&root, &["start.sh"], &image);
    let run = profile_with(&image, "entrypoint", &["--cmd", "sleep", "--cmd", "1"]);
    let reached = reached_paths(&run.evidence);
    assert!(reached.iter().any(|p| p == "/usr/bin/sleep"), "{reached:?}");
    assert!(
        !reached
            .iter()
            .any(|p| p.contains("curl") || p.contains("start.sh")),
        "{reached:?}"
    );
    assert_eq!(
        run.evidence["entrypoint"]["command"],
        serde_json::json!(["sleep", "1"])
    );
}

/// The engine runs the image's health check inside the container, under the same profile: a
/// `CMD-SHELL` check that runs curl makes curl's network calls allowed, though the Cmd never
/// runs curl; the check is in the evidence and in curl's chain.
#[test]
fn health_check_runs_under_the_profile() {
    let d = tmp();
    let root = base_rootfs(d.path());
    let image = d.path().join("health.tar");
    docker_archive_with(
        &root,
        &["sleep", "infinity"],
        serde_json::json!({"Healthcheck": {"Test": ["CMD-SHELL", "curl -fsS http://127.0.0.1/ || exit 1"]}}),
        &image,
    );
    let run = profile(&image, "entrypoint");
    assert_allows(&run, &["socket", "connect", "getsockopt", "getsockname"]);
    let curl = chain_of(&run.evidence, "/usr/bin/curl");
    assert!(
        curl[0].contains(": Healthcheck [\"/bin/sh\",\"-c\""),
        "curl's chain does not start at the health check: {curl:?}"
    );
    assert_eq!(
        run.evidence["entrypoint"]["healthcheck"],
        serde_json::json!([["/bin/sh", "-c", "curl -fsS http://127.0.0.1/ || exit 1"]])
    );
    // Without the check, curl is not reached.
    let plain = d.path().join("plain.tar");
    docker_archive(&root, &["sleep", "infinity"], &plain);
    let run = profile(&plain, "entrypoint");
    assert!(
        !reached_paths(&run.evidence)
            .iter()
            .any(|p| p == "/usr/bin/curl"),
        "curl reached without a health check"
    );
}

/// The entrypoint scope is the default; `--also-run` names another command the container runs
/// (`podman exec`, an exec probe): a shell-form string runs with `/bin/sh -c` and what it runs is
/// followed like the entrypoint; a JSON array is run as is.
#[test]
fn also_run_commands_are_followed_by_default() {
    let d = tmp();
    let root = base_rootfs(d.path());
    let image = d.path().join("also.tar");
    docker_archive(&root, &["sleep", "infinity"], &image);
    let run = profile_args(
        &image,
        "also",
        &[
            "--also-run",
            "curl -fsS http://127.0.0.1/",
            "--also-run",
            r#"["/usr/bin/apt","--version"]"#,
        ],
    );
    let ev = &run.evidence;
    assert_eq!(ev["scope"], "entrypoint", "the default scope");
    assert_eq!(
        ev["entrypoint"]["also_run"],
        serde_json::json!([
            ["/bin/sh", "-c", "curl -fsS http://127.0.0.1/"],
            ["/usr/bin/apt", "--version"]
        ])
    );
    for program in ["/usr/bin/curl", "/usr/bin/apt"] {
        let chain = chain_of(ev, program);
        assert!(chain[0].contains("--also-run"), "{chain:?}");
    }
    chain_of(ev, "/usr/bin/sleep");
    assert_allows(&run, &["connect"]);
}

/// `#!` lines are followed as the kernel follows them: five scripts in a row still reach the
/// final interpreter, six fail with ELOOP and run nothing (checked on Linux: `bad interpreter:
/// Too many levels of symbolic links`); two scripts naming each other end at once, without the
/// fallback to every program (a loop once made ever longer command lines until a budget ran out:
/// 40 s and 7 GB).
#[test]
fn interpreter_chains_stop_where_the_kernel_stops() {
    let d = tmp();
    let root = base_rootfs(d.path());
    // /c1 → /c2 → … → /c6 → curl (a script that runs curl, read by /bin/sh).
    for i in 1..=6 {
        write_exec(&root, &format!("/c{i}"), &format!("#!/c{}\n", i + 1));
    }
    write_exec(&root, "/c7", "#!/bin/sh\ncurl -fsS http://127.0.0.1/\n");
    write_exec(&root, "/loop1", "#!/loop2\n");
    write_exec(&root, "/loop2", "#!/loop1\n");
    let image = d.path().join("chains.tar");
    docker_archive(&root, &["/c3"], &image);
    let five = profile_args(&image, "five", &[]);
    assert!(
        reached_paths(&five.evidence)
            .iter()
            .any(|p| p == "/usr/bin/curl"),
        "{:?}",
        reached_paths(&five.evidence)
    );
    let six = profile_args(&image, "six", &["--entrypoint", "/c2"]);
    let reached = reached_paths(&six.evidence);
    assert!(
        !reached
            .iter()
            .any(|p| p.contains("curl") || p.contains("dash")),
        "{reached:?}"
    );
    let looped = profile_args(&image, "loop", &["--entrypoint", "/loop1"]);
    assert!(
        !looped.stderr.contains("every program"),
        "{}",
        looped.stderr
    );
    assert_eq!(
        reached_paths(&looped.evidence),
        ["/loop1", "/loop2"],
        "{:?}",
        looped.evidence["entrypoint"]
    );
}

/// A script that runs itself with one more argument each time, or with its arguments twice,
/// makes a new command line at every step: the command is followed with its arguments unknown
/// after 64 of them, or once they pass 1024 arguments. Both end at once (they once took 27 s and
/// 3 GB, and 24 GB before the kernel killed the run), and read exactly: the script and its shell, no other program.
#[test]
fn self_invoking_scripts_end() {
    let d = tmp();
    let root = base_rootfs(d.path());
    write_exec(&root, "/more.sh", "#!/bin/sh\nexec \"$0\" x \"$@\"\n");
    write_exec(&root, "/twice.sh", "#!/bin/sh\n/twice.sh \"$@\" \"$@\"\n");
    let image = d.path().join("self.tar");
    docker_archive(&root, &["/more.sh", "a"], &image);
    for (tag, script) in [("more", "/more.sh"), ("twice", "/twice.sh")] {
        let run = profile_args(&image, tag, &["--entrypoint", script, "--cmd", "a"]);
        assert!(!run.stderr.contains("every program"), "{}", run.stderr);
        // Programs and scripts (the shell's own plugins aside).
        let mut reached: Vec<String> = reached_paths(&run.evidence)
            .into_iter()
            .filter(|p| !p.contains(".so"))
            .collect();
        reached.sort();
        assert_eq!(reached, ["/bin/sh", script], "{tag}");
    }
}

/// A config with 300000 environment variables (6 MB, under the 16 MiB a document may take):
/// the last definition of a name still wins and the script still reads it (the environment was
/// de-duplicated by searching, then copied into every branch of the script's state: 106 s).
#[test]
fn a_huge_environment_is_read_once() {
    let d = tmp();
    let root = base_rootfs(d.path());
    write_exec(
        &root,
        "/start.sh",
        "#!/bin/sh\nfor i in 1 2 3; do x=$(sleep 1); done\nif [ -n \"$V1\" ]; then \"$TOOL\" -fsS http://127.0.0.1/; fi\n",
    );
    let mut env: Vec<String> = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        "TOOL=sleep".into(),
    ];
    env.extend((0..300_000).map(|i| format!("V{i}=value{i}")));
    env.push("TOOL=curl".into());
    let image = d.path().join("env.tar");
    docker_archive_with(
        &root,
        &["/start.sh"],
        serde_json::json!({ "Env": env }),
        &image,
    );
    let run = profile_args(&image, "env", &[]);
    // Reached from the script itself (curl's own dlopen calls then make every program
    // reachable, as in `script_runs_curl`).
    let chain = chain_of(&run.evidence, "/usr/bin/curl");
    assert!(
        chain
            .iter()
            .any(|c| c.starts_with("/usr/bin/curl: ") && c.ends_with(" at /start.sh:3")),
        "{chain:?}"
    );
}

/// Runs the CLI with `args`, its standard output a pipe closed before anything is written (the
/// first write fails with EPIPE): exit status and standard error.
fn into_closed_pipe(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `dockergate programs IMAGE | head -1`: the reader goes away; the listing stops quietly, as
/// any Unix tool's does (it was a panic: "failed printing to stdout: Broken pipe").
#[test]
fn output_into_a_closed_pipe_is_not_a_panic() {
    let d = tmp();
    let root = base_rootfs(d.path());
    let image = d.path().join("pipe.tar");
    docker_archive(&root, &["/usr/bin/apt", "update"], &image);
    let image = format!("docker-archive:{}", image.display());
    for args in [
        &["programs", "--plugins", "--no-cache", &image][..],
        &["profile", "--no-cache", &image][..],
        &["ldd", "--bindings", &image, "/usr/bin/apt"][..],
    ] {
        let (status, stderr) = into_closed_pipe(args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(status.success(), "{args:?}: {status:?} {stderr}");
    }
}

/// Into a full disk, `ldd` reports the write error in one line (it printed nothing and
/// succeeded).
#[test]
fn ldd_reports_a_failed_write() {
    let d = tmp();
    let root = base_rootfs(d.path());
    let image = format!("dir:{}", root.display());
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full");
        return;
    };
    let out = Command::new(BIN)
        .args(["ldd", &image, "/usr/bin/apt"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot write output"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
