//! `perfns report --profile` of a `perfns record --profile --call-graph
//! dwarf` recording on the host's kernel: profile-burn, compiled without
//! frame pointers, runs in two containers; each container's profile has
//! its two hot functions 2:1, and their caller perfns_burn_round in every
//! one of their stacks, which only unwinding the copied user stacks gives
//! (the kernel's call chain of a dwarf sample stops at its leaf).

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::profile_function;
use nix::sys::signal::Signal;
use perfns_record::testing::{
    profile_burn_binary_without_frame_pointers, TestContainer, BURN_ROUND_SYMBOL, HOT_ONE_SYMBOL,
    HOT_TWO_SYMBOL,
};
use serde_json::Value;

/// The sampling rate: at 99 Hz a loaded machine gives too few samples for
/// the 5-point bound on the share.
const HZ: &str = "999";

#[test]
fn dwarf_samples_are_unwound_to_the_hot_functions_caller() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    let Some(exe) = perfns::testing::prerequisite(profile_burn_binary_without_frame_pointers())
    else {
        return;
    };
    let exe = exe.to_str().expect("a UTF-8 path").to_owned();
    let runs = [("dwarf-a", "3000"), ("dwarf-b", "2000")];
    let containers: Vec<TestContainer> = runs
        .iter()
        .map(|(name, ms)| TestContainer::spawn(name, &["gate", "exec", &exe, ms]).unwrap())
        .collect();
    let out = dir.path().join("dwarf.data");
    let out_arg = out.to_str().unwrap();
    let profile = format!("--profile={HZ}");
    let perfns = common::spawn_record(&[
        &profile,
        "--call-graph",
        "dwarf",
        "-e",
        "cpu",
        "-o",
        out_arg,
    ]);
    common::wait_for_recording(&out);
    common::release_and_wait(containers);
    common::signal(&perfns, Signal::SIGINT);
    let (status, stderr) = common::wait_with_stderr(perfns);
    assert!(status.success(), "perfns record: {stderr}");

    let report = Command::new(common::perfns_binary())
        .args([
            "report",
            "--profile",
            "--top",
            "100",
            "--format",
            "json",
            "-i",
        ])
        .arg(&out)
        .output()
        .expect("perfns report");
    assert!(report.status.success(), "{}", common::text(&report.stderr));
    let json: Value = serde_json::from_slice(&report.stdout).expect("JSON");
    for (name, ms) in runs {
        let c = json["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no container {name} in {json}"));
        let samples = c["profile"]["samples"].as_u64().unwrap();
        let (two, _) = profile_function(c, HOT_TWO_SYMBOL).unwrap_or_default();
        let (one, _) = profile_function(c, HOT_ONE_SYMBOL).unwrap_or_default();
        let (_, round) = profile_function(c, BURN_ROUND_SYMBOL).unwrap_or_default();
        let share = two as f64 / (two + one).max(1) as f64;
        eprintln!(
            "{name} ({ms} ms): {samples} samples, {HOT_TWO_SYMBOL} {two}, {HOT_ONE_SYMBOL} \
             {one} ({:.1}%), {BURN_ROUND_SYMBOL} total {round}; problems: {}",
            share * 100.0,
            json["profile"]["problems"]
        );
        // Nearly all its samples are in the two (the rest: its start and
        // the clock's reads).
        assert!(
            two + one >= samples * 8 / 10,
            "{name}: {two} + {one} of {samples}"
        );
        assert!(
            (share - 2.0 / 3.0).abs() <= 0.05,
            "{name}: {HOT_TWO_SYMBOL} {two}, {HOT_ONE_SYMBOL} {one}: {:.1}% of the two, not \
             66.7% (±5)",
            share * 100.0
        );
        // Every stack of the two goes through their caller: found only by
        // unwinding.
        assert!(
            round >= two + one,
            "{name}: {BURN_ROUND_SYMBOL} in {round} stacks, the two's {two} + {one}"
        );
    }
}
