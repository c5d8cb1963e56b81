//! Widgets used by more than one page.

pub mod error_message;
pub mod layout;

pub use error_message::ErrorMessage;
