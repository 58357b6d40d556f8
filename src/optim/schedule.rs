//! Learning-rate schedules: the η of each epoch, as plain logic that the trainer drives once per
//! epoch.
//!
//! η has one source: the optimizer (`Optimizer::new(rule, η0)`, as PyTorch's `SGD(params, lr)`).
//! A schedule is built without it and scales or changes it: [`Schedule::start`] gives it the
//! optimizer's η0 (the trainer calls it, in `Trainer::new`, as PyTorch's schedulers read the
//! optimizer's `initial_lr`), and the trainer writes the schedule's η into the optimizer before
//! every epoch.
//!
//! With k the number of epochs ended (so epoch k + 1 is the next one) and η0 the starting η:
//!
//! | [`schedule_by_name`] | schedule          | η of epoch k + 1                                                  |
//! |----------------------|-------------------|-------------------------------------------------------------------|
//! | `constant`           | [`Constant`]      | η0                                                                |
//! | `plateau`            | [`Plateau`]       | η ← max(η / factor, min η) after `patience` epochs without progress |
//! | `step`               | [`Step`]          | η0 · γ^⌊k / step_size⌋                                            |
//! | `exp`                | [`Exponential`]   | η0 · γ^k                                                          |
//! | `cosine`             | [`Cosine`]        | η_min + ½(η0 − η_min)(1 + cos(π · min(k, T) / T))                 |
//! |                      | [`Warmup`]        | s(k) · min(1, (k + 1) / (N + 1)) for any schedule s               |
//!
//! The call order is part of the API: the trainer starts the schedule with the optimizer's η0,
//! sets η from [`Schedule::lr`] before the first epoch and from [`Schedule::end_epoch`] after
//! each one, passing the epoch's number, which must be one more than the last (a schedule panics
//! otherwise, and when used before it is started):
//!
//! ```
//! use nabla::optim::schedule::{Plateau, Schedule};
//! let mut schedule = Plateau::lecture();
//! schedule.start(0.1); // the optimizer's η0 (Trainer::new does this)
//! let mut eta = schedule.lr(); // η of epoch 1
//! for (epoch, loss) in [(1, 0.9), (2, 0.9), (3, 0.9), (4, 0.9)] {
//!     // … train epoch `epoch` with η = eta, measure its loss …
//!     eta = schedule.end_epoch(epoch, loss); // η of epoch `epoch + 1`
//! }
//! assert!((eta - 0.02).abs() < 1e-7); // three epochs without progress: divided by 5
//! ```
//!
//! [`Schedule::state`] and [`Schedule::restore`] carry a schedule across a resumed run: restored
//! into a schedule built with the same settings, it continues with the same η sequence.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A learning-rate schedule, driven once per epoch.
///
/// ```text
/// schedule.start(optimizer.lr());                                // η0 is the optimizer's
/// optimizer.set_lr(schedule.lr());                               // η of epoch 1
/// for epoch in 1..=epochs {
///     … train one epoch, measure `metric` …
///     optimizer.set_lr(schedule.end_epoch(epoch, metric));       // η of epoch + 1
/// }
/// ```
pub trait Schedule: Send {
    /// Makes `eta0`, the optimizer's learning rate at the start of the run, the η0 that the
    /// schedule scales (`Trainer::new` calls it). Panics unless η0 > 0 and, for a schedule with
    /// an η floor, the floor is at most η0.
    fn start(&mut self, eta0: f32);

    /// The η to use for the next epoch: epoch k + 1 after k calls of [`Schedule::end_epoch`].
    /// Panics if the schedule has not been started.
    fn lr(&self) -> f32;

    /// Records that epoch `epoch` (1 for the first) ended with `metric` (the training loss or a
    /// validation loss: lower is better; only [`Plateau`] looks at it) and returns the η for epoch
    /// `epoch + 1`, which [`Schedule::lr`] returns from then on.
    ///
    /// Panics unless `epoch` is one more than the epoch of the previous call (or of the restored
    /// state), 1 on the first call: each epoch is reported once, in order.
    fn end_epoch(&mut self, epoch: usize, metric: f32) -> f32;

    /// What the schedule carries from one epoch to the next, for a checkpoint.
    fn state(&self) -> ScheduleState;

    /// Continues from `state`, which must have been saved by a schedule with the same
    /// [`Schedule::describe`] (same kind and settings); on an error the schedule is left as it was.
    fn restore(&mut self, state: &ScheduleState) -> Result<()>;

    /// The schedule's kind and settings, for logs; it also identifies the schedule in a
    /// [`ScheduleState`].
    fn describe(&self) -> String;
}

/// What a [`Schedule`] carries from one epoch to the next (serde data, for checkpoints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// The [`Schedule::describe`] of the schedule that saved it.
    pub schedule: String,
    /// The number of epochs ended, k.
    pub epoch: usize,
    /// The state of a [`Plateau`], inner or not; `None` for the other schedules.
    pub plateau: Option<PlateauState>,
}

/// What a [`Plateau`] carries besides the epoch count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// The η for the next epoch.
    pub lr: f32,
    /// The lowest metric so far that counted as an improvement; `None` before the first finite one.
    pub best: Option<f32>,
    /// Epochs in a row without improvement (cooldown epochs excluded).
    pub bad_epochs: usize,
    /// Cooldown epochs still to come.
    pub cooldown_left: usize,
}

