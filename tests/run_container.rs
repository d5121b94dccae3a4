//! `perfns run-container` makes real containers: run as root on the
//! machine's own kernel, and as an unprivileged user through setpriv.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output};

const PERFNS: &str = env!("CARGO_BIN_EXE_perfns");

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn run(args: &[&str]) -> Output {
    Command::new(PERFNS)
        .arg("run-container")
        .args(args)
        .output()
        .expect("perfns runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Inside: the hostname is the name, the shell is pid 1 of a new pid
/// namespace, root maps to the caller, and every namespace differs from
/// this process's.
#[test]
fn container_has_its_own_namespaces() {
    let script = "hostname; echo $$; id -u; for n in pid mnt uts ipc user; do stat -Lc %i /proc/self/ns/$n; done";
    let out = run(&["--no-cgroup", "ctr-ns", "--", "sh", "-c", script]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..3], ["ctr-ns", "1", "0"], "{text}");
    for (i, ns) in ["pid", "mnt", "uts", "ipc", "user"].iter().enumerate() {
        let host = fs::metadata(format!("/proc/self/ns/{ns}")).unwrap().ino();
        let inside: u64 = lines[3 + i].parse().unwrap();
        assert_ne!(inside, host, "{ns} namespace shared with the caller");
    }
}

#[test]
fn exit_status_is_the_commands() {
    assert_eq!(
        run(&["--no-cgroup", "ctr-exit", "--", "sh", "-c", "exit 7"])
            .status
            .code(),
        Some(7)
    );
    let missing = run(&["--no-cgroup", "ctr-exit", "--", "/nonexistent/command"]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/command"),
        "{missing:?}"
    );
}

#[test]
fn bad_name_is_refused_before_anything_starts() {
    let out = run(&["a/b", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("container name \"a/b\""),
        "{out:?}"
    );
}

/// As root the container gets the cgroup /perfns/NAME, sees it as its
/// cgroup root, and a nested container's cgroup is made inside it; all are
/// removed when the command ends.
#[test]
fn root_containers_get_nested_cgroups() {
    if !is_root() {
        eprintln!("skipped: needs root to make cgroups");
        return;
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = mountinfo
        .lines()
        .find_map(|l| {
            let (m, f) = l.split_once(" - ")?;
            f.starts_with("cgroup2 ")
                .then(|| m.split(' ').nth(4).unwrap().to_owned())
        })
        .expect("cgroup v2 mounted");
    let outer = std::path::Path::new(&mount).join("perfns/ctr-outer");
    let inner =
        format!("{PERFNS} run-container ctr-inner -- sh -c 'tail -1 /proc/self/cgroup; sleep 2'");
    let child = Command::new(PERFNS)
        .args(["run-container", "ctr-outer", "--", "sh", "-c", &inner])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // From the host, while both run: the inner cgroup sits in the outer one
    // and holds the inner container's tasks.
    let procs = outer.join("ctr-inner/cgroup.procs");
    let mut seen = String::new();
    for _ in 0..150 {
        seen = fs::read_to_string(&procs).unwrap_or_default();
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!seen.is_empty(), "{} never held a task", procs.display());
    // Inside, the nested container's cgroup is its cgroup namespace's root.
    assert_eq!(stdout(&out), "0::/\n");
    assert!(!outer.exists(), "cgroup {} left behind", outer.display());
}

/// An unprivileged user makes a container (and one nested in it) with no
/// privilege: user namespaces, the caller mapped to root inside.
#[test]
fn unprivileged_user_makes_nested_containers() {
    if !is_root() {
        eprintln!("skipped: needs root to switch to an unprivileged user");
        return;
    }
    // The binary must be reachable by nobody: copy it out of the target dir.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("perfns");
    fs::copy(PERFNS, &bin).unwrap();
    fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let nested = format!(
        "{} run-container --no-cgroup inner -- sh -c 'hostname; id -u; echo $$'",
        bin.display()
    );
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["run-container", "--no-cgroup", "tenant", "--", "sh", "-c"])
        .arg(format!("hostname; id -u; {nested}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "tenant\n0\ninner\n0\n1\n");
}
