//! `kayentaCanary`: automated canary analysis, as Spinnaker pipelines write it (Orca's
//! `KayentaCanaryStage` and `RunCanaryIntervalsStage`). The stage names a stored canary
//! configuration (`canaryConfig.canaryConfigId`), the metrics account to read
//! (`metricsAccountName`), the control and experiment scopes, the score thresholds and the
//! timing; every interval it reads the metrics of both scopes, judges them (`crate::canary`)
//! and records the interval's result in the stage's context (`intervals`, `canaryScores`).
//!
//! Timing, as Orca: real-time analysis starts `beginCanaryAnalysisAfterMins` after the stage;
//! `lifetimeDuration` (ISO-8601, `PT1H`; or `lifetimeHours`) is cut into
//! floor(lifetime / `canaryAnalysisIntervalMins`) intervals (one when no interval is given);
//! interval i ends at start + i·interval and reads from the start, or only the last
//! `lookbackMins` when given; the control's window is moved back by
//! `baselineAnalysisOffsetInMins`. Retrospective analysis (`analysisType: retrospective`)
//! reads the scope's `startTimeIso`..`endTimeIso` at once, interval by interval.
//! A score at or below `marginal` ends the stage at once (failed); the last score must reach
//! `pass` (defaults 75 and 50, Orca's). Departure, so tests and demos need not wait hours:
//! every `...Mins` value may also be written with a unit (`30s`, `2m`, `1h`) or as a fraction
//! of a minute, and `lifetimeDuration` may use seconds (`PT45S`).
//!
//! Prometheus being unreachable is not the canary's fault: the interval is tried again (every
//! 5 s, up to 12 times) before the stage fails; a query Prometheus refuses fails it at once.

use std::collections::BTreeMap;

use app::model::canary::ScoreThresholds;
use app::model::clouds::CloudProviderKind;
use app::model::pipeline::Extra;
use app::model::stage_types::{Field, Input, StageTypeInfo, choices};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Fault, StageType, Step, Task, config_or_fail, failed, has_expression, parse};
use crate::canary::analysis::{self, IntervalResult, MetricsStore, ScopePair};
use crate::canary::prometheus::{self, ScopeValues, Window};
use crate::engine::stage_forms as F;
use crate::engine::tasks::TaskResult;

