//! The names containers have in their runtimes (`web`,
//! `kube-system/coredns-abc/coredns`), read at record time from the
//! runtimes' own state files, so that the recording carries them and a
//! report elsewhere needs nothing of the host.
//!
//! No daemon is asked: a runtime's state is files, readable by root (or by
//! a tenant for its own containers), and reading them cannot hang on a
//! daemon that is busy or gone. Where each runtime keeps what:
//!
//! | runtime | file | name, labels, init pid |
//! |---|---|---|
//! | Docker | `DATA_ROOT/containers/ID/config.v2.json`; DATA_ROOT from the running `dockerd`'s `--data-root`/`-g`/`--graph` or its `--config-file` (default `/etc/docker/daemon.json`, `data-root`), else `/var/lib/docker` | `Name` (without its `/`), `Config.Labels`, `State.Pid` |
//! | Podman (rootful and rootless), CRI-O | containers/storage's `GRAPHROOT/DRIVER-containers/containers.json` (`names`); the container's `userdata/config.json` (OCI annotations) and `userdata/pidfile`, under GRAPHROOT or RUNROOT; GRAPHROOT and RUNROOT from `/etc/containers/storage.conf` (default `/var/lib/containers/storage`, `/run/containers/storage`), rootless `~/.local/share/containers/storage` and `/run/user/UID/containers`; Podman's labels from libpod's state database `GRAPHROOT/libpod/bolt_state.db` | podman: `names[0]`, labels: the `labels` of the database's container config; CRI-O: the annotations `io.kubernetes.pod.namespace`, `io.kubernetes.pod.name`, `io.kubernetes.container.name`, labels from `io.kubernetes.cri-o.Labels` |
//! | containerd | the task bundle `/run/containerd/io.containerd.runtime.v2.task/NAMESPACE/ID/config.json` and its `init.pid` | CRI: the annotations `io.kubernetes.cri.sandbox-namespace`, `io.kubernetes.cri.sandbox-name`, `io.kubernetes.cri.container-name`; nerdctl: `nerdctl/name` |
//! | kubelet (fallback) | `/var/log/containers/POD_NAMESPACE_CONTAINER-ID.log`, `/var/log/pods/NAMESPACE_POD_UID/CONTAINER/` | namespace, pod, container |
//! | systemd-nspawn | `/run/systemd/machines/NAME` | `NAME`, its `LEADER` pid |
//!
//! LXC and Incus name their containers in the cgroup path
//! (`lxc.payload.NAME`), which `perfns::container::identify_cgroup`
//! already reads; here every cgroup hierarchy of a task is looked at, not
//! only the v2 one, so that a runtime that puts containers in v1
//! hierarchies only (Docker on a hybrid host) is found too. Incus and LXD
//! give liblxc the name `PROJECT_NAME` for an instance of a project other
//! than `default` (Incus's `project.Instance()`, internal/server/project):
//! where the instance's directory (`/var/lib/incus/containers/PROJECT_NAME`,
//! LXD's `/var/lib/lxd/containers/` or `/var/snap/lxd/common/lxd/containers/`)
//! says Incus or LXD made it, it is shown as `PROJECT/NAME`, as `incus list
//! --project PROJECT` lists `NAME`; an instance of the default project keeps
//! its plain `NAME`. (Instance names have no `_`, project names may: the
//! split is at the last one, as Incus's `InstanceParts()` does. A plain LXC
//! container's name may have one, which is why the directory decides.)
//!
//! A pid namespace is matched to a runtime's container by the init pid the
//! runtime wrote (its pid namespace is the container's), else by the
//! container id its tasks' cgroup paths carry; an id found in a container
//! and in a pid namespace nested in it names the outer one only.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use perfns::container::{
    identify_cgroup, proc_cgroup_paths, Container, ContainerRegistry, KubernetesIdentity, Runtime,
};
use serde_json::Value;

use bolt::{BoltError, BoltFile};

mod bolt;

/// A container as its runtime's state files describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeContainer {
    /// Its runtime.
    pub runtime: Runtime,
    /// The runtime's id (64 hex digits for all of them but nspawn's).
    pub id: Option<String>,
    /// The runtime's name for it.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its Kubernetes identity, for a CRI runtime's.
    pub kubernetes: Option<KubernetesIdentity>,
    /// Its init's pid, in the pid namespace of whoever reads the files,
    /// while it runs.
    pub pid: Option<i32>,
    /// The file its name came from, as a path on the recorded machine.
    pub source: String,
    /// The name its cgroup path carries where that is no id: liblxc's
    /// (`lxc.payload.NAME`), for Incus and LXD.
    pub cgroup_name: Option<String>,
}

