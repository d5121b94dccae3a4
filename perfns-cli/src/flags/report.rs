//! `perfns report`'s flags, and how they become the report's validated
//! [`ReportConfig`] before the recording is read.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use perfns_report::{Format, Options, PercentRange, ReportConfig, SortKey};

/// `perfns report`'s command line, as clap parses it.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Input file: a perfns recording or a perf.data from `perf record`
    /// (compressed with -z too), or `-` for a pipe-mode stream on stdin
    /// (`perf record -o - ... | perfns report -i -`).
    #[arg(short, long, default_value = "perf.data")]
    pub input: PathBuf,
    /// Per-container tables (the default): cputop, memtop and syscalls,
    /// one row per container, nested containers as a tree.
    #[arg(long, group = "grouping")]
    pub per_container: bool,
    /// One row per container, sorted as one list, instead of a tree.
    #[arg(long, group = "grouping")]
    pub flat: bool,
    /// Keep only this container and its descendants: its name (as shown,
    /// or as its runtime named it), its runtime id or a prefix of it (4
    /// hex digits or more), its key (pidns:INODE, cgroup:ID) or pid
    /// namespace inode, or its cgroup path. One that names several
    /// containers is refused, with the list.
    #[arg(long, value_name = "NAME|ID")]
    pub container: Option<String>,
    /// The per-container tables and, after them, one table of the
    /// processes, busiest first.
    #[arg(long, group = "grouping")]
    pub per_process: bool,
    /// How many processes and syscalls to list per container (and
    /// processes with --per-process; functions with --profile).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,
    /// A profile of each container: its hottest functions (of its own
    /// tasks' samples), self and total % of its samples, from the
    /// samples' call chains (`perf record -g`, `perfns record --profile`);
    /// `--call-graph dwarf` samples' user stacks are unwound with the
    /// files' .eh_frame. Symbols come from the mapped files as recorded, checked against
    /// the recording's build-ids; a file missing or rebuilt since is
    /// looked for by build-id in perf's cache (~/.debug) and
    /// /usr/lib/debug; kernel frames from /proc/kallsyms, if the kernel is
    /// the recorded one. Addresses no symbol names show as
    /// `[unknown] FILE+0xOFFSET`, counted under the table.
    #[arg(long)]
    pub profile: bool,
    /// Write the profile as a flame graph (SVG) to FILE: containers at
    /// its first level, nested ones above their parent (one container and
    /// its descendants with --container). Implies --profile.
    #[arg(long, value_name = "FILE.svg")]
    pub flamegraph: Option<PathBuf>,
    /// What "busiest" means: keys, comma-separated, as perf report
    /// --sort takes them, the first first (`syscalls,cpu`: by syscalls,
    /// ties by CPU time).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "KEY[,KEY...]",
        default_value = "cpu"
    )]
    pub sort: Vec<SortArg>,
    /// Only the time between START and END, in seconds as `perf script`
    /// prints them (either may be left empty: `100.5,` or `,101`), or
    /// several such ranges separated by spaces, ascending and apart, as
    /// perf report takes them (quoted: `'100.5,101 102,103'`); or, as perf
    /// report --time takes it, slices of the recording from its first
    /// sample to its last: `10%/2` (the second tenth), `10%` (the first),
    /// `0%-25%`, and lists of slices of one form (`10%/1,10%/3`,
    /// `0%-10%,30%-40%`). A sample counts if it falls in any range; CPU
    /// time counts only inside them.
    #[arg(long, value_name = "START,END|P%/N,...|P%-Q%,...")]
    pub time: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Write the report to FILE instead of stdout (needed for parquet).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With --format parquet: one row per container per SECONDS of the
    /// recording (fractions allowed), instead of one for the whole.
    #[arg(long, value_name = "SECONDS")]
    pub interval: Option<f64>,
    /// How many threads read the recording: with 1 (the default), one
    /// thread reads and analyses; with more, a second thread reads the
    /// records and puts them in time order while the first analyses them.
    /// The report is the same. On the 2-CPU machine of
    /// perfns-report/BENCHMARK.md (section E) two threads take more CPU
    /// and no less time than one, hence the default.
    #[arg(short, long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
}

