//! `perfns publish-tracefs`: a host's administrator copies the formats of
//! the tracepoints a tenant may record, those the tracer scope takes
//! ([`TRACER_SCOPE_TRACEPOINTS`]: the event groups' and every
//! `syscalls:*`, whose `sys_enter_*` also name `perfns trace`'s
//! arguments), out of tracefs, world-readable, so that tenants, who cannot
//! read the host's tracefs, record with `perfns record --tracefs DIR`
//! (`-e syscalls:sys_exit_openat` among them) and trace with `perfns trace
//! --tracefs DIR`.
//!
//! The copy has tracefs's layout, so that [`Tracefs::at`] reads it as it
//! reads tracefs:
//!
//! ```text
//! DIR/events/header_page
//! DIR/events/header_event
//! DIR/events/kmem/mm_page_alloc/format      (one per tracepoint of
//! ...                                        events::tracepoints)
//! DIR/events/syscalls/sys_enter_openat/format  (one per system call's
//! DIR/events/syscalls/sys_exit_openat/format   entry and exit, on a
//! ...                                        kernel with
//!                                            CONFIG_FTRACE_SYSCALLS)
//! ```
//!
//! Only those files: the rest of tracefs (other tracepoints, which the
//! scope refuses anyway, and the ring buffer's controls) is none of a
//! tenant's business. Each file is
//! written beside its final name and renamed over it, so that a tenant
//! reading while the host publishes again (after a kernel update) sees
//! the old file or the new one, never half of one.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use perfns::perf_data::TracingData;
use perfns::tracepoint::{Tracefs, TracepointError};

use crate::events::{self, EventGroups};
use crate::scope;

/// Where tracefs is mounted on current kernels: where the formats are read
/// from when nothing else is given and [`Tracefs::find_or_mount`] finds no
/// readable tracefs, so that the error says why it cannot be read.
const TRACEFS: &str = "/sys/kernel/tracing";

/// The header files perf's tracing data carries besides the formats, as
/// [`TracingData`] has them: header_page, then header_event.
const HEADERS: [&str; 2] = ["header_page", "header_event"];

/// Publishing the formats failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// tracefs could not be read: not mounted there, or not ours to read.
    // The cause is in the message, before the hint, rather than a source
    // printed after it.
    #[error("cannot read tracefs at {}: {}: {cause}{}", root.display(), file.display(), unreadable_hint(cause))]
    Unreadable {
        /// The tracefs read from.
        root: PathBuf,
        /// The file that could not be read.
        file: PathBuf,
        /// Why.
        cause: io::Error,
    },
    /// A tracepoint's format is missing or malformed.
    #[error(transparent)]
    Tracepoint(#[from] TracepointError),
    /// A file or directory of the copy could not be written.
    #[error("cannot publish into {}", path.display())]
    Write {
        /// The path that failed.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// What to do about an unreadable tracefs.
fn unreadable_hint(cause: &io::Error) -> &'static str {
    match cause.kind() {
        io::ErrorKind::PermissionDenied => {
            " (tracefs is root's: publish as root on the host, for the tenants to read)"
        }
        io::ErrorKind::NotFound => {
            " (is tracefs mounted? as root: mount -t tracefs nodev /sys/kernel/tracing)"
        }
        _ => "",
    }
}

/// Copies the header files, the format of every tracepoint of `perfns
/// record`'s groups and every other the tracer scope takes (the
/// `syscalls:*` formats, which also name `perfns trace`'s arguments; none
/// on a kernel without CONFIG_FTRACE_SYSCALLS, where trace shows
/// `arg1`...) from `tracefs` into `dir`, world-readable (files a+r, directories a+rx, on top of what
/// they had), and returns the files written, relative to `dir`.
pub fn publish(tracefs: &Tracefs, dir: &Path) -> Result<Vec<PathBuf>, PublishError> {
    let events_dir = tracefs.root().join("events");
    // What the headers are read and the formats parsed with is what perfns
    // record uses: what is published is what it can read. (The headers
    // need the reader's large buffer: tracefs ends them after the first
    // read, so std::fs::read keeps only its first 32-byte probe.)
    let readable = |cause: io::Error, file: PathBuf| PublishError::Unreadable {
        root: tracefs.root().to_owned(),
        file,
        cause,
    };
    // Opened first, so that a tracefs closed to the caller is said to be
    // so, rather than its tracepoints not to exist.
    for header in HEADERS {
        let file = events_dir.join(header);
        if let Err(cause) = fs::File::open(&file) {
            return Err(readable(cause, file));
        }
    }
    let mut formats = Vec::new();
    for (system, name) in events::tracepoints(EventGroups::ALL) {
        formats.push(tracefs.format(system, name)?);
    }
    let tracing =
        TracingData::from_tracefs(tracefs, &formats).map_err(|e| readable(e.source, e.path))?;
    let in_scope = tracefs.tracepoints(
        |system| scope::tracer_scope_takes(system, None),
        |system, name| scope::tracer_scope_takes(system, Some(name)),
    )?;
    for (system, name) in in_scope {
        if !formats.iter().any(|f| f.system == system && f.name == name) {
            formats.push(tracefs.format(&system, &name)?);
        }
    }

    let mut files = vec![
        (Path::new("events").join(HEADERS[0]), tracing.header_page),
        (Path::new("events").join(HEADERS[1]), tracing.header_event),
    ];
    for format in formats {
        let path = Path::new("events")
            .join(&format.system)
            .join(&format.name)
            .join("format");
        files.push((path, format.text));
    }

    for (path, text) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            create_readable_dirs(dir, parent)?;
        }
        write_readable(&target, text.as_bytes())?;
    }
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

