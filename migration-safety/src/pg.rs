//! The PostgreSQL client that `trace` and `stats` share: connection strings, which host they
//! name, connecting (with TLS as `sslmode` asks), and the server's major version. Both
//! features use the `postgres` crate through these functions only.
//!
//! TLS is rustls (pure Rust, its `ring` provider). The connection string's `sslmode` is read
//! as libpq reads it: `disable` (no TLS), `prefer` (TLS when the server offers it, without
//! checking its certificate: the default), `require` (TLS, the certificate checked against
//! `sslrootcert` when one is given, else not checked), `verify-ca` (the certificate must chain
//! to `sslrootcert`) and `verify-full` (and name the host). `sslrootcert` is a PEM file of
//! trusted certificates, by default `~/.postgresql/root.crt` as for libpq.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use postgres::config::SslMode;
use postgres::{Client, Config};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// The connection string, the connection or the server refused.
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    /// The TLS settings of the connection string cannot be used.
    #[error("{0}")]
    Tls(String),
}

/// How the connection is protected, libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A server to connect to: the `postgres` crate's configuration and the TLS connector that
/// `sslmode` asks for. Opens as many sessions as needed.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) config: Config,
    tls: MakeRustlsConnect,
}

impl Endpoint {
    /// The server `url` names (a libpq connection string or URL, with `sslmode` and
    /// `sslrootcert` read here, since the `postgres` crate knows only some modes).
    pub(crate) fn parse(url: &str) -> Result<Self, ConnectError> {
        let (rest, settings) = strip_tls(url);
        let (mode, root) = tls_settings(&settings)?;
        let mut config: Config = rest.parse()?;
        let mode = mode.unwrap_or(TlsMode::Prefer);
        let root = root.or_else(|| {
            // libpq's default: a root certificate in the user's home, when there is one.
            let home = std::env::var_os("HOME")?;
            let default = Path::new(&home).join(".postgresql/root.crt");
            default.is_file().then_some(default)
        });
        let verifier = verifier(mode, root.as_deref())?;
        config.ssl_mode(match mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        Ok(Self::with_verifier(config, verifier))
    }

    /// The server `config` names, with TLS as its `ssl_mode` says, without checking the
    /// server's certificate (which `sslmode=verify-ca` and `verify-full` in a connection
    /// string do: see [`Endpoint::parse`]).
    pub(crate) fn from_config(config: Config) -> Self {
        Self::with_verifier(config, Arc::new(Unchecked(provider())))
    }

    fn with_verifier(config: Config, verifier: Arc<dyn ServerCertVerifier>) -> Self {
        let tls = ClientConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Self {
            config,
            tls: MakeRustlsConnect::new(tls),
        }
    }

    /// A new session.
    pub(crate) fn connect(&self) -> Result<Client, postgres::Error> {
        self.config.connect(self.tls.clone())
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The TLS settings of a connection string: its `sslmode` and `sslrootcert`.
fn tls_settings(
    settings: &[(String, String)],
) -> Result<(Option<TlsMode>, Option<PathBuf>), ConnectError> {
    let mut mode = None;
    let mut root = None;
    for (key, value) in settings {
        if key == "sslrootcert" {
            root = Some(PathBuf::from(value));
            continue;
        }
        mode = Some(match value.as_str() {
            "disable" => TlsMode::Disable,
            "allow" | "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            other => {
                return Err(ConnectError::Tls(format!(
                    "invalid sslmode `{other}`: use disable, prefer, require, verify-ca or verify-full"
                )));
            }
        });
    }
    Ok((mode, root))
}

/// `url` without its `sslmode` and `sslrootcert` (which the `postgres` crate does not read
/// in full), and those settings, as `(key, value)`.
fn strip_tls(url: &str) -> (String, Vec<(String, String)>) {
    let is_tls = |key: &str| key == "sslmode" || key == "sslrootcert";
    let mut settings = Vec::new();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), settings);
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if is_tls(key) {
                let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
                settings.push((key.to_owned(), value.into_owned()));
            } else {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        (rest, settings)
    } else {
        let mut kept = Vec::new();
        for (key, value, text) in key_values(url) {
            if is_tls(key) {
                settings.push((key.to_owned(), value));
            } else {
                kept.push(text);
            }
        }
        (kept.join(" "), settings)
    }
}

