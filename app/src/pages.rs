//! One module per page.

mod application;
mod applications;
mod audit;
mod execution;
mod not_found;
mod pipelines;
mod sign_in;
mod tokens;

pub use application::ApplicationPage;
pub use applications::ApplicationsPage;
pub use audit::AuditPage;
pub use execution::ExecutionPage;
pub use not_found::NotFound;
pub use pipelines::PipelinesPage;
pub use sign_in::SignInPage;
pub use tokens::TokensPage;
