"""Pages of this app (paths are absolute: the project URLconf includes this module at the root)."""

from django.urls import path

from evalplatform.suites import views

urlpatterns = [
    path("suites/", views.suite_list, name="suites"),
    path("suites/<slug:slug>/", views.suite_page, name="suite"),
]
