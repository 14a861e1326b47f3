"""Modals (new deal, edit deal, next step) and the readers that turn their state back into forms."""

from __future__ import annotations

from datetime import date
from typing import Any

from blocks import kit
from blocks.ids import INPUT_ACTION, Callback, Field
from blocks.metadata import ConnectorMeta, EditDealMeta, NewDealMeta, NextStepMeta, OwnFieldsMeta
from bot.domain.admin import SIDE_NAMES, ConnectorKind
from bot.domain.crm import KIND_LABELS
from bot.domain.model import PARTNER_KIND_LABELS, PARTNER_KINDS
from bot.domain.outbox import Side
from bot.views.admin import ConnectorForm
from bot.views.models import EditForm, NextStepForm, OwnFieldsForm, PartnersForm

ATTRIBUTIONS = ("sourced", "co-sell", "influenced")
STAGES = ("Qualify", "Discover", "Validate", "Propose", "Negotiate")


def modal(
    callback: Callback, title: str, submit: str, blocks: list[Any], meta: str
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback,
        "title": kit.plain(title, 24),
        "submit": kit.plain(submit, 24),
        "close": kit.plain("Cancel", 24),
        "private_metadata": meta,
        "blocks": blocks,
    }


def _text_input(
    field: Field,
    label: str,
    *,
    initial: str = "",
    max_length: int = 200,
    optional: bool = False,
    multiline: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": INPUT_ACTION,
        "max_length": max_length,
        "multiline": multiline,
    }
    if initial:
        element["initial_value"] = initial[:max_length]
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field,
        "label": kit.plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = kit.plain(hint, 2000)
    return block


def _date_input(field: Field, label: str, initial: date | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "datepicker", "action_id": INPUT_ACTION}
    if initial:
        element["initial_date"] = initial.isoformat()
    return {
        "type": "input",
        "block_id": field,
        "label": kit.plain(label),
        "element": element,
        "optional": True,
    }


def select_input(
    field: Field,
    label: str,
    options: list[tuple[str, str]],
    initial: str | None,
    *,
    optional: bool = True,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": INPUT_ACTION,
        "placeholder": kit.plain("Choose"),
        "options": [kit.option(text, value) for text, value in options],
    }
    chosen = [o for o in element["options"] if o["value"] == initial]
    if chosen:
        element["initial_option"] = chosen[0]
    return {
        "type": "input",
        "block_id": field,
        "label": kit.plain(label),
        "element": element,
        "optional": optional,
    }


def _deal_fields(form: EditForm | None) -> list[dict[str, Any]]:
    return [
        _text_input(Field.NAME, "Deal name", initial=form.name if form else ""),
        _text_input(Field.ACCOUNT, "Account", initial=form.account if form else "", optional=True),
        _text_input(
            Field.AMOUNT,
            "Amount",
            initial=form.amount if form else "",
            max_length=20,
            optional=True,
            hint="Digits only, e.g. 120000 or 120000.50",
        ),
        _text_input(
            Field.CURRENCY,
            "Currency",
            initial=form.currency if form else "USD",
            max_length=3,
            optional=True,
            hint="3-letter code, e.g. USD, EUR",
        ),
        _date_input(Field.CLOSE_DATE, "Expected close date", form.close_date if form else None),
        _text_input(
            Field.TRIGGER,
            "Why a partner (trigger)",
            initial=form.trigger if form else "",
            max_length=500,
            optional=True,
            multiline=True,
            hint="e.g. stuck at VP level in healthcare; needs a data platform partner",
        ),
        select_input(
            Field.ATTRIBUTION,
            "Attribution",
            [(a, a) for a in ATTRIBUTIONS],
            form.attribution if form else None,
        ),
    ]


def build_new_deal_modal(channel_id: str | None) -> dict[str, Any]:
    blocks = _deal_fields(None)
    blocks.insert(
        5, select_input(Field.STAGE, "Stage", [(s, s) for s in STAGES], "Qualify", optional=False)
    )
    return modal(
        Callback.NEW_DEAL,
        "New deal",
        "Create",
        blocks,
        NewDealMeta(channel=channel_id).encode(3000),
    )


FORECASTS = ("pipeline", "best-case", "commit", "omitted")


