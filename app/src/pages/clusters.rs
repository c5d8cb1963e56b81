//! An application's Clusters tab, laid out as Spinnaker's Deck does: a heading per account and
//! region, a row per cluster, a box per server group. Selecting a box opens its details panel
//! (instances and actions, see [`details`]).
//!
//! Big applications stay light: the server cuts one page out of the cached view (see
//! [`crate::model::cluster_page`]), 50 clusters at a time. A page whose clusters hold few
//! server groups shows them all, as Deck does; a bigger one shows each cluster collapsed, with
//! its counts and a health bar, and opens those asked for; a server group shows a small square
//! per instance up to 50 instances, its counts per health state beyond. At 10,000 server
//! groups the page is tens of kilobytes where the whole view was megabytes.
//!
//! The filters, the page, the open clusters (`expand=NAME`, repeated) and the selection live in
//! the query string, so every link works before (or without) hydration and can be bookmarked;
//! the filter form is a plain GET form, applied as one types once hydrated. Live, the page
//! follows `/api/v1/ws/clusters` in its summary form: a change to a collapsed cluster shown is
//! applied in place; a change to an open or selected one, or clusters that come or go, read the
//! page again; changes elsewhere are ignored. Keyed lists keep the boxes that did not change
//! (and the keyboard focus, and what is typed in the details panel).

mod actions;
mod details;
mod scaling;
mod server_group_box;

use std::collections::HashSet;
use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

use self::details::ServerGroupPanel;
use self::server_group_box::{HealthBar, ServerGroupBox};
use crate::api::clusters::get_clusters_page;
use crate::components::live_clusters::watch_cluster_changes;
use crate::components::loaded::{Loaded, loaded};
use crate::components::tabs::ApplicationTabs;
use crate::model::cluster::{ClusterHeader, ClusterKey, Location};
pub use crate::model::cluster_page::Selection;
use crate::model::cluster_page::{ClustersPage as PageData, ClustersPageQuery, PageCluster, StatusFilter, find_cluster};

/// What the live socket asks of the view shown.
#[derive(Debug, Clone, PartialEq)]
enum Live {
    /// Read the page again: after a snapshot (changes may have been missed before it) or when
    /// clusters came or went (pages shift).
    Reload,
    /// These clusters changed, summed up.
    Changed(Vec<ClusterHeader>),
}

/// The view shown registers here what it does with the socket's news; a view made later (the
/// next page, say) replaces it, and only its own cleanup removes it.
type Follower = (u64, Arc<dyn Fn(&Live) + Send + Sync>);

#[component]
pub fn ClustersPage() -> impl IntoView {
    let params = use_params_map();
    let application = move || params.read().get("name").unwrap_or_default();
    let query_map = use_query_map();
    let query = Memo::new(move |_| query_of(&query_map.read()));
    let clusters = Resource::new(move || (application(), query.get()), |(application, query)| get_clusters_page(application, query));

    // One socket for the tab, kept across its pages; it knows every cluster's key, so it can
    // tell a new cluster from a change.
    let follower = StoredValue::new(None::<Follower>);
    let known = StoredValue::new(HashSet::<ClusterKey>::new());
    let live_error = RwSignal::new(None::<String>);
    watch_cluster_changes(
        application(),
        move |changes| {
            let news = if changes.snapshot {
                known.set_value(changes.clusters.iter().map(ClusterHeader::key).collect());
                Live::Reload
            } else {
                let came = known.with_value(|known| changes.clusters.iter().any(|header| !known.contains(&header.key())));
                known.update_value(|known| {
                    changes.removed.iter().for_each(|key| {
                        known.remove(key);
                    });
                    known.extend(changes.clusters.iter().map(ClusterHeader::key));
                });
                if came || !changes.removed.is_empty() { Live::Reload } else { Live::Changed(changes.clusters) }
            };
            if let Some((_, follow)) = follower.get_value() {
                follow(&news);
            }
        },
        move |message| live_error.set(Some(message)),
    );

    view! {
        <Title text=move || format!("{} clusters · gennaker", application())/>
        <section class="page">
            <p class="breadcrumb"><a href="/applications">"Applications"</a> " / " {application}</p>
            <h1>{application}</h1>
            <ApplicationTabs application=application() current="clusters"/>
            <CreateServerGroup application=application()/>
            <Filters application=application() query/>
            {move || live_error.get().map(|message| view! { <p class="error" role="alert">"Live updates stopped: " {message}</p> })}
            <Loaded fallback="Loading clusters…" content=loaded(move || async move {
                let query = query.get_untracked();
                clusters.await.map(|page| view! { <ClustersView application=application() query initial=page follower/> })
            })/>
        </section>
    }
}

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

