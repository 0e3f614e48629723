//! The master's dispatcher: how many users of each class every worker runs, decided the way
//! Locust 2.47's `UsersDispatcher` (dispatch.py) decides it, so a mixed fleet sees the same
//! spread whichever master drives it:
//! - workers are ordered by id, then by (their rank among the workers of the same host, id), and
//!   users are handed out round-robin in that order, so hosts fill evenly;
//! - the class of each new user comes from Locust's generator: users of `fixed_count` classes that
//!   are still missing first, then the weighted classes in the Kullback–Leibler order
//!   ([`crate::runner::dispatch`] holds the generator, shared with the local runner);
//! - ramp-down removes the most recently added (worker, class) pairs first;
//! - when workers join or leave, the current user count is dealt again from zero over the new set
//!   of workers (Locust's rebalance), and the ramp carries on from there.
//!
//! The dispatcher only decides; the master times the iterations and sends the `spawn` messages.

use std::collections::{BTreeMap, VecDeque};

use crate::runner::dispatch::Kl;

/// What the dispatcher needs of a user class.
#[derive(Clone, Debug, PartialEq)]
pub struct DispatchClass {
    pub name: String,
    pub weight: f64,
    pub fixed_count: u64,
}

/// Which class the next user gets: missing fixed-count users first, then the weighted order.
struct UserGen {
    /// Set at the start and after every removal, as Locust's `_try_dispatch_fixed`: the next
    /// draw first tops the fixed-count classes up.
    try_fixed: bool,
    fixed: VecDeque<usize>,
    weighted: Kl,
}

impl UserGen {
    fn new(classes: &[DispatchClass]) -> UserGen {
        UserGen {
            try_fixed: true,
            fixed: VecDeque::new(),
            weighted: Kl::new(
                classes
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.fixed_count == 0)
                    .map(|(i, c)| (i, c.name.clone(), c.weight)),
            ),
        }
    }

    /// The next class; `running(i)` is how many users of class `i` are dispatched now. None when
    /// only fixed-count classes exist and all their users are placed.
    fn next(&mut self, classes: &[DispatchClass], running: impl Fn(usize) -> u64) -> Option<usize> {
        if self.fixed.is_empty() && self.try_fixed {
            self.try_fixed = false;
            let missing: Vec<(usize, String, f64)> = classes
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let have = running(i);
                    (c.fixed_count > have)
                        .then(|| (i, c.name.clone(), (c.fixed_count - have) as f64))
                })
                .collect();
            let total: f64 = missing.iter().map(|m| m.2).sum();
            let mut kl = Kl::new(missing);
            self.fixed = (0..total as u64).filter_map(|_| kl.next()).collect();
        }
        match self.fixed.pop_front() {
            Some(class) => Some(class),
            None => self.weighted.next(),
        }
    }
}

/// One test's dispatch state.
pub struct Dispatcher {
    /// Sorted by name, as Locust sorts them; every `spawn` lists all of them.
    classes: Vec<DispatchClass>,
    /// Locust's worker order (see the module doc).
    workers: Vec<String>,
    /// Users per worker, per class (indexes into `classes`).
    users: BTreeMap<String, Vec<u64>>,
    /// (worker, class) in the order added: ramp-down pops from the end.
    active: Vec<(String, usize)>,
    gen: UserGen,
    /// The next worker of the round-robin.
    cursor: usize,
    current: usize,
    target: usize,
    /// The last draw found no class to spawn (only fixed-count classes, all placed).
    exhausted: bool,
}

impl Dispatcher {
    /// A dispatcher over `workers` (any order) for `classes` (classes with weight 0 and no fixed
    /// count, e.g. not picked in the UI, never get users).
    pub fn new(workers: &[String], classes: Vec<DispatchClass>) -> Dispatcher {
        let mut classes = classes;
        classes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut d = Dispatcher {
            gen: UserGen::new(&classes),
            classes,
            workers: Vec::new(),
            users: BTreeMap::new(),
            active: Vec::new(),
            cursor: 0,
            current: 0,
            target: 0,
            exhausted: false,
        };
        d.set_workers(workers);
        d
    }

    /// Aim for `target` users; the next [`Dispatcher::step`]s move towards it.
    pub fn set_target(&mut self, target: usize) {
        self.target = target;
        self.exhausted = false;
    }

    pub fn target(&self) -> usize {
        self.target
    }

    /// Users dispatched now.
    pub fn current(&self) -> usize {
        self.current
    }

