//! The profiler's mappings (fork, exec, a mapping over another, data
//! mappings) and a container's figures from its stacks, on hand-made
//! records: files that do not exist, so each frame is `[unknown]
//! FILE+OFFSET` with the offset computed here from the mapping.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

use perfns::record::{MappedFileId, SampleId};

use super::*;

fn profiler() -> Profiler {
    Profiler::new(
        &Features::default(),
        None,
        DebugDirs {
            perf_cache: None,
            debug_root: "/nonexistent".into(),
        },
        KernelSource {
            kallsyms: "/nonexistent/kallsyms".into(),
            release: None,
        },
    )
}

fn mmap2(pid: i32, addr: u64, len: u64, pgoff: u64, prot: u32, file: &str) -> Mmap2 {
    Mmap2 {
        pid,
        tid: pid,
        addr,
        len,
        pgoff,
        file_id: MappedFileId::BuildId(vec![1; 20]),
        prot,
        flags: 2,
        cpumode: MISC_USER,
        filename: file.into(),
        sample_id: SampleId::default(),
    }
}

/// A sample at `ip` without a call chain, in user or kernel mode.
fn at(ip: u64, misc: u16) -> Sample<'static> {
    Sample {
        id: SampleId::default(),
        ip: Some(ip),
        addr: None,
        period: None,
        callchain: None,
        raw: None,
        regs_user: None,
        stack_user: None,
        cgroup: None,
        misc,
    }
}

/// The function name of the one frame of a sample of `pid` at `ip`.
fn frame_of(p: &mut Profiler, pid: i32, ip: u64, misc: u16) -> String {
    let stack = p.sample(pid, &at(ip, misc));
    let frames = &p.stacks[stack as usize];
    assert_eq!(frames.len(), 1);
    p.frames[frames[0] as usize].function.clone()
}

#[test]
fn samples_follow_mappings_through_fork_exec_and_remapping() {
    let mut p = profiler();
    p.mmap2(&mmap2(
        10,
        0x1000,
        0x2000,
        0x5000,
        PROT_EXEC | 1,
        "/nonexistent/app",
    ));
    // Data: not where code runs, not kept.
    p.mmap2(&mmap2(10, 0x9000, 0x1000, 0, 1 | 2, "/nonexistent/data"));
    let user = MISC_USER;
    assert_eq!(frame_of(&mut p, 10, 0x1800, user), "[unknown] app+0x5800");
    assert_eq!(
        frame_of(&mut p, 10, 0x9000, user),
        "[unknown] [unmapped]+0x9000"
    );
    // A child has its parent's mappings.
    p.fork(11, 11, 10);
    // A thread of 10 (its ppid is 10's parent) keeps 10's.
    p.fork(10, 12, 1);
    assert_eq!(
        frame_of(&mut p, 10, 0x1800, MISC_USER),
        "[unknown] app+0x5800"
    );
    assert_eq!(frame_of(&mut p, 11, 0x2fff, user), "[unknown] app+0x6fff");
    // Its exec drops them until its own come.
    p.exec(11);
    assert_eq!(
        frame_of(&mut p, 11, 0x1800, user),
        "[unknown] [unmapped]+0x1800"
    );
    assert_eq!(frame_of(&mut p, 10, 0x1800, user), "[unknown] app+0x5800");
    // A mapping over part of another replaces it.
    p.mmap2(&mmap2(
        10,
        0x2000,
        0x2000,
        0,
        PROT_EXEC,
        "/nonexistent/lib.so",
    ));
    assert_eq!(frame_of(&mut p, 10, 0x2800, user), "[unknown] lib.so+0x800");
    assert_eq!(
        frame_of(&mut p, 10, 0x1800, user),
        "[unknown] [unmapped]+0x1800"
    );
    // A kernel address without the kernel's mapping stays unknown, and
    // says why.
    assert_eq!(
        frame_of(&mut p, 10, 0xffff_ffff_8100_0010, MISC_KERNEL),
        "[unknown] [kernel.kallsyms]+0xffffffff81000010"
    );
    let profile = p.finish();
    assert!(
        profile
            .problems
            .iter()
            .any(|w| w.contains("no kernel mapping")),
        "{:?}",
        profile.problems
    );
    assert!(
        profile
            .problems
            .iter()
            .any(|w| w.starts_with("/nonexistent/app: ")),
        "{:?}",
        profile.problems
    );
    assert!(profile.frames.iter().all(|f| !f.symbolized));
}

