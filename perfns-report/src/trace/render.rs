//! `perfns trace`'s output: a text line per call (strace's and perf
//! trace's form), or a JSON object per line (JSON Lines, schema
//! `perfns-trace/1`, docs/trace-json.md); the summary as strace -c's
//! table per container with a latency histogram, or as one JSON object.

use std::fmt::Write as _;

use serde::Serialize;

use super::summary::Summary;
use super::{SyscallLine, TraceEnd};

/// The schema every JSON object of a trace names.
pub const SCHEMA: &str = "perfns-trace/1";

/// A call as a text line, without a newline:
/// `0.000123 web cat[1234/1234] openat(dfd: AT_FDCWD, filename: 0x..., flags:
/// O_RDONLY|O_CLOEXEC, mode: 0) = -1 ENOENT (No such file or directory) <0.000004>`
/// (seconds since the trace began; the duration in seconds, as strace -T
/// shows it, absent when the call never returned).
pub fn line(l: &SyscallLine) -> String {
    let mut out = String::with_capacity(128);
    line_into(&mut out, l);
    out
}

/// [`line`], appended to `out`: a live trace reuses one buffer for every
/// line.
pub fn line_into(out: &mut String, l: &SyscallLine) {
    let _ = write!(
        out,
        "{}.{:06} {} {}[{}/{}] {}(",
        l.since_start_ns / 1_000_000_000,
        l.since_start_ns % 1_000_000_000 / 1000,
        l.container,
        l.comm,
        l.pid,
        l.tid,
        l.syscall
    );
    for (i, a) in l.args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}: {}", a.name, a.text);
    }
    let _ = write!(out, ") = {}", l.result);
    if let Some(d) = l.duration_ns {
        let _ = write!(
            out,
            " <{}.{:06}>",
            d / 1_000_000_000,
            d % 1_000_000_000 / 1000
        );
    }
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    schema: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

/// A call as one JSON object (`"type": "syscall"`), without a newline.
pub fn line_json(l: &SyscallLine) -> String {
    to_json("syscall", l)
}

/// The summary as one JSON object (`"type": "summary"`).
pub fn summary_json(s: &Summary) -> String {
    to_json("summary", s)
}

/// What the trace saw besides the calls (`"type": "end"`): losses,
/// errors, warnings.
pub fn end_json(e: &TraceEnd) -> String {
    to_json("end", e)
}

fn to_json<T: Serialize>(kind: &'static str, body: &T) -> String {
    serde_json::to_string(&Tagged {
        schema: SCHEMA,
        kind,
        body,
    })
    // The types are plain data with string keys: serde_json cannot fail.
    .unwrap_or_default()
}

/// The summary as strace -c's table, one per container: per syscall its
/// share of the container's time, calls, errors and latencies in µs,
/// then the container's latency histogram.
pub fn summary(s: &Summary) -> String {
    let mut out = String::new();
    for (name, c) in &s.containers {
        let _ = writeln!(
            out,
            "container {name}: {} calls, {} errors, {:.6} s in syscalls",
            c.calls,
            c.errors,
            c.total_ns as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "{:>6} {:>11} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}  syscall",
            "% time",
            "seconds",
            "calls",
            "errors",
            "avg us",
            "max us",
            "p50 us",
            "p95 us",
            "p99 us"
        );
        let _ = writeln!(out, "{}", "-".repeat(6 + 12 + 10 * 2 + 11 * 5 + 9));
        let mut rows: Vec<_> = c.syscalls.iter().collect();
        // strace -c's order: most time first, then most calls, then name.
        rows.sort_by(|a, b| {
            b.1.total_ns
                .cmp(&a.1.total_ns)
                .then(b.1.calls.cmp(&a.1.calls))
                .then(a.0.cmp(b.0))
        });
        let us = |ns: u64| format!("{:.3}", ns as f64 / 1e3);
        for (syscall, f) in rows {
            let share = if c.total_ns > 0 {
                100.0 * f.total_ns as f64 / c.total_ns as f64
            } else {
                0.0
            };
            let errors = if f.errors > 0 {
                f.errors.to_string()
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{share:>6.2} {:>11.6} {:>9} {errors:>9} {:>10} {:>10} {:>10} {:>10} {:>10}  {syscall}",
                f.total_ns as f64 / 1e9,
                f.calls,
                us(f.avg_ns),
                us(f.max_ns),
                us(f.p50_ns),
                us(f.p95_ns),
                us(f.p99_ns),
            );
        }
        if !c.histogram.is_empty() {
            let _ = writeln!(out, "latency of {name}'s calls:");
            let most = c.histogram.iter().map(|b| b[2]).max().unwrap_or(1).max(1);
            for [from, to, n] in &c.histogram {
                let bar = "@".repeat(((n * 40).div_ceil(most)) as usize);
                let _ = writeln!(
                    out,
                    "  [{:>6}, {:>6}) {n:>9} |{bar:<40}|",
                    human_ns(*from),
                    human_ns(*to)
                );
            }
        }
        out.push('\n');
    }
    out
}

