"""The REST API's root: each app's endpoints, the OpenAPI schema and its documentation.

Authenticate with a token (``POST /api/auth/token/``, then ``Authorization: Token <token>``) or, from
the browser, with the session and its CSRF token.  ``/api/schema/`` is the OpenAPI 3 description
and ``/api/docs/`` renders it with Swagger UI from the vendored sidecar files, so it works offline.
"""

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

# Swagger UI sets inline styles; its scripts stay 'self'-only (the split view serves its own).
docs = csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema", title="evalplatform API")
)

urlpatterns = [
    path("", include("evalplatform.accounts.api")),
    path("", include("rubrics.api")),
    path("", include("evalplatform.projects.api")),
    path("", include("evalplatform.assignments.api")),
    path("", include("evalplatform.ratings.api")),
    path("", include("evalplatform.ratings.api_transfer")),
    path("", include("evalplatform.reports.api")),
    path("", include("evalplatform.comparisons.api")),
    path("", include("evalplatform.quality.api")),
    path("", include("evalplatform.llm.api")),
    path("", include("evalplatform.suites.api")),
    path("", include("evalplatform.training.api")),
    path("", include("evalplatform.enrolment.api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", docs, name="api-docs"),
]
