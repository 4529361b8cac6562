//! CTC greedy decoding of the recogniser's output: the most likely class per time step,
//! repeats merged, blanks dropped; the line's confidence is the mean probability of the
//! characters kept.

/// The recogniser's alphabet: index 0 is the CTC blank, then the model's characters, then
/// a space (PaddleOCR's `use_space_char`).
#[derive(Debug, Clone)]
pub struct Alphabet {
    chars: Vec<String>,
}

impl Alphabet {
    /// From the model's own `character` metadata: one character per line.
    pub fn from_metadata(text: &str) -> Self {
        let mut chars = vec![String::new()];
        chars.extend(text.lines().map(|l| l.trim_end_matches('\r').to_owned()));
        chars.push(" ".to_owned());
        Self { chars }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.len() <= 1
    }
}

/// Decodes one line from `probs` (`steps` x `classes`, row-major). Returns the text and
/// its confidence (0 for an empty line).
pub fn decode(probs: &[f32], steps: usize, classes: usize, alphabet: &Alphabet) -> (String, f32) {
    let mut text = String::new();
    let mut confidences = Vec::new();
    let mut last = usize::MAX;
    for t in 0..steps {
        let row = &probs[t * classes..(t + 1) * classes];
        let (best, p) =
            row.iter().enumerate().fold(
                (0, f32::MIN),
                |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
            );
        if best != 0
            && best != last
            && let Some(c) = alphabet.chars.get(best)
        {
            text.push_str(c);
            confidences.push(p);
        }
        last = best;
    }
    let confidence = if confidences.is_empty() {
        0.0
    } else {
        confidences.iter().sum::<f32>() / confidences.len() as f32
    };
    (text, confidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_merge_and_blanks_separate() {
        let a = Alphabet::from_metadata("粤\nB\n1");
        assert_eq!(a.len(), 5, "blank + 3 + space");
        // Steps: 粤 粤 blank B B blank B 1
        let classes = a.len();
        let seq = [1, 1, 0, 2, 2, 0, 2, 3];
        let mut probs = vec![0.0; seq.len() * classes];
        for (t, &c) in seq.iter().enumerate() {
            probs[t * classes + c] = 0.8;
        }
        let (text, conf) = decode(&probs, seq.len(), classes, &a);
        assert_eq!(text, "粤BB1");
        assert!((conf - 0.8).abs() < 1e-6);
        assert_eq!(decode(&vec![0.0; classes], 1, classes, &a).0, "");
    }
}
