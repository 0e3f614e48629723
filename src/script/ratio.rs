//! Task ratios: the share of users each class gets and how often each task runs, per class and in
//! total. One tree serves Locust's `--show-task-ratio` (text), `--show-task-ratio-json` and the web
//! UI's `/tasks`; only the class shares differ (the CLI takes Locust's user distribution for `-u`,
//! the UI the classes' weights).

use std::fmt::Write as _;

use super::{Scenario, Task, TaskKind, TaskSet};
use crate::pyfmt::{py_float_repr, py_json_str};

/// A class or task with its share; a class and a task set also have their tasks' (in declaration
/// order; a task listed twice adds up under its name, as Locust's dict does).
#[derive(Clone, Debug, PartialEq)]
pub struct Ratio {
    pub ratio: f64,
    pub tasks: Option<Vec<(String, Ratio)>>,
}

/// Locust's `{"per_class": ..., "total": ...}`: each class's tasks relative to the class, and
/// relative to all users.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRatios {
    pub per_class: Vec<(String, Ratio)>,
    pub total: Vec<(String, Ratio)>,
}

impl Scenario {
    /// Ratios with each class's share of `users` as Locust distributes them (`--show-task-ratio`
    /// with `-u`; None or 0: as Locust without `-u`, one user per unit of weight).
    pub fn task_ratios(&self, users: Option<u64>) -> TaskRatios {
        self.ratios_with(&distribution(self, users))
    }

    /// Ratios with each class's share of the classes' total weight (the web UI's `/tasks`).
    pub fn task_ratios_by_weight(&self) -> TaskRatios {
        let total = self
            .classes
            .iter()
            .map(|c| c.weight)
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
        let shares: Vec<f64> = self.classes.iter().map(|c| c.weight / total).collect();
        self.ratios_with(&shares)
    }

    /// Locust's `--show-task-ratio` output, exactly as it prints it.
    pub fn task_ratio_text(&self, users: Option<u64>) -> String {
        let r = self.task_ratios(users);
        let rule = "-".repeat(80);
        let mut out = format!("\n Task ratio per User class\n{rule}\n");
        write_text(&mut out, &r.per_class, 0);
        let _ = write!(out, "\n Total task ratio\n{rule}\n");
        write_text(&mut out, &r.total, 0);
        out
    }

    /// Locust's `--show-task-ratio-json` output (`json.dumps(..., indent=4)` and a newline).
    pub fn task_ratio_json(&self, users: Option<u64>) -> String {
        let r = self.task_ratios(users);
        let mut out = String::from("{\n    \"per_class\": ");
        write_json(&mut out, &r.per_class, 1);
        out.push_str(",\n    \"total\": ");
        write_json(&mut out, &r.total, 1);
        out.push_str("\n}\n");
        out
    }

    fn ratios_with(&self, shares: &[f64]) -> TaskRatios {
        let class = |total: bool| -> Vec<(String, Ratio)> {
            self.classes
                .iter()
                .zip(shares)
                .map(|(c, &share)| {
                    let scale = if total { share } else { 1.0 };
                    let node = Ratio {
                        ratio: share,
                        tasks: Some(tree(&c.tasks, scale, total)),
                    };
                    (c.name.clone(), node)
                })
                .collect()
        };
        TaskRatios {
            per_class: class(false),
            total: class(true),
        }
    }
}

impl TaskRatios {
    /// As a JSON value (objects keyed by name; for the web API, where key order does not matter).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "per_class": nodes_json(&self.per_class),
            "total": nodes_json(&self.total),
        })
    }
}

fn nodes_json(nodes: &[(String, Ratio)]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (name, node) in nodes {
        let mut v = serde_json::json!({ "ratio": node.ratio });
        if let Some(tasks) = &node.tasks {
            v["tasks"] = nodes_json(tasks);
        }
        m.insert(name.clone(), v);
    }
    serde_json::Value::Object(m)
}

