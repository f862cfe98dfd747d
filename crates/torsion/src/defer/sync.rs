//! Coordination between Deferred-using code on one thread: [`DeferredLock`],
//! [`DeferredSemaphore`] and [`DeferredQueue`] (Twisted's names and rules).
//!
//! ```
//! use torsion::defer::{DeferredSemaphore, Deferred};
//!
//! // At most one job at a time: the second waits for the first to finish.
//! let sem = DeferredSemaphore::new(1).unwrap();
//! let (slow, finish) = Deferred::<&str>::new();
//! let first = sem.run(move || slow);
//! let second = sem.run(|| Ok("waited"));
//! assert!(!second.called());           // the only token is held by first...
//! finish.callback("slow").unwrap();    // ...until first's result is known
//! assert_eq!(first.try_result().ok().unwrap().ok(), Some("slow"));
//! assert_eq!(second.try_result().ok().unwrap().ok(), Some("waited"));
//! assert_eq!(sem.tokens(), 1);
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::rc::{Rc, Weak};

use super::{succeed, Deferred, Failure, IntoStep, Resolver};

/// A semaphore whose `acquire` returns a Deferred (Twisted's `DeferredSemaphore`).
///
/// Waiters are served in order. Cancelling a waiting `acquire` removes it from the line.
#[derive(Clone)]
pub struct DeferredSemaphore {
    shared: Rc<RefCell<Tokens>>,
}

/// A lock whose `acquire` returns a Deferred (Twisted's `DeferredLock`): a
/// [`DeferredSemaphore`] with one token.
#[derive(Clone, Debug)]
pub struct DeferredLock {
    semaphore: DeferredSemaphore,
}

/// A queue whose `get` returns a Deferred (Twisted's `DeferredQueue`), bounded both ways:
/// at most `size` items wait for a getter, at most `backlog` getters wait for an item.
pub struct DeferredQueue<T> {
    shared: Rc<RefCell<Queue<T>>>,
}

/// `put` on a full [`DeferredQueue`]: the item comes back (Twisted's `QueueOverflow`).
pub struct QueueOverflow<T> {
    /// The item that did not fit.
    pub item: T,
    /// The queue's size limit.
    pub size: usize,
}

/// `get` on a [`DeferredQueue`] whose backlog of waiting getters is full (Twisted's
/// `QueueUnderflow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueUnderflow {
    /// The queue's backlog limit.
    pub backlog: usize,
}

/// [`DeferredSemaphore::new`] with no tokens (Twisted raises `ValueError`): every caller
/// would wait forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoTokens;

/// `release` without a matching `acquire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleasedTooOften {
    /// The semaphore's token limit.
    pub limit: usize,
}

struct Tokens {
    limit: usize,
    available: usize,
    waiting: VecDeque<(u64, Resolver<()>)>,
    next_id: u64,
}

struct Queue<T> {
    items: VecDeque<T>,
    waiting: VecDeque<(u64, Resolver<T>)>,
    next_id: u64,
    size: usize,
    backlog: usize,
}

impl DeferredSemaphore {
    /// A semaphore with `tokens` tokens.
    ///
    /// # Errors
    /// [`NoTokens`] when `tokens` is 0, as Twisted raises `ValueError`: a semaphore
    /// without tokens would make every caller wait forever.
    pub fn new(tokens: usize) -> Result<DeferredSemaphore, NoTokens> {
        if tokens == 0 {
            return Err(NoTokens);
        }
        Ok(DeferredSemaphore::with_tokens(tokens))
    }

    /// A semaphore with `limit` tokens; `limit` is not zero.
    fn with_tokens(limit: usize) -> DeferredSemaphore {
        DeferredSemaphore {
            shared: Rc::new(RefCell::new(Tokens {
                limit,
                available: limit,
                waiting: VecDeque::new(),
                next_id: 0,
            })),
        }
    }