    /// True once the target is reached, or no class can take more users.
    pub fn is_done(&self) -> bool {
        self.current == self.target || (self.exhausted && self.current < self.target)
    }

    /// One dispatch iteration: add or remove up to `per_iteration` users towards the target.
    pub fn step(&mut self, per_iteration: usize) {
        let per_iteration = per_iteration.max(1);
        if self.workers.is_empty() {
            return;
        }
        if self.current < self.target && !self.exhausted {
            let goal = self.current.saturating_add(per_iteration).min(self.target);
            while self.current < goal {
                if !self.add_one() {
                    self.exhausted = true;
                    break;
                }
            }
        } else if self.current > self.target {
            let goal = self.current.saturating_sub(per_iteration).max(self.target);
            while self.current > goal {
                let Some((worker, class)) = self.active.pop() else {
                    break;
                };
                if let Some(n) = self.users.get_mut(&worker).and_then(|c| c.get_mut(class)) {
                    *n = n.saturating_sub(1);
                }
                self.current -= 1;
                self.gen.try_fixed = true;
            }
        }
    }

    fn add_one(&mut self) -> bool {
        let users = &self.users;
        let running = |class: usize| -> u64 {
            users
                .values()
                .map(|c| c.get(class).copied().unwrap_or(0))
                .sum()
        };
        let Some(class) = self.gen.next(&self.classes, running) else {
            return false;
        };
        let worker = self.workers[self.cursor % self.workers.len()].clone();
        self.cursor = (self.cursor + 1) % self.workers.len();
        if let Some(n) = self.users.get_mut(&worker).and_then(|c| c.get_mut(class)) {
            *n += 1;
        }
        self.active.push((worker, class));
        self.current += 1;
        true
    }

    /// The workers the users are spread over, in Locust's order.
    pub fn workers(&self) -> &[String] {
        &self.workers
    }

    pub fn has_worker(&self, id: &str) -> bool {
        self.users.contains_key(id)
    }

    /// Adds a worker and deals the current users again over all of them.
    pub fn add_worker(&mut self, id: &str) {
        if !self.has_worker(id) {
            let mut ids = self.workers.clone();
            ids.push(id.to_owned());
            self.set_workers(&ids);
        }
    }

    /// Removes a worker and deals the current users again over the others. With no worker left
    /// the count is kept and dealt when one joins.
    pub fn remove_worker(&mut self, id: &str) {
        if self.has_worker(id) {
            let ids: Vec<String> = self.workers.iter().filter(|w| *w != id).cloned().collect();
            self.set_workers(&ids);
        }
    }

    /// Replaces the set of workers and deals the current users over them from zero, with fresh
    /// generators, as Locust's `_prepare_rebalance` does.
    pub fn set_workers(&mut self, ids: &[String]) {
        self.workers = locust_worker_order(ids);
        self.users = self
            .workers
            .iter()
            .map(|w| (w.clone(), vec![0; self.classes.len()]))
            .collect();
        self.active.clear();
        self.cursor = 0;
        self.gen = UserGen::new(&self.classes);
        if self.workers.is_empty() {
            return;
        }
        let count = std::mem::take(&mut self.current);
        while self.current < count {
            if !self.add_one() {
                break;
            }
        }
    }

    /// The absolute per-class counts of one worker (every class, zeros included), as `spawn`
    /// carries them; None for a worker the dispatcher does not use.
    pub fn counts(&self, worker: &str) -> Option<BTreeMap<String, u64>> {
        let per_class = self.users.get(worker)?;
        Some(
            self.classes
                .iter()
                .zip(per_class)
                .map(|(c, n)| (c.name.clone(), *n))
                .collect(),
        )
    }

    /// Users per class over all workers.
    pub fn class_totals(&self) -> BTreeMap<String, u64> {
        let mut totals: BTreeMap<String, u64> =
            self.classes.iter().map(|c| (c.name.clone(), 0)).collect();
        for per_class in self.users.values() {
            for (c, n) in self.classes.iter().zip(per_class) {
                *totals.entry(c.name.clone()).or_default() += n;
            }
        }
        totals
    }
}

