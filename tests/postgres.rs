//! migration-safety's claims, checked on a real PostgreSQL server.
//!
//! Each case is a migration history: `setup` (an earlier migration that creates the tables and
//! some rows) and one `statement`. The statement is linted as the later migration, then run on
//! the server inside a transaction, where the test observes the locks it holds (`pg_locks`),
//! whether it rewrote a table (its filenode changed) and whether it scanned one
//! (`pg_stat_xact_user_tables.seq_scan`). Every lock a finding names must be the lock the server
//! took, and each case states which rewrites, scans and errors the rules' verdicts imply.
//!
//! The server comes from `MIGRATION_SAFETY_TEST_PG` (a libpq connection string; `.ci/run`
//! starts one). Without it the test says so and does nothing, except under CI, where it fails.

use std::collections::BTreeMap;
use std::process::Command;

use migration_safety::{Settings, lint_paths};

struct Case {
    name: &'static str,
    setup: &'static str,
    statement: &'static str,
    /// Rules expected to report the statement.
    rules: &'static [&'static str],
    /// Tables whose data the statement must rewrite (and no others).
    rewrites: &'static [&'static str],
    /// Tables the statement must scan (a rewrite reads every row of a table; a refresh reads
    /// the view's sources), and no others.
    scans: &'static [&'static str],
    /// Extra locks the server must show (beyond the ones findings name): (table, mode).
    locks: &'static [(&'static str, &'static str)],
    /// The statement must fail on the server with this message.
    fails_with: Option<&'static str>,
}

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(20), name text, score numeric(10, 2), seen timestamp(3), age integer);
INSERT INTO users (id, email, name, score, seen, age) SELECT g, 'u' || g, 'n', g, now(), g FROM generate_series(1, 50) g;";

const ORDERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);
INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 10) g;
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id), amount integer);
INSERT INTO orders SELECT g, g, g FROM generate_series(1, 10) g;";

const fn case(
    name: &'static str,
    setup: &'static str,
    statement: &'static str,
    rules: &'static [&'static str],
) -> Case {
    Case {
        name,
        setup,
        statement,
        rules,
        rewrites: &[],
        scans: &[],
        locks: &[],
        fails_with: None,
    }
}

