//! Squashing layers into one tree, with the OCI image-spec rules for whiteouts.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::resolve::resolve_in;
use crate::{BlobId, BlobSource, Content, ImageFs, Node, NodeId, NodeKind};

/// What a layer entry is (tar's type flag, decoded).
#[derive(Clone, Debug)]
pub enum EntryKind {
    Dir,
    File {
        size: u64,
        content: Content,
    },
    Symlink {
        target: String,
    },
    /// A hard link to another path of the image (tar stores the target's path).
    HardLink {
        target: String,
    },
    /// Character or block device, fifo.
    Special,
}

/// One entry of a layer, as read from its tar stream.
#[derive(Clone, Debug)]
pub struct LayerEntry {
    /// The path as stored in the tar (may start with `./` or `/`, may hold `..`).
    pub path: String,
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// Something odd in a layer that was handled without failing: the entry is named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerWarning {
    pub layer: u32,
    pub entry: String,
    pub message: String,
}

impl fmt::Display for LayerWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "layer {}: entry {:?}: {}",
            self.layer, self.entry, self.message
        )
    }
}

/// The limit on nodes was reached: the image holds more entries than we accept.
#[derive(Debug, thiserror::Error)]
#[error("more than {limit} filesystem entries (limit reached in layer {layer})")]
pub struct TooManyEntries {
    pub limit: usize,
    pub layer: u32,
}

/// Builds an [`ImageFs`] one layer at a time.
pub struct ImageFsBuilder {
    nodes: Vec<Node>,
    blobs: Vec<Arc<dyn BlobSource>>,
    layer: u32,
    max_nodes: usize,
}

impl Default for ImageFsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Default bound on the number of nodes of one image (a bound on memory for hostile images).
pub const DEFAULT_MAX_NODES: usize = 4_000_000;

impl ImageFsBuilder {
    pub fn new() -> Self {
        let root = Node {
            kind: NodeKind::Dir {
                children: BTreeMap::new(),
            },
            mode: 0o755,
            uid: 0,
            gid: 0,
            layer: 0,
        };
        ImageFsBuilder {
            nodes: vec![root],
            blobs: Vec::new(),
            layer: 0,
            max_nodes: DEFAULT_MAX_NODES,
        }
    }

    /// Sets the bound on nodes (files, directories, links) of the whole image.
    pub fn max_nodes(mut self, n: usize) -> Self {
        self.max_nodes = n.min(u32::MAX as usize);
        self
    }

    /// Registers where contents of the next entries live; entries refer to it by the returned id.
    pub fn add_blob(&mut self, blob: Arc<dyn BlobSource>) -> BlobId {
        self.blobs.push(blob);
        BlobId(self.blobs.len() as u32 - 1)
    }

