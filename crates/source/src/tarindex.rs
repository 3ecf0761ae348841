//! An index of an outer archive (docker-archive, OCI archive): member name → byte range, built by
//! skipping over contents, so that members are then read in place.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use crate::blob::{HostFileBlob, RangeReader};
use crate::SourceError;

/// Members of an archive: regular files with their offsets, symlinks with their targets.
pub struct TarIndex {
    files: BTreeMap<String, (u64, u64)>,
    links: BTreeMap<String, String>,
    blob: Arc<HostFileBlob>,
    location: String,
}

/// A bound on members of an outer archive (hostile archives).
const MAX_MEMBERS: usize = 1_000_000;

impl TarIndex {
    pub fn scan(blob: &Arc<HostFileBlob>, location: &str) -> Result<TarIndex, SourceError> {
        let bad = |why: String| SourceError::Malformed {
            what: "archive".into(),
            location: location.into(),
            why,
        };
        let len = blob.len().map_err(|e| bad(e.to_string()))?;
        let mut archive = tar::Archive::new(SeekableRange {
            inner: blob.range(0, len),
            blob: blob.clone(),
            len,
        });
        let mut files = BTreeMap::new();
        let mut links = BTreeMap::new();
        let entries = archive
            .entries_with_seek()
            .map_err(|e| bad(e.to_string()))?;
        for (i, entry) in entries.enumerate() {
            if i >= MAX_MEMBERS {
                return Err(bad(format!("more than {MAX_MEMBERS} members")));
            }
            let entry = entry.map_err(|e| bad(e.to_string()))?;
            let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            let end = entry
                .raw_file_position()
                .checked_add(entry.size())
                .filter(|e| *e <= len);
            if end.is_none() {
                return Err(bad(format!(
                    "member {name} extends past the end of the archive (truncated?)"
                )));
            }
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    files.insert(name, (entry.raw_file_position(), entry.size()));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        let resolved = if entry.header().entry_type() == tar::EntryType::Link {
                            normalize(&target)
                        } else {
                            let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                            normalize(&format!("{dir}/{target}"))
                        };
                        links.insert(name, resolved);
                    }
                }
                _ => {}
            }
        }
        Ok(TarIndex {
            files,
            links,
            blob: blob.clone(),
            location: location.to_string(),
        })
    }

    /// The byte range of a member (following in-archive links a few times).
    pub fn get(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = normalize(name);
        for _ in 0..8 {
            if let Some(r) = self.files.get(&name) {
                return Some(*r);
            }
            name = self.links.get(&name)?.clone();
        }
        None
    }

    /// A member's bytes, bounded by `max` (small JSON documents).
    pub fn read_small(&self, name: &str, max: u64) -> Result<Vec<u8>, SourceError> {
        let (off, size) = self.get(name).ok_or_else(|| SourceError::MissingBlob {
            name: name.to_string(),
            location: self.location.clone(),
        })?;
        if size > max {
            return Err(SourceError::Malformed {
                what: name.to_string(),
                location: self.location.clone(),
                why: format!("{size} bytes, more than the {max} accepted for a document"),
            });
        }
        let mut buf = Vec::with_capacity(size as usize);
        self.blob
            .range(off, size)
            .read_to_end(&mut buf)
            .map_err(|e| SourceError::Malformed {
                what: name.to_string(),
                location: self.location.clone(),
                why: e.to_string(),
            })?;
        Ok(buf)
    }

    pub fn blob(&self) -> &Arc<HostFileBlob> {
        &self.blob
    }
}

/// Normalises a member name: no leading `./` or `/`, `..` applied lexically.
pub fn normalize(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(c),
        }
    }
    parts.join("/")
}

/// A `Read + Seek` view of the whole archive file for the tar crate's seeking iterator.
struct SeekableRange {
    inner: RangeReader,
    blob: Arc<HostFileBlob>,
    len: u64,
}

impl Read for SeekableRange {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl std::io::Seek for SeekableRange {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let cur = self.inner_pos();
        let new = match pos {
            std::io::SeekFrom::Start(p) => p as i128,
            std::io::SeekFrom::Current(d) => cur as i128 + d as i128,
            std::io::SeekFrom::End(d) => self.len as i128 + d as i128,
        };
        if new < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before start",
            ));
        }
        let new = (new as u64).min(self.len);
        self.inner = self.blob.range(new, self.len - new);
        Ok(new)
    }
}

impl SeekableRange {
    fn inner_pos(&self) -> u64 {
        self.inner.position()
    }
}
