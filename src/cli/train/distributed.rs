//! `nabla train` as one rank of a data-parallel job started by `mpirun -np K` or `srun -n K`
//! (see `nabla::distributed` and `nabla::train::DataParallel`).
//!
//! Every rank loads the data and builds the run from the same flags; rank 0's weights are
//! broadcast; each rank computes its part of every batch. Rank 0 alone prints and writes the run
//! folder. At start the ranks compare hashes of their settings, their binary and their data, so
//! that a job started with different flags, builds or files stops before it trains. A rank that
//! fails prints `error: rank r of K: …` and ends the whole job (MPI_Abort); the run folder's files
//! are written atomically, so it holds whole checkpoints only.

use super::super::training::TrainArgs;
use nabla::distributed::launcher_world_size;
use nabla::{Error, Result};

/// Whether this process is to train as one rank of a data-parallel job: `--distributed`, or a
/// launcher that started more than one process. An error if so and this binary has no MPI.
pub fn wanted(args: &TrainArgs) -> Result<bool> {
    let launched = launcher_world_size().filter(|&(k, _)| k > 1);
    if !args.distributed && launched.is_none() {
        return Ok(false);
    }
    if cfg!(feature = "mpi") {
        return Ok(true);
    }
    let rebuild = "rebuild it with `cargo build --release --features mpi` (which needs an MPI library such as Open MPI, \
                   and libclang)";
    Err(Error::config(match launched {
        Some((k, var)) => format!(
            "this process is one of {k} ({var}={k}), but this nabla was built without MPI support, so each would \
             train alone: {rebuild}, or start one process without mpirun/srun"
        ),
        None => format!("--distributed: this nabla was built without MPI support; {rebuild}"),
    }))
}

#[cfg(feature = "mpi")]
pub use with_mpi::run;

#[cfg(feature = "mpi")]
mod with_mpi {
    use super::super::super::training::{self, MODEL_FILE, Run, TrainArgs};
    use crate::cli::shared::print::{errln, outln};
    use crate::cli::shared::row_cache::CACHE_DIR;
    use crate::cli::shared::source::RowsOnDisk;
    use nabla::data::Inputs;
    use nabla::distributed::{Collective, FNV_OFFSET, MpiJob, MpiWorld, fnv1a, fnv1a_f32};
    use nabla::train::DataParallel;
    use nabla::{Error, Result};
    use std::io::{Read, Write};

