//! A syscall's arguments and result as a trace line shows them: each
//! argument by its name and C type in the syscalls:sys_enter_* format,
//! flags, fds and signals by name, errors by errno name.

use serde::Serialize;

use super::tables;

/// One parameter of a syscall, from its sys_enter_NAME format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Its name (`filename`).
    pub name: String,
    /// Its C type (`const char *`).
    pub c_type: String,
}

/// One argument of a call as a line shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arg {
    /// The parameter's name, `arg1`... when the syscall's format is not
    /// known.
    pub name: String,
    /// Its C type, empty when not known.
    #[serde(rename = "type")]
    pub c_type: String,
    /// The register's value.
    pub raw: u64,
    /// As shown: `O_RDONLY|O_CLOEXEC`, `AT_FDCWD`, `0x7ffd5c2e1a20`, a
    /// string in quotes when the recording carries it.
    pub text: String,
}

/// Argument `param` of `syscall` with value `raw`, as shown, on
/// architecture `arch` (some flag bits differ).
pub fn arg(syscall: &str, param: &Param, raw: u64, arch: &str) -> String {
    let name = param.name.as_str();
    let t = param.c_type.as_str();
    match (syscall, name) {
        (_, "dfd" | "olddfd" | "newdfd" | "fromfd" | "tofd") if raw as i32 == -100 => {
            return "AT_FDCWD".into()
        }
        ("open" | "openat" | "open_by_handle_at", "flags") => return tables::open_flags(raw, arch),
        (
            "open" | "openat" | "creat" | "mkdir" | "mkdirat" | "chmod" | "fchmod" | "fchmodat"
            | "fchmodat2" | "mknod" | "mknodat",
            "mode",
        ) => {
            return match raw as u32 {
                0 => "0".into(),
                mode => format!("0{mode:o}"),
            }
        }
        ("mmap" | "mprotect" | "pkey_mprotect", "prot") => return tables::prot(raw),
        ("mmap", "flags") => return tables::map_flags(raw),
        ("clone", "clone_flags") => return tables::clone_flags(raw),
        (
            "unlinkat" | "newfstatat" | "fstatat64" | "statx" | "linkat" | "fchownat"
            | "faccessat2" | "execveat" | "utimensat" | "name_to_handle_at" | "fchmodat2",
            "flag" | "flags",
        ) => return tables::at_flags(raw),
        // Some formats type an fd `unsigned long` (mmap's): -1 is -1.
        (_, "fd" | "oldfd" | "newfd") => return (raw as i32).to_string(),
        (_, "sig") => return tables::signal(raw as u32 as u64).unwrap_or_else(|| raw.to_string()),
        _ => {}
    }
    if t.contains('*') {
        return pointer(raw);
    }
    integer(t, raw)
}

/// A pointer: `NULL` or its address in hex.
fn pointer(raw: u64) -> String {
    if raw == 0 {
        "NULL".into()
    } else {
        format!("{raw:#x}")
    }
}

/// An integer of C type `t` held in a 64-bit register: 32-bit types cut
/// to their width, signed ones shown with their sign.
fn integer(t: &str, raw: u64) -> String {
    let t = t.trim_start_matches("const ");
    let narrow = matches!(
        t,
        "int"
            | "unsigned int"
            | "unsigned"
            | "pid_t"
            | "uid_t"
            | "gid_t"
            | "qid_t"
            | "key_t"
            | "clockid_t"
            | "mqd_t"
            | "timer_t"
            | "rwf_t"
            | "u32"
            | "__u32"
            | "s32"
            | "__s32"
            | "umode_t"
    );
    let unsigned = t.contains("unsigned")
        || matches!(
            t,
            "size_t" | "u32" | "__u32" | "u64" | "__u64" | "umode_t" | "uid_t" | "gid_t" | "qid_t"
        );
    match (narrow, unsigned) {
        (true, true) => (raw as u32).to_string(),
        (true, false) => (raw as i32).to_string(),
        (false, true) => raw.to_string(),
        (false, false) => (raw as i64).to_string(),
    }
}

