//! Hostile images, made by each test in a temporary directory, read by the real `dockergate`
//! binary. Whatever the input, the process must not panic (exit status 0 or 1, never 101), must
//! say what went wrong in one line (`error: …`, or `warning: …` lines that name the entry), and
//! must write nothing outside its temporary directory (nothing is ever extracted).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_dockergate");

// ---------------------------------------------------------------------------------------------
// Running the binary.

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// Runs `dockergate ARGS` with its working directory and TMPDIR in fresh empty directories under
/// `root`, and checks that both are still empty afterwards (the spill file is unnamed).
fn run(root: &Path, args: &[&str]) -> Out {
    let cwd = root.join("cwd");
    let tmp = root.join("tmpdir");
    fs::create_dir_all(&cwd).unwrap();
    fs::create_dir_all(&tmp).unwrap();
    let out = Command::new(BIN)
        .args(args)
        .current_dir(&cwd)
        .env("TMPDIR", &tmp)
        .output()
        .expect("run dockergate");
    for d in [&cwd, &tmp] {
        let left: Vec<_> = fs::read_dir(d).unwrap().collect();
        assert!(left.is_empty(), "dockergate left files in {}", d.display());
    }
    let out = Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_ne!(out.code, Some(101), "dockergate panicked:\n{}", out.stderr);
    assert!(out.code.is_some(), "dockergate was killed:\n{}", out.stderr);
    out
}

/// Exit status 1 and exactly one line on stderr, `error: …`, holding every one of `needles`.
fn assert_error(out: &Out, needles: &[&str]) {
    assert_eq!(out.code, Some(1), "stderr: {}", out.stderr);
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "want one line, got: {:?}", out.stderr);
    assert!(lines[0].starts_with("error: "), "{:?}", lines[0]);
    eprintln!("{}", lines[0]);
    for n in needles {
        assert!(
            lines[0].contains(n),
            "{:?} does not mention {n:?}",
            lines[0]
        );
    }
}

/// Exit status 0 and only `warning: ` lines on stderr.
fn assert_ok_with_warnings(out: &Out) {
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    eprint!("{}", out.stderr);
    for l in out.stderr_lines() {
        assert!(l.starts_with("warning: "), "unexpected stderr line {l:?}");
    }
}

/// The one warning line that names `entry` (as the tar stores it, Rust-quoted).
fn warning_for<'a>(out: &'a Out, entry: &str) -> &'a str {
    let quoted = format!("{entry:?}");
    let found: Vec<&str> = out
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains(&quoted))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "want one warning naming {quoted}: {}",
        out.stderr
    );
    found[0]
}

fn ls_paths(out: &Out) -> Vec<&str> {
    out.stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Making images.

/// A minimal static x86-64 executable (`exit(0)`): ELF header, one PT_LOAD, 12 bytes of code.
fn tiny_elf() -> Vec<u8> {
    let code: &[u8] = &[
        0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05, 0xeb, 0xfe, 0x90,
    ];
    let len = 64 + 56 + code.len();
    let mut e = vec![0u8; 64 + 56];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 2; // ELFCLASS64
    e[5] = 1; // little endian
    e[6] = 1; // EV_CURRENT
    let put16 =
        |e: &mut Vec<u8>, at: usize, v: u16| e[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 =
        |e: &mut Vec<u8>, at: usize, v: u32| e[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put64 =
        |e: &mut Vec<u8>, at: usize, v: u64| e[at..at + 8].copy_from_slice(&v.to_le_bytes());
    put16(&mut e, 16, 2); // ET_EXEC
    put16(&mut e, 18, 62); // EM_X86_64
    put32(&mut e, 20, 1);
    put64(&mut e, 24, 0x400000 + 120); // e_entry
    put64(&mut e, 32, 64); // e_phoff
    put16(&mut e, 52, 64); // e_ehsize
    put16(&mut e, 54, 56); // e_phentsize
    put16(&mut e, 56, 1); // e_phnum
    put16(&mut e, 58, 64); // e_shentsize
    put32(&mut e, 64, 1); // PT_LOAD
    put32(&mut e, 68, 5); // R X
    put64(&mut e, 72, 0); // p_offset
    put64(&mut e, 80, 0x400000); // p_vaddr
    put64(&mut e, 88, 0x400000); // p_paddr
    put64(&mut e, 96, len as u64); // p_filesz
    put64(&mut e, 104, len as u64); // p_memsz
    put64(&mut e, 112, 0x1000); // p_align
    e.extend_from_slice(code);
    e
}

/// One tar entry, with its name stored verbatim (no checks: hostile names are the point).
enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    Exe(&'a str, &'a [u8]),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
}

fn raw_header(name: &str, kind: tar::EntryType, size: u64, mode: u32, link: &str) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    {
        let old = h.as_old_mut();
        assert!(
            name.len() < 100 && link.len() < 100,
            "keep fixture names short"
        );
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    h
}

fn layer_tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let (h, data): (_, &[u8]) = match e {
            E::Dir(p) => (raw_header(p, tar::EntryType::Directory, 0, 0o755, ""), &[]),
            E::File(p, d) => (
                raw_header(p, tar::EntryType::Regular, d.len() as u64, 0o644, ""),
                d,
            ),
            E::Exe(p, d) => (
                raw_header(p, tar::EntryType::Regular, d.len() as u64, 0o755, ""),
                d,
            ),
            E::Sym(p, t) => (raw_header(p, tar::EntryType::Symlink, 0, 0o777, t), &[]),
            E::Hard(p, t) => (raw_header(p, tar::EntryType::Link, 0, 0o644, t), &[]),
        };
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn sha256_file(p: &Path) -> String {
    let mut h = Sha256::new();
    let mut f = File::open(p).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn write(p: &Path, bytes: &[u8]) -> PathBuf {
    fs::write(p, bytes).unwrap();
    p.to_path_buf()
}

fn config_json(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/true"], "Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// A docker-archive as `podman save` writes it: `HEX.tar` layers named by their sha256, `HEX.json`
/// config, `manifest.json`. `names` overrides the member names of the layers (hostile cases).
fn docker_archive(out: &Path, layers: &[&Path], names: Option<&[&str]>, diff_ids: &[String]) {
    let mut b = tar::Builder::new(BufWriter::new(File::create(out).unwrap()));
    let mut layer_names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = match names {
            Some(n) => n[i].to_string(),
            None => format!("{}.tar", sha256_file(l)),
        };
        let mut h = tar::Header::new_ustar();
        h.set_size(fs::metadata(l).unwrap().len());
        h.set_mode(0o444);
        b.append_data(&mut h, &name, File::open(l).unwrap())
            .unwrap();
        layer_names.push(name);
    }
    let config = config_json(diff_ids);
    let config_name = format!("{}.json", sha256(&config));
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["localhost/hostile:latest"],
        "Layers": layer_names,
    }]))
    .unwrap();
    for (name, data) in [
        (config_name.as_str(), &config),
        ("manifest.json", &manifest),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o444);
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap().flush().unwrap();
}

