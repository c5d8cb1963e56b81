//! An application's Clusters tab, laid out as Spinnaker's Deck does: a heading per account and
//! region, a row per cluster, a box per server group. Selecting a box opens its details panel
//! (instances and actions, see [`details`]).
//!
//! The filters and the selection live in the query string, so the boxes are plain links and
//! the filter form a plain GET form: both work before (or without) hydration, and a selection
//! can be bookmarked. Once hydrated the view follows `/api/v1/ws/clusters`; each event replaces
//! the whole view, and keyed lists keep the boxes that did not change (and the keyboard focus).

mod actions;
mod details;
mod scaling;
mod server_group_box;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use self::details::ServerGroupPanel;
use self::server_group_box::ServerGroupBox;
use crate::api::clusters::list_clusters;
use crate::components::loaded::{Loaded, loaded};
use crate::components::live_clusters::watch_clusters;
use crate::components::tabs::ApplicationTabs;
use crate::model::cluster::{ClusterSummary, RegionClusters, ServerGroupSummary};
use crate::model::names::ClusterName;

#[component]
pub fn ClustersPage() -> impl IntoView {
    let params = use_params_map();
    let application = move || params.read().get("name").unwrap_or_default();
    let clusters = Resource::new(application, list_clusters);
    view! {
        <Title text=move || format!("{} clusters · gennaker", application())/>
        <section class="page">
            <p class="breadcrumb"><a href="/applications">"Applications"</a> " / " {application}</p>
            <h1>{application}</h1>
            <ApplicationTabs application=application() current="clusters"/>
            <CreateServerGroup application=application()/>
            <Loaded fallback="Loading clusters…" content=loaded(move || async move {
                clusters.await.map(|regions| view! { <ClustersView application=application() initial=regions/> })
            })/>
        </section>
    }
}

/// Deck's Create Server Group, for the local cloud: the next version of a cluster running a
/// command, with its capacity, load balancers and tags (submitted as a one-job task).
#[component]
fn CreateServerGroup(application: String) -> impl IntoView {
    let create = ServerAction::<crate::api::clusters::CreateServerGroup>::new();
    view! {
        <details class="create-server-group">
            <summary>"Create server group"</summary>
            <ActionForm action=create attr:class="form" attr:aria-label="Create server group">
                <input type="hidden" name="application" value=application/>
                <label>"Stack" <input type="text" name="stack" placeholder="web"/></label>
                <label>"Detail" <input type="text" name="detail"/></label>
                <label>"Min" <input type="number" name="min" min="0" required value="1"/></label>
                <label>"Max" <input type="number" name="max" min="0" required value="1"/></label>
                <label>"Desired" <input type="number" name="desired" min="0" required value="1"/></label>
                <label>"Cloud" <select name="cloud_provider">
                    <option value="local" selected>"local (processes on this machine)"</option>
                    <option value="aws">"AWS"</option>
                </select></label>
                <label>"Command (local; one argument per line)" <textarea name="command" rows="3">"demo-app"</textarea></label>
                <label>"Version (local)" <input type="text" name="version" placeholder="v1"/></label>
                <label>"Account (AWS)" <input type="text" name="account" placeholder="aws-prod"/></label>
                <label>"Region (AWS)" <input type="text" name="region" placeholder="us-east-1"/></label>
                <label>"Machine image (AWS: an AMI id or name)" <input type="text" name="image" placeholder="ami-0abc1234"/></label>
                <label>"Instance type (AWS)" <input type="text" name="instance_type" placeholder="t3.micro"/></label>
                <label>"Load balancers (AWS: target groups)" <input type="text" name="load_balancers" placeholder="shop-web"/></label>
                <label>"Tags (KEY=VALUE per line)" <textarea name="tags" rows="2" placeholder="team=payments"></textarea></label>
                <button type="submit">"Create"</button>
            </ActionForm>
            {move || match create.value().get() {
                Some(Ok(task)) => {
                    let href = format!("/applications/{}/tasks#task-{}", task.application, task.id);
                    view! { <p class="notice" role="status">"Task " <a href=href>{task.name}</a> " started."</p> }.into_any()
                }
                Some(Err(error)) => view! { <crate::components::ErrorMessage error/> }.into_any(),
                None => ().into_any(),
            }}
        </details>
    }
}

