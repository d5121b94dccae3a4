//! The analyses on hand-made record sequences: the cases a real recording
//! cannot be made to show on demand.

use perfns::attr::{flags, AttrSet, EventAttr, EventDesc, SampleFormat};
use perfns::container::{RecordingMeta, RecordingMode, RecordingScope, META_VERSION};
use perfns::perf_data::{Features, TracepointFormatText, TracingData};
use perfns::record::{Cgroup, Record, Sample, SampleId, Switch, TaskEvent};

use super::Analysis;

/// An analysis of a recording with only switch records, made in `mode`.
fn switch_analysis(mode: RecordingMode) -> Analysis {
    let attr = EventAttr {
        flags: flags::CONTEXT_SWITCH | flags::SAMPLE_ID_ALL,
        ..EventAttr::default()
    };
    let events = AttrSet::new(vec![EventDesc {
        attr,
        ids: vec![],
        name: "dummy:u".into(),
    }])
    .expect("one event");
    let meta = RecordingMeta {
        version: META_VERSION,
        mode,
        scope: RecordingScope::System,
        host: 1,
        containers: vec![],
        tasks: vec![],
        lost: vec![],
    };
    let features = Features {
        perfns: Some(meta.to_json()),
        ..Features::default()
    };
    Analysis::new("test".into(), &events, &features, &[])
}

fn id(tid: i32, time: u64, cpu: u32) -> SampleId {
    SampleId {
        pid: Some(tid),
        tid: Some(tid),
        time: Some(time),
        id: None,
        stream_id: None,
        cpu: Some(cpu),
    }
}

fn switch(out: bool, tid: i32, time: u64, cpu: u32) -> Record<'static> {
    Record::Switch(Switch {
        out,
        preempt: false,
        next_prev: None,
        sample_id: id(tid, time, cpu),
    })
}

fn exit(tid: i32, time: u64, cpu: u32) -> Record<'static> {
    Record::Exit(TaskEvent {
        pid: tid,
        ppid: 1,
        tid,
        ptid: 1,
        time,
        sample_id: id(tid, time, cpu),
    })
}

fn cpu_of(a: &Analysis, tid: i32) -> u64 {
    a.tasks
        .iter()
        .filter(|t| t.tid == tid)
        .map(|t| t.cpu_ns)
        .sum()
}

