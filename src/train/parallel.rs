//! The trainer's side of data-parallel training over K ranks (see `crate::distributed`).
//!
//! Each global mini-batch of m rows (the same shuffled rows on every rank, from the seed) is cut
//! into K contiguous parts; rank r computes E_r, the mean loss over its n_r rows, and ∂E_r/∂w.
//! With weights n_r/m, Σ_r (n_r/m)·∂E_r/∂w = ∂E/∂w for E the mean over all m rows: the gradient
//! of the single-process step, up to the order of the floating-point sums. The scaled gradients
//! are summed across ranks in buckets of about [`BUCKET_ELEMENTS`] numbers (the parameters in
//! model order, whole parameters per bucket), the last bucket carrying (n_r/m)·E_r as one more
//! number so that the global batch's loss costs no extra message. Penalties, clipping and the
//! update follow on every rank from the same summed gradient, so the weights stay equal bit for
//! bit; [`DataParallel::check_same_weights`] verifies it after each epoch.
//!
//! The sums start after backward has finished, not while it runs: overlapping them would need
//! MPI calls from a second thread while the team computes (or a progress hook inside backward),
//! and on the shared-memory transport a 2-rank sum of an MLP's gradient is a small part of a
//! step (docs/distributed.md has the figures).

use super::evaluate::{Evaluation, evaluate_module};
use crate::autodiff::Gradients;
use crate::data::Dataset;
use crate::distributed::{Collective, FNV_OFFSET, fnv1a_f32};
use crate::loss::Loss;
use crate::nn::Module;
use crate::{Error, Result};
use std::cell::Cell;
use std::ops::Range;
use std::time::Instant;

/// The numbers summed by one collective call (4 MB of f32): small enough that the first buckets
/// could travel while later gradients are computed, large enough that each call's latency is
/// paid over many numbers. PyTorch's DDP uses 25 MB; nabla's nets are smaller.
pub const BUCKET_ELEMENTS: usize = 1 << 20;

