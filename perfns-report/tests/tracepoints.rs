//! Tracepoints counted per container by name, from a recording written
//! here byte by byte: the host and two containers write user events of
//! three groups (the initial tracer namespace's `user_events`, and tracer
//! namespace 7's `user_events_7` and `user_events_multi_7`),
//! `request_done` in two of them, and hit two tracepoints the report has
//! no table for (`sched:sched_wakeup`, `syscalls:sys_enter_getppid`);
//! each container's counts come out exactly, by full name, in the table
//! (one, the two kinds together), the JSON and the CSV (the user events
//! apart from the others). (The kernel here has no user events: the VM's
//! end-to-end test records real ones, perfns-record/tests/vm_tracer_scope.rs;
//! perfns-cli/tests/tracepoints.rs records real tracepoints here.)

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use perfns::attr::{flags, kind, EventAttr, EventDesc, SampleFormat};
use perfns::perf_data::{Features, PerfFileWriter, TracepointFormatText, TracingData};
use perfns::record::{ns_index, RawData, RecordHeader, RecordType};
use perfns_report::model::{ContainerReport, Report, TracepointCount};
use perfns_report::{render, report, Options};
use serde_json::Value;

/// The pid namespace of the initial (host) one: PROC_PID_INIT_INO.
const HOST_PID_NS: u64 = 0xEFFF_FFFC;
const FRONT_NS: u64 = 4_026_532_001;
const BACK_NS: u64 = 4_026_532_002;

/// The recording's events: `(name, tracepoint id)`; event `i` has sample
/// id `i + 1`. The last two are tracepoints that are no user events.
const EVENTS: [(&str, u64); 6] = [
    ("user_events:request_done", 1540),
    ("user_events_7:request_done", 1530),
    ("user_events_7:cache_miss", 1531),
    ("user_events_multi_7:flow.0", 1532),
    ("sched:sched_wakeup", 318),
    ("syscalls:sys_enter_getppid", 700),
];

/// What a writer writes: `(event, count)`, event an index in [`EVENTS`].
type Writes = &'static [(usize, u64)];

/// Who writes what: `(pid, comm, pid namespace, writes)`.
const WRITERS: [(i32, &str, u64, Writes); 3] = [
    (100, "hostd", HOST_PID_NS, &[(0, 2), (4, 9)]),
    // As many getppid calls as request_done writes: the table orders them
    // by name.
    (200, "front", FRONT_NS, &[(1, 30), (2, 3), (5, 30)]),
    (300, "back", BACK_NS, &[(1, 50), (3, 5)]),
];

const SAMPLE_TYPE: SampleFormat = SampleFormat(
    SampleFormat::IDENTIFIER.0
        | SampleFormat::TID.0
        | SampleFormat::TIME.0
        | SampleFormat::CPU.0
        | SampleFormat::RAW.0,
);

/// A format with the common fields (struct trace_entry), then `fields`,
/// as the kernel's f_show() writes it.
fn format_text(name: &str, id: u64, fields: &str) -> String {
    format!(
        "name: {name}\nID: {id}\nformat:\n\
         \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
         \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
         \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
         \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n{fields}\nprint fmt: \"\"\n"
    )
}

/// A record body in native byte order.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    /// The sample_id trailer of [`SAMPLE_TYPE`]: TID, TIME, CPU,
    /// IDENTIFIER.
    fn trailer(self, pid: i32, time: u64, id: u64) -> Self {
        self.u32(pid as u32)
            .u32(pid as u32)
            .u64(time)
            .u32(0)
            .u32(0)
            .u64(id)
    }
}

fn write(w: &mut PerfFileWriter, kind: RecordType, body: Body) {
    let header = RecordHeader {
        kind,
        misc: 0,
        size: (RecordHeader::SIZE + body.0.len()) as u16,
    };
    w.write_record(header, RawData::Single(&body.0)).unwrap();
}

