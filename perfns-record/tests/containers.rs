//! End to end, as root on this machine's kernel: containers made with
//! unshare run exact workloads while `Recorder` records the machine, and the
//! recording alone must say what each container did.

use std::time::{Duration, Instant};

use perfns::container::{RecordingScope, Runtime};
use perfns_record::session::{Recorder, SessionConfig};
use perfns_record::testing::recording;
use perfns_record::testing::TestContainer;

/// getppid's number on this architecture.
const SYS_GETPPID: u64 = libc::SYS_getppid as u64;

/// Records until every container has exited, then finishes. After each
/// drain, `step` sees the recorder and the containers (to open their
/// gates when the recorder has seen what they wait for).
///
/// Only the tasks of `group` are recorded (`--cgroup`), where the
/// containers are made: what else runs on the machine (a kernel build, other
/// tests) cannot overflow the buffers and take the exact counts with it.
fn record_containers(
    path: &std::path::Path,
    mmap_pages: usize,
    group: &recording::TestCgroup,
    spawn: impl FnOnce() -> Vec<TestContainer>,
    mut step: impl FnMut(&Recorder, &mut [TestContainer]),
) -> perfns_record::session::RecordSummary {
    let mut config = SessionConfig::new(path);
    config.mmap_pages = mmap_pages;
    config.cgroup = Some(group.name().to_owned());
    let mut rec = Recorder::start(config).expect("start recording");
    let mut containers = spawn();
    let started = Instant::now();
    loop {
        rec.wait(Some(Duration::from_millis(50)), &[])
            .expect("wait");
        rec.drain().expect("drain");
        step(&rec, &mut containers);
        let mut running = false;
        for c in &mut containers {
            running |= c.try_wait().expect("try_wait").is_none();
        }
        if !running {
            break;
        }
        assert!(
            started.elapsed() < recording::PATIENCE,
            "the containers still run after {:?}; the recorder knows {:?}",
            recording::PATIENCE,
            rec.meta().containers
        );
    }
    for c in containers {
        // Removes its cgroups.
        c.wait().expect("wait");
    }
    rec.finish().expect("finish")
}

