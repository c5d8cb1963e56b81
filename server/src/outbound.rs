//! The one HTTP client for calls gennaker makes on behalf of users (webhook stages,
//! notification channels, the Docker registry and Jenkins pollers), with an allow-list against
//! server-side request forgery, as Spinnaker's `webhook.allowedRequests` and Orca's URL
//! restrictions. Only `http` and `https`; by default no address inside the network: loopback,
//! private, link-local (cloud metadata at 169.254.169.254, `fd00:ec2::254`), carrier-grade NAT,
//! multicast and reserved ranges are refused, unless a configured allow entry (`--outbound-allow
//! http://127.0.0.1`, scheme + host [+ port] [+ path prefix]) names the URL. Hostnames are checked
//! where they are resolved (the client's resolver drops refused addresses), so a name that
//! resolves differently on the second lookup cannot slip through; redirects are checked against
//! the same rules at every hop; answers are read up to a size limit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, RequestBuilder, Response, Url};

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0:?} is not a URL gennaker can call: {1}")]
    BadUrl(String, String),
    #[error("gennaker does not call {0} (a loopback, private, link-local or reserved address); an admin can allow it with --outbound-allow")]
    Refused(String),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Transport(String),
}

/// One allow entry: scheme and host must match, the port too when the entry names one, and the
/// path must start with the entry's path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
}

impl Allowed {
    fn parse(entry: &str) -> Result<Self, Error> {
        let url = Url::parse(entry).map_err(|error| Error::BadUrl(entry.to_string(), error.to_string()))?;
        let host = url.host_str().ok_or_else(|| Error::BadUrl(entry.to_string(), "no host".into()))?.to_ascii_lowercase();
        Ok(Self { scheme: url.scheme().to_string(), host, port: url.port(), path: url.path().to_string() })
    }

    fn admits(&self, url: &Url) -> bool {
        url.scheme() == self.scheme
            && url.host_str().is_some_and(|host| host.eq_ignore_ascii_case(&self.host))
            && self.port.is_none_or(|port| url.port_or_known_default() == Some(port))
            && url.path().starts_with(&self.path)
    }
}

/// The rules, shared by the client's resolver and redirect policy.
#[derive(Debug, Default)]
struct Rules {
    allowed: Vec<Allowed>,
}

impl Rules {
    /// Checks a URL before it is called (and at each redirect). A hostname is checked again
    /// when it is resolved.
    fn check(&self, url: &Url) -> Result<(), Error> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::BadUrl(url.to_string(), "only http and https".into()));
        }
        if self.allowed.iter().any(|allowed| allowed.admits(url)) {
            return Ok(());
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) if refused(IpAddr::V4(ip)) => Err(Error::Refused(ip.to_string())),
            Some(url::Host::Ipv6(ip)) if refused(IpAddr::V6(ip)) => Err(Error::Refused(ip.to_string())),
            Some(url::Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") || name.to_ascii_lowercase().ends_with(".localhost") => {
                Err(Error::Refused(name.to_string()))
            }
            None => Err(Error::BadUrl(url.to_string(), "no host".into())),
            _ => Ok(()),
        }
    }

    /// Whether addresses of `host` are kept whatever they are (an allow entry names the host).
    fn host_allowed(&self, host: &str) -> bool {
        self.allowed.iter().any(|allowed| allowed.host.eq_ignore_ascii_case(host))
    }
}

/// Addresses gennaker does not call unless allowed.
pub fn refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => refused_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(mapped) = ip.to_ipv4_mapped() {
                return refused_v4(mapped);
            }
            let segments = ip.segments();
            // NAT64 (64:ff9b::/96) embeds an IPv4 address.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return refused_v4(Ipv4Addr::new((segments[6] >> 8) as u8, segments[6] as u8, (segments[7] >> 8) as u8, segments[7] as u8));
            }
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local, fd00:ec2::254 among them
                || (segments[0] & 0xffc0) == 0xfe80 // link-local
                || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || ip == Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0) // documentation
        }
    }
}

fn refused_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

