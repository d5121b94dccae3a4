//! Containers: which container each task belongs to, what the container is
//! called, which container holds it, and the figures of each, own and
//! rolled up over its descendants.
//!
//! A container is a pid namespace (from NAMESPACES records) other than the
//! host's, named by the shallowest cgroup path its tasks' samples carry and
//! nested under the container whose cgroup path is the nearest ancestor of
//! its own. Without NAMESPACES records a container is a cgroup; without
//! either, every task is the host's. perfns's metadata nests pid
//! namespaces by their parent chain; in a tracer-scope recording the
//! kernel's TRACER_NAMESPACES records nest them by tracer-namespace
//! ancestry ([`tracer_parents`]), under the tenant's own container.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use perfns::container::{
    choose_container, identify_cgroup, ContainerRef, KubernetesIdentity, NotOneContainer,
    RecordingMeta, RecordingMode,
};

use super::uprobes::{Probe, UprobeTally};
use super::{IntMap, Task};
use crate::model::{
    ContainerReport, ContainerSource, Figures, ProcessFigures, ProcessReport, Profile,
    SyscallFigures, SyscallTotals, TracepointCount, UprobeFigures,
};
use crate::{Options, SortKey};

/// The inode of the initial pid namespace (PROC_PID_INIT_INO), the host's
/// when the recording does not show pid 1's.
const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;

/// `--container` named no container, or more than one.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub struct NoSuchContainer {
    /// What was asked for.
    pub wanted: String,
    /// The containers there are, `name (key)`.
    pub known: String,
    /// The containers it names, `name (key)`, when it names more than one
    /// (none nested in another): the first is no better a guess than the
    /// others.
    pub matches: Vec<String>,
}

impl NoSuchContainer {
    fn message(&self) -> String {
        if self.matches.is_empty() {
            format!(
                "no container is called or keyed {:?}; the recording has: {}",
                self.wanted, self.known
            )
        } else {
            format!(
                "{:?} names more than one container: {}; name one by its key",
                self.wanted,
                self.matches.join(", ")
            )
        }
    }
}

/// What the analysis knows, for grouping.
#[derive(Debug)]
pub(crate) struct Membership<'a> {
    pub source: ContainerSource,
    pub tasks: &'a [Task],
    /// Each tracer namespace's parent, from TRACER_NAMESPACES records.
    pub tracer_parent: &'a BTreeMap<u64, u64>,
    /// cgroup id → path, from CGROUP records.
    pub cgroups: &'a HashMap<u64, String>,
    /// The recorded architecture, for syscall names.
    pub arch: Option<&'a str>,
    /// perfns's container metadata, when the recording has it.
    pub meta: Option<&'a RecordingMeta>,
    /// The uprobes, which the tasks' tallies are by.
    pub probes: &'a [Probe],
    /// The counted tracepoints' full names, which the tasks' counts are
    /// by.
    pub tracepoints: &'a [String],
    /// With `--profile`: the frames and stacks the tasks' counts are by.
    pub profile: Option<&'a Profile>,
}

/// A container's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Host,
    PidNs(u64),
    Cgroup(u64),
}

impl Key {
    fn text(self) -> String {
        match self {
            Key::Host => "host".into(),
            Key::PidNs(ino) => format!("pidns:{ino}"),
            Key::Cgroup(id) => format!("cgroup:{id}"),
        }
    }
}

/// A container while it is being built.
#[derive(Debug, Default)]
struct Node {
    cgroup: Option<String>,
    /// The name and runtime perfns's metadata or the cgroup path gives.
    identity: Option<(String, String)>,
    /// The runtime's id.
    id: Option<String>,
    /// The runtime's labels.
    labels: BTreeMap<String, String>,
    /// Its Kubernetes identity.
    kubernetes: Option<KubernetesIdentity>,
    /// The name shown when `identity`'s is another container's too.
    distinct: Option<String>,
    parent: Option<Key>,
    children: Vec<Key>,
    own: Figures,
    total: Figures,
    syscalls: BTreeMap<u64, SyscallTotals>,
    /// Its own tasks' uprobe tallies, by probe.
    uprobes: BTreeMap<usize, UprobeTally>,
    /// Its own tasks' hits of the counted tracepoints, by tracepoint.
    tracepoints: BTreeMap<usize, u64>,
    processes: BTreeMap<i32, ProcessFigures>,
    /// Its own tasks' samples per stack (with `--profile`).
    stacks: IntMap<u32, u64>,
}

/// Groups the tasks into containers and lays them out as `options` says:
/// the containers (host first) and, with `--per-process`, the processes.
pub(crate) fn build(
    m: &Membership<'_>,
    duration_ns: u64,
    options: &Options,
) -> Result<(Vec<ContainerReport>, Option<Vec<ProcessReport>>), NoSuchContainer> {
    let placement = Placement::new(m);
    let mut nodes = gather(&placement);
    identify(&mut nodes, &placement);
    nest(&mut nodes, &placement);
    roll_up(&mut nodes);
    let order = layout(&nodes, options)?;
    Ok(report(&nodes, &order, m, duration_ns, options))
}

