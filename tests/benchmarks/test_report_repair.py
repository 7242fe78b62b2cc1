"""The int8 repair that a bundle's card records (``edgewise export --max-drop``) shows in the reports."""

from __future__ import annotations

from edgewise.benchmarks import report_html, report_md
from edgewise.benchmarks.harness import export_figures
from edgewise.runtime.card import Artifact, InputSpec, ModelCard

REPAIR = {
    "budget_pp": 0.5,
    "split": "val",
    "samples": 2000,
    "met": True,
    "chosen_step": 2,
    "float_layers": ["offset", "pool", "drop"],
    "float_share": 0.3,
    "quantised_layers": 10,
    "weighted_layers": 22,
    "float_weighted_layers": ["offset", "drop"],
    "float_weighted_share": 2 / 22,
    "rank_seconds": 2.5,
    "recipe": "QDQ U8S8 per-channel",
    "steps": [
        {"float_layers": [], "accuracy": 0.3, "drop_pp": 56.8, "seconds": 0.4, "action": "plain int8"},
        {
            "float_layers": ["offset", "pool", "drop", "x"],
            "accuracy": 0.88,
            "drop_pp": 0.0,
            "seconds": 1.5,
            "action": "+ relu (0.0 dB)",
        },  # fmt: skip
        {
            "float_layers": ["offset", "pool", "drop"],
            "accuracy": 0.88,
            "drop_pp": 0.1,
            "seconds": 1.5,
            "action": "- 1 layer(s)",
        },  # fmt: skip
    ],
    "ranking": [{"tensor": "relu", "score_db": 0.0, "layers": ["offset", "pool", "drop"]}],
}


def bundle_card() -> ModelCard:
    card = ModelCard(labels=["a", "b"], input=InputSpec(shape=(8, 8, 1)), model="outlier_conv1d")
    card.artifacts["model_int8.tflite"] = Artifact(file="model_int8.tflite", format="tflite", quantize="int8")
    card.artifacts["model_int8.tflite"].extra["repair"] = REPAIR
    card.artifacts["model_fp32.tflite"] = Artifact(file="model_fp32.tflite", format="tflite", quantize="fp32")
    return card


def test_the_bench_json_keeps_the_repair_without_the_ranking():
    figures = export_figures(bundle_card())
    assert "repair" not in figures["model_fp32.tflite"]
    kept = figures["model_int8.tflite"]["repair"]
    assert "ranking" not in kept and kept["float_layers"] == ["offset", "pool", "drop"]
    assert [s["float_layers"] for s in kept["steps"]] == [0, 4, 3]  # counts, not names
    assert kept["steps"][2] == {"action": "- 1 layer(s)", "drop_pp": 0.1, "seconds": 1.5, "float_layers": 3}


def test_markdown_and_html_show_the_repair(fake_run):
    run = fake_run("pc", {"model_fp32.tflite": 2.0, "model_int8.tflite": 1.0})
    assert "int8 repair" not in report_md.render(run)  # nothing repaired, no section
    run.bundle["export"] = export_figures(bundle_card())
    md = report_md.render(run)
    assert "## int8 repair (`--max-drop`)" in md
    row = next(line for line in md.splitlines() if line.startswith("| model_int8.tflite | 0.5 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == ["0.5", "+56.80", "+0.10", "yes", "3 (30%)", "2/22 (9%)", "QDQ U8S8 per-channel",
                         "2 in 5.5 s"]  # fmt: skip
    assert "| 2 (kept) | - 1 layer(s) | 3 | +0.10 | 1.5 |" in md
    assert "`offset`, `pool`, `drop`" in md
    html = report_html.render(run)
    assert '<table id="repair">' in html and "2/22 (9%)" in html and "+56.80" in html
