//! Container identity, captured at record time and stored in the recording.
//!
//! A container is a pid namespace: its inode is the key (as LTTng keys
//! containers), the pid namespace's parent chain (`NS_GET_PARENT`) gives the
//! nesting, and its name and runtime come from the cgroup path of the
//! namespace's init task ([`identify_cgroup`]). The recorder's own pid
//! namespace is the host. All of it, with a snapshot of the tasks that
//! existed when recording began, is a [`RecordingMeta`], stored as JSON in
//! the perfns feature section ([`Features::perfns`](crate::perf_data::Features::perfns)), so that a report on
//! another machine needs nothing from the recording machine.
//!
//! The JSON is append-only: readers ignore fields they do not know, and new
//! fields are optional (see docs/recording-format.md, "The perfns
//! extension").

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The version of the [`RecordingMeta`] JSON this code writes. Readers
/// accept any version with the fields they need; a change that old readers
/// would misread gets a new feature bit, not a new version.
pub const META_VERSION: u32 = 1;

/// The cgroup directory prefix our tests and demos put containers under:
/// `/perfns/<name>` (nested: `/perfns/<outer>/<inner>`).
pub const PERFNS_CGROUP_PREFIX: &str = "/perfns/";

/// What made a container, as its cgroup path tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// The recorder's own pid namespace: the machine itself.
    Host,
    /// Docker (`/docker/<id>`, `/system.slice/docker-<id>.scope`).
    Docker,
    /// Podman (`libpod-<id>.scope`, `/libpod_parent/libpod-<id>`).
    Podman,
    /// containerd's CRI plugin (`cri-containerd-<id>.scope` under kubepods).
    Containerd,
    /// CRI-O (`crio-<id>.scope` under kubepods).
    CriO,
    /// A Kubernetes container under the cgroupfs driver
    /// (`/kubepods/<qos>/pod<uid>/<id>`), whose path does not name the CRI
    /// runtime.
    Kubepods,
    /// LXC or LXD (`/lxc.payload.<name>`, older `/lxc/<name>`): both use
    /// liblxc's cgroup names, so the path cannot tell them apart.
    Lxc,
    /// systemd-nspawn (`systemd-nspawn@<name>.service`,
    /// `machine-<name>.scope`).
    SystemdNspawn,
    /// perfns's own test and demo containers (`/perfns/<name>`).
    Perfns,
    /// A pid namespace whose cgroup path names no known runtime.
    Unknown,
}

impl Runtime {
    /// The runtime's name as a report prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Docker => "docker",
            Self::Podman => "podman",
            Self::Containerd => "containerd",
            Self::CriO => "cri-o",
            Self::Kubepods => "kubepods",
            Self::Lxc => "lxc",
            Self::SystemdNspawn => "systemd-nspawn",
            Self::Perfns => "perfns",
            Self::Unknown => "unknown",
        }
    }
}

/// A container's identity as its cgroup path gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupIdentity {
    /// Who made it.
    pub runtime: Runtime,
    /// Its name: the runtime's name where the path has one (LXC, nspawn,
    /// perfns), else the first 12 hex digits of its id, as `docker ps`
    /// shortens ids.
    pub name: String,
    /// The runtime's full container id, where the path has one.
    pub id: Option<String>,
    /// The Kubernetes pod uid, for containers under kubepods.
    pub pod: Option<String>,
}