impl RuntimeContainer {
    /// The name a report shows: `namespace/pod/container` for a
    /// Kubernetes container, else the runtime's name.
    pub fn display_name(&self) -> String {
        self.kubernetes
            .as_ref()
            .map_or_else(|| self.name.clone(), KubernetesIdentity::path)
    }
}

/// What one look at the runtimes' state found.
#[derive(Debug, Default, Clone)]
pub struct Scan {
    /// The containers, every runtime's.
    pub containers: Vec<RuntimeContainer>,
    /// Files that exist but could not be read as their runtime writes
    /// them, each with the file and what is wrong.
    pub problems: Vec<String>,
}

/// Reads every runtime's state under `root` (`/` on the machine itself; a
/// directory laid out like one in tests).
pub fn scan(root: &Path) -> Scan {
    let mut s = Scan::default();
    let commands = process_command_lines(root);
    for data_root in docker_data_roots(root, &commands) {
        scan_docker(root, &data_root, &mut s);
    }
    for (graphroot, runroot) in storage_roots(root, &commands) {
        scan_storage(root, &graphroot, &runroot, &mut s);
    }
    scan_containerd(root, &mut s);
    scan_incus(root, &mut s);
    scan_nspawn(root, &mut s);
    kubelet_fallback(root, &mut s);
    s
}

/// `path` (absolute on the recorded machine) under `root`.
fn under(root: &Path, path: impl AsRef<Path>) -> PathBuf {
    let p = path.as_ref();
    root.join(p.strip_prefix("/").unwrap_or(p))
}

/// `file` (under `root`) as a path on the recorded machine, for messages
/// and the metadata.
fn host_path(root: &Path, file: &Path) -> String {
    match file.strip_prefix(root) {
        Ok(rel) => format!("/{}", rel.display()),
        Err(_) => file.display().to_string(),
    }
}

/// Reads and parses a JSON file: `None` when it is not there (a container
/// removed meanwhile), a problem when it is not JSON.
fn read_json(root: &Path, file: &Path, problems: &mut Vec<String>) -> Option<Value> {
    let bytes = std::fs::read(file).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(format!(
                "{}: not JSON at line {}, column {}: {e}",
                host_path(root, file),
                e.line(),
                e.column()
            ));
            None
        }
    }
}

/// A JSON object of strings as a map; other values are left out.
fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// A pid as a state file writes it: a positive number (0 is "not running").
fn running_pid(v: Option<&Value>) -> Option<i32> {
    v.and_then(Value::as_i64)
        .and_then(|p| i32::try_from(p).ok())
        .filter(|&p| p > 0)
}

/// A pid file's pid.
fn pid_file(file: &Path) -> Option<i32> {
    std::fs::read_to_string(file)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&p: &i32| p > 0)
}

/// The value of `--flag VALUE` or `--flag=VALUE` in `args`.
fn flag_value<'a>(args: &'a [String], names: &[&str]) -> Option<&'a str> {
    let mut it = args.iter();
    let mut found = None;
    while let Some(a) = it.next() {
        for n in names {
            if a == n {
                found = it.next().map(String::as_str);
            } else if let Some(v) = a.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                found = Some(v);
            }
        }
    }
    found
}

/// The `data-root` (or the older `graph`) of a daemon.json.
fn daemon_json_data_root(root: &Path, file: &Path, problems: &mut Vec<String>) -> Option<String> {
    let v = read_json(root, file, problems)?;
    ["data-root", "graph"]
        .iter()
        .find_map(|k| v.get(k).and_then(Value::as_str).map(str::to_owned))
}

/// Docker's data roots: each running dockerd's (its command line, else its
/// config file), else the default config file's, else `/var/lib/docker`.
fn docker_data_roots(root: &Path, commands: &[Vec<String>]) -> Vec<PathBuf> {
    let mut problems = Vec::new();
    let default_config = || {
        daemon_json_data_root(
            root,
            &under(root, "/etc/docker/daemon.json"),
            &mut Vec::new(),
        )
        .unwrap_or_else(|| "/var/lib/docker".to_owned())
    };
    let mut roots = BTreeSet::new();
    for args in commands {
        let is_dockerd = args
            .first()
            .and_then(|a| Path::new(a).file_name())
            .is_some_and(|n| n == "dockerd");
        if !is_dockerd {
            continue;
        }
        let data_root = flag_value(args, &["--data-root", "-g", "--graph"])
            .map(str::to_owned)
            .or_else(|| {
                flag_value(args, &["--config-file"])
                    .and_then(|f| daemon_json_data_root(root, &under(root, f), &mut problems))
            })
            .unwrap_or_else(default_config);
        roots.insert(under(root, data_root));
    }
    if roots.is_empty() {
        roots.insert(under(root, default_config()));
    }
    roots.into_iter().collect()
}

