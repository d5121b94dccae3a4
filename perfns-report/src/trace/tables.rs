//! The names the kernel's numbers stand for in a trace line: errnos (with
//! glibc's strerror text, as strace prints them), signals, and the flag
//! bits of open, mmap, mprotect, clone and the *at calls. The numbers are
//! the generic ones x86_64 and arm64 share (include/uapi/asm-generic),
//! except where [`open_flags`] says.

/// `(name, strerror text)` of errno `n`, as glibc 2.36 words it; the
/// kernel-internal restart codes (512 to 516) as strace words them.
pub fn errno(n: u64) -> Option<(&'static str, &'static str)> {
    let i = usize::try_from(n).ok()?;
    if let Some(&(name, text)) = ERRNOS.get(i) {
        return (!name.is_empty()).then_some((name, text));
    }
    match n {
        512 => Some(("ERESTARTSYS", "To be restarted if SA_RESTART is set")),
        513 => Some(("ERESTARTNOINTR", "To be restarted")),
        514 => Some(("ERESTARTNOHAND", "To be restarted if no handler")),
        515 => Some(("ENOIOCTLCMD", "Inappropriate ioctl for device")),
        516 => Some(("ERESTART_RESTARTBLOCK", "Interrupted by signal")),
        _ => None,
    }
}

/// Whether errno `n` is one of the kernel's restart codes, which never
/// reach the caller (the call is restarted or fails with EINTR): strace
/// shows their return as `?`.
pub fn is_restart(n: u64) -> bool {
    (512..=516).contains(&n)
}

