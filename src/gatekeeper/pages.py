"""The few HTML pages a person may see from the gatekeeper; every dynamic value is escaped."""

from __future__ import annotations

from html import escape

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}}
a.button{{display:inline-block;padding:.5em 1em;background:#1a5fb4;color:#fff;
text-decoration:none;border-radius:4px}}</style>
</head><body><h1>{title}</h1>
{body}
</body></html>
"""


def page(title: str, paragraphs: list[str], link: tuple[str, str] | None = None) -> str:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if link is not None:
        body += f'\n<p><a class="button" href="{escape(link[0], quote=True)}">{escape(link[1])}</a></p>'
    return _PAGE.format(title=escape(title), body=body)


def login_error(error: str, description: str, retry_url: str) -> str:
    what = {
        "access_denied": "The sign-in was cancelled or refused by the identity provider.",
        "login_required": "The identity provider needs you to sign in again.",
        "server_error": "The identity provider had an internal problem.",
        "temporarily_unavailable": "The identity provider is busy right now.",
    }.get(error, "The identity provider could not complete the sign-in.")
    lines = [what, f"Error reported: {error[:100]}"]
    if description:
        lines.append(f"Details: {description[:300]}")
    return page("Sign-in did not complete", lines, (retry_url, "Try again"))


def callback_failed(reason: str, retry_url: str) -> str:
    return page("Sign-in did not complete", [reason], (retry_url, "Try again"))


def cookies_blocked(secure_cookies: bool) -> str:
    lines = [
        "Your browser came back from the sign-in page without the short-lived cookie this site set "
        "just before, twice in a row, so signing in cannot finish.",
        "Allow cookies for this site and try again.",
    ]
    if secure_cookies:
        lines.append(
            "If you reached this site over plain http://, that is the likely cause: its cookies are marked "
            "Secure and browsers only keep them over https://. Use the https:// address, or ask the "
            "administrator to turn secure cookies off for a plain-http setup."
        )
    return page("Your browser is not keeping cookies", lines, ("/", "Start again"))


def provider_unavailable(retry_url: str) -> str:
    return page(
        "Sign-in is not available yet",
        [
            "The identity provider is not reachable yet (it may still be starting).",
            "Existing sessions keep working. Please try again in a few seconds.",
        ],
        (retry_url, "Try again"),
    )


def session_too_large(groups: int) -> str:
    return page(
        "Sign-in could not finish",
        [
            f"Your account belongs to {groups} groups, too many to fit in a browser cookie.",
            "Ask the administrator to limit the groups sent by the identity provider.",
        ],
    )
