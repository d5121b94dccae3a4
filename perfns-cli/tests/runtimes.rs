//! Real container runtimes, as root on this machine: Debian's Docker
//! (docker.io) and Podman run named containers with exact workloads while
//! `perfns record -a` records, and the report must show the runtimes'
//! names, ids and labels (in JSON and CSV) with the workloads' figures.
//!
//! Each test starts what it needs and removes it on every path: a dockerd
//! of its own (its own data root, exec root and socket, no network), and
//! Podman containers with names of their own. The image is made here,
//! offline: busybox-static's busybox and the `perfns-workload` binary with
//! the libraries it links, imported with `docker import`/`podman import`.

// A test's unwrap failing is its report.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// How long a runtime may take to come up or to run the workloads.
const RUNTIME_PATIENCE: Duration = Duration::from_secs(90);

/// The getppid calls each workload makes: exact in the report.
const WEB_GETPPID: u64 = 30_000;
const DB_GETPPID: u64 = 20_000;
const NESTED_GETPPID: u64 = 1_000;

/// A program on `$PATH` (or at an absolute path), or why not.
fn program(name: &str, package: &str) -> Result<PathBuf, String> {
    let found = if name.starts_with('/') {
        Some(PathBuf::from(name))
    } else {
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    found
        .filter(|p| p.is_file())
        .ok_or_else(|| format!("needs {name} (Debian's {package}; scripts/install-deps.sh)"))
}

/// Runs a command to completion within [`RUNTIME_PATIENCE`], feeding it
/// `stdin`; fails the test with its output if it fails.
fn run(cmd: &mut Command, stdin: Option<&Path>) -> String {
    let what = format!("{cmd:?}");
    if let Some(file) = stdin {
        cmd.stdin(std::fs::File::open(file).expect("stdin file"));
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let out = wait_bounded(child, &what);
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits for `child` at most [`RUNTIME_PATIENCE`]; kills it and fails the
/// test past that.
fn wait_bounded(mut child: Child, what: &str) -> std::process::Output {
    let started = Instant::now();
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => return child.wait_with_output().expect("output"),
            None if started.elapsed() > RUNTIME_PATIENCE => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "{what} still ran after {RUNTIME_PATIENCE:?}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            // Polling the child's end; nothing else tells a test about it
            // without a thread.
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// A root file system for the test image: busybox (and `sh`, `sleep` as
/// links), and `/perfns-workload` with the shared libraries `ldd` says it
/// needs, at their paths, so that it runs in the container as on the host.
fn image_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static's /bin/busybox");
    for applet in ["sh", "sleep", "true"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    let workload = perfns_record::testing::workload_binary().expect("perfns-workload");
    std::fs::copy(&workload, root.join("perfns-workload")).unwrap();
    let ldd = run(Command::new("ldd").arg(&workload), None);
    for line in ldd.lines() {
        // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` or
        // `/lib64/ld-linux-x86-64.so.2 (0x...)`.
        let path = line
            .split("=>")
            .last()
            .and_then(|r| r.split_whitespace().next())
            .filter(|p| p.starts_with('/'));
        let Some(path) = path else { continue };
        let host = std::fs::canonicalize(path).unwrap();
        let at = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::copy(&host, &at).unwrap_or_else(|e| panic!("{}: {e}", host.display()));
    }
    let tar = dir.join("rootfs.tar");
    run(
        Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        None,
    );
    tar
}

/// A dockerd of the test's own, stopped and its files removed when
/// dropped, however the test ends.
struct Dockerd {
    dir: PathBuf,
    child: Option<Child>,
}

impl Dockerd {
    fn start(dir: &Path) -> Dockerd {
        let dir = dir.join("docker");
        std::fs::create_dir_all(&dir).unwrap();
        // Its own configuration: nothing of the machine's daemon.json.
        std::fs::write(dir.join("daemon.json"), "{}").unwrap();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("--host")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .arg("--config-file")
            .arg(dir.join("daemon.json"))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            // Containers in /docker/ID whatever the init system: the
            // recording is limited to /docker.
            .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting dockerd");
        let d = Dockerd {
            dir,
            child: Some(child),
        };
        // Up when it answers.
        let started = Instant::now();
        loop {
            let ok = d
                .docker()
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                break;
            }
            assert!(
                started.elapsed() < RUNTIME_PATIENCE,
                "dockerd did not answer within {RUNTIME_PATIENCE:?}: {}",
                std::fs::read_to_string(d.dir.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    /// The Debian client (/usr/bin/docker, of the same version as the
    /// daemon), talking to this daemon.
    fn docker(&self) -> Command {
        let mut c = Command::new("/usr/bin/docker");
        c.arg("--host")
            .arg(format!("unix://{}", self.dir.join("docker.sock").display()));
        c
    }

    fn data_root(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // dockerd stops its containers and its containerd on SIGTERM.
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let asked = Instant::now();
            while matches!(child.try_wait(), Ok(None)) && asked.elapsed() < Duration::from_secs(30)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Unmounts whatever is still mounted under `dir` (a runtime's overlays,
/// its netns files), deepest first.
fn unmount_under(dir: &Path) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|p| Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// `perfns report --format FORMAT` of a recording.
fn report_text(path: &Path, format: &str, extra: &[&str]) -> String {
    let out = Command::new(common::perfns_binary())
        .args(["report", "--format", format, "-i"])
        .arg(path)
        .args(extra)
        .output()
        .expect("perfns report");
    assert!(
        out.status.success(),
        "perfns report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `perfns report --format json` of a recording.
fn report_json(path: &Path, extra: &[&str]) -> Value {
    serde_json::from_str(&report_text(path, "json", extra)).expect("report JSON")
}

/// The `id` and `labels` columns of the CSV report's cputop line of
/// container `name`, the labels parsed (a JSON object).
fn csv_identity(path: &Path, name: &str) -> (String, Value) {
    let text = report_text(path, "csv", &[]);
    let block = text
        .split("\n\n")
        .find(|b| b.starts_with("section,key,name,") && b.contains("\ncputop,"))
        .unwrap_or_else(|| panic!("no cputop block in\n{text}"));
    let mut rows = csv::Reader::from_reader(block.as_bytes());
    let head = rows.headers().unwrap().clone();
    let col = |c: &str| head.iter().position(|h| h == c).unwrap();
    let row = rows
        .records()
        .map(|r| r.unwrap())
        .find(|r| &r[col("name")] == name)
        .unwrap_or_else(|| panic!("no {name} line in\n{block}"));
    let labels = match &row[col("labels")] {
        "" => Value::Null,
        json => serde_json::from_str(json).unwrap(),
    };
    (row[col("id")].to_owned(), labels)
}

/// The report's container called `name`.
fn container<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| {
            let names: Vec<&Value> = report["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| &c["name"])
                .collect();
            panic!("no container {name} in the report: {names:?}")
        })
}

/// The key of `parent`'s only child container.
fn child_key(report: &Value, parent: &Value) -> String {
    let children: Vec<&str> = report["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["parent"] == parent["key"])
        .filter_map(|c| c["key"].as_str())
        .collect();
    assert_eq!(
        children.len(),
        1,
        "children of {}: {children:?}",
        parent["name"]
    );
    children[0].to_owned()
}

/// A container's getppid calls, as the report's top syscalls give them.
fn getppid_calls(c: &Value) -> u64 {
    c["top_syscalls"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "getppid"))
        .and_then(|s| s["calls"].as_u64())
        .unwrap_or(0)
}

/// Records, with `perfns record -a` and `flags`, a shell script that
/// starts the workloads and waits for them; returns the recording.
fn record_script(dir: &Path, flags: &[&str], script: &str) -> PathBuf {
    let path = dir.join("runtime.data");
    let child = Command::new(common::perfns_binary())
        .args(["record", "-a", "-m", "4096", "--events", "cpu,syscalls"])
        .args(flags)
        .arg("-o")
        .arg(&path)
        .args(["--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("perfns record");
    let out = wait_bounded(child, "perfns record");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "perfns record: {stderr}");
    assert!(
        !stderr.contains("Warning: lost"),
        "exact counts need no losses: {stderr}"
    );
    path
}

/// Starts web, db and cache with `cli` (a docker or podman command line
/// and its global flags) and `run_flags`, each waiting at a gate; returns
/// the script that opens the gates and waits for them.
///
/// web and db run exact workloads; cache runs a pid namespace of its own
/// inside (busybox's unshare), whose cgroup is cache's (it sleeps first,
/// for the recorder to read its cgroup while it lives). Each waits for a
/// line on a FIFO of its own, written once recording runs: only the
/// runtime's cgroup is recorded (the machine's other work would fill the
/// buffers, and exact counts need no losses), and tasks that start in it
/// after recording began would be known only from the moment they joined
/// it. (runc's own getppid calls, before the container's command, are then
/// not recorded either.)
fn start_gated(dir: &Path, cli: &str, run_flags: &str) -> String {
    let mut gates = String::new();
    let mut start = String::new();
    for (name, flags, command) in [
        (
            "web",
            "--label app=shop --label tier=front",
            format!("/perfns-workload getppid {WEB_GETPPID} burn 100"),
        ),
        (
            "db",
            "",
            format!("/perfns-workload getppid {DB_GETPPID} burn 50"),
        ),
        (
            "cache",
            "--cap-add SYS_ADMIN --security-opt seccomp=unconfined \
             --security-opt apparmor=unconfined",
            format!(
                "/bin/busybox unshare --pid --fork \
                 /perfns-workload sleep 1000 getppid {NESTED_GETPPID}"
            ),
        ),
    ] {
        let fifo = dir.join(format!("gate-{name}"));
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        start.push_str(&format!(
            "{cli} run -d --name {name} {flags} {run_flags} --network none -v {}:/gate \
                perfns-busybox /bin/sh -c 'read line < /gate; exec {command}'\n",
            fifo.display()
        ));
        gates.push_str(&format!("echo go > {}\n", fifo.display()));
    }
    run(Command::new("sh").args(["-ec", &start]), None);
    format!("set -e\n{gates}{cli} wait web db cache")
}

/// What the report of [`start_gated`]'s containers must show: their
/// runtime's names, ids (`id_of`) and labels, in JSON and CSV, the exact
/// workloads, the nested pid namespace told apart under cache, and
/// `--container` by name, id prefix, key and cgroup path.
fn check_report(recording: &Path, runtime: &str, id_of: impl Fn(&str) -> String) {
    let report = report_json(recording, &[]);
    let web = container(&report, "web");
    let db = container(&report, "db");
    println!("web: {web}\ndb: {db}");
    for (c, name) in [(web, "web"), (db, "db")] {
        assert_eq!(c["runtime"], runtime, "{name}");
        assert_eq!(c["id"].as_str(), Some(id_of(name).as_str()), "{name}");
    }
    assert_eq!(getppid_calls(web), WEB_GETPPID);
    assert_eq!(getppid_calls(db), DB_GETPPID);
    // The runtime's labels (`--label app=shop --label tier=front`), in
    // the JSON and, with the id, in the CSV.
    assert_eq!(
        web["labels"],
        serde_json::json!({"app": "shop", "tier": "front"})
    );
    assert_eq!(
        csv_identity(recording, "web"),
        (id_of("web"), web["labels"].clone())
    );
    assert_eq!(csv_identity(recording, "db"), (id_of("db"), Value::Null));

    // The pid namespace nested in cache shares its cgroup, so its id: it
    // is told apart, under cache.
    let cache = container(&report, "cache");
    let nested_name = format!("cache/{}", child_key(&report, cache));
    let nested = container(&report, &nested_name);
    assert_eq!(nested["parent"], cache["key"]);
    assert_eq!(getppid_calls(nested), NESTED_GETPPID);
    assert_eq!(getppid_calls(cache), 0);

    // --container takes the name, an id prefix, the key or the cgroup
    // path.
    let key = web["key"].as_str().unwrap().to_owned();
    let cgroup = web["cgroup"].as_str().unwrap().to_owned();
    for wanted in ["web", &id_of("web")[..8], key.as_str(), cgroup.as_str()] {
        let r = report_json(recording, &["--container", wanted]);
        let names: Vec<&str> = r["containers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["web"], "--container {wanted}");
    }
    // The table shows the name and the short id.
    let table = Command::new(common::perfns_binary())
        .args(["report", "-i"])
        .arg(recording)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    let row = table
        .lines()
        .find(|l| l.trim_start().starts_with("web "))
        .unwrap_or_else(|| panic!("no web row in\n{table}"));
    assert!(row.contains(&id_of("web")[..12]), "{row}");
}

/// Records the context switches of what `select` says (`-a`,
/// `--container=NAME`) for half a second into `path`.
fn record_briefly(path: &Path, select: &str) {
    let out = common::perfns_record(&[
        select,
        "--events",
        "cpu",
        "--duration",
        "0.5",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `perfns record --container web` while the containers wait at their
/// gates: the runtime's name picks the container, and the recording says
/// so.
fn record_by_name(dir: &Path) {
    let path = dir.join("web-only.data");
    record_briefly(&path, "--container=web");
    let reader = perfns::perf_data::PerfFileReader::open(&path).unwrap();
    match common::recording_meta(&reader).scope {
        perfns::container::RecordingScope::Container { name, .. } => assert_eq!(name, "web"),
        other => panic!("{other:?}"),
    }
}

/// The `named_by` of the recording's container `name`.
fn named_by(recording: &Path, name: &str) -> Option<String> {
    let reader = perfns::perf_data::PerfFileReader::open(recording).unwrap();
    let meta = common::recording_meta(&reader);
    let c = meta.containers.iter().find(|c| c.name == name);
    c.unwrap_or_else(|| panic!("no {name} in {:?}", meta.containers))
        .named_by
        .clone()
}

/// The set-up of a runtime test: `None` (skipped) unless it can record
/// and has `programs` (name, Debian package) and busybox; else the
/// recording lock, a directory, and the image's root file system as a tar.
fn set_up(programs: &[(&str, &str)]) -> Option<(MutexGuard<'static, ()>, TempDir, PathBuf)> {
    let (serial, dir) = common::recording_test()?;
    for &(name, package) in programs.iter().chain(&[("/bin/busybox", "busybox-static")]) {
        perfns::testing::prerequisite(program(name, package))?;
    }
    let tar = image_rootfs(dir.path());
    Some((serial, dir, tar))
}

#[test]
fn docker_containers_are_reported_by_their_names() {
    let Some((_serial, dir, tar)) =
        set_up(&[("dockerd", "docker.io"), ("/usr/bin/docker", "docker.io")])
    else {
        return;
    };
    let dockerd = Dockerd::start(dir.path());
    run(
        dockerd.docker().args(["import", "-", "perfns-busybox"]),
        Some(&tar),
    );
    let docker = format!(
        "/usr/bin/docker --host unix://{}",
        dockerd.dir.join("docker.sock").display()
    );
    let script = start_gated(dir.path(), &docker, "");
    record_by_name(dir.path());
    let recording = record_script(dir.path(), &["--cgroup", "/docker"], &script);
    let id_of = |name: &str| {
        let mut inspect = dockerd.docker();
        inspect.args(["inspect", "--format", "{{.Id}}", name]);
        run(&mut inspect, None).trim().to_owned()
    };
    check_report(&recording, "docker", id_of);

    // The data root is not the default one: found from the running
    // dockerd's command line.
    let expected = dockerd
        .data_root()
        .join("containers")
        .join(id_of("web"))
        .join("config.v2.json");
    assert_eq!(named_by(&recording, "web").as_deref(), expected.to_str());
}

/// Podman's storage and state of the test's own (`--root`, `--runroot`,
/// `--tmpdir`), its containers removed and its files unmounted and removed
/// when dropped.
struct Podman {
    dir: PathBuf,
}

impl Podman {
    fn new(dir: &Path) -> Podman {
        let dir = dir.join("podman");
        std::fs::create_dir_all(&dir).unwrap();
        Podman { dir }
    }

    /// The podman command line with the test's roots; the cgroupfs
    /// manager, so that containers are in /libpod_parent whatever the init
    /// system.
    fn cli(&self) -> String {
        format!(
            "podman --root {0}/root --runroot {0}/run --tmpdir {0}/tmp --cgroup-manager cgroupfs \
             --events-backend file",
            self.dir.display()
        )
    }

    fn podman(&self, args: &str) -> String {
        run(
            Command::new("sh").args(["-ec", &format!("{} {args}", self.cli())]),
            None,
        )
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .args(["-c", &format!("{} rm -f -a -t 0", self.cli())])
            .output();
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn podman_containers_are_reported_by_their_names() {
    let Some((_serial, dir, tar)) = set_up(&[("podman", "podman")]) else {
        return;
    };
    let podman = Podman::new(dir.path());
    podman.podman(&format!("import {} perfns-busybox", tar.display()));
    // Podman's default limits raise the hard RLIMIT_NOFILE and
    // RLIMIT_NPROC, which needs CAP_SYS_RESOURCE: runc fails ("error
    // setting rlimit type 6/7: operation not permitted") where the
    // bounding set lacks it, as on this machine. Limits below the hard
    // ones need nothing.
    let script = start_gated(
        dir.path(),
        &podman.cli(),
        "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024",
    );
    record_by_name(dir.path());
    let recording = record_script(dir.path(), &["--cgroup", "/libpod_parent"], &script);
    let id_of = |name: &str| {
        podman
            .podman(&format!("inspect --format '{{{{.Id}}}}' {name}"))
            .trim()
            .to_owned()
    };
    check_report(&recording, "podman", id_of);
    // The storage is not the default one: found from the running conmon's
    // command line.
    let expected = podman.dir.join("root/overlay-containers/containers.json");
    assert_eq!(named_by(&recording, "web").as_deref(), expected.to_str());
}

/// The user rootless Podman runs as: made by scripts/install-deps.sh with
/// a subordinate uid range.
const ROOTLESS_USER: &str = "perfns-rootless";

/// `(uid, home)` of [`ROOTLESS_USER`], or why not.
fn rootless_user() -> Result<(u32, PathBuf), String> {
    let missing = || {
        format!(
            "needs the user {ROOTLESS_USER} with a range in /etc/subuid (scripts/install-deps.sh)"
        )
    };
    let user = nix::unistd::User::from_name(ROOTLESS_USER)
        .ok()
        .flatten()
        .ok_or_else(missing)?;
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    if !subuid
        .lines()
        .any(|l| l.starts_with(&format!("{ROOTLESS_USER}:")))
    {
        return Err(missing());
    }
    Ok((user.uid.as_raw(), user.dir))
}

/// Rootless Podman as [`ROOTLESS_USER`], in its default storage under its
/// home: its containers, storage and processes removed when dropped.
struct RootlessPodman {
    uid: u32,
    home: PathBuf,
}

impl RootlessPodman {
    fn new(uid: u32, home: PathBuf) -> RootlessPodman {
        // The runtime directory a login would make.
        let run = PathBuf::from(format!("/run/user/{uid}"));
        std::fs::create_dir_all(&run).unwrap();
        nix::unistd::chown(&run, Some(nix::unistd::Uid::from_raw(uid)), None).unwrap();
        RootlessPodman { uid, home }
    }

    /// Runs `podman ARGS` as the user (cgroupfs: no systemd session).
    fn podman(&self, args: &str) -> String {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", ROOTLESS_USER, "--", "env"])
            .arg(format!("XDG_RUNTIME_DIR=/run/user/{}", self.uid))
            .arg(format!("HOME={}", self.home.display()))
            .args(["sh", "-ec"])
            .arg(format!(
                "podman --cgroup-manager cgroupfs --events-backend file {args}"
            ))
            .current_dir("/tmp");
        run(&mut cmd, None)
    }
}

impl Drop for RootlessPodman {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| self.podman("rm -f -a -t 0"));
        let _ = std::panic::catch_unwind(|| self.podman("system reset -f"));
        // What reset leaves (its pause process): the user's, and only
        // the test runs as that user.
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let owned = std::fs::metadata(e.path()).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.uid() == self.uid
            });
            let pid = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok());
            if let (true, Some(pid)) = (owned, pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = std::fs::remove_dir_all(self.home.join(".local/share/containers"));
        let _ = std::fs::remove_dir_all(format!("/run/user/{}/containers", self.uid));
    }
}

#[test]
fn rootless_podman_containers_are_named() {
    let Some((_serial, dir, tar)) = set_up(&[("podman", "podman"), ("runuser", "util-linux")])
    else {
        return;
    };
    let Some((uid, home)) = perfns::testing::prerequisite(rootless_user()) else {
        return;
    };
    // The user reads the image from the test's directory.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&tar, std::fs::Permissions::from_mode(0o644)).unwrap();
    let podman = RootlessPodman::new(uid, home.clone());
    podman.podman(&format!("import {} perfns-busybox", tar.display()));
    podman.podman(
        "run -d --name notes --label owner=alice --network none \
         --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 perfns-busybox /bin/sleep 600",
    );
    let id = podman
        .podman("inspect --format '{{.Id}}' notes")
        .trim()
        .to_owned();
    // Only names are checked: the machine is recorded (a rootless
    // container may have no cgroup of its own to limit the recording to).
    let path = dir.path().join("rootless.data");
    record_briefly(&path, "-a");
    let report = report_json(&path, &[]);
    let notes = container(&report, "notes");
    assert_eq!(notes["runtime"], "podman");
    assert_eq!(notes["id"].as_str(), Some(id.as_str()));
    // Its label, from the user's libpod database.
    assert_eq!(notes["labels"], serde_json::json!({"owner": "alice"}));
    let named_by = named_by(&path, "notes").unwrap();
    assert!(
        named_by.starts_with(&format!(
            "{}/.local/share/containers/storage/",
            home.display()
        )) && named_by.ends_with("-containers/containers.json"),
        "{named_by}"
    );
}
