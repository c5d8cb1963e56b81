//! One module per page.

mod application;
mod applications;
mod audit;
mod canary_configs;
pub mod canary_report;
mod clouds;
mod clusters;
mod execution;
mod firewalls;
mod load_balancers;
mod not_found;
pub mod pipelines;
mod search;
mod sign_in;
mod tasks;
mod tokens;

pub use application::ApplicationPage;
pub use applications::ApplicationsPage;
pub use audit::AuditPage;
pub use canary_configs::CanaryConfigsPage;
pub use canary_report::CanaryReportPage;
pub use clouds::CloudsPage;
pub use clusters::ClustersPage;
pub use execution::ExecutionPage;
pub use firewalls::FirewallsPage;
pub use load_balancers::LoadBalancersPage;
pub use not_found::NotFound;
pub use pipelines::PipelinesPage;
pub use search::SearchPage;
pub use sign_in::SignInPage;
pub use tasks::TasksPage;
pub use tokens::TokensPage;
