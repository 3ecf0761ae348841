//! A reader placed under the tar parser that follows the tar structure as the bytes pass and
//! refuses extension members (GNU long names and long links, pax headers) larger than
//! [`MAX_EXTENSION`]: the tar crate reads those whole into memory before we see the entry, so a
//! hostile layer could make it allocate gigabytes. Anything it does not follow (GNU sparse
//! headers, a header that does not parse, a seek it did not expect) turns it into a plain pass-
//! through: the tar parser then reports what is wrong, as before.

use std::io::{self, Read, Seek, SeekFrom};

/// The largest extension member accepted. Names are bounded by PATH_MAX (4096) anyway; pax
/// headers of real images hold a few records.
pub const MAX_EXTENSION: u64 = 1 << 20;

const BLOCK: u64 = 512;

/// An extension member larger than [`MAX_EXTENSION`].
#[derive(Debug)]
pub struct ExtensionTooLarge {
    pub kind: &'static str,
    pub size: u64,
}

impl std::fmt::Display for ExtensionTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a tar {} member of {} bytes (more than the {} accepted)",
            self.kind, self.size, MAX_EXTENSION
        )
    }
}

impl std::error::Error for ExtensionTooLarge {}

pub struct TarGuard<R> {
    inner: R,
    /// Offset of the next byte the parser gets.
    pos: u64,
    /// Offset where the next header starts.
    next_header: u64,
    header: [u8; 512],
    header_fill: usize,
    /// The `size` record of the pax header just read, for the member it describes.
    pax_size: Option<u64>,
    /// Content of a pax header being read (bounded by MAX_EXTENSION).
    pax: Option<Vec<u8>>,
    /// Lost track: pass everything through.
    off: bool,
}

impl<R> TarGuard<R> {
    pub fn new(inner: R) -> Self {
        TarGuard {
            inner,
            pos: 0,
            next_header: 0,
            header: [0; 512],
            header_fill: 0,
            pax_size: None,
            pax: None,
            off: false,
        }
    }

    /// Follows `bytes`, which the parser is about to get from offset `self.pos`.
    fn follow(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() && !self.off {
            if self.pos < self.next_header {
                let n = (self.next_header - self.pos).min(bytes.len() as u64) as usize;
                if let Some(pax) = &mut self.pax {
                    pax.extend_from_slice(&bytes[..n]);
                }
                self.pos += n as u64;
                bytes = &bytes[n..];
                if self.pos == self.next_header {
                    if let Some(pax) = self.pax.take() {
                        self.pax_size = pax_size(&pax);
                    }
                }
                continue;
            }
            let n = (512 - self.header_fill).min(bytes.len());
            self.header[self.header_fill..self.header_fill + n].copy_from_slice(&bytes[..n]);
            self.header_fill += n;
            self.pos += n as u64;
            bytes = &bytes[n..];
            if self.header_fill == 512 {
                self.header_fill = 0;
                self.on_header()?;
            }
        }
        Ok(())
    }

    fn on_header(&mut self) -> io::Result<()> {
        if self.header.iter().all(|b| *b == 0) {
            self.next_header = self.pos;
            return Ok(());
        }
        let h = tar::Header::from_byte_slice(&self.header);
        let Ok(size) = h.entry_size() else {
            self.off = true;
            return Ok(());
        };
        let t = h.entry_type();
        let kind = if t.is_gnu_longname() {
            Some("GNU long name")
        } else if t.is_gnu_longlink() {
            Some("GNU long link")
        } else if t.is_pax_local_extensions() {
            Some("pax header")
        } else if t.is_pax_global_extensions() {
            Some("pax global header")
        } else {
            None
        };
        let size = match kind {
            Some(kind) => {
                if size > MAX_EXTENSION {
                    return Err(io::Error::other(ExtensionTooLarge { kind, size }));
                }
                if t.is_pax_local_extensions() {
                    self.pax = Some(Vec::with_capacity(size as usize));
                }
                size
            }
            None => {
                if t.is_gnu_sparse() {
                    // Old GNU sparse headers may be followed by more header blocks.
                    self.off = true;
                    return Ok(());
                }
                self.pax_size.take().unwrap_or(size)
            }
        };
        let padded = size
            .checked_add(BLOCK - 1)
            .map(|s| s & !(BLOCK - 1))
            .and_then(|s| self.pos.checked_add(s));
        match padded {
            Some(next) => self.next_header = next,
            None => self.off = true,
        }
        if self.pax.is_some() && self.next_header == self.pos {
            self.pax = None;
        }
        Ok(())
    }
}

/// The `size` record of pax extension data (`"%d size=%d\n"` records).
fn pax_size(data: &[u8]) -> Option<u64> {
    let mut rest = data;
    let mut found = None;
    while !rest.is_empty() {
        let sp = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        if len <= sp || len > rest.len() {
            return None;
        }
        let record = &rest[sp + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(v) = record.strip_prefix(b"size=") {
            found = std::str::from_utf8(v).ok()?.parse().ok();
        }
        rest = &rest[len..];
    }
    found
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.follow(&buf[..n])?;
        Ok(n)
    }
}

impl<R: Seek> Seek for TarGuard<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = self.inner.seek(pos)?;
        if !self.off {
            // The tar parser seeks forward over contents, never past the next header.
            if new < self.pos || new > self.next_header || self.pax.is_some() {
                self.off = true;
            }
        }
        self.pos = new;
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(long_name: usize, pax_len: usize) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, "a".repeat(long_name), &b"abc"[..])
            .unwrap();
        if pax_len > 0 {
            let value = "x".repeat(pax_len);
            b.append_pax_extensions([("comment", value.as_bytes())])
                .unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "last", &b"12345"[..]).unwrap();
        b.into_inner().unwrap()
    }

    fn names(data: &[u8], chunk: usize) -> io::Result<Vec<String>> {
        names_tracked(data, chunk).map(|(n, _)| n)
    }

    fn names_tracked(data: &[u8], chunk: usize) -> io::Result<(Vec<String>, bool)> {
        struct Chunks<'a>(&'a [u8], usize);
        impl Read for Chunks<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(self.1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut ar = tar::Archive::new(TarGuard::new(Chunks(data, chunk)));
        let mut out = Vec::new();
        for e in ar.entries()? {
            out.push(e?.path()?.to_string_lossy().into_owned());
        }
        let guard = ar.into_inner();
        Ok((out, !guard.off))
    }

    #[test]
    fn follows_long_names_and_pax_headers() {
        for chunk in [1, 7, 512, 100_000] {
            let t = tar_with(300, 1000);
            let (n, tracking) = names_tracked(&t, chunk).unwrap();
            assert_eq!(n, ["a".repeat(300), "last".into()]);
            assert!(tracking, "lost track at chunk size {chunk}");
        }
    }

    #[test]
    fn refuses_huge_extension_members() {
        let t = tar_with(10, MAX_EXTENSION as usize + 10);
        let e = names(&t, 4096).unwrap_err();
        assert!(e.to_string().contains("pax header"), "{e}");
        let t = tar_with(MAX_EXTENSION as usize + 10, 0);
        let e = names(&t, 4096).unwrap_err();
        assert!(e.to_string().contains("GNU long name"), "{e}");
    }

    #[test]
    fn pax_size_records() {
        assert_eq!(pax_size(b"16 size=1234567\n11 path=ab\n"), Some(1234567));
        assert_eq!(pax_size(b"11 path=ab\n"), None);
        assert_eq!(pax_size(b"99 size=1\n"), None);
    }
}
