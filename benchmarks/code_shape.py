"""Print the shape of ``endpoint/``: the largest files and the longest functions.

Issue 14 asks for before/after figures of the layout work; this prints them the same way
every time, so two checkouts can be compared::

    python benchmarks/code_shape.py            # this checkout
    python benchmarks/code_shape.py --root ../other-checkout --top 10

A function's length is its line span (``def`` to its last line, docstring included), as
``ast`` reports it; nested functions count inside their parent and again on their own.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def file_sizes(package: Path) -> list[tuple[int, str]]:
    sizes = []
    for path in sorted(package.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        sizes.append((lines, str(path.relative_to(package.parent))))
    return sorted(sizes, reverse=True)


def function_lengths(package: Path) -> list[tuple[int, str]]:
    lengths = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        where = str(path.relative_to(package.parent))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                span = (node.end_lineno or node.lineno) - node.lineno + 1
                lengths.append((span, f"{where}:{node.lineno} {node.name}"))
    return sorted(lengths, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    package = args.root / "endpoint"
    if not package.is_dir():
        parser.error(f"no endpoint/ package under {args.root}")
    sizes = file_sizes(package)
    print(f"{len(sizes)} files, {sum(n for n, _ in sizes)} lines in {package}")
    print(f"largest {args.top} files (lines):")
    for lines, name in sizes[: args.top]:
        print(f"  {lines:5d}  {name}")
    print(f"longest {args.top} functions (lines):")
    for lines, name in function_lengths(package)[: args.top]:
        print(f"  {lines:5d}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
