"""Block Kit and mrkdwn as HTML, close enough to Slack's own drawing to judge a screen by.

Pure functions of the blocks and a `Names` look-up: no Slack, no database. Every interactive
element carries `data-block` / `data-action` (and its kind) so the page's script can report a
click or a pick the way Slack would; inputs carry `data-input` so a modal's form can be read.
Whatever the bot sends is escaped before it reaches the page: text shows literally, never as
markup, and links keep only http(s) and mailto addresses.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# The emoji PTM uses, and a few more that people type; others stay as `:name:` (as Slack
# shows a shortcode it does not know).
EMOJI = {
    "warning": "⚠️",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "lock": "🔒",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "x": "❌",
    "double_vertical_bar": "⏸️",
    "white_circle": "⚪",
    "large_green_circle": "🟢",
    "red_circle": "🔴",
    "trophy": "🏆",
    "information_source": "ℹ️",
    "handshake": "🤝",
    "eyes": "👀",
    "tada": "🎉",
    "calendar": "📅",
    "memo": "📝",
    "bell": "🔔",
    "rocket": "🚀",
    "wave": "👋",
    "thumbsup": "👍",
    "+1": "👍",
    "bar_chart": "📊",
    "chart_with_upwards_trend": "📈",
    "link": "🔗",
    "email": "📧",
    "busts_in_silhouette": "👥",
    "arrow_right": "➡️",
    "cloud": "☁️",
}
EMOJI_CODE = re.compile(r":([a-z0-9_+-]+):")
SAFE_URL = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)


@dataclass
class Names:
    """What the page knows to draw ids as names: people, channels, and who may be picked in a
    users select; `errors`: a submitted modal's errors by block_id; `now` for relative dates."""

    users: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    now: datetime | None = None
    pickable: dict[str, str] | None = None  # whom a users select offers (default: `users`)
    file_url: Callable[[str], str] | None = None

    def user(self, user_id: str, label: str | None = None) -> str:
        return self.users.get(user_id) or label or user_id

    def channel(self, channel_id: str, label: str | None = None) -> str:
        return self.channels.get(channel_id) or label or channel_id


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def attr(value: Any) -> str:
    """A value for a double-quoted HTML attribute (JSON where it is not text)."""
    return esc(value if isinstance(value, str) else json.dumps(value))


def emoji(text: str) -> str:
    return EMOJI_CODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def tag(name: str, attrs: dict[str, Any] | None = None, inner: str | None = "") -> str:
    """An HTML element: attributes escaped (None leaves one out, True writes it bare);
    `inner` is HTML already; None makes a void element (img, input)."""
    parts = [name]
    for key, value in (attrs or {}).items():
        if value is None or value is False:
            continue
        parts.append(key if value is True else f'{key}="{attr(value)}"')
    opening = f"<{' '.join(parts)}>"
    return opening if inner is None else f"{opening}{inner}</{name}>"


# --- mrkdwn -------------------------------------------------------------------------------

