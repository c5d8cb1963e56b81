//! A line diff for comparing two revisions of a pipeline's JSON: the longest common subsequence
//! of lines, kept lines as context, the rest marked added or removed. Written here rather than
//! taken from a crate, as pipelines are a few hundred lines and the WASM bundle stays small.

/// One line of the diff, in the order a reader goes through the new text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Same(String),
    Added(String),
    Removed(String),
}

impl Line {
    /// The sign shown before the line, as in a unified diff.
    pub fn sign(&self) -> &'static str {
        match self {
            Self::Same(_) => " ",
            Self::Added(_) => "+",
            Self::Removed(_) => "-",
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Self::Same(text) | Self::Added(text) | Self::Removed(text) => text,
        }
    }
}

/// The lines of `old` and `new` compared; removals come before the additions that replace them.
pub fn lines(old: &str, new: &str) -> Vec<Line> {
    let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    // common[i][j]: the length of the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0u32; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::with_capacity(old.len().max(new.len())));
    while i < old.len() && j < new.len() {
        if old[i] == new[j] {
            out.push(Line::Same(old[i].to_string()));
            (i, j) = (i + 1, j + 1);
        } else if common[i + 1][j] >= common[i][j + 1] {
            out.push(Line::Removed(old[i].to_string()));
            i += 1;
        } else {
            out.push(Line::Added(new[j].to_string()));
            j += 1;
        }
    }
    out.extend(old[i..].iter().map(|line| Line::Removed(line.to_string())));
    out.extend(new[j..].iter().map(|line| Line::Added(line.to_string())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(diff: &[Line]) -> Vec<String> {
        diff.iter().map(|line| format!("{}{}", line.sign(), line.text())).collect()
    }

    #[test]
    fn marks_added_removed_and_kept_lines() {
        let diff = lines("a\nb\nc\nd", "a\nc\nx\nd\ne");
        assert_eq!(signed(&diff), vec![" a", "-b", " c", "+x", " d", "+e"]);
    }

    #[test]
    fn a_replaced_line_is_removed_then_added() {
        assert_eq!(signed(&lines("a\nold\nz", "a\nnew\nz")), vec![" a", "-old", "+new", " z"]);
    }

    #[test]
    fn empty_sides() {
        assert_eq!(signed(&lines("", "a\nb")), vec!["+a", "+b"]);
        assert_eq!(signed(&lines("a", "")), vec!["-a"]);
        assert!(lines("same\ntext", "same\ntext").iter().all(|line| matches!(line, Line::Same(_))));
    }
}