/// Tries of one interval while Prometheus cannot be reached.
const UNREACHABLE_TRIES: u64 = 12;
const RETRY_MS: i64 = 5_000;
/// The longest a waiting interval sleeps between looks (a skip or a cancel is seen sooner).
const LONGEST_WAIT_MS: i64 = 60_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaCanaryStage {
    /// `realTime` (Deck: `realTimeAutomatic`) or `retrospective`.
    #[serde(default)]
    pub analysis_type: Option<String>,
    pub canary_config: CanaryStageConfig,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Numbers are read as text: Deck writes them as strings (`"75"`, `""`), people as numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStageConfig {
    #[serde(default)]
    pub canary_config_id: String,
    #[serde(default)]
    pub metrics_account_name: Option<String>,
    #[serde(default)]
    pub scopes: Vec<StageScope>,
    #[serde(default)]
    pub score_thresholds: Option<StageThresholds>,
    #[serde(default)]
    pub lifetime_duration: Option<String>,
    #[serde(default)]
    pub lifetime_hours: Option<String>,
    #[serde(default)]
    pub begin_canary_analysis_after_mins: Option<String>,
    #[serde(default)]
    pub canary_analysis_interval_mins: Option<String>,
    #[serde(default)]
    pub lookback_mins: Option<String>,
    #[serde(default)]
    pub baseline_analysis_offset_in_mins: Option<String>,
    /// `storageAccountName`, `combinedCanaryResultStrategy`, `siteLocal`...: Kayenta's, kept
    /// as written (gennaker stores results in the execution).
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageThresholds {
    #[serde(default)]
    pub pass: Option<String>,
    #[serde(default)]
    pub marginal: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageScope {
    #[serde(default = "default_scope_name")]
    pub scope_name: String,
    #[serde(default)]
    pub control_scope: String,
    #[serde(default)]
    pub control_location: String,
    #[serde(default)]
    pub experiment_scope: String,
    #[serde(default)]
    pub experiment_location: String,
    #[serde(default)]
    pub start_time_iso: Option<String>,
    #[serde(default)]
    pub end_time_iso: Option<String>,
    /// Seconds between points.
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub extended_scope_params: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn default_scope_name() -> String {
    "default".into()
}

/// The stage's timing, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timing {
    warmup: i64,
    lifetime: i64,
    interval: i64,
    lookback: i64,
    baseline_offset: i64,
    /// Retrospective: the fixed start (epoch seconds).
    retrospective_start: Option<i64>,
}

impl Timing {
    fn runs(&self) -> usize {
        usize::try_from((self.lifetime / self.interval.max(1)).max(1)).unwrap_or(1)
    }
}

/// Reads `text` as a duration: a number of `unit_seconds` (fractions allowed), or a number with
/// a unit `s`, `m` or `h`. Empty text: `None`.
pub(crate) fn duration(text: Option<&str>, unit_seconds: f64, field: &str) -> Result<Option<i64>, Fault> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else { return Ok(None) };
    let (number, unit) = match text.char_indices().last() {
        Some((at, 's')) => (&text[..at], 1.0),
        Some((at, 'm')) => (&text[..at], 60.0),
        Some((at, 'h')) => (&text[..at], 3600.0),
        _ => (text, unit_seconds),
    };
    let value: f64 = number.trim().parse().map_err(|_| (field.to_string(), format!("{text:?} is not a duration (minutes, or a number with s, m or h)")))?;
    if !value.is_finite() || value < 0.0 {
        return Err((field.to_string(), format!("{text:?} must be zero or more")));
    }
    Ok(Some((value * unit).round() as i64))
}

/// An ISO-8601 duration as Orca writes `lifetimeDuration`: `PT1H30M`, `PT0H5M`, `PT45S`, `P1D`.
fn iso_duration(text: &str) -> Option<i64> {
    let rest = text.trim().strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((days, time)) => (days, time),
        None => (rest, ""),
    };
    let mut seconds = 0f64;
    let mut read = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
            } else {
                let unit = units.iter().find(|(letter, _)| *letter == c)?.1;
                seconds += number.parse::<f64>().ok()? * unit;
                number.clear();
            }
        }
        number.is_empty().then_some(())
    };
    read(days, &[('D', 86_400.0), ('W', 604_800.0)])?;
    read(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    Some(seconds.round() as i64)
}

fn iso_seconds(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text.trim()).ok().map(|time| time.timestamp())
}

fn iso_of(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
}

impl KayentaCanaryStage {
    fn retrospective(&self) -> bool {
        self.analysis_type.as_deref().is_some_and(|kind| kind.eq_ignore_ascii_case("retrospective"))
    }

    fn timing(&self) -> Result<Timing, Fault> {
        let config = &self.canary_config;
        let minutes = |text: &Option<String>, field: &str| duration(text.as_deref(), 60.0, &format!("canaryConfig.{field}"));
        let retrospective_window = if self.retrospective() {
            let scope = config.scopes.first().ok_or_else(|| ("canaryConfig.scopes".to_string(), "a retrospective analysis needs a scope".to_string()))?;
            let read = |text: &Option<String>, field: &str| {
                text.as_deref()
                    .and_then(iso_seconds)
                    .ok_or_else(|| (format!("canaryConfig.scopes[0].{field}"), "a retrospective analysis needs the scope's time as ISO-8601 (2026-11-30T17:00:00Z)".to_string()))
            };
            let (start, end) = (read(&scope.start_time_iso, "startTimeIso")?, read(&scope.end_time_iso, "endTimeIso")?);
            if end <= start {
                return Err(("canaryConfig.scopes[0].endTimeIso".into(), "must be after startTimeIso".into()));
            }
            Some((start, end))
        } else {
            None
        };
        let lifetime = match (&config.lifetime_duration, &config.lifetime_hours) {
            (Some(text), _) if !text.trim().is_empty() => {
                Some(iso_duration(text).ok_or_else(|| ("canaryConfig.lifetimeDuration".to_string(), format!("{text:?} is not an ISO-8601 duration such as PT1H or PT90S")))?)
            }
            (_, hours) => duration(hours.as_deref(), 3600.0, "canaryConfig.lifetimeHours")?,
        };
        let lifetime = match (lifetime, retrospective_window) {
            (Some(lifetime), _) => lifetime,
            (None, Some((start, end))) => end - start,
            (None, None) => return Err(("canaryConfig.lifetimeDuration".into(), "how long the canary runs, e.g. PT1H".into())),
        };
        if lifetime <= 0 {
            return Err(("canaryConfig.lifetimeDuration".into(), "must be longer than zero".into()));
        }
        let interval = minutes(&config.canary_analysis_interval_mins, "canaryAnalysisIntervalMins")?.filter(|interval| *interval > 0).unwrap_or(lifetime);
        if interval > lifetime {
            return Err(("canaryConfig.canaryAnalysisIntervalMins".into(), "is longer than the canary's lifetime".into()));
        }
        Ok(Timing {
            warmup: if retrospective_window.is_some() { 0 } else { minutes(&config.begin_canary_analysis_after_mins, "beginCanaryAnalysisAfterMins")?.unwrap_or(0) },
            lifetime,
            interval,
            lookback: minutes(&config.lookback_mins, "lookbackMins")?.unwrap_or(0),
            baseline_offset: minutes(&config.baseline_analysis_offset_in_mins, "baselineAnalysisOffsetInMins")?.unwrap_or(0),
            retrospective_start: retrospective_window.map(|(start, _)| start),
        })
    }

