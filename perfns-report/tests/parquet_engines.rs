//! `--format parquet` read by the engines a fleet uses: every testdata
//! recording (several machines' and runs' worth) exported to one
//! directory, then DuckDB and chDB (ClickHouse's engine), both from PyPI,
//! sum each recording's containers over `read_parquet('DIR/*.parquet')`;
//! the sums must be the JSON report's figures, exactly. The same with
//! `--interval`: the intervals' rows add up to the whole.
#![cfg(feature = "parquet")]
// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use perfns_report::{parquet_export, render, report, Options};
use serde_json::Value;

/// The environment variable naming a Python with duckdb and chdb.
const PYTHON_ENV: &str = "PERFNS_PYTHON";
/// Where scripts/install-deps.sh makes one.
const DEFAULT_PYTHON: &str = "/opt/perfns-venv/bin/python";

fn testdata() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata")).to_owned()
}

/// The Python that has both engines, or why not.
fn python() -> Result<PathBuf, String> {
    let python = std::env::var_os(PYTHON_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| DEFAULT_PYTHON.into());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import duckdb, chdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(python.clone()).ok_or_else(|| {
        format!(
            "needs DuckDB and chDB from PyPI in {} ({PYTHON_ENV}); scripts/install-deps.sh \
             makes that venv",
            python.display()
        )
    })
}

/// `(recording, key)` → the sums of the figure columns and the longest
/// latency, as DuckDB and as chDB give them for `DIR/*.parquet`.
type Sums = BTreeMap<(String, String), Vec<u64>>;

fn engine_sums(python: &Path, dir: &Path) -> (Sums, Sums) {
    let columns: Vec<String> = parquet_export::FIGURES
        .iter()
        .map(|c| match *c {
            "syscall_latency_max_ns" => format!("max({c})"),
            _ => format!("sum({c})"),
        })
        .collect();
    let select = format!(
        "select recording, key, {} from {{}} group by recording, key",
        columns.join(", ")
    );
    let glob = format!("{}/*.parquet", dir.display());
    let script = format!(
        r#"
import json, duckdb, chdb
q = {select:?}
d = duckdb.sql(q.format("read_parquet('{glob}')")).fetchall()
c = chdb.query(q.format("file('{glob}', Parquet)"), "JSONCompact")
print(json.dumps({{"duckdb": [list(map(str, r)) for r in d],
                  "chdb": [list(map(str, r)) for r in json.loads(c.bytes())["data"]]}}))
"#
    );
    let out = std::process::Command::new(python)
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let parse = |rows: &Value| -> Sums {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let r: Vec<&str> = r
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
                let figures = r[2..].iter().map(|v| v.parse().unwrap()).collect();
                ((r[0].to_owned(), r[1].to_owned()), figures)
            })
            .collect()
    };
    (parse(&doc["duckdb"]), parse(&doc["chdb"]))
}

/// What the JSON report says of each container of `recording`, in the
/// engines' terms.
fn json_figures(recording: &Path) -> Sums {
    let options = Options {
        flat: true,
        ..Options::default()
    };
    let r = report(recording, &options, &mut |_| {}).unwrap();
    let doc: Value = serde_json::from_str(&render::json(&r)).unwrap();
    doc["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let f = &c["own"];
            let n = |v: &Value| v.as_u64().unwrap();
            let figures = vec![
                n(&f["cpu"]["time_ns"]),
                n(&f["cpu"]["samples"]),
                n(&f["memory"]["pages_allocated"]),
                n(&f["memory"]["pages_freed"]),
                n(&f["syscalls"]["calls"]),
                n(&f["syscalls"]["errors"]),
                n(&f["syscalls"]["timed_calls"]),
                n(&f["syscalls"]["latency_total_ns"]),
                n(&f["syscalls"]["latency_max_ns"]),
            ];
            (
                (
                    recording.display().to_string(),
                    c["key"].as_str().unwrap().to_owned(),
                ),
                figures,
            )
        })
        .collect()
}

/// Every recording in testdata/.
fn recordings() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(testdata())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    out.sort();
    assert!(out.len() >= 5, "{out:?}");
    out
}

/// Exports `recording` to `dir` with `interval`.
fn export(recording: &Path, dir: &Path, interval: Option<Duration>) {
    let rows =
        perfns_report::parquet_rows(recording, &Options::default(), interval, &mut |_| {}).unwrap();
    let name = recording.file_stem().unwrap().to_str().unwrap();
    let file = std::fs::File::create(dir.join(format!("{name}.parquet"))).unwrap();
    parquet_export::write(file, &rows).unwrap();
}

#[test]
fn duckdb_and_chdb_sum_to_the_json_figures() {
    let Some(python) = perfns::testing::prerequisite(python()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Sums::new();
    for r in recordings() {
        export(&r, dir.path(), None);
        expected.extend(json_figures(&r));
    }
    let (duck, ch) = engine_sums(&python, dir.path());
    assert_eq!(duck, expected, "DuckDB");
    assert_eq!(ch, expected, "chDB");
}

#[test]
fn intervals_add_up_to_the_whole() {
    let Some(python) = perfns::testing::prerequisite(python()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Sums::new();
    let mut intervals = 0;
    for r in recordings() {
        export(&r, dir.path(), Some(Duration::from_millis(200)));
        expected.extend(json_figures(&r));
        let rows = perfns_report::parquet_rows(
            &r,
            &Options::default(),
            Some(Duration::from_millis(200)),
            &mut |_| {},
        )
        .unwrap();
        intervals += rows
            .iter()
            .map(|row| row.start_ns)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
    }
    let (duck, ch) = engine_sums(&python, dir.path());
    assert!(intervals > 2 * recordings().len(), "{intervals} intervals");
    for (name, got) in [("DuckDB", &duck), ("chDB", &ch)] {
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (k, want) in &expected {
            let have = &got[k];
            // Counts add up exactly; CPU time is clipped at each interval's
            // last nanosecond, at most 1 ns per CPU per boundary.
            assert!(
                have[0] <= want[0] && want[0] - have[0] <= 2 * intervals as u64,
                "{name} {k:?}: CPU {} of {}",
                have[0],
                want[0]
            );
            assert_eq!(have[1..8], want[1..8], "{name} {k:?}");
            assert_eq!(have[8], want[8], "{name} {k:?}: longest latency");
        }
    }
}
