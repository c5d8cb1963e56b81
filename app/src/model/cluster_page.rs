//! One page of an application's Clusters tab, cut on the server out of the cached view so that
//! a big application stays light: at 10,000 server groups the whole view is megabytes, a page
//! is a few dozen clusters. Clusters the filters let through are paged ([`CLUSTERS_PER_PAGE`]
//! at a time); a page whose clusters hold few server groups shows them all, a bigger one shows
//! each cluster collapsed (its [`ClusterHeader`]) and opens those asked for; within an open
//! cluster a small server group has a square per instance, a bigger one its counts per health
//! state. The cutting is here, shared, so it is tested without a server.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::cluster::{ClusterHeader, ClusterKey, ClusterSummary, HealthState, Location, RegionClusters, ServerGroupSummary, tags_match};
use super::names::ClusterName;

/// How many clusters a page shows.
pub const CLUSTERS_PER_PAGE: usize = 50;
/// A page whose clusters hold at most this many server groups shows every one of them; a
/// bigger page shows its clusters collapsed, to be opened one by one.
pub const OPEN_SERVER_GROUPS: usize = 50;
/// A server group with at most this many instances shows a square per instance; a bigger one
/// its counts per health state.
pub const INSTANCE_SQUARES: u32 = 50;

/// Which server groups the status filter lets through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    #[default]
    All,
    Enabled,
    Disabled,
}

impl StatusFilter {
    /// Anything else than `enabled` or `disabled` is `all`.
    pub fn parse(text: Option<&str>) -> Self {
        match text {
            Some("enabled") => Self::Enabled,
            Some("disabled") => Self::Disabled,
            _ => Self::All,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }

    pub fn admits(self, group: &ServerGroupSummary) -> bool {
        match self {
            Self::All => true,
            Self::Enabled => !group.disabled,
            Self::Disabled => group.disabled,
        }
    }
}

/// The server group whose details are open.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    pub account: String,
    pub region: String,
    pub name: String,
}

/// What the Clusters tab's address asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClustersPageQuery {
    /// Matches a cluster's stack or detail, or a tag of one of its server groups.
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub status: StatusFilter,
    /// Counted from 1. None: the first, or the one holding the selected server group.
    #[serde(default)]
    pub page: Option<usize>,
    /// Clusters opened by name (in every account and region that has one of that name).
    #[serde(default)]
    pub expand: Vec<String>,
    #[serde(default)]
    pub selection: Option<Selection>,
}

/// One instance's name and health: a square in its server group's box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceHealth {
    pub name: String,
    pub health_state: HealthState,
}

/// A server group in an open cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerGroupView {
    pub summary: ServerGroupSummary,
    /// Each instance's health when it has at most [`INSTANCE_SQUARES`]; None beyond (its
    /// counts say enough).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<InstanceHealth>>,
}

/// A cluster of the page: summed up, and its server groups (the status filter's) when open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageCluster {
    pub header: ClusterHeader,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_groups: Option<Vec<ServerGroupView>>,
}

impl PageCluster {
    pub fn is_open(&self) -> bool {
        self.server_groups.is_some()
    }
}

/// One page of the Clusters tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClustersPage {
    /// The application's server groups before any filter (none: nothing is deployed yet).
    pub total_server_groups: usize,
    /// Clusters the filters let through, on all pages.
    pub matching_clusters: usize,
    /// The page shown, from 1, and how many there are (at least 1).
    pub page: usize,
    pub pages: usize,
    /// Whether this page's clusters open one by one; when false every one is open.
    pub collapsible: bool,
    /// By account and region, then name.
    pub clusters: Vec<PageCluster>,
    /// The selected server group's cluster, every server group of it, wherever it is (its
    /// details panel names the others to roll back to). None when nothing is selected or the
    /// selected server group is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<ClusterSummary>,
}

/// The text filter matches a cluster's stack or detail, as Deck's cluster filter does (a name
/// outside the convention, such as Kubernetes' `deployment web`, anywhere). `text` is lower case.
pub fn matches_text(cluster: &str, text: &str) -> bool {
    if text.is_empty() {
        return true;
    }
    match ClusterName::parse(cluster) {
        Ok(name) => name.stack.to_lowercase().contains(text) || name.detail.to_lowercase().contains(text),
        Err(_) => cluster.to_lowercase().contains(text),
    }
}

fn location_of(region: &RegionClusters) -> Location {
    Location { cloud_provider: region.cloud_provider.clone(), account: region.account.clone(), region: region.region.clone() }
}

/// Whether the selection is a server group of this cluster.
fn holds(region: &RegionClusters, cluster: &ClusterSummary, selection: Option<&Selection>) -> bool {
    selection.is_some_and(|s| s.account == region.account && s.region == region.region && cluster.server_groups.iter().any(|group| group.name == s.name))
}

