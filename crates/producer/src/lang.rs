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
    let sample = sample(text);
    if is_plainly_english(sample) {
        return Some("en".to_owned());
    }
    trigram_language(sample)
}

/// The first [`SAMPLE_BYTES`] of `text`, ending on a character boundary.
fn sample(text: &str) -> &str {
    let mut end = text.len().min(SAMPLE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Words that make up a good part of any English text and hardly occur in other languages'
/// (none is a common word of another language the detector knows, as "a", "in" or "was" are).
const ENGLISH_MARKERS: &[&str] = &[
    "the", "of", "and", "to", "that", "with", "said", "from", "which", "has", "have", "were",
    "this", "for", "by", "its", "it", "would", "will", "after",
];

/// Whether `sample` is English beyond doubt, before the trigram detector is asked: at least 30
/// words, in ASCII letters only, of which at least a seventh are [`ENGLISH_MARKERS`] and two
/// are "the" (English news runs at about a quarter). The detector scores every language's
/// trigram profile against the text, the producer's largest cost per article; most of what a
/// news pipeline reads is English, and this answers for it by one pass over the words.
/// Anything else (other scripts, accented letters, fewer markers) goes to the detector.
fn is_plainly_english(sample: &str) -> bool {
    let (mut words, mut markers, mut the) = (0usize, 0usize, 0usize);
    for word in sample.split(|c: char| !c.is_alphabetic()) {
        if word.is_empty() {
            continue;
        }
        if !word.is_ascii() {
            return false;
        }
        words += 1;
        if ENGLISH_MARKERS.iter().any(|m| word.eq_ignore_ascii_case(m)) {
            markers += 1;
            the += usize::from(word.eq_ignore_ascii_case("the"));
        }
    }
    words >= 30 && markers * 7 >= words && the >= 2
}

/// The trigram detector's answer, when it is confident.
fn trigram_language(sample: &str) -> Option<String> {
    let info = whatlang::detect(sample)?;
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

    /// News-length texts in the languages of the trigram detector that share the Latin
    /// script with English, none of which may pass for English.
    const NOT_ENGLISH: &[&str] = &[
        "Le président russe a averti la Corée du Sud que la livraison d'armes à l'Ukraine serait une grave erreur. Moscou prendra des décisions qui ne plairont pas aux dirigeants actuels du pays, a-t-il déclaré vendredi lors d'une conférence de presse à Hanoï, à la fin d'une visite d'État.",
        "Der russische Präsident warnte Südkorea, dass Waffenlieferungen an die Ukraine ein großer Fehler wären. Moskau werde Entscheidungen treffen, die der derzeitigen Führung des Landes kaum gefallen würden, sagte er am Freitag auf einer Pressekonferenz in Hanoi am Ende eines Staatsbesuchs.",
        "El presidente ruso advirtió a Corea del Sur que el suministro de armas a Ucrania sería un gran error. Moscú tomará decisiones que difícilmente agradarán a los actuales dirigentes del país, dijo el viernes en una rueda de prensa en Hanói, al final de una visita de Estado.",
        "O presidente russo avisou a Coreia do Sul de que o fornecimento de armas à Ucrânia seria um grande erro. Moscovo tomará decisões que dificilmente agradarão aos atuais dirigentes do país, disse na sexta-feira numa conferência de imprensa em Hanói, no final de uma visita de Estado.",
        "Il presidente russo ha avvertito la Corea del Sud che la fornitura di armi all'Ucraina sarebbe un grave errore. Mosca prenderà decisioni che difficilmente piaceranno agli attuali dirigenti del paese, ha detto venerdì in una conferenza stampa ad Hanoi, alla fine di una visita di Stato.",
        "De Russische president waarschuwde Zuid-Korea dat wapenleveranties aan Oekraïne een grote fout zouden zijn. Moskou zal beslissingen nemen die de huidige leiding van het land niet zullen bevallen, zei hij vrijdag op een persconferentie in Hanoi aan het eind van een staatsbezoek.",
        "Prezydent Rosji ostrzegł Koreę Południową, że dostawy broni na Ukrainę byłyby dużym błędem. Moskwa podejmie decyzje, które nie spodobają się obecnym władzom kraju, powiedział w piątek na konferencji prasowej w Hanoi pod koniec wizyty państwowej w Wietnamie, w której brał udział.",
        "Rais wa Urusi aliionya Korea Kusini kwamba kupeleka silaha Ukraine litakuwa kosa kubwa. Moscow itachukua maamuzi ambayo hayatawapendeza viongozi wa sasa wa nchi hiyo, alisema Ijumaa katika mkutano na waandishi wa habari mjini Hanoi mwishoni mwa ziara ya kiserikali nchini Vietnam.",
        "Presiden Rusia memperingatkan Korea Selatan bahwa pasokan senjata ke Ukraina akan menjadi kesalahan besar. Moskow akan mengambil keputusan yang tidak akan disukai oleh para pemimpin negara itu saat ini, katanya pada hari Jumat dalam konferensi pers di Hanoi pada akhir kunjungan kenegaraan.",
        "Rusya Devlet Başkanı, Güney Kore'yi Ukrayna'ya silah tedarikinin büyük bir hata olacağı konusunda uyardı. Moskova'nın ülkenin mevcut liderlerini memnun etmeyecek kararlar alacağını, Cuma günü Hanoi'deki bir basın toplantısında söyledi ve devlet ziyaretini tamamladı.",
    ];

    #[test]
    fn other_languages_are_left_to_the_detector() {
        for text in NOT_ENGLISH {
            assert!(!is_plainly_english(text), "{text}");
            assert_ne!(detect_language(text).as_deref(), Some("en"), "{text}");
        }
    }

    /// The shortcut answers only where the detector guesses English too: every article made of
    /// five consecutive sentences of the gold sets (English news) and every sentence alone.
    #[test]
    fn the_english_shortcut_agrees_with_the_detector() {
        let gold = [
            include_str!("../../../tests/gold/events.jsonl"),
            include_str!("../../../tests/gold/heldout.jsonl"),
            include_str!("../../../tests/gold/heldout2.jsonl"),
        ];
        let sentences: Vec<String> = gold
            .iter()
            .flat_map(|set| set.lines())
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).expect("gold line");
                value["text"].as_str().expect("gold text").to_owned()
            })
            .collect();
        let articles = sentences.chunks(5).map(|c| c.join(" "));
        let mut shortcut = 0;
        for text in articles.chain(sentences.iter().cloned()) {
            let sample = sample(&text);
            if is_plainly_english(sample) {
                shortcut += 1;
                // The detector's best guess is English, if not always with the confidence
                // it needs to answer (then the article had no language before).
                let guess = whatlang::detect(sample).map(|info| info.lang());
                assert_eq!(guess, Some(whatlang::Lang::Eng), "{text}");
            }
        }
        // Most five-sentence articles take the shortcut; single sentences are too short.
        assert!(shortcut >= sentences.len() / 5 * 9 / 10, "{shortcut}");
    }
}
