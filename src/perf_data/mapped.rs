//! A recording mapped into memory, and what happens when the file shrinks
//! under the map.
//!
//! A read through a shared file mapping past the file's current end raises
//! SIGBUS: when another program truncates or rewrites a recording while it
//! is read (`perfns record -o` over it, `> FILE`, `truncate`), the reader
//! would die of a signal, with a core dump and no word of why. Every
//! [`MappedFile`] is registered in a table that a SIGBUS handler (installed
//! when the first one is made) searches by the fault's address: a fault in
//! a registered map ends the process with a message naming the file, its
//! new size and the offset read, and the exit code [`EXIT_FILE_SHRANK`]. A
//! SIGBUS anywhere else goes to the handler there was before (Rust's own
//! stack-overflow handler, or the default action).
//!
//! The handler cannot turn the fault into an error value: the reading code
//! holds `&[u8]` borrows of the map, and a fault in the middle of a slice
//! access cannot be resumed or unwound. This is what Java does for a
//! truncated `MappedByteBuffer` (an error from the fault, not a crash),
//! reduced to what a command-line reader needs. The handler only reads
//! atomics and calls fstat(), write() and _exit(), which are
//! async-signal-safe.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering};
use std::sync::Once;

use memmap2::{Mmap, UncheckedAdvice};

/// The exit code of a process whose recording shrank while it was read
/// (EX_IOERR of sysexits.h).
pub const EXIT_FILE_SHRANK: i32 = 74;

/// How many maps can be registered at once; a map made beyond that is
/// refused with an error rather than left unguarded.
const SLOTS: usize = 256;

/// A read-only map of a whole file, guarded against the file shrinking
/// (see the module documentation). Derefs to the file's bytes. The
/// recording's reader maps its file with it, and the report's profile the
/// ELF files it reads symbols from.
pub struct MappedFile {
    map: Mmap,
    /// Kept open: the handler fstat()s it for the file's new size.
    _file: File,
    slot: usize,
}

impl MappedFile {
    /// Maps `file` (opened from `path`, which messages name).
    pub fn map(file: File, path: &Path) -> io::Result<Self> {
        install_handler();
        // SAFETY: the map is read-only and owned by this value, which hands
        // out its bytes as `&[u8]`. Another process may still truncate the
        // file, and a read past the new end then raises SIGBUS: the handler
        // this module installs (above) ends the process with a message
        // before any such read returns, so no code ever sees bytes that are
        // not the file's. Rewritten bytes are read as they are now, which
        // the parsers, checking every length against the map's, tolerate.
        let map = unsafe { Mmap::map(&file) }?;
        let slot = register(&map, file.as_raw_fd(), path).ok_or_else(|| {
            io::Error::other(format!(
                "more than {SLOTS} files are mapped at once in this process"
            ))
        })?;
        Ok(Self {
            map,
            _file: file,
            slot,
        })
    }

    /// Advises the kernel about a range of the map, as
    /// [`Mmap::unchecked_advise_range`].
    ///
    /// # Safety
    ///
    /// As for [`Mmap::unchecked_advise_range`]: the advice must not break
    /// the borrows of the map's bytes handed out.
    pub(super) unsafe fn unchecked_advise_range(
        &self,
        advice: UncheckedAdvice,
        offset: usize,
        len: usize,
    ) -> io::Result<()> {
        // SAFETY: the caller keeps Mmap::unchecked_advise_range's contract.
        unsafe { self.map.unchecked_advise_range(advice, offset, len) }
    }
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedFile")
            .field("len", &self.map.len())
            .field("slot", &self.slot)
            .finish()
    }
}

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        unregister(self.slot);
    }
}

/// One registered map. `len` is written last when a map is registered and
/// cleared first when it is dropped, so a handler that sees a non-zero
/// `len` sees the rest of the slot too.
struct Slot {
    /// Claimed (non-null) while a map uses it: the message's file name,
    /// leaked from a `Box<[u8]>` of `name_len` bytes.
    name: AtomicPtr<u8>,
    name_len: AtomicUsize,
    fd: AtomicI32,
    start: AtomicUsize,
    len: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)] // A template for the array below.
