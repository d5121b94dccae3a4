//! The kernel's CPU list format ("0-3,5,7-8") and the system's online and
//! possible CPUs, read from sysfs.

use std::io;

/// CPU numbers above this are rejected: no kernel has this many CPUs
/// (x86's largest NR_CPUS is 8192), and a typo like "0-4000000000" must not
/// allocate billions of entries.
const MAX_CPU: u32 = 1 << 16;

/// A CPU list that is not in the kernel's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed CPU list {text:?} at byte {offset}: {reason}")]
pub struct CpuListError {
    /// The list as given.
    pub text: String,
    /// Byte offset of the bad item in `text`.
    pub offset: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses a CPU list as the kernel prints it (`bitmap_print_to_pagebuf`):
/// comma-separated CPU numbers and inclusive ranges in ascending order, e.g.
/// "0-3,5,7-8", with a trailing newline or not. An empty list is empty.
///
/// Returns the CPUs in ascending order. Ranges that run backwards, overlap or
/// come out of order are errors, as is anything but digits, `-` and `,`.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, CpuListError> {
    let err = |offset: usize, reason: &'static str| CpuListError {
        text: text.to_owned(),
        offset,
        reason,
    };
    let body = text.trim_end_matches('\n');
    let mut cpus = Vec::new();
    if body.is_empty() {
        return Ok(cpus);
    }
    let mut offset = 0;
    for item in body.split(',') {
        let number = |s: &str, at: usize| -> Result<u32, CpuListError> {
            if s.is_empty() {
                return Err(err(at, "missing CPU number"));
            }
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(at, "not a CPU number"));
            }
            match s.parse::<u32>() {
                Ok(n) if n <= MAX_CPU => Ok(n),
                _ => Err(err(at, "CPU number too large")),
            }
        };
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (number(a, offset)?, number(b, offset + a.len() + 1)?),
            None => {
                let n = number(item, offset)?;
                (n, n)
            }
        };
        if last < first {
            return Err(err(offset, "range runs backwards"));
        }
        if cpus.last().is_some_and(|&prev| first <= prev) {
            return Err(err(offset, "CPUs out of order or repeated"));
        }
        cpus.extend(first..=last);
        offset += item.len() + 1;
    }
    Ok(cpus)
}

/// Reads and parses a sysfs CPU list file.
fn read_cpu_list(path: &str) -> io::Result<Vec<u32>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    parse_cpu_list(&text)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {e}")))
}

/// The CPUs that are online now (/sys/devices/system/cpu/online): the ones
/// a system-wide recording opens events on.
pub fn online_cpus() -> io::Result<Vec<u32>> {
    read_cpu_list("/sys/devices/system/cpu/online")
}

/// The CPUs this system can ever have (/sys/devices/system/cpu/possible),
/// online or not: perf.data's `nr_cpus_avail` counts these.
pub fn possible_cpus() -> io::Result<Vec<u32>> {
    read_cpu_list("/sys/devices/system/cpu/possible")
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_cpus_and_ranges() {
        assert_eq!(
            parse_cpu_list("0-3,5,7-8\n").unwrap(),
            [0, 1, 2, 3, 5, 7, 8]
        );
        assert_eq!(parse_cpu_list("0").unwrap(), [0]);
        assert_eq!(parse_cpu_list("2-2").unwrap(), [2]);
        assert_eq!(parse_cpu_list("10-12,64").unwrap(), [10, 11, 12, 64]);
    }

    #[test]
    fn empty_list_is_empty() {
        assert!(parse_cpu_list("\n").unwrap().is_empty());
        assert!(parse_cpu_list("").unwrap().is_empty());
    }

    #[test]
    fn malformed_lists_say_where() {
        let cases: [(&str, usize, &str); 10] = [
            ("0-", 2, "missing CPU number"),
            ("-3", 0, "missing CPU number"),
            ("1,,2", 2, "missing CPU number"),
            ("0,", 2, "missing CPU number"),
            ("3-1", 0, "range runs backwards"),
            ("0-3,2", 4, "CPUs out of order or repeated"),
            ("4,1", 2, "CPUs out of order or repeated"),
            ("0-x", 2, "not a CPU number"),
            (" 1", 0, "not a CPU number"),
            ("0-4000000000", 2, "CPU number too large"),
        ];
        for (text, offset, reason) in cases {
            let e = parse_cpu_list(text).unwrap_err();
            assert_eq!((e.offset, e.reason), (offset, reason), "{text:?}");
        }
    }

    #[test]
    fn online_cpus_match_the_scheduler() {
        // sched_getaffinity of pid 1 is not a sound oracle (it may be
        // restricted); the number of online CPUs from sysconf is.
        let online = online_cpus().unwrap();
        let n = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
            .unwrap()
            .unwrap();
        assert_eq!(online.len(), n as usize);
        let possible = possible_cpus().unwrap();
        assert!(online.iter().all(|c| possible.contains(c)));
    }
}
