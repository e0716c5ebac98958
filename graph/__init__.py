"""The conversation side of Switchboard: understanding callers and deciding what to say.

- `graph.understanding` — what a caller's line means (pure Python, no I/O):
  `caller_line.understand(text)` / `understand_dtmf(digit)`, built on `text`
  (normalisation), `numbers` and `magnitudes` (spoken numbers), and one reader per
  fact or act: `budget_reading`, `authority`, `need`, `timeline`, `meeting`, `names`,
  `intents`, `yes_no`;
- `graph.workflow` — what the agents decide and say: the LangGraph workflow
  (`turn_graph`) and its agents (`agents`), the templated direct path (`script`), the
  qualification policy (`policy`), the state (`state`), the wording (`replies`, and
  `voice` for LLM text), and `orchestrator`, which runs one caller turn, checkpointed;
- `graph.llm` — the LLM tiers, which both sides use: facts extracted and checked
  against `graph.understanding`, replies written in an agent's voice;
- `graph.checkpointer` — LangGraph checkpoints in plain Redis.
"""
