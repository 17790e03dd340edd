"""Model comparison over the API: leads generate a pairwise project's balanced pairings.

The comparison results themselves (leaderboard, win rates, position bias, significance) are sections
of the stored report (``/api/projects/{id}/reports/latest/``); preference pairs and reward-model
rows are formats of the export (``/api/projects/{id}/export/?format=preferences|reward``).
"""

from __future__ import annotations

from dataclasses import asdict

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from evalplatform.api_errors import invalid
from evalplatform.comparisons.services import STRATEGIES, PairingError, generate_pairings
from evalplatform.permissions import IsStaff
from evalplatform.projects.permissions import IsProjectLead, ProjectScoped


class PairingRequestSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(
        choices=STRATEGIES, required=False,
        help_text="all: every pair of every item. sample: per_item pairs per item. Default: sample when "
        "per_item is given, else all.",
    )
    per_item = serializers.IntegerField(
        required=False, min_value=1, max_value=10000, help_text="Pairs per item (the sample strategy)."
    )
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**32 - 1)


class PairCountSerializer(serializers.Serializer):
    models = serializers.ListField(child=serializers.CharField(), help_text="The two models, in name order.")
    tasks = serializers.IntegerField()
    x_first = serializers.IntegerField(help_text="Tasks with the first model as response A.")


class PairingSummarySerializer(serializers.Serializer):
    strategy = serializers.CharField()
    per_item = serializers.IntegerField(allow_null=True)
    seed = serializers.IntegerField()
    items = serializers.IntegerField(help_text="Items with at least two responses.")
    created = serializers.IntegerField()
    removed = serializers.IntegerField(help_text="Untouched tasks outside the plan, removed.")
    flipped = serializers.IntegerField(help_text="Untouched tasks whose sides were swapped to balance them.")
    kept_started = serializers.IntegerField(help_text="Tasks already served or rated, kept as they were.")
    pair_tasks = serializers.IntegerField()
    model_tasks = serializers.DictField(child=serializers.IntegerField(), help_text="Tasks per model.")
    model_first = serializers.DictField(child=serializers.IntegerField(), help_text="Of which as response A.")
    pair_counts = PairCountSerializer(many=True)


class Pairings(ProjectScoped, APIView):
    """Generate balanced pairings for a pairwise project (leads and admins).

    Every model pair is covered about equally and each model is shown as response A about as often
    as B; tasks raters have started are kept.  Idempotent: the same request again changes nothing.
    """

    permission_classes = [IsAuthenticated, IsStaff | IsProjectLead]

    @extend_schema(
        request=PairingRequestSerializer,
        responses={200: PairingSummarySerializer, 400: OpenApiResponse(description="Not a pairwise project, "
                                                                       "or a strategy without its per_item.")},
    )
    def post(self, request, *args, **kwargs):
        serializer = PairingRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        strategy = data.get("strategy") or ("sample" if "per_item" in data else "all")
        try:
            summary = generate_pairings(
                project=self.get_project(), strategy=strategy, per_item=data.get("per_item"), seed=data["seed"]
            )
        except PairingError as exc:
            raise invalid(exc) from exc
        return Response(PairingSummarySerializer(asdict(summary)).data)


urlpatterns = [
    path("projects/<int:project_id>/pairings/", Pairings.as_view(), name="api-pairings"),
]
