//! What a command line runs, by the name of the program: shells read a script, wrappers (`env`,
//! `su`, `nice`, `timeout`…) run another command line given in their arguments.

use crate::field::{Arg, Field};
use crate::shell::Dialect;

/// Something a program runs because of its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runs {
    /// Another command line, looked up in `path` when set (`env PATH=… cmd`), else in `PATH`.
    Command { argv: Vec<Arg>, path: Option<Field> },
    /// A shell runs this text (`sh -c TEXT ARG0 ARGS…`).
    ShellText {
        text: Field,
        arg0: Field,
        args: Vec<Arg>,
        login: bool,
    },
    /// A shell runs this script file.
    ShellFile {
        file: Field,
        args: Vec<Arg>,
        login: bool,
    },
    /// A shell reads its commands from its input or a terminal.
    ShellInput { login: bool },
    /// A user's shell (`su`, `runuser`, `sudo -i`): `shell` when given, else the user's login
    /// shell from the password file; it runs `command` with `-c`, else reads its input.
    UserShell {
        user: Field,
        shell: Option<Field>,
        login: bool,
        command: Option<Field>,
        args: Vec<Arg>,
    },
    /// Every executable file of a directory (`run-parts DIR`).
    Directory(Field),
    /// What runs cannot be told from the arguments.
    Unknown(String),
}

/// Shells by the name of their binary (or busybox applet).
pub fn shell_dialect(name: &str) -> Option<Dialect> {
    match name {
        "sh" | "dash" | "ash" | "hush" | "ksh" | "mksh" | "lksh" | "posh" | "yash" => {
            Some(Dialect::Posix)
        }
        "bash" | "rbash" | "zsh" => Some(Dialect::Bash),
        _ => None,
    }
}

/// Programs known to run another command line given in their arguments (and only that).
pub const WRAPPERS: &[&str] = &[
    "env",
    "nice",
    "nohup",
    "timeout",
    "setsid",
    "stdbuf",
    "taskset",
    "ionice",
    "chrt",
    "chroot",
    "su",
    "runuser",
    "sudo",
    "gosu",
    "su-exec",
    "setpriv",
    "chpst",
    "s6-setuidgid",
    "tini",
    "tini-static",
    "dumb-init",
    "catatonit",
    "xargs",
    "find",
    "flock",
    "watch",
    "time",
    "run-parts",
    "unshare",
    "nsenter",
    "start-stop-daemon",
    "prlimit",
    "setarch",
    "linux32",
    "linux64",
    "numactl",
    "cpulimit",
    "sg",
    "newgrp",
    "script",
    "busybox",
];

/// Programs known never to run another program.
pub fn never_runs(name: &str) -> bool {
    NEVER_RUN.contains(&name)
}

const NEVER_RUN: &[&str] = &[
    "cat",
    "ls",
    "mkdir",
    "rm",
    "rmdir",
    "cp",
    "mv",
    "ln",
    "chmod",
    "chown",
    "chgrp",
    "touch",
    "echo",
    "printf",
    "true",
    "false",
    "test",
    "[",
    "uname",
    "date",
    "sleep",
    "head",
    "tail",
    "wc",
    "sort",
    "uniq",
    "cut",
    "tr",
    "grep",
    "egrep",
    "fgrep",
    "sed",
    "basename",
    "dirname",
    "readlink",
    "realpath",
    "id",
    "whoami",
    "hostname",
    "pwd",
    "stat",
    "du",
    "df",
    "tee",
    "mktemp",
    "sha256sum",
    "sha1sum",
    "md5sum",
    "seq",
    "yes",
    "expr",
    "ps",
    "kill",
    "printenv",
    "usleep",
    "sync",
    "which",
    "getent",
    "dd",
    "tac",
    "rev",
    "od",
    "hexdump",
    "base64",
    "gzip",
    "gunzip",
    "zcat",
    "tar",
    "free",
    "uptime",
    "mount",
    "umount",
    "hwclock",
    "ifconfig",
    "ip",
    "ping",
    "netstat",
    "wget",
    "nc",
    "touch",
    "cmp",
    "diff",
    "patch",
    "less",
    "more",
    "vi",
    "top",
    "pidof",
    "pgrep",
    "pkill",
    "killall",
    "dmesg",
    "install",
    "mkfifo",
    "mknod",
    "truncate",
    "split",
    "paste",
    "fold",
    "nl",
    "join",
    "comm",
    "sum",
    "cksum",
    "logger",
];

