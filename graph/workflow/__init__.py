"""What the agents decide and say: the LangGraph workflow of voice agents and its direct path.

`turn_graph` wires the agents of `agents` into one graph per caller turn;
`orchestrator` runs that turn, checkpointed in Redis; `script` is the templated
qualification script both paths follow, deciding by `policy` over `state`, with
the wording of `replies` (and `voice` for what an LLM writes).
"""