/// What to sort containers and processes by (the report's [`SortKey`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortArg {
    /// CPU time (then samples).
    Cpu,
    /// Pages allocated (then freed).
    Mem,
    /// Syscalls (then errors).
    Syscalls,
}

impl From<SortArg> for SortKey {
    fn from(arg: SortArg) -> Self {
        match arg {
            SortArg::Cpu => SortKey::Cpu,
            SortArg::Mem => SortKey::Mem,
            SortArg::Syscalls => SortKey::Syscalls,
        }
    }
}

/// How to print the report (the report's [`Format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Tables fit to the terminal's width.
    Table,
    /// JSON, schema `perfns-report/2` (docs/report-json.md).
    Json,
    /// CSV: one block per section.
    Csv,
    /// The profile's stacks, folded as Brendan Gregg's tools take them
    /// (`CONTAINER;FRAME;...;FRAME COUNT`, outermost first), for any
    /// flame-graph tool. Implies --profile.
    Folded,
    /// Parquet, schema `perfns-containers/1` (docs/report-parquet.md): one
    /// row per container (per --interval), for DuckDB, ClickHouse, Spark.
    Parquet,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Csv => Format::Csv,
            FormatArg::Folded => Format::Folded,
            FormatArg::Parquet => Format::Parquet,
        }
    }
}

impl ReportArgs {
    /// Checks the command line before the recording is read, and makes it
    /// the report's configuration.
    pub fn into_config(self) -> anyhow::Result<ReportConfig> {
        if self.top == 0 {
            anyhow::bail!("--top must be at least 1");
        }
        if self.jobs == 0 {
            anyhow::bail!("--jobs must be at least 1");
        }
        let (time, time_percent) = match self.time.as_deref() {
            None => (Vec::new(), Vec::new()),
            Some(text) if text.contains('%') => (Vec::new(), parse_percent_ranges(text)?),
            Some(text) => (parse_time_ranges(text)?, Vec::new()),
        };
        let ranges = time.len() + time_percent.len();
        let mut sort: Vec<SortKey> = Vec::new();
        for &arg in &self.sort {
            if sort.contains(&arg.into()) {
                let name = clap::ValueEnum::to_possible_value(&arg)
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default();
                anyhow::bail!("--sort: {name} is given twice");
            }
            sort.push(arg.into());
        }
        let (&first, then_by) = sort
            .split_first()
            .context("--sort: give at least one key")?;
        let options = Options {
            flat: self.flat,
            container: self.container,
            per_process: self.per_process,
            top: self.top,
            sort: first,
            then_by: then_by.to_vec(),
            time,
            time_percent,
            jobs: self.jobs,
            profile: (self.profile
                || self.flamegraph.is_some()
                || self.format == FormatArg::Folded)
                .then(perfns_report::ProfileSources::system),
        };
        let format = Format::from(self.format);
        if format == Format::Parquet && options.profile.is_some() {
            anyhow::bail!(
                "--profile's functions are not in the parquet rows: use --format table, json, csv \
                 or folded"
            );
        }
        if let Some(i) = self.interval {
            if !(i.is_finite() && i > 0.0) {
                anyhow::bail!("--interval {i}: must be a positive number of seconds");
            }
        }
        if self.interval.is_some() && ranges > 1 {
            anyhow::bail!(
                "--interval splits one span of time into rows; --time gave {ranges} ranges: give \
                 one"
            );
        }
        if self.interval.is_some() && !format.has_intervals() {
            anyhow::bail!(
                "--interval splits the rows of --format parquet; the other formats cover the whole \
                 recording (or --time)"
            );
        }
        Ok(ReportConfig {
            input: self.input,
            options,
            format,
            output: self.output,
            interval: self.interval.map(Duration::from_secs_f64),
            flamegraph: self.flamegraph,
        })
    }
}

