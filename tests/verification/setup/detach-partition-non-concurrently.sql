DROP TABLE world.events;
CREATE TABLE world.events (id bigint, at date) PARTITION BY RANGE (at);
CREATE TABLE world.events_2023 PARTITION OF world.events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
INSERT INTO world.events SELECT g, date '2023-01-01' + g FROM generate_series(1, 50) g;
