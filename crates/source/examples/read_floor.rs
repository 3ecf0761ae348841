//! The read floor of an image: the time to read and decompress every layer, doing nothing else.
//! Used by `scripts/bench-ls.sh` to put the time of `dockergate ls` in perspective.
//!
//! Usage: `read_floor IMAGE` (any reference `dockergate` accepts). Prints one line:
//! `<seconds> <stored bytes> <expanded bytes>`.

use std::process::ExitCode;

use dockergate_source::{read_floor, ImageRef, ReadOptions};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(spec), None) = (args.next(), args.next()) else {
        eprintln!("usage: read_floor IMAGE");
        return ExitCode::from(2);
    };
    let result = ImageRef::parse(&spec).and_then(|r| read_floor(&r, &ReadOptions::default()));
    match result {
        Ok((stored, expanded, elapsed)) => {
            println!("{:.6} {stored} {expanded}", elapsed.as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
