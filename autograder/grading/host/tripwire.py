"""The orchestrator's end of the trip-wire: one kernel's secret and the signed arm/disarm messages."""
from __future__ import annotations

import hashlib
import hmac
import json
import os


class Wire:
    """The orchestrator's side: the secret of one kernel and the signed arm/disarm messages."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = {k: list(v) for k, v in answers.items() if v}
        self.key = os.urandom(32)
        self.seq = 0

    def init(self) -> dict:
        return {"answers": self.answers, "key": self.key.hex()}

    def _mac(self, text: str) -> str:
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()

    def message(self, cmd: str, exercise: str | None) -> dict:
        self.seq += 1
        ex = exercise or ""
        return {"q": "tripwire", "cmd": cmd, "ex": ex, "seq": self.seq,
                "mac": self._mac(f"{self.seq}|{cmd}|{ex}")}

    def verify(self, reply) -> list[str] | None:
        """The attempts a signed report lists, or None when the report is missing or forged."""
        if not isinstance(reply, dict):
            return None
        trips, seq, mac = reply.get("trips"), reply.get("seq"), reply.get("mac")
        if not isinstance(trips, list) or seq != self.seq or not isinstance(mac, str):
            return None
        if not hmac.compare_digest(mac, self._mac(f"{seq}|report|{json.dumps(trips)}")):
            return None
        return [str(t) for t in trips]
