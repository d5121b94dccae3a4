//! The containers of a recording as the recorder learns them: each pid
//! namespace, found through `NS_GET_PARENT` and named by its cgroup or
//! hostname.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{cgroup_from_proc, identify_cgroup, Container, Runtime, TaskSnapshot};

/// NS_GET_PARENT (include/uapi/linux/nsfs.h): `_IO(0xb7, 0x2)`.
const NS_GET_PARENT: libc::c_ulong = 0xb7 << 8 | 0x2;

/// The inodes of the pid namespaces from `pid`'s up to (and including) the
/// recorder's own, `pid`'s first. NS_GET_PARENT refuses (EPERM) to go above
/// the caller's pid namespace, which is where the chain stops.
pub fn pid_ns_chain(pid: i32) -> io::Result<Vec<u64>> {
    let path = format!("/proc/{pid}/ns/pid");
    let file = File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    let mut chain = vec![file.metadata()?.ino()];
    let mut fd = OwnedFd::from(file);
    loop {
        // SAFETY: `fd` is an open nsfs file for the call; NS_GET_PARENT
        // takes no argument and returns a new fd that nothing else owns.
        let parent = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_PARENT) };
        match nix::errno::Errno::result(parent) {
            Ok(parent) => {
                // SAFETY: the kernel just returned this fd to us alone.
                fd = unsafe { OwnedFd::from_raw_fd(parent) };
                chain.push(File::from(fd.try_clone()?).metadata()?.ino());
                if chain.len() > 64 {
                    // MAX_PID_NS_LEVEL is 32.
                    return Err(io::Error::other(format!(
                        "{path}: pid namespace chain over 64 levels"
                    )));
                }
            }
            Err(nix::errno::Errno::EPERM) => return Ok(chain),
            Err(e) => return Err(io::Error::other(format!("{path}: NS_GET_PARENT: {e}"))),
        }
    }
}

/// The hostname of process `pid`'s uts namespace, when it has one of its
/// own (not the recorder's): how a container that has no cgroup of its
/// own is named (`perfns run-container` sets it to the container's name).
/// Read by a short-lived thread that joins the namespace, so it needs
/// CAP_SYS_ADMIN over the namespace's owner, which a container's root has
/// over the containers it made; `None` without it.
pub fn uts_hostname(pid: i32) -> Option<String> {
    let path = format!("/proc/{pid}/ns/uts");
    let file = File::open(&path).ok()?;
    if file.metadata().ok()?.ino() == ns_inode(Path::new("/proc/thread-self/ns/uts")).ok()? {
        return None;
    }
    // setns() changes only the calling thread's uts namespace, and this
    // thread ends with it.
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWUTS).ok()?;
        let uts = nix::sys::utsname::uname().ok()?;
        Some(uts.nodename().to_string_lossy().into_owned())
    })
    .join()
    .ok()
    .flatten()
    .filter(|h| !h.is_empty())
}

/// The inode of a namespace file (`/proc/PID/ns/NAME`).
fn ns_inode(path: &Path) -> io::Result<u64> {
    Ok(std::fs::metadata(path)?.ino())
}

/// The containers of a recording as the recorder learns them: from the
/// task snapshot at the start, then from each task in a pid namespace not
/// seen before.
#[derive(Debug, Clone)]
pub struct ContainerRegistry {
    host: u64,
    containers: BTreeMap<u64, Container>,
}

impl ContainerRegistry {
    /// A registry whose host is the caller's own pid namespace.
    pub fn new() -> io::Result<Self> {
        let host = ns_inode(Path::new("/proc/self/ns/pid"))
            .map_err(|e| io::Error::new(e.kind(), format!("/proc/self/ns/pid: {e}")))?;
        Ok(Self::with_host(host))
    }

    /// A registry whose host is the pid namespace `host`.
    pub fn with_host(host: u64) -> Self {
        let mut containers = BTreeMap::new();
        containers.insert(
            host,
            Container {
                key: host,
                name: "host".into(),
                runtime: Runtime::Host,
                id: None,
                pod: None,
                parent: None,
                level: 0,
                cgroup: None,
                pid: None,
                labels: BTreeMap::new(),
                kubernetes: None,
                named_by: None,
            },
        );
        Self { host, containers }
    }

    /// Names container `key` again by the hostname of `pid`, one of its
    /// processes, when no cgroup names it: a runtime sets the hostname
    /// after it has made the namespaces, so the name read when they
    /// appeared may be the parent's, and an exec (the container's command
    /// starting) is the time to look again. Returns whether the name
    /// changed.
    pub fn rename_by_hostname(&mut self, key: u64, pid: i32) -> bool {
        let Some(c) = self.containers.get_mut(&key) else {
            return false;
        };
        if c.runtime != Runtime::Unknown {
            return false;
        }
        match uts_hostname(pid) {
            Some(h) if h != c.name => {
                c.name = h;
                true
            }
            _ => false,
        }
    }

