-- A client that may send a write twice (nginx passing it to another replica after the
-- first died, a retry after a lost answer) names it with an Idempotency-Key: the second
-- copy finds the first instead of saving the scenario again. Unique per owner; rows
-- without a key (NULL) are never equal to each other.
ALTER TABLE saved_scenarios ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX saved_scenarios_idempotency ON saved_scenarios (owner, idempotency_key);
