-- CLUSTER without a table reclusters the tables clustered before.
ALTER TABLE world.events CLUSTER ON events_created_at_idx;
