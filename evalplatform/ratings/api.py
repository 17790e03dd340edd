"""Ratings over the API: the rater's calls, reading ratings and a lead's corrections (import and export: ``api_transfer``).

A rater's own front end needs three calls, all here: ``POST /api/projects/{id}/next/`` (the task
with its item, responses in display order and the rubric), ``POST /api/assignments/{id}/submit/``
and ``POST /api/assignments/{id}/skip/`` (the scoring page, ``views.py``, is their HTML twin).
Submitting is idempotent: the first submit of an assignment answers 201 with the rating, a repeat
answers 200 with the same rating.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.http import Http404
from django.urls import path
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from evalplatform.api_errors import Conflict, conflict
from evalplatform.assignments import services as queue
from evalplatform.assignments.api import (
    MAX_ID,
    AssignmentMixin,
    AssignmentSerializer,
    IdFilter,
    api_datetime,
    assignment_data,
    render_assignment,
)
from evalplatform.assignments.selectors import assignments_visible_to
from evalplatform.input_rules import JUSTIFICATION_MAX
from evalplatform.permissions import IsOwner, IsStaff
from evalplatform.projects.permissions import LEADS, IsProjectLead, IsProjectRater, ProjectScoped
from evalplatform.projects.selectors import project_for, visible_projects
from evalplatform.ratings.models import RaterExclusion, Rating, RatingRevision, Score
from evalplatform.ratings.selectors import ratings_visible_to
from evalplatform.ratings.services import (
    ExclusionError,
    SubmitConflict,
    SubmitError,
    SubmitRefused,
    Submitted,
    exclude_ratings,
    restore_ratings,
    revise_rating,
    set_revisions_locked,
    submit_rating,
)
from rubrics.models import Dimension
from rubrics.scales import scales_for

User = get_user_model()


class RatingSerializer(serializers.ModelSerializer):
    item = serializers.CharField(source="task.item.external_id", read_only=True, help_text="The item's external id.")
    rater = serializers.CharField(source="rater.username", read_only=True)
    scores = serializers.SerializerMethodField(
        help_text="Dimension key to value (text for free-text dimensions). Pairwise values are as the rater "
        "saw the pair: negative = the response shown as A. On a pair, questions asked of each response are "
        "keyed <dimension>.a and <dimension>.b (A = the response shown on the left)."
    )

    class Meta:
        model = Rating
        fields = [
            "id", "project", "assignment", "item", "rater", "rubric_version", "scores", "justification",
            "duration_ms", "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {"oneOf": [{"type": "integer"}, {"type": "string"}]}})
    def get_scores(self, rating: Rating) -> dict:
        return scores_as_seen(
            ((score.dimension.key, score.dimension.kind, score) for score in rating.scores.all()), rating
        )


def scores_as_seen(rows: Iterable[tuple[str, str, Score]], rating: Rating) -> dict[str, int | str | None]:
    """A rating's stored scores, each given with its dimension's key and kind, keyed and signed as the
    rater saw the task (pair values flipped back when the rater saw response_b on the left)."""
    swapped = rating.assignment is not None and rating.assignment.swapped
    scores: dict[str, int | str | None] = {}
    for key, kind, score in rows:
        if score.response_id is not None:
            left = score.response_id == (rating.task.response_b_id if swapped else rating.task.response_a_id)
            scores[f"{key}.{'a' if left else 'b'}"] = score.value
        elif kind == Dimension.Kind.TEXT:
            scores[key] = score.text
        elif swapped and kind == Dimension.Kind.PAIRWISE and score.value is not None:
            scores[key] = -score.value
        else:
            scores[key] = score.value
    return scores


def new_rating_data(submitted: Submitted, *, rater) -> dict:
    """``RatingSerializer``'s output for a rating ``submit_rating`` has just created (its task, item,
    assignment and project at hand, its score rows in ``submitted.scores``), without reading it back;
    a test holds the two equal."""
    rating = submitted.rating
    by_dimension = {scale.dimension_id: scale for scale in scales_for(rating.project.rubric_version).values()}
    rows = ((by_dimension[s.dimension_id].key, by_dimension[s.dimension_id].kind, s) for s in submitted.scores)
    return {
        "id": rating.pk, "project": rating.project_id, "assignment": rating.assignment_id,
        "item": rating.task.item.external_id, "rater": rater.username, "rubric_version": rating.rubric_version_id,
        "scores": scores_as_seen(rows, rating), "justification": rating.justification,
        "duration_ms": rating.duration_ms, "created_at": api_datetime(rating.created_at),
    }


def render_rating(rating_id: int, user, *, status_code: int = status.HTTP_200_OK) -> Response:
    rating = ratings_visible_to(user).get(pk=rating_id)
    return Response(RatingSerializer(rating).data, status=status_code)


class NextTask(APIView):
    """Your current task in this project, or a lease on the next one; 204 when nothing is left for you.

    The claim reads the rater's membership with the project, so this call checks the role and serves
    the task in one transaction and, for a new lease, answers without reading anything again.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: AssignmentSerializer,
            204: OpenApiResponse(description="Nothing is left for you to rate in this project."),
            403: OpenApiResponse(description="You are not a rater here, your work here is paused, or you "
                                 "must first finish the project's training or acknowledge its guidelines "
                                 "(the message names the page)."),
            404: OpenApiResponse(description="No such project (or not one you may see)."),
        },
    )
    def post(self, request, project_id: int, *args, **kwargs):
        if project_id > MAX_ID:
            raise Http404("No such project.")
        try:
            claim = queue.claim_next(project=project_id, rater=request.user)
        except queue.NotARater as exc:
            project_for(request.user, pk=project_id)  # a project you may not see is a 404, not a 403
            raise PermissionDenied(str(exc) if request.user.is_automated else IsProjectRater.message) from exc
        except queue.RaterPaused as exc:
            raise PermissionDenied(str(exc)) from exc
        except queue.NotCleared as exc:
            raise PermissionDenied(f"{exc} ({exc.url})") from exc
        except queue.QueueError as exc:
            raise conflict(exc) from exc
        if claim is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        if claim.new:
            return Response(assignment_data(claim.assignment, rating_id=None))  # everything at hand
        return render_assignment(claim.assignment.pk, request.user)  # the lease the rater already held