    fn thresholds(&self) -> Result<ScoreThresholds, Fault> {
        let defaults = ScoreThresholds::default();
        let given = self.canary_config.score_thresholds.clone().unwrap_or(StageThresholds { pass: None, marginal: None });
        let read = |text: &Option<String>, default: f64, field: &str| -> Result<f64, Fault> {
            match text.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
                None => Ok(default),
                Some(text) => match text.parse::<f64>() {
                    Ok(value) if (0.0..=100.0).contains(&value) => Ok(value),
                    _ => Err((format!("canaryConfig.scoreThresholds.{field}"), format!("{text:?} is not a score from 0 to 100"))),
                },
            }
        };
        let thresholds = ScoreThresholds { pass: read(&given.pass, defaults.pass, "pass")?, marginal: read(&given.marginal, defaults.marginal, "marginal")? };
        if thresholds.marginal > thresholds.pass {
            return Err(("canaryConfig.scoreThresholds.marginal".into(), "is above pass".into()));
        }
        Ok(thresholds)
    }

    fn scopes(&self) -> Result<Vec<ScopePair>, Fault> {
        if self.canary_config.scopes.is_empty() {
            return Err(("canaryConfig.scopes".into(), "name the control and experiment scopes (server groups)".into()));
        }
        self.canary_config
            .scopes
            .iter()
            .enumerate()
            .map(|(index, scope)| {
                for (field, value) in [("controlScope", &scope.control_scope), ("experimentScope", &scope.experiment_scope)] {
                    if value.trim().is_empty() {
                        return Err((format!("canaryConfig.scopes[{index}].{field}"), "empty".to_string()));
                    }
                }
                Ok(ScopePair {
                    name: scope.scope_name.clone(),
                    control: ScopeValues { scope: scope.control_scope.clone(), location: scope.control_location.clone(), extended: scope.extended_scope_params.clone() },
                    experiment: ScopeValues { scope: scope.experiment_scope.clone(), location: scope.experiment_location.clone(), extended: scope.extended_scope_params.clone() },
                })
            })
            .collect()
    }

    /// Checks what can be checked before expressions are evaluated.
    pub fn check(&self, evaluated: bool) -> Result<(), Fault> {
        let written = serde_json::to_string(self).unwrap_or_default();
        if !evaluated && has_expression(&written) {
            // Timing, thresholds or scopes may be expressions: checked when the stage runs.
            if self.canary_config.canary_config_id.trim().is_empty() {
                return Err(("canaryConfig.canaryConfigId".into(), "name the canary configuration".into()));
            }
            return Ok(());
        }
        if let Some(kind) = &self.analysis_type
            && !["realTime", "realTimeAutomatic", "retrospective", ""].iter().any(|known| kind.eq_ignore_ascii_case(known))
        {
            return Err(("analysisType".into(), format!("{kind:?} is not realTime or retrospective")));
        }
        if self.canary_config.canary_config_id.trim().is_empty() {
            return Err(("canaryConfig.canaryConfigId".into(), "name the canary configuration".into()));
        }
        self.timing()?;
        self.thresholds()?;
        self.scopes()?;
        Ok(())
    }
}

pub struct KayentaCanary;

