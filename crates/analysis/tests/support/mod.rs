//! What the analysis tests share: small shared objects assembled from source here.

/// Assembles `source` (GNU as syntax, through gcc) into a shared object with gcc's extra
/// `flags`; its bytes, or None (with a message) when gcc cannot build it here.
pub fn shared_object(source: &str, flags: &[&str]) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().ok()?;
    let src = dir.path().join("t.s");
    let out = dir.path().join("t.so");
    std::fs::write(&src, source).ok()?;
    let ok = std::process::Command::new("gcc")
        .args(["-nostdlib", "-shared"])
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: gcc cannot assemble here");
        return None;
    }
    std::fs::read(&out).ok()
}
