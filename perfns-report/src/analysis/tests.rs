//! The analyses on hand-made record sequences: the cases a real recording
//! cannot be made to show on demand.

use perfns::attr::{flags, AttrSet, EventAttr, EventDesc};
use perfns::container::{RecordingMeta, RecordingMode, RecordingScope, META_VERSION};
use perfns::perf_data::Features;
use perfns::record::{Record, SampleId, Switch, TaskEvent};

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
    Analysis::new("test".into(), &events, &features, None)
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
/// after a task's EXIT. The task is charged until its EXIT, when the next
/// task comes in, and that is no missing switch.
#[test]
fn without_a_final_switch_out_a_task_ran_until_its_exit() {
    let mut a = switch_analysis(RecordingMode::TracerScope);
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
    assert_eq!(cpu_of(&a, 5), 500);
    assert_eq!(cpu_of(&a, 6), 300);
    assert_eq!(cpu_of(&a, 7), 200);
    assert_eq!(a.switch_gaps, 0);
    assert_eq!(a.unattributed_ns, 0);
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
