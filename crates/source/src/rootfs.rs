//! The `dir:` transport: a root filesystem directory on the host, read as one layer. The walk never
//! follows a symlink; symlinks become image symlinks, resolved later inside the image root.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use dockergate_fs::{Content, EntryKind, LayerEntry};

use crate::blob::HostPathBlob;
use crate::{ImageConfig, LayerSink, SourceError};

pub(crate) fn read_rootfs(root: &Path, sink: &mut LayerSink) -> Result<ImageConfig, SourceError> {
    let meta = std::fs::symlink_metadata(root).map_err(|source| SourceError::Open {
        path: root.display().to_string(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(SourceError::Unrecognized {
            path: root.display().to_string(),
            why: "dir: needs a directory".into(),
        });
    }
    let mut entries = Vec::new();
    let mut seen_inodes: HashMap<(u64, u64), String> = HashMap::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let host_dir = root.join(&rel);
        let rd = match std::fs::read_dir(&host_dir) {
            Ok(rd) => rd,
            Err(e) => {
                sink.warnings.push(crate::one_line(&format!(
                    "cannot list {} in dir:{}: {e}; its contents are left out",
                    if rel.is_empty() { "/" } else { &rel },
                    root.display()
                )));
                continue;
            }
        };
        let mut names: Vec<_> = rd.filter_map(Result::ok).map(|e| e.file_name()).collect();
        names.sort();
        for name in names {
            // As the tar transports do: a name that is not UTF-8 is read lossily.
            let name = name.to_string_lossy().into_owned();
            let rel_path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let host = root.join(&rel_path);
            let Ok(m) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            let ft = m.file_type();
            let kind = if ft.is_dir() {
                stack.push(rel_path.clone());
                EntryKind::Dir
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&host)
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                EntryKind::Symlink { target }
            } else if ft.is_file() {
                let key = (m.dev(), m.ino());
                if m.nlink() > 1 {
                    if let Some(first) = seen_inodes.get(&key) {
                        entries.push(LayerEntry {
                            path: rel_path,
                            kind: EntryKind::HardLink {
                                target: first.clone(),
                            },
                            mode: m.mode(),
                            uid: m.uid() as u64,
                            gid: m.gid() as u64,
                        });
                        continue;
                    }
                    seen_inodes.insert(key, rel_path.clone());
                }
                let blob = sink
                    .builder
                    .add_blob(Arc::new(HostPathBlob { path: host.clone() }));
                EntryKind::File {
                    size: m.len(),
                    content: Content::Blob { blob, offset: 0 },
                }
            } else {
                EntryKind::Special
            };
            entries.push(LayerEntry {
                path: rel_path,
                kind,
                mode: m.mode(),
                uid: m.uid() as u64,
                gid: m.gid() as u64,
            });
        }
    }
    // Walk order already puts parents before children and a hard link's target before the link.
    sink.apply(entries, None)?;
    Ok(ImageConfig {
        architecture: String::new(),
        os: "linux".into(),
        ..Default::default()
    })
}
