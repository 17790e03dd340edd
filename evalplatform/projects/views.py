"""Project pages: thin views over the selectors and services."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from evalplatform.projects import selectors
from evalplatform.projects.links import links_for


@login_required
def home(request):
    rows = selectors.project_rows(request.user)
    for row in rows:
        row["links"] = links_for(row["project"], row["role"])
    return render(request, "projects/home.html", {"rows": rows})
