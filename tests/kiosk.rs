//! The kiosk session natively, on real photos: one alert per track, human review recorded in a
//! verifiable audit log, the profile's query-rate cap, matching stopping when the window closes
//! while detection goes on, and nothing retained once a face has gone. The deployment's rules
//! against an attacker at the page: demo enrolment cannot replace a deployment, and session time
//! cannot be stepped back to keep an expired list running or to reopen a spent minute's cap.

mod common;

use ed25519_dalek::SigningKey;
use veilwatch::blind::enroll::{build, Enrolment, WatchlistParams};
use veilwatch::blind::record::EntryRecord;
use veilwatch::governance::audit;
use veilwatch::governance::profile::Custody;
use veilwatch::hex::hex;
use veilwatch::kiosk::{CustodyOptions, DeploymentOptions, ErrorCode, KioskError, KioskSession};
use veilwatch::pipeline::Frame;
use veilwatch::template::Embedding;

const NOW: i64 = 1_800_000_000;

struct Setup {
    session: KioskSession,
    enrolled: Frame,
    stranger: Frame,
    blank: Frame,
}

fn setup(rate_per_minute: u32, valid_until: i64) -> Option<Setup> {
    let (engine, root) = (common::engine()?, common::lfw_images()?);
    let load = |name: &str, i: usize| common::load(&root.join(name).join(format!("{name}_{i:04}.jpg")));
    let embed = |frame: &Frame| engine.analyse_still(frame).unwrap().unwrap().embedding;
    let templates: Vec<Embedding> = (2..=6).map(|i| embed(&load("Tony_Blair", i))).collect();
    let record = EntryRecord::new("REF-000001".into(), "Tony Blair".into(), "test".into(), "LFW".into(), NOW, None);
    let issuer = SigningKey::from_bytes(&[3; 32]);
    let prf_key = [9; 32];
    let prf = veilwatch::blind::prf::LocalHmac::new(prf_key);
    let params = WatchlistParams {
        model_id: engine.model_id().into(),
        tables: veilwatch::blind::DEFAULT_TABLES,
        threshold: veilwatch::blind::DEFAULT_THRESHOLD,
        valid_from: NOW - 3600,
        valid_until,
    };
    let file =
        build(vec![Enrolment { template: Embedding::mean(&templates).unwrap(), record }], &params, &prf, &issuer)
            .unwrap();
    let profile =
        common::test_profile(&file, params.threshold, Custody::Local, rate_per_minute, (NOW, valid_until), Vec::new());
    let deployment = DeploymentOptions {
        watchlist: file,
        issuer_key: hex(&issuer.verifying_key().to_bytes()),
        profile: Some(profile.sign(&issuer).unwrap()),
        custody: CustodyOptions::Local { prf_key: hex(&prf_key) },
        kiosk_public_key: None,
    };
    let mut session = KioskSession::new(engine);
    assert_eq!(session.begin_load_deployment(deployment, NOW).unwrap(), None, "local custody loads at once");
    let blank = Frame::from_rgba(250, 250, &vec![128; 250 * 250 * 4]).unwrap();
    // Photo 1 is a three-quarter view the pose gate rejects (as it should); photo 8 is frontal.
    Some(Setup { session, enrolled: load("Tony_Blair", 8), stranger: load("Aaron_Sorkin", 1), blank })
}

fn ms(seconds: i64, extra_ms: f64) -> f64 {
    seconds as f64 * 1000.0 + extra_ms
}

#[test]
fn one_alert_per_track_reviewed_by_a_person_and_audited() {
    let Some(mut s) = setup(600, NOW + 3600) else { return };
    let mut alerts = Vec::new();
    for i in 0..12 {
        let result = s.session.process_frame(&s.enrolled, ms(NOW, i as f64 * 200.0)).unwrap();
        assert!(!result.faces.is_empty());
        alerts.extend(result.alerts);
    }
    assert_eq!(alerts.len(), 1, "one alert for the track, not one per frame");
    assert_eq!(alerts[0].record.as_ref().unwrap().label, "Tony Blair");
    assert_eq!(alerts[0].probe.rgba().len(), 112 * 112 * 4);
    assert_eq!(s.session.pending_reviews(), 1);

    assert!(matches!(s.session.review(alerts[0].id, "maybe", "A", NOW), Err(KioskError::BadDecision)));
    assert!(matches!(s.session.review(alerts[0].id, "confirm", "  ", NOW), Err(KioskError::NoReviewer)));
    assert!(matches!(s.session.review(999, "confirm", "A", NOW), Err(KioskError::UnknownAlert(999))));
    s.session.review(alerts[0].id, "reject", "A. Reviewer", NOW + 5).unwrap();
    assert_eq!((s.session.pending_reviews(), s.session.pending_probe_bytes()), (0, 0), "the probe crop is gone");
    assert!(matches!(s.session.review(alerts[0].id, "confirm", "A", NOW), Err(KioskError::UnknownAlert(_))));

    // The face leaves; a minute passes; the counts land in the log and nothing is retained.
    let later = s.session.process_frame(&s.blank, ms(NOW + 70, 0.0)).unwrap();
    assert_eq!(later.counters.retained, 0);
    assert_eq!(later.counters.tracks_active, 0);
    let log = s.session.audit_log();
    assert!(audit::verify(&log).unwrap() >= 4);
    for kind in ["config", "alert", "review", "counts"] {
        assert!(log.contains(&format!("\"kind\":\"{kind}\"")), "{kind} missing from {log}");
    }
    assert!(log.contains("\"decision\":\"rejected\""));
    assert!(!log.contains("REF-000001"), "a rejected false match leaves no link to the entry in the log");
    assert!(!log.contains("Tony") && !log.contains("Blair"), "identities stay out of the audit log");
}

