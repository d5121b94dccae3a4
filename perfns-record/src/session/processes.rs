//! `perfns record -p PID,...`: the threads of the processes to record, as
//! perf's thread_map__new_by_pid() lists them (`/proc/PID/task`), and the
//! threads that the listing may have missed.
//!
//! Each thread's events are opened on every CPU with `inherit`, so the
//! threads and processes it makes once its events are open are recorded
//! too (their records go to the same ring buffers). A thread made between
//! the listing and the opening of its maker's events is not: perf record
//! -p has the same race. After the events are enabled the recorder lists
//! the threads again and names the new ones in a note: each was made
//! either after its maker's events opened (recorded) or before (not), and
//! nothing in user space tells which. Opening events for it as well would
//! count the recorded ones twice.

use std::io;

use super::{system, RecordError};

/// The threads of `pids`, sorted, each once (two pids of one process
/// list the same threads). A pid with no `/proc/PID/task` is refused by
/// name.
pub(super) fn threads_of(pids: &[i32]) -> Result<Vec<i32>, RecordError> {
    let mut tids = Vec::new();
    for &pid in pids {
        tids.extend(threads_of_one(pid)?);
    }
    tids.sort_unstable();
    tids.dedup();
    Ok(tids)
}

fn threads_of_one(pid: i32) -> Result<Vec<i32>, RecordError> {
    let dir = format!("/proc/{pid}/task");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(RecordError::NoSuchProcess { pid })
        }
        Err(e) => {
            return Err(system(format!(
                "listing the threads of process {pid}: {dir}"
            ))(e))
        }
    };
    Ok(entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect())
}

/// A note naming the threads of `pids` not among `opened`: made while
/// the events were being opened, recorded only if their maker's events
/// were open by then. Nothing when there are none (or the processes are
/// gone).
pub(super) fn started_meanwhile(pids: &[i32], opened: &[i32]) -> Option<String> {
    let now = threads_of(pids).ok()?;
    let new: Vec<String> = now
        .iter()
        .filter(|t| opened.binary_search(t).is_err())
        .map(i32::to_string)
        .collect();
    if new.is_empty() {
        return None;
    }
    Some(format!(
        "threads {} started while the events were being opened: each is recorded if the \
         thread that made it had its events by then (inherited), not otherwise (perf record \
         -p has the same race)",
        new.join(", ")
    ))
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_process_lists_its_threads_and_a_missing_one_is_named() {
        let me = std::process::id() as i32;
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || rx.recv());
        let tids = threads_of(&[me, me]).unwrap();
        tx.send(()).unwrap();
        thread.join().unwrap().unwrap();
        assert!(tids.len() >= 2, "{tids:?}");
        assert!(tids.contains(&me));
        assert!(tids.windows(2).all(|w| w[0] < w[1]), "{tids:?}");
        // Above any pid_max: no such process.
        let err = threads_of(&[me, i32::MAX]).unwrap_err().to_string();
        assert!(
            err.contains(&format!("process {} does not exist", i32::MAX)),
            "{err}"
        );
    }
}
