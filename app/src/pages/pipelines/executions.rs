//! The Executions list on the Pipelines tab: the application's recent runs, filtered by status,
//! trigger type, age (last hour, day, week) and text matched against their parameter values.
//!
//! The filters live in the query string and the form is a GET form, so a filtered view works
//! without the WASM and can be bookmarked. They apply in the page, over the runs the tab has
//! already fetched (the [`RECENT`] newest, plus those started since, live): an older run that
//! matches is not found. A server-side query would be the next step if that is not enough.

use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::api::pipelines::RECENT;
use crate::components::stage_bar::StageBar;
use crate::model::execution::{Execution, Status};
use crate::model::time::{EpochMillis, format_utc};

/// Every status, in the order a run goes through them.
const STATUSES: [Status; 10] = [
    Status::NotStarted,
    Status::Buffered,
    Status::Running,
    Status::Paused,
    Status::Succeeded,
    Status::FailedContinue,
    Status::Terminal,
    Status::Stopped,
    Status::Canceled,
    Status::Skipped,
];

/// The trigger types always offered; others seen in the runs are added.
const TRIGGERS: [&str; 4] = ["manual", "cron", "webhook", "pipeline"];

/// How far back to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    Hour,
    Day,
    Week,
    All,
}

impl Since {
    const ALL: [Self; 4] = [Self::Hour, Self::Day, Self::Week, Self::All];

    fn parse(text: Option<&str>) -> Self {
        match text {
            Some("hour") => Self::Hour,
            Some("day") => Self::Day,
            Some("week") => Self::Week,
            _ => Self::All,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::All => "all",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Hour => "last hour",
            Self::Day => "last day",
            Self::Week => "last week",
            Self::All => "all time",
        }
    }

    fn millis(self) -> Option<EpochMillis> {
        match self {
            Self::Hour => Some(3_600_000),
            Self::Day => Some(86_400_000),
            Self::Week => Some(7 * 86_400_000),
            Self::All => None,
        }
    }
}

/// The filters as the query string gives them; empty ones let everything through.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFilter {
    pub statuses: Vec<Status>,
    pub trigger: String,
    pub since: Since,
    pub text: String,
}

impl RunFilter {
    pub fn from_query(query: &ParamsMap) -> Self {
        Self {
            statuses: query.get_all("status").unwrap_or_default().iter().filter_map(|s| Status::parse(s)).collect(),
            trigger: query.get("trigger").unwrap_or_default(),
            since: Since::parse(query.get_str("since")),
            text: query.get("q").unwrap_or_default(),
        }
    }

    /// `now` is when the runs were read, so the server's render and the browser's agree.
    pub fn admits(&self, run: &Execution, now: EpochMillis) -> bool {
        let text = self.text.trim().to_lowercase();
        (self.statuses.is_empty() || self.statuses.contains(&run.status))
            && (self.trigger.is_empty() || run.trigger.kind == self.trigger)
            && self.since.millis().is_none_or(|age| run.build_time >= now - age)
            && (text.is_empty() || run.trigger.parameters.values().any(|value| value.to_lowercase().contains(&text)))
    }
}