/// Which server groups the status filter lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusFilter {
    All,
    Enabled,
    Disabled,
}

impl StatusFilter {
    fn parse(text: Option<String>) -> Self {
        match text.as_deref() {
            Some("enabled") => Self::Enabled,
            Some("disabled") => Self::Disabled,
            _ => Self::All,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }

    fn admits(self, group: &ServerGroupSummary) -> bool {
        match self {
            Self::All => true,
            Self::Enabled => !group.disabled,
            Self::Disabled => group.disabled,
        }
    }
}

/// The server group whose details are open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub account: String,
    pub region: String,
    pub name: String,
}

/// Where a server group sits in the view: enough to find it again in the next event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    account: String,
    region: String,
    cluster: String,
    name: String,
}

/// The text filter matches a cluster's stack or detail, as Deck's cluster filter does, or a
/// tag of one of its server groups (`team=payments`, or text in a tag).
fn matches_text(cluster: &str, text: &str) -> bool {
    if text.is_empty() {
        return true;
    }
    match ClusterName::parse(cluster) {
        Ok(name) => name.stack.to_lowercase().contains(text) || name.detail.to_lowercase().contains(text),
        Err(_) => cluster.to_lowercase().contains(text),
    }
}

/// The part of the view the filters let through; regions and clusters left empty are dropped.
fn filtered(regions: &[RegionClusters], text: &str, status: StatusFilter) -> Vec<RegionClusters> {
    let text = text.trim().to_lowercase();
    regions
        .iter()
        .filter_map(|region| {
            let clusters: Vec<ClusterSummary> = region
                .clusters
                .iter()
                .filter(|cluster| {
                    matches_text(&cluster.name, &text) || cluster.server_groups.iter().any(|group| crate::model::cluster::tags_match(&group.tags, &text))
                })
                .filter_map(|cluster| {
                    let server_groups: Vec<_> = cluster.server_groups.iter().filter(|group| status.admits(group)).cloned().collect();
                    (!server_groups.is_empty()).then(|| ClusterSummary { name: cluster.name.clone(), server_groups })
                })
                .collect();
            (!clusters.is_empty()).then(|| RegionClusters {
                cloud_provider: region.cloud_provider.clone(),
                account: region.account.clone(),
                region: region.region.clone(),
                clusters,
            })
        })
        .collect()
}

fn find_region<'a>(regions: &'a [RegionClusters], account: &str, region: &str) -> Option<&'a RegionClusters> {
    regions.iter().find(|r| r.account == account && r.region == region)
}

/// The server group `name` in `account`/`region`, wherever its cluster is.
pub fn find_group<'a>(regions: &'a [RegionClusters], account: &str, region: &str, name: &str) -> Option<&'a ServerGroupSummary> {
    find_region(regions, account, region)?.clusters.iter().flat_map(|cluster| &cluster.server_groups).find(|group| group.name == name)
}

/// Percent-encodes a query value (names are safe already; filter text may not be).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The address of this page with the given filters and selection.
fn page_href(application: &str, text: &str, status: StatusFilter, selection: Option<&Selection>) -> String {
    let mut query = Vec::new();
    if !text.is_empty() {
        query.push(format!("q={}", encode(text)));
    }
    if status != StatusFilter::All {
        query.push(format!("status={}", status.as_str()));
    }
    if let Some(selection) = selection {
        query.push(format!("account={}&region={}&serverGroup={}", encode(&selection.account), encode(&selection.region), encode(&selection.name)));
    }
    let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
    format!("/applications/{application}/clusters{query}")
}

/// The Clusters tab with one server group selected: how other pages (the Overview, search
/// results) link to a server group.
pub fn server_group_href(application: &str, account: &str, region: &str, name: &str) -> String {
    let selection = Selection { account: account.to_string(), region: region.to_string(), name: name.to_string() };
    page_href(application, "", StatusFilter::All, Some(&selection))
}