#[async_trait]
impl StageType for KayentaCanary {
    fn type_name(&self) -> &'static str {
        "kayentaCanary"
    }

    fn describe(&self, application: &str) -> StageTypeInfo {
        let analysis = choices(&[("realTime", "Real time"), ("retrospective", "Retrospective")]);
        F::info(
            "kayentaCanary",
            "Canary Analysis",
            "Compares the canary's metrics with the baseline's every interval (Kayenta's judge) and fails as soon as a score is at or below marginal; the last score must reach pass.",
            vec![
                Field::new("analysisType", "Analysis", analysis, "Real time waits for each interval; retrospective reads a past window at once."),
                Field::new(
                    "canaryConfig",
                    "Canary",
                    Input::Json,
                    "canaryConfigId (a saved canary configuration), metricsAccountName, scopes (controlScope and experimentScope: the baseline's and the canary's server groups), scoreThresholds, lifetimeDuration (PT1H; PT90S), canaryAnalysisIntervalMins (minutes, or 30s).",
                ),
            ],
            json!({"analysisType": "realTime", "canaryConfig": {
                "canaryConfigId": format!("{application}-canary"), "metricsAccountName": "prometheus", "lifetimeDuration": "PT30M", "canaryAnalysisIntervalMins": "10",
                "scoreThresholds": {"pass": "95", "marginal": "75"},
                "scopes": [{"scopeName": "default", "controlScope": format!("{application}-baseline-v000"), "experimentScope": format!("{application}-canary-v000"), "controlLocation": "local", "experimentLocation": "local"}]
            }}),
        )
    }

    fn task_names(&self) -> &'static [&'static str] {
        &["runCanaryIntervals"]
    }

    fn validate(&self, config: &Value) -> Result<(), Fault> {
        let stage: KayentaCanaryStage = parse(config)?;
        stage.check(false)
    }

    fn accounts_read(&self, config: &Value) -> Vec<String> {
        parse::<KayentaCanaryStage>(config).ok().and_then(|stage| stage.canary_config.metrics_account_name).filter(|name| !name.trim().is_empty()).into_iter().collect()
    }

    fn cannot_run(&self, _config: &Value) -> Option<String> {
        None
    }

    fn skippable(&self) -> bool {
        false
    }

    async fn run(&self, task: Task<'_>) -> Step {
        let stage: KayentaCanaryStage = config_or_fail!(task.stage);
        let mut intervals: Vec<IntervalResult> = task.stage.context.get("intervals").cloned().and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default();
        let tries = task.stage.context.get("canaryUnreachableTries").and_then(Value::as_u64).unwrap_or(0);
        let started = task.stage.start_time.unwrap_or(task.now) / 1000;
        let analysis = Analysis { stage: &stage, execution: task.execution, effects: task.effects };
        let before = intervals.len();
        let outcome = analysis.advance(started, task.now / 1000, &mut intervals, tries).await;
        let mut patch = if intervals.len() > before { progress(&intervals) } else { Map::new() };
        match outcome {
            Advance::Wait { retry_after_ms, analysis_start, next_end } => {
                patch.insert("canaryAnalysisStartIso".into(), json!(iso_of(analysis_start)));
                patch.insert("nextIntervalEndIso".into(), json!(iso_of(next_end)));
                (TaskResult::Running { retry_after_ms }, patch)
            }
            Advance::Unreachable { message, tries } => {
                patch.insert("canaryFault".into(), json!(message));
                patch.insert("canaryUnreachableTries".into(), json!(tries));
                (TaskResult::Running { retry_after_ms: RETRY_MS }, patch)
            }
            Advance::Broken(message) => (TaskResult::Failed { error: message }, patch),
            Advance::Done { verdict } => {
                let Some(last) = intervals.last() else { return failed("no interval was analyzed") };
                patch.insert("canaryScoreMessage".into(), json!(verdict.clone().err().unwrap_or_else(|| format!("Final canary score {} passed", last.score))));
                match verdict {
                    Err(message) => (TaskResult::Failed { error: message }, patch),
                    Ok(()) => {
                        let outputs = BTreeMap::from([
                            ("canaryScores".to_string(), json!(intervals.iter().map(|interval| interval.score).collect::<Vec<f64>>())),
                            ("overallScore".to_string(), json!(last.score)),
                            ("overallResult".to_string(), json!("success")),
                        ]);
                        (TaskResult::Succeeded { outputs }, patch)
                    }
                }
            }
        }
    }
}