/// Writing `path` failed.
fn failed(path: &Path) -> impl FnOnce(io::Error) -> PublishError {
    let path = path.to_owned();
    move |source| PublishError::Write { path, source }
}

/// Creates `path` (under `dir`) and its parents up to `dir`, `dir`
/// included, and makes each of them a+rx.
fn create_readable_dirs(dir: &Path, path: &Path) -> Result<(), PublishError> {
    fs::create_dir_all(path).map_err(failed(path))?;
    for d in path.ancestors() {
        let mode = fs::metadata(d).map_err(failed(d))?.permissions().mode();
        // a+rx, as chmod a+rX: a directory given as /tmp keeps its 1777.
        if mode & 0o555 != 0o555 {
            fs::set_permissions(d, fs::Permissions::from_mode(mode | 0o555)).map_err(failed(d))?;
        }
        if d == dir {
            break;
        }
    }
    Ok(())
}

/// Writes `text` into `path`, mode 0644 whatever the umask, through a
/// temporary file renamed over it.
fn write_readable(path: &Path, text: &[u8]) -> Result<(), PublishError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".publishing");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, text).map_err(failed(&tmp))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).map_err(failed(&tmp))?;
    fs::rename(&tmp, path).map_err(failed(path))
}

/// The tracefs to read: `--from`, else the mounted one, else the usual
/// place, so that reading it says why it cannot be read (a user other
/// than root is not allowed into /sys/kernel/tracing).
fn source_tracefs(from: Option<PathBuf>) -> Tracefs {
    match from {
        Some(root) => Tracefs::at(root),
        None => Tracefs::find_or_mount().unwrap_or_else(|_| Tracefs::at(TRACEFS)),
    }
}

