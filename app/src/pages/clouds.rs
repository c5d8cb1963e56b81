//! The cloud accounts page for admins: every account gennaker deploys to (built in, from the
//! clouds file, or added here), forms to add or replace a Kubernetes, an AWS or a Prometheus
//! (metrics) account, and deleting
//! the ones added here. Who may read or deploy to an account is its permissions
//! (`/api/v1/accounts/{name}/permissions`).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::clouds::{DeleteCloudAccount, SaveAwsAccount, SaveKubernetesAccount, SavePrometheusAccount, list_cloud_accounts};
use crate::components::ErrorMessage;
use crate::components::loaded::{Loaded, loaded};
use crate::model::clouds::{AccountSource, CloudAccount};

fn source_label(source: AccountSource) -> &'static str {
    match source {
        AccountSource::Builtin => "built in",
        AccountSource::File => "clouds file",
        AccountSource::Api => "added here",
    }
}

/// Where an account's credentials come from, as the table shows it.
fn reached_by(account: &CloudAccount) -> String {
    match &account.kubernetes {
        Some(settings) => {
            let from = match (&settings.kubeconfig_file, &settings.kubeconfig_secret) {
                (Some(file), _) => format!("kubeconfig {file}"),
                (None, Some(secret)) => format!("kubeconfig in secret {secret}"),
                (None, None) => String::new(),
            };
            let context = settings.context.as_ref().map(|context| format!(", context {context}")).unwrap_or_default();
            let namespaces = if settings.namespaces.is_empty() { "all namespaces".to_string() } else { settings.namespaces.join(", ") };
            format!("{from}{context}; {namespaces}")
        }
        None => match &account.aws {
            Some(settings) => {
                let key = settings.credentials_secret.as_ref().map_or("the default credential chain".to_string(), |secret| format!("key in secret {secret}"));
                let role = settings.assume_role.as_ref().map(|role| format!(", role {role}")).unwrap_or_default();
                let endpoint = settings.endpoint.as_ref().map(|endpoint| format!(", endpoint {endpoint}")).unwrap_or_default();
                format!("{key}{role}{endpoint}; {}", account.regions.join(", "))
            }
            None => match &account.prometheus {
                Some(settings) => {
                    let token = settings.bearer_token_secret.as_ref().map(|secret| format!(", token in secret {secret}")).unwrap_or_default();
                    format!("{}{token}", settings.base_url)
                }
                None => account.regions.join(", "),
            },
        },
    }
}

#[component]
pub fn CloudsPage() -> impl IntoView {
    let save = ServerAction::<SaveKubernetesAccount>::new();
    let save_aws = ServerAction::<SaveAwsAccount>::new();
    let save_prometheus = ServerAction::<SavePrometheusAccount>::new();
    let delete = ServerAction::<DeleteCloudAccount>::new();
    let accounts = Resource::new(
        move || (save.version().get(), save_aws.version().get(), save_prometheus.version().get(), delete.version().get()),
        |_| list_cloud_accounts(),
    );
    view! {
        <Title text="Cloud accounts · gennaker"/>
        <section class="page">
            <h1>"Cloud accounts"</h1>
            <Loaded fallback="Loading accounts…" content=loaded(move || async move {
                accounts.await.map(|accounts| view! {
                    <table class="list" aria-label="Cloud accounts">
                        <thead><tr><th>"Name"</th><th>"Provider"</th><th>"Reached by"</th><th>"Defined"</th><th>"Status"</th><th></th></tr></thead>
                        <tbody>
                            {accounts.into_iter().map(|account| {
                                let removable = account.source == AccountSource::Api;
                                let name = account.name.clone();
                                view! {
                                    <tr>
                                        <td>{account.name.clone()}</td>
                                        <td>{account.cloud_provider.as_str()}</td>
                                        <td>{reached_by(&account)}</td>
                                        <td>{source_label(account.source)}</td>
                                        <td>{account.status.clone().unwrap_or_default()}</td>
                                        <td>{removable.then(|| view! {
                                            <ActionForm action=delete attr:class="inline">
                                                <input type="hidden" name="name" value=name.clone()/>
                                                <button type="submit" class="secondary" aria-label=format!("Delete {name}")>"Delete"</button>
                                            </ActionForm>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                })
            })/>
            {move || delete.value().get().and_then(Result::err).map(|error| view! { <ErrorMessage error/> })}
            <h2>"Add a Kubernetes account"</h2>
            <ActionForm action=save attr:class="form" attr:aria-label="Kubernetes account">
                <label>"Name" <input type="text" name="name" required placeholder="k8s-prod"/></label>
                <label>"Kubeconfig file on the gennaker host" <input type="text" name="kubeconfig_file" placeholder="/etc/gennaker/kubeconfig"/></label>
                <label>"Or the secret holding a kubeconfig" <input type="text" name="kubeconfig_secret" placeholder="kubeconfig-prod"/></label>
                <label>"Context (empty: the kubeconfig's current one)" <input type="text" name="context"/></label>
                <label>"Namespaces (empty: all)" <input type="text" name="namespaces" placeholder="shop, payments"/></label>
                <button type="submit">"Save account"</button>
            </ActionForm>
            {move || match save.value().get() {
                Some(Ok(saved)) => view! { <p class="notice" role="status">"Account " <strong>{saved.name}</strong> " saved; its workloads appear in the clusters views."</p> }.into_any(),
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                None => ().into_any(),
            }}
            <h2>"Add an AWS account"</h2>
            <ActionForm action=save_aws attr:class="form" attr:aria-label="AWS account">
                <label>"Name" <input type="text" name="name" required placeholder="aws-prod"/></label>
                <label>"Regions" <input type="text" name="regions" required placeholder="us-east-1, eu-west-1"/></label>
                <label>"Secret holding the access key (empty: the default credential chain)" <input type="text" name="credentials_secret" placeholder="aws-prod-key"/></label>
                <label>"Role to assume (optional)" <input type="text" name="assume_role" placeholder="arn:aws:iam::123456789012:role/gennaker"/></label>
                <label>"Endpoint (optional)" <input type="text" name="endpoint" placeholder="https://vpce-example.ec2.us-east-1.vpce.amazonaws.com"/></label>
                <button type="submit">"Save AWS account"</button>
            </ActionForm>
            {move || match save_aws.value().get() {
                Some(Ok(saved)) => view! { <p class="notice" role="status">"AWS account " <strong>{saved.name}</strong> " saved; its server groups appear in the clusters views."</p> }.into_any(),
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                None => ().into_any(),
            }}
            <h2>"Add a Prometheus (metrics) account"</h2>
            <p class="help">"Canary analysis (" <code>"kayentaCanary"</code> " stages) queries it by this name (" <code>"metricsAccountName"</code> ")."</p>
            <ActionForm action=save_prometheus attr:class="form" attr:aria-label="Prometheus account">
                <label>"Name" <input type="text" name="name" required placeholder="prometheus"/></label>
                <label>"Base URL" <input type="url" name="base_url" required placeholder="http://prometheus.example:9090"/></label>
                <label>"Secret holding a bearer token (optional)" <input type="text" name="bearer_token_secret"/></label>
                <button type="submit">"Save Prometheus account"</button>
            </ActionForm>
            {move || match save_prometheus.value().get() {
                Some(Ok(saved)) => view! { <p class="notice" role="status">"Metrics account " <strong>{saved.name}</strong> " saved; canary analyses can use it."</p> }.into_any(),
                Some(Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}
