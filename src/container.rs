//! Container identity, captured at record time and stored in the recording.
//!
//! A container is a pid namespace: its inode is the key (as LTTng keys
//! containers), the pid namespace's parent chain (`NS_GET_PARENT`) gives the
//! nesting, and its name and runtime come from the cgroup path of the
//! namespace's init task ([`identify_cgroup`]). The recorder's own pid
//! namespace is the host. All of it, with a snapshot of the tasks that
//! existed when recording began, is a [`RecordingMeta`], stored as JSON in
//! the perfns feature section
//! ([`Features::perfns`](crate::perf_data::Features::perfns)), so that a
//! report on another machine needs nothing from the recording machine.
//!
//! The JSON is append-only: readers ignore fields they do not know, and new
//! fields are optional (see docs/recording-format.md, "The perfns
//! extension").
//!
//! One module per concept: `cgroup` (what a cgroup path names, where the
//! paths come from), `meta` (the saved JSON), `registry` (the containers as
//! the recorder learns them, through the pid namespaces). The snapshot of
//! the tasks in `/proc` is the recorder's (perfns-record's
//! `session::tasks`).

mod cgroup;
mod meta;
mod registry;

pub use cgroup::{
    cgroup2_mount, cgroup_from_proc, cgroup_v2_from_proc, identify_cgroup, proc_cgroup_paths,
    CgroupIdentity, Runtime, PERFNS_CGROUP_PREFIX,
};
pub use meta::{
    choose_container, Container, ContainerRef, CpuLoss, KubernetesIdentity, MetaError,
    NotOneContainer, RecordingMeta, RecordingMode, RecordingScope, TaskSnapshot, META_VERSION,
};
pub use registry::{pid_ns_chain, uts_hostname, ContainerRegistry};