/// The tracepoint events `(name, tracepoint id)`, event `i` with sample id
/// `i + 1`.
fn tracepoint_events(events: &[(&str, u64)]) -> Vec<EventDesc> {
    events
        .iter()
        .enumerate()
        .map(|(i, &(name, id))| EventDesc {
            attr: EventAttr {
                kind: kind::TRACEPOINT,
                config: id,
                sample_period: 1,
                sample_type: SAMPLE_TYPE,
                flags: flags::SAMPLE_ID_ALL,
                ..EventAttr::default()
            },
            ids: vec![i as u64 + 1],
            name: name.into(),
        })
        .collect()
}

/// The recording: each writer's COMM and NAMESPACES, then its samples,
/// each a trace_entry (common_pid 0, as the tracer scope gives it) and a
/// u32 sequence number.
fn write_recording(path: &Path) {
    let mut w = PerfFileWriter::create(path, &tracepoint_events(&EVENTS)).unwrap();
    let mut time = 1_000;
    for &(pid, comm, pid_ns, writes) in &WRITERS {
        let mut name = comm.as_bytes().to_vec();
        name.resize(8, 0);
        let mut body = Body::default().u32(pid as u32).u32(pid as u32);
        body.0.extend_from_slice(&name);
        write(&mut w, RecordType::COMM, body.trailer(pid, 0, 1));
        // Seven namespaces, the pid namespace's at PID_NS_INDEX.
        let mut body = Body::default().u32(pid as u32).u32(pid as u32).u64(7);
        for i in 0..7 {
            body = body.u64(4).u64(if i == ns_index::PID { pid_ns } else { 0 });
        }
        write(&mut w, RecordType::NAMESPACES, body.trailer(pid, 0, 1));
        for &(event, count) in writes {
            let (_, type_id) = EVENTS[event];
            for seq in 0..count {
                time += 10;
                let raw = Body::default()
                    .u32(type_id as u32) // common_type, flags, preempt_count
                    .u32(0) // common_pid
                    .u32(seq as u32);
                let sample = Body::default()
                    .u64(event as u64 + 1)
                    .u32(pid as u32)
                    .u32(pid as u32)
                    .u64(time)
                    .u32(0)
                    .u32(0)
                    .u32(raw.0.len() as u32);
                let mut sample = sample;
                sample.0.extend_from_slice(&raw.0);
                write(&mut w, RecordType::SAMPLE, sample);
            }
        }
    }
    let seq = "\tfield:u32 seq;\toffset:8;\tsize:4;\tsigned:0;\n";
    let text = |i: usize, fields: &str| {
        let (name, id) = EVENTS[i];
        let (system, name) = name.split_once(':').unwrap();
        TracepointFormatText {
            system: system.into(),
            text: format_text(name, id, fields),
        }
    };
    let features = Features {
        hostname: Some("host".into()),
        tracing_data: Some(TracingData::new(
            String::new(),
            String::new(),
            // The host's own event with its fields (root reads its
            // format), the tenant's with the common fields alone.
            vec![
                text(0, seq),
                text(1, ""),
                text(2, ""),
                text(3, ""),
                text(4, ""),
                text(5, ""),
            ],
        )),
        ..Features::default()
    };
    w.finish(&features).unwrap();
}

/// The counts each writer made, `(container key, event, count)`, of the
/// user events (`user_events`) or of the others.
fn expected(user_events: bool) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    for &(_, _, pid_ns, writes) in &WRITERS {
        let key = if pid_ns == HOST_PID_NS {
            "host".to_owned()
        } else {
            format!("pidns:{pid_ns}")
        };
        out.extend(
            writes
                .iter()
                .filter(|(event, _)| EVENTS[*event].0.starts_with("user_events") == user_events)
                .map(|&(event, n)| (key.clone(), EVENTS[event].0.to_owned(), n)),
        );
    }
    out
}

/// The figures of `list` in each container of `r`, `(key, event,
/// count)`, in the report's order.
fn figures_of(
    r: &Report,
    list: impl Fn(&ContainerReport) -> &[TracepointCount],
) -> Vec<(String, String, u64)> {
    r.containers
        .iter()
        .flat_map(|c| {
            list(c)
                .iter()
                .map(move |t| (c.key.clone(), t.event.clone(), t.count))
        })
        .collect()
}