/// Which container each task is in: what the recording says of it (pid
/// namespace or cgroup), else, for a task whose namespace was lost, the
/// container its cgroup names.
struct Placement<'a> {
    m: &'a Membership<'a>,
    /// Each process's leader (its task whose tid is the pid).
    leader_of: HashMap<i32, &'a Task>,
    /// The recorder's pid namespace: the host, or a tracer-scope
    /// recording's root.
    host_ns: u64,
    /// Each pid namespace's cgroup path, from perfns's metadata, else the
    /// shallowest one its tasks' samples carry.
    names: BTreeMap<Key, String>,
}

impl<'a> Placement<'a> {
    fn new(m: &'a Membership<'a>) -> Self {
        let leader_of: HashMap<i32, &Task> = m
            .tasks
            .iter()
            .filter(|t| t.tid == t.pid)
            .map(|t| (t.pid, t))
            .collect();
        let host_ns = m.meta.map(|meta| meta.host).unwrap_or_else(|| {
            leader_of
                .get(&1)
                .and_then(|t| t.pid_ns)
                .unwrap_or(PROC_PID_INIT_INO)
        });
        let mut placement = Placement {
            m,
            leader_of,
            host_ns,
            names: BTreeMap::new(),
        };
        placement.names = placement.cgroup_names();
        placement
    }

    /// The containers perfns's metadata describes (none without it).
    fn meta_containers(&self) -> &'a [perfns::container::Container] {
        self.m
            .meta
            .map(|meta| meta.containers.as_slice())
            .unwrap_or_default()
    }

    fn cgroup_of(&self, t: &Task) -> Option<u64> {
        t.cgroup
            .or(self.leader_of.get(&t.pid).and_then(|l| l.cgroup))
    }

    /// Where the recording says which namespace or cgroup a task is in;
    /// `None` when it does not.
    fn known_key(&self, t: &Task) -> Option<Key> {
        let leader = self.leader_of.get(&t.pid);
        match self.m.source {
            ContainerSource::PidNamespaces | ContainerSource::PerfnsMetadata => {
                t.pid_ns.or(leader.and_then(|l| l.pid_ns)).map(|ns| {
                    if ns == self.host_ns {
                        Key::Host
                    } else {
                        Key::PidNs(ns)
                    }
                })
            }
            ContainerSource::Cgroups => Some(match self.cgroup_of(t) {
                Some(id) if self.m.cgroups.get(&id).is_some_and(|p| p != "/") => Key::Cgroup(id),
                _ => Key::Host,
            }),
            ContainerSource::None => Some(Key::Host),
        }
    }

    /// Each pid namespace's cgroup path, from perfns's metadata, else the
    /// shallowest one its tasks' samples carry.
    fn cgroup_names(&self) -> BTreeMap<Key, String> {
        let m = self.m;
        let meta_containers = self.meta_containers();
        let mut names: BTreeMap<Key, String> = BTreeMap::new();
        for c in meta_containers.iter().filter(|c| c.key != self.host_ns) {
            if let Some(path) = &c.cgroup {
                names.insert(Key::PidNs(c.key), path.clone());
            }
        }
        for task in m.tasks {
            let (Some(key @ Key::PidNs(_)), Some(path)) = (
                self.known_key(task),
                self.cgroup_of(task).and_then(|id| m.cgroups.get(&id)),
            ) else {
                continue;
            };
            if meta_containers.iter().any(|c| Key::PidNs(c.key) == key) {
                continue;
            }
            let name = names.entry(key).or_insert_with(|| path.clone());
            if (depth(path), path) < (depth(name), &*name) {
                name.clone_from(path);
            }
        }
        names
    }

    /// The container of task `t`. A task whose namespace the recording
    /// lost (its NAMESPACES record was dropped, or perf could not read it)
    /// is placed by its cgroup: in the container named by that cgroup, else
    /// in a container of its own for the cgroup, else (no cgroup, or the
    /// root one) the host's.
    fn key_of(&self, t: &Task) -> Key {
        if let Some(key) = self.known_key(t) {
            return key;
        }
        let Some(id) = self.cgroup_of(t) else {
            return Key::Host;
        };
        match self.m.cgroups.get(&id) {
            None => Key::Host,
            Some(path) if path == "/" => Key::Host,
            Some(path) => self
                .names
                .iter()
                .find(|(_, p)| *p == path)
                .map_or(Key::Cgroup(id), |(k, _)| *k),
        }
    }
}

