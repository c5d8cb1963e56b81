//! The Executions list on the Pipelines tab: the application's runs, filtered by status,
//! trigger type, age (last hour, day, week) and text matched against their parameter values.
//!
//! The filters live in the query string and the form is a GET form, so a filtered view works
//! without the WASM and can be bookmarked. The server applies them over every run of the
//! application ([`find_executions`]) and answers the [`RECENT`] newest matches; *Older runs*
//! is a link to the next page (`before=<the last run's id>`, as the audit log pages). Without
//! filters the first page is the tab's own recent runs, read once for the whole tab.
//!
//! Live: the tab's runs are kept current by the event socket. A page shows its runs as they are
//! now, drops those that no longer match, and adds the runs seen live that match and fall on
//! it: on the first page, any newer run (the page may grow past [`RECENT`]); on a later page,
//! only runs between its first and last, so live events of newer runs do not climb onto it.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::api::pipelines::{RECENT, RecentRuns, find_executions};
use crate::components::loaded::{Loaded, loaded};
use crate::components::stage_bar::StageBar;
use crate::model::execution::{Execution, ExecutionQuery, Status};
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
const TRIGGERS: [&str; 7] = ["manual", "cron", "webhook", "pipeline", "docker", "jenkins", "git"];

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

    /// No filter set: every run passes.
    pub fn is_empty(&self) -> bool {
        self.statuses.is_empty() && self.trigger.is_empty() && self.since == Since::All && self.text.trim().is_empty()
    }

    /// The same filters for the server, the page after `before` (the age is sent apart, to be
    /// counted back from the server's clock: see [`find_executions`]).
    pub fn to_query(&self, before: Option<String>) -> ExecutionQuery {
        let statuses: Vec<&str> = self.statuses.iter().map(|status| status.as_str()).collect();
        let text = self.text.trim();
        ExecutionQuery {
            statuses: (!statuses.is_empty()).then(|| statuses.join(",")),
            trigger: (!self.trigger.is_empty()).then(|| self.trigger.clone()),
            search: (!text.is_empty()).then(|| text.to_string()),
            before,
            ..Default::default()
        }
    }

    /// Whether a run matches, exactly as the server decides (for runs seen live). `now` is when
    /// the runs were read, so the server's render and the browser's agree.
    pub fn admits(&self, run: &Execution, now: EpochMillis) -> bool {
        let text = self.text.trim().to_lowercase();
        (self.statuses.is_empty() || self.statuses.contains(&run.status))
            && (self.trigger.is_empty() || run.trigger.kind == self.trigger)
            && self.since.millis().is_none_or(|age| run.build_time >= now - age)
            && (text.is_empty() || run.trigger.parameters.values().any(|value| value.to_lowercase().contains(&text)))
    }
}

/// The order runs are listed in, newest first when sorted descending (the server's order).
fn position(run: &Execution) -> (EpochMillis, &str) {
    (run.build_time, run.id.as_str())
}

/// The rows of one page: the runs listed for it (`fetched`, newest first), each as `live` has
/// it now, plus the live runs that fall on the page, keeping those that (still) match. A page
/// ends at its last fetched run when it is full (older ones are on the next page); a later
/// page starts at its first, the first page does not start anywhere. Tasks are left out.
pub fn page_rows(fetched: &[Execution], live: &[Execution], filter: &RunFilter, now: EpochMillis, first_page: bool) -> Vec<Execution> {
    if !first_page && fetched.is_empty() {
        return Vec::new();
    }
    let last = (fetched.len() >= RECENT as usize).then(|| fetched.last()).flatten().map(position);
    let first = if first_page { None } else { fetched.first().map(position) };
    let on_page = |run: &Execution| last.is_none_or(|last| position(run) >= last) && first.is_none_or(|first| position(run) <= first);
    let mut rows: Vec<Execution> =
        fetched.iter().map(|run| live.iter().find(|seen| seen.id == run.id).unwrap_or(run).clone()).collect();
    for run in live {
        if on_page(run) && !rows.iter().any(|row| row.id == run.id) {
            rows.push(run.clone());
        }
    }
    rows.retain(|run| !run.pipeline_config_id.is_empty() && filter.admits(run, now));
    rows.sort_by(|a, b| position(b).cmp(&position(a)));
    rows
}

