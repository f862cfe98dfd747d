//! Replays every file in `fuzz/corpus/http_*/` through the HTTP cores on stable Rust,
//! with the same checks the fuzz targets make (`fuzz/http_drivers.rs`): no panic, limits
//! kept, and every cut of an input gives the same messages and errors.

use std::fs;
use std::path::{Path, PathBuf};

#[path = "../../../fuzz/http_drivers.rs"]
mod http_drivers;

/// The files of one target's corpus, sorted; fails if there are none.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            (path, bytes)
        })
        .collect()
}

/// Runs `check` on each file, naming the file that failed.
fn replay(target: &str, check: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{target} failed on {}", path.display());
    }
}

#[test]
fn http_request_head_corpus_gives_the_same_messages_for_every_cut() {
    replay("http_request_head", http_drivers::check_request_head);
}

#[test]
fn http_chunked_corpus_gives_the_same_body_for_every_cut() {
    replay("http_chunked", http_drivers::check_chunked);
}

#[test]
fn http_response_head_corpus_gives_the_same_messages_for_every_cut() {
    replay("http_response_head", http_drivers::check_response_head);
}