/// Parses perf report's `--time` in seconds: `START,END`
/// (`123.456789,124`), or several separated by spaces (`1,2 3,4`),
/// ascending and apart (perf's perf_time__parse_strs() refuses ranges that
/// touch or overlap); only the first may leave its start open, only the
/// last its end.
fn parse_time_ranges(text: &str) -> anyhow::Result<Vec<(Option<u64>, Option<u64>)>> {
    let pieces: Vec<&str> = text.split_whitespace().collect();
    if pieces.is_empty() {
        anyhow::bail!("--time {text:?}: expected START,END");
    }
    let ranges = pieces
        .iter()
        .map(|piece| parse_time_range(text, piece))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (i, pair) in ranges.windows(2).enumerate() {
        let (Some(end), Some(next)) = (pair[0].1, pair[1].0) else {
            anyhow::bail!(
                "--time {text:?}: only the first range may leave its start open, and only the \
                 last its end"
            );
        };
        if end >= next {
            anyhow::bail!(
                "--time {text:?}: range {} ({}) does not end before range {} ({}) starts: give \
                 the ranges in order, apart",
                i + 1,
                pieces[i],
                i + 2,
                pieces[i + 1]
            );
        }
    }
    Ok(ranges)
}

/// Parses one `START,END` of `--time TEXT`, in seconds, either end
/// optional.
fn parse_time_range(text: &str, piece: &str) -> anyhow::Result<(Option<u64>, Option<u64>)> {
    let (start, end) = piece.split_once(',').with_context(|| {
        format!("--time {text:?}: {piece:?} is not START,END (several ranges: `1,2 3,4`)")
    })?;
    let parse = |s: &str| -> anyhow::Result<Option<u64>> {
        if s.is_empty() {
            return Ok(None);
        }
        parse_seconds(s).map(Some).with_context(|| {
            if s.contains(',') {
                format!(
                    "--time {text:?}: {piece:?}: separate ranges with a space, not a comma \
                     (`1,2 3,4`, quoted)"
                )
            } else {
                format!("--time {text:?}: {s:?} is not a time in seconds")
            }
        })
    };
    let (start, end) = (parse(start)?, parse(end)?);
    if let (Some(a), Some(b)) = (start, end) {
        if a > b {
            let which = if piece == text {
                String::new()
            } else {
                format!(" of {piece:?}")
            };
            anyhow::bail!("--time {text:?}: the start{which} is after the end");
        }
    }
    Ok((start, end))
}

/// Parses perf report's percent forms of `--time`, one form in a list
/// (as perf_time__percent_parse_str() in tools/perf/util/time-utils.c
/// takes them): `P%/N,...` (the Nth slice of P%), `P%-Q%,...`, or one
/// `P%` (`P%/1`); percents with up to 4 decimals. The slices may overlap;
/// a sample in any counts.
fn parse_percent_ranges(text: &str) -> anyhow::Result<Vec<PercentRange>> {
    let pieces: Vec<&str> = text.split(',').collect();
    let slash = text.contains('/');
    let dash = text.contains('-');
    if slash && dash {
        anyhow::bail!(
            "--time {text:?}: one form in a list: slices (`10%/1,10%/3`) or ranges \
             (`0%-10%,30%-40%`), as perf takes them"
        );
    }
    if !slash && !dash && pieces.len() > 1 {
        anyhow::bail!(
            "--time {text:?}: several slices are P%/N (`10%/1,10%/3`) or P%-Q% \
             (`0%-10%,30%-40%`); P% alone is one slice, the first"
        );
    }
    pieces
        .iter()
        .map(|piece| parse_percent_range(text, piece))
        .collect()
}