class SubmitSerializer(serializers.Serializer):
    scores = serializers.DictField(
        child=serializers.JSONField(),
        help_text='Dimension key to value, e.g. {"accuracy": 4, "harmless": true}. On a pair task: the preference '
        'as you saw the pair (negative = the response shown as A), and each likert, yes/no or categorical question '
        'once per response, keyed <dimension>.a and <dimension>.b, e.g. {"preference": -1, "accuracy.a": 4, '
        '"accuracy.b": 2}.',
    )
    justification = serializers.CharField(required=False, allow_blank=True, default="", max_length=JUSTIFICATION_MAX)
    duration_ms = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=2**31 - 1,
        help_text="How long the rater took, in milliseconds.",
    )


class SubmitRating(APIView):
    """Submit your scores for an assignment: 201 with the rating; the same submit again, 200 with it.

    Field-level 400s name the dimension (unknown, off the scale, missing) or ``justification``;
    409 when the task's state refuses the rating (you skipped it, or your lease lapsed and the task
    filled up).  Throttled (scope ``submit``).
    """

    permission_classes = [IsAuthenticated, IsOwner]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "submit"

    @extend_schema(
        request=SubmitSerializer,
        responses={200: RatingSerializer, 201: RatingSerializer, 400: OpenApiResponse(),
                   403: OpenApiResponse(description="You must first finish the project's training or "
                                                    "acknowledge its guidelines (the message names the page)."),
                   409: OpenApiResponse()},
    )
    def post(self, request, *args, **kwargs):
        # Who holds it is all this needs to know before the submit locks and reads it whole.
        assignment = assignments_visible_to(request.user).select_related(None).only("id", "rater_id").filter(
            pk=kwargs["pk"]
        ).first()
        if assignment is None:
            raise Http404("No such assignment.")
        self.check_object_permissions(request, assignment)
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            submitted = submit_rating(assignment=assignment.pk, **serializer.validated_data)
        except SubmitRefused as exc:
            raise PermissionDenied(f"{exc.refusal.message} ({exc.url})") from exc
        except SubmitConflict as exc:
            raise Conflict(" ".join(exc.errors.values())) from exc
        except SubmitError as exc:
            raise serializers.ValidationError({key: [message] for key, message in exc.errors.items()}) from exc
        if submitted.created:
            return Response(new_rating_data(submitted, rater=request.user), status=status.HTTP_201_CREATED)
        return render_rating(submitted.rating.pk, request.user)


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SkipTask(AssignmentMixin, APIView):
    """Give a task back; you are not offered it again.  A rated task cannot be skipped (409)."""

    permission_classes = [IsAuthenticated, IsOwner]

    @extend_schema(request=SkipSerializer, responses={200: AssignmentSerializer, 409: OpenApiResponse()})
    def post(self, request, *args, **kwargs):
        assignment = self.get_assignment()
        serializer = SkipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            queue.skip(assignment=assignment, reason=serializer.validated_data["reason"])
        except queue.QueueError as exc:
            raise conflict(exc) from exc
        return render_assignment(assignment.pk, request.user)