/// The result of a call, as a line shows it: the errno's name and text
/// for an error (`-1 ENOENT (No such file or directory)`, strace's form),
/// an address for the calls that return one, else the number.
pub fn result(syscall: &str, ret: i64) -> Result<String, Errno> {
    if (-4095..0).contains(&ret) {
        let n = ret.unsigned_abs();
        return Err(Errno {
            number: n,
            name: tables::errno(n).map(|e| e.0.to_owned()),
        });
    }
    Ok(match syscall {
        "mmap" | "mremap" | "brk" | "shmat" => pointer(ret as u64),
        _ => ret.to_string(),
    })
}

/// A call's error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Errno {
    /// Its number (positive).
    pub number: u64,
    /// Its name, when it has one (`ENOENT`).
    pub name: Option<String>,
}

impl Errno {
    /// `-1 ENOENT (No such file or directory)`; `? ERESTARTSYS (To be
    /// restarted if SA_RESTART is set)` for the restart codes, which the
    /// caller never sees; `-1 errno 700` for a number with no name.
    pub fn text(&self) -> String {
        let minus_one = if tables::is_restart(self.number) {
            "?"
        } else {
            "-1"
        };
        match tables::errno(self.number) {
            Some((name, text)) => format!("{minus_one} {name} ({text})"),
            None => format!("{minus_one} errno {}", self.number),
        }
    }
}

