//! The report of a `kayentaCanary` stage (`/applications/{application}/executions/{id}/canary/{stage}`,
//! the stage by its `id`): its status, message and thresholds; the score of every interval as
//! a chart with the pass and marginal lines, and as a table; the last interval's metrics, each
//! with its verdict, and a chart of its control and experiment series.
//!
//! Everything is computed on the server and sent as HTML, charts included (inline `<svg>` drawn
//! with [`crate::components::charts`]), so the report reads without the WASM; each chart is an
//! image named by `aria-label` and described by its `<desc>`. The execution is loaded as the
//! execution page loads it (READ on the application is the service's check) and followed live,
//! so a running analysis adds its intervals as they end.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::pipelines::get_execution;
use crate::components::charts::{self, Frame};
use crate::components::live::watch;
use crate::components::loaded::{Loaded, loaded};
use crate::components::stage_bar::status_class;
use crate::components::tabs::ApplicationTabs;
use crate::model::canary_report::{CanaryReport, IntervalReport, MetricReport};
use crate::model::execution::{Execution, Stage, Status, Subscribe};
use crate::model::time::format_utc;

/// The stage type the report is for.
pub const CANARY_STAGE: &str = "kayentaCanary";

/// Whether the stage has a canary report: a `kayentaCanary` stage, or a deploy whose canary
/// strategy runs canary analysis.
pub fn has_canary_analysis(stage: &Stage) -> bool {
    stage.kind == CANARY_STAGE
        || (stage.kind == "deploy"
            && stage.context.get("clusters").and_then(|clusters| clusters.as_array()).is_some_and(|clusters| clusters.iter().any(|cluster| cluster.get("canaryAnalysis").is_some())))
}

/// Where the report of `stage` (by its `id`) of `execution` is.
pub fn report_href(application: &str, execution: &str, stage: &str) -> String {
    format!("/applications/{application}/executions/{execution}/canary/{stage}")
}

const SCORE_FRAME: Frame = Frame { width: 640.0, height: 220.0, left: 40.0, right: 16.0, top: 14.0, bottom: 34.0 };
const METRIC_FRAME: Frame = Frame { width: 480.0, height: 200.0, left: 64.0, right: 14.0, top: 30.0, bottom: 30.0 };

#[component]
pub fn CanaryReportPage() -> impl IntoView {
    let params = use_params_map();
    let application = move || params.read().get("name").unwrap_or_default();
    let id = move || params.read().get("id").unwrap_or_default();
    let stage = move || params.read().get("stage").unwrap_or_default();
    let execution = Resource::new(id, get_execution);
    view! {
        <Title text=move || format!("Canary report {} · gennaker", id())/>
        <section class="page canary-report">
            <p class="breadcrumb">
                <a href="/applications">"Applications"</a> " / "
                <a href=move || format!("/applications/{}/pipelines", application())>{application}</a> " / "
                <a href=move || format!("/applications/{}/executions/{}", application(), id())>"execution"</a> " / canary report"
            </p>
            <ApplicationTabs application=application() current="pipelines"/>
            <Loaded fallback="Loading…" content=loaded(move || {
                let stage = stage();
                async move { execution.await.map(|watched| view! { <LiveReport initial=watched.execution seq=watched.seq stage/> }) }
            })/>
        </section>
    }
}

#[component]
fn LiveReport(initial: Execution, seq: i64, stage: String) -> impl IntoView {
    let current = RwSignal::new(initial.clone());
    watch(Subscribe { execution: Some(initial.id.clone()), application: None, after: seq }, move |event| current.update(|execution| event.change.apply_to(execution)));
    move || {
        let execution = current.get();
        match execution.stages.iter().find(|candidate| candidate.id == stage) {
            Some(found) => report(&execution, found).into_any(),
            None => view! {
                <h1>"Canary report"</h1>
                <p class="error" role="alert">"Execution " {execution.id.clone()} " has no stage " {stage.clone()} "."</p>
            }
            .into_any(),
        }
    }
}

/// A score or a measurement as the report prints it: at most `decimals` decimals, no trailing
/// zeros, "no data" for NaN.
fn number(value: f64, decimals: i32) -> String {
    if !value.is_finite() {
        return "no data".into();
    }
    let scale = 10f64.powi(decimals);
    let rounded = (value * scale).round() / scale;
    if rounded == 0.0 { "0".into() } else { format!("{rounded}") }
}

