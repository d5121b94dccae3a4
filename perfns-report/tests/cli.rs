//! The whole `perfns report` command, as a user runs it: the binary of the
//! perfns-cli package, over a testdata recording.

use std::path::{Path, PathBuf};
use std::process::Command;

use insta_cmd::assert_cmd_snapshot;

/// The `perfns` binary, built first if this test run has not (it belongs
/// to another package of the workspace, so Cargo does not build it for
/// this one's tests).
fn perfns() -> Command {
    let exe = insta_cmd::get_cargo_bin("perfns");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Build it with the profile of this test, whose directory holds both.
    let release = std::env::current_exe()
        .ok()
        .and_then(|test| Some(test.parent()?.parent()?.file_name()? == "release"))
        .unwrap_or(false);
    let mut build = Command::new(cargo);
    build.args(["build", "--quiet", "-p", "perfns-cli", "--bin", "perfns"]);
    if release {
        build.arg("--release");
    }
    let status = build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo build");
    assert!(status.success(), "cargo build -p perfns-cli failed");
    let mut cmd = Command::new(exe);
    // Relative paths make the snapshots the same in any checkout.
    cmd.current_dir(workspace());
    cmd
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn report_one_container_as_json_from_the_command_line() {
    let mut cmd = perfns();
    cmd.args([
        "report",
        "-i",
        "testdata/containers-tracepoints.data",
        "--per-container",
        "--container",
        "inner",
        "--format",
        "json",
        "--top",
        "2",
    ]);
    assert_cmd_snapshot!(cmd);
}

#[test]
fn report_a_time_window_as_csv() {
    let mut cmd = perfns();
    cmd.args([
        "report",
        "-i",
        "testdata/containers-switch.data",
        "--time",
        "247.2,247.4",
        "--format",
        "csv",
        "--flat",
    ]);
    assert_cmd_snapshot!(cmd);
}

#[test]
fn an_empty_file_is_an_error_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("perf.data"), b"").unwrap();
    let mut cmd = perfns();
    cmd.current_dir(dir.path()).args(["report"]);
    assert_cmd_snapshot!(cmd);
}

#[test]
fn a_bad_time_range_is_refused_before_reading() {
    let mut cmd = perfns();
    cmd.args(["report", "-i", "nonexistent.data", "--time", "5,1"]);
    assert_cmd_snapshot!(cmd);
}
