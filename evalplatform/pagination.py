"""The API's pages: ``?page=`` and ``?page_size=`` (up to ``max_page_size``) on every list endpoint."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination

PAGE_MAX = 2**31  # past this, an offset no database takes; no list is that long


def page_number(raw: str | None) -> int | None:
    """``?page=`` as a page number from 1 to ``PAGE_MAX``, or None (a bad or absurd page is no page)."""
    raw = raw or "1"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):  # "²" is a digit that int() refuses
        return None
    number = int(raw)
    return number if 1 <= number <= PAGE_MAX else None


class PageSizePagination(PageNumberPagination):
    """DRF's page-number pagination with the page size the client asks for, within a maximum (a
    larger one is cut to it; a bad one gives the default), so a script can take 500 rows a request."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_schema_operation_parameters(self, view):
        """DRF's, with the bounds: pages count from 1; a page size is 1 to ``max_page_size``."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters
