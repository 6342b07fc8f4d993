//! Budgets (protocol D): how many faces a kiosk may have evaluated, and how many reviewer
//! materials and key checks it may ask for, in fixed windows of unix time.
//!
//! One request to `/v1/evaluate` is one face (exactly L elements). Per (deployment, kiosk): faces
//! per unix minute and per UTC day; per deployment: faces in total, disclosures per unix hour and
//! per UTC day; per (deployment, kiosk): disclosures and key checks per unix hour; a key check also counts against the deployment's
//! total. A charge is checked and counted atomically for all
//! the counters it touches, or for none ([`super::store::StateStore::charge`]); a refusal names
//! the counter that refused and when its window ends (`Retry-After`).

use super::registration::Budgets;

/// Key checks per kiosk per hour (`POST /v1/key-check`; a kiosk needs one per watchlist load).
pub const KEY_CHECKS_PER_HOUR: u64 = 30;

/// The counters a charge can touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    FacesPerMinute,
    FacesPerDay,
    FacesTotal,
    DisclosuresPerHour,
    DeploymentDisclosuresPerHour,
    DeploymentDisclosuresPerDay,
    KeyChecksPerHour,
    /// Refused sealed claims of one kiosk, never reset.
    ClaimRefusals,
}

impl Counter {
    /// The window length in seconds; `None` for a counter that never resets.
    pub fn window_s(self) -> Option<i64> {
        match self {
            Counter::FacesPerMinute => Some(60),
            Counter::FacesPerDay | Counter::DeploymentDisclosuresPerDay => Some(86_400),
            Counter::FacesTotal | Counter::ClaimRefusals => None,
            Counter::DisclosuresPerHour | Counter::DeploymentDisclosuresPerHour | Counter::KeyChecksPerHour => {
                Some(3600)
            }
        }
    }

    /// The `Veilwatch-Refusal` token when this counter refuses.
    pub fn token(self) -> &'static str {
        match self {
            Counter::FacesPerMinute => "budget_minute",
            Counter::FacesPerDay => "budget_day",
            Counter::FacesTotal => "budget_total",
            Counter::DisclosuresPerHour => "disclosure_cap",
            Counter::DeploymentDisclosuresPerHour | Counter::DeploymentDisclosuresPerDay => "deployment_disclosure_cap",
            Counter::KeyChecksPerHour => "key_check_cap",
            Counter::ClaimRefusals => "suspended",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Counter::FacesPerMinute => "faces-minute",
            Counter::FacesPerDay => "faces-day",
            Counter::FacesTotal => "faces-total",
            Counter::DisclosuresPerHour => "disclosures-hour",
            Counter::DeploymentDisclosuresPerHour => "deployment-disclosures-hour",
            Counter::DeploymentDisclosuresPerDay => "deployment-disclosures-day",
            Counter::KeyChecksPerHour => "key-checks-hour",
            Counter::ClaimRefusals => "sealed-claim-refusals",
        }
    }

    /// The refusal a person reads.
    pub fn message(self, limit: u64) -> String {
        match self {
            Counter::FacesPerMinute => format!("this kiosk's budget of {limit} faces per minute is used up"),
            Counter::FacesPerDay => format!("this kiosk's budget of {limit} faces per day (UTC) is used up"),
            Counter::FacesTotal => {
                format!(
                    "the deployment's budget of {limit} faces in total is used up; the issuer must register it anew"
                )
            }
            Counter::DisclosuresPerHour => format!("this kiosk's cap of {limit} disclosures per hour is reached"),
            Counter::DeploymentDisclosuresPerHour => {
                format!("the deployment's cap of {limit} disclosures per hour, over all its kiosks, is reached")
            }
            Counter::DeploymentDisclosuresPerDay => {
                format!("the deployment's cap of {limit} disclosures per UTC day, over all its kiosks, is reached")
            }
            Counter::KeyChecksPerHour => format!("this kiosk's cap of {limit} key checks per hour is reached"),
            Counter::ClaimRefusals => format!(
                "this kiosk is suspended: more than {limit} of its sealed claims were refused; the issuer must \
                 register a new kiosk key"
            ),
        }
    }
}

/// One counter of one charge: which, whose, its limit and the window `now` falls in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub counter: Counter,
    /// The store key of the counter in this window (deployment, kiosk where per kiosk, window index).
    pub key: String,
    pub limit: u64,
    /// When the window ends (unix seconds); `None` for the total.
    pub window_end: Option<i64>,
}

