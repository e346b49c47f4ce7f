"""The prompt-injection heuristics: what each rule looks for and its weight.

Patterns run on *folded* text (case-folded, accents removed, invisible
characters dropped, whitespace collapsed), so they are written in lower case
without accents and match ``Ignore``, ``IGNORE`` and ``instruções`` alike.
Rules marked ``case_sensitive`` run on the original text instead (``DAN`` the
jailbreak, not Dan the colleague).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["DIRECTIVE", "RULES", "Rule"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One heuristic.

    Attributes:
        name: Machine-readable reason reported when the rule fires.
        weight: How strongly the rule alone suggests an attack, 0..1.
        pattern: What the rule looks for.
        case_sensitive: Match the original text rather than the folded one.
    """

    name: str
    weight: float
    pattern: re.Pattern[str]
    case_sensitive: bool = False


def _rule(name: str, weight: float, *alternatives: str, case_sensitive: bool = False) -> Rule:
    # No re.IGNORECASE: folded text is already lower case, and Python's matcher is
    # several times slower case-insensitively (this runs on every question).
    pattern = re.compile("|".join(f"(?:{alt})" for alt in alternatives), re.MULTILINE)
    return Rule(name=name, weight=weight, pattern=pattern, case_sensitive=case_sensitive)


_EN_TARGET: Final = (
    r"(?:instructions?|prompts?|rules|directions|directives|guidelines|messages|context"
    r"|guardrails|constraints|programming)"
)
_PT_TARGET: Final = (
    r"(?:instrucoes|instrucao|regras|orientacoes|diretrizes|comandos|mensagens|prompts?"
    r"|restricoes|ordens)"
)

_EN_IGNORE: Final = r"\b(?:ignore|disregard|forget|override|bypass)\s+"
_PT_IGNORE: Final = (
    r"\b(?:ignore|ignora|ignorar|ignorem|desconsidere|desconsiderar|esqueca|esquecer"
    r"|despreze|desobedeca|descarte)\s+"
)

_HIDDEN: Final = r"(?:system|initial|hidden|secret|original|internal)"