    /// Applies one layer on top of the layers applied so far. Whiteouts of this layer hide what
    /// lower layers have; they never hide entries of the same layer (OCI image spec, "Whiteouts").
    pub fn apply_layer(
        &mut self,
        entries: Vec<LayerEntry>,
    ) -> Result<Vec<LayerWarning>, TooManyEntries> {
        self.layer += 1;
        let mut warnings = Vec::new();
        let mut normalized = Vec::with_capacity(entries.len());
        for e in entries {
            match normalize(&e.path) {
                Ok((parts, absolute)) => {
                    if absolute {
                        warnings.push(self.warn(
                            &e.path,
                            "absolute path in layer, taken relative to the image root",
                        ));
                    }
                    normalized.push((parts, e));
                }
                Err(why) => warnings.push(self.warn(&e.path, why)),
            }
        }
        // Pass 1: whiteouts and opaque markers, against the lower layers only.
        for (parts, e) in &normalized {
            let Some(name) = parts.last() else { continue };
            if !name.starts_with(".wh.") {
                continue;
            }
            let parent = &parts[..parts.len() - 1];
            let Some(dir) = self.lookup_literal(parent) else {
                continue;
            };
            let NodeKind::Dir { children } = &mut self.nodes[dir.0 as usize].kind else {
                continue;
            };
            if name == ".wh..wh..opq" {
                children.clear();
            } else if let Some(hidden) = name.strip_prefix(".wh.") {
                if hidden.starts_with(".wh.") {
                    // AUFS metadata (.wh..wh.plnk and such): nothing to apply.
                    continue;
                }
                children.remove(hidden);
            } else {
                warnings.push(self.warn(&e.path, "malformed whiteout"));
            }
        }
        // Pass 2: the entries themselves, in tar order.
        for (parts, e) in normalized {
            let Some(name) = parts.last().cloned() else {
                // The root directory itself ("./"): only its metadata.
                if matches!(e.kind, EntryKind::Dir) {
                    let root = &mut self.nodes[0];
                    root.mode = e.mode & 0o7777;
                }
                continue;
            };
            if name.starts_with(".wh.") {
                continue;
            }
            let dir = self.make_parent_dirs(&parts[..parts.len() - 1], &e.path, &mut warnings)?;
            let Some(dir) = dir else { continue };
            let new_node = match e.kind {
                EntryKind::HardLink { target } => match self.hard_link_target(&target) {
                    Ok(id) => Some(id),
                    Err(why) => {
                        warnings.push(self.warn(
                            &e.path,
                            &format!(
                                "hard link to {target:?}: {}; entry skipped",
                                why.trim_end_matches("; entry skipped")
                            ),
                        ));
                        None
                    }
                },
                EntryKind::Dir => {
                    if let Some(existing) = self.child(dir, &name) {
                        if let NodeKind::Dir { .. } = self.nodes[existing.0 as usize].kind {
                            let n = &mut self.nodes[existing.0 as usize];
                            n.mode = e.mode & 0o7777;
                            n.uid = e.uid;
                            n.gid = e.gid;
                            continue;
                        }
                    }
                    Some(self.push(
                        NodeKind::Dir {
                            children: BTreeMap::new(),
                        },
                        e.mode,
                        e.uid,
                        e.gid,
                    )?)
                }
                EntryKind::File { size, content } => {
                    Some(self.push(NodeKind::File { size, content }, e.mode, e.uid, e.gid)?)
                }
                EntryKind::Symlink { target } if target.len() >= PATH_MAX => {
                    warnings.push(self.warn(
                        &e.path,
                        "symlink target longer than PATH_MAX (4096 bytes); entry skipped",
                    ));
                    None
                }
                EntryKind::Symlink { target } => {
                    Some(self.push(NodeKind::Symlink { target }, e.mode, e.uid, e.gid)?)
                }
                EntryKind::Special => Some(self.push(NodeKind::Special, e.mode, e.uid, e.gid)?),
            };
            if let Some(id) = new_node {
                if let NodeKind::Dir { children } = &mut self.nodes[dir.0 as usize].kind {
                    children.insert(name, id);
                }
            }
        }
        Ok(warnings)
    }

    /// The finished filesystem.
    pub fn finish(self) -> ImageFs {
        ImageFs {
            nodes: self.nodes,
            blobs: self.blobs,
        }
    }

    fn warn(&self, entry: &str, message: &str) -> LayerWarning {
        LayerWarning {
            layer: self.layer.saturating_sub(1),
            entry: entry.to_string(),
            message: message.to_string(),
        }
    }

