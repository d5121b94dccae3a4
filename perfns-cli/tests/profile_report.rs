//! `perfns report --profile` of Debian's `perf record -F 999 -g -a` on the
//! host's kernel: two containers run profile-burn, whose two hot functions
//! burn CPU time 2:1; each container's profile shows them in that
//! proportion, under their caller, and only in that container, with
//! exactly the samples perf script puts in them; the JSON, CSV, folded
//! stacks and flame graph say the same.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use nix::sys::signal::Signal;
use perfns_record::testing::{
    profile_burn_binary, TestContainer, BURN_ROUND_SYMBOL, HOT_ONE_SYMBOL, HOT_TWO_SYMBOL,
};
use serde_json::Value;

/// The containers, each burning this much CPU time in profile-burn.
const CONTAINERS: [&str; 2] = ["profile-a", "profile-b"];
const BURN_MS: u64 = 5000;
/// perf record's sampling frequency: 999 Hz rather than 99, so that the
/// 5-point bound on the 2:1 share is thousands of samples (at 99 Hz the
/// share ranged 0.636 to 0.702 in seven runs, a third of a point from
/// failing).
const HZ: u64 = 999;

/// `perfns report ARGS -i RECORDING`'s stdout; fails the test if it fails.
fn report(recording: &Path, args: &[&str]) -> String {
    let out = Command::new(common::perfns_binary())
        .arg("report")
        .args(args)
        .arg("-i")
        .arg(recording)
        .output()
        .expect("perfns report");
    assert!(
        out.status.success(),
        "perfns report {args:?}: {}",
        common::text(&out.stderr)
    );
    common::text(&out.stdout)
}

/// A function's (self, total) samples in a container's JSON profile.
fn function(c: &Value, name: &str) -> (u64, u64) {
    common::profile_function(c, name).unwrap_or_else(|| panic!("no {name} in {}", c["profile"]))
}

/// The folded stacks' counts summed by their first frame (the
/// container), and the lines.
fn folded_counts(folded: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in folded.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("STACK COUNT");
        let first = stack.split(';').next().unwrap().to_owned();
        *out.entry(first).or_default() += count.parse::<u64>().expect("a count");
    }
    out
}

/// Samples per process and innermost symbol, as `perf script` symbolizes
/// them: each sample is a `PID` line, then its call chain's frames, `IP
/// SYMBOL`, innermost first, then an empty line.
fn perf_leaf_counts(recording: &Path) -> BTreeMap<(i32, String), u64> {
    let text = common::perf_script(recording, &["-F", "pid,ip,sym"]);
    let mut out = BTreeMap::new();
    for sample in text.split("\n\n") {
        let mut lines = sample.lines().filter(|l| !l.trim().is_empty());
        let (Some(pid), Some(leaf)) = (lines.next(), lines.next()) else {
            continue;
        };
        let Ok(pid) = pid.trim().parse::<i32>() else {
            continue;
        };
        let symbol = leaf.split_whitespace().nth(1).unwrap_or("").to_owned();
        *out.entry((pid, symbol)).or_default() += 1;
    }
    out
}

