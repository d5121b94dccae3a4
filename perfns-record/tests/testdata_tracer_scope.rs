//! testdata/tracer-scope.data, the tenant's recording made in the VM
//! (perfns-record/tests/vm/tracer-scope-e2e.sh --testdata), holds what
//! testdata/README.md says it holds. Runs anywhere: it only reads the file.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use perfns::attr::flags;
use perfns::container::{RecordingMode, Runtime};
use perfns::perf_data::PerfFileReader;
use perfns::record::Record;
use perfns_record::testing::recording;

const SYS_GETPPID: u64 = 110;
const SYS_GETRUSAGE: u64 = 98;
const SYS_CLONE: u64 = 56;
const SYS_CLOCK_GETTIME: u64 = 228;
const SYS_EXIT_GROUP: u64 = 231;

#[test]
fn tracer_scope() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/tracer-scope.data");
    let a = recording::attribute(&path);
    let m = &a.meta;
    assert_eq!(m.mode, RecordingMode::TracerScope);
    let root = m.container(m.host).unwrap();
    assert_eq!((root.name.as_str(), root.parent), ("tenant", None));
    let mut tree: Vec<(&str, Option<u64>, Runtime)> = m
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.parent, c.runtime))
        .collect();
    tree.sort_by_key(|t| t.0);
    assert_eq!(
        tree,
        [
            ("batch", Some(m.host), Runtime::Unknown),
            ("tenant", None, Runtime::Host),
            ("web", Some(m.host), Runtime::Unknown),
        ]
    );
    // Only its own pid namespaces and tracer namespaces (T's, web's,
    // batch's); no comm of the sibling's.
    let ours: BTreeSet<u64> = m.containers.iter().map(|c| c.key).collect();
    assert!(a.pid_namespaces.is_subset(&ours), "{:?}", a.pid_namespaces);
    assert_eq!(a.tracer_namespaces.len(), 3, "{:?}", a.tracer_namespaces);
    assert!(!a.comms.contains("noisy-sibling"), "{:?}", a.comms);
    assert_eq!(
        a.kinds.get("NAMESPACES"),
        Some(&1),
        "the statedump's, of the recorder"
    );
    assert!(a.kinds.get("TRACER_NAMESPACES").is_some_and(|&n| n > 0));
    assert_eq!(a.lost_by_cpu.values().sum::<u64>(), 0);
    assert!(!a.containers.contains_key("(unattributed)"));

    let (web, batch) = (&a.containers["web"], &a.containers["batch"]);
    // 800 and 400 ms burns: within -2% / +15% + 60 ms (exec on 9p).
    for (u, ms) in [(web, 800u64), (batch, 400)] {
        let got = u.cpu_ns / 1_000_000;
        assert!(
            got >= ms * 98 / 100 && got <= ms * 115 / 100 + 60,
            "{got} ms for a {ms} ms burn"
        );
    }
    assert_eq!(web.syscalls.get(&SYS_GETPPID), Some(&300));
    assert_eq!(batch.syscalls.get(&SYS_GETPPID), None);
    // 2 MiB touched: at least 512 pages, and not much more.
    assert!(
        (512..=512 + 256 + 200).contains(&batch.pages_allocated),
        "{}",
        batch.pages_allocated
    );
    assert!(web.pages_allocated < 256, "{}", web.pages_allocated);
    for (name, u) in [("web", web), ("batch", batch)] {
        // One task each: run-container's child execs the workload.
        assert_eq!(u.tids.len(), 1, "{name}: {:?}", u.tids);
        // Nothing lost: every call returns but the exit_group that ends
        // it, and its first return is from the fork() (clone) that made it,
        // which its parent entered in the tenant's pid namespace.
        let mut returned = u.syscalls.clone();
        assert_eq!(returned.remove(&SYS_EXIT_GROUP), Some(1), "{name}");
        *returned.entry(SYS_CLONE).or_default() += 1;
        assert_eq!(returned, u.syscall_exits, "{name}");
        // The burn reads its CPU time with clock_gettime, which this
        // kernel refuses (no POSIX timers), then with getrusage: as many
        // of one as of the other.
        let clock = u.syscalls.get(&SYS_CLOCK_GETTIME).copied().unwrap_or(0);
        assert!(clock > 0, "{name}");
        assert_eq!(u.syscalls.get(&SYS_GETRUSAGE), Some(&clock), "{name}");
    }
}