/// How a shell invocation runs its commands: `args` are the words after the shell's name;
/// `arg0` is the name it was run under (a leading `-` makes a login shell).
pub fn shell_runs(arg0: &Field, args: &[Arg]) -> Runs {
    let mut login = arg0.literal_prefix().starts_with('-');
    let mut command = false;
    let mut stdin = false;
    let mut interactive = false;
    let mut i = 0;
    while i < args.len() {
        let Some(a) = args[i].as_lit() else {
            if args[i] == Arg::Splat || !command {
                return Runs::Unknown("the shell's options are not known".into());
            }
            break;
        };
        if a == "--" || a == "-" {
            i += 1;
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            match long {
                "login" => login = true,
                "rcfile" | "init-file" => i += 1,
                "norc" | "noprofile" | "posix" | "restricted" | "verbose" | "noediting"
                | "debugger" | "dump-strings" | "dump-po-strings" | "pretty-print" => {}
                "version" | "help" => {
                    return Runs::Command {
                        argv: vec![],
                        path: None,
                    }
                }
                _ => return Runs::Unknown(format!("unknown shell option --{long}")),
            }
            i += 1;
            continue;
        }
        if (a.starts_with('-') || a.starts_with('+')) && a.len() > 1 {
            let letters = &a[1..];
            if letters.contains('c') && a.starts_with('-') {
                command = true;
            }
            if letters.contains('s') && a.starts_with('-') {
                stdin = true;
            }
            if letters.contains('i') && a.starts_with('-') {
                interactive = true;
            }
            if letters.contains('l') && a.starts_with('-') {
                login = true;
            }
            i += 1;
            // `-o option` / `+o option`, `-O shopt` take an argument.
            if letters.contains('o') || letters.contains('O') {
                i += 1;
            }
            continue;
        }
        break;
    }
    let rest = &args[i.min(args.len())..];
    if command {
        let Some(text) = rest.first() else {
            return Runs::Unknown("sh -c without a command string".into());
        };
        let Arg::Field(text) = text else {
            return Runs::Unknown("the -c string is not known".into());
        };
        let (arg0, args) = match rest.get(1) {
            Some(Arg::Field(f)) => (f.clone(), rest[2..].to_vec()),
            Some(Arg::Splat) => (Field::any(), vec![Arg::Splat]),
            None => (arg0.clone(), Vec::new()),
        };
        return Runs::ShellText {
            text: text.clone(),
            arg0,
            args,
            login,
        };
    }
    if stdin || interactive || rest.is_empty() {
        return Runs::ShellInput { login };
    }
    match &rest[0] {
        Arg::Field(f) => Runs::ShellFile {
            file: f.clone(),
            args: rest[1..].to_vec(),
            login,
        },
        Arg::Splat => Runs::Unknown("the script the shell runs is not known".into()),
    }
}

/// Skips options: `with_arg` lists options that take an argument (short `-x` or long `--xx`;
/// `-xVALUE` and `--xx=VALUE` are one word). Stops at `--` (consumed) or the first non-option.
/// `None` when an unknown word (or a splat) hides where the options end.
fn skip_options(args: &[Arg], with_arg: &[&str], stop_at_first: bool) -> Option<usize> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_lit()?;
        if a == "--" {
            return Some(i + 1);
        }
        if !a.starts_with('-') || a == "-" {
            return Some(i);
        }
        if stop_at_first && !a.starts_with("--") && a.len() > 2 && !with_arg.contains(&&a[..2]) {
            // combined short flags
        }
        if let Some((name, _)) = a.split_once('=') {
            if name.starts_with("--") {
                i += 1;
                continue;
            }
        }
        if with_arg.contains(&a) {
            i += 2;
            continue;
        }
        // `-nVALUE`: a short option with its value attached.
        if !a.starts_with("--") && a.len() > 2 && with_arg.contains(&&a[..2]) {
            i += 1;
            continue;
        }
        i += 1;
    }
    Some(i)
}