    /// Names the recorder's own pid namespace, the root of the tree: a
    /// tracer-scoped recording is made inside a container, which is its
    /// root rather than the host.
    pub fn name_root(&mut self, name: String) {
        if let Some(root) = self.containers.get_mut(&self.host) {
            root.name = name;
        }
    }

    /// Container `key`, to name it from what the recorder learns beside
    /// the kernel (a runtime's state files).
    pub fn container_mut(&mut self, key: u64) -> Option<&mut Container> {
        self.containers.get_mut(&key)
    }

    /// The host's key.
    pub fn host(&self) -> u64 {
        self.host
    }

    /// Whether pid namespace `key` is known.
    pub fn knows(&self, key: u64) -> bool {
        self.containers.contains_key(&key)
    }

    /// Learns the containers in a snapshot. A namespace's identity comes
    /// from its init (pid 1 inside, by NSpid), else its lowest pid.
    pub fn learn_snapshot(&mut self, tasks: &[TaskSnapshot]) {
        let mut rep: BTreeMap<u64, &TaskSnapshot> = BTreeMap::new();
        for t in tasks.iter().filter(|t| t.pid == t.tid) {
            let Some(ns) = t.pid_ns() else { continue };
            let is_init = t.nspid.last() == Some(&1);
            match rep.get(&ns) {
                Some(r) if r.nspid.last() == Some(&1) || (!is_init && r.pid <= t.pid) => {}
                _ => {
                    rep.insert(ns, t);
                }
            }
        }
        for t in rep.values() {
            // A task that exited since the snapshot is learned without
            // its ancestry; its children name its parent later.
            let _ = self.learn_task(t.pid, t.cgroup.as_deref());
        }
    }

    /// Learns the pid namespace of process `pid` (alive now) and its
    /// ancestors, if new. Returns its key.
    pub fn learn_pid(&mut self, pid: i32) -> io::Result<u64> {
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .ok()
            .and_then(|t| cgroup_from_proc(&t));
        self.learn_task(pid, cgroup.as_deref())
    }

    fn learn_task(&mut self, pid: i32, cgroup: Option<&str>) -> io::Result<u64> {
        let chain = pid_ns_chain(pid)?;
        let key = chain[0];
        if let Some(known) = self.containers.get_mut(&key) {
            // An ancestor first seen through a descendant gets its identity
            // from its own task.
            if known.pid.is_none() && known.runtime != Runtime::Host {
                if let Some(i) = cgroup.and_then(identify_cgroup) {
                    (known.name, known.runtime, known.id, known.pod) =
                        (i.name, i.runtime, i.id, i.pod);
                } else if let Some(h) = uts_hostname(pid) {
                    known.name = h;
                }
                known.cgroup = cgroup.map(str::to_owned);
                known.pid = Some(pid);
            }
            return Ok(key);
        }
        // chain: the task's namespace first, the recorder's last.
        if chain.last() != Some(&self.host) {
            return Err(io::Error::other(format!(
                "pid {pid}'s pid namespaces {chain:?} do not lead to the recorder's ({})",
                self.host
            )));
        }
        for (depth, w) in chain.windows(2).rev().enumerate() {
            let (ns, parent) = (w[0], w[1]);
            if self.containers.contains_key(&ns) {
                continue;
            }
            // Only the task's own namespace gets its cgroup; ancestors
            // seen only through it are named by their key until a task of
            // theirs is learned (see `learn_snapshot`).
            let own = ns == key;
            let ident = own.then(|| cgroup.and_then(identify_cgroup)).flatten();
            let hostname = || own.then(|| uts_hostname(pid)).flatten();
            let (name, runtime, id, pod) = match (ident, hostname()) {
                (Some(i), _) => (i.name, i.runtime, i.id, i.pod),
                (None, Some(h)) => (h, Runtime::Unknown, None, None),
                (None, None) => (format!("pidns-{ns}"), Runtime::Unknown, None, None),
            };
            self.containers.insert(
                ns,
                Container {
                    key: ns,
                    name,
                    runtime,
                    id,
                    pod,
                    parent: Some(parent),
                    level: depth as u32 + 1,
                    cgroup: own.then(|| cgroup.map(str::to_owned)).flatten(),
                    pid: own.then_some(pid),
                    labels: BTreeMap::new(),
                    kubernetes: None,
                    named_by: None,
                },
            );
        }
        Ok(key)
    }

