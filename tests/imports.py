"""Every import statement of a module, read from its AST: what the import-rule tests check."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    line: int
    module: str  # absolute: relative imports resolved against ``package``
    names: tuple[str, ...]  # ``from module import a, b``: (a, b); ``import module``: ()
    function: str | None  # the function it sits in (a lazy import), None at module level

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    @property
    def targets(self) -> list[str]:
        """The module and each ``module.name`` (a name may be a submodule)."""
        return [self.module, *(f"{self.module}.{name}" for name in self.names)]


def imports(path: Path, package: str = "") -> list[Import]:
    """The imports of the module at ``path``, which lives in ``package`` (for relative imports)."""
    tree = ast.parse(path.read_text(), str(path))
    enclosing: dict[int, str] = {}
    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        for node in ast.walk(func):
            if node is not func:
                enclosing.setdefault(id(node), func.name)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(node.lineno, a.name, (), enclosing.get(id(node))) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                module = ".".join([*anchor, module] if module else anchor)
            names = tuple(a.name for a in node.names)
            found.append(Import(node.lineno, module, names, enclosing.get(id(node))))
    return found