fn feed(a: &mut Analysis, records: &[Record<'_>]) {
    for r in records {
        a.record(0, r);
    }
}

/// A kernel with the series' exit fix: EXIT, then the final switch out
/// (naming the reaped task -1). The task ran until that switch, and
/// nothing is missing.
#[test]
fn a_task_runs_from_its_exit_to_its_final_switch_out() {
    let mut a = switch_analysis(RecordingMode::TracerScope);
    feed(
        &mut a,
        &[
            switch(false, 5, 1_000, 0),
            exit(5, 1_500, 0),
            switch(true, -1, 1_600, 0),
            switch(false, 6, 2_000, 0),
            switch(true, 6, 2_300, 0),
        ],
    );
    a.charge_running(2_300);
    assert_eq!(cpu_of(&a, 5), 600);
    assert_eq!(cpu_of(&a, 6), 300);
    assert_eq!(a.switch_gaps, 0);
    assert_eq!(a.unattributed_ns, 0);
}

/// The series' first version: a tracer-scoped reader got no switch out
/// after a task's EXIT; nor does a per-task event ever (perfns record -p,
/// perf record -p --switch-events: its PERF_RECORD_SWITCH records, told
/// apart from the records alone, so in any mode), as the task's events
/// leave it at its exit, before its final switch. The task
/// is charged until its EXIT, when the next task comes in, and that is no
/// missing switch.
#[test]
fn without_a_final_switch_out_a_task_ran_until_its_exit() {
    for mode in [RecordingMode::TracerScope, RecordingMode::SystemWide] {
        let mut a = switch_analysis(mode);
        feed(
            &mut a,
            &[
                switch(false, 5, 1_000, 0),
                exit(5, 1_500, 0),
                switch(false, 6, 2_000, 0),
                switch(true, 6, 2_300, 0),
                // On CPU 1, a task that exits and is still current at the end.
                switch(false, 7, 1_000, 1),
                exit(7, 1_200, 1),
            ],
        );
        a.charge_running(3_000);
        assert_eq!(cpu_of(&a, 5), 500, "{mode:?}");
        assert_eq!(cpu_of(&a, 6), 300, "{mode:?}");
        assert_eq!(cpu_of(&a, 7), 200, "{mode:?}");
        assert_eq!(a.switch_gaps, 0);
        assert_eq!(a.unattributed_ns, 0);
        // Per-task records: known from the records alone, as in perf's.
        assert!(a.task_switches);
    }
}

/// A switch out that no switch in preceded on its CPU, after another
/// task's switch out, is a missing switch: counted, and its time charged
/// to no one.
#[test]
fn a_switch_out_after_a_switch_out_is_a_gap() {
    let mut a = switch_analysis(RecordingMode::SystemWide);
    feed(
        &mut a,
        &[
            switch(false, 5, 1_000, 0),
            switch(true, 5, 1_400, 0),
            switch(true, 6, 2_000, 0),
        ],
    );
    assert_eq!(cpu_of(&a, 5), 400);
    assert_eq!(cpu_of(&a, 6), 0);
    assert_eq!(a.switch_gaps, 1);
    assert_eq!(a.unattributed_ns, 600);
}

/// kmem:mm_page_alloc's and mm_page_free's formats, as tracefs gave them
/// (src/tracepoint/testdata/README.md).
const MM_PAGE_ALLOC: &str = include_str!("../../../src/tracepoint/testdata/mm_page_alloc.format");
const MM_PAGE_FREE: &str = include_str!("../../../src/tracepoint/testdata/mm_page_free.format");

/// An analysis of a recording of kmem:mm_page_alloc (event 0) and
/// kmem:mm_page_free (event 1).
fn kmem_analysis() -> Analysis {
    kmem_analysis_with(MM_PAGE_ALLOC)
}

/// [`kmem_analysis`] with mm_page_alloc's format text `alloc_format`.
fn kmem_analysis_with(alloc_format: &str) -> Analysis {
    let tracepoint = |config, name: &str| EventDesc {
        attr: EventAttr {
            kind: perfns::attr::kind::TRACEPOINT,
            config,
            sample_type: SampleFormat::IDENTIFIER
                | SampleFormat::TID
                | SampleFormat::TIME
                | SampleFormat::CPU
                | SampleFormat::RAW,
            ..EventAttr::default()
        },
        ids: vec![],
        name: name.into(),
    };
    let events = AttrSet::new(vec![
        tracepoint(653, "kmem:mm_page_alloc"),
        tracepoint(655, "kmem:mm_page_free"),
    ])
    .expect("two events");
    let text = |text: &str| TracepointFormatText {
        system: "kmem".into(),
        text: text.into(),
    };
    let features = Features {
        tracing_data: Some(TracingData::new(
            String::new(),
            String::new(),
            vec![text(alloc_format), text(MM_PAGE_FREE)],
        )),
        ..Features::default()
    };
    Analysis::new("test".into(), &events, &features, &[])
}

/// A kmem sample of `tid` with this `common_flags` and `order`.
fn page_sample(tid: i32, time: u64, common_flags: u8, order: u32) -> Record<'static> {
    let mut raw = vec![0u8; 40];
    raw[2] = common_flags;
    raw[4..8].copy_from_slice(&tid.to_ne_bytes());
    raw[16..20].copy_from_slice(&order.to_ne_bytes());
    raw_sample(tid, time, raw)
}

