//! The shell reader: an abstract interpretation of a script's syntax tree (parsed by
//! `brush-parser`) that finds every external command the script can run, with the values its
//! words can take.
//!
//! Soundness rules:
//! - Every branch of `if`, `case`, `&&`/`||` may run; loops run until the variables they change
//!   stop changing (then those become unknown); variable values after a join are the union.
//! - A variable the script has not assigned and the starting environment does not hold is
//!   unknown (the runtime may set it), never empty.
//! - Subshells, pipelines (every element), command substitutions, `&` lists and traps run on a
//!   copy of the state; functions run inline with their arguments as positional parameters,
//!   `local` variables restored after the call.
//! - `. FILE`/`source FILE` read the file through the [`Host`] and run it inline; `eval` of a
//!   known string is parsed and run. Anything the reader cannot follow (a command name, an
//!   `eval`, a sourced file that is not known, a parse error) is reported in
//!   [`Report::unknown`]: the caller must then assume any command may run.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use brush_parser::ast;
use brush_parser::word::{
    Parameter, ParameterExpr, SpecialParameter, TildeExpr, WordPiece, WordPieceWithSource,
};

use crate::field::{glob_match, has_glob_chars, Arg, Field, Val};

/// What the reader needs from the filesystem the script runs in.
pub trait Host {
    /// The text of a file (an absolute path), for `.`/`source`.
    fn read(&self, path: &str) -> Option<String>;
    /// Pathname expansion of an absolute pattern, sorted; empty when nothing matches.
    fn glob(&self, pattern: &str) -> Vec<String>;
    /// Regular files whose absolute path matches `f` (holes match any characters).
    fn files_matching(&self, f: &Field) -> Vec<String>;
}

/// Which shell reads the script (decides builtins and `source` lookup).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// dash, busybox ash, POSIX sh.
    Posix,
    Bash,
}

/// How the script starts.
#[derive(Clone, Debug)]
pub struct Start {
    /// How reports name the script (a path, or `sh -c` and where the string came from).
    pub name: String,
    /// `$0`.
    pub arg0: Field,
    /// `$1`… (the positional parameters).
    pub args: Vec<Arg>,
    /// The environment the shell starts with (`NAME`, value).
    pub env: Vec<(String, String)>,
    pub cwd: Field,
    pub dialect: Dialect,
}

/// An external command the script may run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Use {
    pub argv: Vec<Arg>,
    /// The values `PATH` may have there.
    pub path: Vec<Field>,
    /// The directories the shell may be in.
    pub cwd: Vec<Field>,
    /// Run with `exec` (replaces the shell).
    pub exec: bool,
    /// `script:line`.
    pub at: String,
    /// The command as written.
    pub text: String,
}

/// What reading a script found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub uses: Vec<Use>,
    /// Places where the reader cannot tell which command runs: any command may.
    pub unknown: Vec<String>,
    /// Files read with `.`/`source`.
    pub sourced: Vec<String>,
    /// Shared objects loaded with bash's `enable -f FILE`.
    pub loads: Vec<Field>,
}

/// Reads a script and reports the commands it may run.
pub fn analyse(text: &str, start: &Start, host: &dyn Host) -> Report {
    let mut it = Interp {
        host,
        dialect: start.dialect,
        report: Report::default(),
        seen: HashSet::new(),
        budget: 400_000,
        funcs: Vec::new(),
        calls: Vec::new(),
        recursed: HashSet::new(),
        sources: vec![start.name.clone()],
        exhausted: false,
        unknown_more: 0,
    };
    let mut env: BTreeMap<String, Val> = start
        .env
        .iter()
        .map(|(k, v)| (k.clone(), Val::lit(v)))
        .collect();
    env.entry("IFS".into()).or_insert_with(|| Val::lit(" \t\n"));
    let mut st = State {
        vars: BTreeMap::new(),
        env: std::rc::Rc::new(env),
        positional: Val::list(start.args.clone()),
        arg0: start.arg0.clone(),
        funcs: BTreeMap::new(),
        cwd: BTreeSet::from([start.cwd.clone()]),
    };
    // The parser and the reader recurse once per nested construct: a hostile script nested
    // tens of thousands deep would overflow the thread's stack (an abort, not an error). They
    // run on a stack of their own, large enough for the nesting `parse` accepts.
    stacker::grow(SCRIPT_STACK, || it.run_text(&mut st, text, &start.name));
    if it.unknown_more > 0 {
        let more = format!(
            "{}: and {} more places where the command is not known",
            start.name, it.unknown_more
        );
        it.report.unknown.push(more);
    }
    it.report
}

/// Stack for reading one script: far more than [`MAX_OPENINGS`] nested constructs need
/// (about 4 KiB each in the parser). Only what is used is ever touched.
const SCRIPT_STACK: usize = 512 << 20;

/// Constructs that can nest in one text (brackets, braces, backquotes, compound-command
/// keywords), at most: their count bounds the nesting depth whatever the text does to hide
/// it. Real scripts have a few hundred (apt-key 429, the largest seen 8468 in a test suite).
const MAX_OPENINGS: usize = 20_000;

/// Command substitutions (and sourced files, `eval`s) within each other, at most: each level is
/// parsed again from its text, so the work grows with the square of the depth.
const MAX_DEPTH: usize = 32;

/// At most `n` characters of `text`, for messages.
fn excerpt(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// How many constructs that can nest `text` opens (an upper bound of its nesting depth).
fn openings(text: &str) -> usize {
    let marks = text
        .bytes()
        .filter(|b| matches!(b, b'(' | b'{' | b'`' | b'['))
        .count();
    let keywords = text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| matches!(*w, "if" | "while" | "until" | "for" | "case" | "select"))
        .count();
    marks + keywords
}

/// Parses a script; the error text when it cannot be parsed (or is nested too much to parse
/// safely).
pub fn parse(text: &str) -> Result<ast::Program, String> {
    let n = openings(text);
    if n > MAX_OPENINGS {
        return Err(format!(
            "{n} brackets and compound commands, more than the {MAX_OPENINGS} read safely"
        ));
    }
    let opts = brush_parser::ParserOptions::default();
    let mut p = brush_parser::Parser::new(std::io::BufReader::new(text.as_bytes()), &opts);
    p.parse_program().map_err(|e| e.to_string())
}

/// Shell builtins that never run an external program (both dash's and bash's).
const BUILTINS: &[&str] = &[
    ":",
    "[",
    "alias",
    "bg",
    "break",
    "cd",
    "continue",
    "echo",
    "exit",
    "false",
    "fc",
    "fg",
    "getopts",
    "hash",
    "jobs",
    "kill",
    "local",
    "printf",
    "pwd",
    "read",
    "readonly",
    "return",
    "set",
    "shift",
    "test",
    "times",
    "true",
    "type",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "wait",
    "export",
    "bind",
    "caller",
    "compgen",
    "complete",
    "compopt",
    "declare",
    "dirs",
    "disown",
    "help",
    "history",
    "let",
    "logout",
    "mapfile",
    "popd",
    "pushd",
    "readarray",
    "shopt",
    "suspend",
    "typeset",
    "enable",
];

#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    /// Variables the script has set (over `env`).
    vars: BTreeMap<String, Val>,
    /// The environment the script starts with, shared by every copy of the state: an image's
    /// config may set hundreds of thousands of variables, and the state is copied at each
    /// branch, subshell and command substitution.
    env: std::rc::Rc<BTreeMap<String, Val>>,
    positional: Val,
    arg0: Field,
    /// Function name → definitions (indexes into `Interp::funcs`).
    funcs: BTreeMap<String, BTreeSet<usize>>,
    cwd: BTreeSet<Field>,
}

