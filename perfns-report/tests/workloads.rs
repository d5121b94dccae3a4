//! The report against the workloads that made the recordings
//! (perfns-report/tests/recordings): figures the workload fixes, not
//! figures copied from a report.

use std::path::Path;

use perfns_report::model::{ContainerReport, ContainerSource, Report, SyscallFigures};
use perfns_report::{report, Options};

fn testdata(name: &str) -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata")).join(name)
}

fn report_of(name: &str) -> Report {
    let options = Options {
        per_process: true,
        top: 1000,
        ..Options::default()
    };
    report(&testdata(name), &options, &mut |_| {}).expect("the recording reports")
}

fn container<'a>(report: &'a Report, name: &str) -> &'a ContainerReport {
    report
        .containers
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name} in {:?}", names(report)))
}

/// One of a container's top syscalls.
fn syscall<'a>(c: &'a ContainerReport, name: &str) -> &'a SyscallFigures {
    c.top_syscalls
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{} makes no {name}", c.name))
}

fn names(report: &Report) -> Vec<&str> {
    report.containers.iter().map(|c| c.name.as_str()).collect()
}

fn ratio(a: u64, b: u64) -> f64 {
    a as f64 / b as f64
}

#[test]
fn tracepoints_show_each_container_and_its_workload() {
    let r = report_of("containers-tracepoints.data");
    assert_eq!(r.header.containers_from, ContainerSource::PidNamespaces);
    assert_eq!(r.header.lost.total, 0);
    for name in ["host", "big", "small", "outer", "inner", "mem", "sys"] {
        container(&r, name);
    }
    assert_eq!(r.containers[0].key, "host", "the host comes first");

    // big spins 600 million iterations, small 300 million.
    let big = container(&r, "big").own.cpu.time_ns;
    let small = container(&r, "small").own.cpu.time_ns;
    let q = ratio(big, small);
    assert!((1.6..2.4).contains(&q), "big/small CPU time {q}");

    // inner is nested in outer; outer's roll-up is its own plus inner's.
    let outer = container(&r, "outer");
    let inner = container(&r, "inner");
    assert_eq!(inner.parent.as_deref(), Some(outer.key.as_str()));
    assert_eq!(inner.cgroup.as_deref(), Some("/perfns/outer/inner"));
    assert_eq!(outer.cgroup.as_deref(), Some("/perfns/outer"));
    assert_eq!(
        outer.total.cpu.time_ns,
        outer.own.cpu.time_ns + inner.total.cpu.time_ns
    );
    assert_eq!(
        outer.total.syscalls.calls,
        outer.own.syscalls.calls + inner.total.syscalls.calls
    );
    // Each burns 300 million iterations, as small does.
    let q = ratio(inner.own.cpu.time_ns, small);
    assert!((0.7..1.4).contains(&q), "inner/small CPU time {q}");

    // mem touches 2 MiB one 4 KiB page at a time, then unmaps it.
    let mem = container(&r, "mem");
    let touched = 2 << 20 >> 12;
    assert!(
        (touched..touched + 100).contains(&mem.own.memory.pages_allocated),
        "{:?}",
        mem.own.memory
    );
    assert!(
        mem.own.memory.pages_freed >= touched,
        "{:?}",
        mem.own.memory
    );
    assert!(container(&r, "big").own.memory.pages_allocated < 100);

    // sys calls getppid() 300 times and close(-1) 300 times.
    let sys = container(&r, "sys");
    let getppid = syscall(sys, "getppid");
    assert_eq!(getppid.figures.calls, 300);
    assert_eq!(getppid.figures.errors, 0);
    let close = syscall(sys, "close");
    assert_eq!(close.figures.errors, 300);
    assert_eq!(sys.own.syscalls.errors, 300);
    // The other containers' workloads make no failing calls.
    assert_eq!(container(&r, "big").own.syscalls.errors, 0);

    // CPU time on one recorded CPU adds up to at most the time range.
    let all: u64 = r
        .containers
        .iter()
        .filter(|c| c.parent.is_none())
        .map(|c| c.total.cpu.time_ns)
        .sum();
    assert!(
        all <= r.header.time.duration_ns,
        "{all} > {}",
        r.header.time.duration_ns
    );
}

