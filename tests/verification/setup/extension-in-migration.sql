-- The extension the fixture drops.
CREATE EXTENSION hstore;
