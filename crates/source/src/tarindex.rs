//! An index of an outer archive (docker-archive, OCI archive): member name → byte range, built by
//! skipping over contents, so that members are then read in place.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use crate::blob::{HostFileBlob, WindowReader};
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
        if len == 0 {
            return Err(bad("the file is empty".into()));
        }
        let mut head = [0u8; 6];
        let n = (len as usize).min(head.len());
        blob.read_exact_at(&mut head[..n], 0)
            .map_err(|e| bad(e.to_string()))?;
        if let Some(kind) = compressed_kind(&head[..n]) {
            return Err(bad(format!(
                "the archive is {kind}-compressed: decompress it first (a plain tar is read in place)"
            )));
        }
        // What the tar reader's complaints mean for an outer archive.
        let damaged = |e: std::io::Error| {
            let msg = e.to_string();
            if msg.contains("failed to read entire block") || msg.contains("unexpected EOF") {
                bad(format!("truncated, or not a tar archive ({msg})"))
            } else if msg.contains("checksum") || msg.contains("numeric field") {
                bad(format!("not a tar archive, or a damaged one ({msg})"))
            } else {
                bad(msg)
            }
        };
        let mut archive = tar::Archive::new(WindowReader::new(blob.clone(), 0, len, 64 << 10));
        let mut files = BTreeMap::new();
        let mut links = BTreeMap::new();
        let entries = archive.entries_with_seek().map_err(damaged)?;
        for (i, entry) in entries.enumerate() {
            if i >= MAX_MEMBERS {
                return Err(bad(format!("more than {MAX_MEMBERS} members")));
            }
            let entry = entry.map_err(damaged)?;
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
            why: "the archive does not hold it".into(),
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

/// The compression of an archive, from its first bytes.
fn compressed_kind(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some("gzip")
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd")
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else if head.starts_with(b"BZh") {
        Some("bzip2")
    } else {
        None
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
