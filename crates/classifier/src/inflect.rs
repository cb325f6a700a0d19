//! English inflection for dictionary entries: a verb's base form gives its five forms, a noun
//! its plural, so dictionaries list lemmas ("impose ... sanctions") instead of every form.
//!
//! Regular rules (e-drop, y -> ie, consonant doubling after a stressed short vowel) and a table
//! of the irregular verbs news reports use. Doubling is decided by the one-syllable rule; longer
//! verbs that double ("control", "patrol", "commit") are listed as irregular.

/// Irregular verbs: base, third person, past, past participle, present participle.
const IRREGULAR: &[[&str; 5]] = &[
    ["arise", "arises", "arose", "arisen", "arising"],
    ["be", "is", "was", "been", "being"],
    ["bear", "bears", "bore", "borne", "bearing"],
    ["beat", "beats", "beat", "beaten", "beating"],
    ["become", "becomes", "became", "become", "becoming"],
    ["begin", "begins", "began", "begun", "beginning"],
    ["bid", "bids", "bid", "bid", "bidding"],
    ["bind", "binds", "bound", "bound", "binding"],
    ["blow", "blows", "blew", "blown", "blowing"],
    ["break", "breaks", "broke", "broken", "breaking"],
    ["bring", "brings", "brought", "brought", "bringing"],
    ["build", "builds", "built", "built", "building"],
    ["buy", "buys", "bought", "bought", "buying"],
    ["catch", "catches", "caught", "caught", "catching"],
    ["choose", "chooses", "chose", "chosen", "choosing"],
    ["cling", "clings", "clung", "clung", "clinging"],
    ["come", "comes", "came", "come", "coming"],
    ["commit", "commits", "committed", "committed", "committing"],
    [
        "control",
        "controls",
        "controlled",
        "controlled",
        "controlling",
    ],
    ["cut", "cuts", "cut", "cut", "cutting"],
    ["deal", "deals", "dealt", "dealt", "dealing"],
    ["dig", "digs", "dug", "dug", "digging"],
    ["do", "does", "did", "done", "doing"],
    ["draw", "draws", "drew", "drawn", "drawing"],
    ["drive", "drives", "drove", "driven", "driving"],
    ["fall", "falls", "fell", "fallen", "falling"],
    ["feed", "feeds", "fed", "fed", "feeding"],
    ["feel", "feels", "felt", "felt", "feeling"],
    ["fight", "fights", "fought", "fought", "fighting"],
    ["find", "finds", "found", "found", "finding"],
    ["flee", "flees", "fled", "fled", "fleeing"],
    ["fly", "flies", "flew", "flown", "flying"],
    ["forbid", "forbids", "forbade", "forbidden", "forbidding"],
    ["forgive", "forgives", "forgave", "forgiven", "forgiving"],
    ["freeze", "freezes", "froze", "frozen", "freezing"],
    ["give", "gives", "gave", "given", "giving"],
    ["go", "goes", "went", "gone", "going"],
    ["have", "has", "had", "had", "having"],
    ["hide", "hides", "hid", "hidden", "hiding"],
    ["hit", "hits", "hit", "hit", "hitting"],
    ["hold", "holds", "held", "held", "holding"],
    ["keep", "keeps", "kept", "kept", "keeping"],
    ["lay", "lays", "laid", "laid", "laying"],
    ["lead", "leads", "led", "led", "leading"],
    ["leave", "leaves", "left", "left", "leaving"],
    ["lend", "lends", "lent", "lent", "lending"],
    ["let", "lets", "let", "let", "letting"],
    ["lose", "loses", "lost", "lost", "losing"],
    ["make", "makes", "made", "made", "making"],
    ["meet", "meets", "met", "met", "meeting"],
    ["mislead", "misleads", "misled", "misled", "misleading"],
    ["overrun", "overruns", "overran", "overrun", "overrunning"],
    ["oversee", "oversees", "oversaw", "overseen", "overseeing"],
    [
        "overthrow",
        "overthrows",
        "overthrew",
        "overthrown",
        "overthrowing",
    ],
    ["patrol", "patrols", "patrolled", "patrolled", "patrolling"],
    ["pay", "pays", "paid", "paid", "paying"],
    ["put", "puts", "put", "put", "putting"],
    ["quit", "quits", "quit", "quit", "quitting"],
    ["rebuild", "rebuilds", "rebuilt", "rebuilt", "rebuilding"],
    ["rise", "rises", "rose", "risen", "rising"],
    ["run", "runs", "ran", "run", "running"],
    ["say", "says", "said", "said", "saying"],
    ["see", "sees", "saw", "seen", "seeing"],
    ["seek", "seeks", "sought", "sought", "seeking"],
    ["sell", "sells", "sold", "sold", "selling"],
    ["send", "sends", "sent", "sent", "sending"],
    ["set", "sets", "set", "set", "setting"],
    ["shake", "shakes", "shook", "shaken", "shaking"],
    ["shed", "sheds", "shed", "shed", "shedding"],
    ["shoot", "shoots", "shot", "shot", "shooting"],
    ["shut", "shuts", "shut", "shut", "shutting"],
    ["sink", "sinks", "sank", "sunk", "sinking"],
    ["sit", "sits", "sat", "sat", "sitting"],
    ["slay", "slays", "slew", "slain", "slaying"],
    ["speak", "speaks", "spoke", "spoken", "speaking"],
    ["spend", "spends", "spent", "spent", "spending"],
    ["split", "splits", "split", "split", "splitting"],
    ["spread", "spreads", "spread", "spread", "spreading"],
    ["stand", "stands", "stood", "stood", "standing"],
    ["steal", "steals", "stole", "stolen", "stealing"],
    ["stick", "sticks", "stuck", "stuck", "sticking"],
    ["strike", "strikes", "struck", "struck", "striking"],
    ["swear", "swears", "swore", "sworn", "swearing"],
    ["sweep", "sweeps", "swept", "swept", "sweeping"],
    ["swing", "swings", "swung", "swung", "swinging"],
    ["take", "takes", "took", "taken", "taking"],
    ["teach", "teaches", "taught", "taught", "teaching"],
    ["tear", "tears", "tore", "torn", "tearing"],
    ["tell", "tells", "told", "told", "telling"],
    ["think", "thinks", "thought", "thought", "thinking"],
    ["throw", "throws", "threw", "thrown", "throwing"],
    [
        "undertake",
        "undertakes",
        "undertook",
        "undertaken",
        "undertaking",
    ],
    [
        "undergo",
        "undergoes",
        "underwent",
        "undergone",
        "undergoing",
    ],
    ["unfreeze", "unfreezes", "unfroze", "unfrozen", "unfreezing"],
    ["uphold", "upholds", "upheld", "upheld", "upholding"],
    ["wage", "wages", "waged", "waged", "waging"],
    ["win", "wins", "won", "won", "winning"],
    // Stress on the last syllable doubles its consonant, which one-syllable rules miss.
    ["abet", "abets", "abetted", "abetted", "abetting"],
    ["acquit", "acquits", "acquitted", "acquitted", "acquitting"],
    ["admit", "admits", "admitted", "admitted", "admitting"],
    ["compel", "compels", "compelled", "compelled", "compelling"],
    ["confer", "confers", "conferred", "conferred", "conferring"],
    ["deter", "deters", "deterred", "deterred", "deterring"],
    ["dispel", "dispels", "dispelled", "dispelled", "dispelling"],
    ["embed", "embeds", "embedded", "embedded", "embedding"],
    ["equip", "equips", "equipped", "equipped", "equipping"],
    ["expel", "expels", "expelled", "expelled", "expelling"],
    ["incur", "incurs", "incurred", "incurred", "incurring"],
    ["kidnap", "kidnaps", "kidnapped", "kidnapped", "kidnapping"],
    [
        "worship",
        "worships",
        "worshipped",
        "worshipped",
        "worshipping",
    ],
    ["occur", "occurs", "occurred", "occurred", "occurring"],
    ["omit", "omits", "omitted", "omitted", "omitting"],
    ["permit", "permits", "permitted", "permitted", "permitting"],
    ["prefer", "prefers", "preferred", "preferred", "preferring"],
    ["propel", "propels", "propelled", "propelled", "propelling"],
    ["rebel", "rebels", "rebelled", "rebelled", "rebelling"],
    ["refer", "refers", "referred", "referred", "referring"],
    ["regret", "regrets", "regretted", "regretted", "regretting"],
    ["repel", "repels", "repelled", "repelled", "repelling"],
    ["submit", "submits", "submitted", "submitted", "submitting"],
    [
        "transfer",
        "transfers",
        "transferred",
        "transferred",
        "transferring",
    ],
    [
        "withdraw",
        "withdraws",
        "withdrew",
        "withdrawn",
        "withdrawing",
    ],
    [
        "withhold",
        "withholds",
        "withheld",
        "withheld",
        "withholding",
    ],
    [
        "withstand",
        "withstands",
        "withstood",
        "withstood",
        "withstanding",
    ],
    ["write", "writes", "wrote", "written", "writing"],
];

