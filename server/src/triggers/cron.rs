//! Cron triggers. `cronExpression` is Quartz's, as in Spinnaker (seconds first: six or seven
//! fields, `?` for "no specific value", days of week 1 = Sunday or SUN-SAT), or the classic five
//! fields (minute first, then read as if seconds were 0). `timeZone` is an IANA name (default
//! UTC).
//!
//! Every `tick` (once a second in `gennaker serve`, with the engine's clock) the instance that
//! holds the `cron` poll lease looks at each enabled cron trigger: the first time it sees one
//! it only notes the time; afterwards it starts a run for the **latest** occurrence since it
//! last looked, if any. So a schedule missed while gennaker was down runs once when it comes
//! back, not once per missed occurrence. Each run's id is derived from the occurrence, so a
//! tick repeated after a crash starts nothing twice.

use std::collections::BTreeMap;

use app::model::trigger::TriggerKind;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::launch::{Firing, launch};
pub use crate::schedule::{Schedule, parse};
use crate::engine::launcher::Launcher;

/// How long the poll lease lasts; another instance takes over after this if this one dies.
const LEASE_MS: i64 = 10_000;
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CronState {
    /// Up to when the schedule has been looked at.
    checked_until: i64,
}

/// One look at every cron trigger; returns how many runs it started.
pub async fn tick(launcher: &Launcher, owner: &str, now: i64) -> Result<usize, crate::store::Error> {
    let store = launcher.store();
    if !store.take_poll_lease("cron", owner, now, LEASE_MS).await? {
        return Ok(0);
    }
    let mut started = 0;
    for (pipeline, triggers) in super::triggered_pipelines(store, "cron").await? {
        for trigger in &triggers {
            let TriggerKind::Cron(cron) = &trigger.kind else { continue };
            let schedule = match parse(&cron.cron_expression, cron.time_zone.as_deref()) {
                Ok(schedule) => schedule,
                Err(error) => {
                    tracing::warn!(%error, pipeline = %pipeline.name, "a cron trigger does not parse; skipped");
                    continue;
                }
            };
            let key = format!("cron:{}:{}", pipeline.id, cron.id);
            let state: Option<CronState> = store.trigger_state(&key).await?.and_then(|text| serde_json::from_str(&text).ok());
            if let Some(state) = state {
                if let Some(at) = schedule.latest_between(state.checked_until, now) {
                    let firing = Firing {
                        kind: "cron",
                        run_as_user: trigger.run_as_user.clone(),
                        parameters: BTreeMap::new(),
                        extra: BTreeMap::from([
                            ("cronExpression".to_string(), json!(cron.cron_expression)),
                            ("scheduledTime".to_string(), json!(at)),
                        ]),
                        id: Some(format!("{}-cron-{}-{at}", pipeline.id, cron.id)),
                    };
                    match launch(launcher, &pipeline, firing).await {
                        Ok(Some(execution)) => {
                            started += 1;
                            tracing::info!(pipeline = %pipeline.name, execution = %execution.id, scheduled = at, "cron trigger fired");
                        }
                        Ok(None) => {}
                        Err(error) => tracing::warn!(%error, pipeline = %pipeline.name, "a cron trigger could not start its run"),
                    }
                }
            }
            let state = serde_json::to_string(&CronState { checked_until: now }).expect("states serialize");
            store.put_trigger_state(&key, &state).await?;
        }
    }
    Ok(started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn millis(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    #[test]
    fn quartz_and_classic_expressions() {
        let hourly = parse("0 0 * * * ?", None).unwrap();
        assert_eq!(hourly.next_after(millis("2026-11-27T10:15:00Z")), Some(millis("2026-11-27T11:00:00Z")));
        let classic = parse("30 9 * * MON-FRI", None).unwrap();
        // 2026-11-28 is a Saturday: the next weekday 09:30 is Monday the 30th.
        assert_eq!(classic.next_after(millis("2026-11-27T10:00:00Z")), Some(millis("2026-11-30T09:30:00Z")));
        assert!(parse("* * *", None).is_err());
        assert!(parse("0 0 25 * * ?", None).is_err(), "hour 25");
        assert!(parse("0 0 * * * ?", Some("Mars/Olympus")).is_err());
    }

    #[test]
    fn time_zones_move_the_schedule() {
        let paris_nine = parse("0 0 9 * * ?", Some("Europe/Paris")).unwrap();
        // Winter: Paris is UTC+1, so 09:00 there is 08:00 UTC.
        assert_eq!(paris_nine.next_after(millis("2026-11-27T00:00:00Z")), Some(millis("2026-11-27T08:00:00Z")));
    }

    #[test]
    fn only_the_latest_missed_occurrence_counts() {
        let hourly = parse("0 0 * * * ?", None).unwrap();
        let down_at = millis("2026-11-27T10:30:00Z");
        let back_at = millis("2026-11-27T15:10:00Z");
        assert_eq!(hourly.latest_between(down_at, back_at), Some(millis("2026-11-27T15:00:00Z")));
        assert_eq!(hourly.latest_between(back_at, back_at + 1_000), None);
    }
}