/// include/uapi/asm-generic/errno-base.h and errno.h; 41 and 58 are
/// aliases (EWOULDBLOCK, EDEADLOCK) and have no number of their own.
const ERRNOS: [(&str, &str); 134] = [
    ("", ""),
    ("EPERM", "Operation not permitted"),
    ("ENOENT", "No such file or directory"),
    ("ESRCH", "No such process"),
    ("EINTR", "Interrupted system call"),
    ("EIO", "Input/output error"),
    ("ENXIO", "No such device or address"),
    ("E2BIG", "Argument list too long"),
    ("ENOEXEC", "Exec format error"),
    ("EBADF", "Bad file descriptor"),
    ("ECHILD", "No child processes"),
    ("EAGAIN", "Resource temporarily unavailable"),
    ("ENOMEM", "Cannot allocate memory"),
    ("EACCES", "Permission denied"),
    ("EFAULT", "Bad address"),
    ("ENOTBLK", "Block device required"),
    ("EBUSY", "Device or resource busy"),
    ("EEXIST", "File exists"),
    ("EXDEV", "Invalid cross-device link"),
    ("ENODEV", "No such device"),
    ("ENOTDIR", "Not a directory"),
    ("EISDIR", "Is a directory"),
    ("EINVAL", "Invalid argument"),
    ("ENFILE", "Too many open files in system"),
    ("EMFILE", "Too many open files"),
    ("ENOTTY", "Inappropriate ioctl for device"),
    ("ETXTBSY", "Text file busy"),
    ("EFBIG", "File too large"),
    ("ENOSPC", "No space left on device"),
    ("ESPIPE", "Illegal seek"),
    ("EROFS", "Read-only file system"),
    ("EMLINK", "Too many links"),
    ("EPIPE", "Broken pipe"),
    ("EDOM", "Numerical argument out of domain"),
    ("ERANGE", "Numerical result out of range"),
    ("EDEADLK", "Resource deadlock avoided"),
    ("ENAMETOOLONG", "File name too long"),
    ("ENOLCK", "No locks available"),
    ("ENOSYS", "Function not implemented"),
    ("ENOTEMPTY", "Directory not empty"),
    ("ELOOP", "Too many levels of symbolic links"),
    ("", ""),
    ("ENOMSG", "No message of desired type"),
    ("EIDRM", "Identifier removed"),
    ("ECHRNG", "Channel number out of range"),
    ("EL2NSYNC", "Level 2 not synchronized"),
    ("EL3HLT", "Level 3 halted"),
    ("EL3RST", "Level 3 reset"),
    ("ELNRNG", "Link number out of range"),
    ("EUNATCH", "Protocol driver not attached"),
    ("ENOCSI", "No CSI structure available"),
    ("EL2HLT", "Level 2 halted"),
    ("EBADE", "Invalid exchange"),
    ("EBADR", "Invalid request descriptor"),
    ("EXFULL", "Exchange full"),
    ("ENOANO", "No anode"),
    ("EBADRQC", "Invalid request code"),
    ("EBADSLT", "Invalid slot"),
    ("", ""),
    ("EBFONT", "Bad font file format"),
    ("ENOSTR", "Device not a stream"),
    ("ENODATA", "No data available"),
    ("ETIME", "Timer expired"),
    ("ENOSR", "Out of streams resources"),
    ("ENONET", "Machine is not on the network"),
    ("ENOPKG", "Package not installed"),
    ("EREMOTE", "Object is remote"),
    ("ENOLINK", "Link has been severed"),
    ("EADV", "Advertise error"),
    ("ESRMNT", "Srmount error"),
    ("ECOMM", "Communication error on send"),
    ("EPROTO", "Protocol error"),
    ("EMULTIHOP", "Multihop attempted"),
    ("EDOTDOT", "RFS specific error"),
    ("EBADMSG", "Bad message"),
    ("EOVERFLOW", "Value too large for defined data type"),
    ("ENOTUNIQ", "Name not unique on network"),
    ("EBADFD", "File descriptor in bad state"),
    ("EREMCHG", "Remote address changed"),
    ("ELIBACC", "Can not access a needed shared library"),
    ("ELIBBAD", "Accessing a corrupted shared library"),
    ("ELIBSCN", ".lib section in a.out corrupted"),
    ("ELIBMAX", "Attempting to link in too many shared libraries"),
    ("ELIBEXEC", "Cannot exec a shared library directly"),
    (
        "EILSEQ",
        "Invalid or incomplete multibyte or wide character",
    ),
    ("ERESTART", "Interrupted system call should be restarted"),
    ("ESTRPIPE", "Streams pipe error"),
    ("EUSERS", "Too many users"),
    ("ENOTSOCK", "Socket operation on non-socket"),
    ("EDESTADDRREQ", "Destination address required"),
    ("EMSGSIZE", "Message too long"),
    ("EPROTOTYPE", "Protocol wrong type for socket"),
    ("ENOPROTOOPT", "Protocol not available"),
    ("EPROTONOSUPPORT", "Protocol not supported"),
    ("ESOCKTNOSUPPORT", "Socket type not supported"),
    ("EOPNOTSUPP", "Operation not supported"),
    ("EPFNOSUPPORT", "Protocol family not supported"),
    ("EAFNOSUPPORT", "Address family not supported by protocol"),
    ("EADDRINUSE", "Address already in use"),
    ("EADDRNOTAVAIL", "Cannot assign requested address"),
    ("ENETDOWN", "Network is down"),
    ("ENETUNREACH", "Network is unreachable"),
    ("ENETRESET", "Network dropped connection on reset"),
    ("ECONNABORTED", "Software caused connection abort"),
    ("ECONNRESET", "Connection reset by peer"),
    ("ENOBUFS", "No buffer space available"),
    ("EISCONN", "Transport endpoint is already connected"),
    ("ENOTCONN", "Transport endpoint is not connected"),
    ("ESHUTDOWN", "Cannot send after transport endpoint shutdown"),
    ("ETOOMANYREFS", "Too many references: cannot splice"),
    ("ETIMEDOUT", "Connection timed out"),
    ("ECONNREFUSED", "Connection refused"),
    ("EHOSTDOWN", "Host is down"),
    ("EHOSTUNREACH", "No route to host"),
    ("EALREADY", "Operation already in progress"),
    ("EINPROGRESS", "Operation now in progress"),
    ("ESTALE", "Stale file handle"),
    ("EUCLEAN", "Structure needs cleaning"),
    ("ENOTNAM", "Not a XENIX named type file"),
    ("ENAVAIL", "No XENIX semaphores available"),
    ("EISNAM", "Is a named type file"),
    ("EREMOTEIO", "Remote I/O error"),
    ("EDQUOT", "Disk quota exceeded"),
    ("ENOMEDIUM", "No medium found"),
    ("EMEDIUMTYPE", "Wrong medium type"),
    ("ECANCELED", "Operation canceled"),
    ("ENOKEY", "Required key not available"),
    ("EKEYEXPIRED", "Key has expired"),
    ("EKEYREVOKED", "Key has been revoked"),
    ("EKEYREJECTED", "Key was rejected by service"),
    ("EOWNERDEAD", "Owner died"),
    ("ENOTRECOVERABLE", "State not recoverable"),
    ("ERFKILL", "Operation not possible due to RF-kill"),
    ("EHWPOISON", "Memory page has hardware error"),
];

