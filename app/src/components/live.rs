//! Live updates in the browser: a WebSocket to `/api/v1/ws` that subscribes to an execution or
//! an application, hands every event to a callback, and after a drop (a server restart, say)
//! reconnects with the last sequence number it saw, so the page misses nothing and never needs
//! a reload. On the server this does nothing: pages render from their resources.

use crate::model::execution::{ExecutionEvent, Subscribe};

/// Watches `subscribe` until the calling component is cleaned up.
pub fn watch(subscribe: Subscribe, on_event: impl Fn(ExecutionEvent) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        let watch = client::Watch::start(subscribe, std::rc::Rc::new(on_event));
        let watch = send_wrapper::SendWrapper::new(watch);
        leptos::prelude::on_cleanup(move || watch.stop());
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (subscribe, on_event);
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{MessageEvent, WebSocket};

    use crate::model::execution::{ExecutionEvent, Subscribe};

    const RECONNECT_MS: i32 = 1_000;

    #[derive(Clone)]
    pub struct Watch {
        socket: Rc<RefCell<Option<WebSocket>>>,
        stopped: Rc<Cell<bool>>,
        last: Rc<Cell<i64>>,
        subscribe: Subscribe,
        on_event: Rc<dyn Fn(ExecutionEvent)>,
    }

    impl Watch {
        pub fn start(subscribe: Subscribe, on_event: Rc<dyn Fn(ExecutionEvent)>) -> Self {
            let watch = Self {
                socket: Rc::default(),
                stopped: Rc::default(),
                last: Rc::new(Cell::new(subscribe.after)),
                subscribe,
                on_event,
            };
            watch.connect();
            watch
        }

        pub fn stop(&self) {
            self.stopped.set(true);
            if let Some(socket) = self.socket.borrow_mut().take() {
                let _ = socket.close();
            }
        }

        fn connect(&self) {
            if self.stopped.get() {
                return;
            }
            let location = web_sys::window().expect("a browser window").location();
            let scheme = if location.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
            let host = location.host().unwrap_or_default();
            let Ok(socket) = WebSocket::new(&format!("{scheme}://{host}/api/v1/ws")) else {
                self.retry();
                return;
            };

            let this = self.clone();
            let opened = Closure::<dyn FnMut()>::new(move || {
                let subscribe = Subscribe { after: this.last.get(), ..this.subscribe.clone() };
                if let Some(socket) = this.socket.borrow().as_ref() {
                    let _ = socket.send_with_str(&serde_json::to_string(&subscribe).unwrap_or_default());
                }
            });
            socket.set_onopen(Some(opened.as_ref().unchecked_ref()));
            opened.forget();

            let this = self.clone();
            let received = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
                let Some(text) = message.data().as_string() else { return };
                if let Ok(event) = serde_json::from_str::<ExecutionEvent>(&text) {
                    if event.seq > this.last.get() {
                        this.last.set(event.seq);
                        (this.on_event)(event);
                    }
                }
            });
            socket.set_onmessage(Some(received.as_ref().unchecked_ref()));
            received.forget();

            let this = self.clone();
            let closed = Closure::<dyn FnMut()>::new(move || this.retry());
            socket.set_onclose(Some(closed.as_ref().unchecked_ref()));
            closed.forget();

            *self.socket.borrow_mut() = Some(socket);
        }

        fn retry(&self) {
            if self.stopped.get() {
                return;
            }
            let this = self.clone();
            let again = Closure::once_into_js(move || this.connect());
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(again.unchecked_ref(), RECONNECT_MS);
            }
        }
    }
}