/// Whether `word` (any ASCII case) can be a past participle: a regular "-ed" form or an irregular
/// participle ("held", "struck", "taken"). Used to tell a passive ("was criticised") from a
/// copula with an adjective ("was willing").
pub fn is_past_participle(word: &str) -> bool {
    use crate::phrases::short_word_key;
    static IRREGULAR_PARTICIPLES: std::sync::LazyLock<rustc_hash::FxHashSet<u128>> =
        std::sync::LazyLock::new(|| {
            IRREGULAR
                .iter()
                .map(|row| short_word_key(row[3]).expect("participles are short"))
                .collect()
        });
    let b = word.as_bytes();
    if b.len() >= 2 && b[b.len() - 2..].eq_ignore_ascii_case(b"ed") {
        return true;
    }
    short_word_key(word).is_some_and(|key| IRREGULAR_PARTICIPLES.contains(&key))
}

/// Irregular plurals of nouns found in cue phrases.
const IRREGULAR_PLURAL: &[(&str, &str)] = &[
    ("man", "men"),
    ("woman", "women"),
    ("child", "children"),
    ("person", "people"),
    ("crisis", "crises"),
    ("analysis", "analyses"),
];

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// One syllable ending consonant-vowel-consonant ("ban", "stop", "plan"): the final consonant
/// doubles before -ed and -ing. Not after w, x or y.
fn doubles(base: &str) -> bool {
    let b = base.as_bytes();
    let n = b.len();
    if n < 3 {
        return false;
    }
    let (c1, v, c2) = (b[n - 3], b[n - 2], b[n - 1]);
    let vowel_groups = b
        .iter()
        .enumerate()
        .filter(|&(i, &c)| is_vowel(c) && (i == 0 || !is_vowel(b[i - 1])))
        .count();
    vowel_groups == 1
        && !is_vowel(c1)
        && is_vowel(v)
        && !is_vowel(c2)
        && !matches!(c2, b'w' | b'x' | b'y')
}

