//! The current minute's counts: faces seen and rejected, match attempts made against the profile's
//! per-minute cap. When the minute turns, its counts go to the audit log and start again at zero.

use serde_json::{json, Value};

#[derive(Debug, Default)]
pub struct MinuteCounts {
    minute: Option<i64>,
    faces: u64,
    rejected: u64,
    attempts: u64,
}

/// A finished minute, ready for the audit log (at the minute's last second).
pub struct FinishedMinute {
    pub at_unix: i64,
    pub counts: Value,
}

impl MinuteCounts {
    /// Moves to the minute holding `now_unix`; returns the previous minute's counts when it ended.
    pub fn roll(&mut self, now_unix: i64, retained: usize) -> Option<FinishedMinute> {
        let minute = now_unix.div_euclid(60);
        if self.minute == Some(minute) {
            return None;
        }
        let finished = self.minute.map(|previous| FinishedMinute {
            at_unix: previous * 60 + 59,
            counts: json!({"faces": self.faces, "rejected": self.rejected,
                           "match_attempts": self.attempts, "retained": retained}),
        });
        *self = MinuteCounts { minute: Some(minute), ..MinuteCounts::default() };
        finished
    }

    pub fn face(&mut self, passed_gates: bool) {
        self.faces += 1;
        self.rejected += u64::from(!passed_gates);
    }

    /// Takes one match attempt from this minute's allowance of `cap`; false when it is spent.
    pub fn try_attempt(&mut self, cap: u64) -> bool {
        if self.attempts >= cap {
            return false;
        }
        self.attempts += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_holds_within_a_minute_and_counts_land_when_it_turns() {
        let mut counts = MinuteCounts::default();
        assert!(counts.roll(120, 0).is_none(), "the first minute has no predecessor");
        counts.face(true);
        counts.face(false);
        assert!(counts.try_attempt(2) && counts.try_attempt(2));
        assert!(!counts.try_attempt(2), "the third attempt in a minute with a cap of 2 is refused");
        assert!(counts.roll(179, 0).is_none(), "same minute");
        let finished = counts.roll(180, 0).unwrap();
        assert_eq!(finished.at_unix, 179);
        assert_eq!(finished.counts, json!({"faces": 2, "rejected": 1, "match_attempts": 2, "retained": 0}));
        assert!(counts.try_attempt(2), "a new minute, a new allowance");
    }
}