fn score(value: f64) -> String {
    number(value, 2)
}

fn measurement(value: f64) -> String {
    number(value, 3)
}

/// A time of day (UTC) of epoch seconds.
fn clock(seconds: f64) -> String {
    if !seconds.is_finite() {
        return String::new();
    }
    let text = format_utc((seconds * 1000.0) as i64);
    text.get(11..).unwrap_or(&text).to_string()
}

/// The badge colour of a Kayenta verdict (an interval's or a metric's).
fn verdict_class(classification: &str) -> &'static str {
    match classification {
        "Pass" => "status-succeeded",
        "Marginal" => "status-warning",
        "Fail" | "High" | "Low" | "NodataFailMetric" | "Error" => "status-failed",
        "Nodata" => "status-canceled",
        _ => "status-waiting",
    }
}

fn report(execution: &Execution, stage: &Stage) -> impl IntoView + use<> {
    let report = CanaryReport::of_stage(&stage.kind, &stage.context).unwrap_or_default();
    let thresholds = report.thresholds();
    let rollout_config = stage.context.get("clusters").and_then(|clusters| clusters.as_array()).and_then(|clusters| clusters.iter().find_map(|cluster| cluster.get("canaryAnalysis")?.get("analysis")));
    let config_id = stage
        .context
        .get("canaryConfig")
        .or(rollout_config)
        .and_then(|config| config.get("canaryConfigId"))
        .and_then(|id| id.as_str())
        .unwrap_or_default()
        .to_string();
    let config_href = format!("/applications/{}/canary?edit={config_id}", execution.application);
    let message = Some(report.canary_score_message.clone()).filter(|message| !message.is_empty()).or_else(|| stage.error.clone());
    let scores = report.scores();
    let waiting = match &report.next_interval_end_iso {
        Some(end) => format!("Analysis is waiting for the first interval (ends at {end})."),
        None => "Analysis is waiting for the first interval.".to_string(),
    };
    let not_a_canary = (!has_canary_analysis(stage)).then(|| format!("{} is a {} stage: it has no canary analysis.", stage.name, stage.kind));
    let execution_href = format!("/applications/{}/executions/{}", execution.application, execution.id);
    view! {
        <header class="execution-head">
            <h1>{format!("Canary report: {}", stage.name)}</h1>
            <span class=format!("badge {}", status_class(stage.status)) aria-label="Stage status">{stage.status.as_str()}</span>
            <a href=execution_href>{execution.name.clone()}</a>
        </header>
        {not_a_canary.map(|text| view! { <p class="warning">{text}</p> })}
        <dl class="details" aria-label="Canary analysis">
            <dt>"Configuration"</dt>
            <dd>{if config_id.is_empty() { view! { "—" }.into_any() } else { view! { <a href=config_href>{config_id.clone()}</a> }.into_any() }}</dd>
            <dt>"Thresholds"</dt>
            <dd>{format!("pass {}, marginal {}", score(thresholds.pass), score(thresholds.marginal))}</dd>
            <dt>"Scores"</dt>
            <dd>{if scores.is_empty() { "none yet".to_string() } else { scores.iter().map(|(_, value)| score(*value)).collect::<Vec<_>>().join(", ") }}</dd>
            <dt>"Message"</dt>
            <dd class="canary-message">{message.unwrap_or_else(|| "—".into())}</dd>
        </dl>
        {report.canary_fault.clone().map(|fault| view! {
            <p class="warning" role="status">{format!("Prometheus could not be read, trying again: {fault}")}</p>
        })}
        {if report.intervals.is_empty() && scores.is_empty() {
            let text = if stage.status.is_complete() { "No interval was analyzed.".to_string() } else { waiting };
            view! { <p class="empty">{text}</p> }.into_any()
        } else {
            view! {
                <h2>"Score over time"</h2>
                {score_chart(&scores, thresholds.pass, thresholds.marginal)}
                {interval_table(&report.intervals)}
                {report.last_interval().map(last_interval)}
                {(!stage.status.is_complete() && stage.status != Status::NotStarted).then(|| {
                    report.next_interval_end_iso.clone().map(|end| view! { <p class="muted">{format!("The next interval ends at {end}.")}</p> })
                })}
            }
            .into_any()
        }}
    }
}

