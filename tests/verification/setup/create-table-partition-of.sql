DROP TABLE world.events;
CREATE TABLE world.events (id bigint, at date) PARTITION BY RANGE (at);
CREATE TABLE world.events_2024 PARTITION OF world.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
