//! Fuzz target: PROXY protocol headers (v1 and v2) never make the parser panic, and every
//! cut agrees with the whole input (see `../drivers.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // each target uses one of the checks
#[path = "../drivers.rs"]
mod drivers;

fuzz_target!(|data: &[u8]| drivers::check_proxy_header(data));
