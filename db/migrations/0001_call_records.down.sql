DROP TABLE call_status_events;
DROP TABLE tier_escalation_events;
DROP TABLE agent_transitions;
DROP TABLE turns;
DROP TABLE calls;
