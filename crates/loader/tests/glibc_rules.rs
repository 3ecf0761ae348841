//! The glibc rules of the loader model, one small synthetic image per rule. Each image is built
//! from ELF objects compiled with gcc at test time, read into an in-memory `ImageFs`, and the
//! model's ldd lines are compared with the expected ones; when the tests run as root, the same
//! tree is also run for real (chroot, the host's glibc 2.36 with LD_TRACE_LOADED_OBJECTS) and
//! must print exactly the expected lines too.

mod support;

use support::{check, check_error, have_gcc, have_oracle, Obj, Tree};

const LIBC: &str = "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6";
const RTLD: &str = "/lib64/ld-linux-x86-64.so.2";

fn setup() -> Option<bool> {
    if !have_gcc() {
        return None;
    }
    Some(have_oracle())
}

#[test]
fn rpath_is_inherited_along_the_loading_chain() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("rpath-chain");
    t.lib(
        "/r1/liba.so",
        Obj::new().soname("liba.so").needs(&["libb.so"]),
    );
    t.lib("/r1/libb.so", Obj::new().soname("libb.so"));
    t.prog("/usr/bin/p", Obj::new().needs(&["liba.so"]).rpath("/r1"));
    check(
        &t,
        "/usr/bin/p",
        &[
            "liba.so => /r1/liba.so",
            LIBC,
            "libb.so => /r1/libb.so",
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn runpath_of_the_requester_disables_every_rpath() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("runpath-disables-rpath");
    // libm1 has DT_RUNPATH /r2: neither its loaders' DT_RPATH nor the program's apply to its
    // own needs; libd.so is in both /r1 and /r2, libonly1.so only in /r1.
    t.lib(
        "/r1/libm1.so",
        Obj::new()
            .soname("libm1.so")
            .needs(&["libd.so", "libonly1.so"])
            .runpath("/r2"),
    );
    t.lib("/r1/libd.so", Obj::new().soname("libd.so"));
    t.lib("/r2/libd.so", Obj::new().soname("libd.so"));
    t.lib("/r1/libonly1.so", Obj::new().soname("libonly1.so"));
    t.prog("/usr/bin/p", Obj::new().needs(&["libm1.so"]).rpath("/r1"));
    check(
        &t,
        "/usr/bin/p",
        &[
            "libm1.so => /r1/libm1.so",
            LIBC,
            "libd.so => /r2/libd.so",
            // Found missing while libm1's needs were processed, before libc's needs put ld.so
            // in the scope (right after libd).
            RTLD,
            "libonly1.so => not found",
        ],
        oracle,
    );
}

#[test]
fn an_object_with_both_rpath_and_runpath_has_no_rpath() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("rpath-and-runpath");
    t.lib(
        "/usr/lib/libboth.so",
        Obj::new()
            .soname("libboth.so")
            .needs(&["libe.so"])
            .rpath("/r1")
            .runpath("/r2"),
    );
    t.lib("/r1/libe.so", Obj::new().soname("libe.so"));
    t.lib("/r2/libe.so", Obj::new().soname("libe.so"));
    // The program too: its RPATH /r1 is not used for anything.
    t.lib("/r1/libf.so", Obj::new().soname("libf.so"));
    t.lib("/r2/libf.so", Obj::new().soname("libf.so"));
    t.prog(
        "/usr/bin/p",
        Obj::new()
            .needs(&["libboth.so", "libf.so"])
            .rpath("/r1")
            .runpath("/r2:/usr/lib"),
    );
    check(
        &t,
        "/usr/bin/p",
        &[
            "libboth.so => /usr/lib/libboth.so",
            "libf.so => /r2/libf.so",
            LIBC,
            "libe.so => /r2/libe.so",
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn runpath_serves_only_the_objects_own_needs() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("runpath-not-inherited");
    t.lib(
        "/r3/libf.so",
        Obj::new().soname("libf.so").needs(&["libg.so"]),
    );
    t.lib("/r3/libg.so", Obj::new().soname("libg.so"));
    t.prog("/usr/bin/p", Obj::new().needs(&["libf.so"]).runpath("/r3"));
    check(
        &t,
        "/usr/bin/p",
        &["libf.so => /r3/libf.so", LIBC, RTLD, "libg.so => not found"],
        oracle,
    );
}

#[test]
fn search_order_rpath_then_ld_library_path_then_runpath() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("search-order");
    for d in ["/r1", "/llp", "/r3"] {
        t.lib(&format!("{d}/libh.so"), Obj::new().soname("libh.so"));
    }
    t.lib("/llp/libi.so", Obj::new().soname("libi.so"));
    t.lib("/r3/libi.so", Obj::new().soname("libi.so"));
    t.prog(
        "/usr/bin/withrpath",
        Obj::new().needs(&["libh.so"]).rpath("/r1"),
    );
    t.prog(
        "/usr/bin/withrunpath",
        Obj::new().needs(&["libh.so", "libi.so"]).runpath("/r3"),
    );
    t.env = vec!["LD_LIBRARY_PATH=/nonexistent;/llp".into()];
    check(
        &t,
        "/usr/bin/withrpath",
        &["libh.so => /r1/libh.so", LIBC, RTLD],
        oracle,
    );
    check(
        &t,
        "/usr/bin/withrunpath",
        &[
            "libh.so => /llp/libh.so",
            "libi.so => /llp/libi.so",
            LIBC,
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn ld_library_path_empty_entry_is_the_working_directory() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("llp-empty");
    t.lib("/libcwd.so", Obj::new().soname("libcwd.so"));
    t.lib("/llp/libl.so", Obj::new().soname("libl.so"));
    t.prog("/usr/bin/p", Obj::new().needs(&["libcwd.so", "libl.so"]));
    t.env = vec!["LD_LIBRARY_PATH=/llp/::".into()];
    check(
        &t,
        "/usr/bin/p",
        &["libcwd.so", "libl.so => /llp/libl.so", LIBC, RTLD],
        oracle,
    );
}

#[test]
fn origin_of_program_is_resolved_and_of_library_is_the_opened_path() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("origin");
    // /usr/bin/app -> /opt/app/bin/app; RPATH $ORIGIN/../lib is /opt/app/bin/../lib.
    t.prog(
        "/opt/app/bin/app",
        Obj::new().needs(&["libo.so"]).rpath("$ORIGIN/../lib"),
    );
    t.symlink("/usr/bin/app", "/opt/app/bin/app");
    // libo.so is a symlink to /srv/real/libo.so.1: its origin is still /opt/app/bin/../lib.
    t.lib(
        "/srv/real/libo.so.1",
        Obj::new()
            .soname("libo.so")
            .needs(&["libplug.so", "libbrace.so", "libliteral.so"])
            .runpath("$ORIGIN/plugins:${ORIGIN}/brace:$ORIGINAL/x:/srv/lit"),
    );
    t.symlink("/opt/app/lib/libo.so", "/srv/real/libo.so.1");
    t.lib(
        "/opt/app/lib/plugins/libplug.so",
        Obj::new().soname("libplug.so"),
    );
    t.lib(
        "/srv/real/plugins/libplug.so",
        Obj::new().soname("libplug.so"),
    );
    t.lib(
        "/opt/app/lib/brace/libbrace.so",
        Obj::new().soname("libbrace.so"),
    );
    // "$ORIGINAL" is not a token: the directory is literally "$ORIGINAL/x".
    t.lib(
        "/$ORIGINAL/x/libliteral.so",
        Obj::new().soname("libliteral.so"),
    );
    t.lib("/srv/lit/libliteral.so", Obj::new().soname("libliteral.so"));
    check(
        &t,
        "/usr/bin/app",
        &[
            "libo.so => /opt/app/bin/../lib/libo.so",
            LIBC,
            "libplug.so => /opt/app/bin/../lib/plugins/libplug.so",
            "libbrace.so => /opt/app/bin/../lib/brace/libbrace.so",
            "libliteral.so => $ORIGINAL/x/libliteral.so",
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn needed_names_with_tokens_and_slashes() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("needed-dst");
    t.lib("/opt/x/librel.so", Obj::new().soname("librel.so"));
    t.lib("/opt/x/sub/libsub.so", Obj::new());
    t.prog(
        "/opt/x/p",
        Obj::new().needs(&[
            "$ORIGIN/librel.so",
            "/opt/x/sub/libsub.so",
            "/nonexistent/libz.so",
        ]),
    );
    check(
        &t,
        "/opt/x/p",
        &[
            "/opt/x/librel.so",
            "/opt/x/sub/libsub.so",
            "/nonexistent/libz.so => not found",
            LIBC,
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn cache_is_used_before_the_default_directories() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("cache");
    t.write("/etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n");
    t.write("/etc/ld.so.conf.d/a.conf", b"# local\n/usr/local/lib\n");
    t.lib(
        "/usr/local/lib/libcache.so",
        Obj::new().soname("libcache.so"),
    );
    // Both in a cached directory and in a default one: the cache's entry wins.
    t.lib("/usr/local/lib/libdup.so", Obj::new().soname("libdup.so"));
    t.lib("/usr/lib/libdup.so", Obj::new().soname("libdup.so"));
    t.prog(
        "/usr/bin/p",
        Obj::new().needs(&["libcache.so", "libdup.so"]),
    );
    t.ldconfig();
    check(
        &t,
        "/usr/bin/p",
        &[
            "libcache.so => /usr/local/lib/libcache.so",
            "libdup.so => /usr/local/lib/libdup.so",
            LIBC,
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn without_a_cache_ld_so_conf_is_not_read() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("no-cache");
    t.write("/etc/ld.so.conf", b"include ld.so.conf.d/*.conf\n");
    t.write("/etc/ld.so.conf.d/a.conf", b"/usr/local/lib\n");
    t.lib(
        "/usr/local/lib/libcache.so",
        Obj::new().soname("libcache.so"),
    );
    t.lib("/usr/local/lib/libdup.so", Obj::new().soname("libdup.so"));
    t.lib("/usr/lib/libdup.so", Obj::new().soname("libdup.so"));
    t.prog(
        "/usr/bin/p",
        Obj::new().needs(&["libcache.so", "libdup.so"]),
    );
    check(
        &t,
        "/usr/bin/p",
        &[
            "libcache.so => not found",
            "libdup.so => /usr/lib/libdup.so",
            LIBC,
            RTLD,
        ],
        oracle,
    );
    // The model still knows what ldconfig would cache.
    let fs = t.image_fs();
    let cat = dockergate_loader::ElfCatalog::scan(&fs);
    let l = dockergate_loader::ImageLoader::new(&fs, &cat, &[], "/");
    assert_eq!(l.ld_so_conf_dirs(), vec!["/usr/local/lib".to_string()]);
}

/// A hostile ld.so.conf (200000 directories, 2 MB; every dlopen lookup walks them, and a
/// quadratic de-duplication once took minutes): the first 4096, each once, read once.
#[test]
fn glibc_ld_so_conf_is_bounded() {
    let t = Tree::glibc("huge-conf");
    let mut text: String = (0..200_000).map(|i| format!("/x/d{i}\n")).collect();
    text.push_str("/x/d0\n");
    t.write("/etc/ld.so.conf", text.as_bytes());
    let fs = t.image_fs();
    let cat = dockergate_loader::ElfCatalog::scan(&fs);
    let l = dockergate_loader::ImageLoader::new(&fs, &cat, &[], "/");
    let dirs = l.ld_so_conf_dirs();
    assert_eq!(dirs.len(), 4096);
    assert_eq!(
        (dirs[0].as_str(), dirs[4095].as_str()),
        ("/x/d0", "/x/d4095")
    );
}

#[test]
fn glibc_hwcaps_and_legacy_subdirectories() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("hwcaps");
    let d = "/usr/lib/x86_64-linux-gnu";
    t.lib(&format!("{d}/libhw.so"), Obj::new().soname("libhw.so"));
    t.lib(
        &format!("{d}/glibc-hwcaps/x86-64-v2/libhw.so"),
        Obj::new().soname("libhw.so"),
    );
    t.lib("/r5/liblegacy.so", Obj::new().soname("liblegacy.so"));
    t.lib("/r5/x86_64/liblegacy.so", Obj::new().soname("liblegacy.so"));
    t.lib("/r5/tls/liblegacy2.so", Obj::new().soname("liblegacy2.so"));
    t.lib(
        "/r5/x86_64/liblegacy2.so",
        Obj::new().soname("liblegacy2.so"),
    );
    t.prog(
        "/usr/bin/p",
        Obj::new()
            .needs(&["libhw.so", "liblegacy.so", "liblegacy2.so"])
            .rpath("/r5"),
    );
    let expected = [
        "libhw.so => /usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v2/libhw.so",
        "liblegacy.so => /r5/x86_64/liblegacy.so",
        "liblegacy2.so => /r5/tls/liblegacy2.so",
        LIBC,
        RTLD,
    ];
    check(&t, "/usr/bin/p", &expected, oracle);
    // The same through the cache.
    t.ldconfig();
    check(&t, "/usr/bin/p", &expected, oracle);
    let prog = t.model("/usr/bin/p");
    assert_eq!(
        prog.objects[1].alternatives,
        vec![(format!("{d}/libhw.so"), prog.objects[1].alternatives[0].1)],
        "the plain library is the other CPU's choice"
    );
}

#[test]
fn objects_of_another_class_or_machine_are_skipped() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("class");
    t.lib("/r6/libw.so", Obj::new().soname("libw.so").m32());
    t.lib("/r7/libw.so", Obj::new().soname("libw.so"));
    t.lib("/r6/libarm.so", Obj::new().soname("libarm.so"));
    let mut b = t.read("/r6/libarm.so");
    b[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    t.write("/r6/libarm.so", &b);
    t.lib("/r7/libarm.so", Obj::new().soname("libarm.so"));
    t.prog(
        "/usr/bin/p",
        Obj::new().needs(&["libw.so", "libarm.so"]).rpath("/r6:/r7"),
    );
    check(
        &t,
        "/usr/bin/p",
        &[
            "libw.so => /r7/libw.so",
            "libarm.so => /r7/libarm.so",
            LIBC,
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn a_file_that_is_not_elf_stops_the_load() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("not-elf");
    t.write(
        "/r6/libt.so",
        b"/* GNU ld script */\nGROUP ( /r7/libt.so )\n",
    );
    t.lib("/r7/libt.so", Obj::new().soname("libt.so"));
    t.prog(
        "/usr/bin/p",
        Obj::new().needs(&["libt.so"]).rpath("/r6:/r7"),
    );
    check(&t, "/usr/bin/p", &["ERROR"], oracle);
    check_error(&t, "/usr/bin/p", oracle);
}

#[test]
fn one_object_per_soname_and_per_file() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("dedup");
    // Hard links: one file under two names.
    t.lib("/usr/lib/libhl.so", Obj::new());
    t.hardlink("/opt/x/libhl2.so", "/usr/lib/libhl.so");
    // Symlinks: libsym.so.1 -> libsym.so.1.0.
    t.lib("/usr/lib/libsym.so.1.0", Obj::new().soname("libsym.so.1"));
    t.symlink("/usr/lib/libsym.so.1", "libsym.so.1.0");
    // A soname matches a later request without any search (libother.so.9 exists nowhere).
    t.lib("/usr/lib/libalias.so", Obj::new().soname("libother.so.9"));
    t.prog(
        "/usr/bin/p",
        Obj::new()
            .needs(&[
                "libhl.so",
                "libhl2.so",
                "libsym.so.1.0",
                "libsym.so.1",
                "libalias.so",
                "libother.so.9",
            ])
            .rpath("/opt/x"),
    );
    check(
        &t,
        "/usr/bin/p",
        &[
            "libhl.so => /usr/lib/libhl.so",
            "libsym.so.1.0 => /usr/lib/libsym.so.1.0",
            "libalias.so => /usr/lib/libalias.so",
            LIBC,
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn a_missing_library_is_reported_where_each_request_fails() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("missing-twice");
    t.lib(
        "/r1/libA.so",
        Obj::new().soname("libA.so").needs(&["libmiss.so"]),
    );
    t.lib("/r1/libB.so", Obj::new().soname("libB.so"));
    t.prog(
        "/usr/bin/p",
        Obj::new()
            .needs(&["libA.so", "libmiss.so", "libB.so"])
            .rpath("/r1"),
    );
    check(
        &t,
        "/usr/bin/p",
        &[
            "libA.so => /r1/libA.so",
            "libmiss.so => not found",
            "libB.so => /r1/libB.so",
            LIBC,
            RTLD,
            "libmiss.so => not found",
        ],
        oracle,
    );
}

#[test]
fn nodeflib_skips_default_directories_and_their_cache_entries() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("nodeflib");
    t.write("/etc/ld.so.conf", b"/opt/conf\n");
    t.lib(
        "/usr/lib/x86_64-linux-gnu/libdef.so",
        Obj::new().soname("libdef.so"),
    );
    t.lib("/usr/lib/libdef2.so", Obj::new().soname("libdef2.so"));
    t.lib("/opt/conf/libconf.so", Obj::new().soname("libconf.so"));
    t.lib(
        "/opt/n/libn.so",
        Obj::new()
            .soname("libn.so")
            .needs(&["libdef.so", "libdef2.so", "libconf.so"])
            .nodeflib(),
    );
    t.prog(
        "/usr/bin/p",
        Obj::new().needs(&["libn.so"]).runpath("/opt/n"),
    );
    t.ldconfig();
    check(
        &t,
        "/usr/bin/p",
        &[
            "libn.so => /opt/n/libn.so",
            LIBC,
            "libdef.so => not found",
            "libdef2.so => not found",
            "libconf.so => /opt/conf/libconf.so",
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn preloads_come_first_and_missing_ones_are_ignored() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("preload");
    t.lib(
        "/usr/lib/libpre1.so",
        Obj::new().soname("libpre1.so").needs(&["libpdep.so"]),
    );
    t.lib("/usr/lib/libpdep.so", Obj::new().soname("libpdep.so"));
    t.lib("/opt/p/libpre2.so", Obj::new().soname("libpre2.so"));
    t.lib("/usr/lib/libpre3.so", Obj::new().soname("libpre3.so"));
    t.lib("/usr/lib/libdep.so", Obj::new().soname("libdep.so"));
    t.prog("/usr/bin/p", Obj::new().needs(&["libdep.so"]));
    t.env = vec!["LD_PRELOAD=libpre1.so /opt/p/libpre2.so:libnothere.so".into()];
    t.write(
        "/etc/ld.so.preload",
        b"# preloads\nlibpre3.so # third\n\tlibpre1.so\n",
    );
    check(
        &t,
        "/usr/bin/p",
        &[
            "libpre1.so => /usr/lib/libpre1.so",
            "/opt/p/libpre2.so",
            "libpre3.so => /usr/lib/libpre3.so",
            "libdep.so => /usr/lib/libdep.so",
            LIBC,
            "libpdep.so => /usr/lib/libpdep.so",
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn the_interpreter_is_listed_after_the_object_before_it_in_the_scope() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("rtld-position");
    // libx needs the loader by its other path: glibc does not know ld.so's inode, so the
    // same file is mapped a second time, and ld.so itself enters the scope when libc names it
    // by soname, right after that copy.
    t.lib(
        "/usr/lib/libx.so",
        Obj::new()
            .soname("libx.so")
            .needs(&["/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "libmiss.so"])
            .nolibc(),
    );
    t.lib("/usr/lib/liby.so", Obj::new().soname("liby.so"));
    t.prog("/usr/bin/p", Obj::new().needs(&["libx.so", "liby.so"]));
    check(
        &t,
        "/usr/bin/p",
        &[
            "libx.so => /usr/lib/libx.so",
            "liby.so => /usr/lib/liby.so",
            LIBC,
            "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            RTLD,
            "libmiss.so => not found",
        ],
        oracle,
    );
}

#[test]
fn rpath_entries_are_normalised_like_glibc() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("rpath-forms");
    t.lib("/r1/libs1.so", Obj::new().soname("libs1.so"));
    t.lib("/r2/libs2.so", Obj::new().soname("libs2.so"));
    t.lib("/libroot.so", Obj::new().soname("libroot.so"));
    t.prog(
        "/usr/bin/p",
        Obj::new()
            .needs(&["libs1.so", "libs2.so", "libroot.so"])
            .rpath("/r1///://r2/:/"),
    );
    check(
        &t,
        "/usr/bin/p",
        &[
            "libs1.so => /r1/libs1.so",
            "libs2.so => //r2/libs2.so",
            "libroot.so => /libroot.so",
            LIBC,
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn lib_token_expands_to_the_multiarch_directory() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("lib-token");
    t.lib(
        "/opt/l/lib/x86_64-linux-gnu/libtok.so",
        Obj::new().soname("libtok.so"),
    );
    t.prog(
        "/usr/bin/p",
        Obj::new().needs(&["libtok.so"]).rpath("/opt/l/$LIB"),
    );
    check(
        &t,
        "/usr/bin/p",
        &[
            "libtok.so => /opt/l/lib/x86_64-linux-gnu/libtok.so",
            LIBC,
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn a_program_that_names_no_ld_so_does_not_list_it() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("no-rtld");
    t.lib("/usr/lib/libnl.so", Obj::new().soname("libnl.so").nolibc());
    t.prog(
        "/usr/bin/p",
        Obj::new()
            .nolibc()
            .needs(&["libnl.so"])
            .code("void _start(void) { __asm__ volatile(\"mov $60, %eax\\n xor %edi, %edi\\n syscall\"); }\n"),
    );
    check(&t, "/usr/bin/p", &["libnl.so => /usr/lib/libnl.so"], oracle);
    let p = t.model("/usr/bin/p");
    assert!(
        p.objects.last().unwrap().is_interpreter,
        "ld.so is still mapped, last"
    );
}

#[test]
fn unloadable_candidates_stop_the_load() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("unloadable");
    // A directory where the library should be.
    t.mkdir("/r1/libdir.so");
    t.lib("/r2/libdir.so", Obj::new().soname("libdir.so"));
    t.prog(
        "/usr/bin/dir",
        Obj::new().needs(&["libdir.so"]).rpath("/r1:/r2"),
    );
    check(&t, "/usr/bin/dir", &["ERROR"], oracle);
    check_error(&t, "/usr/bin/dir", oracle);
    // An executable as a dependency.
    t.prog("/usr/bin/exe", Obj::new());
    t.prog("/usr/bin/needsexe", Obj::new().needs(&["/usr/bin/exe"]));
    check(&t, "/usr/bin/needsexe", &["ERROR"], oracle);
    check_error(&t, "/usr/bin/needsexe", oracle);
    // A symlink loop in one search list ends that list; the default path still works.
    t.symlink("/r3/libloop.so", "libloop.so");
    t.lib("/r4/libloop.so", Obj::new().soname("libloop.so"));
    t.lib("/usr/lib/libloop.so", Obj::new().soname("libloop.so"));
    t.prog(
        "/usr/bin/loop",
        Obj::new().needs(&["libloop.so"]).rpath("/r3:/r4"),
    );
    check(
        &t,
        "/usr/bin/loop",
        &["libloop.so => /usr/lib/libloop.so", LIBC, RTLD],
        oracle,
    );
}

#[test]
fn ld_library_path_expands_origin_of_the_program() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("llp-origin");
    t.lib("/opt/a/lib/libq.so", Obj::new().soname("libq.so"));
    t.prog("/opt/a/bin/p", Obj::new().needs(&["libq.so"]));
    t.env = vec!["LD_LIBRARY_PATH=$ORIGIN/../lib".into()];
    check(
        &t,
        "/opt/a/bin/p",
        &["libq.so => /opt/a/bin/../lib/libq.so", LIBC, RTLD],
        oracle,
    );
}

#[test]
fn merged_usr_with_a_cache() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("merged-usr");
    // Move /lib into /usr/lib and link it back, as Debian bookworm does.
    let lib = t.host("/lib");
    let usrlib = t.host("/usr/lib");
    for e in std::fs::read_dir(&lib).unwrap() {
        let e = e.unwrap();
        let to = usrlib.join(e.file_name());
        if to.exists() {
            for f in std::fs::read_dir(e.path()).unwrap() {
                let f = f.unwrap();
                std::fs::rename(f.path(), to.join(f.file_name())).unwrap();
            }
        } else {
            std::fs::rename(e.path(), to).unwrap();
        }
    }
    std::fs::remove_dir_all(&lib).unwrap();
    t.symlink("/lib", "usr/lib");
    t.lib(
        "/usr/lib/x86_64-linux-gnu/libm1.so.1",
        Obj::new().soname("libm1.so.1"),
    );
    t.lib(
        "/usr/local/lib/libm2.so.1",
        Obj::new().soname("libm2.so.1").needs(&["libm1.so.1"]),
    );
    t.write("/etc/ld.so.conf", b"/usr/local/lib\n");
    t.prog("/usr/bin/p", Obj::new().needs(&["libm2.so.1"]));
    t.ldconfig();
    check(
        &t,
        "/usr/bin/p",
        &[
            "libm2.so.1 => /usr/local/lib/libm2.so.1",
            LIBC,
            "libm1.so.1 => /lib/x86_64-linux-gnu/libm1.so.1",
            RTLD,
        ],
        oracle,
    );
}

#[test]
fn preloads_of_another_class_are_ignored() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("preload-class");
    t.lib("/usr/lib/libp32.so", Obj::new().soname("libp32.so").m32());
    t.lib("/usr/lib/libpok.so", Obj::new().soname("libpok.so"));
    t.prog("/usr/bin/p", Obj::new());
    t.env = vec!["LD_PRELOAD=/usr/lib/libp32.so libpok.so".into()];
    check(
        &t,
        "/usr/bin/p",
        &["libpok.so => /usr/lib/libpok.so", LIBC, RTLD],
        oracle,
    );
}

#[test]
fn a_library_can_be_listed_like_a_program() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("ldd-lib");
    t.lib("/usr/lib/libdep.so", Obj::new().soname("libdep.so"));
    t.lib(
        "/usr/lib/libtop.so",
        Obj::new().soname("libtop.so").needs(&["libdep.so"]),
    );
    let model = t.model_ldd("/usr/lib/libtop.so");
    assert_eq!(
        model,
        vec!["libdep.so => /usr/lib/libdep.so", LIBC, RTLD],
        "ldd on a shared library lists its dependencies"
    );
    if oracle {
        // ldd runs the library through ld.so: LD_TRACE_LOADED_OBJECTS=1 ld.so FILE.
        let (_, out, err) = t.run_real_args(
            "/lib64/ld-linux-x86-64.so.2",
            &["/usr/lib/libtop.so"],
            &[("LD_TRACE_LOADED_OBJECTS", "1")],
        );
        let real: Vec<String> = out
            .lines()
            .map(|l| l.trim_start())
            .filter(|l| !l.starts_with("linux-vdso"))
            .map(|l| l.rsplit_once(" (0x").map_or(l, |x| x.0).to_string())
            .collect();
        assert_eq!(real, model, "{err}");
    }
}

#[test]
fn static_programs_are_reported_as_glibc_ldd_does() {
    let Some(oracle) = setup() else { return };
    let mut t = Tree::glibc("static");
    t.prog("/usr/bin/st", Obj::new().args(&["-static"]));
    t.prog("/usr/bin/stp", Obj::new().args(&["-static-pie"]));
    assert_eq!(t.model_ldd("/usr/bin/st"), vec!["not a dynamic executable"]);
    assert_eq!(t.model_ldd("/usr/bin/stp"), vec!["statically linked"]);
    if oracle && std::path::Path::new("/usr/bin/ldd").exists() {
        // The host's ldd script on the same files (they need nothing from the tree).
        for (p, want) in [
            ("/usr/bin/st", "not a dynamic executable"),
            ("/usr/bin/stp", "statically linked"),
        ] {
            let out = std::process::Command::new("ldd")
                .arg(t.host(p))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert_eq!(text.trim(), want, "{p}");
        }
    }
}