/// Whether `s` is a container id: 64 lowercase hex digits, as Docker,
/// Podman, containerd and CRI-O make them.
fn is_container_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// systemd's unit name unescaping (`\x2d` is `-`), for names in unit names.
fn systemd_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 4);
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) if b.is_ascii() => {
                out.push(char::from(b));
                rest = &rest[i + 4..];
            }
            _ => {
                out.push_str("\\x");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// An identity named by a container id.
fn by_id(runtime: Runtime, id: &str, pod: Option<String>) -> CgroupIdentity {
    CgroupIdentity {
        runtime,
        name: id[..12].to_owned(),
        id: Some(id.to_owned()),
        pod,
    }
}

/// The pod uid in a kubepods path component: `pod<uid>` (cgroupfs) or
/// `kubepods-<qos>-pod<uid with _ for ->.slice` (systemd).
fn pod_uid(component: &str) -> Option<String> {
    let c = component.strip_suffix(".slice").unwrap_or(component);
    let uid = c.rsplit_once("pod").map(|(_, u)| u)?;
    let valid = !uid.is_empty()
        && uid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    (valid && (c.starts_with("pod") || c.starts_with("kubepods"))).then(|| uid.replace('_', "-"))
}

/// Which container a cgroup path (as `/proc/PID/cgroup` or
/// PERF_RECORD_CGROUP give it, from the root of the hierarchy) belongs to.
///
/// The innermost component that names a container wins, so a service inside
/// a container (`/system.slice/docker-<id>.scope/init.scope`) belongs to it,
/// and a Docker container inside an LXD one is the Docker container; the
/// nesting itself comes from the pid namespaces. `None` for paths that name
/// no container (`/`, `/user.slice/...`, `/lxc.monitor.<name>`, conmon's
/// scopes).
pub fn identify_cgroup(path: &str) -> Option<CgroupIdentity> {
    if let Some(rest) = path.strip_prefix(PERFNS_CGROUP_PREFIX) {
        let name = rest.trim_end_matches('/').rsplit('/').next()?;
        return (!name.is_empty()).then(|| CgroupIdentity {
            runtime: Runtime::Perfns,
            name: name.to_owned(),
            id: None,
            pod: None,
        });
    }
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let pod = parts.iter().find_map(|c| pod_uid(c));
    for (i, c) in parts.iter().enumerate().rev() {
        let parent = i.checked_sub(1).map(|j| parts[j]);
        let scoped = |prefix: &str| {
            c.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(".scope"))
                .filter(|id| is_container_id(id))
        };
        if let Some(id) = scoped("docker-") {
            return Some(by_id(Runtime::Docker, id, None));
        }
        if let Some(id) = scoped("libpod-") {
            return Some(by_id(Runtime::Podman, id, None));
        }
        if let Some(id) = scoped("cri-containerd-") {
            return Some(by_id(Runtime::Containerd, id, pod));
        }
        if let Some(id) = scoped("crio-") {
            return Some(by_id(Runtime::CriO, id, pod));
        }
        if let Some(id) = c.strip_prefix("libpod-").filter(|id| is_container_id(id)) {
            // The cgroupfs driver: /libpod_parent/libpod-<id>.
            return Some(by_id(Runtime::Podman, id, None));
        }
        if is_container_id(c) {
            match parent {
                Some("docker") => return Some(by_id(Runtime::Docker, c, None)),
                Some(p) if p.starts_with("pod") && pod.is_some() => {
                    return Some(by_id(Runtime::Kubepods, c, pod))
                }
                _ => {}
            }
        }
        if let Some(name) = c.strip_prefix("lxc.payload.").filter(|n| !n.is_empty()) {
            return Some(named(Runtime::Lxc, name));
        }
        if parent == Some("lxc") && i == 1 {
            return Some(named(Runtime::Lxc, c));
        }
        if let Some(name) = c
            .strip_prefix("systemd-nspawn@")
            .and_then(|r| r.strip_suffix(".service"))
            .filter(|n| !n.is_empty())
        {
            return Some(named(Runtime::SystemdNspawn, &systemd_unescape(name)));
        }
        if let Some(name) = c
            .strip_prefix("machine-")
            .and_then(|r| r.strip_suffix(".scope"))
            .filter(|n| !n.is_empty())
        {
            return Some(named(Runtime::SystemdNspawn, &systemd_unescape(name)));
        }
    }
    None
}

fn named(runtime: Runtime, name: &str) -> CgroupIdentity {
    CgroupIdentity {
        runtime,
        name: name.to_owned(),
        id: None,
        pod: None,
    }
}