    /// Learns pid namespace `key`, whose tasks were gone before `/proc`
    /// could show them, as a child of `parent` (the namespace of the task
    /// that forked its first task, as FORK records tell; the host if
    /// unknown). It is named `pidns-<key>`, runtime unknown.
    pub fn learn_unseen(&mut self, key: u64, parent: Option<u64>) {
        if self.containers.contains_key(&key) {
            return;
        }
        let parent = parent
            .filter(|p| self.containers.contains_key(p))
            .unwrap_or(self.host);
        let level = self.containers.get(&parent).map_or(0, |p| p.level) + 1;
        self.containers.insert(
            key,
            Container {
                key,
                name: format!("pidns-{key}"),
                runtime: Runtime::Unknown,
                id: None,
                pod: None,
                parent: Some(parent),
                level,
                cgroup: None,
                pid: None,
                labels: BTreeMap::new(),
                kubernetes: None,
                named_by: None,
            },
        );
    }

    /// Forgets the containers that have vanished: those for which
    /// `alive` is false and none of whose descendants it is true for (the
    /// host stays). A live session calls it so that what it keeps is the
    /// containers there are, not every one it saw. Returns how many.
    pub fn forget_vanished(&mut self, alive: impl Fn(u64) -> bool) -> usize {
        let mut keep: std::collections::BTreeSet<u64> = std::collections::BTreeSet::new();
        keep.insert(self.host);
        for &key in self.containers.keys().filter(|&&k| alive(k)) {
            // It and its ancestors (a bounded walk: a parent chain cannot
            // be longer than the registry).
            let mut at = Some(key);
            let mut steps = 0;
            while let Some(k) = at.filter(|_| steps <= self.containers.len()) {
                keep.insert(k);
                at = self.containers.get(&k).and_then(|c| c.parent);
                steps += 1;
            }
        }
        let before = self.containers.len();
        self.containers.retain(|k, _| keep.contains(k));
        before - self.containers.len()
    }

    /// The containers, parents before children.
    pub fn containers(&self) -> Vec<Container> {
        let mut out: Vec<Container> = self.containers.values().cloned().collect();
        out.sort_by_key(|c| (c.level, c.key));
        out
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vanished_containers_are_forgotten_but_ancestors_of_live_ones_stay() {
        let mut r = ContainerRegistry::with_host(1);
        r.learn_unseen(10, Some(1));
        r.learn_unseen(11, Some(10));
        r.learn_unseen(20, Some(1));
        r.learn_unseen(30, Some(1));
        // 11 has tasks (so 10, its parent, stays); 20 and 30 have none.
        assert_eq!(r.forget_vanished(|k| k == 11 || k == 30), 1);
        let keys: Vec<u64> = r.containers().iter().map(|c| c.key).collect();
        assert_eq!(keys, [1, 10, 30, 11]);
        assert_eq!(r.forget_vanished(|_| false), 3);
        assert_eq!(r.containers().len(), 1, "the host stays");
    }

    #[test]
    fn a_uts_namespace_of_its_own_names_by_hostname() {
        assert_eq!(uts_hostname(std::process::id() as i32), None);
        if crate::testing::prerequisite(crate::testing::root()).is_none() {
            return;
        }
        let mut child = std::process::Command::new("unshare")
            .args([
                "--uts",
                "sh",
                "-c",
                "hostname perfns-uts-test && exec sleep 30",
            ])
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // The hostname is set once the shell has exec'd sleep; before, the
        // new uts namespace still holds the inherited one.
        for _ in 0..2000 {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "sleep" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let name = uts_hostname(pid);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(name.as_deref(), Some("perfns-uts-test"));
    }

    #[test]
    fn unseen_namespaces_hang_under_their_parent_or_the_host() {
        let mut reg = ContainerRegistry::with_host(1);
        reg.learn_unseen(2, Some(1));
        reg.learn_unseen(3, Some(2));
        reg.learn_unseen(4, Some(99));
        reg.learn_unseen(5, None);
        let got: Vec<_> = reg
            .containers()
            .into_iter()
            .map(|c| (c.key, c.parent, c.level, c.name, c.runtime))
            .collect();
        let unseen = |k: u64, p, l| (k, Some(p), l, format!("pidns-{k}"), Runtime::Unknown);
        assert_eq!(
            got,
            [
                (1, None, 0, "host".to_owned(), Runtime::Host),
                unseen(2, 1, 1),
                unseen(4, 1, 1),
                unseen(5, 1, 1),
                unseen(3, 2, 2)
            ]
        );
    }
}
