//! `perfns serve`: per-container counters in the Prometheus text format
//! (0.0.4, which OpenMetrics scrapers read too), from a live continuous
//! recording.
//!
//! `perfns record --switch-output` finishes a file every interval and
//! names it `OUTPUT.<timestamp>`; `perfns serve --dir DIR` reports each
//! finished file once, in name (time) order, adds every container's own
//! figures to its counters, and serves them at `/metrics`. A counter moves
//! when a file is finished, so the scrape lags the recording by at most one
//! `--switch-output` interval. [`Counters`] and [`Counters::render`] are
//! pure; [`run`] polls the directory and answers HTTP on one thread each.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use crate::model::Report;
use crate::{report, Options};

/// What `perfns serve` serves, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// The directory `perfns record --switch-output -o DIR/NAME` writes
    /// its finished files to.
    pub dir: PathBuf,
    /// The recording's file name (`-o`'s last part): the finished files
    /// are NAME.<timestamp>.
    pub name: String,
    /// Where to answer `GET /metrics` (port 0: any free port).
    pub listen: String,
}

/// How often the directory is looked at for finished files.
const POLL: Duration = Duration::from_millis(250);

/// A container's identity in the metrics: its labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    host: String,
    key: String,
    container: String,
    runtime: String,
    id: String,
    namespace: String,
    pod: String,
}

/// The counters of one container.
#[derive(Debug, Clone, Default, PartialEq)]
struct Totals {
    cpu_ns: u64,
    pages_allocated: u64,
    pages_freed: u64,
    syscalls: u64,
    syscall_errors: u64,
    /// By syscall name.
    calls: BTreeMap<String, u64>,
}

/// Every container's counters since `perfns serve` started, and the files
/// they come from.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    totals: BTreeMap<Series, Totals>,
    files: u64,
}

