//! `perfns top -b`'s text frames and `--format json`'s lines: pure
//! functions from a [`Frame`] to text. The full-screen view shows the
//! same header and columns ([`header_line`], [`COLUMNS`], [`cells`]).

use super::frame::{ContainerRow, Frame, Rates};

/// The columns after the name: the container's own figures, then (Σ) with
/// its descendants'.
pub const COLUMNS: [&str; 10] = [
    "CPU%", "ΣCPU%", "PG/s", "ΣPG/s", "NET", "ΣNET", "SYS/s", "ΣSYS/s", "ERR", "ΣERR",
];

/// The frame's header: interval, CPUs, scope, events per second, losses.
pub fn header_line(f: &Frame) -> String {
    format!(
        "perfns top: interval {} ({:.2} s), {} CPUs, {} scope, {:.0} events/s, lost {}{}",
        f.interval,
        f.duration_ns as f64 / 1e9,
        f.cpus,
        f.scope,
        f.events_per_s,
        f.lost,
        if f.lost_total > f.lost {
            format!(" ({} in all)", f.lost_total)
        } else {
            String::new()
        }
    )
}

/// A number of at most 6 characters: `12.3`, `4567`, `12.3k`, `4.5M`.
pub fn short(x: f64) -> String {
    let a = x.abs();
    if a < 100.0 && x.fract() != 0.0 {
        format!("{x:.1}")
    } else if a < 10_000.0 {
        format!("{x:.0}")
    } else if a < 10_000_000.0 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{:.1}M", x / 1e6)
    }
}

/// The columns a terminal narrower than [`WIDE`] shows, by index in
/// [`COLUMNS`]: CPU and syscalls own and with descendants, pages and
/// errors own.
pub const NARROW: [usize; 7] = [0, 1, 2, 4, 6, 7, 8];

/// The width from which the full-screen view shows every column.
pub const WIDE: u16 = 100;

/// The cells of `own` and `total`, in [`COLUMNS`]' order.
pub fn cells(own: &Rates, total: &Rates) -> [String; 10] {
    [
        format!("{:.1}", own.cpu_percent),
        format!("{:.1}", total.cpu_percent),
        short(own.pages_allocated_per_s),
        short(total.pages_allocated_per_s),
        short(own.pages_net as f64),
        short(total.pages_net as f64),
        short(own.syscalls_per_s),
        short(total.syscalls_per_s),
        short(own.syscall_errors as f64),
        short(total.syscall_errors as f64),
    ]
}

/// A container's name, indented by its depth.
pub fn tree_name(c: &ContainerRow) -> String {
    format!("{}{}", "  ".repeat(c.depth), c.name)
}

/// One text frame: the header, the lost-events fix when events were lost,
/// and a row per container (processes under those in `expanded`, all of
/// them with `all_processes`), ending with a blank line.
pub fn text(f: &Frame, processes: bool) -> String {
    let mut out = header_line(f);
    out.push('\n');
    if f.lost > 0 {
        if let Some(fix) = &f.lost_fix {
            out.push_str(&format!("Warning: {} events lost: {fix}\n", f.lost));
        }
    }
    let name_width = f
        .containers
        .iter()
        .map(|c| tree_name(c).chars().count())
        .chain([9])
        .max()
        .unwrap_or(9)
        .min(40);
    out.push_str(&format!("{:<name_width$}", "CONTAINER"));
    for c in COLUMNS {
        out.push_str(&format!(" {c:>6}"));
    }
    out.push('\n');
    for c in &f.containers {
        let name: String = tree_name(c).chars().take(name_width).collect();
        out.push_str(&format!("{name:<name_width$}"));
        for cell in cells(&c.own, &c.total) {
            out.push_str(&format!(" {cell:>6}"));
        }
        out.push('\n');
        if processes {
            for p in &c.processes {
                let name: String = format!("{}  {} {}", "  ".repeat(c.depth), p.pid, p.comm)
                    .chars()
                    .take(name_width)
                    .collect();
                out.push_str(&format!("{name:<name_width$}"));
                for cell in cells(&p.rates, &p.rates).iter().step_by(2) {
                    out.push_str(&format!(" {cell:>6} {:>6}", ""));
                }
                out.push('\n');
            }
        }
    }
    out.push('\n');
    out
}

/// One JSON line.
pub fn json(f: &Frame) -> String {
    let mut line = serde_json::to_string(f).unwrap_or_else(|e| {
        // Serializing plain numbers and strings cannot fail; say so if it
        // ever does rather than print nothing.
        format!(
            "{{\"schema\":\"{}\",\"error\":{:?}}}",
            super::frame::SCHEMA,
            e.to_string()
        )
    });
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fit_six_characters() {
        assert_eq!(short(12.34), "12.3");
        assert_eq!(short(4567.0), "4567");
        assert_eq!(short(123_456.0), "123.5k");
        assert_eq!(short(-42.0), "-42");
        assert_eq!(short(45_600_000.0), "45.6M");
    }
}
