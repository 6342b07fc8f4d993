//! The report of `veilwatch eval`: an [`EvalReport`] as one self-contained HTML page, its CSS and
//! charts inline, no external resource, text from files escaped. Native only, like the protocol
//! whose report it shows; the charts themselves are [`crate::calibration::chart`]'s, which the
//! kiosk draws too.

use std::fmt::Write;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::operating_points::{
    GroupBreakdown, GroupRate, OperatingPoint, OperatingPoints, Protocol, MIN_GROUP_STRANGERS,
};
use super::protocol::EvalReport;
use crate::calibration::chart::{
    bold, decade_label, decade_labels, det_svg, draw_label, draw_marker, draw_text, escape, grouped, log_range, one_in,
    operating_point_svg, percent, render, sci, target_label, text_style, Look, Shape, COMPARED_SIZES, GRID, GRID_LIGHT,
    INK, MARK, PALETTE, REFERENCE_FPIRS,
};
use crate::calibration::model::BinTails;
use crate::calibration::shipped::GROUP_CALIBRATION;

/// The operating point the page discusses in detail: NPL's deployment (DESIGN §7).
const CHOSEN: (&str, u64, Protocol) = ("1/6000", 10_000, Protocol::Track);
/// The largest max/min FPIR ratio over groups the page calls equal treatment.
const MAX_GROUP_RATIO: f64 = 2.0;

const CSS: &str = r#"
:root { color-scheme: light; --ink: #1a1a1a; --muted: #555; --rule: #d0d0d0; --band: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { font-size: 2rem; margin: 0 0 .3em; line-height: 1.2; }
h2 { font-size: 1.4rem; margin: 2.2em 0 .6em; padding-top: .6em; border-top: 2px solid var(--rule); }
p, li, dd { max-width: 72ch; }
.lede { color: var(--muted); margin-top: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: 14px; margin: 1.4em 0; padding: 0; list-style: none; }
.cards li { border: 1px solid var(--rule); border-radius: 10px; padding: 14px 16px; background: var(--band); }
.cards .big { display: block; font-size: 1.7rem; font-weight: 700; line-height: 1.2; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .4em 1.2em; }
dt { font-weight: 700; }
dd { margin: 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; font-variant-numeric: tabular-nums; margin: .6em 0 1em; }
caption { text-align: left; font-weight: 700; padding-bottom: .4em; }
td { white-space: nowrap; }
th, td { padding: 7px 8px; border-bottom: 1px solid var(--rule); text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid var(--ink); vertical-align: bottom; }
tbody tr:nth-child(even) { background: var(--band); }
tr.chosen { outline: 3px solid var(--ink); outline-offset: -3px; font-weight: 700; }
.verdict { font-size: 1.1rem; font-weight: 700; padding: 10px 14px; border-left: 6px solid var(--ink); background: var(--band); max-width: none; }
.note { color: var(--muted); font-size: .95rem; }
figure { margin: 1.6em 0; }
figure svg { width: 100%; height: auto; display: block; border: 1px solid var(--rule); border-radius: 8px; }
figcaption { color: var(--muted); margin-top: .5em; max-width: 80ch; }
code { font-size: .95em; }
"#;

/// The evaluation as one self-contained HTML page: a plain-language summary, the operating
/// points, the groups at the chosen operating point (1 false alert in 6 000 passers-by, 10 000
/// entries, track) with the max/min verdict, NPL's differential test and the charts, all inline.
pub fn render_html(report: &EvalReport) -> String {
    let mut page = String::new();
    let title = format!("Veilwatch evaluation: {}", report.dataset);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let _ = writeln!(
        page,
        "<p class=\"lede\">{} photos of {} people ({} without a face the detector could use). \
         Verification pairs: {} genuine, {} impostor.</p>",
        grouped(report.images as u64),
        grouped(report.identities as u64),
        grouped(report.detection_failures as u64),
        grouped(report.genuine_pairs as u64),
        grouped(report.impostor_pairs as u64),
    );
    match &report.operating_points {
        Some(points) => operating_points_sections(&mut page, points),
        None => page.push_str(
            "<p class=\"verdict\">This evaluation ran without strangers (fillers), so it has no operating \
             points per passer-by. Run <code>veilwatch eval DATASET --fillers DIR --fillers-groups CSV</code> \
             for them.</p>\n",
        ),
    }
    verification_section(&mut page, report);
    page.push_str("</main>\n</body>\n</html>\n");
    page
}

fn find<'a>(points: &'a OperatingPoints, fpir: &str, entries: u64, protocol: Protocol) -> Option<&'a OperatingPoint> {
    points.points.iter().find(|p| p.fpir == fpir && p.watchlist_size == entries && p.protocol == protocol)
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Single => "single photo",
        Protocol::Track => "track",
    }
}

