//! Live metrics, as root on this machine's kernel: `perfns record
//! --switch-output=1s` records two containers with known workloads,
//! `perfns serve` turns the finished files into counters, and a real
//! Prometheus (Debian's `prometheus`), started here on loopback, scrapes
//! them: its HTTP API must return each container's series, by its
//! `container` and `runtime` labels, with its exact getppid count, its
//! pages and CPU time, and a positive rate.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

/// Rounds of each half of the workloads.
const ROUNDS: usize = 3;
/// Each container's getppid calls per round.
const ALPHA_PER_ROUND: u64 = 10_000;
const BETA_PER_ROUND: u64 = 4_000;
/// The CPU time alpha burns, and the MiB it touches, in its first half.
const ALPHA_BURN_MS: u64 = 200;
const ALPHA_ALLOC_MIB: u64 = 2;

/// A child killed and reaped however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port: bound, then let go for the server to take.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on `addr`: the body, if the answer was 200.
fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| body.to_owned())
}

/// A PromQL query, percent-encoded for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of an instant query that returns one sample, if it does.
fn query(prometheus: &str, q: &str) -> Option<f64> {
    let body = get(prometheus, &format!("/api/v1/query?query={}", encode(q)))?;
    let doc: Value = serde_json::from_str(&body).ok()?;
    let result = doc["data"]["result"].as_array()?;
    result.first()?["value"][1].as_str()?.parse().ok()
}

/// Waits until `q` on Prometheus is `done`, within [`common::PATIENCE`];
/// the last value otherwise, in the failure.
fn wait_for_query(prometheus: &str, q: &str, done: impl Fn(f64) -> bool) -> f64 {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < common::PATIENCE {
        last = query(prometheus, q);
        if last.is_some_and(&done) {
            return last.unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{q} on Prometheus is {last:?} after {:?}", common::PATIENCE);
}

fn prometheus_binary() -> Result<(), String> {
    Path::new("/usr/bin/prometheus")
        .is_file()
        .then_some(())
        .ok_or_else(|| "needs Debian's prometheus (scripts/install-deps.sh)".to_owned())
}

#[test]
fn prometheus_scrapes_the_workloads_counts() {
    let Some((_serial, dir)) = common::recording_test() else {
        return;
    };
    if perfns::testing::prerequisite(prometheus_binary()).is_none() {
        return;
    }
    // Under /perfns: the containers made in it are perfns's, named.
    let cgroup = common::TestCgroup::new(&format!("perfns/prom-{}", std::process::id()));
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let output = files.join("perf.data");
    let mut record = common::spawn_record(&[
        "--cgroup",
        cgroup.name(),
        "--events",
        "cpu,mem,syscalls",
        "-m",
        "4096",
        "--switch-output=1s",
        "-o",
        output.to_str().unwrap(),
    ]);
    common::wait_for_recording(&output);
    let record_said = common::StderrLines::of(&mut record);
    let record = Running(record);

    let mut serve = Command::new(common::perfns_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--dir"])
        .arg(&files)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Held to the end: serve's stderr stays open.
    let mut serve_said = common::StderrLines::of(&mut serve);
    let line = serve_said.wait_for("/metrics");
    let _serve = Running(serve);
    let metrics = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();

    let port = free_port();
    let prometheus = format!("127.0.0.1:{port}");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: perfns\n    \
             static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .unwrap();
    let _prom = Running(
        Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prometheus}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Prometheus has scraped perfns serve once it knows the target is up.
    wait_for_query(&prometheus, "up{job=\"perfns\"}", |v| v == 1.0);

    // Two containers, each in two halves with a gate between: each
    // half seen scraped before the next, so that every series has a sample
    // below its final value, and its rate is positive however slowly the
    // machine turns the files over.
    let half = |per_round: u64| {
        let mut steps = Vec::new();
        for _ in 0..ROUNDS {
            steps.extend(["getppid".to_owned(), per_round.to_string()]);
            steps.extend(["sleep".to_owned(), "300".to_owned()]);
        }
        steps
    };
    let mut alpha_steps = half(ALPHA_PER_ROUND);
    alpha_steps.extend(["alloc".to_owned(), ALPHA_ALLOC_MIB.to_string()]);
    alpha_steps.extend(["burn".to_owned(), ALPHA_BURN_MS.to_string()]);
    alpha_steps.push("gate".to_owned());
    alpha_steps.extend(half(ALPHA_PER_ROUND));
    let mut beta_steps = half(BETA_PER_ROUND);
    beta_steps.push("gate".to_owned());
    beta_steps.extend(half(BETA_PER_ROUND));
    let spawn = |name: &str, steps: &[String]| {
        let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
        perfns_record::testing::TestContainer::spawn_in(cgroup.dir(), name, &steps).unwrap()
    };
    let mut containers = [
        ("alpha", ALPHA_PER_ROUND, spawn("alpha", &alpha_steps)),
        ("beta", BETA_PER_ROUND, spawn("beta", &beta_steps)),
    ];
    // The container's getppid series: by its name and runtime labels.
    let series = |name: &str| {
        format!(
            "perfns_syscall_calls_total{{container=\"{name}\",runtime=\"perfns\",\
             syscall=\"getppid\"}}"
        )
    };
    let calls = |name: &str| format!("sum({})", series(name));
    for (name, per_round, _) in &containers {
        let expected = (ROUNDS as u64 * per_round) as f64;
        let got = wait_for_query(&prometheus, &calls(name), |v| v >= expected);
        assert_eq!(got, expected, "{name}'s getppid calls after the first half");
    }
    // alpha's pages and CPU time, from the same files.
    let pages = wait_for_query(
        &prometheus,
        "sum(perfns_pages_allocated_total{container=\"alpha\"})",
        |v| v >= (ALPHA_ALLOC_MIB * 256) as f64,
    );
    let cpu = wait_for_query(
        &prometheus,
        "sum(perfns_cpu_seconds_total{container=\"alpha\"})",
        |v| v >= ALPHA_BURN_MS as f64 / 1000.0 * 0.98,
    );
    assert!(
        cpu <= ALPHA_BURN_MS as f64 / 1000.0 * 1.15 + 0.03,
        "alpha's CPU time {cpu} s for a {ALPHA_BURN_MS} ms burn"
    );
    for (_, _, c) in &mut containers {
        c.release().unwrap();
    }
    for (name, _, c) in containers {
        assert!(c.wait().unwrap().success(), "{name}");
    }

    // Every call, once the files holding them are finished, read and
    // scraped: exactly, each container's in its own series.
    for (name, per_round) in [("alpha", ALPHA_PER_ROUND), ("beta", BETA_PER_ROUND)] {
        let expected = (2 * ROUNDS as u64 * per_round) as f64;
        let got = wait_for_query(&prometheus, &calls(name), |v| v >= expected);
        assert_eq!(got, expected, "{name}'s getppid calls");
        // A window as long as the test may wait holds both halves' samples.
        let rate = wait_for_query(
            &prometheus,
            &format!("sum(rate({}[10m]))", series(name)),
            |r| r > 0.0,
        );
        println!("{name}: {got} getppid calls, {rate}/s; alpha: {pages} pages, {cpu} s CPU");
    }

    common::signal(&record.0, Signal::SIGINT);
    drop(record);
    drop(record_said);
    assert!(
        !serve_said.seen.contains("perfns serve: /"),
        "{}",
        serve_said.seen
    );
}