/// The containers the tasks are in, each with its tasks' figures by
/// process and syscall, and the containers that hold them without a task
/// of their own.
fn gather(placement: &Placement<'_>) -> BTreeMap<Key, Node> {
    let (m, host_ns) = (placement.m, placement.host_ns);
    let meta_containers = placement.meta_containers();
    let mut nodes: BTreeMap<Key, Node> = BTreeMap::new();
    nodes.insert(Key::Host, Node::default());
    for task in m.tasks {
        let key = placement.key_of(task);
        let node = nodes.entry(key).or_default();
        let figures = task_figures(task);
        add(&mut node.own, &figures);
        for (&nr, s) in &task.syscalls {
            add_syscalls(node.syscalls.entry(nr).or_default(), s);
        }
        for (&probe, u) in &task.uprobes {
            node.uprobes.entry(probe).or_default().add(u);
        }
        for (&event, &n) in &task.tracepoints {
            *node.tracepoints.entry(event).or_default() += n;
        }
        for (&stack, &n) in &task.stacks {
            *node.stacks.entry(stack).or_default() += n;
        }
        let leader_comm = placement.leader_of.get(&task.pid).map(|l| l.comm.as_str());
        let process = node
            .processes
            .entry(task.pid)
            .or_insert_with(|| ProcessFigures {
                pid: task.pid,
                comm: String::new(),
                threads: 0,
                figures: Figures::default(),
            });
        if process.comm.is_empty() {
            process.comm = leader_comm
                .filter(|c| !c.is_empty())
                .unwrap_or(&task.comm)
                .to_owned();
        }
        process.threads += 1;
        add(&mut process.figures, &figures);
    }
    // A container with no task of its own still holds its descendants.
    let mut missing: Vec<Key> = Vec::new();
    for key in nodes.keys() {
        let Key::PidNs(mut ns) = *key else { continue };
        while let Some(parent) = meta_containers
            .iter()
            .find(|c| c.key == ns)
            .and_then(|c| c.parent)
            .filter(|&p| p != host_ns && p != ns && missing.len() <= meta_containers.len())
        {
            missing.push(Key::PidNs(parent));
            ns = parent;
        }
    }
    for key in missing {
        nodes.entry(key).or_default();
    }
    nodes
}

/// Each container's cgroup path and identity: from perfns's metadata, else
/// from what its cgroup path names.
fn identify(nodes: &mut BTreeMap<Key, Node>, placement: &Placement<'_>) {
    let (m, names) = (placement.m, &placement.names);
    let meta_containers = placement.meta_containers();
    for (key, node) in nodes.iter_mut() {
        node.cgroup = match key {
            Key::Host => None,
            Key::PidNs(_) => names.get(key).cloned(),
            Key::Cgroup(id) => m.cgroups.get(id).cloned(),
        };
        let from_meta = match key {
            Key::PidNs(ns) => meta_containers.iter().find(|c| c.key == *ns),
            // A tracer-scope recording is made inside a container: its root
            // is that container, named in the metadata, not the host.
            Key::Host => m.meta.and_then(RecordingMeta::own_container),
            _ => None,
        };
        match from_meta {
            Some(c) => {
                node.identity = Some((c.name.clone(), c.runtime.name().to_owned()));
                node.id.clone_from(&c.id);
                node.labels.clone_from(&c.labels);
                node.kubernetes.clone_from(&c.kubernetes);
            }
            None => {
                let i = node.cgroup.as_deref().and_then(identify_cgroup);
                node.id = i.as_ref().and_then(|i| i.id.clone());
                node.identity = i.map(|i| (i.name, i.runtime.name().to_owned()));
            }
        }
    }
}