#[test]
fn self_is_the_innermost_frame_and_total_counts_a_sample_once() {
    let frame = |name: &str, symbolized| Frame {
        function: name.into(),
        dso: "/bin/x".into(),
        kernel: false,
        symbolized,
    };
    let profile = Profile {
        problems: Vec::new(),
        frames: vec![frame("a", true), frame("b", true), frame("c", false)],
        // Innermost first: a in b in c; b in c; a recursing, in c.
        stacks: vec![vec![0, 1, 2], vec![1, 2], vec![0, 0, 2]],
    };
    let stacks: IntMap<u32, u64> = [(0, 3), (1, 1), (2, 2)].into_iter().collect();
    let p = container_profile(&profile, &stacks, 10);
    assert_eq!(p.samples, 6);
    assert_eq!(p.frames, 3 * 3 + 2 + 3 * 2);
    // c, unsymbolized, is in every sample once.
    assert_eq!(p.unsymbolized_frames, 6);
    let got: Vec<(&str, u64, u64)> = p
        .functions
        .iter()
        .map(|f| (f.function.as_str(), f.self_samples, f.total_samples))
        .collect();
    assert_eq!(got, [("a", 5, 5), ("b", 1, 4), ("c", 0, 6)]);
    let a = &p.functions[0];
    assert_eq!((a.self_percent, a.total_percent), (83.33, 83.33));
    // --top cuts the list, hottest first; the stacks stay whole.
    let p = container_profile(&profile, &stacks, 1);
    assert_eq!(p.functions.len(), 1);
    assert_eq!(p.stacks.iter().map(|s| s.1).sum::<u64>(), 6);
}

/// A `--call-graph dwarf` sample whose file cannot be read (no unwind
/// information): its kernel frames from the chain, its user part the
/// leaf alone (the chain's user entries left for the unwound ones), and
/// the stopped unwind counted in the problems.
#[test]
fn a_dwarf_sample_without_unwind_information_keeps_its_leaf() {
    use perfns::record::{Callchain, UserRegs};
    let mut p = profiler();
    p.mmap2(&mmap2(
        10,
        0x1000,
        0x2000,
        0x5000,
        PROT_EXEC,
        "/nonexistent/app",
    ));
    let mut regs = [0u64; 20];
    regs[7] = 0x7ffd_0000;
    regs[8] = 0x1800;
    let mut s = at(0xffff_ffff_8100_0010, MISC_KERNEL);
    s.callchain = Some(Callchain::from_ips(&[
        context::KERNEL,
        0xffff_ffff_8100_0010,
        context::USER,
        0x1800,
    ]));
    s.regs_user = Some(UserRegs::from_values(UserRegs::ABI_64, 0xff_0fff, &regs));
    s.stack_user = Some(0x1900u64.to_le_bytes().to_vec().into());
    let stack = p.sample(10, &s);
    let names: Vec<&str> = p.stacks[stack as usize]
        .iter()
        .map(|&f| p.frames[f as usize].function.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "[unknown] [kernel.kallsyms]+0xffffffff81000010",
            "[unknown] app+0x5800"
        ]
    );
    // A kernel thread's sample: no user registers, its chain as it is.
    let mut k = at(0xffff_ffff_8100_0020, MISC_KERNEL);
    k.regs_user = Some(UserRegs::from_values(UserRegs::ABI_NONE, 0xff_0fff, &[]));
    k.stack_user = Some(Vec::new().into());
    let stack = p.sample(10, &k);
    assert_eq!(p.stacks[stack as usize].len(), 1);
    let problems = p.finish().problems;
    let unwinding = problems
        .iter()
        .find(|l| l.contains("dwarf samples"))
        .unwrap_or_else(|| panic!("{problems:?}"));
    assert!(
        unwinding.starts_with("2 of 2 dwarf samples'")
            && unwinding.contains("1 had no user registers")
            && unwinding.contains("1 reached an address in no file"),
        "{unwinding}"
    );
}