#[component]
fn ClustersView(application: String, initial: Vec<RegionClusters>) -> impl IntoView {
    let regions = RwSignal::new(initial);
    let live_error = RwSignal::new(None::<String>);
    watch_clusters(application.clone(), move |event| regions.set(event.regions), move |message| live_error.set(Some(message)));

    let query = use_query_map();
    let text = RwSignal::new(query.read_untracked().get("q").unwrap_or_default());
    let status = RwSignal::new(StatusFilter::parse(query.read_untracked().get("status")));
    let selection = Memo::new(move |_| {
        let query = query.read();
        Some(Selection { account: query.get("account")?, region: query.get("region")?, name: query.get("serverGroup")? })
    });
    let visible = Memo::new(move |_| regions.with(|regions| filtered(regions, &text.read(), status.get())));
    let is_empty = Memo::new(move |_| regions.with(Vec::is_empty));

    let app = StoredValue::new(application);
    let href = move |selection: Option<&Selection>| page_href(&app.read_value(), &text.read(), status.get(), selection);
    let navigate = use_navigate();
    let apply = move |event: leptos::ev::SubmitEvent| {
        // Filters already apply as one types; keep the address in step, as the plain form would.
        event.prevent_default();
        navigate(&href(selection.get_untracked().as_ref()), Default::default());
    };
    let region_keys = move || visible.read().iter().map(|region| (region.account.clone(), region.region.clone())).collect::<Vec<_>>();

    view! {
        <form class="filters" role="search" aria-label="Filter clusters" method="get" on:submit=apply>
            <label>"Stack or detail"
                <input type="search" name="q" autocomplete="off" prop:value=move || text.get() on:input=move |e| text.set(event_target_value(&e))/>
            </label>
            <label>"Status"
                <select name="status" on:change=move |e| status.set(StatusFilter::parse(Some(event_target_value(&e))))>
                    {[StatusFilter::All, StatusFilter::Enabled, StatusFilter::Disabled].into_iter().map(|option| view! {
                        <option value=option.as_str() selected=move || status.get() == option>{option.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <button type="submit" class="secondary">"Apply"</button>
        </form>
        {move || live_error.get().map(|message| view! { <p class="error" role="alert">"Live updates stopped: " {message}</p> })}
        <div class="clusters-layout" class:with-details=move || selection.read().is_some()>
            <div class="clusters">
                <Show when=move || !is_empty.get() fallback=|| view! { <p class="empty">"No server groups yet. Deploy one with a pipeline."</p> }>
                    <Show when=move || !visible.read().is_empty() fallback=|| view! { <p class="empty">"No server group matches the filters."</p> }>
                        <For each=region_keys key=|key| key.clone() children=move |(account, region)| view! {
                            <RegionSection account region visible selection href/>
                        }/>
                    </Show>
                </Show>
            </div>
            {move || selection.get().map(|selected| {
                let close = Signal::derive(move || href(None));
                view! { <ServerGroupPanel application=app.get_value() selection=selected regions close_href=close/> }
            })}
        </div>
    }
}

#[component]
fn RegionSection(
    account: String,
    region: String,
    visible: Memo<Vec<RegionClusters>>,
    selection: Memo<Option<Selection>>,
    href: impl Fn(Option<&Selection>) -> String + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let (in_account, in_region) = (account.clone(), region.clone());
    let cluster_names = move || {
        visible.with(|regions| {
            find_region(regions, &in_account, &in_region).map(|r| r.clusters.iter().map(|c| c.name.clone()).collect::<Vec<_>>()).unwrap_or_default()
        })
    };
    let provider = {
        let (account, region) = (account.clone(), region.clone());
        move || visible.with(|regions| find_region(regions, &account, &region).map(|r| r.cloud_provider.clone()).unwrap_or_default())
    };
    let label = format!("Account {account}, region {region}");
    let heading = (account.clone(), region.clone());
    view! {
        <section class="region" aria-label=label>
            <h2>{heading.0} <span class="muted">" · "</span> {heading.1} " " <span class="provider">{provider}</span></h2>
            <For each=cluster_names key=|name| name.clone() let:cluster>
                <ClusterRow account=account.clone() region=region.clone() cluster visible selection href/>
            </For>
        </section>
    }
}

#[component]
fn ClusterRow(
    account: String,
    region: String,
    cluster: String,
    visible: Memo<Vec<RegionClusters>>,
    selection: Memo<Option<Selection>>,
    href: impl Fn(Option<&Selection>) -> String + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let keys = {
        let (account, region, cluster) = (account.clone(), region.clone(), cluster.clone());
        move || {
            visible.with(|regions| {
                let groups = find_region(regions, &account, &region).and_then(|r| r.clusters.iter().find(|c| c.name == cluster));
                groups
                    .map(|c| {
                        c.server_groups
                            .iter()
                            .map(|group| GroupKey { account: account.clone(), region: region.clone(), cluster: cluster.clone(), name: group.name.clone() })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
        }
    };
    view! {
        <div class="cluster" role="group" aria-label=format!("Cluster {cluster}")>
            <h3>{cluster.clone()}</h3>
            <div class="server-groups">
                <For each=keys key=|key| key.clone() let:key>
                    {
                        let summary = Memo::new({
                            let key = key.clone();
                            move |_| visible.with(|regions| find_group(regions, &key.account, &key.region, &key.name).cloned())
                        });
                        let selection_of_box = Selection { account: key.account.clone(), region: key.region.clone(), name: key.name.clone() };
                        let selected = {
                            let mine = selection_of_box.clone();
                            Signal::derive(move || selection.read().as_ref() == Some(&mine))
                        };
                        let link = Signal::derive(move || href(Some(&selection_of_box)));
                        view! { <ServerGroupBox name=key.name summary selected href=link/> }
                    }
                </For>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cluster::{Artifact, Capacity, InstanceCounts, Location};

    fn group(name: &str, cluster: &str, disabled: bool) -> ServerGroupSummary {
        ServerGroupSummary {
            name: name.into(),
            cluster: cluster.into(),
            location: Location { cloud_provider: "local".into(), account: "local".into(), region: "local".into() },
            capacity: Capacity { min: 1, max: 1, desired: 1 },
            artifact: Artifact::Command { command: vec!["demo-app".into()], version: "v1".into() },
            disabled,
            load_balancers: vec![],
            security_groups: vec![],
            instance_counts: InstanceCounts::default(),
            created_time: 0,
            tags: Default::default(),
            scaling: Vec::new(),
        }
    }

    fn view() -> Vec<RegionClusters> {
        let cluster = |name: &str, groups: Vec<ServerGroupSummary>| ClusterSummary { name: name.into(), server_groups: groups };
        vec![RegionClusters {
            cloud_provider: "local".into(),
            account: "local".into(),
            region: "local".into(),
            clusters: vec![
                cluster("demo-web", vec![group("demo-web-v000", "demo-web", true), group("demo-web-v001", "demo-web", false)]),
                cluster("demo-api-canary", vec![group("demo-api-canary-v000", "demo-api-canary", false)]),
            ],
        }]
    }

    fn names(regions: &[RegionClusters]) -> Vec<&str> {
        regions.iter().flat_map(|r| &r.clusters).flat_map(|c| &c.server_groups).map(|g| g.name.as_str()).collect()
    }

    #[test]
    fn the_text_filter_matches_stack_or_detail_only() {
        assert_eq!(names(&filtered(&view(), "WEB", StatusFilter::All)), ["demo-web-v000", "demo-web-v001"]);
        assert_eq!(names(&filtered(&view(), "canary", StatusFilter::All)), ["demo-api-canary-v000"]);
        // The application name is not a stack or a detail.
        assert!(filtered(&view(), "demo", StatusFilter::All).is_empty());
    }

    #[test]
    fn the_status_filter_drops_emptied_clusters() {
        let disabled = filtered(&view(), "", StatusFilter::Disabled);
        assert_eq!(names(&disabled), ["demo-web-v000"]);
        assert_eq!(disabled[0].clusters.len(), 1);
        assert_eq!(names(&filtered(&view(), "", StatusFilter::Enabled)), ["demo-web-v001", "demo-api-canary-v000"]);
    }

    #[test]
    fn links_keep_the_filters_and_encode_them() {
        let selection = Selection { account: "local".into(), region: "local".into(), name: "demo-web-v000".into() };
        assert_eq!(page_href("demo", "", StatusFilter::All, None), "/applications/demo/clusters");
        assert_eq!(
            page_href("demo", "a b&c", StatusFilter::Disabled, Some(&selection)),
            "/applications/demo/clusters?q=a%20b%26c&status=disabled&account=local&region=local&serverGroup=demo-web-v000"
        );
    }
}
