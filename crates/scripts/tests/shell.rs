//! The shell reader on scripts of the kinds container images use.

use std::collections::BTreeMap;

use dockergate_scripts::{
    analyse, argv_display, glob_match, Arg, Dialect, Field, Host, Report, Start,
};

struct Files(BTreeMap<String, String>);

impl Host for Files {
    fn read(&self, path: &str) -> Option<String> {
        self.0.get(path).cloned()
    }
    fn glob(&self, pattern: &str) -> Vec<String> {
        self.0
            .keys()
            .filter(|k| glob_match(pattern, k))
            .cloned()
            .collect()
    }
    fn files_matching(&self, f: &Field) -> Vec<String> {
        self.0.keys().filter(|k| f.matches(k)).cloned().collect()
    }
}

fn run_with(text: &str, args: &[&str], env: &[(&str, &str)], files: &[(&str, &str)]) -> Report {
    let start = Start {
        name: "test.sh".into(),
        arg0: Field::lit("test.sh"),
        args: args.iter().map(|a| Arg::lit(a)).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cwd: Field::lit("/"),
        dialect: Dialect::Posix,
    };
    let host = Files(
        files
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    analyse(text, &start, &host)
}

fn run(text: &str) -> Report {
    run_with(text, &[], &[("PATH", "/usr/bin:/bin")], &[])
}

fn commands(r: &Report) -> Vec<String> {
    let mut v: Vec<String> = r.uses.iter().map(|u| argv_display(&u.argv)).collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn base_cmd() {
    let r = run("echo ok; ls /; mkdir /tmp/x; cat /etc/os-release; uname -a");
    assert_eq!(
        commands(&r),
        ["cat /etc/os-release", "ls /", "mkdir /tmp/x", "uname -a"]
    );
    assert!(r.unknown.is_empty(), "{:?}", r.unknown);
}

#[test]
fn and_exec_server() {
    let r = run("mkdir -p /run/app && chown app /run/app && exec nginx -g 'daemon off;'");
    assert_eq!(
        commands(&r),
        [
            "chown app /run/app",
            "mkdir -p /run/app",
            "nginx -g 'daemon off;'"
        ]
    );
    assert!(r.uses.iter().any(|u| u.exec));
}

#[test]
fn variables_loops_functions() {
    let r = run(r#"
APP=/opt/app/bin/server
for p in hello world; do $p --x; done
start() { local mode="$1"; "$APP" --mode "$mode"; }
start fast
if [ -n "$X" ]; then B=curl; else B=wget; fi
$B http://x
echo "$(id -u)" | tr -d x
"#);
    let c = commands(&r);
    for want in [
        "/opt/app/bin/server --mode fast",
        "hello --x",
        "world --x",
        "curl http://x",
        "wget http://x",
        "id -u",
        "tr -d x",
    ] {
        assert!(c.contains(&want.to_string()), "{want} in {c:?}");
    }
    assert!(r.unknown.is_empty(), "{:?}", r.unknown);
}

#[test]
fn positional_parameters_and_exec_at() {
    let r = run_with(
        "set -e\nif [ \"$1\" = nginx ]; then echo starting; fi\nexec \"$@\"",
        &["nginx", "-g", "daemon off;"],
        &[],
        &[],
    );
    assert_eq!(commands(&r), ["nginx -g 'daemon off;'"]);
    let r = run_with(
        "shift\nexec \"$@\"",
        &["x", "redis-server", "--port", "1"],
        &[],
        &[],
    );
    assert_eq!(commands(&r), ["redis-server --port 1"]);
    // No parameters: `exec` alone runs nothing.
    let r = run_with("exec \"$@\"", &[], &[], &[]);
    assert!(commands(&r).is_empty() && r.unknown.is_empty());
}

#[test]
fn dynamic_names_are_reported() {
    let r = run("exec $CMD");
    assert!(!r.unknown.is_empty());
    assert_eq!(r.uses[0].argv, vec![Arg::Splat]);
    let r = run("eval \"$X\"");
    assert!(!r.unknown.is_empty());
    let r = run("x=$(cat /f); $x");
    assert!(!r.unknown.is_empty());
    let r = run("if then fi (((");
    assert!(!r.unknown.is_empty());
}

#[test]
fn env_values_and_defaults() {
    let r = run_with(
        "exec ${SERVER:-gunicorn} app",
        &[],
        &[("SERVER", "uwsgi")],
        &[],
    );
    assert_eq!(commands(&r), ["uwsgi app"]);
    let r = run_with("S=${S:-gunicorn}\nexec $S app", &[], &[], &[]);
    // S may come from the runtime environment: unknown (which covers gunicorn).
    assert!(!r.unknown.is_empty());
    assert_eq!(r.uses[0].argv[0], Arg::Splat);
}

#[test]
fn source_and_globs() {
    let r = run_with(
        "for f in /docker-entrypoint.d/*.sh; do . \"$f\"; done\nexec server",
        &[],
        &[("PATH", "/bin")],
        &[
            ("/docker-entrypoint.d/10-a.sh", "touch /a"),
            ("/docker-entrypoint.d/20-b.sh", "helper --b"),
            ("/other.sh", "bad"),
        ],
    );
    assert_eq!(commands(&r), ["helper --b", "server", "touch /a"]);
    assert_eq!(r.sourced.len(), 2);
}

#[test]
fn su_and_traps_and_eval() {
    let r = run("trap 'rm -f /tmp/pid' EXIT\neval 'logger started'\nexec su -s /bin/sh app -c 'exec server --port 80'");
    let c = commands(&r);
    assert!(c.contains(&"rm -f /tmp/pid".to_string()), "{c:?}");
    assert!(c.contains(&"logger started".to_string()), "{c:?}");
    assert!(
        c.contains(&"su -s /bin/sh app -c 'exec server --port 80'".to_string()),
        "{c:?}"
    );
}

#[test]
fn command_builtin_and_path() {
    let r = run("command -v curl >/dev/null || exit 1\nPATH=/opt/bin:$PATH\ncommand curl -s x");
    let curl: Vec<_> = r
        .uses
        .iter()
        .filter(|u| u.argv[0] == Arg::lit("curl"))
        .collect();
    assert_eq!(curl.len(), 1);
    assert_eq!(curl[0].path, vec![Field::lit("/opt/bin:/usr/bin:/bin")]);
}

#[test]
fn arrays_and_case() {
    let r = run_with(
        "cmd=(nginx -g 'daemon off;')\ncase \"$1\" in start) exec \"${cmd[@]}\" ;; *) exec /bin/true ;; esac",
        &["start"],
        &[],
        &[],
    );
    assert_eq!(commands(&r), ["/bin/true", "nginx -g 'daemon off;'"]);
}

#[test]
fn local_restored_and_while_read() {
    let r = run("x=ls\nf() { local x=rm; :; }\nf\n$x /\nwhile read -r line; do echo \"$line\"; done < /etc/hosts");
    assert_eq!(commands(&r), ["ls /"]);
    let r = run("while read -r c; do $c; done");
    assert!(!r.unknown.is_empty());
}

/// Scripts are part of an untrusted image: one nested tens of thousands deep must be reported
/// (any command may run), never overflow the stack; one nested as deep as real scripts go is
/// still read exactly.
#[test]
fn hostile_nesting_is_reported_not_fatal() {
    let n = 50_000;
    for (what, text) in [
        (
            "braces",
            format!("{}ls; {}", "{ ".repeat(n), "}; ".repeat(n)),
        ),
        (
            "if",
            format!("{}ls; {}", "if true; then ".repeat(n), "fi; ".repeat(n)),
        ),
        (
            "subshells",
            format!("{}ls{}", "( ".repeat(n), " )".repeat(n)),
        ),
        (
            "substitutions",
            format!("echo {}$(ls){}", "$(echo ".repeat(n), ")".repeat(n)),
        ),
    ] {
        let r = run(&text);
        assert!(
            r.unknown.iter().any(|u| u.contains("more than")),
            "{what}: {:?}",
            r.unknown
        );
        // Every message stays short however long the script.
        assert!(
            r.unknown.iter().all(|u| u.len() < 1000),
            "{what}: long message"
        );
    }
    // Just under the limit (it counts every bracket and compound command): read exactly, on a
    // stack large enough for the parser's recursion.
    for text in [
        format!("{}ls /; {}", "{ ".repeat(19_000), "}; ".repeat(19_000)),
        format!(
            "{}ls /; {}",
            "if true; then ".repeat(19_000),
            "fi; ".repeat(19_000)
        ),
    ] {
        let r = run(&text);
        assert_eq!(commands(&r), ["ls /"]);
        assert!(r.unknown.is_empty(), "{:?}", r.unknown);
    }
    // Command substitutions nested past the depth followed: reported, whatever is inside.
    let r = run(&format!(
        "echo {}$(ls /){}",
        "$(echo ".repeat(40),
        ")".repeat(40)
    ));
    assert!(
        r.unknown.iter().any(|u| u.contains("nested more than")),
        "{:?}",
        r.unknown
    );
    let r = run(&format!(
        "echo {}$(ls /){}",
        "$(echo ".repeat(10),
        ")".repeat(10)
    ));
    assert_eq!(commands(&r), ["ls /"]);
}

/// A script with a hundred thousand commands whose names are not known: the first places are
/// named, the others counted (the list was searched at each one: quadratic).
#[test]
fn many_unknown_commands_are_counted() {
    let text: String = (0..100_000).map(|i| format!("$c{i}\n")).collect();
    let r = run(&text);
    assert_eq!(r.unknown.len(), 33, "{:?}", &r.unknown[..3]);
    assert!(r.unknown[0].contains("$c0"), "{}", r.unknown[0]);
    assert!(
        r.unknown[32].contains("and 99968 more places"),
        "{}",
        r.unknown[32]
    );
}