/// Cuts the page `query` asks for out of an application's view. `instances` tells the
/// instances of the named server groups at a location (called for open clusters only, and
/// only for server groups small enough for squares).
pub fn build(
    regions: &[RegionClusters],
    query: &ClustersPageQuery,
    mut instances: impl FnMut(&Location, &[&str]) -> HashMap<String, Vec<InstanceHealth>>,
) -> ClustersPage {
    let text = query.text.trim().to_lowercase();
    let selection = query.selection.as_ref();
    let total_server_groups = regions.iter().flat_map(|region| &region.clusters).map(|cluster| cluster.server_groups.len()).sum();
    let mut matching: Vec<(&RegionClusters, &ClusterSummary, Vec<&ServerGroupSummary>)> = Vec::new();
    for region in regions {
        for cluster in &region.clusters {
            let named = matches_text(&cluster.name, &text) || cluster.server_groups.iter().any(|group| tags_match(&group.tags, &text));
            if !named {
                continue;
            }
            let admitted: Vec<&ServerGroupSummary> = cluster.server_groups.iter().filter(|group| query.status.admits(group)).collect();
            if !admitted.is_empty() {
                matching.push((region, cluster, admitted));
            }
        }
    }
    let pages = matching.len().div_ceil(CLUSTERS_PER_PAGE).max(1);
    let page = query
        .page
        .or_else(|| {
            let at = matching.iter().position(|(region, cluster, _)| holds(region, cluster, selection))?;
            Some(at / CLUSTERS_PER_PAGE + 1)
        })
        .unwrap_or(1)
        .clamp(1, pages);
    let shown = matching.iter().skip((page - 1) * CLUSTERS_PER_PAGE).take(CLUSTERS_PER_PAGE);
    let collapsible = shown.clone().map(|(_, _, groups)| groups.len()).sum::<usize>() > OPEN_SERVER_GROUPS;
    let clusters = shown
        .map(|(region, cluster, groups)| {
            let location = location_of(region);
            let header = ClusterHeader::of(&location, &cluster.name, groups.iter().copied());
            let open = !collapsible || query.expand.contains(&cluster.name) || holds(region, cluster, selection);
            let server_groups = open.then(|| {
                let small: Vec<&str> = groups.iter().filter(|group| group.instance_counts.total <= INSTANCE_SQUARES).map(|group| group.name.as_str()).collect();
                let mut found = if small.is_empty() { HashMap::new() } else { instances(&location, &small) };
                groups
                    .iter()
                    .map(|group| {
                        let squares = (group.instance_counts.total <= INSTANCE_SQUARES).then(|| found.remove(&group.name).unwrap_or_default());
                        ServerGroupView { summary: (*group).clone(), instances: squares }
                    })
                    .collect()
            });
            PageCluster { header, server_groups }
        })
        .collect();
    let selected = selection.and_then(|selection| {
        regions.iter().find_map(|region| region.clusters.iter().find(|cluster| holds(region, cluster, Some(selection))).cloned())
    });
    ClustersPage { total_server_groups, matching_clusters: matching.len(), page, pages, collapsible, clusters, selected }
}