#[component]
pub fn ExecutionList(application: String, runs: RwSignal<Vec<Execution>>, now: EpochMillis) -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| RunFilter::from_query(&query.read()));
    let before = Memo::new(move |_| query.read().get("before").filter(|before| !before.is_empty()));
    // The first page without filters: the tab's recent runs as it read them (the live list
    // grows from there).
    let newest = StoredValue::new(runs.get_untracked());
    let source = application.clone();
    let page = Resource::new(
        move || (source.clone(), filter.get(), before.get()),
        // Unfiltered, the first page is the tab's own list: nothing to fetch (an empty answer,
        // rather than an Option, so this resource has the same type as the tab's).
        |(application, filter, before)| async move {
            if filter.is_empty() && before.is_none() {
                return Ok(RecentRuns { executions: Vec::new(), seq: 0, now: 0 });
            }
            let within = filter.since.millis();
            find_executions(application, filter.to_query(before), within).await
        },
    );
    let triggers = move || {
        let mut kinds: Vec<String> = TRIGGERS.iter().map(|kind| kind.to_string()).collect();
        let chosen = filter.read().trigger.clone();
        for kind in runs.read().iter().map(|run| run.trigger.kind.clone()).chain((!chosen.is_empty()).then_some(chosen)) {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        kinds
    };
    let path = format!("/applications/{application}/pipelines");
    // A link to another page of the same filters.
    let page_link = move |before: Option<&str>| {
        let mut params = query.get_untracked();
        params.remove("before");
        if let Some(before) = before {
            params.replace("before", before.to_string());
        }
        format!("{path}{}", params.to_query_string())
    };
    view! {
        <section class="executions" aria-labelledby="executions-title">
            <h2 id="executions-title">"Executions"</h2>
            // A plain GET form: Filter loads the page for the new query string (rendered by the
            // server, filtered there), with or without the WASM; the router's client-side form
            // would add its code to every page's bundle for a reload's worth of time.
            <form method="get" action=format!("/applications/{application}/pipelines") class="filters" role="search" aria-label="Filter executions">
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
            </form>
            <p class="muted">{format!("Filters search every run of the application, newest first, {RECENT} at a time.")}</p>
            <Loaded fallback="Loading executions…" content=loaded(move || { let page_link = page_link.clone(); async move {
                let found = page.await?;
                // The filters and page the answer is for (the resource's source).
                let (filter, first_page) = (filter.get_untracked(), before.get_untracked().is_none());
                let (fetched, now) =
                    if filter.is_empty() && first_page { (newest.get_value(), now) } else { (found.executions, found.now) };
                let older = (fetched.len() >= RECENT as usize).then(|| fetched.last().map(|run| page_link(Some(&run.id)))).flatten();
                let newer = (!first_page).then(|| page_link(None));
                let rows = move || page_rows(&fetched, &runs.read(), &filter, now, first_page);
                Ok::<_, crate::error::AppError>(view! {
                    <RunTable rows/>
                    {(older.is_some() || newer.is_some()).then(|| view! {
                        <nav class="pager" aria-label="Executions pages">
                            {newer.map(|href| view! { <a href=href rel="prev">"Newest runs"</a> })}
                            {older.map(|href| view! { <a href=href rel="next">"Older runs"</a> })}
                        </nav>
                    })}
                })
            } })/>
        </section>
    }
}

#[component]
fn RunTable(rows: impl Fn() -> Vec<Execution> + Send + Sync + 'static) -> impl IntoView {
    move || {
        let shown = rows();
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

    #[test]
    fn the_server_gets_the_same_filters() {
        assert!(filter("since=all&q=%20").is_empty());
        let query = filter("status=TERMINAL&status=CANCELED&trigger=cron&since=day&q=%20Prod%20").to_query(Some("e9".into()));
        assert_eq!(query.statuses.as_deref(), Some("TERMINAL,CANCELED"));
        assert_eq!((query.trigger.as_deref(), query.search.as_deref(), query.before.as_deref()), (Some("cron"), Some("Prod"), Some("e9")));
        assert_eq!((query.application, query.started_after, query.limit), (None, None, None), "the server function sets those");
        let none = filter("").to_query(None);
        assert_eq!((none.statuses, none.trigger, none.search), (None, None, None));
    }

    fn numbered(id: &str, built: EpochMillis, status: Status) -> Execution {
        let mut run = run(status, "manual", built, &[]);
        run.id = id.into();
        run
    }

    fn ids(rows: &[Execution]) -> Vec<&str> {
        rows.iter().map(|run| run.id.as_str()).collect()
    }

    #[test]
    fn a_page_shows_its_runs_as_they_are_now_and_the_live_ones_that_fall_on_it() {
        let now = 1_000_000;
        let terminal = filter("status=TERMINAL");
        // The server's answer for TERMINAL, short (the only page): b and a.
        let fetched = [numbered("b", 20, Status::Terminal), numbered("a", 10, Status::Terminal)];
        // Since then: c started and failed, a was restarted and runs, d runs, a task failed.
        let mut task = numbered("t", 40, Status::Terminal);
        task.pipeline_config_id.clear();
        let live = [numbered("c", 30, Status::Terminal), numbered("a", 10, Status::Running), numbered("d", 35, Status::Running), task];
        assert_eq!(ids(&page_rows(&fetched, &live, &terminal, now, true)), ["c", "b"]);

        // A full page ends at its last run: older live runs belong to the next page.
        let full: Vec<Execution> = (0..RECENT as i64).map(|i| numbered(&format!("r{i:02}"), 1000 - i, Status::Terminal)).collect();
        let old = [numbered("old", 5, Status::Terminal), numbered("new", 2000, Status::Terminal)];
        let rows = page_rows(&full, &old, &terminal, now, true);
        assert_eq!((rows.len(), rows[0].id.as_str()), (RECENT as usize + 1, "new"));
        assert!(!ids(&rows).contains(&"old"));
        // A later page starts at its first run: newer live runs stay off it.
        let older = [numbered("p", 8, Status::Terminal), numbered("o", 4, Status::Terminal)];
        assert_eq!(ids(&page_rows(&older, &old, &terminal, now, false)), ["p", "old", "o"]);
        assert!(page_rows(&[], &old, &terminal, now, false).is_empty(), "past the last page");
        // Same build time: the id decides, as on the server.
        let tied = [numbered("x2", 7, Status::Terminal), numbered("x1", 7, Status::Terminal)];
        assert_eq!(ids(&page_rows(&[tied[1].clone()], &[tied[0].clone()], &terminal, now, true)), ["x2", "x1"]);
    }
}
