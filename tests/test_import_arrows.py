"""The allowed import arrows between edgewise's packages (docs/architecture.md), checked over the AST.

Every import counts, lazy ones inside functions included: a lazy arrow the wrong way is still a wrong
arrow. ``edgewise`` itself (the root ``__init__``: the version) may be imported from anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import edgewise
from tests.imports import imports

PACKAGE = Path(edgewise.__file__).parent
# package -> the other edgewise packages it may import
ALLOWED = {
    "runtime": set(),
    "benchmarks": {"runtime"},
    "train": {"runtime"},
    "export": {"runtime", "train"},
    "serve": {"runtime"},
}
CLI_WIRING = {"edgewise.cli", "edgewise.__main__"}  # the only modules that may import a cli module


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, module) for every edgewise module ``path`` imports, relative imports resolved."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = [(i.line, target) for i in imports(path, package) for target in i.targets]
    return [(line, name) for line, name in found if name == "edgewise" or name.startswith("edgewise.")]


def wrong_arrows(root: Path = PACKAGE) -> list[str]:
    wrong = []
    for path in sorted(root.rglob("*.py")):
        source = module_name(path, root)
        source_package = source.split(".")[1] if source.count(".") else None
        for line, target in imported_modules(path, root):
            parts = target.split(".")
            where = f"{path.relative_to(root.parent)}:{line}"
            if (parts[-1] == "cli" or parts[1:2] == ["cli"]) and source not in CLI_WIRING:
                wrong.append(f"{where} imports {target}: nothing imports a cli module")
            if len(parts) < 2 or source_package not in ALLOWED:
                continue
            target_package = parts[1]
            if target_package in ALLOWED and target_package != source_package:
                message = f"{where}: {source_package} may not import edgewise.{target_package}"
                if target_package not in ALLOWED[source_package] and message not in wrong:
                    wrong.append(message)
    return wrong


def test_the_package_follows_the_arrows():
    assert wrong_arrows() == []


@pytest.mark.parametrize(
    "package, line, complaint",
    [
        ("runtime", "from edgewise.export import api", "runtime may not import edgewise.export"),
        ("benchmarks", "import edgewise.train.data", "benchmarks may not import edgewise.train"),
        ("train", "from edgewise.benchmarks import stats", "train may not import edgewise.benchmarks"),
        ("export", "from edgewise.runtime import cli", "nothing imports a cli module"),
        ("runtime", "from ..benchmarks import harness", "runtime may not import edgewise.benchmarks"),
    ],
)
def test_a_wrong_arrow_is_caught(tmp_path, package, line, complaint):
    fake = tmp_path / "edgewise"
    (fake / package).mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / package / "__init__.py").write_text("")
    (fake / package / "wrong.py").write_text(f"def lazy():\n    {line}\n")
    found = wrong_arrows(fake)
    assert len(found) == 1 and complaint in found[0], found
