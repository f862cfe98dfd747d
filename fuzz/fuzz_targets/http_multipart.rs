//! Fuzz target: the multipart/form-data parser never panics, keeps its limits, and every
//! cut of an input gives the same parts (see `../http_drivers.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // each target uses one of the checks
#[path = "../http_drivers.rs"]
mod http_drivers;

fuzz_target!(|data: &[u8]| http_drivers::check_multipart(data));
