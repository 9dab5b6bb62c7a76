-- `CREATE SEQUENCE … OWNED BY events.seq` creates the sequence in the first schema of the path:
-- the tables must live there too.
ALTER TABLE world.events SET SCHEMA public;
ALTER TABLE world.orders SET SCHEMA public;
ALTER TABLE world.users SET SCHEMA public;
