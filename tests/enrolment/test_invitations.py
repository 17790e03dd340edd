"""Invitations: by e-mail (single use) and by shareable link (expiry, seats), accepted with a new
account (the one username rule, the password validators) or by a logged-in user."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from evalplatform.enrolment import services
from evalplatform.enrolment.models import Invitation
from evalplatform.projects.models import Membership
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()
GOOD_PASSWORD = "quiet-harbour-71"


def accept_path(token: str) -> str:
    return reverse("invitation-accept", args=[token])


def link(project, *, seats=2, days=7, lead=None):
    return services.create_invitation_link(project=project, seats=seats, created_by=lead, expires_in_days=days)


def sign_up(client, token, username="newrater", password=GOOD_PASSWORD, again=None):
    return client.post(accept_path(token), {"username": username, "password": password,
                                            "password_again": password if again is None else again})


def test_email_invitation_is_mailed_and_makes_a_rater_once(client, project, lead, django_capture_on_commit_callbacks):
    client.force_login(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("enrolment-invite-email", args=[project.slug]),
                               {"email": "dana@example.org", "expires_in_days": 3})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dana@example.org"]
    assert project.name in message.subject
    url = re.search(r"http://testserver(/invite/[^/\s]+/)", message.body).group(1)
    token = url.split("/")[2]
    invitation = Invitation.objects.get()
    assert token not in invitation.token_hash
    assert invitation.token_hash == services.hash_token(token)

    client.logout()
    response = sign_up(client, token, username="dana")
    assert response.status_code == 302
    assert response["Location"] == reverse("rate", args=[project.slug])
    dana = User.objects.get(username="dana")
    assert dana.email == "dana@example.org"
    assert dana.check_password(GOOD_PASSWORD)
    assert Membership.objects.get(project=project, user=dana).role == "rater"
    assert client.get(reverse("rate", args=[project.slug])).status_code == 200  # logged in

    client.logout()
    again = client.get(url)
    assert again.status_code == 410
    assert b"already been used" in again.content
    assert sign_up(client, token, username="dana2").status_code == 410
    assert not User.objects.filter(username="dana2").exists()


def test_password_validators_and_the_username_rule_are_enforced_and_nothing_is_written(client, project):
    issued = link(project, seats=1)
    weak = sign_up(client, issued.token, username="eve", password="12345678")
    assert weak.status_code == 400
    assert b"too common" in weak.content or b"entirely numeric" in weak.content
    similar = sign_up(client, issued.token, username="harbourman", password="harbourman")
    assert similar.status_code == 400
    assert b"too similar" in similar.content
    bad_name = sign_up(client, issued.token, username="eve smith")
    assert bad_name.status_code == 400
    assert b"not a valid username" in bad_name.content
    mismatch = sign_up(client, issued.token, username="eve", again="other-harbour-72")
    assert mismatch.status_code == 400
    assert b"differ" in mismatch.content
    UserFactory(username="Taken")
    taken = sign_up(client, issued.token, username="taken")
    assert taken.status_code == 400
    assert b"is taken" in taken.content
    assert not User.objects.filter(username__in=["eve", "harbourman", "eve smith"]).exists()
    assert Invitation.objects.get().seats_used == 0  # no seat was spent by a refused sign-up


def test_link_counts_seats_and_a_full_link_says_so(client, project):
    issued = link(project, seats=2)
    assert sign_up(client, issued.token, username="r1").status_code == 302
    client.logout()
    assert sign_up(client, issued.token, username="r2").status_code == 302
    client.logout()
    full = sign_up(client, issued.token, username="r3")
    assert full.status_code == 410
    assert b"Every place" in full.content
    assert Invitation.objects.get().seats_used == 2
    assert not User.objects.filter(username="r3").exists()


def test_expired_revoked_and_made_up_tokens_get_clear_pages(client, project, lead):
    past = services.create_invitation_link(project=project, seats=5, created_by=lead,
                                           now=timezone.now() - timedelta(days=8), expires_in_days=7)
    expired = client.get(accept_path(past.token))
    assert expired.status_code == 410
    assert b"expired" in expired.content
    assert sign_up(client, past.token).status_code == 410

    revoked = link(project)
    services.revoke_invitation(invitation=revoked.invitation)
    page = client.get(accept_path(revoked.token))
    assert page.status_code == 410
    assert b"withdrawn" in page.content

    unknown = client.get(accept_path("x" * 43))
    assert unknown.status_code == 404
    assert b"not valid" in unknown.content
    token = link(project).token
    # The last character changed for sure: a token's last character is one of 16, "A" among them.
    tampered = client.get(accept_path(token[:-1] + ("B" if token[-1] == "A" else "A")))
    assert tampered.status_code == 404
    assert not User.objects.exclude(username__in=["lead", "alice", "bob", "carol"]).exists()


def test_a_logged_in_user_joins_without_a_new_account(client, project):
    other = UserFactory(username="olga")
    issued = link(project, seats=1)
    client.force_login(other)
    page = client.get(accept_path(issued.token))
    assert page.status_code == 200
    assert b"No new account" in page.content
    response = client.post(accept_path(issued.token))
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=other).role == "rater"
    assert User.objects.filter(username__startswith="olga").count() == 1
    assert Invitation.objects.get().seats_used == 1


def test_an_existing_member_takes_no_seat_and_a_lead_stays_lead(client, project, lead):
    issued = link(project, seats=1)
    client.force_login(lead)
    assert client.post(accept_path(issued.token)).status_code == 302
    assert Membership.objects.get(project=project, user=lead).role == "lead"
    assert Invitation.objects.get().seats_used == 0


def test_service_refuses_bad_arguments_before_writing(project, lead):
    with pytest.raises(services.InvitationError) as bad_email:
        services.invite_by_email(project=project, email="not-an-address", invited_by=lead, accept_url=str)
    assert "email" in bad_email.value.message_dict
    with pytest.raises(services.InvitationError) as bad_seats:
        services.create_invitation_link(project=project, seats=0, created_by=lead)
    assert "seats" in bad_seats.value.message_dict
    with pytest.raises(services.InvitationError) as bad_days:
        services.create_invitation_link(project=project, seats=1, created_by=lead, expires_in_days=365)
    assert "expires_in_days" in bad_days.value.message_dict
    assert not Invitation.objects.exists()


def test_lead_page_lists_and_revokes_and_shows_a_new_link_once(client, project, lead):
    client.force_login(lead)
    response = client.post(reverse("enrolment-invite-link", args=[project.slug]), {"seats": 3, "expires_in_days": 2})
    assert response.status_code == 302
    page = client.get(reverse("enrolment-access", args=[project.slug]))
    token = re.search(r'value="http://testserver/invite/([^/"]+)/"', page.content.decode()).group(1)
    assert services.invitation_for_token(token).seats == 3
    again = client.get(reverse("enrolment-access", args=[project.slug])).content.decode()
    assert token not in again  # listed, but the link is shown only once
    assert "0 / 3" in again
    invitation = Invitation.objects.get()
    client.post(reverse("enrolment-invitation-revoke", args=[project.slug, invitation.pk]))
    assert client.get(accept_path(token)).status_code == 410


def test_raters_and_strangers_cannot_reach_the_lead_pages(client, project):
    for name in ("alice", "stranger"):
        client.force_login(UserFactory(username=name))
        assert client.get(reverse("enrolment-access", args=[project.slug])).status_code == 404
        assert client.post(reverse("enrolment-invite-link", args=[project.slug]),
                           {"seats": 3, "expires_in_days": 2}).status_code == 404
    assert not Invitation.objects.exists()


def test_api_creates_lists_and_revokes_invitations(client, project, lead, django_capture_on_commit_callbacks):
    client.force_login(lead)
    base = f"/api/projects/{project.pk}/invitations/"
    with django_capture_on_commit_callbacks(execute=True):
        made = client.post(base, {"kind": "email", "email": "fay@example.org"}, content_type="application/json")
    assert made.status_code == 201
    assert made.json()["url"].startswith("http://testserver/invite/")
    assert len(mail.outbox) == 1
    assert made.json()["url"] in mail.outbox[0].body
    shared = client.post(base, {"kind": "link", "seats": 4, "expires_in_days": 1}, content_type="application/json")
    assert shared.status_code == 201
    assert shared.json()["seats"] == 4
    missing = client.post(base, {"kind": "link"}, content_type="application/json")
    assert missing.status_code == 400
    assert "seats" in missing.json()
    listed = client.get(base).json()["results"]
    assert [row["kind"] for row in listed] == ["link", "email"]
    assert all("url" not in row for row in listed)
    revoked = client.post(f"{base}{shared.json()['id']}/revoke/")
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    client.force_login(User.objects.get(username="alice"))
    assert client.get(base).status_code == 403
