"""Renders the dashboard's panels, from the Prometheus range queries that
run.py saved, into one PNG (Grafana is not installable here; the queries are
the dashboard's own). Usage: python render.py DATA.json OUT.png"""

import json
import math
import sys
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    data = json.load(open(sys.argv[1]))
    start = data["start"]
    panels = OrderedDict()
    for s in data["series"]:
        panels.setdefault(s["title"], []).append(s)
    cols = 3
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 6, rows * 3.2), squeeze=False)
    fig.suptitle("g-aigateway dashboard — panels rendered from a live 3-node run (scripts/cluster-e2e.sh)",
                 fontsize=13)
    for ax, (title, series) in zip(axes.flat, panels.items()):
        ax.set_title(title, fontsize=10)
        for s in series:
            for r in s["result"]:
                xs = [float(t) - start for t, _ in r["values"]]
                ys = [float(v) for _, v in r["values"]]
                labels = ",".join(f"{k}={v}" for k, v in sorted(r["metric"].items()) if k not in ("job",))
                ax.plot(xs, ys, linewidth=1.2, label=labels[:48] or s["expr"][:48])
        ax.tick_params(labelsize=7)
        ax.set_xlabel("seconds", fontsize=7)
        handles, _ = ax.get_legend_handles_labels()
        if 0 < len(handles) <= 6:
            ax.legend(fontsize=6, loc="upper left")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(sys.argv[2], dpi=80)


if __name__ == "__main__":
    main()
