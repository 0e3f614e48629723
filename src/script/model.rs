//! The scenario as plain data: user classes, task sets, tasks and wait times, as declared by the
//! script's top level and validated once. Runners only read it.

use std::sync::Arc;

use rand::Rng;
use rhai::{Dynamic, ImmutableString};

/// Locust's wait-time functions. `constant_throughput(r)` is stored as `Pacing(1/r)`.
#[derive(Clone, Debug, PartialEq)]
pub enum WaitTime {
    Constant(f64),
    Between(f64, f64),
    Pacing(f64),
}

impl WaitTime {
    /// Seconds to wait after a task that started `ran_for` seconds ago.
    pub fn seconds(&self, rng: &mut impl Rng, ran_for: f64) -> f64 {
        match *self {
            WaitTime::Constant(s) => s,
            WaitTime::Between(a, b) if b > a => rng.random_range(a..=b),
            WaitTime::Between(a, _) => a,
            WaitTime::Pacing(s) => (s - ran_for).max(0.0),
        }
    }

    pub fn describe(&self) -> String {
        match *self {
            WaitTime::Constant(s) => format!("constant({s})"),
            WaitTime::Between(a, b) => format!("between({a}, {b})"),
            WaitTime::Pacing(s) => format!("constant_pacing({s})"),
        }
    }
}

/// A script function to call: by name, or a closure (anonymous function plus captured values).
#[derive(Clone, Debug)]
pub struct Callable {
    pub fn_name: ImmutableString,
    pub curry: Vec<Dynamic>,
    /// How `--list` and exception tracebacks name it.
    pub label: ImmutableString,
    /// The scenario file it was declared in (an index into the scenario's files): a name resolves
    /// among that file's functions only.
    pub unit: usize,
}

impl Callable {
    pub fn is_closure(&self) -> bool {
        self.fn_name.starts_with("anon$")
    }
}

#[derive(Clone, Debug)]
pub enum TaskKind {
    Fn(Callable),
    Set(Arc<TaskSet>),
}

#[derive(Clone, Debug)]
pub struct Task {
    pub kind: TaskKind,
    pub weight: u32,
    pub tags: Vec<String>,
}

impl Task {
    pub fn label(&self) -> &str {
        match &self.kind {
            TaskKind::Fn(c) => &c.label,
            TaskKind::Set(s) => &s.name,
        }
    }
}

/// A set of tasks picked by weight (or run in order when `sequential`). A user class's own tasks
/// are its root set.
#[derive(Clone, Debug, Default)]
pub struct TaskSet {
    pub name: String,
    pub sequential: bool,
    pub tasks: Vec<Task>,
    /// None: inherit the parent's wait time.
    pub wait: Option<WaitTime>,
    pub on_start: Option<Callable>,
    pub on_stop: Option<Callable>,
    pub tags: Vec<String>,
    /// Cumulative weights, for picking in O(log n).
    cumulative: Vec<u64>,
}

impl TaskSet {
    pub fn new(name: String, sequential: bool, tasks: Vec<Task>) -> Self {
        let mut set = TaskSet {
            name,
            sequential,
            tasks,
            ..Default::default()
        };
        set.reindex();
        set
    }

    fn reindex(&mut self) {
        let mut acc = 0u64;
        self.cumulative = self
            .tasks
            .iter()
            .map(|t| {
                acc += u64::from(t.weight);
                acc
            })
            .collect();
    }