fn command_at(args: &[Arg], i: Option<usize>, who: &str) -> Vec<Runs> {
    match i {
        Some(i) if i < args.len() => vec![Runs::Command {
            argv: args[i..].to_vec(),
            path: None,
        }],
        Some(_) => vec![],
        None => vec![Runs::Unknown(format!("the options of {who} are not known"))],
    }
}

/// What a wrapper runs, given the words after its name. `None`: not a known wrapper.
pub fn wrapper_runs(name: &str, args: &[Arg]) -> Option<Vec<Runs>> {
    let runs = match name {
        "env" => {
            let mut i = 0;
            let mut path = None;
            let mut out = Vec::new();
            while i < args.len() {
                let Some(a) = args[i].as_lit() else {
                    return Some(vec![Runs::Unknown(
                        "the arguments of env are not known".into(),
                    )]);
                };
                if a == "--" {
                    i += 1;
                    break;
                }
                if a == "-S"
                    || a.starts_with("--split-string")
                    || (a.starts_with("-S") && a.len() > 2)
                {
                    // -S STRING: the string is split into words that come first.
                    let (s, next) = if a == "-S" {
                        (args.get(i + 1).cloned(), i + 2)
                    } else if let Some((_, v)) = a.split_once('=') {
                        (Some(Arg::lit(v)), i + 1)
                    } else if a.starts_with("-S") {
                        (Some(Arg::lit(&a[2..])), i + 1)
                    } else {
                        (args.get(i + 1).cloned(), i + 2)
                    };
                    match s.as_ref().and_then(|s| s.as_lit()) {
                        Some(s) => {
                            let mut words: Vec<Arg> = s.split_whitespace().map(Arg::lit).collect();
                            words.extend(args[next.min(args.len())..].iter().cloned());
                            return wrapper_runs("env", &words);
                        }
                        None => {
                            return Some(vec![Runs::Unknown(
                                "env -S with a string that is not known".into(),
                            )])
                        }
                    }
                }
                if a.starts_with('-') && a.len() > 1 {
                    if matches!(a, "-u" | "-C" | "--unset" | "--chdir") {
                        i += 2;
                    } else {
                        i += 1;
                    }
                    continue;
                }
                if let Some((k, v)) = a.split_once('=') {
                    if k == "PATH" {
                        path = Some(Field::lit(v));
                    }
                    i += 1;
                    continue;
                }
                break;
            }
            if i < args.len() {
                out.push(Runs::Command {
                    argv: args[i..].to_vec(),
                    path,
                });
            }
            out
        }
        "nice" => command_at(
            args,
            skip_options(args, &["-n", "--adjustment"], false),
            name,
        ),
        "nohup" | "setsid" | "linux32" | "linux64" => {
            command_at(args, skip_options(args, &[], false), name)
        }
        "stdbuf" => command_at(
            args,
            skip_options(
                args,
                &["-i", "-o", "-e", "--input", "--output", "--error"],
                false,
            ),
            name,
        ),
        "timeout" => {
            let i = skip_options(args, &["-s", "-k", "--signal", "--kill-after"], false);
            command_at(args, i.map(|i| i + 1), name)
        }
        "chrt" => {
            // chrt [options] priority command | chrt -p ... pid
            if args
                .iter()
                .any(|a| matches!(a.as_lit(), Some("-p") | Some("--pid")))
            {
                vec![]
            } else {
                let i = skip_options(
                    args,
                    &[
                        "-T",
                        "-P",
                        "-D",
                        "--sched-runtime",
                        "--sched-period",
                        "--sched-deadline",
                    ],
                    false,
                );
                command_at(args, i.map(|i| i + 1), name)
            }
        }
        "taskset" => {
            if args
                .iter()
                .any(|a| matches!(a.as_lit(), Some("-p") | Some("--pid")))
            {
                vec![]
            } else {
                let i = skip_options(args, &[], false);
                command_at(args, i.map(|i| i + 1), name)
            }
        }
        "ionice" => {
            if args.iter().any(|a| {
                matches!(
                    a.as_lit(),
                    Some("-p")
                        | Some("-P")
                        | Some("-u")
                        | Some("--pid")
                        | Some("--pgid")
                        | Some("--uid")
                )
            }) {
                vec![]
            } else {
                command_at(
                    args,
                    skip_options(args, &["-c", "-n", "--class", "--classdata"], false),
                    name,
                )
            }
        }
        "prlimit" => {
            if args
                .iter()
                .any(|a| matches!(a.as_lit(), Some("-p") | Some("--pid")))
            {
                vec![]
            } else {
                command_at(args, skip_options(args, &["-o", "--output"], false), name)
            }
        }
        "setarch" => {
            // setarch [arch] [options] [program [args]]
            let start = if args
                .first()
                .and_then(|a| a.as_lit())
                .is_some_and(|a| !a.starts_with('-'))
            {
                1
            } else {
                0
            };
            let i = skip_options(&args[start.min(args.len())..], &[], false).map(|i| i + start);
            match i {
                Some(i) if i >= args.len() => vec![Runs::ShellInput { login: false }],
                _ => command_at(args, i, name),
            }
        }
        "numactl" => command_at(
            args,
            skip_options(
                args,
                &[
                    "-C",
                    "-N",
                    "-m",
                    "-p",
                    "-i",
                    "-P",
                    "-l",
                    "--physcpubind",
                    "--cpunodebind",
                    "--membind",
                    "--preferred",
                    "--interleave",
                ],
                false,
            ),
            name,
        ),
        "cpulimit" => command_at(
            args,
            skip_options(
                args,
                &["-l", "-p", "-e", "--limit", "--pid", "--exe"],
                false,
            ),
            name,
        ),
        "chroot" => {
            // The command is looked up inside the new root: any file of that name.
            let i = skip_options(args, &["--userspec", "--groups"], false);
            match i {
                Some(i) if i + 1 < args.len() => {
                    let mut argv = args[i + 1..].to_vec();
                    if let Some(Arg::Field(f)) = argv.first() {
                        let mut p = Field::any();
                        if !f.literal_prefix().starts_with('/') {
                            p.push_lit("/");
                        }
                        p.append(f);
                        argv[0] = Arg::Field(p);
                    }
                    vec![Runs::Command { argv, path: None }]
                }
                Some(_) => vec![Runs::Unknown(
                    "chroot runs the user's shell inside the new root".into(),
                )],
                None => vec![Runs::Unknown("the options of chroot are not known".into())],
            }
        }
        "gosu" | "su-exec" | "s6-setuidgid" | "sg" => {
            // USER COMMAND [ARGS]
            match args.first() {
                Some(Arg::Field(_)) if args.len() >= 2 => {
                    if name == "sg" {
                        match args[1].as_lit() {
                            Some("-c") => match args.get(2) {
                                Some(Arg::Field(t)) => vec![Runs::ShellText {
                                    text: t.clone(),
                                    arg0: Field::lit("sh"),
                                    args: vec![],
                                    login: false,
                                }],
                                _ => vec![Runs::Unknown(
                                    "sg -c with a string that is not known".into(),
                                )],
                            },
                            _ => command_at(args, Some(1), name),
                        }
                    } else {
                        command_at(args, Some(1), name)
                    }
                }
                Some(Arg::Field(_)) => vec![],
                _ => vec![Runs::Unknown(format!(
                    "the arguments of {name} are not known"
                ))],
            }
        }
        "newgrp" => vec![Runs::UserShell {
            user: Field::any(),
            shell: None,
            login: false,
            command: None,
            args: vec![],
        }],
        "setpriv" => command_at(
            args,
            skip_options(
                args,
                &[
                    "--ambient-caps",
                    "--bounding-set",
                    "--egid",
                    "--euid",
                    "--groups",
                    "--inh-caps",
                    "--pdeathsig",
                    "--regid",
                    "--reuid",
                    "--rgid",
                    "--ruid",
                    "--securebits",
                    "--selinux-label",
                    "--apparmor-profile",
                    "--landlock-access",
                    "--landlock-rule",
                    "--seccomp-filter",
                ],
                false,
            ),
            name,
        ),
        "chpst" => command_at(
            args,
            skip_options(
                args,
                &[
                    "-u", "-U", "-b", "-e", "-/", "-C", "-n", "-l", "-L", "-m", "-d", "-o", "-p",
                    "-f", "-c", "-r", "-t",
                ],
                false,
            ),
            name,
        ),
        "tini" | "tini-static" => command_at(args, skip_options(args, &["-p", "-e"], false), name),
        "dumb-init" => command_at(args, skip_options(args, &["-r", "--rewrite"], false), name),
        "catatonit" => command_at(args, skip_options(args, &[], false), name),
        "time" => command_at(
            args,
            skip_options(args, &["-f", "-o", "--format", "--output"], false),
            name,
        ),
        "unshare" | "nsenter" => {
            let i = skip_options(
                args,
                &[
                    "-t",
                    "--target",
                    "-S",
                    "-G",
                    "--setuid",
                    "--setgid",
                    "--wd",
                    "-w",
                    "--root",
                    "-R",
                    "--map-user",
                    "--map-group",
                    "--propagation",
                    "--kill-child",
                    "--map-users",
                    "--map-groups",
                    "--setgroups",
                ],
                false,
            );
            match i {
                Some(i) if i >= args.len() => vec![Runs::UserShell {
                    user: Field::lit("root"),
                    shell: None,
                    login: false,
                    command: None,
                    args: vec![],
                }],
                _ => command_at(args, i, name),
            }
        }
        "flock" => {
            let i = skip_options(
                args,
                &["-w", "--timeout", "-E", "--conflict-exit-code"],
                false,
            );
            let Some(i) = i else {
                return Some(vec![Runs::Unknown(
                    "the options of flock are not known".into(),
                )]);
            };
            // flock FILE -c STRING | flock FILE CMD ARGS | flock FD
            if let Some(c) = args
                .iter()
                .position(|a| matches!(a.as_lit(), Some("-c") | Some("--command")))
            {
                match args.get(c + 1) {
                    Some(Arg::Field(t)) => vec![Runs::ShellText {
                        text: t.clone(),
                        arg0: Field::lit("sh"),
                        args: vec![],
                        login: false,
                    }],
                    _ => vec![Runs::Unknown(
                        "flock -c with a string that is not known".into(),
                    )],
                }
            } else {
                command_at(args, Some(i + 1), name)
            }
        }
        "watch" => {
            let i = skip_options(
                args,
                &["-n", "-d", "--interval", "--differences", "-q", "--equexit"],
                false,
            );
            match i {
                Some(i) if i < args.len() => {
                    if args[i..].iter().all(|a| a.as_lit().is_some()) {
                        let text = args[i..]
                            .iter()
                            .filter_map(|a| a.as_lit())
                            .collect::<Vec<_>>()
                            .join(" ");
                        vec![Runs::ShellText {
                            text: Field::lit(&text),
                            arg0: Field::lit("sh"),
                            args: vec![],
                            login: false,
                        }]
                    } else {
                        vec![Runs::Unknown(
                            "watch with a command that is not known".into(),
                        )]
                    }
                }
                _ => vec![],
            }
        }
        "xargs" => {
            let i = skip_options(
                args,
                &[
                    "-a",
                    "-d",
                    "-E",
                    "-e",
                    "-I",
                    "-i",
                    "-L",
                    "-l",
                    "-n",
                    "-P",
                    "-s",
                    "--arg-file",
                    "--delimiter",
                    "--eof",
                    "--replace",
                    "--max-lines",
                    "--max-args",
                    "--max-procs",
                    "--max-chars",
                    "--process-slot-var",
                ],
                false,
            );
            match i {
                Some(i) if i < args.len() => {
                    let mut argv = args[i..].to_vec();
                    argv.push(Arg::Splat);
                    vec![Runs::Command { argv, path: None }]
                }
                Some(_) => vec![Runs::Command {
                    argv: vec![Arg::lit("echo"), Arg::Splat],
                    path: None,
                }],
                None => vec![Runs::Unknown("the options of xargs are not known".into())],
            }
        }
        "find" => {
            let mut out = Vec::new();
            let mut i = 0;
            while i < args.len() {
                match args[i].as_lit() {
                    Some("-exec") | Some("-execdir") | Some("-ok") | Some("-okdir") => {
                        let start = i + 1;
                        let mut j = start;
                        while j < args.len() && !matches!(args[j].as_lit(), Some(";") | Some("+")) {
                            j += 1;
                        }
                        if start < j {
                            let argv: Vec<Arg> = args[start..j]
                                .iter()
                                .map(|a| {
                                    if a.as_lit() == Some("{}") {
                                        Arg::Field(Field::any())
                                    } else {
                                        a.clone()
                                    }
                                })
                                .collect();
                            out.push(Runs::Command { argv, path: None });
                        }
                        i = j + 1;
                    }
                    Some(_) => i += 1,
                    None => {
                        out.push(Runs::Unknown(
                            "find with arguments that are not known".into(),
                        ));
                        i += 1;
                    }
                }
            }
            out
        }
        "run-parts" => {
            let dir = args
                .iter()
                .rev()
                .find(|a| !a.as_lit().is_some_and(|s| s.starts_with('-')));
            match dir {
                Some(Arg::Field(d)) => vec![Runs::Directory(d.clone())],
                _ => vec![Runs::Unknown(
                    "run-parts with a directory that is not known".into(),
                )],
            }
        }
        "start-stop-daemon" => {
            let mut out = Vec::new();
            let mut exec: Option<Field> = None;
            let mut startas: Option<Field> = None;
            let mut tail: Vec<Arg> = Vec::new();
            let mut i = 0;
            while i < args.len() {
                match args[i].as_lit() {
                    Some("-x") | Some("--exec") => {
                        if let Some(Arg::Field(f)) = args.get(i + 1) {
                            exec = Some(f.clone());
                        }
                        i += 2;
                    }
                    Some("-a") | Some("--startas") => {
                        if let Some(Arg::Field(f)) = args.get(i + 1) {
                            startas = Some(f.clone());
                        }
                        i += 2;
                    }
                    Some("--") => {
                        tail = args[i + 1..].to_vec();
                        break;
                    }
                    _ => i += 1,
                }
            }
            if let Some(p) = startas.or(exec) {
                let mut argv = vec![Arg::Field(p)];
                argv.extend(tail);
                out.push(Runs::Command { argv, path: None });
            } else if args
                .iter()
                .any(|a| matches!(a.as_lit(), Some("-S") | Some("--start")))
            {
                out.push(Runs::Unknown(
                    "start-stop-daemon --start without --exec".into(),
                ));
            }
            out
        }
        "script" => {
            match args
                .iter()
                .position(|a| matches!(a.as_lit(), Some("-c") | Some("--command")))
            {
                Some(c) => match args.get(c + 1) {
                    Some(Arg::Field(t)) => vec![Runs::ShellText {
                        text: t.clone(),
                        arg0: Field::lit("sh"),
                        args: vec![],
                        login: false,
                    }],
                    _ => vec![Runs::Unknown(
                        "script -c with a string that is not known".into(),
                    )],
                },
                None => vec![Runs::ShellInput { login: false }],
            }
        }
        "su" | "runuser" => su_runs(name, args),
        "sudo" => sudo_runs(args),
        _ => return None,
    };
    Some(runs)
}

