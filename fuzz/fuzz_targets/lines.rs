//! Fuzz target: the lines framing core never panics, and every cut of an input gives
//! the same frames (see `../drivers.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // each target uses one of the checks
#[path = "../drivers.rs"]
mod drivers;

fuzz_target!(|data: &[u8]| drivers::check_lines(data));
