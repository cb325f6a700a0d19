//! The checked-in JSON Schemas are the ones the Rust types generate.

#[test]
fn checked_in_schemas_match_the_event_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema");
    for (name, generated) in newswire_shared::event::json_schemas() {
        let path = dir.join(name);
        if std::env::var_os("NEWSWIRE_BLESS").is_some() {
            std::fs::create_dir_all(&dir).expect("creates docs/schema");
            std::fs::write(&path, &generated).expect("writes schema");
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (regenerate with NEWSWIRE_BLESS=1 cargo test -p newswire-tests schema)",
                path.display()
            )
        });
        assert_eq!(
            checked_in, generated,
            "{name} drifted from the Rust types: regenerate with NEWSWIRE_BLESS=1 cargo test -p newswire-tests schema, and review the diff"
        );
    }
}