#[test]
fn switch_records_and_samples_agree_with_the_workload() {
    let r = report_of("containers-switch.data");
    let big = &container(&r, "big").own.cpu;
    let small = &container(&r, "small").own.cpu;
    let q = ratio(big.time_ns, small.time_ns);
    assert!((1.6..2.4).contains(&q), "big/small CPU time {q}");
    let q = ratio(big.samples, small.samples);
    assert!((1.6..2.4).contains(&q), "big/small samples {q}");
    // cpu-clock at 999 Hz: about one sample per ms of CPU time.
    let per_ms = big.samples as f64 / (big.time_ns as f64 / 1e6);
    assert!((0.8..1.2).contains(&per_ms), "{per_ms} samples per ms");
}

#[test]
fn a_plain_recording_says_it_cannot_tell_containers_apart() {
    let r = report_of("plain-sched-switch.data");
    assert_eq!(r.header.containers_from, ContainerSource::None);
    assert_eq!(names(&r), ["host"]);
    assert!(
        r.header
            .notes
            .iter()
            .any(|n| n.contains("--namespaces --all-cgroups")),
        "{:?}",
        r.header.notes
    );
    // The two workloads are still there, as processes.
    let procs = r.processes.as_ref().expect("--per-process");
    let burns: Vec<u64> = procs
        .iter()
        .filter(|p| p.process.comm == "workload")
        .map(|p| p.process.figures.cpu.time_ns)
        .collect();
    assert_eq!(burns.len(), 2, "{procs:?}");
    let q = ratio(burns[0], burns[1]);
    assert!((1.6..2.4).contains(&q), "{q}");
}

#[test]
fn lost_events_are_counted_and_the_rest_reported() {
    let r = report_of("lost-syscalls.data");
    assert!(r.header.lost.total > 0);
    assert!(r.header.warnings.iter().any(|w| w.contains("lost")));
    let sys = container(&r, "sys");
    let getppid = syscall(sys, "getppid");
    // 3000 were made; some were lost.
    assert!(
        (1..3000).contains(&getppid.figures.calls),
        "{}",
        getppid.figures.calls
    );
}

#[test]
fn time_window_keeps_only_its_figures() {
    let whole = report_of("containers-switch.data");
    let t = whole.header.time.clone();
    let mid = t.start_ns + t.duration_ns / 2;
    let options = |window| Options {
        time: vec![window],
        ..Options::default()
    };
    let path = testdata("containers-switch.data");
    let first = report(&path, &options((None, Some(mid))), &mut |_| {}).expect("report");
    let second = report(&path, &options((Some(mid + 1), None)), &mut |_| {}).expect("report");
    assert_eq!(first.header.time.end_ns, mid);
    assert_eq!(second.header.time.start_ns, mid + 1);
    for name in ["big", "small"] {
        let (a, b, all) = (
            &container(&first, name).own.cpu,
            &container(&second, name).own.cpu,
            &container(&whole, name).own.cpu,
        );
        assert_eq!(a.samples + b.samples, all.samples, "{name}");
        // The 1 ns between the halves may hold a sliver of CPU time.
        assert!(all.time_ns - (a.time_ns + b.time_ns) <= 1, "{name}");
    }
}