fn cases() -> Vec<Case> {
    const TIMEOUT: &str = "missing-lock-timeout";
    vec![
        case("rename column", USERS, "ALTER TABLE users RENAME COLUMN email TO email_address", &[TIMEOUT, "rename-column"]),
        case("rename table", USERS, "ALTER TABLE users RENAME TO people", &[TIMEOUT, "rename-table"]),
        Case {
            rewrites: &["users"],
            scans: &["users"],
            ..case("int to bigint", USERS, "ALTER TABLE users ALTER COLUMN age TYPE bigint", &[TIMEOUT, "change-column-type"])
        },
        Case {
            rewrites: &["users"],
            scans: &["users"],
            ..case("text to varchar(n)", USERS, "ALTER TABLE users ALTER COLUMN name TYPE varchar(10)", &[TIMEOUT, "change-column-type", "prefer-text"])
        },
        case("varchar widening", USERS, "ALTER TABLE users ALTER COLUMN email TYPE varchar(40)", &[TIMEOUT]),
        case("varchar to text", USERS, "ALTER TABLE users ALTER COLUMN email TYPE text", &[TIMEOUT]),
        case("numeric precision", USERS, "ALTER TABLE users ALTER COLUMN score TYPE numeric(12, 2)", &[TIMEOUT]),
        case("timestamp precision", USERS, "ALTER TABLE users ALTER COLUMN seen TYPE timestamp(6)", &[TIMEOUT]),
        Case {
            rewrites: &["users"],
            scans: &["users"],
            ..case("volatile default", USERS, "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()", &[TIMEOUT, "add-column-with-default"])
        },
        Case {
            rewrites: &["users"],
            scans: &["users"],
            ..case("clock_timestamp default", USERS, "ALTER TABLE users ADD COLUMN at timestamptz DEFAULT clock_timestamp()", &[TIMEOUT, "add-column-with-default"])
        },
        case("constant default", USERS, "ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true", &[TIMEOUT]),
        case("now() default", USERS, "ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now()", &[TIMEOUT]),
        Case {
            fails_with: Some("contains null values"),
            ..case("required column", USERS, "ALTER TABLE users ADD COLUMN tenant bigint NOT NULL", &[TIMEOUT, "add-column-required"])
        },
        Case {
            scans: &["users"],
            ..case("set not null", USERS, "ALTER TABLE users ALTER COLUMN email SET NOT NULL", &[TIMEOUT, "set-not-null"])
        },
        case(
            "set not null with validated check",
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);
             INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 50) g;
             ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;
             ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;",
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL",
            &[TIMEOUT],
        ),
        Case {
            scans: &["users"],
            ..case("create index", USERS, "CREATE INDEX users_email_idx ON users (email)", &[TIMEOUT, "create-index-non-concurrently"])
        },
        Case {
            fails_with: Some("cannot run inside a transaction block"),
            ..case("concurrently in a transaction", USERS, "BEGIN; CREATE INDEX CONCURRENTLY users_email_idx ON users (email)", &["concurrently-in-transaction"])
        },
        case("drop column", USERS, "ALTER TABLE users DROP COLUMN name", &[TIMEOUT, "drop-column"]),
        Case {
            locks: &[("users", "ACCESS EXCLUSIVE")],
            ..case("drop table referencing another", ORDERS, "DROP TABLE orders", &[TIMEOUT, "drop-table"])
        },
        Case {
            rewrites: &["users"],
            // As observed on PostgreSQL 15: the statistics count a scan for TRUNCATE.
            scans: &["users"],
            ..case("truncate (new relfilenode)", USERS, "TRUNCATE users", &[TIMEOUT, "truncate-table"])
        },
        case("lock table in share mode", USERS, "LOCK TABLE users IN SHARE MODE", &[TIMEOUT, "lock-table"]),
        Case {
            rewrites: &["users"],
            scans: &["users"],
            ..case("set unlogged", USERS, "ALTER TABLE users SET UNLOGGED", &[TIMEOUT, "table-rewrite"])
        },
        Case {
            rewrites: &["users"],
            scans: &["users"],
            ..case("cluster", USERS, "CLUSTER users USING users_pkey", &[TIMEOUT, "table-rewrite"])
        },
        Case {
            rewrites: &["totals"],
            scans: &["users"],
            ..case(
                "refresh materialized view",
                "CREATE TABLE users (id bigint PRIMARY KEY); CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM users;",
                "REFRESH MATERIALIZED VIEW totals",
                &[TIMEOUT, "refresh-materialized-view-non-concurrently"],
            )
        },
        case(
            "rename enum value",
            "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE users (id bigint PRIMARY KEY, m mood);",
            "ALTER TYPE mood RENAME VALUE 'ok' TO 'fine'",
            &["rename-enum-value"],
        ),
        Case {
            fails_with: Some("unsafe use of new value"),
            ..case(
                "new enum value used in the same transaction",
                "CREATE TYPE mood AS ENUM ('sad'); CREATE TABLE users (id bigint PRIMARY KEY, m mood);",
                "BEGIN; ALTER TYPE mood ADD VALUE 'happy'; INSERT INTO users VALUES (1, 'happy')",
                &["enum-value-in-transaction"],
            )
        },
        case("set schema", "CREATE SCHEMA lab_archive; CREATE TABLE users (id bigint PRIMARY KEY);", "ALTER TABLE users SET SCHEMA lab_archive", &[TIMEOUT, "set-schema"]),
        Case {
            fails_with: Some("cannot run inside a transaction block"),
            ..case("vacuum in a transaction", USERS, "BEGIN; VACUUM users", &["vacuum-in-transaction"])
        },
        Case {
            scans: &["users"],
            ..case("unbatched backfill", USERS, "UPDATE users SET name = 'x' WHERE name IS NOT NULL", &["unbatched-backfill"])
        },
        Case {
            scans: &["users"],
            ..case("add check constraint", USERS, "ALTER TABLE users ADD CONSTRAINT users_age_positive CHECK (age > 0)", &[TIMEOUT, "add-check-constraint"])
        },
        case("add check constraint not valid", USERS, "ALTER TABLE users ADD CONSTRAINT users_age_positive CHECK (age > 0) NOT VALID", &[TIMEOUT]),
        Case {
            // Validation reads the referencing table and probes the referenced one.
            scans: &["orders", "users"],
            ..case(
                "add foreign key",
                "CREATE TABLE users (id bigint PRIMARY KEY); INSERT INTO users SELECT generate_series(1, 10);
                 CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint); INSERT INTO orders SELECT g, g FROM generate_series(1, 10) g;",
                "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id)",
                &[TIMEOUT, "add-foreign-key", "foreign-key-without-index"],
            )
        },
        case(
            "add foreign key not valid",
            "CREATE TABLE users (id bigint PRIMARY KEY); CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);",
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID",
            &[TIMEOUT, "foreign-key-without-index"],
        ),
        Case {
            scans: &["users"],
            ..case("add unique constraint", USERS, "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)", &[TIMEOUT, "add-unique-constraint"])
        },
        Case {
            scans: &["users"],
            ..case(
                "add primary key",
                "CREATE TABLE users (id bigint, email text); INSERT INTO users SELECT g, 'u' FROM generate_series(1, 10) g;",
                "ALTER TABLE users ADD PRIMARY KEY (id)",
                &[TIMEOUT, "add-primary-key"],
            )
        },
        case("drop index", "CREATE TABLE users (id bigint PRIMARY KEY, email text); CREATE INDEX users_email_idx ON users (email);", "DROP INDEX users_email_idx", &[TIMEOUT, "drop-index-non-concurrently"]),
        Case {
            scans: &["users"],
            ..case("reindex table", USERS, "REINDEX TABLE users", &[TIMEOUT, "reindex-non-concurrently"])
        },
        Case {
            // REINDEX INDEX takes its SHARE lock on the index's table, which the finding names.
            scans: &["users"],
            ..case("reindex index", "CREATE TABLE users (id bigint PRIMARY KEY, email text); CREATE INDEX users_email_idx ON users (email);", "REINDEX INDEX users_email_idx", &[TIMEOUT, "reindex-non-concurrently"])
        },
        case(
            "create partition of an existing parent",
            "CREATE TABLE events (id bigint, at date) PARTITION BY RANGE (at);",
            "CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
            &[TIMEOUT, "create-table-partition-of"],
        ),
        case(
            "detach partition",
            "CREATE TABLE events (id bigint, at date) PARTITION BY RANGE (at);
             CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');",
            "ALTER TABLE events DETACH PARTITION events_2024",
            &[TIMEOUT, "detach-partition-non-concurrently"],
        ),
        Case {
            scans: &["events_2025"],
            ..case(
                "attach partition without a check",
                "CREATE TABLE events (id bigint, at date) PARTITION BY RANGE (at);
                 CREATE TABLE events_2025 (id bigint, at date); INSERT INTO events_2025 VALUES (1, '2025-06-01');",
                "ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                &[TIMEOUT, "attach-partition-without-check"],
            )
        },
        Case {
            scans: &["users"],
            ..case(
                "add exclusion constraint",
                "CREATE EXTENSION IF NOT EXISTS btree_gist; CREATE TABLE users (id bigint PRIMARY KEY, room int);",
                "ALTER TABLE users ADD CONSTRAINT users_room_excl EXCLUDE USING gist (room WITH =)",
                &[TIMEOUT, "add-exclusion-constraint"],
            )
        },
        Case {
            scans: &["users"],
            ..case(
                "validate in the transaction of the NOT VALID add",
                USERS,
                "BEGIN; ALTER TABLE users ADD CONSTRAINT users_age_positive CHECK (age > 0) NOT VALID; ALTER TABLE users VALIDATE CONSTRAINT users_age_positive",
                &[TIMEOUT, "validate-constraint-in-same-transaction"],
            )
        },
        Case {
            scans: &["users"],
            ..case(
                "domain constraint",
                "CREATE DOMAIN score AS integer; CREATE TABLE users (id bigint PRIMARY KEY, s score); INSERT INTO users VALUES (1, 5);",
                "ALTER DOMAIN score ADD CONSTRAINT score_positive CHECK (VALUE > 0)",
                &["add-domain-constraint"],
            )
        },
        Case {
            rewrites: &["users"],
            scans: &["users"],
            ..case("add serial column", USERS, "ALTER TABLE users ADD COLUMN seq bigserial", &[TIMEOUT, "add-column-rewrites-table", "prefer-identity"])
        },
        case("create policy", USERS, "CREATE POLICY users_self ON users USING (true)", &[TIMEOUT]),
        case(
            "alter view",
            "CREATE TABLE users (id bigint PRIMARY KEY); CREATE VIEW active_users AS SELECT * FROM users;",
            "ALTER VIEW active_users RENAME TO current_users",
            &[TIMEOUT, "rename-view"],
        ),
        case(
            "alter trigger",
            "CREATE TABLE users (id bigint PRIMARY KEY);
             CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
             CREATE TRIGGER touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();",
            "ALTER TRIGGER touch ON users RENAME TO touch_users",
            &[TIMEOUT],
        ),
        // Binary-coercible type changes (issue #10): no rewrite on PostgreSQL 12–18.
        case(
            "citext to text, varchar to citext",
            "CREATE EXTENSION IF NOT EXISTS citext; CREATE TABLE users (id bigint PRIMARY KEY, email citext, handle varchar(20));
             INSERT INTO users SELECT g, 'u' || g, 'h' FROM generate_series(1, 20) g;",
            "ALTER TABLE users ALTER COLUMN email TYPE text, ALTER COLUMN handle TYPE citext",
            &[TIMEOUT],
        ),
        Case {
            // The index on the column is rebuilt (a new index, which scans the table); the table is not.
            scans: &["users"],
            ..case(
                "text to citext with an index",
                "CREATE EXTENSION IF NOT EXISTS citext; CREATE TABLE users (id bigint PRIMARY KEY, email text);
                 CREATE INDEX users_email_idx ON users (email); INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 20) g;",
                "ALTER TABLE users ALTER COLUMN email TYPE citext",
                &[TIMEOUT, "change-column-type"],
            )
        },
        case(
            "precision up to the maximum, cidr to inet, serial to integer",
            "CREATE TABLE users (id serial PRIMARY KEY, seen timestamp(3), wait interval(2), at time(1), net cidr);
             INSERT INTO users (seen, wait, at, net) SELECT now(), '1 day', now(), '10.0.0.0/8' FROM generate_series(1, 20);",
            "ALTER TABLE users ALTER COLUMN seen TYPE timestamp, ALTER COLUMN wait TYPE interval(6), ALTER COLUMN at TYPE time, ALTER COLUMN net TYPE inet, ALTER COLUMN id TYPE integer",
            &[TIMEOUT],
        ),
        case("using the column cast to the new type", USERS, "ALTER TABLE users ALTER COLUMN email TYPE varchar(40) USING email::varchar(40)", &[TIMEOUT]),
        Case {
            rewrites: &["users"],
            scans: &["users"],
            ..case("using an expression", USERS, "ALTER TABLE users ALTER COLUMN email TYPE varchar(40) USING upper(email)", &[TIMEOUT, "change-column-type"])
        },
        case(
            "timestamp to timestamptz with the session in UTC",
            USERS,
            "SET TIME ZONE 'UTC'; ALTER TABLE users ALTER COLUMN seen TYPE timestamptz",
            &[TIMEOUT],
        ),
        Case {
            rewrites: &["users"],
            scans: &["users"],
            ..case(
                "timestamp to timestamptz in another time zone",
                USERS,
                "SET TIME ZONE 'Europe/Paris'; ALTER TABLE users ALTER COLUMN seen TYPE timestamptz",
                &[TIMEOUT, "change-column-type"],
            )
        },
        Case {
            rewrites: &["users"],
            scans: &["users"],
            ..case("cluster, the old syntax", USERS, "CLUSTER users_pkey ON users", &[TIMEOUT, "table-rewrite"])
        },
        Case {
            fails_with: Some("REINDEX CONCURRENTLY cannot run inside a transaction block"),
            ..case("reindex with the option list", USERS, "BEGIN; REINDEX (CONCURRENTLY) TABLE users", &["concurrently-in-transaction"])
        },
        case("a custom setting is not lock_timeout", USERS, "SET app.lock_timeout = '5s'; ALTER TABLE users ADD COLUMN nickname text", &[TIMEOUT]),
        case(
            "dropping a column named like a keyword",
            "CREATE TABLE users (id bigint PRIMARY KEY, index int);",
            "ALTER TABLE users DROP index",
            &[TIMEOUT, "drop-column"],
        ),
        // Claims corrected by issue #10 (measured on PostgreSQL 12–18; these cases run on the
        // server the suite is given).
        Case {
            locks: &[("users", "SHARE ROW EXCLUSIVE")],
            ..case("add column references without a default: no scan", ORDERS, "ALTER TABLE orders ADD COLUMN buyer_id bigint REFERENCES users (id)", &[TIMEOUT, "foreign-key-without-index"])
        },
        Case {
            scans: &["orders", "users"],
            ..case("add column references with a default: a scan", ORDERS, "ALTER TABLE orders ADD COLUMN buyer_id bigint DEFAULT 1 REFERENCES users (id)", &[TIMEOUT, "add-foreign-key", "foreign-key-without-index"])
        },
        case(
            "rename schema: no lock, a rename",
            "CREATE SCHEMA lab_archive; CREATE TABLE lab_archive.invoices (id bigint PRIMARY KEY);",
            "ALTER SCHEMA lab_archive RENAME TO lab_archive_old",
            &["set-schema"],
        ),
        Case {
            scans: &["orders"],
            locks: &[("orders", "SHARE")],
            ..case(
                "validate a domain constraint: SHARE and a scan",
                "CREATE DOMAIN price AS numeric; CREATE TABLE orders (id bigint PRIMARY KEY, total price);
                 INSERT INTO orders SELECT g, g FROM generate_series(1, 10) g;
                 ALTER DOMAIN price ADD CONSTRAINT price_positive CHECK (VALUE > 0) NOT VALID;",
                "ALTER DOMAIN price VALIDATE CONSTRAINT price_positive",
                &["add-domain-constraint"],
            )
        },
        case("set tablespace to the current one: no copy, still ACCESS EXCLUSIVE", USERS, "ALTER TABLE users SET TABLESPACE pg_default", &[TIMEOUT, "table-rewrite"]),
        // Rules added by issue #10.
        Case {
            fails_with: Some("violates not-null constraint"),
            ..case(
                "drop the default of a required column: the old release's insert fails",
                "CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'new');",
                "ALTER TABLE orders ALTER COLUMN status DROP DEFAULT; INSERT INTO orders (id) VALUES (1)",
                &[TIMEOUT, "drop-required-column-default"],
            )
        },
        Case {
            scans: &["accounts"],
            ..case(
                "primary key using an index on a nullable column: a scan",
                "CREATE TABLE accounts (id bigint, code text); INSERT INTO accounts SELECT g, 'c' || g FROM generate_series(1, 10) g;
                 CREATE UNIQUE INDEX accounts_code_key ON accounts (code);",
                "ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX accounts_code_key",
                &[TIMEOUT, "primary-key-on-nullable-column"],
            )
        },
        case(
            "primary key using an index on a NOT NULL column: no scan",
            "CREATE TABLE accounts (id bigint, code text NOT NULL); INSERT INTO accounts SELECT g, 'c' || g FROM generate_series(1, 10) g;
             CREATE UNIQUE INDEX accounts_code_key ON accounts (code);",
            "ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX accounts_code_key",
            &[TIMEOUT],
        ),
        Case {
            locks: &[("active_users", "ACCESS EXCLUSIVE")],
            ..case(
                "drop a view",
                "CREATE TABLE users (id bigint PRIMARY KEY); CREATE VIEW active_users AS SELECT * FROM users;",
                "DROP VIEW active_users",
                &[TIMEOUT, "drop-object"],
            )
        },
        Case {
            fails_with: Some("function normalize_email(unknown) does not exist"),
            ..case(
                "drop a function: its callers fail",
                "CREATE FUNCTION normalize_email(e text) RETURNS text LANGUAGE sql AS 'SELECT lower(e)';",
                "DROP FUNCTION normalize_email(text); SELECT normalize_email('A')",
                &["drop-object"],
            )
        },
        case(
            "drop a trigger",
            "CREATE TABLE users (id bigint PRIMARY KEY);
             CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
             CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();",
            "DROP TRIGGER users_touch ON users",
            &[TIMEOUT, "drop-object"],
        ),
        case(
            "drop the default of a nullable column",
            "CREATE TABLE users (id bigint PRIMARY KEY, note text DEFAULT '');",
            "ALTER TABLE users ALTER COLUMN note DROP DEFAULT",
            &[TIMEOUT, "drop-object"],
        ),
        Case {
            // The foreign key check of the DELETE reads the whole referencing table.
            scans: &["orders"],
            ..case(
                "delete from a table whose referencing side has no index",
                "CREATE TABLE users (id bigint PRIMARY KEY); INSERT INTO users SELECT generate_series(1, 10);
                 CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));
                 INSERT INTO orders SELECT g, 1 FROM generate_series(1, 10) g;",
                "DELETE FROM users WHERE id = 10",
                &[],
            )
        },
        Case {
            fails_with: Some("DROP DATABASE cannot run inside a transaction block"),
            ..case("drop database", USERS, "DROP DATABASE lab_never_created", &["drop-database"])
        },
        Case {
            fails_with: Some("other objects depend on it"),
            ..case(
                "drop an extension a column uses",
                "CREATE EXTENSION IF NOT EXISTS citext; CREATE TABLE users (id bigint PRIMARY KEY, email citext);",
                "DROP EXTENSION citext",
                &["extension-in-migration"],
            )
        },
        case("create an extension: no lock on existing tables", USERS, "CREATE EXTENSION citext", &["extension-in-migration"]),
        // ALTER TABLE forms PostgreSQL's grammar rejects.
        Case {
            fails_with: Some("syntax error"),
            ..case("column constraint with a column list", USERS, "ALTER TABLE users ADD COLUMN nickname text UNIQUE (nickname)", &["syntax-error"])
        },
        Case {
            fails_with: Some("syntax error"),
            ..case("IF NOT EXISTS after the column name", USERS, "ALTER TABLE users ADD COLUMN nickname IF NOT EXISTS text", &["syntax-error"])
        },
        Case {
            fails_with: Some("syntax error"),
            ..case("a missing semicolon between two ALTER TABLEs", USERS, "ALTER TABLE users ADD COLUMN nickname text ALTER TABLE users ADD COLUMN bio text", &["syntax-error"])
        },
        case(
            "create trigger",
            "CREATE TABLE users (id bigint PRIMARY KEY);
             CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;",
            "CREATE TRIGGER touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()",
            &[TIMEOUT],
        ),
    ]
}

