//! Which user class the n-th spawned user gets: Locust's deterministic order. Users with
//! `fixed_count` come first, then the weighted classes in the sequence of Locust's
//! Kullback–Leibler generator (for weights A=5, B=1: AABAAAAAB…). Ramp-down removes the most
//! recent users, so the users alive are always a prefix of this order.

/// Locust's KL generator over (index, weight): each step yields the class whose next pick lowers
/// the divergence from the weights the most. Ties break as Python's tuple comparison does. The
/// master's dispatcher (`distributed::dispatch`) draws from the same generator.
pub(crate) struct Kl {
    /// (divergence diff, picks + initial weight, initial weight, name, class index)
    heap: Vec<(f64, f64, f64, String, usize)>,
}

impl Kl {
    pub(crate) fn new(items: impl IntoIterator<Item = (usize, String, f64)>) -> Self {
        let heap = items
            .into_iter()
            .filter(|(_, _, w)| *w > 0.0)
            .map(|(i, name, w)| (w * (w / (w + 1.0)).log2(), w + 1.0, w, name, i))
            .collect();
        Kl { heap }
    }

    pub(crate) fn next(&mut self) -> Option<usize> {
        let best = (0..self.heap.len()).min_by(|&a, &b| {
            let (x, y) = (&self.heap[a], &self.heap[b]);
            x.0.total_cmp(&y.0)
                .then(x.1.total_cmp(&y.1))
                .then(x.2.total_cmp(&y.2))
                .then(x.3.cmp(&y.3))
        })?;
        let e = &mut self.heap[best];
        let (x, w) = (e.1, e.2);
        e.0 = w * (x / (x + 1.0)).log2();
        e.1 = x + 1.0;
        Some(e.4)
    }
}

/// The class order for spawned users; grows on demand.
pub struct ClassOrder {
    order: Vec<usize>,
    fixed_total: usize,
    weighted: Kl,
}

/// What the order needs of a user class.
pub struct ClassWeight {
    pub name: String,
    pub weight: f64,
    pub fixed_count: u64,
}

impl ClassOrder {
    pub fn new(classes: &[ClassWeight]) -> Self {
        let mut fixed = Kl::new(
            classes
                .iter()
                .enumerate()
                .filter(|(_, c)| c.fixed_count > 0)
                .map(|(i, c)| (i, c.name.clone(), c.fixed_count as f64)),
        );
        let fixed_total: u64 = classes.iter().map(|c| c.fixed_count).sum();
        let order: Vec<usize> = (0..fixed_total).filter_map(|_| fixed.next()).collect();
        let weighted = Kl::new(
            classes
                .iter()
                .enumerate()
                .filter(|(_, c)| c.fixed_count == 0)
                .map(|(i, c)| (i, c.name.clone(), c.weight)),
        );
        ClassOrder {
            fixed_total: order.len(),
            order,
            weighted,
        }
    }

    /// The class of the user at position `n` (0-based, in spawn order). None when only fixed-count
    /// classes exist and all of them are already placed.
    pub fn class_of(&mut self, n: usize) -> Option<usize> {
        while self.order.len() <= n {
            self.order.push(self.weighted.next()?);
        }
        Some(self.order[n])
    }

    /// How many users the fixed-count classes need in total.
    pub fn fixed_total(&self) -> usize {
        self.fixed_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(classes: &[(&str, f64, u64)], n: usize) -> String {
        let cw: Vec<ClassWeight> = classes
            .iter()
            .map(|(name, weight, fixed_count)| ClassWeight {
                name: name.to_string(),
                weight: *weight,
                fixed_count: *fixed_count,
            })
            .collect();
        let mut o = ClassOrder::new(&cw);
        (0..n)
            .filter_map(|i| o.class_of(i))
            .map(|i| classes[i].0.chars().next().unwrap())
            .collect()
    }

    // Expected sequences were produced by Locust 2.47's own `_kl_generator`.
    #[test]
    fn matches_locusts_sequence() {
        assert_eq!(
            order(&[("A", 5.0, 0), ("B", 1.0, 0)], 20),
            "AABAAAAABAAAAABAAAAA"
        );
        assert_eq!(
            order(&[("A", 3.0, 0), ("B", 1.0, 0), ("C", 1.0, 0)], 20),
            "ABCAAABCAAABCAAABCAA"
        );
        assert_eq!(
            order(&[("Web", 1.5, 0), ("Api", 2.5, 0), ("Zed", 1.0, 0)], 20),
            "AWZAWAAZWAAWZAWAAZWA"
        );
    }

    #[test]
    fn fixed_count_classes_come_first() {
        assert_eq!(order(&[("A", 1.0, 0), ("F", 1.0, 2)], 5), "FFAAA");
        // Only fixed classes: no more users than their counts.
        assert_eq!(order(&[("F", 1.0, 2), ("G", 1.0, 1)], 10), "FGF");
    }
}
