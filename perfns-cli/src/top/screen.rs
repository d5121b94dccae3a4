//! `perfns top`'s full-screen view (ratatui on crossterm): the header, and
//! the container tree as a table, redrawn at each interval, at each key
//! and when the terminal is resized.
//!
//! Keys: `c`, `m`, `s` sort by CPU, memory (pages allocated), syscalls;
//! Up/Down (`k`/`j`) select a container, Enter or Space expands it into
//! its processes (again: folds it); `/` filters containers by name (Enter
//! keeps the filter, Esc clears it); `p` pauses (the frame stays, the
//! session goes on); `q` or Ctrl-C quits.

use std::collections::BTreeSet;
use std::os::fd::AsFd;

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{execute, terminal};
use ratatui::layout::{Alignment, Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::{DefaultTerminal, Frame as Screen};

use super::frame::{sort_tree, Frame};
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

/// Runs the view until `q` (or `-n` frames).
pub(super) fn run(top: &mut Top, config: &TopConfig) -> anyhow::Result<()> {
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
    let mut frames = 0;
    let mut status = String::from("starting: the first frame comes after one interval");
    term.0.draw(|s| draw(s, None, &mut view, &status))?;
    loop {
        let stdin = std::io::stdin();
        let got = top.next(&[stdin.as_fd()])?;
        if let Some(frame) = got {
            frames += 1;
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
            if !view.paused {
                shown = Some(frame);
            }
            if config.iterations.is_some_and(|n| frames >= n) {
                break;
            }
        }
        let mut quit = false;
        while event::poll(std::time::Duration::ZERO)? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    quit |= key(&mut view, k, shown.as_ref());
                }
                // Drawn again below, at the new size.
                _ => {}
            }
        }
        if quit {
            break;
        }
        term.0
            .draw(|s| draw(s, shown.as_ref(), &mut view, &status))?;
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

fn draw(s: &mut Screen<'_>, frame: Option<&Frame>, view: &mut View, status: &str) {
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
    s.render_widget(Paragraph::new(Line::from(status.to_owned())), foot);
}
