"""Docs are tested: a console command or a setting without documentation fails here."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import click

from appliance.cli import main
from appliance.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def command_paths(group: click.Group, prefix: str = "ezh") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        paths.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            paths += command_paths(command, f"{prefix} {name}")
    return paths


def test_every_console_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in command_paths(main):
        head, _, last = path.rpartition(" ")
        assert path in readme or (last in readme and head in readme), path


def test_every_setting_is_documented():
    text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    for setting in fields(Settings):
        if setting.name != "data_dir":
            assert f"`{setting.name}`" in text, setting.name
