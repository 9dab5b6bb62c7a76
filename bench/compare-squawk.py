#!/usr/bin/env python3
"""Measure the release CLI against squawk on the same generated files.

Generates, in a temporary directory:
  * a realistic corpus: thousands of migration files, about 100k statements, covering every
    statement form migration-safety analyses (tables, columns, constraints, indexes, partitions,
    views, enums, domains, DML, transactions, DO blocks, settings, suppressions);
  * the repeated-form shapes of issue 9 (one statement form many times) at 1k, 10k and 100k
    statements.

Each input is linted by both tools in alternating runs (ours, squawk, ours, squawk, ...); the
script prints the median wall time of each, their ratio (ours / squawk), and for each shape
the growth exponent k in time ~ n^k between consecutive sizes (1.0 is linear).

    cargo build --release -p migration-safety --features cli
    pip install 'squawk-cli==2.70.*'
    python3 bench/compare-squawk.py [--runs 3] [--sizes 1000,10000,100000] [--only corpus,alter] [--output json]

squawk is optional: without it (or with --no-squawk) only our times are reported.
"""

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def corpus_file(i):
    """One realistic migration: a mix of every form, about 37 statements. Most act on the table
    the previous migration created, an existing table, so the rules have hazards to report."""
    t = f"t{i}"
    o = f"t{i - 1}" if i else "t0"
    return f"""-- migration {i}: the usual mix of a growing schema
SET lock_timeout = '2s';
SET statement_timeout = '5min';
CREATE TABLE {t} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email varchar(255) NOT NULL,
    status text DEFAULT 'new', created_at timestamp, payload json, n serial, amount numeric(10, 2) CHECK (amount >= 0));
CREATE TYPE mood{i} AS ENUM ('happy', 'sad');
CREATE DOMAIN positive{i} AS int CHECK (VALUE > 0);
ALTER TABLE {o} ADD COLUMN nickname text;
ALTER TABLE {o} ADD COLUMN score int NOT NULL DEFAULT 0;
ALTER TABLE {o} ADD COLUMN mood mood{i};
ALTER TABLE {o} ALTER COLUMN email SET NOT NULL;
ALTER TABLE {o} ALTER COLUMN amount TYPE numeric(12, 2);
ALTER TABLE {o} ADD CONSTRAINT {o}_score_check CHECK (score >= 0) NOT VALID;
ALTER TABLE {o} VALIDATE CONSTRAINT {o}_score_check;
ALTER TABLE {o} ADD CONSTRAINT {o}_email_key UNIQUE (email);
ALTER TABLE {t} ADD COLUMN parent_id bigint REFERENCES {o} (id);
CREATE INDEX {o}_status_idx ON {o} (status);
CREATE INDEX CONCURRENTLY IF NOT EXISTS {o}_created_idx ON {o} (created_at);
DROP INDEX CONCURRENTLY IF EXISTS {o}_old_idx;
-- migration-safety: ignore rename-column -- the column is unused
ALTER TABLE {o} RENAME COLUMN nickname TO handle;
UPDATE {o} SET status = 'active' WHERE status IS NULL;
INSERT INTO {o} (email) VALUES ('a@example.com'), ('b@example.com');
DELETE FROM {o} WHERE email LIKE '%@example.org';
CREATE VIEW {t}_active AS SELECT id, email FROM {t} WHERE status = 'active';
CREATE MATERIALIZED VIEW {t}_stats AS SELECT status, count(*) FROM {t} GROUP BY status;
REFRESH MATERIALIZED VIEW CONCURRENTLY {t}_stats;
BEGIN;
ALTER TYPE mood{i} ADD VALUE 'calm';
ALTER TABLE {o} DROP COLUMN payload;
COMMIT;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = '{t}_x') THEN
    EXECUTE 'CREATE INDEX {t}_x ON {o} (score)';
  END IF;
END $$;
CREATE TABLE {t}_log (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE {t}_log_2024 PARTITION OF {t}_log FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
ALTER TABLE {o}_log DETACH PARTITION {o}_log_2024;
COMMENT ON TABLE {t} IS 'generated';
GRANT SELECT ON {t} TO reporting;
VACUUM ANALYZE {t};
"""


def corpus(dir, files):
    for i in range(files):
        with open(os.path.join(dir, f"{i:06d}_m{i}.sql"), "w") as f:
            f.write(corpus_file(i))


def one_file(dir, text):
    with open(os.path.join(dir, "0001_shape.sql"), "w") as f:
        f.write(text)


