//! The runtimes' state files, as fixtures laid out as on a machine
//! (tests/fixtures/runtime-state/, README.md there says where each file
//! comes from): what `runtime_names` reads of each runtime, and which
//! container of a recording it names. No runtime needs to run: Kubernetes
//! (containerd, CRI-O, kubelet), rootless Podman, Incus and LXD (which
//! cannot run on this machine: no Incus package in Debian 12, and LXD is a
//! snap) and systemd-nspawn are tested here only.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use perfns::container::{Container, ContainerRegistry, Runtime};
use perfns_record::runtime_names::{scan, RuntimeNames};
use perfns_record::session::{find_container, RecordError};

const DOCKER_ID: &str = "bf720bb0500b1faa1ebae790d5264552b13f96ca071b52425dd5118c5d3a00bc";
const PODMAN_ID: &str = "7ea2f5c708509e3367685c57c23db7d9baaaf21a3a8fdbfcd9fde3daa802e369";
const CRIO_ID: &str = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";
const CONTAINERD_ID: &str = "d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2";
const KUBELET_ID: &str = "e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runtime-state")
}

/// The key a container whose task is fixture pid `pid` has: the inode of
/// the fixture's `/proc/PID/ns/pid`.
fn key(pid: i32) -> u64 {
    std::fs::metadata(root().join(format!("proc/{pid}/ns/pid")))
        .unwrap()
        .ino()
}

#[test]
fn every_runtimes_state_is_read() {
    let s = scan(&root());
    let got: BTreeMap<String, (Runtime, Option<String>, Option<i32>, String)> = s
        .containers
        .iter()
        .map(|c| {
            (
                c.display_name(),
                (c.runtime, c.id.clone(), c.pid, c.source.clone()),
            )
        })
        .collect();
    let docker_config = format!("/srv/docker/containers/{DOCKER_ID}/config.v2.json");
    let storage = "/var/lib/containers/storage/overlay-containers/containers.json";
    let task =
        |id: &str| format!("/run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/config.json");
    let expected: BTreeMap<String, (Runtime, Option<String>, Option<i32>, String)> = [
        // Docker: its data root moved, found from dockerd's --data-root.
        (
            "web",
            Runtime::Docker,
            Some(DOCKER_ID),
            Some(4242),
            docker_config,
        ),
        (
            "pweb",
            Runtime::Podman,
            Some(PODMAN_ID),
            Some(4300),
            storage.into(),
        ),
        (
            "notes",
            Runtime::Podman,
            Some("f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4"),
            Some(4700),
            "/home/alice/.local/share/containers/storage/overlay-containers/containers.json".into(),
        ),
        (
            "kube-system/coredns-abc/coredns",
            Runtime::CriO,
            Some(CRIO_ID),
            Some(4500),
            storage.into(),
        ),
        (
            "prod/shop-5f7d9c/app",
            Runtime::Containerd,
            Some(CONTAINERD_ID),
            Some(4600),
            task(CONTAINERD_ID),
        ),
        (
            "prod/shop-5f7d9c/POD",
            Runtime::Containerd,
            Some("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"),
            Some(4599),
            task("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"),
        ),
        (
            "web/nginx-7d8f/nginx",
            Runtime::Kubepods,
            Some(KUBELET_ID),
            None,
            format!("/var/log/containers/nginx-7d8f_web_nginx-{KUBELET_ID}.log"),
        ),
        (
            "box",
            Runtime::SystemdNspawn,
            None,
            Some(4800),
            "/run/systemd/machines/box".into(),
        ),
        // Incus's instances: project shop's front, the default project's
        // db1; LXD's (the snap's) ci of project my_team.
        (
            "shop/front",
            Runtime::Lxc,
            None,
            None,
            "/var/lib/incus/containers/shop_front".into(),
        ),
        (
            "db1",
            Runtime::Lxc,
            None,
            None,
            "/var/lib/incus/containers/db1".into(),
        ),
        (
            "my_team/ci",
            Runtime::Lxc,
            None,
            None,
            "/var/snap/lxd/common/lxd/containers/my_team_ci".into(),
        ),
    ]
    .into_iter()
    .map(|(name, r, id, pid, source)| (name.to_owned(), (r, id.map(str::to_owned), pid, source)))
    .collect();
    assert_eq!(got, expected);

    let labels_of = |name: &str| -> Vec<(String, String)> {
        let c = s.containers.iter().find(|c| c.name == name).unwrap();
        c.labels.clone().into_iter().collect()
    };
    let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(
        labels_of("web"),
        pairs(&[("app", "shop"), ("tier", "front")])
    );
    // Podman's labels, from libpod's BoltDB state (`podman run --label
    // app=shop --label 'team=a;b=c, "d"'`).
    assert_eq!(
        labels_of("pweb"),
        pairs(&[("app", "shop"), ("team", "a;b=c, \"d\"")])
    );
    let coredns = s
        .containers
        .iter()
        .find(|c| c.id.as_deref() == Some(CRIO_ID))
        .unwrap();
    assert_eq!(
        coredns.labels["io.kubernetes.pod.uid"],
        "0f0e0d0c-0b0a-4909-8807-060504030201"
    );

    // The file cut short is named, with where it stops being JSON.
    assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
    let bad = "/srv/docker/containers/0000000000000000000000000000000000000000000000000000000000000bad/config.v2.json: not JSON at line 1, column 200";
    assert!(s.problems[0].starts_with(bad), "{}", s.problems[0]);
}