/// An OCI image layout directory with one image; returns the layer digests (`sha256:HEX`).
fn oci_dir(dir: &Path, layers: &[(&Path, &str)], diff_ids: &[String]) -> Vec<String> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = sha256(bytes);
        fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let mut descs = Vec::new();
    let mut digests = Vec::new();
    for (path, media_type) in layers {
        let hex = sha256_file(path);
        fs::copy(path, blobs.join(&hex)).unwrap();
        descs.push(serde_json::json!({
            "mediaType": media_type,
            "digest": format!("sha256:{hex}"),
            "size": fs::metadata(path).unwrap().len(),
        }));
        digests.push(format!("sha256:{hex}"));
    }
    let (cfg_digest, cfg_size) = put(&config_json(diff_ids));
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": cfg_size},
        "layers": descs,
    }))
    .unwrap();
    let (m_digest, m_size) = put(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": m_digest, "size": m_size,
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
        }],
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    digests
}

/// An OCI archive: the layout directory `dir` as a tar.
fn oci_archive(dir: &Path, out: &Path) {
    let mut b = tar::Builder::new(File::create(out).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap();
}

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const TAR_GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// A docker-archive of one layer made of `entries`, with correct digests.
fn simple_docker_archive(root: &Path, entries: &[E]) -> String {
    let layer = write(&root.join("layer.tar"), &layer_tar(entries));
    let img = root.join("image.tar");
    docker_archive(
        &img,
        &[&layer],
        None,
        &[format!("sha256:{}", sha256_file(&layer))],
    );
    format!("docker-archive:{}", img.display())
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("dockergate-hostile-")
        .tempdir()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The cases.

#[test]
fn a_plain_fixture_image_reads_cleanly_in_every_form() {
    let t = tempdir();
    let elf = tiny_elf();
    let entries = [
        E::Dir("bin"),
        E::Exe("bin/true", &elf),
        E::File("etc/os-release", b"ID=test\n"),
    ];
    let img = simple_docker_archive(t.path(), &entries);
    let out = run(t.path(), &["ls", &img]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stderr, "");
    assert_eq!(
        out.stdout,
        "/bin/true\tstatic-executable\tx86-64\t132\tstatic\n"
    );
    let tar_bytes = layer_tar(&entries);
    let diff = format!("sha256:{}", sha256(&tar_bytes));
    let forms: [(&str, Vec<u8>); 3] = [
        (TAR, tar_bytes.clone()),
        (TAR_GZ, gzip(&tar_bytes)),
        (TAR_ZSTD, zstd::encode_all(tar_bytes.as_slice(), 3).unwrap()),
    ];
    for (i, (mt, bytes)) in forms.iter().enumerate() {
        let blob = write(&t.path().join(format!("blob{i}")), bytes);
        let dir = t.path().join(format!("oci{i}"));
        oci_dir(&dir, &[(&blob, mt)], std::slice::from_ref(&diff));
        let o = run(t.path(), &["ls", &format!("oci:{}:latest", dir.display())]);
        assert_eq!(
            (o.code, o.stderr.as_str(), &o.stdout),
            (Some(0), "", &out.stdout),
            "{mt}"
        );
        let arch = t.path().join(format!("oci{i}.tar"));
        oci_archive(&dir, &arch);
        let o = run(
            t.path(),
            &["ls", &format!("oci-archive:{}", arch.display())],
        );
        assert_eq!(
            (o.code, o.stderr.as_str(), &o.stdout),
            (Some(0), "", &out.stdout),
            "{mt}"
        );
    }
}

#[test]
fn traversal_and_absolute_entries_stay_in_the_image() {
    let t = tempdir();
    let unique = t.path().file_name().unwrap().to_str().unwrap().to_string();
    // If anything were extracted from the working directory, these would land in /tmp.
    let climbing = format!("../../../../../../../../tmp/{unique}-climb");
    let absolute = format!("/tmp/{unique}-abs");
    let elf = tiny_elf();
    let img = simple_docker_archive(
        t.path(),
        &[
            E::Exe(&climbing, &elf),
            E::Exe(&absolute, &elf),
            E::Exe("./bin/../bin/true", &elf),
            E::File("a/b/../../../../up", b"x"),
        ],
    );
    let out = run(t.path(), &["ls", &img]);
    assert_ok_with_warnings(&out);
    assert!(warning_for(&out, &climbing).contains("climbs above the image root"));
    assert!(warning_for(&out, &absolute).contains("absolute"));
    assert!(warning_for(&out, "a/b/../../../../up").contains("climbs above"));
    assert_eq!(out.stderr_lines().len(), 3, "{}", out.stderr);
    // The absolute entry is taken relative to the image root; the climbing one is dropped.
    assert_eq!(ls_paths(&out), ["/bin/true", absolute.as_str()]);
    assert!(!Path::new(&format!("/tmp/{unique}-climb")).exists());
    assert!(!Path::new(&absolute).exists());
}

#[test]
fn symlinks_out_of_the_root_resolve_inside_it() {
    let t = tempdir();
    // A real ELF on the host, where an escaping lookup would find it.
    let host = t.path().join("host");
    fs::create_dir(&host).unwrap();
    write(&host.join("outside"), &tiny_elf());
    let host_rel = host.display().to_string();
    let up = "../".repeat(12);
    let climb = format!("{up}{}", host_rel.trim_start_matches('/'));
    let elf = tiny_elf();
    let img = simple_docker_archive(
        t.path(),
        &[
            E::Exe("bin/true", &elf),
            E::Sym("esc", &climb),
            E::Sym("chain1", "esc"),
            E::Sym("chain2", "chain1/outside"),
            E::Sym("abs", &format!("{host_rel}/outside")),
            E::Sym("back", &format!("{up}bin/true")),
            E::Sym("dotdot", "../../.."),
        ],
    );
    let ls = run(t.path(), &["ls", &img]);
    assert_ok_with_warnings(&ls);
    assert_eq!(ls.stderr, "");
    assert_eq!(ls_paths(&ls), ["/bin/true"]);
    for p in ["/chain2", "/abs", "/esc/outside"] {
        let out = run(t.path(), &["ldd", &img, p]);
        assert_error(&out, &[p, "no such file"]);
    }
    // `..` stops at the image root, so this one leads back to the image's own /bin/true.
    let out = run(t.path(), &["ldd", &img, "/back"]);
    assert!(matches!(out.code, Some(0) | Some(1)), "{}", out.stderr);
    assert!(!out.stderr.contains("no such file"), "{}", out.stderr);
    let out = run(t.path(), &["ldd", &img, "/dotdot/bin/true"]);
    assert!(!out.stderr.contains("no such file"), "{}", out.stderr);
}

#[test]
fn symlink_loops_are_reported_with_the_path() {
    let t = tempdir();
    let elf = tiny_elf();
    let img = simple_docker_archive(
        t.path(),
        &[
            E::Exe("bin/true", &elf),
            E::Sym("loop1", "loop2"),
            E::Sym("loop2", "/loop1"),
            E::Sym("self", "./self/x"),
            E::Sym("bin/sh", "../loop1"),
        ],
    );
    let ls = run(t.path(), &["ls", &img]);
    assert_eq!((ls.code, ls.stderr.as_str()), (Some(0), ""));
    assert_eq!(ls_paths(&ls), ["/bin/true"]);
    for p in ["/loop1", "/self", "/bin/sh"] {
        let out = run(t.path(), &["ldd", &img, p]);
        assert_error(&out, &[p, "symbolic links"]);
    }
}

#[test]
fn hard_links_to_missing_or_outside_targets_are_warnings() {
    let t = tempdir();
    let elf = tiny_elf();
    let img = simple_docker_archive(
        t.path(),
        &[
            E::Exe("bin/true", &elf),
            E::Hard("bin/ok", "bin/true"),
            E::Hard("bin/missing", "bin/nope"),
            E::Hard("bin/outside", "../../../../etc/passwd"),
            E::Hard("bin/absolute", "/etc/passwd"),
            E::Hard("bin/dir", "bin"),
            E::Hard("bin/self", "bin/self"),
        ],
    );
    let out = run(t.path(), &["ls", &img]);
    assert_ok_with_warnings(&out);
    assert!(warning_for(&out, "bin/missing").contains("does not exist"));
    assert!(warning_for(&out, "bin/outside").contains("climbs above"));
    assert!(warning_for(&out, "bin/absolute").contains("does not exist"));
    assert!(warning_for(&out, "bin/dir").contains("directory"));
    assert!(warning_for(&out, "bin/self").contains("does not exist"));
    assert_eq!(out.stderr_lines().len(), 5, "{}", out.stderr);
    assert_eq!(ls_paths(&out), ["/bin/ok", "/bin/true"]);
}

/// A gzip layer of one file of `zeros` zero bytes, written by a streaming encoder (bounded memory).
fn bomb_layer(path: &Path, zeros: u64) {
    let gz = flate2::write::GzEncoder::new(
        BufWriter::new(File::create(path).unwrap()),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(gz);
    let h = raw_header("zeros", tar::EntryType::Regular, zeros, 0o644, "");
    b.append(&h, io::repeat(0).take(zeros)).unwrap();
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

#[test]
fn decompression_bombs_stop_at_the_limits() {
    let t = tempdir();
    let bomb = t.path().join("bomb.tar.gz");
    bomb_layer(&bomb, 200 << 20);
    assert!(fs::metadata(&bomb).unwrap().len() < 2 << 20);
    let dir = t.path().join("oci");
    let digests = oci_dir(&dir, &[(&bomb, TAR_GZ)], &[]);
    let img = format!("oci:{}", dir.display());
    let out = run(t.path(), &["ls", "--max-layer-bytes", "10000000", &img]);
    assert_error(&out, &[&digests[0], "--max-layer-bytes", "10000000"]);
    let out = run(t.path(), &["ls", "--max-image-bytes", "10000000", &img]);
    assert_error(&out, &[&digests[0], "--max-image-bytes", "10000000"]);

    // The image limit counts every layer: two layers of 6 MB each pass a 10 MB layer limit, not a
    // 10 MB image limit; the error names the second layer.
    let small = t.path().join("small.tar.gz");
    bomb_layer(&small, 6_000_000);
    let dir2 = t.path().join("oci2");
    let d2 = oci_dir(&dir2, &[(&small, TAR_GZ), (&bomb, TAR_GZ)], &[]);
    let img2 = format!("oci:{}", dir2.display());
    let arch = t.path().join("two.docker.tar");
    docker_archive(&arch, &[&small, &small], None, &[]);
    let arch = format!("docker-archive:{}", arch.display());
    let out = run(t.path(), &["ls", "--max-layer-bytes", "10000000", &arch]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""));
    let out = run(t.path(), &["ls", "--max-image-bytes", "10000000", &arch]);
    assert_error(&out, &["--max-image-bytes", "10000000"]);
    let out = run(t.path(), &["ls", "--max-image-bytes", "10000000", &img2]);
    assert_error(&out, &[&d2[1], "--max-image-bytes", "10000000"]);
}

#[test]
fn truncated_layers_name_the_layer() {
    let t = tempdir();
    let elf = tiny_elf();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let tar_bytes = layer_tar(&[E::Exe("bin/true", &elf), E::File("data", &big)]);
    let cut = &tar_bytes[..tar_bytes.len() / 2];

    // An uncompressed layer cut in the middle of a file, named by the digest of what remains.
    let layer = write(&t.path().join("cut.tar"), cut);
    let arch = t.path().join("cut.docker.tar");
    docker_archive(&arch, &[&layer], None, &[]);
    let name = format!("{}.tar", sha256(cut));
    let out = run(
        t.path(),
        &["ls", &format!("docker-archive:{}", arch.display())],
    );
    assert_error(&out, &[&name, "truncated"]);

    // The same as an OCI layer.
    let dir = t.path().join("oci-tar");
    let d = oci_dir(&dir, &[(&layer, TAR)], &[]);
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[&d[0], "truncated"]);

    // A gzip stream cut in the middle.
    let gz = gzip(&tar_bytes);
    let gz_cut = write(&t.path().join("cut.tar.gz"), &gz[..gz.len() / 2]);
    let dir = t.path().join("oci-gz");
    let d = oci_dir(&dir, &[(&gz_cut, TAR_GZ)], &[]);
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[&d[0], "truncated"]);

    // A complete gzip stream of a tar cut in the middle of a retained file.
    let gz_of_cut = write(&t.path().join("gzofcut.tar.gz"), &gzip(cut));
    let dir = t.path().join("oci-gz-of-cut");
    let d = oci_dir(&dir, &[(&gz_of_cut, TAR_GZ)], &[]);
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[&d[0], "truncated"]);

    // A zstd stream cut in the middle.
    let zs = zstd::encode_all(tar_bytes.as_slice(), 3).unwrap();
    let zs_cut = write(&t.path().join("cut.tar.zst"), &zs[..zs.len() / 2]);
    let dir = t.path().join("oci-zst");
    let d = oci_dir(&dir, &[(&zs_cut, TAR_ZSTD)], &[]);
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[&d[0], "truncated"]);

    // The gzip layer inside a docker-archive.
    let arch = t.path().join("gz.docker.tar");
    docker_archive(&arch, &[&gz_cut], None, &[]);
    let out = run(
        t.path(),
        &["ls", &format!("docker-archive:{}", arch.display())],
    );
    assert_error(
        &out,
        &[&format!("{}.tar", sha256(&gz[..gz.len() / 2])), "truncated"],
    );

    // The outer archive itself cut in the middle of the layer.
    let full = write(&t.path().join("full.tar"), &tar_bytes);
    let arch = t.path().join("whole.docker.tar");
    docker_archive(&arch, &[&full], None, &[]);
    let bytes = fs::read(&arch).unwrap();
    let cut_arch = write(
        &t.path().join("cutouter.docker.tar"),
        &bytes[..bytes.len() / 3],
    );
    let out = run(
        t.path(),
        &["ls", &format!("docker-archive:{}", cut_arch.display())],
    );
    assert_error(&out, &[&cut_arch.display().to_string(), "truncated"]);
}