/// Where an analysis stands after [`Analysis::advance`].
#[derive(Debug, Clone, PartialEq)]
pub enum Advance {
    /// The next interval ends later: look again then (`analysis_start`, `next_end`: epoch s).
    Wait { retry_after_ms: i64, analysis_start: i64, next_end: i64 },
    /// Prometheus could not be reached: try again in a few seconds (`tries` so far).
    Unreachable { message: String, tries: u64 },
    /// The analysis cannot run (a missing configuration, a refused query, no permission).
    Broken(String),
    /// Every interval ran, or a score ended it early: `Err` says why it failed.
    Done { verdict: Result<(), String> },
}

/// One canary analysis as a run's stage (or a canary rollout's step) drives it.
pub struct Analysis<'a> {
    pub stage: &'a KayentaCanaryStage,
    pub execution: &'a app::model::execution::Execution,
    pub effects: &'a crate::engine::tasks::Effects,
}

impl Analysis<'_> {
    /// Runs every interval that has ended by `now` (epoch seconds) and is not in `intervals`
    /// yet, for an analysis whose stage started at `started`; says what comes next.
    pub async fn advance(&self, started: i64, now: i64, intervals: &mut Vec<IntervalResult>, tries: u64) -> Advance {
        let stage = self.stage;
        if let Err((field, message)) = stage.check(true) {
            return Advance::Broken(format!("{field}: {message}"));
        }
        let (Ok(timing), Ok(thresholds), Ok(scopes)) = (stage.timing(), stage.thresholds(), stage.scopes()) else {
            return Advance::Broken("the canary's settings could not be read".into());
        };
        let effects = self.effects;
        let stored = match effects.store.get_canary_config(stage.canary_config.canary_config_id.trim()).await {
            Ok(stored) => stored,
            Err(crate::store::Error::NotFound(_)) => return Advance::Broken(format!("canary configuration {:?} not found", stage.canary_config.canary_config_id)),
            Err(error) => return Advance::Unreachable { message: error.to_string(), tries },
        };
        let config = stored.config;
        if !config.applications.iter().any(|application| application == &self.execution.application) {
            return Advance::Broken(format!(
                "canary configuration {:?} belongs to {}, not to application {}",
                config.name,
                config.applications.join(", "),
                self.execution.application
            ));
        }
        let metrics_store = match metrics_store(effects, self.execution, stage.canary_config.metrics_account_name.as_deref()).await {
            Ok(store) => store,
            Err(message) => return Advance::Broken(message),
        };
        let runs = timing.runs();
        let start = timing.retrospective_start.unwrap_or(started + timing.warmup);
        loop {
            let index = intervals.len();
            if index >= runs {
                return Advance::Done { verdict: verdict(intervals, thresholds, runs) };
            }
            let end = start + timing.interval * i64::try_from(index + 1).unwrap_or(i64::MAX);
            if timing.retrospective_start.is_none() && now < end {
                return Advance::Wait { retry_after_ms: ((end - now) * 1000).clamp(1, LONGEST_WAIT_MS), analysis_start: start, next_end: end };
            }
            let experiment_start = if timing.lookback > 0 { (end - timing.lookback).max(start) } else { start };
            let step = stage
                .canary_config
                .scopes
                .first()
                .and_then(|scope| duration(scope.step.as_deref(), 1.0, "step").ok().flatten())
                .filter(|step| *step > 0)
                .unwrap_or_else(|| Window::default_step(experiment_start, end));
            let experiment = Window { start: experiment_start, end, step };
            let control = Window { start: experiment_start - timing.baseline_offset, end: end - timing.baseline_offset, step };
            let result = match analysis::analyze(&effects.http, &metrics_store, &config, &scopes, (control, experiment), thresholds, index + 1).await {
                Ok(result) => result,
                Err(error @ prometheus::Error::Query { .. }) => return Advance::Broken(error.to_string()),
                Err(error) => {
                    if tries + 1 >= UNREACHABLE_TRIES {
                        return Advance::Broken(format!("interval {} of {runs} could not be analyzed: {error}", index + 1));
                    }
                    return Advance::Unreachable { message: error.to_string(), tries: tries + 1 };
                }
            };
            let score = result.score;
            intervals.push(result);
            if score <= thresholds.marginal || index + 1 == runs {
                return Advance::Done { verdict: verdict(intervals, thresholds, runs) };
            }
        }
    }
}