/// What the server did.
#[derive(Debug, Default)]
struct Observed {
    /// Strongest lock per table.
    locks: BTreeMap<String, String>,
    rewrites: Vec<String>,
    scans: Vec<String>,
    error: Option<String>,
}

struct Server {
    url: String,
}

impl Server {
    fn psql(&self, script: &str) -> Result<String, String> {
        let output = Command::new("psql")
            .args([
                self.url.as_str(),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                script,
            ])
            .output()
            .expect("psql runs");
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    fn major(&self) -> u32 {
        let num: u32 = self
            .psql("SHOW server_version_num")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        num / 10000
    }

    fn observe(&self, case: &Case) -> Observed {
        let reset = "DROP SCHEMA IF EXISTS lab, lab_archive CASCADE; CREATE SCHEMA lab;";
        self.psql(reset).unwrap();
        self.psql(&format!("SET search_path = lab; {}", case.setup))
            .unwrap();
        // `BEGIN; …` statements bring their own transaction block; others get one here.
        let statement = case
            .statement
            .strip_prefix("BEGIN; ")
            .unwrap_or(case.statement);
        let script = format!(
            "SET search_path = lab;
             BEGIN;
             CREATE TEMP TABLE before_statement AS
               SELECT c.oid, c.relname::text AS relname, pg_relation_filenode(c.oid) AS filenode
               FROM pg_class c WHERE c.relnamespace = 'lab'::regnamespace AND c.relkind IN ('r', 'p', 'm', 'v');
             {statement};
             SELECT 'lock|' || b.relname || '|' || l.mode
               FROM pg_locks l JOIN before_statement b ON b.oid = l.relation
               WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation';
             SELECT 'rewrite|' || b.relname FROM before_statement b JOIN pg_class c ON c.oid = b.oid
               WHERE pg_relation_filenode(c.oid) IS DISTINCT FROM b.filenode;
             SELECT 'scan|' || s.relname FROM pg_stat_xact_user_tables s
               WHERE s.schemaname = 'lab' AND s.seq_scan > 0 ORDER BY 1;
             ROLLBACK;"
        );
        let mut observed = Observed::default();
        match self.psql(&script) {
            Err(error) => observed.error = Some(error),
            Ok(out) => {
                for line in out.lines() {
                    let parts: Vec<&str> = line.split('|').collect();
                    match parts.as_slice() {
                        ["lock", table, mode] => {
                            let mode = lock_name(mode);
                            let entry = observed.locks.entry((*table).to_owned()).or_default();
                            if strength(&mode) > strength(entry) {
                                *entry = mode;
                            }
                        }
                        ["rewrite", table] => observed.rewrites.push((*table).to_owned()),
                        ["scan", table] => observed.scans.push((*table).to_owned()),
                        _ => {}
                    }
                }
            }
        }
        observed
    }
}

/// `AccessExclusiveLock` → `ACCESS EXCLUSIVE`.
fn lock_name(mode: &str) -> String {
    let mode = mode.trim_end_matches("Lock");
    let mut out = String::new();
    for c in mode.chars() {
        if c.is_uppercase() && !out.is_empty() {
            out.push(' ');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn strength(mode: &str) -> usize {
    const ORDER: [&str; 8] = [
        "ACCESS SHARE",
        "ROW SHARE",
        "ROW EXCLUSIVE",
        "SHARE UPDATE EXCLUSIVE",
        "SHARE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    ];
    ORDER.iter().position(|m| *m == mode).map_or(0, |i| i + 1)
}

/// The `(table, mode)` lock claims in a finding's message: "… ACCESS EXCLUSIVE lock on `users` …".
fn claimed_locks(message: &str) -> Vec<(String, String)> {
    let pattern = regex::Regex::new(
        r"(ACCESS EXCLUSIVE|SHARE ROW EXCLUSIVE|SHARE UPDATE EXCLUSIVE|ROW EXCLUSIVE|EXCLUSIVE|SHARE) lock on `([^`]+)`",
    )
    .unwrap();
    pattern
        .captures_iter(message)
        .map(|c| (c[2].to_owned(), c[1].to_owned()))
        .collect()
}

fn lint(case: &Case, pg_version: u32) -> Vec<(&'static str, String)> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1_setup.sql"), case.setup).unwrap();
    // A case that opens a transaction block runs inside it to its end, as if committed there.
    let commit = if case.statement.starts_with("BEGIN; ") {
        "\nCOMMIT;"
    } else {
        ""
    };
    std::fs::write(
        dir.path().join("2_change.sql"),
        format!("{};{commit}\n", case.statement),
    )
    .unwrap();
    let settings = Settings::default().pg_version(pg_version).unwrap();
    let report = lint_paths(&[dir.path().to_path_buf()], &settings).unwrap();
    report
        .files
        .iter()
        .filter(|f| f.path.ends_with("2_change.sql"))
        .flat_map(|f| f.diagnostics.iter().map(|d| (d.rule, d.message.clone())))
        .collect()
}

#[test]
fn claims_hold_on_a_real_server() {
    let Ok(url) = std::env::var("MIGRATION_SAFETY_TEST_PG") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "MIGRATION_SAFETY_TEST_PG is not set: .ci/run must start PostgreSQL for this test"
        );
        eprintln!(
            "skipped: set MIGRATION_SAFETY_TEST_PG to a PostgreSQL connection string to run it"
        );
        return;
    };
    let server = Server { url };
    let major = server.major();
    let mut failures = Vec::new();
    let mut claims_checked = 0;
    let cases = cases();
    for case in &cases {
        let findings = lint(
            case,
            major.min(migration_safety::SUPPORTED_PG_VERSIONS.end().to_owned()),
        );
        let observed = server.observe(case);
        let mut fail =
            |what: String| failures.push(format!("{} (PostgreSQL {major}): {what}", case.name));
        let mut rules: Vec<_> = findings.iter().map(|(rule, _)| *rule).collect();
        rules.sort_unstable();
        rules.dedup();
        let mut expected_rules = case.rules.to_vec();
        expected_rules.sort_unstable();
        if rules != expected_rules {
            fail(format!("rules {rules:?}, expected {expected_rules:?}"));
        }
        match (&observed.error, case.fails_with) {
            (Some(error), Some(expected)) if error.contains(expected) => continue,
            (Some(error), _) => {
                fail(format!("the server rejected it: {error}"));
                continue;
            }
            (None, Some(expected)) => {
                fail(format!("expected the server to fail with `{expected}`"))
            }
            (None, None) => {}
        }
        for (_, message) in &findings {
            for (table, mode) in claimed_locks(message) {
                claims_checked += 1;
                let held = observed.locks.get(&table).map_or("no lock", String::as_str);
                if held != mode {
                    fail(format!(
                        "a finding claims {mode} on `{table}`, the server took {held}"
                    ));
                }
            }
        }
        for (table, mode) in case.locks {
            let held = observed.locks.get(*table).map_or("no lock", String::as_str);
            if held != *mode {
                fail(format!(
                    "expected {mode} on `{table}`, the server took {held}"
                ));
            }
        }
        if observed.rewrites != case.rewrites {
            fail(format!(
                "rewrote {:?}, expected {:?}",
                observed.rewrites, case.rewrites
            ));
        }
        if observed.scans != case.scans {
            fail(format!(
                "scanned {:?}, expected {:?}",
                observed.scans, case.scans
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Guard against a wording change that would leave no claim to check: every
    // `missing-lock-timeout` finding names the lock it waits for.
    let timeout_cases = cases
        .iter()
        .filter(|c| c.rules.contains(&"missing-lock-timeout"))
        .count();
    assert!(
        claims_checked >= timeout_cases,
        "only {claims_checked} lock claims were found in the messages of {timeout_cases} cases with a missing-lock-timeout finding"
    );
}

/// Frameworks that send a whole file as one query: PostgreSQL runs the statements of one query
/// in an implicit transaction, so `CREATE INDEX CONCURRENTLY` fails unless it is alone, and the
/// linter says so for a sqlx file that opted out of sqlx's own transaction.
#[test]
fn one_query_with_several_statements_is_one_transaction() {
    let Ok(url) = std::env::var("MIGRATION_SAFETY_TEST_PG") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "MIGRATION_SAFETY_TEST_PG is not set"
        );
        eprintln!("skipped: set MIGRATION_SAFETY_TEST_PG to run it");
        return;
    };
    let server = Server { url };
    server
        .psql("DROP SCHEMA IF EXISTS lab_query CASCADE; CREATE SCHEMA lab_query; CREATE TABLE lab_query.users (id bigint, email text);")
        .unwrap();
    // `psql -c` sends its string as one simple-protocol query, as sqlx does with a file.
    let together = server.psql("SET lock_timeout = '5s'; CREATE INDEX CONCURRENTLY users_email_idx ON lab_query.users (email)");
    assert!(
        together
            .as_ref()
            .is_err_and(|e| e.contains("cannot run inside a transaction block")),
        "{together:?}"
    );
    let alone = server.psql("CREATE INDEX CONCURRENTLY users_email_idx ON lab_query.users (email)");
    assert!(alone.is_ok(), "{alone:?}");
    server.psql("DROP SCHEMA lab_query CASCADE").unwrap();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1_create.sql"),
        "CREATE TABLE users (id bigint, email text);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2_index.sql"),
        "-- no-transaction\nSET lock_timeout = '5s';\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
    )
    .unwrap();
    let settings = Settings::default().framework(migration_safety::Framework::Sqlx);
    let report = lint_paths(&[dir.path().to_path_buf()], &settings).unwrap();
    assert!(
        report
            .diagnostics()
            .any(|(_, d)| d.rule == "concurrently-in-transaction"),
        "{}",
        report.to_human(false)
    );
}

/// The server to check claims on, or `None` (with a note) outside CI when none is configured.
fn server_or_skip() -> Option<Server> {
    let Ok(url) = std::env::var("MIGRATION_SAFETY_TEST_PG") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "MIGRATION_SAFETY_TEST_PG is not set"
        );
        eprintln!("skipped: set MIGRATION_SAFETY_TEST_PG to run it");
        return None;
    };
    Some(Server { url })
}

/// A session that runs `script` and then stays open, idle in its transaction, until dropped.
struct HeldSession {
    child: std::process::Child,
}

impl HeldSession {
    fn start(server: &Server, name: &str, script: &str) -> Self {
        use std::io::Write;
        let url = server.named_url(name);
        let mut child = Command::new("psql")
            .args([url.as_str(), "-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("psql runs");
        writeln!(child.stdin.as_mut().unwrap(), "{script}").unwrap();
        child.stdin.as_mut().unwrap().flush().unwrap();
        // Wait until the session sits idle inside its transaction (the script has run).
        let query = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{name}' AND state = 'idle in transaction'"
        );
        let held = Self { child };
        let idle = server.poll(&query, |count| count.trim() == "1");
        assert_eq!(
            idle.trim(),
            "1",
            "the held session `{name}` never became idle in its transaction"
        );
        held
    }
}

impl Server {
    /// The server's URL, with `name` as the session's `application_name`.
    fn named_url(&self, name: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}application_name={name}", self.url)
    }