/// `su`/`runuser`: `[options] [-] [USER [ARGS…]]`; `runuser -u USER [--] COMMAND` runs the
/// command directly.
fn su_runs(name: &str, args: &[Arg]) -> Vec<Runs> {
    let mut login = false;
    let mut command: Option<Field> = None;
    let mut shell: Option<Field> = None;
    let mut direct_user: Option<Field> = None;
    // util-linux parses options anywhere (getopt permutes): `su USER -c CMD` is common.
    let mut rest: Vec<Arg> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let Some(a) = args[i].as_lit() else {
            if args[i] == Arg::Splat {
                return vec![Runs::Unknown(format!(
                    "the arguments of {name} are not known"
                ))];
            }
            rest.push(args[i].clone());
            i += 1;
            continue;
        };
        let val = |i: usize| -> Option<Field> {
            match args.get(i + 1) {
                Some(Arg::Field(f)) => Some(f.clone()),
                _ => None,
            }
        };
        match a {
            "-" | "-l" | "--login" => login = true,
            "-c" | "--command" | "--session-command" => {
                command = Some(val(i).unwrap_or_else(Field::any));
                i += 1;
            }
            "-s" | "--shell" => {
                shell = Some(val(i).unwrap_or_else(Field::any));
                i += 1;
            }
            "-u" | "--user" if name == "runuser" => {
                direct_user = Some(val(i).unwrap_or_else(Field::any));
                i += 1;
            }
            "-g" | "--group" | "-G" | "--supp-group" | "-w" | "--whitelist-environment" => i += 1,
            "-m" | "-p" | "--preserve-environment" | "-f" | "--fast" | "-P" | "--pty" => {}
            "--" => {
                rest.extend(args[i + 1..].iter().cloned());
                break;
            }
            s if s.starts_with("--command=") || s.starts_with("--session-command=") => {
                command = Some(Field::lit(s.split_once('=').map(|x| x.1).unwrap_or("")));
            }
            s if s.starts_with("--shell=") => shell = Some(Field::lit(&s[8..])),
            s if s.starts_with('-') && s.len() > 1 && !s.starts_with("--") => {
                // combined short flags such as -lc CMD
                let letters = &s[1..];
                if letters.contains('l') {
                    login = true;
                }
                if letters.ends_with('c') {
                    command = Some(val(i).unwrap_or_else(Field::any));
                    i += 1;
                } else if letters.ends_with('s') {
                    shell = Some(val(i).unwrap_or_else(Field::any));
                    i += 1;
                }
            }
            _ => rest.push(args[i].clone()),
        }
        i += 1;
    }
    let rest = &rest[..];
    if let Some(user) = direct_user {
        let _ = user;
        return match rest.first() {
            Some(_) => vec![Runs::Command {
                argv: rest.to_vec(),
                path: None,
            }],
            None => vec![Runs::Unknown("runuser -u without a command".into())],
        };
    }
    let (user, args_after) = match rest.first() {
        Some(Arg::Field(u)) => (u.clone(), rest[1..].to_vec()),
        Some(Arg::Splat) => (Field::any(), vec![Arg::Splat]),
        None => (Field::lit("root"), vec![]),
    };
    vec![Runs::UserShell {
        user,
        shell,
        login,
        command,
        args: args_after,
    }]
}