#[test]
fn a_tar_size_field_past_the_end_is_truncation() {
    let t = tempdir();
    let elf = tiny_elf();
    let mut bytes = layer_tar(&[E::Exe("bin/true", &elf)]);
    // Rewrite the size of the entry to 8 GiB - 1 and fix the checksum.
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&bytes[..512]);
    h.set_size(0o77777777777);
    h.set_cksum();
    bytes[..512].copy_from_slice(h.as_bytes());
    let layer = write(&t.path().join("huge.tar"), &bytes);
    let arch = t.path().join("huge.docker.tar");
    docker_archive(&arch, &[&layer], None, &[]);
    let out = run(
        t.path(),
        &["ls", &format!("docker-archive:{}", arch.display())],
    );
    assert_error(&out, &[&format!("{}.tar", sha256(&bytes)), "truncated"]);
    let gz = write(&t.path().join("huge.tar.gz"), &gzip(&bytes));
    let dir = t.path().join("oci");
    let d = oci_dir(&dir, &[(&gz, TAR_GZ)], &[]);
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[&d[0], "truncated"]);
}

#[test]
fn a_corrupt_tar_header_names_the_layer() {
    let t = tempdir();
    let elf = tiny_elf();
    let mut bytes = layer_tar(&[E::Exe("bin/true", &elf), E::File("etc/x", b"x")]);
    bytes[512 + 512 + 10] ^= 0x55; // inside the name of the second header: checksum mismatch
    let layer = write(&t.path().join("bad.tar"), &bytes);
    let dir = t.path().join("oci");
    let d = oci_dir(&dir, &[(&layer, TAR)], &[]);
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[&d[0], "checksum"]);
}