fn or_dash<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map(show).unwrap_or_else(|| "—".into())
}

fn operating_points_sections(page: &mut String, points: &OperatingPoints) {
    let tables = points.tables;
    let chosen = find(points, CHOSEN.0, CHOSEN.1, CHOSEN.2);
    let _ = writeln!(
        page,
        "<p class=\"lede\">Operating points from {} watchlist templates, {} strangers on no watchlist, \
         {} single-photo probes and {} track probes; model <code>{}</code>; L = {} LSH tables.</p>",
        grouped(points.templates as u64),
        grouped(points.fillers as u64),
        grouped(points.single_probes as u64),
        grouped(points.track_probes as u64),
        escape(&points.calibration.model_id),
        grouped(tables as u64),
    );

    // Headline.
    page.push_str("<h2 id=\"summary\">In short</h2>\n");
    match chosen {
        Some(p) => {
            let _ = writeln!(
                page,
                "<p>With a watchlist of {} people, set to raise a false alert for at most {} passers-by who are \
                 on no list, the kiosk needs {} of its {} tables to agree, and then finds {} of watchlisted \
                 people walking past (judged on a short track of their face).</p>",
                grouped(p.watchlist_size),
                target_label(&p.fpir),
                or_dash(p.m, |m| format!("m = {m}")),
                grouped(tables as u64),
                or_dash(p.tpir_blind, percent),
            );
            page.push_str("<ul class=\"cards\">\n");
            let _ = writeln!(
                page,
                "<li><span class=\"big\">{}</span> passers-by falsely alerted (target)</li>",
                target_label(&p.fpir)
            );
            let _ =
                writeln!(page, "<li><span class=\"big\">{}</span> watchlist entries</li>", grouped(p.watchlist_size));
            let _ = writeln!(
                page,
                "<li><span class=\"big\">{}</span> tables of {} must agree</li>",
                or_dash(p.m, |m| format!("m = {m}")),
                grouped(tables as u64)
            );
            let _ = writeln!(
                page,
                "<li><span class=\"big\">{}</span> of watchlisted people found{}</li>",
                or_dash(p.tpir_blind, percent),
                or_dash(p.tpir_blind_ci95, |ci| format!(" (95&#8239;% interval {})", percent_range(ci)))
            );
            if let Some(groups) = &p.by_group {
                let _ = writeln!(
                    page,
                    "<li><span class=\"big\">{}</span> highest over lowest group FPIR (the limit is 2×)</li>",
                    or_dash(groups.max_min_ratio, |r| format!("{}×", sci(r))),
                );
            }
            page.push_str("</ul>\n");
        }
        None => {
            let _ = writeln!(
                page,
                "<p>This report has no operating point for {} passers-by with {} entries ({}).</p>",
                target_label(CHOSEN.0),
                grouped(CHOSEN.1),
                protocol_name(CHOSEN.2)
            );
        }
    }

    page.push_str(
        "<h2 id=\"terms\">What the numbers mean</h2>\n<dl>\n\
         <dt>FPIR</dt><dd>False alerts per passer-by: the share of people walking past who are on no \
         watchlist and yet raise an alert. “1 in 6 000” means that, on average, one of every 6 000 such \
         passers-by is falsely flagged. It grows with the size of the watchlist, because each passer-by is \
         compared with every entry.</dd>\n\
         <dt>TPIR</dt><dd>True alerts per watchlisted passer-by: the share of people on the watchlist who \
         are recognised when they walk past. “Track” judges a short track of their face (several frames \
         fused), “single photo” one photo.</dd>\n\
         <dt>m</dt><dd>The collision threshold. The kiosk never sees the watchlist’s faces: it checks L \
         independent blinded hash tables and alerts when at least m of them agree. A higher m means fewer \
         false alerts and fewer true ones; the operating point is the smallest m that meets the FPIR target.</dd>\n\
         <dt>FMR per comparison</dt><dd>The chance that one stranger matches one entry. FPIR = 1 − (1 − FMR)<sup>N</sup> \
         for a watchlist of N entries, so a rate that looks tiny per comparison can alert often.</dd>\n\
         <dt>95&#8239;% interval</dt><dd>The range the true value lies in with 95&#8239;% confidence, from \
         resampling people (bootstrap) and the number of false matches the data could show.</dd>\n</dl>\n",
    );

    operating_points_table(page, points, chosen);
    recipes_section(page, points, chosen);
    if let Some(p) = chosen {
        if let Some(groups) = &p.by_group {
            groups_section(page, p, groups);
        }
        kiosk_groups_section(page, points, p);
    }
    differential_section(page, points, chosen);
    levers_section(page, points);
    charts_section(page, points);
}

