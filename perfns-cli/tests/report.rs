//! The whole `perfns report` command, as a user runs it: the binary of
//! this package, over a testdata recording. (Its snapshots were
//! perfns-report's `cli__*` before the command's tests moved here.)

use std::path::{Path, PathBuf};
use std::process::Command;

use insta_cmd::assert_cmd_snapshot;

/// The `perfns` binary, run from the workspace's root.
fn perfns() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_perfns"));
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