/// One container of a recording: a pid namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// The pid namespace's inode: the key records name it by (the `pid`
    /// entry of PERF_RECORD_NAMESPACES).
    pub key: u64,
    /// Its name: [`CgroupIdentity::name`], `host` for the host, or
    /// `pidns-<key>` when the cgroup path names no container.
    pub name: String,
    /// Who made it.
    pub runtime: Runtime,
    /// The runtime's full container id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The Kubernetes pod uid, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The parent pid namespace's key; `None` for the host.
    pub parent: Option<u64>,
    /// Depth below the host (the host is 0).
    pub level: u32,
    /// The cgroup (v2 where there is one) of the task the identity was read
    /// from, if it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// That task's pid, as the recorder saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// The labels its runtime keeps for it (Docker's `Config.Labels`, a
    /// CRI-O container's Kubernetes labels), read at record time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Its Kubernetes identity, when a CRI runtime's state or kubelet's
    /// logs gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesIdentity>,
    /// The runtime state file `name` was read from, when one was (a
    /// Docker `config.v2.json`, Podman's `containers.json`, an OCI
    /// bundle's `config.json`...): `name` is then the runtime's own name
    /// for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_by: Option<String>,
}

/// A Kubernetes container's place: namespace, pod and container name, as
/// `kubectl` names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesIdentity {
    /// The pod's namespace (`kube-system`).
    pub namespace: String,
    /// The pod's name (`coredns-abc`).
    pub pod: String,
    /// The container's name in the pod (`coredns`).
    pub container: String,
}

impl KubernetesIdentity {
    /// `namespace/pod/container`, the name a report shows.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.pod, self.container)
    }
}

/// What `--container WANTED` is matched against, the same way in `perfns
/// record` (the running containers) and `perfns report` (a recording's).
#[derive(Debug, Clone, Copy)]
pub struct ContainerRef<'a> {
    /// Its name as shown.
    pub name: &'a str,
    /// Its pid namespace inode, if it is one.
    pub pid_ns: Option<u64>,
    /// The runtime's full container id.
    pub id: Option<&'a str>,
    /// Its cgroup path.
    pub cgroup: Option<&'a str>,
}

impl ContainerRef<'_> {
    /// Whether `wanted` names it: its name, its key (`pidns:INODE` or the
    /// inode alone), its cgroup path, or its runtime id or a prefix of it
    /// (at least 4 hex digits, as short as `docker` accepts it only when
    /// unique, which the caller checks).
    pub fn matches(&self, wanted: &str) -> bool {
        let inode = wanted.strip_prefix("pidns:").unwrap_or(wanted);
        self.name == wanted
            || self.pid_ns.is_some_and(|ns| ns.to_string() == inode)
            || self.cgroup == Some(wanted)
            || self.id.is_some_and(|id| {
                wanted.len() >= 4
                    && wanted.bytes().all(|b| b.is_ascii_hexdigit())
                    && id.starts_with(wanted)
            })
    }
}

/// Which tasks a recording covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum RecordingScope {
    /// Every task of the machine (`perfns record -a`).
    System,
    /// Every task of the machine, recorded while a command ran.
    Command {
        /// The command, program first.
        argv: Vec<String>,
    },
    /// Every task, with the container of interest named (`--container`).
    Container {
        /// Its key.
        key: u64,
        /// Its name.
        name: String,
    },
}

/// How the events were opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordingMode {
    /// Per-CPU events over the whole machine: root or CAP_PERFMON on any
    /// kernel.
    SystemWide,
    /// Tracer-scoped events: the perfns kernel series, unprivileged.
    TracerScope,
}

/// A task that existed when recording began, as `/proc` showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSnapshot {
    /// Process id (thread group id).
    pub pid: i32,
    /// Thread id.
    pub tid: i32,
    /// Parent process id.
    pub ppid: i32,
    /// Its name (`/proc/PID/task/TID/comm`).
    pub comm: String,
    /// Its namespaces by `/proc/PID/ns` name (`pid`, `time`, `cgroup`,
    /// ...) to inode; empty when they could not be read, except `pid`
    /// when NSpid shows the task is in the recorder's own pid namespace.
    pub namespaces: BTreeMap<String, u64>,
    /// Its pid in each pid namespace from the recorder's down to its own
    /// (`NSpid` in `/proc/PID/status`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nspid: Vec<i32>,
    /// Its cgroup v2 path, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
}

