-- Built without blocking writes; must run outside a transaction block.
CREATE INDEX CONCURRENTLY orders_created_at_idx ON orders (created_at);

-- Widening a varchar is binary-coercible: no rewrite.
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN email TYPE varchar(320);

-- migration-safety: ignore drop-column -- `legacy` has not been read since release 2.3
ALTER TABLE users DROP COLUMN IF EXISTS legacy;