#[component]
pub fn ExecutionList(application: String, runs: RwSignal<Vec<Execution>>, now: EpochMillis) -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| RunFilter::from_query(&query.read()));
    let shown = move || {
        let filter = filter.get();
        runs.read().iter().filter(|run| filter.admits(run, now)).cloned().collect::<Vec<_>>()
    };
    let triggers = move || {
        let mut kinds: Vec<String> = TRIGGERS.iter().map(|kind| kind.to_string()).collect();
        for run in runs.read().iter() {
            if !kinds.contains(&run.trigger.kind) {
                kinds.push(run.trigger.kind.clone());
            }
        }
        kinds
    };
    view! {
        <section class="executions" aria-labelledby="executions-title">
            <h2 id="executions-title">"Executions"</h2>
            <Form method="get" action=format!("/applications/{application}/pipelines") attr:class="filters" attr:role="search" attr:aria-label="Filter executions">
                <fieldset class="statuses">
                    <legend>"Status"</legend>
                    {STATUSES.into_iter().map(|status| view! {
                        <label class="check">
                            <input type="checkbox" name="status" value=status.as_str()
                                checked=move || filter.read().statuses.contains(&status) prop:checked=move || filter.read().statuses.contains(&status)/>
                            {status.as_str()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <label>"Trigger"
                    <select name="trigger">
                        <option value="" selected=move || filter.read().trigger.is_empty()>"any"</option>
                        {move || triggers().into_iter().map(|kind| {
                            let (chosen, label) = (kind.clone(), kind.clone());
                            view! { <option value=kind selected=move || filter.read().trigger == chosen>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Since"
                    <select name="since">
                        {Since::ALL.into_iter().map(|since| view! {
                            <option value=since.as_str() selected=move || filter.read().since == since>{since.label()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"Parameter value"
                    <input type="search" name="q" autocomplete="off" value=move || filter.read().text.clone() prop:value=move || filter.read().text.clone()/>
                </label>
                <button type="submit" class="secondary">"Filter"</button>
            </Form>
            <p class="muted">{format!("Filters apply to the {RECENT} most recent runs and those started since.")}</p>
            {move || {
                let shown = shown();
                if shown.is_empty() {
                    return view! { <p class="empty">"No execution matches the filters."</p> }.into_any();
                }
                view! {
                    <table class="table" aria-label="Executions">
                        <thead><tr><th>"Run"</th><th>"Trigger"</th><th>"Parameters"</th><th>"Started"</th></tr></thead>
                        <tbody>
                            {shown.into_iter().map(|run| {
                                let parameters = run.trigger.parameters.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                                let (kind, built) = (run.trigger.kind.clone(), format_utc(run.build_time));
                                view! { <tr><td><StageBar execution=run/></td><td>{kind}</td><td>{parameters}</td><td>{built}</td></tr> }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::execution::Trigger;

    fn run(status: Status, kind: &str, built: EpochMillis, parameters: &[(&str, &str)]) -> Execution {
        let mut run: Execution = serde_json::from_value(serde_json::json!({
            "id": "e", "application": "a", "pipelineConfigId": "p", "name": "n", "status": "SUCCEEDED",
            "trigger": {"type": "manual", "user": "u"}, "stages": [], "buildTime": 0,
            "limitConcurrent": true, "keepWaitingPipelines": false,
        }))
        .unwrap();
        run.status = status;
        run.build_time = built;
        run.trigger = Trigger {
            kind: kind.into(),
            user: "u".into(),
            parameters: parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            extra: BTreeMap::new(),
        };
        run
    }

    fn filter(query: &str) -> RunFilter {
        let mut map = ParamsMap::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap();
            map.insert(key.to_string(), value.to_string());
        }
        RunFilter::from_query(&map)
    }

    #[test]
    fn no_filter_lets_every_run_through() {
        assert!(filter("").admits(&run(Status::Terminal, "cron", 0, &[]), 10_000_000_000));
    }

    #[test]
    fn each_filter_narrows() {
        let now = 1_000_000_000;
        let failed = run(Status::Terminal, "manual", now - 60_000, &[("env", "Prod-EU")]);
        let old = run(Status::Succeeded, "webhook", now - 2 * 86_400_000, &[("env", "staging")]);
        let both = filter("status=TERMINAL&status=SUCCEEDED");
        assert!(both.admits(&failed, now) && both.admits(&old, now));
        assert!(!filter("status=SUCCEEDED").admits(&failed, now));
        assert!(filter("trigger=webhook").admits(&old, now) && !filter("trigger=webhook").admits(&failed, now));
        assert!(filter("since=day").admits(&failed, now) && !filter("since=day").admits(&old, now));
        assert!(filter("since=week").admits(&old, now));
        assert!(filter("q=prod").admits(&failed, now), "case-insensitive, part of a value");
        assert!(!filter("q=prod").admits(&old, now));
        assert!(!filter("q=env").admits(&failed, now), "names are not values");
    }
}
