-- +goose Up
-- The usable credits of each user, in the order the claim spends them
-- (CreditReserve, CreditPickMany): spent and dead credits stay in credit
-- until the purge, and without this index every reservation sorted them all.
CREATE INDEX credit_usable ON credit (appid, openid, template_id, kind, obtained_at, id)
    WHERE uses_left > 0 AND dead_reason IS NULL;

-- +goose Down
DROP INDEX credit_usable;
