"""The conversation side of Switchboard: understanding callers and deciding what to say.

Pure Python, no I/O:

- `graph.understanding` — `understand(text)` / `understand_dtmf(digit)`, built on
  `graph.text` (normalisation), `graph.numbers` (spoken numbers), and one reader
  per fact: `budget`, `authority`, `need`, `timeline`, `meeting`, `names`, `intents`;
- `graph.policy` — BANT criteria, premium, and the outcome of a call;
- `graph.state` — `ConversationState` (checkpointed) and `AgentReply`;
- `graph.replies` — every template the agents speak;
- `graph.script` — `QualificationScript`, the templated direct path.
"""
