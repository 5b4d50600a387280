//! Rollout bucketing as PostHog computes it: the first 15 hex digits of
//! `sha1("{key}.{bucketing value}{salt}")` over `0xFFFFFFFFFFFFFFF`, a number in `[0, 1)`
//! (posthog-python 7.91 `feature_flags.py` `_hash`; `holdout-<value>` for holdouts).

use sha1::{Digest as _, Sha1};

const LONG_SCALE: f64 = 0xFFF_FFFF_FFFF_FFFF_u64 as f64;

/// The bucket of `bucketing_value` for flag `key`; `salt` is `""` for the rollout and
/// `"variant"` for picking a variant.
pub fn bucket(key: &str, bucketing_value: &str, salt: &str) -> f64 {
    hash_parts(&[key, ".", bucketing_value, salt])
}

/// The holdout bucket of `bucketing_value` (`sha1("holdout-<value>")`).
pub fn holdout_bucket(bucketing_value: &str) -> f64 {
    hash_parts(&["holdout-", bucketing_value])
}

fn hash_parts(parts: &[&str]) -> f64 {
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    // 15 hex digits are the first 60 bits: 7.5 bytes.
    let mut leading = [0u8; 8];
    leading.copy_from_slice(&digest[..8]);
    let value = u64::from_be_bytes(leading) >> 4;
    value as f64 / LONG_SCALE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_bits_of_sha1() {
        // sha1("a.b") = 3d8b1a45..., hex 3d8b1a45 2f0d1f4 ... first 15 hex digits by hand.
        let digest = Sha1::digest(b"a.b");
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        let expected = u64::from_str_radix(&hex[..15], 16).unwrap_or(0) as f64 / LONG_SCALE;
        assert_eq!(bucket("a", "b", ""), expected);
    }
}
