"""Training pages: the rater's under ``training/`` and ``guidelines/``, the lead's under ``training/manage/``."""

from django.urls import path

from evalplatform.training import views

urlpatterns = [
    path("projects/<slug:slug>/training/", views.training, name="training"),
    path("projects/<slug:slug>/training/start/", views.start, name="training-start"),
    path("projects/<slug:slug>/training/items/<int:item_id>/", views.answer, name="training-answer"),
    path("projects/<slug:slug>/training/answers/<int:answer_id>/", views.feedback, name="training-feedback"),
    path("projects/<slug:slug>/guidelines/", views.guidelines, name="training-guidelines"),
    path("projects/<slug:slug>/training/manage/", views.manage, name="training-manage"),
    path("projects/<slug:slug>/training/manage/settings/", views.manage_settings, name="training-settings"),
    path("projects/<slug:slug>/training/manage/import/", views.manage_import, name="training-import"),
    path("projects/<slug:slug>/training/manage/from-item/", views.manage_make, name="training-make"),
    path("projects/<slug:slug>/training/manage/items/<int:item_id>/", views.manage_item, name="training-item"),
    path("projects/<slug:slug>/training/manage/items/<int:item_id>/delete/", views.manage_item_delete,
         name="training-item-delete"),
]
