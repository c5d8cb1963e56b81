//! Automated canary analysis, as Kayenta does it: the statistics its judge uses
//! (`mann_whitney`), the judge itself (`judge`: each metric classified, the groups weighted
//! into a score), metrics read from a Prometheus metrics account (`prometheus`) and one
//! analysis of an interval (`analysis`), which the `kayentaCanary` stage runs. Coming (see the
//! canary issue): the weighted canary strategy and the report page.

pub mod analysis;
pub mod judge;
pub mod mann_whitney;
pub mod prometheus;