/// A tracer-scope recording nests its containers by the kernel's
/// TRACER_NAMESPACES records, not only by the pid namespace parents
/// `perfns record` read from the tenant's /proc (which a task gone before
/// it looked does not give): with those parents taken out of the
/// metadata, web and batch are still the tenant's children. (Deeper trees:
/// the unit tests of perfns-report/src/analysis/containers.rs.)
#[test]
fn tracer_scope_nests_containers_by_tracer_ancestry() {
    use perfns::container::{RecordingMeta, RecordingMode};
    use perfns::perf_data::{Features, PerfFileReader};
    use perfns_report::analysis::Analysis;

    let path = testdata("tracer-scope.data");
    let reader = PerfFileReader::open(&path).expect("tracer-scope.data opens");
    let analyze = |features: &Features| -> Report {
        let mut a = Analysis::new("t".into(), reader.events(), features, &[]);
        for r in reader.records() {
            let r = r.expect("a record");
            a.record(r.event, &r.parse().expect("a parsed record"));
        }
        a.finish(&Options::default()).expect("a report")
    };
    // (name, parent's name, depth), sorted.
    let tree = |r: &Report| -> Vec<(String, Option<String>, usize)> {
        let name_of = |key: &str| {
            r.containers
                .iter()
                .find(|c| c.key == key)
                .map(|c| c.name.clone())
        };
        let mut t: Vec<_> = r
            .containers
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.parent.as_deref().and_then(name_of),
                    c.depth,
                )
            })
            .collect();
        t.sort();
        t
    };
    let nested = vec![
        ("batch".to_owned(), Some("tenant".to_owned()), 1),
        ("tenant".to_owned(), None, 0),
        ("web".to_owned(), Some("tenant".to_owned()), 1),
    ];
    assert_eq!(tree(&analyze(reader.features())), nested);

    let mut meta = RecordingMeta::from_features(reader.features())
        .expect("its metadata reads")
        .expect("it has metadata");
    assert_eq!(meta.mode, RecordingMode::TracerScope);
    assert_eq!(
        meta.containers
            .iter()
            .filter(|c| c.parent.is_some())
            .count(),
        2
    );
    for c in &mut meta.containers {
        (c.parent, c.level) = (None, 0);
    }
    let stripped = Features {
        perfns: Some(meta.to_json()),
        ..reader.features().clone()
    };
    assert_eq!(tree(&analyze(&stripped)), nested);
}

/// Page traffic in interrupt context (hard or soft IRQ, NMI) is charged
/// to no container, on any kernel: counted here from the records' own
/// common_flags, independently of the report, the report charges the
/// containers with the rest, exactly, and puts the interrupts' share in
/// `memory_in_interrupts`. The recordings hold RCU callbacks' page frees
/// in softirq, charged before to whichever task they interrupted.
#[test]
fn interrupt_context_page_traffic_is_in_no_container() {
    use perfns::perf_data::PerfFileReader;
    use perfns::record::Record;
    use perfns::tracepoint::{TracepointFormat, COMMON_FLAGS_INTERRUPT};

    for name in [
        "containers-tracepoints.data",
        "two-containers.data",
        "tracer-scope.data",
    ] {
        let reader = PerfFileReader::open(testdata(name)).expect("the recording opens");
        let tracing = reader
            .features()
            .tracing_data
            .as_ref()
            .expect("tracing data");
        // (task, interrupt) x (allocated, freed) pages.
        let mut pages = [[0u64; 2]; 2];
        for r in reader.records() {
            let r = r.expect("a record");
            let Record::Sample(s) = r.parse().expect("a parsed record") else {
                continue;
            };
            let event = &reader.events().events()[r.event];
            let column = match event.name.as_str() {
                "kmem:mm_page_alloc" => 0,
                "kmem:mm_page_free" => 1,
                _ => continue,
            };
            let text = tracing.format_by_id(event.attr.config).expect("a format");
            let format = TracepointFormat::parse(&text.system, &text.text).expect("it parses");
            let raw = s.raw.as_deref().expect("a payload");
            let flags = format.read_u64(raw, "common_flags").expect("common_flags");
            let order = format.read_u64(raw, "order").expect("order");
            let row = usize::from(flags & COMMON_FLAGS_INTERRUPT != 0);
            pages[row][column] += 1 << order;
        }
        let r = report_of(name);
        let charged = |f: fn(&ContainerReport) -> u64| r.containers.iter().map(f).sum::<u64>();
        assert_eq!(
            [
                charged(|c| c.own.memory.pages_allocated),
                charged(|c| c.own.memory.pages_freed)
            ],
            pages[0],
            "{name}: pages charged to containers"
        );
        let interrupts = r
            .header
            .memory_in_interrupts
            .as_ref()
            .map_or([0, 0], |m| [m.pages_allocated, m.pages_freed]);
        assert_eq!(interrupts, pages[1], "{name}: pages in interrupt context");
        assert!(pages[1][1] > 0, "{name} holds interrupt-context frees");
    }
}

