-- Each statement here is dangerous on a busy production table.
ALTER TABLE users RENAME COLUMN name TO full_name;

ALTER TABLE orders ALTER COLUMN amount TYPE bigint;

ALTER TABLE users ADD COLUMN api_token uuid DEFAULT gen_random_uuid();

ALTER TABLE users ALTER COLUMN last_seen_at SET NOT NULL;

CREATE INDEX orders_user_id_idx ON orders (user_id);
