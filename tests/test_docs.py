"""The documentation site builds offline with warnings as errors, and what it shows is current.

- ``mkdocs build --strict`` into a temporary folder, in a subprocess whose proxies point to a
  closed port: a plugin or theme that tried to fetch anything (fonts, inventories, social
  cards) would fail the build; the built pages must load nothing from another host.
- The command-line reference page equals ``scripts/cli_reference.py``'s output.
- Every Python example (``>>>``) of every page runs as a doctest (``scripts/run_doc_examples.py``),
  with the bundled sample data only.
- Every page is in the navigation; the hub description's picture is an absolute URL.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: No network: every proxy-honouring client (requests, urllib, httpx, pip) fails at once.
OFFLINE = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
    "NO_MKDOCS_2_WARNING": "1",
}


def _env(offline: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if offline:
        env.update(OFFLINE)
    return env


def _run(*args: str | Path, timeout: float = 600, offline: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], cwd=ROOT, env=_env(offline), capture_output=True, text=True,
        timeout=timeout,
    )


class _Loader(yaml.SafeLoader):
    """mkdocs.yml may carry ``!!python/name`` tags (pymdownx); none are needed to read the nav."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
_Loader.add_multi_constructor("!", lambda *_: None)


def _config() -> dict:
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)


def _nav_pages(nav) -> list[str]:
    pages: list[str] = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            pages += _nav_pages(value)
        else:
            pages.append(value)
    return pages


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    proc = _run(sys.executable, "-m", "mkdocs", "build", "--strict", "-f", ROOT / "mkdocs.yml",
                "-d", out)
    took = time.perf_counter() - start
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    for line in proc.stderr.splitlines():  # --strict aborts on warnings; say if any slipped by
        assert not line.startswith(("WARNING", "ERROR")), line
    print(f"mkdocs build --strict: {took:.1f} s")
    return out


def test_site_builds_strict_offline(site: Path) -> None:
    for page in ("index.html", "getting-started/index.html", "reference/cli/index.html",
                 "reference/python-api/index.html", "coco-conventions/index.html",
                 "tutorials/open-and-fix-a-coco-dataset/index.html",
                 "tutorials/segment-and-measure-coins/index.html",
                 "architecture/index.html", "benchmarks/index.html", "screenshot.png"):
        assert (site / page).is_file(), page
    api = (site / "reference/python-api/index.html").read_text(encoding="utf-8")
    for name in ("napari_coco_masks.coco.load_coco", "napari_coco_masks.coco.write.write_coco",
                 "napari_coco_masks.segment.threshold.threshold",
                 "napari_coco_masks.segment.measure.measure"):
        assert f'id="{name}"' in api, f"{name} missing from the API reference"


def test_site_loads_nothing_from_other_hosts(site: Path) -> None:
    """No Google Fonts, CDN scripts or remote stylesheets: the site works offline too."""
    remote = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]*"')
    for html in site.rglob("*.html"):
        for tag in remote.findall(html.read_text(encoding="utf-8")):
            assert 'rel="canonical"' in tag, f"{html.relative_to(site)} loads {tag}"
    for css in site.rglob("*.css"):
        assert "fonts.googleapis" not in css.read_text(encoding="utf-8"), css