/// Which calibration set the thresholds: every enrolment recipe against both stranger
/// populations, at the chosen m, the population that sets it marked.
fn recipes_section(page: &mut String, points: &OperatingPoints, chosen: Option<&OperatingPoint>) {
    let recipes = &points.calibration.recipes;
    let Some(m) = chosen.and_then(|p| p.m).filter(|_| !recipes.is_empty()) else { return };
    let tables = points.tables;
    let _ = writeln!(
        page,
        "<h2 id=\"recipes\">Which strangers set the threshold</h2>\n<p>Thresholds come from the most pessimistic \
         calibration that applies: templates built as <code>enroll</code> builds them (the mean of k photos) against \
         single photos that pass the kiosk’s quality gates, of two stranger populations — LFW development people \
         other than the template’s (same domain, look-alikes included) and the UTKFace fillers — fitted on half of \
         the people and checked by counting alerts on the other half (<code>tests/false_alerts.rs</code>). Until \
         2026-12-07 they came from the fillers alone against 5-photo templates, which promised several times fewer \
         false alerts than held-out strangers raise (that test prints both): a mean of several photos attracts strangers more than \
         one photo does, and look-alikes from the same domain are the tail that makes false alerts.</p>\n\
         <div class=\"table-wrap\"><table>\n<caption>False-match rate per comparison at m = {m} of {tables}, 95&#8239;% \
         interval</caption>\n<thead><tr><th scope=\"col\">Photos per template</th><th scope=\"col\">Strangers</th>\
         <th scope=\"col\">Templates</th><th scope=\"col\">Stranger photos</th><th scope=\"col\">FMR</th>\
         <th scope=\"col\">95&#8239;% interval</th></tr></thead>\n<tbody>"
    );
    for k in 1..=crate::calibration::model::MAX_TEMPLATE_PHOTOS {
        let worst = points.calibration.recipe_rate(k, tables, m);
        for r in recipes.iter().filter(|r| r.photos == k) {
            let (hits, pairs) = BinTails::new(tables, m).hits(&r.impostors);
            let sets = worst.as_ref().is_some_and(|w| w.population == r.population);
            let _ = writeln!(
                page,
                "<tr><td>{k}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&r.population),
                if sets { " (the more pessimistic)" } else { "" },
                grouped(r.templates),
                grouped(r.strangers),
                sci(hits / pairs.max(1.0)),
                {
                    let [low, high] = crate::calibration::model::poisson_interval(hits, pairs.max(1.0));
                    format!("{} – {}", sci(low), sci(high))
                },
            );
        }
    }
    page.push_str("</tbody></table></div>\n");
}

fn operating_points_table(page: &mut String, points: &OperatingPoints, chosen: Option<&OperatingPoint>) {
    page.push_str(
        "<h2 id=\"operating-points\">Operating points</h2>\n<div class=\"table-wrap\"><table>\n\
         <caption>Each FPIR target and watchlist size, for both kinds of probe (the chosen one framed and marked)</caption>\n\
         <thead><tr><th scope=\"col\">False alerts per passer-by (target)</th><th scope=\"col\">Watchlist N</th>\
         <th scope=\"col\">Probe</th><th scope=\"col\">Threshold m</th><th scope=\"col\">Cosine threshold</th>\
         <th scope=\"col\">FMR per comparison</th><th scope=\"col\">TPIR, blind</th>\
         <th scope=\"col\">95&#8239;% interval</th><th scope=\"col\">TPIR, plain cosine</th></tr></thead>\n<tbody>\n",
    );
    for p in &points.points {
        let is_chosen = chosen.is_some_and(|c| std::ptr::eq(c, p));
        let _ = writeln!(
            page,
            "<tr{}><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if is_chosen { " class=\"chosen\"" } else { "" },
            target_label(&p.fpir),
            if is_chosen { " ◀ chosen" } else { "" },
            grouped(p.watchlist_size),
            protocol_name(p.protocol),
            or_dash(p.m, |m| m.to_string()),
            or_dash(p.cosine_threshold, |c| format!("{c:.3}")),
            or_dash(p.fmr_per_comparison, sci),
            or_dash(p.tpir_blind, percent),
            or_dash(p.tpir_blind_ci95, percent_range),
            or_dash(p.tpir_cosine, percent),
        );
    }
    page.push_str(
        "</tbody></table></div>\n<p class=\"note\">“—” as threshold m: no m up to L meets the target. \
         “—” as cosine threshold: the target is below what the measured pairs can show, so plain cosine \
         matching cannot be set for it from this data; the blind matcher’s rates come from the \
         calibration model, which reaches further.</p>\n",
    );
}

