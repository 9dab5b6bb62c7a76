-- The database the fixture drops (outside the fixture's own database, so made again for each run).
DROP DATABASE IF EXISTS analytics;
CREATE DATABASE analytics;
