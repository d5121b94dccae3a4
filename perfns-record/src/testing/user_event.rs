//! The workload's `user-event` and `emit` steps: a user event registered
//! and written as a process of a tenant would, through tracefs's
//! `user_events_data` (Documentation/trace/user_events.rst, Linux 6.4).
//!
//! ```c
//! /* include/uapi/linux/user_events.h */
//! struct user_reg {
//!     __u32 size;          /* sizeof(struct user_reg) */
//!     __u8  enable_bit;    /* the bit of *enable_addr the kernel sets */
//!     __u8  enable_size;   /* 4 or 8 */
//!     __u16 flags;
//!     __u64 enable_addr;
//!     __u64 name_args;     /* "NAME TYPE FIELD;..." */
//!     __u32 write_index;   /* out: what each write starts with */
//! } __attribute__((__packed__));
//! #define DIAG_IOCSREG _IOWR('*', 0, struct user_reg *)
//! ```
//!
//! The kernel sets the enable bit while any reader (perf, ftrace) has the
//! event open, and drops a write while no reader has it enabled: an event
//! is written as `writev([write_index, payload])`.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{SeqType, USER_EVENTS_DATA_ENV};

/// Where tracefs has `user_events_data`, when [`USER_EVENTS_DATA_ENV`]
/// names no other place.
const DATA_FILES: [&str; 2] = [
    "/sys/kernel/tracing/user_events_data",
    "/sys/kernel/debug/tracing/user_events_data",
];

/// `struct user_reg`, as the kernel lays it out (packed: 28 bytes).
#[repr(C, packed)]
struct UserReg {
    size: u32,
    enable_bit: u8,
    enable_size: u8,
    flags: u16,
    enable_addr: u64,
    name_args: u64,
    write_index: u32,
}

/// `DIAG_IOCSREG`: `_IOWR('*', 0, struct user_reg *)`, whose size is a
/// pointer's (the kernel reads `user_reg.size` for the struct's).
const DIAG_IOCSREG: u64 = (3 << 30) | (8 << 16) | ((b'*' as u64) << 8);

/// A user event this process registered: the data file it writes
/// through, its write index and its enable word, which the kernel writes
/// while the registration lasts (until the file is closed, with it).
#[derive(Debug)]
pub(super) struct Registered {
    name: String,
    field: SeqType,
    // Declared before `enabled`: the file (and with it the registration,
    // whose enable address is `enabled`) goes first.
    data: File,
    write_index: u32,
    /// Bit 0: some reader has the event open.
    enabled: Box<AtomicU32>,
}

/// The `user_events_data` to register through: the environment's, else
/// the first of `candidates` there is.
fn data_file(from_env: Option<PathBuf>, candidates: &[&str]) -> Result<PathBuf, String> {
    if let Some(path) = from_env {
        return Ok(path);
    }
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| {
            format!(
                "no user_events_data at {}: this kernel has no user_events (CONFIG_USER_EVENTS), \
                 or tracefs is not here (set {USER_EVENTS_DATA_ENV} to where the host exposes it)",
                candidates.join(" or ")
            )
        })
}

