//! `dockergate-scripts`: which programs a shell script can run, read from its text with a real
//! shell parser (`brush-parser`), soundly.
//!
//! - [`shell::analyse`] interprets a script abstractly: variables, positional parameters,
//!   functions, `.`/`source`, `eval` of known strings, command substitutions, pipelines,
//!   traps; every command it may run is a [`shell::Use`] with the values its words can take
//!   ([`field::Field`]: known text with holes), and everything it cannot follow is reported.
//! - [`invoke`] knows how shells take their script (`sh -c`, a file, input) and how wrappers
//!   (`env`, `su`, `setpriv`, `timeout`, `find -exec`…) run another command line.
//!
//! - [`raw_syscall`] reads the numbers perl and ruby scripts pass to their `syscall` builtin.
//!
//! Nothing here reads files itself: the caller answers through [`shell::Host`].

pub mod field;
pub mod invoke;
pub mod raw_syscall;
pub mod shell;

pub use field::{argv_display, glob_match, Arg, Field, Part, Val};
pub use invoke::{
    never_runs, parse_shebang, shell_dialect, shell_runs, wrapper_runs, Runs, WRAPPERS,
};
pub use raw_syscall::{raw_syscall_calls, RawSyscallCall, RawSyscallNumber};
pub use shell::{analyse, Dialect, Host, Report, Start, Use};
