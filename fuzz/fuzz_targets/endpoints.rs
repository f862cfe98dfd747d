//! Endpoint strings: parsing never panics, every error has a message, and whatever
//! parses prints as a string that parses back to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torsion::endpoints::{ClientEndpoint, ServerEndpoint};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match ServerEndpoint::parse(input) {
        Ok(server) => {
            let shown = server.to_string();
            assert_eq!(
                ServerEndpoint::parse(&shown),
                Ok(server),
                "{input:?} -> {shown:?}"
            );
        }
        Err(err) => assert!(!err.to_string().is_empty()),
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
        Err(err) => assert!(!err.to_string().is_empty()),
    }
});