fn groups_section(page: &mut String, point: &OperatingPoint, groups: &GroupBreakdown) {
    let _ = writeln!(
        page,
        "<h2 id=\"groups\">Groups at the chosen operating point</h2>\n<p>False alerts per passer-by for each group \
         at {} with {} entries ({}), m = {}. Strangers are grouped by race and gender; watchlisted LFW people \
         searched against everyone else’s entry, by gender.</p>",
        target_label(&point.fpir),
        grouped(point.watchlist_size),
        protocol_name(point.protocol),
        or_dash(point.m, |m| m.to_string()),
    );
    let _ = writeln!(
        page,
        "<figure>{}<figcaption>Each group’s FPIR (dot or ring) with its 95&#8239;% interval (bar), on a log scale; \
         the vertical line is the target. Rings: groups with fewer than {} strangers, reported but left out of the \
         ratio.</figcaption></figure>",
        inline(&groups_svg(point, groups)),
        MIN_GROUP_STRANGERS
    );
    page.push_str(
        "<div class=\"table-wrap\"><table>\n<caption>FPIR per group</caption>\n<thead><tr>\
         <th scope=\"col\">Group</th><th scope=\"col\">Who</th><th scope=\"col\">People</th>\
         <th scope=\"col\">FPIR (1 in …)</th><th scope=\"col\">FPIR</th><th scope=\"col\">95&#8239;% interval</th>\
         <th scope=\"col\">In the ratio</th></tr></thead>\n<tbody>\n",
    );
    for g in &groups.groups {
        let _ = writeln!(
            page,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td><td>{}</td></tr>",
            escape(&g.group),
            if g.source == "fillers" { "strangers" } else { "watchlisted (LFW)" },
            grouped(g.people as u64),
            one_in(g.fpir),
            sci(g.fpir),
            sci(g.fpir_ci95[0]),
            sci(g.fpir_ci95[1]),
            if in_ratio(g) { "yes" } else { "no" },
        );
    }
    page.push_str("</tbody></table></div>\n");
    let eligible = groups.groups.iter().filter(|g| in_ratio(g)).count();
    let verdict = match groups.max_min_ratio {
        Some(r) if r <= MAX_GROUP_RATIO => format!(
            "Holds: over the {eligible} stranger groups with at least {MIN_GROUP_STRANGERS} people, the highest \
             FPIR is {} times the lowest, within the limit of 2.",
            sci(r)
        ),
        Some(r) => format!(
            "Does not hold: over the {eligible} stranger groups with at least {MIN_GROUP_STRANGERS} people, the \
             highest FPIR is {} times the lowest, above the limit of 2.",
            sci(r)
        ),
        None => {
            format!("Cannot be checked: fewer than two stranger groups have at least {MIN_GROUP_STRANGERS} people.")
        }
    };
    let _ = writeln!(page, "<p class=\"verdict\">{verdict}</p>");
}

/// What a kiosk with a watchlist of the chosen point's size and m displays per group (its status
/// panel's figures, from the shipped calibration method), so that the report and the screen say
/// the same thing.
fn kiosk_groups_section(page: &mut String, points: &OperatingPoints, point: &OperatingPoint) {
    let Some(m) = point.m else { return };
    let calibration = &points.calibration;
    let Some(overall) = calibration.estimate_any_recipe(point.watchlist_size, points.tables, m) else { return };
    let groups = calibration.stranger_group_estimates(&overall, points.tables, m);
    let _ = writeln!(
        page,
        "<h3 id=\"kiosk-groups\">What a kiosk shows for this watchlist</h3>\n<p>Expected false alerts per \
         1&#8239;000 passers-by with {} entries at m = {m}, as the kiosk's status panel shows them: {} \
         ({}&#8239;–&#8239;{}) overall, from {}; per group, {}.</p>",
        grouped(point.watchlist_size),
        per_1000(overall.per_1000),
        per_1000(overall.per_1000_ci95[0]),
        per_1000(overall.per_1000_ci95[1]),
        escape(&overall.calibration),
        escape(GROUP_CALIBRATION),
    );
    page.push_str(
        "<div class=\"table-wrap\"><table>\n<caption>Expected false alerts per 1&#8239;000 passers-by, per group, \
         as the kiosk shows them</caption>\n<thead><tr><th scope=\"col\">Group</th>\
         <th scope=\"col\">Strangers measured</th><th scope=\"col\">Per 1&#8239;000</th>\
         <th scope=\"col\">95&#8239;% interval</th></tr></thead>\n<tbody>\n",
    );
    for (group, people, estimate) in &groups {
        let _ = writeln!(
            page,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{} – {}</td></tr>",
            escape(group),
            grouped(*people),
            per_1000(estimate.per_1000),
            per_1000(estimate.per_1000_ci95[0]),
            per_1000(estimate.per_1000_ci95[1]),
        );
    }
    page.push_str("</tbody></table></div>\n");
}