/// Resolves names and drops the addresses the rules refuse (unless an allow entry names the
/// host), so the connection can only go where the check said.
struct GuardedResolver {
    rules: Arc<Rules>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let keep_all = rules.host_allowed(&host);
            let kept: Vec<SocketAddr> = found.into_iter().filter(|address| keep_all || !refused(address.ip())).collect();
            if kept.is_empty() {
                return Err(Box::new(Error::Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The client; cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    rules: Arc<Rules>,
    max_body: usize,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").field("rules", &self.rules).field("max_body", &self.max_body).finish()
    }
}

impl Default for Outbound {
    /// Nothing allowed beyond public addresses; answers up to 4 MiB; 10 s per call.
    fn default() -> Self {
        Self::new(&[], 4 << 20, Duration::from_secs(10)).expect("no entries to get wrong")
    }
}

impl Outbound {
    /// `allowed`: URL prefixes that may be called whatever their address.
    pub fn new(allowed: &[String], max_body: usize, timeout: Duration) -> Result<Self, Error> {
        let rules = Arc::new(Rules { allowed: allowed.iter().filter(|entry| !entry.trim().is_empty()).map(|entry| Allowed::parse(entry.trim())).collect::<Result<_, _>>()? });
        let redirect_rules = rules.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error(Error::Transport(format!("more than {MAX_REDIRECTS} redirects")))
            } else if let Err(error) = redirect_rules.check(attempt.url()) {
                attempt.error(error)
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .redirect(redirects)
            .dns_resolver(Arc::new(GuardedResolver { rules: rules.clone() }))
            .build()
            .map_err(|error| Error::Transport(error.to_string()))?;
        Ok(Self { client, rules, max_body })
    }

    /// A request to `url`, once the rules admit it.
    pub fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, Error> {
        let parsed = Url::parse(url).map_err(|error| Error::BadUrl(url.to_string(), error.to_string()))?;
        self.rules.check(&parsed)?;
        Ok(self.client.request(method, parsed))
    }

    pub fn get(&self, url: &str) -> Result<RequestBuilder, Error> {
        self.request(Method::GET, url)
    }

    pub fn head(&self, url: &str) -> Result<RequestBuilder, Error> {
        self.request(Method::HEAD, url)
    }

    pub fn post(&self, url: &str) -> Result<RequestBuilder, Error> {
        self.request(Method::POST, url)
    }

    /// The answer's body, refused past the size limit (read as it streams, so a huge answer is
    /// never held).
    pub async fn bytes(&self, mut response: Response) -> Result<Vec<u8>, Error> {
        if response.content_length().is_some_and(|length| length > self.max_body as u64) {
            return Err(Error::TooLarge(self.max_body));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| Error::Transport(error.to_string()))? {
            if body.len() + chunk.len() > self.max_body {
                return Err(Error::TooLarge(self.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    pub async fn text(&self, response: Response) -> Result<String, Error> {
        Ok(String::from_utf8_lossy(&self.bytes(response).await?).into_owned())
    }

    pub async fn json<T: serde::de::DeserializeOwned>(&self, response: Response) -> Result<T, Error> {
        serde_json::from_slice(&self.bytes(response).await?).map_err(|error| Error::Transport(format!("unreadable JSON: {error}")))
    }
}

/// Whether the call failed because the rules refused it (at resolution or at a redirect): not
/// worth retrying.
pub fn is_refusal(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<Error>().is_some_and(|error| matches!(error, Error::Refused(_) | Error::BadUrl(..))) {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The reason a call failed, with its causes (a refused address among them), but not the URL
/// reqwest's own message carries.
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_redirect() {
        "a redirect was refused"
    } else if error.is_body() || error.is_decode() {
        "the answer could not be read"
    } else {
        "the request failed"
    }
    .to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rules: &Rules, url: &str) -> Result<(), Error> {
        rules.check(&Url::parse(url).unwrap())
    }

    #[test]
    fn inside_addresses_are_refused_unless_allowed() {
        let none = Rules::default();
        for url in [
            "http://127.0.0.1:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.20.0.1/",
            "http://100.100.100.200/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://0.0.0.0/",
            "http://localhost:3000/",
            "http://api.localhost/",
        ] {
            assert!(matches!(check(&none, url), Err(Error::Refused(_))), "{url}");
        }
        assert!(check(&none, "https://93.184.216.34/").is_ok());
        assert!(check(&none, "https://hooks.example.com/x").is_ok(), "names are checked when resolved");
        assert!(matches!(check(&none, "file:///etc/passwd"), Err(Error::BadUrl(..))));
        assert!(matches!(check(&none, "gopher://example.com/"), Err(Error::BadUrl(..))));

        let local = Rules { allowed: vec![Allowed::parse("http://127.0.0.1").unwrap(), Allowed::parse("https://10.0.0.5:8443/hooks/").unwrap()] };
        assert!(check(&local, "http://127.0.0.1:9000/anything").is_ok(), "an entry without a port admits every port");
        assert!(check(&local, "https://10.0.0.5:8443/hooks/deploy").is_ok());
        assert!(check(&local, "https://10.0.0.5:8443/admin").is_err(), "outside the entry's path");
        assert!(check(&local, "https://10.0.0.5:9443/hooks/deploy").is_err(), "another port");
        assert!(check(&local, "http://127.0.0.1:80@169.254.169.254/").is_err(), "user info does not fool the host match");
        assert!(local.host_allowed("127.0.0.1") && !local.host_allowed("10.0.0.6"));
    }

    #[tokio::test]
    async fn names_that_resolve_inside_are_refused_and_answers_are_capped() {
        // A name (not `localhost` itself, refused by name) resolving to loopback: the resolver
        // keeps no address, so the connection cannot be made.
        let resolver = GuardedResolver { rules: Arc::new(Rules::default()) };
        let name: Name = "localhost".parse().unwrap();
        let refused = resolver.resolve(name).await.err().expect("loopback only");
        assert!(refused.to_string().contains("does not call"), "{refused}");
        let allowing = GuardedResolver { rules: Arc::new(Rules { allowed: vec![Allowed::parse("http://localhost").unwrap()] }) };
        assert!(allowing.resolve("localhost".parse().unwrap()).await.is_ok(), "an allowed host resolves");

        // A local receiver allowed by configuration, answering more than the cap.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let body = "x".repeat(2048);
                let _ = socket.write_all(format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len()).as_bytes()).await;
            }
        });
        let allowed = Outbound::new(&["http://127.0.0.1".to_string()], 1024, Duration::from_secs(5)).unwrap();
        let response = allowed.get(&format!("http://127.0.0.1:{port}/")).unwrap().send().await.unwrap();
        assert_eq!(allowed.bytes(response).await, Err(Error::TooLarge(1024)));
        let refused = Outbound::default().get(&format!("http://127.0.0.1:{port}/"));
        assert!(matches!(refused, Err(Error::Refused(_))));
    }
}
