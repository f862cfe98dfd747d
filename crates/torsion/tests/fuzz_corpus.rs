//! Replays every file in `fuzz/corpus/<target>/` through its parser on stable Rust, with
//! the same checks the fuzz targets make (`fuzz/drivers.rs`): no panic; for the framing
//! cores, every cut of an input gives the same frames and errors; for endpoint strings,
//! what parses round-trips through `Display`.

#[path = "../../../fuzz/drivers.rs"]
mod drivers;

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;

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

#[test]
fn proxy_header_corpus_agrees_for_every_cut() {
    replay("proxy_header", drivers::check_proxy_header);
}
