"""HTTP requests whose failures become the login tool's own errors."""

from __future__ import annotations

from typing import Any

import requests

from .errors import NotAnIssuerError, UnreachableError

USER_AGENT = "dex-auth-login"


def send(session: requests.Session, method: str, url: str, *, timeout: float, **kwargs: Any) -> requests.Response:
    """One request, redirects not followed, with transport failures named for the user."""
    try:
        return session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.exceptions.SSLError:
        raise UnreachableError(
            f"TLS verification failed for {url}: pass --ca-bundle (or set REQUESTS_CA_BUNDLE) "
            "with the deployment's certificate authority"
        ) from None
    except requests.exceptions.Timeout:
        raise UnreachableError(f"{url} did not answer within {timeout:g} s") from None
    except requests.exceptions.ConnectionError:
        raise UnreachableError(f"cannot connect to {url}: check the URL and that the deployment is up") from None
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        raise NotAnIssuerError(f"'{url}' is not a valid http(s) URL") from None
    except requests.exceptions.RequestException as exc:
        raise UnreachableError(f"request to {url} failed ({type(exc).__name__})") from None


def new_session(verify: bool | str = True) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.verify = verify
    return session
