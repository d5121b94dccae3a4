//! testdata/tracer-scope.data, the tenant's recording made in the VM
//! (perfns-record/tests/vm/tracer-scope-e2e.sh --testdata), holds what
//! testdata/README.md says it holds. Runs anywhere: it only reads the file.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use perfns::container::{RecordingMode, Runtime};

const SYS_GETPPID: u64 = 110;

#[test]
fn tracer_scope() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/tracer-scope.data");
    let a = common::attribute(&path);
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
}
