//! The tasks in `/proc` now, as the recorder snapshots them when
//! recording starts (and again at each `--switch-output`): pid, tid, ppid,
//! comm, namespaces, NSpid and cgroup of each.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use perfns::container::{cgroup_from_proc, TaskSnapshot};

/// Reads one task from `/proc`. Fails when the task is gone; fields the
/// recorder may not read (namespaces of tasks it cannot ptrace) are left
/// empty.
pub(crate) fn read_task(pid: i32, tid: i32) -> io::Result<TaskSnapshot> {
    let dir = PathBuf::from(format!("/proc/{pid}/task/{tid}"));
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read_to_string(&p)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
    };
    let status = read("status")?;
    let comm = read("comm")?.trim_end_matches('\n').to_owned();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    let ppid = field("PPid:").and_then(|v| v.parse().ok()).unwrap_or(0);
    let nspid: Vec<i32> = field("NSpid:")
        .map(|v| {
            v.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut namespaces = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("ns")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(ino) = inode(&e.path()) {
                namespaces.insert(name, ino);
            }
        }
    }
    // A task whose namespaces the recorder may not read (no ptrace access)
    // still shows its NSpid, which lists one pid per level from the
    // reader's pid namespace down: a single one means the reader's own.
    if !namespaces.contains_key("pid") && nspid.len() == 1 {
        if let Ok(own) = inode(Path::new("/proc/self/ns/pid")) {
            namespaces.insert("pid".to_owned(), own);
        }
    }
    let cgroup = read("cgroup").ok().and_then(|t| cgroup_from_proc(&t));
    Ok(TaskSnapshot {
        pid,
        tid,
        ppid,
        comm,
        namespaces,
        nspid,
        cgroup,
    })
}

/// Every task (thread) in `/proc` now. Tasks that exit while being read
/// are left out.
pub(crate) fn snapshot_tasks() -> io::Result<Vec<TaskSnapshot>> {
    Ok(task_ids()?
        .into_iter()
        .filter_map(|(pid, tid)| read_task(pid, tid).ok())
        .collect())
}

/// The `(pid, tid)` of every task in `/proc` now, in order.
pub(crate) fn task_ids() -> io::Result<Vec<(i32, i32)>> {
    let mut out = Vec::new();
    for pid in numeric_dirs(Path::new("/proc"))? {
        if let Ok(tids) = numeric_dirs(&PathBuf::from(format!("/proc/{pid}/task"))) {
            out.extend(tids.into_iter().map(|tid| (pid, tid)));
        }
    }
    Ok(out)
}

fn numeric_dirs(dir: &Path) -> io::Result<Vec<i32>> {
    let mut out: Vec<i32> = std::fs::read_dir(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// The inode of a namespace file (`/proc/PID/ns/NAME`).
fn inode(path: &Path) -> io::Result<u64> {
    Ok(std::fs::metadata(path)?.ino())
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use perfns::container::{pid_ns_chain, ContainerRegistry, Runtime};

    use super::*;

    #[test]
    fn this_process_is_on_the_host() {
        let me = std::process::id() as i32;
        let chain = pid_ns_chain(me).unwrap();
        let mut reg = ContainerRegistry::new().unwrap();
        assert_eq!(chain, [reg.host()]);
        assert_eq!(reg.learn_pid(me).unwrap(), reg.host());
        let t = read_task(me, me).unwrap();
        assert_eq!(t.pid_ns(), Some(reg.host()));
        assert!(t.namespaces.contains_key("time"), "{t:?}");
        assert_eq!(t.nspid.first(), Some(&me));
        assert_eq!(reg.containers().len(), 1);
    }

    /// The child of `ppid`, waiting for it to appear and exec `comm`.
    fn child_of(ppid: i32, comm: &str) -> i32 {
        for _ in 0..2000 {
            for pid in numeric_dirs(Path::new("/proc")).unwrap() {
                let Ok(t) = read_task(pid, pid) else { continue };
                if t.ppid == ppid && t.comm == comm {
                    return pid;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("no {comm} child of {ppid}");
    }

    #[test]
    fn nested_pid_namespaces_chain_to_the_host() {
        if perfns::testing::prerequisite(perfns::testing::root()).is_none() {
            return;
        }
        let mut outer = std::process::Command::new("unshare")
            .args([
                "--pid", "--fork", "--", "unshare", "--pid", "--fork", "--", "sleep", "30",
            ])
            .spawn()
            .unwrap();
        let mid = child_of(outer.id() as i32, "unshare");
        let inner = child_of(mid, "sleep");
        let mut reg = ContainerRegistry::new().unwrap();
        let chain = pid_ns_chain(inner).unwrap();
        let key = reg.learn_pid(inner).unwrap();
        let mid_key = reg.learn_pid(mid).unwrap();
        outer.kill().unwrap();
        outer.wait().unwrap();
        assert_eq!(chain.len(), 3, "{chain:?}");
        assert_eq!(chain, [key, mid_key, reg.host()]);
        let cs = reg.containers();
        let levels: Vec<_> = cs.iter().map(|c| (c.key, c.parent, c.level)).collect();
        assert_eq!(
            levels,
            [
                (reg.host(), None, 0),
                (mid_key, Some(reg.host()), 1),
                (key, Some(mid_key), 2)
            ]
        );
        let inner_c = cs.iter().find(|c| c.key == key).unwrap();
        assert_eq!(
            (inner_c.runtime, inner_c.pid),
            (Runtime::Unknown, Some(inner))
        );
        assert_eq!(inner_c.name, format!("pidns-{key}"));
    }

    #[test]
    fn pid_1_is_in_the_readers_pid_namespace_even_when_unreadable() {
        // Pid 1 of the reader's pid namespace is in it by definition; its
        // ns links may be closed to us (they are on some VMs), NSpid not.
        let own = inode(Path::new("/proc/self/ns/pid")).unwrap();
        let init = read_task(1, 1).unwrap();
        assert_eq!(init.pid_ns(), Some(own), "{init:?}");
        assert_eq!(init.nspid, [1]);
    }
}
