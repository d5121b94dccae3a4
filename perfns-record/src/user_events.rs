//! `perfns record --user-events[=FILE]`: the user events (the kernel's
//! user_events, Linux 6.4: tracepoints that processes register and write
//! through tracefs's `user_events_data`) that are registered when
//! recording starts, opened beside the other events as the tracepoints
//! they are (PERF_TYPE_TRACEPOINT, `config` their trace event type id).
//!
//! Which events there are, and their ids, come from `user_events_status`,
//! which lists the events of the reader's own group: the initial tracer
//! namespace's (every process's on a kernel without the perfns series)
//! or, with the series, the reader's tracer namespace's. [`parse_status`]
//! reads it; the two formats it takes:
//!
//! ```text
//! request_done                       a stock kernel: the name alone, or
//! cache_miss # Used by perf ftrace   `# Used by` and who has it open
//! request_done # id 1530             the series: `# id` and the trace
//! cache_miss # id 1531; Used by perf   event type id, then what is used
//! flow.0 # id 1532                   a multi-format event: name.<hex>
//!
//! Active: 3                          the events listed
//! Busy: 1                            those in use
//! ```
//!
//! A stock kernel gives no id: it is read from tracefs
//! (`events/user_events/NAME/format`), which only root may read. The
//! recording names the events `SYSTEM:NAME`, SYSTEM the group's trace
//! system: `user_events` (`user_events_multi` for a multi-format event)
//! in the initial tracer namespace, `user_events_<ID>`
//! (`user_events_multi_<ID>`) in another, ID the namespace's 64-bit id
//! (NS_GET_ID). Each event's format goes into the recording's tracing data
//! as for any tracepoint: read from tracefs where it can be; where it
//! cannot (a tenant reads no tracefs), made of the common fields alone
//! ([`common_fields_format`]), so that perf reads the recording and names
//! the events, without their payload's fields.
//!
//! As perf record -e, the events are those registered when recording
//! starts: one registered after is not recorded.

use std::io;
use std::path::{Path, PathBuf};

use perfns::abi::tracer_scope::TRACER_NS_INIT_ID;
use perfns::attr::kind;
use perfns::tracepoint::{Tracefs, TracepointError, TracepointFormat};

use crate::events::{data_event_attr, PlannedEvent};

/// Where `user_events_status` is read from when `--user-events` names no
/// file: tracefs's two places, the first that has it.
pub const STATUS_FILES: [&str; 2] = [
    "/sys/kernel/tracing/user_events_status",
    "/sys/kernel/debug/tracing/user_events_status",
];

/// The trace system of the initial tracer namespace's user events (the
/// kernel's USER_EVENTS_SYSTEM); another namespace's is this, `_` and its
/// id.
pub const EVENT_SYSTEM: &str = "user_events";

/// The trace system of multi-format user events
/// (USER_EVENTS_MULTI_SYSTEM), named `NAME.<hex>`.
pub const MULTI_FORMAT_SYSTEM: &str = "user_events_multi";

/// One event line of `user_events_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The event's trace event name: its registered name, or
    /// `NAME.<hex>` for a multi-format event.
    pub name: String,
    /// Its trace event type id, where the kernel lists it (the perfns
    /// series); `None` on a stock kernel.
    pub id: Option<u64>,
    /// Who has it open (`perf`, `ftrace`, `other`); empty when no one.
    pub used_by: Vec<String>,
}

/// `user_events_status` parsed: its events, in the order listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The events.
    pub events: Vec<StatusEntry>,
}

/// A line of `user_events_status` that is not as the kernel writes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct StatusLineError {
    /// 1-based.
    pub line: usize,
    /// What is wrong there.
    pub reason: String,
}

