//! The same image in every form we read must give the same answers: `dockergate ls` byte for
//! byte, and the same squashed tree (paths, kinds, modes, owners, sizes, link targets, hard-link
//! groups, file contents).
//!
//! Each image of the corpus (docker-archive tarballs, as `podman save` writes them) is converted
//! with skopeo to an OCI archive, OCI layouts with gzip and zstd layers, by hand to an OCI layout
//! with uncompressed layers, and unpacked to a rootfs directory (umoci, or `tar -x` of a single
//! layer). The corpus is `$DOCKERGATE_TEST_CORPUS` (default /tmp/evalcorpus): a directory of
//! `*.docker.tar` files, or one such file; `$DOCKERGATE_TEST_IMAGES` may name some of them
//! (`nginx,busybox`). Without the corpus or skopeo the test prints a note and passes.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use dockergate_fs::{Content, FsError, ImageFs, NodeKind};
use dockergate_source::{open_image, ImageRef, ReadOptions};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_dockergate");

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn corpus() -> Vec<(String, PathBuf)> {
    let root = PathBuf::from(
        std::env::var("DOCKERGATE_TEST_CORPUS").unwrap_or_else(|_| "/tmp/evalcorpus".into()),
    );
    let wanted: Option<Vec<String>> = std::env::var("DOCKERGATE_TEST_IMAGES")
        .ok()
        .map(|s| s.split(',').map(str::to_string).collect());
    let mut images = Vec::new();
    if root.is_file() {
        let name = root.file_name().unwrap().to_string_lossy();
        let name = name.trim_end_matches(".tar").trim_end_matches(".docker");
        images.push((name.to_string(), root.clone()));
    } else if let Ok(rd) = fs::read_dir(&root) {
        for e in rd.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            if let Some(name) = file.strip_suffix(".docker.tar") {
                images.push((name.to_string(), e.path()));
            }
        }
    }
    images.retain(|(n, _)| wanted.as_ref().is_none_or(|w| w.contains(n)));
    images.sort();
    images
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn skopeo_copy(from: &str, to: &str, extra: &[&str]) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "-q"]).args(extra).args([from, to]);
    run_ok(&mut cmd);
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The docker-archive's layers as plain tar files, bottom first, and the config bytes.
fn docker_layers(archive: &Path, out: &Path) -> (Vec<PathBuf>, Vec<u8>) {
    let mut members: HashMap<String, Vec<u8>> = HashMap::new();
    let mut manifest: Option<serde_json::Value> = None;
    let mut files: HashMap<String, PathBuf> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut ar = tar::Archive::new(File::open(archive).unwrap());
    for (i, e) in ar.entries().unwrap().enumerate() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        match e.header().entry_type() {
            tar::EntryType::Symlink => {
                let t = e
                    .link_name()
                    .unwrap()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
                let joined = dir.join(t).to_string_lossy().into_owned();
                links.insert(name, normalize(&joined));
            }
            tar::EntryType::Regular => {
                if name.ends_with(".json") || name == "manifest.json" {
                    let mut b = Vec::new();
                    e.read_to_end(&mut b).unwrap();
                    if name == "manifest.json" {
                        manifest = Some(serde_json::from_slice(&b).unwrap());
                    }
                    members.insert(name, b);
                } else {
                    let p = out.join(format!("member{i}"));
                    std::io::copy(&mut e, &mut File::create(&p).unwrap()).unwrap();
                    files.insert(name, p);
                }
            }
            _ => {}
        }
    }
    let manifest = manifest.expect("manifest.json");
    let config = members[manifest[0]["Config"].as_str().unwrap()].clone();
    let layers = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let mut n = normalize(l.as_str().unwrap());
            for _ in 0..8 {
                if let Some(t) = links.get(&n) {
                    n = t.clone();
                }
            }
            files[&n].clone()
        })
        .collect();
    (layers, config)
}

fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// An OCI layout whose layers are the uncompressed tars (read in place, like a docker-archive).
fn oci_uncompressed(dir: &Path, layers: &[PathBuf], config: &[u8]) {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = sha256_hex(bytes);
        fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let mut descs = Vec::new();
    for l in layers {
        let bytes = fs::read(l).unwrap();
        let (digest, size) = put(&bytes);
        descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": digest, "size": size,
        }));
    }
    let (cd, cs) = put(config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs,
    }))
    .unwrap();
    let (md, ms) = put(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// A rootfs directory: umoci when there is one, else `tar -x` of a single layer.
fn rootfs(work: &Path, oci_gz: &Path, layers: &[PathBuf]) -> Option<PathBuf> {
    if have("umoci") {
        let bundle = work.join("bundle");
        let ok = Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:latest", oci_gz.display()))
            .arg(&bundle)
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(bundle.join("rootfs"));
        }
        // Not root, or no room for device nodes: fall back to tar below.
        let _ = fs::remove_dir_all(&bundle);
    }
    if layers.len() != 1 {
        return None;
    }
    let root = work.join("rootfs");
    fs::create_dir_all(&root).unwrap();
    run_ok(
        Command::new("tar")
            .args(["-x", "--numeric-owner", "-p", "-f"])
            .arg(&layers[0])
            .arg("-C")
            .arg(&root),
    );
    Some(root)
}

/// One node of the tree as every form must agree on it.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    kind: String,
    mode: u32,
    uid: u64,
    gid: u64,
    /// The first path (sorted) of the file this path is a hard link of.
    link_group: String,
    content: Option<String>,
}

fn tree(fs: &ImageFs) -> BTreeMap<String, Row> {
    let walk = fs.walk();
    let mut first_path: HashMap<_, String> = HashMap::new();
    for (p, id) in &walk {
        if fs.node(*id).is_file() {
            first_path.entry(*id).or_insert_with(|| p.clone());
        }
    }
    let mut hashed: HashMap<_, Option<String>> = HashMap::new();
    let mut rows = BTreeMap::new();
    for (path, id) in walk {
        let n = fs.node(id);
        let kind = match &n.kind {
            NodeKind::Dir { .. } => "dir".to_string(),
            NodeKind::File { size, .. } => format!("file {size}"),
            NodeKind::Symlink { target } => format!("symlink {target}"),
            NodeKind::Special => "special".to_string(),
        };
        let content = match &n.kind {
            NodeKind::File {
                content: Content::NotRetained,
                ..
            } => None,
            NodeKind::File { .. } => hashed
                .entry(id)
                .or_insert_with(|| match fs.read(id, &path) {
                    Ok(b) => Some(sha256_hex(&b)),
                    Err(FsError::NotRetained { .. }) => None,
                    Err(e) => panic!("{e}"),
                })
                .clone(),
            _ => None,
        };
        rows.insert(
            path.clone(),
            Row {
                kind,
                mode: n.mode,
                uid: n.uid,
                gid: n.gid,
                link_group: first_path.get(&id).cloned().unwrap_or_default(),
                content,
            },
        );
    }
    rows
}

/// Differences between two trees, at most a few, as text. Contents are compared only where both
/// forms kept them (a compressed layer does not keep large files that are neither ELF nor script).
fn tree_diff(a: &BTreeMap<String, Row>, b: &BTreeMap<String, Row>) -> Vec<String> {
    let mut out = Vec::new();
    for (p, ra) in a {
        match b.get(p) {
            None => out.push(format!("{p}: only in the first")),
            Some(rb) => {
                let same_content =
                    ra.content.is_none() || rb.content.is_none() || ra.content == rb.content;
                let (mut ra2, mut rb2) = (format!("{ra:?}"), format!("{rb:?}"));
                if same_content {
                    ra2 = format!("{:?}", (&ra.kind, ra.mode, ra.uid, ra.gid, &ra.link_group));
                    rb2 = format!("{:?}", (&rb.kind, rb.mode, rb.uid, rb.gid, &rb.link_group));
                }
                if ra2 != rb2 {
                    out.push(format!("{p}: {ra2} vs {rb2}"));
                }
            }
        }
    }
    for p in b.keys() {
        if !a.contains_key(p) {
            out.push(format!("{p}: only in the second"));
        }
    }
    out.truncate(20);
    out
}

