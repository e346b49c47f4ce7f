"""A fake OpenAI chat server that only answers well when its system prompt shows examples.

:class:`FewShotLLMServer` speaks the same wire format as
:class:`~tests.support.fake_llm.FakeLLMServer` (``openai`` dialect; scripting,
validation and recording inherited) and changes only what it answers:

* a request whose last user message holds a text between ``<<<`` and ``>>>``
  (a request to rewrite that text) is answered with the text, prefixed by
  ``rewrite_prefix``;
* any other request is answered from ``knowledge`` (input → correct answer)
  when the system prompt contains the input of at least one known example —
  a few-shot demonstration — and with ``unsure`` otherwise, the way a model
  that needs demonstrations of the expected format behaves.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.fake_llm import FakeLLMServer

__all__ = ["FewShotLLMServer"]

_QUOTED = re.compile(r"<<<\n?(.*?)\n?>>>", re.DOTALL)


class FewShotLLMServer(FakeLLMServer):
    """OpenAI-dialect fake whose answers are right only when the system prompt has examples."""

    def __init__(
        self,
        knowledge: dict[str, str],
        *,
        unsure: str = "I am not sure.",
        rewrite_prefix: str = "Answer precisely.",
        latency: float = 0.0,
    ) -> None:
        super().__init__("openai", latency=latency)
        self.knowledge = knowledge
        self.unsure = unsure
        self.rewrite_prefix = rewrite_prefix

    def _answer_text(self, body: dict[str, Any]) -> str:
        messages = body["messages"]
        system = "\n".join(m["content"] for m in messages if m.get("role") == "system")
        users = [m["content"] for m in messages if m.get("role") == "user"]
        question = users[-1] if users else ""
        quoted = _QUOTED.search(question)
        if quoted is not None:
            return f"{self.rewrite_prefix} {quoted.group(1).strip()}"
        shows_examples = any(known in system for known in self.knowledge)
        if shows_examples and question in self.knowledge:
            return self.knowledge[question]
        return self.unsure
