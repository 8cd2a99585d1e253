"""The few HTML pages a person may see from the gatekeeper; every dynamic value is escaped.

One look for all of them: the product name, a title, a few sentences, at most one button. Plain
HTML with inline CSS, no external asset and no script, so they work with scripts blocked, on a
phone, and whatever the gateway lets through.
"""

from __future__ import annotations

from html import escape

PRODUCT = "dex-auth"
RETRY_SECONDS = 2  # how often the "not available" page asks again (see provider.DISCOVERY_RETRY)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{refresh}
<title>{title} - {product}</title>
<style>
body{{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d1f23}}
header{{background:#1a3a5f;color:#fff;padding:.75em 1.25em;font-weight:600;letter-spacing:.02em}}
main{{max-width:36em;margin:2em auto;padding:1.5em 1.75em;background:#fff;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}}
h1{{font-size:1.35em;margin:0 0 .75em}}
p{{margin:0 0 .9em}}
.note{{color:#555;font-size:.9em}}
a.button{{display:inline-block;margin-top:.5em;padding:.6em 1.2em;background:#1a5fb4;color:#fff;
text-decoration:none;border-radius:6px;font-weight:600}}
@media (max-width:40em){{main{{margin:0;border-radius:0;box-shadow:none}}}}
</style>
</head><body><header>{product}</header>
<main><h1>{title}</h1>
{body}
</main></body></html>
"""


def page(title: str, paragraphs: list[str], link: tuple[str, str] | None = None, *, refresh: int | None = None) -> str:
    """A page in the one look; `refresh` reloads it after that many seconds, with no script."""
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if link is not None:
        body += f'\n<p><a class="button" href="{escape(link[0], quote=True)}">{escape(link[1])}</a></p>'
    meta = f'\n<meta http-equiv="refresh" content="{int(refresh)}">' if refresh is not None else ""
    return _PAGE.format(title=escape(title), body=body, refresh=meta, product=escape(PRODUCT))


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


def cookies_blocked(secure_cookies: bool, retry_url: str) -> str:
    lines = [
        "Your browser came back from the sign-in page without the cookie this site set when the "
        "sign-in started, so signing in cannot finish.",
        "Allow cookies for this site, then try again.",
    ]
    if secure_cookies:
        lines.append(
            "If you reached this site over plain http://, that is the likely cause: its cookies are marked "
            "Secure and browsers only keep them over https://. Use the https:// address, or ask the "
            "administrator to turn secure cookies off for a plain-http setup."
        )
    return page("Your browser is not keeping cookies", lines, (retry_url, "Try again"))


def provider_unavailable(retry_url: str) -> str:
    return page(
        "Sign-in is not available yet",
        [
            "The identity provider that checks passwords is not answering (it may still be starting).",
            "Existing sessions keep working. Nothing to do: this page checks again every "
            f"{RETRY_SECONDS} seconds and takes you on to your page within 5 seconds of sign-in "
            "working again.",
        ],
        (retry_url, "Try now"),
        refresh=RETRY_SECONDS,
    )


def signed_out(sign_in_url: str, everywhere_url: str = "", *, everywhere: bool = False) -> str:
    """After a logout; `everywhere_url` offers to end every other session of the user too (a POST)."""
    if everywhere:
        lines = ["You are signed out on every device: every session of yours made before now has ended."]
    else:
        lines = ["Your session on this site has ended. Close this tab, or sign in again."]
    html = page("You are signed out", lines, (sign_in_url, "Sign in again"))
    if not everywhere_url:
        return html
    form = (
        f'<form method="post" action="{escape(everywhere_url, quote=True)}"><p>Lost a device, or signed in '
        'somewhere you should not have? <button class="button" type="submit">Sign out of all devices</button>'
        "</p></form>\n"
    )
    return html.replace("</main>", form + "</main>", 1)


def forbidden(user: str, sign_out_url: str) -> str:
    """A signed-in user the door does not let in: who they are signed in as, and the way out."""
    return page(
        "You are signed in, but not allowed here",
        [
            f"You are signed in as {user[:200]}.",
            "This site lets in only some users and groups, and this account is not one of them. "
            "If you have another account that is, sign out and sign in with it; otherwise ask the "
            "administrator for access.",
        ],
        (sign_out_url, "Sign out"),
    )


def session_too_large(groups: int) -> str:
    return page(
        "Sign-in could not finish",
        [
            f"Your account belongs to {groups} groups, too many to fit in a browser cookie.",
            "Ask the administrator to limit the groups sent by the identity provider.",
        ],
    )
