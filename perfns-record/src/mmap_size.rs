//! The ring buffer size per CPU: `-m/--mmap-pages` as perf record takes it,
//! and the default when it is not given.

use std::fmt;
use std::str::FromStr;

use perfns::container::RecordingMode;

/// `-m/--mmap-pages`, as perf record parses it (`__evlist__parse_mmap_pages`
/// in tools/perf/util/evlist.c): a number of pages, or a size in bytes with
/// a unit, `B`, `K`, `M` or `G` (binary; perf's upper case, or lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmapSize {
    /// A plain number: pages.
    Pages(u64),
    /// A number with a unit: bytes.
    Bytes(u64),
}

impl FromStr for MmapSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}`: give pages (a plain number, 256) or a size with a unit B, K, M or G \
                 (8M, 512K)"
            )
        };
        let unit = match s.chars().last() {
            Some(c) if c.is_ascii_alphabetic() => Some(c.to_ascii_uppercase()),
            _ => None,
        };
        let digits = if unit.is_some() { &s[..s.len() - 1] } else { s };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let shift = match unit {
            None => return Ok(Self::Pages(n)),
            Some('B') => 0,
            Some('K') => 10,
            Some('M') => 20,
            Some('G') => 30,
            Some(_) => return Err(bad()),
        };
        n.checked_mul(1 << shift)
            .map(Self::Bytes)
            .ok_or_else(|| format!("`{s}`: too large"))
    }
}

impl fmt::Display for MmapSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pages(n) => write!(f, "{n}"),
            Self::Bytes(n) => write!(f, "{}", human_bytes(*n)),
        }
    }
}

/// The size in data pages of `page` bytes: bytes rounded up to whole pages,
/// then up to a power of two as the kernel needs, as perf does. Returns the
/// pages, and the note to print when they were rounded.
pub fn data_pages(size: MmapSize, page: usize) -> Result<(usize, Option<String>), String> {
    let page = page as u64;
    let pages = match size {
        MmapSize::Pages(n) => n,
        MmapSize::Bytes(n) => n.div_ceil(page),
    };
    if pages == 0 {
        return Err(format!(
            "-m/--mmap-pages {size}: the ring buffer needs at least one page"
        ));
    }
    let rounded = pages
        .checked_next_power_of_two()
        .filter(|p| {
            p.checked_mul(page)
                .is_some_and(|b| usize::try_from(b).is_ok())
        })
        .ok_or_else(|| format!("-m/--mmap-pages {size}: too large"))?;
    let note =
        (rounded != pages || matches!(size, MmapSize::Bytes(b) if b % page != 0)).then(|| {
            format!(
                "-m/--mmap-pages {size}: rounded up to {} ({rounded} pages), a power of two as \
                 the kernel needs",
                human_bytes(rounded * page)
            )
        });
    Ok((rounded as usize, note))
}

/// `n` bytes as perf prints a size: `512K`, `4M`, `3000B`.
fn human_bytes(n: u64) -> String {
    for (shift, unit) in [(30, 'G'), (20, 'M'), (10, 'K')] {
        if n >= 1 << shift && n % (1 << shift) == 0 {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n}B")
}

/// Data pages per CPU when `-m` is not given and the ring buffers may be as
/// large as wanted: 4 MiB with 4 KiB pages. Measured on a 2-CPU machine
/// shared with other work (perfns-record/benches/README.md, `keepup.sh`,
/// "The default `-m`"): in five runs of a system-call-heavy load perfns
/// record lost 842,196 events at 128 pages (512 KiB, perf record's
/// default), 283,940 at 256 and 41,376 at 1024; a page-allocation-heavy
/// load 51,221, 716 and none. A CPU's buffers then take 4.3 MiB of locked
/// memory.
pub const PRIVILEGED_DEFAULT_PAGES: usize = 1024;

/// What the kernel lets this process lock for perf ring buffers
/// (perf_mmap in kernel/events/core.c): beyond `perf_event_mlock_kb` per
/// CPU, charged to the user, the rest counts against RLIMIT_MEMLOCK, unless
/// the process has CAP_IPC_LOCK or perf_event_paranoid is -1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockBudget {
    /// No limit applies.
    pub unlimited: bool,
    /// /proc/sys/kernel/perf_event_mlock_kb: per CPU, for every user.
    pub mlock_kb: u64,
    /// RLIMIT_MEMLOCK (soft), in bytes.
    pub memlock: u64,
    /// Online CPUs: the per-user allowance is `mlock_kb` times this.
    pub cpus: u64,
    /// The page size.
    pub page: u64,
}

impl LockBudget {
    /// This process's budget for recording in `mode`. In tracer scope the
    /// recorder is a container's root, whose capabilities do not count for
    /// the host's limits.
    pub fn of_this_process(mode: RecordingMode) -> std::io::Result<Self> {
        let read = |path: &str| -> std::io::Result<String> {
            std::fs::read_to_string(path).map(|s| s.trim().to_owned())
        };
        let paranoid: i64 = read("/proc/sys/kernel/perf_event_paranoid")?
            .parse()
            .unwrap_or(2);
        // CAP_IPC_LOCK is capability 14.
        let ipc_lock = read("/proc/self/status")?
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .is_some_and(|caps| caps & (1 << 14) != 0);
        let (memlock, _) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_MEMLOCK)?;
        Ok(Self {
            unlimited: paranoid == -1 || (ipc_lock && mode != RecordingMode::TracerScope),
            mlock_kb: read("/proc/sys/kernel/perf_event_mlock_kb")?
                .parse()
                .unwrap_or(516),
            memlock,
            cpus: perfns::abi::online_cpus()?.len().max(1) as u64,
            page: perfns::abi::page_size()? as u64,
        })
    }
}

/// The default data pages per CPU: [`PRIVILEGED_DEFAULT_PAGES`] when the
/// budget allows it, else the largest power of two whose buffers (data,
/// side-band, a metadata page each) fit in the budget shared out among the
/// CPUs, as perf record's default is the largest that fits in
/// `perf_event_mlock_kb` (128 pages with the kernel's 516).
pub fn default_data_pages(budget: &LockBudget, sideband_pages: impl Fn(usize) -> usize) -> usize {
    if budget.unlimited {
        return PRIVILEGED_DEFAULT_PAGES;
    }
    let per_cpu = budget.mlock_kb * 1024 / budget.page + budget.memlock / budget.page / budget.cpus;
    let mut pages = PRIVILEGED_DEFAULT_PAGES;
    while pages > 1 && (pages + sideband_pages(pages) + 2) as u64 > per_cpu {
        pages /= 2;
    }
    pages
}

#[cfg(test)]
// A test's unwrap failing is its report.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pages(s: &str) -> Result<(usize, Option<String>), String> {
        data_pages(s.parse()?, 4096)
    }

    #[test]
    fn sizes_parse_as_perf_parses_them() {
        assert_eq!("256".parse(), Ok(MmapSize::Pages(256)));
        assert_eq!("8M".parse(), Ok(MmapSize::Bytes(8 << 20)));
        assert_eq!("512K".parse(), Ok(MmapSize::Bytes(512 << 10)));
        assert_eq!("512k".parse(), Ok(MmapSize::Bytes(512 << 10)));
        assert_eq!("1G".parse(), Ok(MmapSize::Bytes(1 << 30)));
        assert_eq!("4096B".parse(), Ok(MmapSize::Bytes(4096)));
        for bad in [
            "",
            "M",
            "8 M",
            "8MB",
            "-1",
            "1.5M",
            "8T",
            "0x10",
            "99999999999999999999",
        ] {
            assert!(bad.parse::<MmapSize>().is_err(), "{bad:?} is refused");
        }
        assert!("20000000000G"
            .parse::<MmapSize>()
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn sizes_become_a_power_of_two_of_pages() {
        assert_eq!(pages("256"), Ok((256, None)));
        assert_eq!(pages("8M"), Ok((2048, None)));
        assert_eq!(pages("512K"), Ok((128, None)));
        assert_eq!(pages("4K"), Ok((1, None)));
        // perf rounds up, and says so.
        assert_eq!(
            pages("3"),
            Ok((
                4,
                Some(
                    "-m/--mmap-pages 3: rounded up to 16K (4 pages), a power of two as the \
                     kernel needs"
                        .into()
                )
            ))
        );
        assert_eq!(pages("3M").unwrap().0, 1024);
        assert_eq!(pages("1B").unwrap().0, 1);
        assert!(
            pages("1B").unwrap().1.is_some(),
            "a part of a page is rounded"
        );
        assert_eq!(
            pages("0").unwrap_err(),
            "-m/--mmap-pages 0: the ring buffer needs at least one page"
        );
        assert_eq!(
            pages("0K").unwrap_err(),
            "-m/--mmap-pages 0B: the ring buffer needs at least one page"
        );
        assert!(pages("18446744073709551615")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn the_default_fits_the_lock_budget() {
        let sideband = |p: usize| (p / 4).clamp(8, 256);
        let budget = LockBudget {
            unlimited: true,
            mlock_kb: 516,
            memlock: 64 << 10,
            cpus: 2,
            page: 4096,
        };
        assert_eq!(
            default_data_pages(&budget, sideband),
            PRIVILEGED_DEFAULT_PAGES
        );
        // The kernel's 516 KiB per CPU and a 64 KiB RLIMIT_MEMLOCK: 129 + 8
        // pages per CPU hold 64 data, 16 side-band and 2 metadata pages.
        let tight = LockBudget {
            unlimited: false,
            ..budget
        };
        assert_eq!(default_data_pages(&tight, sideband), 64);
        // With systemd's 8 MiB RLIMIT_MEMLOCK: 129 + 1024 pages per CPU.
        let roomy = LockBudget {
            memlock: 8 << 20,
            ..tight
        };
        assert_eq!(default_data_pages(&roomy, sideband), 512);
        let none = LockBudget {
            mlock_kb: 0,
            memlock: 0,
            ..tight
        };
        assert_eq!(default_data_pages(&none, sideband), 1);
    }
}
