//! Every ELF file of an image, parsed once: the objects the loader model and the analysis work on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use dockergate_elf::{parse_elf, ElfError, ElfObject};
use dockergate_fs::{ImageFs, NodeId, NodeKind};
use rayon::prelude::*;

/// An ELF file of the image: its first path (in sorted order) and what parsing it gave.
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    pub node: NodeId,
    /// Every path of the image that is this file (hard links), sorted.
    pub paths: Vec<String>,
    pub size: u64,
    pub elf: Result<Arc<ElfObject>, ElfError>,
}

/// A problem reading a file while scanning (the file is left out, the scan goes on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanWarning {
    pub path: String,
    pub message: String,
}

/// All ELF files of an image, found by content (the `\x7fELF` magic), not by name or mode.
#[derive(Debug, Default)]
pub struct ElfCatalog {
    by_node: HashMap<NodeId, usize>,
    entries: Vec<CatalogEntry>,
    by_path: BTreeMap<String, usize>,
    pub warnings: Vec<ScanWarning>,
}

impl ElfCatalog {
    /// Scans every regular file of the image (in parallel), reading only the first bytes of
    /// files that are not ELF.
    pub fn scan(fs: &ImageFs) -> ElfCatalog {
        let mut files: BTreeMap<NodeId, Vec<String>> = BTreeMap::new();
        for (path, id) in fs.walk() {
            if let NodeKind::File { size, .. } = fs.node(id).kind {
                if size >= 4 {
                    files.entry(id).or_default().push(path);
                }
            }
        }
        let list: Vec<(NodeId, Vec<String>)> = files.into_iter().collect();
        let results: Vec<Result<Option<CatalogEntry>, ScanWarning>> = list
            .into_par_iter()
            .map(|(node, mut paths)| {
                paths.sort();
                let first = paths[0].clone();
                let warn = |e: dockergate_fs::FsError| ScanWarning {
                    path: first.clone(),
                    message: e.to_string(),
                };
                let head = match fs.read_prefix(node, 4, &first) {
                    Ok(h) => h,
                    // A file whose content was not retained is neither ELF nor a script.
                    Err(dockergate_fs::FsError::NotRetained { .. }) => return Ok(None),
                    Err(e) => return Err(warn(e)),
                };
                if !dockergate_elf::is_elf(&head) {
                    return Ok(None);
                }
                let bytes = fs.read(node, &first).map_err(warn)?;
                let elf = parse_elf(&bytes).map(Arc::new);
                Ok(Some(CatalogEntry {
                    node,
                    paths,
                    size: bytes.len() as u64,
                    elf,
                }))
            })
            .collect();
        let mut cat = ElfCatalog::default();
        for r in results {
            match r {
                Ok(Some(e)) => {
                    let i = cat.entries.len();
                    cat.by_node.insert(e.node, i);
                    for p in &e.paths {
                        cat.by_path.insert(p.clone(), i);
                    }
                    cat.entries.push(e);
                }
                Ok(None) => {}
                Err(w) => cat.warnings.push(w),
            }
        }
        cat
    }

    /// The parsed object of a node, when it is a well-formed ELF file.
    pub fn elf(&self, node: NodeId) -> Option<&Arc<ElfObject>> {
        self.by_node
            .get(&node)
            .and_then(|&i| self.entries[i].elf.as_ref().ok())
    }

    pub fn entry(&self, node: NodeId) -> Option<&CatalogEntry> {
        self.by_node.get(&node).map(|&i| &self.entries[i])
    }

    /// Every ELF file, one entry per file (hard links share one), in order of first path.
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// Every (path, entry) pair, sorted by path.
    pub fn paths(&self) -> impl Iterator<Item = (&str, &CatalogEntry)> {
        self.by_path
            .iter()
            .map(|(p, &i)| (p.as_str(), &self.entries[i]))
    }
}
