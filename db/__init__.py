"""Call records in PostgreSQL, written through a Redis outbox.

- `migrations/`, `migrate`: the schema and its migrations (`switchboard migrate`);
- `pool`: the asyncpg pool, with JSON codecs;
- `events`, `outbox`: what session actors append to `{prefix}:outbox`;
- `apply`, `recorder`: how those events reach the tables, idempotently;
- `queries`: what the API reads (the call report, recent calls, do-not-call);
- `campaigns`, `leads`: outbound campaigns, their states and counts, a lead's history,
  and admin changes to the do-not-call list (with their audit);
- `phone`: phone numbers as the do-not-call list compares them.
"""