const FREE: Slot = Slot {
    name: AtomicPtr::new(std::ptr::null_mut()),
    name_len: AtomicUsize::new(0),
    fd: AtomicI32::new(-1),
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
};

static REGISTRY: [Slot; SLOTS] = [FREE; SLOTS];

/// Puts `map` in a free slot; `None` when there is none.
fn register(map: &Mmap, fd: i32, path: &Path) -> Option<usize> {
    let name: Box<[u8]> = path.as_os_str().as_encoded_bytes().into();
    let name_len = name.len();
    let name = Box::into_raw(name).cast::<u8>();
    for (i, slot) in REGISTRY.iter().enumerate() {
        if slot
            .name
            .compare_exchange(
                std::ptr::null_mut(),
                name,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            slot.name_len.store(name_len, Ordering::Relaxed);
            slot.fd.store(fd, Ordering::Relaxed);
            slot.start.store(map.as_ptr() as usize, Ordering::Relaxed);
            slot.len.store(map.len(), Ordering::Release);
            return Some(i);
        }
    }
    // SAFETY: `name` came from Box::into_raw of a `[u8]` of `name_len`
    // bytes just above and was not published.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(name, name_len)) });
    None
}

/// Frees slot `i` (its map is being dropped: no reader can fault in it).
fn unregister(i: usize) {
    let slot = &REGISTRY[i];
    slot.len.store(0, Ordering::Release);
    let name_len = slot.name_len.load(Ordering::Relaxed);
    let name = slot.name.swap(std::ptr::null_mut(), Ordering::AcqRel);
    if !name.is_null() {
        // SAFETY: `name` was made by register() from a Box of `name_len`
        // bytes, and taking it out of the slot made this its only owner.
        // A handler reads it only for a fault inside this slot's map, which
        // no thread can touch while the map is dropped.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(name, name_len)) });
    }
}

/// The SIGBUS disposition before [`install_handler`], for faults that are
/// not in a registered map. Written once, before the handler is installed.
static PREVIOUS: AtomicPtr<libc::sigaction> = AtomicPtr::new(std::ptr::null_mut());

/// Installs [`on_sigbus`], once per process.
fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sigaction() with a null new action only writes the
        // current one into `previous`, a zeroed struct of the right type;
        // the second call installs a handler that is a valid
        // `extern "C" fn(c_int, *mut siginfo_t, *mut c_void)` as
        // SA_SIGINFO requires, with an empty mask.
        unsafe {
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) != 0 {
                return;
            }
            PREVIOUS.store(Box::into_raw(Box::new(previous)), Ordering::Release);
            let mut action: libc::sigaction = std::mem::zeroed();
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                on_sigbus;
            action.sa_sigaction = handler as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}

/// The SIGBUS handler: a fault in a registered map ends the process with
/// the message; any other SIGBUS goes where it went before.
extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo with SA_SIGINFO; si_addr is
    // the faulting address for a fault (si_code BUS_ADRERR), which is the
    // only case in which it is used.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    if code == libc::BUS_ADRERR {
        for slot in &REGISTRY {
            let len = slot.len.load(Ordering::Acquire);
            let start = slot.start.load(Ordering::Relaxed);
            if len != 0 && addr >= start && addr - start < len {
                report_and_exit(slot, addr - start);
            }
        }
    }
    // SAFETY: PREVIOUS is null or a leaked, never-freed sigaction written
    // before this handler was installed; calling the handler it names with
    // this handler's own arguments is what the kernel would have done.
    unsafe {
        let previous = PREVIOUS.load(Ordering::Acquire);
        let handler = if previous.is_null() {
            libc::SIG_DFL
        } else {
            (*previous).sa_sigaction
        };
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            // A fault cannot be ignored: the default action, raised now
            // and taken when this handler returns (or at once, for a
            // fault, when the faulting access runs again).
            libc::signal(libc::SIGBUS, libc::SIG_DFL);
            libc::raise(libc::SIGBUS);
        } else if (*previous).sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(handler);
            f(signal, info, context);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
            f(signal);
        }
    }
}