/// Orca's `AggregateCanaryResultsTask`: the last score at or below marginal fails (early, when
/// intervals remain), below pass fails, else passes.
fn verdict(intervals: &[IntervalResult], thresholds: ScoreThresholds, runs: usize) -> Result<(), String> {
    let Some(last) = intervals.last() else { return Err("no interval was analyzed".into()) };
    if last.score <= thresholds.marginal {
        let stopped = if intervals.len() < runs { format!(" (stopped after interval {} of {runs})", intervals.len()) } else { String::new() };
        Err(format!("Canary score {} is not above the marginal score threshold {}{stopped}: {}", last.score, thresholds.marginal, last.classification_reason))
    } else if last.score < thresholds.pass {
        Err(format!("Final canary score {} is below the pass score threshold {}", last.score, thresholds.pass))
    } else {
        Ok(())
    }
}

/// The context keys that show progress: every interval's result and the scores so far, and
/// no pending fault.
fn progress(intervals: &[IntervalResult]) -> Map<String, Value> {
    let mut patch = Map::new();
    patch.insert("intervals".into(), serde_json::to_value(intervals).unwrap_or_default());
    patch.insert("canaryScores".into(), json!(intervals.iter().map(|interval| interval.score).collect::<Vec<f64>>()));
    patch.insert("lastUpdated".into(), json!(crate::store::now_millis()));
    patch.insert("canaryUnreachableTries".into(), json!(0));
    patch.insert("canaryFault".into(), Value::Null);
    patch
}