    fn push(
        &mut self,
        kind: NodeKind,
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> Result<NodeId, TooManyEntries> {
        if self.nodes.len() >= self.max_nodes {
            return Err(TooManyEntries {
                limit: self.max_nodes,
                layer: self.layer.saturating_sub(1),
            });
        }
        self.nodes.push(Node {
            kind,
            mode: mode & 0o7777,
            uid,
            gid,
            layer: self.layer.saturating_sub(1),
        });
        Ok(NodeId(self.nodes.len() as u32 - 1))
    }

    fn child(&self, dir: NodeId, name: &str) -> Option<NodeId> {
        match &self.nodes[dir.0 as usize].kind {
            NodeKind::Dir { children } => children.get(name).copied(),
            _ => None,
        }
    }

    /// Looks a normalized path up without following any symlink.
    fn lookup_literal(&self, parts: &[String]) -> Option<NodeId> {
        let mut cur = NodeId(0);
        for p in parts {
            cur = self.child(cur, p)?;
        }
        Some(cur)
    }

    /// Walks to (creating when missing) the directory that holds an entry. A parent that is a
    /// symlink made by this same layer is followed (inside the root), as tar extraction does; one
    /// from a lower layer is replaced by a directory, as overlayfs shows an upper directory over a
    /// lower non-directory.
    fn make_parent_dirs(
        &mut self,
        parts: &[String],
        entry: &str,
        warnings: &mut Vec<LayerWarning>,
    ) -> Result<Option<NodeId>, TooManyEntries> {
        let layer = self.layer.saturating_sub(1);
        let mut cur = NodeId(0);
        for (i, p) in parts.iter().enumerate() {
            let next = match self.child(cur, p) {
                Some(id) => {
                    let node = &self.nodes[id.0 as usize];
                    match &node.kind {
                        NodeKind::Dir { .. } => Some(id),
                        NodeKind::Symlink { .. } if node.layer == layer => {
                            let fs_view = ImageFsView { nodes: &self.nodes };
                            let path = format!("/{}", parts[..=i].join("/"));
                            match fs_view.resolve_dir(&path) {
                                Some(d) => Some(d),
                                None => {
                                    warnings.push(self.warn(
                                        entry,
                                        "parent directory is a symlink that does not lead to a directory; entry skipped",
                                    ));
                                    return Ok(None);
                                }
                            }
                        }
                        _ => None,
                    }
                }
                None => None,
            };
            cur = match next {
                Some(id) => id,
                None => {
                    let id = self.push(
                        NodeKind::Dir {
                            children: BTreeMap::new(),
                        },
                        0o755,
                        0,
                        0,
                    )?;
                    if let NodeKind::Dir { children } = &mut self.nodes[cur.0 as usize].kind {
                        children.insert(p.clone(), id);
                    }
                    id
                }
            };
        }
        Ok(Some(cur))
    }

    fn hard_link_target(&self, target: &str) -> Result<NodeId, &'static str> {
        let (parts, _) = normalize(target)?;
        let view = ImageFsView { nodes: &self.nodes };
        let path = format!("/{}", parts.join("/"));
        let id = view
            .resolve_nofollow(&path)
            .ok_or("target does not exist")?;
        match self.nodes[id.0 as usize].kind {
            NodeKind::Dir { .. } => Err("target is a directory"),
            _ => Ok(id),
        }
    }
}

/// A borrowed view of the nodes under construction, for lookups with symlinks.
struct ImageFsView<'a> {
    nodes: &'a [Node],
}

impl ImageFsView<'_> {
    fn resolve_dir(&self, path: &str) -> Option<NodeId> {
        let r = resolve_in(self.nodes, "/", path, true).ok()?;
        self.nodes[r.node.0 as usize].is_dir().then_some(r.node)
    }
    fn resolve_nofollow(&self, path: &str) -> Option<NodeId> {
        resolve_in(self.nodes, "/", path, false)
            .ok()
            .map(|r| r.node)
    }
}

/// Linux's bound on a path given to a system call. Longer entry paths and symlink targets could
/// not be used inside a container; refusing them also bounds the cost of deep trees.
pub const PATH_MAX: usize = 4096;

