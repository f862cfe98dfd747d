//! Replays every file in `fuzz/corpus/http_*/` through the HTTP cores on stable Rust,
//! with the same checks the fuzz targets make (`fuzz/http_drivers.rs`): no panic, limits
//! kept, and every cut of an input gives the same messages and errors.

#[path = "../../../fuzz/http_drivers.rs"]
mod http_drivers;

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;

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

#[test]
fn http_multipart_corpus_gives_the_same_parts_for_every_cut() {
    replay("http_multipart", http_drivers::check_multipart);
}
