"""Render the Slack message the demo produces: docs/slack-example.png (and slack-plot.png).

Run from the repository root: ``.venv/bin/python docs/slack_example.py``. It replays the bundled
demo through the real pipeline and alert policy (the same code the daemon runs), takes the first
firing Slack notification, renders its Block Kit blocks as Slack would lay them out (HTML), and
screenshots that with headless Chromium.
"""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts import AlertPipeline, HistoryPoint, PolicySettings, SinkRoute, render_blocks, render_plot
from connectors.files import read_table
from detectors.evaluation import EvaluationSettings
from monitor.alert_store import SqlAlertStore
from monitor.alerting import window_evaluation
from monitor.cli import load_profile, replay_table
from monitor.pipeline import WindowSpec
from monitor.report import to_json
from monitor.store import Store

ROOT = Path(__file__).resolve().parents[1]
DOT = "<span style='color:{}'>&#9679;</span>"
EMOJI = {
    ":rotating_light:": DOT.format("#e01e5a"),
    ":red_circle:": DOT.format("#e01e5a"),
    ":large_orange_circle:": DOT.format("#e8912d"),
    ":warning:": DOT.format("#e8912d"),
    ":white_check_mark:": DOT.format("#2eb67d"),
    ":large_yellow_circle:": DOT.format("#ecb22e"),
}


def mrkdwn(text: str) -> str:
    out = html.escape(text)
    for code, emoji in EMOJI.items():
        out = out.replace(code, emoji)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*([^*]+)\*", r"<b>\1</b>", out)
    return out.replace("\n", "<br>")


def block_html(block: dict) -> str:
    kind = block["type"]
    if kind == "header":
        return f"<div class=h>{mrkdwn(block['text']['text'])}</div>"
    if kind == "section":
        return f"<div class=s>{mrkdwn(block['text']['text'])}</div>"
    if kind == "context":
        return "<div class=c>" + " ".join(mrkdwn(e["text"]) for e in block["elements"]) + "</div>"
    if kind == "actions":
        return (
            "<div class=a>"
            + "".join(f"<span class=b>{html.escape(e['text']['text'])}</span>" for e in block["elements"])
            + "</div>"
        )
    return ""


def main() -> None:
    profile = load_profile(str(ROOT / "demo/profile.json"))
    results: list[dict] = []
    replay_table(
        profile,
        read_table(ROOT / "demo/stream.csv"),
        WindowSpec(rows=5000),
        EvaluationSettings(),
        emit=lambda r: results.append(to_json(r)),
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/alerts.db")
        pipeline = AlertPipeline(
            SqlAlertStore(store.engine),
            settings=PolicySettings(consecutive_windows=2),
            sinks={"oncall": SinkRoute(sink="oncall")},
            routes={"demo": ["oncall"]},
        )
        history: dict[str, list[HistoryPoint]] = {}
        t0 = datetime(2026, 1, 5, tzinfo=UTC)
        notification = None
        for doc in results:
            i = doc["window"]["index"]
            for name, f in doc["features"].items():
                if f["statistic"] is not None:
                    history.setdefault(name, []).append(
                        HistoryPoint(window_index=i, statistic=f["statistic"], threshold=f["threshold"])
                    )
            ev = window_evaluation(
                "demo",
                doc,
                evaluated_at=t0 + timedelta(minutes=5 * i),
                prediction=profile.prediction,
                report_url=f"http://127.0.0.1:8321/reports/demo/window-{i}.html",
                dashboard_url="http://127.0.0.1:8321/dashboard",
                history={k: tuple(v) for k, v in history.items()},
            )
            out = pipeline.process(ev, now=ev.evaluated_at)
            firing = [item.notification for item in out.enqueued if item.notification.status == "firing"]
            if firing:
                notification = firing[0]
                break
        store.dispose()
    assert notification is not None, "the demo raised no alert"
    blocks = render_blocks(notification)
    (ROOT / "docs/slack-example.json").write_text(
        json.dumps({"blocks": blocks}, indent=2, ensure_ascii=False) + "\n"
    )
    png = render_plot(notification)
    plot = ""
    if png:
        (ROOT / "docs/slack-plot.png").write_bytes(png)
        plot = f"<img class=p src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
    page = f"""<!doctype html><meta charset=utf-8><style>
body{{font:15px/1.45 -apple-system,'Segoe UI',Lato,sans-serif;background:#fff;margin:0;padding:18px;width:760px;color:#1d1c1d}}
.m{{display:flex;gap:10px}} .av{{width:36px;height:36px;border-radius:6px;background:#2f6fde;color:#fff;font-weight:700;display:flex;align-items:center;justify-content:center}}
.n{{font-weight:900}} .t{{color:#616061;font-size:12px;margin-left:6px}} .h{{font-size:18px;font-weight:900;margin:4px 0}}
.s{{margin:6px 0}} .c{{color:#616061;font-size:12px;margin:6px 0}} code{{background:#f6f6f6;border:1px solid #ddd;border-radius:3px;padding:0 3px;color:#c7254e;font-size:13px}}
.a{{margin:8px 0}} .b{{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:3px 12px;margin-right:8px;font-weight:700;font-size:13px}}
.th{{margin-top:10px;border-left:3px solid #ddd;padding-left:10px;color:#616061;font-size:13px}} .p{{max-width:520px;border:1px solid #ddd;border-radius:6px;margin-top:6px}}
</style><div class=m><div class=av>dw</div><div><span class=n>driftwarden</span><span class=t>APP 03:12</span>
{"".join(block_html(b) for b in blocks)}<div class=th>1 reply — driftwarden uploaded a file<br>{plot}</div></div></div>"""
    with tempfile.TemporaryDirectory() as profile_dir:
        page_path = Path(profile_dir) / "slack.html"
        page_path.write_text(page, encoding="utf-8")
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                f"--user-data-dir={profile_dir}/ud",
                "--hide-scrollbars",
                "--window-size=800,760",
                f"--screenshot={ROOT / 'docs/slack-example.png'}",
                page_path.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    print("wrote docs/slack-example.png, docs/slack-plot.png, docs/slack-example.json")


if __name__ == "__main__":
    main()
