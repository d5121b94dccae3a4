//! Shell-style globs, as perf record -e matches tracepoint names
//! (perf's strglobmatch()): `*` any run of characters, `?` one, `[...]`
//! one of a set (`[a-z]`; `[!a-z]` or `[^a-z]` one outside it).

/// Whether the whole of `text` matches glob `pattern`.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // After a `*`: where the pattern goes on, and the first character of
    // the text the `*` has not taken yet.
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if p.get(pi) == Some(&'*') {
            pi += 1;
            backtrack = Some((pi, ti));
            continue;
        }
        if let Some(len) = element(&p[pi..], t[ti]) {
            pi += len;
            ti += 1;
            continue;
        }
        // The last `*` takes one more character, and the rest is tried again.
        match backtrack {
            Some((after_star, taken)) => {
                pi = after_star;
                ti = taken + 1;
                backtrack = Some((after_star, ti));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The length of the pattern element at the start of `p` (`?`, a set,
/// a character) when it matches `c`; `None` when it does not, or is a `*`
/// or nothing.
fn element(p: &[char], c: char) -> Option<usize> {
    match *p.first()? {
        '*' => None,
        '?' => Some(1),
        '[' => match set(p, c) {
            Some((len, hit)) => hit.then_some(len),
            // An unclosed `[` is itself (a pattern parsed refuses it).
            None => (c == '[').then_some(1),
        },
        x => (x == c).then_some(1),
    }
}

/// The set `[...]` at the start of `p`: its length and whether `c` is in
/// it; `None` when no `]` closes it. A `]` first in the set (after `[` or
/// `[!`) is one of its characters, as in the shell.
fn set(p: &[char], c: char) -> Option<(usize, bool)> {
    let mut i = 1;
    let negated = matches!(p.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let first = i;
    let mut hit = false;
    loop {
        let x = *p.get(i)?;
        if x == ']' && i > first {
            return Some((i + 1, hit != negated));
        }
        match (p.get(i + 1), p.get(i + 2)) {
            (Some('-'), Some(&y)) if y != ']' => {
                hit |= (x..=y).contains(&c);
                i += 3;
            }
            _ => {
                hit |= x == c;
                i += 1;
            }
        }
    }
}

/// Refuses a glob whose `[` no `]` closes.
pub(crate) fn check(part: &str) -> Result<(), String> {
    let p: Vec<char> = part.chars().collect();
    let mut i = 0;
    while i < p.len() {
        if p[i] == '[' {
            let (len, _) =
                set(&p[i..], '\0').ok_or_else(|| format!("no `]` closes the `[` at {}", i + 1))?;
            i += len;
        } else {
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_the_shell_does() {
        let yes = |p: &str, t: &str| assert!(matches(p, t), "{p} should match {t}");
        let no = |p: &str, t: &str| assert!(!matches(p, t), "{p} should not match {t}");
        yes("sys_enter_*", "sys_enter_openat");
        yes("sys_enter_*", "sys_enter_");
        no("sys_enter_*", "sys_exit_openat");
        yes("*", "");
        yes("*_getppid", "sys_exit_getppid");
        no("*_getppid", "sys_exit_getppid2");
        yes("sys_*_getppid", "sys_enter_getppid");
        yes("*a*b*c", "xxaxxbxxbxc");
        no("*a*b*c", "xxaxxbxxbx");
        yes("mm_page_?ree", "mm_page_free");
        no("mm_page_?ree", "mm_page_ree");
        yes("sched_[sw]*", "sched_switch");
        yes("sched_[sw]*", "sched_wakeup");
        no("sched_[sw]*", "sched_process_exec");
        yes("sched_[!sw]*", "sched_process_exec");
        no("sched_[!sw]*", "sched_switch");
        yes("cpu[0-9]", "cpu7");
        no("cpu[0-9]", "cpux");
        yes("a[]]b", "a]b");
        yes("a[!]]b", "axb");
        yes("a[x-]", "a-");
        // Without a glob character, the name itself.
        yes("sys_enter_openat", "sys_enter_openat");
        no("sys_enter_openat", "sys_enter_openat2");
    }

    #[test]
    fn an_unclosed_set_is_refused() {
        assert_eq!(
            check("mm_[page"),
            Err("no `]` closes the `[` at 4".to_owned())
        );
        assert_eq!(check("[]"), Err("no `]` closes the `[` at 1".to_owned()));
        assert_eq!(check("sched_[sw]*"), Ok(()));
        assert_eq!(check("a[]]"), Ok(()));
    }
}
