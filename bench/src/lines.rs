//! Line counts of Rust sources under a directory, optionally leaving out one subdirectory.

use std::path::Path;

use anyhow::Context as _;

/// How big some Rust source is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCount {
    /// `.rs` files counted.
    pub files: usize,
    /// All lines, blank ones included (what `wc -l` says).
    pub lines: usize,
    /// Lines with something other than whitespace, which formatters' spacing habits do not move.
    pub non_blank: usize,
}

impl LineCount {
    /// Counts one file's text.
    pub fn of_text(text: &str) -> Self {
        Self {
            files: 1,
            lines: text.lines().count(),
            non_blank: text.lines().filter(|line| !line.trim().is_empty()).count(),
        }
    }

    fn add(&mut self, other: Self) {
        self.files += other.files;
        self.lines += other.lines;
        self.non_blank += other.non_blank;
    }
}

/// Counts every `.rs` file below `dir`, skipping the subtree `exclude` (a path below `dir`).
/// A missing `dir` counts as empty, so a tree not generated yet reads as zero, not an error.
pub fn count_rust(dir: &Path, exclude: Option<&Path>) -> anyhow::Result<LineCount> {
    let mut total = LineCount::default();
    if !dir.exists() {
        return Ok(total);
    }
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("listing {}", current.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("listing {}", current.display()))?
                .path();
            if exclude.is_some_and(|skip| path == skip) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                total.add(LineCount::of_text(&text));
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_count_only_as_lines() {
        assert_eq!(
            LineCount::of_text("fn a() {}\n\n   \nfn b() {}\n"),
            LineCount {
                files: 1,
                lines: 4,
                non_blank: 2,
            }
        );
    }
}
