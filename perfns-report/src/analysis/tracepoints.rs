//! tracepoints: how many times each task hit each tracepoint that no other
//! analysis reads (they read sched:sched_switch, the page allocator's two,
//! raw_syscalls and dynamic probes), so that nothing recorded is left out
//! of the containers' figures: `perfns record -e`'s tracepoints
//! (`syscalls:sys_enter_openat`) and perf record -e's (`sched:sched_wakeup`),
//! and user events (the kernel's user_events, tracepoints that processes
//! register and write through tracefs's `user_events_data`: `perfns
//! record --user-events`'s, perf record -e user_events:NAME's), which the
//! report lists apart. Each is counted under its full name, `SYSTEM:NAME`:
//! the same user event name in two tracer namespaces' groups
//! (`user_events_<ID>`) is two events, counted apart.

use perfns::attr::EventAttr;
use perfns::perf_data::Features;
use perfns::tracepoint::is_user_events_system;

use super::tracepoint_format;

/// The full name (`SYSTEM:NAME`) of tracepoint event `name` (`attr`): its
/// name when it has both parts, else its format's in the tracing data,
/// else its name as it is.
pub(super) fn full_name(name: &str, attr: &EventAttr, features: &Features) -> String {
    match name.split_once(':') {
        Some((system, event)) if !system.is_empty() && !event.is_empty() => name.to_owned(),
        _ => tracepoint_format(attr, features)
            .map(|f| f.full_name())
            .unwrap_or_else(|_| name.to_owned()),
    }
}

/// Whether tracepoint `full_name` (`SYSTEM:NAME`) is a user event: its
/// system is a user events group's.
pub(crate) fn is_user_event(full_name: &str) -> bool {
    full_name
        .split_once(':')
        .is_some_and(|(system, _)| is_user_events_system(system))
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfns::attr::kind;

    #[test]
    fn tracepoints_are_named_and_user_events_told_by_their_system() {
        let tracepoint = EventAttr {
            kind: kind::TRACEPOINT,
            ..EventAttr::default()
        };
        let none = Features::default();
        for (name, user_event) in [
            ("user_events_7:request_done", true),
            ("user_events_multi:flow.0", true),
            ("syscalls:sys_enter_openat", false),
            ("sched:sched_wakeup", false),
            ("user_eventsx:y", false),
        ] {
            assert_eq!(full_name(name, &tracepoint, &none), name);
            assert_eq!(is_user_event(name), user_event, "{name}");
        }
        // No system in the name and no tracing data to find it in: the
        // name as it is, which is no user event.
        assert_eq!(
            full_name("user_events_7:", &tracepoint, &none),
            "user_events_7:"
        );
        assert_eq!(full_name("raw_event", &tracepoint, &none), "raw_event");
        assert!(!is_user_event("raw_event"));
    }
}