/// A count per 1 000 in three significant figures (or scientific notation when tiny).
fn per_1000(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x < 0.001 {
        sci(x)
    } else {
        format!("{x:.3}")
    }
}

fn in_ratio(g: &GroupRate) -> bool {
    g.source == "fillers" && g.people >= MIN_GROUP_STRANGERS
}

fn differential_section(page: &mut String, points: &OperatingPoints, chosen: Option<&OperatingPoint>) {
    let d = &points.no_significant_differential;
    let [from, to] = d.checked_m;
    page.push_str("<h2 id=\"differential\">Demographic differential (NPL’s test)</h2>\n");
    let _ = writeln!(
        page,
        "<p>NPL’s criterion: a threshold shows no significant demographic differential when no stranger group’s FPIR \
         is significantly above another’s, that is when their 95&#8239;% intervals overlap (groups with at least {} \
         strangers, m checked from {} to {} in steps of 2).</p>",
        MIN_GROUP_STRANGERS, from, to
    );
    let verdict = match (d.lowest_m, chosen.and_then(|p| p.m)) {
        (Some(lowest), chosen_m) => {
            let cosine = d.implied_cosine.map(|c| format!(" (about cosine {c:.2})")).unwrap_or_default();
            let mut s = format!("From m = {lowest}{cosine} upward, no group’s FPIR is significantly above another’s.");
            if let Some(m) = chosen_m {
                if m >= lowest {
                    let _ = write!(s, " The chosen m = {m} is in that range: no significant differential there.");
                } else {
                    let _ = write!(s, " The chosen m = {m} is below it: some groups differ significantly there.");
                }
            }
            s
        }
        (None, _) => format!(
            "A significant differential remains up to m = {to}, the top of the range checked: no threshold from \
             m = {from} to {to} is free of one."
        ),
    };
    let _ = writeln!(page, "<p class=\"verdict\">{verdict}</p>");
}

fn levers_section(page: &mut String, points: &OperatingPoints) {
    if points.levers.is_empty() {
        return;
    }
    page.push_str("<h2 id=\"levers\">Levers, at 1 false alert in 6 000 passers-by with 10 000 entries</h2>\n");
    page.push_str(
        "<p>Measured on the watchlisted people of the table above (templates from their first photos, up \
         to five, track probes from the gate-passing ones after them, up to the number of frames). Each \
         template setting has its own threshold, fitted as <code>enroll</code> fits its \
         recipes: on its own templates against the more pessimistic of LFW strangers and the fillers, on \
         the calibration half of the people; the FPIR column is then measured on the other half.</p>\n\
         <div class=\"table-wrap\"><table>\n<thead><tr><th scope=\"col\">Lever</th>\
         <th scope=\"col\">Template</th><th scope=\"col\">Frames per track</th>\
         <th scope=\"col\">Threshold m</th><th scope=\"col\">FPIR, held-out half (fitted half)</th>\
         <th scope=\"col\">TPIR, blind (95&#8239;% interval)</th><th scope=\"col\">Cost at the kiosk</th>\
         </tr></thead>\n<tbody>\n",
    );
    for lever in &points.levers {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{} ({})</td><td>{} ({})</td><td>{}</td></tr>",
            escape(&lever.lever),
            escape(&lever.template),
            lever.track_photos,
            lever.m,
            sci(lever.fpir),
            sci(lever.fpir_fitted),
            percent(lever.tpir_blind),
            percent_range(lever.tpir_blind_ci95),
            escape(lever.kiosk_cost),
        );
    }
    page.push_str("</tbody></table></div>\n");
}