/// Parses the text of `user_events_status` (module docs): event lines, a
/// blank line, `Active: N` (the number of event lines) and `Busy: N`
/// (those in use). Anything else, or counts that do not match, is an
/// error naming its line.
pub fn parse_status(text: &str) -> Result<Status, StatusLineError> {
    let error = |line: usize, reason: String| StatusLineError { line, reason };
    let mut events: Vec<StatusEntry> = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    // The line an early end is reported at: the last there is.
    let mut last = 1;
    for (number, line) in lines.by_ref() {
        last = number;
        if line.is_empty() {
            break;
        }
        let entry = parse_event_line(line).map_err(|reason| error(number, reason))?;
        if events.iter().any(|e| e.name == entry.name) {
            return Err(error(number, format!("`{}` listed twice", entry.name)));
        }
        events.push(entry);
    }
    let mut count = |key: &str, expected: usize| match lines.next() {
        None => Err(error(
            last,
            format!("the file ends before its `{key}: N` line (is it user_events_status?)"),
        )),
        Some((number, line)) => {
            last = number;
            let n: usize = line
                .strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(": "))
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| error(number, format!("`{line}`, expected `{key}: N`")))?;
            if n != expected {
                return Err(error(
                    number,
                    format!(
                        "`{line}`, but {expected} events are listed as {}",
                        key.to_lowercase()
                    ),
                ));
            }
            Ok(())
        }
    };
    count("Active", events.len())?;
    count(
        "Busy",
        events.iter().filter(|e| !e.used_by.is_empty()).count(),
    )?;
    if let Some((number, line)) = lines.next() {
        return Err(error(number, format!("`{line}` after the `Busy:` line")));
    }
    Ok(Status { events })
}

/// One event line: `NAME`, `NAME # Used by WHO...`, `NAME # id N` or
/// `NAME # id N; Used by WHO...`.
fn parse_event_line(line: &str) -> Result<StatusEntry, String> {
    let (name, rest) = match line.split_once(' ') {
        None => (line, None),
        Some((name, rest)) => (
            name,
            Some(
                rest.strip_prefix("# ")
                    .ok_or_else(|| format!("`{line}`: expected `NAME` or `NAME # ...`"))?,
            ),
        ),
    };
    // The kernel takes a name up to a space, and `:` starts its flags; a
    // tracefs directory is named after it.
    if name.is_empty() || name.contains([':', '/']) || name == "." || name == ".." {
        return Err(format!("`{line}`: `{name}` is not a user event's name"));
    }
    let mut entry = StatusEntry {
        name: name.to_owned(),
        id: None,
        used_by: Vec::new(),
    };
    let Some(rest) = rest else {
        return Ok(entry);
    };
    let used = match rest.strip_prefix("id ") {
        Some(after) => {
            let (id, used) = match after.split_once("; ") {
                Some((id, used)) => (id, Some(used)),
                None => (after, None),
            };
            entry.id = Some(
                id.parse()
                    .map_err(|_| format!("`{line}`: id `{id}` is not a number"))?,
            );
            used
        }
        None => Some(rest),
    };
    if let Some(used) = used {
        let who = used
            .strip_prefix("Used by")
            .filter(|w| w.is_empty() || w.starts_with(' '))
            .ok_or_else(|| format!("`{line}`: expected `Used by ...` after `#`"))?;
        entry.used_by = who.split_whitespace().map(str::to_owned).collect();
        if entry.used_by.is_empty() {
            // The kernel writes `Used by` only for an event in use; one
            // whose users it does not name is still in use.
            entry.used_by.push("other".into());
        }
    }
    Ok(entry)
}

/// `--user-events` cannot be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserEventsError {
    /// No `user_events_status` where tracefs is mounted.
    #[error(
        "--user-events: this kernel has no user_events (CONFIG_USER_EVENTS): tracefs at {} has \
         no user_events_status",
        tracefs.display()
    )]
    NotInKernel {
        /// The tracefs looked in.
        tracefs: PathBuf,
    },
    /// No `user_events_status`, and no tracefs to tell why.
    #[error(
        "--user-events: no user_events_status at {}: this kernel has no user_events \
         (CONFIG_USER_EVENTS), or tracefs is not mounted there (in a container, the host must \
         expose user_events_status to it, and --user-events=FILE names where)",
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" or ")
    )]
    NoStatusFile {
        /// The files looked for.
        tried: Vec<PathBuf>,
    },
    /// `--user-events=FILE` names no file.
    #[error("--user-events={}: no such file", path.display())]
    NoSuchFile {
        /// The file given.
        path: PathBuf,
    },
    /// The file is there but not ours to read.
    #[error(
        "--user-events: {} is not readable: the host must expose user_events_status to the \
         container (a bind mount, or read permission), as the kernel's user_events \
         documentation says",
        path.display()
    )]
    NotReadable {
        /// The file.
        path: PathBuf,
    },
    /// Reading it failed otherwise.
    #[error("--user-events: {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A line is not as the kernel writes it.
    #[error("--user-events: {}:{}: {}", path.display(), error.line, error.reason)]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and what.
        error: StatusLineError,
    },
    /// The calling task's tracer namespace id could not be read.
    #[error("--user-events: reading this tracer namespace's id")]
    NamespaceId(#[source] io::Error),
    /// A stock kernel's event whose id tracefs does not give.
    #[error(
        "--user-events: {event}: user_events_status gives no id (a kernel without the perfns \
         series) and its format cannot be read from tracefs at {}: record as root",
        tracefs.display()
    )]
    NoId {
        /// `SYSTEM:NAME`.
        event: String,
        /// The tracefs read.
        tracefs: PathBuf,
        /// Why the format could not be read (boxed: the error is large,
        /// and rare).
        #[source]
        source: Box<TracepointError>,
    },
}

