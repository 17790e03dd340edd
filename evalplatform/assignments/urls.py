"""Pages of this app (paths are absolute: the project URLconf includes this module at the root)."""

from django.urls import path

from evalplatform.assignments import views

urlpatterns = [
    path("projects/<slug:slug>/rate/", views.rate, name="rate"),
    path("projects/<slug:slug>/rate/<int:pk>/submit/", views.submit, name="rate-submit"),
    path("projects/<slug:slug>/rate/<int:pk>/skip/", views.skip_item, name="rate-skip"),
]
