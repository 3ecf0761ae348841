//! The musl rules of the loader model, one small synthetic image per rule, built with musl-gcc
//! (Debian's musl-tools) at test time. As root, musl's own ldd (`ld-musl-x86_64.so.1 --list`)
//! runs on the same tree in a chroot and must print the same " => " lines. The corpus fixture
//! tests/fixtures/musl-images.sh checks the same rules in a real container.

mod support;

use support::{check_musl, have_musl, have_oracle, Obj, Tree};

const LDSO: &str = "/lib/ld-musl-x86_64.so.1";

fn setup() -> Option<bool> {
    if !have_musl() {
        return None;
    }
    Some(have_oracle())
}

fn libc_line(name: &str) -> String {
    format!("{name} => {LDSO}")
}

#[test]
fn reserved_names_are_the_loader_printed_once_per_family() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::musl("musl-reserved");
    t.lib(
        "/usr/lib/libx.so",
        Obj::new().soname("libx.so").needs(&["libm.so.6"]),
    );
    t.prog(
        "/usr/bin/p",
        Obj::new().needs(&[
            "libc.musl-x86_64.so.1",
            "libpthread.so.0",
            "libx.so",
            "libm.so",
            "libcrypt.so.1",
        ]),
    );
    // libcrypt is not reserved: it is searched, and missing (an error on stderr).
    check_musl(
        &t,
        "/usr/bin/p",
        &[
            &libc_line("libc.musl-x86_64.so.1"),
            &libc_line("libpthread.so.0"),
            "libx.so => /usr/lib/libx.so",
            &libc_line("libm.so"),
        ],
        oracle,
    );
    let p = t.model("/usr/bin/p");
    assert_eq!(p.missing.len(), 1);
    assert_eq!(p.missing[0].name, "libcrypt.so.1");
}

#[test]
fn short_names_and_inodes_are_reused() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::musl("musl-reuse");
    t.lib("/usr/lib/libA.so", Obj::new().soname("libA.so"));
    t.lib("/opt/o/libA.so", Obj::new().soname("libA.so"));
    t.lib("/opt/o/libO.so", Obj::new().soname("libO.so"));
    t.lib(
        "/usr/lib/libB.so",
        Obj::new()
            .soname("libB.so")
            .needs(&["libA.so", "libO.so"])
            .runpath("/opt/o"),
    );
    // A soname is not a short name: libalias.so.2 is searched and found as the same file.
    t.lib("/usr/lib/libalias.so", Obj::new().soname("libalias.so.2"));
    t.symlink("/usr/lib/libalias.so.2", "libalias.so");
    t.lib(
        "/usr/lib/libna.so",
        Obj::new().soname("libna.so").needs(&["libalias.so.2"]),
    );
    t.prog(
        "/usr/bin/p",
        Obj::new().needs(&["libA.so", "libB.so", "libalias.so", "libna.so"]),
    );
    check_musl(
        &t,
        "/usr/bin/p",
        &[
            "libA.so => /usr/lib/libA.so",
            "libB.so => /usr/lib/libB.so",
            "libalias.so => /usr/lib/libalias.so",
            "libna.so => /usr/lib/libna.so",
            &libc_line("libc.so"),
            "libO.so => /opt/o/libO.so",
        ],
        oracle,
    );
}

#[test]
fn rpath_and_runpath_are_inherited_and_origin_expanded() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::musl("musl-rpath");
    t.lib("/opt/app/lib/libdeep.so", Obj::new().soname("libdeep.so"));
    t.lib(
        "/opt/app/lib/libmid.so",
        Obj::new().soname("libmid.so").needs(&["libdeep.so"]),
    );
    t.prog(
        "/opt/app/bin/rp",
        Obj::new().needs(&["libmid.so"]).rpath("$ORIGIN/../lib"),
    );
    t.prog(
        "/opt/app/bin/rup",
        Obj::new().needs(&["libmid.so"]).runpath("${ORIGIN}/../lib"),
    );
    for p in ["/opt/app/bin/rp", "/opt/app/bin/rup"] {
        check_musl(
            &t,
            p,
            &[
                "libmid.so => /opt/app/bin/../lib/libmid.so",
                &libc_line("libc.so"),
                "libdeep.so => /opt/app/bin/../lib/libdeep.so",
            ],
            oracle,
        );
    }
}

