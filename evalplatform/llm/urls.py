"""Model runs pages of a project (leads and admins only)."""

from django.urls import path

from evalplatform.llm import views

urlpatterns = [
    path("projects/<slug:slug>/runs/", views.runs_page, name="llm-runs"),
    path("projects/<slug:slug>/runs/status/", views.runs_status, name="llm-runs-status"),
    path("projects/<slug:slug>/runs/start/", views.runs_start, name="llm-runs-start"),
    path("projects/<slug:slug>/runs/demo-judge/", views.demo_judge, name="llm-demo-judge"),
    path("projects/<slug:slug>/runs/<int:pk>/cancel/", views.run_action, {"action": "cancel"}, name="llm-run-cancel"),
    path("projects/<slug:slug>/runs/<int:pk>/resume/", views.run_action, {"action": "resume"}, name="llm-run-resume"),
]
