-- The user's image (issue 12): the https URL behind the picture claim,
-- set on the profile page or through the profile API. Empty when none.
-- Erasure clears it with the name.
ALTER TABLE users ADD COLUMN picture TEXT NOT NULL DEFAULT '';
