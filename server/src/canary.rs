//! Automated canary analysis, as Kayenta does it: the statistics its judge uses
//! (`mann_whitney`) and the judge itself (`judge`: each metric classified, the groups weighted
//! into a score). Coming (see the canary issue): metrics from Prometheus, stored canary
//! configurations (`app::model::canary`), the `kayentaCanary` stage and the weighted canary
//! strategy.

pub mod judge;
pub mod mann_whitney;
