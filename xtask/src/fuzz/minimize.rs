//! Delta debugging over a JSON tree: removes members and elements, and replaces values with
//! simpler ones, for as long as the failure still happens.

use serde_json::{Value, json};

/// Where a node sits: member keys and element indices from the root.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// The smallest variant of `input` (by greedy single-node steps, within `max_checks` calls of
/// `fails`) for which `fails` still holds.
pub fn minimize(input: &Value, max_checks: usize, mut fails: impl FnMut(&Value) -> bool) -> Value {
    let mut best = input.clone();
    let mut checks = 0;
    // Nodes before this one (in breadth-first order) were tried in the last round and did not
    // shrink; starting each round here keeps a round from retrying them all.
    let mut resume = 0;
    loop {
        let mut improved = false;
        // Paths of every node, parents before children, so a removal near the root comes first.
        let mut paths: Vec<Vec<Step>> = Vec::new();
        let mut pending: Vec<(Vec<Step>, &Value)> = vec![(Vec::new(), &best)];
        let mut index = 0;
        while index < pending.len() {
            let (path, value) = pending[index].clone();
            index += 1;
            match value {
                Value::Object(map) => {
                    for (key, child) in map {
                        let mut child_path = path.clone();
                        child_path.push(Step::Key(key.clone()));
                        pending.push((child_path, child));
                    }
                }
                Value::Array(items) => {
                    for (position, child) in items.iter().enumerate() {
                        let mut child_path = path.clone();
                        child_path.push(Step::Index(position));
                        pending.push((child_path, child));
                    }
                }
                _ => {}
            }
            paths.push(path);
        }
        let count = paths.len();
        for (position, path) in paths
            .iter()
            .enumerate()
            .cycle()
            .skip(resume.min(count))
            .take(count)
        {
            for candidate in candidates(&best, path) {
                if checks >= max_checks {
                    return best;
                }
                checks += 1;
                if fails(&candidate) {
                    best = candidate;
                    improved = true;
                    resume = position;
                    break;
                }
            }
            if improved {
                break;
            }
        }
        if !improved {
            return best;
        }
    }
}

/// Smaller documents: the node at `path` removed, or replaced by something simpler.
fn candidates(root: &Value, path: &[Step]) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(node) = get(root, path) else {
        return out;
    };
    if let Some((last, parent_path)) = path.split_last() {
        let mut removed = root.clone();
        if let Some(parent) = get_mut(&mut removed, parent_path) {
            match (parent, last) {
                (Value::Object(map), Step::Key(key)) => {
                    map.shift_remove(key);
                }
                (Value::Array(items), Step::Index(index)) if *index < items.len() => {
                    items.remove(*index);
                }
                _ => {}
            }
            out.push(removed);
        }
    }
    let mut simpler: Vec<Value> = Vec::new();
    match node {
        Value::Object(map) if !map.is_empty() => {
            simpler.push(json!({}));
            simpler.extend(map.values().cloned());
        }
        Value::Array(items) if !items.is_empty() => {
            simpler.push(json!([]));
            simpler.extend(items.iter().cloned());
        }
        Value::String(text) if text.chars().count() > 1 => {
            let half: String = text.chars().take(text.chars().count() / 2).collect();
            simpler.push(json!(half));
        }
        _ => {}
    }
    for value in simpler {
        let mut replaced = root.clone();
        if let Some(slot) = get_mut(&mut replaced, path) {
            *slot = value;
            out.push(replaced);
        }
    }
    out
}

fn get<'v>(root: &'v Value, path: &[Step]) -> Option<&'v Value> {
    path.iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.get(key),
        Step::Index(index) => value.get(index),
    })
}

fn get_mut<'v>(root: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.get_mut(key),
        Step::Index(index) => value.get_mut(index),
    })
}
