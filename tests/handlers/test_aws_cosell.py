"""Co-sell with AWS Partner Central: off until configured, the pre-flight and its form checked
against the service model's own rules, the submission through the outbox (resumed after a
crash without a second opportunity), AWS's answers on the card, failures in words.

Every AWS call goes through botocore's Stubber on PTM's own boto3 client, with the parameters
PTM must send; `expect` also walks the service model for what the Stubber does not check
(enums, patterns, maximum lengths)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from bot.adapters.aws import PartnerCentral
from bot.app.scheduling import deliver_outbox, poll_aws
from bot.domain.cosell import check
from tests.fakes.slack_api import FakeSlack
from tests.support.cards import card_text
from tests.support.harness import RunningBot, start_bot

SOLUTION = "S-0000001"
OPP = "O1234567"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials of no one, and no instance metadata to ask: nothing reaches AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
async def bot(fake_slack: FakeSlack, sqlite_url: str) -> AsyncIterator[RunningBot]:
    running = await start_bot(fake_slack, sqlite_url, PTM_AWS_SOLUTION_ID=SOLUTION)
    await running.slack.command("new Acme expansion")
    await running.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    yield running
    await running.stop()


def aws_of(bot: RunningBot) -> PartnerCentral:
    assert bot.runtime.deps is not None and isinstance(bot.runtime.deps.aws, PartnerCentral)
    return bot.runtime.deps.aws


@pytest.fixture
def stub(bot: RunningBot) -> Iterator[Stubber]:
    stubber = Stubber(aws_of(bot).client)
    stubber.activate()
    yield stubber
    stubber.deactivate()


def expect(
    aws: PartnerCentral,
    stubber: Stubber,
    method: str,
    operation: str,
    response: dict[str, Any],
    params: dict[str, Any] | None,
) -> None:
    """The call PTM must make next, its parameters valid by every rule of the service model
    (the Stubber itself checks required members, types and minimums only)."""
    if params is not None:
        concrete = {k: "any-token" if v is ANY else v for k, v in params.items()}
        problems = check(concrete, aws.rules(operation)).by_path
        assert problems == {}, problems
    stubber.add_response(method, response, params)


GOOD = {
    "aws_company": "Acme Corp",
    "aws_country": "us",
    "aws_website": "https://acme.example",
    "aws_problem": "Their data platform cannot keep up with nightly loads; we migrate it.",
    "aws_spend": "12,500",
    "aws_currency": "usd",
    "aws_close_date": "2027-01-31",
    "aws_use_case": "Migration/Database Migration",
    "aws_delivery": ["SaaS or PaaS"],
    "aws_need": ["Co-Sell - Technical Consultation"],
}


async def open_form(bot: RunningBot) -> dict[str, Any]:
    channel, ts = bot.posted_cards()[0]
    bot.fake.calls.clear()
    await bot.slack.click(bot.card(channel, ts), "ptm_card_aws", channel=channel, ts=ts)
    [opened] = bot.fake.of("views.open")
    return opened["view"]


def create_params(token: str = ANY) -> dict[str, Any]:
    return {
        "Catalog": "Sandbox",
        "ClientToken": token,
        "Origin": "Partner Referral",
        "OpportunityType": "Net New Business",
        "PartnerOpportunityIdentifier": "PTM-1",
        "PrimaryNeedsFromAws": ["Co-Sell - Technical Consultation"],
        "Customer": {
            "Account": {
                "CompanyName": "Acme Corp",
                "WebsiteUrl": "https://acme.example",
                "Address": {"CountryCode": "US"},
            }
        },
        "Project": {
            "Title": "Acme expansion",
            "CustomerBusinessProblem": GOOD["aws_problem"],
            "CustomerUseCase": "Migration/Database Migration",
            "DeliveryModels": ["SaaS or PaaS"],
            "ExpectedCustomerSpend": [
                {
                    "Amount": "12500",
                    "CurrencyCode": "USD",
                    "Frequency": "Monthly",
                    "TargetCompany": "AWS",
                }
            ],
        },
        "LifeCycle": {"Stage": "Prospect", "TargetCloseDate": "2027-01-31"},
    }


def engage(aws: PartnerCentral, stubber: Stubber, token: str, status: str = "IN_PROGRESS") -> None:
    expect(
        aws,
        stubber,
        "associate_opportunity",
        "AssociateOpportunity",
        {},
        {
            "Catalog": "Sandbox",
            "OpportunityIdentifier": OPP,
            "RelatedEntityType": "Solutions",
            "RelatedEntityIdentifier": SOLUTION,
        },
    )
    expect(
        aws,
        stubber,
        "start_engagement_from_opportunity_task",
        "StartEngagementFromOpportunityTask",
        {
            "TaskId": "task-1",
            "TaskStatus": status,
            "OpportunityId": OPP,
            "StartTime": datetime(2026, 11, 24, 9, tzinfo=UTC),
        },
        {
            "Catalog": "Sandbox",
            "ClientToken": f"{token}-engage",
            "Identifier": OPP,
            "AwsSubmission": {"InvolvementType": "Co-Sell", "Visibility": "Full"},
        },
    )


async def token_of(bot: RunningBot) -> str:
    [(token,)] = await bot.rows("SELECT client_token FROM aws_submissions")
    return str(token)


# --- 1. on only when configured --------------------------------------------------------------


async def test_off_without_a_solution_id(fake_slack: FakeSlack, sqlite_url: str) -> None:
    running = await start_bot(fake_slack, sqlite_url)
    try:
        await running.slack.command("new Acme")
        card = running.card(*running.posted_cards()[0])
        assert "ptm_card_aws" not in json.dumps(card)
        _, answer = await running.slack.command("aws")
        assert "AWS co-sell is off" in answer["text"] and "PTM_AWS_SOLUTION_ID" in answer["text"]
    finally:
        await running.stop()


# --- 2. pre-flight ---------------------------------------------------------------------------


async def test_preflight_lists_what_aws_needs_and_the_form_refuses_by_its_rules(
    bot: RunningBot, stub: Stubber
) -> None:
    # The deal has no account or close date yet: the pre-flight asks for them too.
    _, answer = await bot.slack.command("aws")
    text = answer["text"]
    for words in (
        "customer company",
        "customer's country",
        "customer website",
        "the customer's business problem",
        "expected monthly aws spend",
        "target close date",
        "what you need from aws",
    ):
        assert words in text, (words, text)
    assert "Fill in for AWS" in json.dumps(answer["blocks"])
    modal = await open_form(bot)
    assert modal["callback_id"] == "ptm_aws_cosell"
    shown = json.dumps(modal)
    assert "SaaS or PaaS" in shown and "Co-Sell - Technical Consultation" in shown

    bad = {
        **GOOD,
        "aws_country": "ZZ",
        "aws_problem": "too short",
        "aws_spend": "12.345",
        "aws_website": "x",
        "aws_duns": "12345",
    }
    _, refused = await bot.slack.submit(modal, bad)
    errors = refused["errors"]
    assert "one of" in errors["aws_country"]
    assert "20 to 2,000 characters" in errors["aws_problem"]
    assert "at most two decimals" in errors["aws_spend"]
    assert "4 to 255 characters" in errors["aws_website"]
    assert "9 digits" in errors["aws_duns"]
    _, refused = await bot.slack.submit(modal, {**GOOD, "aws_need": []})
    assert "What you need from AWS: required" in refused["errors"]["aws_need"]
    assert await bot.rows("SELECT id FROM aws_submissions WHERE step != 'draft'") == []
    assert await bot.rows("SELECT id FROM crm_outbox WHERE kind = 'aws'") == []
    stub.assert_no_pending_responses()  # nothing was sent to AWS


# --- 3. submit, resumed after a crash --------------------------------------------------------


def sent_params(aws: PartnerCentral) -> list[tuple[str, dict[str, Any]]]:
    """Every call PTM's client makes, with its parameters (a botocore event hook)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, json.loads(json.dumps(params, default=str))))

    aws.client.meta.events.register("before-parameter-build.partnercentral-selling", record)
    return calls


