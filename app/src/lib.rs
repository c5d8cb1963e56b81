//! gennaker's shared crate: model types, the Leptos UI (rendered on the server, hydrated in the
//! browser) and the server functions it calls. Features: `ssr` for the server half, `hydrate`
//! for the browser half.

pub mod api;
pub mod components;
pub mod error;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::components::layout::Header;
use crate::pages::{
    ApplicationPage, ApplicationsPage, AuditPage, CanaryConfigsPage, CanaryReportPage, CloudsPage, ClustersPage, ExecutionPage, FirewallsPage, LoadBalancersPage, NotFound,
    PipelinesPage, SearchPage, SignInPage, TasksPage, TokensPage,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.ico"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: mark the page so tests (and curious
    // users) can tell a hydrated page from a server-rendered one.
    Effect::new(|_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/gennaker.css"/>
        <Title text="gennaker"/>
        <Router>
            <Header/>
            <main>
                <Routes fallback=NotFound>
                    // In-order streaming: pages arrive complete, so they read (and their forms
                    // work) without JavaScript; hydration then takes over.
                    <Route path=path!("") view=ApplicationsPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/applications") view=ApplicationsPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/applications/:name") view=ApplicationPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/applications/:name/clusters") view=ClustersPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/applications/:name/pipelines") view=PipelinesPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/applications/:name/executions/:id") view=ExecutionPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/applications/:name/executions/:id/canary/:stage") view=CanaryReportPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/applications/:name/canary") view=CanaryConfigsPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/applications/:name/loadBalancers") view=LoadBalancersPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/applications/:name/firewalls") view=FirewallsPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/applications/:name/tasks") view=TasksPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/search") view=SearchPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/signin") view=SignInPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/account/tokens") view=TokensPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/admin/audit") view=AuditPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/admin/clouds") view=CloudsPage ssr=SsrMode::InOrder/>
                </Routes>
            </main>
        </Router>
    }
}