/// The divisor of η in the lecture's recipe, [`Plateau::lecture`]: η ← η / 5.
pub const LECTURE_FACTOR: f32 = 5.0;

/// The patience of [`Plateau::lecture`]: η is divided after 3 epochs in a row without improvement.
pub const LECTURE_PATIENCE: usize = 3;

/// The relative improvement that [`Plateau`] asks of a metric by default: 10⁻⁴ (PyTorch's).
pub const DEFAULT_THRESHOLD: f32 = 1e-4;

/// Counts the epochs ended, k, and checks that they are reported in order; holds the η0 that
/// [`Schedule::start`] gave.
#[derive(Clone, Copy, Debug, Default)]
struct Clock {
    ended: usize,
    eta0: Option<f32>,
}

/// A schedule whose η is a formula of the epochs ended alone (constant, step, exponential,
/// cosine): all it carries from epoch to epoch is its clock, so [`Schedule`] comes for free.
trait ClosedForm: Send {
    /// The name its clock reports in a panic about epochs out of order.
    const NAME: &'static str;

    /// The epoch counter.
    fn clock(&self) -> Clock;

    /// The epoch counter, for writing.
    fn clock_mut(&mut self) -> &mut Clock;

    /// η of the next epoch, from the epochs ended.
    fn eta(&self) -> f32;

    /// Kind and settings, as [`Schedule::describe`].
    fn describe(&self) -> String;

    /// Checks the settings against η0 (for [`Schedule::start`]).
    fn check(&self, _eta0: f32) -> Result<()> {
        Ok(())
    }
}

impl<T: ClosedForm> Schedule for T {
    fn start(&mut self, eta0: f32) {
        valid(positive("η0", eta0).and(self.check(eta0)));
        self.clock_mut().eta0 = Some(eta0);
    }

    fn lr(&self) -> f32 {
        self.eta()
    }

    fn end_epoch(&mut self, epoch: usize, _metric: f32) -> f32 {
        self.clock_mut().tick(epoch, T::NAME);
        self.eta()
    }

    fn state(&self) -> ScheduleState {
        self.clock().state(ClosedForm::describe(self), None)
    }

    fn restore(&mut self, state: &ScheduleState) -> Result<()> {
        Clock::check(state, &ClosedForm::describe(self))?;
        self.clock_mut().ended = state.epoch;
        Ok(())
    }

    fn describe(&self) -> String {
        ClosedForm::describe(self)
    }
}

impl Clock {
    /// k ← `epoch`, which must be k + 1.
    #[track_caller]
    fn tick(&mut self, epoch: usize, who: &str) {
        assert!(
            epoch == self.ended + 1,
            "schedule {who}: end_epoch({epoch}) after epoch {}: report each epoch once, in order",
            self.ended
        );
        self.ended = epoch;
    }

    /// η0, or a panic naming `who` if the schedule was never started.
    #[track_caller]
    fn eta0(&self, who: &str) -> f32 {
        self.eta0.unwrap_or_else(|| {
            panic!("schedule {who}: used before start(η0): Trainer::new starts it with the optimizer's η")
        })
    }

    /// η0 for [`Schedule::describe`]: NaN before the start.
    fn shown(&self) -> f32 {
        self.eta0.unwrap_or(f32::NAN)
    }

    fn state(&self, schedule: String, plateau: Option<PlateauState>) -> ScheduleState {
        ScheduleState { schedule, epoch: self.ended, plateau }
    }

    /// Checks that `state` comes from the schedule `name`; k is set by the caller once all checks pass.
    fn check(state: &ScheduleState, name: &str) -> Result<()> {
        if state.schedule == name {
            Ok(())
        } else {
            Err(Error::config(format!(
                "schedule state: saved by '{}', this run's schedule is '{name}': resume with the same schedule and settings",
                state.schedule
            )))
        }
    }
}

fn positive(what: &str, x: f32) -> Result<()> {
    if x > 0.0 && x.is_finite() {
        Ok(())
    } else {
        Err(Error::config(format!("{what} = {x}: must be a positive number")))
    }
}

fn at_least_one(what: &str, n: usize) -> Result<()> {
    if n >= 1 { Ok(()) } else { Err(Error::config(format!("{what} = 0: must be at least 1"))) }
}

fn divisor(factor: f32) -> Result<()> {
    if factor > 1.0 && factor.is_finite() {
        Ok(())
    } else {
        Err(Error::config(format!("factor = {factor}: η is divided by it, so it must be a number greater than 1")))
    }
}

fn decay(gamma: f32) -> Result<()> {
    if gamma > 0.0 && gamma <= 1.0 {
        Ok(())
    } else {
        Err(Error::config(format!("γ = {gamma}: η is multiplied by it, so it must lie in (0, 1]")))
    }
}

fn floor_of(what: &str, x: f32, eta0: f32) -> Result<()> {
    if (0.0..=eta0).contains(&x) {
        Ok(())
    } else {
        Err(Error::config(format!("{what} = {x}: must lie in [0, η0 = {eta0}]")))
    }
}

