-- A perimeter may be public: listed for everyone (the web's « Mes périmètres », the OGC
-- collection `perimeters`). 0 = private to its author (and admins), 1 = public.
ALTER TABLE perimeters ADD COLUMN public INTEGER NOT NULL DEFAULT 0;
