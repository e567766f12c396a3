-- The digests' send log becomes the general send log: one row per thing sent to
-- one subscriber, keyed by (subscriber_id, kind, send_key): a daily digest is
-- ('daily', '2024-10-25'), a weekly one ('weekly', '2024-W43'); alerts will add
-- their own kinds. The unique key still makes a claim atomic on both engines.
--
-- Two columns record the hand-over to the mail server, so a crash can be told apart
-- from a failure (see storage/sendlog.py):
--   handed_over_at  set, under the claim, right before the SMTP DATA command; cleared
--                   when the server's answer is known. Still set on a dead worker's
--                   claim: the server may or may not have the message.
--   uncertain       how many hand-overs ended without a known answer (the message
--                   may have reached the recipient once more than the log says).

ALTER TABLE digest_sends RENAME TO send_log;
ALTER TABLE send_log RENAME COLUMN cadence TO kind;
ALTER TABLE send_log RENAME COLUMN period_key TO send_key;
ALTER TABLE send_log ADD COLUMN handed_over_at TEXT;
ALTER TABLE send_log ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0;
DROP INDEX digest_sends_claims;
CREATE INDEX send_log_claims ON send_log (status, kind, lease_until);
