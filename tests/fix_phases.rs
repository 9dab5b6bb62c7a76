//! The phased plans `migration-safety fix` writes, proven on a real PostgreSQL: the original
//! migrations and the fixed ones (every phase, in order) are applied to two throwaway
//! databases holding the same rows; no fixed statement holds a lock that blocks reads or writes
//! of a pre-existing table while it scans or rewrites one (its blocking locks are brief catalog
//! updates), none rewrites a table, and they end with the schema of the original, compared
//! from the catalog (columns, types and defaults, constraints with their validation state,
//! indexes, views, triggers, functions), and the same data.
//!
//! After every phase, the application versions that run against that state (the one deployed,
//! and the next one too when the next phase deploys it first: both run during its rollout)
//! insert, update and read each plan's data, and every version reads back what any of them
//! wrote: a row written through the old column or table name reads the same through the new
//! one, and the other way round.
//!
//! It runs on every server `.ci/postgres.sh` provisions (`MIGRATION_SAFETY_TEST_PG_<major>`, 12
//! to 18: see `migration_safety_e2e::server`); without them the test is ignored, with the
//! reason, and under CI a missing 12, 15 or 18 fails.

use std::path::Path;

use migration_safety::trace::Method;
use migration_safety::trace::postgres::Client;
use migration_safety::{Framework, Settings, fix, lint_dir};
use migration_safety_e2e::server::{
    apply_migration, assert_provisioned_under_ci, blocks_traffic_for_long, required_servers,
    schema, text_rows,
};

const SCHEMA: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL);
CREATE TABLE events (id bigint PRIMARY KEY, payload text);
INSERT INTO users SELECT g, 'user ' || g, 'u' || g || '@example.com' FROM generate_series(1, 25000) g;
INSERT INTO orders SELECT g, g % 1000 FROM generate_series(1, 25000) g;
INSERT INTO events SELECT g, 'event ' || g FROM generate_series(1, 100) g;
";

const RISKY: &str = "SET lock_timeout = '5s';
ALTER TABLE users RENAME COLUMN name TO full_name;
ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
ALTER TABLE users DROP COLUMN email;
ALTER TABLE events RENAME TO audit_events;
";

fn migrations(dir: &Path) -> Vec<String> {
    migration_safety::migrations(dir, Some(Framework::Plain))
        .unwrap()
        .into_iter()
        .map(|m| m.file)
        .collect()
}

/// The data of the setup's rows (the applications' rows aside).
fn data(client: &mut Client) -> Vec<String> {
    [
        "SELECT md5(string_agg(id || ':' || full_name, ',' ORDER BY id)) FROM users WHERE id < $1",
        "SELECT md5(string_agg(id || ':' || amount, ',' ORDER BY id)) FROM orders WHERE id < $1",
        "SELECT md5(string_agg(id || ':' || payload, ',' ORDER BY id)) FROM audit_events WHERE id < $1",
    ]
    .iter()
    .map(|q| client.query_one(*q, &[&APP_IDS]).unwrap().get::<_, String>(0))
    .collect()
}

/// The ids of the rows the applications write: above the setup's, so that [`data`] compares
/// only the rows both runs hold.
const APP_IDS: i64 = 1_000_000;

/// What one version of the application does with the data a plan changes: `writes` (an
/// `INSERT` of a new row, an `UPDATE` of a row written earlier) and `read`, templates of
/// `{id}` and `{value}` (a text value carries its own quotes).
struct Version {
    insert: &'static str,
    update: &'static str,
    read: &'static str,
}