    pub fn total_weight(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// A task picked at random by weight (Locust's `random.choice` over the weight-expanded list).
    pub fn pick(&self, rng: &mut impl Rng) -> Option<&Task> {
        let total = self.total_weight();
        if total == 0 {
            return None;
        }
        let x = rng.random_range(0..total);
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.tasks.get(i)
    }

    /// The task at step `n` of a sequential set: declaration order, each repeated `weight` times in
    /// a row (as Locust's SequentialTaskSet does), cyclically.
    pub fn sequential_at(&self, n: u64) -> Option<&Task> {
        let total = self.total_weight();
        if total == 0 {
            return None;
        }
        let x = n % total;
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.tasks.get(i)
    }

    /// Locust's `--equal-weights`: every task, and every task of a nested set, gets weight 1.
    pub fn with_equal_weights(&self) -> TaskSet {
        let tasks = self
            .tasks
            .iter()
            .map(|t| Task {
                kind: match &t.kind {
                    TaskKind::Set(s) => TaskKind::Set(Arc::new(s.with_equal_weights())),
                    TaskKind::Fn(f) => TaskKind::Fn(f.clone()),
                },
                weight: 1,
                tags: t.tags.clone(),
            })
            .collect();
        let mut out = TaskSet {
            tasks,
            ..self.clone()
        };
        out.reindex();
        out
    }

    /// Locust's tag filter: keep tasks with at least one included tag (when any are given) and none
    /// excluded; a set's tags apply to everything in it. Returns None when nothing is left.
    pub fn filtered(
        &self,
        include: &[String],
        exclude: &[String],
        inherited: &[String],
    ) -> Option<TaskSet> {
        let mut tags: Vec<String> = inherited.to_vec();
        tags.extend(self.tags.iter().cloned());
        let mut kept = Vec::new();
        for t in &self.tasks {
            let mut all = tags.clone();
            all.extend(t.tags.iter().cloned());
            match &t.kind {
                TaskKind::Fn(_) => {
                    let inc = include.is_empty() || all.iter().any(|g| include.contains(g));
                    let exc = all.iter().any(|g| exclude.contains(g));
                    if inc && !exc {
                        kept.push(t.clone());
                    }
                }
                TaskKind::Set(s) => {
                    if all.iter().any(|g| exclude.contains(g)) {
                        continue;
                    }
                    match s.filtered(include, exclude, &all) {
                        Some(f) => kept.push(Task {
                            kind: TaskKind::Set(Arc::new(f)),
                            ..t.clone()
                        }),
                        None => log::warn!(
                            "task set '{}' has no tasks left after tag filtering",
                            s.name
                        ),
                    }
                }
            }
        }
        if kept.is_empty() {
            return None;
        }
        let mut out = self.clone();
        out.tasks = kept;
        out.reindex();
        Some(out)
    }
}

/// A user class: Locust's `User` subclass.
#[derive(Clone, Debug)]
pub struct UserClass {
    pub name: String,
    pub weight: f64,
    pub fixed_count: u64,
    pub host: Option<String>,
    /// Request settings of the class (`http: #{ engine, http2, accept_encoding, proxy, auth }`).
    pub http: Option<Arc<crate::http::RequestDefaults>>,
    pub wait: WaitTime,
    pub on_start: Option<Callable>,
    pub on_stop: Option<Callable>,
    /// The class's tasks (its root task set, named after the class).
    pub tasks: Arc<TaskSet>,
    /// Where the script declared it, for error messages.
    pub declared_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn named(n: &str, w: u32, tags: &[&str]) -> Task {
        let c = Callable {
            fn_name: n.into(),
            curry: vec![],
            label: n.into(),
            unit: 0,
        };
        Task {
            kind: TaskKind::Fn(c),
            weight: w,
            tags: tags.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn picks_follow_weights() {
        let set = TaskSet::new(
            "root".into(),
            false,
            vec![named("a", 3, &[]), named("b", 1, &[])],
        );
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let n = 40_000;
        let a = (0..n)
            .filter(|_| set.pick(&mut rng).unwrap().label() == "a")
            .count();
        let share = a as f64 / n as f64;
        // 3 sigma of a binomial(40000, .75) is about 0.0065.
        assert!((share - 0.75).abs() < 0.01, "share {share}");
    }

    #[test]
    fn sequential_repeats_by_weight_in_order() {
        let set = TaskSet::new(
            "s".into(),
            true,
            vec![named("a", 2, &[]), named("b", 1, &[])],
        );
        let order: Vec<_> = (0..6)
            .map(|i| set.sequential_at(i).unwrap().label().to_string())
            .collect();
        assert_eq!(order, ["a", "a", "b", "a", "a", "b"]);
    }

    #[test]
    fn tag_filter_is_recursive_and_inherits() {
        let mut inner = TaskSet::new(
            "inner".into(),
            false,
            vec![named("x", 1, &[]), named("y", 1, &["slow"])],
        );
        inner.tags = vec!["browse".into()];
        let root = TaskSet::new(
            "root".into(),
            false,
            vec![
                named("a", 1, &["write"]),
                Task {
                    kind: TaskKind::Set(Arc::new(inner)),
                    weight: 1,
                    tags: vec![],
                },
            ],
        );
        let only_browse = root.filtered(&["browse".into()], &[], &[]).unwrap();
        assert_eq!(only_browse.tasks.len(), 1);
        let no_slow = root.filtered(&[], &["slow".into()], &[]).unwrap();
        match &no_slow.tasks[1].kind {
            TaskKind::Set(s) => assert_eq!(s.tasks.len(), 1),
            _ => panic!("expected the set"),
        }
        assert!(root.filtered(&["nothing".into()], &[], &[]).is_none());
    }

    #[test]
    fn pacing_subtracts_the_task_time() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        assert_eq!(WaitTime::Pacing(1.0).seconds(&mut rng, 0.25), 0.75);
        assert_eq!(WaitTime::Pacing(1.0).seconds(&mut rng, 3.0), 0.0);
        let b = WaitTime::Between(1.0, 2.0).seconds(&mut rng, 0.0);
        assert!((1.0..=2.0).contains(&b));
    }
}