/// Splits a tar path into components, dropping `.` and empty ones and applying `..` lexically.
/// Returns whether the path was absolute. A path that climbs above the root is refused.
fn normalize(path: &str) -> Result<(Vec<String>, bool), &'static str> {
    if path.len() > PATH_MAX {
        return Err("path longer than PATH_MAX (4096 bytes); entry skipped");
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<String> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("path climbs above the image root; entry skipped");
                }
            }
            _ => parts.push(c.to_string()),
        }
    }
    Ok((parts, absolute))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FsError;

    fn file(path: &str, body: &str) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            kind: EntryKind::File {
                size: body.len() as u64,
                content: Content::Inline(Arc::from(body.as_bytes())),
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
        }
    }
    fn dir(path: &str) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            kind: EntryKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
        }
    }
    fn symlink(path: &str, target: &str) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            kind: EntryKind::Symlink {
                target: target.into(),
            },
            mode: 0o777,
            uid: 0,
            gid: 0,
        }
    }
    fn hardlink(path: &str, target: &str) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            kind: EntryKind::HardLink {
                target: target.into(),
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
        }
    }
    fn paths(fs: &ImageFs) -> Vec<String> {
        fs.walk().into_iter().map(|(p, _)| p).collect()
    }
    fn text(fs: &ImageFs, path: &str) -> String {
        String::from_utf8(fs.read_path(path).unwrap().to_vec()).unwrap()
    }

    /// Bytes in memory, read at offsets as an archive would be.
    struct Bytes(Vec<u8>);

    impl crate::BlobSource for Bytes {
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            let at = offset as usize;
            let src = self
                .0
                .get(at..at + buf.len())
                .ok_or_else(|| std::io::Error::other("short"))?;
            buf.copy_from_slice(src);
            Ok(())
        }
        fn describe(&self) -> String {
            "bytes".into()
        }
    }

    #[test]
    fn read_pieces_shows_the_bytes_read_shows_in_order() {
        // A file of 2.5 MiB in a blob (several pieces), one inline, and one cut short.
        let body: Vec<u8> = (0..(5u32 << 19)).map(|i| (i % 251) as u8).collect();
        let mut archive = vec![7u8; 100];
        archive.extend(&body);
        let mut b = ImageFsBuilder::new();
        let blob = b.add_blob(Arc::new(Bytes(archive)));
        let in_blob = |path: &str, size: u64| LayerEntry {
            path: path.into(),
            kind: EntryKind::File {
                size,
                content: Content::Blob { blob, offset: 100 },
            },
            mode: 0o644,
            uid: 0,
            gid: 0,
        };
        b.apply_layer(vec![
            in_blob("big", body.len() as u64),
            in_blob("short", body.len() as u64 + 1),
            file("small", "inline"),
        ])
        .unwrap();
        let fs = b.finish();
        let mut buf = Vec::new();
        for path in ["/big", "/small"] {
            let node = fs.resolve(path, true).unwrap().node;
            let (mut seen, mut pieces) = (Vec::new(), 0);
            let n = fs
                .read_pieces(node, path, &mut buf, |p| {
                    seen.extend_from_slice(p);
                    pieces += 1;
                })
                .unwrap();
            assert_eq!(seen, fs.read(node, path).unwrap().to_vec(), "{path}");
            assert_eq!(n, seen.len() as u64);
            let expected = if path == "/big" {
                body.len().div_ceil(crate::READ_PIECE)
            } else {
                1
            };
            assert_eq!(pieces, expected);
        }
        assert_eq!(&fs.read_path("/big").unwrap()[..], &body[..]);
        let short = fs.resolve("/short", true).unwrap().node;
        assert!(matches!(
            fs.read_pieces(short, "/short", &mut buf, |_| {}),
            Err(FsError::Read { .. })
        ));
    }

    #[test]
    fn whiteout_hides_lower_file_but_not_same_layer() {
        let mut b = ImageFsBuilder::new();
        b.apply_layer(vec![dir("etc"), file("etc/a", "1"), file("etc/b", "2")])
            .unwrap();
        b.apply_layer(vec![
            file("etc/.wh.a", ""),
            file("etc/.wh.c", ""),
            file("etc/c", "3"),
        ])
        .unwrap();
        let fs = b.finish();
        assert_eq!(paths(&fs), ["/etc", "/etc/b", "/etc/c"]);
    }

    #[test]
    fn opaque_directory_hides_lower_children_only() {
        let mut b = ImageFsBuilder::new();
        b.apply_layer(vec![
            dir("d"),
            file("d/old", "1"),
            dir("d/sub"),
            file("d/sub/x", ""),
        ])
        .unwrap();
        b.apply_layer(vec![
            dir("d"),
            file("d/.wh..wh..opq", ""),
            file("d/new", "2"),
        ])
        .unwrap();
        let fs = b.finish();
        assert_eq!(paths(&fs), ["/d", "/d/new"]);
    }

    #[test]
    fn later_layer_overwrites_and_replaces_kinds() {
        let mut b = ImageFsBuilder::new();
        b.apply_layer(vec![file("x", "old"), dir("y"), file("y/z", "")])
            .unwrap();
        b.apply_layer(vec![file("x", "new"), file("y", "now a file")])
            .unwrap();
        let fs = b.finish();
        assert_eq!(text(&fs, "/x"), "new");
        assert_eq!(paths(&fs), ["/x", "/y"]);
    }

    #[test]
    fn hard_links_share_the_node_and_survive_overwrite_of_the_original() {
        let mut b = ImageFsBuilder::new();
        b.apply_layer(vec![
            file("bin/a", "A"),
            hardlink("bin/b", "bin/a"),
            hardlink("./bin/c", "/bin/a"),
        ])
        .unwrap();
        b.apply_layer(vec![file("bin/a", "A2")]).unwrap();
        let fs = b.finish();
        assert_eq!(text(&fs, "/bin/b"), "A");
        assert_eq!(
            fs.resolve("/bin/b", true).unwrap().node,
            fs.resolve("/bin/c", true).unwrap().node
        );
        assert_eq!(text(&fs, "/bin/a"), "A2");
    }

    #[test]
    fn hard_link_to_missing_or_outside_target_is_a_warning() {
        let mut b = ImageFsBuilder::new();
        let w = b
            .apply_layer(vec![
                hardlink("a", "nope"),
                hardlink("b", "../../etc/passwd"),
            ])
            .unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].to_string().contains("\"a\"") && w[0].message.contains("does not exist"),
            "{}",
            w[0]
        );
        assert!(w[1].message.contains("climbs above"), "{}", w[1]);
        assert!(paths(&b.finish()).is_empty());
    }

    #[test]
    fn traversal_and_absolute_entries() {
        let mut b = ImageFsBuilder::new();
        let w = b
            .apply_layer(vec![
                file("../evil", "x"),
                file("/abs", "y"),
                file("a/../b", "z"),
            ])
            .unwrap();
        assert!(w
            .iter()
            .any(|w| w.entry == "../evil" && w.message.contains("climbs above")));
        assert!(w
            .iter()
            .any(|w| w.entry == "/abs" && w.message.contains("absolute")));
        let fs = b.finish();
        assert_eq!(paths(&fs), ["/abs", "/b"]);
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let mut b = ImageFsBuilder::new();
        b.apply_layer(vec![
            dir("usr/lib"),
            file("usr/lib/libc.so.6", "libc"),
            symlink("lib", "usr/lib"),
            symlink("usr/lib/up", "../../../../.."),
            symlink("usr/lib/abs", "/usr/../usr/lib/libc.so.6"),
            symlink("escape", "../../../../etc/shadow"),
        ])
        .unwrap();
        let fs = b.finish();
        assert_eq!(
            fs.resolve("/lib/libc.so.6", true).unwrap().path,
            "/usr/lib/libc.so.6"
        );
        assert_eq!(fs.resolve("/lib/up", true).unwrap().path, "/");
        assert_eq!(text(&fs, "/lib/abs"), "libc");
        // `..` cannot leave the root: the target is looked up as /etc/shadow inside the image.
        assert!(
            matches!(fs.resolve("/escape", true), Err(FsError::NotFound { path }) if path == "/etc")
        );
        assert_eq!(fs.resolve("/lib", false).unwrap().path, "/lib");
        assert_eq!(
            fs.resolve_at("/usr", "lib/../lib/libc.so.6", true)
                .unwrap()
                .path,
            "/usr/lib/libc.so.6"
        );
    }

    #[test]
    fn symlink_loops_end_after_40_hops() {
        let mut b = ImageFsBuilder::new();
        b.apply_layer(vec![
            symlink("a", "b"),
            symlink("b", "a"),
            symlink("self", "./self/x"),
        ])
        .unwrap();
        let fs = b.finish();
        assert!(matches!(
            fs.resolve("/a", true),
            Err(FsError::SymlinkLoop { .. })
        ));
        assert!(matches!(
            fs.resolve("/self", true),
            Err(FsError::SymlinkLoop { .. })
        ));
        assert!(fs.resolve("/a", false).is_ok());
    }

    #[test]
    fn lower_symlink_parent_is_replaced_by_a_directory_same_layer_one_is_followed() {
        let mut b = ImageFsBuilder::new();
        b.apply_layer(vec![
            dir("usr/lib"),
            symlink("lib", "usr/lib"),
            symlink("l2", "usr/lib"),
            file("l2/f", ""),
        ])
        .unwrap();
        b.apply_layer(vec![file("lib/x", "")]).unwrap();
        let fs = b.finish();
        assert!(fs.node(fs.resolve("/lib", false).unwrap().node).is_dir());
        assert_eq!(
            paths(&fs),
            ["/l2", "/lib", "/lib/x", "/usr", "/usr/lib", "/usr/lib/f"]
        );
    }

    #[test]
    fn overlong_paths_and_targets_are_warnings() {
        let mut b = ImageFsBuilder::new();
        let deep = "d/".repeat(3000) + "f";
        let w = b
            .apply_layer(vec![
                file(&deep, "x"),
                symlink("s", &"t/".repeat(3000)),
                file("ok", "y"),
            ])
            .unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].message.contains("PATH_MAX"));
        assert!(w[1].entry == "s" && w[1].message.contains("PATH_MAX"));
        assert_eq!(paths(&b.finish()), ["/ok"]);
    }

    #[test]
    fn node_limit_is_an_error() {
        let mut b = ImageFsBuilder::new().max_nodes(3);
        let err = b
            .apply_layer(vec![file("a", ""), file("b", ""), file("c", "")])
            .unwrap_err();
        assert_eq!(err.limit, 3);
    }
}
