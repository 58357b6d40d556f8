//! The team: threads that wait for the next parallel section of a training step by spinning, as
//! OpenMP's threads do, instead of going to sleep.
//!
//! A training step alternates short parallel sections (each large GEMM split in two, each weight
//! update in chunks, a convolution's batch chunks, pooling's planes) with short serial ones
//! (activations, softmax, the loss). Between two sections rayon's idle worker yields a few times
//! and then sleeps, and waking it costs several microseconds, several times per step. The team's
//! threads spin for [`SPIN`] after each section before they sleep, so the next section starts
//! within a microsecond (what that gains is in BENCHMARKS.md).
//!
//! [`run`] hands `parts` independent jobs to the calling thread and the team. When the team is
//! already held (another thread's training, parallel tests) or the caller is itself a rayon worker
//! (a GEMM inside a convolution's parallel loop), the parts go to rayon instead. Which thread runs
//! which part never changes a result: the parts write disjoint memory.

use rayon::prelude::*;
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The claim index of a closed generation, above any part count.
const CLOSED: u64 = 0xffff_ffff;

/// How long an idle team thread spins before it sleeps: longer than the serial stretches of a
/// training step (tens of µs), short enough that an idle program frees its cores at once.
const SPIN: Duration = Duration::from_micros(500);

/// A job with its lifetime erased; [`run`] keeps the real closure alive until every part is done.
type Job = dyn Fn(usize) + Sync + 'static;

struct Team {
    /// Team threads plus the caller.
    threads: usize,
    /// Taken by the one caller whose job the team runs.
    held: AtomicBool,
    /// The job's generation (high 32 bits) and its next unclaimed part (low 32 bits), in one word,
    /// so that a thread can only claim a part of the job whose generation it saw. Each job takes
    /// two generations: a closed one (index [`CLOSED`]) while `job` and `parts` are rewritten,
    /// then an open one.
    claim: AtomicU64,
    parts: AtomicUsize,
    done: AtomicUsize,
    /// The current job; rewritten only once every part of the previous one is done.
    job: UnsafeCell<*const Job>,
    /// The first panic of a part, handed back to the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is written by the holder before it publishes a generation and read by the other
// threads only after they claim a part of that generation; the holder waits until every claimed
// part is done before it writes `job` again.
unsafe impl Sync for Team {}

fn team() -> &'static Team {
    static TEAM: OnceLock<&'static Team> = OnceLock::new();
    TEAM.get_or_init(|| {
        let team: &'static Team = Box::leak(Box::new(Team {
            threads: rayon::current_num_threads(),
            held: AtomicBool::new(false),
            claim: AtomicU64::new(0),
            parts: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            job: UnsafeCell::new(&(|_| {}) as &Job as *const Job),
            panic: Mutex::new(None),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }));
        for i in 1..team.threads {
            std::thread::Builder::new()
                .name(format!("nabla-team-{i}"))
                .spawn(move || team.serve())
                .expect("nabla: cannot start a team thread");
        }
        team
    })
}

thread_local! {
    /// Whether this thread is running a part: a `run` inside a part (a GEMM inside one of a
    /// convolution's chunks) runs its parts in turn, since every thread is busy already.
    static IN_PART: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is running a part of a [`run`], so that a parallel section started
/// here would run its parts in turn on this thread.
pub(crate) fn in_part() -> bool {
    IN_PART.get()
}

/// How many items each block gets when `n` items are split into one block per thread, but no
/// block under `min` items (below that a hand-off costs more than it saves).
pub(crate) fn block_len(n: usize, min: usize) -> usize {
    n.div_ceil(rayon::current_num_threads()).max(min).max(1)
}

/// Runs `f(0)`, …, `f(parts − 1)` on the calling thread and the team, and returns when all are
/// done. A panic in a part is resumed here, after the other parts have finished.
pub(crate) fn run(parts: usize, f: &(dyn Fn(usize) + Sync)) {
    assert!((parts as u64) < CLOSED, "team: {parts} parts are too many");
    if parts <= 1 || IN_PART.get() {
        (0..parts).for_each(f);
        return;
    }
    let team = team();
    if team.threads < 2 || rayon::current_thread_index().is_some() || team.held.swap(true, Acquire) {
        (0..parts).into_par_iter().for_each(|i| as_part(f, i));
        return;
    }
    // Close the finished job before touching `parts`: a thread that read the old claim word and
    // then saw the new `parts` could otherwise claim a part of the new job under the old
    // generation, and that part would run twice. Once the word holds a closed generation (index
    // CLOSED) every such claim fails.
    let closed = (team.claim.load(Relaxed) >> 32) + 1;
    team.claim.store(closed << 32 | CLOSED, SeqCst);
    // SAFETY: only the lifetime is erased; this function returns (or unwinds) only once `done`
    // counts every part, so no thread calls `f` after it is gone.
    unsafe { *team.job.get() = std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const Job>(f) };
    team.parts.store(parts, Relaxed);
    team.done.store(0, Relaxed);
    let generation = closed + 1;
    team.claim.store(generation << 32, SeqCst);
    // paired with the SeqCst in `serve`: either this load sees the sleeper or the sleeper sees
    // the new generation
    if team.sleepers.load(SeqCst) > 0 {
        let _guard = team.lock.lock().unwrap_or_else(|e| e.into_inner());
        team.wake.notify_all();
    }
    team.work(generation);
    while team.done.load(Acquire) < parts {
        std::hint::spin_loop();
    }
    let panic = team.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    team.held.store(false, Release);
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
}

/// Runs `f` on every item, each a disjoint piece of work (say the row blocks of a step's
/// buffers), on the calling thread and the team.
pub(crate) fn for_each<T: Send>(items: Vec<T>, f: impl Fn(T) + Sync) {
    if items.len() <= 1 {
        items.into_iter().for_each(f);
        return;
    }
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|item| Mutex::new(Some(item))).collect();
    run(slots.len(), &|i| {
        let item = slots[i].lock().unwrap_or_else(|e| e.into_inner()).take();
        f(item.expect("each part runs once"));
    });
}

