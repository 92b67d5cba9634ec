-- What users create: tokens, saved scenarios, perimeters, and the audit of every write.
-- Requests and results are JSON text; times are RFC 3339 UTC text; ids are random text.
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('planner', 'admin')),
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE saved_scenarios (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL REFERENCES tokens (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT NOT NULL,
    build TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX saved_scenarios_owner ON saved_scenarios (owner);

CREATE TABLE perimeters (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL REFERENCES tokens (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    communes TEXT NOT NULL,
    geometry TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX perimeters_owner ON perimeters (owner);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    token_id TEXT NOT NULL,
    token_name TEXT NOT NULL,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    detail TEXT NOT NULL
);