/// `user_events_status` read: from `file`, else from the first of
/// [`STATUS_FILES`] there is. Returns the file read and its events.
pub fn read_status(file: Option<&Path>) -> Result<(PathBuf, Status), UserEventsError> {
    match file {
        Some(f) => read_first(&[f.to_owned()], true),
        None => read_first(&STATUS_FILES.map(PathBuf::from), false),
    }
}

/// The first of `candidates` there is, read and parsed; `given`: the one
/// candidate is the user's `--user-events=FILE`, else tracefs's places,
/// whose parent directories tell, when none has the file, whether tracefs
/// is mounted there (and the kernel lacks user events) or not.
fn read_first(candidates: &[PathBuf], given: bool) -> Result<(PathBuf, Status), UserEventsError> {
    for path in candidates {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(UserEventsError::NotReadable { path: path.clone() })
            }
            Err(source) => {
                return Err(UserEventsError::Read {
                    path: path.clone(),
                    source,
                })
            }
        };
        let status = parse_status(&text).map_err(|error| UserEventsError::Parse {
            path: path.clone(),
            error,
        })?;
        return Ok((path.clone(), status));
    }
    if given {
        return Err(UserEventsError::NoSuchFile {
            path: candidates.first().cloned().unwrap_or_default(),
        });
    }
    // A mounted tracefs without the file: the kernel has no user events.
    let mounted = candidates
        .iter()
        .filter_map(|p| p.parent())
        .find(|root| root.join("events").is_dir());
    Err(match mounted {
        Some(tracefs) => UserEventsError::NotInKernel {
            tracefs: tracefs.to_owned(),
        },
        None => UserEventsError::NoStatusFile {
            tried: candidates.to_vec(),
        },
    })
}

