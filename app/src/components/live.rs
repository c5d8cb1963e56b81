//! Live executions in the browser: a socket to `/api/v1/ws` that subscribes to an execution or
//! an application and hands every event to a callback. After a drop it resubscribes with the
//! last sequence number it saw, so the page misses nothing and never needs a reload.

use std::cell::Cell;
use std::rc::Rc;

use super::socket::{Next, keep_open};
use crate::model::execution::{ExecutionEvent, Subscribe};

/// Watches `subscribe` until the calling component is cleaned up.
pub fn watch(subscribe: Subscribe, on_event: impl Fn(ExecutionEvent) + 'static) {
    let last = Rc::new(Cell::new(subscribe.after));
    let seen = last.clone();
    let hello = move || serde_json::to_string(&Subscribe { after: last.get(), ..subscribe.clone() }).unwrap_or_default();
    keep_open("/api/v1/ws", hello, move |text| {
        if let Ok(event) = serde_json::from_str::<ExecutionEvent>(text)
            && event.seq > seen.get()
        {
            seen.set(event.seq);
            on_event(event);
        }
        Next::Continue
    });
}
