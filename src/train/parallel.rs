//! The trainer's side of data-parallel training over K ranks (see `crate::distributed`).
//!
//! Each global mini-batch of m rows (the same shuffled rows on every rank, from the seed) is cut
//! into K contiguous parts; rank r computes E_r, the mean loss over its n_r rows, and ∂E_r/∂w.
//! With weights n_r/m, Σ_r (n_r/m)·∂E_r/∂w = ∂E/∂w for E the mean over all m rows: the gradient
//! of the single-process step, up to the order of the floating-point sums. The scaled gradients
//! are summed across ranks in buckets of about [`BUCKET_ELEMENTS`] numbers (the parameters in
//! reverse model order, whole parameters per bucket), the first bucket carrying (n_r/m)·E_r as
//! one more number so that the global batch's loss costs no extra message. Each bucket's sum
//! starts, non-blocking, as soon as backward has finished its gradients
//! ([`crate::autodiff::Var::backward_notify`]), so that it travels while backward computes the
//! earlier layers' (DDP's overlap); the sums are polled at each finished parameter, since MPI
//! moves them on only inside its calls. Penalties, clipping and the
//! update follow on every rank from the same summed gradient, so the weights stay equal bit for
//! bit; [`DataParallel::check_same_weights`] verifies it after each epoch.

use super::evaluate::{Evaluation, evaluate_module};
use crate::autodiff::{Gradients, Param, Var};
use crate::data::Dataset;
use crate::distributed::{Collective, FNV_OFFSET, PendingSum, fnv1a_f32};
use crate::loss::Loss;
use crate::nn::Module;
use crate::{Error, Result};
use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;
use std::time::Instant;

/// The numbers summed by one collective call (4 MB of f32): small enough that the first buckets
/// travel while later gradients are computed, large enough that each call's latency is
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

/// Where each parameter's gradient goes in the buckets that are summed across the ranks.
struct BucketPlan {
    /// Parameter id → (bucket, offset in it).
    slot: HashMap<usize, (usize, usize)>,
    /// Numbers per bucket (gradients only).
    sizes: Vec<usize>,
    /// Parameters per bucket.
    counts: Vec<usize>,
}

impl BucketPlan {
    /// Buckets of at least `bucket` numbers (the last may hold fewer), whole parameters each,
    /// filled with `params` (id, numel) from the last to the first; at least one bucket.
    fn new(params: impl DoubleEndedIterator<Item = (usize, usize)>, bucket: usize) -> BucketPlan {
        let mut plan = BucketPlan { slot: HashMap::new(), sizes: vec![0], counts: vec![0] };
        for (id, n) in params.rev() {
            if *plan.sizes.last().expect("one bucket") >= bucket {
                plan.sizes.push(0);
                plan.counts.push(0);
            }
            let b = plan.sizes.len() - 1;
            plan.slot.insert(id, (b, plan.sizes[b]));
            plan.sizes[b] += n;
            plan.counts[b] += 1;
        }
        plan
    }
}

/// Seconds of a rank's steps so far: backward (with the sums started during it), and the wait
/// after it for the sums to finish (the communication that backward did not hide, waits for
/// slower ranks included).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SumTiming {
    /// Steps timed.
    pub steps: usize,
    /// Seconds in backward, sums started and polled during it included.
    pub backward: f64,
    /// Seconds waiting for the sums after backward.
    pub exposed: f64,
}

impl SumTiming {
    fn add(self, backward: f64, exposed: f64) -> SumTiming {
        SumTiming { steps: self.steps + 1, backward: self.backward + backward, exposed: self.exposed + exposed }
    }
}

/// One rank's view of a data-parallel run: the collective, and the bucket size.
pub struct DataParallel {
    comm: Box<dyn Collective>,
    bucket: usize,
    timing: Cell<SumTiming>,
}