    /// Trains this process's rank of the job to its end; a failure on any rank ends every rank.
    pub fn run(args: TrainArgs) -> Result<()> {
        if args.ensemble.is_some() {
            return Err(Error::config(
                "--ensemble cannot be combined with data-parallel training (mpirun, --distributed)",
            ));
        }
        let job = MpiJob::init().ok_or_else(|| Error::config("MPI was initialised twice"))?;
        let world = job.world();
        let (rank, size) = (world.rank(), world.size());
        share_cores(&world);
        // a panic (a row on disk that could no longer be read, say) ends the job as an error does
        let trained = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| train(args, world)))
            .unwrap_or_else(|panic| Err(Error::config(panic_message(&*panic))));
        if let Err(e) = trained {
            // one write, so that the lines of ranks failing at once do not interleave
            let line = format!("error: rank {rank} of {size}: {e}\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
            MpiWorld::abort_job(1)
        }
        // MPI is finalised here, after every rank's last collective call
        drop(job);
        Ok(())
    }

    /// What a panic said.
    fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
        match (panic.downcast_ref::<String>(), panic.downcast_ref::<&str>()) {
            (Some(text), _) => text.clone(),
            (None, Some(text)) => text.to_string(),
            (None, None) => "a panic without a message".into(),
        }
    }

    /// Gives each rank an equal share of this host's cores (unless RAYON_NUM_THREADS says
    /// otherwise): two ranks that each spun two threads on two cores ran an MLP epoch 10 to 20
    /// times slower than with one thread each, as each rank's sum waited for the other's
    /// descheduled threads.
    fn share_cores(world: &MpiWorld) {
        if std::env::var_os("RAYON_NUM_THREADS").is_some() {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (cores / world.ranks_on_this_host().max(1)).max(1);
        // fails only if the pool exists already, and then it keeps its size
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    }

    fn train(args: TrainArgs, world: MpiWorld) -> Result<()> {
        let (rank, size) = (world.rank(), world.size());
        let leader = rank == 0;
        let json = args.json;
        let bucket = args.bucket;
        // images (MNIST, image folders) stay on disk, each rank reading the rows of its part of
        // each batch; rank 0 writes the uncompressed copies of gzip files, or decodes an image
        // folder into one file, while the others wait
        let cache = args.runs.join(CACHE_DIR);
        let mut run = {
            let written = || drop(world.all_gather(0));
            let on_disk = RowsOnDisk { cache: &cache, leader, written: &written };
            training::prepare_rank(args, leader, Some(&on_disk))?
        };
        check_same_job(&world, &run)?;
        if leader {
            errln!(
                "data-parallel training over {size} ranks ({}): each computes its part of every batch of {}",
                MpiWorld::library(),
                run.args.batch_size()
            );
            let mut files: Vec<String> = [&run.data.train, &run.data.test]
                .iter()
                .filter_map(|set| match &set.inputs {
                    Inputs::Bytes(rows) => rows.file().map(|f| f.display().to_string()),
                    Inputs::F32(_) => None,
                })
                .collect();
            files.dedup();
            if !files.is_empty() {
                errln!("each rank reads the images of its part of each batch from {}", files.join(" and "));
            }
        }
        run.trainer.distribute(DataParallel::new(Box::new(world)).with_bucket(bucket));
        let run = training::execute(run, false)?;
        // a collective call, which every rank makes (with 0 where /proc does not say)
        let peaks = run.trainer.parallel().expect("distributed above").all_gather(peak_resident_kb().unwrap_or(0));
        if leader {
            let t = run.trainer.parallel().expect("distributed above").timing();
            let seconds: f64 = run.trainer.history.iter().map(|r| r.seconds).sum();
            let per_step = |s: f64| 1e3 * s / t.steps.max(1) as f64;
            errln!(
                "per step: backward {:.3} ms (gradient sums started inside it), then {:.3} ms waiting for the sums \
                 (waits for the other ranks included; {:.1}% of {seconds:.3} s of training)",
                per_step(t.backward),
                per_step(t.exposed),
                100.0 * t.exposed / seconds.max(1e-9)
            );
            if peaks.iter().all(|&kb| kb > 0) {
                let mb: Vec<String> = peaks.iter().map(|&kb| format!("{:.1}", kb as f64 / 1024.0)).collect();
                errln!("peak resident memory (VmHWM) per rank, in MiB: {}", mb.join(", "));
            }
            let weights = run.args.out.clone().unwrap_or_else(|| run.record.dir().join(MODEL_FILE));
            errln!("saved weights to {}; metrics and loss plot in {}", weights.display(), run.record.dir().display());
            if json {
                outln!("{}", training::summary(&run, &weights));
            }
        }
        Ok(())
    }

    /// This process's peak resident memory in kB (Linux's VmHWM), if the system says it.
    fn peak_resident_kb() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// An error on every rank whose settings (the settled flags, the model's spec, the epoch it
    /// resumes from), binary or data differ from rank 0's.
    fn check_same_job(world: &MpiWorld, run: &Run) -> Result<()> {
        let t = &run.trainer;
        let settings = serde_json::to_string(&(&run.args, t.model.spec(), t.epoch(), t.optimizer.steps()))
            .map_err(|e| Error::config(format!("cannot write the settings as JSON: {e}")))?;
        let exe = std::env::current_exe().map_err(|e| Error::config(format!("cannot find this binary: {e}")))?;
        // streamed: a test build's binary is ~80 MB, which a rank would otherwise hold at once
        let mut binary = FNV_OFFSET;
        let mut file = std::fs::File::open(&exe).map_err(|e| Error::io(&exe, e))?;
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => binary = fnv1a(binary, &chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&exe, e)),
            }
        }
        // images are bytes with the value table they stand for (rows on disk are read through
        // once, a row at a time), tables f32
        let inputs = |h, inputs: &Inputs| match inputs {
            Inputs::F32(t) => Ok(fnv1a_f32(h, t.data())),
            Inputs::Bytes(rows) => {
                let mut h = h;
                rows.scan(&mut |bytes| h = fnv1a(h, bytes))?;
                Ok(fnv1a_f32(h, rows.values()))
            }
        };
        let mut data = FNV_OFFSET;
        for set in [&run.data.train, &run.data.test] {
            data = fnv1a_f32(inputs(data, &set.inputs)?, set.targets.data());
        }
        let checks = [
            ("settings (flags, model spec, resumed epoch)", fnv1a(FNV_OFFSET, settings.as_bytes())),
            ("nabla binary", binary),
            ("training or test data", data),
        ];
        let mut problems = Vec::new();
        for (what, hash) in checks {
            let all = world.all_gather(hash);
            let differ: Vec<usize> = (1..all.len()).filter(|&r| all[r] != all[0]).collect();
            if !differ.is_empty() {
                problems.push(format!("the {what} of rank(s) {differ:?} differ from rank 0's"));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(Error::config(format!(
            "{}: every rank must run the same nabla with the same arguments and data",
            problems.join("; ")
        )))
    }
}
