//! `perfns report -i -`: a pipe-mode stream on stdin, as `perf record -o -
//! ... | perfns report -i -` gives it, and what is not one.

mod common;

use std::path::Path;
use std::process::Output;

use common::{output_with_stdin, perfns_binary};

/// Runs `perfns report -i - ARGS` with `input` on its stdin.
fn report_stdin(input: &[u8], args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(perfns_binary());
    cmd.args(["report", "-i", "-"]).args(args);
    output_with_stdin(cmd, input)
}

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata")
            .join(name),
    )
    .expect("a testdata file")
}

#[test]
fn a_pipe_mode_stream_on_stdin_is_reported() {
    // perf 6.1's `perf script` counts 42 and 2360 (testdata/README.md).
    let out = report_stdin(&testdata("perf-pipe.data"), &["--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(r#""file": "-""#), "{stdout}");
    assert!(stdout.contains(r#""pipe_mode": true"#), "{stdout}");
    let compact: String = stdout.split_whitespace().collect();
    assert!(
        compact.contains(r#"{"name":"sched:sched_switch","samples":42}"#),
        "{stdout}"
    );
    assert!(
        compact.contains(r#"{"name":"raw_syscalls:sys_enter","samples":2360}"#),
        "{stdout}"
    );
}

#[test]
fn a_compressed_stream_on_stdin_is_reported() {
    // perf 6.1's `perf script -i -` counts 365 (testdata/README.md).
    let out = report_stdin(&testdata("perf-pipe-z.data"), &["--format", "csv"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("header,samples:sched:sched_switch,365"),
        "{stdout}"
    );
    assert!(stdout.contains("header,compression,"), "{stdout}");
}

#[test]
fn a_perf_data_file_on_stdin_is_refused_saying_why() {
    let out = report_stdin(&testdata("perf-z.data"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("-: offset 8: a 104-byte file header: a perf.data file, not the pipe mode"),
        "{stderr}"
    );
    assert!(stderr.contains("give its path"), "{stderr}");
}

#[test]
fn nothing_on_stdin_is_refused_saying_why() {
    let out = report_stdin(b"", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("-: offset 8: file header is 0 bytes, smaller than the 16"),
        "{stderr}"
    );
}