fn charts_section(page: &mut String, points: &OperatingPoints) {
    page.push_str("<h2 id=\"charts\">Charts</h2>\n");
    for entries in COMPARED_SIZES {
        let m = find(points, CHOSEN.0, entries, CHOSEN.2).and_then(|p| p.m);
        match m {
            Some(m) => {
                let _ = writeln!(
                    page,
                    "<figure>{}<figcaption>Watchlist of {n} entries. Above: expected false alerts per passer-by \
                     against the threshold m, for {} and {} entries (log scale; grey lines at {}, {} and {} \
                     passers-by). Below: the share of watchlisted people’s tracks that match. The black line is \
                     m = {m}, the smallest that meets {} passers-by with {n} entries.</figcaption></figure>",
                    inline(&operating_point_svg(&points.calibration, points.tables, entries, m)),
                    grouped(COMPARED_SIZES[0]),
                    grouped(COMPARED_SIZES[1]),
                    target_label(REFERENCE_FPIRS[0].0),
                    target_label(REFERENCE_FPIRS[1].0),
                    target_label(REFERENCE_FPIRS[2].0),
                    target_label(CHOSEN.0),
                    n = grouped(entries),
                );
            }
            None => {
                let _ = writeln!(
                    page,
                    "<p>No threshold meets {} passers-by with {} entries.</p>",
                    target_label(CHOSEN.0),
                    grouped(entries)
                );
            }
        }
    }
    let _ = writeln!(
        page,
        "<figure>{}<figcaption>Detection error trade-off, one curve per group, sweeping m: to the left, fewer false \
         matches per comparison; lower, fewer missed tracks. A curve far from the others means that group is \
         treated differently. Filled markers: strangers by group; hollow markers: watchlisted LFW people by \
         gender; black crosses: everyone pooled.</figcaption></figure>",
        inline(&det_svg(&points.calibration, points.tables))
    );
}

fn verification_section(page: &mut String, report: &EvalReport) {
    page.push_str(
        "<h2 id=\"verification\">Verification on pairs</h2>\n<div class=\"table-wrap\"><table>\n\
         <caption>Share of genuine pairs accepted at each false-match rate per pair</caption>\n<thead><tr>\
         <th scope=\"col\">FMR per pair</th><th scope=\"col\">Plain cosine</th><th scope=\"col\">Blind (collisions)</th>\
         </tr></thead>\n<tbody>\n",
    );
    for (key, cosine) in &report.cosine.tar_at_fmr {
        let blind = report.blind.scores.tar_at_fmr.get(key).copied().flatten();
        let _ = writeln!(
            page,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
            escape(key),
            or_dash(*cosine, percent),
            or_dash(blind, percent)
        );
    }
    let _ = writeln!(
        page,
        "<tr><th scope=\"row\">Area under the ROC curve</th><td>{:.4}</td><td>{:.4}</td></tr>\n</tbody></table></div>",
        report.cosine.auc, report.blind.scores.auc
    );
}

/// An SVG for inline use in HTML, where the namespace is implied and would only add a URL.
fn inline(svg: &str) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

