//! How long to wait before the next reconnection attempt: the retry policy of Twisted's
//! `ReconnectingClientFactory`, as a plain struct that owns no clock or connector.
//!
//! ```
//! use std::time::Duration;
//! use torsion::endpoints::Backoff;
//!
//! let mut backoff = Backoff::seeded(7).with_jitter(0.0).with_max_retries(Some(2));
//! assert_eq!(backoff.next_delay(), Some(Duration::from_secs_f64(std::f64::consts::E)));
//! assert!(backoff.next_delay().is_some());
//! assert_eq!(backoff.next_delay(), None); // gave up after 2 retries
//! backoff.reset_delay(); // connected: start over
//! assert_eq!(backoff.retries(), 0);
//! ```
//!
//! The arithmetic is Twisted's `retry()`, step for step, in `f64` seconds as Python
//! computes it: count the retry and give up past `max_retries`; multiply the delay by
//! `factor` and clamp it to `max_delay`; then, if `jitter` is not zero, replace it by a
//! normal deviate with mean `delay` and standard deviation `delay * jitter` (Python's
//! `random.normalvariate`, same algorithm), and keep that jittered value as the base of the
//! next step. So, as in Twisted, the jitter compounds and a delay may exceed `max_delay`
//! by the jitter of one step. Given the same uniform numbers as Python's `random()`, the
//! delays are bit for bit the ones Twisted schedules.

use std::time::Duration;

/// Twisted's `ReconnectingClientFactory.initialDelay`, in seconds.
pub const DEFAULT_INITIAL_DELAY: f64 = 1.0;
/// Twisted's `factor`, e, so the delay grows by about 2.7 each time. Twisted writes the
/// literal `2.7182818284590451`, whose nearest `f64` is exactly `std::f64::consts::E`.
pub const DEFAULT_FACTOR: f64 = std::f64::consts::E;
/// Twisted's `jitter`, the standard deviation as a fraction of the delay.
pub const DEFAULT_JITTER: f64 = 0.11962656472;
/// Twisted's `maxDelay`, in seconds: one hour.
pub const DEFAULT_MAX_DELAY: f64 = 3600.0;

/// A source of uniform random numbers in `[0, 1)`, as Python's `random()`.
///
/// Any `FnMut() -> f64` is one, so tests pass a scripted sequence; [`SplitMix64`] is the
/// seeded default. Values outside `[0, 1)` (or NaN) are clamped into it, so a bad source
/// cannot make a delay infinite.
pub trait RandomSource {
    /// The next number in `[0, 1)`.
    fn next_f64(&mut self) -> f64;
}

impl<F: FnMut() -> f64> RandomSource for F {
    fn next_f64(&mut self) -> f64 {
        self()
    }
}

/// A small seeded generator (SplitMix64): enough to spread reconnecting clients apart,
/// not for anything secret.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }
}

impl RandomSource for SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits as a fraction: every value in [0, 1) an f64 can hold evenly.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The retry policy's settings and state: the current delay, the retry count, and
/// whether to keep trying.
#[derive(Debug, Clone)]
pub struct Backoff<R = SplitMix64> {
    initial_delay: f64,
    factor: f64,
    jitter: f64,
    max_delay: f64,
    max_retries: Option<u32>,
    /// The last delay handed out (jitter included), in seconds: the next one's base.
    delay: f64,
    retries: u32,
    /// Cleared by [`stop_trying`](Self::stop_trying), set again by `reset_delay`.
    trying: bool,
    random: R,
}

impl Backoff<SplitMix64> {
    /// Twisted's defaults, with jitter drawn from a [`SplitMix64`] started at `seed`.
    /// Give each client its own seed, or they reconnect in step.
    pub fn seeded(seed: u64) -> Backoff<SplitMix64> {
        Backoff::new(SplitMix64::new(seed))
    }
}

impl<R: RandomSource> Backoff<R> {
    /// Twisted's defaults, with jitter drawn from `random`.
    pub fn new(random: R) -> Backoff<R> {
        Backoff {
            initial_delay: DEFAULT_INITIAL_DELAY,
            factor: DEFAULT_FACTOR,
            jitter: DEFAULT_JITTER,
            max_delay: DEFAULT_MAX_DELAY,
            max_retries: None,
            delay: DEFAULT_INITIAL_DELAY,
            retries: 0,
            trying: true,
            random,
        }
    }

