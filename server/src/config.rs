//! Configuration: one typed struct from flags and environment variables (flags win).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

/// The admin password `ServeConfig::for_tests` sets.
pub const TEST_ADMIN_PASSWORD: &str = "admin password for tests";

#[derive(Debug, Parser)]
#[command(name = "gennaker", version, about = "Continuous delivery: cluster management and pipelines in one binary")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the platform: web UI, REST API and workers.
    Serve(ServeConfig),
    /// Apply database migrations and exit.
    Migrate(DatabaseConfig),
    /// Run the demo application the local cloud deploys (version, colour, health, metrics).
    DemoApp(crate::demo_app::DemoAppConfig),
    /// Import a Spinnaker export (spin pipeline list output, pipeline JSON files, a Front50
    /// storage folder) into a running gennaker, printing what became of each item.
    Import(crate::import_cli::ImportConfig),
    /// Manage users from the command line (works while the server runs).
    User {
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from GENNAKER_PASSWORD or the first line of stdin.
    Add {
        name: String,
        /// A role to give (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        admin: bool,
        /// A service account: cannot sign in, acts through API tokens.
        #[arg(long)]
        service_account: bool,
    },
    /// Set a user's password, read from GENNAKER_PASSWORD or the first line of stdin. Ends the
    /// user's sessions.
    Passwd { name: String },
    /// List users with their roles.
    List,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` (created when missing) or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/gennaker.db")]
    pub database_url: DatabaseUrl,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port (printed in the log).
    #[arg(long, env = "GENNAKER_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseConfig,

    /// Log as human-readable lines or as JSON objects, one per line.
    #[arg(long, env = "GENNAKER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Folder with the built site (`pkg/` with the WASM, JS and CSS, plus public assets).
    /// Defaults to `../site` next to the binary when that exists, else `target/site`.
    #[arg(long, env = "LEPTOS_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    /// Serve `/metrics` without authentication (Prometheus scrapes it).
    #[arg(long, env = "GENNAKER_PUBLIC_METRICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub public_metrics: bool,

    /// A file holding the token Prometheus presents (`authorization.credentials_file`) to
    /// read the instances to scrape (`/api/v1/metrics/targets`) and the load balancers'
    /// per-server-group series on `/metrics`. Without it only users (READ) see them.
    #[arg(long, env = "GENNAKER_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,

    /// How long a browser session lasts, in hours.
    #[arg(long, env = "GENNAKER_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u64,

    /// The longest an API token may live, in days; a token asked for without a lifetime gets it.
    #[arg(long, env = "GENNAKER_TOKEN_MAX_DAYS", default_value_t = 365)]
    pub token_max_days: u32,

    /// Mark the session cookie `Secure` (set when users reach gennaker over HTTPS).
    #[arg(long, env = "GENNAKER_SECURE_COOKIES", default_value_t = false, action = clap::ArgAction::Set)]
    pub secure_cookies: bool,

    #[command(flatten)]
    pub secrets: SecretsConfig,

    /// Engine workers in this process (each handles one message at a time).
    #[arg(long, env = "GENNAKER_WORKERS", default_value_t = 2)]
    pub workers: usize,

    /// Days a finished run keeps its whole event log (every state it went through, for the
    /// live view's replay); after that only its final state is kept. 0 keeps everything.
    #[arg(long, env = "GENNAKER_EVENT_RETENTION_DAYS", default_value_t = 30)]
    pub event_retention_days: u32,

    /// How long (ms) a claimed engine message stays with its worker; after a crash, the
    /// messages a dead process held are handled again once this passes.
    #[arg(long, env = "GENNAKER_ENGINE_LEASE_MS", default_value_t = 30_000)]
    pub engine_lease_ms: i64,

    /// The first admin's password, used only on the first start (no users yet). Without it a
    /// random password is printed once.
    #[arg(long, env = "GENNAKER_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<SecretString>,

    /// On a first start (no applications yet), create the demo: application `demo`, load
    /// balancer `demo-web` on `--demo-port`, server group `demo-web-v000` running v1 and a
    /// red/black pipeline `Deploy demo`.
    #[arg(long, env = "GENNAKER_DEMO", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub demo: bool,

    /// The demo load balancer's port on 127.0.0.1.
    #[arg(long, env = "GENNAKER_DEMO_PORT", default_value_t = 8081)]
    pub demo_port: u16,

    /// Requests a second sent to the demo load balancer while gennaker runs (0: none), so the
    /// canary demo's judge has traffic to compare; `scripts/run` sets 20.
    #[arg(long, env = "GENNAKER_DEMO_LOAD", default_value_t = 0)]
    pub demo_load: u32,

    /// Where the local cloud's instances and jobs get their working directories: outside the
    /// data directory (default: `gennaker-work` in the system's temporary directory).
    #[arg(long, env = "GENNAKER_WORK_DIR")]
    pub work_dir: Option<PathBuf>,

    /// When gennaker runs as root, the user the local cloud's processes run as (`nobody` by
    /// default); `--run-as-user ""` keeps root (not recommended).
    #[arg(long, env = "GENNAKER_RUN_AS_USER", default_value = "nobody")]
    pub run_as_user: String,

    /// A clouds file (JSON or YAML, `{"accounts": [...]}`): the cloud accounts beyond `local`,
    /// e.g. Kubernetes accounts with their kubeconfig. Read at each start; admins may add more
    /// through `/api/v1/clouds/accounts`.
    #[arg(long, env = "GENNAKER_CLOUDS_FILE")]
    pub clouds_file: Option<PathBuf>,

    /// How often (ms) the caching agents observe each cloud account and region.
    #[arg(long, env = "GENNAKER_CACHE_INTERVAL_MS", default_value_t = 1_000)]
    pub cache_interval_ms: u64,

    /// How often (ms) Docker registries are polled for new tags.
    #[arg(long, env = "GENNAKER_DOCKER_POLL_MS", default_value_t = 15_000)]
    pub docker_poll_ms: u64,

    /// A Jenkins master Jenkins triggers may name: `name=url` (repeatable, or comma-separated
    /// in the variable).
    #[arg(long = "jenkins-master", env = "GENNAKER_JENKINS_MASTERS", value_delimiter = ',')]
    pub jenkins_masters: Vec<String>,

    /// A URL prefix gennaker may call although it is inside the network (loopback, private,
    /// link-local): `http://127.0.0.1` (any port), `https://10.0.0.5:8443/hooks/`. Webhook
    /// stages, notifications and the Docker and Jenkins pollers may call nothing else inside
    /// (repeatable, or comma-separated in the variable).
    #[arg(long = "outbound-allow", env = "GENNAKER_OUTBOUND_ALLOW", value_delimiter = ',')]
    pub outbound_allow: Vec<String>,

    /// The largest answer (bytes) an outbound call reads.
    #[arg(long, env = "GENNAKER_OUTBOUND_MAX_BODY", default_value_t = 4 << 20)]
    pub outbound_max_body: usize,

    #[command(flatten)]
    pub notify: NotifyConfig,
}

