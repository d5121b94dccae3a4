//! The JSON and CSV exports read back, as a script or another tool reads
//! them, and their figures checked against what the recordings' workloads
//! are known to have done (testdata/README.md): exact system call counts,
//! CPU time within the burn's tolerance, pages at least those touched.
//! Unlike the snapshots, these fail on a figure that is wrong, not only on
//! one that changed.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use perfns_report::{render, report, Options};
use serde_json::Value;

fn testdata(name: &str) -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata")).join(name)
}

/// One container's figures, as an export says them.
#[derive(Debug, Default, Clone, PartialEq)]
struct Figures {
    parent: Option<String>,
    cpu_ns: u64,
    own_cpu_ns: u64,
    pages_allocated: u64,
    pages_freed: u64,
    calls: u64,
    errors: u64,
    /// Own system calls by name: (calls, errors), the top ones.
    top: BTreeMap<String, (u64, u64)>,
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The figures of each container by name, from `render::json`'s text.
fn from_json(text: &str) -> BTreeMap<String, Figures> {
    let doc: Value = serde_json::from_str(text).expect("the JSON export parses");
    assert_eq!(doc["schema"], "perfns-report/2");
    let containers = doc["containers"].as_array().expect("containers");
    let name_of: BTreeMap<&str, &str> = containers
        .iter()
        .map(|c| (c["key"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    containers
        .iter()
        .map(|c| {
            let top = c["top_syscalls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let name = s["name"].as_str().unwrap().to_owned();
                    (name, (u(&s["calls"]), u(&s["errors"])))
                })
                .collect();
            let f = Figures {
                parent: c["parent"].as_str().map(|p| name_of[p].to_owned()),
                cpu_ns: u(&c["total"]["cpu"]["time_ns"]),
                own_cpu_ns: u(&c["own"]["cpu"]["time_ns"]),
                pages_allocated: u(&c["total"]["memory"]["pages_allocated"]),
                pages_freed: u(&c["total"]["memory"]["pages_freed"]),
                calls: u(&c["total"]["syscalls"]["calls"]),
                errors: u(&c["total"]["syscalls"]["errors"]),
                top,
            };
            (c["name"].as_str().unwrap().to_owned(), f)
        })
        .collect()
}

/// The same from `render::csv`'s text: blank-line separated sections,
/// each with a header row naming its columns.
fn from_csv(text: &str) -> BTreeMap<String, Figures> {
    let mut out: BTreeMap<String, Figures> = BTreeMap::new();
    let mut name_of: BTreeMap<String, String> = BTreeMap::new();
    for block in text.split("\n\n") {
        let mut rows = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(block.as_bytes());
        let head = rows.headers().expect("a header row").clone();
        let col = |name: &str| {
            head.iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("no column {name} in {head:?}"))
        };
        for row in rows.records() {
            let row = row.expect("a CSV row");
            let n = |name: &str| -> u64 {
                row[col(name)]
                    .parse()
                    .unwrap_or_else(|e| panic!("{name} {:?}: {e}", &row[col(name)]))
            };
            match &row[0] {
                "cputop" => {
                    name_of.insert(row[col("key")].to_owned(), row[col("name")].to_owned());
                    let f = out.entry(row[col("name")].to_owned()).or_default();
                    let parent = &row[col("parent")];
                    f.parent = (!parent.is_empty()).then(|| name_of[parent].clone());
                    f.cpu_ns = n("cpu_ns");
                    f.own_cpu_ns = n("own_cpu_ns");
                }
                "memtop" => {
                    let f = out.get_mut(&row[col("name")]).expect("cputop first");
                    f.pages_allocated = n("pages_allocated");
                    f.pages_freed = n("pages_freed");
                }
                "syscalls" => {
                    let f = out.get_mut(&row[col("name")]).expect("cputop first");
                    f.calls = n("calls");
                    f.errors = n("errors");
                }
                "top_syscalls" => {
                    let name = &name_of[&row[col("key")]];
                    let f = out.get_mut(name).expect("cputop first");
                    f.top
                        .insert(row[col("syscall")].to_owned(), (n("calls"), n("errors")));
                }
                _ => {}
            }
        }
    }
    out
}

/// Both exports of `name`, which must say the same.
fn exports(name: &str) -> BTreeMap<String, Figures> {
    let r = report(&testdata(name), &Options::default(), &mut |_| {}).expect("it reports");
    let json = from_json(&render::json(&r));
    let csv = from_csv(&render::csv(&r));
    assert_eq!(json, csv, "the JSON and CSV exports of {name} differ");
    json
}

/// `got` ns is `ms` of a burn: the switch timestamps and the kernel's
/// CPU-time clock differ by up to 2% below; exec and exit add up to 15%
/// + 30 ms above (as perfns-record's tests allow).
fn burned(got: u64, ms: u64) -> bool {
    let got = got / 1_000_000;
    got >= ms * 98 / 100 && got <= ms * 115 / 100 + 30
}

#[test]
fn two_containers_exports_say_what_the_workloads_did() {
    let c = exports("two-containers.data");
    let (busy, calm) = (&c["busy"], &c["calm"]);
    // The report lists the host's containers beside the host, as roots.
    assert_eq!((&busy.parent, &calm.parent), (&None, &None));
    // perfns-workload: calm makes exactly 1500 getppid, busy none.
    assert_eq!(calm.top.get("getppid"), Some(&(1500, 0)), "{calm:?}");
    assert_eq!(busy.top.get("getppid"), None, "{busy:?}");
    // busy burns 300 ms, calm 150 ms.
    assert!(burned(busy.cpu_ns, 300), "{busy:?}");
    assert!(burned(calm.cpu_ns, 150), "{calm:?}");
    // busy touches 2 MiB: 512 pages at least, all freed at its exit.
    assert!(busy.pages_allocated >= 512, "{busy:?}");
    assert!(busy.pages_freed >= 512, "{busy:?}");
    assert!(calm.pages_allocated < 512, "{calm:?}");
}

#[test]
fn nested_exports_say_what_the_workloads_did() {
    let c = exports("nested.data");
    let (outer, inner) = (&c["outer"], &c["inner"]);
    assert_eq!(inner.parent.as_deref(), Some("outer"));
    assert_eq!(outer.parent, None);
    assert_eq!(outer.top.get("getppid"), Some(&(100, 0)), "{outer:?}");
    assert_eq!(inner.top.get("getppid"), Some(&(300, 0)), "{inner:?}");
    assert!(burned(inner.cpu_ns, 100), "{inner:?}");
    // outer's total is its own and inner's.
    assert_eq!(outer.cpu_ns, outer.own_cpu_ns + inner.cpu_ns, "{outer:?}");
}

#[test]
fn perf_recording_exports_say_what_the_workloads_did() {
    let c = exports("containers-tracepoints.data");
    // `workload sys 300`: 300 getppid, none failing; 300 close(-1), each
    // failing with EBADF (and a few closes of its start that succeed).
    let sys = &c["sys"];
    assert_eq!(sys.top.get("getppid"), Some(&(300, 0)), "{sys:?}");
    let (closes, failed) = sys.top["close"];
    assert!(closes >= 300 && failed == 300, "{sys:?}");
    // `workload mem 2` touches 2 MiB: 512 pages at least.
    assert!(c["mem"].pages_allocated >= 512, "{:?}", c["mem"]);
    // big burns twice small's loop iterations, on the same CPU.
    let ratio = c["big"].cpu_ns as f64 / c["small"].cpu_ns as f64;
    assert!((1.8..=2.2).contains(&ratio), "big / small CPU {ratio:.3}");
    assert_eq!(c["inner"].parent.as_deref(), Some("outer"));
}

/// `(section, key) -> (id, labels)` of the CSV's container blocks.
fn csv_identities(text: &str) -> BTreeMap<(String, String), (String, String)> {
    let mut out = BTreeMap::new();
    for block in text.split("\n\n") {
        let mut rows = csv::Reader::from_reader(block.as_bytes());
        let head = rows.headers().expect("a header row").clone();
        let (Some(id), Some(labels)) = (
            head.iter().position(|h| h == "id"),
            head.iter().position(|h| h == "labels"),
        ) else {
            continue;
        };
        for row in rows.records() {
            let row = row.expect("a CSV row");
            out.insert(
                (row[0].to_owned(), row[1].to_owned()),
                (row[id].to_owned(), row[labels].to_owned()),
            );
        }
    }
    out
}

#[test]
fn csv_carries_the_runtime_id_and_labels_as_json_does() {
    let mut r = report(
        &testdata("two-containers.data"),
        &Options::default(),
        &mut |_| {},
    )
    .expect("it reports");
    // What perfns record reads of a Docker container, with labels whose
    // values need CSV's quoting and the encoding's own characters.
    let id = "bf720bb0500b1faa1ebae790d5264552b13f96ca071b52425dd5118c5d3a00bc";
    let labels: BTreeMap<String, String> = [
        ("app", "shop"),
        ("tier", "front, \"end\"; a=b"),
        ("empty", ""),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    let busy = r.containers.iter_mut().find(|c| c.name == "busy").unwrap();
    busy.id = Some(id.to_owned());
    busy.labels.clone_from(&labels);
    let busy_key = busy.key.clone();

    let json: Value = serde_json::from_str(&render::json(&r)).unwrap();
    let from_json = json["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == busy_key.as_str())
        .unwrap();
    assert_eq!(from_json["id"], id);

    let csv = csv_identities(&render::csv(&r));
    for section in ["cputop", "memtop", "syscalls"] {
        let (got_id, got_labels) = &csv[&(section.to_owned(), busy_key.clone())];
        assert_eq!(got_id, id, "{section}");
        // The labels column is the JSON object the JSON export has.
        let got: Value = serde_json::from_str(got_labels).unwrap();
        assert_eq!(got, from_json["labels"], "{section}");
        let got: BTreeMap<String, String> = serde_json::from_value(got).unwrap();
        assert_eq!(got, labels, "{section}");
        // A container without them: both columns empty.
        let (host_id, host_labels) = &csv[&(section.to_owned(), "host".to_owned())];
        assert_eq!((host_id.as_str(), host_labels.as_str()), ("", ""));
    }
}
