"""StackQL's data blocks: `<<<jsonnet ... >>>` and `<<<json ... >>>` in a script give the template its data.

As in StackQL, a block is cut out of the script before the template renders, it evaluates to an object whose keys
become template variables (a later block wins over an earlier one, and both over --var / --iqldata), and jsonnet's
std.extVar('name') reads the script's variables (--var and --iqldata). Jsonnet cannot run programs or reach the
network; its one way out, `import`, is held to the script's own folder (never outside it, never through a
symlink that leads out), and refused entirely with --safe or for a query given on the command line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyql.errors import ConfigError, SqlError

_START = re.compile(r"<<<([A-Za-z]\w*)")
_END = ">>>"
_TYPES = ("json", "jsonnet")


@dataclass(frozen=True)
class Block:
    kind: str  # json or jsonnet
    body: str
    line: int  # where <<< is, in the script


def split(text: str) -> tuple[str, list[Block]]:
    """The script without its blocks (each replaced by its line breaks, so lines keep their numbers)."""
    blocks: list[Block] = []
    out: list[str] = []
    position = 0
    while (match := _START.search(text, position)) is not None:
        kind = match.group(1)
        line = text.count("\n", 0, match.start()) + 1
        if kind not in _TYPES:
            raise SqlError(
                f"line {line}: <<<{kind} is not a data block; write <<<jsonnet ... >>> or <<<json ... >>>"
            )
        end = text.find(_END, match.end())
        if end == -1:
            raise SqlError(f"line {line}: <<<{kind} block has no closing >>>")
        body = text[match.end() : end]
        out.append(text[position : match.start()])
        out.append("\n" * body.count("\n"))
        blocks.append(Block(kind, body, line))
        position = end + len(_END)
    out.append(text[position:])
    return "".join(out), blocks


def evaluate(
    blocks: list[Block], variables: Mapping[str, Any], *, folder: Path | None, imports: bool
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for block in blocks:
        if block.kind == "json":
            try:
                value = json.loads(block.body)
            except ValueError as err:
                raise SqlError(f"line {block.line}: <<<json block is not valid JSON: {err}") from None
        else:
            name = str(folder / "<script>") if folder else "<script>"
            value = _jsonnet(
                block.body,
                name,
                variables,
                folder if imports else None,
                f"<<<jsonnet block at line {block.line}",
            )
        if not isinstance(value, dict):
            raise SqlError(f"line {block.line}: a <<<{block.kind} block must give an object (name: value)")
        data.update(value)
    return data


def load_file(path: Path, variables: Mapping[str, Any], *, imports: bool) -> Any:
    """An --iqldata .jsonnet file: evaluated with the --var values as std.extVar, imports from its folder."""
    folder = path.resolve().parent
    return _jsonnet(
        path.read_text(encoding="utf-8"),
        str(path.resolve()),
        variables,
        folder if imports else None,
        f"--iqldata {path}",
    )


def _jsonnet(
    source: str, filename: str, variables: Mapping[str, Any], folder: Path | None, where: str
) -> Any:
    try:
        import _jsonnet
    except ImportError:
        raise ConfigError("jsonnet data needs the jsonnet package: pip install jsonnet") from None
    ext_vars = {k: v for k, v in variables.items() if isinstance(v, str)}
    ext_codes = {k: json.dumps(v) for k, v in variables.items() if not isinstance(v, str)}

    def load(base: str, rel: str) -> tuple[str, bytes]:
        return _import(folder, base, rel)

    try:
        text = _jsonnet.evaluate_snippet(
            filename, source, ext_vars=ext_vars, ext_codes=ext_codes, import_callback=load, max_stack=500
        )
    except RuntimeError as err:
        message = " ".join(str(err).split("\n")[0].split())
        message = message.removeprefix("RUNTIME ERROR: ").removeprefix("STATIC ERROR: ")
        undefined = re.search(r"[Uu]ndefined external variable: (\S+)", message)
        if undefined:
            name = undefined.group(1)
            message += f": pass --var {name}=VALUE"
        raise SqlError(f"{where}: jsonnet: {message}") from None
    return json.loads(text)


def _import(folder: Path | None, base: str, rel: str) -> tuple[str, bytes]:
    """The jsonnet import callback: only files inside the script's folder; raising refuses the import."""
    if folder is None:
        raise RuntimeError("imports are turned off here (--safe, or a query given on the command line)")
    root = os.path.realpath(folder)
    target = os.path.realpath(os.path.join(base or root, rel))
    if os.path.commonpath([root, target]) != root:
        raise RuntimeError(f"only files in {root} can be imported")
    if not os.path.isfile(target):
        raise RuntimeError("no such file")
    with open(target, "rb") as handle:
        return target, handle.read()
