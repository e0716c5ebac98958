"""`CallLink`: what the session actor holds for the ingress between its Ray calls."""

from __future__ import annotations

from actors.transport import CallLink


async def test_a_closed_link_answers_every_later_collect_with_none() -> None:
    link = CallLink()
    link.send('{"event": "mark", "mark": {"name": "reply-1"}}')
    link.close()
    first = await link.collect(0.1)
    assert first is not None and len(first.messages) == 1
    # A collect whose caller gave up (its request was cancelled) took the close once;
    # the ingress's next collect must still learn that the call is over.
    assert await link.collect(0.1) is None
    assert await link.collect(0.1) is None
