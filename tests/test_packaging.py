"""The install story: pyproject.toml and environment.yml list the same packages; CI calls make test."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _names(reqs):
    return {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].strip().lower() for r in reqs}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = _names(r for r in pip_list if not r.startswith("-e"))
    assert listed == wanted, f"only in pyproject: {wanted - listed}; only in environment.yml: {listed - wanted}"


def test_ci_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()
    assert "make test" in script
    assert "set -e" in script


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "README has no command block"
    assert blocks[0].split() == ["make", "demo", "make", "test"]


def test_python_m_dtgkit_help():
    out = subprocess.run([sys.executable, "-m", "dtgkit", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "dtgkit" in out


def test_notebooks_are_canonical():
    notebooks = sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        return
    res = subprocess.run([sys.executable, str(ROOT / "tools" / "nbcanon.py"), "--check", *notebooks],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_flat_api_names_all_resolve():
    import dtgkit

    missing = [name for name in dtgkit.__all__ if not hasattr(dtgkit, name)]
    assert not missing, f"dtgkit.__all__ names that do not resolve: {missing}"


def _quickstart() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_quickstart_is_short_and_runs(tmp_path, monkeypatch, capsys):
    """The README's quickstart: `make install` and at most four commands, synth -> pretrain ->
    finetune -> evaluate, run here as written (from a fresh folder) but with the ci-tiny budget
    in place of cpu-demo (its teacher is the real Lite0: minutes on 2 cores)."""
    import json
    import shlex

    from dtgkit.cli import main

    commands = _quickstart()
    assert len(commands) <= 5 and commands[0] == "make install", commands
    stages = [shlex.split(c) for c in commands[1:]]
    assert [s[1] for s in stages] == ["synth", "pretrain", "finetune", "evaluate"]
    monkeypatch.chdir(tmp_path)
    for argv in stages:
        assert argv[0] == ".venv/bin/dtgkit"
        argv = ["ci-tiny" if a == "cpu-demo" else a for a in argv[1:]]
        assert main(argv + ["--no-progress"] if argv[0] == "synth" else argv) == 0, argv
        out = json.loads(capsys.readouterr().out)
    assert out["classifier"]["num_samples"] == 20 and (tmp_path / out["features"]).is_file()