/// Every process's command line under `root`'s `/proc`.
fn process_command_lines(root: &Path) -> Vec<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(under(root, "/proc")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .collect()
}

fn scan_docker(root: &Path, data_root: &Path, s: &mut Scan) {
    let Ok(entries) = std::fs::read_dir(data_root.join("containers")) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.path().join("config.v2.json");
        let Some(v) = read_json(root, &file, &mut s.problems) else {
            continue;
        };
        let Some(name) = v.get("Name").and_then(Value::as_str) else {
            s.problems.push(format!(
                "{}: no `Name` string: not a Docker container's config.v2.json",
                host_path(root, &file)
            ));
            continue;
        };
        let id = v
            .get("ID")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| e.file_name().to_str().map(str::to_owned));
        s.containers.push(RuntimeContainer {
            runtime: Runtime::Docker,
            id,
            name: name.trim_start_matches('/').to_owned(),
            labels: string_map(v.pointer("/Config/Labels")),
            kubernetes: None,
            pid: running_pid(v.pointer("/State/Pid")),
            source: host_path(root, &file),
            cgroup_name: None,
        });
    }
}

/// A `key = "value"` of a TOML file's top-level or `[storage]` table, as
/// containers/storage's storage.conf has them (a line parse: the two keys
/// read here are plain strings).
fn toml_string(text: &str, key: &str) -> Option<String> {
    let mut table = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(t) = line.strip_prefix('[') {
            table = t.trim_end_matches(']').trim().to_owned();
            continue;
        }
        if !(table.is_empty() || table == "storage") {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() == key {
            let v = v.trim();
            return Some(v.trim_matches(|c| c == '"' || c == '\'').to_owned());
        }
    }
    None
}

/// containers/storage's (graphroot, runroot) pairs: the system's (Podman as
/// root, CRI-O), then each user's (rootless Podman).
fn storage_roots(root: &Path, commands: &[Vec<String>]) -> Vec<(PathBuf, PathBuf)> {
    let conf =
        std::fs::read_to_string(under(root, "/etc/containers/storage.conf")).unwrap_or_default();
    let mut out = vec![(
        under(
            root,
            toml_string(&conf, "graphroot").unwrap_or_else(|| "/var/lib/containers/storage".into()),
        ),
        under(
            root,
            toml_string(&conf, "runroot").unwrap_or_else(|| "/run/containers/storage".into()),
        ),
    )];
    // A running container's monitor, conmon, names its bundle
    // (GRAPHROOT/DRIVER-containers/ID/userdata) and pid file
    // (RUNROOT/DRIVER-containers/ID/userdata/pidfile): roots given to
    // podman with --root and --runroot are found that way.
    for args in commands {
        let is_conmon = args
            .first()
            .and_then(|a| Path::new(a).file_name())
            .is_some_and(|n| n == "conmon");
        if !is_conmon {
            continue;
        }
        let up = |p: &str, n: usize| Path::new(p).ancestors().nth(n).map(|a| under(root, a));
        let graphroot = flag_value(args, &["-b", "--bundle"]).and_then(|b| up(b, 3));
        let runroot = flag_value(args, &["-p", "--container-pidfile"]).and_then(|p| up(p, 4));
        if let (Some(g), Some(r)) = (graphroot, runroot) {
            if !out.contains(&(g.clone(), r.clone())) {
                out.push((g, r));
            }
        }
    }
    let passwd = std::fs::read_to_string(under(root, "/etc/passwd")).unwrap_or_default();
    for line in passwd.lines() {
        // name:x:uid:gid:gecos:home:shell
        let f: Vec<&str> = line.split(':').collect();
        let (Some(uid), Some(home)) = (f.get(2), f.get(5)) else {
            continue;
        };
        let graphroot = under(root, home).join(".local/share/containers/storage");
        if graphroot.is_dir() {
            out.push((
                graphroot,
                under(root, format!("/run/user/{uid}/containers")),
            ));
        }
    }
    out
}

