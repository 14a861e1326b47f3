"""Block Kit and mrkdwn drawn as the demo's page shows them: each block type, each element,
each mrkdwn form, and user text that must stay text."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.demo import render
from bot.demo.render import Names

NAMES = Names(
    users={"USAM": "Sam Rivera", "UPAT": "Pat Quinn"},
    channels={"CROOM": "deal-room"},
    now=datetime(2026, 11, 30, 12, tzinfo=UTC),
    file_url=lambda fid: f"/sim/files/{fid}",
)


def md(text: str) -> str:
    return render.mrkdwn(text, NAMES)


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


# --- mrkdwn -------------------------------------------------------------------------------


def test_emphasis_forms() -> None:
    assert md("*bold* _italic_ ~gone~") == "<b>bold</b> <i>italic</i> <s>gone</s>"
    assert md("a*b*c and snake_case_name") == "a*b*c and snake_case_name"  # not at word edges
    assert md("* not bold *") == "* not bold *"


def test_code_and_blocks_keep_their_text_unformatted() -> None:
    assert md("`x *y* <z>`") == "<code>x *y* &lt;z&gt;</code>"
    assert md("```line 1\n*line* 2```") == "<pre>line 1\n*line* 2</pre>"


def test_quotes_and_line_breaks() -> None:
    assert md("> quoted\nplain") == '<span class="quote">quoted</span><br>plain'


def test_mentions_and_channels_show_names() -> None:
    assert md("<@USAM>") == '<span class="mention">@Sam Rivera</span>'
    assert md("<@UNKNOWN|someone>") == '<span class="mention">@someone</span>'
    assert md("<@UNKNOWN>") == '<span class="mention">@UNKNOWN</span>'
    assert md("<#CROOM>") == '<span class="mention">#deal-room</span>'
    assert md("<!here>") == '<span class="mention">@here</span>'
    assert md("*<@UPAT>*") == '<b><span class="mention">@Pat Quinn</span></b>'


def test_links_keep_only_safe_addresses() -> None:
    assert md("<https://example.com/a?x=1&amp;y=2|the site>") == (
        '<a href="https://example.com/a?x=1&amp;y=2" target="_blank" rel="noopener">the site</a>'
    )
    assert 'href="mailto:a@b.c"' in md("<mailto:a@b.c>")
    shown = md("<javascript:alert(1)|click>")
    assert "<a" not in shown and "&lt;javascript:alert(1)|click&gt;" == shown


def test_dates_are_drawn_from_their_tokens() -> None:
    today = int(datetime(2026, 11, 30, 9, 5, tzinfo=UTC).timestamp())
    assert md(f"<!date^{today}^{{date_short_pretty}} at {{time}}|fallback>") == "Today at 09:05"
    assert md(f"<!date^{today}^{{date_num}}|x>") == "2026-11-30"
    assert md("<!date^nonsense^{date}|the fallback>") == "the fallback"


def test_escaped_and_hostile_text_shows_literally() -> None:
    # What PTM escapes (user text) arrives as entities and must be shown as typed, not as markup.
    assert md("&lt;@USAM&gt; &amp; &lt;b&gt;") == "&lt;@USAM&gt; &amp; &lt;b&gt;"
    assert md("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert md('" onmouseover="x') == "&quot; onmouseover=&quot;x"


def test_emoji_shortcodes() -> None:
    assert md(":white_check_mark: done :no_such_emoji:") == "✅ done :no_such_emoji:"


# --- blocks -------------------------------------------------------------------------------


def test_header_and_plain_text_escape() -> None:
    drawn = render.blocks([{"type": "header", "text": plain("PTM-1 · <Acme> & *co*")}], NAMES)
    assert '<div class="bk-header-text">PTM-1 · &lt;Acme&gt; &amp; *co*</div>' in drawn


def test_section_with_text_fields_and_button_accessory() -> None:
    drawn = render.blocks(
        [
            {
                "type": "section",
                "block_id": "b1",
                "text": mrkdwn("*Stage*"),
                "fields": [mrkdwn("*Amount*\n$10"), plain("Close")],
                "accessory": {
                    "type": "button",
                    "action_id": "a1",
                    "text": plain("Open"),
                    "value": "v1",
                    "style": "danger",
                    "confirm": {
                        "title": plain("Sure?"),
                        "text": mrkdwn("It *closes* the deal"),
                        "confirm": plain("Yes"),
                        "deny": plain("No"),
                    },
                },
            }
        ],
        NAMES,
    )
    assert '<div class="bk-text"><b>Stage</b></div>' in drawn
    assert '<div class="bk-field"><b>Amount</b><br>$10</div>' in drawn
    assert '<div class="bk-field">Close</div>' in drawn
    assert 'class="bk-button bk-danger"' in drawn
    assert 'data-block="b1" data-action="a1"' in drawn and 'data-value="v1"' in drawn
    assert 'data-confirm="Sure? It *closes* the deal"' in drawn


def test_context_divider_and_images() -> None:
    drawn = render.blocks(
        [
            {
                "type": "context",
                "elements": [
                    {"type": "image", "image_url": "https://x.test/i.png", "alt_text": "logo"},
                    mrkdwn("v3 · by <@USAM>"),
                ],
            },
            {"type": "divider"},
            {"type": "image", "slack_file": {"id": "F1"}, "alt_text": "chart", "title": plain("T")},
            {"type": "image", "image_url": "javascript:alert(1)", "alt_text": "bad"},
        ],
        NAMES,
    )
    assert '<img class="bk-context-image" src="https://x.test/i.png" alt="logo">' in drawn
    assert '<span>v3 · by <span class="mention">@Sam Rivera</span></span>' in drawn
    assert "<hr>" in drawn
    assert (
        '<div class="bk-image-title">T</div><img class="bk-image-img" src="/sim/files/F1"' in drawn
    )
    assert 'src="" alt="bad"' in drawn


def test_actions_buttons_selects_overflow_users_and_dates() -> None:
    options = [
        {"text": plain("Qualify"), "value": "Qualify"},
        {"text": plain("Won"), "value": "Won"},
    ]
    drawn = render.blocks(
        [
            {
                "type": "actions",
                "block_id": "ctl",
                "elements": [
                    {"type": "button", "action_id": "go", "text": plain("Go"), "style": "primary"},
                    {
                        "type": "static_select",
                        "action_id": "stage",
                        "placeholder": plain("Change stage"),
                        "options": options,
                        "initial_option": options[1],
                    },
                    {"type": "overflow", "action_id": "more", "options": options},
                    {"type": "users_select", "action_id": "who", "initial_user": "UPAT"},
                    {"type": "datepicker", "action_id": "due", "initial_date": "2026-12-01"},
                ],
            }
        ],
        NAMES,
    )
    assert 'class="bk-button bk-primary"' in drawn
    assert '<option value="">Change stage</option>' in drawn
    assert '<option value="Won" selected>Won</option>' in drawn
    assert 'class="bk-overflow"' in drawn and '<option value="">⋯</option>' in drawn
    assert '<option value="UPAT" selected>Pat Quinn</option>' in drawn
    assert '<option value="USAM">Sam Rivera</option>' in drawn
    assert 'type="date" class="bk-date"' in drawn and 'value="2026-12-01"' in drawn
    assert drawn.count('data-block="ctl"') == 5


def test_input_blocks_of_a_modal_with_an_error() -> None:
    view = {
        "type": "modal",
        "title": plain("Set next step"),
        "submit": plain("Save"),
        "blocks": [
            {
                "type": "input",
                "block_id": "text",
                "label": plain("What"),
                "hint": plain("One line"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "t",
                    "multiline": True,
                    "max_length": 500,
                    "initial_value": "<draft>",
                },
            },
            {
                "type": "input",
                "block_id": "kinds",
                "optional": True,
                "label": plain("Kinds"),
                "element": {
                    "type": "checkboxes",
                    "action_id": "k",
                    "options": [{"text": plain("Cloud"), "value": "cloud"}],
                    "initial_options": [{"text": plain("Cloud"), "value": "cloud"}],
                },
            },
        ],
    }
    drawn = render.view(view, Names(errors={"text": "Say what needs to happen."}))
    assert '<div class="sim-modal-title">Set next step</div>' in drawn
    assert '<textarea class="bk-text-input" data-kind="plain_text_input"' in drawn
    assert 'maxlength="500">&lt;draft&gt;</textarea>' in drawn and "data-input" in drawn
    assert '<div class="bk-input-error" role="alert">Say what needs to happen.</div>' in drawn
    assert '<div class="bk-hint">One line</div>' in drawn
    assert '<span class="bk-optional">(optional)</span>' in drawn
    assert 'type="checkbox" name="kinds.k" value="cloud" checked' in drawn
    assert ">Cancel</button>" in drawn and ">Save</button>" in drawn


def test_rich_text_basics() -> None:
    drawn = render.blocks(
        [
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "Hi ", "style": {"bold": True}},
                            {"type": "user", "user_id": "USAM"},
                            {"type": "link", "url": "https://x.test", "text": "site"},
                            {"type": "emoji", "name": "tada"},
                        ],
                    },
                    {
                        "type": "rich_text_list",
                        "style": "ordered",
                        "elements": [
                            {
                                "type": "rich_text_section",
                                "elements": [{"type": "text", "text": "one"}],
                            }
                        ],
                    },
                    {
                        "type": "rich_text_preformatted",
                        "elements": [{"type": "text", "text": "<x>"}],
                    },
                    {"type": "rich_text_quote", "elements": [{"type": "text", "text": "said"}]},
                ],
            }
        ],
        NAMES,
    )
    assert "<b>Hi </b>" in drawn and '<span class="mention">@Sam Rivera</span>' in drawn
    assert '<a href="https://x.test" target="_blank" rel="noopener">site</a>🎉' in drawn
    assert "<ol><li><div>one</div></li></ol>" in drawn
    assert "<pre>&lt;x&gt;</pre>" in drawn and '<div class="quote">said</div>' in drawn


def test_what_slack_would_refuse_is_shown_as_an_error() -> None:
    drawn = render.blocks(
        [
            {"type": "table", "rows": []},
            {"type": "header"},
            {"type": "actions", "elements": [{"type": "mystery_picker", "action_id": "m"}]},
        ],
        NAMES,
    )
    assert "Slack does not know the block type &#x27;table&#x27;" in drawn
    assert "a header block Slack would refuse" in drawn
    assert "Slack does not know the element type &#x27;mystery_picker&#x27;" in drawn
    assert drawn.count('class="bk-error"') == 3