/// A power of two of ns, short: `512ns`, `1us` (1024 ns), `2ms`.
fn human_ns(ns: u64) -> String {
    const UNITS: [&str; 4] = ["ns", "us", "ms", "s"];
    let mut v = ns;
    let mut unit = 0;
    // Powers of two: 1024 ns is shown as 1us, as bpftrace's hist() does.
    while v >= 1024 && unit < UNITS.len() - 1 {
        v /= 1024;
        unit += 1;
    }
    format!("{v}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::decode::Arg;

    fn call() -> SyscallLine {
        SyscallLine {
            time_ns: 5_000_123_456,
            since_start_ns: 1_234_567,
            duration_ns: Some(4_321),
            container: "web".into(),
            comm: "cat".into(),
            pid: 10,
            tid: 11,
            cpu: Some(0),
            syscall: "openat".into(),
            nr: Some(257),
            args: vec![
                Arg {
                    name: "dfd".into(),
                    c_type: "int".into(),
                    raw: (-100i64) as u64,
                    text: "AT_FDCWD".into(),
                },
                Arg {
                    name: "flags".into(),
                    c_type: "int".into(),
                    raw: 0,
                    text: "O_RDONLY".into(),
                },
            ],
            ret: Some(-2),
            result: "-1 ENOENT (No such file or directory)".into(),
            error: Some(crate::trace::decode::Errno {
                number: 2,
                name: Some("ENOENT".into()),
            }),
        }
    }

    #[test]
    fn a_line_as_strace_shows_it() {
        assert_eq!(
            line(&call()),
            "0.001234 web cat[10/11] openat(dfd: AT_FDCWD, flags: O_RDONLY) = -1 ENOENT (No such \
             file or directory) <0.000004>"
        );
        let mut unfinished = call();
        unfinished.duration_ns = None;
        unfinished.result = "?".into();
        assert!(line(&unfinished).ends_with(") = ?"));
    }

    #[test]
    fn a_line_as_json_reads_back() {
        let v: serde_json::Value = serde_json::from_str(&line_json(&call())).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["type"], "syscall");
        assert_eq!(v["syscall"], "openat");
        assert_eq!(v["return"], -2);
        assert_eq!(v["error"]["name"], "ENOENT");
        assert_eq!(v["args"][0]["raw"], (-100i64) as u64);
        assert_eq!(v["args"][0]["type"], "int");
        assert_eq!(v["duration_ns"], 4321);
    }

    #[test]
    fn powers_of_two_are_short() {
        assert_eq!(human_ns(512), "512ns");
        assert_eq!(human_ns(1024), "1us");
        assert_eq!(human_ns(1 << 20), "1ms");
        assert_eq!(human_ns(1 << 31), "2s");
    }
}
