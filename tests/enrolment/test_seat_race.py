"""Two people redeeming the last seat of an invitation link at the same moment: exactly one gets in.
Each thread has its own database connection; on PostgreSQL the conditional UPDATE serialises them on
the row, and the CheckConstraint (seats_used <= seats) would refuse a second seat even if it did not."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from evalplatform.enrolment import services
from evalplatform.enrolment.models import Invitation, Redemption
from evalplatform.projects.models import Membership

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
User = get_user_model()


def at_once(n, work):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def target(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # the loser's refusal is a result too
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.parametrize("with_new_accounts", [True, False])
def test_two_concurrent_redemptions_of_the_last_seat_admit_one(make_project, with_new_accounts):
    project = make_project("race")
    issued = services.create_invitation_link(project=project, seats=2, created_by=None)
    services.accept_with_new_account(token=issued.token, username="first", password="quiet-harbour-71")
    people = [User.objects.create_user(username=f"p{i}", password="quiet-harbour-71") for i in range(2)]

    def redeem(i):
        if with_new_accounts:
            return services.accept_with_new_account(token=issued.token, username=f"new{i}", password="quiet-harbour-71")
        return services.accept_invitation(token=issued.token, user=people[i])

    for _round in range(3):  # a few rounds: a race that is lost only sometimes still shows
        Invitation.objects.filter(pk=issued.invitation.pk).update(seats_used=1)
        Redemption.objects.exclude(user__username="first").delete()
        Membership.objects.filter(project=project).exclude(user__username__in=["first", "lead"]).delete()
        User.objects.filter(username__startswith="new").delete()
        results = at_once(2, redeem)
        refused = [r for r in results if isinstance(r, services.InvitationUnusable)]
        assert len(refused) == 1, results
        assert refused[0].reason == "full", results
        assert Invitation.objects.get(pk=issued.invitation.pk).seats_used == 2
        assert Membership.objects.filter(project=project, role="rater").count() == 2
        if with_new_accounts:  # the loser's account was rolled back with its seat
            assert User.objects.filter(username__startswith="new").count() == 1