#[test]
fn a_manifest_naming_a_missing_blob_is_an_error() {
    let t = tempdir();
    let layer = write(&t.path().join("l.tar"), &layer_tar(&[E::File("a", b"a")]));
    let arch = t.path().join("img.tar");
    docker_archive(&arch, &[&layer], Some(&["nothere/layer.tar"]), &[]);
    // The member the manifest names is not the one we wrote: rewrite the archive without it.
    let arch2 = t.path().join("img2.tar");
    {
        let mut src = tar::Archive::new(File::open(&arch).unwrap());
        let mut b = tar::Builder::new(File::create(&arch2).unwrap());
        for e in src.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().into_owned();
            if path.to_str() == Some("nothere/layer.tar") {
                continue;
            }
            let mut h = e.header().clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            b.append_data(&mut h, &path, data.as_slice()).unwrap();
        }
        b.into_inner().unwrap();
    }
    let out = run(
        t.path(),
        &["ls", &format!("docker-archive:{}", arch2.display())],
    );
    assert_error(&out, &["nothere/layer.tar", "missing"]);

    let dir = t.path().join("oci");
    let d = oci_dir(&dir, &[(&layer, TAR)], &[]);
    fs::remove_file(
        dir.join("blobs/sha256")
            .join(d[0].trim_start_matches("sha256:")),
    )
    .unwrap();
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[&d[0], "missing"]);
    let arch = t.path().join("oci.tar");
    oci_archive(&dir, &arch);
    let out = run(
        t.path(),
        &["ls", &format!("oci-archive:{}", arch.display())],
    );
    assert_error(&out, &[&d[0], "missing"]);
}