fn score_chart(scores: &[(f64, f64)], pass: f64, marginal: f64) -> impl IntoView + use<> {
    let frame = SCORE_FRAME;
    let chart = charts::score_chart(frame, scores, pass, marginal);
    let (left, right) = frame.x_span();
    let (top, bottom) = frame.y_span();
    let c = charts::coordinate;
    let described: Vec<String> = scores.iter().map(|(interval, value)| format!("interval {}: {}", number(*interval, 0), score(*value))).collect();
    let description = format!("Scores by interval, {}; pass threshold {}, marginal threshold {}.", described.join(", "), score(pass), score(marginal));
    // Every interval is labelled when there are few; else the first and the last.
    let many = chart.dots.len() > 12;
    let last = chart.dots.len().saturating_sub(1);
    view! {
        <figure class="chart">
            <svg class="chart score-chart" viewBox=frame.view_box() role="img" aria-label="Score over time" aria-describedby="score-chart-description">
                <title>"Score over time"</title>
                <desc id="score-chart-description">{description}</desc>
                <line class="axis" x1=c(left) y1=c(bottom) x2=c(right) y2=c(bottom)/>
                <line class="axis" x1=c(left) y1=c(top) x2=c(left) y2=c(bottom)/>
                <text class="tick" x=c(left - 6.0) y=c(chart.scale.y(100.0) + 4.0) text-anchor="end">"100"</text>
                <text class="tick" x=c(left - 6.0) y=c(chart.scale.y(0.0) + 4.0) text-anchor="end">"0"</text>
                <line class="threshold pass" x1=c(left) y1=c(chart.pass_y) x2=c(right) y2=c(chart.pass_y) stroke-dasharray="6 4"/>
                <text class="threshold-label" x=c(right - 4.0) y=c(chart.pass_y - 4.0) text-anchor="end">{format!("pass {}", score(pass))}</text>
                <line class="threshold marginal" x1=c(left) y1=c(chart.marginal_y) x2=c(right) y2=c(chart.marginal_y) stroke-dasharray="2 4"/>
                <text class="threshold-label" x=c(right - 4.0) y=c(chart.marginal_y - 4.0) text-anchor="end">{format!("marginal {}", score(marginal))}</text>
                <path class="series score" d=chart.path.clone()/>
                {chart.dots.iter().enumerate().map(|(index, dot)| view! {
                    <circle class="dot" cx=c(dot.x) cy=c(dot.y) r="4"/>
                    {(!many || index == 0 || index == last).then(|| view! {
                        <text class="tick" x=c(dot.x) y=c(bottom + 16.0) text-anchor="middle">{number(dot.interval, 0)}</text>
                    })}
                }).collect_view()}
                <text class="axis-title" x=c((left + right) / 2.0) y=c(frame.height - 2.0) text-anchor="middle">"interval"</text>
            </svg>
        </figure>
    }
}