#[test]
fn uprobes_count_each_containers_requests_and_time_them() {
    let r = report_of("uprobes.data");
    assert!(r.header.uprobes_recorded);
    // front makes 30 requests, back 50, each spinning 100 us.
    for (name, calls) in [("front", 30), ("back", 50)] {
        let u = &container(&r, name).uprobes;
        assert_eq!(u.len(), 1, "{name}: {u:?}");
        let u = &u[0];
        assert_eq!(u.probe, "uprobes:perfns_workload_request");
        assert_eq!(
            (u.hits, u.returns, u.timed_calls),
            (calls, Some(calls), Some(calls))
        );
        assert!(u.latency_avg_ns >= Some(100_000), "{name}: {u:?}");
        assert!(u.latency_p50_ns <= u.latency_p99_ns && u.latency_p99_ns <= u.latency_max_ns);
    }
    assert!(container(&r, "host").uprobes.is_empty());
}

/// testdata/tracer-scope-user-events.data: a tenant's recording in the VM on
/// the series' patch 12, with --user-events beside the uprobes: the
/// tenant's own writer (in T itself) wrote request_done 100 times; the
/// sibling registered its own request_done, of another format, and wrote
/// it 200 times, none of which may be here.
#[test]
fn a_tenant_s_user_events_count_its_own_writes() {
    let r = report_of("tracer-scope-user-events.data");
    assert!(r.header.user_events_recorded);
    let tenant = &container(&r, "tenant").user_events;
    assert_eq!(tenant.len(), 1, "{tenant:?}");
    // The group of T's tracer namespace: user_events_<its id>.
    let (system, name) = tenant[0].event.split_once(':').expect("SYSTEM:NAME");
    assert_eq!(name, "request_done");
    let id = system
        .strip_prefix("user_events_")
        .expect("a namespace's group");
    assert!(id.parse::<u64>().is_ok_and(|id| id > 1), "{system}");
    assert_eq!(tenant[0].count, 100);
    for other in ["web", "batch"] {
        assert!(container(&r, other).user_events.is_empty(), "{other}");
    }
    // And the uprobes of the same run: web's 100 requests.
    let u = &container(&r, "web").uprobes;
    assert_eq!((u.len(), u[0].hits), (1, 100), "{u:?}");
    assert_eq!(r.containers.len(), 3, "tenant, web and batch only");
}

/// testdata/tracer-scope-uprobes.data: a tenant's recording in the VM on the
/// series' patch 11, with a uprobe and a uretprobe on perfns_workload_request.
/// web made 100 requests, batch none; the sibling, outside the tenant, made
/// 200 with the same file while it recorded, and is not in the file.
#[test]
fn a_tenant_s_uprobes_count_its_own_containers_requests() {
    let r = report_of("tracer-scope-uprobes.data");
    assert!(r.header.uprobes_recorded);
    let u = &container(&r, "web").uprobes;
    assert_eq!(u.len(), 1, "{u:?}");
    let u = &u[0];
    assert_eq!(u.probe, "uprobes:perfns_workload_request");
    assert_eq!(
        (u.hits, u.returns, u.timed_calls),
        (100, Some(100), Some(100))
    );
    assert!(u.latency_avg_ns >= Some(100_000), "{u:?}");
    for other in ["tenant", "batch"] {
        assert!(container(&r, other).uprobes.is_empty(), "{other}");
    }
    assert_eq!(r.containers.len(), 3, "tenant, web and batch only");
}