fn ls(image: &str) -> String {
    let out = Command::new(BIN).args(["ls", image]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ls {image}: {stderr}");
    assert!(!stderr.contains("error"), "ls {image}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_form_of_a_corpus_image_lists_the_same() {
    let images = corpus();
    if images.is_empty() {
        eprintln!("note: no corpus images (set DOCKERGATE_TEST_CORPUS); test skipped");
        return;
    }
    if !have("skopeo") {
        eprintln!("note: skopeo is not installed; test skipped");
        return;
    }
    let mut failures = Vec::new();
    for (name, archive) in images {
        let work = tempfile::Builder::new()
            .prefix(&format!("dockergate-formats-{name}-"))
            .tempdir()
            .unwrap();
        let w = work.path();
        let src = format!("docker-archive:{}", archive.display());
        let oci_archive = w.join("image.oci.tar");
        let oci_gz = w.join("oci-gzip");
        let oci_zstd = w.join("oci-zstd");
        let oci_raw = w.join("oci-raw");
        skopeo_copy(&src, &format!("oci-archive:{}", oci_archive.display()), &[]);
        skopeo_copy(
            &src,
            &format!("oci:{}:latest", oci_gz.display()),
            &["--dest-compress", "--dest-compress-format", "gzip"],
        );
        skopeo_copy(
            &src,
            &format!("oci:{}:latest", oci_zstd.display()),
            &["--dest-compress", "--dest-compress-format", "zstd"],
        );
        let (layers, config) = docker_layers(&archive, w);
        oci_uncompressed(&oci_raw, &layers, &config);
        let mut forms = vec![
            src.clone(),
            format!("oci-archive:{}", oci_archive.display()),
            format!("oci:{}:latest", oci_gz.display()),
            format!("oci:{}", oci_zstd.display()),
            format!("oci:{}", oci_raw.display()),
        ];
        match rootfs(w, &oci_gz, &layers) {
            Some(root) => forms.push(format!("dir:{}", root.display())),
            None => eprintln!("note: {name}: no rootfs form (no umoci, several layers)"),
        }
        let reference = ls(&forms[0]);
        assert!(
            !reference.is_empty() || name == "empty",
            "{name}: ls lists nothing"
        );
        let ref_tree = tree(
            &open_image(
                &ImageRef::parse(&forms[0]).unwrap(),
                &ReadOptions::default(),
            )
            .unwrap()
            .fs,
        );
        for form in &forms[1..] {
            let listed = ls(form);
            if listed != reference {
                let a: Vec<&str> = reference.lines().collect();
                let b: Vec<&str> = listed.lines().collect();
                let only_a: Vec<&&str> = a.iter().filter(|l| !b.contains(l)).take(5).collect();
                let only_b: Vec<&&str> = b.iter().filter(|l| !a.contains(l)).take(5).collect();
                failures.push(format!(
                    "{name}: ls of {form} differs ({} vs {} lines; only in the docker-archive: {only_a:?}; only here: {only_b:?})",
                    a.len(),
                    b.len()
                ));
            }
            let image =
                open_image(&ImageRef::parse(form).unwrap(), &ReadOptions::default()).unwrap();
            let diff = tree_diff(&ref_tree, &tree(&image.fs));
            if !diff.is_empty() {
                failures.push(format!(
                    "{name}: tree of {form} differs:\n  {}",
                    diff.join("\n  ")
                ));
            }
        }
        eprintln!(
            "{name}: {} ELF paths, {} tree entries, identical in {} forms",
            reference.lines().count(),
            ref_tree.len(),
            forms.len()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
