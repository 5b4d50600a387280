//! Which `$feature_flag_called` events were already sent: one per (distinct id, flag, value),
//! remembered for a bounded number of distinct ids, the oldest forgotten first (posthog-python
//! 7.91 `SizeLimitedDict(50_000)` keyed by distinct id).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

/// A bounded memory of reported (distinct id, flag, value) triples.
#[derive(Debug)]
pub struct FlagCalledCache {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    reported: HashMap<String, HashSet<String>>,
    order: VecDeque<String>,
}

impl FlagCalledCache {
    /// Remembers up to `capacity` distinct ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::default(),
        }
    }

    /// Records the triple; `true` the first time it is seen (send the event then).
    pub fn first_time(&self, distinct_id: &str, flag: &str, value: &str) -> bool {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = format!("{flag}_{value}");
        if let Some(seen) = state.reported.get_mut(distinct_id) {
            return seen.insert(entry);
        }
        while state.reported.len() >= self.capacity {
            let Some(oldest) = state.order.pop_front() else {
                break;
            };
            state.reported.remove(&oldest);
        }
        state.order.push_back(distinct_id.to_owned());
        state
            .reported
            .insert(distinct_id.to_owned(), HashSet::from([entry]));
        true
    }

    /// How many distinct ids are remembered.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .reported
            .len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_triple_and_bounded() {
        let cache = FlagCalledCache::new(2);
        assert!(cache.first_time("a", "f", "true"));
        assert!(!cache.first_time("a", "f", "true"));
        assert!(cache.first_time("a", "f", "false"));
        assert!(cache.first_time("b", "f", "true"));
        assert!(cache.first_time("c", "f", "true"));
        assert_eq!(cache.len(), 2);
        // "a" was the oldest and is forgotten; "b" is still remembered.
        assert!(cache.first_time("a", "f", "true"));
        assert!(!cache.first_time("c", "f", "true"));
    }
}
