//! The numbers scripts hand to an interpreter's raw-syscall builtin (perl's and ruby's
//! `syscall`): the interpreter's machine code only shows that *some* number reaches `syscall()`;
//! the script text says which.
//!
//! Read soundly, not cleverly: every place the word `syscall` is followed by what can start an
//! argument list is a call; its first argument is a number only when it is a literal or a
//! constant of perl's `syscall.ph` (`&SYS_name`, `SYS_name()`, `&main::SYS_name`); anything
//! else is [`RawSyscallNumber::Unknown`]. Comments and POD are read as code (more calls, never
//! fewer).

/// What the first argument of one `syscall` call names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawSyscallNumber {
    /// A `syscall.ph` constant: the kernel's name of the call (`SYS_` left off). A name the
    /// architecture's table does not have makes no syscall (perl dies: undefined subroutine).
    Name(String),
    /// A literal number.
    Number(u64),
    /// A variable or an expression: its text (shortened).
    Unknown(String),
}

/// One `syscall` call of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSyscallCall {
    /// 1-based line of the call.
    pub line: usize,
    pub number: RawSyscallNumber,
}

/// Every `syscall` call of a perl or ruby script, in text order.
pub fn raw_syscall_calls(text: &[u8]) -> Vec<RawSyscallCall> {
    const WORD: &[u8] = b"syscall";
    let mut calls = Vec::new();
    let mut i = 0;
    while let Some(off) = find(&text[i..], WORD) {
        let at = i + off;
        i = at + WORD.len();
        if !starts_call_word(text, at) {
            continue;
        }
        let mut j = skip_space(text, i);
        let parenthesised = text.get(j) == Some(&b'(');
        if parenthesised {
            j = skip_space(text, j + 1);
        }
        let Some(&first) = text.get(j) else {
            continue;
        };
        let starts_argument = matches!(first, b'&' | b'$' | b'@' | b'0'..=b'9' | b'S' | b':');
        if !parenthesised && !starts_argument {
            continue; // `syscall.ph`, `syscalls`, "syscall is preferred" in prose
        }
        let line = 1 + text[..at].iter().filter(|b| **b == b'\n').count();
        calls.push(RawSyscallCall {
            line,
            number: first_argument(text, j),
        });
    }
    calls
}

/// `syscall` at `at` is the builtin, not part of a longer word, a method or a variable.
fn starts_call_word(text: &[u8], at: usize) -> bool {
    if text
        .get(at + 7)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        return false;
    }
    if at == 0 {
        return true;
    }
    let before = text[at - 1];
    if before == b':' {
        return text[..at].ends_with(b"CORE::");
    }
    !(before.is_ascii_alphanumeric() || matches!(before, b'_' | b'$' | b'>' | b'@' | b'%'))
}

