//! Deferred (placeholder while the chain is written).

/// A promise of a value of type `T` or a [`Failure`].
#[derive(Debug)]
pub struct Deferred<T>(std::marker::PhantomData<T>);

/// Any error, with where it was created.
#[derive(Debug)]
pub struct Failure;
