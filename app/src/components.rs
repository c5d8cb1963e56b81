//! Widgets used by more than one page.

pub mod charts;
pub mod error_message;
pub mod fields;
pub mod in_browser;
pub mod layout;
pub mod live;
pub mod loaded;
pub mod live_clusters;
pub mod pager;
pub mod socket;
pub mod stage_bar;
pub mod tabs;

pub use error_message::ErrorMessage;
