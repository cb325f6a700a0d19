//! Reading a sentence's characters and words with ASCII bytes taken as they are: the coder
//! looks at the few words before each cue and actor (modality, references, passives,
//! prepositions), many times a sentence.
//!
//! [`words_back`] yields what `text.rsplit(|c| !is_word(c)).filter(|w| !w.is_empty())` yields,
//! with each word's offset, but reads ASCII bytes as they are and decodes only the bytes of
//! other characters: the standard splitter decodes every character through its searcher.

/// The maximal runs of characters for which `is_word` holds in `text`, last first, each with
/// its byte offset in `text`.
pub(crate) fn words_back<F: Fn(char) -> bool>(text: &str, is_word: F) -> WordsBack<'_, F> {
    WordsBack {
        text,
        end: text.len(),
        is_word,
    }
}

/// The character that starts at byte `at` of `text` and its length: an ASCII byte as it is,
/// anything else decoded.
#[inline]
pub(crate) fn char_at(text: &str, at: usize) -> (char, usize) {
    let byte = text.as_bytes()[at];
    if byte.is_ascii() {
        (char::from(byte), 1)
    } else {
        let c = text[at..].chars().next().expect("a character starts here");
        (c, c.len_utf8())
    }
}

/// The character that ends at byte `end` of `text` and its length, as [`char_at`] reads it.
#[inline]
pub(crate) fn char_before(text: &str, end: usize) -> (char, usize) {
    let byte = text.as_bytes()[end - 1];
    if byte.is_ascii() {
        (char::from(byte), 1)
    } else {
        let c = text[..end]
            .chars()
            .next_back()
            .expect("a character ends here");
        (c, c.len_utf8())
    }
}

pub(crate) struct WordsBack<'t, F> {
    text: &'t str,
    /// Where the part not yet read ends.
    end: usize,
    is_word: F,
}

impl<'t, F: Fn(char) -> bool> Iterator for WordsBack<'t, F> {
    type Item = (usize, &'t str);

    fn next(&mut self) -> Option<Self::Item> {
        let mut end = self.end;
        loop {
            if end == 0 {
                self.end = 0;
                return None;
            }
            let (c, len) = char_before(self.text, end);
            if (self.is_word)(c) {
                break;
            }
            end -= len;
        }
        let mut start = end;
        while start > 0 {
            let (c, len) = char_before(self.text, start);
            if !(self.is_word)(c) {
                break;
            }
            start -= len;
        }
        self.end = start;
        Some((start, &self.text[start..end]))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn standard(text: &str, is_word: impl Fn(char) -> bool) -> Vec<(usize, &str)> {
        text.rsplit(|c: char| !is_word(c))
            .filter(|w| !w.is_empty())
            .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
            .collect()
    }

    #[test]
    fn words_come_last_first_with_offsets() {
        let text = "Seoul’s envoy, on Monday—said: non-state actors' ties";
        let is_word = |c: char| c.is_alphanumeric() || c == '\u{2019}';
        let words: Vec<_> = words_back(text, is_word).collect();
        assert_eq!(words, standard(text, is_word));
        assert_eq!(words[0], (53, "ties"));
        assert_eq!(words.last(), Some(&(0, "Seoul’s")));
        assert_eq!(words_back("", is_word).next(), None);
        assert_eq!(words_back(" ,; ", is_word).next(), None);
    }

    proptest! {
        #[test]
        fn the_same_words_as_the_standard_splitter(text in "[a-zA-Zé’'\\- ,.;😀0-9]{0,40}") {
            let is_word = |c: char| c.is_alphanumeric() || c == '\'' || c == '\u{2019}';
            prop_assert_eq!(words_back(&text, is_word).collect::<Vec<_>>(), standard(&text, is_word));
            let is_word = |c: char| c.is_alphanumeric() || c == '-';
            prop_assert_eq!(words_back(&text, is_word).collect::<Vec<_>>(), standard(&text, is_word));
        }

        #[test]
        fn any_text_too(text in any::<String>()) {
            let is_word = char::is_alphanumeric;
            prop_assert_eq!(words_back(&text, is_word).collect::<Vec<_>>(), standard(&text, is_word));
        }
    }
}