ANGLE = re.compile(r"<([^<>\n]*)>")
FENCE = re.compile(r"```(.+?)```", re.DOTALL)
CODE = re.compile(r"`([^`\n]+)`")
# Slack's emphasis: the marker after a start or a non-word character, text that neither starts
# nor ends with a space, and the closing marker before an end or a non-word character.
EMPHASIS = {
    "*": ("b", re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")),
    "_": ("i", re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")),
    "~": ("s", re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")),
}
PLACEHOLDER = re.compile(r"\x00(\d+)\x00")


def _unescape_slack(text: str) -> str:
    """Slack's three entities back to characters (`&amp;` last, so `&amp;lt;` stays `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn(text: str, names: Names | None = None) -> str:
    """mrkdwn as HTML: bold, italic, strike, code, code blocks, quotes, links, mentions,
    channels, dates; everything else (escaped `&lt;…&gt;` included) shown literally."""
    names = names or Names()
    held: list[str] = []

    def hold(fragment: str) -> str:
        held.append(fragment)
        return f"\x00{len(held) - 1}\x00"

    text = FENCE.sub(lambda m: hold(f"<pre>{esc(_unescape_slack(m.group(1)))}</pre>"), text)
    text = CODE.sub(lambda m: hold(f"<code>{esc(_unescape_slack(m.group(1)))}</code>"), text)
    text = ANGLE.sub(lambda m: hold(_angle(m.group(1), names)), text)
    out = esc(_unescape_slack(text))
    for tag, pattern in EMPHASIS.values():
        out = pattern.sub(lambda m, t=tag: f"<{t}>{m.group(1)}</{t}>", out)
    out = _quotes(out)
    out = emoji(out).replace("\n", "<br>")
    # Held fragments may hold others (a bold mention): put them back until none is left.
    while PLACEHOLDER.search(out):
        out = PLACEHOLDER.sub(lambda m: held[int(m.group(1))], out)
    return out


def _quotes(out: str) -> str:
    lines = out.split("\n")
    drawn = []
    for line in lines:
        if line.startswith("&gt; ") or line == "&gt;":
            drawn.append(f'<span class="quote">{line[5:]}</span>')
        else:
            drawn.append(line)
    return "\n".join(drawn)


def _angle(inner: str, names: Names) -> str:
    """One `<…>`: a mention, a channel, a special mention, a date or a link."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return f'<span class="mention">@{esc(names.user(target[1:], label or None))}</span>'
    if target.startswith("#"):
        return f'<span class="mention">#{esc(names.channel(target[1:], label or None))}</span>'
    if target in ("!here", "!channel", "!everyone"):
        return f'<span class="mention">@{target[1:]}</span>'
    if target.startswith("!subteam^"):
        return f'<span class="mention">@{esc(label or target[9:])}</span>'
    if target.startswith("!date^"):
        return esc(slack_date(target, label, names.now))
    if SAFE_URL.match(target):
        shown = esc(_unescape_slack(label or target))
        return (
            f'<a href="{attr(_unescape_slack(target))}" target="_blank" rel="noopener">{shown}</a>'
        )
    return esc(f"<{_unescape_slack(inner)}>")  # not markup Slack knows: shown as typed


def slack_date(target: str, fallback: str, now: datetime | None = None) -> str:
    """`<!date^epoch^{token} text^link|fallback>` drawn in UTC (the page has no time zone)."""
    parts = target.split("^")
    try:
        moment = datetime.fromtimestamp(int(parts[1]), UTC)
        form = parts[2]
    except (IndexError, ValueError, OverflowError, OSError):
        return fallback
    today = (now or datetime.now(UTC)).date()

    def pretty(long: str) -> str:
        days = (moment.date() - today).days
        return {0: "Today", -1: "Yesterday", 1: "Tomorrow"}.get(days, long)

    values = {
        "date_num": moment.strftime("%Y-%m-%d"),
        "date": moment.strftime("%B %-d, %Y"),
        "date_short": moment.strftime("%b %-d, %Y"),
        "date_long": moment.strftime("%A, %B %-d, %Y"),
        "time": moment.strftime("%H:%M"),
        "time_secs": moment.strftime("%H:%M:%S"),
    }
    values["date_pretty"] = pretty(values["date"])
    values["date_short_pretty"] = pretty(values["date_short"])
    values["date_long_pretty"] = pretty(values["date_long"])
    values["day_divider_pretty"] = pretty(values["date_long"])
    values["ago"] = _ago(moment, now or datetime.now(UTC))
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), form)


def _ago(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


def text_object(obj: dict[str, Any] | None, names: Names) -> str:
    """A text object: mrkdwn drawn, plain_text escaped (with emoji when asked)."""
    if not obj:
        return ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text", "")), names)
    shown = esc(obj.get("text", ""))
    return emoji(shown) if obj.get("emoji", True) else shown


# --- blocks -------------------------------------------------------------------------------


def blocks(items: list[dict[str, Any]] | None, names: Names | None = None) -> str:
    """A list of blocks as HTML; a block Slack would not draw is shown as an error."""
    names = names or Names()
    return "".join(block(b, names) for b in items or [])


def block(b: dict[str, Any], names: Names) -> str:
    kind = b.get("type")
    drawer = BLOCKS.get(str(kind))
    if drawer is None:
        return _error(f"Slack does not know the block type {kind!r}")
    try:
        attrs = {"class": f"bk-block bk-{kind}", "data-block-id": b.get("block_id", "")}
        return tag("div", attrs, drawer(b, names))
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        return _error(f"a {kind} block Slack would refuse: {err}")


def _error(message: str) -> str:
    return f'<div class="bk-error" role="alert">⚠️ {esc(message)}</div>'


def _header(b: dict[str, Any], names: Names) -> str:
    return f'<div class="bk-header-text">{text_object(b["text"], names)}</div>'


def _section(b: dict[str, Any], names: Names) -> str:
    body = (
        f'<div class="bk-text">{text_object(b.get("text"), names)}</div>' if b.get("text") else ""
    )
    fields = b.get("fields") or []
    if fields:
        cells = "".join(f'<div class="bk-field">{text_object(f, names)}</div>' for f in fields)
        body += f'<div class="bk-fields">{cells}</div>'
    accessory = b.get("accessory")
    side = f'<div class="bk-accessory">{element(accessory, b, names)}</div>' if accessory else ""
    return f'<div class="bk-section-body">{body}</div>{side}'


def _context(b: dict[str, Any], names: Names) -> str:
    parts = []
    for e in b["elements"]:
        if e.get("type") == "image":
            parts.append(_img("bk-context-image", e, names))
        else:
            parts.append(f"<span>{text_object(e, names)}</span>")
    return "".join(parts)


def _divider(_b: dict[str, Any], _names: Names) -> str:
    return "<hr>"


def _image(b: dict[str, Any], names: Names) -> str:
    title = (
        tag("div", {"class": "bk-image-title"}, text_object(b["title"], names))
        if b.get("title")
        else ""
    )
    return title + _img("bk-image-img", b, names)


def _image_url(e: dict[str, Any], names: Names) -> str:
    if e.get("image_url"):
        return str(e["image_url"]) if SAFE_URL.match(str(e["image_url"])) else ""
    file = e.get("slack_file") or {}
    if file.get("id") and names.file_url:
        return names.file_url(str(file["id"]))
    return str(file.get("url", ""))


def _actions(b: dict[str, Any], names: Names) -> str:
    return "".join(element(e, b, names) for e in b["elements"])


def _input(b: dict[str, Any], names: Names) -> str:
    label = text_object(b["label"], names)
    optional = ' <span class="bk-optional">(optional)</span>' if b.get("optional") else ""
    hint = f'<div class="bk-hint">{text_object(b["hint"], names)}</div>' if b.get("hint") else ""
    problem = names.errors.get(str(b.get("block_id", "")))
    error = f'<div class="bk-input-error" role="alert">{esc(problem)}</div>' if problem else ""
    field_html = element(b["element"], b, names, as_input=True)
    return f'<label class="bk-label">{label}{optional}</label>{field_html}{error}{hint}'


def _rich_text(b: dict[str, Any], names: Names) -> str:
    return "".join(_rich_part(part, names) for part in b["elements"])


def _rich_part(part: dict[str, Any], names: Names) -> str:
    kind = part.get("type")
    inner = "".join(_rich_leaf(e, names) for e in part.get("elements", []))
    if kind == "rich_text_section":
        return f"<div>{inner}</div>"
    if kind == "rich_text_preformatted":
        return f"<pre>{inner}</pre>"
    if kind == "rich_text_quote":
        return f'<div class="quote">{inner}</div>'
    if kind == "rich_text_list":
        tag = "ol" if part.get("style") == "ordered" else "ul"
        items = "".join(f"<li>{_rich_part(e, names)}</li>" for e in part.get("elements", []))
        return f"<{tag}>{items}</{tag}>"
    return _error(f"unknown rich text element {kind!r}")


def _rich_leaf(e: dict[str, Any], names: Names) -> str:
    kind = e.get("type")
    if kind == "text":
        shown = esc(e.get("text", "")).replace("\n", "<br>")
    elif kind == "user":
        shown = f'<span class="mention">@{esc(names.user(str(e.get("user_id", ""))))}</span>'
    elif kind == "channel":
        shown = f'<span class="mention">#{esc(names.channel(str(e.get("channel_id", ""))))}</span>'
    elif kind == "link":
        url = str(e.get("url", ""))
        label = esc(e.get("text") or url)
        shown = (
            f'<a href="{attr(url)}" target="_blank" rel="noopener">{label}</a>'
            if SAFE_URL.match(url)
            else label
        )
    elif kind == "emoji":
        shown = EMOJI.get(str(e.get("name")), f":{esc(e.get('name'))}:")
    elif kind == "broadcast":
        shown = f'<span class="mention">@{esc(e.get("range", "here"))}</span>'
    else:
        return _error(f"unknown rich text element {kind!r}")
    style = e.get("style") or {}
    for key, tag in (("code", "code"), ("strike", "s"), ("italic", "i"), ("bold", "b")):
        if style.get(key):
            shown = f"<{tag}>{shown}</{tag}>"
    return shown


BLOCKS: dict[str, Callable[[dict[str, Any], Names], str]] = {
    "header": _header,
    "section": _section,
    "context": _context,
    "divider": _divider,
    "image": _image,
    "actions": _actions,
    "input": _input,
    "rich_text": _rich_text,
}


# --- elements -----------------------------------------------------------------------------


def _ids(e: dict[str, Any], b: dict[str, Any], kind: str, *, as_input: bool) -> dict[str, Any]:
    """The attributes the page's script reads: which control of which block, and how to ask
    before acting (a confirm dialog's words)."""
    ids: dict[str, Any] = {
        "data-kind": kind,
        "data-block": b.get("block_id", ""),
        "data-action": e.get("action_id", ""),
        "data-input": as_input,
    }
    if e.get("confirm"):
        c = e["confirm"]
        ids["data-confirm"] = " ".join(_plain(c.get(k)) for k in ("title", "text") if c.get(k))
    return ids


def _plain(obj: dict[str, Any] | None) -> str:
    """A text object's words, for places that show no markup (a confirm dialog, an option)."""
    if not obj:
        return ""
    words = str(obj.get("text", ""))
    return _unescape_slack(words) if obj.get("type") == "mrkdwn" else words


def _options_html(e: dict[str, Any], chosen: set[str]) -> str:
    def one(o: dict[str, Any]) -> str:
        attrs = {"value": o["value"], "selected": o["value"] in chosen}
        return tag("option", attrs, esc(emoji(_plain(o["text"]))))

    drawn = "".join(one(o) for o in e.get("options") or [])
    for group in e.get("option_groups") or []:
        inner = "".join(one(o) for o in group.get("options", []))
        drawn += tag("optgroup", {"label": _plain(group.get("label"))}, inner)
    return drawn


def _first(words: str) -> str:
    return tag("option", {"value": ""}, esc(words))


def element(e: dict[str, Any], b: dict[str, Any], names: Names, *, as_input: bool = False) -> str:
    """One interactive (or image) element. In an input block it is a form field of the modal
    (`data-input`); elsewhere a change is reported at once, as Slack reports it."""
    kind = str(e.get("type"))
    ids = _ids(e, b, kind, as_input=as_input)
    placeholder = _plain(e.get("placeholder")) if e.get("placeholder") else ""
    if kind == "button":
        style = f" bk-{e['style']}" if e.get("style") in ("primary", "danger") else ""
        url = str(e.get("url") or "")
        attrs = {
            "type": "button",
            "class": f"bk-button{style}",
            **ids,
            "data-value": e.get("value", ""),
            "data-url": url if SAFE_URL.match(url) else None,
        }
        return tag("button", attrs, text_object(e["text"], names))
    if kind in ("static_select", "external_select"):
        initial = (e.get("initial_option") or {}).get("value")
        options = _options_html(e, {initial} if initial else set())
        return tag(
            "select", {"class": "bk-select", **ids}, _first(placeholder or "Select") + options
        )
    if kind == "multi_static_select":
        initial = {o["value"] for o in e.get("initial_options") or []}
        return tag(
            "select", {"class": "bk-select", "multiple": True, **ids}, _options_html(e, initial)
        )
    if kind == "overflow":
        attrs = {"class": "bk-overflow", "title": "More actions", **ids}
        return tag("select", attrs, _first("⋯") + _options_html(e, set()))
    if kind == "users_select":
        chosen = e.get("initial_user")
        people = "".join(
            tag("option", {"value": uid, "selected": uid == chosen}, esc(name))
            for uid, name in (names.users if names.pickable is None else names.pickable).items()
        )
        attrs = {"class": "bk-select bk-users", **ids}
        return tag("select", attrs, _first(placeholder or "Select a person") + people)
    if kind == "datepicker":
        attrs = {"type": "date", "class": "bk-date", **ids, "value": e.get("initial_date", "")}
        return tag("input", attrs, None)
    if kind == "plain_text_input":
        initial = str(e.get("initial_value", ""))
        attrs = {
            "class": "bk-text-input",
            **ids,
            "placeholder": placeholder or None,
            "maxlength": int(e["max_length"]) if e.get("max_length") else None,
        }
        if e.get("multiline"):
            return tag("textarea", attrs, esc(initial))
        return tag("input", {"type": "text", **attrs, "value": initial}, None)
    if kind in ("checkboxes", "radio_buttons"):
        box = "checkbox" if kind == "checkboxes" else "radio"
        initial_list = e.get("initial_options") or (
            [e["initial_option"]] if e.get("initial_option") else []
        )
        chosen = {o["value"] for o in initial_list}
        group = f"{b.get('block_id', '')}.{e.get('action_id', '')}"
        rows = "".join(
            tag(
                "label",
                {"class": "bk-choice"},
                tag(
                    "input",
                    {
                        "type": box,
                        "name": group,
                        "value": o["value"],
                        "checked": o["value"] in chosen,
                    },
                    None,
                )
                + " "
                + text_object(o["text"], names),
            )
            for o in e.get("options") or []
        )
        return tag("div", {"class": "bk-choices", **ids}, rows)
    if kind == "image":
        return _img("bk-accessory-image", e, names)
    return _error(f"Slack does not know the element type {kind!r}")


def _img(css: str, e: dict[str, Any], names: Names) -> str:
    return tag(
        "img", {"class": css, "src": _image_url(e, names), "alt": e.get("alt_text", "")}, None
    )


# --- surfaces -----------------------------------------------------------------------------


def view(v: dict[str, Any], names: Names | None = None) -> str:
    """A modal: title, blocks, Cancel and Submit (as Slack labels them when not given)."""
    names = names or Names()
    close = text_object(v.get("close"), names) if v.get("close") else "Cancel"
    foot = tag("button", {"type": "button", "class": "bk-button sim-close"}, close)
    if v.get("submit"):
        submit = {"type": "submit", "class": "bk-button bk-primary sim-submit"}
        foot += tag("button", submit, text_object(v.get("submit"), names))
    return (
        tag("div", {"class": "sim-modal-title"}, text_object(v.get("title"), names))
        + tag("div", {"class": "sim-modal-body"}, blocks(v.get("blocks"), names))
        + tag("div", {"class": "sim-modal-foot"}, foot)
    )