/// The five forms of a verb given in its base form (lower case, one word): base, third person
/// singular, past, past participle, present participle. Past and participle coincide for
/// regular verbs.
pub fn verb_forms(base: &str) -> [String; 5] {
    if let Some(row) = IRREGULAR.iter().find(|row| row[0] == base) {
        return row.map(str::to_owned);
    }
    let (last, before_last) = last_two(base);
    let third = add_s(base);
    let (past, ing) = if last == b'e' && base.len() > 2 && !base.ends_with("ee") {
        let stem = &base[..base.len() - 1];
        (format!("{base}d"), format!("{stem}ing"))
    } else if base.ends_with("ee") {
        (format!("{base}d"), format!("{base}ing"))
    } else if last == b'y' && !is_vowel(before_last) {
        (
            format!("{}ied", &base[..base.len() - 1]),
            format!("{base}ing"),
        )
    } else if doubles(base) {
        let c = char::from(last);
        (format!("{base}{c}ed"), format!("{base}{c}ing"))
    } else {
        (format!("{base}ed"), format!("{base}ing"))
    };
    [base.to_owned(), third, past.clone(), past, ing]
}

/// The plural of a noun in the singular (lower case, one word).
pub fn plural(noun: &str) -> String {
    if let Some((_, p)) = IRREGULAR_PLURAL.iter().find(|(s, _)| *s == noun) {
        return (*p).to_owned();
    }
    if noun.ends_with('s') {
        // "bus" -> "buses", "gas" -> "gases".
        return format!("{noun}es");
    }
    add_s(noun)
}

/// The last two bytes of a word ('_' where it is shorter).
fn last_two(word: &str) -> (u8, u8) {
    let b = word.as_bytes();
    let last = b.last().copied().unwrap_or(b'_');
    let before_last = if b.len() >= 2 { b[b.len() - 2] } else { b'_' };
    (last, before_last)
}

/// A word with the -s of a plural or a third person singular: "pushes", "watches", "vetoes",
/// "carries", "talks".
fn add_s(word: &str) -> String {
    let (last, before_last) = last_two(word);
    if word.ends_with("ss")
        || word.ends_with("sh")
        || word.ends_with("ch")
        || last == b'x'
        || last == b'z'
        || (last == b'o' && !is_vowel(before_last))
    {
        format!("{word}es")
    } else if last == b'y' && !is_vowel(before_last) {
        format!("{}ies", &word[..word.len() - 1])
    } else {
        format!("{word}s")
    }
}

/// British spelling doubles a final l after one vowel in any verb ("travelled", "cancelled",
/// "signalling") where American spelling does not: both are news spellings.
fn british_l_forms(base: &str) -> Option<[String; 2]> {
    let b = base.as_bytes();
    let n = b.len();
    let doubles = n >= 4
        && b[n - 1] == b'l'
        && is_vowel(b[n - 2])
        && !is_vowel(b[n - 3])
        && !IRREGULAR.iter().any(|row| row[0] == base)
        && !doubles(base);
    doubles.then(|| [format!("{base}led"), format!("{base}ling")])
}

