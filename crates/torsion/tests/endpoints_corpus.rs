//! Replays the `endpoints` fuzz target's corpus on stable Rust, with the target's own
//! checks: parsing never panics, errors have messages, and what parses round-trips
//! through `Display`.

use std::fs;
use std::path::Path;

use torsion::endpoints::{ClientEndpoint, ServerEndpoint};

#[test]
fn fuzz_corpus_parses_without_panics_and_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/endpoints");
    let mut replayed = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        let Ok(input) = std::str::from_utf8(&data) else {
            continue;
        };
        check(input);
        replayed += 1;
    }
    assert!(
        replayed >= 20,
        "only {replayed} corpus entries in {}",
        dir.display()
    );
}

fn check(input: &str) {
    match ServerEndpoint::parse(input) {
        Ok(server) => {
            let shown = server.to_string();
            assert_eq!(
                ServerEndpoint::parse(&shown),
                Ok(server),
                "{input:?} -> {shown:?}"
            );
        }
        Err(err) => assert!(!err.to_string().is_empty(), "{input:?}"),
    }
    match ClientEndpoint::parse(input) {
        Ok(client) => {
            let shown = client.to_string();
            assert_eq!(
                ClientEndpoint::parse(&shown),
                Ok(client),
                "{input:?} -> {shown:?}"
            );
        }
        Err(err) => assert!(!err.to_string().is_empty(), "{input:?}"),
    }
}
