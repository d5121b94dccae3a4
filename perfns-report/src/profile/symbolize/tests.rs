//! The symbolizer against ELF files built here with cc, their functions'
//! addresses read with binutils' nm and readelf (not with `object`), and
//! against bad input: missing, rebuilt, truncated and stripped files.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// Two functions the compiler keeps apart: `alpha` (global) and `beta`
/// (static: in .symtab only, not .dynsym).
const SOURCE: &str = r#"
__attribute__((noinline)) int alpha(int x) { return x * 3 + 1; }
static __attribute__((noinline)) int beta(int x) { return alpha(x) ^ 7; }
int main(int argc, char **argv) { (void)argv; return beta(argc); }
"#;

/// Runs `cmd`, failing the test with its stderr if it fails; its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `SOURCE` built in `dir` (with a SHA-1 build-id), or `None` (a failure
/// under CI) without a C compiler.
fn build(dir: &Path) -> Option<PathBuf> {
    let have_cc = Command::new("cc")
        .arg("--version")
        .output()
        .map_err(|e| format!("needs a C compiler (cc): {e}"));
    perfns::testing::prerequisite(have_cc)?;
    let src = dir.join("two.c");
    std::fs::write(&src, SOURCE).unwrap();
    let exe = dir.join("two");
    run(Command::new("cc")
        .args(["-O1", "-fno-inline", "-Wl,--build-id=sha1", "-o"])
        .arg(&exe)
        .arg(&src));
    Some(exe)
}

/// A symbol's address and size as `nm -S` lists them.
fn nm(exe: &Path, name: &str) -> (u64, u64) {
    let text = run(Command::new("nm").arg("-S").arg(exe));
    text.lines()
        .find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 4 && w[3] == name).then(|| {
                (
                    u64::from_str_radix(w[0], 16).unwrap(),
                    u64::from_str_radix(w[1], 16).unwrap(),
                )
            })
        })
        .unwrap_or_else(|| panic!("nm lists no {name}: {text}"))
}

/// The file offset of address `vaddr`, from `readelf -lW`'s LOAD rows
/// (Offset, VirtAddr, PhysAddr, FileSiz, ...).
fn offset_of(exe: &Path, vaddr: u64) -> u64 {
    let text = run(Command::new("readelf").arg("-lW").arg(exe));
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.first() == Some(&"LOAD")).then(|| (hex(w[1]), hex(w[2]), hex(w[4])))
        })
        .find(|&(_, va, size)| (va..va + size).contains(&vaddr))
        .map(|(off, va, _)| vaddr - va + off)
        .unwrap_or_else(|| panic!("no LOAD segment holds {vaddr:#x}: {text}"))
}

/// The build-id `readelf -n` lists.
fn build_id(exe: &Path) -> Vec<u8> {
    let text = run(Command::new("readelf").arg("-n").arg(exe));
    let hex = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .unwrap_or_else(|| panic!("no build-id: {text}"));
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// Debug directories in `dir` (empty unless a test fills them).
fn dirs(dir: &Path) -> DebugDirs {
    DebugDirs {
        perf_cache: Some(dir.join("perf-cache")),
        debug_root: dir.join("usr-lib-debug"),
    }
}

fn key(path: &Path, build_id: Option<Vec<u8>>) -> FileKey {
    FileKey {
        path: path.display().to_string(),
        build_id,
    }
}

#[test]
fn functions_are_found_at_the_offsets_nm_and_readelf_give() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = build(dir.path()) else { return };
    let mut s = Symbolizer::new(dirs(dir.path()));
    let table = s.table(&key(&exe, Some(build_id(&exe)))).unwrap();
    for name in ["alpha", "beta", "main"] {
        let (start, size) = nm(&exe, name);
        assert!(size > 1, "{name}: {size}");
        let at = |vaddr| table.function_at(offset_of(&exe, vaddr));
        assert_eq!(at(start), Some(name), "{name}'s first byte");
        assert_eq!(at(start + size / 2), Some(name), "{name}'s middle");
        assert_eq!(at(start + size - 1), Some(name), "{name}'s last byte");
    }
    // The ELF header's bytes are in no function.
    assert_eq!(table.function_at(0), None);
    assert!(s.problems().is_empty(), "{:?}", s.problems());
}

