//! Values a shell word can take: literal text with holes (`Any`) where the analysis does not know
//! the characters, and argument lists that may hold an unknown number of unknown fields.

use std::collections::BTreeSet;
use std::fmt;

/// A piece of a field: known text, or an unknown run of characters (possibly empty, possibly
/// holding `/` or spaces).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Lit(String),
    Any,
}

/// One field (argument) after expansion. Adjacent literals are merged, adjacent holes too.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Field(Vec<Part>);

impl Field {
    /// The empty string.
    pub fn empty() -> Self {
        Field(Vec::new())
    }

    pub fn lit(s: &str) -> Self {
        let mut f = Field::empty();
        f.push_lit(s);
        f
    }

    /// Any string at all.
    pub fn any() -> Self {
        Field(vec![Part::Any])
    }

    pub fn parts(&self) -> &[Part] {
        &self.0
    }

    pub fn push_lit(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Part::Lit(last)) = self.0.last_mut() {
            last.push_str(s);
        } else {
            self.0.push(Part::Lit(s.to_string()));
        }
    }

    pub fn push_any(&mut self) {
        if self.0.last() != Some(&Part::Any) {
            self.0.push(Part::Any);
        }
    }

    pub fn append(&mut self, other: &Field) {
        for p in &other.0 {
            match p {
                Part::Lit(s) => self.push_lit(s),
                Part::Any => self.push_any(),
            }
        }
    }

    /// The text, when every character is known.
    pub fn as_lit(&self) -> Option<&str> {
        match self.0.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    pub fn is_known(&self) -> bool {
        self.as_lit().is_some()
    }

    /// Nothing at all is known (`[Any]`).
    pub fn is_any(&self) -> bool {
        self.0 == [Part::Any]
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `s` is one of the strings this field can be.
    pub fn matches(&self, s: &str) -> bool {
        fn go(parts: &[Part], s: &str) -> bool {
            match parts.split_first() {
                None => s.is_empty(),
                Some((Part::Lit(l), rest)) => {
                    s.strip_prefix(l.as_str()).is_some_and(|r| go(rest, r))
                }
                Some((Part::Any, rest)) => {
                    if rest.is_empty() {
                        return true;
                    }
                    s.char_indices()
                        .map(|(i, _)| i)
                        .chain(std::iter::once(s.len()))
                        .any(|i| go(rest, &s[i..]))
                }
            }
        }
        go(&self.0, s)
    }

    /// Whether some string this field can be contains `c`.
    pub fn may_contain(&self, c: char) -> bool {
        self.0.iter().any(|p| match p {
            Part::Lit(s) => s.contains(c),
            Part::Any => true,
        })
    }

    /// The known text before the first hole.
    pub fn literal_prefix(&self) -> &str {
        match self.0.first() {
            Some(Part::Lit(s)) => s,
            _ => "",
        }
    }

    /// Splits at every occurrence of `sep` in the known text (a hole stays inside one piece).
    pub fn split(&self, sep: char) -> Vec<Field> {
        let mut out = vec![Field::empty()];
        for p in &self.0 {
            match p {
                Part::Any => out.last_mut().expect("non-empty").push_any(),
                Part::Lit(s) => {
                    let mut first = true;
                    for piece in s.split(sep) {
                        if !first {
                            out.push(Field::empty());
                        }
                        first = false;
                        out.last_mut().expect("non-empty").push_lit(piece);
                    }
                }
            }
        }
        out
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match p {
                Part::Lit(s) => f.write_str(s)?,
                Part::Any => f.write_str("…")?,
            }
        }
        Ok(())
    }
}

/// One argument of a command line: a field, or any number (zero or more) of unknown fields.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arg {
    Field(Field),
    Splat,
}

impl Arg {
    pub fn lit(s: &str) -> Self {
        Arg::Field(Field::lit(s))
    }

    pub fn as_lit(&self) -> Option<&str> {
        match self {
            Arg::Field(f) => f.as_lit(),
            Arg::Splat => None,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field(x) => {
                let s = x.to_string();
                if !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%…".contains(c))
                {
                    f.write_str(&s)
                } else {
                    write!(f, "'{}'", s.replace('\'', "'\\''"))
                }
            }
            Arg::Splat => f.write_str("…"),
        }
    }
}

