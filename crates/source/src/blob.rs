//! Byte sources behind an [`ImageFs`](dockergate_fs::ImageFs): ranges of a host file (an archive
//! or a layer blob stored uncompressed), the spill file that holds retained contents of
//! compressed layers, and single files of a rootfs directory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dockergate_fs::BlobSource;

/// A whole host file, read by offset (an archive, an uncompressed blob).
pub struct HostFileBlob {
    file: File,
    name: String,
}

impl HostFileBlob {
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(HostFileBlob {
            file: File::open(path)?,
            name: path.display().to_string(),
        })
    }
    pub fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
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
            end: offset + len,
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
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.blob.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file ends before the blob does",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// The spill file: an unnamed temporary file (removed by the OS when dropped) that holds the
/// contents we keep from compressed layers, so that memory stays bounded whatever the image size.
pub struct SpillFile {
    inner: Mutex<SpillInner>,
    reader: File,
}

struct SpillInner {
    writer: io::BufWriter<File>,
    len: u64,
}

impl SpillFile {
    /// Creates the spill file in `dir` (the system temporary directory when `None`).
    pub fn create(dir: Option<&Path>) -> io::Result<Self> {
        let file = match dir {
            Some(d) => tempfile::tempfile_in(d)?,
            None => tempfile::tempfile()?,
        };
        let reader = file.try_clone()?;
        Ok(SpillFile {
            inner: Mutex::new(SpillInner {
                writer: io::BufWriter::with_capacity(1 << 20, file),
                len: 0,
            }),
            reader,
        })
    }

    /// Appends `head` and then everything `rest` yields; returns the offset of the first byte.
    pub fn append(&self, head: &[u8], rest: &mut dyn Read) -> io::Result<u64> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("spill file lock poisoned"))?;
        let start = inner.len;
        inner.writer.write_all(head)?;
        let copied = io::copy(rest, &mut inner.writer)?;
        inner.len += head.len() as u64 + copied;
        Ok(start)
    }

    /// Makes everything appended so far readable.
    pub fn flush(&self) -> io::Result<()> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| io::Error::other("spill file lock poisoned"))?;
        inner.writer.flush()
    }

    pub fn len(&self) -> u64 {
        self.inner.lock().map(|i| i.len).unwrap_or(0)
    }
}

impl BlobSource for SpillFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.reader.read_exact_at(buf, offset)
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
        // O_NOFOLLOW: the walk saw a regular file here; never follow a symlink swapped in since.
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc_o_nofollow())
            .open(&self.path)?;
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(buf)
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

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
