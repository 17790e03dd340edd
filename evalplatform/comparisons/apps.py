from django.apps import AppConfig


class ComparisonsConfig(AppConfig):
    name = "evalplatform.comparisons"
    label = "comparisons"
    verbose_name = "Model comparisons"

    def ready(self) -> None:
        from evalplatform.reports.compute import Section, builder, register_section

        s = "evalplatform.comparisons.sections"
        register_section(Section("leaderboard", builder(f"{s}.leaderboard_section"), "comparisons/report/_leaderboard.html",
                                 title="Leaderboard"), after="coverage")
        register_section(Section("win_rates", builder(f"{s}.win_rates_section"), "comparisons/report/_win_rates.html",
                                 title="Win rates"), after="leaderboard")
        register_section(Section("position_bias", builder(f"{s}.position_bias_section"), "comparisons/report/_position_bias.html",
                                 title="Position bias"), after="win_rates")
        register_section(Section("significance", builder(f"{s}.significance_section"), "comparisons/report/_significance.html",
                                 title="Which model scores higher"), after="dimensions")