#[test]
fn two_containers_are_told_apart() {
    if !recording::can_record() {
        return;
    }
    let _serial = recording::serial();
    let tag = std::process::id();
    let (busy, calm) = (format!("busy-{tag}"), format!("calm-{tag}"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.data");
    // busy: 600 ms of CPU, 64 MiB touched; calm: 300 ms of CPU, 30000
    // getppid calls. `burn` tops each process up to its CPU time, so the
    // other steps do not change the split. Only the containers' cgroups
    // are recorded, into 64 MiB per CPU: enough to hold the test's few
    // seconds even when the recorder gets little CPU.
    let group = recording::TestCgroup::new(&format!("perfns/two-{tag}"));
    let summary = record_containers(
        &path,
        16384,
        &group,
        || {
            vec![
                TestContainer::spawn_in(group.dir(), &busy, &["alloc", "64", "burn", "600"])
                    .unwrap(),
                TestContainer::spawn_in(group.dir(), &calm, &["getppid", "30000", "burn", "300"])
                    .unwrap(),
            ]
        },
        |_, _| {},
    );
    assert_eq!(
        summary.progress.lost + summary.progress.lost_samples,
        0,
        "exact counts need no losses: {:?}",
        summary.cpus
    );

    let a = recording::attribute(&path);
    // The containers are in the recording with their names and nesting.
    for name in [&busy, &calm] {
        let c = a
            .meta
            .containers
            .iter()
            .find(|c| &c.name == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", a.meta.containers));
        assert_eq!(
            (c.runtime, c.parent, c.level),
            (Runtime::Perfns, Some(a.meta.host), 1)
        );
        assert_eq!(
            c.cgroup.as_deref(),
            Some(format!("{}/{name}", group.name()).as_str())
        );
    }
    let b = &a.containers[&busy];
    let c = &a.containers[&calm];
    println!(
        "busy: {} ms, {} pages; calm: {} ms, {:?}",
        b.cpu_ns / 1_000_000,
        b.pages_allocated,
        c.cpu_ns / 1_000_000,
        c.syscalls.get(&SYS_GETPPID)
    );

    // Exact: every getppid the workload made, none elsewhere in it.
    assert_eq!(c.syscalls.get(&SYS_GETPPID), Some(&30000));
    assert_eq!(b.syscalls.get(&SYS_GETPPID), None);
    // Each container is one task (pid 1 inside, from unshare's fork).
    assert_eq!((b.tids.len(), c.tids.len()), (1, 1), "{b:?} {c:?}");

    // CPU time: what each burned (the kernel's CPU-time clock and the
    // switch timestamps differ by a few ms: 2% below), at most 15% + 30 ms
    // more (exit); the split 2:1 within 10%.
    for (u, ms) in [(b, 600u64), (c, 300)] {
        let got = u.cpu_ns / 1_000_000;
        assert!(
            got >= ms * 98 / 100 && got <= ms * 115 / 100 + 30,
            "{got} ms on CPU for a {ms} ms burn"
        );
    }
    let ratio = b.cpu_ns as f64 / c.cpu_ns as f64;
    assert!(
        (1.8..=2.2).contains(&ratio),
        "CPU split {ratio:.3}, expected 2 within 10%"
    );

    // Memory: 64 MiB of 4 KiB pages touched, each one allocated; a little
    // more for page tables and the process itself, and all of it freed.
    let touched = 64 * 256;
    assert!(
        b.pages_allocated >= touched && b.pages_allocated <= touched + touched / 10 + 2000,
        "{} pages",
        b.pages_allocated
    );
    assert!(b.pages_freed >= touched, "{} pages freed", b.pages_freed);
    assert!(
        c.pages_allocated < touched / 10,
        "calm allocated {} pages",
        c.pages_allocated
    );
}

#[test]
fn nested_containers_form_a_tree() {
    if !recording::can_record() {
        return;
    }
    let _serial = recording::serial();
    let outer = format!("outer-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.data");
    // Each container waits at a gate until the recorder has seen it, so
    // that the recorder reads its cgroup from /proc while its tasks live
    // (a namespace gone before that is recorded unnamed, `pidns-<inode>`,
    // under the parent its FORK records give).
    let mut opened = 0;
    let group = recording::TestCgroup::new(&format!("perfns/nested-{}", std::process::id()));
    let summary = record_containers(
        &path,
        16384,
        &group,
        || {
            vec![TestContainer::spawn_in(
                group.dir(),
                &outer,
                &[
                    "gate",
                    "getppid",
                    "100",
                    "container",
                    "inner",
                    "gate",
                    "getppid",
                    "200",
                ],
            )
            .unwrap()]
        },
        |rec, containers| {
            let known = |name: &str| rec.meta().containers.iter().any(|c| c.name == name);
            let next = [outer.as_str(), "inner"].get(opened).copied();
            if next.is_some_and(known) {
                containers[0].release().expect("open the gate");
                opened += 1;
            }
        },
    );
    assert_eq!(opened, 2, "both gates opened");
    assert_eq!(
        summary.progress.lost + summary.progress.lost_samples,
        0,
        "exact counts need no losses: {:?}",
        summary.cpus
    );
    let a = recording::attribute(&path);
    let seen: Vec<_> = a
        .meta
        .containers
        .iter()
        .map(|c| (&c.name, c.key, c.parent, &c.cgroup))
        .collect();
    let o = a
        .meta
        .containers
        .iter()
        .find(|c| c.name == outer)
        .unwrap_or_else(|| panic!("{outer} in {seen:?}"));
    let i = a
        .meta
        .containers
        .iter()
        .find(|c| c.name == "inner" && c.parent == Some(o.key))
        .unwrap_or_else(|| panic!("inner under {outer} in {seen:?}"));
    assert_eq!((o.level, i.level), (1, 2));
    assert_eq!(
        i.cgroup.as_deref(),
        Some(format!("{}/{outer}/inner", group.name()).as_str())
    );
    assert_eq!(a.containers[&outer].syscalls.get(&SYS_GETPPID), Some(&100));
    assert_eq!(a.containers["inner"].syscalls.get(&SYS_GETPPID), Some(&200));
    let chain: Vec<&str> = a
        .meta
        .ancestry(i.key)
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(chain, ["inner", outer.as_str(), "host"]);
}

#[test]
fn container_option_records_that_container_alone() {
    if !recording::can_record() {
        return;
    }
    let _serial = recording::serial();
    let tag = std::process::id();
    let (mine, other) = (format!("mine-{tag}"), format!("other-{tag}"));
    // Both must be running when recording starts: each waits at a gate.
    let mut a = TestContainer::spawn(&mine, &["gate", "getppid", "500"]).unwrap();
    let mut b = TestContainer::spawn(&other, &["gate", "getppid", "700"]).unwrap();
    let cgroup = perfns_record::testing::perfns_cgroup_root()
        .unwrap()
        .join(&mine);
    // Wait for pid 1 inside (unshare's child) to be in the cgroup.
    let started = Instant::now();
    loop {
        let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
        if procs.lines().count() >= 2 {
            break;
        }
        assert!(
            started.elapsed() < recording::PATIENCE,
            "{} holds {procs:?} after {:?}",
            cgroup.display(),
            recording::PATIENCE
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.data");
    let mut config = SessionConfig::new(&path);
    config.container = Some(mine.clone());
    config.mmap_pages = 4096;
    let mut rec = Recorder::start(config).expect("start");
    a.release().unwrap();
    b.release().unwrap();
    let started = Instant::now();
    while a.try_wait().unwrap().is_none() || b.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < recording::PATIENCE,
            "the containers still run"
        );
        rec.wait(Some(Duration::from_millis(50)), &[]).unwrap();
        rec.drain().unwrap();
    }
    let summary = rec.finish().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
    assert_eq!(summary.progress.lost, 0, "{:?}", summary.cpus);
    match &summary.meta.scope {
        RecordingScope::Container { name, .. } => assert_eq!(name, &mine),
        other => panic!("{other:?}"),
    }
    let at = recording::attribute(&path);
    assert_eq!(at.containers[&mine].syscalls.get(&SYS_GETPPID), Some(&500));
    assert!(
        !at.containers.contains_key(&other),
        "{:?}",
        at.containers.keys()
    );
    // Of the host's tasks only the one in the container's cgroup: the
    // `unshare` that started it (in the host's pid namespace), exiting.
    if let Some(host) = at.containers.get("host") {
        assert_eq!(host.tids.len(), 1, "{host:?}");
        assert!(host.cpu_ns < 50_000_000, "{host:?}");
    }
}