/// A registry whose containers are the fixture's tasks, as the recorder
/// knows them before it reads the runtimes' state: pid namespaces named
/// `pidns-KEY` (learn_unseen), each with its task's pid.
fn registry(pids: &[(i32, Option<i32>)]) -> ContainerRegistry {
    let mut reg = ContainerRegistry::with_host(1);
    for &(pid, parent) in pids {
        reg.learn_unseen(key(pid), parent.map(key));
        reg.container_mut(key(pid)).unwrap().pid = Some(pid);
    }
    reg
}

/// The registry's container whose task is fixture pid `pid`.
fn container_of(reg: &ContainerRegistry, pid: i32) -> Container {
    reg.containers()
        .into_iter()
        .find(|c| c.key == key(pid))
        .unwrap()
}

#[test]
fn recorded_containers_get_their_runtimes_names() {
    let mut reg = registry(&[
        (4242, None),
        (4300, None),
        (4800, None),
        (5001, None),
        (5002, None),
        (5003, None),
        (5004, None),
        // A pid namespace nested in the Docker container, in its cgroup.
        (5005, Some(4242)),
        // An LXC container on a hybrid host: named in the v1 paths only.
        (5006, None),
        // Incus and LXD instances, in and out of the default project.
        (5007, None),
        (5008, None),
        (5009, None),
    ]);
    // The recorder names a container from its v2 cgroup path when it
    // learns it (`lxc.payload.shop_front`: liblxc's name); the others
    // here are named by their runtime's state only.
    let front = reg.container_mut(key(5007)).unwrap();
    (front.runtime, front.name) = (Runtime::Lxc, "shop_front".into());
    let mut names = RuntimeNames::under(root());
    names.observe(&reg);
    let (changed, problems) = names.resolve(&mut reg, true);
    assert!(changed);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let got: BTreeMap<i32, (String, Runtime, Option<String>)> = [
        4242, 4300, 4800, 5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008, 5009,
    ]
    .into_iter()
    .map(|pid| {
        let c = container_of(&reg, pid);
        (pid, (c.name, c.runtime, c.id))
    })
    .collect();
    let some = |s: &str| Some(s.to_owned());
    let expected: BTreeMap<i32, (String, Runtime, Option<String>)> = [
        // By the init pid the runtime wrote: its pid namespace.
        (4242, ("web".into(), Runtime::Docker, some(DOCKER_ID))),
        (4300, ("pweb".into(), Runtime::Podman, some(PODMAN_ID))),
        (4800, ("box".into(), Runtime::SystemdNspawn, None)),
        // By the id a cgroup path carries (a v1 one for 5001).
        (
            5001,
            (
                "kube-system/coredns-abc/coredns".into(),
                Runtime::CriO,
                some(CRIO_ID),
            ),
        ),
        (
            5002,
            (
                "prod/shop-5f7d9c/app".into(),
                Runtime::Containerd,
                some(CONTAINERD_ID),
            ),
        ),
        // kubelet's logs: the container's link, then the pod's directory.
        (
            5003,
            (
                "web/nginx-7d8f/nginx".into(),
                Runtime::Kubepods,
                some(KUBELET_ID),
            ),
        ),
        (
            5004,
            (
                "monitoring/prom-0/prometheus".into(),
                Runtime::Kubepods,
                Some("9".repeat(64)),
            ),
        ),
        // The Docker container's id names the Docker container, not the
        // pid namespace nested in it.
        (
            5005,
            (format!("pidns-{}", key(5005)), Runtime::Unknown, None),
        ),
        // A plain LXC container: no Incus or LXD directory names it.
        (5006, ("web1".into(), Runtime::Lxc, None)),
        // liblxc's PROJECT_NAME, as Incus users know it; the default
        // project's plain; a project name with `_` in it.
        (5007, ("shop/front".into(), Runtime::Lxc, None)),
        (5008, ("db1".into(), Runtime::Lxc, None)),
        (5009, ("my_team/ci".into(), Runtime::Lxc, None)),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expected);

    let web = container_of(&reg, 4242);
    assert_eq!(web.labels["app"], "shop");
    let pweb = container_of(&reg, 4300);
    assert_eq!(pweb.labels["app"], "shop");
    assert_eq!(
        web.named_by,
        some(&format!(
            "/srv/docker/containers/{DOCKER_ID}/config.v2.json"
        ))
    );
    let kube = container_of(&reg, 5001);
    let k = kube.kubernetes.unwrap();
    assert_eq!(
        (k.namespace.as_str(), k.pod.as_str(), k.container.as_str()),
        ("kube-system", "coredns-abc", "coredns")
    );
    let front = container_of(&reg, 5007);
    assert_eq!(front.named_by, some("/var/lib/incus/containers/shop_front"));

    // Said once: a second look finds the same broken file and says nothing.
    let (_, again) = names.resolve(&mut reg, true);
    assert_eq!(again, Vec::<String>::new());
}