/// Whether `name` is a multi-format event's trace name, `NAME.<hex>`
/// (the kernel's user_event_set_tp_name()). A single-format event
/// registered under such a name is taken for one too: the file does not
/// tell them apart.
pub fn is_multi_format(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(base, hex)| {
        !base.is_empty()
            && !hex.is_empty()
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The trace system of event `name` in the group of tracer namespace
/// `namespace_id` (`None`: a kernel without tracer namespaces, whose one
/// group is the initial namespace's).
pub fn system_of(name: &str, namespace_id: Option<u64>) -> String {
    let base = if is_multi_format(name) {
        MULTI_FORMAT_SYSTEM
    } else {
        EVENT_SYSTEM
    };
    match namespace_id {
        Some(id) if id != TRACER_NS_INIT_ID => format!("{base}_{id}"),
        _ => base.to_owned(),
    }
}

/// A user event to record: one line of `user_events_status`, placed in
/// its group's trace system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEvent {
    /// Its group's trace system ([`system_of`]).
    pub system: String,
    /// Its trace event name.
    pub name: String,
    /// Its trace event type id, when the status file gives it.
    pub id: Option<u64>,
}

impl UserEvent {
    /// The events of `status`, in the group of tracer namespace
    /// `namespace_id`.
    pub fn all_of(status: &Status, namespace_id: Option<u64>) -> Vec<UserEvent> {
        status
            .events
            .iter()
            .map(|e| UserEvent {
                system: system_of(&e.name, namespace_id),
                name: e.name.clone(),
                id: e.id,
            })
            .collect()
    }

    /// `SYSTEM:NAME`, the recording's name for it.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.system, self.name)
    }

    /// Its format: tracefs's (whose fields name the payload's) where
    /// `tracefs` has it with the status file's id, else the common fields
    /// alone under that id ([`common_fields_format`]). Without an id in
    /// the status file, tracefs's is the only source of one.
    pub fn format(&self, tracefs: &Tracefs) -> Result<TracepointFormat, UserEventsError> {
        let format = match (tracefs.format(&self.system, &self.name), self.id) {
            (Ok(format), None) => Ok(format),
            (Ok(format), Some(id)) if format.id == id => Ok(format),
            // Another event of the name since (the one listed was
            // unregistered and the name registered again): the id opened
            // is the status file's.
            (Ok(_) | Err(_), Some(id)) => Ok(common_fields_format(&self.system, &self.name, id)),
            (Err(source), None) => Err(UserEventsError::NoId {
                event: self.full_name(),
                tracefs: tracefs.root().to_owned(),
                source: Box::new(source),
            }),
        }?;
        Ok(readable_by_perf(format))
    }

    /// The event that opens it on every CPU, with `format` (from
    /// [`Self::format`]); `extra_flags` adds the scope's bits.
    pub fn planned_event(&self, format: TracepointFormat, extra_flags: u64) -> PlannedEvent {
        PlannedEvent {
            name: self.full_name(),
            attr: data_event_attr(kind::TRACEPOINT, format.id, extra_flags),
            format: Some(format),
            uprobe_path: None,
        }
    }
}

/// `format` with a name libtraceevent reads in its `name:` line: one
/// token of letters, digits and `_`. A multi-format event's `NAME.<hex>`
/// is not one (perf 6.1 then refuses the whole recording: "expected type
/// 6 but read 4", and so would it a file perf record made of such an
/// event): there, each other character is written `_`. The event keeps
/// its name in the recording's EVENT_DESC, which perf and the report name
/// events by.
fn readable_by_perf(format: TracepointFormat) -> TracepointFormat {
    let token = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if format.name.chars().all(token) {
        return format;
    }
    let readable: String = format
        .name
        .chars()
        .map(|c| if token(c) { c } else { '_' })
        .collect();
    let text = format.text.replacen(
        &format!("name: {}\n", format.name),
        &format!("name: {readable}\n"),
        1,
    );
    // Only the name changed, to one the parser takes as well.
    TracepointFormat::parse(&format.system, &text).unwrap_or(format)
}

