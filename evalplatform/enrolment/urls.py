"""Pages of this app (paths are absolute: the project URLconf includes this module at the root)."""

from django.urls import path

from evalplatform.enrolment import views

urlpatterns = [
    path("invite/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("enter/complete/", views.complete, name="enrolment-complete"),
    path("enter/<str:token>/", views.enter, name="enrolment-enter"),
    path("projects/<slug:slug>/access/", views.access, name="enrolment-access"),
    path("projects/<slug:slug>/access/invite-email/", views.invite_email, name="enrolment-invite-email"),
    path("projects/<slug:slug>/access/invite-link/", views.invite_link, name="enrolment-invite-link"),
    path("projects/<slug:slug>/access/invitations/<int:pk>/revoke/", views.invitation_revoke,
         name="enrolment-invitation-revoke"),
    path("projects/<slug:slug>/access/entry-links/", views.entry_link_create, name="enrolment-entry-link-create"),
    path("projects/<slug:slug>/access/entry-links/<int:pk>/revoke/", views.entry_link_revoke,
         name="enrolment-entry-link-revoke"),
    path("projects/<slug:slug>/access/entry-links/<int:pk>/workers/", views.entry_link_workers,
         name="enrolment-entry-link-workers"),
]
