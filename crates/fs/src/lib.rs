//! `dockergate-fs`: the squashed, read-only view of a container image's filesystem.
//!
//! An [`ImageFs`] is built layer by layer with an [`ImageFsBuilder`]: every layer is a list of
//! [`LayerEntry`] values (a tar stream, decoded by the `source` crate), applied in order with the
//! OCI rules for whiteouts (`.wh.NAME`) and opaque directories (`.wh..wh..opq`). Nothing is ever
//! extracted onto the host: file contents stay where they are (inside an archive, a spill file or a
//! host directory) and are read on demand through a [`BlobSource`] that the `source` crate provides.
//!
//! Every path lookup happens inside the image root: absolute symlink targets are relative to the
//! image root, `..` never climbs above it, and a lookup that follows more than [`MAX_SYMLINK_HOPS`]
//! symlinks fails with [`FsError::SymlinkLoop`], as Linux does.
//!
//! This crate does no I/O of its own.

mod build;
mod resolve;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub use build::{EntryKind, ImageFsBuilder, LayerEntry, LayerWarning, DEFAULT_MAX_NODES, PATH_MAX};
pub use resolve::Resolved;

/// Linux's limit on symlinks followed during one path lookup (`MAXSYMLINKS`).
pub const MAX_SYMLINK_HOPS: u32 = 40;

/// Where file contents live. Implemented by the `source` crate (an archive file, a spill file of
/// decompressed layers, a host directory); the filesystem only asks for byte ranges.
pub trait BlobSource: Send + Sync {
    /// Fills `buf` with the bytes at `offset`; fails when they are not all there.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
    /// A short name for messages ("nginx.docker.tar", "spill file").
    fn describe(&self) -> String;
}

/// Bytes per read of [`ImageFs::read_pieces`]: a piece stays in the core's cache while it is
/// seen (hashed), where a megabyte read spilled out of it.
pub const READ_PIECE: usize = 256 << 10;

/// Shows `size` bytes of `src` from `offset` to `see` in order, read `buf.len()` bytes at a time
/// (a piece that stays in the core's cache while it is hashed); fails when a piece cannot be
/// read.
pub fn read_in_pieces(
    src: &dyn BlobSource,
    offset: u64,
    size: u64,
    buf: &mut [u8],
    mut see: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    if buf.is_empty() && size > 0 {
        return Err(std::io::Error::other("no buffer to read into"));
    }
    let mut done = 0u64;
    while done < size {
        let want = (size - done).min(buf.len() as u64) as usize;
        let at = offset
            .checked_add(done)
            .ok_or_else(|| std::io::Error::other("offset overflow"))?;
        src.read_at(at, &mut buf[..want])?;
        see(&buf[..want]);
        done += want as u64;
    }
    Ok(())
}

/// Index of a node in an [`ImageFs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// Index of a blob registered with [`ImageFsBuilder::add_blob`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobId(pub u32);

/// Where a regular file's bytes are.
#[derive(Clone, Debug)]
pub enum Content {
    /// `len` bytes at `offset` in a blob.
    Blob { blob: BlobId, offset: u64 },
    /// Held in memory (small files, tests).
    Inline(Arc<[u8]>),
    /// Not kept: the source decided the file cannot matter to the analysis (large, neither ELF nor
    /// script) and did not retain it. Reading it is an error.
    NotRetained,
}

/// What a node is.
#[derive(Clone, Debug)]
pub enum NodeKind {
    Dir {
        children: BTreeMap<String, NodeId>,
    },
    File {
        size: u64,
        content: Content,
    },
    Symlink {
        target: String,
    },
    /// Device, fifo or socket: present, never read.
    Special,
}

/// One file, directory, symlink or special file of the squashed image.
#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    /// Permission bits and setuid/setgid/sticky (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Index of the layer this node came from (0 = bottom).
    pub layer: u32,
}

impl Node {
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, NodeKind::Dir { .. })
    }
    pub fn is_file(&self) -> bool {
        matches!(self.kind, NodeKind::File { .. })
    }
    /// Size of a regular file, 0 otherwise.
    pub fn size(&self) -> u64 {
        match self.kind {
            NodeKind::File { size, .. } => size,
            _ => 0,
        }
    }
    /// Any execute bit set.
    pub fn is_executable(&self) -> bool {
        self.mode & 0o111 != 0
    }
}

/// Errors of path lookup and content access. Paths come from the image and are shown with
/// control characters escaped, so that a message stays on one line.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("no such file or directory: {}", one_line(.path))]
    NotFound { path: String },
    #[error("not a directory: {}", one_line(.path))]
    NotADirectory { path: String },
    #[error("too many levels of symbolic links (more than {MAX_SYMLINK_HOPS}) resolving {}", one_line(.path))]
    SymlinkLoop { path: String },
    #[error("not a regular file: {}", one_line(.path))]
    NotAFile { path: String },
    #[error("content of {} was not retained when the layer was read", one_line(.path))]
    NotRetained { path: String },
    #[error("cannot read {} from {blob}: {source}", one_line(.path))]
    Read {
        path: String,
        blob: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is {size} bytes, more than the limit of {limit} bytes for one file", one_line(.path))]
    TooLarge { path: String, size: u64, limit: u64 },
}

/// Escapes control characters (a newline in a hostile file name above all), so that a message
/// holding a path stays on one line. Other text is unchanged.
pub fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The squashed, read-only filesystem of an image.
pub struct ImageFs {
    nodes: Vec<Node>,
    blobs: Vec<Arc<dyn BlobSource>>,
}

impl fmt::Debug for ImageFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageFs")
            .field("nodes", &self.nodes.len())
            .field("blobs", &self.blobs.len())
            .finish()
    }
}

