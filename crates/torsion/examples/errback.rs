//! The talks' errback: a callback fails on a value it cannot handle, the chain switches
//! to its errback, and the errback turns the failure back into a value.
//!
//! Run it with `cargo run --example errback`. It prints:
//!
//! ```text
//! YO, UPPERCASE ME!
//! CAUGHT: 1 is a number: it has no upper case
//! ```

use std::error::Error;
use std::fmt;

use torsion::defer::{Deferred, Failure, Resolver};

/// What the chain carries: Python's talk fires it with an int instead of a str; in Rust
/// the type says up front that either may come.
#[derive(Debug)]
enum Value {
    Text(String),
    Number(i64),
}

/// The error `to_upper` fails with.
#[derive(Debug)]
struct NoUpperCase(i64);

impl fmt::Display for NoUpperCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is a number: it has no upper case", self.0)
    }
}

impl Error for NoUpperCase {}

fn to_upper(value: Value) -> Result<String, Failure> {
    match value {
        Value::Text(s) => Ok(s.to_uppercase()),
        Value::Number(n) => Err(NoUpperCase(n).into()),
    }
}

fn handle_error(error: Failure) -> Result<String, Failure> {
    Ok(format!("CAUGHT: {}", error.error_message()))
}

fn print_foo(text: String) -> Result<String, Failure> {
    println!("{text}");
    Ok(text)
}

/// A callback, and an errback to run if something went wrong.
fn chain() -> Resolver<Value> {
    let (d, resolver) = Deferred::<Value>::new();
    d.add_callback(to_upper)
        .add_errback(handle_error)
        .add_callback(print_foo);
    resolver
}

fn main() -> Result<(), Box<dyn Error>> {
    // Fired with text, the callbacks run and the errback is skipped.
    chain().callback(Value::Text("yo, uppercase me!".to_owned()))?;
    // Fired with a number rather than a string, to_upper fails and the errback catches it.
    chain().callback(Value::Number(1))?;
    Ok(())
}
