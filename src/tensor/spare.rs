//! Spare buffers kept between calls of an op, so that a large per-batch buffer is not a fresh
//! allocation every time. The recurrent ops need several megabytes per batch (lstm-rows: the
//! gates alone are 28 × 128 × 512 floats); freed, the allocator hands those pages back to the
//! system, and taking them again cost a page fault and a cleared page per 4 KiB (or 2 MiB huge
//! page), serially, before the threads could start (6% of the epoch in `perf`).
//!
//! The buffers are per thread, at most [`KEEP`] of them: about one forward and backward pass's
//! working set of the op that used them last, freed with the thread. A taken buffer holds stale
//! values from its last use, never zeros: its user must write each value before reading it.

use std::cell::RefCell;

/// How many spare buffers a thread keeps (the LSTM's forward keeps four and its backward takes
/// two more).
const KEEP: usize = 8;

thread_local! {
    static SPARE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` floats: the smallest spare one that holds them, else a new one. Its values
/// are stale (whatever its last user left there, or zeros when new).
pub(crate) fn take(len: usize) -> Vec<f32> {
    let found = SPARE.with_borrow_mut(|spare| {
        let best = spare.iter().enumerate().filter(|(_, v)| v.capacity() >= len).min_by_key(|(_, v)| v.capacity());
        best.map(|(i, _)| i).map(|i| spare.swap_remove(i))
    });
    match found {
        Some(mut v) => {
            // the values below the old length were written before; only the rest are new
            if v.len() >= len {
                v.truncate(len);
            } else {
                v.resize(len, 0.0);
            }
            v
        }
        None => vec![0.0; len],
    }
}

/// Hands `v` back for a later [`take`]; with more than [`KEEP`] spare, the smallest is freed.
pub(crate) fn give(v: Vec<f32>) {
    SPARE.with_borrow_mut(|spare| {
        spare.push(v);
        if spare.len() > KEEP {
            let smallest = spare.iter().enumerate().min_by_key(|(_, v)| v.capacity()).map(|(i, _)| i);
            if let Some(i) = smallest {
                spare.swap_remove(i);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_comes_back_with_the_asked_length_and_the_pool_stays_bounded() {
        let mut v = take(1000);
        v[999] = 7.0;
        let ptr = v.as_ptr();
        give(v);
        // the same memory, shortened: no new allocation
        let w = take(500);
        assert_eq!((w.len(), w.as_ptr()), (500, ptr));
        give(w);
        // longer than its length but within its capacity: the new tail is zeros
        let x = take(1000);
        assert_eq!((x.len(), x.as_ptr(), x[999]), (1000, ptr, 0.0));
        give(x);
        // too large for any spare one: a new zeroed buffer
        let y = take(5000);
        assert!(y.iter().all(|&v| v == 0.0));
        for len in 0..2 * KEEP {
            give(vec![0.0; 10 + len]);
        }
        assert_eq!(SPARE.with_borrow(|s| s.len()), KEEP);
        // the largest were kept
        assert!(SPARE.with_borrow(|s| s.iter().all(|v| v.capacity() >= 10 + KEEP)));
    }
}
