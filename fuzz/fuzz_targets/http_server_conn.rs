//! Fuzz target: the HTTP/1 server connection core, fed random bytes between random
//! application events, answers in request order, never sends more body than it framed,
//! and never writes after it closed (see `../http_drivers.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // each target uses one of the checks
#[path = "../http_drivers.rs"]
mod http_drivers;

fuzz_target!(|data: &[u8]| http_drivers::check_server_conn(data));
