//! Language of an article that does not declare one, detected from its text.

/// ISO 639-3 codes of whatlang's languages paired with their ISO 639-1 codes, so detected
/// languages read like the declared ones (`en`, not `eng`).
const TWO_LETTER: &[(&str, &str)] = &[
    ("afr", "af"),
    ("aka", "ak"),
    ("amh", "am"),
    ("ara", "ar"),
    ("aze", "az"),
    ("bel", "be"),
    ("ben", "bn"),
    ("bul", "bg"),
    ("cat", "ca"),
    ("ces", "cs"),
    ("cmn", "zh"),
    ("cym", "cy"),
    ("dan", "da"),
    ("deu", "de"),
    ("ell", "el"),
    ("eng", "en"),
    ("epo", "eo"),
    ("est", "et"),
    ("fin", "fi"),
    ("fra", "fr"),
    ("guj", "gu"),
    ("heb", "he"),
    ("hin", "hi"),
    ("hrv", "hr"),
    ("hun", "hu"),
    ("hye", "hy"),
    ("ind", "id"),
    ("ita", "it"),
    ("jav", "jv"),
    ("jpn", "ja"),
    ("kan", "kn"),
    ("kat", "ka"),
    ("khm", "km"),
    ("kor", "ko"),
    ("lat", "la"),
    ("lav", "lv"),
    ("lit", "lt"),
    ("mal", "ml"),
    ("mar", "mr"),
    ("mkd", "mk"),
    ("mya", "my"),
    ("nep", "ne"),
    ("nld", "nl"),
    ("nob", "nb"),
    ("ori", "or"),
    ("pan", "pa"),
    ("pes", "fa"),
    ("pol", "pl"),
    ("por", "pt"),
    ("ron", "ro"),
    ("rus", "ru"),
    ("sin", "si"),
    ("slk", "sk"),
    ("slv", "sl"),
    ("sna", "sn"),
    ("spa", "es"),
    ("srp", "sr"),
    ("swe", "sv"),
    ("tam", "ta"),
    ("tel", "te"),
    ("tgl", "tl"),
    ("tha", "th"),
    ("tuk", "tk"),
    ("tur", "tr"),
    ("ukr", "uk"),
    ("urd", "ur"),
    ("uzb", "uz"),
    ("vie", "vi"),
    ("yid", "yi"),
    ("zul", "zu"),
];

/// A kilobyte of text is plenty for the detector: more does not make it more certain, only
/// slower (it was the producer's largest cost per article at 4 KB).
const SAMPLE_BYTES: usize = 1024;

/// The language of `text` when the detector is confident, as ISO 639-1 where one exists.
pub fn detect_language(text: &str) -> Option<String> {
    let mut end = text.len().min(SAMPLE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let info = whatlang::detect(&text[..end])?;
    if !info.is_reliable() {
        return None;
    }
    let code = info.lang().code();
    let short = TWO_LETTER
        .binary_search_by(|(three, _)| three.cmp(&code))
        .map_or(code, |i| TWO_LETTER[i].1);
    Some(short.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_for_binary_search() {
        assert!(TWO_LETTER.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn detects_common_news_languages() {
        let english = "Moscow has threatened to make unpleasant decisions if Seoul provides weapons to Ukraine, the president said on Friday.";
        assert_eq!(detect_language(english).as_deref(), Some("en"));
        let korean =
            "러시아 대통령은 한국이 우크라이나에 무기를 제공하면 큰 실수가 될 것이라고 경고했다.";
        assert_eq!(detect_language(korean).as_deref(), Some("ko"));
        let russian = "Президент России предупредил Южную Корею, что поставки оружия Украине станут большой ошибкой. Москва примет решения, которые вряд ли понравятся нынешнему руководству страны.";
        assert_eq!(detect_language(russian).as_deref(), Some("ru"));
        assert_eq!(detect_language(""), None);
    }
}