/// Each container's parent: from perfns's metadata, the kernel's
/// TRACER_NAMESPACES records (in tracer scope), else the nearest ancestor
/// cgroup path; then each parent's children.
fn nest(nodes: &mut BTreeMap<Key, Node>, placement: &Placement<'_>) {
    let (m, host_ns) = (placement.m, placement.host_ns);
    let meta_containers = placement.meta_containers();
    // perfns's metadata knows the pid namespaces' own nesting. The host
    // is listed beside the containers it holds; the root of a tracer-scope
    // recording, the tenant's own container, holds them.
    let root_holds = m
        .meta
        .is_some_and(|meta| meta.mode == RecordingMode::TracerScope);
    for (key, node) in nodes.iter_mut() {
        let Key::PidNs(ns) = key else { continue };
        let parent = meta_containers
            .iter()
            .find(|c| c.key == *ns)
            .and_then(|c| c.parent)
            .filter(|&p| p != *ns);
        node.parent = match parent {
            Some(p) if p == host_ns => root_holds.then_some(Key::Host),
            p => p.map(Key::PidNs),
        };
    }
    // In tracer scope the kernel's own records nest them, for the tasks
    // /proc could not show (gone before the recorder looked).
    if root_holds {
        for (key, parent) in tracer_parents(m.tasks, m.tracer_parent, |t| placement.key_of(t)) {
            if let Some(node) = nodes.get_mut(&key) {
                node.parent = Some(parent);
            }
        }
    }

    // Parents: the container with the nearest ancestor cgroup path. The
    // root cgroup is everyone's ancestor and no container's own: a pid
    // namespace whose tasks sit in it holds no other container.
    let paths: Vec<(Key, String)> = nodes
        .iter()
        .filter(|(k, _)| **k != Key::Host)
        .filter_map(|(k, n)| n.cgroup.clone().map(|p| (*k, p)))
        .filter(|(_, p)| p != "/")
        .collect();
    let keys: Vec<Key> = nodes.keys().copied().collect();
    for key in &keys {
        if nodes[key].parent.is_some() {
            continue;
        }
        let Some(path) = nodes[key].cgroup.clone() else {
            continue;
        };
        let parent = paths
            .iter()
            .filter(|(k, p)| k != key && is_ancestor(p, &path))
            .max_by_key(|(k, p)| (p.len(), *k))
            .map(|(k, _)| *k);
        if let Some(parent) = parent {
            if let Some(n) = nodes.get_mut(key) {
                n.parent = Some(parent);
            }
        }
    }
    // A hand-made file's metadata may make a cycle of parents; the kernel's
    // never does. Cut each cycle where it is found.
    for key in &keys {
        let mut at = *key;
        for _ in 0..=nodes.len() {
            match nodes[&at].parent {
                Some(p) if p == *key => {
                    if let Some(n) = nodes.get_mut(key) {
                        n.parent = None;
                    }
                    break;
                }
                Some(p) => at = p,
                None => break,
            }
        }
    }
    distinct_names(nodes);
    let links: Vec<(Key, Key)> = nodes
        .iter()
        .filter_map(|(k, n)| n.parent.map(|p| (p, *k)))
        .collect();
    for (parent, child) in links {
        if let Some(n) = nodes.get_mut(&parent) {
            n.children.push(child);
        }
    }
}

/// Each container's total: its own figures and its descendants'.
fn roll_up(nodes: &mut BTreeMap<Key, Node>) {
    let keys: Vec<Key> = nodes.keys().copied().collect();
    // Roll-ups, children before parents: deepest first.
    let mut by_depth: Vec<(usize, Key)> =
        keys.iter().map(|k| (tree_depth(nodes, *k), *k)).collect();
    by_depth.sort_by(|a, b| b.cmp(a));
    for (_, key) in &by_depth {
        let node = &nodes[key];
        let mut total = node.own.clone();
        for child in &node.children {
            add(&mut total, &nodes[child].total);
        }
        if let Some(n) = nodes.get_mut(key) {
            n.total = total;
        }
    }
}

/// The containers to show, in order, each with its depth in the tree:
/// every one, or `--container`'s match and its descendants; as a tree, or
/// `--flat`.
fn layout(
    nodes: &BTreeMap<Key, Node>,
    options: &Options,
) -> Result<Vec<(Key, usize)>, NoSuchContainer> {
    let keys: Vec<Key> = nodes.keys().copied().collect();
    let sort = options.sort_order();
    // --container: the matching containers and their descendants.
    let roots: Vec<Key> = match &options.container {
        None => {
            let mut roots: Vec<Key> = keys
                .iter()
                .filter(|k| **k != Key::Host && nodes[*k].parent.is_none())
                .copied()
                .collect();
            sort_keys(&mut roots, nodes, &sort, !options.flat);
            roots.insert(0, Key::Host);
            roots
        }
        Some(wanted) => {
            let chosen = choose_container(
                &keys,
                |k| matches_name(k, &nodes[&k], wanted),
                |k| nodes[&k].parent,
            );
            let listed = |keys: &[Key]| {
                keys.iter()
                    .map(|k| format!("{} ({})", name(*k, &nodes[k]), k.text()))
                    .collect::<Vec<_>>()
            };
            match chosen {
                Ok(one) => vec![one],
                Err(not_one) => {
                    return Err(NoSuchContainer {
                        wanted: wanted.clone(),
                        known: listed(&keys).join(", "),
                        matches: match not_one {
                            NotOneContainer::NoMatch => Vec::new(),
                            NotOneContainer::Several(several) => listed(&several),
                        },
                    })
                }
            }
        }
    };
    let mut order: Vec<(Key, usize)> = Vec::new();
    for root in roots {
        walk(nodes, root, 0, &sort, &mut order);
    }
    if options.flat {
        let host_first = order.first().is_some_and(|(k, _)| *k == Key::Host);
        let mut rest: Vec<Key> = order
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !(host_first && *k == Key::Host))
            .collect();
        sort_keys(&mut rest, nodes, &sort, false);
        order = rest.into_iter().map(|k| (k, 0)).collect();
        if host_first {
            order.insert(0, (Key::Host, 0));
        }
    }

    Ok(order)
}