/// The metrics account to read: the one named (READ needed, checked as the run's user now,
/// since it may have been an expression), or the only Prometheus account there is.
async fn metrics_store(effects: &crate::engine::tasks::Effects, execution: &app::model::execution::Execution, named: Option<&str>) -> Result<MetricsStore, String> {
    let accounts = crate::cloud::accounts::all(&effects.store).await.map_err(|error| error.to_string())?;
    let prometheus_accounts: Vec<_> = accounts.into_iter().filter(|account| account.cloud_provider == CloudProviderKind::Prometheus).collect();
    let account = match named.map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => prometheus_accounts.iter().find(|account| account.name == name).ok_or_else(|| format!("there is no prometheus metrics account {name:?}"))?,
        None => match prometheus_accounts.as_slice() {
            [only] => only,
            [] => return Err("there is no prometheus metrics account (add one to the clouds file or on the Cloud accounts page)".into()),
            _ => return Err("several metrics accounts exist: name one with canaryConfig.metricsAccountName".into()),
        },
    };
    let caller = effects.launcher.caller_named(&execution.trigger.user).await.map_err(|error| error.to_string())?;
    crate::auth::access::require_accounts_read(&effects.store, &caller, [account.name.clone()].into()).await.map_err(|error| error.to_string())?;
    let settings = account.prometheus.clone().ok_or_else(|| format!("metrics account {} has no prometheus settings", account.name))?;
    let bearer = match &settings.bearer_token_secret {
        Some(secret) => {
            let secrets = effects.secrets.as_ref().ok_or("the secrets store is not available")?;
            let revealed = secrets.reveal(secret).await.map_err(|_| format!("the token of metrics account {} (secret {secret}) cannot be read", account.name))?;
            Some(secrecy::ExposeSecret::expose_secret(&revealed).to_string())
        }
        None => None,
    };
    Ok(MetricsStore { base_url: settings.base_url, bearer })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(config: Value) -> KayentaCanaryStage {
        parse(&config).unwrap()
    }

    #[test]
    fn durations_read_minutes_fractions_and_units() {
        assert_eq!(duration(Some("5"), 60.0, "f").unwrap(), Some(300));
        assert_eq!(duration(Some("0.5"), 60.0, "f").unwrap(), Some(30));
        assert_eq!(duration(Some("30s"), 60.0, "f").unwrap(), Some(30));
        assert_eq!(duration(Some("2m"), 60.0, "f").unwrap(), Some(120));
        assert_eq!(duration(Some(""), 60.0, "f").unwrap(), None);
        assert!(duration(Some("soon"), 60.0, "f").unwrap_err().1.contains("not a duration"));
        assert_eq!(iso_duration("PT1H"), Some(3600));
        assert_eq!(iso_duration("PT0H5M"), Some(300));
        assert_eq!(iso_duration("PT45S"), Some(45));
        assert_eq!(iso_duration("P1DT1M"), Some(86_460));
        assert_eq!(iso_duration("1 hour"), None);
    }

    #[test]
    fn a_deck_written_stage_reads_with_string_numbers() {
        // As Deck saves it: numbers as strings, an empty interval, Kayenta-only fields.
        let written = stage(json!({"type": "kayentaCanary", "name": "Canary Analysis", "analysisType": "realTimeAutomatic", "canaryConfig": {
            "beginCanaryAnalysisAfterMins": "2", "canaryAnalysisIntervalMins": "", "canaryConfigId": "7bdb4ab4",
            "combinedCanaryResultStrategy": "LOWEST", "lifetimeDuration": "PT0H5M", "metricsAccountName": "my-prometheus",
            "scopes": [{"controlLocation": "default", "controlScope": "app-baseline", "experimentLocation": "default", "experimentScope": "app-canary", "extendedScopeParams": {}, "scopeName": "default"}],
            "scoreThresholds": {"marginal": "0", "pass": "70"}, "storageAccountName": "kayenta-minio"}}));
        written.check(false).unwrap();
        let timing = written.timing().unwrap();
        assert_eq!((timing.warmup, timing.lifetime, timing.interval, timing.runs()), (120, 300, 300, 1));
        assert_eq!(written.thresholds().unwrap(), ScoreThresholds { pass: 70.0, marginal: 0.0 });
        assert_eq!(KayentaCanary.accounts_read(&serde_json::to_value(&written).unwrap()), vec!["my-prometheus".to_string()]);
    }

    #[test]
    fn intervals_cut_the_lifetime() {
        let written = stage(json!({"canaryConfig": {"canaryConfigId": "c", "lifetimeDuration": "PT1H", "canaryAnalysisIntervalMins": 25,
            "scopes": [{"controlScope": "a", "experimentScope": "b"}]}}));
        assert_eq!(written.timing().unwrap().runs(), 2);
        assert_eq!(written.thresholds().unwrap(), ScoreThresholds::default());
    }

    #[test]
    fn bad_settings_name_their_field() {
        let bad = |config: Value| stage(json!({"canaryConfig": config})).check(false).unwrap_err().0;
        assert_eq!(bad(json!({"lifetimeDuration": "PT1H", "scopes": [{"controlScope": "a", "experimentScope": "b"}]})), "canaryConfig.canaryConfigId");
        assert_eq!(bad(json!({"canaryConfigId": "c", "scopes": [{"controlScope": "a", "experimentScope": "b"}]})), "canaryConfig.lifetimeDuration");
        assert_eq!(bad(json!({"canaryConfigId": "c", "lifetimeDuration": "PT1H"})), "canaryConfig.scopes");
        assert_eq!(bad(json!({"canaryConfigId": "c", "lifetimeDuration": "PT1H", "scopes": [{"controlScope": "a"}]})), "canaryConfig.scopes[0].experimentScope");
        assert_eq!(
            bad(json!({"canaryConfigId": "c", "lifetimeDuration": "PT1H", "scoreThresholds": {"pass": "50", "marginal": "80"}, "scopes": [{"controlScope": "a", "experimentScope": "b"}]})),
            "canaryConfig.scoreThresholds.marginal"
        );
        assert_eq!(
            bad(json!({"canaryConfigId": "c", "lifetimeDuration": "PT1M", "canaryAnalysisIntervalMins": "5", "scopes": [{"controlScope": "a", "experimentScope": "b"}]})),
            "canaryConfig.canaryAnalysisIntervalMins"
        );
    }

    #[test]
    fn a_retrospective_analysis_reads_its_window_from_the_scope() {
        let written = stage(json!({"analysisType": "retrospective", "canaryConfig": {"canaryConfigId": "c", "canaryAnalysisIntervalMins": "30",
            "scopes": [{"controlScope": "a", "experimentScope": "b", "startTimeIso": "2026-11-30T10:00:00Z", "endTimeIso": "2026-11-30T11:00:00Z"}]}}));
        let timing = written.timing().unwrap();
        assert_eq!((timing.lifetime, timing.runs(), timing.warmup), (3600, 2, 0));
        assert_eq!(timing.retrospective_start, iso_seconds("2026-11-30T10:00:00Z"));
    }
}