/// A sample of `tid` on CPU 0 with payload `raw`.
fn raw_sample(tid: i32, time: u64, raw: Vec<u8>) -> Record<'static> {
    Record::Sample(Sample {
        id: id(tid, time, 0),
        ip: None,
        addr: None,
        period: None,
        callchain: None,
        raw: Some(raw.into()),
        regs_user: None,
        stack_user: None,
        cgroup: None,
        misc: 0,
    })
}

/// Pages allocated or freed in hard or soft interrupt or NMI context
/// (common_flags 0x08, 0x10, 0x40) are for whoever caused the interrupt,
/// not for the task it interrupted: charged to no task, counted apart and
/// said. Interrupts or bottom halves merely disabled (0x01, 0x80) are
/// still the task's own work.
#[test]
fn interrupt_context_page_traffic_is_charged_to_no_task() {
    const IRQS_OFF: u8 = 0x01;
    const HARDIRQ: u8 = 0x08;
    const SOFTIRQ: u8 = 0x10;
    const NMI: u8 = 0x40;
    const BH_OFF: u8 = 0x80;
    let mut a = kmem_analysis();
    let (alloc, free) = (0, 1);
    for (event, record) in [
        (alloc, page_sample(5, 1_000, 0, 0)),
        (alloc, page_sample(5, 1_100, IRQS_OFF | BH_OFF, 1)),
        (alloc, page_sample(5, 1_200, IRQS_OFF | HARDIRQ, 2)),
        (alloc, page_sample(5, 1_300, SOFTIRQ, 0)),
        (alloc, page_sample(5, 1_400, IRQS_OFF | NMI, 3)),
        (free, page_sample(5, 1_500, 0, 1)),
        (free, page_sample(5, 1_600, SOFTIRQ | BH_OFF, 2)),
    ] {
        a.record(event, &record);
    }
    let task = a.tasks.iter().find(|t| t.tid == 5).expect("task 5");
    assert_eq!(task.memory.pages_allocated, 1 + 2);
    assert_eq!(task.memory.pages_freed, 2);
    assert_eq!(
        task.memory.allocations_by_order,
        [(0, 1), (1, 1)].into_iter().collect()
    );

    let report = a.finish(&crate::Options::default()).expect("report");
    let m = report
        .header
        .memory_in_interrupts
        .as_ref()
        .expect("interrupt-context figures");
    assert_eq!(
        (m.pages_allocated, m.pages_freed, m.pages_net),
        (4 + 1 + 8, 4, 9)
    );
    assert_eq!(
        m.allocations_by_order,
        [(0, 1), (2, 1), (3, 1)].into_iter().collect()
    );
    assert!(
        report.header.notes.contains(
            &"3 page allocations (13 pages) and 4 pages freed in interrupt context (hard or \
              soft IRQ, NMI), charged to no container"
                .to_owned()
        ),
        "{:?}",
        report.header.notes
    );
    let charged: u64 = report
        .containers
        .iter()
        .map(|c| c.own.memory.pages_allocated)
        .sum();
    assert_eq!(charged, 3);
}

/// Without interrupt-context traffic the report says nothing of it.
#[test]
fn no_interrupt_context_page_traffic_no_note() {
    let mut a = kmem_analysis();
    a.record(0, &page_sample(5, 1_000, 0x01, 0));
    let report = a.finish(&crate::Options::default()).expect("report");
    assert_eq!(report.header.memory_in_interrupts, None);
    assert!(report.header.notes.iter().all(|n| !n.contains("interrupt")));
}

