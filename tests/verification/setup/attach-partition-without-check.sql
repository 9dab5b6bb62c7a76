DROP TABLE world.events;
CREATE TABLE world.events (id bigint, at date) PARTITION BY RANGE (at);
CREATE TABLE world.events_2024 (id bigint, at date);
INSERT INTO world.events_2024 SELECT g, date '2024-01-01' + g FROM generate_series(1, 50) g;
