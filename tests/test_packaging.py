"""The built wheel carries the manifest, installs into a fresh venv, and napari finds the plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--wheel", "--outdir", out, ROOT)
    (whl,) = out.glob("napari_coco_masks-*.whl")
    return whl


def test_top_level_manifest_is_the_packaged_one() -> None:
    packaged = ROOT / "src" / "napari_coco_masks" / "napari.yaml"
    assert packaged.read_text() == (ROOT / "napari.yaml").read_text()


def test_wheel_contains_manifest_and_sample_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        manifest = zf.read("napari_coco_masks/napari.yaml").decode()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        eps = zf.read(entry_points).decode()
    assert manifest == (ROOT / "napari.yaml").read_text()
    assert "napari-coco-masks = napari_coco_masks:napari.yaml" in eps
    assert "napari_coco_masks/data/coins.json" in names
    assert "napari_coco_masks/data/coins.png" in names


def test_wheel_installs_and_napari_lists_the_plugin(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    _run(py, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel)
    out = _run(venv / "bin" / "npe2", "validate", "napari-coco-masks")
    assert "valid" in out.lower()
    listed = _run(
        py,
        "-c",
        "from npe2 import PluginManager; pm = PluginManager.instance(); pm.discover();"
        "m = pm.get_manifest('napari-coco-masks');"
        "print(len(m.contributions.readers), len(m.contributions.writers),"
        " len(m.contributions.widgets), len(m.contributions.sample_data));"
        "import napari_coco_masks, pathlib; print(pathlib.Path(napari_coco_masks.__file__).parent)",
    )
    counts, location = listed.strip().splitlines()[-2:]
    manifest = yaml.safe_load((ROOT / "napari.yaml").read_text())["contributions"]
    expected = [len(manifest[k]) for k in ("readers", "writers", "widgets", "sample_data")]
    assert counts.split() == [str(n) for n in expected]
    assert str(venv) in location, "the plugin must be imported from the installed wheel"
    _run(venv / "bin" / "napari-coco-masks", "--help")


def test_test_module_basenames_are_unique() -> None:
    """pytest imports test modules by basename (no packages under tests/): two alike collide."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    for path in (ROOT / "tests").rglob("*.py"):
        if path != Path(__file__).resolve():
            assert "from conftest import" not in path.read_text(), f"{path}: use coco_testing"
