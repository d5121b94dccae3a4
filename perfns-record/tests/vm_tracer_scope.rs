//! The checks of the tracer-scope end-to-end test (tests/vm/tracer-scope-e2e.sh),
//! run on the host against the two recordings the VM made: the tenant's,
//! made unprivileged inside container T in tracer scope, and the VM's own,
//! system-wide at the same time. Ignored by a plain `cargo test`: the
//! script runs them (`-- --ignored`) with PERFNS_VM_E2E_DIR naming the
//! directory the recordings are in.
//!
//! T runs two nested containers: `web` burns 2000 ms of CPU, makes 1500
//! getppid calls and 300 requests (calls of perfns_workload_request, which
//! T's recording probes with a uprobe and a uretprobe), `batch` burns
//! 1000 ms and touches 8 MiB. The sibling container S (`sibling`, comm
//! `noisy-sibling`) runs beside T, the same perfns-workload file, and
//! makes 500 requests of its own. T itself registers user event
//! `request_done` (u32 seq), which T's recording opens (--user-events),
//! and writes it 250 times; S registers a `request_done` of its own
//! (u64 seq), which a recording of S's own opens, and writes it 400 times.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use perfns::container::{RecordingMode, Runtime};
use perfns_record::testing::recording;

/// x86_64's getppid.
const SYS_GETPPID: u64 = 110;
/// The workloads' CPU time, ms.
const WEB_MS: u64 = 2000;
const BATCH_MS: u64 = 1000;
const GETPPID_CALLS: u64 = 1500;
/// web's calls of perfns_workload_request.
const WEB_REQUESTS: u64 = 300;
/// The user events T and S write (tracer-scope-e2e.sh's
/// tenant_user_events and sibling_user_events).
const TENANT_USER_EVENTS: u64 = 250;
const SIBLING_USER_EVENTS: u64 = 400;
/// The pid namespace of the initial (the VM's) one: PROC_PID_INIT_INO.
const HOST_PID_NS: u64 = 0xEFFF_FFFC;

/// The recordings' directory; an ignored test run without it is a
/// mistake, not a skip.
fn dir() -> PathBuf {
    std::env::var_os("PERFNS_VM_E2E_DIR")
        .map(PathBuf::from)
        .expect("PERFNS_VM_E2E_DIR names the VM's recordings (run tests/vm/tracer-scope-e2e.sh)")
}