class ReviseSerializer(serializers.Serializer):
    scores = serializers.DictField(child=serializers.JSONField(), help_text="The full answers again, as for a submit.")
    justification = serializers.CharField(
        required=False, allow_blank=True, default=None, allow_null=True, max_length=JUSTIFICATION_MAX,
        help_text="Left out: the rating's justification stays.",
    )


class ReviseRating(APIView):
    """Correct one of your ratings: give the full answers again (as for a submit).

    200 with the rating as it now stands.  The old and new answers are kept in the rating's history
    (``GET /api/ratings/{id}/revisions/``) and the report is refreshed; the same answers again change
    nothing.  400 for answers a submit would refuse; 409 when the project's lead has locked revisions.
    """

    permission_classes = [IsAuthenticated, IsOwner]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "submit"

    @extend_schema(request=ReviseSerializer, responses={200: RatingSerializer, 400: OpenApiResponse(),
                                                        409: OpenApiResponse()})
    def post(self, request, *args, **kwargs):
        rating = ratings_visible_to(request.user).filter(pk=kwargs["pk"]).first()
        if rating is None:
            raise Http404("No such rating.")
        self.check_object_permissions(request, rating)
        serializer = ReviseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            revise_rating(rating=rating.pk, by=request.user, **serializer.validated_data)
        except SubmitConflict as exc:
            raise Conflict(" ".join(exc.errors.values())) from exc
        except SubmitError as exc:
            raise serializers.ValidationError({key: [message] for key, message in exc.errors.items()}) from exc
        return render_rating(rating.pk, request.user)


class RevisionSerializer(serializers.ModelSerializer):
    revised_by = serializers.CharField(source="revised_by.username", read_only=True)

    class Meta:
        model = RatingRevision
        fields = ["id", "rating", "revised_by", "revised_at", "old", "new"]
        read_only_fields = fields


class RatingRevisions(generics.ListAPIView):
    """A rating's corrections, oldest first: who, when, the answers before and after (the rater,
    the project's leads, admins)."""

    serializer_class = RevisionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RatingRevision.objects.none()
        rating = ratings_visible_to(self.request.user).filter(pk=self.kwargs["pk"]).first()
        if rating is None:
            raise Http404("No such rating.")
        return RatingRevision.objects.filter(rating=rating).select_related("revised_by").order_by("revised_at", "id")


class RevisionsLockSerializer(serializers.Serializer):
    locked = serializers.BooleanField(help_text="True: raters may no longer revise their ratings.")


class RevisionsLock(ProjectScoped, APIView):
    """Lock (or unlock) raters' revisions of the project's ratings, e.g. once adjudication is done."""

    permission_classes = LEADS

    @extend_schema(request=RevisionsLockSerializer,
                   responses={200: {"type": "object", "properties": {"revisions_locked": {"type": "boolean"}}}})
    def post(self, request, *args, **kwargs):
        serializer = RevisionsLockSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = set_revisions_locked(project=self.get_project(), locked=serializer.validated_data["locked"])
        return Response({"revisions_locked": project.revisions_locked})


class ExclusionSerializer(serializers.ModelSerializer):
    rater = serializers.CharField(source="rater.username", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    revoked_by = serializers.CharField(source="revoked_by.username", read_only=True, allow_null=True)

    class Meta:
        model = RaterExclusion
        fields = ["id", "project", "rater", "scope", "since", "reason", "n_ratings", "created_by", "created_at",
                  "revoked_by", "revoked_at"]
        read_only_fields = fields


class ExclusionRequestSerializer(serializers.Serializer):
    rater = serializers.CharField(help_text="The rater's username.")
    scope = serializers.ChoiceField(choices=RaterExclusion.Scope.choices)
    since = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                      help_text="scope since: their ratings from this time on.")
    reason = serializers.CharField(max_length=5000, help_text="Why (kept with the exclusion).")
    pause = serializers.BooleanField(required=False, allow_null=True, default=None,
                                     help_text="Also pause the rater (default: yes, except for failed_gold).")