/// A format of tracepoint `system:name` (id `id`) with only the fields
/// every trace event starts with, `struct trace_entry` (8 bytes), and an
/// empty print format, laid out as the kernel's f_show() writes a format
/// with no fields of its own (the common fields, an empty line, none, an
/// empty line, the print format; libtraceevent reads a list of fields up
/// to an empty line): what the recording carries for a user event whose
/// own format it could not read. A reader sees the event's hits, and its
/// payload as bytes after the common fields.
pub fn common_fields_format(system: &str, name: &str, id: u64) -> TracepointFormat {
    let text = format!(
        "name: {name}\n\
         ID: {id}\n\
         format:\n\
         \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
         \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
         \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
         \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
         \n\
         \n\
         print fmt: \"\"\n"
    );
    TracepointFormat::parse(system, &text)
        .expect("the common fields' format is well formed, whatever the name and id")
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(name: &str, id: Option<u64>, used_by: &[&str]) -> StatusEntry {
        StatusEntry {
            name: name.into(),
            id,
            used_by: used_by.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// A stock 6.12 kernel's file (user_seq_show()): names, `# Used by`.
    #[test]
    fn a_stock_kernel_s_status_lists_names_and_users() {
        let text = "request_done\n\
                    cache_miss # Used by ftrace perf\n\
                    flow.1f # Used by other\n\
                    \n\
                    Active: 3\n\
                    Busy: 2\n";
        let status = parse_status(text).unwrap();
        assert_eq!(
            status.events,
            [
                entry("request_done", None, &[]),
                entry("cache_miss", None, &["ftrace", "perf"]),
                entry("flow.1f", None, &["other"]),
            ]
        );
    }

    /// The series' file: `# id N`, then `; Used by` when in use.
    #[test]
    fn the_series_status_gives_each_event_s_id() {
        let text = "request_done # id 1530\n\
                    cache_miss # id 1531; Used by perf\n\
                    flow.0 # id 1532; Used by ftrace perf other\n\
                    \n\
                    Active: 3\n\
                    Busy: 2\n";
        let status = parse_status(text).unwrap();
        assert_eq!(
            status.events,
            [
                entry("request_done", Some(1530), &[]),
                entry("cache_miss", Some(1531), &["perf"]),
                entry("flow.0", Some(1532), &["ftrace", "perf", "other"]),
            ]
        );
    }

    #[test]
    fn an_empty_group_lists_nothing() {
        let status = parse_status("\nActive: 0\nBusy: 0\n").unwrap();
        assert!(status.events.is_empty());
    }

    /// Anything the kernel does not write is refused, naming its line.
    #[test]
    fn garbage_is_refused_by_line() {
        for (text, line, why) in [
            ("", 1, "ends before its `Active: N`"),
            ("a\nb\n", 2, "ends before its `Active: N`"),
            (
                "a # id x\n\nActive: 1\nBusy: 0\n",
                1,
                "id `x` is not a number",
            ),
            (
                "a # id 5;Used by perf\n\nActive: 1\nBusy: 0\n",
                1,
                "id `5;Used by perf`",
            ),
            (
                "a # Used\n\nActive: 1\nBusy: 1\n",
                1,
                "expected `Used by ...`",
            ),
            (
                "a # Used byperf\n\nActive: 1\nBusy: 1\n",
                1,
                "expected `Used by ...`",
            ),
            (
                "a b\n\nActive: 1\nBusy: 0\n",
                1,
                "expected `NAME` or `NAME # ...`",
            ),
            (
                " a\n\nActive: 1\nBusy: 0\n",
                1,
                "expected `NAME` or `NAME # ...`",
            ),
            (
                "u:a\n\nActive: 1\nBusy: 0\n",
                1,
                "is not a user event's name",
            ),
            (
                "a/b\n\nActive: 1\nBusy: 0\n",
                1,
                "is not a user event's name",
            ),
            ("a\na\n\nActive: 2\nBusy: 0\n", 2, "`a` listed twice"),
            (
                "a\n\nActive: 2\nBusy: 0\n",
                3,
                "but 1 events are listed as active",
            ),
            (
                "a # Used by perf\n\nActive: 1\nBusy: 0\n",
                4,
                "listed as busy",
            ),
            ("a\n\nActive 1\nBusy: 0\n", 3, "expected `Active: N`"),
            ("a\n\nActive: 1\n", 3, "ends before its `Busy: N`"),
            (
                "a\n\nActive: 1\nBusy: 0\nmore\n",
                5,
                "`more` after the `Busy:` line",
            ),
            ("<html lang=en>\n", 1, "expected `NAME` or `NAME # ...`"),
        ] {
            let e = parse_status(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.reason.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn multi_format_events_have_a_system_of_their_own() {
        assert_eq!(system_of("request_done", None), "user_events");
        assert_eq!(system_of("request_done", Some(1)), "user_events");
        assert_eq!(system_of("request_done", Some(42)), "user_events_42");
        assert_eq!(system_of("flow.1f", None), "user_events_multi");
        assert_eq!(system_of("flow.0", Some(42)), "user_events_multi_42");
        for single in ["a.", ".1", "a.1F", "a.g", "a.b.x"] {
            assert!(!is_multi_format(single), "{single}");
        }
        assert!(is_multi_format("a.b.c0"));
    }

    #[test]
    fn the_status_file_is_found_or_said_missing_or_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("user_events_status");
        std::fs::write(&file, "request_done # id 7\n\nActive: 1\nBusy: 0\n").unwrap();
        let (path, status) = read_status(Some(&file)).unwrap();
        assert_eq!(path, file);
        assert_eq!(
            UserEvent::all_of(&status, Some(9)),
            [UserEvent {
                system: "user_events_9".into(),
                name: "request_done".into(),
                id: Some(7)
            }]
        );
        std::fs::write(&file, "request_done # id 7\n\nActive: 2\nBusy: 0\n").unwrap();
        let e = read_status(Some(&file)).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "--user-events: {}:3: `Active: 2`, but 1 events are listed as active",
                file.display()
            )
        );
        let missing = dir.path().join("missing");
        let e = read_status(Some(&missing)).unwrap_err().to_string();
        assert!(e.ends_with("missing: no such file"), "{e}");

        // tracefs's two places: the first that has the file; a tracefs
        // without it is a kernel without user events; no tracefs at all
        // cannot tell, and says both.
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(a.join("events")).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let places = [a.join("user_events_status"), b.join("user_events_status")];
        std::fs::write(&places[1], "\nActive: 0\nBusy: 0\n").unwrap();
        let (path, _) = read_first(&places, false).unwrap();
        assert_eq!(path, places[1]);
        std::fs::remove_file(&places[1]).unwrap();
        let e = read_first(&places, false).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "--user-events: this kernel has no user_events (CONFIG_USER_EVENTS): tracefs at \
                 {} has no user_events_status",
                a.display()
            )
        );
        std::fs::remove_dir(a.join("events")).unwrap();
        let e = read_first(&places, false).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "--user-events: no user_events_status at {} or {}: this kernel has no \
                 user_events (CONFIG_USER_EVENTS), or tracefs is not mounted there (in a \
                 container, the host must expose user_events_status to it",
                places[0].display(),
                places[1].display()
            )),
            "{e}"
        );
    }

    /// A format of the common fields parses, and is what a stock kernel's
    /// user event format starts with (kernel/trace/trace_events_user.c
    /// writes its fields after them, from offset 8).
    #[test]
    fn a_user_event_without_its_format_gets_the_common_fields() {
        let f = common_fields_format("user_events_9", "request_done", 1530);
        assert_eq!(
            (f.system.as_str(), f.name.as_str(), f.id),
            ("user_events_9", "request_done", 1530)
        );
        let fields: Vec<(&str, usize, usize)> = f
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.offset, f.size))
            .collect();
        assert_eq!(
            fields,
            [
                ("common_type", 0, 2),
                ("common_flags", 2, 1),
                ("common_preempt_count", 3, 1),
                ("common_pid", 4, 4)
            ]
        );
        assert!(
            f.text.ends_with("signed:1;\n\n\nprint fmt: \"\"\n"),
            "{}",
            f.text
        );

        // tracefs's format where it has the event, with its fields; the
        // common fields where it has not, or where its id is another's.
        let dir = tempfile::tempdir().unwrap();
        let event_dir = dir.path().join("events/user_events/request_done");
        std::fs::create_dir_all(&event_dir).unwrap();
        let real = f.text.replace(
            "\n\n\nprint fmt",
            "\n\n\tfield:u32 seq;\toffset:8;\tsize:4;\tsigned:0;\n\nprint fmt",
        );
        std::fs::write(event_dir.join("format"), &real).unwrap();
        let tracefs = Tracefs::at(dir.path());
        let event = |id| UserEvent {
            system: "user_events".into(),
            name: "request_done".into(),
            id,
        };
        for id in [None, Some(1530)] {
            let format = event(id).format(&tracefs).unwrap();
            assert!(format.field("seq").is_some(), "{id:?}");
        }
        let other = event(Some(1600)).format(&tracefs).unwrap();
        assert_eq!((other.id, other.field("seq")), (1600, None));
        let e = UserEvent {
            name: "gone".into(),
            ..event(None)
        }
        .format(&tracefs)
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("--user-events: user_events:gone: user_events_status gives no id"),
            "{e}"
        );
        // A multi-format event's name, `.` and all, is perf's `_` in the
        // format's `name:` line, and the event's own in its name.
        let multi = UserEvent {
            system: "user_events_multi_9".into(),
            name: "flow.1f".into(),
            id: Some(1700),
        };
        let format = multi.format(&tracefs).unwrap();
        assert!(
            format.text.starts_with("name: flow_1f\nID: 1700\n"),
            "{}",
            format.text
        );
        assert_eq!(
            multi.planned_event(format, 0).name,
            "user_events_multi_9:flow.1f"
        );
        let planned = event(Some(1600)).planned_event(other, 0);
        assert_eq!(planned.name, "user_events:request_done");
        assert_eq!(
            (planned.attr.kind, planned.attr.config),
            (kind::TRACEPOINT, 1600)
        );
    }
}