/// The largest file [`ImageFs::read`] returns; larger files are refused (a bound on memory).
pub const MAX_READ_BYTES: u64 = 1 << 31;

impl ImageFs {
    /// The root directory.
    pub const ROOT: NodeId = NodeId(0);

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    /// Number of nodes (including ones no longer reachable from the root).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Children of a directory, sorted by name; empty for anything else.
    pub fn children(&self, dir: NodeId) -> impl Iterator<Item = (&str, NodeId)> {
        let map = match &self.node(dir).kind {
            NodeKind::Dir { children } => Some(children),
            _ => None,
        };
        map.into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), *v)))
    }

    /// Every path of the tree in sorted order, depth first, without following symlinks.
    /// Hard links appear once per path. The root itself is not listed.
    pub fn walk(&self) -> Vec<(String, NodeId)> {
        let mut out = Vec::new();
        let mut stack: Vec<(String, NodeId)> = vec![(String::new(), Self::ROOT)];
        while let Some((prefix, dir)) = stack.pop() {
            let mut subdirs = Vec::new();
            for (name, id) in self.children(dir) {
                let path = format!("{prefix}/{name}");
                if self.node(id).is_dir() {
                    subdirs.push((path.clone(), id));
                }
                out.push((path, id));
            }
            stack.extend(subdirs.into_iter().rev());
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Reads the whole content of a regular file.
    pub fn read(&self, id: NodeId, path_for_errors: &str) -> Result<Arc<[u8]>, FsError> {
        let (size, content) = self.readable_file(id, path_for_errors)?;
        self.read_range(content, size, path_for_errors)
    }

    /// The size and content of a regular file, which may be read whole.
    fn readable_file(&self, id: NodeId, path_for_errors: &str) -> Result<(u64, &Content), FsError> {
        let (size, content) = self.file_content(id, path_for_errors)?;
        if size > MAX_READ_BYTES {
            return Err(FsError::TooLarge {
                path: path_for_errors.to_string(),
                size,
                limit: MAX_READ_BYTES,
            });
        }
        Ok((size, content))
    }

    /// The size and content of a regular file.
    fn file_content(&self, id: NodeId, path_for_errors: &str) -> Result<(u64, &Content), FsError> {
        match &self.node(id).kind {
            NodeKind::File { size, content } => Ok((*size, content)),
            _ => Err(FsError::NotAFile {
                path: path_for_errors.to_string(),
            }),
        }
    }

    /// Where a blob's bytes are read from.
    fn blob(&self, blob: BlobId, path_for_errors: &str) -> Result<&dyn BlobSource, FsError> {
        self.blobs
            .get(blob.0 as usize)
            .map(|b| &**b)
            .ok_or_else(|| FsError::Read {
                path: path_for_errors.to_string(),
                blob: format!("blob #{}", blob.0),
                source: std::io::Error::other("no such blob was registered"),
            })
    }

    /// Shows the content of a regular file to `see` in order, a piece at a time ([`READ_PIECE`]
    /// bytes), each read into `buf` (kept by the caller between files): hashing a file needs no
    /// buffer of its size. Fails as [`ImageFs::read`] does, and when a piece cannot be read.
    pub fn read_pieces(
        &self,
        id: NodeId,
        path_for_errors: &str,
        buf: &mut Vec<u8>,
        mut see: impl FnMut(&[u8]),
    ) -> Result<u64, FsError> {
        let (size, content) = self.readable_file(id, path_for_errors)?;
        let (blob, offset) = match content {
            Content::Blob { blob, offset } => (*blob, *offset),
            _ => {
                see(&self.read_range(content, size, path_for_errors)?);
                return Ok(size);
            }
        };
        let src = self.blob(blob, path_for_errors)?;
        buf.resize(READ_PIECE.min(size as usize), 0);
        read_in_pieces(src, offset, size, buf, see).map_err(|source| FsError::Read {
            path: path_for_errors.to_string(),
            blob: src.describe(),
            source,
        })?;
        Ok(size)
    }

    /// Reads at most `n` bytes from the start of a regular file.
    pub fn read_prefix(
        &self,
        id: NodeId,
        n: usize,
        path_for_errors: &str,
    ) -> Result<Arc<[u8]>, FsError> {
        let (size, content) = self.file_content(id, path_for_errors)?;
        self.read_range(content, size.min(n as u64), path_for_errors)
    }

    fn read_range(&self, content: &Content, len: u64, path: &str) -> Result<Arc<[u8]>, FsError> {
        match content {
            Content::Inline(bytes) => Ok(Arc::from(&bytes[..(len as usize).min(bytes.len())])),
            Content::NotRetained => Err(FsError::NotRetained {
                path: path.to_string(),
            }),
            Content::Blob { blob, offset } => {
                let src = self.blob(*blob, path)?;
                // Read straight into the shared buffer (`Arc::from(Vec)` would copy it again).
                let mut shared: Arc<[u8]> = std::iter::repeat_n(0u8, len as usize).collect();
                let buf = Arc::get_mut(&mut shared).ok_or_else(|| FsError::Read {
                    path: path.to_string(),
                    blob: src.describe(),
                    source: std::io::Error::other("a new buffer is shared"),
                })?;
                src.read_at(*offset, buf).map_err(|source| FsError::Read {
                    path: path.to_string(),
                    blob: src.describe(),
                    source,
                })?;
                Ok(shared)
            }
        }
    }

    /// Reads a file by path, following symlinks (inside the image).
    pub fn read_path(&self, path: &str) -> Result<Arc<[u8]>, FsError> {
        let r = self.resolve(path, true)?;
        self.read(r.node, &r.path)
    }
}
