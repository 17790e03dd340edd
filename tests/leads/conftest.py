"""The leads' workflows reuse the API's clients per role and the reports' rated projects."""

from tests.api.conftest import _fresh_throttles, as_, client_for, people  # noqa: F401
from tests.reports.conftest import rated_project  # noqa: F401