async def test_a_submission_resumes_after_a_crash_without_a_second_opportunity(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    bot = await start_bot(fake_slack, sqlite_url, PTM_AWS_SOLUTION_ID=SOLUTION)
    await bot.slack.command("new Acme expansion")
    await bot.slack.command("trio <@USELLER> <@UALLY> <@UPARTNER>")
    await bot.write("UPDATE deals SET internal_notes = 'their CFO is leaving'")
    aws = aws_of(bot)
    stub, calls = Stubber(aws.client), sent_params(aws)
    stub.activate()
    expect(aws, stub, "create_opportunity", "CreateOpportunity", {"Id": OPP}, create_params())
    stub.add_client_error("associate_opportunity", "ThrottlingException", "Rate exceeded", 400)
    _, answer = await bot.slack.submit(await open_form(bot), GOOD)
    assert answer is None or "errors" not in answer
    stub.assert_no_pending_responses()
    token = await token_of(bot)
    assert [c for c, _ in calls] == ["CreateOpportunity", "AssociateOpportunity"]
    assert calls[0][1]["ClientToken"] == token and "CFO" not in json.dumps(calls[0][1])
    [(step, opportunity, problem)] = await bot.rows(
        "SELECT step, opportunity_id, problem FROM aws_submissions"
    )
    assert (step, opportunity) == ("created", OPP) and "ThrottlingException" in problem
    assert "AWS is busy or down" in card_text(bot.card(*bot.posted_cards()[0]))
    [(status,)] = await bot.rows("SELECT status FROM crm_outbox WHERE kind = 'aws'")
    assert status == "pending"  # retried
    # The process dies here. Another one picks the submission up where it stopped.
    stub.deactivate()
    await bot.stop()
    bot = await start_bot(fake_slack, sqlite_url, PTM_AWS_SOLUTION_ID=SOLUTION)
    try:
        aws = aws_of(bot)
        stub, calls = Stubber(aws.client), sent_params(aws)
        stub.activate()
        engage(aws, stub, token)
        await bot.write("UPDATE crm_outbox SET next_attempt_at = '2000-01-01 00:00:00'")
        await deliver_outbox(bot.runtime.deps)  # type: ignore[arg-type]
        stub.assert_no_pending_responses()
        assert [c for c, _ in calls] == [
            "AssociateOpportunity",
            "StartEngagementFromOpportunityTask",
        ]  # no second CreateOpportunity
        [(step, task, status)] = await bot.rows(
            "SELECT step, task_id, task_status FROM aws_submissions"
        )
        assert (step, task, status) == ("started", "task-1", "IN_PROGRESS")
        card = card_text(bot.card(*bot.posted_cards()[0]))
        assert "AWS co-sell: being submitted" in card and OPP in card
        [(delivered,)] = await bot.rows("SELECT status FROM crm_outbox WHERE kind = 'aws'")
        assert delivered == "delivered"
        _, again = await bot.slack.command("aws")
        assert "being submitted" in again["text"] and "Fill in for AWS" not in json.dumps(again)
    finally:
        stub.deactivate()
        await bot.stop()


# --- 4. AWS's answers on the card ------------------------------------------------------------


async def submitted(bot: RunningBot, stub: Stubber) -> None:
    aws = aws_of(bot)
    expect(aws, stub, "create_opportunity", "CreateOpportunity", {"Id": OPP}, create_params())
    expect(aws, stub, "associate_opportunity", "AssociateOpportunity", {}, ANY_PARAMS)
    stub.add_response(
        "start_engagement_from_opportunity_task",
        {"TaskId": "task-1", "TaskStatus": "IN_PROGRESS"},
        None,
    )
    await bot.slack.submit(await open_form(bot), GOOD)
    stub.assert_no_pending_responses()


ANY_PARAMS = None


async def test_review_status_stage_and_seller_as_they_change_audited(
    bot: RunningBot, stub: Stubber
) -> None:
    await submitted(bot, stub)
    aws = aws_of(bot)
    deps = bot.runtime.deps
    assert deps is not None
    listing = {"Catalog": "Sandbox", "Identifier": [OPP], "MaxResults": 20}

    def summary(review: str, stage: str, minute: int) -> dict[str, Any]:
        return {
            "OpportunitySummaries": [
                {
                    "Catalog": "Sandbox",
                    "Id": OPP,
                    "LastModifiedDate": datetime(2026, 11, 24, 10, minute, tzinfo=UTC),
                    "LifeCycle": {"ReviewStatus": review, "Stage": stage},
                }
            ]
        }

    expect(
        aws,
        stub,
        "list_opportunities",
        "ListOpportunities",
        summary("Submitted", "Prospect", 1),
        listing,
    )
    done = {"TaskId": "task-1", "TaskStatus": "COMPLETE", "OpportunityId": OPP}
    tasks = {
        "Catalog": "Sandbox",
        "OpportunityIdentifier": [OPP],
        "Sort": {"SortOrder": "DESCENDING", "SortBy": "StartTime"},
    }
    expect(
        aws,
        stub,
        "list_engagement_from_opportunity_tasks",
        "ListEngagementFromOpportunityTasks",
        {"TaskSummaries": [done]},
        tasks,
    )
    assert await poll_aws(deps) == {1}
    card = card_text(bot.card(*bot.posted_cards()[0]))
    assert "AWS co-sell: submitted · review: Submitted · AWS stage: Prospect" in card

    expect(
        aws,
        stub,
        "list_opportunities",
        "ListOpportunities",
        summary("Approved", "Qualified", 2),
        listing,
    )
    expect(
        aws,
        stub,
        "get_aws_opportunity_summary",
        "GetAwsOpportunitySummary",
        {
            "Catalog": "Sandbox",
            "OpportunityTeam": [
                {"FirstName": "Dana", "LastName": "Reyes", "Email": "dana@amazon.example"}
            ],
        },
        {"Catalog": "Sandbox", "RelatedOpportunityIdentifier": OPP},
    )
    assert await poll_aws(deps) == {1}
    card = card_text(bot.card(*bot.posted_cards()[0]))
    assert "review: Approved" in card and "AWS stage: Qualified" in card and "Dana Reyes" in card
    expect(
        aws,
        stub,
        "list_opportunities",
        "ListOpportunities",
        summary("Approved", "Qualified", 2),
        listing,
    )
    assert await poll_aws(deps) == set()  # nothing new: nothing written
    stub.assert_no_pending_responses()
    events = await bot.rows(
        "SELECT source, actor, CAST(changes AS TEXT) FROM deal_events "
        "WHERE source = 'aws' ORDER BY id"
    )
    assert [e[1] for e in events] == ["aws", "aws", "aws"]
    assert "Approved" in events[-1][2] and "Dana Reyes" in events[-1][2]


def test_status_of_many_submissions_is_read_in_batches_of_twenty() -> None:
    aws = PartnerCentral(catalog="Sandbox", solution_id=SOLUTION)
    ids = [f"O{n}" for n in range(1, 26)]
    with Stubber(aws.client) as stub:
        for chunk in (ids[:20], ids[20:]):
            found_in = [
                {"Catalog": "Sandbox", "Id": i, "LifeCycle": {"ReviewStatus": "In review"}}
                for i in chunk
            ]
            asked = {"Catalog": "Sandbox", "Identifier": chunk, "MaxResults": 20}
            stub.add_response("list_opportunities", {"OpportunitySummaries": found_in}, asked)

        found = asyncio.run(aws.opportunities(ids))
        stub.assert_no_pending_responses()
    assert len(found) == 25 and found["O25"].review == "In review"


# --- 7. failures in words, never blocking the deal -------------------------------------------


async def test_aws_refusals_and_expired_credentials_are_said_on_the_card(
    bot: RunningBot, stub: Stubber
) -> None:
    stub.add_client_error(
        "create_opportunity",
        "ValidationException",
        "Customer.Account.WebsiteUrl is not reachable",
        400,
    )
    await bot.slack.submit(await open_form(bot), GOOD)
    card = card_text(bot.card(*bot.posted_cards()[0]))
    assert "AWS refused a value: Customer.Account.WebsiteUrl is not reachable" in card
    [(status, note)] = await bot.rows(
        "SELECT status, last_error FROM crm_outbox WHERE kind = 'aws'"
    )
    assert status == "delivered" and note.startswith("stopped")  # retrying would not help
    [(step,)] = await bot.rows("SELECT step FROM aws_submissions")
    assert step == "draft"  # fix the form and submit again

    stub.add_client_error("create_opportunity", "ExpiredTokenException", "token expired", 403)
    await bot.slack.submit(await open_form(bot), GOOD)
    card = card_text(bot.card(*bot.posted_cards()[0]))
    assert "AWS refused PTM's credentials (ExpiredTokenException)" in card
    [(status,)] = await bot.rows(
        "SELECT status FROM crm_outbox WHERE kind = 'aws' ORDER BY id DESC LIMIT 1"
    )
    assert status == "pending"  # tried again once the credentials are fixed
    _, answer = await bot.slack.command("stage Validate")
    assert "moved to *Validate*" in answer["text"]
    stub.assert_no_pending_responses()


# --- 5. keeping AWS current ------------------------------------------------------------------


def opportunity(review: str, stage: str, modified: datetime) -> dict[str, Any]:
    """GetOpportunity's answer: with read-only members UpdateOpportunity must not get."""
    return {
        "Catalog": "Sandbox",
        "Id": OPP,
        "Arn": f"arn:aws:partnercentral:::opportunity/{OPP}",
        "CreatedDate": datetime(2026, 11, 24, 9, tzinfo=UTC),
        "LastModifiedDate": modified,
        "PartnerOpportunityIdentifier": "PTM-1",
        "Customer": {
            "Account": {
                "CompanyName": "Acme Corp",
                "WebsiteUrl": "https://acme.example",
                "Address": {"CountryCode": "US"},
            }
        },
        "Project": {
            "Title": "Acme expansion",
            "CustomerBusinessProblem": GOOD["aws_problem"],
            "ExpectedCustomerSpend": [
                {
                    "Amount": "12500",
                    "CurrencyCode": "USD",
                    "Frequency": "Monthly",
                    "TargetCompany": "AWS",
                }
            ],
        },
        "LifeCycle": {"Stage": stage, "ReviewStatus": review, "TargetCloseDate": "2027-01-31"},
        "RelatedEntityIdentifiers": {"Solutions": [SOLUTION]},
    }


def update_params(stage: str, modified: datetime, **life: str) -> dict[str, Any]:
    current = opportunity("Approved", "Prospect", modified)
    for read_only in ("Id", "Arn", "CreatedDate", "RelatedEntityIdentifiers"):
        current.pop(read_only)
    return {
        **current,
        "Identifier": OPP,
        "LifeCycle": {**current["LifeCycle"], "Stage": stage, **life},
    }


async def test_stage_changes_wait_while_aws_reviews_then_go_with_its_last_modified_check(
    bot: RunningBot, stub: Stubber
) -> None:
    await submitted(bot, stub)
    aws = aws_of(bot)
    deps = bot.runtime.deps
    assert deps is not None
    await bot.write("UPDATE aws_submissions SET review_status = 'In review'")
    await bot.slack.command("stage Negotiate")
    await deliver_outbox(deps)
    [(status, attempts, note)] = await bot.rows(
        "SELECT status, attempts, last_error FROM crm_outbox WHERE kind = 'aws_update'"
    )
    assert (status, attempts) == ("pending", 0) and note.startswith("held: AWS is reviewing")
    stub.assert_no_pending_responses()  # nothing sent while AWS reviews

    await bot.write("UPDATE aws_submissions SET review_status = 'Approved'")
    await bot.write("UPDATE crm_outbox SET next_attempt_at = '2000-01-01 00:00:00'")
    first = datetime(2026, 11, 25, 8, tzinfo=UTC)
    get = {"Catalog": "Sandbox", "Identifier": OPP}
    expect(
        aws,
        stub,
        "get_opportunity",
        "GetOpportunity",
        opportunity("Approved", "Prospect", first),
        get,
    )
    stub.add_client_error("update_opportunity", "ConflictException", "modified since", 409)
    second = datetime(2026, 11, 25, 8, 5, tzinfo=UTC)
    expect(
        aws,
        stub,
        "get_opportunity",
        "GetOpportunity",
        opportunity("Approved", "Prospect", second),
        get,
    )
    expect(
        aws,
        stub,
        "update_opportunity",
        "UpdateOpportunity",
        {"Id": OPP, "LastModifiedDate": second},
        update_params("Committed", second),
    )
    await deliver_outbox(deps)  # the conflict: read again, retried
    await bot.write("UPDATE crm_outbox SET next_attempt_at = '2000-01-01 00:00:00'")
    await deliver_outbox(deps)
    stub.assert_no_pending_responses()
    [(status,)] = await bot.rows("SELECT status FROM crm_outbox WHERE kind = 'aws_update'")
    assert status == "delivered"

    # Lost, and why, in AWS's words.
    expect(
        aws,
        stub,
        "get_opportunity",
        "GetOpportunity",
        opportunity("Approved", "Committed", second),
        get,
    )
    lost = update_params("Closed Lost", second, ClosedLostReason="Lost to Competitor - Microsoft")
    answer = {"Id": OPP, "LastModifiedDate": second}
    expect(aws, stub, "update_opportunity", "UpdateOpportunity", answer, lost)
    await bot.slack.command("lost they went with Azure")
    await deliver_outbox(deps)
    stub.assert_no_pending_responses()


# --- 6. referrals from AWS -------------------------------------------------------------------


def invitation(number: int) -> dict[str, Any]:
    return {
        "Id": f"engi-{number:013d}",
        "Catalog": "Sandbox",
        "PayloadType": "OpportunityInvitation",
        "EngagementTitle": f"Referral {number}",
        "Status": "PENDING",
        "SenderCompanyName": "AWS",
        "InvitationDate": datetime(2026, 11, 24, tzinfo=UTC),
        "ExpirationDate": datetime(2026, 12, 8, tzinfo=UTC),
    }


def invitation_detail(number: int) -> dict[str, Any]:
    return {
        "Id": f"engi-{number:013d}",
        "Catalog": "Sandbox",
        "PayloadType": "OpportunityInvitation",
        "EngagementTitle": f"Referral {number}",
        "Status": "PENDING",
        "SenderCompanyName": "AWS",
        "Payload": {
            "OpportunityInvitation": {
                "Customer": {
                    "CompanyName": f"Initech {number}",
                    "CountryCode": "DE",
                    "WebsiteUrl": "https://initech.example",
                    "Industry": "Software and Internet",
                },
                "Project": {
                    "Title": f"Data lake {number}",
                    "TargetCompletionDate": "2027-03-31",
                    "BusinessProblem": "Nightly batch jobs miss their window every week.",
                    "ExpectedCustomerSpend": [
                        {
                            "Amount": "8000",
                            "CurrencyCode": "EUR",
                            "Frequency": "Monthly",
                            "TargetCompany": "AWS",
                        }
                    ],
                },
                "SenderContacts": [{"Email": "referrals@amazon.example", "FirstName": "Sam"}],
                "ReceiverResponsibilities": ["Co-Sell Facilitator"],
            }
        },
    }


async def test_referrals_become_cards_once_and_are_accepted_or_rejected(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    from bot.app.scheduling import poll_referrals

    bot = await start_bot(
        fake_slack,
        sqlite_url,
        PTM_AWS_SOLUTION_ID=SOLUTION,
        PTM_AWS_CHANNEL="CAWS",
        PTM_ADMINS="UALLY",
    )
    aws = aws_of(bot)
    stub = Stubber(aws.client)
    stub.activate()
    try:
        deps = bot.runtime.deps
        assert deps is not None
        listing = {
            "Catalog": "Sandbox",
            "ParticipantType": "RECEIVER",
            "Status": ["PENDING"],
            "PayloadType": ["OpportunityInvitation"],
            "MaxResults": 50,
        }
        listed = {"EngagementInvitationSummaries": [invitation(1), invitation(2)]}
        expect(
            aws, stub, "list_engagement_invitations", "ListEngagementInvitations", listed, listing
        )
        for n in (1, 2):
            expect(
                aws,
                stub,
                "get_engagement_invitation",
                "GetEngagementInvitation",
                invitation_detail(n),
                {"Catalog": "Sandbox", "Identifier": f"engi-{n:013d}"},
            )
        assert await poll_referrals(deps) == 2
        # Listed again (AWS lists them until answered): no second card, nothing read again.
        expect(
            aws, stub, "list_engagement_invitations", "ListEngagementInvitations", listed, listing
        )
        assert await poll_referrals(deps) == 0
        stub.assert_no_pending_responses()
        cards = {ts: m for (channel, ts), m in bot.fake.messages.items() if channel == "CAWS"}
        assert len(cards) == 2
        first_ts = next(ts for ts, m in cards.items() if "Data lake 1" in m["text"])
        first = cards[first_ts]
        assert "Initech 1" in card_text(first) and "8000 EUR" in card_text(first)

        # A seller who is no alliance manager or admin cannot answer it.
        await bot.slack.click(
            first, "ptm_aws_referral_accept", channel="CAWS", ts=first_ts, user="USELLER"
        )
        told = bot.fake.of("chat.postEphemeral") + bot.fake.of("response_url")
        assert "answered by PTM admins and alliance managers" in str(told)
        token = (
            await bot.rows("SELECT client_token FROM aws_invitations WHERE title = 'Data lake 1'")
        )[0][0]
        expect(
            aws,
            stub,
            "start_engagement_by_accepting_invitation_task",
            "StartEngagementByAcceptingInvitationTask",
            {"TaskId": "task-9", "TaskStatus": "COMPLETE", "OpportunityId": "O777"},
            {"Catalog": "Sandbox", "ClientToken": token, "Identifier": "engi-0000000000001"},
        )
        await bot.slack.click(
            first, "ptm_aws_referral_accept", channel="CAWS", ts=first_ts, user="UALLY"
        )
        stub.assert_no_pending_responses()
        [(name, account, close)] = await bot.rows("SELECT name, account, close_date FROM deals")
        assert (name, account, str(close)) == ("Data lake 1", "Initech 1", "2027-03-31")
        [(step, opportunity)] = await bot.rows("SELECT step, opportunity_id FROM aws_submissions")
        assert (step, opportunity) == ("started", "O777")
        accepted = card_text(bot.fake.message("CAWS", first_ts))
        assert (
            "Accepted by <@UALLY>: PTM-1" in accepted
            and "ptm_aws_referral_accept" not in json.dumps(bot.fake.message("CAWS", first_ts))
        )
        # A second click (Slack's retry, another admin) starts nothing twice.
        await bot.slack.click(
            first, "ptm_aws_referral_accept", channel="CAWS", ts=first_ts, user="UALLY"
        )
        assert len(await bot.rows("SELECT id FROM deals")) == 1

        second_ts = next(ts for ts in cards if ts != first_ts)
        bot.fake.calls.clear()
        await bot.slack.click(
            cards[second_ts], "ptm_aws_referral_reject", channel="CAWS", ts=second_ts, user="UALLY"
        )
        [opened] = bot.fake.of("views.open")
        _, refused = await bot.slack.submit(opened["view"], {"aws_reason": "x" * 81}, user="UALLY")
        assert "at most 80 characters" in refused["errors"]["aws_reason"]
        expect(
            aws,
            stub,
            "reject_engagement_invitation",
            "RejectEngagementInvitation",
            {},
            {
                "Catalog": "Sandbox",
                "Identifier": "engi-0000000000002",
                "RejectionReason": "Outside our regions",
            },
        )
        await bot.slack.submit(opened["view"], {"aws_reason": "Outside  our regions"}, user="UALLY")
        stub.assert_no_pending_responses()
        assert "Rejected by <@UALLY>: Outside our regions" in card_text(
            bot.fake.message("CAWS", second_ts)
        )
    finally:
        stub.deactivate()
        await bot.stop()


# --- the standard endpoint settings, a local stand-in, an outage ------------------------------


async def test_aws_endpoint_settings_reach_a_local_stand_in_and_an_outage_is_said(
    fake_slack: FakeSlack, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Stubber here: the real botocore client, signing with the standard chain's
    credentials, over HTTP to wherever AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING points."""
    from tests.fakes.partnercentral import FakePartnerCentral

    local = FakePartnerCentral()
    await local.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING", local.url)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    bot = await start_bot(fake_slack, sqlite_url, PTM_AWS_SOLUTION_ID=SOLUTION)
    try:
        await bot.slack.command("new Acme expansion")
        await bot.slack.submit(await open_form(bot), GOOD)
        assert local.operations() == [
            "CreateOpportunity",
            "AssociateOpportunity",
            "StartEngagementFromOpportunityTask",
        ]
        assert all(
            auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") for *_, auth in local.calls
        )
        assert "AWS co-sell: being submitted" in card_text(bot.card(*bot.posted_cards()[0]))

        # AWS unreachable: said on the card, retried, the deal untouched otherwise.
        await local.stop()
        await bot.slack.command("new Globex", channel="CROOM2")
        await bot.slack.submit(await open_form_in(bot, "CROOM2"), GOOD)
        card = card_text(bot.card("CROOM2", bot.posted_cards()[1][1]))
        assert "AWS could not be reached (EndpointConnectionError)" in card
        [(status,)] = await bot.rows(
            "SELECT status FROM crm_outbox WHERE kind = 'aws' ORDER BY id DESC LIMIT 1"
        )
        assert status == "pending"
    finally:
        await bot.stop()
        await local.stop()


async def test_missing_credentials_are_said_in_words(
    fake_slack: FakeSlack, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING", "http://127.0.0.1:9")
    bot = await start_bot(fake_slack, sqlite_url, PTM_AWS_SOLUTION_ID=SOLUTION)
    try:
        await bot.slack.command("new Acme expansion")
        await bot.slack.submit(await open_form(bot), GOOD)
        card = card_text(bot.card(*bot.posted_cards()[0]))
        assert "PTM has no AWS credentials" in card
        _, answer = await bot.slack.command("stage Validate")
        assert "moved to *Validate*" in answer["text"]
    finally:
        await bot.stop()


async def open_form_in(bot: RunningBot, channel: str) -> dict[str, Any]:
    ts = next(ts for ch, ts in bot.posted_cards() if ch == channel)
    bot.fake.calls.clear()
    await bot.slack.click(bot.card(channel, ts), "ptm_card_aws", channel=channel, ts=ts)
    [opened] = bot.fake.of("views.open")
    return opened["view"]