    /// A Deferred that fires when a token is taken for the caller.
    #[track_caller]
    pub fn acquire(&self) -> Deferred<()> {
        let mut s = self.shared.borrow_mut();
        if s.available > 0 {
            s.available -= 1;
            return succeed(());
        }
        let id = s.next_id;
        s.next_id += 1;
        let line: Weak<RefCell<Tokens>> = Rc::downgrade(&self.shared);
        let (d, resolver) = Deferred::with_canceller(move |_| {
            if let Some(shared) = line.upgrade() {
                shared
                    .borrow_mut()
                    .waiting
                    .retain(|(waiter, _)| *waiter != id);
            }
        });
        s.waiting.push_back((id, resolver));
        d
    }

    /// Gives a token back, handing it to the first waiter if there is one.
    pub fn release(&self) -> Result<(), ReleasedTooOften> {
        let next = {
            let mut s = self.shared.borrow_mut();
            match s.waiting.pop_front() {
                Some((_, resolver)) => resolver,
                None if s.available < s.limit => {
                    s.available += 1;
                    return Ok(());
                }
                None => return Err(ReleasedTooOften { limit: s.limit }),
            }
        };
        // Fired outside the borrow: the waiter's callbacks may acquire or release.
        let _ = next.callback(());
        Ok(())
    }

    /// Acquires, runs `f` (a value, an error or a Deferred), and releases when its
    /// result is known, whatever it is.
    #[track_caller]
    pub fn run<R, F>(&self, f: F) -> Deferred<R::Output>
    where
        R: IntoStep,
        F: FnOnce() -> R + 'static,
    {
        let semaphore = self.clone();
        self.acquire()
            .add_callback(move |()| f())
            .add_both(move |result| {
                semaphore.release().map_err(Failure::new)?;
                result
            })
    }

    /// Tokens free now.
    pub fn tokens(&self) -> usize {
        self.shared.borrow().available
    }

    /// The number of tokens the semaphore was made with.
    pub fn limit(&self) -> usize {
        self.shared.borrow().limit
    }

    /// Callers waiting for a token.
    pub fn waiting(&self) -> usize {
        self.shared.borrow().waiting.len()
    }
}

impl DeferredLock {
    /// An unlocked lock.
    pub fn new() -> DeferredLock {
        DeferredLock {
            semaphore: DeferredSemaphore::with_tokens(1),
        }
    }

    /// A Deferred that fires when the lock is taken for the caller.
    #[track_caller]
    pub fn acquire(&self) -> Deferred<()> {
        self.semaphore.acquire()
    }

    /// Releases the lock, handing it to the first waiter if there is one.
    pub fn release(&self) -> Result<(), ReleasedTooOften> {
        self.semaphore.release()
    }

    /// True while someone holds the lock.
    pub fn locked(&self) -> bool {
        self.semaphore.tokens() == 0
    }

    /// Callers waiting for the lock (the length of Twisted's `waiting` list).
    pub fn waiting(&self) -> usize {
        self.semaphore.waiting()
    }

    /// Takes the lock, runs `f`, and releases it when `f`'s result is known.
    #[track_caller]
    pub fn run<R, F>(&self, f: F) -> Deferred<R::Output>
    where
        R: IntoStep,
        F: FnOnce() -> R + 'static,
    {
        self.semaphore.run(f)
    }
}

impl Default for DeferredLock {
    fn default() -> Self {
        DeferredLock::new()
    }
}

