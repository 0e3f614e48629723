//! `GET /tasks`: Locust's current ratio. Each class's share is of the users running now (Locust's
//! `get_ratio` over the runner's `user_classes_count`: 0.0 for every class when none run, before
//! the first test and after a stop); its tasks keep their share of the class under `per_class`
//! and are scaled by the class's share under `total`. The task trees themselves come from the
//! scenario's static ratios ([`crate::web::ScenarioInfo::tasks`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::web::WebState;

pub(super) async fn tasks(State(state): State<Arc<WebState>>) -> Json<Value> {
    let counts = state.run_status().user_classes_count;
    let tree = state.scenario.read().tasks.clone();
    Json(running_ratios(tree, &counts))
}

/// The static tree (class shares by weight) turned into the shares of the users in `counts`.
fn running_ratios(tree: Value, counts: &BTreeMap<String, u64>) -> Value {
    // Locust divides by at least 1, so with no users running every class is at 0.0.
    let users = counts.values().sum::<u64>().max(1) as f64;
    let share = |name: &str| counts.get(name).copied().unwrap_or(0) as f64 / users;
    let Value::Object(mut tree) = tree else {
        return json!({"per_class": {}, "total": {}});
    };
    let mut part = |key: &str| match tree.remove(key) {
        Some(Value::Object(classes)) => classes,
        _ => Map::new(),
    };
    let (mut per_class, mut total) = (part("per_class"), part("total"));
    for (name, node) in per_class.iter_mut() {
        set_ratio(node, share(name));
    }
    for (name, node) in total.iter_mut() {
        let now = share(name);
        // The static tree scales a class's tasks by its share of the weights; rescaling by
        // now / then keeps this independent of how that tree nests task sets.
        let then = node.get("ratio").and_then(Value::as_f64).unwrap_or(0.0);
        let factor = if then > 0.0 { now / then } else { 0.0 };
        if let Some(tasks) = node.get_mut("tasks") {
            scale(tasks, factor);
        }
        set_ratio(node, now);
    }
    json!({"per_class": per_class, "total": total})
}

fn set_ratio(node: &mut Value, ratio: f64) {
    if let Some(node) = node.as_object_mut() {
        node.insert("ratio".to_owned(), json!(ratio));
    }
}

/// Multiplies every ratio in a task tree by `factor`.
fn scale(tasks: &mut Value, factor: f64) {
    let Some(tasks) = tasks.as_object_mut() else {
        return;
    };
    for node in tasks.values_mut() {
        if let Some(r) = node.get("ratio").and_then(Value::as_f64) {
            set_ratio(node, r * factor);
        }
        if let Some(inner) = node.get_mut("tasks") {
            scale(inner, factor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A (weight 3: `home`, and a set `Browse` of `page` 3 : `done` 1) and B (weight 1: `other`),
    /// as the static tree has them.
    fn static_tree() -> Value {
        json!({
            "per_class": {
                "A": {"ratio": 0.75, "tasks": {"home": {"ratio": 0.5},
                      "Browse": {"ratio": 0.5, "tasks": {"page": {"ratio": 0.75}, "done": {"ratio": 0.25}}}}},
                "B": {"ratio": 0.25, "tasks": {"other": {"ratio": 1.0}}},
            },
            "total": {
                "A": {"ratio": 0.75, "tasks": {"home": {"ratio": 0.375},
                      "Browse": {"ratio": 0.375, "tasks": {"page": {"ratio": 0.28125}, "done": {"ratio": 0.09375}}}}},
                "B": {"ratio": 0.25, "tasks": {"other": {"ratio": 0.25}}},
            },
        })
    }

    fn counts(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
        list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    /// The ratio at `part/class/task/...` (the `tasks` levels implied).
    fn at(v: &Value, path: &str) -> Option<f64> {
        let mut parts = path.split('/');
        let mut node = v.get(parts.next()?)?.get(parts.next()?)?;
        for name in parts {
            node = node.get("tasks")?.get(name)?;
        }
        node.get("ratio")?.as_f64()
    }

    fn check(v: &Value, want: &[(&str, f64)]) {
        for (path, ratio) in want {
            assert_eq!(at(v, path), Some(*ratio), "{path}: {v}");
        }
    }

    #[test]
    fn no_users_running_is_zero_for_every_class() {
        for c in [counts(&[]), counts(&[("A", 0), ("B", 0)])] {
            // Per class, the tasks keep their share of the class; in total they are at 0.
            let want = [
                ("per_class/A", 0.0),
                ("per_class/B", 0.0),
                ("per_class/A/home", 0.5),
                ("total/A", 0.0),
                ("total/A/Browse/page", 0.0),
                ("total/B/other", 0.0),
            ];
            check(&running_ratios(static_tree(), &c), &want);
        }
    }

    #[test]
    fn shares_follow_the_running_users() {
        // The weights' mix: the static tree as it is.
        let v = running_ratios(static_tree(), &counts(&[("A", 3), ("B", 1)]));
        assert_eq!(v, static_tree());
        let only_b = running_ratios(static_tree(), &counts(&[("A", 0), ("B", 2)]));
        check(
            &only_b,
            &[
                ("per_class/B", 1.0),
                ("total/B/other", 1.0),
                ("total/A/home", 0.0),
            ],
        );
        let half = running_ratios(static_tree(), &counts(&[("A", 1), ("B", 1)]));
        check(
            &half,
            &[
                ("total/A/Browse", 0.25),
                ("total/A/Browse/done", 0.0625),
                ("total/B/other", 0.5),
            ],
        );
    }

    #[test]
    fn odd_trees_do_not_panic() {
        let c = counts(&[("A", 1)]);
        assert_eq!(
            running_ratios(json!(null), &c),
            json!({"per_class": {}, "total": {}})
        );
        let v = running_ratios(
            json!({"per_class": {"A": 3}, "total": {"A": {"tasks": [1]}}}),
            &c,
        );
        assert_eq!(v["per_class"]["A"], 3);
        assert_eq!(v["total"]["A"]["ratio"], 1.0);
    }
}
