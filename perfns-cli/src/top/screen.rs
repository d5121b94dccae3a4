//! `perfns top`'s full-screen view (ratatui on crossterm): the header, and
//! the container tree as a table, redrawn at each interval, at each key
//! and when the terminal is resized.
//!
//! Keys: `c`, `m`, `s` sort by CPU, memory (pages allocated), syscalls;
//! Up/Down (`k`/`j`) select a container, Enter or Space expands it into
//! its processes (again: folds it); `/` filters containers by name (Enter
//! keeps the filter, Esc clears it); `p` pauses (the frame stays, the
//! session goes on); `q` or Ctrl-C quits, as SIGTERM, SIGINT and SIGHUP
//! do, the terminal given back as it was.
//!
//! The keys are read from the terminal here ([`super::keys`]), only when
//! the poll that waits on the ring buffers says the terminal is readable.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{ErrorKind, IsTerminal, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use anyhow::Context;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::crossterm::{execute, terminal};
use ratatui::layout::{Alignment, Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::{DefaultTerminal, Frame as Screen};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGWINCH};
use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::SignalOnly;

use super::frame::{sort_tree, Frame};
use super::keys::KeyParser;
use super::text::{cells, header_line, tree_name, COLUMNS, NARROW, WIDE};
use super::{Top, TopConfig};
use perfns_report::SortKey;

/// What the view shows, beside the frame.
#[derive(Debug)]
struct View {
    sort: SortKey,
    /// Containers expanded into their processes, by key.
    expanded: BTreeSet<String>,
    /// The name filter, and whether it is being typed.
    filter: String,
    typing: bool,
    paused: bool,
    /// The selected container's key.
    selected: Option<String>,
    table: TableState,
}

/// The terminal in raw mode on the alternate screen, given back as it was
/// when dropped (and on a panic).
struct Terminal(DefaultTerminal);

impl Terminal {
    fn new() -> anyhow::Result<Self> {
        // ratatui::init sets raw mode and the alternate screen, and a
        // panic hook that restores them.
        Ok(Self(ratatui::try_init()?))
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// The terminal's input: stdin when it is the terminal, else /dev/tty (as
/// crossterm takes it). Read once each time a poll says it is readable,
/// so that a read never waits and nothing read is left unparsed.
struct Input {
    tty: File,
    parser: KeyParser,
}

impl Input {
    fn open() -> anyhow::Result<Self> {
        let stdin = std::io::stdin();
        let tty = if stdin.is_terminal() {
            File::from(stdin.as_fd().try_clone_to_owned()?)
        } else {
            File::open("/dev/tty").context(
                "the full-screen view reads its keys from the terminal, and stdin is not one: \
                 opening /dev/tty (-b prints text frames without one)",
            )?
        };
        Ok(Self {
            tty,
            parser: KeyParser::default(),
        })
    }

    /// The keys of one read; `None` once the terminal is gone (end of
    /// file, or EIO after a hangup).
    fn read(&mut self) -> anyhow::Result<Option<Vec<KeyEvent>>> {
        let mut buf = [0u8; 1024];
        match (&self.tty).read(&mut buf) {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(self.parser.keys(&buf[..n]))),
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {
                Ok(Some(Vec::new()))
            }
            Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(None),
            Err(e) => Err(e).context("reading the terminal"),
        }
    }
}

/// SIGWINCH (draw at the new size) and SIGTERM, SIGINT and SIGHUP (quit,
/// giving the terminal back as it was), through a pipe that is polled
/// with the terminal.
struct Signals(SignalDelivery<UnixStream, SignalOnly>);

impl Signals {
    fn new() -> anyhow::Result<Self> {
        let (read, write) = UnixStream::pair().context("a pipe for signals")?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let watched = [SIGWINCH, SIGTERM, SIGINT, SIGHUP];
        Ok(Self(
            SignalDelivery::with_pipe(read, write, SignalOnly, watched)
                .context("handling SIGWINCH, SIGTERM, SIGINT and SIGHUP")?,
        ))
    }

