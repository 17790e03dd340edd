"""Ratings in and out over the API: a lead's import of ratings made elsewhere and the project's export
(CSV, JSONL, preference pairs), all or nothing in, streamed out.  The rater's calls and the lead's
corrections are in ``ratings.api``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.views import APIView

from evalplatform.projects.permissions import LEADS, ProjectScoped
from evalplatform.projects.uploads import (
    UPLOAD_PARSERS,
    ImportRejectedSerializer,
    import_response,
    upload_schema,
)
from evalplatform.ratings import exports
from evalplatform.ratings.importing import import_ratings

User = get_user_model()


class RatingsImportSummarySerializer(serializers.Serializer):
    ratings = serializers.IntegerField()
    scores = serializers.IntegerField()
    raters_created = serializers.IntegerField()


class RatingsImportQuery(serializers.Serializer):
    automated = serializers.BooleanField(
        default=False, help_text="The raters are automated judges (named judge:<name>; they never count toward overlap)."
    )
    create_raters = serializers.BooleanField(
        default=False, help_text="Create inactive rater accounts for raters who have none (else they are refused). "
        "Existing accounts must already be raters of the project.",
    )


RATING_RECORD = {
    "type": "object",
    "required": ["item_id", "rater", "dimension", "value"],
    "properties": {
        "item_id": {"type": "string"},
        "model": {"type": "string"},
        "model_a": {"type": "string"},
        "model_b": {"type": "string"},
        "rater": {"type": "string"},
        "dimension": {"type": "string"},
        "value": {"oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "boolean"}]},
        "justification": {"type": "string"},
        "duration_ms": {"type": "integer"},
    },
}


class RatingsImport(ProjectScoped, APIView):
    """Import ratings collected elsewhere, one score per row, all or nothing (leads and admins)."""

    permission_classes = LEADS
    parser_classes = UPLOAD_PARSERS

    @extend_schema(
        request=upload_schema(RATING_RECORD),
        parameters=[RatingsImportQuery],
        responses={201: RatingsImportSummarySerializer, 400: ImportRejectedSerializer, 413: OpenApiResponse()},
        description="Rows `item_id, model (model_a, model_b in pairwise projects, plus model for a question "
        "asked of each response of the pair), rater, dimension, value`, "
        "with optional `justification` and `duration_ms`. The same validation as a rater's submission; "
        "any bad row refuses the file (400 with each problem's line and field) and nothing is written.",
    )
    def post(self, request, *args, **kwargs):
        query = RatingsImportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return import_response(request, lambda upload: import_ratings(
            project=self.get_project(), stream=upload.stream, fmt=upload.fmt, name=upload.name,
            automated=query.validated_data["automated"], create_raters=query.validated_data["create_raters"],
        ))


class IgnoreFormatNegotiation(DefaultContentNegotiation):
    """``?format=`` names the export here, not a renderer: errors are always JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportQuery(serializers.Serializer):
    format = serializers.ChoiceField(
        choices=exports.BUILT_IN, default="csv",  # and the registered ones: see __init__
        help_text="csv / jsonl: every score in long format. preferences: JSONL preference pairs "
        "(pairwise projects). reward: JSONL per-response mean scores for reward-model regression. "
        "consensus-csv / consensus-jsonl: the final label per task and dimension (adjudicated, else the "
        "project's consensus rule), with the rule and its confidence.",
    )
    min_margin = serializers.FloatField(
        default=0.0, min_value=0.0, max_value=1.0, help_text="preferences: drop pairs whose margin is smaller."
    )
    include_gold = serializers.BooleanField(required=False, allow_null=True, default=None,
                                            help_text="Ratings of gold tasks (default: as the newest report).")
    include_paused = serializers.BooleanField(required=False, allow_null=True, default=None,
                                              help_text="Paused raters' ratings (default: as the newest report).")
    include_automated = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Automated judges' ratings (default: as the newest report)."
    )
    include_excluded = serializers.BooleanField(required=False, default=False,
                                                help_text="Ratings a lead excluded (default: left out).")
    with_text = serializers.BooleanField(required=False, default=False,
                                         help_text="csv / jsonl: add the prompt and the response(s) to each row.")
    split = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=0.0, max_value=1.0,
        help_text="preferences: mark each pair train or test, this share of the items in test (by item).",
    )
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**32 - 1,
                                    help_text="preferences: the seed of the split.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read when used, not when this module is imported: other apps register exports in ready().
        self.fields["format"].choices = exports.formats()  # type: ignore[attr-defined]


class Export(ProjectScoped, APIView):
    """Download the project's ratings, streamed (leads and admins)."""

    permission_classes = LEADS
    content_negotiation_class = IgnoreFormatNegotiation

    @extend_schema(
        parameters=[ExportQuery],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            400: OpenApiResponse(description="Unknown format, preferences of a single-response project, or "
                                 "reward without per-response scores."),
        },
        description="CSV and JSONL have one row per item, model, rater and dimension (item_id, model or "
        "model_a/model_b/model (the response of a per-response question), rater, automated, dimension, value, "
        "value_label, justification, duration_ms, created_at, reference, gold, paused, excluded, metadata; with "
        "`with_text` also prompt and response, or response_a and response_b); pairwise values are in the pair's "
        "stored order (negative: model_a better). By default every export holds the ratings the newest report "
        "counted (and never excluded ones); the X-Export-Left-Out header says what was left out, and "
        "X-Export-Manifest carries the export's manifest as compact JSON (format, project, rubric version, options, "
        "counts left out by reason, the SHA-256 of its ratings as a report's manifest computes it, software "
        "versions, created_at). "
        "CSV cells that a spreadsheet would run as a formula are prefixed with an apostrophe. `preferences` "
        "gives one JSON object per rated pair: item_id, prompt, chosen, rejected, chosen_model, rejected_model, "
        "margin (|mean vote / k|, 0..1), n_votes, votes (chosen/rejected/tie counts), agreement (share of votes "
        "on the chosen side), and with `split` a train/test mark by item; ties and "
        "pairs with margin below `min_margin` are left out. `reward` gives one JSON object per scored "
        "response: item_id, prompt, response, model, scores (likert and yes/no dimension -> mean), n_ratings.",
    )
    def get(self, request, *args, **kwargs):
        query = ExportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        fmt, project = data["format"], self.get_project()
        options = exports.export_options(project, **{
            key: data[key] for key in ("include_gold", "include_paused", "include_automated", "include_excluded",
                                       "with_text")
        })
        try:
            lines = exports.export_lines(project, fmt, min_margin=data["min_margin"], options=options,
                                         split=data["split"], seed=data["seed"])
        except exports.ExportError as exc:
            raise serializers.ValidationError({"format": [str(exc)]}) from exc
        manifest = exports.export_manifest(project, fmt, options, min_margin=data["min_margin"],
                                           split=data["split"], seed=data["seed"])
        return exports.download_response(project, fmt, lines, left_out=options.describe(), manifest=manifest)


urlpatterns = [
    path("projects/<int:project_id>/ratings/import/", RatingsImport.as_view(), name="api-ratings-import"),
    path("projects/<int:project_id>/export/", Export.as_view(), name="api-export"),
]
