//! Replays every file in `fuzz/corpus/<target>/` through its parser on stable Rust, with
//! the same checks the fuzz targets make (`fuzz/drivers.rs`): no panic; for the framing
//! cores, every cut of an input gives the same frames and errors; for endpoint strings,
//! what parses round-trips through `Display`.

use std::fs;
use std::path::{Path, PathBuf};

#[path = "../../../fuzz/drivers.rs"]
mod drivers;

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
fn lines_corpus_gives_the_same_frames_for_every_cut() {
    replay("lines", drivers::check_lines);
}

#[test]
fn netstring_corpus_gives_the_same_frames_for_every_cut() {
    replay("netstring", drivers::check_netstring);
}

#[test]
fn int_prefixed_corpus_gives_the_same_frames_for_every_cut() {
    replay("int_prefixed", drivers::check_int_prefixed);
}

#[test]
fn endpoints_corpus_parses_without_panics_and_round_trips() {
    replay("endpoints", drivers::check_endpoints);
}