#[test]
fn a_path_with_another_token_is_ignored() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::musl("musl-token");
    t.lib("/opt/t/libt.so", Obj::new().soname("libt.so"));
    t.lib("/usr/lib/libt.so", Obj::new().soname("libt.so"));
    t.prog(
        "/usr/bin/p",
        Obj::new().needs(&["libt.so"]).rpath("/opt/t:$LIB"),
    );
    check_musl(
        &t,
        "/usr/bin/p",
        &["libt.so => /usr/lib/libt.so", &libc_line("libc.so")],
        oracle,
    );
}

#[test]
fn the_path_file_is_found_from_the_loader_path() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::musl("musl-pathfile");
    t.symlink("/opt/m/lib/ld-musl-x86_64.so.1", LDSO);
    t.write("/opt/m/etc/ld-musl-x86_64.path", b"/opt/alt:/lib\n");
    t.write("/etc/ld-musl-x86_64.path", b"/opt/main\n/lib\n");
    t.lib("/opt/alt/libc1.so", Obj::new().soname("libc1.so"));
    t.lib("/opt/main/libc1.so", Obj::new().soname("libc1.so"));
    t.lib("/usr/lib/libc1.so", Obj::new().soname("libc1.so"));
    t.prog(
        "/usr/bin/alt",
        Obj::new()
            .needs(&["libc1.so"])
            .args(&["-Wl,--dynamic-linker=/opt/m/lib/ld-musl-x86_64.so.1"]),
    );
    t.prog("/usr/bin/main", Obj::new().needs(&["libc1.so"]));
    check_musl(
        &t,
        "/usr/bin/alt",
        &[
            "libc1.so => /opt/alt/libc1.so",
            "libc.so => /opt/m/lib/ld-musl-x86_64.so.1",
        ],
        oracle,
    );
    check_musl(
        &t,
        "/usr/bin/main",
        &["libc1.so => /opt/main/libc1.so", &libc_line("libc.so")],
        oracle,
    );
    // Without any path file: /lib:/usr/local/lib:/usr/lib.
    std::fs::remove_file(t.host("/etc/ld-musl-x86_64.path")).unwrap();
    check_musl(
        &t,
        "/usr/bin/main",
        &["libc1.so => /usr/lib/libc1.so", &libc_line("libc.so")],
        oracle,
    );
}

#[test]
fn preload_and_library_path_but_no_ld_so_preload() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::musl("musl-env");
    t.lib("/usr/lib/libpre.so", Obj::new().soname("libpre.so"));
    t.lib("/usr/lib/libfile.so", Obj::new().soname("libfile.so"));
    t.lib("/llp/libl.so", Obj::new().soname("libl.so"));
    t.lib("/usr/lib/libl.so", Obj::new().soname("libl.so"));
    t.write("/etc/ld.so.preload", b"libfile.so\n");
    t.prog("/usr/bin/p", Obj::new().needs(&["libl.so"]));
    t.env = vec![
        "LD_PRELOAD=libpre.so\tlibmissing.so".into(),
        "LD_LIBRARY_PATH=/llp".into(),
    ];
    // musl's --list reads the environment of the loader process: the launcher passes it.
    check_musl(
        &t,
        "/usr/bin/p",
        &[
            "libpre.so => /usr/lib/libpre.so",
            "libl.so => /llp/libl.so",
            &libc_line("libc.so"),
        ],
        oracle,
    );
}

#[test]
fn the_first_file_found_is_taken_even_when_unusable() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::musl("musl-first");
    t.write("/lib/libbad.so", b"not an ELF file\n");
    t.lib("/usr/lib/libbad.so", Obj::new().soname("libbad.so"));
    t.lib("/usr/lib/libgood.so", Obj::new().soname("libgood.so"));
    t.prog("/usr/bin/p", Obj::new().needs(&["libbad.so", "libgood.so"]));
    check_musl(
        &t,
        "/usr/bin/p",
        &["libgood.so => /usr/lib/libgood.so", &libc_line("libc.so")],
        oracle,
    );
    let p = t.model("/usr/bin/p");
    assert_eq!(
        p.missing.len(),
        1,
        "libbad.so fails: /lib/libbad.so is not ELF"
    );
}
