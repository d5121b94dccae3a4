//! Rendering: a report as text, a pure function of the report (and, for
//! tables, a width) in each format: [`table`], [`json`], [`csv`].

use std::fmt::Write as _;

use perfns::container::{RecordingMode, RecordingScope};
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Modify, Style, Width};

use crate::model::{
    ContainerReport, ContainerSource, CpuFigures, CpuTimeSource, Figures, Header, MemoryFigures,
    ProcessReport, Profile, Report, SyscallTotals, TracepointCount, UprobeFigures,
};
use crate::SortKey;

/// The terminal's width when stdout is a terminal.
pub fn terminal_width() -> Option<usize> {
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

/// Pretty-printed JSON, schema `perfns-report/2`, with a final newline.
pub fn json(report: &Report) -> String {
    // A report is plain data (strings, numbers, maps with integer keys
    // that serde_json writes as strings): serializing it cannot fail.
    let mut text =
        serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// A duration for people: ns, µs, ms or s with three significant
/// decimals.
pub fn duration(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns} ns"),
        1_000..=999_999 => format!("{:.3} µs", ns as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.3} ms", ns as f64 / 1e6),
        _ => format!("{:.3} s", ns as f64 / 1e9),
    }
}

/// A perf timestamp as `perf script` prints it: seconds with six decimals.
fn seconds(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, (ns % 1_000_000_000) / 1000)
}

