-- The database every fixture migration runs on: the tables, types and rows the fixtures assume
-- exist. It lives in schema `world`, behind `public` on the search path, so that a fixture that
-- creates a table of the same name gets its own. Per-rule additions are in setup/<rule>.sql.
CREATE EXTENSION IF NOT EXISTS btree_gist;
-- gen_random_uuid() is built in from PostgreSQL 13, in pgcrypto before.
DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'gen_random_uuid') THEN CREATE EXTENSION pgcrypto; END IF; END $$;
CREATE SCHEMA world;
SET search_path = world;
CREATE TYPE order_status AS ENUM ('new', 'paid', 'canceled');
CREATE DOMAIN price AS numeric(12, 2);
CREATE DOMAIN email_address AS text;
CREATE FUNCTION compute_score() RETURNS integer LANGUAGE plpgsql VOLATILE AS $$ BEGIN RETURN 1; END $$;
CREATE TABLE users (
  id bigint PRIMARY KEY, email text, name text, username text, login text, legacy_flag boolean,
  deleted_at timestamptz, country text, city text, contact email_address);
INSERT INTO users (id, email, name, username, login, country, city, contact)
  SELECT g, 'u' || g || '@example.com', 'name ' || g, 'user' || g, 'login' || g, 'fr', 'paris', 'c' || g
  FROM generate_series(1, 50) g;
CREATE INDEX users_name_idx ON users (name);
CREATE INDEX users_old_idx ON users (username);
CREATE SEQUENCE users_id_seq;
CREATE TABLE coupons (id bigint PRIMARY KEY);
INSERT INTO coupons SELECT generate_series(1, 50);
CREATE TABLE shops (id bigint PRIMARY KEY);
INSERT INTO shops SELECT generate_series(1, 50);
CREATE TABLE regions (id integer PRIMARY KEY);
INSERT INTO regions SELECT generate_series(1, 50);
CREATE TABLE orders (
  id bigint PRIMARY KEY, user_id bigint, coupon_id bigint, total numeric(12, 2), quantity integer,
  amount integer, status order_status NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO orders (id, user_id, coupon_id, total, quantity, amount)
  SELECT g, g, g, g, 1, g FROM generate_series(1, 50) g;
CREATE INDEX orders_created_at_idx ON orders (created_at);
CREATE INDEX orders_status_idx ON orders (status);
CREATE TABLE products (id bigint PRIMARY KEY, list_price price);
INSERT INTO products SELECT g, g FROM generate_series(1, 50) g;
CREATE TABLE events (id bigint, at date, created_at timestamptz NOT NULL DEFAULT now(), kind text);
INSERT INTO events (id, at) SELECT g, date '2024-01-01' + g FROM generate_series(1, 50) g;
CREATE INDEX events_created_at_idx ON events (created_at);
CREATE TABLE audit_log (tenant_id bigint, seq bigint, message text);
INSERT INTO audit_log SELECT g % 5, g, 'm' FROM generate_series(1, 50) g;
CREATE TABLE audit_events (id bigint PRIMARY KEY, payload text);
INSERT INTO audit_events SELECT g, 'p' FROM generate_series(1, 50) g;
CREATE TABLE old_sessions (id bigint PRIMARY KEY);
CREATE TABLE old_tokens (id bigint PRIMARY KEY);
CREATE TABLE sessions (id bigint PRIMARY KEY, user_id bigint, expires_at timestamptz);
INSERT INTO sessions SELECT g, g, now() FROM generate_series(1, 50) g;
CREATE TABLE customers (id bigint PRIMARY KEY, name text);
INSERT INTO customers SELECT g, 'c' FROM generate_series(1, 50) g;
CREATE TABLE invoices (id bigint PRIMARY KEY, total numeric);
INSERT INTO invoices SELECT g, g FROM generate_series(1, 50) g;
CREATE TABLE accounts (id bigint PRIMARY KEY, tier text);
INSERT INTO accounts SELECT g, 'basic' FROM generate_series(1, 50) g;
CREATE TABLE ledger_entries (id bigint PRIMARY KEY, account_id bigint, amount numeric);
INSERT INTO ledger_entries SELECT g, g, g FROM generate_series(1, 50) g;
CREATE TABLE bookings (id bigint PRIMARY KEY, room_id integer, during tstzrange);
INSERT INTO bookings SELECT g, g, tstzrange(now(), now() + interval '1 hour') FROM generate_series(1, 50) g;
CREATE TABLE legacy_items (id bigint PRIMARY KEY);
INSERT INTO legacy_items SELECT generate_series(1, 50);
CREATE SEQUENCE legacy_items_seq;
CREATE TABLE legacy_orders (id integer PRIMARY KEY);
CREATE SCHEMA billing;
CREATE SCHEMA reporting;
CREATE TABLE reporting.sales (id bigint PRIMARY KEY, amount numeric);
INSERT INTO reporting.sales SELECT g, g FROM generate_series(1, 50) g;
CREATE MATERIALIZED VIEW reporting.sales_summary AS SELECT 1 AS id, sum(amount) AS total FROM reporting.sales;
CREATE UNIQUE INDEX sales_summary_id_idx ON reporting.sales_summary (id);
CREATE MATERIALIZED VIEW sales_summary AS SELECT 1 AS id, count(*) AS n FROM orders;
CREATE UNIQUE INDEX sales_summary_id ON sales_summary (id);
CREATE VIEW active_users AS SELECT id, email FROM users WHERE deleted_at IS NULL;
CREATE MATERIALIZED VIEW daily_totals AS SELECT created_at::date AS day, count(*) AS n FROM orders GROUP BY 1;
CREATE UNIQUE INDEX daily_totals_day ON daily_totals (day);
CREATE SCHEMA app;
CREATE TABLE app.login_attempts (id bigint PRIMARY KEY);
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
DO $$ BEGIN CREATE ROLE reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE app_user; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE billing_admin; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
