//! Session time (G8). The page supplies the time that drives the validity windows and the
//! per-minute cap, and the page is where an attacker sits: stepping the clock back would keep an
//! expired watchlist running and reopen a spent minute's allowance. So inside the session time
//! never goes backwards: a time behind the latest one is ignored (the session keeps its latest
//! time) and reported once per episode, with the size of the step; a forward jump of more than a
//! minute is reported too. The session writes both to the audit log.
//!
//! Why a forward step needs no more than a log line: the cap is counted per minute of *session*
//! time, and session time cannot go back, so every minute's allowance is spent at most once, and a
//! step forward spends the validity window at the same rate as it opens new minutes. However the
//! clock is driven, at most `cap × (minutes in the window)` match attempts run under a deployment
//! (and authority custody adds the authority's own budgets). What a forward step buys is speed, not
//! volume, and the audit log shows it.

/// A forward step larger than this is reported.
pub const JUMP_MS: f64 = 60_000.0;

/// Something the audit log must hear about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockEvent {
    /// The page's time was `by_ms` behind the session's; the session kept its time.
    Backward { by_ms: f64 },
    /// The page's time jumped `by_ms` ahead (more than [`JUMP_MS`]).
    Forward { by_ms: f64 },
}

#[derive(Debug, Default)]
pub struct SessionClock {
    latest_ms: Option<f64>,
    /// The page's time is behind the session's; the episode was reported when it began.
    behind: bool,
}

impl SessionClock {
    /// Takes the page's time `now_ms` (finite) and returns the session's time, which is never
    /// earlier than any time it returned before, and the event to log, if any.
    pub fn observe_ms(&mut self, now_ms: f64) -> (f64, Option<ClockEvent>) {
        self.observe(now_ms, 0.0)
    }

    /// As [`observe_ms`](Self::observe_ms) for a time in whole seconds: a time within the
    /// second the session is in is not a step back.
    pub fn observe_unix(&mut self, now_unix: i64) -> (i64, Option<ClockEvent>) {
        let (ms, event) = self.observe(now_unix as f64 * 1000.0, 999.0);
        ((ms / 1000.0).floor() as i64, event)
    }

    /// The latest time the session has seen, in milliseconds (`None` before the first reading).
    pub fn latest_ms(&self) -> Option<f64> {
        self.latest_ms
    }

    /// The session's time for a reading at `now_unix`, without moving the clock (for status).
    pub fn unix_at(&self, now_unix: i64) -> i64 {
        self.latest_ms.map_or(now_unix, |latest| now_unix.max((latest / 1000.0).floor() as i64))
    }

    fn observe(&mut self, now_ms: f64, resolution_ms: f64) -> (f64, Option<ClockEvent>) {
        let Some(latest) = self.latest_ms else {
            self.latest_ms = Some(now_ms);
            return (now_ms, None);
        };
        if now_ms + resolution_ms < latest {
            let event = (!self.behind).then_some(ClockEvent::Backward { by_ms: latest - now_ms });
            self.behind = true;
            return (latest, event);
        }
        self.behind = false;
        if now_ms <= latest {
            return (latest, None);
        }
        self.latest_ms = Some(now_ms);
        let event = (now_ms - latest > JUMP_MS).then_some(ClockEvent::Forward { by_ms: now_ms - latest });
        (now_ms, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_never_goes_back_and_each_backward_episode_is_reported_once() {
        let mut clock = SessionClock::default();
        assert_eq!(clock.observe_ms(10_000.0), (10_000.0, None));
        assert_eq!(clock.observe_ms(10_100.0), (10_100.0, None));
        assert_eq!(clock.observe_ms(4_100.0), (10_100.0, Some(ClockEvent::Backward { by_ms: 6_000.0 })));
        assert_eq!(clock.observe_ms(4_200.0), (10_100.0, None), "the same episode is reported once");
        assert_eq!(clock.unix_at(0), 10, "status uses the session's time too");
        assert_eq!(clock.observe_ms(10_200.0), (10_200.0, None), "caught up: time moves again");
        assert_eq!(
            clock.observe_ms(10_000.0),
            (10_200.0, Some(ClockEvent::Backward { by_ms: 200.0 })),
            "a new episode"
        );
    }

    #[test]
    fn a_forward_jump_of_more_than_a_minute_is_reported() {
        let mut clock = SessionClock::default();
        clock.observe_ms(0.0);
        assert_eq!(clock.observe_ms(60_000.0), (60_000.0, None), "exactly a minute is not a jump");
        assert_eq!(clock.observe_ms(3_660_000.0), (3_660_000.0, Some(ClockEvent::Forward { by_ms: 3_600_000.0 })));
    }

    #[test]
    fn whole_seconds_within_the_current_second_are_not_a_step_back() {
        let mut clock = SessionClock::default();
        clock.observe_ms(5_750.0);
        assert_eq!(clock.observe_unix(5), (5, None));
        assert_eq!(clock.observe_ms(5_800.0), (5_800.0, None));
        assert_eq!(clock.observe_unix(4), (5, Some(ClockEvent::Backward { by_ms: 1_800.0 })));
    }
}
