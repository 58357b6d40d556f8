//! [`Collective`] over MPI (the `mpi` crate, rsmpi, on the system's MPI library: Open MPI or
//! MPICH), for jobs started by `mpirun`, `mpiexec` or `srun`.
//!
//! Sums are `MPI_Allreduce` with `MPI_SUM`. For a given K, message length and MPI library the
//! library picks one algorithm whose order of additions is fixed, and every rank ends with the
//! same bits (Open MPI 4.1: recursive doubling below 10 kB, a ring above); the trainer checks
//! that the ranks' weights still agree after every epoch, so a library that broke this would be
//! caught, not trusted.

use super::{Collective, PendingSum};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};

/// MPI itself: initialised by [`MpiJob::init`], finalised when this is dropped, which must come
/// after the last collective call and never before an [`MpiWorld::abort_job`].
pub struct MpiJob {
    universe: Universe,
}

impl MpiJob {
    /// Initialises MPI; `None` if it was initialised already.
    pub fn init() -> Option<MpiJob> {
        Some(MpiJob { universe: mpi::initialize()? })
    }

    /// The job's processes.
    pub fn world(&self) -> MpiWorld {
        MpiWorld { world: self.universe.world() }
    }
}

/// The job's processes (`MPI_COMM_WORLD`).
pub struct MpiWorld {
    world: SimpleCommunicator,
}

impl MpiWorld {
    /// Ends every process of the job with `code` (MPI_Abort): what a rank that failed calls, after
    /// printing why, so that the others do not wait for it forever. MPI must be initialised.
    pub fn abort_job(code: i32) -> ! {
        SimpleCommunicator::world().abort(code)
    }

    /// How many ranks of the job run on this host (they share its cores).
    pub fn ranks_on_this_host(&self) -> usize {
        self.world.split_shared(0).size() as usize
    }

    /// The name and version of the MPI library (for the start-up line).
    pub fn library() -> String {
        let full = mpi::environment::library_version().unwrap_or_default();
        match full.split([',', '\n']).next().map(str::trim) {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => "an unknown MPI library".into(),
        }
    }
}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum(&self, data: &mut [f32]) {
        let send = data.to_vec();
        self.world.all_reduce_into(&send[..], data, SystemOperation::sum());
    }

    fn all_reduce_sum_f64(&self, data: &mut [f64]) {
        let send = data.to_vec();
        self.world.all_reduce_into(&send[..], data, SystemOperation::sum());
    }

    fn broadcast(&self, data: &mut [f32]) {
        self.world.process_at_rank(0).broadcast_into(data);
    }

    fn all_gather(&self, value: u64) -> Vec<u64> {
        let mut all = vec![0u64; self.size()];
        self.world.all_gather_into(&value, &mut all[..]);
        all
    }

    fn start_sum(&self, data: Vec<f32>) -> Box<dyn PendingSum + '_> {
        Box::new(MpiSum::start(&self.world, data))
    }
}

/// An `MPI_Iallreduce` in flight. It owns both buffers, which MPI reads and writes until the
/// request completes: they are heap blocks that do not move when the box does, and they are
/// freed only after [`PendingSum::finish`] (or the drop) has waited for the request.
struct MpiSum<'a> {
    // read by MPI alone, through the pointer given to MPI_Iallreduce
    _send: Vec<f32>,
    sum: Vec<f32>,
    request: ffi::MPI_Request,
    done: bool,
    // the communicator must outlive the request
    _world: std::marker::PhantomData<&'a SimpleCommunicator>,
}

impl<'a> MpiSum<'a> {
    fn start(world: &'a SimpleCommunicator, send: Vec<f32>) -> MpiSum<'a> {
        let mut sum = vec![0.0f32; send.len()];
        let count = i32::try_from(send.len()).expect("a gradient bucket holds fewer than 2^31 numbers");
        let mut request = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: both buffers hold `count` f32 and stay allocated, unmoved, until the request
        // completes (MPI_Test or MPI_Wait below); the communicator outlives `self` ('a)
        unsafe {
            ffi::MPI_Iallreduce(
                send.as_ptr().cast(),
                sum.as_mut_ptr().cast(),
                count,
                ffi::RSMPI_FLOAT,
                ffi::RSMPI_SUM,
                world.as_raw(),
                &mut request,
            );
        }
        MpiSum { _send: send, sum, request, done: false, _world: std::marker::PhantomData }
    }

    fn wait(&mut self) {
        if !self.done {
            // SAFETY: the request is live (not yet completed), and completing it frees it
            unsafe { ffi::MPI_Wait(&mut self.request, ffi::RSMPI_STATUS_IGNORE) };
            self.done = true;
        }
    }
}

impl PendingSum for MpiSum<'_> {
    fn poll(&mut self) -> bool {
        if !self.done {
            let mut flag = 0;
            // SAFETY: as in `wait`; MPI_Test frees the request once it reports completion
            unsafe { ffi::MPI_Test(&mut self.request, &mut flag, ffi::RSMPI_STATUS_IGNORE) };
            self.done = flag != 0;
        }
        self.done
    }

    fn finish(mut self: Box<Self>) -> Vec<f32> {
        self.wait();
        std::mem::take(&mut self.sum)
    }
}

impl Drop for MpiSum<'_> {
    fn drop(&mut self) {
        // MPI may still write `sum` and read `send`: they must not be freed before it is done
        self.wait();
    }
}