#[test]
fn blobs_that_do_not_match_their_digest_are_refused() {
    let t = tempdir();
    let good = layer_tar(&[E::File("a", b"good")]);
    let evil = layer_tar(&[E::File("a", b"evil")]);
    let evil_path = write(&t.path().join("evil.tar"), &evil);

    // docker-archive: a layer member named by the digest of other bytes.
    let arch = t.path().join("img.tar");
    let name = format!("{}.tar", sha256(&good));
    docker_archive(&arch, &[&evil_path], Some(&[name.as_str()]), &[]);
    let out = run(
        t.path(),
        &["ls", &format!("docker-archive:{}", arch.display())],
    );
    assert_error(
        &out,
        &[&name, "digest mismatch", &sha256(&good), &sha256(&evil)],
    );
    // `profile` checks the digests while it analyses: the same error, and nothing written.
    let written = t.path().join("evil.profile.json");
    let db = t.path().join("cache.db");
    for cache in [&["--no-cache"][..], &["--cache", db.to_str().unwrap()][..]] {
        let mut args = vec!["profile", "-o", written.to_str().unwrap()];
        args.extend_from_slice(cache);
        let image = format!("docker-archive:{}", arch.display());
        args.push(&image);
        let out = run(t.path(), &args);
        assert_error(
            &out,
            &[&name, "digest mismatch", &sha256(&good), &sha256(&evil)],
        );
        assert!(!written.exists());
    }
    // A later layer that cannot be read does not hide that an earlier one is not what its
    // digest says (its check may still be going on when the later one fails).
    let broken = write(&t.path().join("broken.tar"), &vec![b'x'; 3000]);
    let arch3 = t.path().join("img3.tar");
    docker_archive(
        &arch3,
        &[&evil_path, &broken],
        Some(&[name.as_str(), "broken.tar"]),
        &[],
    );
    let image = format!("docker-archive:{}", arch3.display());
    for args in [vec!["ls", &image], vec!["profile", "--no-cache", &image]] {
        let out = run(t.path(), &args);
        assert_error(&out, &[&name, "digest mismatch", &sha256(&good)]);
    }

    // docker-archive: right names, but the config's diff_ids say other bytes.
    let arch = t.path().join("img2.tar");
    docker_archive(
        &arch,
        &[&evil_path],
        None,
        &[format!("sha256:{}", sha256(&good))],
    );
    let out = run(
        t.path(),
        &["ls", &format!("docker-archive:{}", arch.display())],
    );
    assert_error(&out, &["digest mismatch", &sha256(&good)]);

    // OCI directory and archive: a blob rewritten in place (same size, other bytes).
    let good_path = write(&t.path().join("good.tar"), &good);
    // Stored deflate blocks: the same length whatever the bytes.
    let gzip0 = |b: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        enc.write_all(b).unwrap();
        enc.finish().unwrap()
    };
    let gz_good = write(&t.path().join("good.tar.gz"), &gzip0(&good));
    for (layer, mt) in [(&good_path, TAR), (&gz_good, TAR_GZ)] {
        let dir = t.path().join(format!("oci-{}", mt.len()));
        let d = oci_dir(&dir, &[(layer, mt)], &[]);
        let blob = dir
            .join("blobs/sha256")
            .join(d[0].trim_start_matches("sha256:"));
        let mut f = fs::OpenOptions::new().write(true).open(&blob).unwrap();
        let replacement = if mt == TAR {
            evil.clone()
        } else {
            gzip0(&evil)
        };
        assert_eq!(replacement.len() as u64, f.metadata().unwrap().len());
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(&replacement).unwrap();
        drop(f);
        let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
        assert_error(&out, &[&d[0], "digest mismatch"]);
        let arch = t.path().join(format!("oci-{}.tar", mt.len()));
        oci_archive(&dir, &arch);
        let out = run(
            t.path(),
            &["ls", &format!("oci-archive:{}", arch.display())],
        );
        assert_error(&out, &[&d[0], "digest mismatch"]);
    }

    // A config blob that does not match its digest.
    let dir = t.path().join("oci-cfg");
    oci_dir(&dir, &[(&good_path, TAR)], &[]);
    let manifest: serde_json::Value = {
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
        let m = index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let p = dir
            .join("blobs/sha256")
            .join(m.trim_start_matches("sha256:"));
        serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
    };
    let cfg = manifest["config"]["digest"].as_str().unwrap();
    let p = dir
        .join("blobs/sha256")
        .join(cfg.trim_start_matches("sha256:"));
    let mut bytes = fs::read(&p).unwrap();
    bytes[2] = b'X';
    fs::write(&p, &bytes).unwrap();
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[cfg, "digest mismatch"]);
}

