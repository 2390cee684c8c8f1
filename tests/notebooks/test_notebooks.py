"""Every notebook run by papermill with tiny parameters (through `workbench demo --tiny`), asserting
on what each recorded; the parameters convention; the demo's layout, reports and resumption."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from notebook_helpers import NOTEBOOKS, workbench
from workbench.protocol.config import WEAK_METHODS
from workbench.explore.ablations import DEFAULT
from workbench.reports.browser import find_chromium
from workbench.studies import read_results, run_notebook
from workbench.studies.parameters import notebook_parameters
from workbench.studies.table import read_statuses

ALL = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
WEAK = set(WEAK_METHODS)  # the study runs every weak method; the notebook must record each


def results(demo: Path, study: str) -> list[dict]:
    statuses = read_statuses(demo / "studies" / study)
    assert statuses and all(s["state"] == "done" for s in statuses), [s.get("error") for s in statuses]
    return [s["results"] for s in statuses]


def is_dice(v) -> bool:
    """A recorded Dice: a real number in [0, 1] (every notebook scores lesion slices, so never None)."""
    return isinstance(v, float) and 0.0 <= v <= 1.0


def test_executed_notebooks_carry_no_progress_bars_or_stderr(tiny_demo):
    """Progress belongs in a terminal, never in an executed notebook or its report."""
    executed = sorted((tiny_demo / "studies").rglob("*.ipynb"))
    assert len(executed) >= 4
    for path in executed:
        cells = json.loads(path.read_text())["cells"]
        stderr = [o.get("text", "") for c in cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
        assert not stderr, (path.name, "".join(stderr)[:300])


def test_the_four_notebooks_exist():
    assert [p.name for p in ALL] == ["01_explore.ipynb", "02_compare_methods.ipynb", "03_learning_strategy.ipynb",
                                     "04_heads_and_stages.ipynb"]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_parameters_cell_of_upper_case_scalars_readable_by_plain_papermill(path):
    import papermill

    params = notebook_parameters(path)  # raises unless one tagged cell of UPPER_CASE scalar literals
    assert params and all(name.isupper() for name in params)
    assert list(papermill.inspect_notebook(str(path))) == list(params)  # `papermill -p NAME value` from a shell
    code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert "record(" in "".join(code[-1]["source"])  # results recorded at the end
    assert all(not c.get("outputs") for c in code)  # committed without outputs


def test_demo_layout_steps_and_reports(tiny_demo):
    state = json.loads((tiny_demo / "demo.json").read_text())
    assert {k for k, v in state["steps"].items() if v["state"] == "done"} == {
        "data", "train:binary", "train:multilabel", "evaluate", "studies", "reports"}
    for rel in ("data/eval/manifest.csv", "data/train/manifest.csv", "models/binary/best.safetensors",
                "models/multilabel/best.json", "evaluation/summary.csv"):
        assert (tiny_demo / rel).is_file(), rel
    index = (tiny_demo / "reports" / "index.html").read_text()
    runs = [s["run_id"] for study in ("explore", "compare", "learning", "ablations")
            for s in read_statuses(tiny_demo / "studies" / study)]
    assert len(runs) == 4 and all(f'href="{r}.html"' in index for r in runs)
    html = (tiny_demo / "reports" / f"{runs[0]}.html").read_text()
    assert "Plotly.newPlot" in html and not re.search(r'<script[^>]+src="https?:', html)  # plotly.js embedded


def test_explore_records_the_slice_and_heads(tiny_demo):
    (r,) = results(tiny_demo, "explore")
    assert r["methods"] == ["hgi_sam", "blood_refine", "gradcam", "rollout"]  # the notebook's default: ours beside the paper's
    assert all(is_dice(r[f"dice_{m}"]) for m in r["methods"]) and 0 <= r["prob"] <= 1
    assert r["lesion_pixels"] > 0  # opens on a bleed
    assert r["n_heads"] == 1 and r["top_head"] == 1 and len(r["head_weights"]) == 1  # test-tiny stage 1


def test_compare_records_every_method_consistently_with_the_study(tiny_demo):
    (r,) = results(tiny_demo, "compare")
    assert set(r["methods"]) == WEAK and r["n_lesion_slices"] > 0
    summary = pd.read_csv(tiny_demo / "evaluation" / "summary.csv").set_index("method")
    for m in WEAK:
        assert r[f"dice_{m}"] == pytest.approx(summary.loc[m, "dice_mean"])
    assert r["best_method"] == max(WEAK, key=lambda m: summary.loc[m, "dice_mean"])


def test_learning_strategy_records_both_classifiers(tiny_demo):
    (r,) = results(tiny_demo, "learning")
    assert r["method"] == "swin_sam" and 0 < r["n_slices"] <= 6
    assert is_dice(r["dice_binary"]) and is_dice(r["dice_multilabel"])
    assert {k.split("/")[0] for k in r["subtype_dice"]} == {"binary", "multilabel"}


def test_learning_strategy_scores_each_model_on_its_own_input(tiny_demo, tmp_path):
    """Regression: the notebook used to score the binary model on the multilabel model's input recipe
    (size and windows); here the multilabel model reads 48 px slices through other windows."""
    import torch

    from workbench.explore.run import load_run
    from workbench.explore.scoring import lesion_rows, score_variants
    from workbench.models import create_model, save_model

    torch.manual_seed(1)
    other = tmp_path / "multilabel-48px"
    save_model(create_model("test-tiny", task="multilabel", img_size=48, windows=("brain", "subdural", "stroke")),
               other / "best")
    out = run_notebook(NOTEBOOKS / "03_learning_strategy.ipynb", tmp_path / "03.ipynb", {
        "RUN_DIR": str(tiny_demo), "MULTILABEL_MODEL": str(other), "MAX_SLICES": 4, "EXAMPLES": 2})
    r = read_results(out)
    variant = {"swin_sam": ("swin_sam", {})}
    for name, model in (("binary", "binary"), ("multilabel", str(other))):
        net, own = load_run(tiny_demo, model)
        want = score_variants(net, own, lesion_rows(own, 4), variant).summary().set_index("variant").loc["swin_sam"]
        assert r[f"dice_{name}"] == pytest.approx(want["dice"], abs=1e-9), name
        assert r[f"best_threshold_{name}"] == pytest.approx(want["best_threshold"])


def test_ablations_record_variants_and_heads(tiny_demo):
    (r,) = results(tiny_demo, "ablations")
    assert r["model"] == "binary" and r["gradient"] == "logits"
    dice = r["variant_dice"]
    assert DEFAULT in dice and "heads none" in dice and all(is_dice(v) for v in dice.values())
    assert r["best_dice"] == pytest.approx(max(v for v in dice.values() if v is not None))
    assert r["n_heads"] == 6 and r["top_head"].startswith("stage ")
    assert r["alpha_energy_spearman"] is None or -1 <= r["alpha_energy_spearman"] <= 1


def test_explorer_notebook_with_other_parameters(tiny_demo, tmp_path):
    out = run_notebook(NOTEBOOKS / "01_explore.ipynb", tmp_path / "01.ipynb", {
        "RUN_DIR": str(tiny_demo), "MODEL": "multilabel", "SUBJECT": "synthetic-002", "SLICE": 1, "THRESHOLD": 0.3,
        "STAGE": 2, "BLOCK": 2, "HEAD": 2, "GRADIENT": "probs", "METHODS": "hgi_sam,gradcam", "INTERACTIVE": False})
    r = read_results(out)
    assert r["subject"] == "synthetic-002" and r["slice_index"] == 1 and r["threshold"] == 0.3
    assert r["methods"] == ["hgi_sam", "gradcam"] and r["n_heads"] == 2 and len(r["head_weights"]) == 2
    weights = r["head_weights"]  # 1-based: the head with the largest gradient weight
    assert weights[0] != weights[1] and r["top_head"] == 1 + max(range(2), key=lambda h: weights[h])
    nb = json.loads(out.read_text())
    assert "application/vnd.jupyter.widget-view+json" not in out.read_text()  # batch: no widgets
    assert sum("application/vnd.plotly.v1+json" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", [])) == 3
    assert out.stat().st_size < 3_000_000


def test_demo_resumes_and_refuses_changed_settings(tiny_demo):
    r = workbench("demo", "--tiny", "--out", str(tiny_demo), cwd=tiny_demo.parent)
    assert r.stdout.count("done before, skipped") == 6 and "reports:" in r.stdout
    with pytest.raises(AssertionError, match="other settings \\(max_slices changed\\)"):
        workbench("demo", "--tiny", "--max-slices", "3", "--out", str(tiny_demo), cwd=tiny_demo.parent)


@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (apt-get install chromium)")
def test_report_site_index_fits_the_viewport_with_thumbnails(tiny_demo, browser):
    """The first index was one 59-column table, 7,696 px wide; the folder was 61 MB (plotly.js per page)."""
    reports = tiny_demo / "reports"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto((reports / "index.html").resolve().as_uri(), wait_until="load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        images = page.evaluate("[...document.images].map(i => [i.complete && i.naturalWidth > 0, i.getAttribute('src')])")
        assert len(images) >= 4 and all(ok for ok, _ in images), images  # a drawn thumbnail per run with a figure
        assert page.locator("section h2").count() == 4 and page.locator("p.purpose").count() == 4
    finally:
        page.close()
    size = sum(f.stat().st_size for f in reports.rglob("*") if f.is_file())
    assert size < 10_000_000, f"report folder {size / 1e6:.1f} MB"
