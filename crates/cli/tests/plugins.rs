//! Image scope: every shared object is a plugin some program may `dlopen`, needed by another ELF
//! or not. A JVM loads libnio (which libsctp needs by name) and finds its JNI functions with
//! `dlsym`: the syscalls of an export nobody imports are still allowed.

#[path = "support/host_image.rs"]
mod host_image;

use std::path::Path;
use std::process::Command;

use host_image::{copy_with_libraries, docker_archive};

const BIN: &str = env!("CARGO_BIN_EXE_dockergate");

fn gcc(args: &[&str], dir: &Path) -> bool {
    Command::new("gcc")
        .args(args)
        .current_dir(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn exports_of_a_needed_library_are_roots() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path();
    std::fs::write(
        src.join("nio.c"),
        "#include <sys/timerfd.h>\nint Java_sun_nio_ch_Timer_create(void) { return timerfd_create(1, 0); }\nint nio_helper(void) { return 0; }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("sctp.c"),
        "int nio_helper(void);\nint sctp_init(void) { return nio_helper(); }\n",
    )
    .unwrap();
    if !gcc(
        &["-O2", "-shared", "-fPIC", "-o", "libnio.so", "nio.c"],
        src,
    ) || !gcc(
        &[
            "-O2",
            "-shared",
            "-fPIC",
            "-o",
            "libsctp.so",
            "sctp.c",
            "-L.",
            "-lnio",
        ],
        src,
    ) {
        eprintln!("skipped: gcc is not available");
        return;
    }
    let root = src.join("rootfs");
    copy_with_libraries(&root, &["/usr/bin/dash"]);
    check_plugin_export(src, &root, "with-dash");
    // An image without any program (its command comes from a volume): still every library.
    let bare = src.join("bare");
    for lib in [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ] {
        host_image::copy_in(&bare, lib, lib);
    }
    check_plugin_export(src, &bare, "bare");
}

fn check_plugin_export(src: &Path, root: &Path, name: &str) {
    let lib = root.join("usr/lib/jvm/lib");
    std::fs::create_dir_all(&lib).unwrap();
    for so in ["libnio.so", "libsctp.so"] {
        std::fs::copy(src.join(so), lib.join(so)).unwrap();
    }
    let image = src.join(format!("{name}.tar"));
    docker_archive(root, &["/usr/bin/dash"], &image);
    let profile = src.join(format!("{name}.json"));
    let evidence = src.join(format!("{name}.evidence.json"));
    let out = Command::new(BIN)
        .args(["profile", "--no-cache", "--scope", "image"])
        .arg(format!("docker-archive:{}", image.display()))
        .arg("-o")
        .arg(&profile)
        .arg("--evidence")
        .arg(&evidence)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev: serde_json::Value = serde_json::from_slice(&std::fs::read(&evidence).unwrap()).unwrap();
    let w = &ev["syscalls"]["timerfd_create"];
    assert_eq!(w["program"], "/usr/lib/jvm/lib/libnio.so", "{w}");
    assert_eq!(
        w["witness"]["chain"][0]["function"], "Java_sun_nio_ch_Timer_create",
        "{w}"
    );
}

/// A shared object of another machine (valgrind ships i386 preload libraries beside its amd64
/// tools) loads into no process of an image whose programs are all amd64: it is reported, not
/// analysed, and the profile is written.
#[test]
fn a_library_no_program_can_load_is_left_out_with_a_warning() {
    let i386 = "/usr/libexec/valgrind/vgpreload_memcheck-x86-linux.so";
    if !Path::new(i386).exists() {
        eprintln!("skipped: no i386 shared object on this machine ({i386})");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("rootfs");
    copy_with_libraries(&root, &["/usr/bin/dash"]);
    host_image::copy_in(&root, i386, i386);
    let image = d.path().join("image.tar");
    docker_archive(&root, &["/usr/bin/dash"], &image);
    let out = Command::new(BIN)
        .args(["profile", "--no-cache", "--scope", "image", "-o"])
        .arg(d.path().join("profile.json"))
        .arg(format!("docker-archive:{}", image.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 shared object(s) of an architecture no program of the image has")
            && stderr.contains(i386),
        "{stderr}"
    );
}