/// The labels of libpod's containers (`podman run --label`), by id, from
/// its state database: Podman keeps them nowhere else on disk. The
/// database is `GRAPHROOT/libpod/bolt_state.db` (Podman 4, Debian 12's
/// 4.3): bucket `ctr`, a bucket per container id, whose `config` is the
/// container's configuration as JSON, `labels` in it (libpod's
/// boltdb_state.go). Podman 5's default, SQLite's `db.sql`, is not read:
/// its containers have names and no labels.
fn libpod_labels(
    root: &Path,
    graphroot: &Path,
    problems: &mut Vec<String>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let file = graphroot.join("libpod/bolt_state.db");
    let mut configs = Vec::new();
    let read = BoltFile::read(&file).map(|db| {
        let db = db?;
        let Some(ctr) = db.root().bucket(b"ctr")? else {
            return Ok::<_, BoltError>(());
        };
        for e in ctr.entries()?.iter().filter(|e| e.is_bucket) {
            if let Some(config) = ctr.nested(e)?.get(b"config")? {
                let id = String::from_utf8_lossy(e.key).into_owned();
                configs.push((id, serde_json::from_slice::<Value>(config)));
            }
        }
        Ok(())
    });
    if let Some(Err(e)) = read {
        problems.push(format!(
            "{}: {e}: not libpod's BoltDB state as Podman 4 writes it (read for labels)",
            host_path(root, &file)
        ));
    }
    let mut labels = BTreeMap::new();
    for (id, config) in configs {
        match config {
            Ok(c) => {
                labels.insert(id, string_map(c.get("labels")));
            }
            Err(e) => problems.push(format!(
                "{}: container {id}'s config is not JSON at line {}, column {}: {e}",
                host_path(root, &file),
                e.line(),
                e.column()
            )),
        }
    }
    labels
}

/// The CRI-O or Podman container of a containers/storage entry.
fn scan_storage(root: &Path, graphroot: &Path, runroot: &Path, s: &mut Scan) {
    let Ok(entries) = std::fs::read_dir(graphroot) else {
        return;
    };
    let mut podman_labels = libpod_labels(root, graphroot, &mut s.problems);
    for e in entries.flatten() {
        let driver_dir = e.file_name();
        let Some(driver_dir) = driver_dir.to_str().filter(|n| n.ends_with("-containers")) else {
            continue;
        };
        let list = e.path().join("containers.json");
        let Some(v) = read_json(root, &list, &mut s.problems) else {
            continue;
        };
        let Some(items) = v.as_array() else {
            s.problems.push(format!(
                "{}: not a JSON array: not containers/storage's list of containers",
                host_path(root, &list)
            ));
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(id) = item.get("id").and_then(Value::as_str) else {
                s.problems.push(format!(
                    "{}: entry {i} has no `id` string",
                    host_path(root, &list)
                ));
                continue;
            };
            let name = item
                .get("names")
                .and_then(Value::as_array)
                .and_then(|n| n.first())
                .and_then(Value::as_str)
                .unwrap_or(id);
            let dirs = [graphroot, runroot].map(|r| r.join(driver_dir).join(id).join("userdata"));
            let bundle = dirs
                .iter()
                .map(|d| d.join("config.json"))
                .find(|f| f.is_file());
            let annotations = bundle
                .as_ref()
                .and_then(|f| read_json(root, f, &mut s.problems))
                .map(|b| string_map(b.get("annotations")))
                .unwrap_or_default();
            let pid = dirs.iter().find_map(|d| pid_file(&d.join("pidfile")));
            let kubernetes = kubernetes_identity(&annotations, &CRIO);
            let cri_o = kubernetes.is_some()
                || annotations.get("io.container.manager").map(String::as_str) == Some("cri-o");
            let labels = if cri_o {
                annotations
                    .get("io.kubernetes.cri-o.Labels")
                    .and_then(|l| serde_json::from_str::<Value>(l).ok())
                    .map(|l| string_map(Some(&l)))
                    .unwrap_or_default()
            } else {
                podman_labels.remove(id).unwrap_or_default()
            };
            s.containers.push(RuntimeContainer {
                runtime: if cri_o {
                    Runtime::CriO
                } else {
                    Runtime::Podman
                },
                id: Some(id.to_owned()),
                name: name.to_owned(),
                labels,
                kubernetes,
                pid,
                source: host_path(root, &list),
                cgroup_name: None,
            });
        }
    }
}

/// The OCI annotations a CRI runtime writes a container's Kubernetes
/// identity in.
struct KubernetesAnnotations {
    namespace: &'static str,
    pod: &'static str,
    container: &'static str,
    /// `sandbox` or `container`.
    kind: &'static str,
}

