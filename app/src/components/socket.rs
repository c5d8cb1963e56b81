//! The browser half of the server's event sockets (`/api/v1/ws`, `/api/v1/ws/clusters`): open a
//! WebSocket on the page's own origin (the session cookie authenticates it), say hello on every
//! (re)connect, hand each text message to a handler, and reconnect a second after a drop (a
//! server restart, say) so a page never needs a reload. The handler can end it for good, when
//! the server refused the subscription and retrying would only be refused again. On the server
//! this does nothing: pages render from their resources.

/// What the socket does after a message.
pub enum Next {
    Continue,
    /// Close and never reconnect.
    Stop,
}

/// Keeps a socket to `path` open until the calling component is cleaned up. `hello` is called
/// on every connect, so it can carry what the page has seen so far.
pub fn keep_open(path: &'static str, hello: impl Fn() -> String + 'static, on_text: impl Fn(&str) -> Next + 'static) {
    #[cfg(feature = "hydrate")]
    {
        let socket = client::Socket::open(path, Box::new(hello), Box::new(on_text));
        let socket = send_wrapper::SendWrapper::new(socket);
        leptos::prelude::on_cleanup(move || socket.stop());
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (path, hello, on_text);
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{MessageEvent, WebSocket};

    use super::Next;

    const RECONNECT_MS: i32 = 1_000;

    #[derive(Clone)]
    pub struct Socket(Rc<Inner>);

    struct Inner {
        path: &'static str,
        socket: RefCell<Option<WebSocket>>,
        stopped: Cell<bool>,
        hello: Box<dyn Fn() -> String>,
        on_text: Box<dyn Fn(&str) -> Next>,
    }

    impl Socket {
        pub fn open(path: &'static str, hello: Box<dyn Fn() -> String>, on_text: Box<dyn Fn(&str) -> Next>) -> Self {
            let socket = Self(Rc::new(Inner { path, socket: RefCell::default(), stopped: Cell::default(), hello, on_text }));
            socket.connect();
            socket
        }

        pub fn stop(&self) {
            self.0.stopped.set(true);
            if let Some(socket) = self.0.socket.borrow_mut().take() {
                let _ = socket.close();
            }
        }

        fn connect(&self) {
            if self.0.stopped.get() {
                return;
            }
            let location = web_sys::window().expect("a browser window").location();
            let scheme = if location.protocol().as_deref() == Ok("https:") { "wss" } else { "ws" };
            let host = location.host().unwrap_or_default();
            let Ok(socket) = WebSocket::new(&format!("{scheme}://{host}{}", self.0.path)) else {
                self.retry();
                return;
            };

            let this = self.clone();
            let opened = Closure::<dyn FnMut()>::new(move || {
                if let Some(socket) = this.0.socket.borrow().as_ref() {
                    let _ = socket.send_with_str(&(this.0.hello)());
                }
            });
            socket.set_onopen(Some(opened.as_ref().unchecked_ref()));
            opened.forget();

            let this = self.clone();
            let received = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
                // A message may still arrive between stop() and the close: the page is gone.
                if this.0.stopped.get() {
                    return;
                }
                let Some(text) = message.data().as_string() else { return };
                if let Next::Stop = (this.0.on_text)(&text) {
                    this.stop();
                }
            });
            socket.set_onmessage(Some(received.as_ref().unchecked_ref()));
            received.forget();

            let this = self.clone();
            let closed = Closure::<dyn FnMut()>::new(move || this.retry());
            socket.set_onclose(Some(closed.as_ref().unchecked_ref()));
            closed.forget();

            *self.0.socket.borrow_mut() = Some(socket);
        }

        fn retry(&self) {
            if self.0.stopped.get() {
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
