from django.urls import path

from evalplatform.projects import views

urlpatterns = [
    path("", views.home, name="home"),
]
