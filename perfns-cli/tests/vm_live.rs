//! The checks of the live end-to-end test (tests/vm/live-e2e.sh), run on
//! the host against what `perfns top` and `perfns trace` printed in the
//! VM, unprivileged in container T, in tracer scope. Ignored by a plain
//! `cargo test`: the script runs them (`-- --ignored`) with
//! PERFNS_VM_E2E_DIR naming the directory of those files.
//!
//! T's nested containers: for top, `web` burns 1000 ms and makes 1500
//! getppid calls, `batch` touches 8 MiB and burns 500 ms, each timed by
//! bash (`top-NAME.time`: user and system seconds, the workload's rusage);
//! for trace, `web` runs the workload's known calls with 5 getppid calls.
//! The sibling S beside T (comm `noisy-sibling`) does the same work under
//! other figures meanwhile: 3000 getppid calls and 1000 ms; the known
//! calls with 7 getppid calls, and 333-byte writes.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::known_syscalls::{calls_of, without_time, Known};
use common::top_frames::{assert_cpu_near, sum_container};
use serde_json::Value;

/// The workloads' figures (the script's).
const WEB_BURN_MS: u64 = 1000;
const BATCH_BURN_MS: u64 = 500;
const WEB_GETPPID: u64 = 1500;
const TRACED_GETPPID: usize = 5;
/// What only the sibling does: its getppid calls in the traced step, and
/// the size of its writes.
const SIBLING_TRACED_GETPPID: usize = 7;
const SIBLING_WRITE: &str = "count: 333";

/// The VM's files; an ignored test run without them is a mistake, not a
/// skip.
fn dir() -> PathBuf {
    std::env::var_os("PERFNS_VM_E2E_DIR")
        .map(PathBuf::from)
        .expect("PERFNS_VM_E2E_DIR names the VM's outputs (run tests/vm/live-e2e.sh)")
}

fn read(name: &str) -> String {
    let path = dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        let log = std::fs::read_to_string(dir().join("tenant.log")).unwrap_or_default();
        panic!("{}: {e}; T's log:\n{log}", path.display())
    })
}

/// A workload's CPU time as bash's `time` printed it (`%3U %3S`), in ns.
fn timed_ns(name: &str) -> u64 {
    let text = read(name);
    let secs: Vec<f64> = text
        .split_whitespace()
        .map(|w| w.parse().unwrap_or_else(|e| panic!("{name}: {w:?}: {e}")))
        .collect();
    assert_eq!(secs.len(), 2, "{name}: {text:?}");
    ((secs[0] + secs[1]) * 1e9).round() as u64
}

#[test]
#[ignore = "run by tests/vm/live-e2e.sh on the outputs it brings back from the VM"]
fn the_tenant_and_the_sibling_ran_to_their_end() {
    assert_eq!(
        read("exits").trim(),
        "T: exit 0; sibling: exit 0",
        "{}",
        read("tenant.log")
    );
}

#[test]
#[ignore = "run by tests/vm/live-e2e.sh on the outputs it brings back from the VM"]
fn top_as_the_tenant_adds_up_to_what_its_containers_did() {
    let text = read("top.jsonl");
    // top ended on the pipe the script closed: a broken pipe is success.
    assert_eq!(read("top.status").trim(), "0", "{}", read("top.log"));
    let frames: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for f in &frames {
        let names: Vec<String> = f["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{}:{}", c["name"], c["total"]["cpu_ns"]))
            .collect();
        println!("frame {} lost {}: {names:?}", f["interval"], f["lost"]);
    }
    assert!(frames.len() >= 3, "{text}");
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f["schema"], "perfns-top/1");
        assert_eq!(f["scope"], "tracer", "--scope auto chose the tracer scope");
        assert_eq!(f["interval"].as_u64(), Some(i as u64 + 1));
        assert_eq!(f["lost"], 0, "exact figures need no losses");
        if i > 0 {
            assert_eq!(f["start_ns"], frames[i - 1]["end_ns"]);
        }
        // T is the root, named by its hostname; web and batch under it;
        // nothing of the sibling, as a container or as a process.
        let containers = f["containers"].as_array().unwrap();
        let root = &containers[0];
        assert_eq!(
            (root["name"].as_str(), root["depth"].as_u64()),
            (Some("tenant"), Some(0))
        );
        for c in &containers[1..] {
            let name = c["name"].as_str().unwrap();
            assert!(["web", "batch"].contains(&name), "{name} in T's view: {f}");
            assert_eq!(c["parent"], root["key"], "{name}");
        }
        for c in containers {
            for p in c["processes"].as_array().unwrap() {
                assert_ne!(p["comm"], "noisy-sibling", "{f}");
            }
        }
    }
    // Web and batch were there from the first frame (waiting to start)
    // and gone from the last (which has the last of their records).
    for n in ["web", "batch"] {
        let seen = |f: &Value| {
            f["containers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["name"] == n)
        };
        assert!(seen(&frames[0]), "{n} in the first frame");
        assert!(
            !seen(frames.last().unwrap()),
            "{n} gone from the last frame"
        );
    }

    let (web, batch) = (
        sum_container(&frames, "web"),
        sum_container(&frames, "batch"),
    );
    let truth = [timed_ns("top-web.time"), timed_ns("top-batch.time")];
    println!(
        "web {web:?} (timed: {} ms), batch {batch:?} (timed: {} ms)",
        truth[0] / 1_000_000,
        truth[1] / 1_000_000
    );
    // Exact: every getppid call of web's, once; none in batch; none of
    // the sibling's 3000 anywhere.
    assert_eq!(web.getppid, WEB_GETPPID);
    assert_eq!(batch.getppid, 0);
    let all_getppid: u64 = frames
        .iter()
        .flat_map(|f| f["containers"].as_array().unwrap())
        .flat_map(|c| c["syscalls"].as_array().unwrap())
        .filter(|x| x["name"] == "getppid")
        .map(|x| x["calls"].as_u64().unwrap())
        .sum();
    assert!(
        all_getppid < WEB_GETPPID + 100,
        "{all_getppid} getppid calls in T: the sibling's 3000 are not T's"
    );
    // CPU: what the workload's rusage says, within 3% and 20 ms per
    // interval (the container also holds bash, which forks and waits for
    // the workload), and at least the burn.
    for ((name, s), (timed, burn_ms)) in [("web", &web), ("batch", &batch)]
        .into_iter()
        .zip(truth.into_iter().zip([WEB_BURN_MS, BATCH_BURN_MS]))
    {
        assert_cpu_near(name, s, timed);
        assert!(timed >= burn_ms * 1_000_000, "{name}: timed {timed} ns");
        assert!(s.cpu_ns >= burn_ms * 1_000_000 * 97 / 100, "{name}: {s:?}");
    }
}