/// The `key = value` pairs of a libpq key/value connection string, each with its text; a value
/// may be quoted (`'a b'`, with `\'` and `\\` inside).
fn key_values(text: &str) -> Vec<(&str, String, &str)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let start = rest;
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = rest[key_end..].trim_start();
        let Some(after) = rest.strip_prefix('=') else {
            // Not a pair: kept as written, for the `postgres` crate to report.
            pairs.push((key, String::new(), &start[..key_end]));
            continue;
        };
        rest = after.trim_start();
        let mut value = String::new();
        if let Some(quoted) = rest.strip_prefix('\'') {
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '\'' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            value.push_str(&rest[..end]);
            rest = &rest[end..];
        }
        let used = start.len() - rest.len();
        pairs.push((key, value, &start[..used]));
        rest = rest.trim_start();
    }
    pairs
}

/// What checks the server's certificate in `mode`, trusting the certificates of `root`.
fn verifier(
    mode: TlsMode,
    root: Option<&Path>,
) -> Result<Arc<dyn ServerCertVerifier>, ConnectError> {
    let checked = matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyFull)
        || (mode == TlsMode::Require && root.is_some());
    if !checked {
        return Ok(Arc::new(Unchecked(provider())));
    }
    let Some(root) = root else {
        return Err(ConnectError::Tls(
            "sslmode=verify-ca and verify-full check the server's certificate: give the certificate authority's PEM file with sslrootcert=PATH (or put it in ~/.postgresql/root.crt)".to_owned(),
        ));
    };
    let unreadable = |e: &dyn std::fmt::Display| {
        ConnectError::Tls(format!("cannot read sslrootcert `{}`: {e}", root.display()))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(root).map_err(|e| unreadable(&e))? {
        roots
            .add(cert.map_err(|e| unreadable(&e))?)
            .map_err(|e| unreadable(&e))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"it holds no PEM certificate"));
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::new(provider()))
        .build()
        .map_err(|e| unreadable(&e))?;
    Ok(if mode == TlsMode::VerifyFull {
        webpki
    } else {
        Arc::new(AnyName(webpki))
    })
}

/// `sslmode=prefer` or `require` without a root certificate: encrypted, but whoever answers
/// is trusted (the handshake's signatures are still checked).
#[derive(Debug)]
struct Unchecked(CryptoProvider);

impl Unchecked {
    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.0.signature_verification_algorithms
    }
}

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}

/// `sslmode=verify-ca`: the certificate must chain to a trusted root, for any host name.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The first host of a connection string that is not this machine, or `None` when every host
/// is a Unix socket, `localhost` or a loopback address.
///
/// ```
/// use migration_safety::trace::remote_host;
///
/// assert_eq!(remote_host("postgresql://app@127.0.0.1:5432/app")?, None);
/// assert_eq!(remote_host("host=/var/run/postgresql dbname=app")?, None);
/// assert_eq!(remote_host("postgresql://app@[::1]/app")?, None);
/// assert_eq!(remote_host("postgresql://app@db.example.com/app")?.as_deref(), Some("db.example.com"));
/// # Ok::<(), migration_safety::trace::TraceError>(())
/// ```
pub fn remote_host(url: &str) -> Result<Option<String>, postgres::Error> {
    let config: Config = strip_tls(url).0.parse()?;
    let host = config.get_hosts().iter().find_map(|host| match host {
        postgres::config::Host::Tcp(name) => {
            let local = name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            (!local).then(|| name.clone())
        }
        #[cfg(unix)]
        postgres::config::Host::Unix(_) => None,
    });
    let addr = config
        .get_hostaddrs()
        .iter()
        .find(|ip| !ip.is_loopback())
        .map(ToString::to_string);
    Ok(host.or(addr))
}