#[test]
fn strangers_raise_no_alert_and_the_rate_cap_holds() {
    let Some(mut s) = setup(2, NOW + 3600) else { return };
    let mut attempts = 0;
    for i in 0..40 {
        // The stranger comes and goes: a new track every 1.5 s.
        let frame = if i % 6 < 3 { &s.stranger } else { &s.blank };
        let result = s.session.process_frame(frame, ms(NOW, i as f64 * 500.0)).unwrap();
        assert!(result.alerts.is_empty());
        attempts = result.counters.match_attempts;
        if i == 39 {
            assert!(result.counters.rate_limited > 0, "the cap of 2 per minute was reached: {:?}", result.counters);
        }
    }
    assert_eq!(attempts, 2);
}

#[test]
fn matching_stops_when_the_window_closes_but_detection_goes_on() {
    let Some(mut s) = setup(600, NOW + 10) else { return };
    s.session.process_frame(&s.stranger, ms(NOW, 0.0)).unwrap();
    let err = s.session.process_frame(&s.enrolled, ms(NOW + 11, 0.0)).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(err.code(), ErrorCode::WatchlistExpired);
    assert!(s.session.matcher().is_none());
    let result = s.session.process_frame(&s.enrolled, ms(NOW + 12, 0.0)).unwrap();
    assert!(!result.faces.is_empty(), "detection goes on");
    assert!(result.alerts.is_empty(), "no matching outside the window");
    assert!(s.session.audit_log().contains("\"matching\":\"stopped\""));
}

#[test]
fn enrol_me_is_refused_while_a_deployment_runs_and_the_deployment_stays() {
    let Some(mut s) = setup(600, NOW + 3600) else { return };
    let refused = s.session.enroll_from_frame(&s.enrolled, "Visitor", NOW).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::DemoUnderDeployment);
    assert!(refused.to_string().contains("only possible in demo mode"), "{refused}");
    assert!(refused.to_string().contains("test operator at test bench"), "{refused}");
    let status = s.session.status(NOW);
    assert_eq!(status.mode, veilwatch::kiosk::status::Mode::Deployment);
    assert_eq!(status.entries, 64, "the deployment (1 entry, padded to its size class of 64) is still the one loaded");
    assert_eq!(status.query_rate_per_minute, 600);
    assert_eq!(status.demo_enrolment_refused.as_deref(), Some(refused.to_string().as_str()));
    assert!(status.notice.is_some());
}

#[test]
fn demo_mode_has_a_rate_cap_of_60_and_ends_when_a_deployment_loads() {
    let Some(s) = setup(600, NOW + 3600) else { return };
    let mut demo = KioskSession::new(common::engine().unwrap());
    let idle = demo.status(NOW);
    assert_eq!((idle.mode, idle.query_rate_per_minute), (veilwatch::kiosk::status::Mode::Idle, 60));
    assert_eq!(demo.enroll_from_frame(&s.enrolled, "Visitor", NOW).unwrap(), 1);
    let status = demo.status(NOW);
    assert_eq!((status.mode, status.query_rate_per_minute), (veilwatch::kiosk::status::Mode::Demo, 60));
    assert!(status.notice.is_none() && status.demo_enrolment_refused.is_none());
    assert!(demo.audit_log().contains("\"mode\":\"demo\",\"operator\":null"), "{}", demo.audit_log());
    assert!(demo.audit_log().contains("\"query_rate_per_minute\":60"));
}

