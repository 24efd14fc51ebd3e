"""Separate virtual environments for peers that cannot share imagebio's pins (e.g. PyRadiomics needs numpy<2).

``peer_python(name, steps)`` creates ``.venv-peers/<name>`` once (by running the pip ``steps`` in order) and
returns its interpreter, or ``None`` with the reason printed when the install fails, so ``make bench`` still
reports the other rows. ``run_peer(python, script, payload)`` runs a peer script there and returns its JSON
answer (scripts read a JSON payload on stdin and print one JSON object).
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / ".venv-peers"


def peer_python(name: str, steps: list[list[str]]) -> Path | None:
    """Interpreter of the peer venv ``name``, created with ``pip install`` of each step's arguments.

    Example: ``peer_python("pyradiomics", [["numpy<2", "setuptools", "wheel", "versioneer"],
    ["--no-build-isolation", "pyradiomics==3.0.1"]])``.
    """
    env_dir = PEERS / name
    python = env_dir / "bin" / "python"
    stamp = env_dir / ".installed"
    wanted = json.dumps(steps)
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"  creating peer environment {env_dir} ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    for step in steps:
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *step],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            print(f"  peer {name}: pip install {' '.join(step)} failed: {' | '.join(tail)}", file=sys.stderr)
            return None
    stamp.write_text(wanted)
    return python


def run_peer(python: Path, script: Path, payload: dict, timeout_s: float = 3600) -> dict:
    """Run ``script`` with the peer interpreter, sending ``payload`` as JSON on stdin; return its JSON output."""
    result = subprocess.run(
        [str(python), str(script)], input=json.dumps(payload), capture_output=True, text=True, timeout=timeout_s
    )
    if result.returncode != 0:
        raise RuntimeError(f"peer script {script.name} failed: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