/// The name of signal `n` (`SIGKILL`), `SIGRTn` for the real-time ones
/// (32 to 64, numbered from 32 as strace does), `None` past them.
pub fn signal(n: u64) -> Option<String> {
    const NAMES: [&str; 32] = [
        "0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match n {
        0..=31 => Some(NAMES[n as usize].to_owned()),
        32..=64 => Some(format!("SIGRT{}", n - 32)),
        _ => None,
    }
}

/// A flag word's bits by name, `A|B|0x40` (bits with no name in hex at
/// the end), `zero` when none is set.
fn bits(value: u64, names: &[(u64, &str)], zero: &str) -> String {
    if value == 0 {
        return zero.to_owned();
    }
    let mut parts = Vec::new();
    let mut left = value;
    for &(bit, name) in names {
        if bit != 0 && left & bit == bit {
            parts.push(name.to_owned());
            left &= !bit;
        }
    }
    if left != 0 {
        parts.push(format!("{left:#x}"));
    }
    parts.join("|")
}

/// open(2)'s and openat(2)'s flags: the access mode, then the other bits.
/// O_DIRECT, O_LARGEFILE, O_DIRECTORY and O_NOFOLLOW differ between
/// x86_64 (include/uapi/asm-generic/fcntl.h) and arm64
/// (arch/arm64/include/uapi/asm/fcntl.h).
pub fn open_flags(value: u64, arch: &str) -> String {
    let mode = match value & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let arm = arch == "aarch64";
    let (direct, largefile, directory, nofollow) = if arm {
        (0o200000, 0o400000, 0o40000, 0o100000)
    } else {
        (0o40000, 0o100000, 0o200000, 0o400000)
    };
    let names = [
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        // O_SYNC is __O_SYNC|O_DSYNC: the whole first.
        (0o4010000, "O_SYNC"),
        (0o10000, "O_DSYNC"),
        (0o20000, "O_ASYNC"),
        (direct, "O_DIRECT"),
        (largefile, "O_LARGEFILE"),
        // O_TMPFILE is __O_TMPFILE|O_DIRECTORY: the whole first.
        (0o20000000 | directory, "O_TMPFILE"),
        (directory, "O_DIRECTORY"),
        (nofollow, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"),
        (0o10000000, "O_PATH"),
    ];
    let rest = value & !3;
    if rest == 0 {
        return mode.to_owned();
    }
    format!("{mode}|{}", bits(rest, &names, ""))
}

/// mmap's, mprotect's and pkey_mprotect's protection.
pub fn prot(value: u64) -> String {
    bits(
        value,
        &[
            (0x1, "PROT_READ"),
            (0x2, "PROT_WRITE"),
            (0x4, "PROT_EXEC"),
            (0x8, "PROT_SEM"),
            (0x0100_0000, "PROT_GROWSDOWN"),
            (0x0200_0000, "PROT_GROWSUP"),
        ],
        "PROT_NONE",
    )
}

/// mmap's flags: the mapping type, then the other bits.
pub fn map_flags(value: u64) -> String {
    let kind = match value & 0xf {
        0x1 => "MAP_SHARED",
        0x2 => "MAP_PRIVATE",
        0x3 => "MAP_SHARED_VALIDATE",
        0 => "0",
        _ => "MAP_TYPE",
    };
    let rest = value & !0xf;
    if rest == 0 {
        return kind.to_owned();
    }
    let others = bits(
        rest,
        &[
            (0x10, "MAP_FIXED"),
            (0x20, "MAP_ANONYMOUS"),
            (0x40, "MAP_32BIT"),
            (0x100, "MAP_GROWSDOWN"),
            (0x800, "MAP_DENYWRITE"),
            (0x1000, "MAP_EXECUTABLE"),
            (0x2000, "MAP_LOCKED"),
            (0x4000, "MAP_NORESERVE"),
            (0x8000, "MAP_POPULATE"),
            (0x10000, "MAP_NONBLOCK"),
            (0x20000, "MAP_STACK"),
            (0x40000, "MAP_HUGETLB"),
            (0x80000, "MAP_SYNC"),
            (0x0010_0000, "MAP_FIXED_NOREPLACE"),
            (0x0400_0000, "MAP_UNINITIALIZED"),
        ],
        "",
    );
    format!("{kind}|{others}")
}

/// clone(2)'s flags, with the exit signal in the low byte as strace shows
/// it (`CLONE_VM|CLONE_VFORK|SIGCHLD`).
pub fn clone_flags(value: u64) -> String {
    let names = [
        (0x100, "CLONE_VM"),
        (0x200, "CLONE_FS"),
        (0x400, "CLONE_FILES"),
        (0x800, "CLONE_SIGHAND"),
        (0x1000, "CLONE_PIDFD"),
        (0x2000, "CLONE_PTRACE"),
        (0x4000, "CLONE_VFORK"),
        (0x8000, "CLONE_PARENT"),
        (0x10000, "CLONE_THREAD"),
        (0x20000, "CLONE_NEWNS"),
        (0x40000, "CLONE_SYSVSEM"),
        (0x80000, "CLONE_SETTLS"),
        (0x10_0000, "CLONE_PARENT_SETTID"),
        (0x20_0000, "CLONE_CHILD_CLEARTID"),
        (0x40_0000, "CLONE_DETACHED"),
        (0x80_0000, "CLONE_UNTRACED"),
        (0x100_0000, "CLONE_CHILD_SETTID"),
        (0x200_0000, "CLONE_NEWCGROUP"),
        (0x400_0000, "CLONE_NEWUTS"),
        (0x800_0000, "CLONE_NEWIPC"),
        (0x1000_0000, "CLONE_NEWUSER"),
        (0x2000_0000, "CLONE_NEWPID"),
        (0x4000_0000, "CLONE_NEWNET"),
        (0x8000_0000, "CLONE_IO"),
    ];
    let mut parts = Vec::new();
    if value & !0xff != 0 {
        parts.push(bits(value & !0xff, &names, ""));
    }
    let sig = value & 0xff;
    if sig != 0 {
        parts.push(signal(sig).unwrap_or_else(|| sig.to_string()));
    }
    if parts.is_empty() {
        return "0".into();
    }
    parts.join("|")
}

/// The AT_* flags of the *at calls (unlinkat, newfstatat, statx, linkat,
/// fchownat, faccessat2, execveat...).
pub fn at_flags(value: u64) -> String {
    bits(
        value,
        &[
            (0x100, "AT_SYMLINK_NOFOLLOW"),
            (0x200, "AT_REMOVEDIR"),
            (0x400, "AT_SYMLINK_FOLLOW"),
            (0x800, "AT_NO_AUTOMOUNT"),
            (0x1000, "AT_EMPTY_PATH"),
            (0x2000, "AT_STATX_FORCE_SYNC"),
            (0x4000, "AT_STATX_DONT_SYNC"),
            (0x8000, "AT_RECURSIVE"),
        ],
        "0",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our texts are glibc's: strerror(3) of this machine's libc says the
    /// same for every number we name.
    #[test]
    fn errno_texts_are_strerrors() {
        for n in 1..134u64 {
            let Some((name, text)) = errno(n) else {
                assert!(n == 41 || n == 58, "errno {n} has no name");
                continue;
            };
            // SAFETY: strerror returns a NUL-terminated string that lives
            // until the next call on this thread; it is copied at once.
            let libc_text = unsafe { std::ffi::CStr::from_ptr(libc::strerror(n as i32)) }
                .to_string_lossy()
                .into_owned();
            assert_eq!(text, libc_text, "errno {n} ({name})");
        }
    }

    #[test]
    fn errno_names_match_libc_numbers() {
        for (n, name) in [
            (libc::ENOENT, "ENOENT"),
            (libc::ESRCH, "ESRCH"),
            (libc::EAGAIN, "EAGAIN"),
            (libc::ENOSYS, "ENOSYS"),
            (libc::ECONNREFUSED, "ECONNREFUSED"),
            (libc::EHWPOISON, "EHWPOISON"),
        ] {
            assert_eq!(errno(n as u64).map(|e| e.0), Some(name));
        }
        assert_eq!(errno(0), None);
        assert_eq!(errno(41), None);
        assert_eq!(errno(600), None);
        assert_eq!(errno(512).map(|e| e.0), Some("ERESTARTSYS"));
    }

    #[test]
    fn signals_by_libc_numbers() {
        for (n, name) in [
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGUSR1, "SIGUSR1"),
            (libc::SIGCHLD, "SIGCHLD"),
            (libc::SIGSYS, "SIGSYS"),
        ] {
            assert_eq!(signal(n as u64).as_deref(), Some(name));
        }
        assert_eq!(signal(34).as_deref(), Some("SIGRT2"));
        assert_eq!(signal(65), None);
    }

    #[test]
    fn flags_by_libc_values() {
        let o = |v: i32| open_flags(v as u64, "x86_64");
        assert_eq!(o(libc::O_RDONLY | libc::O_CLOEXEC), "O_RDONLY|O_CLOEXEC");
        assert_eq!(
            o(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(o(libc::O_RDWR | libc::O_SYNC), "O_RDWR|O_SYNC");
        assert_eq!(
            o(libc::O_RDONLY | libc::O_DIRECTORY),
            "O_RDONLY|O_DIRECTORY"
        );
        assert_eq!(o(libc::O_RDWR | libc::O_TMPFILE), "O_RDWR|O_TMPFILE");
        assert_eq!(
            o(libc::O_PATH | libc::O_NOFOLLOW),
            "O_RDONLY|O_NOFOLLOW|O_PATH"
        );
        // arm64's O_DIRECTORY is x86_64's O_DIRECT.
        assert_eq!(open_flags(0o40000, "aarch64"), "O_RDONLY|O_DIRECTORY");
        assert_eq!(open_flags(0o40000, "x86_64"), "O_RDONLY|O_DIRECT");
        assert_eq!(
            prot((libc::PROT_READ | libc::PROT_WRITE) as u64),
            "PROT_READ|PROT_WRITE"
        );
        assert_eq!(prot(0), "PROT_NONE");
        assert_eq!(
            map_flags((libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64),
            "MAP_PRIVATE|MAP_ANONYMOUS"
        );
        assert_eq!(
            map_flags((libc::MAP_SHARED | libc::MAP_FIXED | 0x0800_0000) as u64),
            "MAP_SHARED|MAP_FIXED|0x8000000"
        );
        assert_eq!(
            clone_flags((libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64),
            "CLONE_VM|CLONE_VFORK|SIGCHLD"
        );
        assert_eq!(clone_flags(0), "0");
        assert_eq!(at_flags(libc::AT_REMOVEDIR as u64), "AT_REMOVEDIR");
    }
}
