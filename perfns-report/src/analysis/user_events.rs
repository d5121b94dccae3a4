//! user events: how many times each task wrote each user event (the
//! kernel's user_events, tracepoints that processes register and write
//! through tracefs's `user_events_data`), from `perfns record
//! --user-events`'s events or perf record's (`-e user_events:NAME`). A
//! user event is a tracepoint of a user events group's trace system:
//! `user_events` and `user_events_multi` (multi-format events), and with
//! the perfns series, another tracer namespace's group,
//! `user_events_<ID>` and `user_events_multi_<ID>`. The same name in two
//! groups is two events, counted apart under their full names.

use perfns::attr::{kind, EventAttr};
use perfns::perf_data::Features;
use perfns::tracepoint::is_user_events_system;

use super::tracepoint_format;

/// The full name (`SYSTEM:NAME`) of the user event that event `name`
/// (`attr`) is, or `None` when it is none: its system from its name, or
/// from its format in the tracing data when its name has none.
pub(super) fn user_event_of(name: &str, attr: &EventAttr, features: &Features) -> Option<String> {
    if attr.kind != kind::TRACEPOINT {
        return None;
    }
    match name.split_once(':') {
        Some((system, event)) => {
            (is_user_events_system(system) && !event.is_empty()).then(|| name.to_owned())
        }
        None => {
            let format = tracepoint_format(attr, features).ok()?;
            is_user_events_system(&format.system).then(|| format.full_name())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_events_are_told_by_their_system() {
        let tracepoint = EventAttr {
            kind: kind::TRACEPOINT,
            ..EventAttr::default()
        };
        let none = Features::default();
        assert_eq!(
            user_event_of("user_events_7:request_done", &tracepoint, &none).as_deref(),
            Some("user_events_7:request_done")
        );
        assert_eq!(user_event_of("user_events_7:", &tracepoint, &none), None);
        assert_eq!(
            user_event_of("sched:sched_switch", &tracepoint, &none),
            None
        );
        // Not a tracepoint: a name alone does not make one.
        let software = EventAttr::default();
        assert_eq!(user_event_of("user_events:x", &software, &none), None);
    }
}
