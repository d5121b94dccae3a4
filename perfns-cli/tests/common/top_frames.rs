//! `perfns top --format json`'s frames read back: a container's figures
//! summed over a run. Shared by top's tests on this machine (top.rs) and in
//! the VM (vm_live.rs).

use serde_json::Value;

/// What a container did in all of top's frames: CPU ns, getppid calls, in
/// how many frames it was, and the frames' count.
#[derive(Debug, Default)]
pub struct Summed {
    pub cpu_ns: u64,
    pub getppid: u64,
    pub frames_seen: u64,
}

/// `name`'s figures summed over the frames (JSON lines) it is in.
pub fn sum_container(frames: &[Value], name: &str) -> Summed {
    let mut s = Summed::default();
    for f in frames {
        let Some(c) = f["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .find(|c| c["name"] == name)
        else {
            continue;
        };
        s.frames_seen += 1;
        s.cpu_ns += c["total"]["cpu_ns"].as_u64().expect("cpu_ns");
        s.getppid += c["syscalls"]
            .as_array()
            .expect("syscalls")
            .iter()
            .filter(|x| x["name"] == "getppid")
            .map(|x| x["calls"].as_u64().expect("calls"))
            .sum::<u64>();
    }
    s
}

/// Fails unless `s`'s CPU time is `truth_ns` (what the kernel says the
/// container's work took) within the bound: 3% and 20 ms per
/// interval it was in.
pub fn assert_cpu_near(name: &str, s: &Summed, truth_ns: u64) {
    let slack = truth_ns * 3 / 100 + 20_000_000 * s.frames_seen.max(1);
    assert!(
        s.cpu_ns.abs_diff(truth_ns) <= slack,
        "{name}: top {} ns, truth {truth_ns} ns, {} intervals",
        s.cpu_ns,
        s.frames_seen
    );
}