impl State {
    /// The state after either `self` or `other` ran.
    fn join(&mut self, other: &State) {
        let keys: BTreeSet<String> = self.vars.keys().chain(other.vars.keys()).cloned().collect();
        for k in keys {
            let a = self.var(&k);
            let b = other.var(&k);
            let mut v = a;
            v.union(&b);
            self.vars.insert(k, v);
        }
        self.positional.union(&other.positional);
        if self.arg0 != other.arg0 {
            self.arg0 = Field::any();
        }
        for (k, v) in &other.funcs {
            self.funcs
                .entry(k.clone())
                .or_default()
                .extend(v.iter().copied());
        }
        self.cwd.extend(other.cwd.iter().cloned());
        if self.cwd.len() > crate::field::MAX_ALTERNATIVES {
            self.cwd = BTreeSet::from([Field::any()]);
        }
    }

    fn var(&self, name: &str) -> Val {
        self.lookup(name).cloned().unwrap_or_else(Val::any)
    }

    /// The value the script gave the variable, else the environment's.
    fn lookup(&self, name: &str) -> Option<&Val> {
        self.vars.get(name).or_else(|| self.env.get(name))
    }
}

/// A piece of a word after expansion: fields, and whether its ends join the neighbours.
#[derive(Clone, Debug)]
struct Frag {
    fields: Vec<(Arg, bool)>,
    join_left: bool,
    join_right: bool,
}

impl Frag {
    fn text(f: Field, glob: bool) -> Frag {
        Frag {
            fields: vec![(Arg::Field(f), glob)],
            join_left: true,
            join_right: true,
        }
    }
}

/// Fields of a word being built (one alternative).
#[derive(Clone, Debug, Default)]
struct Acc {
    fields: Vec<(Arg, bool)>,
    open: bool,
}

impl Acc {
    fn push(&mut self, frag: &Frag) {
        if frag.fields.is_empty() {
            return;
        }
        let mut rest = &frag.fields[..];
        if self.open && frag.join_left {
            if let Some((last, g)) = self.fields.last_mut() {
                let (first, fg) = &rest[0];
                *last = match (&*last, first) {
                    (Arg::Field(a), Arg::Field(b)) => {
                        let mut a = a.clone();
                        a.append(b);
                        Arg::Field(a)
                    }
                    _ => Arg::Splat,
                };
                *g |= *fg;
                rest = &rest[1..];
            }
        }
        self.fields.extend(rest.iter().cloned());
        self.open = frag.join_right;
    }
}

/// The most alternatives a word or a command line keeps.
const MAX_WORD_ALTS: usize = 64;

struct Interp<'h> {
    host: &'h dyn Host,
    dialect: Dialect,
    report: Report,
    seen: HashSet<Use>,
    budget: usize,
    funcs: Vec<(ast::FunctionBody, String)>,
    /// Functions being run (recursion guard).
    calls: Vec<String>,
    /// Functions already run once with unknown arguments (for recursive calls).
    recursed: HashSet<String>,
    /// Script names being read (for locations).
    sources: Vec<String>,
    exhausted: bool,
    /// Places past the first [`MAX_UNKNOWN`] where the command is not known.
    unknown_more: usize,
}

/// Places where the command is not known, listed at most (each makes every command possible).
const MAX_UNKNOWN: usize = 32;

impl<'h> Interp<'h> {
    fn here(&self, loc: Option<&brush_parser::SourceSpan>) -> String {
        let name = self.sources.last().cloned().unwrap_or_default();
        match loc {
            Some(l) => format!("{name}:{}", l.start.line),
            None => name,
        }
    }

    fn unknown(&mut self, what: String) {
        // One is enough to make every command possible; a few name the places, the rest are
        // counted (a script with a hundred thousand of them made this list quadratic).
        if self.report.unknown.contains(&what) {
            return;
        }
        if self.report.unknown.len() < MAX_UNKNOWN {
            self.report.unknown.push(what);
        } else {
            self.unknown_more += 1;
        }
    }

    fn tick(&mut self) -> bool {
        if self.budget == 0 {
            if !self.exhausted {
                self.exhausted = true;
                let at = self.here(None);
                self.unknown(format!(
                    "{at}: the script is too large or loops too much to follow to the end"
                ));
            }
            return false;
        }
        self.budget -= 1;
        true
    }

    fn run_text(&mut self, st: &mut State, text: &str, name: &str) {
        if let Err(e) = self.read_text(st, text, name) {
            self.unknown(format!("{name}: cannot parse the script ({e})"));
        }
    }

    /// Reads `text` (a script, a sourced file, an `eval` string, a command substitution) as
    /// `name`, unless texts are already nested [`MAX_DEPTH`] deep (reported); the parse error
    /// when it cannot be parsed.
    fn read_text(&mut self, st: &mut State, text: &str, name: &str) -> Result<(), String> {
        if self.sources.len() >= MAX_DEPTH {
            self.unknown(format!(
                "{name}: scripts, sourced files and command substitutions nested more than {MAX_DEPTH} deep"
            ));
            return Ok(());
        }
        let prog = parse(text)?;
        self.sources.push(name.to_string());
        for cc in &prog.complete_commands {
            self.compound_list(st, cc);
        }
        self.sources.pop();
        Ok(())
    }

    fn compound_list(&mut self, st: &mut State, list: &ast::CompoundList) {
        for item in &list.0 {
            match item.1 {
                ast::SeparatorOperator::Async => {
                    let mut sub = st.clone();
                    self.and_or(&mut sub, &item.0);
                }
                ast::SeparatorOperator::Sequence => self.and_or(st, &item.0),
            }
        }
    }

    fn and_or(&mut self, st: &mut State, list: &ast::AndOrList) {
        self.pipeline(st, &list.first);
        for next in &list.additional {
            let p = match next {
                ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
            };
            let before = st.clone();
            self.pipeline(st, p);
            st.join(&before);
        }
    }

    fn pipeline(&mut self, st: &mut State, p: &ast::Pipeline) {
        if p.seq.len() == 1 {
            self.command(st, &p.seq[0]);
        } else {
            for c in &p.seq {
                let mut sub = st.clone();
                self.command(&mut sub, c);
            }
        }
    }

    fn command(&mut self, st: &mut State, c: &ast::Command) {
        if !self.tick() {
            return;
        }
        match c {
            ast::Command::Simple(s) => self.simple(st, s),
            ast::Command::Compound(cc, redirects) => {
                if let Some(r) = redirects {
                    for r in &r.0 {
                        self.redirect(st, r);
                    }
                }
                self.compound(st, cc);
            }
            ast::Command::Function(f) => {
                let idx = self.funcs.len();
                self.funcs
                    .push((f.body.clone(), self.here(f.fname.loc.as_ref())));
                st.funcs
                    .insert(f.fname.value.clone(), BTreeSet::from([idx]));
            }
            ast::Command::ExtendedTest(t, redirects) => {
                if let Some(r) = redirects {
                    for r in &r.0 {
                        self.redirect(st, r);
                    }
                }
                self.extended_test(st, &t.expr);
            }
        }
    }

    fn extended_test(&mut self, st: &mut State, e: &ast::ExtendedTestExpr) {
        match e {
            ast::ExtendedTestExpr::And(a, b) | ast::ExtendedTestExpr::Or(a, b) => {
                self.extended_test(st, a);
                self.extended_test(st, b);
            }
            ast::ExtendedTestExpr::Not(a) | ast::ExtendedTestExpr::Parenthesized(a) => {
                self.extended_test(st, a)
            }
            ast::ExtendedTestExpr::UnaryTest(_, w) => {
                self.expand(st, &w.value, false);
            }
            ast::ExtendedTestExpr::BinaryTest(_, a, b) => {
                self.expand(st, &a.value, false);
                self.expand(st, &b.value, false);
            }
        }
    }