/// CRI-O copies kubelet's labels (pkg/kubelet/types/labels.go) into the
/// annotations.
const CRIO: KubernetesAnnotations = KubernetesAnnotations {
    namespace: "io.kubernetes.pod.namespace",
    pod: "io.kubernetes.pod.name",
    container: "io.kubernetes.container.name",
    kind: "io.kubernetes.cri-o.ContainerType",
};

/// containerd's CRI plugin has its own (pkg/cri/annotations).
const CONTAINERD: KubernetesAnnotations = KubernetesAnnotations {
    namespace: "io.kubernetes.cri.sandbox-namespace",
    pod: "io.kubernetes.cri.sandbox-name",
    container: "io.kubernetes.cri.container-name",
    kind: "io.kubernetes.cri.container-type",
};

/// A CRI runtime's container's Kubernetes identity, from its OCI
/// annotations; a pod's sandbox is `POD`, as kubelet's dockershim named
/// it.
fn kubernetes_identity(
    a: &BTreeMap<String, String>,
    keys: &KubernetesAnnotations,
) -> Option<KubernetesIdentity> {
    let sandbox = a.get(keys.kind).map(String::as_str) == Some("sandbox");
    Some(KubernetesIdentity {
        namespace: a.get(keys.namespace)?.clone(),
        pod: a.get(keys.pod)?.clone(),
        container: match a.get(keys.container) {
            Some(c) if !sandbox => c.clone(),
            _ => "POD".into(),
        },
    })
}

/// containerd's task bundles: `/run/containerd/io.containerd.runtime.v2.task/NS/ID/`
/// (and v1's `io.containerd.runtime.v1.linux`).
fn scan_containerd(root: &Path, s: &mut Scan) {
    for tasks in [
        "/run/containerd/io.containerd.runtime.v2.task",
        "/run/containerd/io.containerd.runtime.v1.linux",
    ] {
        let Ok(namespaces) = std::fs::read_dir(under(root, tasks)) else {
            continue;
        };
        for ns in namespaces.flatten() {
            // Docker's containers (containerd namespace `moby`) are named
            // by Docker's own state.
            if ns.file_name() == "moby" {
                continue;
            }
            let Ok(bundles) = std::fs::read_dir(ns.path()) else {
                continue;
            };
            for b in bundles.flatten() {
                let file = b.path().join("config.json");
                let Some(v) = read_json(root, &file, &mut s.problems) else {
                    continue;
                };
                let annotations = string_map(v.get("annotations"));
                let id = b.file_name().to_string_lossy().into_owned();
                let kubernetes = kubernetes_identity(&annotations, &CONTAINERD);
                let name = annotations
                    .get("nerdctl/name")
                    .cloned()
                    .unwrap_or_else(|| id.chars().take(12).collect());
                s.containers.push(RuntimeContainer {
                    runtime: Runtime::Containerd,
                    id: Some(id),
                    name,
                    labels: BTreeMap::new(),
                    kubernetes,
                    pid: pid_file(&b.path().join("init.pid")),
                    source: host_path(root, &file),
                    cgroup_name: None,
                });
            }
        }
    }
}

/// Where Incus and LXD (Debian's, and the snap's) keep an instance's
/// directory, `DIR/LIBLXC_NAME`.
const INCUS_INSTANCE_DIRS: [&str; 3] = [
    "/var/lib/incus/containers",
    "/var/lib/lxd/containers",
    "/var/snap/lxd/common/lxd/containers",
];

/// The name Incus and LXD users know an instance by, from liblxc's:
/// `PROJECT/NAME` from `PROJECT_NAME`, `NAME` in the default project.
fn incus_name(lxc_name: &str) -> String {
    match lxc_name.rsplit_once('_') {
        Some((project, name)) if !project.is_empty() && !name.is_empty() => {
            format!("{project}/{name}")
        }
        _ => lxc_name.to_owned(),
    }
}

/// Incus's and LXD's container instances, by their directories (links
/// into a storage pool, followed for nothing: the name is all).
fn scan_incus(root: &Path, s: &mut Scan) {
    for dir in INCUS_INSTANCE_DIRS {
        let Ok(entries) = std::fs::read_dir(under(root, dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let Some(lxc_name) = e.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            s.containers.push(RuntimeContainer {
                runtime: Runtime::Lxc,
                id: None,
                name: incus_name(&lxc_name),
                labels: BTreeMap::new(),
                kubernetes: None,
                pid: None,
                source: host_path(root, &e.path()),
                cgroup_name: Some(lxc_name),
            });
        }
    }
}

/// systemd-machined's machines: `/run/systemd/machines/NAME`, with
/// `LEADER=PID` and `CLASS=container`.
fn scan_nspawn(root: &Path, s: &mut Scan) {
    let Ok(entries) = std::fs::read_dir(under(root, "/run/systemd/machines")) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .map(str::to_owned)
        };
        if field("CLASS").as_deref() != Some("container") {
            continue;
        }
        let Some(name) = field("NAME").or_else(|| e.file_name().to_str().map(str::to_owned)) else {
            continue;
        };
        s.containers.push(RuntimeContainer {
            runtime: Runtime::SystemdNspawn,
            id: None,
            name,
            labels: BTreeMap::new(),
            kubernetes: None,
            pid: field("LEADER").and_then(|p| p.parse().ok()),
            source: host_path(root, &e.path()),
            cgroup_name: None,
        });
    }
}

