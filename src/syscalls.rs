//! Syscall names by number, from the syscall table of the recorded architecture.
//!
//! raw_syscalls:sys_enter/sys_exit carry only the number; which name it stands
//! for depends on the architecture the recording was made on, which perf
//! stores (as `uname -m` prints it) in its HEADER_ARCH feature. The tables are
//! generated from the kernel's own syscall tables by `syscalls/generate.sh`,
//! whose header gives the exact command.

mod table;

/// The name of syscall `nr` on architecture `arch` (as `uname -m` prints it:
/// `x86_64`, `aarch64`), or `None` when the architecture is not one we have a
/// table for or the number is not a syscall of it.
pub fn name(arch: &str, nr: u64) -> Option<&'static str> {
    let table = match arch {
        "x86_64" => table::X86_64,
        "aarch64" => table::AARCH64,
        _ => return None,
    };
    let index = usize::try_from(nr).ok()?;
    table.get(index).copied().flatten()
}

/// The architecture this program runs on, as `uname -m` prints it (the value
/// perf writes into HEADER_ARCH).
pub fn host_arch() -> String {
    nix::sys::utsname::uname()
        .map(|uts| uts.machine().to_string_lossy().into_owned())
        // uname(2) cannot fail with a valid buffer; the build target names the
        // same machine if it somehow does.
        .unwrap_or_else(|_| std::env::consts::ARCH.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_64_known_numbers() {
        // From arch/x86/entry/syscalls/syscall_64.tbl and `ausyscall x86_64`.
        assert_eq!(name("x86_64", 0), Some("read"));
        assert_eq!(name("x86_64", 1), Some("write"));
        assert_eq!(name("x86_64", 39), Some("getpid"));
        assert_eq!(name("x86_64", 59), Some("execve"));
        assert_eq!(name("x86_64", 231), Some("exit_group"));
        assert_eq!(name("x86_64", 435), Some("clone3"));
        assert_eq!(name("x86_64", 335), Some("uretprobe"));
        assert_eq!(name("x86_64", 462), Some("mseal"));
    }

    #[test]
    fn aarch64_known_numbers() {
        // From include/uapi/asm-generic/unistd.h.
        assert_eq!(name("aarch64", 63), Some("read"));
        assert_eq!(name("aarch64", 64), Some("write"));
        assert_eq!(name("aarch64", 172), Some("getpid"));
        assert_eq!(name("aarch64", 221), Some("execve"));
        assert_eq!(name("aarch64", 94), Some("exit_group"));
        // __NR3264_fstatat is newfstatat on 64-bit; renameat is in arm64's
        // extra ABIs.
        assert_eq!(name("aarch64", 79), Some("newfstatat"));
        assert_eq!(name("aarch64", 38), Some("renameat"));
        assert_eq!(name("aarch64", 462), Some("mseal"));
    }

    #[test]
    fn unknown_numbers_are_none() {
        // x86_64 leaves 336..=423 unused and x32's 512..=547 are not 64-bit
        // syscalls; the 32-bit-only *_time64 calls 403..=423 are not on arm64.
        assert_eq!(name("x86_64", 336), None);
        assert_eq!(name("x86_64", 423), None);
        assert_eq!(name("x86_64", 512), None);
        assert_eq!(name("x86_64", 463), None);
        assert_eq!(name("x86_64", u64::MAX), None);
        assert_eq!(name("aarch64", 244), None);
        assert_eq!(name("aarch64", 403), None);
        assert_eq!(name("aarch64", 463), None);
        assert_eq!(name("aarch64", 1 << 40), None);
    }

    /// `(name, number)` of each `#define __NR_name number` in a uapi
    /// header that no `#if` makes conditional (those depend on the
    /// architecture's `__ARCH_WANT_*` and word size) beyond the header's
    /// `guards` (its include guard).
    fn unconditional_syscalls(path: &str, guards: usize) -> Option<Vec<(String, u64)>> {
        let text = crate::testing::prerequisite(std::fs::read_to_string(path).map_err(|e| {
            format!("needs the kernel's uapi headers (Debian's linux-libc-dev): {path}: {e}")
        }))?;
        let mut depth = 0usize;
        let mut out = Vec::new();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("#if" | "#ifdef" | "#ifndef") => depth += 1,
                Some("#endif") => depth = depth.saturating_sub(1),
                Some("#define") if depth <= guards => {
                    let (Some(name), Some(Ok(nr))) = (words.next(), words.next().map(str::parse))
                    else {
                        continue;
                    };
                    // Not syscalls: the table's size and the start of the
                    // numbers an architecture keeps for its own.
                    let not = ["syscalls", "arch_specific_syscall"];
                    if let Some(name) = name.strip_prefix("__NR_").filter(|n| !not.contains(n)) {
                        out.push((name.to_owned(), nr));
                    }
                }
                _ => {}
            }
        }
        Some(out)
    }

    /// Every syscall the installed uapi headers name is in our tables under
    /// the same number: a table that drifted, or headers newer than the
    /// 6.12 the tables were generated from (regenerate them with
    /// src/syscalls/generate.sh), fail here.
    #[test]
    fn tables_agree_with_the_installed_uapi_headers() {
        for (arch, header, guards) in [
            ("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", 1),
            // arm64's table is the generic one, which has no include guard.
            ("aarch64", "/usr/include/asm-generic/unistd.h", 0),
        ] {
            let Some(syscalls) = unconditional_syscalls(header, guards) else {
                return;
            };
            assert!(
                syscalls.len() > 200,
                "{header}: {} syscalls read",
                syscalls.len()
            );
            let wrong: Vec<String> = syscalls
                .iter()
                .filter(|(name, nr)| super::name(arch, *nr) != Some(name.as_str()))
                .map(|(name, nr)| format!("{name} = {nr}, ours {:?}", super::name(arch, *nr)))
                .collect();
            assert!(wrong.is_empty(), "{arch} against {header}: {wrong:?}");
        }
    }

    #[test]
    fn unknown_arch_is_none() {
        assert_eq!(name("riscv64", 63), None);
        assert_eq!(name("arm64", 63), None);
        assert_eq!(name("", 0), None);
    }

    #[test]
    fn host_arch_is_uname_m() {
        let out = std::process::Command::new("uname")
            .arg("-m")
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(host_arch(), String::from_utf8(out.stdout).unwrap().trim());
    }
}
