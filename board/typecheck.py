"""Type-check board/firmware with mypy against MicroPython's RP2040 stubs, not CPython's.

``micropython-rp2-rpi-pico-stubs`` (and its ``micropython-stdlib-stubs``) install loose ``.pyi``
files into site-packages, where mypy neither finds ``machine`` nor lets ``time``/``sys`` replace
CPython's. So this lays them out as a typeshed (``stdlib/`` plus a ``VERSIONS`` line for every
module) in a cache folder and runs mypy with ``--custom-typeshed-dir`` on it:

    .venv/bin/python board/typecheck.py            # = mypy --config-file board/mypy.ini ...
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
import tempfile
from pathlib import Path

from mypy import api

HERE = Path(__file__).resolve().parent
STUB_DISTS = ("micropython-rp2-rpi_pico-stubs", "micropython-stdlib-stubs")


def build_typeshed(out: Path) -> None:
    stdlib = out / "stdlib"
    for name in STUB_DISTS:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or ():
            rel = str(file)
            if not (rel.endswith(".pyi") or rel == "stdlib/VERSIONS"):
                continue
            target = stdlib / rel.removeprefix("stdlib/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(str(dist.locate_file(file))), target)
    versions = stdlib / "VERSIONS"
    text = versions.read_text()
    known = {line.split(":")[0].strip() for line in text.splitlines() if ":" in line}
    modules = {p.stem if p.suffix == ".pyi" else p.name for p in stdlib.iterdir()}
    extra = sorted(modules - known - {"VERSIONS"})
    versions.write_text(text + "".join(f"{m}: 3.0-\n" for m in extra))
    # mypy itself needs mypy_extensions from any typeshed it is given.
    bundled = Path(api.__file__).parent / "typeshed" / "stubs" / "mypy-extensions"
    shutil.copytree(bundled, out / "stubs" / "mypy-extensions")


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="mpy-typeshed-") as tmp:
        build_typeshed(Path(tmp))
        args = [
            "--config-file",
            str(HERE / "mypy.ini"),
            "--custom-typeshed-dir",
            tmp,
            *(argv or [str(HERE / "firmware")]),
        ]
        out, err, status = api.run(args)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