/// A forest plot: each group's FPIR and 95 % interval on a log axis, the target as a line.
fn groups_svg(point: &OperatingPoint, groups: &GroupBreakdown) -> String {
    let rows = groups.groups.len().max(1);
    let size = (900, 90 + 34 * rows as u32 + 60);
    let title = format!(
        "FPIR per group with 95 % intervals at {} with {} entries",
        target_label(&point.fpir),
        grouped(point.watchlist_size)
    );
    let target = point.fpir.strip_prefix("1/").and_then(|n| n.parse::<f64>().ok()).map(|n| 1.0 / n);
    render(size, &title, |root| {
        let x_range = log_range(groups.groups.iter().flat_map(|g| [g.fpir, g.fpir_ci95[1]]).chain(target), 1e-15, 1.0);
        draw_text(root, "False alerts per passer-by, by group", (24, 14), &bold(18.0, INK, HPos::Left, VPos::Top))?;
        let mut chart = ChartBuilder::on(root)
            .margin_top(46)
            .margin_right(28)
            .margin_left(8)
            .x_label_area_size(56)
            .y_label_area_size(260)
            .build_cartesian_2d((x_range.0..x_range.1).log_scale(), -0.5..rows as f64 - 0.5)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(decade_labels(x_range, 900 - 260 - 36))
            .x_label_formatter(&decade_label)
            .x_desc("False alerts per passer-by (FPIR), log scale")
            .label_style(text_style(14.0, INK, HPos::Center, VPos::Center))
            .axis_desc_style(text_style(15.0, INK, HPos::Center, VPos::Center))
            .bold_line_style(GRID.stroke_width(1))
            .light_line_style(GRID_LIGHT.stroke_width(1))
            .draw()?;
        if let Some(t) = target.filter(|t| *t > x_range.0 && *t < x_range.1) {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(t, -0.5), (t, rows as f64 - 0.5)],
                MARK.stroke_width(2),
            )))?;
            let (x, y) = chart.backend_coord(&(t, rows as f64 - 0.5));
            draw_text(
                root,
                &format!("target {}", target_label(&point.fpir)),
                (x + 6, y + 4),
                &bold(13.0, INK, HPos::Left, VPos::Top),
            )?;
        }
        let clamp = |v: f64| v.clamp(x_range.0, x_range.1);
        for (i, g) in groups.groups.iter().enumerate() {
            let row = (rows - 1 - i) as f64;
            let look = Look {
                colour: if g.source == "fillers" { PALETTE[0] } else { PALETTE[1] },
                shape: if g.source == "fillers" { Shape::Circle } else { Shape::Diamond },
                filled: in_ratio(g) || g.source != "fillers",
                width: 2,
            };
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(clamp(g.fpir_ci95[0]), row), (clamp(g.fpir_ci95[1]), row)],
                look.colour.mix(0.55).stroke_width(2),
            )))?;
            if g.fpir >= x_range.0 {
                draw_marker(root, chart.backend_coord(&(g.fpir, row)), look, 7)?;
            } else {
                // Below the axis: the value, written at its left end.
                let (x, y) = chart.backend_coord(&(x_range.0, row));
                draw_label(
                    root,
                    &format!("◀ {}", sci(g.fpir)),
                    (x + 6, y),
                    13.0,
                    &bold(13.0, INK, HPos::Left, VPos::Center),
                )?;
            }
            let (_, y) = chart.backend_coord(&(x_range.0, row));
            let (plot_x, _) = chart.plotting_area().get_pixel_range();
            let who = if g.source == "fillers" { "strangers" } else { "watchlisted" };
            draw_text(
                root,
                &format!("{} ({who}, {})", g.group, grouped(g.people as u64)),
                (plot_x.start - 12, y),
                &text_style(14.0, INK, HPos::Right, VPos::Center),
            )?;
        }
        Ok(())
    })
}

