//! The calls of perfns-workload's `syscalls` step as `perfns trace` shows
//! them: what the workload says of them on stderr ([`Known`]), the lines
//! they make, and how a trace's lines are compared with them. Shared by the
//! trace tests on this machine (trace.rs) and in the VM (vm_live.rs).

use perfns_record::testing::{NO_SUCH_PID, WRITTEN};

/// What the workload's `syscalls` step printed on stderr.
#[derive(Debug)]
pub struct Known {
    pub pid: i32,
    pub missing: String,
    pub devnull: String,
    pub buf: String,
    pub fd: i64,
}

impl Known {
    pub fn from_stderr(stderr: &str) -> Known {
        let line = stderr
            .lines()
            .find(|l| l.starts_with("syscalls: pid "))
            .unwrap_or_else(|| panic!("the workload said nothing: {stderr}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        // syscalls: pid P missing A devnull B buf C fd F
        Known {
            pid: words[2].parse().expect("the pid"),
            missing: words[4].to_owned(),
            devnull: words[6].to_owned(),
            buf: words[8].to_owned(),
            fd: words[10].parse().expect("the fd"),
        }
    }

    /// The lines of the `syscalls N` step, as `perfns trace` shows them
    /// without their time and duration, `ppid` being what getppid returns.
    pub fn lines(&self, container: &str, n: usize, ppid: i32) -> Vec<String> {
        let who = format!("{container} perfns-workload[{0}/{0}]", self.pid);
        let mut out = vec![
            format!(
                "{who} openat(dfd: AT_FDCWD, filename: {}, flags: O_RDONLY|O_NOFOLLOW|O_CLOEXEC, \
                 mode: 0) = -1 ENOENT (No such file or directory)",
                self.missing
            ),
            format!(
                "{who} openat(dfd: AT_FDCWD, filename: {}, flags: O_WRONLY|O_CLOEXEC, mode: 0) = {}",
                self.devnull, self.fd
            ),
            format!(
                "{who} write(fd: {}, buf: {}, count: {WRITTEN}) = {WRITTEN}",
                self.fd, self.buf
            ),
            format!("{who} close(fd: {}) = 0", self.fd),
        ];
        out.extend((0..n).map(|_| format!("{who} getppid() = {ppid}")));
        out.push(format!(
            "{who} kill(pid: {NO_SUCH_PID}, sig: SIGUSR1) = -1 ESRCH (No such process)"
        ));
        out
    }
}

/// A text line without its time (the first word) and its duration (the
/// last, `<0.000004>`), which no test can know; checks their form.
pub fn without_time(line: &str) -> String {
    let (time, rest) = line.split_once(' ').expect("a time");
    let (secs, micros) = time.split_once('.').expect("seconds.micros");
    assert!(
        secs.parse::<u64>().is_ok() && micros.len() == 6 && micros.parse::<u64>().is_ok(),
        "{line}"
    );
    match rest.rsplit_once(" <") {
        Some((call, duration)) if duration.ends_with('>') => {
            let d = duration.trim_end_matches('>');
            assert!(d.parse::<f64>().is_ok(), "{line}");
            call.to_owned()
        }
        _ => rest.to_owned(),
    }
}

/// The lines of `pid`'s calls, from the first that is `expected[0]` on,
/// as many as `expected`.
pub fn calls_of(trace: &str, pid: i32, expected: &[String]) -> Vec<String> {
    let mine: Vec<String> = trace
        .lines()
        .map(without_time)
        .filter(|l| l.contains(&format!("[{pid}/{pid}] ")))
        .collect();
    let start = mine
        .iter()
        .position(|l| *l == expected[0])
        .unwrap_or_else(|| panic!("no {:?} in\n{}", expected[0], mine.join("\n")));
    mine[start..].iter().take(expected.len()).cloned().collect()
}
