//! The read floor of an image: the time to read and decompress every layer, doing nothing else.
//! Used by `scripts/bench-ls.sh` to put the time of `dockergate ls` in perspective.
//!
//! Usage: `read_floor [--verify] IMAGE` (any reference `dockergate` accepts). Prints one line:
//! `<seconds> <stored bytes> <expanded bytes>`. With `--verify` the layers are also hashed
//! (sha256 of the stored and of the expanded bytes, on one thread): the floor of a reader that
//! checks digests.

use std::process::ExitCode;

use dockergate_source::{read_floor, read_floor_verified, ImageRef, ReadOptions};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let verify = args.first().is_some_and(|a| a == "--verify");
    if verify {
        args.remove(0);
    }
    let [spec] = args.as_slice() else {
        eprintln!("usage: read_floor [--verify] IMAGE");
        return ExitCode::from(2);
    };
    let floor = if verify {
        read_floor_verified
    } else {
        read_floor
    };
    let result = ImageRef::parse(spec).and_then(|r| floor(&r, &ReadOptions::default()));
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
