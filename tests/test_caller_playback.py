"""The caller's playback clock behaves as Twilio's: marks wait for their audio, clear drops it."""

from __future__ import annotations

from switchboard.caller.audio_playback import PlaybackClock

ONE_SECOND = 8000  # μ-law bytes at 8 kHz


def test_mark_is_released_only_when_playback_reaches_it() -> None:
    clock = PlaybackClock()
    clock.play(ONE_SECOND, now=10.0)  # audio arrives faster than it plays
    clock.play(ONE_SECOND // 2, now=10.1)
    clock.mark("turn-1", now=10.1)
    assert clock.due_marks(10.5) == []
    assert clock.due_marks(11.49) == []
    assert [m.name for m in clock.due_marks(11.5)] == ["turn-1"]
    assert clock.due_marks(12.0) == []  # released once


def test_marks_come_back_in_order_each_after_its_own_audio() -> None:
    clock = PlaybackClock()
    clock.play(ONE_SECOND, now=0.0)
    clock.mark("a", now=0.0)
    clock.play(ONE_SECOND, now=0.0)
    clock.mark("b", now=0.0)
    assert [m.name for m in clock.due_marks(1.0)] == ["a"]
    assert [m.name for m in clock.due_marks(2.0)] == ["b"]


def test_mark_on_an_idle_line_is_due_at_once() -> None:
    clock = PlaybackClock()
    clock.play(ONE_SECOND, now=0.0)
    clock.mark("late", now=5.0)  # the audio finished playing long ago
    assert [m.name for m in clock.due_marks(5.0)] == ["late"]


def test_audio_after_a_gap_starts_playing_when_it_arrives() -> None:
    clock = PlaybackClock()
    clock.play(ONE_SECOND, now=0.0)
    assert clock.play(ONE_SECOND, now=3.0) == 4.0
    assert clock.playing(3.5) and not clock.playing(4.0)


def test_clear_drops_queued_audio_and_releases_every_pending_mark() -> None:
    clock = PlaybackClock()
    clock.play(ONE_SECOND * 3, now=0.0)
    clock.mark("first", now=0.0, tag=1)
    clock.play(ONE_SECOND, now=0.0)
    clock.mark("second", now=0.0, tag=2)
    released = clock.clear(now=0.5)
    assert [(m.name, m.tag) for m in released] == [("first", 1), ("second", 2)]
    assert not clock.playing(0.5)
    assert clock.due_marks(100.0) == []
    # New audio after a clear plays from the moment it arrives.
    assert clock.play(ONE_SECOND, now=0.6) == 1.6


def test_playback_counts_a_gap_only_inside_an_agent_turn() -> None:
    clock = PlaybackClock()
    clock.play(160, now=0.0)  # 20 ms, plays until 0.02
    clock.play(160, now=0.01)  # queued behind it: no gap
    clock.play(160, now=0.19)  # arrives 150 ms after playback ran dry
    clock.mark("turn-1", now=0.2)
    clock.play(160, now=5.0)  # the next turn: the pause between turns is no gap
    assert [round(gap, 3) for gap in clock.gaps] == [0.15]
