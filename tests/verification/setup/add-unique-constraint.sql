ALTER TABLE world.users ADD COLUMN tenant_id bigint;