/// What the file stores so that perf reads it (docs/recording-format.md,
/// "Tracer-scope recordings"), and what the tracer-namespace records say.
#[test]
fn tracer_scope_records() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/tracer-scope.data");
    let a = recording::attribute(&path);
    let r = PerfFileReader::open(&path).unwrap();
    // The attrs carry none of the series' bits, which perf refuses.
    for e in r.events().events() {
        let series = flags::TRACER_SCOPE | flags::TRACER_NAMESPACES;
        assert_eq!(e.attr.flags & series, 0, "{}", e.name);
    }
    let m = &a.meta;
    let key = |name: &str| m.containers.iter().find(|c| c.name == name).unwrap().key;
    let (tenant, web, batch) = (m.host, key("web"), key("batch"));
    let mut seen = BTreeSet::new();
    let mut root_tracer_ns = BTreeSet::new();
    for rec in r.records() {
        let Record::TracerNamespaces(t) = rec.unwrap().parse().unwrap() else {
            continue;
        };
        let pid_ns = t.namespaces[perfns::record::ns_index::PID].ino;
        // The time and tracer namespaces follow the seven of NAMESPACES.
        assert_eq!(t.namespaces.len(), 9);
        // Recorded on the series' first numbers: no ids after the pids.
        assert!(t.tracer_ns_ids.is_empty(), "{t:?}");
        root_tracer_ns.insert(t.tracer_ns[0]);
        if pid_ns == tenant {
            // The recorder's own container: one level of each.
            assert_eq!((t.tracer_ns.len(), t.pids.len()), (1, 1), "{t:?}");
        } else {
            // web and batch: a tracer namespace and a pid namespace under
            // the tenant's, where the workload is pid 1.
            assert!(pid_ns == web || pid_ns == batch, "{t:?}");
            assert_eq!(t.tracer_ns.len(), 2, "{t:?}");
            assert_eq!(t.pids.len(), 2, "{t:?}");
            assert_eq!(t.pids[0], (t.pid, t.tid));
            assert_eq!(t.pids[1], (1, 1));
            seen.insert(pid_ns);
        }
    }
    assert_eq!(seen, BTreeSet::from([web, batch]));
    // Every ancestry starts at the recorder's tracer namespace.
    assert_eq!(root_tracer_ns.len(), 1, "{root_tracer_ns:?}");
}

/// testdata/tracer-scope-ids.data, the same recording made on the series'
/// numbers after mainline's: every TRACER_NAMESPACES carries one id per
/// tracer level, the tenant's the same everywhere, web's and batch's their
/// own, each larger than the tenant's (made after it).
#[test]
fn tracer_scope_records_carry_tracer_namespace_ids() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/tracer-scope-ids.data");
    let a = recording::attribute(&path);
    let r = PerfFileReader::open(&path).unwrap();
    let m = &a.meta;
    assert_eq!(m.mode, RecordingMode::TracerScope);
    let key = |name: &str| m.containers.iter().find(|c| c.name == name).unwrap().key;
    let (tenant, web, batch) = (m.host, key("web"), key("batch"));
    let mut root_ids = BTreeSet::new();
    let mut own_ids = std::collections::BTreeMap::<u64, BTreeSet<u64>>::new();
    for rec in r.records() {
        let Record::TracerNamespaces(t) = rec.unwrap().parse().unwrap() else {
            continue;
        };
        assert_eq!(t.tracer_ns_ids.len(), t.tracer_ns.len(), "{t:?}");
        // From the reader's namespace down: each younger than its parent.
        assert!(t.tracer_ns_ids.windows(2).all(|w| w[0] < w[1]), "{t:?}");
        root_ids.insert(t.tracer_ns_ids[0]);
        let pid_ns = t.namespaces[perfns::record::ns_index::PID].ino;
        own_ids
            .entry(pid_ns)
            .or_default()
            .extend(t.tracer_ns_ids.last());
    }
    assert_eq!(root_ids.len(), 1, "{root_ids:?}");
    let one = |pid_ns: u64| -> u64 {
        let ids = &own_ids[&pid_ns];
        assert_eq!(ids.len(), 1, "{ids:?}");
        *ids.first().unwrap()
    };
    let (t, w, b) = (one(tenant), one(web), one(batch));
    assert_eq!(BTreeSet::from([t]), root_ids);
    assert!(t < w && t < b && w != b, "{t} {w} {b}");
}