def test_every_page_is_in_the_nav() -> None:
    config = _config()
    nav = set(_nav_pages(config["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == nav, f"not in nav: {sorted(pages - nav)}; missing: {sorted(nav - pages)}"
    plugins = [p if isinstance(p, str) else next(iter(p)) for p in config.get("plugins", [])]
    for fetching in ("privacy", "social", "material/privacy", "material/social"):
        assert fetching not in plugins, f"the {fetching} plugin downloads at build time"
    assert config["theme"].get("font") is False, "theme.font loads Google Fonts"


def test_cli_reference_is_current() -> None:
    proc = _run(sys.executable, ROOT / "scripts" / "cli_reference.py")
    assert proc.returncode == 0, proc.stderr
    page = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    assert page == proc.stdout, (
        "docs/reference/cli.md is stale: run "
        "`.venv/bin/python scripts/cli_reference.py > docs/reference/cli.md`"
    )


def _pages_with_examples() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if ">>> " in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", _pages_with_examples(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_doc_examples_run(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    if "import napari\n" in text and not (os.environ.get("DISPLAY") or
                                            os.environ.get("WAYLAND_DISPLAY")):
        pytest.skip("the page opens a napari viewer: run under xvfb-run")
    proc = _run(sys.executable, ROOT / "scripts" / "run_doc_examples.py", page)
    assert proc.returncode == 0, f"{page.name}:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert re.search(r": [1-9]\d* examples, 0 failed", proc.stdout), proc.stdout


def test_docs_extra_is_in_testing_extra() -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pytest's own dependency has the same parser
        import tomli as tomllib
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras["docs"]) <= set(extras["testing"]), "CI installs the testing extra only"


def test_hub_description_picture_renders_off_repository() -> None:
    text = (ROOT / ".napari-hub" / "DESCRIPTION.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text) + re.findall(r'<img[^>]+src="([^"]+)"', text)
    assert images, "the hub description should open with a picture"
    for url in images:
        assert url.startswith("https://"), f"{url}: relative images do not render on the hub"


def test_distributions_pass_twine_check(tmp_path: Path) -> None:
    """PyPI renders the README and accepts the metadata (URLs, classifiers, license).

    The build's isolated environment installs setuptools as ``tests/test_packaging.py`` does,
    so this one test may use the package index.
    """
    built = _run(sys.executable, "-m", "build", "--outdir", tmp_path, ROOT, timeout=900,
                 offline=False)
    assert built.returncode == 0, f"python -m build failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    dists = sorted(tmp_path.glob("napari_coco_masks-*"))
    assert {p.suffix for p in dists} == {".gz", ".whl"}, dists
    checked = _run(sys.executable, "-m", "twine", "check", "--strict", *dists)
    assert checked.returncode == 0, f"twine check --strict failed:\n{checked.stdout}\n{checked.stderr}"


def _pictures() -> list[Path]:
    """Every local PNG that the README, the hub description and the docs pages show."""
    pages = [ROOT / "README.md", ROOT / ".napari-hub" / "DESCRIPTION.md", *DOCS.rglob("*.md")]
    found = set()
    for page in pages:
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+\.png)\)", page.read_text()):
            name = target.split("/main/")[-1] if target.startswith("http") else target
            path = (ROOT / name) if target.startswith("http") else (page.parent / name)
            found.add(path.resolve())
    return sorted(found)


def test_every_picture_exists_and_is_not_blank() -> None:
    import imageio.v3 as iio

    sys.path.insert(0, str(ROOT / "scripts"))
    from make_screenshots import TARGETS, blank_reason

    pictures = _pictures()
    assert len(pictures) >= 2  # the README and hub pictures at least
    made = {(DOCS / file).resolve() for file, _ in TARGETS.values()}
    for path in pictures:
        assert path.exists(), f"{path} is referenced but missing"
        assert blank_reason(iio.imread(path)) is None, f"{path} looks blank"
        assert path in made, f"{path.name} is not made by scripts/make_screenshots.py"


def test_make_screenshots_makes_a_drawn_picture(tmp_path: Path) -> None:
    import imageio.v3 as iio

    out = _run(sys.executable, ROOT / "scripts" / "make_screenshots.py", "reader",
               "--out", tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    shot = iio.imread(tmp_path / "reader-screenshot.png")[..., :3]
    assert shot.std() > 20 and len(np.unique(shot.reshape(-1, 3), axis=0)) > 1000


def test_readme_pictures_render_off_repository() -> None:
    """PyPI shows the README without the repository's files: its pictures need absolute URLs
    (each naming a file of docs/ that exists, checked above)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", text)
    assert images
    assert all(u.startswith("https://") and "/main/docs/" in u for u in images), images