/// What the address asks for: `q`, `status`, `page`, `expand` (repeated) and the selection
/// (`account`, `region`, `serverGroup`).
fn query_of(map: &ParamsMap) -> ClustersPageQuery {
    let selection = || Some(Selection { account: map.get("account")?, region: map.get("region")?, name: map.get("serverGroup")? });
    ClustersPageQuery {
        text: map.get("q").unwrap_or_default(),
        status: StatusFilter::parse(map.get_str("status")),
        page: map.get_str("page").and_then(|page| page.parse().ok()).filter(|page| *page >= 1),
        expand: map.get_all("expand").unwrap_or_default().into_iter().filter(|name| !name.is_empty()).collect(),
        selection: selection(),
    }
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

/// The address of this page asking for `query`.
fn page_href(application: &str, query: &ClustersPageQuery) -> String {
    let mut parts = Vec::new();
    if !query.text.is_empty() {
        parts.push(format!("q={}", encode(&query.text)));
    }
    if query.status != StatusFilter::All {
        parts.push(format!("status={}", query.status.as_str()));
    }
    if let Some(page) = query.page {
        parts.push(format!("page={page}"));
    }
    parts.extend(query.expand.iter().map(|name| format!("expand={}", encode(name))));
    if let Some(selection) = &query.selection {
        parts.push(format!("account={}&region={}&serverGroup={}", encode(&selection.account), encode(&selection.region), encode(&selection.name)));
    }
    let parts = if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) };
    format!("/applications/{application}/clusters{parts}")
}

/// The Clusters tab with one server group selected (its cluster open, on its page): how other
/// pages (the Overview, search results) link to a server group.
pub fn server_group_href(application: &str, account: &str, region: &str, name: &str) -> String {
    let selection = Selection { account: account.to_string(), region: region.to_string(), name: name.to_string() };
    page_href(application, &ClustersPageQuery { selection: Some(selection), ..ClustersPageQuery::default() })
}

