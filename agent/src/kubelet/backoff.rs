//! The kubelet's restart back-off: the first restart is immediate, then
//! 10 s doubling to 5 min; a container that ran for 10 minutes starts over.
//! Also used for image pulls and sandbox creation. Pure: the caller keeps time.

use std::time::Duration;

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);
/// A run at least this long resets the back-off.
pub const RESET_AFTER: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the next attempt; zero before the first failure.
    current: Duration,
}

impl Backoff {
    /// The delay to wait after a failure whose run lasted `ran_for`, advancing the back-off.
    pub fn next(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= RESET_AFTER {
            self.current = Duration::ZERO;
        }
        let delay = self.current;
        self.current = if delay.is_zero() { INITIAL } else { (delay * 2).min(MAX) };
        delay
    }

    /// A failure with no run (an image pull, a sandbox): at least [`INITIAL`].
    pub fn next_attempt(&mut self) -> Duration {
        let delay = self.next(Duration::ZERO);
        if delay.is_zero() { self.next(Duration::ZERO) } else { delay }
    }

    pub fn reset(&mut self) {
        self.current = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_five_minutes_and_resets_after_a_long_run() {
        let mut b = Backoff::default();
        let short = Duration::from_secs(1);
        let delays: Vec<u64> = (0..8).map(|_| b.next(short).as_secs()).collect();
        assert_eq!(delays, [0, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(b.next(Duration::from_secs(600)), Duration::ZERO);
        assert_eq!(b.next(short), INITIAL);
    }

    #[test]
    fn attempts_without_a_run_wait_from_the_start() {
        let mut b = Backoff::default();
        assert_eq!(b.next_attempt(), INITIAL);
        assert_eq!(b.next_attempt(), Duration::from_secs(20));
        b.reset();
        assert_eq!(b.next_attempt(), INITIAL);
    }
}