/// kubelet's log layout, for Kubernetes containers whose runtime state
/// gave no Kubernetes identity (unreadable bundles, another CRI runtime):
/// `/var/log/containers/POD_NAMESPACE_CONTAINER-ID.log`, a link to
/// `/var/log/pods/NAMESPACE_POD_UID/CONTAINER/N.log`. Entries for ids the
/// runtimes' state already named are not added.
fn kubelet_fallback(root: &Path, s: &mut Scan) {
    let named: BTreeSet<String> = s
        .containers
        .iter()
        .filter(|c| c.kubernetes.is_some())
        .filter_map(|c| c.id.clone())
        .collect();
    let dir = under(root, "/var/log/containers");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(stem) = file_name.to_str().and_then(|n| n.strip_suffix(".log")) else {
            continue;
        };
        // Pod names and namespaces are DNS labels (no `_`); the container
        // name is too, and the id is the 64 hex digits after the last `-`.
        let Some((rest, id)) = stem.rsplit_once('-') else {
            continue;
        };
        let mut parts = rest.splitn(3, '_');
        let (Some(pod), Some(namespace), Some(container)) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id.len() != 64 || named.contains(id) {
            continue;
        }
        s.containers.push(RuntimeContainer {
            runtime: Runtime::Kubepods,
            id: Some(id.to_owned()),
            name: container.to_owned(),
            labels: BTreeMap::new(),
            kubernetes: Some(KubernetesIdentity {
                namespace: namespace.to_owned(),
                pod: pod.to_owned(),
                container: container.to_owned(),
            }),
            pid: None,
            source: host_path(root, &e.path()),
            cgroup_name: None,
        });
    }
}

/// A pod's namespace and name from kubelet's `/var/log/pods/NAMESPACE_POD_UID/`
/// directories, and its container names (the subdirectories).
pub fn kubelet_pod(root: &Path, uid: &str) -> Option<(String, String, Vec<String>)> {
    let entries = std::fs::read_dir(under(root, "/var/log/pods")).ok()?;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_suffix(uid)) else {
            continue;
        };
        let Some((namespace, pod)) = rest.strip_suffix('_').and_then(|r| r.split_once('_')) else {
            continue;
        };
        let mut containers: Vec<String> = std::fs::read_dir(e.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|c| c.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|c| c.file_name().to_str().map(str::to_owned))
            .collect();
        containers.sort();
        return Some((namespace.to_owned(), pod.to_owned(), containers));
    }
    None
}

/// How long after it is learned a container's runtime state is looked for
/// again: a runtime writes the state (the init's pid, the bundle) right
/// after it starts the container, so a name not found by then is not
/// coming.
const RETRY_FOR: Duration = Duration::from_secs(5);
/// The first wait before looking again; each next wait is twice the last
/// (0.25, 0.5, 1, 2 s), so that a recording of many containers no runtime
/// made (perfns's own, a build's sandboxes) reads the state a few times
/// each, not every drain.
const FIRST_RETRY: Duration = Duration::from_millis(250);

/// What the recorder noted of a container when it learned it.
#[derive(Debug, Clone)]
struct Pending {
    learned: Instant,
    /// When to look again.
    next: Instant,
    /// Ids its task's cgroup paths carry, in any hierarchy.
    ids: Vec<String>,
    /// A Kubernetes pod uid its cgroup path carries.
    pod_uid: Option<String>,
    /// The runtime and name a v1 hierarchy's cgroup path gives, where the
    /// v2 path names nothing: what names it if no runtime's state does.
    named: Option<(Runtime, String)>,
    /// liblxc's name for it, from a cgroup path (`lxc.payload.NAME`).
    lxc_name: Option<String>,
}

impl Pending {
    fn due(&self, now: Instant) -> bool {
        self.next <= now && now.duration_since(self.learned) < RETRY_FOR
    }
}

