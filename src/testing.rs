//! What a test needs of the machine (feature `testing`, and this crate's
//! own tests): one rule for every test that needs root, tracefs, Debian's
//! perf or a kernel feature.
//!
//! A test asks with [`prerequisite`]. When the thing is there it gets it;
//! when it is not, the test is skipped on a developer's machine, saying so
//! on stderr (`SKIPPED: ...`), but under CI (`CI=true` in the environment,
//! as `scripts/test.sh` sets it) it fails, naming what is missing: a gate
//! that silently skips is a gate that cannot fail.
//!
//! ```ignore
//! let Some(tracefs) = prerequisite(tracefs()) else { return };
//! ```

use std::fmt::Display;

pub mod module_cycles;

/// The environment variable that makes a missing prerequisite a failure.
pub const CI_ENV: &str = "CI";

/// Whether tests run as CI runs them: `CI` set to anything but empty,
/// `0` or `false`.
pub fn under_ci() -> bool {
    std::env::var(CI_ENV).is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// `Some(what the test needs)`, or, when it is missing, `None` after
/// saying why on stderr; under CI, a missing prerequisite panics instead,
/// with `why` in the message.
#[track_caller]
pub fn prerequisite<T, E: Display>(need: Result<T, E>) -> Option<T> {
    match need {
        Ok(t) => Some(t),
        Err(why) => {
            if under_ci() {
                panic!("test prerequisite missing under {CI_ENV}=true: {why}");
            }
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

/// Root (effective uid 0): system-wide perf events, namespaces, cgroups,
/// mounts.
pub fn root() -> Result<(), String> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(format!(
            "needs root (system-wide perf events, namespaces, cgroups); running as uid {}",
            nix::unistd::geteuid()
        ))
    }
}

/// The mounted tracefs, mounted first if it is not (a test may set the
/// machine up; it needs root, which reading tracefs needs on most systems
/// too).
pub fn tracefs() -> Result<crate::tracepoint::Tracefs, String> {
    root()?;
    crate::tracepoint::Tracefs::find_or_mount()
        .map_err(|e| format!("needs tracefs mounted (scripts/install-deps.sh mounts it): {e}"))
}

/// Debian's `perf` (package linux-perf) on `$PATH`.
pub fn perf() -> Result<(), String> {
    match std::process::Command::new("perf").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`perf --version` failed ({}): is linux-perf installed?",
            out.status
        )),
        Err(e) => Err(format!(
            "needs Debian's perf (apt-get install linux-perf): {e}"
        )),
    }
}

/// Samples per event as `perf report --stdio` prints them: each event's
/// `# Event count (approx.): N` after its `# Samples: ... of event 'NAME'`.
/// The count is the sum of the samples' periods: exact sample counts for
/// events recorded with period 1 (tracepoints, perfns's events). perf
/// 6.1's `report --stats` cannot read a pipe-mode stream with tracepoints
/// (it stops at the tracing data); `perf report` can.
pub fn perf_report_event_counts(report: &str) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let mut event = None;
    for line in report.lines() {
        if let Some(rest) = line.strip_prefix("# Samples: ") {
            event = rest
                .split_once(" of event '")
                .map(|(_, name)| name.trim_end_matches('\'').to_owned());
        } else if let Some(n) = line.strip_prefix("# Event count (approx.): ") {
            if let (Some(e), Ok(n)) = (event.take(), n.trim().parse()) {
                out.insert(e, n);
            }
        }
    }
    out
}

/// The calling thread pinned to one CPU ([`pin_to_cpu`]) until this is
/// dropped; then it may run where it could before.
#[derive(Debug)]
#[must_use = "the thread is pinned only while this lives"]
pub struct Pinned(nix::sched::CpuSet);

/// Pins the calling thread to `cpu`, so that what it does (system calls,
/// context switches) happens there: a test that reads one CPU's ring
/// buffer or counter makes its own events on that CPU.
#[track_caller]
pub fn pin_to_cpu(cpu: u32) -> Pinned {
    let me = nix::unistd::Pid::from_raw(0);
    let was = nix::sched::sched_getaffinity(me).expect("sched_getaffinity");
    let mut one = nix::sched::CpuSet::new();
    one.set(cpu as usize)
        .expect("a CPU number below CpuSet::count()");
    nix::sched::sched_setaffinity(me, &one)
        .unwrap_or_else(|e| panic!("pinning this thread to cpu{cpu}: {e}"));
    Pinned(was)
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let me = nix::unistd::Pid::from_raw(0);
        // Best effort: a thread left pinned only runs slower.
        let _ = nix::sched::sched_setaffinity(me, &self.0);
    }
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_prerequisite_fails_under_ci_and_skips_elsewhere() {
        // The environment is process-wide: run the two cases in children
        // of this test binary, each with its own CI value.
        let exe = std::env::current_exe().unwrap();
        for (ci, fails) in [("true", true), ("1", true), ("", false), ("false", false)] {
            let out = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "testing::tests::missing_thing",
                    "--include-ignored",
                    "--nocapture",
                ])
                .env(CI_ENV, ci)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(!out.status.success(), fails, "CI={ci:?}: {stdout}{stderr}");
            let said = if fails {
                "test prerequisite missing under CI=true: needs a unicorn"
            } else {
                "SKIPPED: needs a unicorn"
            };
            assert!(
                stderr.contains(said) || stdout.contains(said),
                "CI={ci:?}: {stdout}{stderr}"
            );
        }
    }

    /// Run by the test above, in a child process.
    #[test]
    #[ignore = "run by a_missing_prerequisite_fails_under_ci_and_skips_elsewhere"]
    fn missing_thing() {
        let got: Option<()> = prerequisite(Err("needs a unicorn"));
        assert!(got.is_none());
    }
}