/// Parses one percent form of `--time TEXT`: `P%/N` (the Nth slice of
/// P%), `P%` (`P%/1`) or `P%-Q%`.
fn parse_percent_range(text: &str, piece: &str) -> anyhow::Result<PercentRange> {
    let bad = |why: &str| {
        if text == piece {
            anyhow::anyhow!("--time {text:?}: {why}")
        } else {
            anyhow::anyhow!("--time {text:?}: {piece:?}: {why}")
        }
    };
    let percent = |s: &str| {
        s.strip_suffix('%')
            .and_then(parse_ppm)
            .filter(|&p| p <= 1_000_000)
            .ok_or_else(|| bad(&format!("{s:?} is not a percent from 0% to 100%")))
    };
    let range = if let Some((from, to)) = piece.split_once('-') {
        PercentRange {
            from_ppm: percent(from)?,
            to_ppm: percent(to)?,
        }
    } else {
        let (size, n) = piece.split_once('/').unwrap_or((piece, "1"));
        let size = percent(size)?;
        let n: u32 = n
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad(&format!("{n:?} is not a slice number (1, 2, ...)")))?;
        let end = u64::from(size) * u64::from(n);
        if size == 0 || end > 1_000_000 {
            return Err(bad(&format!(
                "slice {n} of {} is not within 0% to 100%",
                &piece[..piece.find('%').unwrap_or(0) + 1]
            )));
        }
        PercentRange {
            from_ppm: (end - u64::from(size)) as u32,
            to_ppm: end as u32,
        }
    };
    if range.from_ppm > range.to_ppm {
        return Err(bad("the start is after the end"));
    }
    Ok(range)
}

