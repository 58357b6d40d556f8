//! Data-parallel training over K cooperating processes (ranks), the way PyTorch's
//! DistributedDataParallel does it: every rank holds the whole model, computes the gradient of
//! its part of each global mini-batch, and the parts' gradients are summed across ranks before
//! every rank applies the same update.
//!
//! This module is the transport: a [`Collective`] (sum, broadcast, gather over the ranks), over
//! MPI in `mpi.rs` (cargo feature `mpi`). The trainer's side (each rank's part of a batch, the
//! gradient buckets, evaluation split across ranks) is `crate::train::DataParallel`. This file
//! builds without MPI, so that the default binary can say what it lacks when `mpirun` starts it
//! ([`launcher_world_size`]).

#[cfg(feature = "mpi")]
mod mpi;

#[cfg(feature = "mpi")]
pub use mpi::{MpiJob, MpiWorld};

/// The collective operations that data parallelism needs, over the K ranks of a job. Every rank
/// calls the same operations in the same order with buffers of the same length; a call returns
/// when every rank has made it.
pub trait Collective {
    /// This process's rank, 0 ≤ rank < size.
    fn rank(&self) -> usize;
    /// K, the number of ranks.
    fn size(&self) -> usize;
    /// Replaces `data` by its element-wise sum over the ranks. Every rank receives the same bits
    /// (the sum is computed in an order that depends on K and the lengths alone).
    fn all_reduce_sum(&self, data: &mut [f32]);
    /// As [`Collective::all_reduce_sum`], in f64 (counts and loss sums of an evaluation).
    fn all_reduce_sum_f64(&self, data: &mut [f64]);
    /// Replaces `data` on every rank by rank 0's.
    fn broadcast(&self, data: &mut [f32]);
    /// Every rank's `value`, in rank order.
    fn all_gather(&self, value: u64) -> Vec<u64>;
    /// Starts [`Collective::all_reduce_sum`] of `data` and returns at once, so that the caller
    /// computes while the numbers travel. Every rank starts its sums in the same order, and the
    /// bits are those the blocking sum of the same length would give on every rank.
    fn start_sum(&self, data: Vec<f32>) -> Box<dyn PendingSum + '_>;
}

/// A sum started by [`Collective::start_sum`] and still in flight.
pub trait PendingSum {
    /// Lets the sum advance (MPI moves non-blocking collectives on only inside its own calls)
    /// and says whether it has finished.
    fn poll(&mut self) -> bool;
    /// Waits for the sum to finish and returns it.
    fn finish(self: Box<Self>) -> Vec<f32>;
}

/// The environment variables through which launchers tell a process how many processes its job
/// has: Open MPI's `mpirun`, MPICH/Hydra and Slurm's PMI, and a Slurm job step (`srun`).
pub const LAUNCHER_SIZE_VARIABLES: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"];

/// The number of processes that a launcher (`mpirun -np K`, `srun -n K`) started alongside this
/// one, with the variable that says so; `None` outside a launcher.
pub fn launcher_world_size() -> Option<(usize, &'static str)> {
    world_size_from(|var| std::env::var(var).ok())
}

/// [`launcher_world_size`] with the environment read through `lookup`: the first of
/// [`LAUNCHER_SIZE_VARIABLES`] that holds a number.
fn world_size_from(lookup: impl Fn(&str) -> Option<String>) -> Option<(usize, &'static str)> {
    LAUNCHER_SIZE_VARIABLES.iter().find_map(|&var| lookup(var)?.trim().parse().ok().map(|k| (k, var)))
}

/// FNV-1a, 64 bits: a hash that is the same on every host and build, for comparing settings,
/// binaries and weights across ranks (not for security).
pub fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// [`fnv1a`] over the bits of f32 values, a word at a time (a data set's hundreds of megabytes in
/// a fraction of a second).
pub fn fnv1a_f32(hash: u64, values: &[f32]) -> u64 {
    values.iter().fold(hash, |h, v| (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3))
}

/// The starting value of [`fnv1a`].
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

#[cfg(test)]
mod tests {
    use super::*;

    fn size_in(vars: &[(&str, &str)]) -> Option<(usize, &'static str)> {
        world_size_from(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
    }

    /// What `mpirun`, Hydra/PMI and `srun` set in each process they start (`srun -n 4`:
    /// SLURM_STEP_NUM_TASKS=4 beside SLURM_NTASKS and SLURM_PROCID), and what does not count.
    #[test]
    fn launchers_are_recognised_by_their_variables() {
        assert_eq!(size_in(&[("OMPI_COMM_WORLD_SIZE", "2")]), Some((2, "OMPI_COMM_WORLD_SIZE")));
        assert_eq!(size_in(&[("PMI_SIZE", "3")]), Some((3, "PMI_SIZE")));
        assert_eq!(
            size_in(&[("SLURM_STEP_NUM_TASKS", "4"), ("SLURM_NTASKS", "4"), ("SLURM_PROCID", "1")]),
            Some((4, "SLURM_STEP_NUM_TASKS"))
        );
        assert_eq!(size_in(&[("SLURM_STEP_NUM_TASKS", " 8\n")]), Some((8, "SLURM_STEP_NUM_TASKS")));
        assert_eq!(size_in(&[("SLURM_STEP_NUM_TASKS", "8"), ("PMI_SIZE", "8")]), Some((8, "PMI_SIZE")));
        // an allocation's size without a job step (SLURM_NTASKS alone), junk, no launcher at all
        assert_eq!(size_in(&[("SLURM_NTASKS", "4")]), None);
        assert_eq!(size_in(&[("OMPI_COMM_WORLD_SIZE", "two")]), None);
        assert_eq!(size_in(&[]), None);
    }
}