impl DataParallel {
    /// Data parallelism over `comm`'s ranks, with buckets of [`BUCKET_ELEMENTS`].
    pub fn new(comm: Box<dyn Collective>) -> DataParallel {
        DataParallel { comm, bucket: BUCKET_ELEMENTS, timing: Cell::new(SumTiming::default()) }
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

    /// The time of the steps so far in backward and in waiting for the gradient sums after it.
    pub fn timing(&self) -> SumTiming {
        self.timing.get()
    }

    /// Every rank's `value`, in rank order (a collective call: every rank makes it).
    pub fn all_gather(&self, value: u64) -> Vec<u64> {
        self.comm.all_gather(value)
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

    /// Back-propagates `e`, this rank's mean loss `loss` over `part` of the batch's `batch` rows,
    /// and returns the global batch's mean loss and the gradient of it: each rank's gradients,
    /// scaled by `part`/`batch`, summed across the ranks.
    ///
    /// The sums overlap backward, as in DDP: the parameters, in reverse model order (the order in
    /// which backward finishes them), are cut into buckets of about `bucket` numbers, whole
    /// parameters each; a bucket's sum starts as soon as its last gradient is final, in bucket
    /// order on every rank, so the additions and their order are the same in every step and run.
    /// The first bucket also carries the scaled loss, known before backward starts.
    ///
    /// Panics, naming it, if a parameter of `model` received no gradient (as the optimizer would).
    pub fn backward_and_sum(
        &self,
        e: &Var,
        model: &dyn Module,
        loss: f32,
        part: usize,
        batch: usize,
    ) -> (f32, Gradients) {
        self.backward_and_sum_params(e, &model.params(), loss, part, batch)
    }

    fn backward_and_sum_params(
        &self,
        e: &Var,
        params: &[(String, &Param)],
        loss: f32,
        part: usize,
        batch: usize,
    ) -> (f32, Gradients) {
        let weight = part as f32 / batch as f32;
        let plan = BucketPlan::new(params.iter().map(|(_, p)| (p.id(), p.value().numel())), self.bucket);
        let mut buffers: Vec<Vec<f32>> = plan.sizes.iter().map(|&n| vec![0.0; n]).collect();
        buffers[0].push(loss * weight);
        let mut waiting = plan.counts.clone();
        let mut sums: Vec<Box<dyn PendingSum + '_>> = Vec::with_capacity(buffers.len());
        let started = Instant::now();
        let mut grads = e.backward_notify(&mut |id, g| {
            let Some(&(b, offset)) = plan.slot.get(&id) else { return };
            let slot = &mut buffers[b][offset..offset + g.numel()];
            slot.iter_mut().zip(g.data()).for_each(|(s, &v)| *s = v * weight);
            waiting[b] -= 1;
            self.start_ready(&mut buffers, &waiting, &mut sums);
            sums.iter_mut().for_each(|s| {
                s.poll();
            });
        });
        let backward = started.elapsed().as_secs_f64();
        // a model without parameters: its one bucket, the loss, has waited for nothing
        self.start_ready(&mut buffers, &waiting, &mut sums);
        if sums.len() < waiting.len() {
            let (name, _) = params.iter().find(|(_, p)| grads.get_param(p).is_none()).expect("a bucket waits for one");
            panic!("gradient sum: parameter '{name}' received no gradient");
        }
        let waited = Instant::now();
        let summed: Vec<Vec<f32>> = sums.into_iter().map(|s| s.finish()).collect();
        self.timing.set(self.timing.get().add(backward, waited.elapsed().as_secs_f64()));
        for (_, p) in params {
            let (b, offset) = plan.slot[&p.id()];
            let g = grads.get_param_mut(p).expect("checked above").data_mut();
            g.copy_from_slice(&summed[b][offset..offset + g.len()]);
        }
        (summed[0][plan.sizes[0]], grads)
    }

    /// Starts, in bucket order, the sums of the buckets after the last started whose gradients
    /// are all in.
    fn start_ready<'a>(
        &'a self,
        buffers: &mut [Vec<f32>],
        waiting: &[usize],
        sums: &mut Vec<Box<dyn PendingSum + 'a>>,
    ) {
        while sums.len() < waiting.len() && waiting[sums.len()] == 0 {
            let b = sums.len();
            sums.push(self.comm.start_sum(std::mem::take(&mut buffers[b])));
        }
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
    use crate::tensor::Tensor;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// K ranks that all hold the same numbers: a sum is K times them. Started sums are recorded
    /// with the number of gradients that backward had finished by then.
    struct Copies {
        k: usize,
        started: Rc<RefCell<Vec<usize>>>,
    }

    struct Done(Vec<f32>);

    impl PendingSum for Done {
        fn poll(&mut self) -> bool {
            true
        }
        fn finish(self: Box<Self>) -> Vec<f32> {
            self.0
        }
    }

    impl Collective for Copies {
        fn rank(&self) -> usize {
            0
        }
        fn size(&self) -> usize {
            self.k
        }
        fn all_reduce_sum(&self, data: &mut [f32]) {
            data.iter_mut().for_each(|v| *v *= self.k as f32);
        }
        fn all_reduce_sum_f64(&self, data: &mut [f64]) {
            data.iter_mut().for_each(|v| *v *= self.k as f64);
        }
        fn broadcast(&self, _: &mut [f32]) {}
        fn all_gather(&self, value: u64) -> Vec<u64> {
            vec![value; self.k]
        }
        fn start_sum(&self, mut data: Vec<f32>) -> Box<dyn PendingSum + '_> {
            self.started.borrow_mut().push(data.len());
            self.all_reduce_sum(&mut data);
            Box::new(Done(data))
        }
    }

    #[test]
    fn buckets_hold_whole_parameters_from_the_last() {
        let plan = BucketPlan::new([(10, 4), (11, 3), (12, 5)].into_iter(), 6);
        assert_eq!(plan.sizes, vec![8, 4]);
        assert_eq!(plan.counts, vec![2, 1]);
        assert_eq!((plan.slot[&12], plan.slot[&11], plan.slot[&10]), ((0, 0), (0, 5), (1, 0)));
        let one = BucketPlan::new([(10, 4), (11, 3)].into_iter(), usize::MAX);
        assert_eq!((one.sizes, one.counts), (vec![7], vec![2]));
    }

    /// Two identical ranks each holding half of a batch: the summed gradient and loss are those of
    /// the whole batch (K · n_r/m = 1), and the buckets were handed over last parameter first,
    /// the loss in the first bucket.
    #[test]
    fn backward_and_sum_gives_the_global_gradient_bucket_by_bucket() {
        let a = Param::new(Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3]));
        let b = Param::new(Tensor::from_vec(vec![3.0], &[1]));
        let params = vec![("a".to_string(), &a), ("b".to_string(), &b)];
        let e = || a.var().mul(&a.var()).sum().mul(&b.var());
        let plain = e().backward();
        let started = Rc::new(RefCell::new(Vec::new()));
        let dp = DataParallel::new(Box::new(Copies { k: 2, started: started.clone() })).with_bucket(1);
        let (loss, grads) = dp.backward_and_sum_params(&e(), &params, 5.0, 3, 6);
        assert_eq!(loss, 5.0);
        assert_eq!(grads.get_param(&a).unwrap().data(), plain.get_param(&a).unwrap().data());
        assert_eq!(grads.get_param(&b).unwrap().data(), plain.get_param(&b).unwrap().data());
        assert_eq!(*started.borrow(), vec![2, 3]);
        assert_eq!(dp.timing().steps, 1);
    }

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