/// Where notifications go out: links back to gennaker, SMTP for email, an SMS API.
#[derive(Debug, Clone, Args, Default)]
pub struct NotifyConfig {
    /// The URL people open gennaker at, for links in notifications (default: the listen address).
    #[arg(long, env = "GENNAKER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// SMTP server for email notifications (none: email is off).
    #[arg(long, env = "GENNAKER_SMTP_HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "GENNAKER_SMTP_PORT", default_value_t = 25)]
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls`.
    #[arg(long, env = "GENNAKER_SMTP_TLS", default_value = "starttls")]
    pub smtp_tls: String,
    #[arg(long, env = "GENNAKER_SMTP_FROM", default_value = "gennaker@localhost")]
    pub smtp_from: String,
    #[arg(long, env = "GENNAKER_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// The name of the secret (secrets store) holding the SMTP password.
    #[arg(long, env = "GENNAKER_SMTP_PASSWORD_SECRET")]
    pub smtp_password_secret: Option<String>,
    /// A Twilio-compatible API for SMS notifications, e.g. https://api.twilio.com.
    #[arg(long, env = "GENNAKER_SMS_API_URL")]
    pub sms_api_url: Option<String>,
    #[arg(long, env = "GENNAKER_SMS_ACCOUNT_SID", default_value = "")]
    pub sms_account_sid: String,
    /// The name of the secret holding the SMS API's auth token.
    #[arg(long, env = "GENNAKER_SMS_TOKEN_SECRET", default_value = "sms-token")]
    pub sms_token_secret: String,
    #[arg(long, env = "GENNAKER_SMS_FROM", default_value = "")]
    pub sms_from: String,
    /// A HipChat Server / Data Center for `hipchat` notifications, e.g. https://hipchat.example.com.
    #[arg(long, env = "GENNAKER_HIPCHAT_URL")]
    pub hipchat_url: Option<String>,
    /// The name of the secret holding the HipChat token (one allowed to send room notifications).
    #[arg(long, env = "GENNAKER_HIPCHAT_TOKEN_SECRET", default_value = "hipchat-token")]
    pub hipchat_token_secret: String,
    /// The first retry delay (ms) of a failed notification; it doubles up to 5 attempts.
    #[arg(long, env = "GENNAKER_NOTIFY_RETRY_MS", default_value_t = 1_000)]
    pub notify_retry_ms: i64,
}

#[derive(Debug, Clone, Args)]
pub struct SecretsConfig {
    /// The secrets encryption key: 32 bytes in base64. Every instance sharing a database needs
    /// the same key. Without it, the key file is used (and created).
    #[arg(long, env = "GENNAKER_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<SecretString>,

    /// Where the key is kept when GENNAKER_SECRET_KEY is not set; created with mode 0600.
    #[arg(long, env = "GENNAKER_SECRET_KEY_FILE", default_value = "data/secret.key")]
    pub secret_key_file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

impl ServeConfig {
    /// A configuration for tests and tools: listen on a free port of 127.0.0.1, a fixed
    /// secrets key, and `admin` with `TEST_ADMIN_PASSWORD`.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: DatabaseConfig { database_url: DatabaseUrl(database_url.to_string()) },
            log_format: LogFormat::Human,
            site_root: None,
            public_metrics: true,
            metrics_token_file: None,
            session_hours: 12,
            token_max_days: 365,
            secure_cookies: false,
            secrets: SecretsConfig {
                secret_key: Some(SecretString::from("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")),
                secret_key_file: PathBuf::from("unused"),
            },
            admin_password: Some(SecretString::from(TEST_ADMIN_PASSWORD)),
            workers: 2,
            engine_lease_ms: 30_000,
            event_retention_days: 30,
            demo: false,
            demo_port: 8081,
            demo_load: 0,
            work_dir: None,
            // Tests run processes from the build directory (which may be under /root) as the
            // user running the tests; the security tests set `nobody` themselves.
            run_as_user: String::new(),
            clouds_file: None,
            cache_interval_ms: 250,
            docker_poll_ms: 15_000,
            jenkins_masters: Vec::new(),
            // Tests' receivers (webhooks, registries, SMTP/SMS stand-ins) listen on 127.0.0.1.
            outbound_allow: vec!["http://127.0.0.1".into(), "http://localhost".into()],
            outbound_max_body: 4 << 20,
            notify: NotifyConfig { smtp_port: 25, smtp_tls: "none".into(), smtp_from: "gennaker@localhost".into(), notify_retry_ms: 50, ..NotifyConfig::default() },
        }
    }

    /// The sandbox root for local processes.
    pub fn resolved_work_dir(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(|| std::env::temp_dir().join("gennaker-work"))
    }

    pub fn resolved_site_root(&self) -> PathBuf {
        if let Some(root) = &self.site_root {
            return root.clone();
        }
        let beside_binary = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent()?.parent().map(|dir| dir.join("site")))
            .filter(|dir| dir.is_dir());
        beside_binary.unwrap_or_else(|| PathBuf::from("target/site"))
    }
}

/// A database URL. Its `Debug` and `Display` hide the password, so it can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn redacted(&self) -> String {
        // scheme://user:password@host -> scheme://user:***@host
        let Some((scheme, rest)) = self.0.split_once("://") else { return self.0.clone() };
        let Some((credentials, host)) = rest.rsplit_once('@') else { return self.0.clone() };
        match credentials.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => self.0.clone(),
        }
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self(url.to_string()))
        } else {
            Err("must start with sqlite: or postgres://".to_string())
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_hides_password() {
        let url: DatabaseUrl = "postgres://app:s3cret@db:5432/gennaker".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/gennaker");
        assert!(!format!("{url:?}").contains("s3cret"));
        let plain: DatabaseUrl = "sqlite://data/gennaker.db".parse().unwrap();
        assert_eq!(plain.to_string(), "sqlite://data/gennaker.db");
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn flags_parse() {
        let cli = Cli::try_parse_from(["gennaker", "serve", "--listen", "127.0.0.1:0", "--log-format", "json"]).unwrap();
        let Command::Serve(config) = cli.command else { panic!("expected serve") };
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.log_format, LogFormat::Json);
    }
}