/// Panics with the message of a settings error: the constructors' arguments are the caller's code.
#[track_caller]
fn valid(check: Result<()>) {
    if let Err(e) = check {
        panic!("{e}");
    }
}

/// The same η for every epoch: η = η0.
#[derive(Clone, Debug, Default)]
pub struct Constant {
    clock: Clock,
}

impl Constant {
    /// η = η0, the optimizer's, throughout.
    pub fn new() -> Constant {
        Constant::default()
    }
}

impl ClosedForm for Constant {
    const NAME: &'static str = "constant";

    fn clock(&self) -> Clock {
        self.clock
    }

    fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }

    fn eta(&self) -> f32 {
        self.clock.eta0(Self::NAME)
    }

    fn describe(&self) -> String {
        format!("constant(η {})", self.clock.shown())
    }
}

/// Step decay: η of epoch k + 1 = η0 · γ^⌊k / step_size⌋, so η is multiplied by γ after every
/// `step_size` epochs.
#[derive(Clone, Debug)]
pub struct Step {
    step_size: usize,
    gamma: f32,
    clock: Clock,
}

impl Step {
    /// η0 · γ^⌊k / step_size⌋ (PyTorch's `StepLR(step_size, gamma)`). Panics unless
    /// step_size ≥ 1 and 0 < γ ≤ 1.
    pub fn new(step_size: usize, gamma: f32) -> Step {
        valid(at_least_one("step size", step_size).and(decay(gamma)));
        Step { step_size, gamma, clock: Clock::default() }
    }
}

impl ClosedForm for Step {
    const NAME: &'static str = "step";

    fn clock(&self) -> Clock {
        self.clock
    }

    fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }

    fn eta(&self) -> f32 {
        let steps = self.clock.ended / self.step_size;
        (self.clock.eta0(Self::NAME) as f64 * (self.gamma as f64).powf(steps as f64)) as f32
    }

    fn describe(&self) -> String {
        format!("step(η0 {}, γ {} every {} epochs)", self.clock.shown(), self.gamma, self.step_size)
    }
}

/// Exponential decay: η of epoch k + 1 = η0 · γ^k.
#[derive(Clone, Debug)]
pub struct Exponential {
    gamma: f32,
    clock: Clock,
}

impl Exponential {
    /// η0 · γ^k (PyTorch's `ExponentialLR(gamma)`). Panics unless 0 < γ ≤ 1.
    pub fn new(gamma: f32) -> Exponential {
        valid(decay(gamma));
        Exponential { gamma, clock: Clock::default() }
    }
}

impl ClosedForm for Exponential {
    const NAME: &'static str = "exp";

    fn clock(&self) -> Clock {
        self.clock
    }

    fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }

    fn eta(&self) -> f32 {
        (self.clock.eta0(Self::NAME) as f64 * (self.gamma as f64).powf(self.clock.ended as f64)) as f32
    }

    fn describe(&self) -> String {
        format!("exp(η0 {}, γ {})", self.clock.shown(), self.gamma)
    }
}

/// Cosine annealing over T epochs: η of epoch k + 1 = η_min + ½(η0 − η_min)(1 + cos(π · min(k, T) / T)).
///
/// Epoch 1 runs at η0, epoch T at η_min + ½(η0 − η_min)(1 + cos(π(T − 1)/T)), a little above
/// η_min, and any epoch after T at η_min (η does not rise again).
#[derive(Clone, Debug)]
pub struct Cosine {
    eta_min: f32,
    period: usize,
    clock: Clock,
}

impl Cosine {
    /// η_min + ½(η0 − η_min)(1 + cos(π · min(k, T) / T)) with T = `period` (PyTorch's
    /// `CosineAnnealingLR(T_max, eta_min)`). Panics unless T ≥ 1, and at the start unless
    /// 0 ≤ η_min ≤ η0.
    pub fn new(eta_min: f32, period: usize) -> Cosine {
        valid(at_least_one("period T", period));
        Cosine { eta_min, period, clock: Clock::default() }
    }
}

impl ClosedForm for Cosine {
    const NAME: &'static str = "cosine";

    fn clock(&self) -> Clock {
        self.clock
    }

    fn clock_mut(&mut self) -> &mut Clock {
        &mut self.clock
    }

    fn eta(&self) -> f32 {
        let progress = self.clock.ended.min(self.period) as f64 / self.period as f64;
        let (eta0, eta_min) = (self.clock.eta0(Self::NAME) as f64, self.eta_min as f64);
        (eta_min + 0.5 * (eta0 - eta_min) * (1.0 + (std::f64::consts::PI * progress).cos())) as f32
    }

    fn describe(&self) -> String {
        format!("cosine(η0 {}, η_min {}, T {})", self.clock.shown(), self.eta_min, self.period)
    }

    fn check(&self, eta0: f32) -> Result<()> {
        floor_of("η_min", self.eta_min, eta0)
    }
}