    fn compound(&mut self, st: &mut State, cc: &ast::CompoundCommand) {
        match cc {
            ast::CompoundCommand::Arithmetic(a) => self.arith_text(st, &a.expr.value),
            ast::CompoundCommand::ArithmeticForClause(f) => {
                for e in [&f.initializer, &f.condition, &f.updater]
                    .into_iter()
                    .flatten()
                {
                    self.arith_text(st, &e.value);
                }
                self.run_loop(st, |it, s| it.compound_list(s, &f.body.list));
            }
            ast::CompoundCommand::BraceGroup(b) => self.compound_list(st, &b.list),
            ast::CompoundCommand::Subshell(s) => {
                let mut sub = st.clone();
                self.compound_list(&mut sub, &s.list);
            }
            ast::CompoundCommand::ForClause(f) => {
                let values: Vec<Field> = match &f.values {
                    Some(words) => {
                        let mut out = BTreeSet::new();
                        for w in words {
                            for alt in self.expand(st, &w.value, true) {
                                for a in alt {
                                    out.insert(match a {
                                        Arg::Field(f) => f,
                                        Arg::Splat => Field::any(),
                                    });
                                }
                            }
                        }
                        out.into_iter().collect()
                    }
                    None => st.positional.elements(),
                };
                let mut v = Val::from_alternatives(Vec::<Vec<Arg>>::new());
                for f in values {
                    v.union(&Val::scalar(f));
                }
                if v.is_empty() {
                    return;
                }
                let name = f.variable_name.clone();
                self.run_loop(st, |it, s| {
                    s.vars.insert(name.clone(), v.clone());
                    it.compound_list(s, &f.body.list);
                });
            }
            ast::CompoundCommand::CaseClause(c) => {
                self.expand(st, &c.value.value, false);
                let before = st.clone();
                let mut out = st.clone();
                for item in &c.cases {
                    let mut s = before.clone();
                    for p in &item.patterns {
                        self.expand(&mut s, &p.value, false);
                    }
                    if let Some(cmd) = &item.cmd {
                        self.compound_list(&mut s, cmd);
                    }
                    out.join(&s);
                }
                *st = out;
            }
            ast::CompoundCommand::IfClause(i) => {
                self.compound_list(st, &i.condition);
                let after_cond = st.clone();
                let mut out = after_cond.clone();
                self.compound_list(&mut out, &i.then);
                let mut has_else = false;
                let mut cur = after_cond;
                for e in i.elses.iter().flatten() {
                    let mut s = cur.clone();
                    match &e.condition {
                        Some(cond) => {
                            self.compound_list(&mut s, cond);
                            cur = s.clone();
                            self.compound_list(&mut s, &e.body);
                        }
                        None => {
                            has_else = true;
                            self.compound_list(&mut s, &e.body);
                        }
                    }
                    out.join(&s);
                }
                if !has_else {
                    out.join(&cur);
                }
                *st = out;
            }
            ast::CompoundCommand::WhileClause(w) | ast::CompoundCommand::UntilClause(w) => {
                self.compound_list(st, &w.0);
                self.run_loop(st, |it, s| {
                    it.compound_list(s, &w.1.list);
                    it.compound_list(s, &w.0);
                });
            }
            ast::CompoundCommand::Coprocess(c) => {
                let mut sub = st.clone();
                self.command(&mut sub, &c.body);
            }
        }
    }

    /// Runs a loop body until the state stops changing; what still changes after a few rounds
    /// becomes unknown, and the body runs once more with that.
    fn run_loop(&mut self, st: &mut State, mut body: impl FnMut(&mut Self, &mut State)) {
        for round in 0..4 {
            let before = st.clone();
            let mut s = st.clone();
            body(self, &mut s);
            st.join(&s);
            if *st == before || self.exhausted {
                return;
            }
            if round == 3 {
                let changed: Vec<String> = st
                    .vars
                    .iter()
                    .filter(|(k, v)| before.lookup(k) != Some(*v))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in changed {
                    let list = st.vars[&k].alternatives().any(|a| a.len() != 1);
                    st.vars
                        .insert(k, if list { Val::any_list() } else { Val::any() });
                }
                if st.positional != before.positional {
                    st.positional = Val::any_list();
                }
                let mut s = st.clone();
                body(self, &mut s);
                st.join(&s);
            }
        }
    }

