//! The PostgreSQL client that `trace` and `stats` share: connection strings, which host they
//! name, connecting, and the server's major version. Both features use the `postgres` crate
//! through these functions only.

use postgres::{Client, Config, NoTls};

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
    let config: Config = url.parse()?;
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

/// Connect to `url` (a libpq connection string or URL), without TLS; the parsed
/// configuration comes back too, for a second session or for messages.
pub(crate) fn connect(url: &str) -> Result<(Client, Config), postgres::Error> {
    let mut config: Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let client = config.connect(NoTls)?;
    Ok((client, config))
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
    let config: Config = url.parse()?;
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
