//! The buffers of the hot path: one read buffer per reactor thread, lent to whichever
//! connection is reading, and a write buffer per connection that holds only what the
//! socket pushed back.
//!
//! An idle connection holds no read buffer at all, and a connection whose writes the
//! socket always took holds an empty `Vec` (no allocation): memory follows backlog, not
//! connection count.

use std::cell::Cell;

/// The size of the shared read buffer: one `read` takes at most this much.
pub(crate) const READ_BUFFER_SIZE: usize = 64 * 1024;

/// A write buffer that drained keeps at most this much capacity, so a burst does not pin
/// memory on an idle connection.
const KEEP_CAPACITY: usize = 16 * 1024;

thread_local! {
    /// The read buffer of this thread's reactor (one reactor per thread). Taken while a
    /// connection reads and its protocol handles the bytes, then put back: a nested read
    /// on the same thread (none happens today) would allocate its own.
    static READ_BUFFER: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
}

/// Lends the thread's read buffer to `f`.
pub(crate) fn with_read_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    let mut buf = READ_BUFFER
        .take()
        .unwrap_or_else(|| vec![0; READ_BUFFER_SIZE].into_boxed_slice());
    let result = f(&mut buf);
    READ_BUFFER.set(Some(buf));
    result
}

/// Bytes written but not yet sent: a `Vec` consumed from the front.
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    data: Vec<u8>,
    /// How much of `data` was sent already.
    head: usize,
}

impl WriteBuffer {
    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.data.len() - self.head
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes waiting, oldest first.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.data[self.head..]
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    /// Forgets the first `n` waiting bytes (the socket took them).
    pub(crate) fn consume(&mut self, n: usize) {
        self.head += n.min(self.len());
        if self.head == self.data.len() {
            self.data.clear();
            self.head = 0;
            if self.data.capacity() > KEEP_CAPACITY {
                self.data.shrink_to(KEEP_CAPACITY);
            }
        } else if self.head >= KEEP_CAPACITY && self.head * 2 >= self.data.len() {
            // Move the tail down once the sent part is the larger half: each byte moves
            // at most about once on average.
            self.data.drain(..self.head);
            self.head = 0;
        }
    }

    /// Drops everything (an aborted connection).
    pub(crate) fn clear(&mut self) {
        self.data = Vec::new();
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consuming_keeps_order_and_releases_memory_when_drained() {
        let mut buf = WriteBuffer::default();
        buf.push(&[1; 100_000]);
        buf.push(&[2; 10]);
        buf.consume(60_000);
        assert_eq!(buf.len(), 40_010);
        assert_eq!(buf.as_slice()[39_999..40_001], [1, 2]);
        buf.consume(40_010);
        assert!(buf.is_empty());
        assert!(buf.data.capacity() <= KEEP_CAPACITY);
    }

    #[test]
    fn the_read_buffer_is_reused() {
        let first = with_read_buffer(|b| b.as_ptr() as usize);
        let second = with_read_buffer(|b| b.as_ptr() as usize);
        assert_eq!(first, second);
    }
}
