//! Path lookup confined to the image root, as the kernel's namei does inside a chroot.

use crate::{FsError, ImageFs, Node, NodeId, NodeKind, MAX_SYMLINK_HOPS};

/// The result of a lookup: the node and its canonical path (no symlinks, no `.` or `..`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub node: NodeId,
    pub path: String,
}

impl ImageFs {
    /// Looks `path` up from the root (a relative path is taken from `/`). Symlinks in the middle
    /// are always followed; the last component is followed when `follow_last` is set.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Result<Resolved, FsError> {
        self.resolve_at("/", path, follow_last)
    }

    /// Looks `path` up relative to the directory `cwd` (itself an image path).
    pub fn resolve_at(
        &self,
        cwd: &str,
        path: &str,
        follow_last: bool,
    ) -> Result<Resolved, FsError> {
        resolve_in(&self.nodes, cwd, path, follow_last)
    }

    /// True when `path` resolves (following symlinks) to something.
    pub fn exists(&self, path: &str) -> bool {
        self.resolve(path, true).is_ok()
    }

    /// True when `path` resolves (following symlinks) to a directory.
    pub fn is_dir(&self, path: &str) -> bool {
        self.resolve(path, true)
            .map(|r| self.node(r.node).is_dir())
            .unwrap_or(false)
    }
}

/// The lookup itself, over a node table (shared with the builder, which resolves hard links and
/// symlinked parents while the table is still growing).
pub(crate) fn resolve_in(
    nodes: &[Node],
    cwd: &str,
    path: &str,
    follow_last: bool,
) -> Result<Resolved, FsError> {
    let node = |id: NodeId| &nodes[id.0 as usize];
    // `stack` is the canonical path walked so far: (name, node) from the root down.
    let mut stack: Vec<(String, NodeId)> = Vec::new();
    // Components still to walk, in reverse order (the next one is at the end).
    let mut pending: Vec<String> = Vec::new();
    push_components(&mut pending, path);
    if !path.starts_with('/') {
        push_components(&mut pending, cwd);
    }
    let mut hops = 0u32;
    while let Some(comp) = pending.pop() {
        match comp.as_str() {
            "" | "." => continue,
            ".." => {
                stack.pop();
                continue;
            }
            _ => {}
        }
        let dir = stack.last().map_or(ImageFs::ROOT, |(_, id)| *id);
        let NodeKind::Dir { children } = &node(dir).kind else {
            return Err(FsError::NotADirectory { path: join(&stack) });
        };
        let Some(&child) = children.get(comp.as_str()) else {
            let mut p = join(&stack);
            if p != "/" {
                p.push('/');
            }
            p.push_str(&comp);
            return Err(FsError::NotFound { path: p });
        };
        let is_last = pending.iter().all(|c| c.is_empty() || c == ".");
        match &node(child).kind {
            NodeKind::Symlink { target } if !is_last || follow_last => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(FsError::SymlinkLoop {
                        path: path.to_string(),
                    });
                }
                if target.starts_with('/') {
                    stack.clear();
                }
                push_components(&mut pending, target);
            }
            _ => stack.push((comp, child)),
        }
    }
    Ok(Resolved {
        node: stack.last().map_or(ImageFs::ROOT, |(_, id)| *id),
        path: join(&stack),
    })
}

/// Pushes the components of `path` onto `pending` so that the first component is popped first.
fn push_components(pending: &mut Vec<String>, path: &str) {
    for c in path.split('/').rev() {
        if !c.is_empty() {
            pending.push(c.to_string());
        }
    }
}

fn join(stack: &[(String, NodeId)]) -> String {
    if stack.is_empty() {
        return "/".to_string();
    }
    let mut s = String::new();
    for (name, _) in stack {
        s.push('/');
        s.push_str(name);
    }
    s
}
