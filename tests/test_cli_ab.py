"""``nb ab``'s variant syntax: NAME[:key=value,...]."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from neuralbridge.cli.ab import parse_variant
from neuralbridge.cli.main import build_parser
from neuralbridge.messages.experiments import Variant


def test_variant_options_are_typed_and_instructions_read_from_file(tmp_path: Path) -> None:
    """Weight and temperature become numbers; instructions_file's text becomes instructions."""
    assert parse_variant("mini:provider=openai,model=gpt-4o-mini,weight=0.5,temperature=0.2") == (
        Variant(name="mini", provider="openai", model="gpt-4o-mini", weight=0.5, temperature=0.2)
    )
    prompt = tmp_path / "p.txt"
    prompt.write_text("Be brief.\n", encoding="utf-8")
    variant = parse_variant(f"short:instructions_file={prompt}")
    assert (variant.name, variant.instructions) == ("short", "Be brief.")
    assert parse_variant("control").weight == 1.0


def test_variant_syntax_errors_name_the_problem() -> None:
    """Unknown keys, missing '=', bad names and bad values are refused with the reason."""
    with pytest.raises(ValueError, match="unknown key 'colour'"):
        parse_variant("a:colour=red")
    with pytest.raises(ValueError, match="expected key=value"):
        parse_variant("a:model")
    with pytest.raises(msgspec.ValidationError, match="name"):
        parse_variant("bad name")
    with pytest.raises(msgspec.ValidationError, match="weight"):
        parse_variant("a:weight=-1")


def test_ab_commands_parse() -> None:
    """``nb ab create`` takes repeated --variant; list and stop parse."""
    args = build_parser().parse_args(
        ["ab", "create", "--name", "n", "--kind", "prompt", "--variant", "a", "--variant", "b"]
    )
    assert (args.ab_command, args.variants) == ("create", ["a", "b"])
    assert build_parser().parse_args(["ab", "stop", "x1"]).experiment_id == "x1"
    assert build_parser().parse_args(["ab", "list", "--json"]).json