#[test]
fn malformed_elf_files_are_listed_as_malformed() {
    let t = tempdir();
    let elf = tiny_elf();
    let mut bad_phoff = elf.clone();
    bad_phoff[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut many_phdrs = elf.clone();
    many_phdrs[56..58].copy_from_slice(&0xffffu16.to_le_bytes());
    let mut bad_class = elf.clone();
    bad_class[4] = 9;
    let mut shdrs = elf.clone();
    shdrs[40..48].copy_from_slice(&(u64::MAX - 10).to_le_bytes()); // e_shoff
    shdrs[60..62].copy_from_slice(&0xffffu16.to_le_bytes()); // e_shnum
    shdrs[62..64].copy_from_slice(&0xfffeu16.to_le_bytes()); // e_shstrndx
    let mut elf32 = elf.clone();
    elf32[4] = 1;
    let mut garbage = b"\x7fELF".to_vec();
    garbage.extend((0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("bin/good", elf.clone()),
        ("bin/magic-only", b"\x7fELF".to_vec()),
        ("bin/header-cut", elf[..40].to_vec()),
        ("bin/phdr-cut", elf[..80].to_vec()),
        ("bin/bad-phoff", bad_phoff),
        ("bin/many-phdrs", many_phdrs),
        ("bin/bad-class", bad_class),
        ("bin/bad-shdrs", shdrs),
        ("bin/as-elf32", elf32),
        ("bin/garbage", garbage),
        ("bin/three", b"\x7fEL".to_vec()),
    ];
    let entries: Vec<E> = files.iter().map(|(p, d)| E::Exe(p, d)).collect();
    let img = simple_docker_archive(t.path(), &entries);
    let out = run(t.path(), &["ls", &img]);
    assert_ok_with_warnings(&out);
    let listed = ls_paths(&out);
    assert!(listed.contains(&"/bin/good"), "{}", out.stdout);
    assert!(!listed.contains(&"/bin/three"), "{}", out.stdout);
    for line in out.stdout.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 5, "{line:?}");
        if cols[0] == "/bin/good" {
            assert_eq!(cols[1], "static-executable");
        }
    }
    for (p, _) in &files[1..files.len() - 1] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("/{p}\t")));
        if let Some(l) = line {
            assert!(l.contains("malformed") || !l.contains("\t\t"), "{l}");
        }
    }
    let out = run(t.path(), &["ls", "--json", &img]);
    assert_ok_with_warnings(&out);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(v.as_array().unwrap().len() >= 2);
    for p in ["/bin/header-cut", "/bin/garbage", "/bin/bad-phoff"] {
        let out = run(t.path(), &["ldd", &img, p]);
        assert!(matches!(out.code, Some(0) | Some(1)), "{}", out.stderr);
        assert!(out.stderr.lines().count() <= 1, "{}", out.stderr);
    }
}