/// Writes "perfns: FILE: ..." to stderr and exits with
/// [`EXIT_FILE_SHRANK`]. Async-signal-safe: no allocation, no lock.
fn report_and_exit(slot: &Slot, offset: usize) -> ! {
    let mut msg = Message::default();
    msg.push(b"perfns: ");
    let name = slot.name.load(Ordering::Acquire);
    if !name.is_null() {
        // SAFETY: a registered slot's name is a live allocation of
        // `name_len` bytes (see unregister()).
        msg.push(unsafe {
            std::slice::from_raw_parts(name, slot.name_len.load(Ordering::Relaxed))
        });
    }
    // SAFETY: fstat writes into `st`, a zeroed stat struct; the fd is the
    // map's file, kept open while the slot is registered.
    let size = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::fstat(slot.fd.load(Ordering::Relaxed), &mut st) == 0).then_some(st.st_size as u64)
    };
    match size {
        Some(size) if size <= offset as u64 => {
            msg.push(b": the file shrank to ");
            msg.number(size);
            msg.push(b" bytes while being read (at offset ");
            msg.number(offset as u64);
            msg.push(b"): another program truncated or rewrote it\n");
        }
        _ => {
            msg.push(b": reading offset ");
            msg.number(offset as u64);
            msg.push(b" failed: an I/O error under the memory map\n");
        }
    }
    let mut bytes = &msg.bytes[..msg.len];
    while !bytes.is_empty() {
        // SAFETY: write() reads `bytes.len()` bytes from a live buffer.
        let n = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            break;
        }
        bytes = &bytes[n as usize..];
    }
    // SAFETY: _exit ends the process at once, as the handler must: the
    // faulting read cannot be resumed, and nothing else is safe to run.
    unsafe { libc::_exit(EXIT_FILE_SHRANK) }
}

/// The handler's message, built on the stack (long names are cut).
struct Message {
    bytes: [u8; 1024],
    len: usize,
}

impl Default for Message {
    fn default() -> Self {
        Self {
            bytes: [0; 1024],
            len: 0,
        }
    }
}

impl Message {
    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn number(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::perf_data::tests::{sample, tracepoint_event};
    use crate::perf_data::{PerfFileReader, PerfFileWriter};
    use crate::record::RecordType;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Output};

    /// The environment variable that tells a child test what to read.
    const CUT_FILE: &str = "PERFNS_TEST_CUT_FILE";
    /// Where the child tests cut the file: a page boundary, so that the
    /// bytes after it fault (the rest of a cut page reads as zeros).
    const CUT_AT: u64 = 64 << 10;

    /// Runs the ignored test `name` of this binary in a child process that
    /// reads `path`.
    fn in_child(name: &str, path: &Path) -> Output {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--include-ignored", "--nocapture"])
            .env(CUT_FILE, path)
            .output()
            .unwrap()
    }

    /// Cuts the file at `path` to [`CUT_AT`] bytes.
    fn cut(path: impl AsRef<Path>) {
        let file = File::options().write(true).open(path).unwrap();
        file.set_len(CUT_AT).unwrap();
    }