    fn arith_text(&mut self, st: &mut State, text: &str) {
        // Command substitutions inside an arithmetic expression still run.
        if text.contains("$(") || text.contains('`') {
            self.expand(st, &format!("\"{}\"", text.replace('"', "\\\"")), false);
        }
        // Assignments in arithmetic (`x=1`, `x++`) make the variable unknown.
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' {
                let s = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let name = &text[s..i];
                let rest = text[i..].trim_start();
                let assigns = (rest.starts_with('=') && !rest.starts_with("=="))
                    || [
                        "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^=", "++", "--",
                    ]
                    .iter()
                    .any(|op| rest.starts_with(op))
                    || text[..s].trim_end().ends_with("++")
                    || text[..s].trim_end().ends_with("--");
                if assigns {
                    st.vars.insert(name.to_string(), Val::any());
                }
            } else {
                i += 1;
            }
        }
    }

    fn redirect(&mut self, st: &mut State, r: &ast::IoRedirect) {
        match r {
            ast::IoRedirect::File(_, _, target) => match target {
                ast::IoFileRedirectTarget::Filename(w)
                | ast::IoFileRedirectTarget::Duplicate(w) => {
                    self.expand(st, &w.value, false);
                }
                ast::IoFileRedirectTarget::Fd(_) => {}
                ast::IoFileRedirectTarget::ProcessSubstitution(_, sub) => {
                    let mut s = st.clone();
                    self.compound_list(&mut s, &sub.list);
                }
            },
            ast::IoRedirect::HereDocument(_, doc) => {
                if doc.requires_expansion {
                    self.expand_pieces_text(st, &doc.doc.value, true);
                }
            }
            ast::IoRedirect::HereString(_, w) => {
                self.expand(st, &w.value, false);
            }
            ast::IoRedirect::OutputAndError(w, _) => {
                self.expand(st, &w.value, false);
            }
        }
    }

    /// A here-document body: only its command substitutions matter.
    fn expand_pieces_text(&mut self, st: &mut State, text: &str, heredoc: bool) {
        let opts = brush_parser::ParserOptions::default();
        let pieces = if heredoc {
            brush_parser::word::parse_heredoc(text, &opts)
        } else {
            brush_parser::word::parse(text, &opts)
        };
        match pieces {
            Ok(p) => {
                self.pieces(st, &p, true);
            }
            Err(_) => {
                if text.contains("$(") || text.contains('`') {
                    let at = self.here(None);
                    self.unknown(format!(
                        "{at}: cannot read a here-document with command substitutions"
                    ));
                }
            }
        }
    }

    // ---- expansion ----

    /// Expands a word. `split`: an unquoted context with field splitting and pathname
    /// expansion (command arguments); otherwise one field (assignments, redirections, case).
    fn expand(&mut self, st: &mut State, word: &str, split: bool) -> Vec<Vec<Arg>> {
        let opts = brush_parser::ParserOptions::default();
        let pieces = match brush_parser::word::parse(word, &opts) {
            Ok(p) => p,
            Err(_) => {
                let at = self.here(None);
                if word.contains("$(") || word.contains('`') {
                    self.unknown(format!("{at}: cannot read the word {word:?}"));
                }
                return vec![vec![if split {
                    Arg::Splat
                } else {
                    Arg::Field(Field::any())
                }]];
            }
        };
        let alts = self.pieces_split(st, &pieces, !split, split);
        let mut out: Vec<Vec<Arg>> = Vec::new();
        for acc in alts {
            let mut fields: Vec<Arg> = Vec::new();
            for (a, glob) in acc.fields {
                match (&a, glob && split) {
                    (Arg::Field(f), true) if f.as_lit().is_some_and(has_glob_chars) => {
                        fields.extend(self.pathname_expand(st, f.as_lit().unwrap_or_default()));
                    }
                    _ => fields.push(a),
                }
            }
            if !split && fields.is_empty() {
                fields.push(Arg::Field(Field::empty()));
            }
            if !split && fields.len() > 1 {
                // One field: join them with spaces.
                let mut f = Field::empty();
                for (i, a) in fields.iter().enumerate() {
                    if i > 0 {
                        f.push_lit(" ");
                    }
                    match a {
                        Arg::Field(x) => f.append(x),
                        Arg::Splat => f.push_any(),
                    }
                }
                fields = vec![Arg::Field(f)];
            }
            if !out.contains(&fields) {
                out.push(fields);
            }
        }
        if out.len() > MAX_WORD_ALTS {
            return vec![vec![if split {
                Arg::Splat
            } else {
                Arg::Field(Field::any())
            }]];
        }
        out
    }

    fn pathname_expand(&mut self, st: &State, pattern: &str) -> Vec<Arg> {
        if pattern.starts_with('/') {
            let m = self.host.glob(pattern);
            return if m.is_empty() {
                vec![Arg::lit(pattern)]
            } else {
                m.iter().map(|s| Arg::lit(s)).collect()
            };
        }
        if st.cwd.len() != 1 {
            return vec![Arg::Splat];
        }
        let Some(cwd) = st
            .cwd
            .iter()
            .next()
            .and_then(|c| c.as_lit().map(str::to_string))
        else {
            return vec![Arg::Splat];
        };
        let base = cwd.trim_end_matches('/').to_string();
        let m = self.host.glob(&format!("{base}/{pattern}"));
        if m.is_empty() {
            return vec![Arg::lit(pattern)];
        }
        m.iter()
            .map(|s| Arg::lit(s.strip_prefix(&format!("{base}/")).unwrap_or(s)))
            .collect()
    }

    /// Expands word pieces into alternatives of fields.
    fn pieces_split(
        &mut self,
        st: &mut State,
        pieces: &[WordPieceWithSource],
        quoted: bool,
        split: bool,
    ) -> Vec<Acc> {
        let mut alts = vec![Acc::default()];
        for p in pieces {
            let frags = self.piece(st, &p.piece, quoted, split);
            let mut next = Vec::new();
            for a in &alts {
                for f in &frags {
                    let mut a = a.clone();
                    a.push(f);
                    next.push(a);
                }
            }
            if next.len() > MAX_WORD_ALTS {
                let mut a = Acc::default();
                a.push(&Frag {
                    fields: vec![(
                        if split {
                            Arg::Splat
                        } else {
                            Arg::Field(Field::any())
                        },
                        false,
                    )],
                    join_left: true,
                    join_right: true,
                });
                next = vec![a];
            }
            alts = next;
        }
        alts
    }

    /// Only the side effects of pieces (command substitutions).
    fn pieces(&mut self, st: &mut State, pieces: &[WordPieceWithSource], quoted: bool) {
        for p in pieces {
            self.piece(st, &p.piece, quoted, false);
        }
    }

    fn piece(&mut self, st: &mut State, p: &WordPiece, quoted: bool, split: bool) -> Vec<Frag> {
        match p {
            WordPiece::Text(s) => vec![Frag::text(Field::lit(s), !quoted)],
            WordPiece::SingleQuotedText(s) | WordPiece::AnsiCQuotedText(s) => {
                vec![Frag::text(Field::lit(s), false)]
            }
            WordPiece::EscapeSequence(s) => {
                let t = s.strip_prefix('\\').unwrap_or(s);
                let t = if t == "\n" { "" } else { t };
                vec![Frag::text(Field::lit(t), false)]
            }
            WordPiece::DoubleQuotedSequence(inner)
            | WordPiece::GettextDoubleQuotedSequence(inner) => {
                let alts = self.pieces_split(st, inner, true, split);
                let mut out: Vec<Frag> = alts
                    .into_iter()
                    .map(|a| Frag {
                        fields: if a.fields.is_empty() {
                            // "" and "$@" with no parameters: "" is one empty field.
                            vec![(Arg::Field(Field::empty()), false)]
                        } else {
                            a.fields.into_iter().map(|(f, _)| (f, false)).collect()
                        },
                        join_left: true,
                        join_right: true,
                    })
                    .collect();
                out.dedup_by(|a, b| a.fields == b.fields);
                out
            }
            WordPiece::TildeExpansion(t) => {
                let v = match t {
                    TildeExpr::Home => st.var("HOME").scalars(),
                    TildeExpr::WorkingDir => st.var("PWD").scalars(),
                    _ => vec![Field::any()],
                };
                v.into_iter().map(|f| Frag::text(f, false)).collect()
            }
            WordPiece::ParameterExpansion(e) => self.param_expr(st, e, quoted),
            WordPiece::CommandSubstitution(s) | WordPiece::BackquotedCommandSubstitution(s) => {
                let text = if matches!(p, WordPiece::BackquotedCommandSubstitution(_)) {
                    unbackquote(s)
                } else {
                    s.clone()
                };
                let mut sub = st.clone();
                // Nested substitutions keep one suffix: the name stays short however deep.
                let here = self.here(None);
                let name = if here.ends_with(" (command substitution)") {
                    here
                } else {
                    format!("{here} (command substitution)")
                };
                if let Err(e) = self.read_text(&mut sub, &text, &name) {
                    self.unknown(format!(
                        "{name}: cannot parse {:?} ({e})",
                        excerpt(&text, 200)
                    ));
                }
                vec![unknown_frag(quoted)]
            }
            WordPiece::ArithmeticExpression(a) => {
                self.arith_text(st, &a.value);
                vec![Frag::text(Field::any(), false)]
            }
        }
    }

    fn param_expr(&mut self, st: &mut State, e: &ParameterExpr, quoted: bool) -> Vec<Frag> {
        let value =
            |it: &mut Self, st: &mut State, p: &Parameter, indirect: bool| -> (Val, bool, bool) {
                if indirect {
                    return (Val::any(), false, false);
                }
                it.param(st, p)
            };
        let frags_of = |val: &Val, all: bool, concat: bool| -> Vec<Frag> {
            val_frags(val, all, concat, quoted)
        };
        match e {
            ParameterExpr::Parameter {
                parameter,
                indirect,
            }
            | ParameterExpr::IndicateErrorIfNullOrUnset {
                parameter,
                indirect,
                ..
            } => {
                let (v, all, concat) = value(self, st, parameter, *indirect);
                frags_of(&v, all, concat)
            }
            ParameterExpr::UseDefaultValues {
                parameter,
                indirect,
                default_value,
                ..
            }
            | ParameterExpr::AssignDefaultValues {
                parameter,
                indirect,
                default_value,
                ..
            } => {
                let (v, all, concat) = value(self, st, parameter, *indirect);
                // `${x-d}` and `${x:-d}` alike: the default may be used unless every value is
                // known and non-empty.
                let may_be_empty = v.may_be_empty();
                let mut out = frags_of(&v, all, concat);
                if may_be_empty {
                    let d = default_value.clone().unwrap_or_default();
                    let dv = self.expand_value(st, &d);
                    if let ParameterExpr::AssignDefaultValues {
                        parameter: Parameter::Named(n),
                        ..
                    } = e
                    {
                        let mut nv = v.clone();
                        nv.union(&dv);
                        st.vars.insert(n.clone(), nv);
                    }
                    out.extend(val_frags(&dv, false, false, quoted));
                }
                out
            }
            ParameterExpr::UseAlternativeValue {
                parameter,
                indirect,
                alternative_value,
                ..
            } => {
                let (v, _, _) = value(self, st, parameter, *indirect);
                let may_be_empty = v.may_be_empty();
                let may_be_set = v.scalars().iter().any(|f| f.as_lit() != Some(""));
                let mut out = Vec::new();
                if may_be_empty {
                    out.push(Frag {
                        fields: if quoted {
                            vec![(Arg::Field(Field::empty()), false)]
                        } else {
                            vec![]
                        },
                        join_left: true,
                        join_right: true,
                    });
                }
                if may_be_set {
                    let a = alternative_value.clone().unwrap_or_default();
                    let av = self.expand_value(st, &a);
                    out.extend(val_frags(&av, false, false, quoted));
                }
                out
            }
            ParameterExpr::RemoveSmallestSuffixPattern {
                parameter,
                indirect,
                pattern,
            }
            | ParameterExpr::RemoveLargestSuffixPattern {
                parameter,
                indirect,
                pattern,
            }
            | ParameterExpr::RemoveSmallestPrefixPattern {
                parameter,
                indirect,
                pattern,
            }
            | ParameterExpr::RemoveLargestPrefixPattern {
                parameter,
                indirect,
                pattern,
            } => {
                let (v, _, _) = value(self, st, parameter, *indirect);
                let pat = pattern.clone().unwrap_or_default();
                let pv = self.expand_value(st, &pat).scalars();
                let mut out = Vec::new();
                for f in v.scalars() {
                    let (Some(s), [p]) = (f.as_lit(), pv.as_slice()) else {
                        out.push(unknown_frag(quoted));
                        continue;
                    };
                    let Some(p) = p.as_lit() else {
                        out.push(unknown_frag(quoted));
                        continue;
                    };
                    let r = match e {
                        ParameterExpr::RemoveSmallestSuffixPattern { .. } => {
                            remove_suffix(s, p, false)
                        }
                        ParameterExpr::RemoveLargestSuffixPattern { .. } => {
                            remove_suffix(s, p, true)
                        }
                        ParameterExpr::RemoveSmallestPrefixPattern { .. } => {
                            remove_prefix(s, p, false)
                        }
                        _ => remove_prefix(s, p, true),
                    };
                    out.extend(val_frags(&Val::lit(&r), false, false, quoted));
                }
                out
            }
            _ => {
                // Lengths, substrings, case and pattern changes, transforms: unknown text.
                vec![unknown_frag(quoted)]
            }
        }
    }

    /// A word in a position without field splitting, as a value.
    fn expand_value(&mut self, st: &mut State, word: &str) -> Val {
        let alts = self.expand(st, word, false);
        Val::from_alternatives(alts)
    }

    /// The value of a parameter, whether all its elements are meant (`$@`, `${a[@]}`), and
    /// whether they are joined into one (`$*`).
    fn param(&mut self, st: &mut State, p: &Parameter) -> (Val, bool, bool) {
        match p {
            Parameter::Positional(0) => (Val::scalar(st.arg0.clone()), false, false),
            Parameter::Positional(n) => {
                let n = *n as usize;
                let mut alts = Vec::new();
                for alt in st.positional.alternatives() {
                    alts.push(vec![nth_arg(alt, n - 1)]);
                }
                (Val::from_alternatives(alts), false, false)
            }
            Parameter::Special(SpecialParameter::AllPositionalParameters { concatenate }) => {
                (st.positional.clone(), true, *concatenate)
            }
            Parameter::Special(SpecialParameter::ShellName) => {
                (Val::scalar(st.arg0.clone()), false, false)
            }
            Parameter::Special(_) => (Val::scalar(Field::any()), false, false),
            Parameter::Named(n) => (st.var(n), false, false),
            Parameter::NamedWithIndex { name, index } => {
                let v = st.var(name);
                match index.trim().parse::<usize>() {
                    Ok(i) => {
                        let alts: Vec<Vec<Arg>> =
                            v.alternatives().map(|a| vec![nth_arg(a, i)]).collect();
                        (Val::from_alternatives(alts), false, false)
                    }
                    Err(_) => {
                        let mut out = Val::from_alternatives(Vec::<Vec<Arg>>::new());
                        for f in v.elements() {
                            out.union(&Val::scalar(f));
                        }
                        out.union(&Val::empty());
                        (out, false, false)
                    }
                }
            }
            Parameter::NamedWithAllIndices { name, concatenate } => {
                (st.var(name), true, *concatenate)
            }
        }
    }

    // ---- commands ----

    fn simple(&mut self, st: &mut State, c: &ast::SimpleCommand) {
        let mut assigns: Vec<&ast::Assignment> = Vec::new();
        let mut words: Vec<&ast::Word> = Vec::new();
        let mut suffix_assigns: Vec<(&ast::Assignment, &ast::Word)> = Vec::new();
        for item in c.prefix.iter().flat_map(|p| p.0.iter()) {
            match item {
                ast::CommandPrefixOrSuffixItem::AssignmentWord(a, _) => assigns.push(a),
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => self.redirect(st, r),
                ast::CommandPrefixOrSuffixItem::Word(w) => words.push(w),
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(_, sub) => {
                    let mut s = st.clone();
                    self.compound_list(&mut s, &sub.list);
                }
            }
        }
        if let Some(w) = &c.word_or_name {
            words.push(w);
        }
        let mut suffix_words: Vec<&ast::Word> = Vec::new();
        for item in c.suffix.iter().flat_map(|p| p.0.iter()) {
            match item {
                ast::CommandPrefixOrSuffixItem::AssignmentWord(a, w) => {
                    suffix_assigns.push((a, w));
                    suffix_words.push(w);
                }
                ast::CommandPrefixOrSuffixItem::IoRedirect(r) => self.redirect(st, r),
                ast::CommandPrefixOrSuffixItem::Word(w) => suffix_words.push(w),
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(_, sub) => {
                    let mut s = st.clone();
                    self.compound_list(&mut s, &sub.list);
                }
            }
        }
        let loc = c.word_or_name.as_ref().and_then(|w| w.loc.clone());
        let at = self.here(loc.as_ref());
        let text: String = {
            let t = c.to_string();
            let t = t.lines().next().unwrap_or("").to_string();
            if t.chars().count() > 120 {
                format!("{}…", t.chars().take(120).collect::<String>())
            } else {
                t
            }
        };
        // Assignments without a command set shell variables; with one, only its environment
        // (but `PATH=… cmd` decides where `cmd` is looked up).
        if words.is_empty() {
            for a in &assigns {
                self.assign(st, a);
            }
            return;
        }
        let mut cmd_state = st.clone();
        for a in &assigns {
            self.assign(&mut cmd_state, a);
        }
        // Declaration builtins: their assignment arguments set variables.
        let name_word = &words[0].value;
        if matches!(
            name_word.as_str(),
            "export" | "local" | "declare" | "typeset" | "readonly"
        ) && suffix_assigns.len()
            == suffix_words
                .iter()
                .filter(|w| w.value.contains('='))
                .count()
        {
            for (a, _) in &suffix_assigns {
                self.assign(st, a);
            }
            for w in &suffix_words {
                if !w.value.starts_with('-') && !w.value.contains('=') && name_word == "local" {
                    let n = w.value.clone();
                    if is_name(&n) {
                        st.vars.insert(n, Val::empty());
                    }
                }
            }
            if name_word == "local" {
                // handled by the caller's frame restore
            }
            return;
        }
        let mut all_words: Vec<&ast::Word> = words.clone();
        all_words.extend(suffix_words.iter().copied());
        let argvs = self.expand_command(st, &all_words);
        let path = cmd_state.var("PATH");
        for argv in argvs {
            self.run_argv(st, &argv, &path, false, false, &at, &text);
        }
    }

    /// Expands the words of a command line into argument-vector alternatives.
    fn expand_command(&mut self, st: &mut State, words: &[&ast::Word]) -> Vec<Vec<Arg>> {
        let mut alts: Vec<Vec<Arg>> = vec![Vec::new()];
        for (i, w) in words.iter().enumerate() {
            let ws = self.expand(st, &w.value, true);
            let mut next = Vec::new();
            for a in &alts {
                for x in &ws {
                    let mut a = a.clone();
                    a.extend(x.iter().cloned());
                    next.push(a);
                }
            }
            if next.len() > MAX_WORD_ALTS {
                // Keep the command names, forget the arguments.
                let mut firsts: BTreeSet<Vec<Arg>> = BTreeSet::new();
                for a in &next {
                    let mut v: Vec<Arg> = a.iter().take(1).cloned().collect();
                    if i > 0 {
                        v.push(Arg::Splat);
                    }
                    firsts.insert(v);
                }
                next = firsts.into_iter().collect();
                if next.len() > MAX_WORD_ALTS {
                    next = vec![vec![Arg::Splat]];
                }
            }
            alts = next;
        }
        alts.sort();
        alts.dedup();
        alts
    }

    fn assign(&mut self, st: &mut State, a: &ast::Assignment) {
        let name = match &a.name {
            ast::AssignmentName::VariableName(n) => n.clone(),
            ast::AssignmentName::ArrayElementName(n, _) => {
                // One element changes: the array may now hold anything there.
                let mut v = st.var(n);
                v.union(&Val::any_list());
                st.vars.insert(n.clone(), v);
                return;
            }
        };
        let new = match &a.value {
            ast::AssignmentValue::Scalar(w) => self.expand_value(st, &w.value),
            ast::AssignmentValue::Array(items) => {
                let mut alts: Vec<Vec<Arg>> = vec![Vec::new()];
                for (idx, w) in items {
                    if idx.is_some() {
                        alts = vec![vec![Arg::Splat]];
                        break;
                    }
                    let ws = self.expand(st, &w.value, true);
                    let mut next = Vec::new();
                    for x in &alts {
                        for y in &ws {
                            let mut x = x.clone();
                            x.extend(y.iter().cloned());
                            next.push(x);
                        }
                    }
                    if next.len() > MAX_WORD_ALTS {
                        next = vec![vec![Arg::Splat]];
                    }
                    alts = next;
                }
                Val::from_alternatives(alts)
            }
        };
        let value = if a.append {
            let old = st.var(&name);
            let mut alts = Vec::new();
            for o in old.alternatives() {
                for n in new.alternatives() {
                    match (&a.value, o.as_slice(), n.as_slice()) {
                        (ast::AssignmentValue::Array(_), _, _) => {
                            let mut x = o.clone();
                            x.extend(n.iter().cloned());
                            alts.push(x);
                        }
                        (_, [Arg::Field(x)], [Arg::Field(y)]) => {
                            let mut x = x.clone();
                            x.append(y);
                            alts.push(vec![Arg::Field(x)]);
                        }
                        _ => alts.push(vec![Arg::Field(Field::any())]),
                    }
                }
            }
            Val::from_alternatives(alts)
        } else {
            new
        };
        st.vars.insert(name, value);
    }

    /// Runs one command line (after expansion).
    #[allow(clippy::too_many_arguments)]
    fn run_argv(
        &mut self,
        st: &mut State,
        argv: &[Arg],
        path: &Val,
        no_functions: bool,
        exec: bool,
        at: &str,
        text: &str,
    ) {
        let Some(first) = argv.first() else { return };
        let name = match first {
            Arg::Splat => {
                self.unknown(format!("{at}: the command name is not known: {text}"));
                self.record(st, argv, path, exec, at, text);
                return;
            }
            Arg::Field(f) => match f.as_lit() {
                Some(s) => s.to_string(),
                None => {
                    if f.is_any() {
                        self.unknown(format!("{at}: the command name is not known: {text}"));
                    }
                    self.record(st, argv, path, exec, at, text);
                    return;
                }
            },
        };
        let rest = &argv[1..];
        if name.is_empty() {
            return;
        }
        if !no_functions && !name.contains('/') {
            if let Some(defs) = st.funcs.get(&name).cloned() {
                self.call_function(st, &name, &defs, rest);
                return;
            }
        }
        match name.as_str() {
            "exec" => {
                let mut i = 0;
                while let Some(a) = rest.get(i) {
                    match a.as_lit() {
                        Some("-a") => i += 2,
                        Some("-c") | Some("-l") | Some("-cl") | Some("-lc") => i += 1,
                        Some("--") => {
                            i += 1;
                            break;
                        }
                        _ => break,
                    }
                }
                if i < rest.len() {
                    self.run_argv(st, &rest[i..], path, true, true, at, text);
                }
            }
            "command" => {
                let mut i = 0;
                let mut path = path.clone();
                while let Some(a) = rest.get(i) {
                    match a.as_lit() {
                        Some("-v") | Some("-V") => return,
                        Some("-p") => {
                            path = Val::lit("/usr/bin:/bin");
                            i += 1;
                        }
                        Some("--") => {
                            i += 1;
                            break;
                        }
                        Some(s) if s.starts_with('-') && s.len() > 1 => {
                            if s.contains('v') || s.contains('V') {
                                return;
                            }
                            i += 1;
                        }
                        Some(_) => break,
                        None => {
                            // `command $x`: could be `-v` (a lookup) or a command.
                            break;
                        }
                    }
                }
                if i < rest.len() {
                    self.run_argv(st, &rest[i..], &path, true, exec, at, text);
                }
            }
            "builtin" => {
                if let Some(Arg::Field(f)) = rest.first() {
                    if let Some(b) = f.as_lit() {
                        if BUILTINS.contains(&b) || matches!(b, "eval" | "." | "source" | "trap") {
                            self.run_argv(st, rest, path, true, exec, at, text);
                        }
                    }
                }
            }
            "eval" => {
                let mut s = Field::empty();
                let mut known = true;
                for (i, a) in rest.iter().enumerate() {
                    if i > 0 {
                        s.push_lit(" ");
                    }
                    match a {
                        Arg::Field(f) => s.append(f),
                        Arg::Splat => known = false,
                    }
                }
                match (known, s.as_lit()) {
                    (true, Some(t)) => {
                        let t = t.to_string();
                        self.run_text(st, &t, &format!("{at} (eval)"));
                    }
                    _ => self.unknown(format!("{at}: eval of a string that is not known: {text}")),
                }
            }
            "." | "source" => self.source(st, rest, path, at, text),
            "trap" => {
                if let Some(action) = rest.first() {
                    match action.as_lit() {
                        Some("-") | Some("") => {}
                        Some(s) if s.starts_with('-') => {}
                        Some(s) if rest.len() >= 2 || !s.chars().all(|c| c.is_ascii_digit()) => {
                            let s = s.to_string();
                            let mut sub = st.clone();
                            self.run_text(&mut sub, &s, &format!("{at} (trap)"));
                        }
                        Some(_) => {}
                        None => self.unknown(format!(
                            "{at}: trap with an action that is not known: {text}"
                        )),
                    }
                }
            }
            "enable" => {
                let mut i = 0;
                while let Some(a) = rest.get(i) {
                    if a.as_lit() == Some("-f") {
                        if let Some(Arg::Field(f)) = rest.get(i + 1) {
                            self.report.loads.push(f.clone());
                        } else {
                            self.report.loads.push(Field::any());
                        }
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            b if BUILTINS.contains(&b) => {
                let b = b.to_string();
                self.builtin(st, &b, rest, path, at, text)
            }
            _ => self.record(st, argv, path, exec, at, text),
        }
    }

    fn builtin(
        &mut self,
        st: &mut State,
        name: &str,
        rest: &[Arg],
        _path: &Val,
        _at: &str,
        _text: &str,
    ) {
        match name {
            "cd" | "pushd" | "popd" => {
                let target = rest.iter().find(|a| {
                    !a.as_lit()
                        .is_some_and(|s| s.starts_with('-') && s.len() > 1)
                });
                let mut cwds = BTreeSet::new();
                match (name, target) {
                    ("cd", None) => {
                        for h in st.var("HOME").scalars() {
                            cwds.insert(h);
                        }
                    }
                    ("cd", Some(Arg::Field(f))) if f.as_lit() != Some("-") => {
                        if f.literal_prefix().starts_with('/') {
                            cwds.insert(f.clone());
                        } else {
                            for c in &st.cwd {
                                let mut n = c.clone();
                                if !c.as_lit().is_some_and(|s| s.ends_with('/')) {
                                    n.push_lit("/");
                                }
                                n.append(f);
                                cwds.insert(n);
                            }
                        }
                    }
                    _ => {
                        cwds.insert(Field::any());
                    }
                }
                st.cwd = cwds;
            }
            "shift" => {
                let n = match rest.first() {
                    None => Some(1),
                    Some(a) => a.as_lit().and_then(|s| s.parse::<usize>().ok()),
                };
                let mut alts = Vec::new();
                for alt in st.positional.alternatives() {
                    match n {
                        Some(n) => alts.push(shift_args(alt, n)),
                        None => {
                            for k in 0..=alt.len() {
                                alts.push(shift_args(alt, k));
                            }
                        }
                    }
                }
                st.positional = Val::from_alternatives(alts);
            }
            "set" => {
                let mut i = 0;
                let mut set_args = false;
                while let Some(a) = rest.get(i) {
                    match a.as_lit() {
                        Some("--") => {
                            set_args = true;
                            i += 1;
                            break;
                        }
                        Some("-o") | Some("+o") => i += 2,
                        Some(s) if (s.starts_with('-') || s.starts_with('+')) && s.len() > 1 => {
                            i += 1
                        }
                        Some("-") => {
                            set_args = true;
                            i += 1;
                            break;
                        }
                        Some(_) => {
                            set_args = true;
                            break;
                        }
                        None => {
                            // `set $x`: options or new parameters.
                            st.positional.union(&Val::any_list());
                            return;
                        }
                    }
                }
                if set_args {
                    st.positional = Val::list(rest[i..].to_vec());
                }
            }
            "read" | "getopts" | "mapfile" | "readarray" | "printf" | "let" => {
                // Variables they set become unknown.
                let mut i = 0;
                let mut names: Vec<String> = Vec::new();
                match name {
                    "getopts" => {
                        if let Some(n) = rest.get(1).and_then(|a| a.as_lit()) {
                            names.push(n.to_string());
                        }
                        names.push("OPTARG".into());
                        names.push("OPTIND".into());
                    }
                    "printf" => {
                        if rest.first().and_then(|a| a.as_lit()) == Some("-v") {
                            if let Some(n) = rest.get(1).and_then(|a| a.as_lit()) {
                                names.push(n.to_string());
                            }
                        }
                    }
                    "let" => {
                        for a in rest {
                            if let Some(s) = a.as_lit() {
                                let t = s.to_string();
                                self.arith_text(st, &t);
                            }
                        }
                    }
                    _ => {
                        while let Some(a) = rest.get(i) {
                            match a.as_lit() {
                                Some(o) if o.starts_with('-') => {
                                    if matches!(
                                        o,
                                        "-a" | "-d"
                                            | "-n"
                                            | "-N"
                                            | "-p"
                                            | "-t"
                                            | "-u"
                                            | "-i"
                                            | "-C"
                                            | "-c"
                                            | "-O"
                                            | "-s"
                                    ) {
                                        if o == "-a" {
                                            if let Some(n) =
                                                rest.get(i + 1).and_then(|a| a.as_lit())
                                            {
                                                names.push(n.to_string());
                                            }
                                        }
                                        i += 2;
                                    } else {
                                        i += 1;
                                    }
                                }
                                Some(n) => {
                                    names.push(n.to_string());
                                    i += 1;
                                }
                                None => i += 1,
                            }
                        }
                        if names.is_empty() {
                            names.push(if name == "read" {
                                "REPLY".into()
                            } else {
                                "MAPFILE".into()
                            });
                        }
                    }
                }
                for n in names {
                    st.vars.insert(n, Val::any_list());
                }
            }
            "unset" => {
                let funcs = rest.first().and_then(|a| a.as_lit()) == Some("-f");
                for a in rest {
                    match a.as_lit() {
                        Some(s) if s.starts_with('-') => {}
                        Some(s) => {
                            if funcs {
                                st.funcs.remove(s);
                            } else {
                                st.vars.insert(s.to_string(), Val::empty());
                            }
                        }
                        None => {}
                    }
                }
            }
            "alias" => {
                // An alias runs its text where its name is used: read it as commands.
                for a in rest {
                    if let Some((_, v)) = a.as_lit().and_then(|s| s.split_once('=')) {
                        let v = v.to_string();
                        let mut sub = st.clone();
                        self.run_text(&mut sub, &v, "alias");
                    }
                }
            }
            "export" | "local" | "declare" | "typeset" | "readonly" => {
                // Arguments that were not assignment words (built by expansion): unknown.
                for a in rest {
                    match a {
                        Arg::Field(f) => {
                            if let Some(s) = f.as_lit() {
                                if let Some((n, v)) = s.split_once('=') {
                                    if is_name(n) {
                                        st.vars.insert(n.to_string(), Val::lit(v));
                                    }
                                }
                            } else if let Some((n, _)) = f.literal_prefix().split_once('=') {
                                if is_name(n) {
                                    st.vars.insert(n.to_string(), Val::any());
                                }
                            }
                        }
                        Arg::Splat => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn source(&mut self, st: &mut State, rest: &[Arg], path: &Val, at: &str, text: &str) {
        let Some(file) = rest.first() else { return };
        let args = &rest[1..];
        let Arg::Field(f) = file else {
            self.unknown(format!("{at}: sources a file that is not known: {text}"));
            return;
        };
        let mut files: Vec<String> = Vec::new();
        match f.as_lit() {
            Some(name) if name.contains('/') => {
                if name.starts_with('/') {
                    files.push(name.to_string());
                } else {
                    for c in st.cwd.clone() {
                        match c.as_lit() {
                            Some(c) => files.push(join_path(c, name)),
                            None => {
                                let mut p = c.clone();
                                p.push_lit("/");
                                p.push_lit(name);
                                files.extend(self.host.files_matching(&p));
                            }
                        }
                    }
                }
            }
            Some(name) => {
                let mut dirs: Vec<Field> = Vec::new();
                for p in path.scalars() {
                    dirs.extend(p.split(':'));
                }
                if self.dialect == Dialect::Bash {
                    dirs.extend(st.cwd.iter().cloned());
                }
                for d in dirs {
                    match d.as_lit() {
                        Some(d) => {
                            let d = if d.is_empty() { "." } else { d };
                            if d.starts_with('/') {
                                files.push(join_path(d, name));
                            }
                        }
                        None => {
                            let mut p = d.clone();
                            p.push_lit("/");
                            p.push_lit(name);
                            files.extend(self.host.files_matching(&p));
                        }
                    }
                }
            }
            None => {
                let mut p = f.clone();
                if !f.literal_prefix().starts_with('/') {
                    if let Some(c) = st.cwd.iter().next().filter(|_| st.cwd.len() == 1).cloned() {
                        let mut q = c;
                        q.push_lit("/");
                        q.append(f);
                        p = q;
                    } else {
                        let mut q = Field::any();
                        q.append(f);
                        p = q;
                    }
                }
                let m = self.host.files_matching(&p);
                if m.is_empty() && f.is_any() {
                    self.unknown(format!("{at}: sources a file that is not known: {text}"));
                    return;
                }
                if m.len() > 64 {
                    self.unknown(format!("{at}: sources one of {} files: {text}", m.len()));
                    return;
                }
                files.extend(m);
            }
        }
        files.sort();
        files.dedup();
        let before = st.clone();
        let mut out: Option<State> = None;
        for file in files {
            if self.sources.iter().filter(|s| **s == file).count() >= 2 || self.sources.len() > 24 {
                continue;
            }
            let Some(body) = self.host.read(&file) else {
                continue;
            };
            if !self.report.sourced.contains(&file) {
                self.report.sourced.push(file.clone());
            }
            let mut s = before.clone();
            let saved = s.positional.clone();
            if !args.is_empty() {
                s.positional = Val::list(args.to_vec());
            }
            self.run_text(&mut s, &body, &file);
            if !args.is_empty() {
                s.positional = saved;
            }
            match &mut out {
                None => out = Some(s),
                Some(o) => o.join(&s),
            }
        }
        if let Some(o) = out {
            *st = o;
            // The file may also be missing (the shell stops there).
            st.join(&before);
        }
    }

    fn call_function(&mut self, st: &mut State, name: &str, defs: &BTreeSet<usize>, args: &[Arg]) {
        let depth = self.calls.iter().filter(|c| *c == name).count();
        let unknown_args = depth > 0;
        if unknown_args && !self.recursed.insert(name.to_string()) {
            return;
        }
        if self.calls.len() > 32 {
            return;
        }
        let saved_pos = st.positional.clone();
        let saved_vars = st.vars.clone();
        st.positional = if unknown_args {
            Val::any_list()
        } else {
            Val::list(args.to_vec())
        };
        self.calls.push(name.to_string());
        let mut out: Option<State> = None;
        for &d in defs {
            let (body, where_) = self.funcs[d].clone();
            let mut s = st.clone();
            self.sources.push(where_);
            // `local` names, restored after the call.
            let locals = local_names(&body.0);
            self.compound(&mut s, &body.0);
            self.sources.pop();
            for l in locals {
                match saved_vars.get(&l) {
                    Some(v) => {
                        s.vars.insert(l, v.clone());
                    }
                    None => {
                        s.vars.remove(&l);
                    }
                }
            }
            match &mut out {
                None => out = Some(s),
                Some(o) => o.join(&s),
            }
        }
        self.calls.pop();
        if let Some(o) = out {
            *st = o;
        }
        st.positional = saved_pos;
    }

    fn record(&mut self, st: &State, argv: &[Arg], path: &Val, exec: bool, at: &str, text: &str) {
        let u = Use {
            argv: argv.to_vec(),
            path: path.scalars(),
            cwd: st.cwd.iter().cloned().collect(),
            exec,
            at: at.to_string(),
            text: text.to_string(),
        };
        let key = Use {
            at: String::new(),
            text: String::new(),
            ..u.clone()
        };
        if self.seen.insert(key) {
            self.report.uses.push(u);
        }
    }
}

fn unknown_frag(quoted: bool) -> Frag {
    if quoted {
        Frag::text(Field::any(), false)
    } else {
        Frag {
            fields: vec![(Arg::Splat, false)],
            join_left: false,
            join_right: false,
        }
    }
}

/// The fragments of a parameter's value.
fn val_frags(val: &Val, all: bool, concat: bool, quoted: bool) -> Vec<Frag> {
    let mut out = Vec::new();
    for alt in val.alternatives() {
        let items: Vec<Arg> = if all {
            alt.clone()
        } else {
            alt.iter().take(1).cloned().collect()
        };
        let items = if all && concat {
            // "$*": one field joined with spaces.
            let mut f = Field::empty();
            for (i, a) in items.iter().enumerate() {
                if i > 0 {
                    f.push_lit(" ");
                }
                match a {
                    Arg::Field(x) => f.append(x),
                    Arg::Splat => f.push_any(),
                }
            }
            vec![Arg::Field(f)]
        } else {
            items
        };
        if quoted {
            if items.is_empty() {
                out.push(Frag {
                    fields: if all {
                        vec![]
                    } else {
                        vec![(Arg::Field(Field::empty()), false)]
                    },
                    join_left: true,
                    join_right: true,
                });
            } else {
                out.push(Frag {
                    fields: items.into_iter().map(|a| (a, false)).collect(),
                    join_left: true,
                    join_right: true,
                });
            }
        } else {
            // Field splitting and pathname expansion of each item.
            let mut fields: Vec<(Arg, bool)> = Vec::new();
            let mut join_left = true;
            let mut join_right = true;
            let n = items.len();
            for (i, a) in items.into_iter().enumerate() {
                match a {
                    Arg::Splat => {
                        fields.push((Arg::Splat, false));
                        if i == 0 {
                            join_left = false;
                        }
                        if i + 1 == n {
                            join_right = false;
                        }
                    }
                    Arg::Field(f) => match f.as_lit() {
                        Some(s) => {
                            let ws = |c: char| c == ' ' || c == '\t' || c == '\n';
                            if i == 0 && (s.is_empty() || s.starts_with(ws)) {
                                join_left = false;
                            }
                            if i + 1 == n && (s.is_empty() || s.ends_with(ws)) {
                                join_right = false;
                            }
                            for piece in s.split(ws).filter(|p| !p.is_empty()) {
                                fields.push((Arg::lit(piece), has_glob_chars(piece)));
                            }
                        }
                        None => {
                            // Unknown characters may hold spaces: any number of fields.
                            fields.push((Arg::Splat, false));
                            if i == 0 {
                                join_left = false;
                            }
                            if i + 1 == n {
                                join_right = false;
                            }
                        }
                    },
                }
            }
            out.push(Frag {
                fields,
                join_left,
                join_right,
            });
        }
    }
    out
}

fn nth_arg(alt: &[Arg], n: usize) -> Arg {
    for (i, a) in alt.iter().enumerate() {
        if *a == Arg::Splat {
            return Arg::Field(Field::any());
        }
        if i == n {
            return a.clone();
        }
    }
    Arg::Field(Field::empty())
}

fn shift_args(alt: &[Arg], n: usize) -> Vec<Arg> {
    for (i, a) in alt.iter().enumerate() {
        if *a == Arg::Splat {
            return alt[i..].to_vec();
        }
        if i == n {
            return alt[i..].to_vec();
        }
    }
    Vec::new()
}

fn remove_suffix(s: &str, pat: &str, largest: bool) -> String {
    let idx: Vec<usize> = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect();
    let order: Box<dyn Iterator<Item = &usize>> = if largest {
        Box::new(idx.iter())
    } else {
        Box::new(idx.iter().rev())
    };
    for &i in order {
        if glob_match(pat, &s[i..]) {
            return s[..i].to_string();
        }
    }
    s.to_string()
}

fn remove_prefix(s: &str, pat: &str, largest: bool) -> String {
    let idx: Vec<usize> = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect();
    let order: Box<dyn Iterator<Item = &usize>> = if largest {
        Box::new(idx.iter().rev())
    } else {
        Box::new(idx.iter())
    };
    for &i in order {
        if glob_match(pat, &s[..i]) {
            return s[i..].to_string();
        }
    }
    s.to_string()
}

fn unbackquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&n) = chars.peek() {
                if matches!(n, '$' | '`' | '\\') {
                    out.push(n);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn join_path(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Names a function body declares `local` (anywhere in it).
fn local_names(cc: &ast::CompoundCommand) -> Vec<String> {
    let text = cc.to_string();
    let mut out = Vec::new();
    for line in text.lines() {
        for stmt in line.split([';', '&', '|']) {
            let t = stmt.trim();
            let Some(rest) = t
                .strip_prefix("local ")
                .or_else(|| t.strip_prefix("declare "))
                .or_else(|| t.strip_prefix("typeset "))
            else {
                continue;
            };
            for w in rest.split_whitespace() {
                if w.starts_with('-') {
                    continue;
                }
                let n = w.split('=').next().unwrap_or("");
                if is_name(n) {
                    out.push(n.to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