/// Displays a command line.
pub fn argv_display(argv: &[Arg]) -> String {
    argv.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The most alternatives a value keeps before it becomes unknown.
pub const MAX_ALTERNATIVES: usize = 32;

/// The values of a variable (or of the positional parameters): each alternative is a list of
/// fields (one for a scalar; several for an array or `$@`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Val(BTreeSet<Vec<Arg>>);

impl Val {
    pub fn scalar(f: Field) -> Self {
        Val(BTreeSet::from([vec![Arg::Field(f)]]))
    }

    pub fn lit(s: &str) -> Self {
        Val::scalar(Field::lit(s))
    }

    /// Unset or empty.
    pub fn empty() -> Self {
        Val::scalar(Field::empty())
    }

    /// A scalar nothing is known about.
    pub fn any() -> Self {
        Val::scalar(Field::any())
    }

    /// A list nothing is known about.
    pub fn any_list() -> Self {
        Val(BTreeSet::from([vec![Arg::Splat]]))
    }

    pub fn list(items: Vec<Arg>) -> Self {
        Val(BTreeSet::from([items]))
    }

    pub fn from_alternatives(alts: impl IntoIterator<Item = Vec<Arg>>) -> Self {
        let mut v = Val(alts.into_iter().collect());
        v.cap();
        v
    }

    pub fn alternatives(&self) -> impl Iterator<Item = &Vec<Arg>> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn union(&mut self, other: &Val) {
        self.0.extend(other.0.iter().cloned());
        self.cap();
    }

    fn cap(&mut self) {
        // Unknown alternatives subsume the ones they cover.
        if self.0.contains(&vec![Arg::Splat]) {
            self.0 = BTreeSet::from([vec![Arg::Splat]]);
            return;
        }
        if self.0.contains(&vec![Arg::Field(Field::any())]) {
            self.0
                .retain(|a| a.len() != 1 || a[0] == Arg::Field(Field::any()));
        }
        if self.0.len() > MAX_ALTERNATIVES {
            let lists = self.0.iter().any(|a| a.len() != 1);
            *self = if lists { Val::any_list() } else { Val::any() };
        }
    }

    /// Whether some scalar value may be empty (not known to be a non-empty literal).
    pub fn may_be_empty(&self) -> bool {
        self.scalars()
            .iter()
            .any(|f| !f.as_lit().is_some_and(|s| !s.is_empty()))
    }

    /// The scalar values (the first field of each alternative, `$x` of an array).
    pub fn scalars(&self) -> Vec<Field> {
        let mut out: BTreeSet<Field> = BTreeSet::new();
        for alt in &self.0 {
            match alt.first() {
                None => {
                    out.insert(Field::empty());
                }
                Some(Arg::Field(f)) => {
                    out.insert(f.clone());
                }
                Some(Arg::Splat) => {
                    out.insert(Field::any());
                }
            }
        }
        out.into_iter().collect()
    }

    /// Every element of every alternative (`${a[i]}` with an unknown `i`).
    pub fn elements(&self) -> Vec<Field> {
        let mut out: BTreeSet<Field> = BTreeSet::new();
        for alt in &self.0 {
            if alt.is_empty() {
                out.insert(Field::empty());
            }
            for a in alt {
                out.insert(match a {
                    Arg::Field(f) => f.clone(),
                    Arg::Splat => Field::any(),
                });
            }
        }
        out.into_iter().collect()
    }
}

/// Shell pattern matching (`*`, `?`, `[...]`, backslash escapes) of a whole string.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|c| *c == ']').map(|i| i + 2) else {
                    return t.first() == Some(&'[') && go(&p[1..], &t[1..]);
                };
                let Some(&c) = t.first() else { return false };
                let mut set = &p[1..close];
                let negate = matches!(set.first(), Some('!') | Some('^'));
                if negate {
                    set = &set[1..];
                }
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        if set[i] <= c && c <= set[i + 2] {
                            hit = true;
                        }
                        i += 3;
                    } else {
                        if set[i] == c {
                            hit = true;
                        }
                        i += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &t[1..])
            }
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

/// Whether a string holds an unquoted pattern character.
pub fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_match_and_split() {
        let mut f = Field::lit("/opt/");
        f.push_any();
        f.push_lit("/bin/app");
        assert!(f.matches("/opt/x/y/bin/app"));
        assert!(!f.matches("/usr/bin/app"));
        assert_eq!(f.literal_prefix(), "/opt/");
        assert_eq!(Field::lit("a:b::c").split(':').len(), 4);
        assert!(Field::any().matches(""));
        assert_eq!(Field::lit("x").to_string(), "x");
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.sh", "run.sh"));
        assert!(!glob_match("*.sh", "run.py"));
        assert!(glob_match("[a-c]?", "bz"));
        assert!(glob_match("[!a]x", "bx"));
        assert!(!glob_match("[!a]x", "ax"));
        assert!(glob_match("a\\*", "a*"));
    }

    #[test]
    fn values_cap() {
        let mut v = Val::lit("a");
        for i in 0..40 {
            v.union(&Val::lit(&i.to_string()));
        }
        assert_eq!(v, Val::any());
    }
}