/// The page's cluster of this key, if shown.
pub fn find_cluster<'a>(page: &'a ClustersPage, key: &ClusterKey) -> Option<&'a PageCluster> {
    page.clusters.iter().find(|cluster| cluster.header.location == key.location && cluster.header.name == key.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cluster::{Artifact, Capacity, InstanceCounts};

    fn group(name: &str, cluster: &str, disabled: bool, instances: u32) -> ServerGroupSummary {
        ServerGroupSummary {
            name: name.into(),
            cluster: cluster.into(),
            location: Location { cloud_provider: "local".into(), account: "local".into(), region: "local".into() },
            capacity: Capacity { min: 1, max: 1, desired: instances },
            artifact: Artifact::Command { command: vec!["demo-app".into()], version: "v1".into() },
            disabled,
            load_balancers: vec![],
            security_groups: vec![],
            instance_counts: InstanceCounts { total: instances, up: instances, ..InstanceCounts::default() },
            created_time: 0,
            tags: Default::default(),
            scaling: Vec::new(),
        }
    }

    fn region(clusters: Vec<ClusterSummary>) -> Vec<RegionClusters> {
        vec![RegionClusters { cloud_provider: "local".into(), account: "local".into(), region: "local".into(), clusters }]
    }

    fn small() -> Vec<RegionClusters> {
        let cluster = |name: &str, groups: Vec<ServerGroupSummary>| ClusterSummary { name: name.into(), server_groups: groups };
        region(vec![
            cluster("demo-web", vec![group("demo-web-v000", "demo-web", true, 2), group("demo-web-v001", "demo-web", false, 2)]),
            cluster("demo-api-canary", vec![group("demo-api-canary-v000", "demo-api-canary", false, 1)]),
        ])
    }

    /// `clusters` clusters of `groups` server groups of `instances` instances each.
    fn big(clusters: usize, groups: usize, instances: u32) -> Vec<RegionClusters> {
        region(
            (0..clusters)
                .map(|c| {
                    let name = format!("big-s{c:04}");
                    let server_groups = (0..groups).map(|g| group(&format!("{name}-v{g:03}"), &name, g + 1 != groups, instances)).collect();
                    ClusterSummary { name, server_groups }
                })
                .collect(),
        )
    }

    fn no_instances(_: &Location, _: &[&str]) -> HashMap<String, Vec<InstanceHealth>> {
        HashMap::new()
    }

    fn names(page: &ClustersPage) -> Vec<&str> {
        page.clusters.iter().flat_map(|c| c.server_groups.iter().flatten()).map(|g| g.summary.name.as_str()).collect()
    }

    #[test]
    fn a_small_application_shows_every_server_group_open() {
        let page = build(&small(), &ClustersPageQuery::default(), no_instances);
        assert!(!page.collapsible);
        assert_eq!((page.page, page.pages, page.matching_clusters, page.total_server_groups), (1, 1, 2, 3));
        assert_eq!(names(&page), ["demo-web-v000", "demo-web-v001", "demo-api-canary-v000"]);
        let header = &page.clusters[0].header;
        assert_eq!((header.server_group_count, header.enabled_server_group_count, header.instance_counts.up), (2, 1, 4));
        assert_eq!(header.newest.as_ref().map(|n| (n.name.as_str(), n.enabled)), Some(("demo-web-v001", true)));
    }

    #[test]
    fn the_text_filter_matches_stack_or_detail_and_the_status_filter_drops_emptied_clusters() {
        let query = |text: &str, status| ClustersPageQuery { text: text.into(), status, ..ClustersPageQuery::default() };
        assert_eq!(names(&build(&small(), &query("WEB", StatusFilter::All), no_instances)), ["demo-web-v000", "demo-web-v001"]);
        assert_eq!(names(&build(&small(), &query("canary", StatusFilter::All), no_instances)), ["demo-api-canary-v000"]);
        // The application name is not a stack or a detail.
        assert!(build(&small(), &query("demo", StatusFilter::All), no_instances).clusters.is_empty());
        let disabled = build(&small(), &query("", StatusFilter::Disabled), no_instances);
        assert_eq!(names(&disabled), ["demo-web-v000"]);
        assert_eq!(disabled.clusters[0].header.server_group_count, 1, "the header counts what the filter admits");
        assert_eq!(names(&build(&small(), &query("", StatusFilter::Enabled), no_instances)), ["demo-web-v001", "demo-api-canary-v000"]);
    }

    #[test]
    fn a_big_application_is_paged_and_collapsed_and_opens_what_is_asked() {
        let view = big(120, 10, 10);
        let first = build(&view, &ClustersPageQuery::default(), no_instances);
        assert!(first.collapsible);
        assert_eq!((first.page, first.pages, first.matching_clusters, first.clusters.len()), (1, 3, 120, CLUSTERS_PER_PAGE));
        assert!(first.clusters.iter().all(|c| !c.is_open()));
        assert_eq!(first.clusters[0].header.instance_counts.total, 100);

        let asked = ClustersPageQuery { page: Some(3), expand: vec!["big-s0101".into()], ..ClustersPageQuery::default() };
        let mut asked_for = Vec::new();
        let third = build(&view, &asked, |_, names: &[&str]| {
            asked_for.extend(names.iter().map(|n| n.to_string()));
            names.iter().map(|n| (n.to_string(), vec![InstanceHealth { name: format!("{n}-0"), health_state: HealthState::Up }])).collect()
        });
        assert_eq!((third.page, third.clusters.len()), (3, 20));
        let open: Vec<&str> = third.clusters.iter().filter(|c| c.is_open()).map(|c| c.header.name.as_str()).collect();
        assert_eq!(open, ["big-s0101"]);
        assert_eq!(asked_for.len(), 10, "instances are asked for the open cluster only");
        assert_eq!(third.clusters[1].server_groups.as_ref().unwrap()[0].instances.as_ref().unwrap().len(), 1);

        // Past the last page: the last page.
        assert_eq!(build(&view, &ClustersPageQuery { page: Some(9), ..ClustersPageQuery::default() }, no_instances).page, 3);
    }

    #[test]
    fn a_selection_opens_its_cluster_on_its_page_and_brings_the_whole_cluster() {
        let view = big(120, 10, 10);
        let selection = Selection { account: "local".into(), region: "local".into(), name: "big-s0077-v003".into() };
        let page = build(&view, &ClustersPageQuery { selection: Some(selection), ..ClustersPageQuery::default() }, no_instances);
        assert_eq!(page.page, 2);
        let open: Vec<&str> = page.clusters.iter().filter(|c| c.is_open()).map(|c| c.header.name.as_str()).collect();
        assert_eq!(open, ["big-s0077"]);
        assert_eq!(page.selected.as_ref().map(|c| c.server_groups.len()), Some(10));
    }

    #[test]
    fn big_server_groups_show_counts_not_squares() {
        let view = big(1, 2, INSTANCE_SQUARES + 1);
        let page = build(&view, &ClustersPageQuery::default(), |_, names: &[&str]| {
            assert!(names.is_empty(), "no instances asked for a server group past the threshold");
            HashMap::new()
        });
        assert!(page.clusters[0].server_groups.as_ref().unwrap().iter().all(|g| g.instances.is_none()));
    }
}