    /// Runs child test `name` on `path`, which must exit with
    /// [`EXIT_FILE_SHRANK`], not die of a signal; returns its stderr.
    fn exits_shrunk(name: &str, path: &Path) -> String {
        let out = in_child(name, path);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.signal(), None, "died of a signal: {stderr}");
        assert_eq!(out.status.code(), Some(EXIT_FILE_SHRANK), "{stderr}");
        stderr
    }

    /// The `at offset N` of the message.
    fn offset_in(stderr: &str) -> u64 {
        let at = stderr.find("(at offset ").unwrap() + "(at offset ".len();
        stderr[at..].split(')').next().unwrap().parse().unwrap()
    }

    #[test]
    fn a_map_whose_file_is_cut_ends_the_process_with_the_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.bin");
        std::fs::write(&path, vec![7u8; 3 * CUT_AT as usize]).unwrap();
        let stderr = exits_shrunk("perf_data::mapped::tests::read_past_the_cut", &path);
        let want = format!(
            "perfns: {}: the file shrank to {CUT_AT} bytes while being read (at offset {}): \
             another program truncated or rewrote it\n",
            path.display(),
            CUT_AT + 100
        );
        assert!(stderr.ends_with(&want), "{stderr}");
    }

    /// Run by the test above, in a child process: maps the file, cuts it
    /// and reads byte CUT_AT + 100.
    #[test]
    #[ignore = "run by a_map_whose_file_is_cut_ends_the_process_with_the_file_and_offset"]
    fn read_past_the_cut() {
        let Some(path) = std::env::var_os(CUT_FILE) else {
            return;
        };
        let map = MappedFile::map(File::open(&path).unwrap(), Path::new(&path)).unwrap();
        assert_eq!(map[CUT_AT as usize + 100], 7);
        cut(&path);
        let byte = std::hint::black_box(&map[..])[CUT_AT as usize + 100];
        panic!("read {byte} past the cut without a fault");
    }

    #[test]
    fn a_recording_cut_while_read_is_a_clear_error_not_a_signal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.data");
        let events = [tracepoint_event(372, "sched:sched_switch", vec![100])];
        let mut w = PerfFileWriter::create(&path, &events).unwrap();
        for i in 0..8000u64 {
            sample(100, 1, i, 0, &[0; 40]).write(&mut w);
        }
        w.finish(&Default::default()).unwrap();
        let r = PerfFileReader::open(&path).unwrap();
        let data = r.data_section();
        assert!(data.offset < CUT_AT && data.offset + data.size > 2 * CUT_AT);
        // The record the reader is in when it reaches the cut.
        let largest = r
            .records_in_file_order()
            .map(|rec| u64::from(rec.unwrap().header.size))
            .max()
            .unwrap();
        drop(r);

        let stderr = exits_shrunk("perf_data::mapped::tests::read_records_past_the_cut", &path);
        let said = format!(
            "perfns: {}: the file shrank to {CUT_AT} bytes while being read (at offset ",
            path.display()
        );
        assert!(stderr.contains(&said), "{stderr}");
        // The first byte read past the cut is in the record that crosses it
        // or the one that starts there.
        let offset = offset_in(&stderr);
        assert!(
            (CUT_AT..CUT_AT + largest).contains(&offset),
            "offset {offset}: {stderr}"
        );
    }

    /// Run by the test above, in a child process: opens the recording,
    /// cuts it, and reads every record.
    #[test]
    #[ignore = "run by a_recording_cut_while_read_is_a_clear_error_not_a_signal"]
    fn read_records_past_the_cut() {
        let Some(path) = std::env::var_os(CUT_FILE) else {
            return;
        };
        let r = PerfFileReader::open(&path).unwrap();
        cut(&path);
        let samples = r
            .records()
            .filter(|rec| rec.as_ref().unwrap().header.kind == RecordType::SAMPLE)
            .count();
        panic!("read {samples} samples past the cut without a fault");
    }

    #[test]
    fn a_fault_outside_the_registered_maps_is_left_to_the_previous_handler() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.bin");
        std::fs::write(&path, vec![1u8; 3 * CUT_AT as usize]).unwrap();
        let out = in_child("perf_data::mapped::tests::fault_in_another_map", &path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGBUS), "{stderr}");
        assert!(!stderr.contains("shrank"), "{stderr}");
    }

    /// Run by the test above, in a child process: with a guarded map of
    /// the file, cuts it and reads past the cut through a second map that
    /// is not registered.
    #[test]
    #[ignore = "run by a_fault_outside_the_registered_maps_is_left_to_the_previous_handler"]
    fn fault_in_another_map() {
        let Some(path) = std::env::var_os(CUT_FILE) else {
            return;
        };
        let guarded = MappedFile::map(File::open(&path).unwrap(), Path::new(&path)).unwrap();
        let file = File::open(&path).unwrap();
        // SAFETY: a read-only map this test reads after cutting the file on
        // purpose, to fault outside the registered maps.
        let other = unsafe { Mmap::map(&file) }.unwrap();
        cut(&path);
        let byte = std::hint::black_box(&other[..])[CUT_AT as usize + 100];
        panic!(
            "read {byte} past the cut without a fault ({})",
            guarded.len()
        );
    }
}