/// Sorted by id, then by (rank among the workers of its host, id); the host is the id up to the
/// first `_`, as in Locust's node ids.
fn locust_worker_order(ids: &[String]) -> Vec<String> {
    let mut by_id: Vec<&String> = ids.iter().collect();
    by_id.sort();
    by_id.dedup();
    let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ranked: Vec<(usize, &String)> = by_id
        .into_iter()
        .map(|id| {
            let host = id.split('_').next().unwrap_or_default();
            let rank = per_host.entry(host).or_default();
            *rank += 1;
            (*rank - 1, id)
        })
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, id)| id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, weight: f64, fixed_count: u64) -> DispatchClass {
        DispatchClass {
            name: name.into(),
            weight,
            fixed_count,
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn spread(d: &Dispatcher) -> BTreeMap<String, BTreeMap<String, u64>> {
        d.workers()
            .iter()
            .map(|w| {
                let nonzero = d
                    .counts(w)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .collect();
                (w.clone(), nonzero)
            })
            .collect()
    }

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn matches_locusts_captured_spread() {
        // locust.md 1.7 [captured]: A(w3) B(w1) C(fixed 1), 10 users over three workers on two hosts.
        let mut d = Dispatcher::new(
            &ids(&["hosty_1", "hostx_2", "hostx_1"]),
            vec![class("A", 3.0, 0), class("B", 1.0, 0), class("C", 1.0, 1)],
        );
        d.set_target(10);
        d.step(100);
        assert!(d.is_done());
        let got = spread(&d);
        assert_eq!(got["hostx_1"], counts(&[("A", 2), ("B", 1), ("C", 1)]));
        assert_eq!(got["hostx_2"], counts(&[("A", 2), ("B", 1)]));
        assert_eq!(got["hosty_1"], counts(&[("A", 3)]));
    }

    #[test]
    fn ramps_by_iterations_and_down_lifo() {
        let mut d = Dispatcher::new(&ids(&["h_a", "h_b"]), vec![class("U", 1.0, 0)]);
        d.set_target(5);
        d.step(2);
        assert_eq!((d.current(), d.is_done()), (2, false));
        d.step(2);
        d.step(2);
        assert_eq!((d.current(), d.is_done()), (5, true));
        assert_eq!(d.counts("h_a"), Some(counts(&[("U", 3)])));
        d.set_target(2);
        d.step(10);
        // Added a, b, a, b, a; the last three go first: each keeps its first user.
        assert_eq!(d.counts("h_a"), Some(counts(&[("U", 1)])));
        assert_eq!(d.counts("h_b"), Some(counts(&[("U", 1)])));
    }

    #[test]
    fn a_lost_worker_s_users_move_and_a_returning_one_gets_its_share() {
        let mut d = Dispatcher::new(&ids(&["h_a", "h_b"]), vec![class("U", 1.0, 0)]);
        d.set_target(6);
        d.step(6);
        d.remove_worker("h_a");
        assert_eq!(d.counts("h_b"), Some(counts(&[("U", 6)])));
        assert_eq!(d.counts("h_a"), None);
        d.add_worker("h_a");
        assert_eq!(d.counts("h_a"), Some(counts(&[("U", 3)])));
        assert_eq!(d.counts("h_b"), Some(counts(&[("U", 3)])));
        // No worker left: the count waits for the next one.
        d.remove_worker("h_a");
        d.remove_worker("h_b");
        assert_eq!(d.current(), 6);
        d.add_worker("h_c");
        assert_eq!(d.counts("h_c"), Some(counts(&[("U", 6)])));
    }

    #[test]
    fn only_fixed_classes_stop_at_their_counts_and_refill_after_removal() {
        let mut d = Dispatcher::new(&ids(&["h_a"]), vec![class("F", 1.0, 2)]);
        d.set_target(5);
        d.step(10);
        assert!(d.is_done());
        assert_eq!(d.current(), 2);
        d.set_target(1);
        d.step(10);
        d.set_target(5);
        d.step(10);
        assert_eq!(d.class_totals(), counts(&[("F", 2)]));
    }

    #[test]
    fn class_mix_follows_the_weights() {
        let mut d = Dispatcher::new(
            &ids(&["h_1", "h_2", "h_3"]),
            vec![class("A", 5.0, 0), class("B", 1.0, 0)],
        );
        d.set_target(60);
        d.step(7);
        while !d.is_done() {
            d.step(7);
        }
        assert_eq!(d.class_totals(), counts(&[("A", 50), ("B", 10)]));
        let per_worker: Vec<u64> = d
            .workers()
            .iter()
            .map(|w| d.counts(w).unwrap_or_default().values().sum())
            .collect();
        assert_eq!(per_worker, vec![20, 20, 20]);
    }
}