impl Charge {
    fn new(counter: Counter, deployment: &str, kiosk: Option<&str>, limit: u64, now: i64) -> Charge {
        let (window, window_end) = match counter.window_s() {
            Some(length) => {
                let index = now.div_euclid(length);
                (index.to_string(), Some((index + 1) * length))
            }
            None => ("all".to_owned(), None),
        };
        let whose = match kiosk {
            Some(kiosk) => format!("{deployment}:{kiosk}"),
            None => deployment.to_owned(),
        };
        Charge { counter, key: format!("{}:{whose}:{window}", counter.name()), limit, window_end }
    }

    /// Seconds until this counter's window ends (at least 1), for `Retry-After`.
    pub fn retry_after(&self, now: i64) -> Option<u64> {
        self.window_end.map(|end| (end - now).max(1) as u64)
    }
}

/// The counters one face charges: the kiosk's minute and day, the deployment's total.
pub fn face(budgets: &Budgets, deployment: &str, kiosk: &str, now: i64) -> Vec<Charge> {
    vec![
        Charge::new(Counter::FacesPerMinute, deployment, Some(kiosk), budgets.faces_per_minute.into(), now),
        Charge::new(Counter::FacesPerDay, deployment, Some(kiosk), budgets.faces_per_day.into(), now),
        Charge::new(Counter::FacesTotal, deployment, None, budgets.faces_total, now),
    ]
}

/// The counters one disclosure charges: the kiosk's hour, the deployment's hour and day.
pub fn disclosure(budgets: &Budgets, deployment: &str, kiosk: &str, now: i64) -> Vec<Charge> {
    vec![
        Charge::new(Counter::DisclosuresPerHour, deployment, Some(kiosk), budgets.disclosures_per_hour.into(), now),
        Charge::new(
            Counter::DeploymentDisclosuresPerHour,
            deployment,
            None,
            budgets.deployment_disclosures_per_hour.into(),
            now,
        ),
        Charge::new(
            Counter::DeploymentDisclosuresPerDay,
            deployment,
            None,
            budgets.deployment_disclosures_per_day.into(),
            now,
        ),
    ]
}

/// The counters one key check charges: the kiosk's key checks per hour, and the deployment's total
/// like a face (a key check evaluates one chosen element, so it is no side door around the total).
/// One refused sealed claim of a kiosk: refused itself (the kiosk is to be suspended) once
/// `before_suspension` − 1 are counted.
pub fn claim_refusal(deployment: &str, kiosk: &str, before_suspension: u64, now: i64) -> Vec<Charge> {
    vec![Charge::new(Counter::ClaimRefusals, deployment, Some(kiosk), before_suspension - 1, now)]
}

pub fn key_check(budgets: &Budgets, deployment: &str, kiosk: &str, now: i64) -> Vec<Charge> {
    vec![
        Charge::new(Counter::KeyChecksPerHour, deployment, Some(kiosk), KEY_CHECKS_PER_HOUR, now),
        Charge::new(Counter::FacesTotal, deployment, None, budgets.faces_total, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_the_unix_minute_the_utc_day_and_forever() {
        let budgets = Budgets {
            faces_per_minute: 2,
            faces_per_day: 3,
            faces_total: 4,
            disclosures_per_hour: 5,
            deployment_disclosures_per_hour: 6,
            deployment_disclosures_per_day: 7,
        };
        // 2026-12-02T05:10:30Z
        let now = 1_796_188_230;
        let charges = face(&budgets, "d", "k", now);
        assert_eq!(charges[0].retry_after(now), Some(30));
        assert_eq!(charges[1].retry_after(now), Some(86_400 - (5 * 3600 + 10 * 60 + 30)));
        assert_eq!(charges[2].retry_after(now), None);
        assert_ne!(charges[0].key, face(&budgets, "d", "k", now + 30)[0].key, "a new minute, a new counter");
        assert_eq!(charges[1].key, face(&budgets, "d", "k", now + 30)[1].key);
        assert_eq!(charges[2].key, face(&budgets, "d", "other", now)[2].key, "the total is per deployment");
        assert_ne!(charges[1].key, face(&budgets, "d", "other", now)[1].key, "the day is per kiosk");
        assert_eq!(disclosure(&budgets, "d", "k", now)[0].retry_after(now), Some(3600 - 630));
    }
}