/// The report's rows for the containers in `order`, with their top
/// processes and syscalls, their uprobes and counted tracepoints, and, with
/// `--per-process`, the processes.
fn report(
    nodes: &BTreeMap<Key, Node>,
    order: &[(Key, usize)],
    m: &Membership<'_>,
    duration_ns: u64,
    options: &Options,
) -> (Vec<ContainerReport>, Option<Vec<ProcessReport>>) {
    let (arch, probes, tracepoints) = (m.arch.unwrap_or(""), m.probes, m.tracepoints);
    let sort = options.sort_order();
    let percent = |f: &mut Figures| {
        f.cpu.percent = if duration_ns == 0 {
            0.0
        } else {
            // Two decimals are all a report shows; rounding here keeps
            // JSON and snapshots stable.
            (f.cpu.time_ns as f64 * 10000.0 / duration_ns as f64).round() / 100.0
        };
    };
    let mut processes = Vec::new();
    let containers = order
        .iter()
        .map(|&(key, depth)| {
            let node = &nodes[&key];
            let mut own = node.own.clone();
            let mut total = node.total.clone();
            percent(&mut own);
            percent(&mut total);
            let mut procs: Vec<ProcessFigures> = node.processes.values().cloned().collect();
            for p in &mut procs {
                percent(&mut p.figures);
            }
            procs.sort_by(|a, b| busier(&a.figures, &b.figures, &sort).then(a.pid.cmp(&b.pid)));
            procs.retain(|p| p.figures != Figures::default());
            if options.per_process {
                processes.extend(procs.iter().map(|p| ProcessReport {
                    container: key.text(),
                    process: p.clone(),
                }));
            }
            procs.truncate(options.top);
            let mut syscalls: Vec<SyscallFigures> = node
                .syscalls
                .iter()
                .map(|(&nr, s)| SyscallFigures {
                    name: perfns::syscalls::name(arch, nr)
                        .map_or_else(|| format!("syscall_{nr}"), str::to_owned),
                    nr,
                    figures: s.clone(),
                })
                .collect();
            syscalls.sort_by(|a, b| {
                (b.figures.calls, b.figures.errors)
                    .cmp(&(a.figures.calls, a.figures.errors))
                    .then(a.nr.cmp(&b.nr))
            });
            syscalls.truncate(options.top);
            let mut uprobes: Vec<UprobeFigures> = node
                .uprobes
                .iter()
                .map(|(&probe, tally)| tally.figures(&probes[probe]))
                .collect();
            uprobes.sort_by(|a, b| b.hits.cmp(&a.hits).then_with(|| a.probe.cmp(&b.probe)));
            let (mut user_events, mut others): (Vec<TracepointCount>, Vec<TracepointCount>) = node
                .tracepoints
                .iter()
                .map(|(&event, &count)| TracepointCount {
                    event: tracepoints[event].clone(),
                    count,
                })
                .partition(|t| super::tracepoints::is_user_event(&t.event));
            for list in [&mut user_events, &mut others] {
                list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.event.cmp(&b.event)));
            }
            ContainerReport {
                key: key.text(),
                name: name(key, node),
                runtime: match key {
                    Key::Host => Some("host".to_owned()),
                    _ => node.identity.as_ref().map(|(_, r)| r.clone()),
                },
                cgroup: node.cgroup.clone(),
                id: node.id.clone(),
                labels: node.labels.clone(),
                kubernetes: node.kubernetes.clone(),
                pid_ns: match key {
                    Key::PidNs(ns) => Some(ns),
                    _ => None,
                },
                parent: node.parent.map(Key::text),
                depth,
                own,
                total,
                top_processes: procs,
                top_syscalls: syscalls,
                uprobes,
                user_events,
                tracepoints: others,
                profile: m
                    .profile
                    .map(|p| crate::profile::container_profile(p, &node.stacks, options.top)),
            }
        })
        .collect();
    let processes = options.per_process.then(|| {
        processes.sort_by(|a, b| {
            busier(&a.process.figures, &b.process.figures, &sort)
                .then(a.process.pid.cmp(&b.process.pid))
        });
        processes.truncate(options.top);
        processes
    });
    (containers, processes)
}