    /// Takes the signals that came; whether one of them says to quit.
    fn quit(&mut self) -> bool {
        // All of them taken, not only up to the first that quits.
        let came: Vec<i32> = self.0.pending().collect();
        came.iter().any(|&s| s != SIGWINCH)
    }
}

/// Which of `fds` are readable (or hung up) now, without waiting.
fn ready_now<const N: usize>(fds: [BorrowedFd<'_>; N]) -> anyhow::Result<[bool; N]> {
    let mut polled = fds.map(|fd| PollFd::new(fd, PollFlags::POLLIN));
    match poll(&mut polled, PollTimeout::ZERO) {
        Ok(_) => {}
        Err(Errno::EINTR) => return Ok([false; N]),
        Err(e) => return Err(e).context("poll on the terminal"),
    }
    let ready = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
    Ok(polled.map(|p| p.revents().is_some_and(|r| r.intersects(ready))))
}

/// Runs the view until `q` (or `-n` frames).
///
/// One wait covers the ring buffers, the terminal and the signals
/// ([`Top::next`]); after it, the terminal is read only if it is readable
/// then, so the view neither waits on a read nor spins on input left
/// behind.
pub(super) fn run(top: &mut Top, config: &TopConfig) -> anyhow::Result<()> {
    let mut input = Input::open()?;
    let mut signals = Signals::new()?;
    let mut term = Terminal::new()?;
    let mut view = View {
        sort: config.sort,
        expanded: BTreeSet::new(),
        filter: String::new(),
        typing: false,
        paused: false,
        selected: None,
        table: TableState::default(),
    };
    let mut shown: Option<Frame> = None;
    let mut latest = 0;
    let mut frames = 0;
    let mut status = String::from("starting: the first frame comes after one interval");
    term.0.draw(|s| draw(s, None, &mut view, &status, latest))?;
    loop {
        let waited_on = [input.tty.as_fd(), signals.0.get_read().as_fd()];
        let got = top.next(&waited_on)?;
        if let Some(frame) = got {
            frames += 1;
            latest = frame.interval;
            if let Some(note) = top.live.take_notes().pop() {
                status = note;
            } else if frame.lost > 0 {
                status = format!(
                    "{} events lost: {}",
                    frame.lost,
                    frame.lost_fix.clone().unwrap_or_default()
                );
            } else {
                status.clear();
            }
            if !view.paused || shown.is_none() {
                shown = Some(frame);
            }
            if config.iterations.is_some_and(|n| frames >= n) {
                break;
            }
        }
        let [keys_ready, signalled] = ready_now(waited_on)?;
        let mut quit = signalled && signals.quit();
        if keys_ready {
            match input.read()? {
                Some(keys) => {
                    for k in keys {
                        quit |= key(&mut view, k, shown.as_ref());
                    }
                }
                None => quit = true,
            }
        }
        if quit {
            break;
        }
        // Drawn at the terminal's size now: after a SIGWINCH, the new one.
        term.0
            .draw(|s| draw(s, shown.as_ref(), &mut view, &status, latest))?;
    }
    drop(term);
    let _ = execute!(std::io::stdout(), terminal::LeaveAlternateScreen);
    Ok(())
}

/// Handles a key; returns whether to quit.
fn key(view: &mut View, k: KeyEvent, frame: Option<&Frame>) -> bool {
    if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
        return true;
    }
    if view.typing {
        match k.code {
            KeyCode::Enter => view.typing = false,
            KeyCode::Esc => {
                view.typing = false;
                view.filter.clear();
            }
            KeyCode::Backspace => {
                view.filter.pop();
            }
            KeyCode::Char(c) => view.filter.push(c),
            _ => {}
        }
        return false;
    }
    let rows = frame.map(|f| visible(f, view)).unwrap_or_default();
    let at = view
        .selected
        .as_ref()
        .and_then(|s| rows.iter().position(|r| r == s));
    match k.code {
        KeyCode::Char('q') | KeyCode::Esc => return true,
        KeyCode::Char('c') | KeyCode::Char('P') => view.sort = SortKey::Cpu,
        KeyCode::Char('m') | KeyCode::Char('M') => view.sort = SortKey::Mem,
        KeyCode::Char('s') | KeyCode::Char('S') => view.sort = SortKey::Syscalls,
        KeyCode::Char('p') => view.paused = !view.paused,
        KeyCode::Char('/') => {
            view.typing = true;
            view.filter.clear();
        }
        KeyCode::Down | KeyCode::Char('j') => {
            let next = at.map_or(0, |i| (i + 1).min(rows.len().saturating_sub(1)));
            view.selected = rows.get(next).cloned();
        }
        KeyCode::Up | KeyCode::Char('k') => {
            let next = at.map_or(0, |i| i.saturating_sub(1));
            view.selected = rows.get(next).cloned();
        }
        KeyCode::Enter | KeyCode::Char(' ') | KeyCode::Char('e') => {
            let key = view.selected.clone().or_else(|| rows.first().cloned());
            if let Some(key) = key {
                if !view.expanded.remove(&key) {
                    view.expanded.insert(key.clone());
                }
                view.selected = Some(key);
            }
        }
        _ => {}
    }
    false
}

/// The keys of the containers shown, in order: those whose name has the
/// filter in it, and their ancestors, so that the tree stays a tree.
fn visible(frame: &Frame, view: &View) -> Vec<String> {
    shown_rows(frame, view)
        .containers
        .iter()
        .map(|c| c.key.clone())
        .collect()
}

/// The frame as the view shows it: filtered and sorted.
fn shown_rows(frame: &Frame, view: &View) -> Frame {
    let mut f = frame.clone();
    if !view.filter.is_empty() {
        let wanted = view.filter.to_lowercase();
        let matching: Vec<&super::frame::ContainerRow> = frame
            .containers
            .iter()
            .filter(|c| c.name.to_lowercase().contains(&wanted))
            .collect();
        let mut keep: BTreeSet<String> = BTreeSet::new();
        for c in matching {
            let mut key = Some(c.key.clone());
            while let Some(k) = key {
                key = frame
                    .containers
                    .iter()
                    .find(|r| r.key == k)
                    .and_then(|r| r.parent.clone());
                keep.insert(k);
            }
        }
        f.containers.retain(|c| keep.contains(&c.key));
    }
    sort_tree(&mut f.containers, view.sort);
    f
}

/// Draws `frame` as `view` shows it; `latest` is the session's newest
/// interval (ahead of the frame's while paused).
fn draw(s: &mut Screen<'_>, frame: Option<&Frame>, view: &mut View, status: &str, latest: u64) {
    let [head, keys, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(s.area());
    let sort = match view.sort {
        SortKey::Cpu => "cpu",
        SortKey::Mem => "mem",
        SortKey::Syscalls => "syscalls",
    };
    let mut keys_line = format!(
        "sort {sort} [c/m/s]  expand [enter]  filter [/]{}  {} [p]  quit [q]",
        if view.filter.is_empty() {
            String::new()
        } else {
            format!(" \"{}\"", view.filter)
        },
        if view.paused { "PAUSED" } else { "pause" }
    );
    if view.typing {
        keys_line = format!("filter: {}_  (enter: keep, esc: clear)", view.filter);
    }
    let Some(frame) = frame else {
        s.render_widget(Paragraph::new("perfns top"), head);
        s.render_widget(Paragraph::new(keys_line), keys);
        s.render_widget(Paragraph::new(status.to_owned()), foot);
        return;
    };
    s.render_widget(
        Paragraph::new(header_line(frame)).style(Style::default().add_modifier(Modifier::BOLD)),
        head,
    );
    s.render_widget(Paragraph::new(keys_line), keys);
    let f = shown_rows(frame, view);
    let columns: Vec<usize> = if s.area().width >= WIDE {
        (0..COLUMNS.len()).collect()
    } else {
        NARROW.to_vec()
    };
    let numbers = |all: [String; 10], procs: bool| {
        columns
            .iter()
            .map(|&i| {
                // A process has no descendants: its Σ cells stay empty.
                let text = if procs && i % 2 == 1 {
                    String::new()
                } else {
                    all[i].clone()
                };
                Cell::from(Line::from(text).alignment(Alignment::Right))
            })
            .collect::<Vec<Cell<'static>>>()
    };
    let mut rows = Vec::new();
    let mut selected_row = None;
    for c in &f.containers {
        if view.selected.as_deref() == Some(c.key.as_str()) {
            selected_row = Some(rows.len());
        }
        let mark = if view.expanded.contains(&c.key) {
            "-"
        } else {
            "+"
        };
        let mut cols = vec![Cell::from(format!("{mark}{}", tree_name(c)))];
        cols.extend(numbers(cells(&c.own, &c.total), false));
        rows.push(Row::new(cols));
        if view.expanded.contains(&c.key) {
            for p in &c.processes {
                let mut cols = vec![Cell::from(format!(
                    " {}  {} {}",
                    "  ".repeat(c.depth),
                    p.pid,
                    p.comm
                ))];
                cols.extend(numbers(cells(&p.rates, &p.rates), true));
                rows.push(Row::new(cols).style(Style::default().add_modifier(Modifier::DIM)));
            }
        }
    }
    view.table.select(selected_row);
    let mut widths = vec![Constraint::Min(10)];
    widths.extend(columns.iter().map(|_| Constraint::Length(6)));
    let mut header = vec![Cell::from("CONTAINER")];
    header.extend(
        columns
            .iter()
            .map(|&i| Cell::from(Line::from(COLUMNS[i]).alignment(Alignment::Right))),
    );
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::REVERSED)))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .column_spacing(1);
    s.render_stateful_widget(table, body, &mut view.table);
    let foot_line = if view.paused {
        format!(
            "paused at interval {}; the session is at interval {latest}",
            frame.interval
        )
    } else {
        status.to_owned()
    };
    s.render_widget(Paragraph::new(Line::from(foot_line)), foot);
}