/// The rows `rank` of `k` gets out of `n`: contiguous ranges, in rank order, whose sizes differ by
/// at most one.
pub fn shard(n: usize, rank: usize, k: usize) -> Range<usize> {
    let k = k.max(1);
    let (base, extra) = (n / k, n % k);
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

/// One rank's view of a data-parallel run: the collective, and the bucket size.
pub struct DataParallel {
    comm: Box<dyn Collective>,
    bucket: usize,
    /// Seconds spent in the gradient sums so far (waiting for slower ranks included).
    sum_seconds: Cell<f64>,
}

impl DataParallel {
    /// Data parallelism over `comm`'s ranks, with buckets of [`BUCKET_ELEMENTS`].
    pub fn new(comm: Box<dyn Collective>) -> DataParallel {
        DataParallel { comm, bucket: BUCKET_ELEMENTS, sum_seconds: Cell::new(0.0) }
    }

    /// The same with buckets of `elements` numbers (at least 1).
    pub fn with_bucket(mut self, elements: usize) -> DataParallel {
        self.bucket = elements.max(1);
        self
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// K, the number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// Seconds spent in the gradient sums of the steps so far, waits for slower ranks included.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_seconds.get()
    }

    /// This rank's part of a batch of `n` rows: positions in the batch.
    pub fn part(&self, n: usize) -> Range<usize> {
        shard(n, self.rank(), self.size())
    }

    /// Gives every rank rank 0's weights.
    pub fn broadcast_weights(&self, model: &mut dyn Module) {
        for (_, p) in model.params_mut() {
            self.comm.broadcast(p.value_mut().data_mut());
        }
    }

    /// Replaces this rank's gradients (of its mean loss `loss` over `part` of the batch's `batch`
    /// rows) by the gradient of the global batch's mean loss, and returns that loss.
    ///
    /// Panics, naming it, if a parameter of `model` received no gradient (as the optimizer would).
    pub fn reduce_gradients(
        &self,
        model: &dyn Module,
        grads: &mut Gradients,
        loss: f32,
        part: usize,
        batch: usize,
    ) -> f32 {
        let weight = part as f32 / batch as f32;
        let params = model.params();
        let mut buffer = Vec::with_capacity(self.bucket + 1);
        let mut first = 0;
        for (i, (name, p)) in params.iter().enumerate() {
            let g =
                grads.get_param(p).unwrap_or_else(|| panic!("gradient sum: parameter '{name}' received no gradient"));
            buffer.extend(g.data().iter().map(|&v| v * weight));
            let last = i + 1 == params.len();
            if buffer.len() >= self.bucket || last {
                if last {
                    buffer.push(loss * weight);
                }
                let started = Instant::now();
                self.comm.all_reduce_sum(&mut buffer);
                self.sum_seconds.set(self.sum_seconds.get() + started.elapsed().as_secs_f64());
                let mut offset = 0;
                for (_, q) in &params[first..=i] {
                    let g = grads.get_param_mut(q).expect("checked above").data_mut();
                    g.copy_from_slice(&buffer[offset..offset + g.len()]);
                    offset += g.len();
                }
                first = i + 1;
                if last {
                    return buffer[offset];
                }
                buffer.clear();
            }
        }
        // a model without parameters: the loss alone
        let mut sum = [loss * weight];
        self.comm.all_reduce_sum(&mut sum);
        sum[0]
    }

    /// The `loss` and accuracy of `model` on `data`, each rank evaluating its shard of the rows.
    pub fn evaluate(&self, model: &mut dyn Module, loss: Loss, data: &Dataset, batch_size: usize) -> Evaluation {
        let rows = shard(data.len(), self.rank(), self.size());
        let mine = evaluate_module(model, loss, data, rows.clone(), batch_size);
        if mine.regression.is_some() {
            // R² needs the whole set's target variance: every rank scores every row instead
            return evaluate_module(model, loss, data, 0..data.len(), batch_size);
        }
        let n = rows.len() as f64;
        let mut sums = [mine.loss as f64 * n, mine.accuracy.map_or(0.0, |a| (a as f64 * n).round())];
        self.comm.all_reduce_sum_f64(&mut sums);
        let total = data.len().max(1) as f64;
        let accuracy = mine.accuracy.map(|_| (sums[1] / total) as f32);
        Evaluation { loss: (sums[0] / total) as f32, accuracy, regression: None }
    }

    /// An error naming the ranks whose weights differ from rank 0's after `epoch` (they would if
    /// a sum gave different bits on different ranks).
    pub fn check_same_weights(&self, model: &dyn Module, epoch: usize) -> Result<()> {
        let hash = model.params().iter().fold(FNV_OFFSET, |h, (_, p)| fnv1a_f32(h, p.value().data()));
        let hashes = self.comm.all_gather(hash);
        let differ: Vec<usize> = (1..hashes.len()).filter(|&r| hashes[r] != hashes[0]).collect();
        if differ.is_empty() {
            return Ok(());
        }
        Err(Error::config(format!(
            "after epoch {epoch} the weights of rank(s) {differ:?} differ from rank 0's: the gradient sums gave \
             different bits on different ranks"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_rows_in_order_and_differ_by_at_most_one() {
        for (n, k) in [(128, 2), (129, 2), (10, 3), (3, 4), (0, 2), (7, 1)] {
            let parts: Vec<_> = (0..k).map(|r| shard(n, r, k)).collect();
            assert_eq!(parts[0].start, 0);
            assert_eq!(parts[k - 1].end, n);
            assert!(parts.windows(2).all(|w| w[0].end == w[1].start), "{n}, {k}: {parts:?}");
            let lens: Vec<_> = parts.iter().map(|p| p.len()).collect();
            assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1, "{n}, {k}: {lens:?}");
        }
    }
}
