"""The lead's pairing form on the dashboard: a plain POST that redirects back with a message."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from evalplatform.comparisons.forms import PairingsForm
from evalplatform.comparisons.services import PairingError, generate_pairings
from evalplatform.projects.selectors import project_for


@login_required
@require_POST
def project_pairings(request: HttpRequest, slug: str) -> HttpResponse:
    """Generate balanced pairings (leads and admins; anyone else does not find the project)."""
    project = project_for(request.user, slug=slug, roles=("lead",))
    form = PairingsForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(map(str, errs))}" for name, errs in form.errors.items())
        messages.error(request, f"Pairings not changed: {problems}")
        return redirect("project-dashboard", project.slug)
    data = form.cleaned_data
    try:
        summary = generate_pairings(
            project=project, strategy=data["strategy"], per_item=data["per_item"], seed=data["seed"] or 0
        )
    except PairingError as exc:
        messages.error(request, "Pairings not changed: " + " ".join(exc.messages))
    else:
        messages.success(request, f"Pairings: {summary}.")
    return redirect("project-dashboard", project.slug)