/// Reduce on plateau, the lecture's recipe: start at η0, watch the metric, and divide η by
/// `factor` when it has stopped improving.
///
/// After each epoch, with `best` the lowest metric so far that counted as an improvement:
///
/// 1. The metric improves if metric < best − |best| · threshold (PyTorch's 'rel' mode, which is
///    best · (1 − threshold) for best ≥ 0); the first finite metric always improves. An improvement
///    sets best ← metric and the count of bad epochs to 0; any other metric, NaN included, adds 1.
/// 2. During the `cooldown` epochs that follow a reduction, the count is held at 0.
/// 3. When the count reaches `patience`, η ← max(η / factor, min η) and the count restarts at 0,
///    with `cooldown` epochs of cooldown.
///
/// So η is divided at the end of the `patience`-th epoch in a row without improvement, and the
/// next epoch runs at the new η. (PyTorch's `ReduceLROnPlateau` divides after `patience` + 1 such
/// epochs: its patience p is this schedule's p + 1.)
#[derive(Clone, Debug)]
pub struct Plateau {
    patience: usize,
    factor: f32,
    threshold: f32,
    cooldown: usize,
    /// The floor given by [`Plateau::with_min_lr`]; 10⁻⁶ · η0 without one.
    min_lr: Option<f32>,
    clock: Clock,
    state: PlateauState,
}

impl Plateau {
    /// Starts at η0 and divides η by `factor` after `patience` epochs in a row without improvement,
    /// with threshold 10⁻⁴ ([`DEFAULT_THRESHOLD`]), no cooldown and min η = 10⁻⁶ · η0. Panics
    /// unless patience ≥ 1 and factor > 1.
    pub fn new(patience: usize, factor: f32) -> Plateau {
        valid(at_least_one("patience", patience).and(divisor(factor)));
        Plateau {
            patience,
            factor,
            threshold: DEFAULT_THRESHOLD,
            cooldown: 0,
            min_lr: None,
            clock: Clock::default(),
            state: PlateauState { lr: f32::NAN, best: None, bad_epochs: 0, cooldown_left: 0 },
        }
    }

    /// The lecture's recipe: start at η0 and divide η by 5 ([`LECTURE_FACTOR`]) after 3
    /// ([`LECTURE_PATIENCE`]) epochs in a row without improvement; the other settings as in
    /// [`Plateau::new`].
    pub fn lecture() -> Plateau {
        Plateau::new(LECTURE_PATIENCE, LECTURE_FACTOR)
    }

    /// The floor of η: the one given, or 10⁻⁶ · η0.
    fn floor(&self) -> f32 {
        self.min_lr.unwrap_or_else(|| 1e-6 * self.clock.eta0("plateau"))
    }

    /// The relative improvement asked of the metric: it improves if metric < best − |best| ·
    /// `threshold`. Panics unless 0 ≤ threshold < 1.
    pub fn with_threshold(mut self, threshold: f32) -> Plateau {
        assert!((0.0..1.0).contains(&threshold), "plateau threshold = {threshold}: must lie in [0, 1)");
        self.threshold = threshold;
        self
    }

    /// `cooldown` epochs after each reduction during which epochs without improvement do not count.
    pub fn with_cooldown(mut self, cooldown: usize) -> Plateau {
        self.cooldown = cooldown;
        self
    }

    /// The floor of η: a reduction gives max(η / factor, `min_lr`). Panics at the start unless
    /// 0 ≤ min_lr ≤ η0.
    pub fn with_min_lr(mut self, min_lr: f32) -> Plateau {
        self.min_lr = Some(min_lr);
        self
    }
}

impl Schedule for Plateau {
    fn start(&mut self, eta0: f32) {
        valid(positive("η0", eta0).and(self.min_lr.map_or(Ok(()), |m| floor_of("min η", m, eta0))));
        self.clock.eta0 = Some(eta0);
        if self.clock.ended == 0 {
            self.state.lr = eta0;
        }
    }

    fn lr(&self) -> f32 {
        self.clock.eta0("plateau");
        self.state.lr
    }

    fn end_epoch(&mut self, epoch: usize, metric: f32) -> f32 {
        self.clock.tick(epoch, "plateau");
        let floor = self.floor();
        let s = &mut self.state;
        let improved = match s.best {
            None => metric.is_finite(),
            Some(best) => metric < best - best.abs() * self.threshold,
        };
        if improved {
            s.best = Some(metric);
            s.bad_epochs = 0;
        } else {
            s.bad_epochs += 1;
        }
        if s.cooldown_left > 0 {
            s.cooldown_left -= 1;
            s.bad_epochs = 0;
        }
        if s.bad_epochs >= self.patience {
            s.lr = (s.lr / self.factor).max(floor);
            s.bad_epochs = 0;
            s.cooldown_left = self.cooldown;
        }
        s.lr
    }

    fn state(&self) -> ScheduleState {
        self.clock.state(self.describe(), Some(self.state.clone()))
    }

    fn restore(&mut self, state: &ScheduleState) -> Result<()> {
        Clock::check(state, &self.describe())?;
        let Some(saved) = &state.plateau else {
            return Err(Error::config("schedule state: plateau: the saved state has no plateau part"));
        };
        positive("schedule state: plateau η", saved.lr)?;
        self.clock.ended = state.epoch;
        self.state = saved.clone();
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "plateau(η0 {}, patience {}, factor {}, threshold {}, cooldown {}, min η {:e})",
            self.clock.shown(),
            self.patience,
            self.factor,
            self.threshold,
            self.cooldown,
            self.min_lr.unwrap_or(1e-6 * self.clock.shown())
        )
    }
}