/// A percent (`12.5`) in parts per million, exactly: up to 4 decimals.
fn parse_ppm(s: &str) -> Option<u32> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || fraction.len() > 4
        || !(whole.bytes().chain(fraction.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let fraction: u32 = format!("{fraction:0<4}").parse().ok()?;
    whole.checked_mul(10_000)?.checked_add(fraction)
}

/// `123.456` seconds as nanoseconds, exactly (no floating point).
fn parse_seconds(s: &str) -> Option<u64> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    if fraction.len() > 9 || !(whole.bytes().chain(fraction.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: u64 = format!("{fraction:0<9}").parse().ok()?;
    whole.checked_mul(1_000_000_000)?.checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `perfns report ARGS`' config, or its error.
    fn config(args: &[&str]) -> Result<ReportConfig, String> {
        #[derive(clap::Parser)]
        struct Report {
            #[command(flatten)]
            args: ReportArgs,
        }
        let cli = <Report as clap::Parser>::try_parse_from(
            std::iter::once("report").chain(args.iter().copied()),
        )
        .map_err(|e| e.to_string())?;
        cli.args.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn jobs_default_to_one_and_zero_is_refused() {
        assert_eq!(config(&[]).map(|c| c.options.jobs), Ok(1));
        assert_eq!(config(&["--jobs", "3"]).map(|c| c.options.jobs), Ok(3));
        assert_eq!(config(&["-j", "1"]).map(|c| c.options.jobs), Ok(1));
        assert_eq!(
            config(&["--jobs", "0"]).map(|c| c.options.jobs),
            Err("--jobs must be at least 1".to_owned())
        );
    }

    #[test]
    fn folded_stacks_and_a_flame_graph_imply_a_profile() {
        let profiled = |args: &[&str]| config(args).map(|c| c.options.profile.is_some());
        assert_eq!(profiled(&[]), Ok(false));
        assert_eq!(profiled(&["--profile"]), Ok(true));
        assert_eq!(profiled(&["--format", "folded"]), Ok(true));
        assert_eq!(profiled(&["--flamegraph", "x.svg"]), Ok(true));
        assert_eq!(
            config(&["--flamegraph", "x.svg"]).map(|c| c.flamegraph),
            Ok(Some(PathBuf::from("x.svg")))
        );
        let err = config(&["--profile", "--format", "parquet", "-o", "x.parquet"]).unwrap_err();
        assert!(err.contains("not in the parquet rows"), "{err}");
    }

    #[test]
    fn seconds_parse_exactly() {
        assert_eq!(parse_seconds("230.546309"), Some(230_546_309_000));
        assert_eq!(parse_seconds("1"), Some(1_000_000_000));
        assert_eq!(parse_seconds(".5"), Some(500_000_000));
        assert_eq!(parse_seconds("1.0000000001"), None);
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("."), None);
        assert_eq!(parse_seconds("1e3"), None);
    }

    #[test]
    fn percent_ranges_are_perfs() {
        let range = |t: &str| {
            parse_percent_ranges(t)
                .map(|r| r.iter().map(|r| (r.from_ppm, r.to_ppm)).collect::<Vec<_>>())
                .map_err(|e| e.to_string())
        };
        assert_eq!(range("10%/2"), Ok(vec![(100_000, 200_000)]));
        assert_eq!(range("10%"), Ok(vec![(0, 100_000)]));
        assert_eq!(range("25%/4"), Ok(vec![(750_000, 1_000_000)]));
        assert_eq!(range("0%-10%"), Ok(vec![(0, 100_000)]));
        assert_eq!(range("12.5%-100%"), Ok(vec![(125_000, 1_000_000)]));
        assert_eq!(
            range("10%/1,10%/3"),
            Ok(vec![(0, 100_000), (200_000, 300_000)])
        );
        assert_eq!(
            range("0%-10%,30%-40%"),
            Ok(vec![(0, 100_000), (300_000, 400_000)])
        );
        // Overlapping slices are perf's too; the report takes their union.
        assert_eq!(
            range("20%/1,10%/2"),
            Ok(vec![(0, 200_000), (100_000, 200_000)])
        );
        for (bad, why) in [
            ("10%/1,0%-5%", "one form in a list"),
            ("10%,20%", "P% alone is one slice"),
            ("10%/1,", "\"\" is not a percent"),
            ("10%/1,30%/4", "\"30%/4\": slice 4 of 30% is not within"),
            ("30%/4", "not within"),
            ("0%/1", "not within"),
            ("10%/0", "slice number"),
            ("10%/x", "slice number"),
            ("20%-10%", "start is after the end"),
            ("101%", "not a percent"),
            ("10", "not a percent"),
            ("-10%", "not a percent"),
            ("1.00001%", "not a percent"),
        ] {
            let err = range(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn percent_slices_end_short_of_the_next_as_perfs() {
        // perf's set_percent_time(): ends rounded to the nearest ns, one
        // short of the next slice's start unless it is the last sample.
        let tenth = |n: u32| PercentRange {
            from_ppm: (n - 1) * 100_000,
            to_ppm: n * 100_000,
        };
        assert_eq!(tenth(1).between(1000, 2000), (1000, 1099));
        assert_eq!(tenth(2).between(1000, 2000), (1100, 1199));
        assert_eq!(tenth(10).between(1000, 2000), (1900, 2000));
        // 10% of 15 ns is 1.5: rounded up, as round() does.
        assert_eq!(tenth(1).between(0, 15), (0, 1));
        assert_eq!(tenth(1).between(7, 7), (7, 7));
    }

    #[test]
    fn time_ranges_may_be_open_at_the_outer_ends() {
        let s = 1_000_000_000;
        assert_eq!(parse_time_ranges("1,2").unwrap(), [(Some(s), Some(2 * s))]);
        assert_eq!(parse_time_ranges("1,").unwrap(), [(Some(s), None)]);
        assert_eq!(parse_time_ranges(",2").unwrap(), [(None, Some(2 * s))]);
        assert_eq!(
            parse_time_ranges(",1 2,3  4,").unwrap(),
            [
                (None, Some(s)),
                (Some(2 * s), Some(3 * s)),
                (Some(4 * s), None)
            ]
        );
        for (bad, why) in [
            ("2,1", "start is after the end"),
            ("2", "is not START,END"),
            ("", "expected START,END"),
            ("1,2,3,4", "separate ranges with a space"),
            ("1,2 2,3", "does not end before range 2"),
            ("3,4 1,2", "does not end before range 2"),
            ("1, 2,3", "only the first range may leave its start open"),
            ("1,2 ,3", "only the first range may leave its start open"),
            ("1,x", "\"x\" is not a time in seconds"),
        ] {
            let err = parse_time_ranges(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