#[test]
fn each_container_s_tracepoints_are_counted_by_full_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tracepoints.data");
    write_recording(&path);
    let mut r = report(&path, &Options::default(), &mut |_| {}).unwrap();
    r.header.file = "tracepoints.data".into();
    assert!(r.header.user_events_recorded && r.header.tracepoints_recorded);
    assert!(r.header.warnings.is_empty(), "{:?}", r.header.warnings);

    let user_events = figures_of(&r, |c| &c.user_events);
    let others = figures_of(&r, |c| &c.tracepoints);
    for (figures, user) in [(&user_events, true), (&others, false)] {
        let (mut got, mut want) = (figures.clone(), expected(user));
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }
    // Within a container, most first.
    for c in &r.containers {
        for list in [&c.user_events, &c.tracepoints] {
            let counts: Vec<u64> = list.iter().map(|u| u.count).collect();
            assert!(
                counts.windows(2).all(|w| w[0] >= w[1]),
                "{}: {counts:?}",
                c.key
            );
        }
    }

    // The JSON, read back: the same figures; a container that hit none
    // has no `user_events` or `tracepoints`.
    let json: Value = serde_json::from_str(&render::json(&r)).unwrap();
    assert_eq!(json["schema"], "perfns-report/2");
    assert_eq!(json["header"]["user_events_recorded"], true);
    assert_eq!(json["header"]["tracepoints_recorded"], true);
    for (field, figures) in [("user_events", &user_events), ("tracepoints", &others)] {
        let mut from_json = Vec::new();
        for c in json["containers"].as_array().unwrap() {
            for u in c[field].as_array().into_iter().flatten() {
                from_json.push((
                    c["key"].as_str().unwrap().to_owned(),
                    u["event"].as_str().unwrap().to_owned(),
                    u["count"].as_u64().unwrap(),
                ));
            }
        }
        assert_eq!(&from_json, figures, "{field}");
    }

    // The CSV's user_events and tracepoints blocks, read back by their
    // header line and section.
    let csv = render::csv(&r);
    for (section, figures) in [("user_events", &user_events), ("tracepoints", &others)] {
        let block: Vec<&str> = csv
            .split("\n\n")
            .filter(|b| b.starts_with("section,key,event,count\n"))
            .find(|b| {
                b.lines()
                    .nth(1)
                    .is_some_and(|l| l.starts_with(&format!("{section},")))
            })
            .unwrap_or_else(|| panic!("no {section} block in {csv}"))
            .lines()
            .skip(1)
            .collect();
        let from_csv: Vec<(String, String, u64)> = block
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                assert_eq!(f[0], section, "{l}");
                (f[1].to_owned(), f[2].to_owned(), f[3].parse().unwrap())
            })
            .collect();
        assert_eq!(&from_csv, figures, "{section}");
    }

    let table = render::table(&r, Some(120));
    insta::assert_snapshot!("tracepoints_table", table);
}

/// Tracepoints recorded that no task hit: said, not left out.
#[test]
fn tracepoints_none_hit_are_said_to_be_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.data");
    let events = tracepoint_events(&[
        ("user_events_7:request_done", 1530),
        ("syscalls:sys_enter_getppid", 700),
    ]);
    let w = PerfFileWriter::create(&path, &events).unwrap();
    w.finish(&Features::default()).unwrap();
    let r = report(&path, &Options::default(), &mut |_| {}).unwrap();
    assert!(r.header.user_events_recorded && r.header.tracepoints_recorded);
    assert!(r
        .containers
        .iter()
        .all(|c| c.user_events.is_empty() && c.tracepoints.is_empty()));
    let table = render::table(&r, None);
    assert!(
        table.ends_with("\nTracepoints (own): none hit\n"),
        "{table}"
    );
    assert!(render::csv(&r).ends_with("\nsection,key,event,count\n\nsection,key,event,count\n"));
    let json = render::json(&r);
    assert!(!json.contains("\"user_events\": [") && !json.contains("\"tracepoints\": ["));
}