/// The filter form: a plain GET form; once hydrated it applies as one types, replacing the
/// address rather than adding to the history. It stays outside the loaded view, so typing
/// keeps the focus while pages load.
#[component]
fn Filters(application: String, query: Memo<ClustersPageQuery>) -> impl IntoView {
    let initial = query.get_untracked();
    let navigate = use_navigate();
    let go = move |text: String, status: StatusFilter, replace: bool| {
        // A new filter starts again from the first page, the selection kept.
        let next = ClustersPageQuery { text, status, page: None, expand: Vec::new(), selection: query.get_untracked().selection };
        navigate(&page_href(&application, &next), leptos_router::NavigateOptions { replace, scroll: false, ..Default::default() });
    };
    let (on_text, on_status, on_submit) = (go.clone(), go.clone(), go);
    view! {
        <form class="filters" role="search" aria-label="Filter clusters" method="get"
            on:submit=move |event: leptos::ev::SubmitEvent| {
                event.prevent_default();
                let current = query.get_untracked();
                on_submit(current.text, current.status, false);
            }>
            <label>"Stack or detail"
                <input type="search" name="q" autocomplete="off" value=initial.text
                    on:input=move |e| on_text(event_target_value(&e), query.get_untracked().status, true)/>
            </label>
            <label>"Status"
                <select name="status" on:change=move |e| on_status(query.get_untracked().text, StatusFilter::parse(Some(&event_target_value(&e))), true)>
                    {[StatusFilter::All, StatusFilter::Enabled, StatusFilter::Disabled].into_iter().map(|option| view! {
                        <option value=option.as_str() selected=initial.status == option>{option.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <button type="submit" class="secondary">"Apply"</button>
        </form>
    }
}

/// Applies the socket's changed clusters to the page in place. False when the page must be
/// read again instead: an open or selected cluster changed (its server groups are not in the
/// change), a collapsed one gained or lost server groups (the page may open or close), or the
/// status filter is on (headers count only the server groups it admits).
fn apply(page: &mut PageData, changed: &[ClusterHeader], status: StatusFilter) -> bool {
    for header in changed {
        let selected = page
            .selected
            .as_ref()
            .is_some_and(|cluster| cluster.name == header.name && cluster.server_groups.first().is_some_and(|group| group.location == header.location));
        if selected || status != StatusFilter::All {
            return false;
        }
        let shown = page.clusters.iter_mut().find(|shown| shown.header.location == header.location && shown.header.name == header.name);
        match shown {
            Some(shown) if shown.is_open() || shown.header.server_group_count != header.server_group_count => return false,
            Some(shown) => shown.header = header.clone(),
            // On another page: nothing here changes.
            None => {}
        }
    }
    true
}

/// Every view gets a number, so that only its own cleanup unregisters it.
static VIEWS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

#[component]
fn ClustersView(application: String, query: ClustersPageQuery, initial: PageData, follower: StoredValue<Option<Follower>>) -> impl IntoView {
    let page = RwSignal::new(initial);
    let app = StoredValue::new(application);
    let asked = StoredValue::new(query);

    // Reads the page again (in the browser; the server renders once). A later read wins.
    let reads = StoredValue::new(0u64);
    let reload = move || {
        let read = reads.get_value() + 1;
        reads.set_value(read);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let (Some(application), Some(query)) = (app.try_get_value(), asked.try_get_value()) else { return };
            if let Ok(fresh) = get_clusters_page(application, query).await
                && reads.try_get_value() == Some(read)
            {
                page.try_set(fresh);
            }
        });
    };
    let me = VIEWS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let status = asked.with_value(|query| query.status);
    let follow = move |news: &Live| {
        let applied = match news {
            Live::Reload => false,
            Live::Changed(headers) => page.try_update(|page| apply(page, headers, status)).unwrap_or(true),
        };
        if !applied {
            reload();
        }
    };
    follower.set_value(Some((me, Arc::new(follow))));
    on_cleanup(move || {
        if follower.try_with_value(|current| current.as_ref().is_some_and(|(id, _)| *id == me)) == Some(true) {
            follower.try_set_value(None);
        }
    });

    let selection = asked.with_value(|query| query.selection.clone());
    let is_empty = Memo::new(move |_| page.read().total_server_groups == 0);
    let nothing_matches = Memo::new(move |_| page.read().clusters.is_empty());
    let regions = move || {
        let mut regions: Vec<Location> = Vec::new();
        for cluster in &page.read().clusters {
            if regions.last() != Some(&cluster.header.location) {
                regions.push(cluster.header.location.clone());
            }
        }
        regions
    };
    let with_details = selection.is_some();
    view! {
        <div class="clusters-layout" class:with-details=with_details>
            <div class="clusters">
                <Show when=move || !is_empty.get() fallback=|| view! { <p class="empty">"No server groups yet. Deploy one with a pipeline."</p> }>
                    <Show when=move || !nothing_matches.get() fallback=|| view! { <p class="empty">"No server group matches the filters."</p> }>
                        {move || page.read().collapsible.then(|| view! {
                            <p class="muted cluster-hint">"Many server groups: clusters are collapsed. Expand one to see its server groups."</p>
                        })}
                        <For each=regions key=|location| location.clone() let:location>
                            <RegionSection location page app asked/>
                        </For>
                        <ClustersPager page app asked/>
                    </Show>
                </Show>
            </div>
            {selection.map(|selection| {
                let cluster = Memo::new(move |_| page.read().selected.clone());
                let close = asked.with_value(|query| page_href(&app.read_value(), &ClustersPageQuery { selection: None, ..query.clone() }));
                view! { <ServerGroupPanel application=app.get_value() selection cluster close_href=close/> }
            })}
        </div>
    }
}

/// Previous and Next, keeping the filters and the open clusters (the selection closes).
#[component]
fn ClustersPager(page: RwSignal<PageData>, app: StoredValue<String>, asked: StoredValue<ClustersPageQuery>) -> impl IntoView {
    let href = move |number: usize| {
        let query = ClustersPageQuery { page: Some(number), selection: None, ..asked.get_value() };
        page_href(&app.read_value(), &query)
    };
    move || {
        let (number, pages, matching) = page.with(|page| (page.page, page.pages, page.matching_clusters));
        (pages > 1).then(|| {
            view! {
                <nav class="pager" aria-label="Clusters pages">
                    {(number > 1).then(|| view! { <a href=href(number - 1) rel="prev">"Previous"</a> })}
                    <span class="muted">{format!("Page {number} of {pages} · {matching} clusters")}</span>
                    {(number < pages).then(|| view! { <a href=href(number + 1) rel="next">"Next"</a> })}
                </nav>
            }
        })
    }
}

#[component]
fn RegionSection(location: Location, page: RwSignal<PageData>, app: StoredValue<String>, asked: StoredValue<ClustersPageQuery>) -> impl IntoView {
    let keys = {
        let location = location.clone();
        move || {
            page.read()
                .clusters
                .iter()
                .filter(|cluster| cluster.header.location == location)
                .map(|cluster| ClusterKey { location: location.clone(), name: cluster.header.name.clone() })
                .collect::<Vec<_>>()
        }
    };
    let label = format!("Account {}, region {}", location.account, location.region);
    view! {
        <section class="region" aria-label=label>
            <h2>{location.account.clone()} <span class="muted">" · "</span> {location.region.clone()} " " <span class="provider">{location.cloud_provider.clone()}</span></h2>
            <For each=keys key=|key| key.clone() let:key>
                <ClusterRow key page app asked/>
            </For>
        </section>
    }
}

/// The address with `cluster` opened or closed (closing it also closes a selection in it).
fn toggle_href(application: &str, query: &ClustersPageQuery, cluster: &PageCluster, open: bool) -> String {
    let name = &cluster.header.name;
    let mut next = query.clone();
    next.expand.retain(|other| other != name);
    if !open {
        next.expand.push(name.clone());
    } else if cluster.server_groups.iter().flatten().any(|group| query.selection.as_ref().is_some_and(|s| s.name == group.summary.name)) {
        next.selection = None;
    }
    page_href(application, &next)
}

#[component]
fn ClusterRow(key: ClusterKey, page: RwSignal<PageData>, app: StoredValue<String>, asked: StoredValue<ClustersPageQuery>) -> impl IntoView {
    let cluster = Memo::new({
        let key = key.clone();
        move |_| page.with(|page| find_cluster(page, &key).cloned())
    });
    let collapsible = Memo::new(move |_| page.read().collapsible);
    let open = Memo::new(move |_| cluster.read().as_ref().is_some_and(PageCluster::is_open));
    let group_names = move || cluster.read().as_ref().and_then(|c| c.server_groups.as_ref()).map(|groups| groups.iter().map(|g| g.summary.name.clone()).collect::<Vec<_>>()).unwrap_or_default();
    let name = key.name.clone();
    let summary = move || {
        cluster.get().filter(|_| collapsible.get()).map(|cluster| {
            let header = cluster.header.clone();
            let groups = if header.server_group_count == 1 { "1 server group".to_string() } else { format!("{} server groups", header.server_group_count) };
            let newest = header.newest.as_ref().map(|newest| {
                let state = if newest.enabled { "enabled" } else { "disabled" };
                format!("newest {} ({}, {state})", newest.name, newest.version)
            });
            let toggle = toggle_href(&app.read_value(), &asked.read_value(), &cluster, cluster.is_open());
            let (word, is_open) = if cluster.is_open() { ("Collapse", "true") } else { ("Expand", "false") };
            view! {
                <span class="cluster-facts">
                    <span data-testid="server-group-count">{groups}</span>
                    {format!(", {} enabled", header.enabled_server_group_count)}
                    {newest.map(|newest| view! { <span class="muted">" · " {newest}</span> })}
                </span>
                <span class="cluster-health"><HealthBar counts=header.instance_counts/></span>
                <a class="cluster-toggle" href=toggle aria-expanded=is_open aria-label=format!("{word} {}", header.name)>{word}</a>
            }
        })
    };
    let selection = StoredValue::new(asked.with_value(|query| query.selection.clone()));
    let location = StoredValue::new(key.location.clone());
    view! {
        <div class="cluster" role="group" aria-label=format!("Cluster {name}")>
            <div class="cluster-head">
                <h3>{name.clone()}</h3>
                {summary}
            </div>
            <Show when=move || open.get()>
                <div class="server-groups">
                    <For each=group_names key=|name| name.clone() let:group_name>
                        {
                            let group = Memo::new({
                                let group_name = group_name.clone();
                                move |_| cluster.with(|c| c.as_ref().and_then(|c| c.server_groups.as_ref()).and_then(|groups| groups.iter().find(|g| g.summary.name == group_name)).cloned())
                            });
                            let this = location.with_value(|location| Selection { account: location.account.clone(), region: location.region.clone(), name: group_name.clone() });
                            let selected = selection.with_value(|selection| selection.as_ref() == Some(&this));
                            let href = asked.with_value(|query| page_href(&app.read_value(), &ClustersPageQuery { selection: Some(this), ..query.clone() }));
                            view! { <ServerGroupBox name=group_name group selected href/> }
                        }
                    </For>
                </div>
            </Show>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cluster::InstanceCounts;
    use crate::model::cluster_page::ServerGroupView;

    fn header(name: &str, groups: u32, up: u32) -> ClusterHeader {
        ClusterHeader {
            name: name.into(),
            location: Location { cloud_provider: "local".into(), account: "local".into(), region: "local".into() },
            server_group_count: groups,
            enabled_server_group_count: 1,
            instance_counts: InstanceCounts { total: up, up, ..InstanceCounts::default() },
            newest: None,
        }
    }

    fn page(open: bool) -> PageData {
        let cluster = |name: &str| PageCluster { header: header(name, 2, 4), server_groups: None };
        let mut page = PageData { page: 1, pages: 1, collapsible: true, clusters: vec![cluster("demo-web"), cluster("demo-api")], ..PageData::default() };
        if open {
            page.clusters[1].server_groups = Some(Vec::<ServerGroupView>::new());
        }
        page
    }

    #[test]
    fn a_collapsed_cluster_takes_its_change_in_place_and_an_open_one_reads_again() {
        let mut shown = page(false);
        assert!(apply(&mut shown, &[header("demo-web", 2, 3), header("demo-elsewhere", 5, 5)], StatusFilter::All));
        assert_eq!(shown.clusters[0].header.instance_counts.up, 3);
        assert!(!apply(&mut page(true), &[header("demo-api", 2, 3)], StatusFilter::All), "open: its server groups changed too");
        assert!(!apply(&mut page(false), &[header("demo-web", 3, 4)], StatusFilter::All), "a new server group may open the page");
        assert!(!apply(&mut page(false), &[header("demo-web", 2, 3)], StatusFilter::Enabled), "filtered headers are not comparable");
    }

    #[test]
    fn the_address_round_trips_and_encodes() {
        let selection = Selection { account: "local".into(), region: "local".into(), name: "demo-web-v000".into() };
        assert_eq!(page_href("demo", &ClustersPageQuery::default()), "/applications/demo/clusters");
        let query = ClustersPageQuery {
            text: "a b&c".into(),
            status: StatusFilter::Disabled,
            page: Some(2),
            expand: vec!["demo-web".into(), "deployment web".into()],
            selection: Some(selection),
        };
        let href = page_href("demo", &query);
        assert_eq!(
            href,
            "/applications/demo/clusters?q=a%20b%26c&status=disabled&page=2&expand=demo-web&expand=deployment%20web&account=local&region=local&serverGroup=demo-web-v000"
        );
        let mut map = ParamsMap::new();
        for (key, value) in href.split_once('?').unwrap().1.split('&').map(|pair| pair.split_once('=').unwrap()) {
            let value = value.replace("%20", " ").replace("%26", "&");
            map.insert(key.to_string(), value);
        }
        assert_eq!(query_of(&map), query);
    }

    #[test]
    fn expanding_adds_the_cluster_and_collapsing_closes_a_selection_in_it() {
        let mut shown = page(true);
        let group = crate::model::cluster::ServerGroupSummary {
            name: "demo-api-v000".into(),
            cluster: "demo-api".into(),
            location: header("demo-api", 1, 0).location,
            capacity: Default::default(),
            artifact: crate::model::cluster::Artifact::Command { command: vec![], version: "v1".into() },
            disabled: false,
            load_balancers: vec![],
            security_groups: vec![],
            instance_counts: InstanceCounts::default(),
            created_time: 0,
            tags: Default::default(),
            scaling: Vec::new(),
        };
        shown.clusters[1].server_groups = Some(vec![ServerGroupView { summary: group, instances: None }]);
        let selected = ClustersPageQuery {
            expand: vec!["demo-api".into()],
            selection: Some(Selection { account: "local".into(), region: "local".into(), name: "demo-api-v000".into() }),
            ..ClustersPageQuery::default()
        };
        assert_eq!(toggle_href("demo", &selected, &shown.clusters[0], false), "/applications/demo/clusters?expand=demo-api&expand=demo-web&account=local&region=local&serverGroup=demo-api-v000");
        assert_eq!(toggle_href("demo", &selected, &shown.clusters[1], true), "/applications/demo/clusters");
    }
}