def _internal_fields(form: EditForm) -> list[dict[str, Any]]:
    """Inputs for internal-only fields; only ever built for someone from our own org."""
    if form.internal is None:
        return []
    return [
        kit.section(":lock: *Internal — our org only.* Never shown to the partner's org."),
        _text_input(
            Field.INTERNAL_NOTES,
            "Internal notes",
            initial=form.internal.notes,
            max_length=1500,
            optional=True,
            multiline=True,
        ),
        select_input(
            Field.FORECAST,
            "Forecast category",
            [(f, f) for f in FORECASTS],
            form.internal.forecast_category,
        ),
    ]


def build_partners_modal(form: PartnersForm, channel_id: str | None) -> dict[str, Any]:
    """Add a partner company to the deal (by its rep) or remove one."""
    meta = NextStepMeta(d=form.deal_id, v=form.version, channel=channel_id)
    now = (
        "\n".join(
            f"• {kit.mention(user)} ({PARTNER_KIND_LABELS.get(kind, kind)})"
            for user, kind in form.partners
        )  # fmt: skip
        or "_none yet_"
    )
    blocks: list[dict[str, Any]] = [
        kit.section(f"*Partner companies on {form.key}*\n{now}"),
        {
            "type": "input",
            "block_id": Field.PARTNER_ADD,
            "label": kit.plain("Add a partner company: its rep"),
            "element": {
                "type": "users_select",
                "action_id": INPUT_ACTION,
                "placeholder": kit.plain("Choose their rep"),
            },  # fmt: skip
            "optional": True,
        },
        select_input(
            Field.PARTNER_KIND,
            "Their role on the deal",
            [(PARTNER_KIND_LABELS[k], k) for k in PARTNER_KINDS],
            "other",
        ),  # fmt: skip
    ]
    if form.partners:
        blocks.append(
            select_input(
                Field.PARTNER_REMOVE,
                "Remove a partner company",
                [
                    (f"the {PARTNER_KIND_LABELS.get(kind, kind)} company (rep {user})", user)
                    for user, kind in form.partners
                ],
                None,
            )  # fmt: skip
        )
    return modal(Callback.PARTNERS, "Partner companies", "Save", blocks, meta.encode(3000))


def build_own_fields_modal(form: OwnFieldsForm, channel_id: str | None) -> dict[str, Any]:
    """A partner company's own notes on a deal another company shares with it."""
    meta = OwnFieldsMeta(d=form.deal_id, v=form.version, channel=channel_id)
    blocks = [
        kit.section(
            f":lock: *{form.key} {kit.user_text(form.name, 120)}* is "
            f"{kit.user_text(form.home, 80)}'s deal. What you keep here is your company's "
            f"own: {kit.user_text(form.home, 80)} never sees it."
        ),
        _text_input(
            Field.INTERNAL_NOTES,
            "Your internal notes",
            initial=form.notes,
            max_length=1500,
            optional=True,
            multiline=True,
        ),  # fmt: skip
        select_input(
            Field.FORECAST,
            "Your forecast category",
            [(f, f) for f in FORECASTS],
            form.forecast_category,
        ),  # fmt: skip
        _text_input(
            Field.CRM_ID,
            "Your CRM id for this deal",
            initial=form.crm_id,
            max_length=80,
            optional=True,
        ),  # fmt: skip
    ]
    return modal(Callback.OWN_FIELDS, "Your own notes", "Save", blocks, meta.encode(3000))


def build_edit_deal_modal(form: EditForm, channel_id: str | None) -> dict[str, Any]:
    meta = EditDealMeta(d=form.deal_id, v=form.version, channel=channel_id, shown=dict(form.shown))
    blocks = [
        kit.context(f"Editing {form.key} as of v{form.version}"),
        *_deal_fields(form),
        *_internal_fields(form),
    ]
    return modal(Callback.EDIT_DEAL, f"Edit {form.key}", "Save", blocks, meta.encode(3000))


def build_next_step_modal(form: NextStepForm, channel_id: str | None) -> dict[str, Any]:
    owners = [
        (f"{role} ({'named' if user else 'not named yet'})", role) for role, user in form.roles
    ]
    blocks = [
        kit.context(
            f"Next step for {form.key}. One open step at a time: this replaces the current one."
        ),
        _text_input(
            Field.STEP_TEXT,
            "What needs to happen",
            initial=form.text,
            max_length=500,
            multiline=True,
        ),
        select_input(Field.STEP_OWNER, "Owner (role)", owners, form.owner_role),
        _date_input(Field.STEP_DUE, "Due date", form.due),
    ]
    meta = NextStepMeta(d=form.deal_id, v=form.version, channel=channel_id)
    return modal(Callback.NEXT_STEP, "Set next step", "Save", blocks, meta.encode(3000))