/// The application's use of what a plan changes: a version per deploy of the plan (the first
/// runs before it), and the kind of values it writes.
struct Workload {
    subject: &'static str,
    versions: [Version; 2],
    text: bool,
    /// The id of the rows its inserts add, plus a counter.
    first_id: i64,
    /// A row of the setup and its value, read through every version: the backfill's work.
    seeded: (i64, &'static str),
}

const WORKLOADS: [Workload; 4] = [
    Workload {
        subject: "renaming users.name to full_name",
        versions: [
            Version {
                insert: "INSERT INTO users (id, name) VALUES ({id}, {value})",
                update: "UPDATE users SET name = {value} WHERE id = {id}",
                read: "SELECT name FROM users WHERE id = {id}",
            },
            Version {
                insert: "INSERT INTO users (id, full_name) VALUES ({id}, {value})",
                update: "UPDATE users SET full_name = {value} WHERE id = {id}",
                read: "SELECT full_name FROM users WHERE id = {id}",
            },
        ],
        text: true,
        first_id: APP_IDS,
        seeded: (7, "user 7"),
    },
    Workload {
        subject: "changing the type of orders.amount to bigint",
        // The code that works with `amount` as integer and as bigint sends the same SQL.
        versions: [
            Version {
                insert: "INSERT INTO orders (id, amount) VALUES ({id}, {value})",
                update: "UPDATE orders SET amount = {value} WHERE id = {id}",
                read: "SELECT amount FROM orders WHERE id = {id}",
            },
            Version {
                insert: "INSERT INTO orders (id, amount) VALUES ({id}, {value})",
                update: "UPDATE orders SET amount = {value} WHERE id = {id}",
                read: "SELECT amount FROM orders WHERE id = {id}",
            },
        ],
        text: false,
        first_id: APP_IDS,
        seeded: (7, "7"),
    },
    Workload {
        subject: "dropping users.email",
        // The rename's workload inserts rows of `users`: this one fills `email` in rows of the
        // setup (which `data` does not compare).
        versions: [
            Version {
                insert: "UPDATE users SET email = {value} WHERE id = {id}",
                update: "UPDATE users SET email = {value} WHERE id = {id}",
                read: "SELECT email FROM users WHERE id = {id}",
            },
            // The code that no longer uses `email` reads the row without it.
            Version {
                insert: "SELECT id FROM users WHERE id = {id}",
                update: "SELECT id FROM users WHERE id = {id}",
                read: "",
            },
        ],
        text: true,
        first_id: 20_000,
        seeded: (7, "u7@example.com"),
    },
    Workload {
        subject: "renaming events to audit_events",
        versions: [
            Version {
                insert: "INSERT INTO events (id, payload) VALUES ({id}, {value})",
                update: "UPDATE events SET payload = {value} WHERE id = {id}",
                read: "SELECT payload FROM events WHERE id = {id}",
            },
            Version {
                insert: "INSERT INTO audit_events (id, payload) VALUES ({id}, {value})",
                update: "UPDATE audit_events SET payload = {value} WHERE id = {id}",
                read: "SELECT payload FROM audit_events WHERE id = {id}",
            },
        ],
        text: true,
        first_id: APP_IDS,
        seeded: (7, "event 7"),
    },
];

/// For each file of the plans, the plans it is a phase of, and whether it starts with a
/// deploy (`Deploy first:` in its header).
fn phases_of(sql: &str) -> Vec<(&'static str, bool)> {
    let deploys = sql.lines().any(|l| l.starts_with("-- Deploy first: "));
    WORKLOADS
        .iter()
        .filter(|w| {
            sql.lines().any(|l| {
                l.starts_with("-- Phase ") && l.contains(&format!(" of {} (written by", w.subject))
            })
        })
        .map(|w| (w.subject, deploys))
        .collect()
}

/// The versions of each workload that run against the state after a file: the one deployed,
/// and the next one too when the next file deploys it first (it rolls out while the one before
/// still runs).
fn live(deployed: &[usize], next: Option<&Vec<(&'static str, bool)>>) -> Vec<Vec<usize>> {
    WORKLOADS
        .iter()
        .zip(deployed)
        .map(|(workload, &current)| {
            let deploys = next.is_some_and(|n| n.contains(&(workload.subject, true)));
            if deploys {
                vec![current, current + 1]
            } else {
                vec![current]
            }
        })
        .collect()
}

/// The application running against the phases: the values written so far (by workload, with
/// their row ids) and a counter for the next ids and values.
struct Application<'s> {
    session: &'s mut Client,
    written: Vec<Vec<(i64, String)>>,
    next: i64,
}

impl Application<'_> {
    /// Each `live` version (by workload) inserts a row and updates the row an earlier version
    /// wrote last; then every live version reads back every row written so far, and the row of
    /// the setup, with the value last written, whichever version wrote it.
    fn exercise(&mut self, live: &[Vec<usize>], when: &str) {
        for (w, workload) in WORKLOADS.iter().enumerate() {
            for &v in &live[w] {
                let version = &workload.versions[v];
                for template in [version.insert, version.update] {
                    self.next += 1;
                    let value = if workload.text {
                        format!("'{} {}'", workload.subject, self.next)
                    } else {
                        self.next.to_string()
                    };
                    let id = if template == version.insert || self.written[w].is_empty() {
                        workload.first_id + self.next
                    } else {
                        self.written[w].last().unwrap().0
                    };
                    let sql = template
                        .replace("{id}", &id.to_string())
                        .replace("{value}", &value);
                    if let Err(e) = self.session.batch_execute(&sql) {
                        let message = e
                            .as_db_error()
                            .map_or(e.to_string(), |d| d.message().to_owned());
                        panic!(
                            "{when}: version {v} of {}: `{sql}`: {message}",
                            workload.subject
                        );
                    }
                    if !version.read.is_empty() {
                        self.written[w].retain(|(i, _)| *i != id);
                        self.written[w].push((id, value.trim_matches('\'').to_owned()));
                    }
                }
            }
        }
        for (w, workload) in WORKLOADS.iter().enumerate() {
            for &v in &live[w] {
                let read = workload.versions[v].read;
                if read.is_empty() {
                    continue;
                }
                let seeded = (workload.seeded.0, workload.seeded.1.to_owned());
                for (id, value) in self.written[w].iter().chain([&seeded]) {
                    let sql = read.replace("{id}", &id.to_string());
                    assert_eq!(
                        text_rows(self.session, &sql),
                        std::slice::from_ref(value),
                        "{when}: version {v} of {} reads `{sql}`",
                        workload.subject
                    );
                }
            }
        }
    }
}