/// How long connecting may take when the connection string sets no `connect_timeout`: a
/// server that does not answer is reported, not waited for.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Connect to `url` (a libpq connection string or URL), with TLS as its `sslmode` says; the
/// endpoint comes back too, for a second session or for messages.
pub(crate) fn connect(url: &str) -> Result<(Client, Endpoint), ConnectError> {
    let mut endpoint = Endpoint::parse(url)?;
    if endpoint.config.get_connect_timeout().is_none() {
        endpoint.config.connect_timeout(CONNECT_TIMEOUT);
    }
    let client = endpoint.connect()?;
    Ok((client, endpoint))
}

/// Whether the session's connection is encrypted (`pg_stat_ssl`).
pub(crate) fn encrypted(client: &mut Client) -> Result<bool, postgres::Error> {
    let row = client.query_one(
        "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
        &[],
    )?;
    Ok(row.get(0))
}

/// The server's major version, such as 15.
pub(crate) fn server_major(client: &mut Client) -> Result<u32, postgres::Error> {
    let row = client.query_one("SELECT current_setting('server_version_num')::int4", &[])?;
    Ok(row.get::<_, i32>(0).unsigned_abs() / 10000)
}

/// Where a connection string points, without its user or password, for messages:
/// `db.example.com:5432/app`.
#[cfg(feature = "stats")]
pub(crate) fn describe(url: &str) -> Result<String, postgres::Error> {
    let config: Config = strip_tls(url).0.parse()?;
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .or_else(|| config.get_hostaddrs().first().map(ToString::to_string))
        .unwrap_or_else(|| "localhost".to_owned());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    Ok(format!("{host}:{port}/{database}"))
}

#[cfg(test)]
mod tls_tests {
    use super::{ConnectError, Endpoint, TlsMode, strip_tls, tls_settings};

    fn settings(url: &str) -> (String, Option<TlsMode>, Option<String>) {
        let (rest, settings) = strip_tls(url);
        let (mode, root) = tls_settings(&settings).unwrap();
        (rest, mode, root.map(|r| r.display().to_string()))
    }

    #[test]
    fn sslmode_and_sslrootcert_are_read_from_urls_and_key_value_strings() {
        assert_eq!(
            settings(
                "postgresql://app@db.example.com/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x"
            ),
            (
                "postgresql://app@db.example.com/app?application_name=x".to_owned(),
                Some(TlsMode::VerifyFull),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            settings("postgres://db/app?sslmode=require"),
            ("postgres://db/app".to_owned(), Some(TlsMode::Require), None)
        );
        assert_eq!(
            settings(
                "host=db.example.com sslmode = verify-ca  sslrootcert='/a b/c\\'d.pem' dbname=app"
            ),
            (
                "host=db.example.com dbname=app".to_owned(),
                Some(TlsMode::VerifyCa),
                Some("/a b/c'd.pem".to_owned())
            )
        );
        assert_eq!(
            settings("host=localhost dbname=app"),
            ("host=localhost dbname=app".to_owned(), None, None)
        );
    }

    #[test]
    fn unusable_tls_settings_are_clear_errors() {
        let error = |url: &str| match Endpoint::parse(url) {
            Err(ConnectError::Tls(message)) => message,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("{url} is accepted"),
        };
        assert!(error("postgresql://db/app?sslmode=always").contains("invalid sslmode `always`"));
        let missing =
            error("postgresql://db/app?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem");
        assert!(
            missing.contains("cannot read sslrootcert `/nonexistent/ca.pem`"),
            "{missing}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let url = format!(
            "postgresql://db/app?sslmode=verify-ca&sslrootcert={}",
            empty.display()
        );
        assert!(
            error(&url).contains("holds no PEM certificate"),
            "{}",
            error(&url)
        );
        // The modes the `postgres` crate reads itself still parse.
        for mode in ["disable", "prefer", "require"] {
            assert!(Endpoint::parse(&format!("postgresql://db/app?sslmode={mode}")).is_ok());
        }
    }
}

#[cfg(all(test, feature = "stats"))]
mod tests {
    #[test]
    fn descriptions_leave_out_the_credentials() {
        let place = super::describe("postgresql://app:secret@db.example.com:6432/app").unwrap();
        assert_eq!(place, "db.example.com:6432/app");
        let place = super::describe("host=127.0.0.1 user=ci").unwrap();
        assert_eq!(place, "127.0.0.1:5432/ci");
    }
}