impl TaskSnapshot {
    /// The inode of its pid namespace: the key of its container.
    pub fn pid_ns(&self) -> Option<u64> {
        self.namespaces.get("pid").copied()
    }
}

/// Records the kernel dropped on one CPU, and the times it was offline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuLoss {
    /// The CPU.
    pub cpu: u32,
    /// Records lost because the ring buffer was full (PERF_RECORD_LOST).
    pub lost: u64,
    /// Samples lost before reaching the buffer (PERF_RECORD_LOST_SAMPLES).
    pub lost_samples: u64,
    /// How many times the CPU went offline while recording: nothing was
    /// recorded on it while it was (perf_event_open's events on a CPU die
    /// with it; the recorder opens them again when it comes back).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offline: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What perfns knows about a recording beyond perf's own features: the
/// perfns extension feature section, JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingMeta {
    /// [`META_VERSION`] of the writer.
    pub version: u32,
    /// How events were opened.
    pub mode: RecordingMode,
    /// Which tasks were recorded.
    pub scope: RecordingScope,
    /// The key of the recorder's own pid namespace: the host.
    pub host: u64,
    /// Every pid namespace seen, the host's included, parents before
    /// children.
    pub containers: Vec<Container>,
    /// The tasks that existed when recording began.
    #[serde(default)]
    pub tasks: Vec<TaskSnapshot>,
    /// Records lost, per CPU with any loss (also in the file as LOST and
    /// LOST_SAMPLES records).
    #[serde(default)]
    pub lost: Vec<CpuLoss>,
}

/// The perfns extension of a recording cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("perfns extension (feature section PERFNS): {reason}")]
pub struct MetaError {
    /// What is wrong.
    pub reason: String,
    /// The JSON error, if it was one.
    #[source]
    pub source: Option<serde_json::Error>,
}

impl RecordingMeta {
    /// Decodes the extension's bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, MetaError> {
        serde_json::from_slice(bytes).map_err(|e| MetaError {
            reason: format!(
                "not a perfns recording description: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
            source: Some(e),
        })
    }

    /// Encodes it for [`Features::perfns`](crate::perf_data::Features::perfns).
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing these plain structs (string keys, no floats) cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The container with key `key`.
    pub fn container(&self, key: u64) -> Option<&Container> {
        self.containers.iter().find(|c| c.key == key)
    }

    /// The containers from `key` up to the host, `key`'s first.
    pub fn ancestry(&self, key: u64) -> Vec<&Container> {
        let mut out = Vec::new();
        let mut next = self.container(key);
        while let Some(c) = next {
            // A cycle cannot come from the kernel; stop rather than spin on
            // a hand-made file.
            if out.len() > self.containers.len() {
                break;
            }
            out.push(c);
            next = c.parent.and_then(|p| self.container(p));
        }
        out
    }
}

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

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on a hybrid system): the first cgroup2 mount
/// of its root in `/proc/self/mountinfo`. Paths from `/proc/PID/cgroup`
/// and PERF_RECORD_CGROUP are relative to it.
pub fn cgroup2_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|line| {
        // `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPER`
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        let mut f = left.split_whitespace();
        let root = f.nth(3)?;
        let mountpoint = f.next()?;
        (fstype == "cgroup2" && root == "/").then(|| PathBuf::from(mountpoint))
    })
}

/// The cgroup v2 path in the text of `/proc/PID/cgroup`, else the first v1
/// path that names a container (on a v1-only host, containers show there).
pub fn cgroup_from_proc(text: &str) -> Option<String> {
    let v1 = || proc_cgroup_paths(text).find_map(|(_, path)| identify_cgroup(path).map(|_| path));
    cgroup_v2_from_proc(text).or_else(v1).map(str::to_owned)
}

/// The cgroup v2 path in the text of `/proc/PID/cgroup`: the path of
/// hierarchy 0 (the `0::` line), whatever v1 hierarchies are mounted too.
pub fn cgroup_v2_from_proc(text: &str) -> Option<&str> {
    proc_cgroup_paths(text).find_map(|(id, path)| (id == "0").then_some(path))
}