#[test]
fn time_stepped_back_is_ignored_and_logged_and_cannot_outlive_the_window() {
    let Some(mut s) = setup(600, NOW + 40) else { return };
    s.session.process_frame(&s.stranger, ms(NOW + 30, 0.0)).unwrap();
    // The page steps its clock back half a minute: the session keeps its time.
    s.session.process_frame(&s.stranger, ms(NOW, 0.0)).unwrap();
    s.session.process_frame(&s.stranger, ms(NOW, 100.0)).unwrap();
    assert_eq!(s.session.status(NOW).seconds_left, Some(10), "the window counts from the session's time");
    let log = s.session.audit_log();
    assert_eq!(log.matches("\"kind\":\"clock\"").count(), 1, "one episode, one line: {log}");
    assert!(log.contains("\"ignored\":true,\"seconds\":30.0,\"step\":\"backward\""), "{log}");
    // The true time passes the end of the window once; stepping back afterwards does not reopen it.
    let expired = s.session.process_frame(&s.stranger, ms(NOW + 41, 0.0)).unwrap_err();
    assert!(expired.code().is_window_closed(), "{expired}");
    let after = s.session.process_frame(&s.enrolled, ms(NOW + 1, 0.0)).unwrap();
    assert!(s.session.matcher().is_none() && after.alerts.is_empty() && after.counters.match_attempts <= 3);
    // A jump of more than a minute forward is logged with its size.
    s.session.process_frame(&s.blank, ms(NOW + 3641, 0.0)).unwrap();
    assert!(s.session.audit_log().contains("\"seconds\":3600.0,\"step\":\"forward\""), "{}", s.session.audit_log());
    assert!(audit::verify(&s.session.audit_log()).is_ok());
}

#[test]
fn stepping_back_into_a_spent_minute_does_not_reopen_its_cap() {
    let Some(mut s) = setup(2, NOW + 3600) else { return };
    let mut run = |from: i64, frames: usize| {
        let mut last = None;
        for i in 0..frames {
            let frame = if i % 6 < 3 { &s.stranger } else { &s.blank };
            last = Some(s.session.process_frame(frame, ms(from, i as f64 * 500.0)).unwrap().counters);
        }
        last.unwrap()
    };
    // NOW is the start of a minute: two attempts spend its cap of 2.
    let spent = run(NOW + 30, 24);
    assert_eq!(spent.match_attempts, 2);
    assert!(spent.rate_limited > 0);
    // Back into the previous minute (a fresh one, by the page's clock): still refused.
    let stepped_back = run(NOW - 30, 24);
    assert_eq!(stepped_back.match_attempts, 2, "a backward step must not reset the per-minute cap");
    assert!(stepped_back.rate_limited > spent.rate_limited);
}

/// Two frames side by side, as one wider frame (both the same height).
fn side_by_side(left: &Frame, right: &Frame) -> Frame {
    assert_eq!(left.height(), right.height());
    let (lw, rw, h) = (left.width() as usize, right.width() as usize, left.height() as usize);
    let mut rgb = Vec::with_capacity((lw + rw) * h * 3);
    for y in 0..h {
        rgb.extend_from_slice(&left.rgb()[y * lw * 3..(y + 1) * lw * 3]);
        rgb.extend_from_slice(&right.rgb()[y * rw * 3..(y + 1) * rw * 3]);
    }
    Frame::from_rgb((lw + rw) as u32, h as u32, rgb).unwrap()
}

#[test]
fn a_group_is_embedded_on_need_and_the_watchlisted_face_still_alerts_at_once() {
    let Some(mut s) = setup(600, NOW + 3600) else { return };
    let group = side_by_side(&s.stranger, &s.enrolled);
    let mut alerts = Vec::new();
    let mut counters = None;
    for i in 0..30 {
        let result = s.session.process_frame(&group, ms(NOW, i as f64 * 100.0)).unwrap();
        assert_eq!(result.faces.len(), 2, "frame {i}: both faces are tracked, embedded or not");
        if i == 0 {
            assert_eq!(result.alerts.len(), 1, "the watchlisted face alerts on its first frame");
        }
        alerts.extend(result.alerts);
        counters = Some(result.counters);
    }
    let c = counters.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].record.as_ref().unwrap().label, "Tony Blair");
    assert_eq!((c.faces_processed, c.tracks_active, c.faces_rejected), (60, 2, 0));
    // The stranger's track fuses its budget of 10 good frames and is then carried by its box; the
    // alerted track needs no embedding after its first. Before embedding on need: 60.
    assert_eq!(c.faces_embedded, 10 + 1, "{c:?}");
    // Matched once a second all the same: the stranger at 0, 1 and 2 s, Blair once.
    assert_eq!(c.match_attempts, 3 + 1, "{c:?}");
}