    /// The delay the first retry multiplies (so the first wait is `initial * factor`,
    /// as in Twisted); also resets the current delay to it.
    pub fn with_initial_delay(mut self, initial: Duration) -> Self {
        self.initial_delay = initial.as_secs_f64();
        self.delay = self.initial_delay;
        self
    }

    /// How much each retry multiplies the delay by.
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// The jitter's standard deviation as a fraction of the delay; 0 turns it off.
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// The longest delay before jitter is applied.
    pub fn with_max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max.as_secs_f64();
        self
    }

    /// How many retries before giving up; `None` (the default) retries forever.
    pub fn with_max_retries(mut self, max: Option<u32>) -> Self {
        self.max_retries = max;
        self
    }

    /// How long to wait before the next attempt, or `None` to give up: past
    /// `max_retries`, or after [`stop_trying`](Self::stop_trying).
    pub fn next_delay(&mut self) -> Option<Duration> {
        if !self.trying {
            return None;
        }
        self.retries = self.retries.saturating_add(1);
        if self.max_retries.is_some_and(|max| self.retries > max) {
            return None;
        }
        self.delay = python_min(self.delay * self.factor, self.max_delay);
        if self.jitter != 0.0 {
            self.delay = self.normal_variate(self.delay, self.delay * self.jitter);
        }
        Some(self.current_delay())
    }

    /// Call after a successful connection: the next delay starts from the initial one
    /// again, the retry count from zero, and a stopped policy tries again.
    pub fn reset_delay(&mut self) {
        self.delay = self.initial_delay;
        self.retries = 0;
        self.trying = true;
    }

    /// Give up: [`next_delay`](Self::next_delay) returns `None` until `reset_delay`.
    pub fn stop_trying(&mut self) {
        self.trying = false;
    }

    /// The last delay handed out (the initial delay before any).
    pub fn current_delay(&self) -> Duration {
        // A negative delay needs a six-sigma draw, an infinite one absurd settings: wait
        // zero or as long as a Duration can, rather than panic.
        Duration::try_from_secs_f64(self.delay.max(0.0)).unwrap_or(Duration::MAX)
    }

    /// How many retries were asked for since the last reset.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Python's `random.normalvariate(mu, sigma)`: the Kinderman-Monahan ratio method,
    /// with the same draws in the same order, so equal uniforms give equal results.
    fn normal_variate(&mut self, mu: f64, sigma: f64) -> f64 {
        let magic = 4.0 * (-0.5f64).exp() / 2.0f64.sqrt();
        // A real uniform source is accepted about 73% of the time; a broken one that
        // never is must not hang the loop, so it gets no jitter instead.
        for _ in 0..MAX_DRAWS {
            let u1 = self.uniform();
            let u2 = 1.0 - self.uniform();
            let z = magic * (u1 - 0.5) / u2;
            if z * z / 4.0 <= -u2.ln() {
                return mu + z * sigma;
            }
        }
        mu
    }

    fn uniform(&mut self) -> f64 {
        let value = self.random.next_f64();
        match value.is_nan() {
            true => 0.0,
            false => value.clamp(0.0, LARGEST_BELOW_ONE),
        }
    }
}

/// Python's `min(a, b)`: `b` only if it is strictly smaller.
fn python_min(a: f64, b: f64) -> f64 {
    match b < a {
        true => b,
        false => a,
    }
}

/// Rejections allowed before giving up on a jitter draw.
const MAX_DRAWS: usize = 1000;
/// The largest `f64` below 1, the top of Python's `random()` range.
const LARGEST_BELOW_ONE: f64 = 1.0 - f64::EPSILON / 2.0;

#[cfg(test)]
mod tests {
    use std::f64::consts::E;

    use super::*;

    /// Hands out `values` in a loop, as the Python script that made the expectations did.
    fn scripted(values: &'static [f64]) -> impl FnMut() -> f64 {
        let mut next = 0;
        move || {
            let value = values[next % values.len()];
            next += 1;
            value
        }
    }

    const UNIFORMS: &[f64] = &[0.5, 0.25, 0.9, 0.1, 0.7, 0.3, 0.05, 0.95, 0.6, 0.4];

    fn seconds(backoff: &mut Backoff<impl RandomSource>) -> Option<f64> {
        backoff.next_delay().map(|_| backoff.delay)
    }