RESULTS = ("positive", "neutral", "negative")


def build_log_outcome_modal(
    deal_id: int, key: str, version: int, channel_id: str | None
) -> dict[str, Any]:
    """Record the joint meeting / outcome; it goes to both companies' CRMs."""
    blocks = [
        kit.context(f"Log the joint call or outcome of {key}. It is sent to both CRMs."),
        _text_input(Field.OUTCOME, "Outcome", max_length=500, multiline=True),
        _date_input(Field.MEETING_DATE, "Meeting date", None),
        select_input(Field.RESULT, "Result", [(r, r) for r in RESULTS], None),
    ]
    meta = NextStepMeta(d=deal_id, v=version, channel=channel_id)
    return modal(Callback.LOG_OUTCOME, f"Log outcome · {key}", "Log", blocks, meta.encode(3000))


def build_connector_modal(form: ConnectorForm) -> dict[str, Any]:
    """An admin sets one side's CRM connector. The stored secret is never sent back to Slack:
    left blank, it is kept."""
    name = SIDE_NAMES[Side(form.side)]
    keep = "Leave blank to keep the current one." if form.has_secret else "Required."
    blocks = [
        kit.context(
            f"How PTM reaches {name}. *webhook*: a signed JSON `POST` of each logged outcome "
            "(`X-PTM-Signature: sha256=…` HMAC of the body with the secret, and "
            "`X-PTM-Idempotency-Key`). *salesforce*: an External Client App (client "
            "credentials); *hubspot*: a private app. With either, `/ptm link` ties deals to "
            "records that keep the card up to date, and outcomes become activities there. "
            "Retries never send anything twice."
        ),
        select_input(
            Field.CRM_KIND,
            "Kind",
            [(KIND_LABELS[kind], kind.value) for kind in ConnectorKind],
            form.kind,
            optional=False,
        ),
        _text_input(
            Field.CRM_URL,
            "URL",
            initial=form.url,
            max_length=2000,
            optional=True,
            hint="webhook: its https address · Salesforce: the instance "
            "(https://acme.my.salesforce.com) · HubSpot: blank for https://api.hubapi.com. "
            "Empty (webhook, Salesforce): disconnect; outcomes are then kept for export.",
        ),
        _text_input(
            Field.CRM_SECRET,
            "Secret",
            max_length=500,
            optional=True,
            hint="webhook: the HMAC key (16 to 500 characters) · Salesforce: the consumer "
            f"secret · HubSpot: the private app's access token. {keep}",
        ),
        _text_input(
            Field.CRM_CLIENT_ID,
            "Client id (Salesforce)",
            initial=form.client_id,
            max_length=300,
            optional=True,
            hint="The External Client App's consumer key.",
        ),
        _text_input(
            Field.CRM_WEBHOOK_SECRET,
            "Notification secret (Salesforce, HubSpot)",
            max_length=500,
            optional=True,
            hint="What the CRM signs its change notifications to PTM with: Salesforce, the "
            "HMAC key of your Flow or Apex callout to /crm/salesforce; HubSpot, the app's "
            "client secret. "
            + ("Leave blank to keep the current one." if form.has_webhook_secret else ""),
        ),
    ]
    meta = ConnectorMeta(side=form.side, v=form.version)
    return modal(Callback.CRM_CONNECTOR, "CRM connector", "Save", blocks, meta.encode(3000))


def read_inputs(view: dict[str, Any]) -> dict[str, str | None]:
    """Flatten a submitted view's state to block_id -> string value (None when empty)."""
    values: dict[str, str | None] = {}
    for block_id, actions in view.get("state", {}).get("values", {}).items():
        element = actions.get(INPUT_ACTION, {})
        if "selected_option" in element:
            chosen = element["selected_option"]
            values[block_id] = chosen["value"] if chosen else None
        elif "selected_user" in element:
            values[block_id] = element["selected_user"]
        elif "selected_date" in element:
            values[block_id] = element["selected_date"]
        else:
            values[block_id] = element.get("value")
    return values


def build_notice_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (it replaces a form that cannot be submitted)."""
    return {
        "type": "modal",
        "title": kit.plain(title, 24),
        "close": kit.plain("Close", 24),
        "blocks": [kit.section(kit.user_text(text, 2900))],
    }
