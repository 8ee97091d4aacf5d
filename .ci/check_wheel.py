"""Checks a wheel-installed skyql: the registry it ships is complete, and README's main-job query answers rows.

Run by .ci/check-wheel with the wheel venv's python, from a folder outside the checkout.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path


def fail(message: str) -> None:
    print(f"check-wheel: {message}", file=sys.stderr)
    sys.exit(1)


def main_job_query(readme: Path) -> list[str]:
    """The `skyql exec ...` arguments of README's main-job command."""
    blocks = re.findall(r"```sh\n(.*?)```", readme.read_text(), re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    main = [line for line in lines if line.startswith("python3 -m venv") and "pytest" not in line]
    if len(main) != 1:
        fail(f"README.md should have one main-job command, found {len(main)}")
    return shlex.split(main[0].split(".venv/bin/skyql ", 1)[1])


def main() -> None:
    readme, wheel, sdist = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    site = Path(sysconfig.get_paths()["purelib"]).resolve()

    import skyql
    from skyql.registry.loader import default_providers_dir

    if not Path(skyql.__file__).resolve().is_relative_to(site):
        fail(f"skyql was imported from {skyql.__file__}, not from the installed wheel")
    providers = default_providers_dir().resolve()
    if not providers.is_relative_to(site):
        fail(f"the registry is read from {providers}, not from the installed wheel")

    index = json.loads((providers / "google" / "provider.json").read_text())
    if not index["services"]:
        fail("the registry index in the wheel names no service")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    if "skyql/py.typed" not in in_wheel:
        fail("the wheel lacks skyql/py.typed: type checkers would not read skyql's type hints")
    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for what, names, folder in (("wheel", in_wheel, "skyql/providers"), ("sdist", in_sdist, "providers")):
        missing = [
            s["name"]
            for s in index["services"]
            if f"{folder}/google/services/{s['name']}.json.gz" not in names
        ]
        if missing:
            fail(
                f"the {what} lacks service files the registry index names: {missing[:10]} ({len(missing)} in all)"
            )

    skyql_bin = Path(sys.executable).parent / "skyql"
    args = main_job_query(readme)
    shown = subprocess.run([skyql_bin, *args], capture_output=True, text=True, timeout=300)
    if shown.returncode != 0:
        fail(f"README's main job failed ({shown.returncode}): {shown.stderr.strip()}")
    print(shown.stdout, end="")
    answered = subprocess.run([skyql_bin, *args, "-o", "json"], capture_output=True, text=True, timeout=300)
    rows = json.loads(answered.stdout) if answered.returncode == 0 else None
    if not rows or any(set(r) != {"locationsId", "state", "jobs"} or r["jobs"] < 1 for r in rows):
        fail(
            f"README's main job did not answer the expected rows: {answered.stdout[:500]} {answered.stderr[:500]}"
        )
    if {r["locationsId"] for r in rows} != {"us-central1", "europe-west4"}:
        fail(f"README's main job answered other locations: {rows}")
    # SQLite's date functions run as DuckDB Python functions, which need numpy: a dependency the wheel must pull.
    dated = subprocess.run(
        [skyql_bin, "exec", "-o", "json", "SELECT date('2024-02-28', '+2 days') AS d"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if dated.returncode != 0 or json.loads(dated.stdout) != [{"d": "2024-03-01"}]:
        fail(f"a SQLite date function failed from the wheel: {dated.stdout[:300]} {dated.stderr[:300]}")
    print(
        f"check-wheel: {len(index['services'])} services shipped; README's main job answered {len(rows)} rows"
    )


if __name__ == "__main__":
    main()