fn header_lines(h: &Header) -> String {
    let mut out = String::new();
    let r = &h.recording;
    let _ = writeln!(out, "perfns report of {}", h.file);
    let mut by = format!("recorded by {}", r.tool);
    if let Some(v) = &r.version {
        // perfns writes `perfns 0.1.0`, perf just `6.1.187`.
        let v = v.strip_prefix(r.tool).map_or(v.as_str(), str::trim_start);
        let _ = write!(by, " {v}");
    }
    let host: Vec<&str> = [
        r.hostname.as_deref(),
        r.arch.as_deref(),
        r.kernel.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !host.is_empty() {
        let _ = write!(by, " on {}", host.join(", "));
    }
    let _ = writeln!(out, "{by}");
    // A command may hold a whole script: one line here.
    let one_line = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let (Some(mode), Some(scope)) = (r.mode, &r.scope) {
        let _ = writeln!(out, "mode: {}", one_line(&mode_text(mode, scope)));
    }
    if let Some(cmd) = &r.cmdline {
        let _ = writeln!(out, "command: {}", one_line(cmd));
    }
    if let Some(how) = &r.compression {
        let _ = writeln!(out, "compressed: {how}");
    }
    if r.pipe_mode {
        let _ = writeln!(out, "pipe mode: read as a stream");
    }
    let t = &h.time;
    let _ = write!(
        out,
        "time: {} to {} ({})",
        seconds(t.start_ns),
        seconds(t.end_ns),
        duration(t.duration_ns)
    );
    if !t.ranges.is_empty() {
        let ranges: Vec<String> = t
            .ranges
            .iter()
            .map(|[a, b]| format!("{} to {}", seconds(*a), seconds(*b)))
            .collect();
        let _ = write!(out, " in {} ranges: {}", ranges.len(), ranges.join(", "));
    }
    if let Some(online) = h.cpus.online {
        let _ = write!(out, "; {online} CPUs online");
    }
    let recorded: Vec<String> = h.cpus.recorded.iter().map(u32::to_string).collect();
    let _ = writeln!(
        out,
        "; records from CPU {}",
        if recorded.is_empty() {
            "-".into()
        } else {
            recorded.join(",")
        }
    );
    let events: Vec<String> = h
        .events
        .iter()
        .map(|e| format!("{} {}", e.name, e.samples))
        .collect();
    let _ = writeln!(out, "samples: {}", events.join(", "));
    if h.lost.total == 0 {
        let _ = writeln!(out, "lost events: none");
    } else {
        let _ = writeln!(
            out,
            "lost events: {} (LOST records say {}, LOST_SAMPLES say {}{})",
            h.lost.total,
            h.lost.records,
            h.lost.samples,
            if h.lost.samples_recount_records {
                ", the same drops"
            } else {
                ""
            }
        );
    }
    let containers = match h.containers_from {
        ContainerSource::PerfnsMetadata => "pid namespaces, named by perfns's container metadata",
        ContainerSource::PidNamespaces => "pid namespaces (NAMESPACES records)",
        ContainerSource::Cgroups => "cgroups (CGROUP records)",
        ContainerSource::None => "none (no NAMESPACES or cgroup records)",
    };
    let cpu = match h.cpu_time_from {
        CpuTimeSource::SchedSwitch => "sched:sched_switch",
        CpuTimeSource::SwitchRecords => "switch records",
        CpuTimeSource::TaskSwitchRecords => "the recorded tasks' own switch records",
        CpuTimeSource::None => "none",
    };
    let _ = writeln!(out, "containers from: {containers}; CPU time from: {cpu}");
    for note in &h.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for warning in &h.warnings {
        let _ = writeln!(out, "WARNING: {warning}");
    }
    out
}

/// The name column: indented under its parent in a tree.
fn tree_name(c: &ContainerReport) -> String {
    match c.depth {
        0 => c.name.clone(),
        d => format!("{}└─ {}", "   ".repeat(d - 1), c.name),
    }
}

fn percent(p: f64) -> String {
    format!("{p:.2}%")
}

/// The busiest processes of a container, with `figure` for each.
fn processes(c: &ContainerReport, figure: impl Fn(&Figures) -> String) -> String {
    c.top_processes
        .iter()
        .map(|p| format!("{}[{}] {}", p.comm, p.pid, figure(&p.figures)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn finish_table(
    builder: Builder,
    width: Option<usize>,
    right_from: usize,
    right_to: usize,
) -> String {
    let mut table = builder.build();
    table
        .with(Style::psql())
        .with(Modify::new(Columns::new(right_from..right_to)).with(Alignment::right()));
    if let Some(width) = width {
        let rows: &[Vec<_>] = table.get_records();
        let cells: Vec<Vec<&str>> = rows
            .iter()
            .map(|row| row.iter().map(|c| c.as_ref()).collect())
            .collect();
        for (column, fit) in column_widths(&cells, width).into_iter().enumerate() {
            table.with(
                Modify::new(Columns::new(column..column + 1))
                    .with(Width::wrap(fit).keep_words(true)),
            );
        }
    }
    let mut text = table.to_string();
    text.push('\n');
    text
}

/// The width of each column so that a psql-style table of `cells` (rows of
/// columns) fits `width` characters. The widest column gives first, one
/// character at a time, down to a floor that is lowered only when the
/// table does not fit above it: first its longest unit (a figure with its
/// unit, `806.861 ms`, or one entry of a list, `git[9958] 265.584 ms`; a
/// header word), then its longest word, so that no word breaks unless a
/// column is narrower than one; then one character. The first column
/// (container names, drawn as a tree) keeps its whole names down to the
/// last tier.
fn column_widths(cells: &[Vec<&str>], width: usize) -> Vec<usize> {
    use unicode_width::UnicodeWidthStr;
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let longest =
        |parts: &mut dyn Iterator<Item = &str>| parts.map(|p| p.trim().width()).max().unwrap_or(0);
    let (mut fit, mut units, mut words) = (vec![1; columns], vec![1; columns], vec![1; columns]);
    for (r, row) in cells.iter().enumerate() {
        for (i, cell) in row.iter().enumerate() {
            for line in cell.lines() {
                fit[i] = fit[i].max(line.width());
                let (unit, word) = match (i, r) {
                    (0, _) => (line.width(), line.width()),
                    (_, 0) => (longest(&mut line.split(' ')), longest(&mut line.split(' '))),
                    _ => (
                        longest(&mut line.split(", ")),
                        longest(&mut line.split(' ')),
                    ),
                };
                units[i] = units[i].max(unit);
                words[i] = words[i].max(word);
            }
        }
    }
    // psql style: one space at each edge and " | " between columns.
    let room = width.saturating_sub(2 + 3 * columns.saturating_sub(1));
    for floor in [units, words, vec![1; columns]] {
        while fit.iter().sum::<usize>() > room {
            let widest = (0..columns)
                .filter(|&i| fit[i] > floor[i])
                .max_by_key(|&i| (fit[i], std::cmp::Reverse(i)));
            match widest {
                Some(i) => fit[i] -= 1,
                None => break,
            }
        }
    }
    fit
}

/// The report as tables, each fit to `width` columns when given.
pub fn table(report: &Report, width: Option<usize>) -> String {
    let h = &report.header;
    let mut out = header_lines(h);
    let tree = report.containers.iter().any(|c| c.depth > 0)
        || report.containers.iter().any(|c| c.own != c.total);
    let samples = report.containers.iter().any(|c| c.total.cpu.samples > 0);
    let sort = busiest_section(report);

    let cpu_known = h.cpu_time_from != CpuTimeSource::None;
    if cpu_known || samples {
        cputop(&mut out, report, tree, samples, sort == Section::Cpu, width);
    }

    if h.memory_recorded {
        memtop(&mut out, report, tree, sort == Section::Memory, width);
    }
    if h.syscalls_recorded {
        syscalls(&mut out, report, tree, sort == Section::Syscalls, width);
    }
    if h.uprobes_recorded {
        uprobes(&mut out, report, width);
    }
    if h.user_events_recorded || h.tracepoints_recorded {
        tracepoints(&mut out, report, width);
    }
    if let Some(procs) = &report.processes {
        let _ = write!(
            out,
            "\nProcesses\n{}",
            process_table(report, procs, width, samples)
        );
    }
    if let Some(profile) = &report.profile {
        profile_table(&mut out, report, profile, width);
    }
    out
}

/// The Profile section: each container's hottest functions (its own
/// tasks'), self and total percent of its samples, and under the table
/// how many frames stayed unsymbolized, and why.
fn profile_table(out: &mut String, report: &Report, profile: &Profile, width: Option<usize>) {
    let b = per_container_rows(
        report,
        vec![
            "container",
            "samples",
            "function",
            "self %",
            "total %",
            "self",
            "total",
            "file",
        ],
        |c| {
            let p = c.profile.as_ref();
            let samples = p.map_or(0, |p| p.samples);
            p.into_iter()
                .flat_map(|p| &p.functions)
                .enumerate()
                .map(move |(i, f)| (if i == 0 { Some(samples) } else { None }, f))
                .collect::<Vec<_>>()
        },
        |(samples, f)| {
            vec![
                samples.map(|n| n.to_string()).unwrap_or_default(),
                f.function.clone(),
                percent(f.self_percent),
                percent(f.total_percent),
                f.self_samples.to_string(),
                f.total_samples.to_string(),
                f.dso.clone(),
            ]
        },
    );
    if b.count_records() > 1 {
        let _ = write!(
            out,
            "\nProfile (own samples; self and total % of the container's)\n{}",
            finish_table(b, width, 3, 7)
        );
    } else {
        out.push_str("\nProfile: no samples\n");
    }
    let (frames, unsymbolized) = report
        .containers
        .iter()
        .filter_map(|c| c.profile.as_ref())
        .fold((0, 0), |(f, u), p| {
            (f + p.frames, u + p.unsymbolized_frames)
        });
    let _ = writeln!(
        out,
        "unsymbolized frames: {unsymbolized} of {frames} (shown as [unknown] FILE+0xOFFSET)"
    );
    for problem in &profile.problems {
        let _ = writeln!(out, "symbols: {problem}");
    }
}

/// A table cell written from figures of kind `T`.
type Cell<T> = fn(&T) -> String;

/// A column of a container's figures of one kind (`T`: CPU, memory or
/// system calls): its heading, its heading for the container's own
/// figures in a tree (`None`: the total only), and its cell.
struct FigureColumn<T> {
    head: &'static str,
    own: Option<&'static str>,
    cell: Cell<T>,
}

/// A section of the table with one row per container, what it shows of
/// the figures of kind `T`.
struct ContainerSection<'a, T> {
    title: &'a str,
    /// The figures of kind `T` among a container's (or process's).
    figures: fn(&Figures) -> &T,
    /// Right-aligned columns in groups: each group's totals, then (in a
    /// tree) its own figures.
    groups: &'a [&'a [FigureColumn<T>]],
    /// Left-aligned columns of the totals, after the groups.
    notes: &'a [FigureColumn<T>],
    /// A busiest process's figure, when the processes are listed here.
    busiest: Cell<T>,
}

/// Writes `section`: a `container` column (a tree when `tree`), its
/// columns, and the busiest processes when `busiest`.
fn container_section<T>(
    out: &mut String,
    report: &Report,
    section: ContainerSection<'_, T>,
    tree: bool,
    busiest: bool,
    width: Option<usize>,
) {
    // Each column's heading, cell, and whether it shows the own figures.
    let mut columns: Vec<(&str, Cell<T>, bool)> = Vec::new();
    for group in section.groups {
        columns.extend(group.iter().map(|c| (c.head, c.cell, false)));
        if tree {
            columns.extend(group.iter().filter_map(|c| Some((c.own?, c.cell, true))));
        }
    }
    let right_end = 1 + columns.len();
    columns.extend(section.notes.iter().map(|c| (c.head, c.cell, false)));

    // The runtime's id beside the name, when a container has one: the
    // name is the runtime's (`web`), the id what its logs and tools show.
    let ids = report.containers.iter().any(|c| c.id.is_some());
    let first = 1 + usize::from(ids);
    let right_end = right_end + usize::from(ids);
    let mut b = Builder::default();
    let mut head = vec!["container"];
    if ids {
        head.push("id");
    }
    head.extend(columns.iter().map(|&(head, _, _)| head));
    if busiest {
        head.push("busiest processes");
    }
    b.push_record(head);
    for c in &report.containers {
        let mut row = vec![tree_name(c)];
        if ids {
            row.push(short_id(c));
        }
        row.extend(
            columns.iter().map(|&(_, cell, own)| {
                cell((section.figures)(if own { &c.own } else { &c.total }))
            }),
        );
        if busiest {
            row.push(processes(c, |f| (section.busiest)((section.figures)(f))));
        }
        b.push_record(row);
    }
    let _ = write!(
        out,
        "\n{}\n{}",
        section.title,
        finish_table(b, width, first, right_end)
    );
}

/// A runtime id as `docker ps` shortens it: its first 12 digits.
fn short_id(c: &ContainerReport) -> String {
    c.id.as_deref()
        .map(|id| id.chars().take(12).collect())
        .unwrap_or_default()
}

/// The CPU section: time (when recorded) and samples per container.
fn cputop(
    out: &mut String,
    report: &Report,
    tree: bool,
    samples: bool,
    busiest: bool,
    width: Option<usize>,
) {
    const TIME: &[FigureColumn<CpuFigures>] = &[
        FigureColumn {
            head: "CPU time",
            own: Some("own CPU time"),
            cell: |f| duration(f.time_ns),
        },
        FigureColumn {
            head: "CPU %",
            own: Some("own %"),
            cell: |f| percent(f.percent),
        },
    ];
    const SAMPLES: &[FigureColumn<CpuFigures>] = &[FigureColumn {
        head: "samples",
        own: Some("own samples"),
        cell: |f| f.samples.to_string(),
    }];
    let time = report.header.cpu_time_from != CpuTimeSource::None;
    let groups: Vec<_> = [(time, TIME), (samples, SAMPLES)]
        .into_iter()
        .filter_map(|(shown, group)| shown.then_some(group))
        .collect();
    let section = ContainerSection {
        title: if time {
            "CPU (% of one CPU)"
        } else {
            "CPU (samples)"
        },
        figures: |f| &f.cpu,
        groups: &groups,
        notes: &[],
        busiest: if time {
            |f| duration(f.time_ns)
        } else {
            |f| format!("{} samples", f.samples)
        },
    };
    container_section(out, report, section, tree, busiest, width);
}

/// Pages allocated by order, `order:count` separated by spaces.
fn allocations_by_order(m: &MemoryFigures) -> String {
    m.allocations_by_order
        .iter()
        .map(|(order, n)| format!("{order}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn memtop(out: &mut String, report: &Report, tree: bool, busiest: bool, width: Option<usize>) {
    let section = ContainerSection {
        title: "Memory (pages)",
        figures: |f| &f.memory,
        groups: &[&[
            FigureColumn {
                head: "pages allocated",
                own: Some("own allocated"),
                cell: |m| m.pages_allocated.to_string(),
            },
            FigureColumn {
                head: "freed",
                own: None,
                cell: |m| m.pages_freed.to_string(),
            },
            FigureColumn {
                head: "net",
                own: Some("own net"),
                cell: |m| m.pages_net.to_string(),
            },
        ]],
        notes: &[FigureColumn {
            head: "allocations by order",
            own: None,
            cell: allocations_by_order,
        }],
        busiest: |m| format!("{} pages", m.pages_allocated),
    };
    container_section(out, report, section, tree, busiest, width);
}

/// The columns of system call figures, in the Syscalls and the Top
/// syscalls tables.
const SYSCALL_COLUMNS: &[FigureColumn<SyscallTotals>] = &[
    FigureColumn {
        head: "calls",
        own: Some("own calls"),
        cell: |s| s.calls.to_string(),
    },
    FigureColumn {
        head: "errors",
        own: Some("own errors"),
        cell: |s| s.errors.to_string(),
    },
    FigureColumn {
        head: "total latency",
        own: None,
        cell: |s| duration(s.latency_total_ns),
    },
    FigureColumn {
        head: "avg",
        own: None,
        cell: |s| duration(s.latency_avg_ns),
    },
    FigureColumn {
        head: "max",
        own: None,
        cell: |s| duration(s.latency_max_ns),
    },
];

fn syscalls(out: &mut String, report: &Report, tree: bool, busiest: bool, width: Option<usize>) {
    let section = ContainerSection {
        title: "Syscalls",
        figures: |f| &f.syscalls,
        groups: &[SYSCALL_COLUMNS],
        notes: &[],
        busiest: |s| format!("{} calls", s.calls),
    };
    container_section(out, report, section, tree, busiest, width);
    top_syscalls(out, report, width);
}

/// A table under `head` of each container's `items` (its own), a row of
/// `cells` for each, the container named on its first.
fn per_container_rows<'r, T, I: IntoIterator<Item = T>>(
    report: &'r Report,
    head: Vec<&str>,
    items: impl Fn(&'r ContainerReport) -> I,
    cells: impl Fn(&T) -> Vec<String>,
) -> Builder {
    let mut b = Builder::default();
    b.push_record(head);
    for c in &report.containers {
        for (i, item) in items(c).into_iter().enumerate() {
            let name = if i == 0 {
                c.name.clone()
            } else {
                String::new()
            };
            let mut row = vec![name];
            row.extend(cells(&item));
            b.push_record(row);
        }
    }
    b
}

/// Each container's top system calls (its own), the container named on
/// its first.
fn top_syscalls(out: &mut String, report: &Report, width: Option<usize>) {
    let mut head = vec!["container", "syscall"];
    head.extend(SYSCALL_COLUMNS.iter().map(|c| c.head));
    let b = per_container_rows(
        report,
        head,
        |c| &c.top_syscalls,
        |sc| {
            let mut row = vec![sc.name.clone()];
            row.extend(SYSCALL_COLUMNS.iter().map(|col| (col.cell)(&sc.figures)));
            row
        },
    );
    if b.count_records() > 1 {
        let _ = write!(
            out,
            "\nTop syscalls (own)\n{}",
            finish_table(b, width, 2, 2 + SYSCALL_COLUMNS.len())
        );
    }
}

/// The columns of a uprobe's figures in the Uprobes table: hits, then its
/// calls' latency ("-" without a return probe).
const UPROBE_COLUMNS: &[(&str, Cell<UprobeFigures>)] = &[
    ("hits", |u| u.hits.to_string()),
    ("returns", |u| {
        u.returns.map_or_else(|| "-".into(), |n| n.to_string())
    }),
    ("avg", |u| {
        u.latency_avg_ns.map_or_else(|| "-".into(), duration)
    }),
    ("p50", |u| {
        u.latency_p50_ns.map_or_else(|| "-".into(), duration)
    }),
    ("p99", |u| {
        u.latency_p99_ns.map_or_else(|| "-".into(), duration)
    }),
    ("max", |u| {
        u.latency_max_ns.map_or_else(|| "-".into(), duration)
    }),
];

/// Each container's uprobes (its own tasks' hits), the container named on
/// its first; a line saying so when no container hit any.
fn uprobes(out: &mut String, report: &Report, width: Option<usize>) {
    let mut head = vec!["container", "probe"];
    head.extend(UPROBE_COLUMNS.iter().map(|(h, _)| *h));
    let b = per_container_rows(
        report,
        head,
        |c| &c.uprobes,
        |u| {
            let mut row = vec![u.probe.clone()];
            row.extend(UPROBE_COLUMNS.iter().map(|(_, cell)| cell(u)));
            row
        },
    );
    if b.count_records() > 1 {
        let _ = write!(
            out,
            "\nUprobes (own)\n{}",
            finish_table(b, width, 2, 2 + UPROBE_COLUMNS.len())
        );
    } else {
        out.push_str("\nUprobes (own): no hits\n");
    }
}

/// Each container's counted tracepoints (its own tasks' hits), user
/// events and others together, most first, the container named on its
/// first; a line saying so when no container hit any.
fn tracepoints(out: &mut String, report: &Report, width: Option<usize>) {
    let b = per_container_rows(
        report,
        vec!["container", "tracepoint", "count"],
        |c| {
            let mut all: Vec<&TracepointCount> =
                c.user_events.iter().chain(&c.tracepoints).collect();
            all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.event.cmp(&b.event)));
            all
        },
        |t| vec![t.event.clone(), t.count.to_string()],
    );
    if b.count_records() > 1 {
        let _ = write!(out, "\nTracepoints (own)\n{}", finish_table(b, width, 2, 3));
    } else {
        out.push_str("\nTracepoints (own): none hit\n");
    }
}

fn process_table(
    report: &Report,
    procs: &[ProcessReport],
    width: Option<usize>,
    samples: bool,
) -> String {
    let h = &report.header;
    let mut b = Builder::default();
    let time = h.cpu_time_from != CpuTimeSource::None;
    let mut head: Vec<&str> = vec!["pid", "command", "threads"];
    if time {
        head.extend(["CPU time", "CPU %"]);
    }
    if samples {
        head.push("samples");
    }
    if h.memory_recorded {
        head.extend(["pages allocated", "freed"]);
    }
    if h.syscalls_recorded {
        head.extend(["syscalls", "errors"]);
    }
    head.push("container");
    let right_end = head.len() - 1;
    b.push_record(head);
    for p in procs {
        let f = &p.process.figures;
        let mut row = vec![
            p.process.pid.to_string(),
            p.process.comm.clone(),
            p.process.threads.to_string(),
        ];
        if time {
            row.extend([duration(f.cpu.time_ns), percent(f.cpu.percent)]);
        }
        if samples {
            row.push(f.cpu.samples.to_string());
        }
        if h.memory_recorded {
            row.extend([
                f.memory.pages_allocated.to_string(),
                f.memory.pages_freed.to_string(),
            ]);
        }
        if h.syscalls_recorded {
            row.extend([f.syscalls.calls.to_string(), f.syscalls.errors.to_string()]);
        }
        row.push(p.container.clone());
        b.push_record(row);
    }
    finish_table(b, width, 2, right_end)
}

#[derive(Debug, PartialEq, Eq)]
enum Section {
    Cpu,
    Memory,
    Syscalls,
}

/// How perfns recorded, as the table's header says it: its mode and
/// scope.
fn mode_text(mode: RecordingMode, scope: &RecordingScope) -> String {
    let mode = match mode {
        RecordingMode::SystemWide => "system-wide",
        RecordingMode::TracerScope => "tracer scope",
        RecordingMode::PerProcess => "per process",
    };
    match scope {
        RecordingScope::System => format!("{mode}, the whole system"),
        RecordingScope::Command { argv } => format!("{mode}, command: {}", argv.join(" ")),
        RecordingScope::Container { name, key } => {
            format!("{mode}, container {name} (pidns:{key}) and its descendants")
        }
        RecordingScope::Processes { pids } => {
            let pids: Vec<String> = pids.iter().map(i32::to_string).collect();
            format!(
                "{mode}, processes {} and the tasks they made",
                pids.join(", ")
            )
        }
    }
}

/// The section whose figure the processes are sorted by: they are listed
/// there.
fn busiest_section(report: &Report) -> Section {
    match report.sorted_by {
        SortKey::Cpu => Section::Cpu,
        SortKey::Mem => Section::Memory,
        SortKey::Syscalls => Section::Syscalls,
    }
}

/// A CSV block with one line per container: its identity, then
/// `columns` from `figures`, then its runtime's id and labels (the last
/// columns: added in perfns-report/2, after the figures, so that the
/// figures keep their places).
fn container_block(
    out: &mut String,
    report: &Report,
    section: &str,
    columns: &[&str],
    figures: impl Fn(&ContainerReport) -> Vec<String>,
) {
    out.push('\n');
    let mut head: Vec<String> = [
        "section", "key", "name", "runtime", "parent", "depth", "cgroup",
    ]
    .iter()
    .chain(columns)
    .chain(&["id", "labels"])
    .map(|c| (*c).to_owned())
    .collect();
    line(out, &head);
    for c in &report.containers {
        head.clear();
        head.extend([
            section.to_owned(),
            c.key.clone(),
            c.name.clone(),
            c.runtime.clone().unwrap_or_default(),
            c.parent.clone().unwrap_or_default(),
            c.depth.to_string(),
            c.cgroup.clone().unwrap_or_default(),
        ]);
        head.extend(figures(c));
        head.extend([
            c.id.clone().unwrap_or_default(),
            c.labels_json().unwrap_or_default(),
        ]);
        line(out, &head);
    }
}

/// One CSV line, its fields quoted where RFC 4180 needs it (by the csv
/// crate, which readers of the export use too).
fn line(out: &mut String, fields: &[String]) {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Written to memory, nothing can fail; the fields are UTF-8, so is
    // the line.
    let written = w
        .write_record(fields)
        .ok()
        .and_then(|()| w.into_inner().ok());
    out.push_str(&String::from_utf8_lossy(&written.unwrap_or_default()));
}

/// The CSV fields of system call figures, in the syscalls and the
/// top_syscalls blocks.
const SYSCALL_FIELDS: [&str; 6] = [
    "calls",
    "errors",
    "timed_calls",
    "latency_total_ns",
    "latency_avg_ns",
    "latency_max_ns",
];

/// The [`SYSCALL_FIELDS`] of `s`.
fn syscall_fields(s: &SyscallTotals) -> [String; 6] {
    [
        s.calls.to_string(),
        s.errors.to_string(),
        s.timed_calls.to_string(),
        s.latency_total_ns.to_string(),
        s.latency_avg_ns.to_string(),
        s.latency_max_ns.to_string(),
    ]
}

/// The uprobes block of the CSV: one line per container and probe its own
/// tasks hit; latency fields empty without a return probe.
fn uprobe_block(out: &mut String, report: &Report) {
    out.push('\n');
    line(
        out,
        &[
            "section",
            "key",
            "probe",
            "hits",
            "returns",
            "timed_calls",
            "latency_total_ns",
            "latency_avg_ns",
            "latency_max_ns",
            "latency_p50_ns",
            "latency_p99_ns",
        ]
        .map(String::from),
    );
    let opt = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    for c in &report.containers {
        for u in &c.uprobes {
            line(
                out,
                &[
                    "uprobes".into(),
                    c.key.clone(),
                    u.probe.clone(),
                    u.hits.to_string(),
                    opt(u.returns),
                    opt(u.timed_calls),
                    opt(u.latency_total_ns),
                    opt(u.latency_avg_ns),
                    opt(u.latency_max_ns),
                    opt(u.latency_p50_ns),
                    opt(u.latency_p99_ns),
                ],
            );
        }
    }
}

/// A counted-tracepoints block of the CSV, `section` (`user_events`, or
/// `tracepoints` for the others): one line per container and tracepoint
/// its own tasks hit.
fn tracepoint_block(
    out: &mut String,
    report: &Report,
    section: &str,
    of: impl Fn(&ContainerReport) -> &[TracepointCount],
) {
    out.push('\n');
    line(out, &["section", "key", "event", "count"].map(String::from));
    for c in &report.containers {
        for t in of(c) {
            line(
                out,
                &[
                    section.into(),
                    c.key.clone(),
                    t.event.clone(),
                    t.count.to_string(),
                ],
            );
        }
    }
}

/// The profile's blocks of the CSV: `profile`, one line per container
/// (its samples and frames, how many unsymbolized); `profile_functions`,
/// one per container and hot function; then a `profile_problems` line for
/// each reason frames stayed unsymbolized.
fn profile_blocks(out: &mut String, report: &Report, profile: &Profile) {
    out.push('\n');
    line(
        out,
        &["section", "key", "samples", "frames", "unsymbolized_frames"].map(String::from),
    );
    for c in &report.containers {
        if let Some(p) = &c.profile {
            line(
                out,
                &[
                    "profile".into(),
                    c.key.clone(),
                    p.samples.to_string(),
                    p.frames.to_string(),
                    p.unsymbolized_frames.to_string(),
                ],
            );
        }
    }
    out.push('\n');
    line(
        out,
        &[
            "section",
            "key",
            "function",
            "dso",
            "self_samples",
            "self_percent",
            "total_samples",
            "total_percent",
        ]
        .map(String::from),
    );
    for c in &report.containers {
        for f in c.profile.iter().flat_map(|p| &p.functions) {
            line(
                out,
                &[
                    "profile_functions".into(),
                    c.key.clone(),
                    f.function.clone(),
                    f.dso.clone(),
                    f.self_samples.to_string(),
                    format!("{:.2}", f.self_percent),
                    f.total_samples.to_string(),
                    format!("{:.2}", f.total_percent),
                ],
            );
        }
    }
    if !profile.problems.is_empty() {
        out.push('\n');
        line(out, &["section", "problem"].map(String::from));
        for problem in &profile.problems {
            line(out, &["profile_problems".into(), problem.clone()]);
        }
    }
}

/// Each container's stacks as Brendan Gregg's folded stacks, one line
/// per distinct call chain, `CONTAINER;FRAME;...;FRAME COUNT`, outermost
/// frame first: the container and the containers it is nested in (the
/// outermost first) are the first frames, so that a flame graph of them
/// all has the containers as its first level. Counts are samples; a
/// container's add up to its own samples.
pub fn folded(report: &Report) -> String {
    let mut out = String::new();
    let Some(profile) = &report.profile else {
        return out;
    };
    let names: std::collections::HashMap<&str, (&str, Option<&str>)> = report
        .containers
        .iter()
        .map(|c| (c.key.as_str(), (c.name.as_str(), c.parent.as_deref())))
        .collect();
    // Frames may hold `;` (C++ templates rarely) and end in spaces, which
    // the format cannot: replaced, as inferno's collapsers do.
    let clean = |name: &str| name.replace(';', ":");
    for c in &report.containers {
        let Some(p) = &c.profile else { continue };
        let mut path = vec![clean(&c.name)];
        let mut parent = c.parent.as_deref();
        // Bounded: a hand-made file's parents may loop.
        while let Some((name, up)) = parent.and_then(|k| names.get(k)) {
            if path.len() > names.len() {
                break;
            }
            path.push(clean(name));
            parent = *up;
        }
        path.reverse();
        let prefix = path.join(";");
        for &(stack, count) in &p.stacks {
            let _ = write!(out, "{prefix}");
            for &frame in profile.stacks[stack as usize].iter().rev() {
                let _ = write!(out, ";{}", clean(&profile.frames[frame as usize].function));
            }
            let _ = writeln!(out, " {count}");
        }
    }
    out
}

/// The profile as a flame graph (SVG, inferno's rendering of
/// [`folded`]): the containers are its first level; `title` heads it.
pub fn flamegraph(report: &Report, title: &str) -> std::io::Result<Vec<u8>> {
    let folded = folded(report);
    if folded.is_empty() {
        return Err(std::io::Error::other(
            "no samples in the containers reported: nothing to draw (a sampling event, \
             perf record -F or -c, makes them)",
        ));
    }
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_owned();
    options.count_name = "samples".into();
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, folded.lines(), &mut svg)?;
    Ok(svg)
}

/// The report as CSV: blocks (header, cputop, memtop, syscalls,
/// top_syscalls, uprobes, user_events, tracepoints, processes), each with its own header line whose first
/// field is `section`, separated by empty lines.
pub fn csv(report: &Report) -> String {
    let mut out = String::new();
    let h = &report.header;
    let s = |x: &str| x.to_owned();
    line(&mut out, &[s("section"), s("field"), s("value")]);
    let mut kv = |k: &str, v: String| line(&mut out, &[s("header"), s(k), v]);
    kv("schema", report.schema.into());
    kv("file", h.file.clone());
    kv("tool", h.recording.tool.into());
    kv("cmdline", h.recording.cmdline.clone().unwrap_or_default());
    if let Some(how) = &h.recording.compression {
        kv("compression", how.clone());
    }
    if h.recording.pipe_mode {
        kv("pipe_mode", "true".into());
    }
    kv("start_ns", h.time.start_ns.to_string());
    kv("end_ns", h.time.end_ns.to_string());
    kv("duration_ns", h.time.duration_ns.to_string());
    kv(
        "cpus_online",
        h.cpus.online.map(|n| n.to_string()).unwrap_or_default(),
    );
    for e in &h.events {
        kv(&format!("samples:{}", e.name), e.samples.to_string());
    }
    kv("lost_records", h.lost.records.to_string());
    kv("lost_samples", h.lost.samples.to_string());
    kv(
        "containers_from",
        serde_json::to_value(h.containers_from)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    );
    kv(
        "cpu_time_from",
        serde_json::to_value(h.cpu_time_from)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    );
    for n in &h.notes {
        kv("note", n.clone());
    }
    for w in &h.warnings {
        kv("warning", w.clone());
    }
    container_block(
        &mut out,
        report,
        "cputop",
        &[
            "cpu_ns",
            "cpu_percent",
            "own_cpu_ns",
            "own_cpu_percent",
            "samples",
            "own_samples",
        ],
        |c| {
            vec![
                c.total.cpu.time_ns.to_string(),
                format!("{:.2}", c.total.cpu.percent),
                c.own.cpu.time_ns.to_string(),
                format!("{:.2}", c.own.cpu.percent),
                c.total.cpu.samples.to_string(),
                c.own.cpu.samples.to_string(),
            ]
        },
    );
    container_block(
        &mut out,
        report,
        "memtop",
        &[
            "pages_allocated",
            "pages_freed",
            "pages_net",
            "own_pages_allocated",
            "own_pages_freed",
            "own_pages_net",
            "allocations_by_order",
        ],
        |c| {
            let (t, o) = (&c.total.memory, &c.own.memory);
            vec![
                t.pages_allocated.to_string(),
                t.pages_freed.to_string(),
                t.pages_net.to_string(),
                o.pages_allocated.to_string(),
                o.pages_freed.to_string(),
                o.pages_net.to_string(),
                allocations_by_order(t),
            ]
        },
    );
    let mut columns = SYSCALL_FIELDS.to_vec();
    columns.extend(["own_calls", "own_errors"]);
    container_block(&mut out, report, "syscalls", &columns, |c| {
        let mut fields = syscall_fields(&c.total.syscalls).to_vec();
        fields.extend([
            c.own.syscalls.calls.to_string(),
            c.own.syscalls.errors.to_string(),
        ]);
        fields
    });

    out.push('\n');
    let mut head = ["section", "key", "syscall", "nr"]
        .map(String::from)
        .to_vec();
    head.extend(SYSCALL_FIELDS.map(String::from));
    line(&mut out, &head);
    for c in &report.containers {
        for sc in &c.top_syscalls {
            let mut fields = vec![
                s("top_syscalls"),
                c.key.clone(),
                sc.name.clone(),
                sc.nr.to_string(),
            ];
            fields.extend(syscall_fields(&sc.figures));
            line(&mut out, &fields);
        }
    }

    if h.uprobes_recorded {
        uprobe_block(&mut out, report);
    }
    if h.user_events_recorded {
        tracepoint_block(&mut out, report, "user_events", |c| &c.user_events);
    }
    if h.tracepoints_recorded {
        tracepoint_block(&mut out, report, "tracepoints", |c| &c.tracepoints);
    }

    if let Some(profile) = &report.profile {
        profile_blocks(&mut out, report, profile);
    }

    if let Some(procs) = &report.processes {
        out.push('\n');
        line(
            &mut out,
            &[
                "section",
                "container",
                "pid",
                "comm",
                "threads",
                "cpu_ns",
                "cpu_percent",
                "samples",
                "pages_allocated",
                "pages_freed",
                "syscalls",
                "syscall_errors",
            ]
            .map(String::from),
        );
        for p in procs {
            let f = &p.process.figures;
            line(
                &mut out,
                &[
                    s("processes"),
                    p.container.clone(),
                    p.process.pid.to_string(),
                    p.process.comm.clone(),
                    p.process.threads.to_string(),
                    f.cpu.time_ns.to_string(),
                    format!("{:.2}", f.cpu.percent),
                    f.cpu.samples.to_string(),
                    f.memory.pages_allocated.to_string(),
                    f.memory.pages_freed.to_string(),
                    f.syscalls.calls.to_string(),
                    f.syscalls.errors.to_string(),
                ],
            );
        }
    }
    out
}