#[test]
fn a_missing_file_says_so_once_and_symbolizes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Symbolizer::new(dirs(dir.path()));
    let gone = dir.path().join("gone");
    assert!(s.table(&key(&gone, None)).is_none());
    assert!(s.table(&key(&gone, None)).is_none());
    assert_eq!(
        s.problems(),
        [format!(
            "{0}: {0}: No such file or directory (os error 2)",
            gone.display()
        )]
    );
    // Memory that is no file is said to be none, not looked for.
    for name in [
        "//anon",
        "/memfd:sealed-1 (deleted)",
        "/usr/bin/gone (deleted)",
    ] {
        assert!(s.table(&key(Path::new(name), None)).is_none());
        assert_eq!(
            s.problems().last().unwrap(),
            &format!("{name}: not a file on disk (anonymous memory, a memfd or a deleted file)")
        );
    }
    // With a build-id, where else it was looked for is said too.
    let id = vec![0xab; 20];
    assert!(s.table(&key(&gone, Some(id))).is_none());
    let said = s.problems().last().unwrap();
    assert!(
        said.contains(&format!(
            "no file of build-id {} in {}",
            "ab".repeat(20),
            dir.path().join("perf-cache/.build-id").display()
        )),
        "{said}"
    );
}

#[test]
fn another_build_of_the_file_is_not_trusted_but_the_recorded_one_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = build(dir.path()) else { return };
    let real = build_id(&exe);
    let mut other = real.clone();
    other[0] ^= 0xff;
    let mut s = Symbolizer::new(dirs(dir.path()));
    assert!(s.table(&key(&exe, Some(other.clone()))).is_none());
    let said = &s.problems()[0];
    let hex = |id: &[u8]| id.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert!(
        said.contains(&format!(
            "build-id {} is not the recording's {}: another build of it, not trusted",
            hex(&real),
            hex(&other)
        )),
        "{said}"
    );

    // The recorded build, moved away, is found in perf's cache by its
    // build-id, as `perf record` leaves it (.build-id/xx/rest/elf).
    let h = hex(&real);
    let cached = dir
        .path()
        .join("perf-cache/.build-id")
        .join(&h[..2])
        .join(&h[2..]);
    std::fs::create_dir_all(&cached).unwrap();
    std::fs::copy(&exe, cached.join("elf")).unwrap();
    let moved = key(&dir.path().join("moved-away"), Some(real));
    let table = s.table(&moved).unwrap();
    let (alpha, _) = nm(&exe, "alpha");
    assert_eq!(table.function_at(offset_of(&exe, alpha)), Some("alpha"));
}

#[test]
fn a_truncated_or_foreign_file_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = build(dir.path()) else { return };
    let bytes = std::fs::read(&exe).unwrap();
    let mut s = Symbolizer::new(dirs(dir.path()));
    for (name, content) in [
        ("header-only", &bytes[..40]),
        ("half", &bytes[..bytes.len() / 2]),
        ("text", &b"#!/bin/sh\necho not ELF\n"[..]),
        ("empty", &[][..]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        // Whatever a cut file still holds is no panic; a file too short
        // for its headers is refused with the reason.
        let _ = s.table(&key(&path, None));
    }
    let problems = s.problems().join("\n");
    for name in ["header-only", "text", "empty"] {
        assert!(
            problems.contains(&format!(
                "{}: not a readable ELF file",
                dir.path().join(name).display()
            )),
            "{name}: {problems}"
        );
    }
}

