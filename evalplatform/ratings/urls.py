"""Pages of this app (paths are absolute: the project URLconf includes this module at the root)."""

from django.urls import path

from evalplatform.ratings import views

urlpatterns = [
    path("projects/<slug:slug>/rate/", views.rate, name="rate"),
    path("projects/<slug:slug>/rate/<int:pk>/submit/", views.submit, name="rate-submit"),
    path("projects/<slug:slug>/rate/<int:pk>/skip/", views.skip_item, name="rate-skip"),
    path("projects/<slug:slug>/rate/previous/", views.previous, name="rate-previous"),
    path("rubrics/versions/<int:version_id>/preview/", views.rubric_preview, name="rubric-preview"),
    path("projects/<slug:slug>/rate/rating/<int:rating_id>/revise/", views.revise, name="rate-revise"),
]