#[test]
fn overlong_paths_and_link_targets_are_short_warnings() {
    let t = tempdir();
    let deep = "d/".repeat(5000) + "f";
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    b.append_data(&mut h, &deep, &b"x"[..]).unwrap(); // a GNU long name
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "longlink", "t/".repeat(5000))
        .unwrap(); // a GNU long link
    let elf = tiny_elf();
    let mut h = tar::Header::new_gnu();
    h.set_size(elf.len() as u64);
    h.set_mode(0o755);
    b.append_data(&mut h, "bin/true", elf.as_slice()).unwrap();
    let layer = write(&t.path().join("layer.tar"), &b.into_inner().unwrap());
    let img = t.path().join("image.tar");
    docker_archive(&img, &[&layer], None, &[]);
    let out = run(
        t.path(),
        &["ls", &format!("docker-archive:{}", img.display())],
    );
    assert_ok_with_warnings(&out);
    assert_eq!(ls_paths(&out), ["/bin/true"]);
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    for l in lines {
        assert!(l.contains("PATH_MAX") && l.len() < 1000, "{l}");
    }
}

#[test]
fn huge_tar_extension_members_are_refused() {
    let t = tempdir();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    // A 5 MB GNU long name: the tar reader would hold it whole in memory.
    b.append_data(&mut h, "a/".repeat(5 << 19), &b"x"[..])
        .unwrap();
    let bytes = b.into_inner().unwrap();
    let layer = write(&t.path().join("layer.tar"), &bytes);
    let img = t.path().join("image.tar");
    docker_archive(&img, &[&layer], None, &[]);
    let out = run(
        t.path(),
        &["ls", &format!("docker-archive:{}", img.display())],
    );
    assert_error(&out, &[&sha256(&bytes), "GNU long name", "5242881 bytes"]);
    let gz = write(&t.path().join("layer.tar.gz"), &gzip(&bytes));
    let dir = t.path().join("oci");
    let d = oci_dir(&dir, &[(&gz, TAR_GZ)], &[]);
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[&d[0], "GNU long name"]);
}

#[test]
fn a_rootfs_directory_with_fifos_and_escaping_links_is_read_inside() {
    let t = tempdir();
    let root = t.path().join("rootfs");
    fs::create_dir_all(root.join("bin")).unwrap();
    write(&root.join("bin/true"), &tiny_elf());
    fs::hard_link(root.join("bin/true"), root.join("bin/true2")).unwrap();
    let _ = Command::new("mkfifo").arg(root.join("bin/fifo")).status();
    // An ELF on the host, outside the rootfs, that links point at.
    write(&t.path().join("outside"), &tiny_elf());
    let outside = t.path().join("outside").display().to_string();
    std::os::unix::fs::symlink(&outside, root.join("bin/abs")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../..".to_string() + &outside,
        root.join("bin/rel"),
    )
    .unwrap();
    std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
    let img = format!("dir:{}", root.display());
    let out = run(t.path(), &["ls", &img]);
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""));
    assert_eq!(ls_paths(&out), ["/bin/true", "/bin/true2"]);
    for p in ["/bin/abs", "/bin/rel"] {
        let out = run(t.path(), &["ldd", &img, p]);
        assert_error(&out, &[p, "no such file"]);
    }
    let out = run(t.path(), &["ldd", &img, "/loop"]);
    assert_error(&out, &["/loop", "symbolic links"]);
}

#[test]
fn hostile_names_make_one_line_warnings() {
    let t = tempdir();
    let elf = tiny_elf();
    let img = simple_docker_archive(
        t.path(),
        &[
            E::Exe("bin/true", &elf),
            E::File("../evil\nerror: injected", b"x"),
            E::Hard("new\nline", "no\rwhere"),
        ],
    );
    let out = run(t.path(), &["ls", &img]);
    assert_ok_with_warnings(&out);
    assert_eq!(out.stderr_lines().len(), 2, "{}", out.stderr);
}