#[test]
fn a_stripped_file_takes_its_debug_files_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = build(dir.path()) else { return };
    let id = build_id(&exe);
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let debug = dir
        .path()
        .join("usr-lib-debug/.build-id")
        .join(&hex[..2])
        .join(format!("{}.debug", &hex[2..]));
    std::fs::create_dir_all(debug.parent().unwrap()).unwrap();
    run(Command::new("objcopy")
        .arg("--only-keep-debug")
        .arg(&exe)
        .arg(&debug));
    let stripped = dir.path().join("stripped");
    run(Command::new("strip").arg("-o").arg(&stripped).arg(&exe));
    let (beta, _) = nm(&exe, "beta");
    let offset = offset_of(&exe, beta);
    // Stripped and no debug file: beta, static, is in no symbol table left.
    let mut bare = Symbolizer::new(dirs(&dir.path().join("nowhere")));
    let table = bare.table(&key(&stripped, Some(id.clone())));
    assert_ne!(table.and_then(|t| t.function_at(offset)), Some("beta"));
    // With the debug package's file, it is named.
    let mut s = Symbolizer::new(dirs(dir.path()));
    let table = s.table(&key(&stripped, Some(id))).unwrap();
    assert_eq!(table.function_at(offset), Some("beta"));
}

#[test]
fn kallsyms_are_used_only_for_the_recorded_boot() {
    let kallsyms = "\
ffffffff81000000 T _text
ffffffff81000000 T startup_64
ffffffff81001000 t __pi_do_one
ffffffff81001000 t do_one
ffffffff81002000 T do_two
ffffffff81003000 d some_data
ffffffffc0000000 t mod_fn\t[some_module]
";
    let mut s = Symbolizer::new(dirs(Path::new("/nonexistent")));
    s.use_kallsyms("kallsyms", kallsyms, 0xffff_ffff_8100_0000);
    let k = s.kernel().unwrap();
    assert_eq!(k.function_at(0xffff_ffff_8100_1004), Some("do_one"));
    assert_eq!(k.function_at(0xffff_ffff_8100_2fff), Some("do_two"));
    assert_eq!(k.function_at(0xffff_ffff_c000_0010), Some("mod_fn"));
    assert_eq!(k.function_at(0x1000), None);
    assert!(s.problems().is_empty());

    // Another boot (KASLR moved _text): not used, and said.
    let mut s = Symbolizer::new(dirs(Path::new("/nonexistent")));
    s.use_kallsyms("kallsyms", kallsyms, 0xffff_ffff_a000_0000);
    assert!(s.kernel().is_none());
    assert_eq!(
        s.problems(),
        [
            "kallsyms puts _text at 0xffffffff81000000, the recording at 0xffffffffa0000000 \
          (another boot): kernel frames are not symbolized"
        ]
    );
    // Hidden addresses (kptr_restrict): all zero, none kept.
    let mut s = Symbolizer::new(dirs(Path::new("/nonexistent")));
    let hidden: String = kallsyms
        .lines()
        .map(|l| format!("{}{}\n", "0".repeat(16), &l[16..]))
        .collect();
    s.use_kallsyms("kallsyms", &hidden, 0);
    assert!(s.kernel().is_none());
    assert!(s.problems()[0].contains("lists no kernel function"));
}

#[test]
fn names_are_demangled_as_cxxfilt_does_rust_ones_without_their_hash() {
    // C++: what binutils' c++filt makes of the same names.
    for mangled in [
        "_Z19ht_lookup_with_hashP2htPKhmj16ht_lookup_option",
        "_ZNSt6vectorIiSaIiEE9push_backERKi",
    ] {
        let Ok(out) = Command::new("c++filt").arg(mangled).output() else {
            perfns::testing::prerequisite::<(), _>(Err("needs c++filt (binutils)"));
            return;
        };
        let expected = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_ne!(expected, mangled);
        assert_eq!(demangle(mangled), expected);
    }
    // Rust, legacy and v0: the path, without the hash perf report keeps
    // out too.
    assert_eq!(
        demangle("_ZN4core3ptr13drop_in_place17h0123456789abcdefE"),
        "core::ptr::drop_in_place"
    );
    assert_eq!(demangle("_RNvCs1234_7mycrate3foo"), "mycrate::foo");
    // C names and what no demangler takes stay as they are.
    for plain in ["main", "perfns_hot_two", "_Zgarbage", "_ZN"] {
        assert_eq!(demangle(plain), plain);
    }
}
