"""Malformed input is a 4xx, never a server error: ids out of the database's range, odd filters."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

READS = [
    "/api/projects/{n}/", "/api/projects/{n}/members/", "/api/projects/{n}/items/", "/api/projects/{n}/export/",
    "/api/projects/{n}/reports/", "/api/projects/{n}/reports/latest/", "/api/reports/{n}/", "/api/ratings/{n}/",
    "/api/assignments/{n}/", "/api/rubrics/{n}/", "/api/rubrics/{n}/versions/{n}/", "/api/rubrics/1/versions/{n}/",
    "/api/rubrics/{n}/versions/1/document/", "/api/ratings/?project={n}", "/api/assignments/?project={n}",
    "/api/ratings/?project=-{n}", "/api/ratings/?project=1.5", "/api/projects/1/items/?page={n}",
    "/api/projects/1/export/?format=preferences&min_margin={n}",
]
WRITES = [
    "/api/projects/{n}/next/", "/api/assignments/{n}/submit/", "/api/assignments/{n}/skip/",
    "/api/rubrics/{n}/versions/{n}/publish/", "/api/projects/{n}/items/import/", "/api/projects/{n}/reports/",
]


@pytest.mark.parametrize("n", [10**25, 2**63, 2**63 - 1, 2**31], ids=["huge", "2^63", "2^63-1", "2^31"])
def test_ids_beyond_the_database_range_are_not_found_or_refused(as_, n):
    for client in (as_.lead, as_.admin):
        for path in READS:  # filters on an unknown id find nothing (200); paths are 404
            assert client.get(path.format(n=n)).status_code in (200, 400, 404), path
        for path in WRITES:  # publishing is for admins: the lead hears 403 first
            assert client.post(path.format(n=n), {}, format="json").status_code in (400, 403, 404), path


def test_malformed_json_is_400(people, as_):
    response = as_.lead.post(f"/api/projects/{people.project.pk}/members/", b"{nope", content_type="application/json")
    assert response.status_code == 400


def test_overlong_values_are_refused_before_the_database(people, as_):
    url = f"/api/projects/{people.project.pk}/"
    assert as_.lead.patch(url, {"name": "x" * 201}, format="json").status_code == 400
    assert as_.lead.patch(url, {"lease_seconds": 2**40}, format="json").status_code == 400
    long_label = {"slug": "long", "dimensions": [{"key": "a", "kind": "categorical", "options": ["y" * 201, "n"]}]}
    assert as_.admin.post("/api/rubrics/", long_label, format="json").status_code == 400
