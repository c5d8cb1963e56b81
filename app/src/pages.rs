//! One module per page.

mod application;
mod applications;
mod audit;
mod not_found;
mod sign_in;
mod tokens;

pub use application::ApplicationPage;
pub use applications::ApplicationsPage;
pub use audit::AuditPage;
pub use not_found::NotFound;
pub use sign_in::SignInPage;
pub use tokens::TokensPage;
