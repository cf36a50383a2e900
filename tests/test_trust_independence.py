"""The trust package stands alone: it imports nothing from the emulator or the CLI tree."""
from __future__ import annotations

import ast
from pathlib import Path

import xsp_trust as trust

# By their installed names; "xsp_trust" is trust itself.
FORBIDDEN = ("xsp", "xsp_cli_contexts", "cli_contexts")


def test_trust_imports_nothing_from_xsp_or_cli_contexts() -> None:
    """No module of trust/ (installed as xsp_trust) imports xsp or cli_contexts, so it can
    be lifted out whole."""
    package = Path(trust.__file__).parent
    offenders = []
    for module in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{module.name}: {name}" for name in names
                          if name.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_public_names_resolve() -> None:
    """Every name in trust.__all__ exists, and the private modules stay private."""
    assert all(hasattr(trust, name) for name in trust.__all__)
    assert not any(name.startswith("_") for name in trust.__all__)