/// `sudo [options] [COMMAND [ARGS]]`; `-i`/`-s` run a shell.
fn sudo_runs(args: &[Arg]) -> Vec<Runs> {
    let with_arg = [
        "-u",
        "-g",
        "-h",
        "-p",
        "-C",
        "-D",
        "-r",
        "-t",
        "-T",
        "-U",
        "--user",
        "--group",
        "--host",
        "--prompt",
        "--close-from",
        "--chdir",
        "--role",
        "--type",
        "--command-timeout",
        "--other-user",
    ];
    let mut login = false;
    let mut shell = false;
    let mut user = Field::lit("root");
    let mut i = 0;
    while i < args.len() {
        let Some(a) = args[i].as_lit() else {
            return vec![Runs::Unknown("the arguments of sudo are not known".into())];
        };
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') {
            break;
        }
        if a == "-i" || a == "--login" {
            login = true;
        } else if a == "-s" || a == "--shell" {
            shell = true;
        } else if a == "-u" || a == "--user" {
            if let Some(Arg::Field(f)) = args.get(i + 1) {
                user = f.clone();
            }
        }
        if with_arg.contains(&a) {
            i += 2;
        } else {
            i += 1;
        }
    }
    let rest = &args[i.min(args.len())..];
    if login || shell {
        let command = if rest.is_empty() {
            None
        } else if rest.iter().all(|a| a.as_lit().is_some()) {
            Some(Field::lit(
                &rest
                    .iter()
                    .filter_map(|a| a.as_lit())
                    .collect::<Vec<_>>()
                    .join(" "),
            ))
        } else {
            Some(Field::any())
        };
        return vec![Runs::UserShell {
            user,
            shell: None,
            login,
            command,
            args: vec![],
        }];
    }
    if rest.is_empty() {
        return vec![];
    }
    vec![Runs::Command {
        argv: rest.to_vec(),
        path: None,
    }]
}