/// The hierarchy ID and path of each line of `/proc/PID/cgroup`
/// (`HIERARCHY-ID:CONTROLLERS:PATH`, cgroups(7)).
pub fn proc_cgroup_paths(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let mut f = line.splitn(3, ':');
        let id = f.next()?;
        f.next()?;
        Some((id, f.next()?))
    })
}

/// Reads one task from `/proc`. Fails when the task is gone; fields the
/// recorder may not read (namespaces of tasks it cannot ptrace) are left
/// empty.
pub fn read_task(pid: i32, tid: i32) -> io::Result<TaskSnapshot> {
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
            if let Ok(ino) = ns_inode(&e.path()) {
                namespaces.insert(name, ino);
            }
        }
    }
    // A task whose namespaces the recorder may not read (no ptrace access)
    // still shows its NSpid, which lists one pid per level from the
    // reader's pid namespace down: a single one means the reader's own.
    if !namespaces.contains_key("pid") && nspid.len() == 1 {
        if let Ok(own) = ns_inode(Path::new("/proc/self/ns/pid")) {
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
pub fn snapshot_tasks() -> io::Result<Vec<TaskSnapshot>> {
    Ok(task_ids()?
        .into_iter()
        .filter_map(|(pid, tid)| read_task(pid, tid).ok())
        .collect())
}

/// The `(pid, tid)` of every task in `/proc` now, in order.
pub fn task_ids() -> io::Result<Vec<(i32, i32)>> {
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
    use crate::perf_data::Features;

    const ID: &str = "3f2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a";

    fn ident(path: &str) -> Option<(Runtime, String, Option<String>, Option<String>)> {
        identify_cgroup(path).map(|i| (i.runtime, i.name, i.id, i.pod))
    }

    fn some(
        r: Runtime,
        name: &str,
        id: Option<&str>,
        pod: Option<&str>,
    ) -> Option<(Runtime, String, Option<String>, Option<String>)> {
        Some((r, name.into(), id.map(Into::into), pod.map(Into::into)))
    }

    #[test]
    fn docker_paths() {
        let short = &ID[..12];
        for p in [
            format!("/docker/{ID}"),
            format!("/system.slice/docker-{ID}.scope"),
            format!("/system.slice/docker-{ID}.scope/init.scope"),
        ] {
            assert_eq!(
                ident(&p),
                some(Runtime::Docker, short, Some(ID), None),
                "{p}"
            );
        }
    }

    #[test]
    fn podman_paths() {
        let short = &ID[..12];
        for p in [
            format!("/machine.slice/libpod-{ID}.scope"),
            format!("/machine.slice/libpod-{ID}.scope/container"),
            format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"),
            format!("/libpod_parent/libpod-{ID}"),
        ] {
            assert_eq!(
                ident(&p),
                some(Runtime::Podman, short, Some(ID), None),
                "{p}"
            );
        }
        // conmon, the monitor, is not the container.
        assert_eq!(
            ident(&format!("/machine.slice/libpod-conmon-{ID}.scope")),
            None
        );
    }

    #[test]
    fn kubernetes_paths() {
        let short = &ID[..12];
        let uid = "5d1c8b2e-7f3a-4e6b-9c0d-1a2b3c4d5e6f";
        let slice_uid = uid.replace('-', "_");
        assert_eq!(
            ident(&format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{slice_uid}.slice/cri-containerd-{ID}.scope"
            )),
            some(Runtime::Containerd, short, Some(ID), Some(uid))
        );
        assert_eq!(
            ident(&format!(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{slice_uid}.slice/crio-{ID}.scope"
            )),
            some(Runtime::CriO, short, Some(ID), Some(uid))
        );
        assert_eq!(
            ident(&format!(
                "/kubepods.slice/kubepods-pod{slice_uid}.slice/crio-{ID}.scope"
            )),
            some(Runtime::CriO, short, Some(ID), Some(uid))
        );
        assert_eq!(
            ident(&format!("/kubepods/besteffort/pod{uid}/{ID}")),
            some(Runtime::Kubepods, short, Some(ID), Some(uid))
        );
        assert_eq!(
            ident(&format!("/kubepods/burstable/pod{uid}")),
            None,
            "a pod's own cgroup holds no container"
        );
        assert_eq!(
            ident(&format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{slice_uid}.slice/crio-conmon-{ID}.scope"
            )),
            None
        );
    }

    #[test]
    fn lxc_and_lxd_paths() {
        assert_eq!(
            ident("/lxc.payload.web1"),
            some(Runtime::Lxc, "web1", None, None)
        );
        assert_eq!(
            ident("/lxc.payload.web1/system.slice/nginx.service"),
            some(Runtime::Lxc, "web1", None, None)
        );
        assert_eq!(ident("/lxc/web1"), some(Runtime::Lxc, "web1", None, None));
        assert_eq!(ident("/lxc.monitor.web1"), None);
        // Docker inside LXD: the innermost container.
        assert_eq!(
            ident(&format!("/lxc.payload.web1/system.slice/docker-{ID}.scope")),
            some(Runtime::Docker, &ID[..12], Some(ID), None)
        );
    }

    #[test]
    fn nspawn_paths() {
        assert_eq!(
            ident("/machine.slice/systemd-nspawn@debian\\x2dbookworm.service"),
            some(Runtime::SystemdNspawn, "debian-bookworm", None, None)
        );
        assert_eq!(
            ident("/machine.slice/systemd-nspawn@box.service/payload/system.slice/cron.service"),
            some(Runtime::SystemdNspawn, "box", None, None)
        );
        assert_eq!(
            ident("/machine.slice/machine-my\\x2dbox.scope"),
            some(Runtime::SystemdNspawn, "my-box", None, None)
        );
    }

    #[test]
    fn perfns_and_plain_paths() {
        assert_eq!(
            ident("/perfns/burner"),
            some(Runtime::Perfns, "burner", None, None)
        );
        assert_eq!(
            ident("/perfns/outer/inner"),
            some(Runtime::Perfns, "inner", None, None)
        );
        assert_eq!(ident("/perfns/"), None);
        for p in [
            "/",
            "",
            "/user.slice/user-1000.slice/session-3.scope",
            "/system.slice/cron.service",
            "/docker",
            "/docker/notanid",
        ] {
            assert_eq!(ident(p), None, "{p}");
        }
    }

    #[test]
    fn proc_cgroup_text() {
        let hybrid = "9:name=systemd:/\n4:memory:/process_api/61dd\n1:cpu:/\n0::/perfns/a\n";
        assert_eq!(cgroup_from_proc(hybrid).as_deref(), Some("/perfns/a"));
        let v1 = format!("12:pids:/docker/{ID}\n11:cpu,cpuacct:/docker/{ID}\n");
        assert_eq!(cgroup_from_proc(&v1), Some(format!("/docker/{ID}")));
        assert_eq!(cgroup_from_proc("garbage"), None);
    }

    /// The three forms of `/proc/PID/cgroup` (cgroups(7)): v2 only
    /// (unified), v1 only (legacy), and hybrid (v1 controllers beside the
    /// v2 hierarchy), as systemd mounts them.
    #[test]
    fn proc_cgroup_v1_v2_and_hybrid() {
        let v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        let v1 = format!(
            "12:pids:/docker/{ID}\n11:cpu,cpuacct:/docker/{ID}\n\
             1:name=systemd:/docker/{ID}\n"
        );
        let hybrid = format!(
            "12:pids:/docker/{ID}\n1:name=systemd:/docker/{ID}\n\
             0::/perfns/outer/inner\n"
        );
        let v1_host = "11:cpu,cpuacct:/user.slice\n1:name=systemd:/user.slice/session-3.scope\n";

        // The v2 path alone, whatever else is mounted.
        let docker_scope = format!("/system.slice/docker-{ID}.scope");
        assert_eq!(cgroup_v2_from_proc(&v2), Some(docker_scope.as_str()));
        assert_eq!(cgroup_v2_from_proc(&v1), None);
        assert_eq!(cgroup_v2_from_proc(&hybrid), Some("/perfns/outer/inner"));
        assert_eq!(cgroup_v2_from_proc(v1_host), None);
        assert_eq!(cgroup_v2_from_proc("0::/\n"), Some("/"));
        assert_eq!(cgroup_v2_from_proc("0:/no-path\n"), None);
        assert_eq!(cgroup_v2_from_proc(""), None);

        // The v2 path, else a v1 path that names a container.
        assert_eq!(cgroup_from_proc(&v2), Some(docker_scope.clone()));
        assert_eq!(cgroup_from_proc(&v1), Some(format!("/docker/{ID}")));
        assert_eq!(
            cgroup_from_proc(&hybrid).as_deref(),
            Some("/perfns/outer/inner")
        );
        assert_eq!(cgroup_from_proc(v1_host), None);
    }

    fn meta() -> RecordingMeta {
        let c = |key, name: &str, parent: Option<u64>, level| Container {
            key,
            name: name.into(),
            runtime: if parent.is_none() {
                Runtime::Host
            } else {
                Runtime::Perfns
            },
            id: None,
            pod: None,
            parent,
            level,
            cgroup: None,
            pid: None,
            labels: BTreeMap::new(),
            kubernetes: None,
            named_by: None,
        };
        RecordingMeta {
            version: META_VERSION,
            mode: RecordingMode::SystemWide,
            scope: RecordingScope::Command {
                argv: vec!["true".into()],
            },
            host: 10,
            containers: vec![
                c(10, "host", None, 0),
                c(20, "outer", Some(10), 1),
                c(30, "inner", Some(20), 2),
            ],
            tasks: vec![TaskSnapshot {
                pid: 7,
                tid: 7,
                ppid: 1,
                comm: "sh".into(),
                namespaces: [("pid".to_owned(), 30), ("time".to_owned(), 40)].into(),
                nspid: vec![7, 3, 1],
                cgroup: Some("/perfns/outer/inner".into()),
            }],
            lost: vec![CpuLoss {
                cpu: 1,
                lost: 5,
                lost_samples: 0,
                offline: 1,
            }],
        }
    }

    #[test]
    fn meta_round_trips_through_features() {
        let m = meta();
        let features = Features {
            perfns: Some(m.to_json()),
            ..Features::default()
        };
        assert_eq!(
            RecordingMeta::from_features(&features).unwrap(),
            Some(m.clone())
        );
        assert_eq!(
            RecordingMeta::from_features(&Features::default()).unwrap(),
            None
        );
        let names: Vec<_> = m.ancestry(30).iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["inner", "outer", "host"]);
        assert_eq!(m.tasks[0].pid_ns(), Some(30));
    }

    #[test]
    fn meta_readers_ignore_unknown_fields_and_name_bad_json() {
        let mut v: serde_json::Value = serde_json::from_slice(&meta().to_json()).unwrap();
        v["from_the_future"] = serde_json::json!([1, 2]);
        v["containers"][0]["colour"] = serde_json::json!("blue");
        let m = RecordingMeta::from_json(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(m, meta());
        let err = RecordingMeta::from_json(b"{\"version\": 1,").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "perfns extension (feature section PERFNS): not a perfns recording description"
            ),
            "{err}"
        );
    }

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
    fn nested_pid_namespaces_chain_to_the_host() {
        if crate::testing::prerequisite(crate::testing::root()).is_none() {
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

    #[test]
    fn pid_1_is_in_the_readers_pid_namespace_even_when_unreadable() {
        // Pid 1 of the reader's pid namespace is in it by definition; its
        // ns links may be closed to us (they are on some VMs), NSpid not.
        let own = ns_inode(Path::new("/proc/self/ns/pid")).unwrap();
        let init = read_task(1, 1).unwrap();
        assert_eq!(init.pid_ns(), Some(own), "{init:?}");
        assert_eq!(init.nspid, [1]);
    }

    #[test]
    fn cgroup2_mount_holds_the_root_cgroup() {
        let Some(root) = crate::testing::prerequisite(
            cgroup2_mount().ok_or("needs a cgroup2 mount (/proc/self/mountinfo has none)"),
        ) else {
            return;
        };
        assert!(root.join("cgroup.procs").is_file(), "{}", root.display());
        // The root cgroup has no cgroup.events; every other cgroup has one.
        assert!(!root.join("cgroup.events").exists(), "{}", root.display());
    }
}