/// A field the analysis reads as an integer that the format declares as
/// something else leaves its event undecoded, said once when the analysis
/// starts (the fields are placed then), instead of counting every sample
/// as an error.
#[test]
fn an_integer_field_that_is_not_a_scalar_leaves_its_event_undecoded() {
    let alloc = MM_PAGE_ALLOC.replace("unsigned int order;", "char order[4];");
    assert_ne!(alloc, MM_PAGE_ALLOC);
    let mut a = kmem_analysis_with(&alloc);
    a.record(0, &page_sample(5, 1_000, 0, 1));
    a.record(1, &page_sample(5, 1_100, 0, 1));
    let task = a.tasks.iter().find(|t| t.tid == 5).expect("task 5");
    // The free of an order-1 block (2 pages) counts, the allocation not.
    assert_eq!(task.memory.pages_freed, 2);
    assert_eq!(task.memory.pages_allocated, 0);
    assert_eq!(a.errors, 0);
    let report = a.finish(&crate::Options::default()).expect("report");
    assert!(
        report
            .header
            .notes
            .iter()
            .any(|n| n.starts_with("kmem:mm_page_alloc is not decoded")
                && n.contains("order")
                && n.contains("not a scalar")),
        "{:?}",
        report.header.notes
    );
}

/// A live analysis: a task running across an interval's end is charged up
/// to it in the first interval and from it in the next; a task that exited
/// is kept one interval more (its last switch out may come), then
/// forgotten.
#[test]
fn intervals_split_cpu_time_at_their_end_and_forget_exited_tasks() {
    let mut a = switch_analysis(RecordingMode::SystemWide);
    a.live = true;
    let options = crate::Options::default();
    let host_cpu = |r: &crate::model::Report| r.containers[0].total.cpu.time_ns;
    feed(
        &mut a,
        &[
            switch(false, 5, 1_000, 0),
            switch(false, 7, 1_100, 1),
            exit(7, 1_400, 1),
            switch(true, 7, 1_500, 1),
        ],
    );
    // 5 runs 1000..2000 (on at the end); 7 ran 1100..1500.
    let first = a.interval(1_000, 2_000, &options).expect("a report");
    assert_eq!(host_cpu(&first), 1_000 + 400);
    assert_eq!(first.header.time.duration_ns, 1_000);
    assert_eq!(a.tasks_held(), 2, "7 exited this interval: kept one more");
    feed(&mut a, &[switch(true, 5, 2_250, 0)]);
    let second = a.interval(2_000, 3_000, &options).expect("a report");
    // 5 from the interval's start to its switch out.
    assert_eq!(host_cpu(&second), 250);
    assert_eq!(cpu_of(&a, 5), 0, "figures start again from zero");
    assert_eq!(a.tasks_held(), 1, "7 is forgotten");
    // Nothing runs: an empty interval.
    let third = a.interval(3_000, 4_000, &options).expect("a report");
    assert_eq!(host_cpu(&third), 0);
}

/// A live analysis forgets the path of a cgroup no task has been in for
/// CGROUP_FORGET_AFTER intervals (containers made and removed all day must
/// not pile up), and keeps the one a task is in.
#[test]
fn intervals_forget_the_cgroups_no_task_is_in() {
    use super::live::CGROUP_FORGET_AFTER;
    let mut a = switch_analysis(RecordingMode::SystemWide);
    a.live = true;
    let options = crate::Options::default();
    let cgroup = |id: u64, path: &str| {
        Record::Cgroup(Cgroup {
            id,
            path: path.into(),
            sample_id: id_of_host(),
        })
    };
    feed(
        &mut a,
        &[
            cgroup(41, "/perfns/gone"),
            cgroup(42, "/perfns/kept"),
            switch(false, 5, 1_000, 0),
        ],
    );
    a.task(5).cgroup = Some(42);
    let mut t = 1_000;
    for _ in 0..CGROUP_FORGET_AFTER - 1 {
        a.interval(t, t + 1_000, &options).expect("a report");
        t += 1_000;
    }
    assert_eq!(a.cgroups_held(), 2, "within the grace: both kept");
    a.interval(t, t + 1_000, &options).expect("a report");
    assert_eq!(a.cgroups_held(), 1);
    assert_eq!(a.cgroups.get(&42).map(String::as_str), Some("/perfns/kept"));
}