/// A task's own figures.
/// Each container's parent, from its tasks' tracer-namespace ancestries
/// (TRACER_NAMESPACES records), `key_of` giving a task's container.
///
/// A container's tracer namespace is the shallowest its tasks are in: the
/// helper that unshares a container's namespaces and forks its init (a
/// runtime's, or `perfns run-container`'s) is in the new tracer namespace
/// but still in its parent's pid namespace. A tracer namespace belongs to
/// the container, of those whose tracer namespace it is, with the fewest
/// pid namespace levels. A container is nested in the owner of its tracer
/// namespace when that is another container (it made a pid namespace and
/// no tracer namespace), else in the owner of the nearest ancestor tracer
/// namespace that has one; the reader's own tracer namespace is the
/// root's, [`Key::Host`].
fn tracer_parents(
    tasks: &[Task],
    tracer_parent: &BTreeMap<u64, u64>,
    key_of: impl Fn(&Task) -> Key,
) -> BTreeMap<Key, Key> {
    // Each container's tracer namespace: (levels, inode, pid levels).
    let mut own: BTreeMap<Key, (usize, u64, usize)> = BTreeMap::new();
    for task in tasks {
        let Some(t) = task.tracer else { continue };
        let place = (t.levels, t.ns, t.pid_levels);
        own.entry(key_of(task))
            .and_modify(|p| *p = (*p).min(place))
            .or_insert(place);
    }
    let mut owner: BTreeMap<u64, (usize, Key)> = BTreeMap::new();
    for (&key, &(_, ns, pid_levels)) in &own {
        owner
            .entry(ns)
            .and_modify(|o| *o = (*o).min((pid_levels, key)))
            .or_insert((pid_levels, key));
    }
    let mut parents = BTreeMap::new();
    for (&key, &(_, ns, _)) in own.iter().filter(|(k, _)| **k != Key::Host) {
        let parent = match owner.get(&ns) {
            Some(&(_, o)) if o != key => o,
            _ => {
                // Bounded: a hand-made file may make the parents a cycle.
                let mut at = ns;
                let mut found = Key::Host;
                for _ in 0..=tracer_parent.len() {
                    let Some(&up) = tracer_parent.get(&at) else {
                        break;
                    };
                    match owner.get(&up) {
                        Some(&(_, o)) if o != key => {
                            found = o;
                            break;
                        }
                        _ => at = up,
                    }
                }
                found
            }
        };
        parents.insert(key, parent);
    }
    parents
}

fn task_figures(t: &Task) -> Figures {
    let mut f = Figures::default();
    f.cpu.time_ns = t.cpu_ns;
    f.cpu.samples = t.samples;
    f.memory = t.memory.clone();
    f.memory.pages_net = t.memory.pages_allocated as i64 - t.memory.pages_freed as i64;
    for s in t.syscalls.values() {
        add_syscalls(&mut f.syscalls, s);
    }
    f
}

/// Adds `b` into `a` (CPU percent is computed afterwards).
fn add(a: &mut Figures, b: &Figures) {
    a.cpu.time_ns += b.cpu.time_ns;
    a.cpu.samples += b.cpu.samples;
    a.memory.pages_allocated += b.memory.pages_allocated;
    a.memory.pages_freed += b.memory.pages_freed;
    a.memory.pages_net += b.memory.pages_net;
    for (order, n) in &b.memory.allocations_by_order {
        *a.memory.allocations_by_order.entry(*order).or_default() += n;
    }
    add_syscalls(&mut a.syscalls, &b.syscalls);
}

/// Adds syscall figures; the average is recomputed from the sums.
fn add_syscalls(a: &mut SyscallTotals, b: &SyscallTotals) {
    a.calls += b.calls;
    a.timed_calls += b.timed_calls;
    a.errors += b.errors;
    a.latency_total_ns += b.latency_total_ns;
    a.latency_max_ns = a.latency_max_ns.max(b.latency_max_ns);
    a.latency_avg_ns = a.latency_total_ns.checked_div(a.timed_calls).unwrap_or(0);
}

/// The sort key's figures, biggest first.
fn metric(f: &Figures, sort: SortKey) -> (u64, u64) {
    match sort {
        SortKey::Cpu => (f.cpu.time_ns, f.cpu.samples),
        SortKey::Mem => (f.memory.pages_allocated, f.memory.pages_freed),
        SortKey::Syscalls => (f.syscalls.calls, f.syscalls.errors),
    }
}

