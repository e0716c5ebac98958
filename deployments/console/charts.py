"""The console's charts, as data: each function turns an analytics answer
(`db.analytics`) into a Chart.js configuration of plain JSON, which the page embeds
and `static/console.js` hands to Chart.js. No number is computed here that the
analytics API does not give: the console and `/v1/analytics` always agree.

`percent: true` asks the script to label the value axis and tooltips as percentages
(a formatter is a function, which JSON cannot carry).
"""

from __future__ import annotations

from typing import Any

# Colours that stay apart for colour-blind readers (Okabe–Ito).
BLUE, ORANGE, GREEN, PURPLE, GREY = "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#999999"

FUNNEL_LABELS = {
    "dialled": "Dialled",
    "answered": "Answered",
    "human": "Human",
    "qualified": "Qualified",
    "meeting_booked": "Meeting booked",
}


def funnel_chart(answer: dict[str, Any]) -> dict[str, Any]:
    """Calls at each stage of the funnel, as bars."""
    stages = answer["stages"]
    return {
        "type": "bar",
        "data": {
            "labels": [FUNNEL_LABELS.get(s["stage"], s["stage"]) for s in stages],
            "datasets": [{
                "label": "Calls",
                "data": [s["calls"] for s in stages],
                "backgroundColor": BLUE,
            }],
        },
        "options": {"plugins": {"legend": {"display": False}},
                    "scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}}},
        "percent": False,
    }


def trends_chart(answer: dict[str, Any]) -> dict[str, Any]:
    """Calls, answered, qualified and meetings booked per UTC day, as lines."""
    days = answer["days"]
    series = (("calls", "Calls", GREY), ("answered", "Answered", BLUE),
              ("qualified", "Qualified", GREEN), ("meeting_booked", "Meetings booked", ORANGE))
    return {
        "type": "line",
        "data": {
            "labels": [d["day"] for d in days],
            "datasets": [
                {"label": label, "data": [d[key] for d in days], "borderColor": colour,
                 "backgroundColor": colour, "tension": 0.2}
                for key, label, colour in series
            ],
        },
        "options": {"scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}}},
        "percent": False,
    }


def experiment_chart(answer: dict[str, Any]) -> dict[str, Any]:
    """Each variant's conversion as a point, over a bar spanning its 95 % interval."""
    variants = answer["variants"]
    labels = [v["variant"] or "(none)" for v in variants]
    return {
        "type": "bar",
        "data": {
            "labels": labels,
            "datasets": [
                {
                    "type": "line",
                    "label": "Conversion",
                    "data": [v["conversion"] for v in variants],
                    "showLine": False,
                    "pointRadius": 7,
                    "pointStyle": "rectRot",
                    "borderColor": ORANGE,
                    "backgroundColor": ORANGE,
                    # Drawn last, over its interval (Chart.js draws higher orders first).
                    "order": 0,
                },
                {
                    "label": "95 % interval (Wilson)",
                    # A floating bar: [low, high].
                    "data": [
                        [v["ci_low"], v["ci_high"]] if v["ci_low"] is not None else None
                        for v in variants
                    ],
                    "backgroundColor": "rgba(0, 114, 178, 0.35)",
                    "borderColor": BLUE,
                    "borderWidth": 1,
                    "barPercentage": 0.4,
                    "order": 1,
                },
            ],
        },
        "options": {"scales": {"y": {"min": 0, "max": 1}}},
        "percent": True,
    }