/// Names the recorder's containers from their runtimes' state, as they are
/// learned.
#[derive(Debug)]
pub struct RuntimeNames {
    root: PathBuf,
    pending: BTreeMap<u64, Pending>,
    /// Containers looked at already (named or given up on).
    seen: BTreeSet<u64>,
    /// The state files (and ids) that named a container already: a
    /// runtime's container names one pid namespace.
    used: BTreeSet<(String, Option<String>)>,
    /// Problems with state files, said once each.
    said: BTreeSet<String>,
}

impl RuntimeNames {
    /// Reads this machine's runtimes.
    pub fn for_this_host() -> Self {
        Self::under(PathBuf::from("/"))
    }

    /// Reads the runtimes' state under `root` (tests: a directory laid out
    /// as the machine's).
    pub fn under(root: PathBuf) -> Self {
        Self {
            root,
            pending: BTreeMap::new(),
            seen: BTreeSet::new(),
            used: BTreeSet::new(),
            said: BTreeSet::new(),
        }
    }

    /// Notes the containers the registry learned since the last call, with
    /// the ids their task's cgroup paths carry in every hierarchy (read
    /// now, while the task lives).
    pub fn observe(&mut self, registry: &ContainerRegistry) {
        let now = Instant::now();
        for c in registry.containers() {
            // A namespace seen only through a nested one has no task of
            // its own yet: it is looked at once it has.
            if c.key == registry.host() || c.pid.is_none() || !self.seen.insert(c.key) {
                continue;
            }
            let mut ids: Vec<String> = c.id.iter().cloned().collect();
            let mut pod_uid = c.pod.clone();
            let mut named = None;
            let text = c.pid.and_then(|pid| {
                std::fs::read_to_string(under(&self.root, format!("/proc/{pid}/cgroup"))).ok()
            });
            for (_, path) in text.as_deref().map(proc_cgroup_paths).into_iter().flatten() {
                if let Some(i) = identify_cgroup(path) {
                    // A name in a v1 hierarchy's path (LXC on a hybrid
                    // host), where the v2 path named nothing.
                    if i.id.is_none() && c.runtime == Runtime::Unknown {
                        named = named.or(Some((i.runtime, i.name)));
                    }
                    ids.extend(i.id.filter(|id| !ids.contains(id)));
                    pod_uid = pod_uid.or(i.pod);
                }
            }
            let lxc_name = match (&named, c.runtime) {
                (Some((Runtime::Lxc, name)), _) => Some(name.clone()),
                (None, Runtime::Lxc) => Some(c.name.clone()),
                _ => None,
            };
            self.pending.insert(
                c.key,
                Pending {
                    learned: now,
                    next: now,
                    ids,
                    pod_uid,
                    named,
                    lxc_name,
                },
            );
        }
    }

    /// Whether a container learned lately has no name from its runtime
    /// yet and is due for another look: the recorder then calls
    /// [`Self::resolve`].
    pub fn wants_retry(&self) -> bool {
        let now = Instant::now();
        self.pending.values().any(|p| p.due(now))
    }