/// An interval of rates: `69.4–75.0 %`.
fn percent_range([low, high]: [f64; 2]) -> String {
    format!("{:.1}–{:.1}\u{202f}%", low * 100.0, high * 100.0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::calibration::model::ScoreHistogram;
    use crate::eval::metrics::{IdentificationReport, ScoreReport};
    use crate::eval::operating_points::{
        Differential, GroupBreakdown, GroupRate, OperatingPoint, OperatingPoints, Protocol,
    };
    use crate::eval::protocol::{BlindReport, CalibrationCheck, EvalReport, IdentificationSection};

    use crate::calibration::chart::tests::calibration;

    fn scores(tar: f64) -> ScoreReport {
        ScoreReport {
            tar_at_fmr: BTreeMap::from([("1e-3".to_owned(), Some(tar)), ("1e-6".to_owned(), None)]),
            threshold_at_fmr: BTreeMap::new(),
            auc: 0.9931,
            by_group: None,
        }
    }

    fn identification() -> IdentificationReport {
        IdentificationReport {
            gallery: 0,
            mated_searches: 0,
            non_mated_searches: 0,
            fnir_at_fpir: BTreeMap::new(),
            threshold_at_fpir: BTreeMap::new(),
        }
    }

    fn group(group: &str, source: &'static str, people: usize, fpir: f64) -> GroupRate {
        GroupRate { group: group.into(), source, people, fpir, fpir_ci95: [fpir / 3.0, fpir * 2.0] }
    }

    fn point(fpir: &str, n: u64, protocol: Protocol, m: u16, tpir: f64, ratio: f64) -> OperatingPoint {
        OperatingPoint {
            fpir: fpir.into(),
            watchlist_size: n,
            protocol,
            m: Some(m),
            cosine_threshold: (n == 1000).then_some(0.6334),
            fmr_per_comparison: Some(1.4566e-8),
            tpir_blind: Some(tpir),
            tpir_cosine: (n == 1000).then_some(0.7871),
            tpir_blind_ci95: Some([tpir - 0.03, tpir + 0.03]),
            by_group: Some(GroupBreakdown {
                groups: vec![
                    group("Asian-female", "fillers", 697, 1.2e-4),
                    group("White-male", "fillers", 2114, 2.0e-4),
                    group("Other-male", "fillers", 259, 9.0e-4),
                    group("female", "lfw", 221, 3.0e-4),
                ],
                max_min_ratio: Some(ratio),
            }),
        }
    }

    fn report(ratio: f64, lowest_m: Option<u16>) -> EvalReport {
        let mut points = Vec::new();
        for (n, m) in [(1000u64, 138u16), (10_000, 154)] {
            points.push(point("1/6000", n, Protocol::Single, m, 0.7619, ratio));
            points.push(point("1/6000", n, Protocol::Track, m, 0.7222, ratio));
        }
        EvalReport {
            dataset: "lfw <dev>".into(),
            images: 13_233,
            identities: 5_749,
            detection_failures: 12,
            genuine_pairs: 1000,
            impostor_pairs: 100_000,
            excluded_identity_pairs: 0,
            cosine: scores(0.981),
            blind: BlindReport { tables: 1024, scores: scores(0.975) },
            identification: IdentificationSection { cosine: identification(), blind: identification() },
            calibration: CalibrationCheck {
                tables: 1024,
                points: Vec::new(),
                impostor_cosines: ScoreHistogram::default(),
                genuine_cosines: ScoreHistogram::default(),
            },
            operating_points: Some(OperatingPoints {
                tables: 1024,
                templates: 800,
                fillers: 9438,
                single_probes: 1204,
                track_probes: 800,
                template_photos: vec![5; 800],
                points,
                no_significant_differential: Differential {
                    lowest_m,
                    implied_cosine: lowest_m.map(|_| 0.61),
                    checked_m: [20, 256],
                },
                calibration: calibration(),
                levers: Vec::new(),
            }),
            sealed: None,
        }
    }

    #[test]
    fn the_page_holds_the_tables_the_verdicts_and_the_charts() {
        let page = render_html(&report(1.67, Some(150)));
        assert!(page.starts_with("<!doctype html>") && page.trim_end().ends_with("</html>"));
        // The operating points table, with the chosen row marked in words as well as a frame.
        for cell in [
            "<th scope=\"col\">Threshold m</th>",
            "<td>1 in 6\u{202f}000 ◀ chosen</td><td>10\u{202f}000</td><td>track</td><td>154</td>",
            "<td>0.633</td>",
            "<td>1.5 × 10⁻⁸</td>",
            "<td>72.2\u{202f}%</td><td>69.2–75.2\u{202f}%</td>",
            "<td>78.7\u{202f}%</td>",
        ] {
            assert!(page.contains(cell), "{cell} missing");
        }
        // The group table with intervals, and the plain verdict on max/min ≤ 2.
        assert!(page.contains(
            "<th scope=\"row\">White-male</th><td>strangers</td><td>2\u{202f}114</td><td>1 in 5\u{202f}000</td>"
        ));
        assert!(page.contains("<td>6.7 × 10⁻⁵ – 4 × 10⁻⁴</td><td>yes</td>"));
        assert!(page.contains("<th scope=\"row\">Other-male</th>") && page.contains("<td>no</td>"));
        assert!(
            page.contains("Holds: over the 2 stranger groups with at least 300 people, the highest FPIR is 1.67 times")
        );
        assert!(page.contains("From m = 150 (about cosine 0.61) upward"));
        assert!(page.contains("The chosen m = 154 is in that range"));
        // Charts: two operating-point charts marking each size's own m, the DET, the groups.
        assert_eq!(page.matches("<svg").count(), 4);
        assert!(page.contains("chosen m = 138") && page.contains("chosen m = 154"));
        assert!(page.contains("everyone, pooled"));
        // Text from files is escaped.
        assert!(page.contains("lfw &lt;dev&gt;") && !page.contains("lfw <dev>"));
    }

    #[test]
    fn the_page_says_when_the_group_ratio_does_not_hold() {
        let page = render_html(&report(3.8e21, None));
        assert!(page.contains("Does not hold: over the 2 stranger groups with at least 300 people, the highest FPIR is 3.8 × 10²¹ times the lowest, above the limit of 2."));
        assert!(!page.contains("Holds:"));
        assert!(page.contains("A significant differential remains up to m = 256"));
    }

    #[test]
    fn the_reference_lines_are_the_targets_the_report_measures() {
        assert_eq!(REFERENCE_FPIRS, crate::eval::operating_points::FPIR_TARGETS);
    }

    #[test]
    fn the_page_loads_nothing_from_anywhere() {
        let page = render_html(&report(1.5, Some(150)));
        assert!(!page.contains("http"), "a URL in the page");
        for reference in ["src=", "href=", "url(", "@import", "<script", "<link"] {
            assert!(!page.contains(reference), "{reference} in the page");
        }
        // Without fillers the page still renders and says how to get operating points.
        let mut bare = report(1.5, Some(150));
        bare.operating_points = None;
        let page = render_html(&bare);
        assert!(page.contains("--fillers") && !page.contains("<svg"));
    }
}
