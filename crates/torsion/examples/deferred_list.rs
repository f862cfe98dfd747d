//! Waiting on several Deferreds at once: `DeferredList` reports every result in the
//! order the Deferreds were given, whatever order they fire in; `gather_results` gives
//! just the values, or the first failure.
//!
//! Run it with `cargo run --example deferred_list`. It prints:
//!
//! ```text
//! fired: mail
//! fired: weather
//! fired: news
//! 0 news: success, 3 headlines
//! 1 weather: failure, station offline
//! 2 mail: success, 12 messages
//! gathered: 1 + 2 + 3 = 6
//! ```

use torsion::defer::{gather_results, Deferred, DeferredList, Failure, Resolver};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sources = ["news", "weather", "mail"];
    let (deferreds, resolvers): (Vec<Deferred<String>>, Vec<Resolver<String>>) =
        sources.iter().map(|_| Deferred::new()).unzip();

    DeferredList::new(deferreds)
        .consume_errors()
        .into_deferred()
        .add_callback(move |results| {
            for (i, (source, result)) in sources.iter().zip(results).enumerate() {
                match result {
                    Ok(value) => println!("{i} {source}: success, {value}"),
                    Err(failure) => println!("{i} {source}: failure, {}", failure.error_message()),
                }
            }
            Ok(())
        });

    // The answers arrive in their own order; one of them is a failure.
    println!("fired: mail");
    resolvers[2].callback("12 messages".to_owned())?;
    println!("fired: weather");
    resolvers[1].errback(Failure::msg("station offline"))?;
    println!("fired: news");
    resolvers[0].callback("3 headlines".to_owned())?;

    // gather_results: the values alone, in order.
    let (late, late_resolver) = Deferred::new();
    gather_results(vec![
        torsion::defer::succeed(1),
        late,
        torsion::defer::succeed(3),
    ])
    .add_callback(|numbers| {
        let total: i32 = numbers.iter().sum();
        println!("gathered: 1 + 2 + 3 = {total}");
        Ok(())
    });
    late_resolver.callback(2)?;
    Ok(())
}
