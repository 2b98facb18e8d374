"""README's Python examples run as written (in order, sharing one namespace, from a scratch folder)."""

import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text()
    body = text[text.index(section) :]
    body = body[: body.index("\n## ", 3)]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_python_api_examples_run_as_written(tmp_path, monkeypatch, nb201_table, capsys):
    blocks = python_blocks("## Python API")
    assert len(blocks) == 3
    (tmp_path / "data").symlink_to(README.parent / "data")  # the examples read data/nb201/ from here
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102  (the README is ours)
    assert (tmp_path / "out" / "api-demo" / "results.db").is_file()
    assert len(namespace["records"]) == 8 and len(namespace["fitted"].predict(namespace["records"])) == 8
    assert {"beta_weight", "val_acc", "synflow", "jacob_cov"} <= set(namespace["scores"])
    assert os.path.basename(str(namespace["gt"].path)) == "nb201_merged.csv.gz"
    capsys.readouterr()


def test_nas_proxy_examples_run_as_written(tmp_path, monkeypatch, nb201_table, capsys):
    blocks = python_blocks("## Use it as a NAS proxy")
    assert len(blocks) == 1  # the NASLib and xautodl sketches (```py) need those libraries
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102  (the README is ours)
    assert namespace["nwot"].cost.calls == 2 and (tmp_path / "out" / "proxy-cache" / "results.db").is_file()
    capsys.readouterr()
