"""The Python examples of README and docs/python_api.md run as written (each page's blocks in order,
sharing one namespace, from a scratch folder where data/ is this repository's)."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def run_blocks(page: Path, tmp_path: Path, monkeypatch) -> dict:
    (tmp_path / "data").symlink_to(ROOT / "data")  # the examples read data/nb201/ from here
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in python_blocks(page):
        exec(compile(block, str(page), "exec"), namespace)  # noqa: S102  (the pages are ours)
    return namespace


def test_readme_example_runs_as_written(tmp_path, monkeypatch, nb201_table, capsys):
    assert len(python_blocks(ROOT / "README.md")) == 1
    namespace = run_blocks(ROOT / "README.md", tmp_path, monkeypatch)
    assert (tmp_path / "out" / "readme-demo" / "results.db").is_file() and namespace["rows"]
    assert namespace["nwot"].cost.calls == 2
    capsys.readouterr()


def test_python_api_page_runs_as_written(tmp_path, monkeypatch, nb201_table, capsys):
    page = ROOT / "docs" / "python_api.md"
    assert len(python_blocks(page)) == 3  # the NASLib and xautodl sketches (```py) need those libraries
    namespace = run_blocks(page, tmp_path, monkeypatch)
    assert (tmp_path / "out" / "api-demo" / "results.db").is_file()
    assert len(namespace["records"]) == 8 and len(namespace["fitted"].predict(namespace["records"])) == 8
    assert {"beta_weight", "val_acc", "synflow", "jacob_cov"} <= set(namespace["scores"])
    assert Path(str(namespace["gt"].path)).name == "nb201_merged.csv.gz"
    assert namespace["nwot"].cost.calls == 2 and (tmp_path / "out" / "proxy-cache" / "results.db").is_file()
    capsys.readouterr()


def test_the_plugin_shown_in_the_docs_is_the_example_file():
    shown = 0
    example = (ROOT / "examples" / "my_proxies.py").read_text()
    for page in (ROOT / "README.md", ROOT / "docs" / "metrics.md"):
        for block in re.findall(r"```py\n(.*?)```", page.read_text(), flags=re.S):
            if "@metric(" in block and "diversity" in block:
                assert all(line in example for line in block.strip().splitlines() if line.strip()), page
                shown += 1
    assert shown == 2