#[test]
#[ignore = "run by tests/vm/live-e2e.sh on the outputs it brings back from the VM"]
fn a_text_frame_as_the_tenant_shows_its_containers() {
    let text = read("top-text.txt");
    println!("{text}");
    let rows: Vec<&str> = text.lines().collect();
    assert!(
        rows[0].starts_with("perfns top: interval 1 (") && rows[0].contains("tracer scope"),
        "{text}"
    );
    assert!(rows[1].starts_with("CONTAINER"), "{text}");
    assert!(rows[2].starts_with("tenant "), "{text}");
    let names: Vec<&str> = rows[2..]
        .iter()
        .take_while(|r| !r.trim().is_empty())
        .map(|r| r.split_whitespace().next().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["batch", "tenant", "web"], "{text}");
    assert!(!text.contains("sibling"), "{text}");
}

#[test]
#[ignore = "run by tests/vm/live-e2e.sh on the outputs it brings back from the VM"]
fn the_screen_as_the_tenant_shows_its_containers_and_quits() {
    let rows = read("screen-rows.txt");
    println!("{rows}");
    assert!(rows.contains("tracer scope"), "{rows}");
    for name in ["tenant", "web", "batch"] {
        assert!(
            rows.lines().any(|l| l
                .trim_start_matches(['+', '-', ' '])
                .starts_with(&format!("{name} "))),
            "no row of {name}:\n{rows}"
        );
    }
    assert!(!rows.contains("sibling"), "{rows}");
    assert!(rows.lines().all(|l| l.chars().count() <= 80), "{rows}");
    let end = read("screen-exit.txt");
    assert!(
        end.contains("perfns top exited 0"),
        "q did not end perfns top within 30 s (the screen loop that stops taking keys \
         under load?); its pane:\n{end}"
    );
}

#[test]
#[ignore = "run by tests/vm/live-e2e.sh on the outputs it brings back from the VM"]
fn trace_as_the_tenant_shows_every_known_call_and_none_of_the_siblings() {
    let trace = read("trace.txt");
    let stderr = read("trace-web.err");
    assert_eq!(read("trace.status").trim(), "0", "{stderr}");
    let known = Known::from_stderr(&stderr);
    // The workload is its container's init: pid 1 there, whose parent is
    // outside its pid namespace (getppid: 0). T's view of it is the pid
    // the script read from T's /proc (NSpid).
    assert_eq!(known.pid, 1, "{stderr}");
    let in_t: i32 = read("trace-web.pid").trim().parse().unwrap();
    let known = Known { pid: in_t, ..known };
    let expected = known.lines("web", TRACED_GETPPID, 0);
    assert_eq!(calls_of(&trace, in_t, &expected), expected, "{trace}");
    let getppid = trace
        .lines()
        .filter(|l| l.contains(" perfns-workload[") && l.contains("] getppid("))
        .count();
    assert_eq!(getppid, TRACED_GETPPID, "{trace}");
    // None of the sibling's: its comm, its 7 getppid calls, its 333-byte
    // writes, its failed kill (the workload's alone is there).
    assert!(!trace.contains("noisy-sibling"), "{trace}");
    assert!(!trace.contains(SIBLING_WRITE), "{trace}");
    assert_ne!(getppid, SIBLING_TRACED_GETPPID);
    let kills = trace.lines().filter(|l| l.contains("] kill(")).count();
    assert_eq!(kills, 1, "{trace}");
    for line in trace.lines() {
        let who = without_time(line);
        let container = who.split(' ').next().unwrap();
        assert!(
            ["host", "tenant", "web"].contains(&container),
            "a line from outside T: {line}"
        );
    }
}