/// The tasks of `set`, each with its share of the set scaled by `scale`. A nested set's tasks are
/// scaled by the set's share in `total` mode, else relative to the set (as Locust does). Computed
/// as Locust computes it (`weight * scale / total weight`, a task listed twice adding its weights
/// first) so that the printed digits agree.
fn tree(set: &TaskSet, scale: f64, total: bool) -> Vec<(String, Ratio)> {
    let mut summed: Vec<(&Task, u64)> = Vec::new();
    for t in &set.tasks {
        match summed
            .iter_mut()
            .find(|(first, _)| first.label() == t.label())
        {
            Some((_, w)) => *w += u64::from(t.weight),
            None => summed.push((t, u64::from(t.weight))),
        }
    }
    let weights = set.total_weight().max(1) as f64;
    summed
        .into_iter()
        .map(|(t, w)| {
            let ratio = w as f64 * scale / weights;
            let tasks = match &t.kind {
                TaskKind::Set(s) => Some(tree(s, if total { ratio } else { 1.0 }, total)),
                TaskKind::Fn(_) => None,
            };
            (t.label().to_string(), Ratio { ratio, tasks })
        })
        .collect()
}

/// Locust's `_calc_distribution` turned into shares: `fixed_count` classes get their count, the
/// others the rest by weight, each rounded half to even (Python's `round`), then divided by the
/// sum of the counts.
fn distribution(sc: &Scenario, users: Option<u64>) -> Vec<f64> {
    let fixed: u64 = sc.classes.iter().map(|c| c.fixed_count).sum();
    let weights = sc.weight_of_weighted_classes();
    let users = match users.filter(|&u| u > 0) {
        Some(u) => u as f64,
        None if fixed == 0 => weights,
        None => 1.0,
    };
    let weighted = (users - fixed as f64).max(0.0);
    let counts: Vec<f64> = sc
        .classes
        .iter()
        .map(|c| match c.fixed_count {
            0 => (c.weight / weights * weighted).round_ties_even(),
            n => n as f64,
        })
        .collect();
    let sum = counts.iter().sum::<f64>();
    let sum = if sum > 0.0 { sum } else { 1.0 };
    counts.iter().map(|n| n / sum).collect()
}

/// `" %-10s %-50s" % (pad + "%-6.1f" % (ratio * 100), pad + name)`, two spaces of pad per level.
fn write_text(out: &mut String, nodes: &[(String, Ratio)], level: usize) {
    let pad = "  ".repeat(level);
    for (name, node) in nodes {
        let pct = format!("{pad}{:<6.1}", node.ratio * 100.0);
        let _ = writeln!(out, " {pct:<10} {:<50}", format!("{pad}{name}"));
        if let Some(tasks) = &node.tasks {
            write_text(out, tasks, level + 1);
        }
    }
}

/// A `{name: {"ratio": r, "tasks": {...}}}` object as Python's `json.dumps(indent=4)` writes it,
/// its opening brace at the current position and `level` levels deep.
fn write_json(out: &mut String, nodes: &[(String, Ratio)], level: usize) {
    if nodes.is_empty() {
        out.push_str("{}");
        return;
    }
    let (inner, pad) = ("    ".repeat(level + 1), "    ".repeat(level + 2));
    out.push_str("{\n");
    for (i, (name, node)) in nodes.iter().enumerate() {
        let _ = write!(
            out,
            "{inner}{}: {{\n{pad}\"ratio\": {}",
            py_json_str(name),
            py_float_repr(node.ratio)
        );
        if let Some(tasks) = &node.tasks {
            let _ = write!(out, ",\n{pad}\"tasks\": ");
            write_json(out, tasks, level + 2);
        }
        let comma = if i + 1 < nodes.len() { "," } else { "" };
        let _ = write!(out, "\n{inner}}}{comma}\n");
    }
    out.push_str(&"    ".repeat(level));
    out.push('}');
}
