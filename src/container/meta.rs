//! The recording's description of itself, saved as JSON in the perfns
//! feature section: its mode and scope, its containers, the tasks that
//! existed when it began and what each CPU lost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Runtime;

/// The version of the [`RecordingMeta`] JSON this code writes. Readers
/// accept any version with the fields they need; a change that old readers
/// would misread gets a new feature bit, not a new version.
pub const META_VERSION: u32 = 1;

/// One container of a recording: a pid namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// The pid namespace's inode: the key records name it by (the `pid`
    /// entry of PERF_RECORD_NAMESPACES).
    pub key: u64,
    /// Its name: [`CgroupIdentity::name`](super::CgroupIdentity::name), `host` for the host, or
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
    /// unique, which [`choose_container`] checks).
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

/// Why `--container` chose no container: none matched, or several did
/// (none nested in another), which [`choose_container`] lists rather than
/// take the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotOneContainer<K> {
    /// Nothing matched.
    NoMatch,
    /// These matched, none nested in another, in the order given.
    Several(Vec<K>),
}

/// The one container `--container WANTED` names, by the rule every
/// subcommand uses: among `keys`, those `matches` accepts (for the
/// identity of each, [`ContainerRef::matches`] and whatever the caller
/// adds), less the ones nested in another match (they are part of it, as
/// a descendant), must be exactly one. `parent` gives each key's parent.
pub fn choose_container<K: Copy + Eq>(
    keys: &[K],
    matches: impl Fn(K) -> bool,
    parent: impl Fn(K) -> Option<K>,
) -> Result<K, NotOneContainer<K>> {
    let found: Vec<K> = keys.iter().copied().filter(|&k| matches(k)).collect();
    let nested_in_another = |k: K| {
        let mut up = parent(k);
        // Bounded by the number of keys, so that a parent loop in a
        // damaged recording cannot hang it.
        for _ in 0..keys.len() {
            let Some(p) = up else { return false };
            if found.contains(&p) {
                return true;
            }
            up = parent(p);
        }
        false
    };
    let outermost: Vec<K> = found
        .iter()
        .copied()
        .filter(|&k| !nested_in_another(k))
        .collect();
    match (outermost.as_slice(), found.len()) {
        ([one], _) => Ok(*one),
        (_, 0) => Err(NotOneContainer::NoMatch),
        // Matches all nested in one another: a parent loop.
        ([], _) => Err(NotOneContainer::Several(found)),
        _ => Err(NotOneContainer::Several(outermost)),
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
    /// These processes, their threads and the tasks they made after the
    /// start (`perfns record -p PID,...`).
    Processes {
        /// Their pids, as given.
        pids: Vec<i32>,
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
    /// Per-task events on each CPU, one per thread of the processes
    /// recorded, inherited by the tasks they make (`perfns record -p`):
    /// CPU time from their own switch records (PERF_RECORD_SWITCH).
    PerProcess,
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

    /// In a tracer-scope recording, the container it was made in: the
    /// root of its tree (keyed [`Self::host`]), which the report and the
    /// trace name after it rather than "host"; `None` in other modes.
    pub fn own_container(&self) -> Option<&Container> {
        if self.mode != RecordingMode::TracerScope {
            return None;
        }
        self.container(self.host)
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

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::perf_data::Features;

    #[test]
    fn a_container_is_named_by_name_key_cgroup_path_or_id_prefix() {
        let id = "bf720bb0500b1faa1ebae790d5264552b13f96ca071b52425dd5118c5d3a00bc";
        let web = ContainerRef {
            name: "web",
            pid_ns: Some(4026532329),
            id: Some(id),
            cgroup: Some("/system.slice/docker-bf720bb0500b.scope"),
        };
        for wanted in [
            "web",
            "pidns:4026532329",
            "4026532329",
            "/system.slice/docker-bf720bb0500b.scope",
            "bf72",
            "bf720bb0500b",
            id,
        ] {
            assert!(web.matches(wanted), "{wanted}");
        }
        // Too short an id prefix, not hex, another id's, a part of the
        // path or the name.
        for wanted in [
            "bf7",
            "bf72x",
            "bf73",
            "docker-bf720bb0500b.scope",
            "we",
            "",
        ] {
            assert!(!web.matches(wanted), "{wanted}");
        }
        // Names with `/`: Kubernetes' and an Incus project's, whole only.
        let front = ContainerRef {
            name: "shop/front",
            pid_ns: None,
            id: None,
            cgroup: Some("/lxc.payload.shop_front"),
        };
        assert!(front.matches("shop/front") && front.matches("/lxc.payload.shop_front"));
        assert!(!front.matches("front") && !front.matches("shop"));
    }

    #[test]
    fn one_container_is_chosen_or_all_the_matches_listed() {
        // 1 the host; 10 `web` and 11 nested in it, both matching `w`;
        // 20 and 30 two siblings named alike.
        let parents = [
            (1, None),
            (10, Some(1)),
            (11, Some(10)),
            (20, Some(1)),
            (30, Some(1)),
        ];
        let keys: Vec<u64> = parents.iter().map(|p| p.0).collect();
        let parent = |k: u64| parents.iter().find(|p| p.0 == k).and_then(|p| p.1);
        let choose = |wanted: &[u64]| choose_container(&keys, |k| wanted.contains(&k), parent);
        assert_eq!(
            choose(&[10, 11]),
            Ok(10),
            "a match inside a match is part of it"
        );
        assert_eq!(choose(&[11]), Ok(11));
        assert_eq!(choose(&[]), Err(NotOneContainer::NoMatch));
        assert_eq!(
            choose(&[30, 20]),
            Err(NotOneContainer::Several(vec![20, 30])),
            "neither is a better guess: both listed"
        );
        // A parent loop (a damaged recording) ends, and lists them.
        let looped = |k: u64| Some(if k == 20 { 30 } else { 20 });
        assert_eq!(
            choose_container(&[20, 30], |_| true, looped),
            Err(NotOneContainer::Several(vec![20, 30]))
        );
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
}
