//! Small real images for the CLI's integration tests: host programs with every library the
//! host's ldd names, copied to their paths into a rootfs, and that rootfs as a docker-archive.
//! Shared by several test binaries; each uses a part.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

/// Copies `programs` to the same paths under `root`, with every library their ldd names
/// ("libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux… (0x…)").
pub fn copy_with_libraries(root: &Path, programs: &[&str]) {
    for prog in programs {
        copy_in(root, prog, prog);
        let out = Command::new("ldd").arg(prog).output().expect("ldd runs");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let path = match line.split_once("=>") {
                Some((_, r)) => r.split_whitespace().next(),
                None => line.split_whitespace().next(),
            };
            if let Some(p) = path.filter(|p| p.starts_with('/')) {
                copy_in(root, p, p);
            }
        }
    }
}

/// Copies the host file `from` to `to` under `root` (following symlinks).
pub fn copy_in(root: &Path, from: &str, to: &str) {
    let dest = root.join(to.trim_start_matches('/'));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from, &dest).unwrap_or_else(|e| panic!("copy {from}: {e}"));
}

/// A docker-archive (`podman save` layout) of `rootfs` as one uncompressed layer, with `cmd` as
/// the config's Cmd and the usual PATH.
pub fn docker_archive(rootfs: &Path, cmd: &[&str], out: &Path) {
    docker_archive_with(rootfs, cmd, serde_json::json!({}), out)
}

/// Like [`docker_archive`], with more fields in the config's `config` object (`Healthcheck`…).
pub fn docker_archive_with(rootfs: &Path, cmd: &[&str], more: serde_json::Value, out: &Path) {
    let mut layer = tar::Builder::new(Vec::new());
    layer.follow_symlinks(false);
    layer.append_dir_all(".", rootfs).unwrap();
    let layer = layer.into_inner().unwrap();
    let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&layer)));
    let mut inner = serde_json::json!({
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": cmd,
    });
    if let (Some(inner), Some(more)) = (inner.as_object_mut(), more.as_object()) {
        inner.extend(more.clone());
    }
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": inner,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    });
    let manifest = serde_json::json!([{
        "Config": "config.json",
        "RepoTags": ["localhost/dockergate-test:latest"],
        "Layers": ["layer.tar"],
    }]);
    let mut archive = tar::Builder::new(std::fs::File::create(out).unwrap());
    for (name, data) in [
        ("manifest.json", serde_json::to_vec(&manifest).unwrap()),
        ("config.json", serde_json::to_vec(&config).unwrap()),
        ("layer.tar", layer),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        archive.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    archive.finish().unwrap();
}

/// The names a written profile allows (its SCMP_ACT_ALLOW rules).
pub fn allowed_names(profile: &Path) -> Vec<String> {
    let profile: serde_json::Value =
        serde_json::from_slice(&std::fs::read(profile).unwrap()).unwrap();
    profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|r| r["names"].as_array().unwrap().iter())
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}
