//! [`ok`]: `Ok` with the error type fixed to [`Failure`], for the closures and `async`
//! blocks whose error type Rust cannot infer.

use super::Failure;

/// `Ok(value)` as a `Result<T, Failure>`: what a callback or an `async` block returns
/// when nothing else says which error it may fail with.
///
/// A closure or `async` block that ends with a plain `Ok(..)` leaves the error type open,
/// and Rust asks for `Ok::<_, Failure>(..)`; `ok(..)` says the same in two letters. `?`
/// inside still converts any `std::error::Error` into the [`Failure`].
///
/// ```
/// use torsion::defer::{ok, succeed, Deferred};
/// use torsion::Reactor;
///
/// let reactor = Reactor::new().unwrap();
/// let d: Deferred<String> = succeed(" 41 ".to_owned());
/// let parsed = reactor.ensure_deferred(async move {
///     let text = d.await?;             // a Failure goes on as it is
///     let n: u32 = text.trim().parse()?; // a ParseIntError becomes a Failure
///     ok(n + 1)                         // instead of Ok::<_, Failure>(n + 1)
/// });
/// assert_eq!(parsed.try_result().ok().unwrap().ok(), Some(42));
///
/// let logged = succeed(7).add_both(|result| {
///     println!("{}", result?);
///     ok(())
/// });
/// # let _ = logged;
/// ```
pub fn ok<T>(value: T) -> Result<T, Failure> {
    Ok(value)
}
