//! What a cgroup path says about a container: which runtime made it and
//! its name ([`identify_cgroup`]), and where the paths come from
//! (`/proc/PID/cgroup`, the cgroup2 mount).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