    #[test]
    fn without_jitter_the_delay_grows_by_e_up_to_an_hour() {
        // CPython's values for Twisted's retry() with jitter = 0.
        let expected = [
            E,
            7.3890560989306495,
            20.085536923187664,
            54.59815003314423,
            148.41315910257657,
            403.428793492735,
            1096.6331584284583,
            2980.9579870417274,
            3600.0,
            3600.0,
        ];
        let mut backoff = Backoff::new(scripted(UNIFORMS)).with_jitter(0.0);
        for (retry, want) in expected.into_iter().enumerate() {
            assert_eq!(seconds(&mut backoff), Some(want), "retry {}", retry + 1);
        }
        assert_eq!(backoff.current_delay(), Duration::from_secs(3600));
    }

    #[test]
    fn jitter_matches_python_normalvariate_and_is_applied_after_the_clamp() {
        // CPython's values for Twisted's retry() with the default jitter, its Random's
        // random() replaced by the same scripted uniforms (32 draws, rejections included).
        let expected = [
            E,
            7.82231381242868,
            21.99053718627852,
            59.7764776315138,
            172.016882774953,
            483.58372574109836,
            1314.5168542205502,
            3782.743657330316, // past max_delay: jitter comes after the clamp
            3723.133616278477,
            3600.0,
        ];
        let mut draws = 0;
        {
            let mut script = scripted(UNIFORMS);
            let mut backoff = Backoff::new(|| {
                draws += 1;
                script()
            });
            for (retry, want) in expected.into_iter().enumerate() {
                assert_eq!(seconds(&mut backoff), Some(want), "retry {}", retry + 1);
            }
        }
        assert_eq!(draws, 32);
    }

    #[test]
    fn the_normal_constant_is_pythons() {
        assert_eq!(4.0 * (-0.5f64).exp() / 2.0f64.sqrt(), 1.7155277699214135);
    }

    #[test]
    fn max_retries_gives_up_and_reset_delay_starts_over() {
        let mut backoff = Backoff::new(scripted(UNIFORMS))
            .with_jitter(0.0)
            .with_max_retries(Some(2));
        assert_eq!(seconds(&mut backoff), Some(E));
        assert_eq!(seconds(&mut backoff), Some(7.3890560989306495));
        assert_eq!(backoff.next_delay(), None);
        assert_eq!(backoff.next_delay(), None);
        // Twisted counts the refused retries too.
        assert_eq!(backoff.retries(), 4);
        backoff.reset_delay();
        assert_eq!(backoff.retries(), 0);
        assert_eq!(backoff.current_delay(), Duration::from_secs(1));
        assert_eq!(seconds(&mut backoff), Some(E));
    }

    #[test]
    fn stop_trying_holds_until_reset() {
        let mut backoff = Backoff::seeded(1);
        backoff.stop_trying();
        assert_eq!(backoff.next_delay(), None);
        assert_eq!(backoff.retries(), 0);
        backoff.reset_delay();
        assert!(backoff.next_delay().is_some());
    }

    #[test]
    fn settings_change_the_sequence() {
        let mut backoff = Backoff::new(scripted(UNIFORMS))
            .with_jitter(0.0)
            .with_initial_delay(Duration::from_millis(500))
            .with_factor(2.0)
            .with_max_delay(Duration::from_secs(3));
        let delays: Vec<_> = std::iter::from_fn(|| backoff.next_delay())
            .take(4)
            .collect();
        let want = [1000, 2000, 3000, 3000].map(Duration::from_millis);
        assert_eq!(delays, want);
    }

    #[test]
    fn broken_random_sources_cannot_hang_or_panic() {
        for value in [1.0, 2.0, -1.0, f64::NAN, f64::INFINITY, 0.99] {
            let mut backoff = Backoff::new(move || value);
            for _ in 0..20 {
                let delay = backoff.next_delay().unwrap();
                assert!(delay <= Duration::MAX, "{value}");
            }
        }
        let mut absurd = Backoff::new(|| 0.5)
            .with_factor(f64::MAX)
            .with_max_delay(Duration::MAX);
        assert!(absurd.next_delay().is_some());
        assert_eq!(absurd.next_delay(), Some(Duration::MAX));
    }

    #[test]
    fn seeded_jitter_stays_near_the_mean() {
        let mut backoff = Backoff::seeded(42);
        let first = backoff.next_delay().unwrap().as_secs_f64();
        // Six standard deviations either side of e.
        let spread = 6.0 * DEFAULT_JITTER * DEFAULT_FACTOR;
        assert!((first - DEFAULT_FACTOR).abs() < spread, "{first}");
        let mut uniform = SplitMix64::new(3);
        assert!((0..1000)
            .map(|_| uniform.next_f64())
            .all(|u| (0.0..1.0).contains(&u)));
    }
}
