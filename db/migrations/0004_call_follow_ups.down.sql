DROP TABLE IF EXISTS call_follow_ups;
