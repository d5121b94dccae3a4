//! The terminal's input for `perfns top`'s full-screen view: the bytes
//! read from the terminal (in raw mode) as keys.
//!
//! The view reads the terminal itself, once each time a poll says it is
//! readable, rather than through crossterm's event reader: crossterm 0.28
//! watches the terminal with an edge-triggered epoll and, when the terminal
//! and its SIGWINCH pipe are ready in the same wait, handles one and drops
//! the other's readiness; the bytes left in the terminal are not reported
//! again until more come (a `q` typed with a resize went unseen, while the
//! terminal stayed readable to the view's own poll, which spun). Reading
//! only what a level-triggered poll reports leaves nothing behind.
//!
//! What is parsed: printable characters (UTF-8), Enter, Tab, Backspace,
//! Ctrl-letter, Esc, and the CSI and SS3 sequences of arrows, Home, End,
//! Page Up/Down and Delete; any other escape sequence is skipped whole.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const ESC: u8 = 0x1b;

/// Bytes read from the terminal and not yet a key: the start of an escape
/// sequence or of a character whose other bytes are still to come.
#[derive(Debug, Default)]
pub struct KeyParser {
    pending: Vec<u8>,
}

/// What the bytes from `at` are.
enum Parsed {
    /// A key (or `None`: a sequence skipped), and the bytes it took.
    Done(Option<KeyEvent>, usize),
    /// Incomplete: more bytes are needed.
    More,
}

impl KeyParser {
    /// The keys in `bytes` (what one read returned), after those held back
    /// from the previous read. An escape sequence or a character cut at the
    /// end is held back for the next read; an Esc alone at the end is the
    /// Esc key (a terminal writes a sequence's bytes at once).
    pub fn keys(&mut self, bytes: &[u8]) -> Vec<KeyEvent> {
        self.pending.extend_from_slice(bytes);
        let mut keys = Vec::new();
        let mut at = 0;
        while at < self.pending.len() {
            match parse(&self.pending[at..]) {
                Parsed::Done(key, len) => {
                    keys.extend(key);
                    at += len;
                }
                Parsed::More => break,
            }
        }
        self.pending.drain(..at);
        keys
    }
}

fn key(code: KeyCode) -> Option<KeyEvent> {
    Some(KeyEvent::new(code, KeyModifiers::NONE))
}

/// The first key of `b` (not empty).
fn parse(b: &[u8]) -> Parsed {
    match b[0] {
        ESC => match b.get(1) {
            None => Parsed::Done(key(KeyCode::Esc), 1),
            // Esc typed twice.
            Some(&ESC) => Parsed::Done(key(KeyCode::Esc), 1),
            Some(b'[') => csi(b),
            Some(b'O') => match b.get(2) {
                None => Parsed::More,
                Some(&f) => Parsed::Done(final_key(f, &[]), 3),
            },
            // Alt with a key, or Esc typed just before one: Esc is the
            // view's quit key, so neither is taken as Esc.
            Some(_) => Parsed::Done(None, 2),
        },
        b'\r' | b'\n' => Parsed::Done(key(KeyCode::Enter), 1),
        b'\t' => Parsed::Done(key(KeyCode::Tab), 1),
        0x7f | 0x08 => Parsed::Done(key(KeyCode::Backspace), 1),
        c @ 0x01..=0x1a => Parsed::Done(
            Some(KeyEvent::new(
                KeyCode::Char((c - 1 + b'a') as char),
                KeyModifiers::CONTROL,
            )),
            1,
        ),
        0x00..=0x1f => Parsed::Done(None, 1),
        _ => utf8(b),
    }
}

/// `ESC [ parameters intermediates final`: the final byte names the key,
/// the parameters say which for `~`.
fn csi(b: &[u8]) -> Parsed {
    for (i, &c) in b.iter().enumerate().skip(2) {
        match c {
            0x20..=0x3f => {}
            0x40..=0x7e => return Parsed::Done(final_key(c, &b[2..i]), i + 1),
            // Not a sequence after all: drop its start.
            _ => return Parsed::Done(None, i),
        }
    }
    Parsed::More
}

