//! The timer queue's priority queue: a 4-ary min-heap of `(deadline, order, call)`.
//!
//! Why not `std::collections::BinaryHeap`: with a million timers the heap is tens of
//! megabytes and every pop walks it from the root to a leaf, one cache miss per level.
//! Four children per node halve the depth (10 levels instead of 20 for a million), and
//! the four children of a node lie side by side in memory, so each level costs about one
//! miss (two adjacent lines at most) instead of one for each of two levels. Keys are
//! plain integers (nanoseconds and a sequence number), so a comparison is two `cmp`s.

use std::rc::Rc;

use super::queue::Call;

/// One scheduled run of a call: its key, and the call it leads to.
pub(super) struct Entry {
    /// Deadline in nanoseconds on the queue's clock (saturated at `u64::MAX`, 584 years).
    pub(super) at: u64,
    /// Scheduling order: breaks ties so equal deadlines run first-scheduled first.
    pub(super) seq: u64,
    pub(super) call: Rc<Call>,
}

/// A min-heap on `(at, seq)` with four children per node.
///
/// The indexing below stays in bounds by construction: a parent index is below its
/// child's, and children are only visited while below `len`.
#[derive(Default)]
pub(super) struct Heap {
    entries: Vec<Entry>,
}

impl Heap {
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    /// The entry with the smallest key.
    pub(super) fn peek(&self) -> Option<&Entry> {
        self.entries.first()
    }

    pub(super) fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
        self.sift_up(self.entries.len() - 1);
    }

    /// Takes the entry with the smallest key.
    pub(super) fn pop(&mut self) -> Option<Entry> {
        let last = self.entries.pop()?;
        let Some(root) = self.entries.first_mut() else {
            return Some(last); // It was the only entry.
        };
        let top = std::mem::replace(root, last);
        self.sift_down(0);
        Some(top)
    }

    /// Keeps only the entries `keep` accepts, and restores the heap order in O(n).
    pub(super) fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
        self.entries.retain(keep);
        for i in (0..self.entries.len().div_ceil(ARITY)).rev() {
            self.sift_down(i);
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        let entries = &mut self.entries;
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if entries[parent].key() <= entries[i].key() {
                break;
            }
            entries.swap(parent, i);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let entries = &mut self.entries;
        let len = entries.len();
        loop {
            let first = i * ARITY + 1;
            if first >= len {
                return;
            }
            // The smallest of the (up to four) children.
            let mut min = first;
            for child in first + 1..(first + ARITY).min(len) {
                if entries[child].key() < entries[min].key() {
                    min = child;
                }
            }
            if entries[i].key() <= entries[min].key() {
                return;
            }
            entries.swap(i, min);
            i = min;
        }
    }
}

impl Entry {
    /// The heap order: deadline, then scheduling order.
    fn key(&self) -> (u64, u64) {
        (self.at, self.seq)
    }
}

/// Children per node.
const ARITY: usize = 4;