#[test]
#[ignore = "run by tests/vm/tracer-scope-e2e.sh on the recordings it makes in the VM"]
fn the_tenant_records_its_containers_and_nothing_else() {
    let dir = dir();
    let tenant = recording::attribute(&dir.join("tenant.data"));
    let system = recording::attribute(&dir.join("system.data"));
    let m = &tenant.meta;
    println!("tenant containers: {:?}", m.containers);
    println!("tenant comms: {:?}", tenant.comms);
    println!("tenant records: {:?}", tenant.kinds);
    println!("system records: {:?}", system.kinds);
    for (scope, a) in [("tenant", &tenant), ("system", &system)] {
        for (name, u) in &a.containers {
            println!(
                "{scope} {name}: {} ns on CPU, {} switch records, {} pages, getppid {:?}",
                u.cpu_ns,
                u.switches,
                u.pages_allocated,
                u.syscalls.get(&SYS_GETPPID)
            );
        }
    }

    // The tenant's recording: tracer scope (which --scope auto chose, and
    // said), rooted at T, named by its hostname, with web and batch under
    // it and nothing else.
    let log = std::fs::read_to_string(dir.join("tenant.log")).unwrap();
    assert!(
        log.contains(
            "[ perfns record: tracer scope (this container and the containers nested in it) ]"
        ) && log.contains("3 containers; tracer scope) ]"),
        "{log}"
    );
    // The tenant's report has nothing to warn of: every switch out it has
    // follows a switch in of the same task (out-of-scope tasks run in
    // between, unseen, which is no missing switch).
    let report = std::fs::read_to_string(dir.join("tenant.report")).unwrap();
    assert!(!report.contains("WARNING"), "{report}");
    assert_eq!(m.mode, RecordingMode::TracerScope);
    let root = m.container(m.host).unwrap();
    assert_eq!((root.name.as_str(), root.parent), ("tenant", None));
    let mut names: Vec<(&str, Option<u64>, u32)> = m
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.parent, c.level))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("batch", Some(m.host), 1),
            ("tenant", None, 0),
            ("web", Some(m.host), 1)
        ]
    );
    assert_eq!(tenant.lost_by_cpu.values().sum::<u64>(), 0, "no losses");

    // The same namespaces in the VM's own recording: T under the VM's,
    // web and batch under T, and the sibling beside T.
    let sm = &system.meta;
    assert_eq!(sm.mode, RecordingMode::SystemWide);
    let by_name = |n: &str| {
        sm.containers
            .iter()
            .find(|c| c.name == n)
            .unwrap_or_else(|| panic!("{n} in {:?}", sm.containers))
    };
    let (t, s) = (by_name("tenant"), by_name("sibling"));
    assert_eq!(t.key, m.host, "T's pid namespace is the tenant's root");
    assert_eq!((t.parent, s.parent), (Some(sm.host), Some(sm.host)));
    for n in ["web", "batch"] {
        let c = by_name(n);
        assert_eq!(c.parent, Some(t.key), "{n} is T's child");
        let tc = m.containers.iter().find(|c| c.name == n).unwrap();
        assert_eq!(tc.key, c.key, "{n}: the same pid namespace in both");
        assert_eq!(c.runtime, Runtime::Unknown, "named by its hostname");
    }

    // Nothing of the sibling or the VM: no task in another pid namespace,
    // no comm of theirs, no tracer namespace above T's.
    let ours: std::collections::BTreeSet<u64> = m.containers.iter().map(|c| c.key).collect();
    assert!(
        tenant.pid_namespaces.is_subset(&ours),
        "{:?} not within {ours:?}",
        tenant.pid_namespaces
    );
    assert!(!tenant.pid_namespaces.contains(&s.key));
    assert!(!tenant.pid_namespaces.contains(&HOST_PID_NS));
    assert!(system.comms.contains("noisy-sibling"), "{:?}", system.comms);
    assert!(
        !tenant.comms.contains("noisy-sibling"),
        "{:?}",
        tenant.comms
    );
    assert!(!tenant.containers.contains_key("sibling"));
    // Its tracer namespaces: T's (the reader's level, first in every
    // ancestry) and web's and batch's; three in all.
    assert_eq!(
        tenant.tracer_namespaces.len(),
        3,
        "{:?}",
        tenant.tracer_namespaces
    );
    assert!(
        system.tracer_namespaces.is_empty(),
        "a system-scope recording has no TRACER_NAMESPACES records"
    );
    // Every task it saw is in one of its containers.
    assert!(
        !tenant.containers.contains_key("(unattributed)"),
        "{:?}",
        tenant.containers.get("(unattributed)")
    );

    // The workloads, as the tenant recorded them: the CPU each burned
    // (the kernel's CPU clock and the switch times differ by a few ms: 2%
    // below; the exit and the other steps: at most 15% + 60 ms above), the
    // split 2:1 within 10%, the getppid calls exactly.
    let (web, batch) = (&tenant.containers["web"], &tenant.containers["batch"]);
    for (u, ms) in [(web, WEB_MS), (batch, BATCH_MS)] {
        let got = u.cpu_ns / 1_000_000;
        assert!(
            got >= ms * 98 / 100 && got <= ms * 115 / 100 + 60,
            "{got} ms on CPU for a {ms} ms burn"
        );
    }
    let ratio = web.cpu_ns as f64 / batch.cpu_ns as f64;
    assert!((1.8..=2.2).contains(&ratio), "CPU split {ratio:.3}");
    assert_eq!(web.syscalls.get(&SYS_GETPPID), Some(&GETPPID_CALLS));
    assert_eq!(batch.syscalls.get(&SYS_GETPPID), None);
    // batch's 8 MiB (2048 pages) allocated, and a little more for the
    // process itself; web touches little.
    assert!(
        (2048..=2048 + 2048 / 2 + 500).contains(&batch.pages_allocated),
        "{} pages",
        batch.pages_allocated
    );
    assert!(
        batch.pages_freed >= 2048,
        "{} pages freed",
        batch.pages_freed
    );
    assert!(
        web.pages_allocated < 2048 / 4,
        "web: {} pages",
        web.pages_allocated
    );

    // The VM's recording of the same moment: the same figures for T's
    // containers. Both read the same system calls and page allocations of
    // the same tasks, so those agree exactly (a task keeps its tracer
    // namespace until it is freed, so its exit-time frees and its last
    // switch out reach the tenant too). CPU time within 1% + 20 ms: the
    // two attribute the same switch records, but the system scope, loaded
    // with the whole VM's switches, may miss one the tenant has (measured
    // 2.1 and 1.0 ms apart, tenant lower, on the final series).
    assert_eq!(system.lost_by_cpu.values().sum::<u64>(), 0, "no losses");
    for n in ["web", "batch"] {
        let (a, b) = (&tenant.containers[n], &system.containers[n]);
        assert!(
            a.cpu_ns.abs_diff(b.cpu_ns) <= b.cpu_ns / 100 + 20_000_000,
            "{n}: CPU {} vs {} ns",
            a.cpu_ns,
            b.cpu_ns
        );
        assert_eq!(a.syscalls, b.syscalls, "{n}: system calls");
        assert_eq!(
            (a.pages_allocated, a.pages_freed),
            (b.pages_allocated, b.pages_freed),
            "{n}: pages allocated and freed"
        );
        assert_eq!(a.tids.len(), b.tids.len(), "{n}: tasks");
    }
}