fn container(key: u64, name: &str, parent: Option<u64>, id: Option<&str>) -> Container {
    Container {
        key,
        name: name.into(),
        runtime: Runtime::Docker,
        id: id.map(Into::into),
        pod: None,
        parent,
        level: u32::from(parent.is_some()),
        cgroup: None,
        pid: None,
        labels: BTreeMap::new(),
        kubernetes: None,
        named_by: None,
    }
}

#[test]
fn container_option_refuses_a_name_of_several_containers() {
    let cs = [
        container(1, "host", None, None),
        container(10, "web", Some(1), Some(DOCKER_ID)),
        container(11, "bf720bb0500b", Some(10), Some(DOCKER_ID)),
        container(20, "inner", Some(1), None),
        container(30, "inner", Some(1), None),
    ];
    // The id names web and the pid namespace nested in it: web.
    assert_eq!(find_container(&cs, "bf720bb0").unwrap().key, 10);
    assert_eq!(find_container(&cs, "web").unwrap().key, 10);
    assert_eq!(find_container(&cs, "pidns:11").unwrap().key, 11);
    assert_eq!(find_container(&cs, "30").unwrap().key, 30);
    match find_container(&cs, "inner") {
        Err(e @ RecordError::AmbiguousContainer { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("inner (docker, pidns:20)")
                    && text.contains("inner (docker, pidns:30)"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        find_container(&cs, "db"),
        Err(RecordError::NoSuchContainer { .. })
    ));
}

/// A copy of the fixture's Podman storage under a new root, with libpod's
/// database replaced by `db`.
fn podman_root_with_database(db: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let storage = "var/lib/containers/storage";
    let list = format!("{storage}/overlay-containers/containers.json");
    std::fs::create_dir_all(dir.path().join(format!("{storage}/overlay-containers"))).unwrap();
    std::fs::create_dir_all(dir.path().join(format!("{storage}/libpod"))).unwrap();
    std::fs::copy(root().join(&list), dir.path().join(&list)).unwrap();
    std::fs::write(
        dir.path().join(format!("{storage}/libpod/bolt_state.db")),
        db,
    )
    .unwrap();
    dir
}

#[test]
fn a_damaged_podman_database_is_a_problem_named_and_the_names_stay() {
    let db = std::fs::read(root().join("var/lib/containers/storage/libpod/bolt_state.db")).unwrap();
    let file = "/var/lib/containers/storage/libpod/bolt_state.db";
    // Cut after its meta pages: the root bucket's page is past the end.
    let cut = podman_root_with_database(&db[..8192]);
    // Not a BoltDB file at all.
    let other = podman_root_with_database(b"SQLite format 3\0");
    for (dir, says) in [
        (&cut, "is past the file's end"),
        (&other, "not a BoltDB file"),
    ] {
        let s = scan(dir.path());
        let pweb = s.containers.iter().find(|c| c.name == "pweb").unwrap();
        assert!(pweb.labels.is_empty());
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
        let p = &s.problems[0];
        assert!(
            p.starts_with(&format!("{file}: offset ")) && p.contains(says),
            "{p}"
        );
    }
}
