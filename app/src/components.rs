//! Widgets used by more than one page.

pub mod error_message;
pub mod layout;
pub mod live;
pub mod stage_bar;
pub mod tabs;

pub use error_message::ErrorMessage;