impl Counters {
    /// Adds a finished file's report (flat, every syscall listed).
    pub fn add(&mut self, report: &Report) {
        self.files += 1;
        let host = report.header.recording.hostname.clone().unwrap_or_default();
        for c in &report.containers {
            let k = c.kubernetes.as_ref();
            let series = Series {
                host: host.clone(),
                key: c.key.clone(),
                container: c.name.clone(),
                runtime: c.runtime.clone().unwrap_or_default(),
                id: c.id.clone().unwrap_or_default(),
                namespace: k.map(|k| k.namespace.clone()).unwrap_or_default(),
                pod: k.map(|k| k.pod.clone()).unwrap_or_default(),
            };
            let t = self.totals.entry(series).or_default();
            let f = &c.own;
            t.cpu_ns += f.cpu.time_ns;
            t.pages_allocated += f.memory.pages_allocated;
            t.pages_freed += f.memory.pages_freed;
            t.syscalls += f.syscalls.calls;
            t.syscall_errors += f.syscalls.errors;
            for s in &c.top_syscalls {
                *t.calls.entry(s.name.clone()).or_default() += s.figures.calls;
            }
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        type Value = fn(&Totals) -> String;
        let families: [(&str, &str, Value); 5] = [
            (
                "perfns_cpu_seconds_total",
                "CPU time of the container's own tasks.",
                |t| {
                    format!(
                        "{}.{:09}",
                        t.cpu_ns / 1_000_000_000,
                        t.cpu_ns % 1_000_000_000
                    )
                },
            ),
            (
                "perfns_pages_allocated_total",
                "Pages the container's own tasks allocated.",
                |t| t.pages_allocated.to_string(),
            ),
            (
                "perfns_pages_freed_total",
                "Pages the container's own tasks freed.",
                |t| t.pages_freed.to_string(),
            ),
            (
                "perfns_syscalls_total",
                "System calls the container's own tasks entered.",
                |t| t.syscalls.to_string(),
            ),
            (
                "perfns_syscall_errors_total",
                "System calls of the container's own tasks that failed.",
                |t| t.syscall_errors.to_string(),
            ),
        ];
        for (name, help, value) in families {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            for (s, t) in &self.totals {
                out.push_str(&format!("{name}{{{}}} {}\n", labels(s, None), value(t)));
            }
        }
        let name = "perfns_syscall_calls_total";
        out.push_str(&format!(
            "# HELP {name} System calls the container's own tasks entered, by system call.\n\
             # TYPE {name} counter\n"
        ));
        for (s, t) in &self.totals {
            for (syscall, n) in &t.calls {
                out.push_str(&format!("{name}{{{}}} {n}\n", labels(s, Some(syscall))));
            }
        }
        let name = "perfns_files_read_total";
        out.push_str(&format!(
            "# HELP {name} Finished recordings read.\n# TYPE {name} counter\n{name} {}\n",
            self.files
        ));
        out
    }
}

/// A series' labels, `syscall` added when given.
fn labels(s: &Series, syscall: Option<&str>) -> String {
    let mut pairs = vec![
        ("host", s.host.as_str()),
        ("key", &s.key),
        ("container", &s.container),
        ("runtime", &s.runtime),
        ("id", &s.id),
        ("kubernetes_namespace", &s.namespace),
        ("kubernetes_pod", &s.pod),
    ];
    if let Some(name) = syscall {
        pairs.push(("syscall", name));
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A label value as the text format quotes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Whether `file` is a finished file of recording `name`:
/// `NAME.<digits>` (perf's timestamp), perhaps with `-N`.
fn finished(file: &str, name: &str) -> bool {
    file.strip_prefix(name)
        .and_then(|r| r.strip_prefix('.'))
        .is_some_and(|stamp| {
            let digits = stamp.split('-').next().unwrap_or("");
            digits.len() == 16 && stamp.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        })
}

/// The finished files in `dir` not in `seen`, oldest first.
fn new_files(dir: &Path, name: &str, seen: &BTreeSet<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|f| finished(f, name)))
        .map(|e| e.path())
        .filter(|p| !seen.contains(p))
        .collect();
    out.sort();
    Ok(out)
}

/// Runs `perfns serve`: never returns but on an error.
pub fn run(config: &ServeConfig) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&config.listen)
        .with_context(|| format!("listening on {}", config.listen))?;
    eprintln!(
        "[ perfns serve: metrics of {} at http://{}/metrics ]",
        config.dir.join(format!("{}.*", config.name)).display(),
        listener.local_addr()?
    );
    let page = Arc::new(Mutex::new(Counters::default().render()));
    let served = Arc::clone(&page);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // A client that goes away is its own business.
            let _ = answer(stream, &served);
        }
    });
    let mut counters = Counters::default();
    let mut seen = BTreeSet::new();
    let options = Options {
        flat: true,
        // Every syscall, not the busiest few: the per-syscall counters add
        // up across files only if no file leaves one out.
        top: usize::MAX,
        ..Options::default()
    };
    loop {
        for file in new_files(&config.dir, &config.name, &seen)? {
            match report(&file, &options, &mut |_| {}) {
                Ok(r) => counters.add(&r),
                // Removed by --switch-max-files before it was read, or
                // unreadable: said, and not counted.
                Err(e) => eprintln!("[ perfns serve: {}: {e:#} ]", file.display()),
            }
            seen.insert(file);
            if let Ok(mut p) = page.lock() {
                *p = counters.render();
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Answers one HTTP request: `GET /metrics`, else 404.
fn answer(stream: TcpStream, page: &Mutex<String>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // The headers, up to the empty line.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = if path == "/metrics" || path.starts_with("/metrics?") {
        let body = page.lock().map(|p| p.clone()).unwrap_or_default();
        ("200 OK", body)
    } else {
        ("404 Not Found", "only /metrics is here\n".to_owned())
    };
    let mut stream = &stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_files_are_the_timestamped_ones() {
        assert!(finished("perf.data.2026120700153012", "perf.data"));
        assert!(finished("perf.data.2026120700153012-1", "perf.data"));
        assert!(!finished("perf.data", "perf.data"));
        assert!(!finished("perf.data.tmp", "perf.data"));
        assert!(!finished("other.2026120700153012", "perf.data"));
    }

    #[test]
    fn label_values_are_quoted() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