fn final_key(f: u8, params: &[u8]) -> Option<KeyEvent> {
    key(match (f, params) {
        (b'A', _) => KeyCode::Up,
        (b'B', _) => KeyCode::Down,
        (b'C', _) => KeyCode::Right,
        (b'D', _) => KeyCode::Left,
        (b'H', _) | (b'~', b"1" | b"7") => KeyCode::Home,
        (b'F', _) | (b'~', b"4" | b"8") => KeyCode::End,
        (b'~', b"3") => KeyCode::Delete,
        (b'~', b"5") => KeyCode::PageUp,
        (b'~', b"6") => KeyCode::PageDown,
        _ => return None,
    })
}

/// One UTF-8 character; a byte that cannot start one is skipped.
fn utf8(b: &[u8]) -> Parsed {
    let len = match b[0] {
        0x20..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return Parsed::Done(None, 1),
    };
    if b.len() < len {
        return Parsed::More;
    }
    match std::str::from_utf8(&b[..len]) {
        Ok(s) => Parsed::Done(s.chars().next().and_then(|c| key(KeyCode::Char(c))), len),
        Err(_) => Parsed::Done(None, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(p: &mut KeyParser, bytes: &[u8]) -> Vec<KeyCode> {
        p.keys(bytes).into_iter().map(|k| k.code).collect()
    }

    #[test]
    fn letters_enter_backspace_and_ctrl_c() {
        let mut p = KeyParser::default();
        assert_eq!(
            codes(&mut p, b"q/ab\x7f\r"),
            [
                KeyCode::Char('q'),
                KeyCode::Char('/'),
                KeyCode::Char('a'),
                KeyCode::Char('b'),
                KeyCode::Backspace,
                KeyCode::Enter
            ]
        );
        let ctrl_c = p.keys(b"\x03");
        assert_eq!(ctrl_c[0].code, KeyCode::Char('c'));
        assert!(ctrl_c[0].modifiers.contains(KeyModifiers::CONTROL));
    }

    #[test]
    fn arrows_in_both_forms_and_other_sequences_skipped() {
        let mut p = KeyParser::default();
        // Up, Down (CSI), Up (SS3), a focus-in report, Page Down, then j.
        assert_eq!(
            codes(&mut p, b"\x1b[A\x1b[B\x1bOA\x1b[I\x1b[6~\x1b[1;5Cj"),
            [
                KeyCode::Up,
                KeyCode::Down,
                KeyCode::Up,
                KeyCode::PageDown,
                KeyCode::Right,
                KeyCode::Char('j')
            ]
        );
    }

    #[test]
    fn a_lone_esc_at_the_end_is_the_esc_key() {
        let mut p = KeyParser::default();
        assert_eq!(codes(&mut p, b"x\x1b"), [KeyCode::Char('x'), KeyCode::Esc]);
        assert!(p.pending.is_empty());
    }

    #[test]
    fn a_sequence_or_character_cut_between_reads_waits_for_its_end() {
        let mut p = KeyParser::default();
        assert_eq!(codes(&mut p, b"\x1b[1"), []);
        assert_eq!(codes(&mut p, b"5~"), []); // F5: skipped whole
        assert_eq!(codes(&mut p, b"\x1bO"), []);
        assert_eq!(codes(&mut p, b"B"), [KeyCode::Down]);
        let e_acute = "é".as_bytes();
        assert_eq!(codes(&mut p, &e_acute[..1]), []);
        assert_eq!(codes(&mut p, &e_acute[1..]), [KeyCode::Char('é')]);
        assert!(p.pending.is_empty());
    }

    #[test]
    fn bytes_that_start_nothing_are_skipped() {
        let mut p = KeyParser::default();
        assert_eq!(codes(&mut p, b"\x80\xffa\x00"), [KeyCode::Char('a')]);
        // Alt-x: neither Esc nor x; Esc twice: twice.
        assert_eq!(codes(&mut p, b"\x1bx"), []);
        assert_eq!(codes(&mut p, b"\x1b\x1b"), [KeyCode::Esc, KeyCode::Esc]);
        assert!(p.pending.is_empty());
    }
}