/// The tenant's uprobe and uretprobe on perfns_workload_request (the
/// series' patch 11): exactly web's 300 calls, each timed, no less than the
/// work each call does; nothing in batch, and nothing of the sibling's 500
/// calls of the same function in the same file.
#[test]
#[ignore = "run by tests/vm/tracer-scope-e2e.sh on the recordings it makes in the VM"]
fn the_tenant_s_uprobes_count_its_own_calls_only() {
    let dir = dir();
    let text = std::fs::read_to_string(dir.join("tenant.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["header"]["uprobes_recorded"], true, "{text}");
    // Every container, nested ones included, is a row of the listing.
    let mut probed = Vec::new();
    for c in report["containers"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap().to_string();
        for u in c["uprobes"].as_array().into_iter().flatten() {
            probed.push((name.clone(), u.clone()));
        }
    }
    println!("uprobes by container: {probed:?}");
    assert_eq!(probed.len(), 1, "one container, one probe: {probed:?}");
    let (name, u) = &probed[0];
    assert_eq!(name, "web");
    assert_eq!(u["probe"], "uprobes:perfns_workload_request");
    for field in ["hits", "returns", "timed_calls"] {
        assert_eq!(u[field], WEB_REQUESTS, "{field}: {u}");
    }
    let avg = u["latency_avg_ns"].as_u64().unwrap();
    let work = perfns_record::testing::REQUEST_WORK.as_nanos() as u64;
    assert!(avg >= work, "{avg} ns a call, each works {work} ns");
}

/// The 64-bit id of the recorder's own tracer namespace, from the
/// recording's TRACER_NAMESPACES records (each ancestry starts at the
/// reader's level); exactly one.
fn recorder_tracer_ns_id(path: &std::path::Path) -> u64 {
    let reader = perfns::perf_data::PerfFileReader::open(path).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for r in reader.records() {
        if let Ok(perfns::record::Record::TracerNamespaces(n)) = r.unwrap().parse() {
            ids.extend(n.tracer_ns_ids.first().copied());
        }
    }
    assert_eq!(ids.len(), 1, "{}: {ids:?}", path.display());
    ids.into_iter().next().unwrap()
}

/// `(container, event, count)` of every user event in the report
/// `file` (JSON), and the events of its header named `user_events...`.
fn user_events_in(file: &std::path::Path) -> (Vec<(String, String, u64)>, Vec<String>) {
    let text = std::fs::read_to_string(file).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["header"]["user_events_recorded"], true, "{text}");
    let mut written = Vec::new();
    for c in report["containers"].as_array().unwrap() {
        for u in c["user_events"].as_array().into_iter().flatten() {
            written.push((
                c["name"].as_str().unwrap().to_owned(),
                u["event"].as_str().unwrap().to_owned(),
                u["count"].as_u64().unwrap(),
            ));
        }
    }
    let events = report["header"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .filter(|n| n.starts_with("user_events"))
        .collect();
    (written, events)
}

/// The user events in the tracer scope: T's writer registered
/// `request_done` in T's own group, `user_events_<T's id>`, which T's
/// recording opened and has exactly its 250 writes of, in T's own
/// container; S's `request_done`, another format in S's group, written 400
/// times while S's own recording had it open (so the kernel did write
/// them), is not in T's recording at all, and S's recording has all 400
/// under S's group's name. The same name in two tenants is two events.
#[test]
#[ignore = "run by tests/vm/tracer-scope-e2e.sh on the recordings it makes in the VM"]
fn the_tenant_s_user_events_count_its_own_writes_only() {
    let dir = dir();
    for (who, n) in [
        ("tenant", TENANT_USER_EVENTS),
        ("sibling", SIBLING_USER_EVENTS),
    ] {
        let log = std::fs::read_to_string(dir.join(format!("{who}-user-event.log"))).unwrap();
        let status = std::fs::read_to_string(dir.join(format!("{who}-user-event.status")));
        println!("{who}'s writer: {log}");
        assert_eq!(status.unwrap().trim(), "0", "{who}: {log}");
        assert!(
            log.contains("user-event request_done registered\n")
                && log.contains(&format!("emit: {n} request_done written\n")),
            "{who}: {log}"
        );
    }
    let tenant_log = std::fs::read_to_string(dir.join("tenant.log")).unwrap();
    assert!(!tenant_log.contains("--user-events"), "{tenant_log}");

    let (t_id, s_id) = (
        recorder_tracer_ns_id(&dir.join("tenant.data")),
        recorder_tracer_ns_id(&dir.join("sibling.data")),
    );
    assert_ne!(t_id, s_id);
    let (t_event, s_event) = (
        format!("user_events_{t_id}:request_done"),
        format!("user_events_{s_id}:request_done"),
    );
    let (written, events) = user_events_in(&dir.join("tenant.json"));
    println!("tenant: {written:?}, events {events:?}");
    assert_eq!(
        written,
        [("tenant".to_owned(), t_event.clone(), TENANT_USER_EVENTS)]
    );
    assert_eq!(events, [t_event]);
    let (written, events) = user_events_in(&dir.join("sibling.json"));
    println!("sibling: {written:?}, events {events:?}");
    assert_eq!(
        written,
        [("sibling".to_owned(), s_event.clone(), SIBLING_USER_EVENTS)]
    );
    assert_eq!(events, [s_event]);
}

/// `perfns record --scope tracer` says why it cannot record, on the
/// patched kernel, for each cause the VM could stage.
#[test]
#[ignore = "run by tests/vm/tracer-scope-e2e.sh on the recordings it makes in the VM"]
fn refusals_say_why() {
    let dir = dir();
    for (case, why) in [
        ("initial", "you are in the initial tracer namespace"),
        (
            "nocap",
            "no CAP_PERFMON over the user namespace that owns your tracer namespace",
        ),
        ("sysctl", "kernel.perf_tracer_scope is 0"),
        ("paranoid", "kernel.perf_event_paranoid is 3"),
    ] {
        let log = std::fs::read_to_string(dir.join(format!("why-{case}.log"))).unwrap();
        println!("{case}: {log}");
        assert!(log.contains("perfns: --scope tracer: "), "{case}: {log}");
        assert!(log.contains(why), "{case}: {log}");
    }
}

/// The series' ring-buffer budget: a container whose tracer namespace root
/// limited to 256 KiB cannot map 2 x 512 KiB and is told what is left; one
/// limited to 1 MiB records with -m 16 (2 x 68 KiB); only the host's root
/// may set a limit, not an ordinary user for its own container.
#[test]
#[ignore = "run by tests/vm/tracer-scope-e2e.sh on the recordings it makes in the VM"]
fn the_ring_buffer_budget_refuses_past_its_limit() {
    let dir = dir();
    let log = |case: &str| {
        let log = std::fs::read_to_string(dir.join(format!("why-{case}.log"))).unwrap();
        println!("{case}: {log}");
        log
    };
    let over = log("budget");
    assert!(!over.contains("worked"), "{over}");
    assert!(over.contains("Disk quota exceeded"), "{over}");
    // CPU 0's side-band ring comes first and fits: sideband_pages(128)
    // data pages and the metadata page. Then the data ring, 128 pages and
    // the metadata page, does not fit in what is left.
    let page_kib = 4;
    let side_kib = (perfns_record::session::sideband_pages(128) + 1) * page_kib;
    assert_eq!(side_kib, 132);
    let data_kib = (128 + 1) * page_kib;
    assert!(
        over.contains(&format!("{side_kib} KiB of its 256 KiB are mapped"))
            && over.contains(&format!(
                "{} KiB are left and this buffer needs {data_kib} KiB",
                256 - side_kib
            )),
        "{over}"
    );
    let within = log("budget-ok");
    assert!(
        within.contains("perfns record --scope tracer worked (budget-ok)"),
        "{within}"
    );
    let unprivileged = log("budget-unprivileged");
    assert!(!unprivileged.contains("worked"), "{unprivileged}");
    assert!(
        unprivileged.contains("--trace-buffer-limit: ")
            && unprivileged.contains("needs CAP_SYS_ADMIN over the user namespace"),
        "{unprivileged}"
    );
}