/// Linear warm-up in front of any schedule s: η of epoch k + 1 = s(k) · min(1, (k + 1) / (N + 1))
/// for N warm-up epochs.
///
/// Over the first N epochs η rises linearly, η0 · 1/(N + 1), η0 · 2/(N + 1), …, η0 · N/(N + 1)
/// (for an s that is still at η0), and from epoch N + 1 on it is s's own. The wrapped schedule
/// runs on the same clock and sees every epoch and metric, warm-up included, so a [`Cosine`]'s T or
/// a [`Step`]'s step size counts the run's epochs. N = 0 leaves s unchanged.
pub struct Warmup {
    inner: Box<dyn Schedule>,
    warmup: usize,
    clock: Clock,
}

impl Warmup {
    /// `schedule`, with its η scaled by (k + 1)/(N + 1) over the first N = `warmup` epochs.
    pub fn new(schedule: Box<dyn Schedule>, warmup: usize) -> Warmup {
        Warmup { inner: schedule, warmup, clock: Clock::default() }
    }
}

impl Schedule for Warmup {
    fn start(&mut self, eta0: f32) {
        self.inner.start(eta0);
    }

    fn lr(&self) -> f32 {
        let ramp = ((self.clock.ended + 1) as f64 / (self.warmup + 1) as f64).min(1.0);
        (self.inner.lr() as f64 * ramp) as f32
    }

    fn end_epoch(&mut self, epoch: usize, metric: f32) -> f32 {
        self.clock.tick(epoch, "warm-up");
        self.inner.end_epoch(epoch, metric);
        self.lr()
    }

    fn state(&self) -> ScheduleState {
        ScheduleState { schedule: self.describe(), ..self.inner.state() }
    }

    fn restore(&mut self, state: &ScheduleState) -> Result<()> {
        Clock::check(state, &self.describe())?;
        self.inner.restore(&ScheduleState { schedule: self.inner.describe(), ..state.clone() })?;
        self.clock.ended = state.epoch;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("warm-up({} epochs) then {}", self.warmup, self.inner.describe())
    }
}

/// One schedule that [`schedule_by_name`] builds.
#[derive(Clone, Copy, Debug)]
pub struct ScheduleKind {
    /// The name that [`schedule_by_name`] takes.
    pub name: &'static str,
    /// What it does with η0 and the settings P (`patience`) and F (`factor`), in one line (as in
    /// the list of [`schedule_by_name`]).
    pub about: &'static str,
    /// Builds it from the run's epochs, P and F.
    build: BuildSchedule,
}

/// How a [`ScheduleKind`] builds its schedule from the run's epochs, P and F.
type BuildSchedule = fn(usize, usize, f32) -> Result<Box<dyn Schedule>>;

/// Every schedule, in the order that error messages and `--help` list them.
pub const SCHEDULE_KINDS: [ScheduleKind; 5] = [
    ScheduleKind { name: "constant", about: "η0 throughout", build: |_, _, _| Ok(Box::new(Constant::new())) },
    ScheduleKind {
        name: "plateau",
        about: "η ÷ F after P epochs in a row without improvement",
        build: |_, patience, factor| {
            falling(patience, factor)?;
            Ok(Box::new(Plateau::new(patience, factor)))
        },
    },
    ScheduleKind {
        name: "step",
        about: "η ÷ F after every P epochs, η0 · F^−⌊k / P⌋",
        build: |_, patience, factor| {
            falling(patience, factor)?;
            Ok(Box::new(Step::new(patience, 1.0 / factor)))
        },
    },
    ScheduleKind {
        name: "exp",
        about: "the smooth form of `step`, η0 · F^(−k/P)",
        build: |_, patience, factor| {
            falling(patience, factor)?;
            Ok(Box::new(Exponential::new((factor as f64).powf(-1.0 / patience as f64) as f32)))
        },
    },
    ScheduleKind {
        name: "cosine",
        about: "from η0 down to 0 over T = `epochs`",
        build: |epochs, _, _| {
            at_least_one("epochs", epochs)?;
            Ok(Box::new(Cosine::new(0.0, epochs)))
        },
    },
];

/// The names that [`schedule_by_name`] accepts, in [`SCHEDULE_KINDS`]' order.
pub const SCHEDULES: [&str; SCHEDULE_KINDS.len()] = {
    let mut names = [""; SCHEDULE_KINDS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = SCHEDULE_KINDS[i].name;
        i += 1;
    }
    names
};

/// The settings of a schedule whose η falls: P ≥ 1 and F > 1.
fn falling(patience: usize, factor: f32) -> Result<()> {
    at_least_one("patience", patience).and(divisor(factor))
}