class ProjectExclusions(ProjectScoped, generics.ListAPIView):
    """The project's exclusions of raters' ratings, newest first; POST excludes a rater's ratings.

    Excluded ratings count nowhere (progress, overlap, reports, exports unless asked): their tasks
    reopen and the queue tops them up.  ``POST /api/exclusions/{id}/restore/`` undoes one.
    """

    permission_classes = LEADS
    serializer_class = ExclusionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RaterExclusion.objects.none()
        return self.get_project().exclusions.select_related("rater", "created_by", "revoked_by")

    @extend_schema(request=ExclusionRequestSerializer, responses={201: ExclusionSerializer, 400: OpenApiResponse()})
    def post(self, request, *args, **kwargs):
        project = self.get_project()
        serializer = ExclusionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rater = User.objects.filter(
            username=data["rater"], memberships__project=project
        ).first()
        if rater is None:
            raise serializers.ValidationError({"rater": [f"{data['rater']!r} is not a member of this project"]})
        try:
            exclusion = exclude_ratings(
                project=project, rater=rater, scope=data["scope"], since=data["since"], reason=data["reason"],
                pause=data["pause"], by=request.user,
            )
        except ExclusionError as exc:
            raise serializers.ValidationError({exc.field: [str(exc)]}) from exc
        return Response(ExclusionSerializer(exclusion).data, status=status.HTTP_201_CREATED)


class RestoreExclusion(APIView):
    """Revoke an exclusion: its ratings count again; it stays on the record (409 if already revoked)."""

    permission_classes = [IsAuthenticated, IsStaff | IsProjectLead]

    @extend_schema(request=None, responses={200: ExclusionSerializer, 409: OpenApiResponse()})
    def post(self, request, *args, **kwargs):
        exclusion = RaterExclusion.objects.filter(
            pk=kwargs["pk"], project__in=visible_projects(request.user)
        ).select_related("project").first()
        if exclusion is None:
            raise Http404("No such exclusion.")
        self.check_object_permissions(request, exclusion)
        try:
            restore_ratings(exclusion=exclusion, by=request.user)
        except ExclusionError as exc:
            raise Conflict(str(exc)) from exc
        exclusion = RaterExclusion.objects.select_related("rater", "created_by", "revoked_by").get(pk=exclusion.pk)
        return Response(ExclusionSerializer(exclusion).data)


class RatingFilter(filters.FilterSet):
    project = IdFilter(field_name="project_id", help_text="A project id.")
    rater = filters.CharFilter(field_name="rater__username", help_text="A rater's username.")

    class Meta:
        model = Rating
        fields = ["project", "rater"]


class RatingList(generics.ListAPIView):
    """Ratings you may read: your own, and every rating of the projects you lead (admins: all)."""

    serializer_class = RatingSerializer
    filterset_class = RatingFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Rating.objects.none()
        return ratings_visible_to(self.request.user).order_by("id")


class RatingDetail(generics.RetrieveAPIView):
    """One rating: your own, one in a project you lead, or any (admins).  Others' are not found."""

    permission_classes = [IsAuthenticated, IsOwner | IsProjectLead | IsStaff]
    serializer_class = RatingSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Rating.objects.none()
        return ratings_visible_to(self.request.user)


urlpatterns = [
    path("projects/<int:project_id>/next/", NextTask.as_view(), name="api-next"),
    path("assignments/<int:pk>/submit/", SubmitRating.as_view(), name="api-submit"),
    path("assignments/<int:pk>/skip/", SkipTask.as_view(), name="api-skip"),
    path("ratings/", RatingList.as_view(), name="api-ratings"),
    path("ratings/<int:pk>/", RatingDetail.as_view(), name="api-rating"),
    path("ratings/<int:pk>/revise/", ReviseRating.as_view(), name="api-rating-revise"),
    path("ratings/<int:pk>/revisions/", RatingRevisions.as_view(), name="api-rating-revisions"),
    path("projects/<int:project_id>/revisions-lock/", RevisionsLock.as_view(), name="api-revisions-lock"),
    path("projects/<int:project_id>/exclusions/", ProjectExclusions.as_view(), name="api-exclusions"),
    path("exclusions/<int:pk>/restore/", RestoreExclusion.as_view(), name="api-exclusion-restore"),
]
