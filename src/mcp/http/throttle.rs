//! Logging at a bounded rate: a flood of rejected requests or refused connections writes
//! one line a second, with the count of those it did not log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sync::lock;

/// At most one line per this period.
const PERIOD: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(super) struct Throttle {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// Whether the event at `now` is logged: `Some(n)` with the `n` events left unlogged
    /// since the last line, `None` if this one is left out.
    pub(super) fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = lock(&self.state);
        match state.last {
            Some(last) if now.saturating_duration_since(last) < PERIOD => {
                state.suppressed += 1;
                None
            }
            _ => {
                state.last = Some(now);
                Some(std::mem::take(&mut state.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_with_the_count_left_out() {
        let t = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(t.admit(t0), Some(0));
        for ms in [1, 200, 999] {
            assert_eq!(t.admit(t0 + Duration::from_millis(ms)), None);
        }
        assert_eq!(t.admit(t0 + Duration::from_millis(1000)), Some(3));
        assert_eq!(t.admit(t0 + Duration::from_millis(1500)), None);
        assert_eq!(t.admit(t0 + Duration::from_secs(5)), Some(1));
    }
}
