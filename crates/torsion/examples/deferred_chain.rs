//! The talks' first Deferred: a chain of callbacks that prints a string, upper-cases it,
//! and prints it again, fired by hand.
//!
//! Run it with `cargo run --example deferred_chain`. It prints:
//!
//! ```text
//! yo, uppercase me!
//! YO, UPPERCASE ME!
//! Finished
//! ```

use torsion::defer::{Deferred, Failure};

fn to_upper(s: String) -> Result<String, Failure> {
    Ok(s.to_uppercase())
}

fn print_foo(text: String) -> Result<String, Failure> {
    println!("{text}");
    Ok(text)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The chain holds a String from start to end, and the types say so.
    let (d, resolver) = Deferred::<String>::new();

    d.add_callback(print_foo)
        .add_callback(to_upper)
        .add_callback(print_foo);

    // Fire the chain with a normal result: every callback runs, in order, right now.
    resolver.callback("yo, uppercase me!".to_owned())?;

    println!("Finished");
    Ok(())
}