impl<T: 'static> DeferredQueue<T> {
    /// Default limit on items waiting for a getter.
    pub const DEFAULT_SIZE: usize = 65_536;
    /// Default limit on getters waiting for an item.
    pub const DEFAULT_BACKLOG: usize = 65_536;

    /// A queue with the default limits.
    pub fn new() -> DeferredQueue<T> {
        DeferredQueue::with_limits(Self::DEFAULT_SIZE, Self::DEFAULT_BACKLOG)
    }

    /// A queue holding at most `size` items and `backlog` waiting getters.
    pub fn with_limits(size: usize, backlog: usize) -> DeferredQueue<T> {
        DeferredQueue {
            shared: Rc::new(RefCell::new(Queue {
                items: VecDeque::new(),
                waiting: VecDeque::new(),
                next_id: 0,
                size,
                backlog,
            })),
        }
    }

    /// Gives `item` to the first waiting getter, or keeps it; a full queue gives it back.
    pub fn put(&self, item: T) -> Result<(), QueueOverflow<T>> {
        let getter = {
            let mut q = self.shared.borrow_mut();
            match q.waiting.pop_front() {
                Some((_, getter)) => getter,
                None if q.items.len() < q.size => {
                    q.items.push_back(item);
                    return Ok(());
                }
                None => return Err(QueueOverflow { item, size: q.size }),
            }
        };
        let _ = getter.callback(item);
        Ok(())
    }

    /// A Deferred for the next item. Cancelling it gives up its place in line.
    ///
    /// # Errors
    /// [`QueueUnderflow`] at the call when `backlog` getters already wait, as Twisted's
    /// `get` raises it rather than returning a failed Deferred.
    #[track_caller]
    pub fn get(&self) -> Result<Deferred<T>, QueueUnderflow> {
        let mut q = self.shared.borrow_mut();
        if let Some(item) = q.items.pop_front() {
            return Ok(succeed(item));
        }
        if q.waiting.len() >= q.backlog {
            return Err(QueueUnderflow { backlog: q.backlog });
        }
        let id = q.next_id;
        q.next_id += 1;
        let line = Rc::downgrade(&self.shared);
        let (d, resolver) = Deferred::with_canceller(move |_| {
            if let Some(shared) = line.upgrade() {
                shared
                    .borrow_mut()
                    .waiting
                    .retain(|(getter, _)| *getter != id);
            }
        });
        q.waiting.push_back((id, resolver));
        Ok(d)
    }

    /// Items waiting for a getter (the length of Twisted's `pending`); same as
    /// [`len`](DeferredQueue::len).
    pub fn pending(&self) -> usize {
        self.len()
    }

    /// Calls `f` with the items waiting for a getter, oldest first (Twisted's `pending`
    /// list), without taking them.
    pub fn inspect_pending<R>(&self, f: impl FnOnce(&mut dyn Iterator<Item = &T>) -> R) -> R {
        f(&mut self.shared.borrow().items.iter())
    }

    /// Items waiting for a getter.
    pub fn len(&self) -> usize {
        self.shared.borrow().items.len()
    }

    /// True when no item waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Getters waiting for an item.
    pub fn waiting(&self) -> usize {
        self.shared.borrow().waiting.len()
    }
}

impl<T: 'static> Default for DeferredQueue<T> {
    fn default() -> Self {
        DeferredQueue::new()
    }
}

impl<T> Clone for DeferredQueue<T> {
    fn clone(&self) -> Self {
        DeferredQueue {
            shared: self.shared.clone(),
        }
    }
}

impl fmt::Debug for DeferredSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared.borrow();
        f.debug_struct("DeferredSemaphore")
            .field("limit", &s.limit)
            .field("available", &s.available)
            .field("waiting", &s.waiting.len())
            .finish()
    }
}

impl<T> fmt::Debug for DeferredQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = self.shared.borrow();
        f.debug_struct("DeferredQueue")
            .field("items", &q.items.len())
            .field("waiting", &q.waiting.len())
            .field("size", &q.size)
            .field("backlog", &q.backlog)
            .finish()
    }
}

impl<T> fmt::Debug for QueueOverflow<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueOverflow")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for QueueOverflow<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deferred queue full: {} items waiting (max {})",
            self.size, self.size
        )
    }
}

impl<T> Error for QueueOverflow<T> {}

impl fmt::Display for QueueUnderflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deferred queue backlog full: {} getters waiting (max {})",
            self.backlog, self.backlog
        )
    }
}

impl Error for QueueUnderflow {}

impl fmt::Display for ReleasedTooOften {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "semaphore released more often than acquired (limit {} tokens)",
            self.limit
        )
    }
}

impl Error for ReleasedTooOften {}

impl fmt::Display for NoTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deferred semaphore: a semaphore needs at least one token")
    }
}

impl Error for NoTokens {}