#[test]
fn each_containers_profile_shows_its_hot_functions_two_to_one() {
    let Some((_serial, dir)) = common::perf_recording_test() else {
        return;
    };
    let Some(burn) = perfns::testing::prerequisite(profile_burn_binary()) else {
        return;
    };
    let burn_path = burn.display().to_string();
    let burn_ms = BURN_MS.to_string();
    let mut containers: Vec<TestContainer> = CONTAINERS
        .iter()
        .map(|name| TestContainer::spawn(name, &["gate", "exec", &burn_path, &burn_ms]).unwrap())
        .collect();
    let recording = dir.path().join("perf.data");
    let freq = HZ.to_string();
    let mut perf = common::start_perf_record(
        dir.path(),
        &["-F", &freq, "-g", "-e", "cpu-clock"],
        &recording,
    );
    for c in &mut containers {
        c.release().unwrap();
    }
    for c in containers {
        assert!(c.wait().unwrap().success());
    }
    common::signal(&perf, Signal::SIGINT);
    let status = common::wait_exit(&mut perf);
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.success() || status.signal() == Some(libc::SIGINT),
        "perf record: {status}"
    );

    let json: Value = serde_json::from_str(&report(
        &recording,
        &["--profile", "--top", "50", "--format", "json"],
    ))
    .expect("JSON");
    let folded = report(&recording, &["--format", "folded"]);
    let by_container = folded_counts(&folded);
    let csv = report(&recording, &["--profile", "--top", "50", "--format", "csv"]);
    let csv_rows: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_bytes())
        .records()
        .map(|r| r.expect("a CSV line"))
        .filter(|r| r.get(0) == Some("profile_functions"))
        .collect();
    let burn_file = burn.file_name().unwrap().to_str().unwrap();
    let perf_leaf = perf_leaf_counts(&recording);
    for name in CONTAINERS {
        let c = common::json_container(&json, name);
        let p = &c["profile"];
        let samples = p["samples"].as_u64().unwrap();
        // Every sample of its own tasks is in its profile.
        assert_eq!(Some(samples), c["own"]["cpu"]["samples"].as_u64(), "{name}");
        // cpu-clock samples CPU time: 5 s of it at HZ, ±20%.
        let expected = BURN_MS * HZ / 1000;
        assert!(
            samples * 10 >= expected * 8 && samples * 10 <= expected * 12,
            "{name}: {samples} samples, {expected} expected"
        );
        let (two, _) = function(c, HOT_TWO_SYMBOL);
        let (one, _) = function(c, HOT_ONE_SYMBOL);
        // Exactly the samples perf script puts in them, innermost, for
        // the container's profile-burn process.
        let pid = c["top_processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["comm"].as_str().unwrap().starts_with("profile-burn"))
            .unwrap_or_else(|| panic!("no profile-burn in {name}: {c}"))["pid"]
            .as_i64()
            .unwrap() as i32;
        for (symbol, ours) in [(HOT_TWO_SYMBOL, two), (HOT_ONE_SYMBOL, one)] {
            let theirs = perf_leaf.get(&(pid, symbol.to_owned())).copied();
            assert_eq!(Some(ours), theirs, "{name} (pid {pid}): {symbol}");
        }
        let share = two as f64 / (two + one) as f64;
        eprintln!(
            "{name}: {samples} samples, {HOT_TWO_SYMBOL} {two}, {HOT_ONE_SYMBOL} {one}: {share:.3}"
        );
        assert!(
            (share - 2.0 / 3.0).abs() <= 0.05,
            "{name}: {HOT_TWO_SYMBOL} {two}, {HOT_ONE_SYMBOL} {one}: {share:.3} of the two"
        );
        // Nearly all its samples are in the two (the rest: clock reads).
        assert!(
            two + one >= samples * 9 / 10,
            "{name}: {two} + {one} of {samples}"
        );
        let (_, round) = function(c, BURN_ROUND_SYMBOL);
        let (_, two_total) = function(c, HOT_TWO_SYMBOL);
        let (_, one_total) = function(c, HOT_ONE_SYMBOL);
        assert!(
            round >= two_total + one_total,
            "{name}: {BURN_ROUND_SYMBOL} {round} < {two_total} + {one_total}"
        );
        // The hot functions are named in profile-burn, found by the
        // mapping's path.
        for f in p["functions"].as_array().unwrap() {
            if f["function"] == HOT_TWO_SYMBOL || f["function"] == HOT_ONE_SYMBOL {
                assert!(
                    f["dso"].as_str().unwrap().ends_with(burn_file),
                    "{name}: {f}"
                );
            }
        }
        // The folded stacks add up to its samples.
        assert_eq!(by_container.get(name), Some(&samples), "{folded}");
        // The CSV's figures are the JSON's.
        let key = c["key"].as_str().unwrap();
        let two_row = csv_rows
            .iter()
            .find(|r| r.get(1) == Some(key) && r.get(2) == Some(HOT_TWO_SYMBOL))
            .unwrap_or_else(|| panic!("no CSV row of {HOT_TWO_SYMBOL} in {name}: {csv}"));
        assert_eq!(two_row.get(4), Some(two.to_string().as_str()), "{csv}");
    }
    // No frame of profile-burn's outside the two containers: every stack
    // through a hot function is one of theirs.
    for line in folded.lines() {
        if line.contains(HOT_TWO_SYMBOL) || line.contains(HOT_ONE_SYMBOL) {
            let first = line.split(';').next().unwrap();
            assert!(CONTAINERS.contains(&first), "{line}");
        }
    }
    // The counts of all containers' stacks are all samples.
    let all: u64 = json["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["profile"]["samples"].as_u64().unwrap())
        .sum();
    assert_eq!(by_container.values().sum::<u64>(), all);

    // One container's flame graph: an SVG that names its functions and
    // none of the other's stacks.
    let svg = dir.path().join("a.svg");
    let table = report(
        &recording,
        &[
            "--container",
            CONTAINERS[0],
            "--flamegraph",
            svg.to_str().unwrap(),
        ],
    );
    assert!(table.contains("\nProfile (own samples"), "{table}");
    let svg = std::fs::read_to_string(&svg).expect("the SVG");
    let mut reader = quick_xml::Reader::from_str(&svg);
    let mut texts = String::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Text(t)) => {
                texts.push_str(&t.decode().expect("text"));
                texts.push('\n');
            }
            Ok(_) => {}
            Err(e) => panic!("the SVG is not XML at {}: {e}", reader.buffer_position()),
        }
    }
    for name in [
        CONTAINERS[0],
        HOT_TWO_SYMBOL,
        HOT_ONE_SYMBOL,
        BURN_ROUND_SYMBOL,
    ] {
        assert!(texts.contains(name), "the SVG does not name {name}");
    }
    assert!(!texts.contains(CONTAINERS[1]), "{}", CONTAINERS[1]);
}

#[test]
fn profile_flags_are_checked_before_the_recording_is_read() {
    let out = Command::new(common::perfns_binary())
        .args([
            "report",
            "--profile",
            "--format",
            "parquet",
            "-o",
            "/dev/null",
        ])
        .args(["-i", "/nonexistent"])
        .output()
        .expect("perfns report");
    let stderr = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--profile's functions are not in the parquet rows"),
        "{stderr}"
    );
}

#[test]
fn a_flame_graph_of_no_samples_says_so() {
    // Tracepoints and switch records, no sampling event.
    let recording = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/two-containers.data");
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("none.svg");
    let out = Command::new(common::perfns_binary())
        .arg("report")
        .arg("--flamegraph")
        .arg(&svg)
        .arg("-i")
        .arg(&recording)
        .output()
        .expect("perfns report");
    let stderr = common::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "drawing the flame graph for {}: no samples in the containers reported",
            svg.display()
        )),
        "{stderr}"
    );
    assert!(!svg.exists());
    // The folded stacks of no samples are empty, not an error.
    assert_eq!(report(&recording, &["--format", "folded"]), "");
}