fn interval_table(intervals: &[IntervalReport]) -> impl IntoView + use<> {
    (!intervals.is_empty()).then(|| {
        view! {
            <table class="list" aria-label="Intervals">
                <thead><tr><th>"Interval"</th><th>"Score"</th><th>"Result"</th><th>"Experiment"</th><th>"Control"</th></tr></thead>
                <tbody>
                    {intervals.iter().map(|interval| view! {
                        <tr>
                            <td>{number(interval.interval, 0)}</td>
                            <td>{score(interval.score)}</td>
                            <td>
                                <span class=format!("badge {}", verdict_class(&interval.classification))>{interval.classification.clone()}</span>
                                {(!interval.classification_reason.is_empty()).then(|| view! { " " <span class="muted">{interval.classification_reason.clone()}</span> })}
                            </td>
                            <td>{format!("{} – {}", clock(interval.experiment_start), clock(interval.experiment_end))}</td>
                            <td>{format!("{} – {}", clock(interval.control_start), clock(interval.control_end))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
    })
}

fn last_interval(interval: &IntervalReport) -> impl IntoView + use<> {
    let groups: Vec<String> = interval.group_scores.iter().map(|(group, value)| format!("{group} {}", score(*value))).collect();
    view! {
        <h2>{format!("Metrics of interval {}", number(interval.interval, 0))}</h2>
        {(!groups.is_empty()).then(|| view! { <p class="muted">{format!("Group scores: {}", groups.join(", "))}</p> })}
        <table class="list canary-metrics" aria-label="Metrics">
            <thead>
                <tr><th>"Metric"</th><th>"Groups"</th><th>"Result"</th><th>"Critical"</th><th>"Control mean"</th><th>"Experiment mean"</th><th>"Ratio"</th></tr>
            </thead>
            <tbody>
                {interval.metrics.iter().map(|metric| view! {
                    <tr>
                        <td><strong>{metric.name.clone()}</strong> {metric.muted.then(|| view! { " " <span class="muted">"(muted)"</span> })}</td>
                        <td>{metric.groups.join(", ")}</td>
                        <td>
                            <span class=format!("badge {}", verdict_class(&metric.classification))>{metric.classification.clone()}</span>
                            {metric.classification_reason.clone().map(|reason| view! { " " <span class="muted">{reason}</span> })}
                        </td>
                        <td>{if metric.critical { "yes" } else { "no" }}</td>
                        <td>{measurement(metric.control.mean)}</td>
                        <td>{measurement(metric.experiment.mean)}</td>
                        <td>{measurement(metric.ratio)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <div class="metric-charts">
            {interval.metrics.iter().enumerate().map(|(index, metric)| metric_chart(index, metric)).collect_view()}
        </div>
    }
}

fn metric_chart(index: usize, metric: &MetricReport) -> impl IntoView + use<> {
    let frame = METRIC_FRAME;
    let chart = charts::line_chart(frame, &[&metric.control_points, &metric.experiment_points]);
    let (left, right) = frame.x_span();
    let (top, bottom) = frame.y_span();
    let c = charts::coordinate;
    let label = format!("{}: control and experiment", metric.name);
    let description_id = format!("metric-chart-{index}-description");
    let described_by = description_id.clone();
    let series = |name: &str, points: &[(f64, f64)], stats: &crate::model::canary_report::Stats| {
        format!("{name}: {} points, mean {}, from {} to {}", points.len(), measurement(stats.mean), measurement(stats.min), measurement(stats.max))
    };
    let description = format!(
        "{} over the last interval. {}; {}. Result {}.",
        metric.name,
        series("control", &metric.control_points, &metric.control),
        series("experiment", &metric.experiment_points, &metric.experiment),
        metric.classification
    );
    let axes = chart.x.zip(chart.y).map(|(x, y)| {
        view! {
            <text class="tick" x=c(left - 6.0) y=c(top + 4.0) text-anchor="end">{measurement(y.max)}</text>
            <text class="tick" x=c(left - 6.0) y=c(bottom) text-anchor="end">{measurement(y.min)}</text>
            <text class="tick" x=c(left) y=c(bottom + 16.0) text-anchor="start">{clock(x.min)}</text>
            <text class="tick" x=c(right) y=c(bottom + 16.0) text-anchor="end">{clock(x.max)}</text>
        }
    });
    let empty = chart.x.is_none();
    let [control, experiment] = [chart.paths[0].clone(), chart.paths[1].clone()];
    view! {
        <figure class="chart metric-chart">
            <svg class="chart" viewBox=frame.view_box() role="img" aria-label=label.clone() aria-describedby=described_by>
                <title>{label.clone()}</title>
                <desc id=description_id>{description}</desc>
                <line class="axis" x1=c(left) y1=c(bottom) x2=c(right) y2=c(bottom)/>
                <line class="axis" x1=c(left) y1=c(top) x2=c(left) y2=c(bottom)/>
                {axes}
                {empty.then(|| view! {
                    <text class="tick" x=c((left + right) / 2.0) y=c((top + bottom) / 2.0) text-anchor="middle">"no data points"</text>
                })}
                <path class="series control" d=control/>
                <path class="series experiment" d=experiment stroke-dasharray="5 3"/>
                <g class="legend">
                    <line class="series control" x1=c(left) y1="12" x2=c(left + 22.0) y2="12"/>
                    <text x=c(left + 28.0) y="16">"control"</text>
                    <line class="series experiment" x1=c(left + 100.0) y1="12" x2=c(left + 122.0) y2="12" stroke-dasharray="5 3"/>
                    <text x=c(left + 128.0) y="16">"experiment"</text>
                </g>
            </svg>
            <figcaption>
                <strong>{metric.name.clone()}</strong> " "
                <span class=format!("badge {}", verdict_class(&metric.classification))>{metric.classification.clone()}</span>
                {format!(" control mean {}, experiment mean {}, ratio {}", measurement(metric.control.mean), measurement(metric.experiment.mean), measurement(metric.ratio))}
            </figcaption>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(score(87.5), "87.5");
        assert_eq!(score(100.0), "100");
        assert_eq!(score(66.666_666), "66.67");
        assert_eq!(score(f64::NAN), "no data");
        assert_eq!(measurement(-0.0001), "0");
        assert_eq!(measurement(0.123_456), "0.123");
        assert_eq!(clock(1_798_329_600.0), "00:00:00 UTC");
        assert_eq!(clock(f64::NAN), "");
    }

    /// A run whose canary stage has analyzed two intervals, the second with a metric Prometheus
    /// had no value for at one point.
    #[cfg(feature = "ssr")]
    fn execution(context: serde_json::Value, status: &str) -> Execution {
        serde_json::from_value(serde_json::json!({
            "id": "e1", "application": "shop", "pipelineConfigId": "p1", "name": "Canary", "status": status,
            "trigger": {"type": "manual", "user": "admin"}, "buildTime": 0, "startTime": 0, "endTime": null,
            "limitConcurrent": false, "keepWaitingPipelines": false,
            "stages": [{"id": "s-1", "refId": "1", "type": "kayentaCanary", "name": "Canary analysis", "status": status,
                "requisiteStageRefIds": [], "context": context, "startTime": 0, "endTime": null}]
        }))
        .unwrap()
    }

    #[cfg(feature = "ssr")]
    fn html_of(execution: &Execution) -> String {
        let owner = Owner::new();
        owner.with(|| report(execution, &execution.stages[0]).to_html())
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_report_renders_on_the_server_with_named_charts() {
        let metric = |score: serde_json::Value| {
            serde_json::json!({"name": "error-rate", "groups": ["Errors"], "classification": "High", "classificationReason": "higher than the baseline",
                "critical": true, "muted": false, "ratio": 2.5,
                "experiment": {"count": 2, "min": 1.0, "max": 4.0, "mean": 2.5}, "control": {"count": 2, "min": 1.0, "max": 1.0, "mean": 1.0},
                "controlPoints": [[100.0, 1.0], [160.0, score]], "experimentPoints": [[100.0, 1.0], [160.0, 4.0]],
                "controlQuery": "q", "experimentQuery": "q"})
        };
        let context = serde_json::json!({
            "canaryConfig": {"canaryConfigId": "golden", "scoreThresholds": {"pass": "95", "marginal": 75}},
            "canaryScores": [100.0, 66.67], "canaryScoreMessage": "Canary score 66.67 is not above the marginal score threshold 75",
            "intervals": [
                {"interval": 1, "score": 100.0, "classification": "Pass", "metrics": [metric(serde_json::json!(1.0))]},
                {"interval": 2, "score": 66.67, "classification": "Fail", "groupScores": {"Errors": 0.0}, "metrics": [metric(serde_json::Value::Null)]}
            ]
        });
        let html = html_of(&execution(context, "TERMINAL"));
        for expected in [
            r#"aria-label="Score over time""#,
            r#"aria-label="error-rate: control and experiment""#,
            "<svg",
            r#"role="img""#,
            "Canary report: Canary analysis",
            "pass 95, marginal 75",
            "control mean 1, experiment mean 2.5, ratio 2.5",
            "<title>Score over time</title>",
            "error-rate",
            "High",
            "Fail",
            "66.67",
            "pass 95",
            "marginal 75",
            "/applications/shop/canary?edit=golden",
        ] {
            assert!(html.contains(expected), "{expected} is missing from {html}");
        }
        assert!(!html.contains("NaN"), "{html}");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_stage_without_intervals_says_what_it_waits_for() {
        let html = html_of(&execution(serde_json::json!({"nextIntervalEndIso": "2026-01-01T00:01:00Z", "canaryFault": "connection refused"}), "RUNNING"));
        assert!(html.contains("waiting for the first interval (ends at 2026-01-01T00:01:00Z)"), "{html}");
        assert!(html.contains("connection refused"), "{html}");
        assert!(!html.contains("<svg"), "{html}");
    }

    #[test]
    fn verdicts_have_colours() {
        assert_eq!(verdict_class("Pass"), "status-succeeded");
        assert_eq!(verdict_class("High"), "status-failed");
        assert_eq!(verdict_class("Nodata"), "status-canceled");
        assert_eq!(verdict_class("Marginal"), "status-warning");
    }
}
