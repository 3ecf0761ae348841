//! Byte sources behind an [`ImageFs`](dockergate_fs::ImageFs): ranges of a host file (an archive
//! or a layer blob stored uncompressed), the spill file that holds retained contents of
//! compressed layers, and single files of a rootfs directory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dockergate_fs::BlobSource;

/// A whole host file, read by offset (an archive, an uncompressed blob).
pub struct HostFileBlob {
    file: File,
    name: String,
}

impl HostFileBlob {
    /// Opens a regular file. Anything else (a directory, a FIFO that would block, a device) is
    /// refused: archives and blobs are read by offset.
    pub fn open(path: &Path) -> io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it has no effect on regular files.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NONBLOCK)
            .open(path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        Ok(HostFileBlob {
            file,
            name: path.display().to_string(),
        })
    }
    pub fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Fills `buf` from `offset`.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
    /// A reader over `len` bytes from `offset`.
    pub fn range(self: &Arc<Self>, offset: u64, len: u64) -> RangeReader {
        RangeReader {
            blob: self.clone(),
            pos: offset,
            end: offset.saturating_add(len),
        }
    }
}

impl BlobSource for HostFileBlob {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// Sequential reader over a byte range of a [`HostFileBlob`]; fails at a short file.
pub struct RangeReader {
    blob: Arc<HostFileBlob>,
    pos: u64,
    end: u64,
}

impl RangeReader {
    /// The absolute offset of the next byte.
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = self.end.saturating_sub(self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.blob.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ends before the blob does (truncated?)",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A buffered `Read + Seek` view of `len` bytes from `start` of a [`HostFileBlob`], positions
/// relative to `start`. Seeks inside the buffered window cost nothing, so walking the headers of a
/// tar (read 512 bytes, skip the contents) reads each region of the file once. Past the end of
/// the file (or of the range) it reads nothing: callers check what they expect against `len`.
pub struct WindowReader {
    blob: Arc<HostFileBlob>,
    start: u64,
    len: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_pos: u64,
    buf_len: usize,
}

impl WindowReader {
    pub fn new(blob: Arc<HostFileBlob>, start: u64, len: u64, window: usize) -> Self {
        WindowReader {
            blob,
            start,
            len,
            pos: 0,
            buf: vec![0; window.max(512)],
            buf_pos: 0,
            buf_len: 0,
        }
    }
}

impl Read for WindowReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || out.is_empty() {
            return Ok(0);
        }
        let in_window = self.pos >= self.buf_pos && self.pos - self.buf_pos < self.buf_len as u64;
        if !in_window {
            let want = (self.len - self.pos).min(self.buf.len() as u64) as usize;
            let at = self
                .start
                .checked_add(self.pos)
                .ok_or_else(|| io::Error::other("offset overflow"))?;
            let mut got = 0;
            while got < want {
                match self
                    .blob
                    .file
                    .read_at(&mut self.buf[got..want], at.saturating_add(got as u64))
                {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.buf_pos = self.pos;
            self.buf_len = got;
            if got == 0 {
                return Ok(0);
            }
        }
        let off = (self.pos - self.buf_pos) as usize;
        let n = (self.buf_len - off).min(out.len());
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for WindowReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek out of range",
            )),
        }
    }
}

/// The spill file: an unnamed temporary file (removed by the OS when dropped) that holds the
/// contents we keep from compressed layers, so that memory stays bounded whatever the image size.
/// Writes are positional: whoever reserved a range may write it, from any thread, in any order.
pub struct SpillFile {
    file: File,
    /// Bytes reserved so far (written, or being written).
    len: AtomicU64,
}

impl SpillFile {
    /// Creates the spill file in `dir` (the system temporary directory when `None`).
    pub fn create(dir: Option<&Path>) -> io::Result<Self> {
        let file = match dir {
            Some(d) => tempfile::tempfile_in(d)?,
            None => tempfile::tempfile()?,
        };
        Ok(SpillFile {
            file,
            len: AtomicU64::new(0),
        })
    }

    /// Notes that the bytes up to `end` are written (or being written, by whoever has the range).
    pub fn grow_to(&self, end: u64) {
        self.len.fetch_max(end, Ordering::Relaxed);
    }

    /// Writes bytes at an offset (a range reserved before).
    pub fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all_at(bytes, offset)
    }

    /// Appends `head` and then everything `rest` yields; returns the offset of the first byte and
    /// the number of bytes appended. Not to be mixed with positional writes from another thread
    /// at the same time.
    pub fn append(&self, head: &[u8], rest: &mut dyn Read) -> io::Result<(u64, u64)> {
        let start = self.len();
        let mut at = start;
        self.write_at(at, head)?;
        at += head.len() as u64;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match rest.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.write_at(at, &buf[..n])?;
            at += n as u64;
        }
        self.len.store(at, Ordering::Relaxed);
        Ok((start, at - start))
    }

    /// Makes everything written so far readable (writes go straight to the file: nothing to do).
    pub fn flush(&self) -> io::Result<()> {
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Relaxed)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl BlobSource for SpillFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
    fn describe(&self) -> String {
        "the spill file of decompressed layers".to_string()
    }
}

/// One regular file of a rootfs directory on the host (the `dir:` transport).
pub struct HostPathBlob {
    pub path: PathBuf,
}

impl BlobSource for HostPathBlob {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOFOLLOW: the walk saw a regular file here; never follow a symlink swapped in since,
        // and never wait on a FIFO swapped in either.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc_o_nofollow() | O_NONBLOCK)
            .open(&self.path)?;
        if !f.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no longer a regular file",
            ));
        }
        f.read_exact_at(buf, offset)
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// O_NONBLOCK on Linux (the same value on every architecture we build for but a few).
#[cfg(not(any(target_arch = "mips", target_arch = "mips64", target_arch = "sparc64")))]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const O_NONBLOCK: i32 = 0o200;
#[cfg(target_arch = "sparc64")]
const O_NONBLOCK: i32 = 0x4000;

const fn libc_o_nofollow() -> i32 {
    // O_NOFOLLOW on Linux (all architectures we build for use the generic value except a few).
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "riscv64"))]
    {
        0o400000
    }
    #[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
    {
        0o100000
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "riscv64",
        target_arch = "aarch64",
        target_arch = "arm"
    )))]
    {
        0o400000
    }
}
