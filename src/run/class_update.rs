//! A change to one user class's settings before a test (Locust's `POST /user` with the class
//! picker): its host, weight, fixed count, wait time and which of its tasks run. The test run
//! applies it to the scenario the next test starts with; reloading the scenario from disk brings
//! back the file's settings.

use std::sync::Arc;

use crate::script::{Scenario, Task, TaskSet, UserClass, WaitTime};

/// What to change in class `class`; `None` fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassUpdate {
    pub class: String,
    /// `Some(None)`: no host of its own (`-H` or the start form's host applies).
    pub host: Option<Option<String>>,
    pub weight: Option<f64>,
    pub fixed_count: Option<u64>,
    pub wait: Option<WaitTime>,
    /// The tasks to run, by name, picked from the class's tasks as the scenario declared them (so
    /// a task left out before can come back, as in Locust); their weights stay.
    pub tasks: Option<Vec<String>>,
}

/// Why a class change was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ClassUpdateError {
    #[error(
        "a test is running: user classes can be changed only before a test starts (stop it first)"
    )]
    Running,
    #[error("unknown user class '{name}' (the scenario's classes: {known})")]
    UnknownClass { name: String, known: String },
    #[error("user class '{class}' has no task {unknown} (its tasks: {available})")]
    UnknownTasks {
        class: String,
        unknown: String,
        available: String,
    },
    #[error("user class '{0}' needs at least one task")]
    NoTasks(String),
}

impl ClassUpdate {
    /// `current` with this change applied to its class; `loaded` is the scenario as read from its
    /// file, where the class's full task list is.
    pub fn apply(
        &self,
        current: &Scenario,
        loaded: &Scenario,
    ) -> Result<Scenario, ClassUpdateError> {
        let find = |sc: &Scenario| sc.classes.iter().position(|c| c.name == self.class);
        let (Some(at), Some(declared)) = (find(current), find(loaded)) else {
            return Err(ClassUpdateError::UnknownClass {
                name: self.class.clone(),
                known: names(current.classes.iter().map(|c| c.name.as_str())),
            });
        };
        let mut class = UserClass::clone(&current.classes[at]);
        if let Some(host) = &self.host {
            class.host = host.clone();
        }
        if let Some(weight) = self.weight {
            class.weight = weight;
        }
        if let Some(n) = self.fixed_count {
            class.fixed_count = n;
        }
        if let Some(wait) = &self.wait {
            class.wait = wait.clone();
        }
        if let Some(wanted) = &self.tasks {
            class.tasks = Arc::new(pick_tasks(&loaded.classes[declared], wanted)?);
        }
        let mut sc = current.clone();
        sc.classes[at] = Arc::new(class);
        Ok(sc)
    }
}

/// The class's declared root set with only the tasks named in `wanted` (declaration order).
fn pick_tasks(declared: &UserClass, wanted: &[String]) -> Result<TaskSet, ClassUpdateError> {
    let root = &declared.tasks;
    let unknown: Vec<&str> = wanted
        .iter()
        .filter(|w| !root.tasks.iter().any(|t| t.label() == w.as_str()))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(ClassUpdateError::UnknownTasks {
            class: declared.name.clone(),
            unknown: names(unknown),
            available: names(root.tasks.iter().map(Task::label)),
        });
    }
    let kept: Vec<Task> = root
        .tasks
        .iter()
        .filter(|t| wanted.iter().any(|w| w == t.label()))
        .cloned()
        .collect();
    if kept.is_empty() {
        return Err(ClassUpdateError::NoTasks(declared.name.clone()));
    }
    // A new set rebuilds the pick index; everything else of the root set stays.
    let mut set = TaskSet::new(root.name.clone(), root.sequential, kept);
    set.wait = root.wait.clone();
    set.on_start = root.on_start.clone();
    set.on_stop = root.on_stop.clone();
    set.tags = root.tags.clone();
    Ok(set)
}

/// `'a', 'b'`: names quoted for a message.
fn names<'a>(list: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = list.into_iter().map(|n| format!("'{n}'")).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::LoadOptions;

    const SRC: &str = r#"
user("A", #{ weight: 3, host: "http://a.example", tasks: [task("one", 2), "two", "three"] });
user("B", #{ tasks: ["three"] });
fn one() {} fn two() {} fn three() {}
"#;

    fn scenario() -> Scenario {
        Scenario::from_source(
            "t.rhai",
            SRC,
            std::path::Path::new("."),
            &LoadOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn class<'a>(sc: &'a Scenario, name: &str) -> &'a UserClass {
        sc.classes
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no class {name}"))
    }

    fn labels(c: &UserClass) -> Vec<(String, u32)> {
        c.tasks
            .tasks
            .iter()
            .map(|t| (t.label().to_owned(), t.weight))
            .collect()
    }

    fn update(class: &str) -> ClassUpdate {
        ClassUpdate {
            class: class.to_owned(),
            ..ClassUpdate::default()
        }
    }

    #[test]
    fn changes_only_what_is_given() {
        let loaded = scenario();
        let change = ClassUpdate {
            host: Some(None),
            weight: Some(0.5),
            fixed_count: Some(2),
            wait: Some(WaitTime::Between(1.0, 2.0)),
            ..update("A")
        };
        let sc = change
            .apply(&loaded, &loaded)
            .unwrap_or_else(|e| panic!("{e}"));
        let a = class(&sc, "A");
        assert_eq!((a.host.clone(), a.weight, a.fixed_count), (None, 0.5, 2));
        assert_eq!(a.wait, WaitTime::Between(1.0, 2.0));
        assert_eq!(labels(a), labels(class(&loaded, "A")));
        // The other class and the loaded scenario are untouched.
        assert_eq!(class(&sc, "B").weight, 1.0);
        assert_eq!(class(&loaded, "A").weight, 3.0);
    }

    #[test]
    fn tasks_are_picked_from_the_declared_ones_and_can_come_back() {
        let loaded = scenario();
        let only = |names: &[&str]| ClassUpdate {
            tasks: Some(names.iter().map(|s| s.to_string()).collect()),
            ..update("A")
        };
        let sc = only(&["three", "one"])
            .apply(&loaded, &loaded)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            labels(class(&sc, "A")),
            [("one".to_owned(), 2), ("three".to_owned(), 1)]
        );
        assert_eq!(class(&sc, "A").tasks.total_weight(), 3);
        // Picked from the declared list again, not from what is left.
        let sc = only(&["two"])
            .apply(&sc, &loaded)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(labels(class(&sc, "A")), [("two".to_owned(), 1)]);
        // A later change without tasks keeps the picked ones.
        let weight = ClassUpdate {
            weight: Some(2.0),
            ..update("A")
        };
        let sc = weight.apply(&sc, &loaded).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(labels(class(&sc, "A")), [("two".to_owned(), 1)]);
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let loaded = scenario();
        let err = |u: ClassUpdate| u.apply(&loaded, &loaded).err().map(|e| e.to_string());
        assert_eq!(
            err(update("Nope")).as_deref(),
            Some("unknown user class 'Nope' (the scenario's classes: 'A', 'B')")
        );
        let tasks = |names: &[&str]| ClassUpdate {
            tasks: Some(names.iter().map(|s| s.to_string()).collect()),
            ..update("A")
        };
        assert_eq!(
            err(tasks(&["one", "nope", "four"])).as_deref(),
            Some("user class 'A' has no task 'nope', 'four' (its tasks: 'one', 'two', 'three')")
        );
        assert_eq!(
            err(tasks(&[])).as_deref(),
            Some("user class 'A' needs at least one task")
        );
    }
}