/// The interpreter line of a script: `#!INTERP [ARG]` (Linux passes the rest of the line as one
/// argument).
pub fn parse_shebang(head: &[u8]) -> Option<(String, Option<String>)> {
    let rest = head.strip_prefix(b"#!")?;
    let line = rest.split(|b| *b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let line = line.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
    if line.is_empty() {
        return None;
    }
    let (interp, arg) = match line.find([' ', '\t']) {
        Some(i) => {
            let a = line[i..].trim_matches(|c| c == ' ' || c == '\t');
            (
                &line[..i],
                if a.is_empty() {
                    None
                } else {
                    Some(a.to_string())
                },
            )
        }
        None => (line, None),
    };
    Some((interp.to_string(), arg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Arg> {
        s.split_whitespace().map(Arg::lit).collect()
    }

    #[test]
    fn shells() {
        match shell_runs(&Field::lit("sh"), &words("-ec x a b")) {
            Runs::ShellText {
                text, arg0, args, ..
            } => {
                assert_eq!(text, Field::lit("x"));
                assert_eq!(arg0, Field::lit("a"));
                assert_eq!(args, words("b"));
            }
            r => panic!("{r:?}"),
        }
        assert!(matches!(
            shell_runs(&Field::lit("sh"), &words("/s.sh 1")),
            Runs::ShellFile { .. }
        ));
        assert!(matches!(
            shell_runs(&Field::lit("-sh"), &[]),
            Runs::ShellInput { login: true }
        ));
    }

    #[test]
    fn wrappers() {
        let r = wrapper_runs("env", &words("-i A=1 PATH=/opt/bin nginx -g x")).unwrap();
        assert_eq!(
            r,
            vec![Runs::Command {
                argv: words("nginx -g x"),
                path: Some(Field::lit("/opt/bin"))
            }]
        );
        let r = wrapper_runs("env", &words("-S python3 -u")).unwrap();
        assert_eq!(
            r,
            vec![Runs::Command {
                argv: words("python3 -u"),
                path: None
            }]
        );
        let r = wrapper_runs("timeout", &words("-s KILL 10 curl x")).unwrap();
        assert_eq!(
            r,
            vec![Runs::Command {
                argv: words("curl x"),
                path: None
            }]
        );
        let r = wrapper_runs("su", &words("-s /bin/sh www-data -c server")).unwrap();
        assert!(
            matches!(&r[0], Runs::UserShell { command: Some(c), shell: Some(s), .. } if c == &Field::lit("server") && s == &Field::lit("/bin/sh"))
        );
        let r = wrapper_runs(
            "setpriv",
            &words("--reuid=33 --regid 33 --init-groups server -x"),
        )
        .unwrap();
        assert_eq!(
            r,
            vec![Runs::Command {
                argv: words("server -x"),
                path: None
            }]
        );
        let r = wrapper_runs("runuser", &words("-u app -- server")).unwrap();
        assert_eq!(
            r,
            vec![Runs::Command {
                argv: words("server"),
                path: None
            }]
        );
        let r = wrapper_runs("find", &words("/x -name *.sh -exec chmod +x {} ;")).unwrap();
        assert!(matches!(&r[0], Runs::Command { argv, .. } if argv[0] == Arg::lit("chmod")));
        assert!(wrapper_runs("ls", &[]).is_none());
    }

    #[test]
    fn shebangs() {
        assert_eq!(
            parse_shebang(b"#!/bin/sh -e\necho"),
            Some(("/bin/sh".into(), Some("-e".into())))
        );
        assert_eq!(
            parse_shebang(b"#! /usr/bin/env python3\n"),
            Some(("/usr/bin/env".into(), Some("python3".into())))
        );
        assert_eq!(parse_shebang(b"echo"), None);
    }
}