/// The syscalls of strace's classes (`-e trace=%file`...), as strace 6.1's
/// syscallent tables mark them (TF, TN, TP, TM, TS), for x86_64 and arm64.
pub fn class(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "file" => &[
            "access",
            "acct",
            "chdir",
            "chmod",
            "chown",
            "chroot",
            "creat",
            "execve",
            "execveat",
            "faccessat",
            "faccessat2",
            "fanotify_mark",
            "fchmodat",
            "fchmodat2",
            "fchownat",
            "fsconfig",
            "fspick",
            "futimesat",
            "getcwd",
            "getxattr",
            "inotify_add_watch",
            "lchown",
            "lgetxattr",
            "link",
            "linkat",
            "listxattr",
            "llistxattr",
            "lremovexattr",
            "lsetxattr",
            "lstat",
            "mkdir",
            "mkdirat",
            "mknod",
            "mknodat",
            "mount",
            "mount_setattr",
            "move_mount",
            "name_to_handle_at",
            "newfstatat",
            "open",
            "open_tree",
            "openat",
            "openat2",
            "pivot_root",
            "quotactl",
            "readlink",
            "readlinkat",
            "removexattr",
            "rename",
            "renameat",
            "renameat2",
            "rmdir",
            "setxattr",
            "stat",
            "statfs",
            "statx",
            "swapoff",
            "swapon",
            "symlink",
            "symlinkat",
            "truncate",
            "umount2",
            "unlink",
            "unlinkat",
            "uselib",
            "utime",
            "utimensat",
            "utimes",
        ],
        "network" | "net" => &[
            "accept",
            "accept4",
            "bind",
            "connect",
            "getpeername",
            "getsockname",
            "getsockopt",
            "listen",
            "recvfrom",
            "recvmmsg",
            "recvmsg",
            "sendmmsg",
            "sendmsg",
            "sendto",
            "setsockopt",
            "shutdown",
            "socket",
            "socketpair",
        ],
        "process" => &[
            "clone",
            "clone3",
            "execve",
            "execveat",
            "exit",
            "exit_group",
            "fork",
            "kill",
            "pidfd_open",
            "pidfd_send_signal",
            "rt_sigqueueinfo",
            "rt_tgsigqueueinfo",
            "tgkill",
            "tkill",
            "vfork",
            "wait4",
            "waitid",
        ],
        "memory" => &[
            "brk",
            "get_mempolicy",
            "madvise",
            "map_shadow_stack",
            "mbind",
            "memfd_secret",
            "migrate_pages",
            "mincore",
            "mlock",
            "mlock2",
            "mlockall",
            "mmap",
            "move_pages",
            "mprotect",
            "mremap",
            "mseal",
            "msync",
            "munlock",
            "munlockall",
            "munmap",
            "pkey_mprotect",
            "process_madvise",
            "process_mrelease",
            "remap_file_pages",
            "set_mempolicy",
            "set_mempolicy_home_node",
            "shmat",
            "shmdt",
        ],
        "signal" => &[
            "kill",
            "pause",
            "pidfd_send_signal",
            "rt_sigaction",
            "rt_sigpending",
            "rt_sigprocmask",
            "rt_sigqueueinfo",
            "rt_sigreturn",
            "rt_sigsuspend",
            "rt_sigtimedwait",
            "rt_tgsigqueueinfo",
            "sigaltstack",
            "signalfd",
            "signalfd4",
            "tgkill",
            "tkill",
        ],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, c_type: &str) -> Param {
        Param {
            name: name.into(),
            c_type: c_type.into(),
        }
    }

    #[test]
    fn arguments_by_name_and_type() {
        let x = "x86_64";
        assert_eq!(
            arg("openat", &p("dfd", "int"), (-100i64) as u64, x),
            "AT_FDCWD"
        );
        assert_eq!(arg("openat", &p("dfd", "int"), 3, x), "3");
        assert_eq!(
            arg("openat", &p("filename", "const char *"), 0x7ffd_1234, x),
            "0x7ffd1234"
        );
        assert_eq!(arg("openat", &p("filename", "const char *"), 0, x), "NULL");
        assert_eq!(arg("openat", &p("mode", "umode_t"), 0o644, x), "0644");
        assert_eq!(arg("openat", &p("mode", "umode_t"), 0, x), "0");
        // An int's register may hold garbage above its 32 bits.
        assert_eq!(arg("close", &p("fd", "unsigned int"), 0xffff_ffff, x), "-1");
        assert_eq!(
            arg("read", &p("count", "unsigned int"), 0xffff_ffff, x),
            "4294967295"
        );
        // mmap's format types its fd `unsigned long`: -1 is still -1.
        assert_eq!(arg("mmap", &p("fd", "unsigned long"), u64::MAX, x), "-1");
        assert_eq!(
            arg("mmap", &p("len", "unsigned long"), u64::MAX, x),
            "18446744073709551615"
        );
        assert_eq!(arg("lseek", &p("offset", "off_t"), (-5i64) as u64, x), "-5");
        assert_eq!(arg("kill", &p("pid", "pid_t"), 0xdead_0000_0007, x), "7");
        assert_eq!(arg("kill", &p("sig", "int"), 9, x), "SIGKILL");
        assert_eq!(arg("kill", &p("sig", "int"), 0, x), "0");
        assert_eq!(arg("write", &p("count", "size_t"), 123, x), "123");
    }

    #[test]
    fn results() {
        assert_eq!(result("getppid", 42), Ok("42".into()));
        let e = result("openat", -2).unwrap_err();
        assert_eq!(e.text(), "-1 ENOENT (No such file or directory)");
        assert_eq!(
            result("read", -512).unwrap_err().text(),
            "? ERESTARTSYS (To be restarted if SA_RESTART is set)"
        );
        assert_eq!(result("read", -4000).unwrap_err().text(), "-1 errno 4000");
        assert_eq!(
            result("mmap", 0x7f00_0000_0000),
            Ok("0x7f0000000000".into())
        );
        // Past -4095 it is no error (a large lseek offset).
        assert_eq!(result("lseek", -4096), Ok("-4096".into()));
    }

    #[test]
    fn classes_name_syscalls_of_the_table() {
        for c in ["file", "network", "process", "memory", "signal"] {
            for name in class(c).unwrap() {
                let known = (0..1000).any(|nr| perfns::syscalls::name("x86_64", nr) == Some(name))
                    || (0..1000).any(|nr| perfns::syscalls::name("aarch64", nr) == Some(name));
                assert!(known, "%{c}: {name} is no syscall");
            }
        }
        assert!(class("nope").is_none());
    }
}
