"""PNG figures logged to MLflow: ROC, precision-recall and calibration curves (matplotlib, no display)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def curve_figure(kind: str, curves: Mapping[str, pd.DataFrame], title: str) -> Figure:
    """One figure with one line per label: kind ``roc`` (fpr/tpr), ``pr`` (recall/precision) or
    ``calibration`` (mean_predicted/observed_rate)."""
    x, y, xlabel, ylabel = {
        "roc": ("fpr", "tpr", "False positive rate", "True positive rate"),
        "pr": ("recall", "precision", "Recall", "Precision"),
        "calibration": ("mean_predicted", "observed_rate", "Mean predicted probability", "Observed withdrawal rate"),
    }[kind]
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=100)
    for label, frame in curves.items():
        ax.plot(frame[x], frame[y], marker="o" if kind == "calibration" else None, markersize=3, label=label)
    if kind in ("roc", "calibration"):
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="lower right" if kind == "roc" else "best", fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig
