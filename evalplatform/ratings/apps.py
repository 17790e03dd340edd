from django.apps import AppConfig


class RatingsConfig(AppConfig):
    name = "evalplatform.ratings"
    label = "ratings"
    verbose_name = "Ratings"