/// Builds the schedule `name` (one of [`SCHEDULES`]) for a run of `epochs` epochs; `patience` (P)
/// and `factor` (F) set how fast η falls from η0, the optimizer's η (see [`Schedule::start`]):
///
/// - `constant`: η0 throughout ([`Constant`]).
/// - `plateau`: η ÷ F after P epochs in a row without improvement ([`Plateau::new`]).
/// - `step`: η ÷ F after every P epochs, η0 · F^−⌊k / P⌋ ([`Step`] with γ = 1/F).
/// - `exp`: the smooth form of `step`, η0 · F^(−k/P) ([`Exponential`] with γ = F^(−1/P)).
/// - `cosine`: from η0 down to 0 over T = `epochs` ([`Cosine`]).
///
/// Settings that a schedule does not use are ignored. Wrap the result in [`Warmup`] for a warm-up.
/// An unknown name, or for a schedule that uses them P = 0, F ≤ 1 or `epochs` = 0 are
/// configuration errors.
pub fn schedule_by_name(name: &str, epochs: usize, patience: usize, factor: f32) -> Result<Box<dyn Schedule>> {
    let kind = SCHEDULE_KINDS
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| Error::config(format!("unknown schedule '{name}': expected one of {}", SCHEDULES.join(", "))))?;
    (kind.build)(epochs, patience, factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `schedule` started at η0 = `eta0`.
    fn started<S: Schedule>(mut schedule: S, eta0: f32) -> S {
        schedule.start(eta0);
        schedule
    }

    /// The schedule `name` (as [`schedule_by_name`] builds it) started at η0 = `eta0`.
    fn named(name: &str, eta0: f32, epochs: usize, patience: usize, factor: f32) -> Result<Box<dyn Schedule>> {
        let mut schedule = schedule_by_name(name, epochs, patience, factor)?;
        schedule.start(eta0);
        Ok(schedule)
    }

    /// Feeds `metrics` to `schedule` as epochs 1, 2, … and returns the η returned after each.
    fn run(schedule: &mut dyn Schedule, metrics: &[f32]) -> Vec<f32> {
        let start = schedule.state().epoch;
        metrics.iter().enumerate().map(|(i, &m)| schedule.end_epoch(start + i + 1, m)).collect()
    }

    #[track_caller]
    fn assert_lrs(got: &[f32], expected: &[f64]) {
        assert_eq!(got.len(), expected.len(), "{got:?} vs {expected:?}");
        for (k, (&g, &e)) in got.iter().zip(expected).enumerate() {
            assert!((g as f64 - e).abs() <= 1e-6 * e.abs(), "after epoch {}: η {g}, expected {e}\n{got:?}", k + 1);
        }
    }

    #[test]
    fn plateau_divides_after_patience_epochs_without_improvement() {
        let mut s = started(Plateau::new(2, 5.0), 1.0);
        assert_eq!(s.lr(), 1.0);
        let losses = [1.0, 0.8, 0.8, 0.8, 0.79995, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7];
        // epoch:   1: first metric, best 1.0          2: 0.8 improves         3: bad 1
        //          4: bad 2 → ÷5                       5: 0.79995 ≥ 0.8·(1 − 1e-4) = 0.79992, bad 1
        //          6: bad 2 → ÷5                       7: 0.7 improves         8: bad 1
        //          9: bad 2 → ÷5                      10: bad 1               11: bad 2 → ÷5
        let expected = [1.0, 1.0, 1.0, 0.2, 0.2, 0.04, 0.04, 0.04, 0.008, 0.008, 0.0016];
        assert_lrs(&run(&mut s, &losses), &expected);
        assert_eq!(s.lr(), s.state().plateau.unwrap().lr);
    }

    #[test]
    fn plateau_counts_an_improvement_only_beyond_the_relative_threshold() {
        let mut s = started(Plateau::new(1, 2.0), 1.0);
        // 0.99995 is within 1e-4 of 1.0 (bad → ÷2); 0.9998 is beyond it; NaN never improves
        assert_lrs(&run(&mut s, &[1.0, 0.99995, 0.9998, f32::NAN]), &[1.0, 0.5, 0.5, 0.25]);
        let mut loose = started(Plateau::new(1, 2.0).with_threshold(0.0), 1.0);
        assert_lrs(&run(&mut loose, &[1.0, 0.99995, 0.99995]), &[1.0, 1.0, 0.5]);
        // negative metrics: best − |best|·threshold, so −1.00005 does not beat −1.0 by 1e-4
        let mut negative = started(Plateau::new(1, 2.0), 1.0);
        assert_lrs(&run(&mut negative, &[-1.0, -1.00005, -1.2]), &[1.0, 0.5, 0.5]);
        // a NaN or infinite first metric does not become the best
        let mut diverged = started(Plateau::new(1, 2.0), 1.0);
        assert_lrs(&run(&mut diverged, &[f32::INFINITY, 3.0, 3.0]), &[0.5, 0.5, 0.25]);
    }

    #[test]
    fn plateau_stops_at_the_floor() {
        let mut s = started(Plateau::new(1, 10.0).with_min_lr(0.05), 1.0);
        assert_lrs(&run(&mut s, &[1.0; 5]), &[1.0, 0.1, 0.05, 0.05, 0.05]);
        // the default floor is 1e-6·η0
        let mut d = started(Plateau::new(1, 10.0), 1.0);
        let lrs = run(&mut d, &[1.0; 10]);
        assert_lrs(&lrs[5..], &[1e-5, 1e-6, 1e-6, 1e-6, 1e-6]);
    }

    #[test]
    fn plateau_cooldown_holds_the_count_after_a_reduction() {
        let mut s = started(Plateau::new(1, 5.0).with_cooldown(2), 1.0);
        // 2: bad → ÷5, cooldown 2; 3, 4: cooldown; 5: bad → ÷5; 6, 7: cooldown; 8: ÷5
        assert_lrs(&run(&mut s, &[1.0; 8]), &[1.0, 0.2, 0.2, 0.2, 0.04, 0.04, 0.04, 0.008]);
        // an improvement during cooldown still becomes the best
        let mut t = started(Plateau::new(1, 5.0).with_cooldown(1), 1.0);
        assert_lrs(&run(&mut t, &[1.0, 1.0, 0.5, 0.5]), &[1.0, 0.2, 0.2, 0.04]);
    }

    #[test]
    fn lecture_recipe_divides_by_five_after_three_bad_epochs() {
        let mut s = started(Plateau::lecture(), 0.1);
        assert_lrs(&run(&mut s, &[0.9, 0.8, 0.8, 0.8, 0.8, 0.7]), &[0.1, 0.1, 0.1, 0.1, 0.02, 0.02]);
        assert!(s.describe().starts_with("plateau(η0 0.1, patience 3, factor 5,"), "{}", s.describe());
    }

    #[test]
    fn constant_step_exp_and_cosine_follow_their_formulas() {
        let flat = [0.5f32; 12];
        assert_lrs(&run(&mut started(Constant::new(), 0.1), &flat[..3]), &[0.1; 3]);
        let (eta0, gamma) = (0.1f64, 0.5f64);
        // η of epoch k + 1 for k = 1..=12, as returned after epoch k
        let ks = 1..=12;
        let step: Vec<f64> = ks.clone().map(|k| eta0 * gamma.powi(k / 3)).collect();
        assert_lrs(&run(&mut started(Step::new(3, 0.5), 0.1), &flat), &step);
        assert_lrs(&run(&mut started(Step::new(3, 0.5), 0.1), &flat[..4]), &[0.1, 0.1, 0.05, 0.05]);
        let exp: Vec<f64> = ks.clone().map(|k| eta0 * 0.9f64.powi(k)).collect();
        assert_lrs(&run(&mut started(Exponential::new(0.9), 0.1), &flat), &exp);
        let (t, eta_min) = (10, 0.001f64);
        let cosine: Vec<f64> = ks
            .map(|k| {
                let progress = k.min(t) as f64 / t as f64;
                eta_min + 0.5 * (eta0 - eta_min) * (1.0 + (std::f64::consts::PI * progress).cos())
            })
            .collect();
        let mut c = started(Cosine::new(0.001, 10), 0.1);
        assert_eq!(c.lr(), 0.1);
        let got = run(&mut c, &flat);
        assert_lrs(&got, &cosine);
        assert_lrs(&got[4..5], &[0.0505]); // halfway, k = 5 = T/2: (η0 + η_min)/2
        assert_lrs(&got[9..], &[0.001; 3]); // k ≥ T: η_min
    }

    #[test]
    fn warmup_ramps_linearly_then_hands_over() {
        let mut w = Warmup::new(Box::new(started(Constant::new(), 1.0)), 3);
        assert_eq!(w.lr(), 0.25);
        assert_lrs(&run(&mut w, &[0.5; 5]), &[0.5, 0.75, 1.0, 1.0, 1.0]);
        // over a decaying schedule, on one clock: s(k) · min(1, (k + 1)/4)
        let mut e = Warmup::new(Box::new(started(Exponential::new(0.5), 1.0)), 3);
        let expected: Vec<f64> = (1..=5).map(|k| 0.5f64.powi(k) * ((k + 1) as f64 / 4.0).min(1.0)).collect();
        assert_lrs(&run(&mut e, &[0.5; 5]), &expected);
        // the wrapped plateau sees every metric, warm-up included
        let mut p = Warmup::new(Box::new(started(Plateau::new(2, 5.0), 1.0)), 1);
        assert_lrs(&run(&mut p, &[1.0, 1.0, 1.0, 1.0]), &[1.0, 1.0, 0.2, 0.2]);
        let mut none = Warmup::new(Box::new(started(Constant::new(), 0.3)), 0);
        assert_eq!(none.lr(), 0.3);
        assert_lrs(&run(&mut none, &[0.5]), &[0.3]);
    }

    /// Every kind of schedule, built afresh each call.
    fn every_schedule() -> Vec<Box<dyn Schedule>> {
        let mut all: Vec<Box<dyn Schedule>> =
            SCHEDULES.iter().map(|name| named(name, 0.1, 20, 2, 5.0).unwrap()).collect();
        all.push(Box::new(started(Plateau::new(1, 2.0).with_cooldown(2).with_min_lr(0.01), 0.1)));
        all.push(Box::new(Warmup::new(Box::new(started(Plateau::lecture(), 0.1)), 3)));
        all.push(Box::new(Warmup::new(named("cosine", 0.1, 20, 1, 2.0).unwrap(), 4)));
        all
    }

    #[test]
    fn a_restored_state_gives_the_same_future_lrs() {
        let losses = [1.0, 0.9, 0.9, 0.85, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7];
        for (mut whole, mut first) in every_schedule().into_iter().zip(every_schedule()) {
            let straight = run(whole.as_mut(), &losses);
            let before = run(first.as_mut(), &losses[..6]);
            let json = serde_json::to_string(&first.state()).unwrap();
            let state: ScheduleState = serde_json::from_str(&json).unwrap();
            assert_eq!(state, first.state());
            assert_eq!(state.epoch, 6);
            let mut resumed = every_schedule().into_iter().find(|s| s.describe() == state.schedule).unwrap();
            resumed.restore(&state).unwrap();
            assert_eq!(resumed.lr(), before[5], "{}", state.schedule);
            let after = run(resumed.as_mut(), &losses[6..]);
            assert_eq!([before, after].concat(), straight, "{}", state.schedule);
        }
    }

    #[test]
    fn restore_rejects_a_state_of_another_schedule() {
        let mut plateau = named("plateau", 0.1, 10, 2, 5.0).unwrap();
        let other = named("plateau", 0.1, 10, 3, 5.0).unwrap().state();
        let err = plateau.restore(&other).unwrap_err().to_string();
        assert!(err.contains("patience 3") && err.contains("patience 2") && err.contains("same schedule"), "{err}");
        let mut cosine = named("cosine", 0.1, 10, 2, 5.0).unwrap();
        run(cosine.as_mut(), &[1.0, 1.0]);
        assert!(cosine.restore(&plateau.state()).is_err());
        assert_eq!(cosine.state().epoch, 2);
        let mut missing = plateau.state();
        missing.plateau = None;
        assert!(plateau.restore(&missing).is_err());
    }

    /// η0 comes from the optimizer at the start; a schedule used before it, or started at an η0
    /// below its floor, panics with the reason.
    #[test]
    fn a_schedule_needs_a_valid_start() {
        let panics = |f: Box<dyn FnOnce() + std::panic::UnwindSafe>| {
            let payload = std::panic::catch_unwind(f).unwrap_err();
            payload.downcast_ref::<String>().cloned().unwrap_or_default()
        };
        assert!(
            panics(Box::new(|| {
                let _ = Constant::new().lr();
            }))
            .contains("before start(η0)")
        );
        assert!(
            panics(Box::new(|| {
                let _ = Plateau::lecture().lr();
            }))
            .contains("before start(η0)")
        );
        assert!(panics(Box::new(|| Constant::new().start(0.0))).contains("η0 = 0"));
        assert!(panics(Box::new(|| Cosine::new(0.5, 10).start(0.1))).contains("η_min = 0.5"));
        assert!(panics(Box::new(|| Plateau::lecture().with_min_lr(0.5).start(0.1))).contains("min η = 0.5"));
        let mut w = Warmup::new(Box::new(Step::new(1, 0.5)), 1);
        w.start(0.2);
        assert_eq!((w.lr(), w.describe().contains("η0 0.2")), (0.1, true));
    }

    #[test]
    #[should_panic(expected = "end_epoch(3) after epoch 1")]
    fn an_epoch_out_of_order_panics() {
        let mut s = started(Step::new(2, 0.5), 0.1);
        s.end_epoch(1, 0.0);
        s.end_epoch(3, 0.0);
    }

    #[test]
    fn schedule_by_name_builds_each_and_rejects_bad_settings() {
        for name in SCHEDULES {
            let s = named(name, 0.1, 10, 2, 5.0).unwrap();
            assert_eq!(s.lr(), 0.1, "{name}");
            assert!(s.describe().starts_with(name), "{name}: {}", s.describe());
        }
        // step and exp both reach η0 / F after P epochs
        for name in ["step", "exp"] {
            let mut s = named(name, 0.1, 10, 2, 5.0).unwrap();
            assert_lrs(&run(s.as_mut(), &[1.0, 1.0, 1.0, 1.0])[1..2], &[0.02]);
        }
        let err = named("linear", 0.1, 10, 2, 5.0).err().unwrap().to_string();
        assert!(err.contains("'linear'") && err.contains("plateau") && err.contains("cosine"), "{err}");
        for (name, epochs, patience, factor) in [
            ("plateau", 10, 2, 1.0),
            ("plateau", 10, 2, 0.5),
            ("plateau", 10, 0, 5.0),
            ("step", 10, 2, f32::INFINITY),
            ("exp", 10, 0, 5.0),
            ("cosine", 0, 2, 5.0),
        ] {
            assert!(schedule_by_name(name, epochs, patience, factor).is_err(), "{name} {patience} {factor}");
        }
        // settings a schedule does not use are not checked
        assert!(named("constant", 0.1, 0, 0, 0.0).is_ok());
        assert!(named("cosine", 0.1, 10, 0, 1.0).is_ok());
    }

    /// The list in the docs of [`schedule_by_name`] says what each kind does.
    #[test]
    fn the_doc_list_agrees_with_the_kinds() {
        let source = include_str!("schedule.rs");
        for kind in SCHEDULE_KINDS {
            let line = format!("/// - `{}`: {} (", kind.name, kind.about);
            assert!(source.contains(&line), "schedule_by_name's docs lack `{line}`");
        }
        let listed = source.lines().filter(|l| l.starts_with("/// - `")).count();
        assert_eq!(listed, SCHEDULE_KINDS.len());
        // and the module's table names each kind, in order
        let rows = crate::optim::testing::doc_table_rows(source);
        let named: Vec<&str> = rows.iter().map(|cells| cells[0].trim_matches('`')).filter(|n| !n.is_empty()).collect();
        assert_eq!(named, SCHEDULES);
    }
}