/// `a` against `b` by the sort keys, the first first: the bigger one is
/// `Less`, so that sorting puts it first.
fn busier(a: &Figures, b: &Figures, sort: &[SortKey]) -> Ordering {
    sort.iter()
        .map(|&key| metric(b, key).cmp(&metric(a, key)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

fn sort_keys(keys: &mut [Key], nodes: &BTreeMap<Key, Node>, sort: &[SortKey], rolled_up: bool) {
    let figures = |k: &Key| {
        let n = &nodes[k];
        if rolled_up {
            &n.total
        } else {
            &n.own
        }
    };
    keys.sort_by(|a, b| {
        busier(figures(a), figures(b), sort)
            .then_with(|| name(*a, &nodes[a]).cmp(&name(*b, &nodes[b])))
            .then(a.cmp(b))
    });
}

/// Appends `key` and its descendants, depth first, siblings sorted.
fn walk(
    nodes: &BTreeMap<Key, Node>,
    key: Key,
    depth: usize,
    sort: &[SortKey],
    out: &mut Vec<(Key, usize)>,
) {
    out.push((key, depth));
    let mut children = nodes[&key].children.clone();
    sort_keys(&mut children, nodes, sort, true);
    for child in children {
        walk(nodes, child, depth + 1, sort, out);
    }
}

fn tree_depth(nodes: &BTreeMap<Key, Node>, mut key: Key) -> usize {
    let mut depth = 0;
    while let Some(parent) = nodes[&key].parent {
        depth += 1;
        key = parent;
    }
    depth
}

/// Makes the names of containers that would show the same one distinct.
/// A pid namespace nested in a container, whose cgroup is the
/// container's (or under it) and so named by the same runtime id or the
/// same name, is `CONTAINER/pidns:INODE`; other containers that share a name (two
/// recordings' worth of `inner`s under different parents) get their key
/// after it, `NAME@pidns:INODE`.
fn distinct_names(nodes: &mut BTreeMap<Key, Node>) {
    let keys: Vec<Key> = nodes.keys().copied().collect();
    let mut by_depth: Vec<(usize, Key)> =
        keys.iter().map(|k| (tree_depth(nodes, *k), *k)).collect();
    by_depth.sort();
    let base = |nodes: &BTreeMap<Key, Node>, k: Key| base_name(k, &nodes[&k]);
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for k in &keys {
        *count.entry(base(nodes, *k)).or_default() += 1;
    }
    // Shallowest first, so that a parent's shown name is known.
    for &(_, key) in &by_depth {
        let own = base(nodes, key);
        let Some(parent) = nodes[&key].parent else {
            continue;
        };
        let same_id = nodes[&key].id.is_some() && nodes[&key].id == nodes[&parent].id;
        if base(nodes, parent) == own || same_id {
            let shown = format!("{}/{}", name(parent, &nodes[&parent]), key.text());
            if let Some(c) = count.get_mut(&own) {
                *c -= 1;
            }
            if let Some(n) = nodes.get_mut(&key) {
                n.distinct = Some(shown);
            }
        }
    }
    for key in keys {
        let own = base(nodes, key);
        if nodes[&key].distinct.is_none() && count.get(&own).copied().unwrap_or(0) > 1 {
            if let Some(n) = nodes.get_mut(&key) {
                n.distinct = Some(format!("{own}@{}", key.text()));
            }
        }
    }
}

/// A container's name as shown: [`base_name`], made distinct where
/// another container has it too ([`distinct_names`]).
fn name(key: Key, node: &Node) -> String {
    node.distinct
        .clone()
        .unwrap_or_else(|| base_name(key, node))
}

/// A container's name: from perfns's metadata or the container its cgroup
/// path names, else the last part of its cgroup path, else its key.
fn base_name(key: Key, node: &Node) -> String {
    match (key, &node.identity, &node.cgroup) {
        (Key::Host, None, _) => "host".into(),
        (_, Some((name, _)), _) => name.clone(),
        (_, None, Some(path)) => match path.rsplit('/').next() {
            Some(last) if !last.is_empty() => last.to_owned(),
            // The root cgroup names nothing.
            _ => key.text(),
        },
        (_, None, None) => key.text(),
    }
}

/// Whether `--container wanted` means this container, as `perfns record
/// --container` matches a running one ([`ContainerRef::matches`]): its
/// name as shown, its key, its cgroup path, its runtime id or a prefix of
/// it; also the name its runtime gave it, and a cgroup-keyed one's id.
fn matches_name(key: Key, node: &Node, wanted: &str) -> bool {
    let shown = name(key, node);
    let r = ContainerRef {
        name: &shown,
        pid_ns: match key {
            Key::PidNs(n) => Some(n),
            _ => None,
        },
        id: node.id.as_deref(),
        cgroup: node.cgroup.as_deref(),
    };
    let cgroup_id = match key {
        Key::Cgroup(n) => Some(n.to_string()),
        _ => None,
    };
    r.matches(wanted)
        || base_name(key, node) == wanted
        || key.text() == wanted
        || cgroup_id.as_deref() == Some(wanted)
}

fn depth(path: &str) -> usize {
    path.split('/').filter(|c| !c.is_empty()).count()
}

/// Whether cgroup `a` is a proper ancestor of `b`.
fn is_ancestor(a: &str, b: &str) -> bool {
    a != b && (a == "/" || b.strip_prefix(a).is_some_and(|rest| rest.starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_ancestry_is_by_whole_components() {
        assert!(is_ancestor("/", "/perfns"));
        assert!(is_ancestor("/perfns/outer", "/perfns/outer/inner"));
        assert!(!is_ancestor("/perfns/outer", "/perfns/outer"));
        assert!(!is_ancestor("/perfns/out", "/perfns/outer"));
        assert!(!is_ancestor("/perfns/outer/inner", "/perfns/outer"));
    }

    #[test]
    fn names_come_from_identity_then_path_then_key() {
        let mut node = Node::default();
        assert_eq!(name(Key::PidNs(7), &node), "pidns:7");
        node.cgroup = Some("/".into());
        assert_eq!(name(Key::PidNs(7), &node), "pidns:7");
        node.cgroup = Some("/system.slice/foo.service".into());
        assert_eq!(name(Key::PidNs(7), &node), "foo.service");
        node.identity = Some(("web".into(), "docker".into()));
        assert_eq!(name(Key::PidNs(7), &node), "web");
        assert_eq!(name(Key::Host, &Node::default()), "host");
        // The root of a tracer-scope recording: the tenant's container.
        assert_eq!(name(Key::Host, &node), "web");
        assert!(matches_name(Key::PidNs(7), &node, "web"));
        assert!(matches_name(Key::PidNs(7), &node, "7"));
        assert!(matches_name(Key::PidNs(7), &node, "pidns:7"));
        assert!(matches_name(
            Key::PidNs(7),
            &node,
            "/system.slice/foo.service"
        ));
        assert!(!matches_name(Key::PidNs(7), &node, "foo"));
    }

    #[test]
    fn names_that_would_show_twice_are_made_distinct() {
        let node = |name: &str, id: Option<&str>, parent: Option<Key>| Node {
            identity: Some((name.into(), "docker".into())),
            id: id.map(Into::into),
            parent,
            ..Node::default()
        };
        let mut nodes: BTreeMap<Key, Node> = [
            (Key::PidNs(10), node("web", Some("abc"), None)),
            // Nested in web, in web's cgroup: web's id.
            (
                Key::PidNs(11),
                node("abc", Some("abc"), Some(Key::PidNs(10))),
            ),
            // Nested in web, in a cgroup named like web.
            (Key::PidNs(12), node("web", None, Some(Key::PidNs(10)))),
            (Key::PidNs(20), node("inner", None, None)),
            (Key::PidNs(30), node("inner", None, None)),
        ]
        .into();
        distinct_names(&mut nodes);
        let shown: Vec<String> = nodes.iter().map(|(k, n)| name(*k, n)).collect();
        assert_eq!(
            shown,
            [
                "web",
                "web/pidns:11",
                "web/pidns:12",
                "inner@pidns:20",
                "inner@pidns:30"
            ]
        );
        // --container finds each by the name shown, and the nested one
        // also by the name it had.
        assert!(matches_name(
            Key::PidNs(11),
            &nodes[&Key::PidNs(11)],
            "web/pidns:11"
        ));
        assert!(matches_name(
            Key::PidNs(20),
            &nodes[&Key::PidNs(20)],
            "inner"
        ));
        assert!(!matches_name(
            Key::PidNs(11),
            &nodes[&Key::PidNs(11)],
            "abcd"
        ));
    }

    /// A task in pid namespace `pid_ns` (1 is the reader's) and tracer
    /// namespace `ns`, `levels` tracer and `pid_levels` pid namespaces
    /// below the reader's.
    fn task(pid_ns: u64, ns: u64, levels: usize, pid_levels: usize) -> Task {
        Task {
            pid_ns: Some(pid_ns),
            tracer: Some(super::super::TaskTracer {
                ns,
                levels,
                pid_levels,
            }),
            ..Task::default()
        }
    }

    #[test]
    fn tracer_ancestry_nests_containers() {
        // The reader's tracer namespace is 100, its pid namespace 1.
        let tasks = [
            task(1, 100, 1, 1), // the recorder
            // web: run-container's helper, in the new tracer namespace but
            // the reader's pid namespace, and web's init.
            task(1, 200, 2, 1),
            task(2, 200, 2, 2),
            // inner, in web, made the same way.
            task(2, 300, 3, 2),
            task(3, 300, 3, 3),
            // jail: a pid namespace of web's, no tracer namespace of its own.
            task(4, 200, 2, 3),
            // batch: only its init seen.
            task(5, 400, 2, 2),
            // deep: its tracer namespace's parent (500) has no container of
            // its own; 500's parent is web's.
            task(6, 600, 4, 3),
            // A hand-made file's cycle of tracer parents.
            task(7, 700, 3, 2),
        ];
        let tracer_parent: BTreeMap<u64, u64> = [
            (200, 100),
            (300, 200),
            (400, 100),
            (500, 200),
            (600, 500),
            (700, 800),
            (800, 700),
        ]
        .into();
        let key_of = |t: &Task| match t.pid_ns {
            Some(1) => Key::Host,
            ns => Key::PidNs(ns.unwrap_or(0)),
        };
        let parents = tracer_parents(&tasks, &tracer_parent, key_of);
        let expected: BTreeMap<Key, Key> = [
            (Key::PidNs(2), Key::Host),
            (Key::PidNs(3), Key::PidNs(2)),
            (Key::PidNs(4), Key::PidNs(2)),
            (Key::PidNs(5), Key::Host),
            (Key::PidNs(6), Key::PidNs(2)),
            (Key::PidNs(7), Key::Host),
        ]
        .into();
        assert_eq!(parents, expected);
    }
}
