//! Fuzz target: endpoint strings never make the parser panic, and whatever parses
//! round-trips through `Display` (see `../drivers.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // each target uses one of the checks
#[path = "../drivers.rs"]
mod drivers;

fuzz_target!(|data: &[u8]| drivers::check_endpoints(data));