RULES: Final[tuple[Rule, ...]] = (
    _rule(
        "ignore_previous_instructions",
        0.8,
        _EN_IGNORE + r"(?:(?:all|any)\s+(?:of\s+)?)?(?:the\s+|your\s+|these\s+|those\s+)?"
        r"(?:previous|prior|above|earlier|preceding|initial|original|system|developer)\s+"
        + _EN_TARGET,
        _EN_IGNORE + r"(?:(?:all|any)\s+(?:of\s+)?(?:the\s+|your\s+)?|your\s+)" + _EN_TARGET,
        _EN_IGNORE + r"(?:everything|all)\s+(?:you\s+(?:were|have\s+been)\s+told|above|before)",
        _PT_IGNORE
        + r"(?:todas\s+|todos\s+)?(?:as\s+|os\s+|suas\s+|seus\s+)?"
        + _PT_TARGET
        + r"\s+(?:anteriores|acima|previas|iniciais|originais|do\s+sistema"
        r"|que\s+(?:te|lhe)\s+(?:deram|foram\s+dadas|passaram))",
        _PT_IGNORE
        + r"(?:(?:todas|todos)\s+(?:as\s+|os\s+)?(?:suas\s+|seus\s+)?|suas\s+|seus\s+)"
        + _PT_TARGET,
        _PT_IGNORE + r"tudo\s+(?:o\s+)?que\s+(?:foi\s+dito|te\s+disseram|disse|esta\s+acima)",
    ),
    _rule(
        "reveal_instructions",
        0.6,
        r"\b(?:reveal|show|print|display|repeat|output|tell\s+me|leak|dump|give\s+me|write\s+out"
        r"|spell\s+out)\b[^.!?\n]{0,30}?\b(?:your\s+(?:"
        + _HIDDEN
        + r"\s+)?|(?:the|its)\s+"
        + _HIDDEN
        + r"\s+)(?:instructions|prompt|rules|guidelines|configuration)\b",
        r"\b(?:revele|revela|mostre|mostra|imprima|repita|diga|exiba|vaze|escreva|informe)\b"
        r"[^.!?\n]{0,30}?\b(?:(?:suas|seus|seu)\s+(?:instrucoes|prompt|regras|diretrizes)"
        r"|(?:as|o|os)\s+(?:instrucoes|prompt|regras|diretrizes)\s+(?:do\s+sistema|iniciais"
        r"|ocultas|secretas|originais)|(?:o\s+)?prompt\s+(?:do|de)\s+sistema)",
    ),
    _rule(
        "system_prompt_reference",
        0.3,
        r"\bsystem\s+(?:prompt|message|instructions)\b",
        r"\b(?:prompt|mensagem|instrucoes)\s+(?:do|de)\s+sistema\b",
    ),
    _rule(
        "role_override",
        0.45,
        r"\byou\s+are\s+now\b",
        r"\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must)\b",
        r"\bvoce\s+agora\s+(?:e|sera)\b",
        r"\ba\s+partir\s+de\s+agora,?\s+(?:voce\s+)?(?:e|sera|vai\s+ser|deve)\b",
    ),
    _rule(
        "act_as",
        0.25,
        r"\b(?:act|behave)\s+as\b",
        r"\bpretend\s+(?:to\s+be|you\s+are|that\s+you)\b",
        r"\brole-?play\s+as\b",
        r"\b(?:aja|atue|comporte-se|se\s+comporte)\s+como\b",
        r"\bfinja\s+(?:ser|que)\b",
    ),
    _rule(
        "developer_mode",
        0.6,
        r"\b(?:developer|dev|god|debug|admin)\s+mode\b",
        r"\bmodo\s+(?:de\s+)?(?:desenvolvedor|deus|depuracao|admin)\b",
        r"\bjailbr(?:eak|oken)\w*",
    ),
    _rule(
        "dan_jailbreak",
        0.6,
        r"\bDAN\b",
        r"\b[Dd]o [Aa]nything [Nn]ow\b",
        r"\b[Ff]a[çc]a [Qq]ualquer [Cc]oisa [Aa]gora\b",
        case_sensitive=True,
    ),
    _rule(
        "no_restrictions",
        0.4,
        r"\b(?:without|with\s+no|no|free\s+of|free\s+from)\s+(?:any\s+)?(?:restrictions|filters"
        r"|limitations|limits|rules|censorship|guidelines|ethics|morals)\b",
        r"\b(?:unfiltered|uncensored|unrestricted)\b",
        r"\bsem\s+(?:nenhuma\s+|qualquer\s+)?(?:restricoes|restricao|filtros?|censura|limites"
        r"|regras|etica)\b",
    ),
    _rule(
        "roleplay_jailbreak",
        0.4,
        r"\b(?:stay|remain)\s+in\s+character\b",
        r"\bnever\s+break\s+character\b",
        r"\b(?:fique|permaneca)\s+no\s+personagem\b",
        r"\bnao\s+saia\s+do\s+personagem\b",
        r"\bhypothetically,?\s+(?:if\s+)?you\s+(?:had|have)\s+no\b",
        r"\b(?:opposite|evil)\s+(?:mode|twin|confidant)\b",
        r"\bgrand(?:ma|mother)\s+used\s+to\s+(?:tell|read)\b",
    ),
    _rule(
        "delimiter_injection",
        0.7,
        r"<\|\s*(?:im_start|im_end|system|endoftext|assistant|user|begin_of_text)\s*\|>",
        r"\[/?inst\]",
        r"<</?sys>>",
        r"^\s*#{2,}\s*(?:system|sistema|instructions?|instrucoes|new instructions)\b",
        r"</?(?:system|sys|system_prompt)>",
        r"^\s*(?:system|sistema)\s*:",
        r"\b(?:end|begin)\s+of\s+(?:system\s+prompt|user\s+input|instructions)\b",
    ),
    _rule(
        "new_instructions",
        0.4,
        r"\b(?:new|updated|real|actual)\s+instructions\s*:",
        r"\byour\s+(?:new|real)\s+(?:task|goal|purpose|instructions)\b",
        r"\bnovas\s+instrucoes\s*:",
        r"\bsua\s+(?:nova|verdadeira)\s+(?:tarefa|missao|instrucao|funcao)\b",
    ),
)

#: Forceful directives; many of them in a short text suggest an attack (on folded text).
DIRECTIVE: Final = re.compile(
    r"\b(?:you\s+must|you\s+will\s+(?:always|never)|do\s+not\s+refuse|don't\s+refuse"
    r"|never\s+refuse|always\s+comply|no\s+matter\s+what|without\s+(?:any\s+)?warnings?"
    r"|obey|voce\s+deve|nao\s+recuse|nunca\s+recuse|sempre\s+obedeca|obedeca"
    r"|custe\s+o\s+que\s+custar|sem\s+avisos?|nao\s+importa\s+o\s+que)\b",
)