    /// Runs `query` until `done` accepts its output (for up to 30 seconds); the last output.
    fn poll(&self, query: &str, done: impl Fn(&str) -> bool) -> String {
        let mut output = String::new();
        for _ in 0..600 {
            output = self.psql(query).unwrap();
            if done(&output) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        output
    }

    /// Starts `statement` in its own session named `name`, outside any transaction block,
    /// after `SET lock_timeout = '60s'` (which only bounds a statement that is never let go).
    fn spawn(&self, name: &str, statement: &str) -> std::process::Child {
        Command::new("psql")
            .args([
                self.named_url(name).as_str(),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .args(["-c", "SET lock_timeout = '60s'", "-c", statement])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("psql runs")
    }
}

impl Drop for HeldSession {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Concurrent index operations wait for every older snapshot, read-only ones too, and a plain
/// REINDEX blocks every newly planned read of the table, not only reads using the index. Each
/// wait is shown by a short `lock_timeout` expiring while another session holds the snapshot or
/// the lock.
#[test]
fn concurrent_index_operations_wait_for_readers() {
    let Some(server) = server_or_skip() else {
        return;
    };
    server
        .psql(
            "DROP SCHEMA IF EXISTS lab_wait CASCADE; CREATE SCHEMA lab_wait;
             CREATE TABLE lab_wait.t (id bigint PRIMARY KEY, a int);
             INSERT INTO lab_wait.t SELECT g, g FROM generate_series(1, 1000) g;
             CREATE INDEX t_a_idx ON lab_wait.t (a);",
        )
        .unwrap();
    // A read-only transaction with a snapshot: CREATE INDEX, REINDEX and DROP INDEX
    // CONCURRENTLY all wait for it.
    {
        let _reader = HeldSession::start(
            &server,
            "ms_reader",
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM lab_wait.t;",
        );
        for statement in [
            "CREATE INDEX CONCURRENTLY t_a2_idx ON lab_wait.t (a)",
            "REINDEX INDEX CONCURRENTLY lab_wait.t_a_idx",
            "DROP INDEX CONCURRENTLY lab_wait.t_a_idx",
        ] {
            // Separate `-c` options: separate queries, so no implicit transaction block.
            let output = Command::new("psql")
                .args([server.url.as_str(), "-X", "-q", "-v", "ON_ERROR_STOP=1"])
                .args(["-c", "SET lock_timeout = '500ms'", "-c", statement])
                .output()
                .expect("psql runs");
            let result = if output.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&output.stderr).into_owned())
            };
            assert!(
                result.as_ref().is_err_and(|e| e.contains("lock timeout")),
                "{statement}: {result:?}"
            );
        }
    }
    // The failed concurrent builds left invalid indexes behind.
    server
        .psql("DROP INDEX IF EXISTS lab_wait.t_a2_idx, lab_wait.t_a_idx_ccnew")
        .unwrap();
    // A plain REINDEX INDEX held open: a sequential-scan count of the table cannot even be planned.
    {
        let _reindex = HeldSession::start(
            &server,
            "ms_reindex",
            "BEGIN; REINDEX INDEX lab_wait.t_a_idx;",
        );
        let read = server.psql(
            "SET lock_timeout = '500ms'; SET enable_indexscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM lab_wait.t",
        );
        assert!(
            read.as_ref().is_err_and(|e| e.contains("lock timeout")),
            "{read:?}"
        );
    }
    server.psql("DROP SCHEMA lab_wait CASCADE").unwrap();
}

/// The last step of the partitioned-index recipe takes ACCESS EXCLUSIVE on the child index.
#[test]
fn attaching_a_partition_index_locks_it_access_exclusive() {
    let Some(server) = server_or_skip() else {
        return;
    };
    server
        .psql(
            "DROP SCHEMA IF EXISTS lab_attach CASCADE; CREATE SCHEMA lab_attach;
             CREATE TABLE lab_attach.events (id bigint, at date) PARTITION BY RANGE (at);
             CREATE TABLE lab_attach.events_2024 PARTITION OF lab_attach.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
             CREATE INDEX events_at_idx ON ONLY lab_attach.events (at);
             CREATE INDEX events_2024_at_idx ON lab_attach.events_2024 (at);",
        )
        .unwrap();
    let modes = server
        .psql(
            "BEGIN;
             ALTER INDEX lab_attach.events_at_idx ATTACH PARTITION lab_attach.events_2024_at_idx;
             SELECT l.mode FROM pg_locks l WHERE l.pid = pg_backend_pid()
               AND l.relation = 'lab_attach.events_2024_at_idx'::regclass;
             ROLLBACK;",
        )
        .unwrap();
    assert!(modes.lines().any(|m| m == "AccessExclusiveLock"), "{modes}");
    server.psql("DROP SCHEMA lab_attach CASCADE").unwrap();
}

/// A failed unique build leaves an INVALID index, which `IF NOT EXISTS` then keeps.
#[test]
fn concurrently_if_not_exists_keeps_an_invalid_index() {
    let Some(server) = server_or_skip() else {
        return;
    };
    server
        .psql(
            "DROP SCHEMA IF EXISTS lab_invalid CASCADE; CREATE SCHEMA lab_invalid;
             CREATE TABLE lab_invalid.t (id bigint, code int); INSERT INTO lab_invalid.t VALUES (1, 1), (2, 1);",
        )
        .unwrap();
    let first = server.psql("CREATE UNIQUE INDEX CONCURRENTLY t_code_key ON lab_invalid.t (code)");
    assert!(first.is_err(), "{first:?}");
    let retry = server
        .psql("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_code_key ON lab_invalid.t (code)");
    assert!(retry.is_ok(), "{retry:?}");
    let valid = server
        .psql(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'lab_invalid.t_code_key'::regclass",
        )
        .unwrap();
    assert_eq!(valid.trim(), "f");
    server.psql("DROP SCHEMA lab_invalid CASCADE").unwrap();
    let report = migration_safety::lint_sql(
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_code_key ON t (code);",
        &Settings::default(),
    );
    assert!(
        report
            .diagnostics()
            .any(|(_, d)| d.rule == "concurrently-if-not-exists"),
        "{}",
        report.to_human(false)
    );
}

/// PostgreSQL does not nest transactions: it only warns about a second BEGIN and about a
/// COMMIT with no transaction open.
#[test]
fn unbalanced_transaction_statements_only_warn() {
    let Some(server) = server_or_skip() else {
        return;
    };
    let warnings = |script: &str| {
        let output = Command::new("psql")
            .args([server.url.as_str(), "-X", "-q", "-c", script])
            .output()
            .expect("psql runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(
        warnings("BEGIN; BEGIN; COMMIT;").contains("there is already a transaction in progress")
    );
    assert!(warnings("COMMIT").contains("there is no transaction in progress"));
}

/// `ALTER TYPE … DROP VALUE` fails on every major: a syntax error before 17, not implemented
/// from 17 on.
#[test]
fn enum_values_cannot_be_dropped() {
    let Some(server) = server_or_skip() else {
        return;
    };
    let major = server.major();
    server
        .psql("DROP SCHEMA IF EXISTS lab_enum CASCADE; CREATE SCHEMA lab_enum; CREATE TYPE lab_enum.mood AS ENUM ('sad', 'ok');")
        .unwrap();
    let result = server.psql("ALTER TYPE lab_enum.mood DROP VALUE 'ok'");
    let expected = if major >= 17 {
        "dropping an enum value is not implemented"
    } else {
        "syntax error"
    };
    assert!(
        result.as_ref().is_err_and(|e| e.contains(expected)),
        "PostgreSQL {major}: {result:?}"
    );
    server.psql("DROP SCHEMA lab_enum CASCADE").unwrap();
    let report = migration_safety::lint_sql(
        "CREATE TYPE mood AS ENUM ('sad', 'ok');\nALTER TYPE mood DROP VALUE 'ok';",
        &Settings::default().pg_version(major.min(18)).unwrap(),
    );
    assert!(
        report.diagnostics().any(|(_, d)| d.rule == "drop-object"),
        "{}",
        report.to_human(false)
    );
}

/// `DETACH PARTITION … CONCURRENTLY` (PostgreSQL 14+) still requests an ACCESS EXCLUSIVE lock
/// on the partition in its second transaction, so it queues behind a running reader of the
/// partition: while the reader's transaction is open, `pg_locks` shows the detaching session's
/// ACCESS EXCLUSIVE request on the partition, not granted. Before 14 the form is a syntax error.
#[test]
fn detach_concurrently_queues_behind_readers_of_the_partition() {
    let Some(server) = server_or_skip() else {
        return;
    };
    server
        .psql(
            "DROP SCHEMA IF EXISTS lab_detach CASCADE; CREATE SCHEMA lab_detach;
             CREATE TABLE lab_detach.events (id bigint, at date) PARTITION BY RANGE (at);
             CREATE TABLE lab_detach.events_2024 PARTITION OF lab_detach.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');",
        )
        .unwrap();
    let detach =
        "ALTER TABLE lab_detach.events DETACH PARTITION lab_detach.events_2024 CONCURRENTLY";
    if server.major() < 14 {
        let result = server.psql(detach);
        assert!(
            result.as_ref().is_err_and(|e| e.contains("syntax error")),
            "{result:?}"
        );
        server.psql("DROP SCHEMA lab_detach CASCADE").unwrap();
        return;
    }
    let reader = HeldSession::start(
        &server,
        "ms_partition_reader",
        "BEGIN; SELECT count(*) FROM lab_detach.events_2024;",
    );
    let detacher = server.spawn("ms_detacher", detach);
    let waiting = "SELECT l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                   WHERE a.application_name = 'ms_detacher' AND NOT l.granted
                     AND l.relation = 'lab_detach.events_2024'::regclass";
    let modes = server.poll(waiting, |modes| !modes.trim().is_empty());
    assert_eq!(modes.trim(), "AccessExclusiveLock");
    // The reader still holds its ACCESS SHARE lock on the partition.
    let held = server
        .psql(
            "SELECT l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE a.application_name = 'ms_partition_reader' AND l.granted
               AND l.relation = 'lab_detach.events_2024'::regclass",
        )
        .unwrap();
    assert_eq!(held.trim(), "AccessShareLock");
    // Once the reader ends, the detach completes.
    drop(reader);
    let output = detacher.wait_with_output().expect("psql runs");
    assert!(output.status.success(), "{output:?}");
    let parents = server
        .psql(
            "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'lab_detach.events_2024'::regclass",
        )
        .unwrap();
    assert_eq!(parents.trim(), "0");
    server.psql("DROP SCHEMA lab_detach CASCADE").unwrap();
}

/// `DROP INDEX CONCURRENTLY` and `REINDEX INDEX CONCURRENTLY` end by taking an ACCESS EXCLUSIVE
/// lock on the old index, to remove it. To catch that final step, another session holds a row
/// lock on the old index's `pg_attribute` rows, which the final step deletes: the statement
/// then stops there, waiting for that transaction, and `pg_locks` shows it holding ACCESS
/// EXCLUSIVE on the old index's OID. (The earlier steps' waits for older transactions are
/// `concurrent_index_operations_wait_for_readers`.)
#[test]
fn concurrent_index_drops_end_with_access_exclusive_on_the_old_index() {
    let Some(server) = server_or_skip() else {
        return;
    };
    server
        .psql(
            "DROP SCHEMA IF EXISTS lab_final CASCADE; CREATE SCHEMA lab_final;
             CREATE TABLE lab_final.t (id bigint PRIMARY KEY, a int);
             INSERT INTO lab_final.t SELECT g, g FROM generate_series(1, 1000) g;",
        )
        .unwrap();
    for (step, statement) in [
        "DROP INDEX CONCURRENTLY lab_final.t_a_idx",
        "REINDEX INDEX CONCURRENTLY lab_final.t_a_idx",
    ]
    .into_iter()
    .enumerate()
    {
        server
            .psql(
                "DROP INDEX IF EXISTS lab_final.t_a_idx; CREATE INDEX t_a_idx ON lab_final.t (a);",
            )
            .unwrap();
        let old_index = server
            .psql("SELECT 'lab_final.t_a_idx'::regclass::oid")
            .unwrap()
            .trim()
            .to_owned();
        let catalog_row_lock = HeldSession::start(
            &server,
            &format!("ms_catalog_rows_{step}"),
            &format!(
                "BEGIN; SELECT attnum FROM pg_attribute WHERE attrelid = {old_index} FOR KEY SHARE;"
            ),
        );
        let running = server.spawn(&format!("ms_index_final_{step}"), statement);
        // Stopped in its final step: waiting for the row lock's transaction.
        let locks = format!(
            "SELECT l.locktype || ' ' || l.mode || ' ' || l.granted FROM pg_locks l
               JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE a.application_name = 'ms_index_final_{step}'
               AND (l.relation = {old_index} OR l.locktype = 'transactionid')
             ORDER BY 1"
        );
        let observed = server.poll(&locks, |l| l.contains("transactionid ShareLock false"));
        assert!(
            observed.contains("transactionid ShareLock false"),
            "{statement}: {observed}"
        );
        assert!(
            observed
                .lines()
                .any(|l| l == "relation AccessExclusiveLock true"),
            "{statement}: {observed}"
        );
        drop(catalog_row_lock);
        let output = running.wait_with_output().expect("psql runs");
        assert!(output.status.success(), "{statement}: {output:?}");
        let remaining = server
            .psql(&format!(
                "SELECT count(*) FROM pg_class WHERE oid = {old_index}"
            ))
            .unwrap();
        assert_eq!(remaining.trim(), "0", "{statement}");
    }
    server.psql("DROP SCHEMA lab_final CASCADE").unwrap();
}

/// On a partitioned table PostgreSQL rejects `ADD CONSTRAINT … USING INDEX`; the plan the help
/// gives instead (a constraint on each partition from a concurrently built index, then the
/// constraint on the parent) works, and the parent's constraint adopts the partitions' indexes
/// instead of building new ones.
#[test]
fn unique_constraints_on_partitioned_tables_adopt_the_partitions_constraints() {
    let Some(server) = server_or_skip() else {
        return;
    };
    let setup = "DROP SCHEMA IF EXISTS lab_part CASCADE; CREATE SCHEMA lab_part; SET search_path = lab_part;
        CREATE TABLE events (id bigint, at date NOT NULL, code text) PARTITION BY RANGE (at);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        INSERT INTO events SELECT g, '2024-03-01', 'c' || g FROM generate_series(1, 100) g;";
    server.psql(setup).unwrap();
    let using_index = server.psql(
        "SET search_path = lab_part; CREATE UNIQUE INDEX events_code_at_key ON ONLY events (code, at);
         CREATE UNIQUE INDEX events_2024_idx ON events_2024 (code, at);
         ALTER INDEX events_code_at_key ATTACH PARTITION events_2024_idx;
         ALTER TABLE events ADD CONSTRAINT events_code_at_key UNIQUE USING INDEX events_code_at_key;",
    );
    assert!(
        using_index
            .as_ref()
            .is_err_and(|e| e.contains("not supported on partitioned tables")),
        "{using_index:?}"
    );
    server.psql(setup).unwrap();
    server
        .psql("CREATE UNIQUE INDEX CONCURRENTLY events_2024_key ON lab_part.events_2024 (code, at)")
        .unwrap();
    let indexes = "SELECT string_agg(relname || ':' || pg_relation_filenode(oid), ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'lab_part'::regnamespace AND relkind = 'i'";
    let before = server.psql(indexes).unwrap();
    server
        .psql(
            "SET search_path = lab_part;
             ALTER TABLE events_2024 ADD CONSTRAINT events_2024_key UNIQUE USING INDEX events_2024_key;
             ALTER TABLE events ADD CONSTRAINT events_code_at_key UNIQUE (code, at);",
        )
        .unwrap();
    assert_eq!(
        server.psql(indexes).unwrap(),
        before,
        "no index was built on the partition"
    );
    server.psql("DROP SCHEMA lab_part CASCADE").unwrap();
}