#[test]
fn things_that_are_not_images_are_one_line_errors() {
    let t = tempdir();
    let empty = write(&t.path().join("empty"), b"");
    let junk = write(&t.path().join("junk"), &[0x42; 3000]);
    let gz = write(&t.path().join("gz"), &gzip(b"hello"));
    let plain = write(
        &t.path().join("plain.tar"),
        &layer_tar(&[E::File("a", b"a")]),
    );
    let bad_manifest = t.path().join("badmanifest.tar");
    {
        let mut b = tar::Builder::new(File::create(&bad_manifest).unwrap());
        let mut h = tar::Header::new_ustar();
        h.set_size(5);
        b.append_data(&mut h, "manifest.json", &b"[{,}]"[..])
            .unwrap();
        b.into_inner().unwrap();
    }
    let cases = [
        (format!("docker-archive:{}", empty.display()), "empty"),
        (
            format!("docker-archive:{}", junk.display()),
            "not a tar archive",
        ),
        (format!("oci-archive:{}", gz.display()), "gzip-compressed"),
        (
            format!("docker-archive:{}", plain.display()),
            "manifest.json",
        ),
        (
            format!("docker-archive:{}", bad_manifest.display()),
            "manifest.json",
        ),
        (junk.display().to_string(), "junk"),
        (format!("oci:{}", t.path().join("nodir").display()), "nodir"),
        (format!("dir:{}", junk.display()), "junk"),
        (
            format!("docker-archive:{}", t.path().join("absent").display()),
            "absent",
        ),
    ];
    for (img, needle) in cases {
        let out = run(t.path(), &["ls", &img]);
        assert_error(&out, &[needle]);
    }
    // An OCI layout with a garbage index, a garbage manifest, and an index loop.
    let dir = t.path().join("oci");
    let layer = write(&t.path().join("l.tar"), &layer_tar(&[E::File("a", b"a")]));
    oci_dir(&dir, &[(&layer, TAR)], &[]);
    let index = fs::read(dir.join("index.json")).unwrap();
    let index_path = dir.join("index.json");
    fs::remove_file(&index_path).unwrap();
    if Command::new("mkfifo")
        .arg(&index_path)
        .status()
        .is_ok_and(|s| s.success())
    {
        let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
        assert_error(&out, &["index.json", "not a regular file"]);
        fs::remove_file(&index_path).unwrap();
    }
    fs::write(&index_path, b"{\"schemaVersion\":2,\"manifests\":[{}]}").unwrap();
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &["index"]);
    let self_digest = format!("sha256:{}", "0".repeat(64));
    let looping = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": self_digest, "size": 10}]});
    fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&looping).unwrap(),
    )
    .unwrap();
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[&self_digest]);
    fs::write(dir.join("index.json"), &index).unwrap();
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // A layer blob that is a FIFO (opening it must not wait for a writer) or a device.
    let d = oci_dir(&dir, &[(&layer, TAR)], &[]);
    let blob = dir
        .join("blobs/sha256")
        .join(d[0].trim_start_matches("sha256:"));
    fs::remove_file(&blob).unwrap();
    let mkfifo = Command::new("mkfifo").arg(&blob).status();
    if mkfifo.is_ok_and(|s| s.success()) {
        let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
        assert_error(&out, &[&d[0], "not a regular file"]);
        fs::remove_file(&blob).unwrap();
    }
    std::os::unix::fs::symlink("/dev/zero", &blob).unwrap();
    let out = run(t.path(), &["ls", &format!("oci:{}", dir.display())]);
    assert_error(&out, &[&d[0], "not a regular file"]);
}

/// A FIFO planted in an OCI layout is not read while the image's identity is hashed for the
/// report cache (a read of it would block for ever): the profile is written, in bounded time.
#[test]
fn a_fifo_in_an_oci_layout_does_not_block_the_report_key() {
    let t = tempdir();
    let elf = tiny_elf();
    let entries = [E::Dir("bin"), E::Exe("bin/true", &elf)];
    let tar_bytes = layer_tar(&entries);
    let diff = format!("sha256:{}", sha256(&tar_bytes));
    let blob = write(&t.path().join("blob"), &tar_bytes);
    let dir = t.path().join("oci");
    oci_dir(&dir, &[(&blob, TAR)], std::slice::from_ref(&diff));
    let fifo = std::ffi::CString::new(dir.join("blobs/sha256/fifo").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let mut child = Command::new(BIN)
        .args([
            "profile",
            "-q",
            "--scope",
            "image",
            "--unresolved=allow-all",
            "--cache",
        ])
        .arg(t.path().join("c.db"))
        .arg(format!("oci:{}:latest", dir.display()))
        .arg("-o")
        .arg(t.path().join("p.json"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = exit_within_a_minute(&mut child);
    assert!(status.success());
    assert!(t.path().join("p.json").is_file());
}

/// An archive path that is a FIFO is refused as the image reader refuses it, also when the
/// report cache hashes the archive first (a read of it would wait for a writer for ever).
#[test]
fn an_archive_that_is_a_fifo_is_refused_before_the_report_key_reads_it() {
    let t = tempdir();
    let fifo = t.path().join("image.tar");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
    let mut child = Command::new(BIN)
        .args(["profile", "-q", "--cache"])
        .arg(t.path().join("c.db"))
        .arg(format!("docker-archive:{}", fifo.display()))
        .arg("-o")
        .arg(t.path().join("p.json"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = exit_within_a_minute(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(!t.path().join("p.json").exists());
}

/// The exit status of `child`, which must end within a minute (it is killed, and the test
/// fails, when it does not: it is waiting on a FIFO).
fn exit_within_a_minute(child: &mut std::process::Child) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("dockergate profile blocked on the FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