# The repeated-form shapes: name -> (writer(dir, n), extra CLI arguments).
SHAPES = {
    "alter": (
        lambda d, n: one_file(d, "".join(f"ALTER TABLE t{i} ADD COLUMN c int;\n" for i in range(n))),
        [],
    ),
    "suppressions": (
        lambda d, n: one_file(
            d,
            "".join(
                f"-- migration-safety: ignore missing-lock-timeout -- bench\nALTER TABLE t ADD COLUMN c{i} int;\n"
                for i in range(n)
            ),
        ),
        [],
    ),
    "updates-in-transaction": (
        lambda d, n: one_file(
            d,
            "BEGIN;\nALTER TABLE t ADD COLUMN c int;\n"
            + "".join(f"UPDATE t SET c = {i} WHERE id = {i};\n" for i in range(n))
            + "COMMIT;\n",
        ),
        [],
    ),
    "refresh": (
        lambda d, n: one_file(d, "".join(f"REFRESH MATERIALIZED VIEW mv{i};\n" for i in range(n))),
        [],
    ),
    "one-line": (
        lambda d, n: one_file(d, "".join(f"CREATE INDEX i{i} ON t (c); " for i in range(n))),
        [],
    ),
    "up-down-pairs": (
        lambda d, n: [
            (
                open(os.path.join(d, f"{i:06d}_m.up.sql"), "w").write(f"ALTER TABLE t{i} ADD COLUMN c int;\n"),
                open(os.path.join(d, f"{i:06d}_m.down.sql"), "w").write(f"ALTER TABLE t{i} DROP COLUMN c;\n"),
            )
            for i in range(n // 2)
        ],
        ["--framework", "golang-migrate", "--check-down"],
    ),
}


def timed(cmd, timeout=None):
    """Wall time of a run; infinity when it exceeds `timeout` seconds (the run is killed)."""
    start = time.perf_counter()
    try:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return math.inf
    return time.perf_counter() - start


# Each tool's output for people, or each one's JSON (ours then carries every finding's fix).
REPORTERS = {"human": ("human", "tty"), "json": ("json", "json")}


def measure(ours, squawk, dir, extra, runs, squawk_timeout, output):
    """Median wall times (ours, squawk or None), alternating the two tools."""
    our_format, squawk_reporter = REPORTERS[output]
    our_cmd = [ours, "check", "--format", our_format] + (extra or ["--framework", "plain"]) + [dir]
    # squawk expands the pattern itself: no argument list limit with many files.
    squawk_cmd = [squawk, "--reporter", squawk_reporter, os.path.join(dir, "*.sql")] if squawk else None
    mine, theirs = [], []
    for _ in range(runs):
        mine.append(timed(our_cmd))
        if squawk_cmd:
            theirs.append(timed(squawk_cmd, squawk_timeout))
            if theirs[-1] == math.inf:
                squawk_cmd = None  # too slow to repeat
    return statistics.median(mine), (statistics.median(theirs) if theirs else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--corpus-files", type=int, default=3000)
    parser.add_argument("--only", default="", help="comma-separated: corpus and/or shape names")
    parser.add_argument("--ours", default=os.path.join(ROOT, "target", "release", "migration-safety"))
    parser.add_argument("--no-squawk", action="store_true")
    parser.add_argument("--squawk-timeout", type=float, default=120, help="seconds; slower runs show as >N")
    parser.add_argument("--output", choices=sorted(REPORTERS), default="human",
                        help="both tools' output for people (the default) or both tools' JSON")
    args = parser.parse_args()
    squawk = None if args.no_squawk else shutil.which("squawk")
    if not os.path.exists(args.ours):
        sys.exit(f"{args.ours} not found: cargo build --release -p migration-safety --features cli")
    only = set(filter(None, args.only.split(",")))
    sizes = [int(s) for s in args.sizes.split(",")]
    version = subprocess.run([squawk, "--version"], capture_output=True, text=True).stdout.strip() if squawk else "not run"
    print(f"machine: {os.cpu_count()} cores, {os.uname().sysname} {os.uname().machine}; squawk: {version}; runs: {args.runs}; output: {args.output}")
    print(f"{'input':<34} {'statements':>10} {'ours (s)':>9} {'squawk (s)':>10} {'ratio':>6} {'growth':>6}")

    def row(name, statements, mine, theirs, growth=None):
        ratio = f"{mine / theirs:.2f}" if theirs else "-"
        if theirs == math.inf:
            ratio, theirs = "<" + f"{mine / args.squawk_timeout:.2f}", f">{args.squawk_timeout:.0f}"
        else:
            theirs = f"{theirs:.3f}" if theirs else "-"
        growth = f"{growth:.2f}" if growth is not None else ""
        print(f"{name:<34} {statements:>10} {mine:>9.3f} {theirs:>10} {ratio:>6} {growth:>6}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        if not only or "corpus" in only:
            dir = os.path.join(tmp, "corpus")
            os.mkdir(dir)
            corpus(dir, args.corpus_files)
            statements = args.corpus_files * corpus_file(0).count(";\n")
            mine, theirs = measure(args.ours, squawk, dir, ["--framework", "plain"], args.runs, args.squawk_timeout, args.output)
            row(f"corpus ({args.corpus_files} files)", statements, mine, theirs)
            shutil.rmtree(dir)
        for name, (write, extra) in SHAPES.items():
            if only and name not in only:
                continue
            previous = None
            for n in sizes:
                dir = os.path.join(tmp, f"{name}-{n}")
                os.mkdir(dir)
                write(dir, n)
                mine, theirs = measure(args.ours, squawk, dir, extra, args.runs, args.squawk_timeout, args.output)
                growth = math.log(mine / previous[1]) / math.log(n / previous[0]) if previous else None
                row(f"{name} x{n}", n, mine, theirs, growth)
                previous = (n, mine)
                shutil.rmtree(dir)


if __name__ == "__main__":
    main()