/// Runs `perfns publish-tracefs`: publishes into `dir` from the tracefs
/// at `from`, or the mounted one.
pub fn run(dir: &Path, from: Option<PathBuf>) -> anyhow::Result<()> {
    let tracefs = source_tracefs(from);
    let files = publish(&tracefs, dir)
        .with_context(|| format!("publishing tracepoint formats into {}", dir.display()))?;
    println!(
        "published {} files from {} into {}; tenants record with: perfns record --tracefs {}",
        files.len(),
        tracefs.root().display(),
        dir.display(),
        dir.display()
    );
    Ok(())
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every file under `dir`, relative to it, sorted.
    fn tree(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut todo = vec![dir.to_owned()];
        while let Some(d) = todo.pop() {
            for entry in fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    todo.push(path);
                } else {
                    out.push(path.strip_prefix(dir).unwrap().to_owned());
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn publishes_exactly_the_formats_the_tracer_scope_takes() {
        let Some(tracefs) = perfns::testing::prerequisite(perfns::testing::tracefs()) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pub");
        let files = publish(&tracefs, &out).unwrap();

        let mut want: Vec<PathBuf> = [
            "events/header_event",
            "events/header_page",
            "events/kmem/mm_page_alloc/format",
            "events/kmem/mm_page_free/format",
            "events/raw_syscalls/sys_enter/format",
            "events/raw_syscalls/sys_exit/format",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        // And every system call's entry and exit, as find lists them (this
        // machine's kernel has CONFIG_FTRACE_SYSCALLS).
        let find = std::process::Command::new("find")
            .arg(tracefs.root().join("events/syscalls"))
            .args([
                "-mindepth",
                "1",
                "-maxdepth",
                "1",
                "-type",
                "d",
                "-printf",
                "%f\\n",
            ])
            .output()
            .unwrap();
        assert!(find.status.success(), "{find:?}");
        let entries = String::from_utf8(find.stdout).unwrap();
        for call in ["sys_enter_openat", "sys_exit_openat"] {
            assert!(entries.lines().any(|l| l == call), "{entries}");
        }
        want.extend(
            entries
                .lines()
                .map(|name| Path::new("events/syscalls").join(name).join("format")),
        );
        want.sort();
        let mut got = files.clone();
        got.sort();
        assert_eq!(got, want);
        assert_eq!(tree(&out), want, "nothing else is published");

        for file in &files {
            // Read by cat, not by the code under test.
            let cat = std::process::Command::new("cat")
                .arg(tracefs.root().join(file))
                .output()
                .unwrap();
            assert!(cat.status.success(), "{cat:?}");
            let original = cat.stdout;
            let copy = fs::read(out.join(file)).unwrap();
            assert!(!original.is_empty(), "{}", file.display());
            assert_eq!(copy, original, "{} differs", file.display());
            let mode = fs::metadata(out.join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644, "{}", file.display());
            for d in out.join(file).parent().unwrap().ancestors() {
                let mode = fs::metadata(d).unwrap().permissions().mode();
                assert_eq!(mode & 0o555, 0o555, "{} is not a+rx", d.display());
                if d == out {
                    break;
                }
            }
        }

        // perfns record reads the copy as it reads tracefs, the groups'
        // tracepoints and those -e names.
        let named: Vec<events::TracepointPattern> = ["syscalls:sys_*_getppid", "raw_syscalls:*"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        let from_copy =
            events::plan(EventGroups::ALL, &named, None, &Tracefs::at(&out), 0).unwrap();
        let from_tracefs = events::plan(EventGroups::ALL, &named, None, &tracefs, 0).unwrap();
        assert_eq!(from_copy.len(), 8, "the groups' six and getppid's two");
        let ids = |plan: &[events::PlannedEvent]| -> Vec<(String, u64)> {
            plan.iter()
                .map(|e| (e.name.clone(), e.attr.config))
                .collect()
        };
        assert_eq!(ids(&from_copy), ids(&from_tracefs));
        // perfns trace names openat's arguments from the copy as from
        // tracefs.
        let openat = Tracefs::at(&out)
            .format("syscalls", "sys_enter_openat")
            .unwrap();
        let fields: Vec<&str> = openat.fields.iter().map(|f| f.name.as_str()).collect();
        assert!(
            fields.ends_with(&["dfd", "filename", "flags", "mode"]),
            "{fields:?}"
        );
    }

    #[test]
    fn publishing_again_replaces_the_files() {
        let Some(tracefs) = perfns::testing::prerequisite(perfns::testing::tracefs()) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join("events/kmem/mm_page_alloc/format");
        fs::create_dir_all(stale.parent().unwrap()).unwrap();
        fs::write(&stale, "name: stale\n").unwrap();
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o600)).unwrap();
        publish(&tracefs, dir.path()).unwrap();
        let fresh = tracefs.format("kmem", "mm_page_alloc").unwrap();
        assert_eq!(fs::read_to_string(&stale).unwrap(), fresh.text);
        assert_eq!(
            fs::metadata(&stale).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn no_tracefs_there_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let err = publish(&Tracefs::at(dir.path()), &dir.path().join("pub")).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(&err, PublishError::Unreadable { cause, .. }
                if cause.kind() == io::ErrorKind::NotFound),
            "{err:?}"
        );
        assert!(
            text.starts_with(&format!(
                "cannot read tracefs at {}: ",
                dir.path().display()
            )) && text.contains("events/header_page")
                && text.contains("is tracefs mounted?"),
            "{text}"
        );
        assert!(!dir.path().join("pub").exists(), "nothing written");
    }

    #[test]
    fn a_missing_tracepoint_is_named() {
        let Some(tracefs) = perfns::testing::prerequisite(perfns::testing::tracefs()) else {
            return;
        };
        // The headers of the real tracefs, but no tracepoint.
        let dir = tempfile::tempdir().unwrap();
        let partial = dir.path().join("partial");
        fs::create_dir_all(partial.join("events")).unwrap();
        for header in HEADERS {
            fs::copy(
                tracefs.root().join("events").join(header),
                partial.join("events").join(header),
            )
            .unwrap();
        }
        let err = publish(&Tracefs::at(&partial), &dir.path().join("pub")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("tracepoint kmem:mm_page_alloc does not exist on this kernel"),
            "{err}"
        );
    }

    /// A user other than root cannot read the host's tracefs (mode 0700)
    /// and is told so. The uid is dropped in a thread of its own: the raw
    /// setresuid system call changes the calling thread's credentials
    /// only, not the test process's.
    #[test]
    fn an_unprivileged_user_is_told_to_publish_as_root() {
        let tracefs_mode = fs::metadata(TRACEFS).map(|m| m.permissions().mode());
        let closed = match tracefs_mode {
            Ok(m) if m & 0o005 == 0 => perfns::testing::root(),
            Ok(m) => Err(format!(
                "needs {TRACEFS} closed to other users (mode {m:o})"
            )),
            Err(e) => Err(format!("needs {TRACEFS}: {e}")),
        };
        if perfns::testing::prerequisite(closed).is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pub");
        let err = std::thread::spawn(move || {
            // SAFETY: a plain system call with integer arguments; it changes
            // this thread's uids only (glibc's setresuid would change every
            // thread's).
            let rc = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
            assert_eq!(rc, 0, "setresuid: {}", io::Error::last_os_error());
            publish(&source_tracefs(None), &out).unwrap_err()
        })
        .join()
        .unwrap();
        let text = err.to_string();
        assert!(
            matches!(&err, PublishError::Unreadable { cause, .. }
                if cause.kind() == io::ErrorKind::PermissionDenied),
            "{err:?}"
        );
        assert!(
            text.starts_with("cannot read tracefs at /sys/kernel/tracing: ")
                && text.contains("publish as root on the host"),
            "{text}"
        );
    }
}
