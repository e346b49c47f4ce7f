"""Guardrails: PII detection and redaction, input sanitising, injection and output checks.

Pure, synchronous and free of I/O, so the proxy pipeline can call them inline
on every request::

    from neuralbridge.guardrails import (
        check_output, detect_prompt_injection, redact, sanitize_input,
    )

    clean = sanitize_input(raw, max_chars=32_000)         # raises InputRejected
    if detect_prompt_injection(clean.text).flagged:
        ...                                                # refuse or route to review
    prompt = redact(clean.text).text                       # "[EMAIL]", "[CPF]"...
    verdict = check_output(answer, sources=passages)       # empty, refusal, grounding, PII

:func:`find_pii` finds emails (also spelled ``name (at) domain (dot) com``),
phone numbers (Brazilian, Portuguese, North American, E.164), payment cards
(Luhn + issuer range) and their security codes, IBANs (country length + mod
97), CPFs and CNPJs (check digits), US SSNs, Portuguese NIFs (check digit),
IPv4/IPv6 addresses and secrets (API keys, tokens, JWTs, private keys).
Findings carry the sensitive text: log their ``kind`` and offsets, never their
``text``. Each submodule's docstring documents its rules and, for injection
and grounding, the scoring formula.
"""

from neuralbridge.guardrails.errors import GuardrailError, InputRejected
from neuralbridge.guardrails.findings import PiiFinding, PiiKind
from neuralbridge.guardrails.grounding import grounding_score
from neuralbridge.guardrails.injection import (
    DEFAULT_INJECTION_THRESHOLD,
    InjectionVerdict,
    detect_prompt_injection,
)
from neuralbridge.guardrails.output import OutputVerdict, check_output, is_refusal
from neuralbridge.guardrails.pii import find_pii
from neuralbridge.guardrails.redaction import RedactionResult, redact
from neuralbridge.guardrails.sanitization import SanitizedInput, sanitize_input

__all__ = [
    "DEFAULT_INJECTION_THRESHOLD",
    "GuardrailError",
    "InjectionVerdict",
    "InputRejected",
    "OutputVerdict",
    "PiiFinding",
    "PiiKind",
    "RedactionResult",
    "SanitizedInput",
    "check_output",
    "detect_prompt_injection",
    "find_pii",
    "grounding_score",
    "is_refusal",
    "redact",
    "sanitize_input",
]
