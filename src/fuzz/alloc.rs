//! [`CappedAlloc`]: a global allocator wrapper that turns an allocation above a cap into a report
//! and an abort, so that a fuzz case which makes a reader allocate gigabytes fails at once, named,
//! instead of swapping the machine or being killed without a word.
//!
//! The caps are process-wide and off (`usize::MAX`) until [`set_caps`] sets them: the `nabla`
//! binary wraps its allocator in this type and pays one relaxed load and compare per allocation
//! for it; the live-bytes count (one atomic add per allocation and free) runs only while a live
//! cap is set.

use std::alloc::{GlobalAlloc, Layout};
use std::io::Write;
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering::Relaxed};

static MAX_ALLOC: AtomicUsize = AtomicUsize::new(usize::MAX);
static MAX_LIVE: AtomicUsize = AtomicUsize::new(usize::MAX);
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// What the fuzzer is running now: (format index, seed, case), printed with an over-cap report.
static CASE: [AtomicU64; 3] = [AtomicU64::new(u64::MAX), AtomicU64::new(0), AtomicU64::new(0)];

/// Sets the largest single allocation and the most bytes live at once; above either the process
/// prints the fuzz case running and aborts. `usize::MAX` turns a cap off.
pub fn set_caps(max_alloc: usize, max_live: usize) {
    MAX_ALLOC.store(max_alloc, Relaxed);
    MAX_LIVE.store(max_live, Relaxed);
}

/// Records the case being run, for the report of an allocation over the cap.
pub(super) fn set_case(format: usize, seed: u64, case: u64) {
    CASE[0].store(format as u64, Relaxed);
    CASE[1].store(seed, Relaxed);
    CASE[2].store(case, Relaxed);
}

/// A global allocator `A` with the caps of [`set_caps`].
pub struct CappedAlloc<A>(pub A);

impl<A> CappedAlloc<A> {
    fn admit(&self, size: usize, freed: usize) {
        if size > MAX_ALLOC.load(Relaxed) {
            over_cap("an allocation", size);
        }
        let max_live = MAX_LIVE.load(Relaxed);
        if max_live != usize::MAX {
            let delta = size as isize - freed as isize;
            let live = LIVE.fetch_add(delta, Relaxed) + delta;
            if live > 0 && live as usize > max_live {
                over_cap("live memory", live as usize);
            }
        }
    }

    fn release(&self, size: usize) {
        if MAX_LIVE.load(Relaxed) != usize::MAX {
            LIVE.fetch_sub(size as isize, Relaxed);
        }
    }
}

/// Prints what went over which cap in which case, without allocating, and aborts.
#[cold]
fn over_cap(what: &str, bytes: usize) -> ! {
    let mut buf = [0u8; 320];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let format = CASE[0].load(Relaxed);
    let name = super::Format::ALL.get(format as usize).map_or("none", |f| f.name());
    let _ = writeln!(
        cursor,
        "nabla fuzz: {what} of {bytes} bytes is over the cap (one allocation {}, live {}); \
         format {name}, seed {}, case {} (rerun it with `nabla fuzz --format {name} --seed {} --first {} --cases 1`)",
        MAX_ALLOC.load(Relaxed),
        MAX_LIVE.load(Relaxed),
        CASE[1].load(Relaxed),
        CASE[2].load(Relaxed),
        CASE[1].load(Relaxed),
        CASE[2].load(Relaxed),
    );
    let n = cursor.position() as usize;
    let _ = std::io::stderr().write_all(&buf[..n]);
    std::process::abort()
}

// SAFETY: every call is forwarded to `A` with the same layout and pointer; the checks before it
// only read and count sizes (and abort, which never returns a pointer).
unsafe impl<A: GlobalAlloc> GlobalAlloc for CappedAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.admit(layout.size(), 0);
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.admit(layout.size(), 0);
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.release(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.admit(new_size, layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}