/// Each table's storage, by its oid (a rename keeps it): a new `relfilenode` means it was
/// rewritten.
fn storage(client: &mut Client) -> Vec<(u32, u32)> {
    client
        .query(
            "SELECT c.oid, c.relfilenode FROM pg_class c
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY c.oid",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// Apply the fixes of the phased plans for PostgreSQL `major` one at a time, as successive
/// `fix --write` runs do.
fn fix_all(dir: &Path, major: u32) {
    let settings = Settings::default()
        .framework(Framework::Plain)
        .pg_version(major)
        .unwrap();
    for _ in 0..20 {
        let report = lint_dir(dir, &settings).unwrap();
        let Some(fix) = fix::fixes(&report, &[]).find(|f| !f.new_files.is_empty()) else {
            return;
        };
        let applied = fix::apply([fix], &fix::sources(&report));
        for (path, text) in &applied.files {
            std::fs::write(path, text).unwrap();
        }
        for new in &applied.new_files {
            std::fs::write(&new.path, &new.contents).unwrap();
        }
    }
    panic!("the fixes do not converge");
}

/// Under CI the phases are proven on the servers `.ci/run` provisions.
#[test]
fn ci_provisions_the_servers() {
    assert_provisioned_under_ci();
}

#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh 12 15 18 -- cargo test -p migration-safety-e2e --test fix_phases"
)]
fn the_phases_take_no_long_lock_rewrite_nothing_and_end_with_the_original_schema() {
    for server in required_servers() {
        let major = server.major;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("0001_schema.sql"), SCHEMA).unwrap();
        std::fs::write(dir.path().join("0002_risky.sql"), RISKY).unwrap();
        fix_all(dir.path(), major);
        let files = migrations(dir.path());
        assert!(files.len() > 5, "{files:?}");
        let read = |file: &String| std::fs::read_to_string(dir.path().join(file)).unwrap();

        let mut original = server.observer("phases_original", SCHEMA);
        let before = storage(original.client());
        apply_migration(&mut original, "0002_risky.sql", RISKY);
        // The original rewrites `orders` (its type change): the comparison below can see one.
        assert_ne!(storage(original.client()), before, "PostgreSQL {major}");
        let (expected, expected_data) = (schema(original.client()), data(original.client()));
        assert!(
            expected.contains(&"column public.users.full_name text NOT NULL".to_owned()),
            "PostgreSQL {major}: {expected:?}"
        );
        drop(original);

        let mut observer = server.observer("phases_fixed", &read(&files[0]));
        let before = storage(observer.client());
        let plans: Vec<_> = files[1..].iter().map(|f| phases_of(&read(f))).collect();
        let mut session = server.session("phases_fixed", "application");
        let mut application = Application {
            session: &mut session,
            written: vec![Vec::new(); WORKLOADS.len()],
            next: 0,
        };
        let mut deployed = vec![0; WORKLOADS.len()];
        application.exercise(&live(&deployed, plans.first()), "before the plans");
        for (i, file) in files[1..].iter().enumerate() {
            for (statement, observation) in apply_migration(&mut observer, file, &read(file)) {
                assert!(
                    !blocks_traffic_for_long(&observation) && observation.rewrites.is_empty(),
                    "PostgreSQL {major}, {file}: `{statement}`: {observation:?}"
                );
                // A backfill commits each batch: it runs alone, its locks sampled (none blocks
                // writes, or the assertion above fails).
                if statement.starts_with("DO $$") {
                    assert_eq!(observation.method, Method::Sampled, "{file}");
                }
            }
            for (w, workload) in WORKLOADS.iter().enumerate() {
                if plans[i].contains(&(workload.subject, true)) {
                    deployed[w] += 1;
                }
            }
            let when = format!("PostgreSQL {major}, after {file}");
            application.exercise(&live(&deployed, plans.get(i + 1)), &when);
        }
        assert_eq!(
            deployed,
            vec![1; WORKLOADS.len()],
            "one deploy per plan: {plans:?}"
        );
        let client = observer.client();
        let after = storage(client);
        let kept: Vec<_> = after.iter().filter(|t| before.contains(t)).collect();
        assert_eq!(
            kept.len(),
            before.len(),
            "PostgreSQL {major}: rewritten: {before:?} -> {after:?}"
        );
        assert_eq!(schema(client), expected, "PostgreSQL {major}: {files:?}");
        assert_eq!(data(client), expected_data, "PostgreSQL {major}");
        drop((observer, session));
        server.drop_database("phases_original");
        server.drop_database("phases_fixed");
    }
}
