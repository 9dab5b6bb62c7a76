ALTER TABLE world.users ADD COLUMN nickname text, ADD COLUMN "index" integer;
