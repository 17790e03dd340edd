"""Projects with ratings already in, imported through the ratings service (fast, and like real data)."""

from __future__ import annotations

import io
import json
import random

import pytest

from evalplatform.ratings.importing import import_ratings

QUALITY = {"m1": 4.2, "m2": 2.8, "m3": 3.5}
BIAS = {"alice": 0.0, "bob": 0.6, "carol": -0.5, "dan": 0.2, "erin": -0.2}


def rating_records(project, raters, *, seed: int = 0, duration: bool = True) -> list[dict]:
    """Scores around each model's quality with each rater's bias, items of topic "tech" a point
    lower for m2 (so the metadata breakdown has something to find)."""
    rng = random.Random(seed)
    records = []
    for item in project.items.order_by("id").prefetch_related("responses"):
        tech = item.metadata.get("topic") == "tech"
        for response in item.responses.all():
            for rater in raters:
                mean = QUALITY.get(response.model, 3.0) - (1.0 if tech and response.model == "m2" else 0.0)
                mean += BIAS.get(rater, 0)

                def value(mean=mean):
                    return min(5, max(1, round(mean + rng.gauss(0, 0.6))))

                common = {"item_id": item.external_id, "model": response.model, "rater": rater}
                records.append({**common, "dimension": "accuracy", "value": value(),
                                **({"duration_ms": rng.randint(5_000, 90_000)} if duration else {}),
                                "justification": f"{rater} on {item.external_id}"})
                records.append({**common, "dimension": "helpfulness", "value": value()})
                records.append({**common, "dimension": "harmless", "value": "yes" if rng.random() < 0.85 else "no"})
    return records


def import_records(project, records) -> None:
    data = "\n".join(json.dumps(r) for r in records) + "\n"
    import_ratings(project=project, stream=io.BytesIO(data.encode()), fmt="jsonl", create_raters=True)


@pytest.fixture
def rated_project(make_project):
    """``rated_project(slug, items=6, models=("m1", "m2"), raters=(...))``: a project with ratings in,
    its raters active members (they can log in with tests.fixtures' password)."""

    def make(slug="rated", *, items=6, models=("m1", "m2"), raters=("alice", "bob", "carol"), seed=0, **kwargs):
        kwargs.setdefault("overlap", len(raters))
        project = make_project(slug, items=items, models=models, raters=raters, **kwargs)
        import_records(project, rating_records(project, raters, seed=seed))
        project.refresh_from_db()
        return project

    return make
