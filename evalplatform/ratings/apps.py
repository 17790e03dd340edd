from django.apps import AppConfig


class RatingsConfig(AppConfig):
    name = "evalplatform.ratings"
    label = "ratings"
    verbose_name = "Ratings"

    def ready(self) -> None:
        from evalplatform.projects.dashboard import register_dashboard
        from evalplatform.ratings.selectors import rater_rows, ratings_per_day

        register_dashboard("raters", lambda project: {
            "raters": rater_rows(project), "ratings_per_day": ratings_per_day(project, days=30),
        })