    /// Reads the runtimes' state and names the containers it describes;
    /// `last` looks one more time at every container not named yet (the
    /// recording ends). Returns whether a name changed, and the problems
    /// with state files not said before.
    pub fn resolve(&mut self, registry: &mut ContainerRegistry, last: bool) -> (bool, Vec<String>) {
        let now = Instant::now();
        if !self.pending.values().any(|p| last || p.due(now)) {
            return (false, Vec::new());
        }
        let scan = scan(&self.root);
        let problems: Vec<String> = scan
            .problems
            .into_iter()
            .filter(|p| self.said.insert(p.clone()))
            .collect();
        // The first runtime to claim a pid namespace names it: Docker's
        // state before the containerd bundle it runs on.
        let mut by_pid_ns: BTreeMap<u64, usize> = BTreeMap::new();
        for (i, c) in scan.containers.iter().enumerate() {
            let Some(pid) = c.pid else { continue };
            if let Ok(m) = std::fs::metadata(under(&self.root, format!("/proc/{pid}/ns/pid"))) {
                by_pid_ns.entry(m.ino()).or_insert(i);
            }
        }
        let containers = registry.containers();
        let level = |key: u64| containers.iter().find(|c| c.key == key).map(|c| c.level);
        // Shallowest first: an id a nested pid namespace's cgroup shares
        // with its container names the container.
        let mut keys: Vec<u64> = self.pending.keys().copied().collect();
        keys.sort_by_key(|&k| (level(k), k));
        let mut changed = false;
        for key in keys {
            let Some(p) = self.pending.get(&key) else {
                continue;
            };
            let unused = |i: &usize| {
                let c = &scan.containers[*i];
                !self.used.contains(&(c.source.clone(), c.id.clone()))
            };
            // A pid in a state file is in the pid namespace of the runtime
            // that wrote it, which may not be the recorder's (a tenant
            // reading a host's files): a match by pid whose runtime id the
            // container's cgroup contradicts is no match.
            let agrees = |i: &usize| {
                let id = scan.containers[*i].id.as_ref();
                p.ids.is_empty() || id.is_none_or(|id| p.ids.contains(id))
            };
            let found = by_pid_ns
                .get(&key)
                .copied()
                .filter(unused)
                .filter(agrees)
                .or_else(|| {
                    (0..scan.containers.len()).filter(unused).find(|&i| {
                        let c = &scan.containers[i];
                        c.id.as_ref().is_some_and(|id| p.ids.contains(id))
                            || (c.cgroup_name.is_some() && c.cgroup_name == p.lxc_name)
                    })
                });
            let found = found.map(|i| scan.containers[i].clone()).or_else(|| {
                // kubelet's pod directories: the pod, and the container
                // when it is the pod's only one.
                let uid = p.pod_uid.as_deref()?;
                let (namespace, pod, names) = kubelet_pod(&self.root, uid)?;
                let container = match names.as_slice() {
                    [one] => one.clone(),
                    _ => p.ids.first().map(|id| id[..12.min(id.len())].to_owned())?,
                };
                Some(RuntimeContainer {
                    runtime: Runtime::Kubepods,
                    id: p.ids.first().cloned(),
                    name: container.clone(),
                    labels: BTreeMap::new(),
                    kubernetes: Some(KubernetesIdentity {
                        namespace: namespace.clone(),
                        pod: pod.clone(),
                        container,
                    }),
                    pid: None,
                    source: format!("/var/log/pods/{namespace}_{pod}_{uid}"),
                    cgroup_name: None,
                })
            });
            let Some(found) = found else {
                if let Some((runtime, name)) = p.named.clone() {
                    self.pending.remove(&key);
                    if let Some(c) = registry.container_mut(key) {
                        (c.runtime, c.name) = (runtime, name);
                        changed = true;
                    }
                } else if last || now.duration_since(p.learned) >= RETRY_FOR {
                    self.pending.remove(&key);
                } else if let Some(p) = self.pending.get_mut(&key) {
                    let waited = p.next.duration_since(p.learned);
                    p.next = now + (waited * 2).max(FIRST_RETRY);
                }
                continue;
            };
            self.pending.remove(&key);
            self.used.insert((found.source.clone(), found.id.clone()));
            if let Some(c) = registry.container_mut(key) {
                name_container(c, &found);
                changed = true;
            }
        }
        (changed, problems)
    }
}

/// Gives container `c` what its runtime's state says of it.
pub fn name_container(c: &mut Container, found: &RuntimeContainer) {
    c.name = found.display_name();
    c.named_by = Some(found.source.clone());
    c.labels.clone_from(&found.labels);
    c.kubernetes.clone_from(&found.kubernetes);
    if c.id.is_none() {
        c.id.clone_from(&found.id);
    }
    // The cgroup path may name no runtime (Docker in v1 hierarchies only),
    // or only Kubernetes (the cgroupfs driver).
    if matches!(c.runtime, Runtime::Unknown | Runtime::Kubepods) {
        c.runtime = found.runtime;
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_both_forms() {
        let args: Vec<String> = ["dockerd", "-H", "unix:///x.sock", "--data-root=/srv/d"]
            .map(String::from)
            .into();
        assert_eq!(flag_value(&args, &["--data-root", "-g"]), Some("/srv/d"));
        let args: Vec<String> = ["dockerd", "-g", "/old"].map(String::from).into();
        assert_eq!(flag_value(&args, &["--data-root", "-g"]), Some("/old"));
        assert_eq!(flag_value(&args, &["--config-file"]), None);
    }

    #[test]
    fn storage_conf_keys() {
        let conf = "# comment\n[storage]\ndriver = \"overlay\"\nrunroot = \"/run/x\"\ngraphroot = '/srv/containers'\n[storage.options]\ngraphroot = \"/not/this\"\n";
        assert_eq!(
            toml_string(conf, "graphroot").as_deref(),
            Some("/srv/containers")
        );
        assert_eq!(toml_string(conf, "runroot").as_deref(), Some("/run/x"));
        assert_eq!(toml_string(conf, "size"), None);
    }
}
