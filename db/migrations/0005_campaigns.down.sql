DROP TABLE do_not_call_audit;
ALTER TABLE do_not_call DROP COLUMN reason, DROP COLUMN source;
DROP TABLE call_attempts;
DROP TABLE leads;
DROP TABLE campaigns;