/// Calls `f(i)` with [`IN_PART`] set, and puts the flag back even when `f` panics.
fn as_part(f: &(dyn Fn(usize) + Sync), i: usize) {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_PART.set(self.0);
        }
    }
    let _restore = Restore(IN_PART.replace(true));
    f(i);
}

impl Team {
    /// Claims and runs parts of job `generation` until none is left.
    fn work(&self, generation: u64) {
        let mut claim = self.claim.load(Acquire);
        while claim >> 32 == generation && ((claim & 0xffff_ffff) as usize) < self.parts.load(Relaxed) {
            match self.claim.compare_exchange_weak(claim, claim + 1, AcqRel, Acquire) {
                Ok(_) => {
                    // SAFETY: the claimed part keeps the job alive until `done` counts it
                    let f = unsafe { &**self.job.get() };
                    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| as_part(f, (claim & 0xffff_ffff) as usize)))
                    {
                        self.panic.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(payload);
                    }
                    self.done.fetch_add(1, Release);
                    claim = self.claim.load(Acquire);
                }
                Err(now) => claim = now,
            }
        }
    }

    /// A team thread: waits for each new generation, spinning for [`SPIN`] and then sleeping.
    fn serve(&self) {
        let mut seen = 0;
        loop {
            let idle_since = Instant::now();
            let mut spins = 0u32;
            while self.claim.load(Acquire) >> 32 == seen {
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(64) && idle_since.elapsed() > SPIN {
                    let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
                    self.sleepers.fetch_add(1, SeqCst);
                    while self.claim.load(SeqCst) >> 32 == seen {
                        guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
                    }
                    self.sleepers.fetch_sub(1, SeqCst);
                }
                std::hint::spin_loop();
            }
            seen = self.claim.load(Acquire) >> 32;
            self.work(seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts_each_part_once(parts: usize) {
        let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
        run(parts, &|i| {
            hits[i].fetch_add(1, Relaxed);
        });
        assert!(hits.iter().all(|h| h.load(Relaxed) == 1), "{parts} parts: {hits:?}");
    }

    #[test]
    fn every_part_runs_exactly_once_and_the_team_takes_some() {
        for round in 0..200_000 {
            counts_each_part_once(round % 9);
        }
        // a machine with one core has no team; with more, a spinning team thread claims parts,
        // once no other test holds the team; parts of 10 µs let it join before the caller is done
        if team().threads > 1 {
            let on_team = AtomicUsize::new(0);
            let start = Instant::now();
            while on_team.load(Relaxed) == 0 && start.elapsed() < Duration::from_secs(10) {
                run(4, &|_| {
                    let part_start = Instant::now();
                    while part_start.elapsed() < Duration::from_micros(10) {}
                    if std::thread::current().name().is_some_and(|n| n.starts_with("nabla-team")) {
                        on_team.fetch_add(1, Relaxed);
                    }
                });
            }
            assert!(on_team.load(Relaxed) > 0, "no part ran on a team thread in 10 s");
        }
    }

    /// The long form of the test above, to run after any change to this file (`cargo test --lib
    /// team -- --ignored`): with the fix of 7ba9360 reverted, the 200,000 rounds above failed in
    /// 11 of 300 runs on a busy machine, these 20 million in 4 of 5.
    #[test]
    #[ignore]
    fn twenty_million_rounds_run_every_part_exactly_once() {
        for round in 0..20_000_000 {
            counts_each_part_once(round % 9);
        }
    }

    #[test]
    fn callers_on_many_threads_and_inside_rayon_all_finish() {
        // only one caller holds the team at a time; the others go to rayon
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..300).for_each(|i| counts_each_part_once(2 + i % 5)));
            }
        });
        (0..8usize).into_par_iter().for_each(|i| counts_each_part_once(3 + i));
    }

    #[test]
    fn a_run_inside_a_part_runs_its_parts_in_turn_on_that_thread() {
        let outer = AtomicUsize::new(0);
        run(3, &|_| {
            let me = std::thread::current().id();
            let inner = AtomicUsize::new(0);
            run(4, &|_| {
                assert_eq!(std::thread::current().id(), me);
                inner.fetch_add(1, Relaxed);
            });
            assert_eq!(inner.load(Relaxed), 4);
            outer.fetch_add(1, Relaxed);
        });
        assert_eq!(outer.load(Relaxed), 3);
    }

    #[test]
    fn a_panicking_part_reaches_the_caller_and_the_team_goes_on() {
        for _ in 0..20 {
            let caught = catch_unwind(|| {
                run(4, &|i| {
                    if i == 1 {
                        panic!("part one fails");
                    }
                })
            });
            let payload = caught.expect_err("the panic must reach the caller");
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"part one fails"));
            counts_each_part_once(5);
        }
    }
}