fn id_of_host() -> SampleId {
    id(0, 0, 0)
}

/// An analysis of a recording made with `perfns record --uprobe X:f
/// --uprobe X:f%return`: events 0 and 1, of the uprobe PMU (type 8 here).
fn uprobe_analysis() -> Analysis {
    let attr = EventAttr {
        kind: 8,
        sample_type: SampleFormat(
            SampleFormat::IDENTIFIER.0
                | SampleFormat::TID.0
                | SampleFormat::TIME.0
                | SampleFormat::RAW.0,
        ),
        flags: flags::SAMPLE_ID_ALL,
        ..EventAttr::default()
    };
    let ret = EventAttr {
        config: 1,
        ..attr.clone()
    };
    let events = AttrSet::new(vec![
        EventDesc {
            attr,
            ids: vec![1],
            name: "uprobes:f".into(),
        },
        EventDesc {
            attr: ret,
            ids: vec![2],
            name: "uprobes:f__return".into(),
        },
    ])
    .expect("two events");
    Analysis::new("test".into(), &events, &Features::default(), &[])
}

fn hit(tid: i32, time: u64) -> Record<'static> {
    raw_sample(tid, time, vec![0; 16])
}

/// Entries wait per thread for their returns, innermost first: a
/// recursive call is timed from its own entry, two threads in the same
/// function do not mix, and a return whose entry came before the
/// recording counts, untimed.
#[test]
fn uprobe_calls_pair_per_thread_innermost_first() {
    let mut a = uprobe_analysis();
    assert_eq!(a.probes.len(), 1);
    assert!(a.probes[0].has_return);
    let (entry, ret) = (0, 1);
    for (event, tid, t) in [
        // Thread 7 returns from a call it made before the recording.
        (ret, 7, 50),
        // Thread 5 calls f, which calls f; thread 6 calls f between.
        (entry, 5, 100),
        (entry, 6, 150),
        (entry, 5, 200),
        (ret, 5, 230),
        (ret, 6, 1_150),
        (ret, 5, 1_100),
    ] {
        a.record(event, &hit(tid, t));
    }
    let tally = |tid: i32| {
        let t = a.tasks.iter().find(|t| t.tid == tid).expect("the task");
        t.uprobes[&0].figures(&a.probes[0])
    };
    let five = tally(5);
    assert_eq!(
        (five.hits, five.returns, five.timed_calls),
        (2, Some(2), Some(2))
    );
    // 30 ns inside, 1000 ns outside.
    assert_eq!(five.latency_total_ns, Some(1_030));
    assert_eq!(five.latency_max_ns, Some(1_000));
    assert_eq!(five.latency_avg_ns, Some(515));
    assert_eq!(tally(6).latency_total_ns, Some(1_000));
    let seven = tally(7);
    assert_eq!(
        (seven.hits, seven.returns, seven.timed_calls),
        (0, Some(1), Some(0))
    );
}

/// Uprobes recorded that no task hit: the report says so rather than
/// leaving the table out, and the JSON keeps every container's `uprobes`
/// out.
#[test]
fn uprobes_without_hits_are_said_to_have_none() {
    let report = uprobe_analysis()
        .finish(&crate::Options::default())
        .expect("a report");
    assert!(report.header.uprobes_recorded);
    assert!(report.containers.iter().all(|c| c.uprobes.is_empty()));
    let table = crate::render::table(&report, None);
    assert!(table.ends_with("\nUprobes (own): no hits\n"), "{table}");
    let csv = crate::render::csv(&report);
    assert!(csv.ends_with("\nsection,key,probe,hits,returns,timed_calls,latency_total_ns,latency_avg_ns,latency_max_ns,latency_p50_ns,latency_p99_ns\n"), "{csv}");
    assert!(!crate::render::json(&report).contains("\"uprobes\": ["));
}