impl Registered {
    /// Registers `name` with one field, `TYPE seq`.
    pub(super) fn new(name: &str, field: SeqType) -> io::Result<Self> {
        let fail = |why: String| io::Error::other(format!("user-event {name}: {why}"));
        let path = data_file(
            std::env::var_os(USER_EVENTS_DATA_ENV).map(PathBuf::from),
            &DATA_FILES,
        )
        .map_err(fail)?;
        let data = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
        let command = CString::new(format!("{name} {} seq", field.name()))
            .map_err(|e| fail(e.to_string()))?;
        let enabled = Box::new(AtomicU32::new(0));
        let mut reg = UserReg {
            size: std::mem::size_of::<UserReg>() as u32,
            enable_bit: 0,
            enable_size: 4,
            flags: 0,
            enable_addr: enabled.as_ptr() as u64,
            name_args: command.as_ptr() as u64,
            write_index: 0,
        };
        // SAFETY: `data` is an open file; `reg` is the struct the kernel
        // reads `size` bytes of and writes `write_index` into, and lives
        // across the call, as does the NUL-terminated command it points
        // to. The enable word it points to is boxed: it keeps its address
        // while the registration lasts (`data` is dropped first).
        let ret = unsafe { libc::ioctl(data.as_raw_fd(), DIAG_IOCSREG as _, &mut reg) };
        if ret < 0 {
            return Err(fail(format!(
                "registering `{}` through {}: {}",
                command.to_string_lossy(),
                path.display(),
                io::Error::last_os_error()
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            field,
            data,
            write_index: reg.write_index,
            enabled,
        })
    }

    /// Its name.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// Waits, looking every millisecond, until its enable bit is set (a
    /// reader has opened it); fails after `patience`.
    pub(super) fn wait_until_enabled(&self, patience: Duration) -> io::Result<()> {
        let start = Instant::now();
        // Acquire: the kernel's set_bit() through the pinned page
        // (user_event_enabler_write()) is the writer.
        while self.enabled.load(Ordering::Acquire) & 1 == 0 {
            if start.elapsed() > patience {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "user-event {}: no reader opened it within {} s (its enable bit is \
                         still clear)",
                        self.name,
                        patience.as_secs()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Writes one event with `seq`.
    pub(super) fn write(&self, seq: u64) -> io::Result<()> {
        let payload = self.field.bytes(seq);
        let index = self.write_index.to_ne_bytes();
        let iov = [
            libc::iovec {
                iov_base: index.as_ptr() as *mut libc::c_void,
                iov_len: index.len(),
            },
            libc::iovec {
                iov_base: payload.as_ptr() as *mut libc::c_void,
                iov_len: payload.len(),
            },
        ];
        // SAFETY: both buffers live across the call, which only reads
        // them.
        let n = unsafe { libc::writev(self.data.as_raw_fd(), iov.as_ptr(), iov.len() as _) };
        if n < 0 {
            return Err(io::Error::other(format!(
                "user-event {}: writing seq {seq}: {}",
                self.name,
                io::Error::last_os_error()
            )));
        }
        if n as usize != index.len() + payload.len() {
            return Err(io::Error::other(format!(
                "user-event {}: writing seq {seq}: {n} bytes written of {}",
                self.name,
                index.len() + payload.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The uapi's layout and number, as include/uapi/linux/user_events.h
    /// and asm-generic/ioctl.h make them.
    #[test]
    fn the_registration_is_the_kernel_s() {
        assert_eq!(std::mem::size_of::<UserReg>(), 28);
        assert_eq!(std::mem::offset_of!(UserReg, enable_addr), 8);
        assert_eq!(std::mem::offset_of!(UserReg, write_index), 24);
        assert_eq!(DIAG_IOCSREG, 0xc008_2a00);
    }

    #[test]
    fn the_data_file_is_the_environment_s_or_tracefs_s() {
        let dir = tempfile::tempdir().unwrap();
        let there = dir.path().join("user_events_data");
        std::fs::write(&there, "").unwrap();
        let missing = dir.path().join("missing");
        let (m, t) = (missing.to_str().unwrap(), there.to_str().unwrap());
        assert_eq!(data_file(None, &[m, t]).unwrap(), there);
        assert_eq!(data_file(Some(missing.clone()), &[t]).unwrap(), missing);
        let e = data_file(None, &[m]).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "no user_events_data at {m}: this kernel has no user_events"
            )) && e.contains(USER_EVENTS_DATA_ENV),
            "{e}"
        );
    }

    /// On a kernel with user events, registered and enabled by no one, the
    /// step fails saying so; on one without, it fails saying that.
    #[test]
    fn a_user_event_no_reader_opens_says_so() {
        match Registered::new("perfns_unit_test_unread", SeqType::U32) {
            Ok(event) => {
                let e = event
                    .wait_until_enabled(Duration::from_millis(20))
                    .unwrap_err()
                    .to_string();
                assert!(e.contains("no reader opened it within 0 s"), "{e}");
                event.write(0).unwrap();
            }
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.starts_with("user-event perfns_unit_test_unread: ")
                        && (e.contains("no user_events_data") || e.contains("Permission denied")),
                    "{e}"
                );
            }
        }
    }
}
