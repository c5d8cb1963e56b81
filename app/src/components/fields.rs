//! Reading typed values out of a form's text fields in the browser, with an error that names
//! the field, so a typo is explained next to the form before anything is sent; and the labelled
//! input those forms are made of.

use std::str::FromStr;

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::Protocol;
use crate::model::names::ClusterName;

/// `text` as a number; `what` says what kind in the message ("a port from 1 to 65535").
pub fn number<T: FromStr>(field: &str, what: &str, text: &str) -> Result<T, AppError> {
    text.trim().parse().map_err(|_| AppError::invalid(field, format!("{field} must be {what}, got {text:?}")))
}

pub fn protocol(field: &str, text: &str) -> Result<Protocol, AppError> {
    match text {
        "http" => Ok(Protocol::Http),
        "tcp" => Ok(Protocol::Tcp),
        other => Err(AppError::invalid(field, format!("{field} must be http or tcp, got {other:?}"))),
    }
}

pub fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => "http",
        Protocol::Tcp => "tcp",
    }
}

/// The stack and detail of a load balancer's or security group's name, to edit it.
pub fn stack_and_detail(name: &str) -> (String, String) {
    ClusterName::parse(name).map(|name| (name.stack, name.detail)).unwrap_or_default()
}

/// The name `application`, `stack` and `detail` make, or why they make none.
pub fn resource_name(application: &str, stack: &str, detail: &str) -> Result<String, String> {
    ClusterName::new(application, stack.trim(), detail.trim()).map(|name| name.to_string()).map_err(|error| error.to_string())
}

/// A labelled input bound to `value` (`kind` is the input type, text by default).
#[component]
pub fn TextField(
    label: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] kind: Option<&'static str>,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    view! {
        <label>{label}
            <input type=kind.unwrap_or("text") autocomplete="off" required=required
                prop:value=move || value.get() on:input=move |e| value.set(event_target_value(&e))/>
        </label>
    }
}