/// Every form of a verb phrase whose first word is the verb ("impose ... sanctions" ->
/// "impose ... sanctions", "imposes ... sanctions", ...), distinct, in a stable order.
pub fn verb_phrase_forms(phrase: &str) -> Vec<String> {
    let (head, rest) = phrase.split_once(' ').map_or((phrase, ""), |(h, r)| (h, r));
    let mut out: Vec<String> = Vec::with_capacity(7);
    let british = british_l_forms(head).into_iter().flatten();
    for form in verb_forms(head).into_iter().chain(british) {
        let full = if rest.is_empty() {
            form
        } else {
            format!("{form} {rest}")
        };
        if !out.contains(&full) {
            out.push(full);
        }
    }
    out
}

/// A noun phrase and its plural (the last word inflected): "air strike" -> "air strikes".
pub fn noun_phrase_forms(phrase: &str) -> Vec<String> {
    let (init, last) = phrase
        .rsplit_once(' ')
        .map_or(("", phrase), |(i, l)| (i, l));
    let plural = plural(last);
    let plural = if init.is_empty() {
        plural
    } else {
        format!("{init} {plural}")
    };
    if plural == phrase {
        vec![phrase.to_owned()]
    } else {
        vec![phrase.to_owned(), plural]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(base: &str) -> Vec<String> {
        verb_forms(base).to_vec()
    }

    #[test]
    fn regular_verbs() {
        assert_eq!(
            forms("attack"),
            ["attack", "attacks", "attacked", "attacked", "attacking"]
        );
        assert_eq!(
            forms("impose"),
            ["impose", "imposes", "imposed", "imposed", "imposing"]
        );
        assert_eq!(
            forms("deploy"),
            ["deploy", "deploys", "deployed", "deployed", "deploying"]
        );
        assert_eq!(
            forms("deny"),
            ["deny", "denies", "denied", "denied", "denying"]
        );
        assert_eq!(forms("ban"), ["ban", "bans", "banned", "banned", "banning"]);
        assert_eq!(
            forms("stop"),
            ["stop", "stops", "stopped", "stopped", "stopping"]
        );
        assert_eq!(
            forms("push"),
            ["push", "pushes", "pushed", "pushed", "pushing"]
        );
        assert_eq!(
            forms("veto"),
            ["veto", "vetoes", "vetoed", "vetoed", "vetoing"]
        );
        assert_eq!(
            forms("agree"),
            ["agree", "agrees", "agreed", "agreed", "agreeing"]
        );
        assert_eq!(
            forms("open"),
            ["open", "opens", "opened", "opened", "opening"]
        );
        assert_eq!(
            forms("shell"),
            ["shell", "shells", "shelled", "shelled", "shelling"]
        );
        assert_eq!(forms("row"), ["row", "rows", "rowed", "rowed", "rowing"]);
    }

    #[test]
    fn british_and_american_l() {
        assert_eq!(
            verb_phrase_forms("travel to"),
            [
                "travel to",
                "travels to",
                "traveled to",
                "traveling to",
                "travelled to",
                "travelling to"
            ]
        );
        assert_eq!(forms("expel")[2], "expelled");
        assert_eq!(verb_phrase_forms("expel").len(), 4);
    }

    #[test]
    fn irregular_verbs() {
        assert_eq!(
            forms("strike"),
            ["strike", "strikes", "struck", "struck", "striking"]
        );
        assert_eq!(forms("withdraw")[2], "withdrew");
        assert_eq!(forms("commit")[4], "committing");
        assert_eq!(
            verb_phrase_forms("find ... guilty"),
            [
                "find ... guilty",
                "finds ... guilty",
                "found ... guilty",
                "finding ... guilty"
            ]
        );
        assert_eq!(forms("unfreeze")[3], "unfrozen");
    }

    #[test]
    fn participles() {
        assert!(is_past_participle("criticised"));
        assert!(is_past_participle("Criticised"));
        assert!(is_past_participle("STRUCK"));
        assert!(is_past_participle("struck"));
        assert!(is_past_participle("taken"));
        assert!(!is_past_participle("willing"));
        assert!(!is_past_participle("considering"));
    }

    #[test]
    fn phrases() {
        assert_eq!(
            verb_phrase_forms("impose ... sanctions"),
            [
                "impose ... sanctions",
                "imposes ... sanctions",
                "imposed ... sanctions",
                "imposing ... sanctions"
            ]
        );
        assert_eq!(
            noun_phrase_forms("air strike"),
            ["air strike", "air strikes"]
        );
        assert_eq!(noun_phrase_forms("crisis"), ["crisis", "crises"]);
        assert_eq!(noun_phrase_forms("ceasefire"), ["ceasefire", "ceasefires"]);
        assert_eq!(noun_phrase_forms("embargo"), ["embargo", "embargoes"]);
    }
}
