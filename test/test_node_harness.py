"""test/node_harness.py's call_until_answered: a request whose reply was lost is sent again until one is answered."""
from __future__ import annotations

import pytest
from node_harness import call_until_answered


class Future:
    def __init__(self, answer=None) -> None:
        self.answer = answer

    def done(self) -> bool:
        return self.answer is not None

    def result(self):
        return self.answer


class LosesFirstReplies:
    """A client whose first ``lost`` calls are never answered (their replies dropped), then answered at once."""

    def __init__(self, lost: int) -> None:
        self.lost, self.calls = lost, 0

    def call_async(self, req) -> Future:
        self.calls += 1
        return Future(None if self.calls <= self.lost else f"answer to {req}")


def test_a_lost_reply_is_asked_for_again():
    client = LosesFirstReplies(lost=2)
    assert call_until_answered(client, lambda: "req", timeout=5.0, every=0.2) == "answer to req"
    assert client.calls == 3


def test_no_answer_at_all_fails_after_the_timeout():
    client = LosesFirstReplies(lost=10**6)
    with pytest.raises(AssertionError, match="no answer"):
        call_until_answered(client, lambda: "req", timeout=0.6, every=0.2)
    assert 2 <= client.calls <= 4
