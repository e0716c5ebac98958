"""Which warm session actors the pool stops: beyond its ceiling at once, beyond its
target only once they have waited (an actor whose call just ended is likely to be
taken by the next arrival)."""

from __future__ import annotations

from actors.session_pool import SURPLUS_IDLE_S, PooledSession, surplus

NOW = 1000.0


def _waiting(name: str, seconds: float) -> PooledSession:
    return PooledSession(name, handle=None, warm=True, idle_since=NOW - seconds)  # type: ignore[arg-type]


def _names(sessions: list[PooledSession]) -> list[str]:
    return [session.name for session in sessions]


def test_actors_beyond_the_target_are_kept_until_they_have_waited() -> None:
    ready = [_waiting("just-freed", 1), _waiting("fresh", 5), _waiting("old", 2)]
    assert surplus(ready, target=1, ceiling=12, now=NOW) == []


def test_the_longest_waiting_actors_beyond_the_target_are_stopped() -> None:
    long_ago = SURPLUS_IDLE_S + 1
    ready = [
        _waiting("just-freed", 1),
        _waiting("oldest", long_ago + 60),
        _waiting("older", long_ago),
        _waiting("recent", 10),
    ]
    assert _names(surplus(ready, target=2, ceiling=12, now=NOW)) == ["oldest", "older"]
    assert _names(surplus(ready, target=3, ceiling=12, now=NOW)) == ["oldest"]


def test_the_pool_never_shrinks_below_its_target() -> None:
    ready = [_waiting(f"a{i}", SURPLUS_IDLE_S * 3) for i in range(3)]
    assert len(surplus(ready, target=3, ceiling=12, now=NOW)) == 0
    assert len(surplus(ready, target=2, ceiling=12, now=NOW)) == 1


def test_actors_beyond_the_ceiling_are_stopped_at_once() -> None:
    ready = [_waiting("just-freed", 0.5), _waiting("started", 0.1)]
    assert _names(surplus(ready, target=1, ceiling=1, now=NOW)) == ["just-freed"]
