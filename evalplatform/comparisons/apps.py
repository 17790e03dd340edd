from django.apps import AppConfig


class ComparisonsConfig(AppConfig):
    name = "evalplatform.comparisons"
    label = "comparisons"
    verbose_name = "Model comparisons"

    def ready(self) -> None:
        from evalplatform.comparisons import sections as s
        from evalplatform.reports.compute import Section, register_section

        register_section(Section("leaderboard", s.leaderboard_section, "comparisons/report/_leaderboard.html",
                                 title="Leaderboard"), after="coverage")
        register_section(Section("win_rates", s.win_rates_section, "comparisons/report/_win_rates.html",
                                 title="Win rates"), after="leaderboard")
        register_section(Section("position_bias", s.position_bias_section, "comparisons/report/_position_bias.html",
                                 title="Position bias"), after="win_rates")
        register_section(Section("significance", s.significance_section, "comparisons/report/_significance.html",
                                 title="Which model scores higher"), after="dimensions")
