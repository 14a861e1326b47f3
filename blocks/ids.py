"""Every Slack id PTM uses: action, block and callback ids. Builders and handlers share them."""

from enum import StrEnum


class Action(StrEnum):
    STAGE_SELECT = "ptm_card_stage"
    STEP_DONE = "ptm_card_step_done"
    STEP_SET = "ptm_card_step_set"
    SYNCED = "ptm_card_synced"
    MORE = "ptm_card_more"
    LOG_OUTCOME = "ptm_card_log_outcome"
    DIGEST_PAUSE = "ptm_digest_pause"
    ATTACH_PARTNER = "ptm_attach_partner"
    DIGEST_RESUME = "ptm_digest_resume"
    REOPEN = "ptm_card_reopen"
    AWS_COSELL = "ptm_card_aws"  # *Co-sell with AWS* (card, `/ptm aws`)
    AWS_ACCEPT = "ptm_aws_referral_accept"
    AWS_REJECT = "ptm_aws_referral_reject"
    # The admin section of App Home
    ADMIN_ADD = "ptm_admin_add"
    ADMIN_REMOVE = "ptm_admin_remove"
    DIGEST_HOUR = "ptm_admin_digest_hour"
    PARTNERS_SEE = "ptm_admin_partners_see"
    CRM_CONNECTOR = "ptm_admin_crm"
    # Partnerships (App Home and the proposal DM)
    PARTNERSHIP_START = "ptm_partnership_start"
    PARTNERSHIP_REVIEW = "ptm_partnership_review"
    PARTNERSHIP_DECLINE = "ptm_partnership_decline"
    PARTNERSHIP_WITHDRAW = "ptm_partnership_withdraw"
    PARTNERSHIP_PAUSE = "ptm_partnership_pause"
    PARTNERSHIP_RESUME = "ptm_partnership_resume"
    PARTNERSHIP_END = "ptm_partnership_end"


class MoreOption(StrEnum):
    """Values of the card's overflow menu."""

    EDIT = "edit"
    HISTORY = "history"
    INTERNAL = "internal"
    FIND = "find"
    BRIEF = "brief"
    PARTNERS = "partners"


class Callback(StrEnum):
    NEW_DEAL = "ptm_new_deal"
    EDIT_DEAL = "ptm_edit_deal"
    NEXT_STEP = "ptm_next_step"
    LOG_OUTCOME = "ptm_log_outcome"
    CRM_CONNECTOR = "ptm_crm_connector"
    PARTNERSHIP_PROPOSE = "ptm_partnership_propose"
    PARTNERSHIP_ACCEPT = "ptm_partnership_accept"
    OWN_FIELDS = "ptm_own_fields"
    PARTNERS = "ptm_partners"
    AWS_COSELL = "ptm_aws_cosell"
    AWS_REJECT = "ptm_aws_reject"


class Field(StrEnum):
    """block_id of each modal input; the element inside is always action_id `value`."""

    NAME = "name"
    ACCOUNT = "account"
    AMOUNT = "amount"
    CURRENCY = "currency"
    CLOSE_DATE = "close_date"
    STAGE = "stage"
    ATTRIBUTION = "attribution"
    STEP_TEXT = "step_text"
    STEP_OWNER = "step_owner"
    STEP_DUE = "step_due"
    INTERNAL_NOTES = "internal_notes"
    TRIGGER = "trigger_reason"
    FORECAST = "forecast_category"
    OUTCOME = "outcome"
    MEETING_DATE = "meeting_date"
    RESULT = "result"
    CRM_KIND = "crm_kind"
    CRM_URL = "crm_url"
    CRM_SECRET = "crm_secret"
    CRM_CLIENT_ID = "crm_client_id"
    CRM_WEBHOOK_SECRET = "crm_webhook_secret"
    SHARES = "shares"
    PARTNERSHIP_WITH = "partnership_with"
    CRM_ID = "crm_id"
    PARTNER_ADD = "partner_add"
    PARTNER_KIND = "partner_kind"
    PARTNER_REMOVE = "partner_remove"


INPUT_ACTION = "value"
CARD_BLOCK_PREFIX = "ptm_card"
