-- Planners' own structure lists (layers): the list, the territory it is complete for
-- (its scope, as given and as the INSEE codes it stood for when saved), the import
-- report shown before saving, and its kept rows, normalised, one JSON object per row.
CREATE TABLE layers (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL REFERENCES tokens (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    scope TEXT NOT NULL,
    scope_communes TEXT NOT NULL,
    kinds TEXT NOT NULL,
    report TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX layers_owner ON layers (owner);

CREATE TABLE layer_items (
    layer_id TEXT NOT NULL REFERENCES layers (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (layer_id, position)
);
