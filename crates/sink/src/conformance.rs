//! What every store must do, as checks each store's tests run against a fresh, empty store:
//! the SQLite and PostgreSQL stores pass the same ones.

use newswire_shared::{
    Actor, ArticleMeta, CodedEvent, Modality, SCHEMA_VERSION, Span, TaggedEvent,
};
use time::OffsetDateTime;

use crate::store::{Filter, Store, StoreReport};

/// A tagged event `{article}-{index}`, published `index` days after the epoch, with actors
/// `(code, country)` and at most one coded event `(root, category)`.
pub fn event(
    article: &str,
    index: u32,
    actors: &[(&str, &str)],
    root: Option<(&str, &str)>,
) -> TaggedEvent {
    TaggedEvent {
        schema: SCHEMA_VERSION,
        event_id: format!("{article}-{index}"),
        article_id: article.into(),
        sentence_index: index,
        sentence_count: 10,
        text: "text".into(),
        span: Span::new(0, 4),
        article: ArticleMeta {
            published_at: Some(OffsetDateTime::UNIX_EPOCH + time::Duration::days(i64::from(index))),
            ..ArticleMeta::default()
        },
        event_date: None,
        ingested_at: OffsetDateTime::UNIX_EPOCH,
        category: root.map_or("none", |r| r.1).into(),
        actors: actors
            .iter()
            .map(|(code, country)| Actor {
                code: (*code).into(),
                country: Some((*country).into()),
                role: None,
                mention: "m".into(),
                span: Span::new(0, 1),
                entry: "test".into(),
            })
            .collect(),
        events: root
            .map(|(root, category)| CodedEvent {
                code: format!("{root}0").into(),
                root: root.into(),
                name: "n".into(),
                category: category.into(),
                quad_class: 3,
                goldstein: -4.4,
                plover: None,
                cue: "c".into(),
                cue_span: Span::new(0, 1),
                source: None,
                source_text: None,
                target_text: None,
                target: None,
                modality: Modality::Asserted,
                confidence: 0.8,
            })
            .into_iter()
            .collect(),
        reporter: None,
        classifier_version: "test".into(),
        classified_at: OffsetDateTime::UNIX_EPOCH,
    }
}

/// Events already stored, and repeats within a batch, are counted as duplicates and written once.
pub fn writes_are_idempotent(s: &mut dyn Store) {
    s.ready().expect("a new store is ready");
    let batch = vec![event("aa", 0, &[], None), event("aa", 1, &[], None)];
    assert_eq!(
        s.store(&batch).expect("stores"),
        StoreReport {
            stored: 2,
            duplicates: 0
        }
    );
    let again = vec![
        event("aa", 1, &[], None),
        event("aa", 2, &[], None),
        event("aa", 2, &[], None),
    ];
    assert_eq!(
        s.store(&again).expect("stores"),
        StoreReport {
            stored: 1,
            duplicates: 2
        }
    );
    assert_eq!(
        s.store(&[]).expect("stores an empty batch"),
        StoreReport::default()
    );
    assert_eq!(s.count(None).expect("counts"), 3);
    assert_eq!(s.count(Some("aa")).expect("counts"), 3);
    assert_eq!(s.count(Some("bb")).expect("counts"), 0);
}

/// Actor prefixes, country, category token/root/code, `none`, article, time range, limit, order,
/// and refusal of codes that are not plain tokens.
pub fn queries_filter_by_actor_country_category_article_and_time(s: &mut dyn Store) {
    s.store(&[
        event(
            "aa",
            0,
            &[("PRKMIL", "PRK"), ("KOR", "KOR")],
            Some(("15", "exhibit_force")),
        ),
        event("aa", 1, &[("RUSGOV", "RUS")], Some(("13", "threaten"))),
        event("bb", 2, &[], None),
    ])
    .expect("stores");
    let ids = |f: Filter| -> Vec<String> {
        s.query(&f)
            .expect("queries")
            .into_iter()
            .map(|e| e.event_id)
            .collect()
    };
    assert_eq!(ids(Filter::default()), ["aa-0", "aa-1", "bb-2"]);
    assert_eq!(
        ids(Filter {
            actor: Some("prk".into()),
            ..Filter::default()
        }),
        ["aa-0"]
    );
    assert_eq!(
        ids(Filter {
            actor: Some("PRKGOV".into()),
            ..Filter::default()
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(Filter {
            country: Some("RUS".into()),
            ..Filter::default()
        }),
        ["aa-1"]
    );
    assert_eq!(
        ids(Filter {
            category: Some("threaten".into()),
            ..Filter::default()
        }),
        ["aa-1"]
    );
    assert_eq!(
        ids(Filter {
            category: Some("15".into()),
            ..Filter::default()
        }),
        ["aa-0"]
    );
    assert_eq!(
        ids(Filter {
            category: Some("130".into()),
            ..Filter::default()
        }),
        ["aa-1"]
    );
    assert_eq!(
        ids(Filter {
            category: Some("none".into()),
            ..Filter::default()
        }),
        ["bb-2"]
    );
    assert_eq!(
        ids(Filter {
            article_id: Some("aa".into()),
            ..Filter::default()
        }),
        ["aa-0", "aa-1"]
    );
    let day = |d| Some(OffsetDateTime::UNIX_EPOCH + time::Duration::days(d));
    assert_eq!(
        ids(Filter {
            since: day(1),
            until: day(2),
            ..Filter::default()
        }),
        ["aa-1"]
    );
    // A limit keeps the latest, listed in order.
    assert_eq!(
        ids(Filter {
            limit: Some(1),
            ..Filter::default()
        }),
        ["bb-2"]
    );
    assert_eq!(
        ids(Filter {
            limit: Some(2),
            ..Filter::default()
        }),
        ["aa-1", "bb-2"]
    );
    assert!(
        s.query(&Filter {
            actor: Some("x' OR 1=1 --".into()),
            ..Filter::default()
        })
        .is_err()
    );
}

/// Queries and counts by article find that article's events only, also when other articles'
/// ids begin with its id or it begins with theirs, and whatever its sentence indexes.
pub fn articles_whose_ids_prefix_one_another_stay_apart(s: &mut dyn Store) {
    let events = [
        event("a", 1, &[], None),
        event("aa", 0, &[], None),
        event("aa", 10, &[], None),
        event("aa0", 2, &[], None),
        event("ab", 3, &[], None),
    ];
    s.store(&events).expect("stores");
    let ids = |article: &str| -> Vec<String> {
        s.query(&Filter {
            article_id: Some(article.into()),
            ..Filter::default()
        })
        .expect("queries")
        .into_iter()
        .map(|e| e.event_id)
        .collect()
    };
    assert_eq!(ids("a"), ["a-1"]);
    assert_eq!(ids("aa"), ["aa-0", "aa-10"]);
    assert_eq!(ids("aa0"), ["aa0-2"]);
    assert_eq!(ids("b"), Vec::<String>::new());
    assert_eq!(s.count(Some("a")).expect("counts"), 1);
    assert_eq!(s.count(Some("aa")).expect("counts"), 2);
    assert_eq!(s.count(Some("aa0")).expect("counts"), 1);
    assert_eq!(s.count(Some("ab")).expect("counts"), 1);
    assert_eq!(s.count(None).expect("counts"), 5);
}
