"""``{% lead_nav project %}``: the one navigation bar of every lead page of a project."""

from __future__ import annotations

from django import template

from evalplatform.projects.links import lead_nav as nav_links

register = template.Library()


@register.inclusion_tag("projects/_lead_nav.html", takes_context=True)
def lead_nav(context, project) -> dict:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    return {"project": project, "links": nav_links(project, match.url_name if match else None)}