fn skip_space(text: &[u8], mut j: usize) -> usize {
    while text.get(j).is_some_and(|b| b.is_ascii_whitespace()) {
        j += 1;
    }
    j
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The first argument starting at `j`: a constant only when it ends the argument.
fn first_argument(text: &[u8], j: usize) -> RawSyscallNumber {
    let ident_end = |mut k: usize| {
        while text
            .get(k)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            k += 1;
        }
        k
    };
    // The argument ends here when only `,` `)` `;` (or the end) follows.
    let ends_argument = |k: usize| {
        matches!(
            text.get(skip_space(text, k)),
            None | Some(b',' | b')' | b';')
        )
    };
    let mut k = j;
    if text.get(k) == Some(&b'&') {
        k = skip_space(text, k + 1);
    }
    for package in [&b"main::"[..], b"::"] {
        if text[k.min(text.len())..].starts_with(package) {
            k += package.len();
            break;
        }
    }
    if text[k.min(text.len())..].starts_with(b"SYS_") {
        let end = ident_end(k + 4);
        let mut after = end;
        let rest = &text[skip_space(text, end).min(text.len())..];
        if rest.starts_with(b"()") {
            after = skip_space(text, end) + 2;
        }
        if end > k + 4 && ends_argument(after) {
            let name = String::from_utf8_lossy(&text[k + 4..end]).into_owned();
            return RawSyscallNumber::Name(name);
        }
    } else if text.get(j).is_some_and(u8::is_ascii_digit) {
        let end = ident_end(j);
        let lit = String::from_utf8_lossy(&text[j..end]).replace('_', "");
        let value = match lit.strip_prefix("0x").or_else(|| lit.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None if lit.len() > 1 && lit.starts_with('0') => u64::from_str_radix(&lit[1..], 8).ok(),
            None => lit.parse().ok(),
        };
        if let Some(v) = value.filter(|_| ends_argument(end)) {
            return RawSyscallNumber::Number(v);
        }
    }
    let end = text[j..]
        .iter()
        .position(|b| matches!(b, b',' | b')' | b';' | b'\n'))
        .map_or(text.len(), |p| j + p);
    let shown: String = String::from_utf8_lossy(&text[j..end])
        .trim()
        .chars()
        .take(60)
        .collect();
    RawSyscallNumber::Unknown(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(text: &str) -> Vec<RawSyscallNumber> {
        raw_syscall_calls(text.as_bytes())
            .into_iter()
            .map(|c| c.number)
            .collect()
    }

    fn name(n: &str) -> RawSyscallNumber {
        RawSyscallNumber::Name(n.into())
    }

    #[test]
    fn syscall_ph_constants_are_names() {
        // Perl's Sys/Hostname.pm and Net/Domain.pm, as shipped.
        let text = "eval {\n\trequire \"syscall.ph\";\n\t$host = \"\\0\" x 65;\n\tsyscall(&SYS_gethostname, $host, 65) == 0;\n}\n\
                    (syscall(&main::SYS_getdomainname, $tmp, 256) == 0)\n\
                    syscall(&SYS_systeminfo, &SI_HOSTNAME, $host, 65) != -1;\n";
        assert_eq!(
            numbers(text),
            vec![
                name("gethostname"),
                name("getdomainname"),
                name("systeminfo")
            ]
        );
        assert_eq!(raw_syscall_calls(text.as_bytes())[0].line, 4);
        assert_eq!(numbers("syscall SYS_gettid();"), vec![name("gettid")]);
        assert_eq!(
            numbers("syscall( SYS_write () , 1, $b, 3)"),
            vec![name("write")]
        );
        assert_eq!(numbers("CORE::syscall(&SYS_getpid)"), vec![name("getpid")]);
    }

    #[test]
    fn literals_are_numbers() {
        assert_eq!(
            numbers("syscall(39); syscall 0x27, 1; syscall(1_86)"),
            vec![
                RawSyscallNumber::Number(39),
                RawSyscallNumber::Number(39),
                RawSyscallNumber::Number(186)
            ]
        );
    }

    #[test]
    fn anything_else_is_unknown() {
        for text in [
            "syscall($nr, 0)",
            "syscall(@args)",
            "syscall @args;",
            "syscall(&SYS_getpid + 1)",
            "syscall(SYS_getpid | 0)",
            "syscall(39 + $x)",
            "syscall(&{\"SYS_$n\"})",
        ] {
            assert!(
                matches!(numbers(text).as_slice(), [RawSyscallNumber::Unknown(_)]),
                "{text}: {:?}",
                numbers(text)
            );
        }
    }

    #[test]
    fn words_that_are_not_the_builtin_are_left_alone() {
        for text in [
            "require \"syscall.ph\";",
            "# syscall is preferred since it avoids tainting problems",
            "my $syscall = 1; $obj->syscall(3); syscalls(2); my_syscall(4); Foo::syscall(5)",
            "%syscall = (); @syscall = ();",
        ] {
            assert_eq!(numbers(text), vec![], "{text}");
        }
    }
}
