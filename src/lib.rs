//! perfns: per-container tracing on perf.
//!
//! This crate is the layer every perfns tool stands on: the perf ABI
//! ([`abi`]), the per-CPU ring buffer reader ([`ring`]), the record model
//! ([`record`], [`attr`]), tracepoint payload decoding ([`tracepoint`]),
//! the perf.data-compatible recording file ([`perf_data`]) and the container
//! identity that a recording carries ([`container`]). With the `testing`
//! feature, [`testing`] says what a test needs of the machine.
#![deny(missing_docs)]

pub mod abi;
pub mod attr;
pub mod container;
pub mod error;
pub mod perf_data;
pub mod record;
mod record_type;
pub mod ring;
pub mod syscalls;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tracepoint;
