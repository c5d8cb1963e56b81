//! One module per page.

mod application;
mod applications;
mod not_found;

pub use application::ApplicationPage;
pub use applications::ApplicationsPage;
pub use not_found::NotFound;
